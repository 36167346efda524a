//! The shared outbound HTTP client of a runtime: pooled keep-alive connections, HTTP/1.1 and
//! HTTP/2 over rustls, the public webpki roots plus an optional extra CA.

use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::WasiBody;

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

#[cfg(test)]
impl OutboundClient {
    /// A client with test settings, trusting `extra_ca_pem` besides the public roots.
    pub(crate) fn for_tests(extra_ca_pem: Option<&str>) -> OutboundClient {
        OutboundClient::new(&ClientSettings {
            extra_ca_pem: extra_ca_pem.map(|pem| pem.as_bytes().to_vec()),
            connect_timeout: Duration::from_secs(5),
            max_idle_per_host: 4,
            max_response_header_bytes: 64 * 1024,
        })
        .expect("test client")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
