//! The Stripe emulator in a child process (this same program, re-executed with
//! `--emulator-child`), so that its memory and threads are not counted as the host's.

use anyhow::{Context as _, Result, bail};
use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, Stdio};

/// The flag that makes this program run the emulator instead of the benchmarks.
pub const CHILD_FLAG: &str = "--emulator-child";

/// A running emulator child process; killed on drop.
pub struct EmulatorProcess {
    child: Child,
    pub base_url: String,
    pub tls_base_url: String,
    pub ca_pem: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Handshake {
    base_url: String,
    tls_base_url: String,
    ca_pem: String,
}

impl EmulatorProcess {
    /// Starts the emulator (plain HTTP and TLS on loopback) and waits until it listens.
    pub fn spawn() -> Result<Self> {
        let exe = std::env::current_exe().context("cannot find this program's path")?;
        let mut child = Command::new(exe)
            .arg(CHILD_FLAG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start the emulator child process")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .context("reading the emulator's address")?;
        let handshake: Handshake = match serde_json::from_str(&line) {
            Ok(h) => h,
            Err(e) => {
                let _ = child.kill();
                bail!("the emulator child did not start: {e} (got {line:?})");
            }
        };
        Ok(EmulatorProcess {
            child,
            base_url: handshake.base_url,
            tls_base_url: handshake.tls_base_url,
            ca_pem: handshake.ca_pem,
        })
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        // Closing stdin asks the child to exit; kill is the backstop.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child's main: runs the emulator until stdin closes (the parent exited).
pub fn child_main() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("emulator")
        .build()?;
    runtime.block_on(async {
        let emulator = stripe_emulator::Emulator::start(stripe_emulator::EmulatorOptions {
            tls: true,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("emulator: {e}"))?;
        let handshake = Handshake {
            base_url: emulator.base_url().to_string(),
            tls_base_url: emulator
                .tls_base_url()
                .context("the emulator has no TLS listener")?
                .to_string(),
            ca_pem: emulator
                .ca_certificate_pem()
                .context("the emulator has no CA")?
                .to_string(),
        };
        println!("{}", serde_json::to_string(&handshake)?);
        // Wait for EOF on stdin, off the async workers.
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await?;
        drop(emulator);
        Ok(())
    })
}
