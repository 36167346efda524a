//! The `conformance` command line (`omnicrm-pay conformance ...`): reads the files, runs the
//! kit, prints a line per check and the summary, writes the JUnit or JSON report, and exits 0
//! when no check failed, non-zero when one did or the kit could not run (the error then says
//! why).

use crate::{run, target_from_files};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Check a gateway component against the contract, with faults injected into its HTTP.
///
/// Loads the component through the host runtime with the gateway configuration (a TOML file
/// with a `[gateways.NAME]` table: allowed hosts, auth, secrets from the environment, settings
/// pointing at the gateway's test server), and runs every check with the author's fixtures
/// (test tokens, currency, webhook signing). Prints a pass/fail line per check and `N passed,
/// N failed`; exits non-zero when a check failed. `${NAME}` in both files is read from the
/// environment.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The gateway component (`.wasm`).
    #[arg(long)]
    pub component: PathBuf,
    /// The gateway configuration (`[gateways.NAME]`).
    #[arg(long)]
    pub config: PathBuf,
    /// The fixtures file (format: the README's conformance kit section).
    #[arg(long)]
    pub fixtures: PathBuf,
    /// Which `[gateways.NAME]` of the configuration, when it has several.
    #[arg(long)]
    pub gateway: Option<String>,
    /// A CA certificate (PEM) to trust for a test server over TLS.
    #[arg(long)]
    pub extra_ca: Option<PathBuf>,
    /// Keep compiled components in this directory and reuse them on the next run (a component
    /// is compiled again only when its bytes or the runtime change). Without it, every run
    /// compiles the component: seconds for a Rust component, tens of seconds for a Python or
    /// JavaScript one.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write a JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Runs the command: the exit code, or why the kit could not run.
pub async fn run_command(args: Args) -> Result<ExitCode, String> {
    let mut target = target_from_files(
        &args.component,
        &args.config,
        args.gateway.as_deref(),
        &args.fixtures,
        &BTreeMap::new(),
    )
    .map_err(|e| e.to_string())?;
    if let Some(ca) = &args.extra_ca {
        target.extra_ca_pem =
            Some(std::fs::read(ca).map_err(|e| format!("reading {}: {e}", ca.display()))?);
    }
    target.cache_dir = args.cache_dir;
    let report = run(target).await.map_err(|e| e.to_string())?;
    print!("{}", report.text());
    if let Some(path) = &args.junit {
        write_report(path, &report.junit())?;
    }
    if let Some(path) = &args.json {
        write_report(path, &report.json())?;
    }
    Ok(if report.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Writes a report, creating its directory (a CI job's fresh `target/conformance/`).
fn write_report(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}
