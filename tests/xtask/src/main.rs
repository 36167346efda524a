//! Set-up, build and test automation for the workspace (`cargo xtask --help`).
//!
//! Every command first makes sure the `wasm32-wasip2` target is installed and builds the plugin
//! components, so that a fresh machine needs nothing but the repository and a Rust toolchain.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

mod browser;
mod polyglot;
mod postgres;

/// The WebAssembly components of the workspace, built for `wasm32-wasip2` with the `plugin`
/// profile into `target/wasm32-wasip2/plugin/`.
const COMPONENT_PACKAGES: &[&str] = &[
    "omnicrm-stripe-gateway",
    "omnicrm-offline-gateway",
    "misbehaving-gateway",
    "broken-gateway",
    "omnicrm-adyen-gateway",
];

/// The components of [`COMPONENT_PACKAGES`] that target the plain `gateway` world (the SDK
/// without features). They are built and tested in a target directory of their own,
/// [`GATEWAY_WORLD_DIR`]: built with the others, cargo would unify the SDK's features with the
/// full-world components' and give them the full world, whose traits they lack. Their components
/// are copied next to the others.
const GATEWAY_WORLD_PACKAGES: &[&str] = &["omnicrm-adyen-gateway"];

/// The target directory (under the workspace's) of [`GATEWAY_WORLD_PACKAGES`].
const GATEWAY_WORLD_DIR: &str = "gateway-world";

/// The offline gateway built with `--no-default-features`: the plain `gateway` world, exporting
/// neither `invoicing` nor `metrics`, copied next to the others under this name (without the
/// `.wasm`), so that the host's tests can load a gateway whose invoices and figures the service
/// keeps itself.
const OFFLINE_CORE: &str = "omnicrm_offline_gateway_core";

/// The service's feature that builds the demo's in-process Stripe emulator into `omnicrm-pay`.
const SERVICE_EMULATOR: &str = "omnicrm-pay/emulator";

#[derive(Parser)]
#[command(about = "Build, test and demo automation for OmniCRM Payments")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install the wasm32-wasip2 target and build the plugin components (and the offline
    /// gateway's core variant, `omnicrm_offline_gateway_core.wasm`).
    Plugins,
    /// Install componentize-py and componentize-js under `target/polyglot/` when missing, and
    /// build the Python and JavaScript example gateways (`plugins/examples/`).
    Polyglot,
    /// Build the plugins and the Python and JavaScript examples, then run every test of the
    /// workspace. Extra arguments go to `cargo test` of the native crates (then the plugins' own
    /// unit tests are skipped).
    Test {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cargo_test_args: Vec<String>,
    },
    /// Build the plugins, then run the end-to-end demo (`omnicrm-pay demo`; extra arguments go to it).
    Demo {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        demo_args: Vec<String>,
    },
    /// Build the plugins, then run the benchmarks in release mode and print the table.
    Bench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        bench_args: Vec<String>,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Task::Plugins => build_plugins(),
        Task::Polyglot => build_polyglot(),
        Task::Test { cargo_test_args } => {
            build_plugins()?;
            build_polyglot()?;
            // The console's browser tests drive headless Chromium.
            browser::ensure()?;
            // The ledger's PostgreSQL tests and the cluster test need a server: stopped on return.
            let _postgres = postgres::Server::start()?;
            // The workspace's default members: the host, the emulator and the component tests,
            // which load the built components.
            let targeted = !cargo_test_args.is_empty();
            // The service's tests run its demo on the in-process Stripe emulator.
            cargo(
                ["test", "--features", SERVICE_EMULATOR]
                    .into_iter()
                    .map(String::from)
                    .chain(cargo_test_args),
            )?;
            if targeted {
                // Arguments pick tests of the native crates; the plugins' own run only in full runs.
                return Ok(());
            }
            // The plugins' own unit tests (encoding, parsing, error mapping) run natively.
            let mut guest_tests = vec![
                "test".to_string(),
                "--package".into(),
                "omnicrm-gateway-sdk".into(),
            ];
            for package in full_world_packages() {
                guest_tests.extend(["--package".to_string(), package.to_string()]);
            }
            cargo(guest_tests)?;
            cargo(gateway_world_args("test"))?;
            // The offline gateway's unit tests once more as the core variant builds it.
            let core_target = target_dir().join("offline-core");
            cargo(
                [
                    "test",
                    "--package",
                    "omnicrm-offline-gateway",
                    "--no-default-features",
                    "--target-dir",
                ]
                .into_iter()
                .map(String::from)
                .chain([core_target.display().to_string()]),
            )
        }
        Task::Demo { demo_args } => {
            build_plugins()?;
            cargo(
                [
                    "run",
                    "--quiet",
                    "--package",
                    "omnicrm-pay",
                    "--features",
                    SERVICE_EMULATOR,
                    "--bin",
                    "omnicrm-pay",
                    "--",
                    "demo",
                ]
                .into_iter()
                .map(String::from)
                .chain(demo_args),
            )
        }
        Task::Bench { bench_args } => {
            build_plugins()?;
            build_polyglot()?;
            // Measurement 10 runs billing runs on PostgreSQL.
            let _postgres = postgres::Server::start()?;
            cargo(
                ["bench", "--package", "omnicrm-pay", "--bench", "gateway"]
                    .into_iter()
                    .map(String::from)
                    .chain(["--".to_string()])
                    .chain(bench_args),
            )
        }
    }
}

fn build_plugins() -> Result<()> {
    ensure_wasm_target()?;
    let mut args = vec!["build", "--profile", "plugin", "--target", "wasm32-wasip2"];
    for package in full_world_packages() {
        args.extend(["--package", package]);
    }
    cargo(args.into_iter().map(String::from))?;
    build_gateway_world()?;
    build_offline_core()
}

/// The packages of [`COMPONENT_PACKAGES`] built together: all but [`GATEWAY_WORLD_PACKAGES`].
fn full_world_packages() -> impl Iterator<Item = &'static str> {
    COMPONENT_PACKAGES
        .iter()
        .copied()
        .filter(|p| !GATEWAY_WORLD_PACKAGES.contains(p))
}

/// `cargo <verb>` of [`GATEWAY_WORLD_PACKAGES`] in [`GATEWAY_WORLD_DIR`].
fn gateway_world_args(verb: &str) -> Vec<String> {
    let mut args = vec![verb.to_string()];
    for package in GATEWAY_WORLD_PACKAGES {
        args.extend(["--package".to_string(), package.to_string()]);
    }
    args.push("--target-dir".into());
    args.push(target_dir().join(GATEWAY_WORLD_DIR).display().to_string());
    args
}

/// Builds [`GATEWAY_WORLD_PACKAGES`] and copies their components next to the others.
fn build_gateway_world() -> Result<()> {
    let mut args = gateway_world_args("build");
    args.extend(["--profile", "plugin", "--target", "wasm32-wasip2"].map(String::from));
    cargo(args)?;
    let target = target_dir();
    for package in GATEWAY_WORLD_PACKAGES {
        let file = format!("wasm32-wasip2/plugin/{}.wasm", package.replace('-', "_"));
        install_component(
            &target.join(GATEWAY_WORLD_DIR).join(&file),
            &target.join(&file),
        )?;
    }
    Ok(())
}

/// Builds [`OFFLINE_CORE`]. In a target directory of its own: built with the others, cargo would
/// unify the SDK's features with the full variant's, and both would export the full world.
fn build_offline_core() -> Result<()> {
    let target = target_dir();
    let core_target = target.join("offline-core");
    cargo(
        [
            "build",
            "--profile",
            "plugin",
            "--target",
            "wasm32-wasip2",
            "--package",
            "omnicrm-offline-gateway",
            "--no-default-features",
            "--target-dir",
        ]
        .into_iter()
        .map(String::from)
        .chain([core_target.display().to_string()]),
    )?;
    install_component(
        &core_target.join("wasm32-wasip2/plugin/omnicrm_offline_gateway.wasm"),
        &target.join(format!("wasm32-wasip2/plugin/{OFFLINE_CORE}.wasm")),
    )
}

/// Copies a built component to `to` as a new file, renamed into place: `to` may be a hard link
/// shared with another checkout's target directory (checkouts whose builds start as links to one
/// another's), and writing through it would change the component there too.
fn install_component(built: &Path, to: &Path) -> Result<()> {
    let partial = to.with_extension("wasm.partial");
    std::fs::copy(built, &partial)
        .with_context(|| format!("copying {} to {}", built.display(), partial.display()))?;
    std::fs::rename(&partial, to)
        .with_context(|| format!("renaming {} to {}", partial.display(), to.display()))
}

/// Builds the example gateways written in Python and JavaScript (see [`polyglot`]).
fn build_polyglot() -> Result<()> {
    polyglot::build(&workspace_root(), &target_dir())
}

/// The root of the workspace this command runs in (this crate is `tests/xtask` in it). Read at
/// run time, from the `CARGO_MANIFEST_DIR` that `cargo run` sets: cargo's fingerprints do not
/// depend on where a workspace is, so a binary built in one checkout (whose path `env!` would
/// hold) is reused by another checkout sharing its build, and must work on the one it runs in.
fn workspace_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("../..")
}

/// The workspace's target directory: `CARGO_TARGET_DIR` when set, else `target/` at the root.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("target"),
    }
}

fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running `rustup target list --installed` (is rustup installed?)")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|t| t.trim() == "wasm32-wasip2")
    {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))
}

fn cargo(args: impl IntoIterator<Item = String>) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    run(Command::new(cargo).args(args))
}

fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}
