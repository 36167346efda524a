//! The console's shared state: the service it drives (directly, not over HTTP), who may sign
//! in, the sessions, the limits on failed sign-ins, and the billing runs started from it.

use std::sync::Arc;
use std::time::Duration;

use crate::api::api_keys::ApiKeys;
use crate::config::ServiceSection;
use crate::service::Service;

use super::billing::BillingRuns;
use super::session::Sessions;
use super::throttle::{SignInLimits, SignInThrottle};
use crate::config::console::ConsoleUser;

/// State shared by the console's pages.
pub struct ConsoleState {
    /// The service.
    pub service: Arc<Service>,
    /// The API keys (an operator may sign in with a `read` or `write` key).
    pub keys: ApiKeys,
    /// The console users.
    pub users: Vec<ConsoleUser>,
    /// The sessions.
    pub sessions: Sessions,
    /// Failed sign-ins counted per name and per client address.
    pub sign_in_throttle: SignInThrottle,
    /// Whether cookies are `Secure` (the listener is not on loopback).
    pub secure_cookies: bool,
    /// The console's address as the browser sees it (`http://127.0.0.1:8080`), for the card
    /// form's return address; none: taken from the request's `Host`.
    pub public_url: Option<String>,
    /// Billing runs started from the console.
    pub runs: BillingRuns,
}

impl ConsoleState {
    /// The console of a service configured by `section`, served on a loopback listener or not.
    pub fn new(service: Arc<Service>, section: &ServiceSection, loopback: bool) -> Self {
        let settings = &section.console;
        ConsoleState {
            service,
            keys: ApiKeys::new(&section.api_keys),
            users: settings.users.clone(),
            sessions: Sessions::new(Duration::from_secs(settings.session_minutes.max(1) * 60)),
            sign_in_throttle: SignInThrottle::new(SignInLimits {
                per_name: settings.sign_in_failures_per_name,
                per_address: settings.sign_in_failures_per_address,
                lockout: Duration::from_secs(
                    settings
                        .sign_in_lockout_minutes
                        .clamp(1, crate::config::console::MAX_LOCKOUT_MINUTES)
                        * 60,
                ),
            }),
            secure_cookies: !loopback,
            public_url: settings
                .public_url
                .as_ref()
                .map(|u| u.trim_end_matches('/').to_string()),
            runs: BillingRuns::new(Duration::from_secs(section.billing_lease_secs)),
        }
    }
}
