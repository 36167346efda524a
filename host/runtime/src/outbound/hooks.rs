//! The `wasi:http` hooks of one call's store: every request a plugin sends passes the
//! allow-list (`TRACE` and `CONNECT` never leave), loses any credentials the plugin set, gets
//! the host's when its method and path are the gateway's (and then asks for the whole,
//! uncompressed response, which is scanned for them), waits for an in-flight slot of its
//! call and of its gateway, and goes out through the gateway's client with the plugin's
//! timeouts (its slots freed when the response's head arrives). A response that reflects a credential the host added is withheld and fails the
//! call. Request bodies and requests in flight are charged to the call's host buffers.

use super::auth::{Authenticator, CredentialScope, credential, is_refused_method};
use super::client::OutboundClient;
use super::errors::map_client_error;
use super::intercept::{InterceptedRequest, Interception, OutboundInterceptor};
use super::policy::{OutboundPolicy, redact_query};
use super::response::{ResponseBody, Scanner, WITHHELD};
use crate::config::Limits;
use crate::diagnostics::{BODY_CHUNK_BYTES, Charge, Diagnostics, IN_FLIGHT_BYTES};
use crate::secrets::SecretStore;
use bytes::Bytes;
use http::HeaderValue;
use http::header::{ACCEPT_ENCODING, AUTHORIZATION, HOST, IF_RANGE, PROXY_AUTHORIZATION, RANGE};
use http::uri::Scheme;
use http_body_util::BodyExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Semaphore;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// The outbound HTTP of one gateway, shared by its calls: the allow-list, credential
/// injection, the gateway's client and its in-flight slots. Cheap to clone.
#[derive(Clone)]
pub(crate) struct OutboundHooks {
    shared: Arc<GatewayOutbound>,
}

struct GatewayOutbound {
    gateway: Arc<str>,
    policy: OutboundPolicy,
    auth: Authenticator,
    scope: CredentialScope,
    secrets: Arc<SecretStore>,
    client: OutboundClient,
    /// Requests in flight of all the gateway's calls.
    in_flight: Arc<Semaphore>,
    /// Requests in flight of one call at most.
    per_call: usize,
    /// The runtime's test hook, if any (see `intercept`).
    interceptor: Option<Arc<dyn OutboundInterceptor>>,
}

impl OutboundHooks {
    /// The outbound HTTP of the gateway `gateway`.
    #[allow(clippy::too_many_arguments)] // One per part of the gateway's outbound path.
    pub(crate) fn new(
        gateway: Arc<str>,
        policy: OutboundPolicy,
        auth: Authenticator,
        scope: CredentialScope,
        secrets: Arc<SecretStore>,
        client: OutboundClient,
        limits: &Limits,
        interceptor: Option<Arc<dyn OutboundInterceptor>>,
    ) -> Self {
        OutboundHooks {
            shared: Arc::new(GatewayOutbound {
                gateway,
                policy,
                auth,
                scope,
                secrets,
                client,
                in_flight: Arc::new(Semaphore::new(limits.max_requests_in_flight as usize)),
                per_call: limits.max_requests_in_flight_per_call as usize,
                interceptor,
            }),
        }
    }

    /// The hooks of one call, charging its buffers to `diagnostics`.
    pub(crate) fn for_call(&self, diagnostics: Arc<Diagnostics>) -> CallHooks {
        CallHooks {
            shared: self.shared.clone(),
            diagnostics,
            in_flight: None,
        }
    }
}

/// The `wasi:http` hooks of one call.
pub(crate) struct CallHooks {
    shared: Arc<GatewayOutbound>,
    diagnostics: Arc<Diagnostics>,
    /// The call's in-flight slots, made at its first request.
    in_flight: Option<Arc<Semaphore>>,
}

/// What sending a request gives the plugin: the response and the future of its I/O, or an error.
type SendAnswer = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ),
    HttpError,
>;

type ResponseFuture = Box<dyn Future<Output = SendAnswer> + Send>;

fn denied() -> ResponseFuture {
    Box::new(async { Err(HttpError::HttpRequestDenied) })
}

impl WasiHttpHooks for CallHooks {
    fn is_supported_scheme(&mut self, scheme: &Scheme) -> bool {
        *scheme == Scheme::HTTPS || *scheme == Scheme::HTTP
    }

    /// Called once for each request body the plugin creates: the body is charged here, until
    /// its request is sent (see `send_request`).
    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        self.diagnostics.charge_new_body();
        1
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        BODY_CHUNK_BYTES
    }

    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> ResponseFuture {
        let outbound = &self.shared;
        let gateway = &outbound.gateway;
        let uri = request.uri().clone();
        if self.diagnostics.credential_reflected().is_some() {
            // The call is being stopped: whatever the plugin does before the stop reaches it,
            // nothing more leaves it (least of all a request carrying the credential).
            if !http_body::Body::is_end_stream(request.body()) {
                drop(self.diagnostics.take_unsent_body());
            }
            tracing::warn!(
                gateway = %gateway,
                url = %redact_query(&uri),
                "denied an outbound request: a response of this call reflected a credential"
            );
            return denied();
        }
        let allowed = outbound.policy.allows(&uri) && !is_refused_method(request.method());
        let interception = match &outbound.interceptor {
            Some(interceptor) => interceptor.intercept(&InterceptedRequest {
                gateway,
                method: request.method(),
                uri: &uri,
                headers: request.headers(),
                allowed,
            }),
            None => Interception::Send,
        };
        if !outbound.policy.allows(&uri) {
            tracing::warn!(
                gateway = %gateway,
                url = %redact_query(&uri),
                "denied an outbound request to a host that is not allowed"
            );
            return denied();
        }
        if is_refused_method(request.method()) {
            tracing::warn!(
                gateway = %gateway,
                method = %request.method(),
                url = %redact_query(&uri),
                "denied an outbound request: TRACE and CONNECT are never sent"
            );
            return denied();
        }
        if matches!(
            interception,
            Interception::RefuseConnection | Interception::Respond { .. }
        ) && !http_body::Body::is_end_stream(request.body())
        {
            // Never sent: the body's charge ends here.
            drop(self.diagnostics.take_unsent_body());
        }
        match interception {
            Interception::RefuseConnection => {
                return Box::new(async { Err(HttpError::ConnectionRefused) });
            }
            Interception::Respond {
                status,
                headers,
                body,
            } => return Box::new(async move { injected_response(status, headers, body) }),
            _ => {}
        }
        let headers = request.headers_mut();
        // The URL decides where the request goes; hyper derives Host / :authority from it.
        headers.remove(HOST);
        headers.remove(AUTHORIZATION);
        headers.remove(PROXY_AUTHORIZATION);
        if let Some(name) = outbound.auth.header_name() {
            headers.remove(name);
        }
        let credentialed = !matches!(outbound.auth, Authenticator::None)
            && outbound.scope.covers(request.method(), uri.path());
        if credentialed {
            // What a credentialed response holds must be readable by the scanner, and whole: no
            // compressed bodies (a reflected secret would not be found), no byte ranges (a
            // secret could be fetched a slice at a time).
            let headers = request.headers_mut();
            headers.remove(RANGE);
            headers.remove(IF_RANGE);
            headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        }

        // A body the plugin created was charged then; the charge now goes with the request
        // and ends when hyper has sent it. (A request without one has wasi-http's empty body.)
        let body_charge = if http_body::Body::is_end_stream(request.body()) {
            None
        } else {
            self.diagnostics.take_unsent_body()
        };
        let Some(exchange_charge) = self.diagnostics.charge(IN_FLIGHT_BYTES) else {
            tracing::warn!(
                gateway = %gateway,
                in_use = self.diagnostics.host_buffers_in_use(),
                "refused an outbound request: the call's host buffer budget is used up"
            );
            return Box::new(async { Err(HttpError::ConnectionLimitReached) });
        };
        let request = request.map(|body| {
            ChargedBody {
                body,
                _charge: body_charge,
            }
            .boxed_unsync()
        });
        let call_slots = self
            .in_flight
            .get_or_insert_with(|| Arc::new(Semaphore::new(outbound.per_call)))
            .clone();
        let outbound = outbound.clone();
        let diagnostics = self.diagnostics.clone();
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
            let mut request = request;
            // Waits for a slot of the call, then of the gateway (within the call's deadline:
            // the call's end drops this future).
            let call_slot = call_slots
                .acquire_owned()
                .await
                .map_err(|_| HttpError::ConnectionLimitReached)?;
            let gateway_slot = outbound
                .in_flight
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| HttpError::ConnectionLimitReached)?;
            // The slots are held until the response's head arrives: a response the plugin has
            // not read yet holds none (else calls holding answers they read later could wait
            // on each other for slots until their deadlines). Its charge stays until its body
            // is finished or dropped.
            let slots = (call_slot, gateway_slot);
            let gateway = &outbound.gateway;
            // Inside the future: an OAuth token may have to be fetched first. `insert`
            // replaces any header of the same name the guest set.
            let mut scanner = None;
            if credentialed
                && let Some(credential) =
                    credential(gateway, &outbound.auth, &outbound.secrets).await?
            {
                request
                    .headers_mut()
                    .insert(credential.name, credential.value);
                scanner = Scanner::new(credential.needles);
            }
            tracing::debug!(
                gateway = %gateway,
                method = %request.method(),
                url = %redact_query(&uri),
                credentialed = scanner.is_some(),
                "outbound request"
            );
            let exchange_answer = async {
                let answer = outbound.client.request(request).await;
                if let Interception::DelayResponse(delay) = interception {
                    tokio::time::sleep(delay).await;
                }
                answer
            };
            let response =
                tokio::time::timeout(connect.saturating_add(first_byte), exchange_answer)
                    .await
                    .map_err(|_| HttpError::ConnectionReadTimeout)?
                    .map_err(map_client_error)?;
            drop(slots);
            if interception == Interception::ResetAfterSending {
                return Err(HttpError::ConnectionTerminated);
            }
            let reflected = {
                let (gateway, diagnostics, url) =
                    (gateway.clone(), diagnostics.clone(), redact_query(&uri));
                move || {
                    tracing::error!(
                        gateway = %gateway,
                        url = %url,
                        "a response contained a credential the host added: withheld from the plugin, and the call fails"
                    );
                    diagnostics.record_credential_reflected(url);
                }
            };
            if let Some(scanner) = &scanner
                && scanner.finds_in_headers(response.headers())
            {
                reflected();
                return Err(HttpError::InternalError(Some(WITHHELD.into())));
            }
            let mut timeout = tokio::time::interval(between_bytes);
            timeout.reset();
            let scanner = scanner.map(|s| (s, Box::new(reflected) as Box<dyn FnOnce() + Send>));
            let response = response.map(|incoming| {
                ResponseBody::new(incoming, timeout, scanner, exchange_charge).boxed_unsync()
            });
            let io: Box<dyn Future<Output = Result<(), HttpError>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, io))
        })
    }
}

/// The answer an interceptor gave instead of sending a request.
fn injected_response(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> SendAnswer {
    let mut response = http::Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(name, value);
    }
    let body = http_body_util::Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed_unsync();
    let response = response
        .body(body)
        .map_err(|e| HttpError::InternalError(Some(format!("injected response: {e}"))))?;
    let io: Box<dyn Future<Output = Result<(), HttpError>> + Send> = Box::new(async { Ok(()) });
    Ok((response, io))
}

/// A request body holding its host buffer charge until hyper has sent it (or drops it).
struct ChargedBody {
    body: WasiBody,
    _charge: Option<Charge>,
}

impl http_body::Body for ChargedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, HttpError>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretSource;
    use http_body_util::{BodyExt, Empty, Full};
    use hyper_util::rt::TokioExecutor;
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fingerprint of a header value a test server saw: enough to compare, without the server
    /// reflecting a credential (which the hooks would withhold).
    fn fingerprint(value: &str) -> String {
        use sha2::Digest as _;
        hex::encode(&sha2::Sha256::digest(value.as_bytes())[..8])
    }

    /// An HTTPS server for `localhost` (certificate signed by a fresh CA), HTTP/1.1 and HTTP/2
    /// by ALPN, answering `auth=<fingerprint of Authorization>;host=<Host or
    /// :authority>;version=<version>`.
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
                                .map(|v| fingerprint(&String::from_utf8_lossy(v.as_bytes())))
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

    fn hooks(client: OutboundClient, allowed: &str, secret: &str) -> CallHooks {
        hooks_with(
            client,
            allowed,
            secret,
            Authenticator::Bearer {
                secret: "api-key".into(),
            },
        )
    }

    fn hooks_with(
        client: OutboundClient,
        allowed: &str,
        secret: &str,
        auth: Authenticator,
    ) -> CallHooks {
        let mut secrets = BTreeMap::new();
        secrets.insert("api-key".to_string(), SecretSource::value(secret));
        let limits = Limits::default();
        OutboundHooks::new(
            Arc::from("test"),
            OutboundPolicy::new(&[allowed.to_string()]).unwrap(),
            auth,
            CredentialScope::new(&["GET".to_string(), "POST".to_string()], &[]).unwrap(),
            Arc::new(SecretStore::new(secrets, ["api-key"])),
            client,
            &limits,
            None,
        )
        .for_call(Diagnostics::new(limits.host_buffer_bytes(), 1024))
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
        hooks: &mut CallHooks,
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
        let mut hooks = hooks(
            OutboundClient::for_tests(Some(&ca_pem)),
            &origin,
            "sk_host_secret",
        );

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
        let auth = fingerprint("Bearer sk_host_secret");
        assert_eq!(
            body,
            format!("auth={auth};host=localhost:{port};version=HTTP/2.0")
        );
        let body = send(&mut hooks, request(&format!("{origin}/v1/y"), &[]))
            .await
            .unwrap();
        assert!(body.starts_with(&format!("auth={auth};")), "{body}");
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
        let mut hooks = hooks(OutboundClient::for_tests(None), &origin, "sk");
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
        let mut hooks = hooks(OutboundClient::for_tests(None), &origin, "sk");
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
        let mut hooks = hooks(
            OutboundClient::for_tests(None),
            &allowed,
            "sk_never_forwarded",
        );
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
                                .map(|v| fingerprint(&String::from_utf8_lossy(v.as_bytes())))
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
        let mut hooks = hooks_with(
            OutboundClient::for_tests(None),
            &origin,
            "sk_header_secret",
            Authenticator::Header {
                name: http::header::HeaderName::from_static("x-api-key"),
                prefix: "Key ".into(),
                secret: "api-key".into(),
            },
        );
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
        assert_eq!(
            body,
            format!("[{:?}] []", fingerprint("Key sk_header_secret"))
        );
    }
}
