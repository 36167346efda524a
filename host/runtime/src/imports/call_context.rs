//! The `call-context` import: what the guest may know about the call it is running.

use super::state::HostState;
use crate::contract::latest::bindings::omnicrm::payments::call_context;

impl call_context::Host for HostState {
    async fn deadline(&mut self) -> u64 {
        self.deadline
    }
}
