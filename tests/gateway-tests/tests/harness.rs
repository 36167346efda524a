//! What the scenarios against a gateway emulator share, whichever the gateway: how the plugin
//! reaches the emulator, the runtime that loads it (one artifact cache for the binary), the
//! plugin's settings for tests, the webhook receiver registered with the emulator, and reading
//! the emulator's raw HTTP answers.

use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use omnicrm_host::contract::{GatewayError, WebhookRequest};
use omnicrm_host::{CallError, GatewayConfig, Limits, Runtime, RuntimeOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// One webhook request as received: headers (lower-case names, raw values) and the raw body.
pub type Delivery = (Vec<(String, Vec<u8>)>, Vec<u8>);

/// How the plugin reaches the emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `http://127.0.0.1:PORT`.
    Http,
    /// `https://localhost:PORT`, the emulator's CA given to the runtime as an extra root.
    Tls,
}

/// Where an emulator serves, as its `base_url`, `tls_base_url` and `ca_certificate_pem` say.
pub struct Served<'a> {
    /// `http://127.0.0.1:PORT`.
    pub base_url: &'a str,
    /// `https://localhost:PORT`, when the emulator serves HTTPS.
    pub tls_base_url: Option<&'a str>,
    /// The PEM of the CA that signed the emulator's certificate, when it serves HTTPS.
    pub ca_pem: Option<&'a str>,
}

impl Transport {
    /// The base URL the plugin is given, and the CA the runtime must trust for it.
    pub fn endpoint(self, served: Served<'_>) -> Result<(String, Option<Vec<u8>>)> {
        Ok(match self {
            Transport::Http => (served.base_url.to_owned(), None),
            Transport::Tls => (
                served.tls_base_url.context("emulator TLS URL")?.to_owned(),
                Some(served.ca_pem.context("emulator CA")?.as_bytes().to_vec()),
            ),
        })
    }
}

/// One artifact cache for the binary: each component is compiled once.
fn cache_dir() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temporary directory"))
        .path()
        .to_owned()
}

/// A runtime for one scenario, trusting `extra_ca_pem` besides the usual roots.
pub fn runtime(extra_ca_pem: Option<Vec<u8>>) -> Result<Runtime> {
    Ok(Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir()),
        extra_ca_pem,
        max_instances: 50,
        max_memory_mib: 64,
        ..RuntimeOptions::default()
    })?)
}

/// The plugin's retries, back-off and timeouts for tests (short, so faults resolve quickly),
/// and its limits.
pub fn test_settings(config: GatewayConfig) -> GatewayConfig {
    config
        .with_setting("max-retries", "3")
        .with_setting("retry-backoff-ms", "20")
        .with_setting("retry-backoff-max-ms", "200")
        .with_setting("timeout-ms", "10000")
        .with_limits(Limits {
            memory_mib: 64,
            call_timeout_ms: 30_000,
            ..Limits::default()
        })
}

/// The gateway error inside a call error, or a failure naming what came instead.
pub fn gateway_error<T: std::fmt::Debug>(result: Result<T, CallError>) -> Result<GatewayError> {
    match result {
        Err(CallError::Gateway(e)) => Ok(e),
        other => bail!("expected a gateway error, got {other:?}"),
    }
}

/// The body of a chunked HTTP/1.1 message (`Transfer-Encoding: chunked`), its chunks joined.
pub fn dechunk(body: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("chunk size")?;
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end])?.trim(), 16)?;
        if size == 0 {
            return Ok(out);
        }
        let start = line_end + 2;
        out.extend_from_slice(&rest[start..start + size]);
        rest = &rest[start + size + 2..];
    }
}

/// A webhook delivery as the host hands it to the plugin: `POST path`.
pub fn webhook_request(
    path: &str,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
) -> WebhookRequest {
    WebhookRequest {
        method: "POST".into(),
        path: path.into(),
        query: String::new(),
        headers,
        body,
    }
}

/// A minimal HTTP server at `http://127.0.0.1:PORT{path}` that records every request it receives
/// (headers and raw body) and answers with `answer` (a whole HTTP response): the webhook
/// endpoint registered with the emulator. Its URL, and the deliveries as they arrive.
pub async fn start_webhook_receiver(
    path: &str,
    answer: &'static [u8],
) -> Result<(String, mpsc::UnboundedReceiver<Delivery>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}{path}", listener.local_addr()?);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut raw = Vec::new();
                let mut buf = [0u8; 8192];
                loop {
                    let Ok(n) = stream.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    raw.extend_from_slice(&buf[..n]);
                    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
                    let mut headers = Vec::new();
                    let mut length = 0;
                    for line in head.lines().skip(1) {
                        if let Some((k, v)) = line.split_once(':') {
                            let k = k.trim().to_ascii_lowercase();
                            if k == "content-length" {
                                length = v.trim().parse().unwrap_or(0);
                            }
                            headers.push((k, v.trim().as_bytes().to_vec()));
                        }
                    }
                    if raw.len() < end + 4 + length {
                        continue;
                    }
                    let body = raw[end + 4..end + 4 + length].to_vec();
                    let _ = tx.send((headers, body));
                    let _ = stream.write_all(answer).await;
                    return;
                }
            });
        }
    });
    Ok((url, rx))
}
