//! What the crash tests share: the ledger read from outside the service (as the test process
//! sees it while a billing run writes it), and the `omnicrm-pay billing-run` command.
//!
//! Included with `#[path = "common/crash.rs"] mod crash;`.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// One integer the SQL query answers, read from the ledger at `db` without writing to it.
pub fn count(db: &Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// `omnicrm-pay billing-run` of the configuration file `config`, printing its summary as JSON on
/// stdout, with the environment variables `env` (the secrets the file names).
pub fn billing_run(config: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_omnicrm-pay"));
    cmd.args(["billing-run", "--config"])
        .arg(config)
        .args(["--no-progress", "--json"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}
