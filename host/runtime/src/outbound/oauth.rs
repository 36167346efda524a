//! OAuth 2.0 client-credentials access tokens (RFC 6749 §4.4) that the host obtains for a
//! gateway, caches until shortly before they expire, and injects into the plugin's requests as
//! `Authorization: Bearer <token>` (see `auth`). The plugin never sees the client secret or
//! the token.

use super::client::OutboundClient;
use super::policy::{is_loopback, redact_query};
use crate::config::Secret;
use crate::secrets::SecretStore;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime_wasi_http::Error as HttpError;
use zeroize::Zeroizing;

/// How long one token request (connect, send, read the answer) may take. A guest call's own
/// deadline usually ends the wait sooner.
const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest token endpoint answer read: a token answer is a small JSON object.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;
/// Lifetime assumed for a token whose answer has no `expires_in` (RFC 6749 §5.1 only
/// recommends it): short, so a token that expires sooner is not used for long.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);
/// Tokens are refreshed this long before they expire (at most; see [`refresh_margin`]), so a
/// request never leaves with a token that expires on the way.
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(30);
/// Longest lifetime honoured; also keeps `Instant` arithmetic far from overflow.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Why the host could not obtain an access token. Messages never contain the client secret or
/// a token, nor the token endpoint's answer body (which may echo the credentials).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenError {
    /// A secret of the client credentials is not available.
    #[error("secret `{0}` is not available")]
    Secret(String),
    /// The token request could not be sent or its answer not read.
    #[error("the token request failed: {0}")]
    Request(String),
    /// The token endpoint did not answer in time.
    #[error("the token endpoint did not answer within {0:?}")]
    Timeout(Duration),
    /// The token endpoint answered with an error status.
    #[error("the token endpoint answered HTTP {0}")]
    Status(u16),
    /// The answer is not a usable bearer token.
    #[error("the token endpoint's answer is unusable: {0}")]
    InvalidAnswer(&'static str),
}

impl TokenError {
    /// The `wasi:http` error the plugin's request fails with. Both codes tell the plugin that
    /// nothing was sent (so the operation is safe to retry), which is true: the request to the
    /// gateway waits for the token. Credentials or settings the token endpoint refuses are a
    /// configuration error; anything that may pass (endpoint down, 5xx, 429) is "unavailable".
    pub(crate) fn to_http_error(&self) -> HttpError {
        match self {
            TokenError::Secret(_)
            | TokenError::InvalidAnswer(_)
            | TokenError::Status(400 | 401 | 403) => HttpError::ConfigurationError,
            TokenError::Request(_) | TokenError::Timeout(_) | TokenError::Status(_) => {
                HttpError::DestinationUnavailable
            }
        }
    }
}

/// Where and how a gateway gets its access tokens, and the cached token.
pub(crate) struct TokenSource {
    gateway: Arc<str>,
    endpoint: http::Uri,
    client_id_secret: String,
    client_secret_secret: String,
    scope: Option<String>,
    secrets: Arc<SecretStore>,
    client: OutboundClient,
    /// Held across a token request: concurrent calls wait for the one refresh in flight
    /// instead of each asking for a token (no thundering herd). Cancel-safe: if the call
    /// refreshing is dropped (its deadline passed), the next waiter refreshes.
    state: tokio::sync::Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    token: Option<CachedToken>,
    /// When the last refresh failed and why: calls that were already waiting for it share its
    /// error instead of asking the failing endpoint again one after the other.
    failure: Option<(Instant, TokenError)>,
}

struct CachedToken {
    value: Secret,
    refresh_at: Instant,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("gateway", &self.gateway)
            .field("endpoint", &redact_query(&self.endpoint))
            .field("client_id_secret", &self.client_id_secret)
            .field("client_secret_secret", &self.client_secret_secret)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Checks a configured token URL: `https://`, or `http://` on a loopback host (like the allowed
/// hosts), with no user information (credentials belong in secrets) and no fragment.
pub(crate) fn parse_token_url(text: &str) -> Result<http::Uri, String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if url.host_str().is_some_and(is_loopback) => {}
        "http" => {
            return Err(format!(
                "`{text}`: plain http is only allowed for loopback hosts (127.0.0.0/8, ::1, localhost); use https"
            ));
        }
        other => {
            return Err(format!(
                "`{text}`: scheme {other} is not allowed (https only)"
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{text}` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{text}`: put the client credentials in secrets, not in the URL"
        ));
    }
    if url.fragment().is_some() {
        return Err(format!("`{text}`: a token URL has no fragment"));
    }
    url.as_str()
        .parse()
        .map_err(|e| format!("`{text}` is not a valid request URL: {e}"))
}

impl TokenSource {
    pub(crate) fn new(
        gateway: Arc<str>,
        endpoint: http::Uri,
        client_id_secret: String,
        client_secret_secret: String,
        scope: Option<String>,
        secrets: Arc<SecretStore>,
        client: OutboundClient,
    ) -> Self {
        TokenSource {
            gateway,
            endpoint,
            client_id_secret,
            client_secret_secret,
            scope,
            secrets,
            client,
            state: tokio::sync::Mutex::new(CacheState::default()),
        }
    }

    /// A valid access token: the cached one, or a new one from the token endpoint.
    pub(crate) async fn access_token(&self) -> Result<Secret, TokenError> {
        let asked = Instant::now();
        let mut state = self.state.lock().await;
        if let Some(token) = &state.token
            && Instant::now() < token.refresh_at
        {
            return Ok(token.value.clone());
        }
        if let Some((failed_at, error)) = &state.failure
            && *failed_at >= asked
        {
            return Err(error.clone());
        }
        state.token = None;
        match self.fetch().await {
            Ok(token) => {
                let value = token.value.clone();
                state.token = Some(token);
                state.failure = None;
                Ok(value)
            }
            Err(error) => {
                // The cause, without secrets: the error never holds a token, the client
                // secret or the endpoint's answer body.
                tracing::warn!(
                    gateway = %self.gateway,
                    token_url = %redact_query(&self.endpoint),
                    "cannot obtain an OAuth access token: {error}"
                );
                state.failure = Some((Instant::now(), error.clone()));
                Err(error)
            }
        }
    }

    /// One token request: `POST token_url` with `grant_type=client_credentials` (and the scope)
    /// as a form (RFC 6749 §4.4.2), the client authenticated with HTTP Basic (§2.3.1).
    async fn fetch(&self) -> Result<CachedToken, TokenError> {
        let resolve = |name: &str| {
            self.secrets
                .outbound_credential(name)
                .map_err(|_| TokenError::Secret(name.to_string()))
        };
        let (id, secret) = (
            resolve(&self.client_id_secret)?,
            resolve(&self.client_secret_secret)?,
        );
        // §2.3.1: the id and the secret are form-urlencoded before being joined and encoded.
        let pair = Zeroizing::new(format!(
            "{}:{}",
            Zeroizing::new(form_encode(id.expose_secret())).as_str(),
            Zeroizing::new(form_encode(secret.expose_secret())).as_str()
        ));
        let basic = Zeroizing::new(format!(
            "Basic {}",
            Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()))
                .as_str()
        ));
        // Base64 is always a valid header value; the error is kept typed all the same.
        let mut authorization = HeaderValue::from_str(&basic)
            .map_err(|_| TokenError::Request("cannot encode the client credentials".into()))?;
        authorization.set_sensitive(true);

        // A block, so the serializer (not `Send`) is gone before the first `await`.
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials");
            if let Some(scope) = &self.scope {
                form.append_pair("scope", scope);
            }
            form.finish()
        };
        let body = Full::new(Bytes::from(form))
            .map_err(|never| match never {})
            .boxed_unsync();
        let request = http::Request::post(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .header(AUTHORIZATION, authorization)
            .body(body)
            .map_err(|e| TokenError::Request(e.to_string()))?;

        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| TokenError::Request(error_chain(&e)))?;
            let status = response.status();
            // The body of an error answer is neither read nor logged: it may echo what was sent.
            if !status.is_success() {
                return Err(TokenError::Status(status.as_u16()));
            }
            read_limited(response.into_body()).await
        };
        let body = tokio::time::timeout(TOKEN_REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| TokenError::Timeout(TOKEN_REQUEST_TIMEOUT))??;
        let (value, lifetime) = parse_answer(&body)?;
        Ok(CachedToken {
            value,
            refresh_at: Instant::now() + lifetime - refresh_margin(lifetime),
        })
    }
}

/// How long before a token's expiry it is refreshed: 10% of its lifetime, at most 30 s.
fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(MAX_REFRESH_MARGIN)
}

fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// An error and its sources, for logs (a client error's own text is only "client error (Connect)").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// The answer's body, at most [`MAX_TOKEN_RESPONSE_BYTES`], in a buffer wiped when dropped (it
/// holds the token).
async fn read_limited(mut body: hyper::body::Incoming) -> Result<Zeroizing<Vec<u8>>, TokenError> {
    let mut bytes = Zeroizing::new(Vec::new());
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| TokenError::Request(error_chain(&e)))?;
        if let Some(data) = frame.data_ref() {
            if bytes.len() + data.len() > MAX_TOKEN_RESPONSE_BYTES {
                return Err(TokenError::InvalidAnswer("the answer is too large"));
            }
            bytes.extend_from_slice(data);
        }
    }
    Ok(bytes)
}

/// A successful token answer (RFC 6749 §5.1). Other members (`scope`, ...) are ignored.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<TokenValue>,
    token_type: Option<String>,
    expires_in: Option<ExpiresIn>,
}

/// The access token, read straight into a [`Secret`].
struct TokenValue(Secret);

impl<'de> Deserialize<'de> for TokenValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = TokenValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<TokenValue, E> {
                Ok(TokenValue(Secret::new(value)))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// `expires_in` in seconds; some servers send it as a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum ExpiresIn {
    Seconds(u64),
    Text(String),
}

/// The token and its lifetime from a successful answer.
fn parse_answer(body: &[u8]) -> Result<(Secret, Duration), TokenError> {
    // serde_json's messages may quote the answer (and so the token): they are not kept.
    let answer: TokenAnswer = serde_json::from_slice(body)
        .map_err(|_| TokenError::InvalidAnswer("not a JSON token answer"))?;
    let Some(TokenValue(token)) = answer.access_token else {
        return Err(TokenError::InvalidAnswer("no access_token"));
    };
    // RFC 6750 token characters, and all of them valid in a header value.
    if token.expose_secret().is_empty()
        || !token.expose_secret().bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(TokenError::InvalidAnswer(
            "the access_token is empty or has characters a bearer token cannot have",
        ));
    }
    match answer.token_type.as_deref() {
        Some(kind) if kind.eq_ignore_ascii_case("bearer") => {}
        Some(_) => return Err(TokenError::InvalidAnswer("token_type is not bearer")),
        None => return Err(TokenError::InvalidAnswer("no token_type")),
    }
    let lifetime = match answer.expires_in {
        None => DEFAULT_LIFETIME,
        Some(ExpiresIn::Seconds(s)) => Duration::from_secs(s),
        Some(ExpiresIn::Text(text)) => Duration::from_secs(
            text.trim()
                .parse()
                .map_err(|_| TokenError::InvalidAnswer("expires_in is not a number of seconds"))?,
        ),
    };
    Ok((token, lifetime.min(MAX_LIFETIME)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretSource;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const CLIENT_ID: &str = "client 1";
    const CLIENT_SECRET: &str = "cs_never_printed:&=42";

    /// A token endpoint: counts requests, checks the Basic client authentication and the form,
    /// answers with the configured status and body (`{n}` replaced by the request number).
    #[derive(Clone)]
    struct TokenServer {
        requests: Arc<AtomicUsize>,
        answer: Arc<Mutex<(StatusCode, String)>>,
        delay: Duration,
    }

    async fn token_endpoint(
        State(server): State<TokenServer>,
        headers: HeaderMap,
        body: String,
    ) -> (StatusCode, String) {
        let n = server.requests.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(server.delay).await;
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode("client+1:cs_never_printed%3A%26%3D42")
        );
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
            return (StatusCode::UNAUTHORIZED, "bad client auth".into());
        }
        if headers.get("content-type").and_then(|v| v.to_str().ok())
            != Some("application/x-www-form-urlencoded")
            || body != "grant_type=client_credentials&scope=payments+read"
        {
            return (StatusCode::BAD_REQUEST, format!("bad form: {body}"));
        }
        let (status, text) = server.answer.lock().unwrap().clone();
        (status, text.replace("{n}", &n.to_string()))
    }

    async fn token_server(
        status: StatusCode,
        answer: &str,
        delay: Duration,
    ) -> (String, TokenServer) {
        let server = TokenServer {
            requests: Arc::new(AtomicUsize::new(0)),
            answer: Arc::new(Mutex::new((status, answer.to_string()))),
            delay,
        };
        let app = axum::Router::new()
            .route("/oauth2/token", axum::routing::post(token_endpoint))
            .with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/oauth2/token", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, server)
    }

    fn source(url: &str) -> TokenSource {
        let mut secrets = BTreeMap::new();
        secrets.insert("client-id".to_string(), SecretSource::value(CLIENT_ID));
        secrets.insert(
            "client-secret".to_string(),
            SecretSource::value(CLIENT_SECRET),
        );
        let client = OutboundClient::for_tests(None);
        TokenSource::new(
            Arc::from("test"),
            parse_token_url(url).unwrap(),
            "client-id".into(),
            "client-secret".into(),
            Some("payments read".into()),
            Arc::new(SecretStore::new(secrets, ["client-id", "client-secret"])),
            client,
        )
    }

    const OK: &str = r#"{"access_token":"at_{n}","token_type":"Bearer","expires_in":3600}"#;

    #[tokio::test]
    async fn fetches_once_and_caches() {
        let (url, server) = token_server(StatusCode::OK, OK, Duration::ZERO).await;
        let tokens = source(&url);
        for _ in 0..3 {
            assert_eq!(tokens.access_token().await.unwrap().expose_secret(), "at_1");
        }
        assert_eq!(server.requests.load(Ordering::SeqCst), 1);
        let shown = format!("{tokens:?}");
        assert!(
            !shown.contains("at_1") && !shown.contains(CLIENT_SECRET),
            "{shown}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_one_refresh() {
        let (url, server) = token_server(StatusCode::OK, OK, Duration::from_millis(200)).await;
        let tokens = Arc::new(source(&url));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let tokens = tokens.clone();
                tokio::spawn(async move { tokens.access_token().await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().expose_secret(), "at_1");
        }
        assert_eq!(server.requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn refreshes_before_expiry() {
        let answer = r#"{"access_token":"at_{n}","token_type":"bearer","expires_in":"1"}"#;
        let (url, server) = token_server(StatusCode::OK, answer, Duration::ZERO).await;
        let tokens = source(&url);
        assert_eq!(tokens.access_token().await.unwrap().expose_secret(), "at_1");
        assert_eq!(tokens.access_token().await.unwrap().expose_secret(), "at_1");
        // 1 s lifetime, refreshed 10% early.
        tokio::time::sleep(Duration::from_millis(950)).await;
        assert_eq!(tokens.access_token().await.unwrap().expose_secret(), "at_2");
        assert_eq!(server.requests.load(Ordering::SeqCst), 2);
        assert_eq!(
            refresh_margin(Duration::from_secs(3600)),
            MAX_REFRESH_MARGIN
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(60)),
            Duration::from_secs(6)
        );
    }

    #[tokio::test]
    async fn endpoint_errors_are_typed_and_free_of_secrets() {
        for (status, answer, expected) in [
            (
                StatusCode::UNAUTHORIZED,
                r#"{"error":"invalid_client"}"#,
                TokenError::Status(401),
            ),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "oops",
                TokenError::Status(500),
            ),
            (
                StatusCode::OK,
                r#"{"token_type":"bearer"}"#,
                TokenError::InvalidAnswer("no access_token"),
            ),
            (
                StatusCode::OK,
                r#"{"access_token":"at_x","token_type":"mac"}"#,
                TokenError::InvalidAnswer("token_type is not bearer"),
            ),
            (
                StatusCode::OK,
                "at_x",
                TokenError::InvalidAnswer("not a JSON token answer"),
            ),
        ] {
            let (url, server) = token_server(status, answer, Duration::ZERO).await;
            let tokens = source(&url);
            let err = tokens.access_token().await.unwrap_err();
            assert_eq!(err, expected);
            let shown = format!("{err} {err:?} {tokens:?}");
            assert!(
                !shown.contains(CLIENT_SECRET) && !shown.contains("at_x"),
                "{shown}"
            );
            // A later call asks again (failures are not cached), and may succeed.
            *server.answer.lock().unwrap() = (StatusCode::OK, OK.into());
            assert_eq!(tokens.access_token().await.unwrap().expose_secret(), "at_2");
        }
        assert!(matches!(
            TokenError::Status(401).to_http_error(),
            HttpError::ConfigurationError
        ));
        assert!(matches!(
            TokenError::Status(503).to_http_error(),
            HttpError::DestinationUnavailable
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_waiting_on_a_failed_refresh_share_its_error() {
        let (url, server) = token_server(
            StatusCode::SERVICE_UNAVAILABLE,
            "down",
            Duration::from_millis(200),
        )
        .await;
        let tokens = Arc::new(source(&url));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let tokens = tokens.clone();
                tokio::spawn(async move { tokens.access_token().await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap_err(), TokenError::Status(503));
        }
        assert_eq!(server.requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_a_request_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        drop(listener);
        let err = source(&url).access_token().await.unwrap_err();
        assert!(matches!(err, TokenError::Request(_)), "{err:?}");
        assert!(matches!(
            err.to_http_error(),
            HttpError::DestinationUnavailable
        ));
    }

    #[test]
    fn token_urls() {
        assert!(parse_token_url("https://api.gateway.example/oauth2/token").is_ok());
        assert!(parse_token_url("https://api.gateway.example/token?tenant=1").is_ok());
        assert!(parse_token_url("http://127.0.0.1:8080/token").is_ok());
        assert!(parse_token_url("http://localhost/token").is_ok());
        let err = parse_token_url("http://api.gateway.example/token").unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        assert!(parse_token_url("ftp://api.gateway.example/token").is_err());
        assert!(parse_token_url("https://id:secret@api.gateway.example/token").is_err());
        assert!(parse_token_url("https://api.gateway.example/token#x").is_err());
        assert!(parse_token_url("/token").is_err());
    }

    #[test]
    fn answers() {
        let (token, lifetime) =
            parse_answer(br#"{"access_token":"a.b-c_~+/=","token_type":"BEARER","scope":"x"}"#)
                .unwrap();
        assert_eq!(token.expose_secret(), "a.b-c_~+/=");
        assert_eq!(lifetime, DEFAULT_LIFETIME);
        let (_, lifetime) =
            parse_answer(br#"{"access_token":"a","token_type":"bearer","expires_in":99999999}"#)
                .unwrap();
        assert_eq!(lifetime, MAX_LIFETIME);
        for bad in [
            r#"{"access_token":"","token_type":"bearer"}"#,
            r#"{"access_token":"a b","token_type":"bearer"}"#,
            r#"{"access_token":"a\r\nX-Evil: 1","token_type":"bearer"}"#,
            r#"{"access_token":"a"}"#,
            r#"{"access_token":"a","token_type":"bearer","expires_in":"soon"}"#,
            r#"{"access_token":12,"token_type":"bearer"}"#,
        ] {
            assert!(parse_answer(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
