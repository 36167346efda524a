//! A hook into every outbound request of a runtime's gateways, for test harnesses (the
//! conformance kit): it sees each request as the plugin made it, before the host strips or adds
//! credentials, and may inject a network fault in its place. A production host sets none.

use std::time::Duration;

/// What an [`OutboundInterceptor`] sees of a request.
#[derive(Debug)]
pub struct InterceptedRequest<'a> {
    /// The gateway whose plugin sent it (the name it was loaded under).
    pub gateway: &'a str,
    /// The method.
    pub method: &'a http::Method,
    /// The URL.
    pub uri: &'a http::Uri,
    /// The headers exactly as the plugin set them (the host has not yet removed `Authorization`
    /// nor added its credentials).
    pub headers: &'a http::HeaderMap,
    /// Whether the host lets it out: its origin is allowed and its method is not `TRACE` or
    /// `CONNECT`. A request that is not allowed is refused whatever the interceptor answers.
    pub allowed: bool,
}

/// What happens to an intercepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interception {
    /// It goes out as usual.
    Send,
    /// It is not sent; the plugin sees the connection refused (`connection-refused`).
    RefuseConnection,
    /// It is sent and answered, then the answer is discarded and the plugin sees the connection
    /// terminated (`connection-terminated`): the gateway acted, the plugin cannot know how.
    ResetAfterSending,
    /// It is not sent; the plugin gets this answer instead.
    Respond {
        /// The status code.
        status: u16,
        /// Headers of the answer.
        headers: Vec<(String, String)>,
        /// Its body.
        body: Vec<u8>,
    },
    /// It is sent, and its answer is held back this long before the plugin sees it (within the
    /// plugin's own first-byte timeout, which may expire first).
    DelayResponse(Duration),
}

/// Watches, and may replace, every outbound request of the gateways of a runtime (see
/// [`RuntimeOptions::outbound_interceptor`](crate::RuntimeOptions::outbound_interceptor)).
pub trait OutboundInterceptor: Send + Sync + 'static {
    /// Called for every request a plugin sends, before anything else happens to it.
    fn intercept(&self, request: &InterceptedRequest<'_>) -> Interception;
}
