//! The `logging` import of each contract version: plugin log lines into the host's log,
//! attributed to the gateway, control characters escaped, within the call's share and the
//! gateway's rate (see `output`).

use super::state::HostState;
use crate::contract::Level;
use crate::contract::v0_1::bindings::omnicrm::payments::logging as v0_1;
use crate::contract::v0_2::bindings::omnicrm::payments::logging as v0_2;
use crate::text::{escaped, truncate};

/// Longest log message passed on to tracing.
const MAX_LOG_MESSAGE: usize = 4096;

impl HostState {
    fn log_line(&self, level: Level, message: &str) {
        let gateway = &*self.shared.name;
        let message = escaped(truncate(message, MAX_LOG_MESSAGE));
        if !self.shared.output.admit(&self.diagnostics, message.len()) {
            return;
        }
        match level {
            Level::Trace => tracing::trace!(gateway, "{message}"),
            Level::Debug => tracing::debug!(gateway, "{message}"),
            Level::Info => tracing::info!(gateway, "{message}"),
            Level::Warn => tracing::warn!(gateway, "{message}"),
            Level::Error => tracing::error!(gateway, "{message}"),
        }
    }
}

impl v0_2::Host for HostState {
    async fn log(&mut self, level: Level, message: String) {
        self.log_line(level, &message);
    }
}

impl v0_1::Host for HostState {
    async fn log(&mut self, level: v0_1::Level, message: String) {
        let level = match level {
            v0_1::Level::Trace => Level::Trace,
            v0_1::Level::Debug => Level::Debug,
            v0_1::Level::Info => Level::Info,
            v0_1::Level::Warn => Level::Warn,
            v0_1::Level::Error => Level::Error,
        };
        self.log_line(level, &message);
    }
}
