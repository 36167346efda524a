//! The outbound HTTP clients of a runtime: one per gateway, each with its own pool of
//! keep-alive connections (HTTP/1.1 and HTTP/2 over rustls, the public webpki roots plus an
//! optional extra CA), a bounded number of connections per origin, and the gateway's rule on
//! private networks applied to every name it resolves (see `connector`).
//!
//! The buffers of a connection are bounded, so that what a request in flight holds is bounded
//! too: HTTP/1 buffers at most 64 KiB each way, and HTTP/2 flow-control windows let a server
//! send at most 64 KiB per stream (256 KiB per connection) that nobody has read.

use super::connector::{GuardedResolver, LimitedConnector};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::WasiBody;

type HttpsConnector = hyper_rustls::HttpsConnector<HttpConnector<GuardedResolver>>;

/// Largest HTTP/1 read or write buffer of a connection; also bounds response headers.
const MAX_CONNECTION_BUFFER: usize = 64 * 1024;
/// HTTP/2 flow-control window of one stream: response data a server may send unread.
const STREAM_WINDOW: u32 = 64 * 1024;
/// HTTP/2 flow-control window of one connection.
const CONNECTION_WINDOW: u32 = 256 * 1024;

/// Settings of a runtime's outbound clients.
#[derive(Debug, Clone)]
pub(crate) struct ClientSettings {
    pub(crate) extra_ca_pem: Option<Vec<u8>>,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_idle_per_host: usize,
    /// Host names resolved to fixed addresses instead of asking the system.
    pub(crate) static_hosts: BTreeMap<String, Vec<IpAddr>>,
}

/// What a runtime's outbound clients share: the TLS configuration and the settings. Makes
/// each gateway's client.
#[derive(Clone)]
pub(crate) struct ClientFactory {
    tls: rustls::ClientConfig,
    connect_timeout: Duration,
    max_idle_per_host: usize,
    static_hosts: Arc<BTreeMap<String, Vec<IpAddr>>>,
}

/// What a gateway's client enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NetworkRules {
    /// Whether names may resolve to private, loopback or link-local addresses.
    pub(crate) allow_private_networks: bool,
    /// Connections to one origin at most.
    pub(crate) max_connections_per_origin: usize,
}

/// The outbound client of one gateway.
#[derive(Clone)]
pub(crate) struct OutboundClient {
    client: Client<LimitedConnector<HttpsConnector>, WasiBody>,
}

/// A TLS client configuration (rustls, ring) trusting the public web's authorities and, when
/// given, the certificates of a PEM file: `extra_ca` is its name in errors and its contents.
/// Plugins' outbound requests use it, and so does the service's connection to PostgreSQL.
pub fn client_tls_config(extra_ca: Option<(&str, &[u8])>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some((name, pem)) = extra_ca {
        let mut added = 0;
        for cert in rustls_pemfile::certs(&mut &*pem) {
            let cert = cert.map_err(|e| format!("{name}: invalid PEM: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("{name}: invalid certificate: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("{name}: no certificate in the PEM data"));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl ClientFactory {
    pub(crate) fn new(settings: &ClientSettings) -> Result<Self, String> {
        let extra_ca = settings
            .extra_ca_pem
            .as_deref()
            .map(|pem| ("extra CA", pem));
        let tls = client_tls_config(extra_ca)?;
        Ok(ClientFactory {
            tls,
            connect_timeout: settings.connect_timeout,
            max_idle_per_host: settings.max_idle_per_host,
            static_hosts: Arc::new(settings.static_hosts.clone()),
        })
    }

    /// A client for a gateway with these rules, with a pool of its own.
    pub(crate) fn client(&self, rules: NetworkRules) -> OutboundClient {
        let resolver =
            GuardedResolver::new(self.static_hosts.clone(), rules.allow_private_networks);
        let mut http = HttpConnector::new_with_resolver(resolver);
        http.enforce_http(false);
        http.set_connect_timeout(Some(self.connect_timeout));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(self.tls.clone())
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let connector = LimitedConnector::new(https, rules.max_connections_per_origin);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(self.max_idle_per_host.min(rules.max_connections_per_origin))
            .http1_max_buf_size(MAX_CONNECTION_BUFFER)
            .http1_max_headers(128)
            .http2_max_header_list_size(MAX_CONNECTION_BUFFER as u32)
            .http2_initial_stream_window_size(STREAM_WINDOW)
            .http2_initial_connection_window_size(CONNECTION_WINDOW)
            .http2_max_send_buf_size(MAX_CONNECTION_BUFFER)
            .build(connector);
        OutboundClient { client }
    }
}

impl OutboundClient {
    /// Sends a request (the plugin's, after the hooks, or the host's own OAuth token
    /// requests); redirects are not followed.
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
        ClientFactory::new(&ClientSettings {
            extra_ca_pem: extra_ca_pem.map(|pem| pem.as_bytes().to_vec()),
            connect_timeout: Duration::from_secs(5),
            max_idle_per_host: 4,
            static_hosts: BTreeMap::new(),
        })
        .expect("test client")
        .client(NetworkRules {
            allow_private_networks: false,
            max_connections_per_origin: 16,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_extra_ca_is_refused() {
        let err = ClientFactory::new(&ClientSettings {
            extra_ca_pem: Some(b"not a pem".to_vec()),
            connect_timeout: Duration::from_secs(1),
            max_idle_per_host: 1,
            static_hosts: BTreeMap::new(),
        })
        .err()
        .unwrap();
        assert!(err.contains("no certificate"), "{err}");
    }
}
