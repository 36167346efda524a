//! The WASI context of one call: the sandbox. Nothing of the host is granted but clocks,
//! random numbers and a log for the guest's stdout and stderr.

use super::clock::HostClock;
use super::state::GatewayShared;
use crate::diagnostics::Diagnostics;
use crate::text::{escaped, truncate};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Longest stdout or stderr line passed on to tracing.
const MAX_LOG_LINE: usize = 4096;

/// The WASI context of one call. It grants no environment variables, arguments, working
/// directory, preopened directories, sockets or name lookups, and an empty stdin; the guest's
/// stdout and stderr go to the host's log (never the host's own stdout/stderr), line by line,
/// control characters escaped, within the log limits (see `output`), and stderr's tail to
/// `diagnostics`. Wall clock and random numbers are WASI's defaults; the monotonic clock is the
/// runtime's (`call-context.deadline` is expressed in it). The only way out of the sandbox is
/// `wasi:http`, through the outbound hooks.
pub(crate) fn sandboxed_wasi(
    gateway: &Arc<GatewayShared>,
    clock: HostClock,
    diagnostics: &Arc<Diagnostics>,
) -> WasiCtx {
    WasiCtx::builder()
        .stdout(GuestOutput {
            gateway: gateway.clone(),
            stream: "stdout",
            diagnostics: diagnostics.clone(),
        })
        .stderr(GuestOutput {
            gateway: gateway.clone(),
            stream: "stderr",
            diagnostics: diagnostics.clone(),
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
    gateway: Arc<GatewayShared>,
    stream: &'static str,
    diagnostics: Arc<Diagnostics>,
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
        let text = escaped(truncate(text.trim_end(), MAX_LOG_LINE));
        let output = &self.output;
        if !text.is_empty() && output.gateway.output.admit(&output.diagnostics, text.len()) {
            tracing::info!(gateway = %output.gateway.name, stream = output.stream, "{text}");
        }
    }
}

impl tokio::io::AsyncWrite for GuestOutputWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.output.stream == "stderr" {
            self.output.diagnostics.append_stderr(buf);
        }
        for &b in buf {
            if b == b'\n' {
                let line = std::mem::take(&mut self.line);
                self.emit(&line);
            } else if self.line.len() < MAX_LOG_LINE {
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

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::component::ResourceTable;
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
        let diagnostics = Diagnostics::new(1 << 20, 1024);
        let clock = HostClock::starting_now();
        let shared = Arc::new(GatewayShared::new(
            Arc::from("test"),
            Default::default(),
            Arc::new(crate::secrets::SecretStore::new(
                Default::default(),
                std::iter::empty::<&str>(),
            )),
            1024,
        ));
        let mut wasi = sandboxed_wasi(&shared, clock, &diagnostics);
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
}
