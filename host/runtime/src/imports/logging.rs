//! The `logging` import: plugin log lines into the host's log, attributed to the gateway.

use super::state::HostState;
use crate::contract::Level;
use crate::contract::latest::bindings::omnicrm::payments::logging;
use crate::text::{sanitize, truncate};

/// Longest log message passed on to tracing.
const MAX_LOG_MESSAGE: usize = 4096;

impl logging::Host for HostState {
    async fn log(&mut self, level: Level, message: String) {
        let gateway = &*self.shared.name;
        let message = sanitize(truncate(&message, MAX_LOG_MESSAGE));
        match level {
            Level::Trace => tracing::trace!(gateway, "{message}"),
            Level::Debug => tracing::debug!(gateway, "{message}"),
            Level::Info => tracing::info!(gateway, "{message}"),
            Level::Warn => tracing::warn!(gateway, "{message}"),
            Level::Error => tracing::error!(gateway, "{message}"),
        }
    }
}
