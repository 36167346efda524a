//! The `call-context` import of each contract version: what the guest may know about the call
//! it is running.

use super::state::HostState;
use crate::contract::v0_1::bindings::omnicrm::payments::call_context as v0_1;
use crate::contract::v0_2::bindings::omnicrm::payments::call_context as v0_2;

impl v0_2::Host for HostState {
    async fn deadline(&mut self) -> u64 {
        self.deadline
    }
}

impl v0_1::Host for HostState {
    async fn deadline(&mut self) -> u64 {
        self.deadline
    }
}
