//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! ```ignore
//! use omnicrm_gateway_sdk::http::{self, Method, Request};
//! let request = Request::new(Method::Get, "https://api.example.com/v1/things")
//!     .header("accept", "application/json");
//! match http::send(&request, std::time::Duration::from_secs(10)) {
//!     Ok(response) => { /* response.status, response.header("request-id"), response.body */ }
//!     Err(e) if e.is_not_sent() => { /* nothing reached the server: safe to retry */ }
//!     Err(e) => { /* the server may have processed the request: outcome unknown */ }
//! }
//! ```
//!
//! The whole exchange (connecting, sending the body, waiting for and reading the response) is
//! bounded by one timeout, which also sets the host's connect, first-byte and between-bytes
//! timeouts. The host decides which origins a plugin may reach and adds their credentials: a
//! request to any other origin fails with [`Error::NotSent`].

use core::fmt;
use core::time::Duration;

use crate::bindings::wasi::clocks::monotonic_clock;
use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse,
    Method as WasiMethod, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use crate::bindings::wasi::io::poll::{Pollable, poll};
use crate::bindings::wasi::io::streams::{OutputStream, StreamError};

/// The largest chunk read from the response body at once.
const READ_CHUNK: u64 = 64 * 1024;

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `HEAD`
    Head,
}

impl Method {
    /// The method's name on the wire (`GET`, `POST`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
        }
    }

    fn to_wasi(self) -> WasiMethod {
        match self {
            Method::Get => WasiMethod::Get,
            Method::Post => WasiMethod::Post,
            Method::Put => WasiMethod::Put,
            Method::Patch => WasiMethod::Patch,
            Method::Delete => WasiMethod::Delete,
            Method::Head => WasiMethod::Head,
        }
    }
}

/// An outgoing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// An absolute `http://` or `https://` URL, query string included.
    pub url: String,
    /// Header names and values. Don't set `authorization` (the host authenticates) or `host`.
    pub headers: Vec<(String, String)>,
    /// The body; empty for none.
    pub body: Vec<u8>,
}

impl Request {
    /// A request without headers or body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// A complete response: status, headers and the whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and raw values, in the order received.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, read to its end.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header (name compared case-insensitively), if it is valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| core::str::from_utf8(v).ok())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request failed. The variant says whether the server may have seen the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Nothing reached the server: invalid request, denied by the host, DNS failure, connection
    /// refused or not established in time, TLS handshake failure. Safe to retry.
    NotSent {
        /// What happened (no secrets, no bodies).
        reason: String,
        /// Whether a timeout ran out (connecting, resolving, or before anything was sent).
        timed_out: bool,
    },
    /// The request was sent, or may have been, but no complete response came back: the
    /// connection was closed or reset, or the timeout ran out while waiting for or reading the
    /// response. The server may have processed the request: the outcome is unknown.
    NoResponse {
        /// What happened.
        reason: String,
        /// Whether the timeout ran out (rather than the connection failing).
        timed_out: bool,
    },
}

impl Error {
    /// True when nothing reached the server.
    pub fn is_not_sent(&self) -> bool {
        matches!(self, Error::NotSent { .. })
    }

    /// True when the timeout ran out.
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::NotSent { timed_out, .. } | Error::NoResponse { timed_out, .. } => *timed_out,
        }
    }

    /// What happened.
    pub fn reason(&self) -> &str {
        match self {
            Error::NotSent { reason, .. } | Error::NoResponse { reason, .. } => reason,
        }
    }

    fn not_sent(reason: impl Into<String>) -> Self {
        Error::NotSent {
            reason: reason.into(),
            timed_out: false,
        }
    }

    fn not_sent_in_time(reason: impl Into<String>) -> Self {
        Error::NotSent {
            reason: reason.into(),
            timed_out: true,
        }
    }

    fn no_response(reason: impl Into<String>, timed_out: bool) -> Self {
        Error::NoResponse {
            reason: reason.into(),
            timed_out,
        }
    }

    /// Classifies a wasi-http error code seen before a response arrived.
    fn from_code(code: &ErrorCode) -> Self {
        let reason = describe(code);
        match code {
            // Before the request could be written: nothing reached the server.
            ErrorCode::DnsError(_)
            | ErrorCode::DestinationNotFound
            | ErrorCode::DestinationUnavailable
            | ErrorCode::DestinationIpProhibited
            | ErrorCode::DestinationIpUnroutable
            | ErrorCode::ConnectionRefused
            | ErrorCode::ConnectionLimitReached
            | ErrorCode::TlsProtocolError
            | ErrorCode::TlsCertificateError
            | ErrorCode::TlsAlertReceived(_)
            | ErrorCode::HttpRequestDenied
            | ErrorCode::HttpRequestLengthRequired
            | ErrorCode::HttpRequestBodySize(_)
            | ErrorCode::HttpRequestMethodInvalid
            | ErrorCode::HttpRequestUriInvalid
            | ErrorCode::HttpRequestUriTooLong
            | ErrorCode::HttpRequestHeaderSectionSize(_)
            | ErrorCode::HttpRequestHeaderSize(_)
            | ErrorCode::HttpRequestTrailerSectionSize(_)
            | ErrorCode::HttpRequestTrailerSize(_)
            | ErrorCode::LoopDetected
            | ErrorCode::ConfigurationError => Error::not_sent(reason),
            ErrorCode::DnsTimeout | ErrorCode::ConnectionTimeout => Error::not_sent_in_time(reason),
            // Waiting for the response ran out of time.
            ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
                Error::no_response(reason, true)
            }
            // Everything else may have happened after the request was written.
            _ => Error::no_response(reason, false),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotSent { reason, .. } => write!(f, "request not sent: {reason}"),
            Error::NoResponse { reason, .. } => write!(f, "no response to the request: {reason}"),
        }
    }
}

impl std::error::Error for Error {}

fn describe(code: &ErrorCode) -> String {
    let text = match code {
        ErrorCode::DnsTimeout => "DNS timeout",
        ErrorCode::DnsError(_) => "DNS error",
        ErrorCode::DestinationNotFound => "destination not found",
        ErrorCode::DestinationUnavailable => "destination unavailable",
        ErrorCode::DestinationIpProhibited => "destination IP prohibited",
        ErrorCode::DestinationIpUnroutable => "destination IP unroutable",
        ErrorCode::ConnectionRefused => "connection refused",
        ErrorCode::ConnectionTerminated => "connection terminated",
        ErrorCode::ConnectionTimeout => "connect timeout",
        ErrorCode::ConnectionReadTimeout => "read timeout",
        ErrorCode::ConnectionWriteTimeout => "write timeout",
        ErrorCode::ConnectionLimitReached => "connection limit reached",
        ErrorCode::TlsProtocolError => "TLS protocol error",
        ErrorCode::TlsCertificateError => "TLS certificate error",
        ErrorCode::TlsAlertReceived(_) => "TLS alert received",
        ErrorCode::HttpRequestDenied => "request denied by the host",
        ErrorCode::HttpResponseIncomplete => "response incomplete",
        ErrorCode::HttpResponseTimeout => "response timeout",
        ErrorCode::HttpProtocolError => "HTTP protocol error",
        ErrorCode::ConfigurationError => "host configuration error",
        ErrorCode::LoopDetected => "loop detected",
        ErrorCode::InternalError(Some(m)) => return format!("internal error: {m}"),
        ErrorCode::InternalError(None) => "internal error",
        ErrorCode::HttpRequestLengthRequired
        | ErrorCode::HttpRequestBodySize(_)
        | ErrorCode::HttpRequestMethodInvalid
        | ErrorCode::HttpRequestUriInvalid
        | ErrorCode::HttpRequestUriTooLong
        | ErrorCode::HttpRequestHeaderSectionSize(_)
        | ErrorCode::HttpRequestHeaderSize(_)
        | ErrorCode::HttpRequestTrailerSectionSize(_)
        | ErrorCode::HttpRequestTrailerSize(_) => "request rejected by the host as invalid",
        _ => "invalid or unreadable response",
    };
    text.to_owned()
}

/// Sends a request and reads the whole response, within `timeout`.
///
/// Non-2xx statuses are responses, not errors. See [`Error`] for what failures mean.
pub fn send(request: &Request, timeout: Duration) -> Result<Response, Error> {
    let deadline = monotonic_clock::now().saturating_add(nanos(timeout));
    send_until(request, deadline)
}

/// Like [`send`], with an absolute `wasi:clocks/monotonic-clock` deadline (for example
/// [`crate::time::deadline`]).
pub fn send_until(
    request: &Request,
    deadline: monotonic_clock::Instant,
) -> Result<Response, Error> {
    let (scheme, authority, path) = split_url(&request.url)?;

    let mut entries = Vec::with_capacity(request.headers.len() + 1);
    for (name, value) in &request.headers {
        let name = name.to_ascii_lowercase();
        if name != "content-length" {
            entries.push((name, value.as_bytes().to_vec()));
        }
    }
    // A declared length lets the host send the body in one piece instead of chunked encoding.
    if !request.body.is_empty() {
        entries.push((
            "content-length".to_string(),
            request.body.len().to_string().into_bytes(),
        ));
    }
    let headers =
        Fields::from_list(&entries).map_err(|_| Error::not_sent("invalid or forbidden header"))?;
    let outgoing = OutgoingRequest::new(headers);
    let invalid = |what: &str| Error::not_sent(format!("invalid request {what}"));
    outgoing
        .set_method(&request.method.to_wasi())
        .map_err(|_| invalid("method"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|_| invalid("scheme"))?;
    outgoing
        .set_authority(Some(authority))
        .map_err(|_| invalid("authority"))?;
    outgoing
        .set_path_with_query(Some(path))
        .map_err(|_| invalid("path"))?;

    let remaining = remaining_until(deadline);
    if remaining == 0 {
        return Err(Error::not_sent_in_time("timeout before sending"));
    }
    let options = RequestOptions::new();
    // Errors only mean the host does not support that timeout; the deadline still applies.
    let _ = options.set_connect_timeout(Some(remaining));
    let _ = options.set_first_byte_timeout(Some(remaining));
    let _ = options.set_between_bytes_timeout(Some(remaining));

    let body = outgoing
        .body()
        .map_err(|_| Error::not_sent("request body unavailable"))?;
    let stream = body
        .write()
        .map_err(|_| Error::not_sent("request body stream unavailable"))?;
    // A body the host accepts in one write is written and finished before the request is
    // handed over, so the host sees the whole request at once (one write on the wire). Larger
    // bodies stream after the hand-over, as the host reads them.
    let unwritten = write_whole_body(body, stream, &request.body)?;
    let future =
        outgoing_handler::handle(outgoing, Some(options)).map_err(|c| Error::from_code(&c))?;
    let written = match unwritten {
        Some((body, stream)) => write_body(body, stream, &request.body, deadline),
        None => Ok(()),
    };
    // Even when writing failed, the response future holds what happened: a response the
    // server sent early, or the reason the request failed (refused, denied, dropped...).
    let response = match (wait_response(&future, deadline), written) {
        (Ok(response), _) => response,
        (Err(e), Ok(())) => return Err(e),
        (
            Err(Error::NoResponse {
                timed_out: true, ..
            }),
            Err(write_error),
        ) => return Err(write_error),
        (Err(e), Err(_)) => return Err(e),
    };
    drop(future);
    read_response(response, deadline)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn remaining_until(deadline: monotonic_clock::Instant) -> u64 {
    deadline.saturating_sub(monotonic_clock::now())
}

/// Splits `scheme://authority/path?query`.
fn split_url(url: &str) -> Result<(Scheme, &str, &str), Error> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else {
        return Err(Error::not_sent("URL must start with http:// or https://"));
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() {
        return Err(Error::not_sent("URL has no host"));
    }
    let path = if path.is_empty() { "/" } else { path };
    Ok((scheme, authority, path))
}

/// Blocks until `pollable` is ready or the deadline passes; false on timeout.
fn wait(pollable: &Pollable, deadline: monotonic_clock::Instant) -> bool {
    if pollable.ready() {
        return true;
    }
    let timer = monotonic_clock::subscribe_instant(deadline);
    let ready = poll(&[pollable, &timer]);
    ready.contains(&0)
}

/// Writes and finishes `bytes` if the host accepts them in one write without waiting;
/// otherwise writes nothing and gives the body and its stream back, to stream after the
/// hand-over.
fn write_whole_body(
    body: OutgoingBody,
    stream: OutputStream,
    bytes: &[u8],
) -> Result<Option<(OutgoingBody, OutputStream)>, Error> {
    let failed = |what: &str| Error::not_sent(format!("request body {what}"));
    let permitted = stream.check_write().map_err(|_| failed("write failed"))?;
    if usize::try_from(permitted).unwrap_or(usize::MAX) < bytes.len() {
        return Ok(Some((body, stream)));
    }
    if !bytes.is_empty() {
        stream.write(bytes).map_err(|_| failed("write failed"))?;
    }
    drop(stream);
    OutgoingBody::finish(body, None).map_err(|c| Error::from_code(&c))?;
    Ok(None)
}

/// Writes the request body. A failure before every byte is handed to the host is "not sent"
/// (the server can't have a complete request); once every byte is queued, the request may be
/// complete at the server, so running out of time while flushing is "no response".
fn write_body(
    body: OutgoingBody,
    stream: OutputStream,
    bytes: &[u8],
    deadline: monotonic_clock::Instant,
) -> Result<(), Error> {
    let failed = |what: &str| Error::not_sent(format!("request body {what}"));
    let mut rest = bytes;
    while !rest.is_empty() {
        let permitted = stream.check_write().map_err(|_| failed("write failed"))?;
        if permitted == 0 {
            if !wait(&stream.subscribe(), deadline) {
                return Err(Error::not_sent_in_time("request body write timed out"));
            }
            continue;
        }
        let n = usize::try_from(permitted)
            .unwrap_or(usize::MAX)
            .min(rest.len());
        stream
            .write(&rest[..n])
            .map_err(|_| failed("write failed"))?;
        rest = &rest[n..];
    }
    // Every byte is queued. If the stream closed meanwhile, the response future says why.
    if stream.flush().is_ok() {
        while let Ok(0) = stream.check_write() {
            if !wait(&stream.subscribe(), deadline) {
                return Err(Error::no_response("request body flush timed out", true));
            }
        }
    }
    drop(stream);
    // A finish error says what went wrong (a body-size mismatch means the request is incomplete).
    OutgoingBody::finish(body, None).map_err(|c| Error::from_code(&c))
}

fn wait_response(
    future: &FutureIncomingResponse,
    deadline: monotonic_clock::Instant,
) -> Result<IncomingResponse, Error> {
    loop {
        match future.get() {
            Some(Ok(Ok(response))) => return Ok(response),
            Some(Ok(Err(code))) => return Err(Error::from_code(&code)),
            Some(Err(())) => return Err(Error::no_response("response already taken", false)),
            None => {
                if !wait(&future.subscribe(), deadline) {
                    return Err(Error::no_response(
                        "timed out waiting for the response",
                        true,
                    ));
                }
            }
        }
    }
}

fn read_response(
    response: IncomingResponse,
    deadline: monotonic_clock::Instant,
) -> Result<Response, Error> {
    let status = response.status();
    let headers = response.headers().entries();
    let body = response
        .consume()
        .map_err(|_| Error::no_response("response body unavailable", false))?;
    let mut data = Vec::new();
    {
        let stream = body
            .stream()
            .map_err(|_| Error::no_response("response body unavailable", false))?;
        loop {
            match stream.read(READ_CHUNK) {
                Ok(chunk) if chunk.is_empty() => {
                    if !wait(&stream.subscribe(), deadline) {
                        return Err(Error::no_response("timed out reading the response", true));
                    }
                }
                Ok(chunk) => data.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    let code = crate::bindings::wasi::http::types::http_error_code(&e);
                    let timed_out = matches!(
                        code,
                        Some(ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout)
                    );
                    let reason = code.map_or_else(|| e.to_debug_string(), |c| describe(&c));
                    return Err(Error::no_response(
                        format!("reading the response failed: {reason}"),
                        timed_out,
                    ));
                }
            }
        }
    }
    drop(IncomingBody::finish(body));
    drop(response);
    Ok(Response {
        status,
        headers,
        body: data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        let (_, a, p) = split_url("https://api.stripe.com/v1/x?y=1").unwrap();
        assert_eq!((a, p), ("api.stripe.com", "/v1/x?y=1"));
        let (_, a, p) = split_url("http://127.0.0.1:80").unwrap();
        assert_eq!((a, p), ("127.0.0.1:80", "/"));
        assert!(split_url("ftp://x").is_err());
    }

    #[test]
    fn classifies_failures_by_whether_the_server_may_have_seen_the_request() {
        for code in [
            ErrorCode::ConnectionRefused,
            ErrorCode::HttpRequestDenied,
            ErrorCode::DnsTimeout,
            ErrorCode::TlsCertificateError,
            ErrorCode::ConnectionTimeout,
        ] {
            assert!(Error::from_code(&code).is_not_sent(), "{code:?}");
        }
        for code in [
            ErrorCode::ConnectionTerminated,
            ErrorCode::HttpResponseIncomplete,
            ErrorCode::HttpProtocolError,
            ErrorCode::InternalError(None),
        ] {
            let e = Error::from_code(&code);
            assert!(!e.is_not_sent() && !e.is_timeout(), "{code:?}");
        }
        assert!(Error::from_code(&ErrorCode::HttpResponseTimeout).is_timeout());
        assert!(!Error::from_code(&ErrorCode::ConnectionReadTimeout).is_not_sent());
        for code in [ErrorCode::DnsTimeout, ErrorCode::ConnectionTimeout] {
            let e = Error::from_code(&code);
            assert!(e.is_not_sent() && e.is_timeout(), "{code:?}");
        }
        assert!(!Error::from_code(&ErrorCode::ConnectionRefused).is_timeout());
    }
}
