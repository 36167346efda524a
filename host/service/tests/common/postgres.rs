//! A database of its own on the tests' PostgreSQL server, for the tests of several instances.
//!
//! The server is named by `OMNICRM_TEST_POSTGRES` (a URL whose user may create databases), which
//! `cargo xtask test` sets after starting a throw-away cluster. Without it a test says so and does
//! not run, unless `OMNICRM_REQUIRE_POSTGRES` is set (as `cargo xtask test` and CI do): then it
//! fails.
//!
//! The `postgres` client blocks on a runtime of its own, which a thread driving Tokio tasks must
//! not do: every call here runs on a thread of its own, so async tests use it as it is.
#![allow(dead_code)]

/// Runs `f` on a thread of its own.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().expect("a database call panicked"))
}

/// A fresh database, dropped (with its connections) when this is dropped.
pub struct ScratchDb {
    admin: String,
    name: String,
    /// Its URL (no password: the test server trusts loopback).
    pub url: String,
}

impl ScratchDb {
    /// A fresh, empty database; none (after saying why) when no server is configured and none
    /// is required.
    pub fn create(label: &str) -> Option<Self> {
        let Ok(admin) = std::env::var("OMNICRM_TEST_POSTGRES") else {
            assert!(
                std::env::var_os("OMNICRM_REQUIRE_POSTGRES").is_none(),
                "OMNICRM_REQUIRE_POSTGRES is set but OMNICRM_TEST_POSTGRES names no server"
            );
            eprintln!("not run: OMNICRM_TEST_POSTGRES names no PostgreSQL server");
            return None;
        };
        let name = format!("omnicrm_{label}_{}", std::process::id());
        off_runtime(|| {
            let mut c =
                postgres::Client::connect(&admin, postgres::NoTls).expect("the test server");
            c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .expect("drop database");
            c.batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("create database");
        });
        let mut url = url::Url::parse(&admin).expect("server URL");
        url.set_path(&name);
        Some(ScratchDb {
            admin,
            name,
            url: url.to_string(),
        })
    }

    /// The rows `sql` answers, each mapped by `f`.
    pub fn rows<T: Send>(&self, sql: &str, f: impl Fn(&postgres::Row) -> T + Send) -> Vec<T> {
        off_runtime(|| {
            let mut c = postgres::Client::connect(&self.url, postgres::NoTls)
                .expect("the scratch database");
            c.query(sql, &[]).expect(sql).iter().map(f).collect()
        })
    }

    /// The one integer `sql` answers.
    pub fn count(&self, sql: &str) -> i64 {
        self.rows(sql, |r| r.get::<_, i64>(0))[0]
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        off_runtime(|| {
            if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
                let _ = c.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ));
            }
        });
    }
}
