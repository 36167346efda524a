//! The network faults the kit injects into a plugin's outbound requests, and what each becomes
//! in the runtime's outbound path.

use omnicrm_host::Interception;
use std::time::Duration;

/// A fault injected into every request of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The connection is refused: nothing reached the gateway.
    ConnectionRefused,
    /// The request reaches the gateway, which acts on it; the connection then drops before the
    /// answer: the plugin cannot know what happened.
    ResetAfterSending,
    /// The gateway answers 500 without acting (the plugin cannot know it did not).
    ServerError,
    /// The gateway answers 429 with `Retry-After`.
    RateLimited {
        /// The `Retry-After`, in seconds.
        retry_after_secs: u64,
    },
    /// The gateway acts, and its answer is held back this long.
    SlowResponse(Duration),
}

impl Fault {
    /// The runtime's interception that produces this fault.
    pub fn interception(self) -> Interception {
        match self {
            Fault::ConnectionRefused => Interception::RefuseConnection,
            Fault::ResetAfterSending => Interception::ResetAfterSending,
            Fault::ServerError => Interception::Respond {
                status: 500,
                headers: vec![("content-type".into(), "application/json".into())],
                body: br#"{"error":{"type":"api_error","message":"conformance kit: injected server error"}}"#
                    .to_vec(),
            },
            Fault::RateLimited { retry_after_secs } => Interception::Respond {
                status: 429,
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("retry-after".into(), retry_after_secs.to_string()),
                ],
                body: br#"{"error":{"type":"rate_limit_error","code":"rate_limit","message":"conformance kit: injected rate limit"}}"#
                    .to_vec(),
            },
            Fault::SlowResponse(delay) => Interception::DelayResponse(delay),
        }
    }

    /// Whether the gateway may have acted on a request that met this fault.
    pub fn may_have_acted(self) -> bool {
        matches!(
            self,
            Fault::ResetAfterSending | Fault::ServerError | Fault::SlowResponse(_)
        )
    }
}
