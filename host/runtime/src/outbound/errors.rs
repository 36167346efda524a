//! How failures of a gateway's client reach the plugin: each one classified as the `wasi:http`
//! error code it is (refused, DNS, TLS, timeout, ...), from the error's type where it happened.

use super::connector::DestinationProhibited;
use wasmtime_wasi_http::Error as HttpError;

/// Maps a client error to the `wasi:http` error code the guest sees. Connection-level failures
/// (refused, DNS, TLS, connect timeout) mean nothing reached the server.
pub(crate) fn map_client_error(err: hyper_util::client::legacy::Error) -> HttpError {
    let is_connect = err.is_connect();
    // Refused by the resolver's rule: reported as such, though it surfaces as a DNS error.
    if causes(&err).any(|e| e.is::<DestinationProhibited>()) {
        return HttpError::DestinationIpProhibited;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(tls) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return map_tls_error(tls);
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return HttpError::ConnectionRefused,
                std::io::ErrorKind::TimedOut if is_connect => return HttpError::ConnectionTimeout,
                std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof => return HttpError::ConnectionTerminated,
                _ => {}
            }
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return map_tls_error(tls);
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_timeout() {
                return HttpError::HttpResponseTimeout;
            }
            if h.is_incomplete_message() || h.is_canceled() || h.is_closed() {
                return HttpError::HttpResponseIncomplete;
            }
            if h.is_parse() || h.is_parse_too_large() {
                return HttpError::HttpProtocolError;
            }
        }
        let text = e.to_string();
        if text.starts_with("dns error") || text.contains("failed to lookup address") {
            return HttpError::DnsError {
                rcode: Some("address not available".into()),
                info_code: None,
            };
        }
        // `io::Error::source` skips the wrapped error itself: look inside it.
        source = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    if is_connect {
        HttpError::DestinationUnavailable
    } else {
        HttpError::InternalError(Some(format!("{err}")))
    }
}

/// `err` and its causes, looking inside wrapped I/O errors (whose `source` skips them).
fn causes<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |e| {
        match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        }
    })
}

fn map_tls_error(err: &rustls::Error) -> HttpError {
    match err {
        rustls::Error::InvalidCertificate(_) => HttpError::TlsCertificateError,
        rustls::Error::AlertReceived(alert) => HttpError::TlsAlertReceived {
            alert_id: Some(u8::from(*alert)),
            alert_message: Some(format!("{alert:?}")),
        },
        _ => HttpError::TlsProtocolError,
    }
}
