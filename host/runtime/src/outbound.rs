//! Outbound HTTP of plugins: the allow-list of origins, credential injection and the shared
//! pooled client every request goes through.

use crate::config::OutboundAuth;
use crate::oauth::{TokenSource, parse_token_url};
use crate::secrets::SecretStore;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{
    AUTHORIZATION, CONTENT_LENGTH, HOST, HeaderName, HeaderValue, PROXY_AUTHORIZATION, TE, TRAILER,
};
use http::uri::Scheme;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::net::{IpAddr, Ipv6Addr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use wasmtime_wasi_http::{
    DEFAULT_FORBIDDEN_HEADERS, Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks,
};
use zeroize::Zeroizing;

/// One allowed origin: scheme, lower-case host (IPv6 without brackets) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// The form of a URL host that origins are compared in: lower case, without one trailing dot,
/// IP addresses in their standard text form (IPv6 without brackets). `None` for a host that
/// cannot be compared safely: empty, or brackets around something that is not an IPv6 address
/// (connectors strip brackets, so `[api.example.com]` would reach `api.example.com`).
fn canonical_host(host: &str) -> Option<String> {
    if let Some(bracketed) = host.strip_prefix('[') {
        let ip = bracketed.strip_suffix(']')?.parse::<Ipv6Addr>().ok()?;
        return Some(ip.to_string());
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    match host.parse::<IpAddr>() {
        Ok(ip) => Some(ip.to_string()),
        Err(_) => Some(host.to_ascii_lowercase()),
    }
}

/// Whether a host is a loopback address or `localhost`.
pub(crate) fn is_loopback(host: &str) -> bool {
    match canonical_host(host) {
        Some(host) if host == "localhost" => true,
        Some(host) => host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

impl Origin {
    /// Parses a configured origin: `https://host[:port]` (any host) or `http://host[:port]`
    /// (loopback hosts only). No path, query, user or fragment.
    pub(crate) fn parse(text: &str) -> Result<Origin, String> {
        let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(format!(
                    "`{text}`: scheme {other} is not allowed (https only)"
                ));
            }
        };
        let host = url
            .host_str()
            .and_then(canonical_host)
            .ok_or_else(|| format!("`{text}` has no host"))?;
        if !https && !is_loopback(&host) {
            return Err(format!(
                "`{text}`: plain http is only allowed for loopback hosts (127.0.0.0/8, ::1, localhost); use https"
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("`{text}`: an origin has no user or password"));
        }
        if !(url.path() == "/" || url.path().is_empty())
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(format!(
                "`{text}`: an origin is scheme://host[:port], without path, query or fragment"
            ));
        }
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("`{text}` has no port"))?;
        Ok(Origin { https, host, port })
    }

    /// The origin a request goes to, from its URL.
    fn of_uri(uri: &http::Uri) -> Option<Origin> {
        let https = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => true,
            Some(s) if *s == Scheme::HTTP => false,
            _ => return None,
        };
        let authority = uri.authority()?;
        if authority.as_str().contains('@') {
            return None;
        }
        let host = canonical_host(authority.host())?;
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        Some(Origin { https, host, port })
    }
}

/// The allowed origins of one gateway.
#[derive(Debug, Clone, Default)]
pub(crate) struct OutboundPolicy {
    origins: Vec<Origin>,
}

impl OutboundPolicy {
    pub(crate) fn new(allowed: &[String]) -> Result<Self, String> {
        let origins = allowed
            .iter()
            .map(|o| Origin::parse(o))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OutboundPolicy { origins })
    }

    /// Whether a request to `uri` is allowed: decided on the URL alone.
    pub(crate) fn allows(&self, uri: &http::Uri) -> bool {
        Origin::of_uri(uri).is_some_and(|origin| self.origins.contains(&origin))
    }
}

type HttpsConnector = hyper_rustls::HttpsConnector<HttpConnector>;

/// The shared keep-alive client (HTTP/1.1 and HTTP/2 over rustls) of a runtime.
#[derive(Clone)]
pub(crate) struct OutboundClient {
    client: Client<HttpsConnector, WasiBody>,
}

/// Settings of the shared client.
#[derive(Debug, Clone)]
pub(crate) struct ClientSettings {
    pub(crate) extra_ca_pem: Option<Vec<u8>>,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_idle_per_host: usize,
    pub(crate) max_response_header_bytes: usize,
}

impl OutboundClient {
    pub(crate) fn new(settings: &ClientSettings) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(pem) = &settings.extra_ca_pem {
            let mut added = 0;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert = cert.map_err(|e| format!("extra CA: invalid PEM: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("extra CA: invalid certificate: {e}"))?;
                added += 1;
            }
            if added == 0 {
                return Err("extra CA: no certificate in the PEM data".into());
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS configuration: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(settings.connect_timeout));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(settings.max_idle_per_host)
            .http1_max_buf_size(settings.max_response_header_bytes.max(8192))
            .http1_max_headers(128)
            .http2_max_header_list_size(settings.max_response_header_bytes as u32)
            .build(connector);
        Ok(OutboundClient { client })
    }

    /// Sends a request the host makes itself (OAuth token requests); redirects are not
    /// followed.
    pub(crate) async fn request(
        &self,
        request: http::Request<WasiBody>,
    ) -> Result<http::Response<hyper::body::Incoming>, hyper_util::client::legacy::Error> {
        self.client.request(request).await
    }
}

/// A gateway's outbound authentication, checked and prepared when the gateway is loaded (the
/// OAuth token cache lives here, shared by all the gateway's calls).
#[derive(Debug)]
pub(crate) enum Authenticator {
    None,
    /// `Authorization: Bearer <secret>`.
    Bearer {
        secret: String,
    },
    /// `Authorization: Basic base64(<secret>)`.
    Basic {
        secret: String,
    },
    /// `<name>: <prefix><secret>`.
    Header {
        name: HeaderName,
        prefix: String,
        secret: String,
    },
    /// `Authorization: Bearer <access token>`.
    OAuth2(Box<TokenSource>),
}

impl Authenticator {
    /// Checks `auth` against the gateway's secrets (every secret it names must exist) and
    /// prepares it. The error says what is wrong, naming no value.
    pub(crate) fn new(
        gateway: &Arc<str>,
        auth: &OutboundAuth,
        secrets: &Arc<SecretStore>,
        client: &OutboundClient,
    ) -> Result<Self, String> {
        for name in auth.secret_names() {
            if !secrets.contains(name) {
                return Err(format!(
                    "auth names the secret `{name}`, which is not in [secrets]"
                ));
            }
        }
        Ok(match auth {
            OutboundAuth::None => Authenticator::None,
            OutboundAuth::Bearer { secret } => Authenticator::Bearer {
                secret: secret.clone(),
            },
            OutboundAuth::Basic { secret } => Authenticator::Basic {
                secret: secret.clone(),
            },
            OutboundAuth::Header {
                name,
                secret,
                prefix,
            } => {
                let prefix = prefix.clone().unwrap_or_default();
                if HeaderValue::from_str(&prefix).is_err() {
                    return Err(format!(
                        "auth.prefix `{prefix}` cannot start an HTTP header value"
                    ));
                }
                Authenticator::Header {
                    name: credential_header_name(name)?,
                    prefix,
                    secret: secret.clone(),
                }
            }
            OutboundAuth::OAuth2ClientCredentials {
                token_url,
                client_id_secret,
                client_secret_secret,
                scope,
            } => Authenticator::OAuth2(Box::new(TokenSource::new(
                gateway.clone(),
                parse_token_url(token_url).map_err(|e| format!("auth.token_url: {e}"))?,
                client_id_secret.clone(),
                client_secret_secret.clone(),
                scope.clone(),
                secrets.clone(),
                client.clone(),
            ))),
        })
    }
}

/// Parses the header name of the `header` scheme: an HTTP token (any case), and not a header
/// the host controls: those `wasi:http` forbids guests to set (hop-by-hop, `Host`) and the
/// message framing hyper computes (`Content-Length`, `TE`, `Trailer`). `Authorization` is fine
/// (`prefix = "Key "` and the like).
fn credential_header_name(name: &str) -> Result<HeaderName, String> {
    let header = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("auth.name `{name}` is not a valid HTTP header name"))?;
    if DEFAULT_FORBIDDEN_HEADERS.contains(&header)
        || [CONTENT_LENGTH, TE, TRAILER].contains(&header)
    {
        return Err(format!(
            "auth.name `{name}` is a header the host manages itself; it cannot carry credentials"
        ));
    }
    Ok(header)
}

/// The `wasi:http` hooks of one call's store: the allow-list, credential injection and the
/// shared client.
pub(crate) struct OutboundHooks {
    pub(crate) gateway: Arc<str>,
    pub(crate) policy: Arc<OutboundPolicy>,
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) secrets: Arc<SecretStore>,
    pub(crate) client: OutboundClient,
}

type ResponseFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

/// The credential header for an allowed request, if the gateway authenticates. The temporary
/// copies of the secret are wiped when dropped; the header value is marked sensitive (never
/// printed by `Debug`, never indexed by HTTP/2 HPACK). Errors name secrets, never values.
async fn credential(
    gateway: &str,
    auth: &Authenticator,
    secrets: &SecretStore,
) -> Result<Option<(HeaderName, HeaderValue)>, HttpError> {
    let resolve = |name: &str| {
        secrets.resolve(name).map_err(|e| {
            tracing::warn!(
                gateway,
                "cannot authenticate an outbound request: secret `{name}`: {e:?}"
            );
            // Nothing was sent: a configuration error, which plugins treat as "not attempted"
            // (an internal error could be taken for a request that may have been processed).
            HttpError::ConfigurationError
        })
    };
    let (header, value) = match auth {
        Authenticator::None => return Ok(None),
        Authenticator::Bearer { secret: name } => {
            let secret = resolve(name)?;
            let value = Zeroizing::new(format!("Bearer {}", secret.expose_secret()));
            (AUTHORIZATION, sensitive_value(&value, name)?)
        }
        Authenticator::Basic { secret: name } => {
            let secret = resolve(name)?;
            let raw = secret.expose_secret();
            // `user` alone is a user name with an empty password (Stripe's convention).
            let pair = Zeroizing::new(if raw.contains(':') {
                raw.to_owned()
            } else {
                format!("{raw}:")
            });
            let encoded =
                Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()));
            let value = Zeroizing::new(format!("Basic {}", encoded.as_str()));
            (AUTHORIZATION, sensitive_value(&value, name)?)
        }
        Authenticator::Header {
            name,
            prefix,
            secret: secret_name,
        } => {
            let secret = resolve(secret_name)?;
            let value = Zeroizing::new(format!("{prefix}{}", secret.expose_secret()));
            (name.clone(), sensitive_value(&value, secret_name)?)
        }
        Authenticator::OAuth2(tokens) => {
            // The token source logs the cause (without secrets) once per failed refresh.
            let token = tokens.access_token().await.map_err(|e| e.to_http_error())?;
            let value = Zeroizing::new(format!("Bearer {}", token.expose_secret()));
            // Checked when fetched: a token is always a valid header value.
            (
                AUTHORIZATION,
                sensitive_value(&value, "OAuth access token")?,
            )
        }
    };
    Ok(Some((header, value)))
}

/// A header value that `Debug` and HPACK treat as sensitive; `secret` names the secret in the
/// error if the value cannot be a header value.
fn sensitive_value(value: &str, secret: &str) -> Result<HeaderValue, HttpError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        tracing::warn!("secret `{secret}` cannot be used in an HTTP header");
        HttpError::ConfigurationError
    })?;
    value.set_sensitive(true);
    Ok(value)
}

impl WasiHttpHooks for OutboundHooks {
    fn is_supported_scheme(&mut self, scheme: &Scheme) -> bool {
        *scheme == Scheme::HTTPS || *scheme == Scheme::HTTP
    }

    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> ResponseFuture {
        let uri = request.uri().clone();
        if !self.policy.allows(&uri) {
            tracing::warn!(
                gateway = %self.gateway,
                url = %redact_query(&uri),
                "denied an outbound request to a host that is not allowed"
            );
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        let headers = request.headers_mut();
        // The URL decides where the request goes; hyper derives Host / :authority from it.
        headers.remove(HOST);
        headers.remove(AUTHORIZATION);
        headers.remove(PROXY_AUTHORIZATION);
        let (gateway, auth, secrets) = (
            self.gateway.clone(),
            self.auth.clone(),
            self.secrets.clone(),
        );
        let client = self.client.client.clone();
        let options = options.unwrap_or_default();
        let connect = options.connect_timeout.unwrap_or(Duration::from_secs(600));
        let first_byte = options
            .first_byte_timeout
            .unwrap_or(Duration::from_secs(600));
        let between_bytes = options
            .between_bytes_timeout
            .unwrap_or(Duration::from_secs(600))
            .max(Duration::from_nanos(1));
        Box::new(async move {
            // Inside the future: an OAuth token may have to be fetched first. `insert` replaces
            // any header of the same name the guest set.
            if let Some((name, value)) = credential(&gateway, &auth, &secrets).await? {
                request.headers_mut().insert(name, value);
            }
            tracing::debug!(gateway = %gateway, method = %request.method(), url = %redact_query(&uri), "outbound request");
            let response =
                tokio::time::timeout(connect.saturating_add(first_byte), client.request(request))
                    .await
                    .map_err(|_| HttpError::ConnectionReadTimeout)?
                    .map_err(map_client_error)?;
            let mut timeout = tokio::time::interval(between_bytes);
            timeout.reset();
            let response =
                response.map(|incoming| ResponseBody { incoming, timeout }.boxed_unsync());
            let io: Box<dyn Future<Output = Result<(), HttpError>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, io))
        })
    }
}

/// The URL without its query (which may carry identifiers), for logs.
pub(crate) fn redact_query(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("");
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    format!("{scheme}://{authority}{}", uri.path())
}

/// A response body with the guest's between-bytes timeout.
struct ResponseBody {
    incoming: hyper::body::Incoming,
    timeout: tokio::time::Interval,
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(if err.is_timeout() {
                HttpError::HttpResponseTimeout
            } else {
                HttpError::from(err)
            }))),
            Poll::Ready(Some(Ok(frame))) => {
                self.timeout.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(self.timeout.poll_tick(cx));
                Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}

/// Maps a client error to the `wasi:http` error code the guest sees. Connection-level failures
/// (refused, DNS, TLS, connect timeout) mean nothing reached the server.
fn map_client_error(err: hyper_util::client::legacy::Error) -> HttpError {
    let is_connect = err.is_connect();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(origins: &[&str]) -> OutboundPolicy {
        OutboundPolicy::new(&origins.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn origins_parse() {
        assert!(Origin::parse("https://api.stripe.com").is_ok());
        assert!(Origin::parse("https://api.stripe.com/").is_ok());
        assert!(Origin::parse("http://127.0.0.1:12111").is_ok());
        assert!(Origin::parse("http://127.9.9.9:1").is_ok());
        assert!(Origin::parse("http://[::1]:8080").is_ok());
        assert!(Origin::parse("http://localhost:8080").is_ok());
        let err = Origin::parse("http://api.stripe.com").unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        assert!(Origin::parse("http://10.0.0.1").is_err());
        assert!(Origin::parse("ftp://api.stripe.com").is_err());
        assert!(Origin::parse("https://api.stripe.com/v1").is_err());
        assert!(Origin::parse("https://user:pw@api.stripe.com").is_err());
        assert!(Origin::parse("api.stripe.com").is_err());
    }

    #[test]
    fn decides_on_the_url() {
        let p = policy(&[
            "https://api.stripe.com",
            "http://127.0.0.1:8080",
            "http://[::1]:9000",
        ]);
        let allows = |u: &str| p.allows(&u.parse::<http::Uri>().unwrap());
        assert!(allows("https://api.stripe.com/v1/charges?x=1"));
        assert!(allows("https://API.Stripe.com:443/v1"));
        assert!(allows("https://api.stripe.com./v1"));
        assert!(allows("http://127.0.0.1:8080/x"));
        assert!(allows("http://[::1]:9000/x"));
        assert!(!allows("http://api.stripe.com/v1"), "scheme must match");
        assert!(!allows("https://api.stripe.com:8443/v1"), "port must match");
        assert!(!allows("https://evil.com/v1"));
        assert!(!allows("https://api.stripe.com.evil.com/v1"));
        assert!(!allows("https://api.stripe.com@evil.com/v1"));
        assert!(!allows("http://127.0.0.1:8081/x"));
        assert!(!allows("/relative"));
    }

    #[test]
    fn hosts_are_compared_in_canonical_form() {
        let p = policy(&["https://api.stripe.com", "http://[0:0::1]:9000"]);
        // A URL that `http::Uri` refuses never reaches the hook: count it as denied.
        let allows = |u: &str| u.parse::<http::Uri>().is_ok_and(|u| p.allows(&u));
        assert!(allows("http://[::1]:9000/x"), "IPv6 in any text form");
        assert!(allows("http://[0:0:0:0:0:0:0:1]:9000/x"));
        assert!(
            allows("https://api.stripe.com:/v1"),
            "empty port is the default"
        );
        // Brackets around a name: connectors strip them, so it must not pass as the name.
        assert!(!allows("https://[api.stripe.com]/v1"));
        assert!(
            !allows("https://api.stripe.com../v1"),
            "one trailing dot only"
        );
        assert!(!allows("https://api.stripe.com%2e/v1"));
        // Another spelling of an allowed IP is denied rather than guessed at.
        let p = policy(&["http://127.0.0.1:8080"]);
        assert!(!p.allows(&"http://127.1:8080/".parse().unwrap()));
        assert!(!p.allows(&"http://[::ffff:127.0.0.1]:8080/".parse().unwrap()));
        assert!(p.allows(&"http://127.0.0.1.:8080/".parse().unwrap()));
    }

    #[test]
    fn loopback() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("127.1.2.3"));
        assert!(is_loopback("[::1]"));
        assert!(is_loopback("LOCALHOST"));
        assert!(!is_loopback("10.0.0.1"));
        assert!(!is_loopback("localhost.evil.com"));
        assert!(!is_loopback("[localhost]"));
        assert!(!is_loopback("[127.0.0.1]"));
    }
}

#[cfg(test)]
mod client_tests {
    use super::*;
    use crate::config::SecretSource;
    use http_body_util::{BodyExt, Empty, Full};
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An HTTPS server for `localhost` (certificate signed by a fresh CA), HTTP/1.1 and HTTP/2
    /// by ALPN, answering `auth=<Authorization>;host=<Host or :authority>;version=<version>`.
    /// Returns its port, the CA's PEM and a counter of accepted TCP connections.
    async fn tls_echo_server() -> (u16, String, Arc<AtomicUsize>) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let mut server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(
                        |req: http::Request<hyper::body::Incoming>| async move {
                            let auth = req
                                .headers()
                                .get(AUTHORIZATION)
                                .map(|v| String::from_utf8_lossy(v.as_bytes()).to_string())
                                .unwrap_or_else(|| "<none>".into());
                            let host = req
                                .headers()
                                .get(HOST)
                                .map(|v| String::from_utf8_lossy(v.as_bytes()).to_string())
                                .or_else(|| req.uri().authority().map(|a| a.to_string()))
                                .unwrap_or_default();
                            let body =
                                format!("auth={auth};host={host};version={:?}", req.version());
                            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                                Bytes::from(body),
                            )))
                        },
                    );
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        (port, ca.pem(), accepted)
    }

    fn hooks(client: OutboundClient, allowed: &str, secret: &str) -> OutboundHooks {
        let mut secrets = BTreeMap::new();
        secrets.insert("api-key".to_string(), SecretSource::value(secret));
        OutboundHooks {
            gateway: Arc::from("test"),
            policy: Arc::new(OutboundPolicy::new(&[allowed.to_string()]).unwrap()),
            auth: Arc::new(Authenticator::Bearer {
                secret: "api-key".into(),
            }),
            secrets: Arc::new(SecretStore::new(secrets)),
            client,
        }
    }

    fn client(extra_ca: Option<&str>) -> OutboundClient {
        OutboundClient::new(&ClientSettings {
            extra_ca_pem: extra_ca.map(|pem| pem.as_bytes().to_vec()),
            connect_timeout: Duration::from_secs(5),
            max_idle_per_host: 4,
            max_response_header_bytes: 64 * 1024,
        })
        .unwrap()
    }

    /// A request as `wasi:http` hands it to the hooks, with guest-chosen headers.
    fn request(url: &str, headers: &[(&str, &str)]) -> http::Request<WasiBody> {
        let mut builder = http::Request::builder().uri(url);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder
            .body(
                Empty::<Bytes>::new()
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .unwrap()
    }

    async fn send(
        hooks: &mut OutboundHooks,
        request: http::Request<WasiBody>,
    ) -> Result<String, HttpError> {
        let future = hooks.send_request(request, None, Box::new(async { Ok(()) }));
        let (response, _io) = Pin::from(future).await?;
        let body = response.into_body().collect().await?.to_bytes();
        Ok(String::from_utf8_lossy(&body).to_string())
    }

    #[tokio::test]
    async fn tls_with_extra_ca_http2_keep_alive_and_host_credentials() {
        let (port, ca_pem, accepted) = tls_echo_server().await;
        let origin = format!("https://localhost:{port}");
        let mut hooks = hooks(client(Some(&ca_pem)), &origin, "sk_host_secret");

        // The guest's own Authorization and Host headers are replaced: the URL decides.
        let body = send(
            &mut hooks,
            request(
                &format!("{origin}/v1/x"),
                &[
                    ("authorization", "Bearer guest-token"),
                    ("host", "evil.example"),
                ],
            ),
        )
        .await
        .unwrap();
        assert_eq!(
            body,
            format!("auth=Bearer sk_host_secret;host=localhost:{port};version=HTTP/2.0")
        );
        let body = send(&mut hooks, request(&format!("{origin}/v1/y"), &[]))
            .await
            .unwrap();
        assert!(body.starts_with("auth=Bearer sk_host_secret;"), "{body}");
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "the second request reused the connection"
        );

        // Same server by IP: not an allowed origin, whatever the Host header says.
        let err = send(
            &mut hooks,
            request(
                &format!("https://127.0.0.1:{port}/v1/x"),
                &[("host", &format!("localhost:{port}"))],
            ),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, HttpError::HttpRequestDenied), "{err:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn tls_without_the_extra_ca_is_a_certificate_error() {
        let (port, _ca_pem, _) = tls_echo_server().await;
        let origin = format!("https://localhost:{port}");
        let mut hooks = hooks(client(None), &origin, "sk");
        let err = send(&mut hooks, request(&format!("{origin}/"), &[]))
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::TlsCertificateError), "{err:?}");
    }

    #[tokio::test]
    async fn connection_refused_is_reported_as_such() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let origin = format!("http://127.0.0.1:{port}");
        let mut hooks = hooks(client(None), &origin, "sk");
        let err = send(&mut hooks, request(&format!("{origin}/"), &[]))
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::ConnectionRefused), "{err:?}");
    }

    /// A plain-HTTP loopback server answering every request with `response` (raw bytes),
    /// counting accepted connections.
    async fn raw_http_server(response: String) -> (String, Arc<AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let response = response.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tcp.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let _ = tcp.write_all(response.as_bytes()).await;
                    let _ = tcp.shutdown().await;
                });
            }
        });
        (origin, accepted)
    }

    #[tokio::test]
    async fn redirects_are_returned_to_the_plugin_not_followed() {
        let (elsewhere, elsewhere_hits) =
            raw_http_server("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".into()).await;
        let (allowed, _) = raw_http_server(format!(
            "HTTP/1.1 302 Found\r\nlocation: {elsewhere}/steal\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        ))
        .await;
        let mut hooks = hooks(client(None), &allowed, "sk_never_forwarded");
        let future = hooks.send_request(
            request(&format!("{allowed}/v1/x"), &[]),
            None,
            Box::new(async { Ok(()) }),
        );
        let (response, _io) = Pin::from(future).await.unwrap();
        assert_eq!(response.status(), http::StatusCode::FOUND);
        assert_eq!(
            elsewhere_hits.load(Ordering::SeqCst),
            0,
            "the client did not follow the redirect (with or without credentials)"
        );
        // Following it is the plugin's decision, and goes through the allow-list again.
        let err = send(&mut hooks, request(&format!("{elsewhere}/steal"), &[]))
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::HttpRequestDenied), "{err:?}");
        assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0);
    }

    fn authenticator(auth: OutboundAuth) -> Result<Authenticator, String> {
        let mut secrets = BTreeMap::new();
        secrets.insert(
            "api-key".to_string(),
            SecretSource::value("sk_header_secret"),
        );
        secrets.insert("client-id".to_string(), SecretSource::value("id"));
        Authenticator::new(
            &Arc::from("test"),
            &auth,
            &Arc::new(SecretStore::new(secrets)),
            &client(None),
        )
    }

    fn header_auth(name: &str, prefix: Option<&str>) -> OutboundAuth {
        OutboundAuth::Header {
            name: name.into(),
            secret: "api-key".into(),
            prefix: prefix.map(Into::into),
        }
    }

    #[tokio::test]
    async fn auth_is_checked_when_prepared() {
        assert!(authenticator(header_auth("X-API-Key", None)).is_ok());
        assert!(authenticator(header_auth("authorization", Some("Key "))).is_ok());
        for bad in [
            "",
            "X API Key",
            "X-Key:",
            "Host",
            "content-length",
            "Transfer-Encoding",
            "Connection",
            "Keep-Alive",
            "Upgrade",
            "TE",
            "Trailer",
            "Proxy-Authorization",
            "x-key\r\nx-evil",
        ] {
            let err = authenticator(header_auth(bad, None)).unwrap_err();
            assert!(err.contains("auth.name"), "{bad}: {err}");
        }
        let err = authenticator(header_auth("X-API-Key", Some("Key\n"))).unwrap_err();
        assert!(err.contains("auth.prefix"), "{err}");
        let err = authenticator(OutboundAuth::Header {
            name: "X-API-Key".into(),
            secret: "missing".into(),
            prefix: None,
        })
        .unwrap_err();
        assert!(err.contains("`missing`"), "{err}");

        let oauth = |token_url: &str, client_secret: &str| OutboundAuth::OAuth2ClientCredentials {
            token_url: token_url.into(),
            client_id_secret: "client-id".into(),
            client_secret_secret: client_secret.into(),
            scope: None,
        };
        assert!(authenticator(oauth("https://t.example/oauth2/token", "api-key")).is_ok());
        let err = authenticator(oauth("https://t.example/token", "client-secret")).unwrap_err();
        assert!(err.contains("`client-secret`"), "{err}");
        let err = authenticator(oauth("http://t.example/token", "api-key")).unwrap_err();
        assert!(
            err.contains("auth.token_url") && err.contains("loopback"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_header_scheme_replaces_the_guests_header() {
        // Answers with every value of `x-api-key` and `authorization` it received.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let service = hyper::service::service_fn(
                    |req: http::Request<hyper::body::Incoming>| async move {
                        let values = |name: &str| {
                            req.headers()
                                .get_all(name)
                                .iter()
                                .map(|v| String::from_utf8_lossy(v.as_bytes()).to_string())
                                .collect::<Vec<_>>()
                        };
                        let body =
                            format!("{:?} {:?}", values("x-api-key"), values("authorization"));
                        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                            Bytes::from(body),
                        )))
                    },
                );
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), service),
                );
            }
        });
        let auth = authenticator(header_auth("X-API-Key", Some("Key "))).unwrap();
        assert!(!format!("{auth:?}").contains("sk_header_secret"));
        let mut hooks = hooks(client(None), &origin, "sk_header_secret");
        hooks.auth = Arc::new(auth);
        let body = send(
            &mut hooks,
            request(
                &format!("{origin}/x"),
                &[
                    ("x-api-key", "guest-1"),
                    ("X-Api-Key", "guest-2"),
                    ("authorization", "Bearer guest"),
                ],
            ),
        )
        .await
        .unwrap();
        assert_eq!(body, r#"["Key sk_header_secret"] []"#);
        let (_, value) = credential("test", &hooks.auth, &hooks.secrets)
            .await
            .unwrap()
            .unwrap();
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("sk_header_secret"));
    }

    #[test]
    fn an_invalid_extra_ca_is_refused() {
        let err = OutboundClient::new(&ClientSettings {
            extra_ca_pem: Some(b"not a pem".to_vec()),
            connect_timeout: Duration::from_secs(1),
            max_idle_per_host: 1,
            max_response_header_bytes: 1024,
        })
        .err()
        .unwrap();
        assert!(err.contains("no certificate"), "{err}");
    }
}
