//! The `config` import of each contract version: the gateway's non-secret settings, read-only.

use super::state::HostState;
use crate::contract::v0_1::bindings::omnicrm::payments::config as v0_1;
use crate::contract::v0_2::bindings::omnicrm::payments::config as v0_2;

impl HostState {
    fn setting(&self, key: &str) -> Option<String> {
        self.shared.settings.get(key).cloned()
    }

    fn settings(&self) -> Vec<(String, String)> {
        self.shared
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl v0_2::Host for HostState {
    async fn get(&mut self, key: String) -> Option<String> {
        self.setting(&key)
    }

    async fn entries(&mut self) -> Vec<(String, String)> {
        self.settings()
    }
}

impl v0_1::Host for HostState {
    async fn get(&mut self, key: String) -> Option<String> {
        self.setting(&key)
    }

    async fn entries(&mut self) -> Vec<(String, String)> {
        self.settings()
    }
}
