//! What the listeners, the admin routes, the settlement task and the library handle share.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use emulator_support::Clock;

use crate::faults::Faults;
use crate::state::State;

/// The default delay between a modification's answer and its notification.
pub const DEFAULT_SETTLE_DELAY: Duration = Duration::from_millis(300);

/// When modifications settle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettleDelay {
    /// This long after the request.
    After(Duration),
    /// When released (`Emulator::release_settlements`, `POST /_emulator/settlements/release`).
    Manual,
}

impl Default for SettleDelay {
    fn default() -> Self {
        SettleDelay::After(DEFAULT_SETTLE_DELAY)
    }
}

/// Shared by every connection and task of one emulator.
#[derive(Debug)]
pub struct Shared {
    /// The state, locked only while a request executes.
    pub state: Mutex<State>,
    /// Fault injection.
    pub faults: Faults,
    /// The clock.
    pub clock: Clock,
    /// When modifications settle.
    pub settle_delay: Mutex<SettleDelay>,
    /// Accepted API keys (empty: any non-empty key).
    pub api_keys: Vec<String>,
}

impl Shared {
    /// Locks the state, with `now` read from the clock.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock must not take the emulator down with it.
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.now = self.clock.now();
        st
    }

    /// The settlement delay now.
    pub fn settle_delay(&self) -> SettleDelay {
        *self
            .settle_delay
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the settlement delay.
    pub fn set_settle_delay(&self, delay: SettleDelay) {
        *self
            .settle_delay
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = delay;
    }
}
