//! The `wasi:http` hooks of one call's store: every request a plugin sends passes the
//! allow-list, loses any credentials the plugin set, gets the host's, and goes out through the
//! shared client with the plugin's timeouts.

use super::auth::{Authenticator, credential};
use super::client::OutboundClient;
use super::errors::map_client_error;
use super::policy::{OutboundPolicy, redact_query};
use crate::secrets::SecretStore;
use bytes::Bytes;
use http::header::{AUTHORIZATION, HOST, PROXY_AUTHORIZATION};
use http::uri::Scheme;
use http_body_util::BodyExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// The `wasi:http` hooks of one gateway: the allow-list, credential injection and the shared
/// client. Each call's store gets a clone (reference counts only).
#[derive(Clone)]
pub(crate) struct OutboundHooks {
    gateway: Arc<str>,
    policy: Arc<OutboundPolicy>,
    auth: Arc<Authenticator>,
    secrets: Arc<SecretStore>,
    client: OutboundClient,
}

impl OutboundHooks {
    /// The hooks of the gateway `gateway`.
    pub(crate) fn new(
        gateway: Arc<str>,
        policy: OutboundPolicy,
        auth: Authenticator,
        secrets: Arc<SecretStore>,
        client: OutboundClient,
    ) -> Self {
        OutboundHooks {
            gateway,
            policy: Arc::new(policy),
            auth: Arc::new(auth),
            secrets,
            client,
        }
    }
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
        let client = self.client.clone();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretSource;
    use http_body_util::{BodyExt, Empty, Full};
    use hyper_util::rt::TokioExecutor;
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
            secrets: Arc::new(SecretStore::new(secrets, ["api-key"])),
            client,
        }
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
        let mut hooks = hooks(OutboundClient::for_tests(None), &origin, "sk_header_secret");
        hooks.auth = Arc::new(Authenticator::Header {
            name: http::header::HeaderName::from_static("x-api-key"),
            prefix: "Key ".into(),
            secret: "api-key".into(),
        });
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
    }
}
