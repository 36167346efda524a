//! The `config` import: the gateway's non-secret settings, read-only.

use super::state::HostState;
use crate::contract::latest::bindings::omnicrm::payments::config;

impl config::Host for HostState {
    async fn get(&mut self, key: String) -> Option<String> {
        self.shared.settings.get(&key).cloned()
    }

    async fn entries(&mut self) -> Vec<(String, String)> {
        self.shared
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}
