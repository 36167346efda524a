//! Headless Chromium and chromedriver for the operator console's browser tests: Debian's
//! `chromium` and `chromium-driver` packages, installed with apt-get when missing (the tests fail,
//! never skip, without them).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The browser and its driver, where Debian's packages put them.
const BINARIES: [&str; 2] = ["/usr/bin/chromium", "/usr/bin/chromedriver"];

/// The Debian packages that provide [`BINARIES`].
const PACKAGES: [&str; 2] = ["chromium", "chromium-driver"];

/// Installs Chromium and chromedriver with apt-get unless both are there.
pub fn ensure() -> Result<()> {
    if BINARIES.iter().all(|b| Path::new(b).exists()) {
        return Ok(());
    }
    println!(
        "xtask: installing {} for the console's browser tests",
        PACKAGES.join(" and ")
    );
    // As root (CI, containers) apt-get runs as is; otherwise through sudo without a prompt.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let apt = |args: &[&str]| -> Result<()> {
        let mut command = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.args(["-n", "apt-get"]);
            c
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        let status = command
            .status()
            .with_context(|| format!("starting apt-get {}", args.join(" ")))?;
        if !status.success() {
            bail!("apt-get {} failed with {status}", args.join(" "));
        }
        Ok(())
    };
    apt(&["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q"];
    install.extend(PACKAGES);
    apt(&install)?;
    for b in BINARIES {
        if !Path::new(b).exists() {
            bail!(
                "{b} is still missing after installing {}",
                PACKAGES.join(" ")
            );
        }
    }
    Ok(())
}
