//! The benchmark program: what the plugin boundary costs, side by side with native
//! code, against the Stripe emulator on loopback (and, for measurement 8, the Adyen emulator;
//! measurement 9 compares gateways written in Rust, Python and JavaScript; measurement 10 a
//! billing run through one to three instances on PostgreSQL beside one on SQLite; measurement
//! 11 the operator console's pages).
//! One run prints one table.
//!
//! Run: `cargo xtask bench` (builds the plugin components first), or
//! `cargo bench -p omnicrm-host --bench gateway -- [--quick] [--only 1,2,3]`.
//!
//! - `--quick`: a smoke run of a few seconds (small sample counts; figures are indicative).
//! - `--only LIST`: run only these measurements (comma-separated numbers 1 to 11; 10 is billing
//!   runs on PostgreSQL beside SQLite, 11 the operator console's pages with 10,000 transactions
//!   in the ledger).
//! - `--scale X`: multiply the sample counts by X (e.g. 5, to profile a measurement with perf).
//! - `OMNICRM_COMPONENT_DIR`: where the `*.wasm` components are (default
//!   `wasm32-wasip2/plugin` of the target directory the benchmark was built in).
//!
//! The emulator runs in a child process (this program re-executed with `--emulator-child`), so
//! the resident memory measured is the host's alone.

mod adyen;
mod cluster;
mod console;
mod emulator;
mod languages;
mod measure;
mod native;
mod service;
mod stats;

use anyhow::{Context as _, Result};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Command-line options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Small sample counts, for a smoke run.
    pub quick: bool,
    /// The measurements to run (all when empty).
    pub only: BTreeSet<u8>,
    /// Multiplies the sample counts.
    pub scale: f64,
    /// Directory of the plugin components.
    pub plugin_dir: PathBuf,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut quick = false;
        let mut only = BTreeSet::new();
        let mut scale = 1.0;
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--only" => {
                    let list = iter.next().context("--only needs a list such as 1,2,3")?;
                    for part in list.split(',').filter(|p| !p.is_empty()) {
                        only.insert(part.trim().parse().context("--only: numbers 1 to 10")?);
                    }
                }
                "--scale" => {
                    let x = iter.next().context("--scale needs a number")?;
                    scale = x.parse().context("--scale: a positive number")?;
                }
                // `cargo bench` passes `--bench`; libtest-style filters are ignored.
                _ => {}
            }
        }
        Ok(Options {
            quick,
            only,
            scale,
            plugin_dir: omnicrm_host::built::component_dir(),
        })
    }

    /// Whether measurement `n` runs.
    pub fn runs(&self, n: u8) -> bool {
        self.only.is_empty() || self.only.contains(&n)
    }

    /// `full` samples normally, `quick` with `--quick`.
    pub fn count(&self, full: usize, quick: usize) -> usize {
        let n = if self.quick { quick } else { full };
        ((n as f64 * self.scale).round() as usize).max(1)
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(emulator::CHILD_FLAG) {
        return emulator::child_main();
    }
    let options = Options::parse(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(measure::run(options))?;
    println!("{report}");
    Ok(())
}
