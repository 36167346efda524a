//! An emulator's listeners, started together: plain HTTP and, when asked for, HTTPS with a
//! certificate signed by a CA generated at start, each serving the emulator's request handler.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use http::Request;
use hyper::body::Incoming;
use tokio::net::TcpListener;

use crate::server::{HandlerResult, accept_loop, bind};
use crate::tls::{self, TlsError};

/// Where an emulator listens.
#[derive(Debug, Clone)]
pub struct ListenOptions<'a> {
    /// The plain HTTP listener's address (port 0: an ephemeral port).
    pub addr: SocketAddr,
    /// The HTTPS listener's address, when the emulator serves HTTPS too.
    pub tls_addr: Option<SocketAddr>,
    /// The common name of the CA generated for HTTPS (`OmniCRM Stripe Emulator CA`).
    pub ca_name: &'a str,
}

/// Where a started emulator serves.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    /// `https://localhost:PORT`, when serving HTTPS.
    pub tls_base_url: Option<String>,
    /// PEM of the CA that signed the HTTPS certificate, when serving HTTPS.
    pub ca_pem: Option<String>,
}

/// Why an emulator could not start listening.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// A listening socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The TLS certificate or configuration could not be made.
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] TlsError),
}

/// Binds the listeners of `options` and spawns their accept loops on `runtime` (which the caller
/// has entered). `handler_for` makes a listener's request handler from the base URL it serves
/// under (the emulator writes it into URLs it answers with).
pub fn listen<H, F>(
    runtime: &tokio::runtime::Handle,
    options: &ListenOptions<'_>,
    handler_for: impl Fn(Arc<str>) -> H,
) -> Result<Endpoints, ListenError>
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = HandlerResult> + Send + 'static,
{
    let (listener, addr) = bind_at(options.addr)?;
    let base_url = format!("http://{addr}");
    runtime.spawn(accept_loop(
        listener,
        None,
        handler_for(base_url.as_str().into()),
    ));
    let mut endpoints = Endpoints {
        base_url,
        tls_base_url: None,
        ca_pem: None,
    };
    if let Some(tls_addr) = options.tls_addr {
        let tls = tls::generate(options.ca_name)?;
        let (listener, addr) = bind_at(tls_addr)?;
        let url = format!("https://localhost:{}", addr.port());
        runtime.spawn(accept_loop(
            listener,
            Some(tls.acceptor),
            handler_for(url.as_str().into()),
        ));
        endpoints.tls_base_url = Some(url);
        endpoints.ca_pem = Some(tls.ca_pem);
    }
    Ok(endpoints)
}

/// A listener bound at `addr`, and the address it got.
fn bind_at(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ListenError> {
    let error = |source| ListenError::Bind { addr, source };
    let listener = bind(addr).map_err(error)?;
    let local = listener.local_addr().map_err(error)?;
    Ok((listener, local))
}
