//! How a gateway's client connects: names resolved by the system (or the runtime's static
//! hosts) and refused when they resolve to private, loopback or link-local addresses, unless
//! the gateway allows private networks or the name is `localhost` (DNS rebinding, as Spin
//! blocks it since CVE-2024-32980); and a bounded number of connections per origin, a request
//! that needs one more waiting for a free slot.

use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::client::legacy::connect::{Connected, Connection};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The error of a connection refused because its host name resolved only to addresses the
/// gateway may not reach; mapped to `destination-ip-prohibited` for the plugin.
#[derive(Debug)]
pub(crate) struct DestinationProhibited {
    name: String,
}

impl std::fmt::Display for DestinationProhibited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` resolves only to private, loopback or link-local addresses, which this gateway may not reach (allow_private_networks)",
            self.name
        )
    }
}

impl std::error::Error for DestinationProhibited {}

/// Whether `ip` is an address of the public internet: not private, loopback, link-local,
/// shared (CGNAT), unspecified, multicast, reserved or documentation space; an IPv6 address
/// that embeds an IPv4 one is judged by it.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped().or_else(|| embedded_v4(v6)) {
                return is_public_v4(v4);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local, fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local, fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
                || (first == 0x2001 && v6.segments()[1] == 0x0db8)) // documentation
        }
    }
}

/// The IPv4 address inside an IPv4-compatible (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`)
/// address.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let v4 = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
        return Some(v4());
    }
    (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]).then(v4)
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19))) // benchmarking
}

/// Resolves host names (the static hosts first, then the system's resolver) and keeps only the
/// addresses the gateway may reach.
#[derive(Clone)]
pub(crate) struct GuardedResolver {
    system: GaiResolver,
    static_hosts: Arc<BTreeMap<String, Vec<IpAddr>>>,
    allow_private: bool,
}

impl GuardedResolver {
    pub(crate) fn new(
        static_hosts: Arc<BTreeMap<String, Vec<IpAddr>>>,
        allow_private: bool,
    ) -> Self {
        GuardedResolver {
            system: GaiResolver::new(),
            static_hosts,
            allow_private,
        }
    }
}

impl Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = BoxFuture<Result<Self::Response, std::io::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), std::io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        // `localhost` names its addresses explicitly, as an IP address would.
        let explicit = self.allow_private || host == "localhost";
        let fixed = self.static_hosts.get(&host).cloned();
        let mut system = self.system.clone();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = match fixed {
                Some(ips) => ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect(),
                None => system.call(name).await?.collect(),
            };
            if explicit {
                return Ok(addresses.into_iter());
            }
            let reachable: Vec<SocketAddr> = addresses
                .iter()
                .copied()
                .filter(|a| is_public(a.ip()))
                .collect();
            if reachable.is_empty() && !addresses.is_empty() {
                tracing::warn!(
                    host = %host,
                    addresses = ?addresses.iter().map(|a| a.ip()).collect::<Vec<_>>(),
                    "refused a connection: the allowed host resolves only to private, loopback or link-local addresses"
                );
                return Err(std::io::Error::other(DestinationProhibited { name: host }));
            }
            Ok(reachable.into_iter())
        })
    }
}

/// At most `per_origin` connections to each origin (scheme and authority), open or being
/// opened.
#[derive(Clone)]
pub(crate) struct LimitedConnector<C> {
    inner: C,
    slots: Arc<OriginSlots>,
}

struct OriginSlots {
    per_origin: usize,
    origins: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl<C> LimitedConnector<C> {
    pub(crate) fn new(inner: C, per_origin: usize) -> Self {
        LimitedConnector {
            inner,
            slots: Arc::new(OriginSlots {
                per_origin: per_origin.max(1),
                origins: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl OriginSlots {
    fn of(&self, uri: &http::Uri) -> Arc<Semaphore> {
        let key = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or(""),
            uri.authority().map(|a| a.as_str()).unwrap_or("")
        );
        let mut origins = self.origins.lock().unwrap_or_else(|p| p.into_inner());
        origins
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_origin)))
            .clone()
    }
}

impl<C, T> Service<http::Uri> for LimitedConnector<C>
where
    C: Service<http::Uri, Response = T> + Clone + Send + 'static,
    C::Error: Into<BoxError>,
    C::Future: Send,
    T: hyper::rt::Read + hyper::rt::Write + Connection + Unpin + Send + 'static,
{
    type Response = Limited<T>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Limited<T>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let slots = self.slots.of(&uri);
        // `poll_ready` was called on this connector, not on a clone: call it, and move the
        // ready connector into the future (a clone takes its place).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let permit = slots
                .acquire_owned()
                .await
                .map_err(|_| BoxError::from("connection slots closed"))?;
            let io = inner.call(uri).await.map_err(Into::into)?;
            Ok(Limited {
                io,
                _permit: permit,
            })
        })
    }
}

/// A connection holding one of its origin's slots until it is closed.
pub(crate) struct Limited<T> {
    io: T,
    _permit: OwnedSemaphorePermit,
}

impl<T: Connection> Connection for Limited<T> {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

impl<T: hyper::rt::Read + Unpin> hyper::rt::Read for Limited<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: hyper::rt::Write + Unpin> hyper::rt::Write for Limited<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn private_loopback_and_link_local_addresses_are_not_public() {
        for private in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "127.0.0.1",
            "127.9.9.9",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip(private)), "{private}");
        }
        for public in [
            "1.1.1.1",
            "54.187.174.169",
            "172.32.0.1",
            "100.128.0.1",
            "::ffff:8.8.8.8",
            "2600:1f14::1",
            "2a00:1450:4001::200e",
        ] {
            assert!(is_public(ip(public)), "{public}");
        }
    }

    async fn resolve(
        resolver: &mut GuardedResolver,
        name: &str,
    ) -> Result<Vec<IpAddr>, std::io::Error> {
        let name: Name = name.parse().unwrap();
        Ok(resolver.call(name).await?.map(|a| a.ip()).collect())
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused_unless_allowed() {
        let hosts: BTreeMap<String, Vec<IpAddr>> = [
            ("rebind.example".to_string(), vec![ip("127.0.0.1")]),
            (
                "mixed.example".to_string(),
                vec![ip("10.0.0.1"), ip("1.1.1.1")],
            ),
            ("metadata.example".to_string(), vec![ip("169.254.169.254")]),
        ]
        .into();
        let hosts = Arc::new(hosts);
        let mut guarded = GuardedResolver::new(hosts.clone(), false);
        for name in ["rebind.example", "Metadata.Example."] {
            let err = resolve(&mut guarded, name).await.unwrap_err();
            assert!(
                err.get_ref()
                    .is_some_and(|e| e.downcast_ref::<DestinationProhibited>().is_some()),
                "{name}: {err}"
            );
        }
        // Only the public address is kept.
        assert_eq!(
            resolve(&mut guarded, "mixed.example").await.unwrap(),
            [ip("1.1.1.1")]
        );
        // `localhost` is explicit.
        let local = resolve(&mut guarded, "localhost").await.unwrap();
        assert!(local.iter().all(|a| a.is_loopback()), "{local:?}");
        // A gateway that allows private networks reaches them.
        let mut open = GuardedResolver::new(hosts, true);
        assert_eq!(
            resolve(&mut open, "rebind.example").await.unwrap(),
            [ip("127.0.0.1")]
        );
    }
}
