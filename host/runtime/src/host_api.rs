//! The per-call store state and the host side of the contract's imports (`config`, `logging`,
//! `credentials`, `call-context`), plus WASI and `wasi:http` views.

use crate::contract::bindings::omnicrm::payments::{
    call_context, config, credentials, logging, types,
};
use crate::contract::{CredentialError, Level, MacAlgorithm};
use crate::outbound::OutboundHooks;
use crate::secrets::SecretStore;
use hmac::{Hmac, Mac};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{HostMonotonicClock, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Longest log message or stderr line passed on to tracing.
const MAX_LOG_MESSAGE: usize = 4096;
/// How much of the guest's stderr is kept to explain a trap.
const STDERR_TAIL: usize = 2048;

/// The monotonic clock given to guests: nanoseconds since the runtime started. The same base
/// is used for `call-context.deadline`.
#[derive(Clone, Copy)]
pub(crate) struct HostClock {
    pub(crate) base: Instant,
}

impl HostClock {
    pub(crate) fn instant_of(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }
}

impl HostMonotonicClock for HostClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        self.instant_of(Instant::now())
    }
}

/// What a call leaves behind for the host to explain a failure, shared outside the store.
#[derive(Default)]
pub(crate) struct Diagnostics {
    memory_limit_hit: AtomicBool,
    stderr_tail: Mutex<Vec<u8>>,
}

impl Diagnostics {
    fn append_stderr(&self, bytes: &[u8]) {
        let mut tail = self.stderr_tail.lock().unwrap_or_else(|p| p.into_inner());
        tail.extend_from_slice(bytes);
        if tail.len() > STDERR_TAIL {
            let cut = tail.len() - STDERR_TAIL;
            tail.drain(..cut);
        }
    }

    /// Whether a memory growth was refused because of the memory limit.
    pub(crate) fn memory_limit_hit(&self) -> bool {
        self.memory_limit_hit.load(Ordering::Relaxed)
    }

    /// The last lines the guest wrote to stderr (a panic message, typically).
    pub(crate) fn stderr_tail(&self) -> String {
        let tail = self.stderr_tail.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&tail).trim().to_string()
    }
}

/// The gateway-wide facts every call's state refers to.
pub(crate) struct GatewayShared {
    pub(crate) name: Arc<str>,
    pub(crate) settings: BTreeMap<String, String>,
    pub(crate) secrets: Arc<SecretStore>,
}

/// The data of one call's `Store`.
pub(crate) struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    pub(crate) hooks: OutboundHooks,
    pub(crate) limiter: GuestLimiter,
    pub(crate) shared: Arc<GatewayShared>,
    /// `call-context.deadline`, in the guest's monotonic clock.
    pub(crate) deadline: u64,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// The store's resource limiter. The memory limit applies to the sum of every linear memory of
/// the instance (`StoreLimits::memory_size` bounds each memory alone, and a component may hold
/// one per core module); a refused growth is recorded so the resulting trap can be reported as
/// the memory limit. Counts of instances, tables and memories, and table sizes, are
/// `StoreLimits`'.
pub(crate) struct GuestLimiter {
    limits: StoreLimits,
    memory_limit: usize,
    /// Bytes granted so far across every memory of the store. A growth that fails after it was
    /// granted (the OS refusing pages) stays counted: conservative, and rare.
    memory_granted: usize,
    diagnostics: Arc<Diagnostics>,
}

impl GuestLimiter {
    /// A limiter allowing `memory_limit` bytes of linear memory in total.
    pub(crate) fn new(memory_limit: usize, diagnostics: Arc<Diagnostics>) -> Self {
        GuestLimiter {
            limits: StoreLimitsBuilder::new()
                .instances(64)
                .memories(8)
                .tables(64)
                .table_elements(100_000)
                .trap_on_grow_failure(false)
                .build(),
            memory_limit,
            memory_granted: 0,
            diagnostics,
        }
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .memory_granted
            .saturating_add(desired.saturating_sub(current));
        let allowed = total <= self.memory_limit && maximum.is_none_or(|max| desired <= max);
        if allowed {
            self.memory_granted = total;
        } else {
            self.diagnostics
                .memory_limit_hit
                .store(true, Ordering::Relaxed);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// The WASI context of one call. It grants no environment variables, arguments, working
/// directory, preopened directories, sockets or name lookups, and an empty stdin; the guest's
/// stdout and stderr go to the host's log (never the host's own stdout/stderr), and stderr's
/// tail to `diagnostics`. Wall clock and random numbers are WASI's defaults; the monotonic
/// clock is the runtime's (`call-context.deadline` is expressed in it). The only way out of
/// the sandbox is `wasi:http`, through [`OutboundHooks`].
pub(crate) fn sandboxed_wasi(
    gateway: &Arc<str>,
    clock: HostClock,
    diagnostics: &Arc<Diagnostics>,
) -> WasiCtx {
    WasiCtx::builder()
        .stdout(GuestOutput {
            gateway: gateway.clone(),
            stream: "stdout",
            diagnostics: None,
        })
        .stderr(GuestOutput {
            gateway: gateway.clone(),
            stream: "stderr",
            diagnostics: Some(diagnostics.clone()),
        })
        .monotonic_clock(clock)
        // The builder allows TCP and UDP (while its address check denies every address):
        // refuse the sockets themselves too.
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

/// Guest stdout/stderr: lines go to tracing (attributed to the gateway); stderr's tail is kept
/// to explain traps. Nothing reaches the host's own stdout/stderr.
#[derive(Clone)]
struct GuestOutput {
    gateway: Arc<str>,
    stream: &'static str,
    diagnostics: Option<Arc<Diagnostics>>,
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(GuestOutputWriter {
            output: self.clone(),
            line: Vec::new(),
        })
    }
}

struct GuestOutputWriter {
    output: GuestOutput,
    line: Vec<u8>,
}

impl GuestOutputWriter {
    fn emit(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = sanitize(truncate(text.trim_end(), MAX_LOG_MESSAGE));
        if !text.is_empty() {
            tracing::info!(gateway = %self.output.gateway, stream = self.output.stream, "{text}");
        }
    }
}

impl tokio::io::AsyncWrite for GuestOutputWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if let Some(d) = &self.output.diagnostics {
            d.append_stderr(buf);
        }
        for &b in buf {
            if b == b'\n' {
                let line = std::mem::take(&mut self.line);
                self.emit(&line);
            } else if self.line.len() < MAX_LOG_MESSAGE {
                self.line.push(b);
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let line = std::mem::take(&mut self.line);
        self.emit(&line);
        Poll::Ready(Ok(()))
    }
}

impl Drop for GuestOutputWriter {
    fn drop(&mut self) {
        let line = std::mem::take(&mut self.line);
        self.emit(&line);
    }
}

/// Control characters (newlines included) replaced, so a plugin cannot forge log lines.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
        .collect()
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl types::Host for HostState {}

impl config::Host for HostState {
    async fn get(&mut self, key: String) -> Option<String> {
        self.shared.settings.get(&key).cloned()
    }

    async fn entries(&mut self) -> Vec<(String, String)> {
        self.shared
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl logging::Host for HostState {
    async fn log(&mut self, level: Level, message: String) {
        let gateway = &*self.shared.name;
        let message = sanitize(truncate(&message, MAX_LOG_MESSAGE));
        match level {
            Level::Trace => tracing::trace!(gateway, "{message}"),
            Level::Debug => tracing::debug!(gateway, "{message}"),
            Level::Info => tracing::info!(gateway, "{message}"),
            Level::Warn => tracing::warn!(gateway, "{message}"),
            Level::Error => tracing::error!(gateway, "{message}"),
        }
    }
}

impl credentials::Host for HostState {
    async fn compute_mac(
        &mut self,
        secret_name: String,
        algorithm: MacAlgorithm,
        message: Vec<u8>,
    ) -> Result<Vec<u8>, CredentialError> {
        let secret = self.shared.secrets.resolve(&secret_name)?;
        let key = secret.expose_secret().as_bytes();
        let mac = match algorithm {
            MacAlgorithm::HmacSha256 => {
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key)
                    .map_err(|_| CredentialError::Unavailable(secret_name.clone()))?;
                mac.update(&message);
                mac.finalize().into_bytes().to_vec()
            }
            MacAlgorithm::HmacSha512 => {
                let mut mac = Hmac::<sha2::Sha512>::new_from_slice(key)
                    .map_err(|_| CredentialError::Unavailable(secret_name.clone()))?;
                mac.update(&message);
                mac.finalize().into_bytes().to_vec()
            }
        };
        Ok(mac)
    }
}

impl call_context::Host for HostState {
    async fn deadline(&mut self) -> u64 {
        self.deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime_wasi::cli::WasiCliCtxView;
    use wasmtime_wasi::filesystem::WasiFilesystemCtxView;
    use wasmtime_wasi::p2::bindings::cli::environment::Host as _;
    use wasmtime_wasi::p2::bindings::filesystem::preopens::Host as _;
    use wasmtime_wasi::p2::bindings::sockets::network::IpAddressFamily;
    use wasmtime_wasi::p2::bindings::sockets::tcp_create_socket::Host as _;
    use wasmtime_wasi::p2::bindings::sockets::udp_create_socket::Host as _;
    use wasmtime_wasi::sockets::WasiSocketsCtxView;

    #[tokio::test]
    async fn the_wasi_context_grants_no_environment_files_or_sockets() {
        let diagnostics = Arc::new(Diagnostics::default());
        let clock = HostClock {
            base: Instant::now(),
        };
        let mut wasi = sandboxed_wasi(&Arc::from("test"), clock, &diagnostics);
        let mut table = ResourceTable::new();

        let mut cli = WasiCliCtxView {
            ctx: wasi.cli(),
            table: &mut table,
        };
        // The test process has an environment (PATH, ...) and arguments: none are passed on.
        assert!(cli.get_environment().unwrap().is_empty());
        assert!(cli.get_arguments().unwrap().is_empty());
        assert_eq!(cli.initial_cwd().unwrap(), None);

        let mut fs = WasiFilesystemCtxView {
            ctx: wasi.filesystem(),
            table: &mut table,
        };
        assert!(fs.get_directories().unwrap().is_empty());

        let mut sockets = WasiSocketsCtxView {
            ctx: wasi.sockets(),
            table: &mut table,
        };
        assert!(sockets.create_tcp_socket(IpAddressFamily::Ipv4).is_err());
        assert!(sockets.create_tcp_socket(IpAddressFamily::Ipv6).is_err());
        assert!(
            sockets
                .create_udp_socket(IpAddressFamily::Ipv4)
                .await
                .is_err()
        );
    }

    #[test]
    fn the_memory_limit_bounds_all_memories_together() {
        const MIB: usize = 1 << 20;
        let diagnostics = Arc::new(Diagnostics::default());
        let mut limiter = GuestLimiter::new(16 * MIB, diagnostics.clone());
        // Two memories created with 6 MiB each, then grown.
        assert!(limiter.memory_growing(0, 6 * MIB, None).unwrap());
        assert!(limiter.memory_growing(0, 6 * MIB, None).unwrap());
        assert!(limiter.memory_growing(6 * MIB, 9 * MIB, None).unwrap());
        assert!(!diagnostics.memory_limit_hit());
        // 9 + 6 = 15 MiB in use: the second memory may not reach 8 MiB.
        assert!(!limiter.memory_growing(6 * MIB, 8 * MIB, None).unwrap());
        assert!(diagnostics.memory_limit_hit());
        assert!(limiter.memory_growing(6 * MIB, 7 * MIB, None).unwrap());
        // A memory's own declared maximum holds as well.
        let mut limiter = GuestLimiter::new(16 * MIB, Arc::new(Diagnostics::default()));
        assert!(!limiter.memory_growing(0, 2 * MIB, Some(MIB)).unwrap());
    }
}
