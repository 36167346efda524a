//! Tests of the PostgreSQL ledger: the backend-independent suite, each test on a database of its
//! own, then what several instances sharing one database rely on, each with two ledgers (two
//! pools, as two instances have) on the same database.
//!
//! The server is named by `OMNICRM_TEST_POSTGRES` (a URL whose user may create databases), which
//! `cargo xtask test` sets after starting a throw-away cluster. Without it these tests say so and
//! return, unless `OMNICRM_REQUIRE_POSTGRES` is set (as `cargo xtask test` and CI do): then they
//! fail.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use super::*;
use crate::ledger::suite::{Backend, new_txn};

/// A database of its own on the test server, dropped with it.
struct Scratch {
    admin: String,
    name: String,
    url: String,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A fresh, empty database; none (after saying why) when no server is configured and none is
/// required.
fn scratch() -> Option<Scratch> {
    let Ok(admin) = std::env::var("OMNICRM_TEST_POSTGRES") else {
        assert!(
            std::env::var_os("OMNICRM_REQUIRE_POSTGRES").is_none(),
            "OMNICRM_REQUIRE_POSTGRES is set but OMNICRM_TEST_POSTGRES names no server"
        );
        eprintln!("not run: OMNICRM_TEST_POSTGRES names no PostgreSQL server");
        return None;
    };
    let name = format!(
        "omnicrm_unit_{}_{}",
        std::process::id(),
        rand::random::<u32>()
    );
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("test server");
    c.batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create database");
    let mut url = url::Url::parse(&admin).expect("server URL");
    url.set_path(&name);
    Some(Scratch {
        admin,
        name,
        url: url.to_string(),
    })
}

fn open(url: &str) -> PgLedger {
    PgLedger::open(&options(url, None)).expect("ledger")
}

fn options(url: &str, ca_pem: Option<PathBuf>) -> PgOptions {
    PgOptions {
        url: url.to_string(),
        password: None,
        pool_size: 8,
        ca_pem,
    }
}

/// A fresh ledger on a database of its own.
fn fresh() -> Option<Backend> {
    let db = scratch()?;
    let ledger = open(&db.url);
    Some(Backend::new(Arc::new(ledger)).keeping(db))
}

/// Two instances' ledgers on one fresh database.
fn two_instances() -> Option<(Arc<PgLedger>, Arc<PgLedger>, Scratch)> {
    let db = scratch()?;
    let a = Arc::new(open(&db.url));
    let b = Arc::new(open(&db.url));
    Some((a, b, db))
}

mod suite {
    crate::ledger::suite::ledger_suite!(optional super::fresh());
}

#[test]
fn instances_starting_together_apply_each_migration_once() {
    let Some(db) = scratch() else { return };
    let start = Arc::new(Barrier::new(4));
    let applied: Vec<Vec<i64>> = (0..4)
        .map(|_| {
            let (url, start) = (db.url.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let ledger = open(&url);
                (ledger.applied_migrations().unwrap(), ledger)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap().0)
        .collect();
    let all: Vec<i64> = MIGRATIONS.iter().map(|m| m.0).collect();
    assert!(applied.iter().all(|a| *a == all), "{applied:?}");
    assert!(open(&db.url).migrate().unwrap().is_empty());
}

#[test]
fn a_ledger_migrated_from_version_2_flags_its_held_transactions() {
    let Some(db) = scratch() else { return };
    let l = open(&db.url);
    let (held, _) = l.insert_transaction(&new_txn("c1", 500, "k-held")).unwrap();
    let (plain, _) = l
        .insert_transaction(&new_txn("c1", 500, "k-plain"))
        .unwrap();
    drop(l);
    // As version 2 left a charge held for review: why in `last_error` only.
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    c.execute(
        "UPDATE transactions SET status = 'held_for_review', last_error = 'broke the contract'
         WHERE id = $1",
        &[&held.id],
    )
    .unwrap();
    c.execute("DELETE FROM schema_migrations WHERE version >= 3", &[])
        .unwrap();
    drop(c);
    let l = open(&db.url);
    let attention = |id| l.transaction(id).unwrap().unwrap().attention;
    assert_eq!(attention(held.id).as_deref(), Some("broke the contract"));
    assert_eq!(attention(plain.id), None);
}

/// Whether the ledger's own connections to the server are encrypted, as the server sees them.
fn encrypted(ledger: &PgLedger) -> bool {
    ledger
        .db
        .dedicated()
        .unwrap()
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn tls_is_the_urls_sslmode_and_the_servers_certificate_is_verified() {
    let Some(db) = scratch() else { return };
    let Some(ca) = std::env::var_os("OMNICRM_TEST_POSTGRES_CA").map(PathBuf::from) else {
        assert!(
            std::env::var_os("OMNICRM_REQUIRE_POSTGRES").is_none(),
            "OMNICRM_REQUIRE_POSTGRES is set but OMNICRM_TEST_POSTGRES_CA names no authority"
        );
        return;
    };
    let with_mode = |mode: &str| format!("{}?sslmode={mode}", db.url);

    // The server offers TLS; a URL that does not ask for it is plain TCP, as ever.
    assert!(!encrypted(&open(&db.url)));
    assert!(!encrypted(&open(&with_mode("disable"))));
    // Asked for, with the server's authority trusted: encrypted, queries and all.
    for mode in ["require", "prefer"] {
        let ledger = PgLedger::open(&options(&with_mode(mode), Some(ca.clone()))).unwrap();
        assert!(encrypted(&ledger), "sslmode={mode}");
        let (t, _) = ledger
            .insert_transaction(&new_txn("c1", 500, mode))
            .unwrap();
        assert_eq!(ledger.transaction(t.id).unwrap().unwrap().amount, 500);
    }
    // Its authority not trusted (the public web's only): refused, never talked to in the clear.
    for mode in ["require", "prefer"] {
        let err = PgLedger::open(&options(&with_mode(mode), None))
            .err()
            .expect("an untrusted server is refused")
            .to_string();
        assert!(err.contains("certificate"), "sslmode={mode}: {err}");
    }
    // The same server reached by a name its certificate does not carry: refused too.
    let other_name =
        with_mode("require").replace("127.0.0.1", "db.invalid") + "&hostaddr=127.0.0.1";
    let err = PgLedger::open(&options(&other_name, Some(ca.clone())))
        .err()
        .expect("a certificate for another name is refused")
        .to_string();
    assert!(
        err.contains("certificate not valid for name \"db.invalid\""),
        "{err}"
    );
    // A file that holds no certificate is a clear error at start.
    let empty = tempfile::NamedTempFile::new().unwrap();
    let err = PgLedger::open(&options(&with_mode("require"), Some(empty.path().into())))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no certificate"), "{err}");
}

#[test]
fn a_password_in_the_url_is_refused_and_never_shown() {
    let err = PgLedger::open(&PgOptions {
        url: "postgres://pay:s3cret@127.0.0.1:1/ledger".into(),
        password: None,
        pool_size: 1,
        ca_pem: None,
    })
    .err()
    .expect("refused")
    .to_string();
    assert!(err.contains("environment"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    assert_eq!(
        redacted("postgres://pay:s3cret@db:5432/ledger"),
        "postgres://pay:***@db:5432/ledger"
    );
    let shown = format!(
        "{:?}",
        PgOptions {
            url: "postgres://pay@db/ledger".into(),
            password: Some("s3cret".into()),
            pool_size: 1,
            ca_pem: None,
        }
    );
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[test]
fn one_idempotency_key_at_two_instances_runs_once_and_answers_the_same() {
    let Some((a, b, _db)) = two_instances() else {
        return;
    };
    for round in 0..10 {
        let key = format!("key-{round}");
        let start = Arc::new(Barrier::new(2));
        let handles: Vec<_> = [(a.clone(), "instance-a"), (b.clone(), "instance-b")]
            .into_iter()
            .map(|(ledger, owner)| {
                let (key, start) = (key.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    let begun = ledger
                        .idem_begin("caller", &key, "hash", b"POST /v1/charges", owner)
                        .unwrap();
                    if begun == IdemBegin::Run {
                        // The request's work, then its answer saved for replay.
                        thread::sleep(Duration::from_millis(50));
                        ledger
                            .idem_finish("caller", &key, 201, owner.as_bytes())
                            .unwrap();
                        (201, owner.as_bytes().to_vec())
                    } else {
                        match begun {
                            IdemBegin::Replay { status, body } => (status, body),
                            other => panic!("{other:?}"),
                        }
                    }
                })
            })
            .collect();
        let answers: Vec<(u16, Vec<u8>)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(answers[0], answers[1], "round {round}");
    }
}

#[test]
fn a_request_left_running_by_a_dead_instance_runs_again_at_once() {
    let Some((a, b, db)) = two_instances() else {
        return;
    };
    let begun = a
        .idem_begin("caller", "k", "hash", b"req", "instance-a")
        .unwrap();
    assert_eq!(begun, IdemBegin::Run);
    drop(a);
    let c = open(&db.url);
    let started = Instant::now();
    let again = c
        .idem_begin("caller", "k", "hash", b"req", "instance-c")
        .unwrap();
    assert_eq!(again, IdemBegin::Run);
    assert!(started.elapsed() < Duration::from_secs(5));
    // While the new owner lives, a third instance waits for it rather than running it too.
    let waiter = thread::spawn(move || b.idem_begin("caller", "k", "hash", b"req", "instance-b"));
    thread::sleep(Duration::from_millis(200));
    c.idem_finish("caller", "k", 200, b"done").unwrap();
    assert_eq!(
        waiter.join().unwrap().unwrap(),
        IdemBegin::Replay {
            status: 200,
            body: b"done".to_vec()
        }
    );
}

/// `n` due transactions.
fn due(ledger: &dyn Ledger, n: usize) -> i64 {
    let mut last = 0;
    for i in 0..n {
        let (t, _) = ledger
            .insert_transaction(&new_txn("cust", 100 + i as i64, &format!("due-{i}")))
            .unwrap();
        last = t.id;
    }
    last
}

fn claim(owner: &str, up_to_id: i64, limit: u32, lease: Duration) -> DueClaim {
    DueClaim {
        owner: owner.into(),
        after_id: 0,
        up_to_id,
        limit,
        lease,
    }
}

#[test]
fn billing_runs_at_two_instances_claim_each_due_transaction_once() {
    let Some((a, b, _db)) = two_instances() else {
        return;
    };
    let last = due(&*a, 300);
    let start = Arc::new(Barrier::new(4));
    let claimed: Vec<Vec<i64>> = [a.clone(), b.clone(), a, b]
        .into_iter()
        .enumerate()
        .map(|(i, ledger)| {
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                let mut mine = Vec::new();
                let c = claim(&format!("run-{i}"), last, 7, Duration::from_secs(60));
                loop {
                    let batch = ledger.claim_due_transactions(&c).unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.iter().map(|t| t.id));
                }
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let total: usize = claimed.iter().map(Vec::len).sum();
    let distinct: BTreeSet<i64> = claimed.iter().flatten().copied().collect();
    assert_eq!(total, 300, "a transaction was claimed twice");
    assert_eq!(distinct.len(), 300);
    assert!(
        claimed.iter().all(|c| !c.is_empty()),
        "the work was not split"
    );
}

#[test]
fn the_claims_of_a_dead_instance_are_taken_over_when_their_lease_expires() {
    let Some((a, b, _db)) = two_instances() else {
        return;
    };
    let last = due(&*a, 20);
    let lease = Duration::from_millis(800);
    let dead = a
        .claim_due_transactions(&claim("dead", last, 5, lease))
        .unwrap();
    assert_eq!(dead.len(), 5);
    drop(a);
    let survivor = claim("survivor", last, 100, lease);
    let first = b.claim_due_transactions(&survivor).unwrap();
    assert_eq!(first.len(), 15, "claimed rows are skipped while leased");
    let wait = b
        .due_claimed_elsewhere(&survivor)
        .unwrap()
        .expect("held elsewhere");
    assert!(wait <= lease, "{wait:?}");
    thread::sleep(wait + Duration::from_millis(50));
    assert_eq!(b.due_claimed_elsewhere(&survivor).unwrap(), None);
    let taken: Vec<i64> = b
        .claim_due_transactions(&survivor)
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(taken, dead.iter().map(|t| t.id).collect::<Vec<_>>());
    // Never twice to the same run.
    assert!(b.claim_due_transactions(&survivor).unwrap().is_empty());
}

#[test]
fn gateway_pacing_is_shared_by_the_instances() {
    let Some((a, b, _db)) = two_instances() else {
        return;
    };
    let interval = Duration::from_millis(10);
    let start = Arc::new(Barrier::new(4));
    let t0 = Instant::now();
    let mut slots: Vec<Duration> = [a.clone(), b.clone(), a, b]
        .into_iter()
        .map(|ledger| {
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                (0..15)
                    .map(|_| {
                        let asked = t0.elapsed();
                        asked + ledger.pace("stripe", interval).unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    slots.sort();
    // 60 starts 10 ms apart span about 590 ms, whichever instance took them (each alone
    // would pace its own 30 over 290 ms).
    let span = slots[59] - slots[0];
    assert!(span >= Duration::from_millis(560), "{span:?}");
}

#[test]
fn one_instance_leads_a_job_until_it_dies() {
    let Some((a, b, db)) = two_instances() else {
        return;
    };
    assert!(a.lead("reconciler").unwrap());
    assert!(a.lead("reconciler").unwrap(), "a leader stays one");
    assert!(!b.lead("reconciler").unwrap());
    assert!(b.lead("expiry").unwrap(), "each job has its own leader");
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !b.lead("reconciler").unwrap() {
        assert!(Instant::now() < deadline, "the leadership was not freed");
        thread::sleep(Duration::from_millis(20));
    }
    assert!(!open(&db.url).lead("reconciler").unwrap());
}

#[test]
fn a_webhook_event_at_two_instances_is_recorded_once() {
    let Some((a, b, _db)) = two_instances() else {
        return;
    };
    for round in 0..20 {
        let event = format!("evt_{round}");
        let start = Arc::new(Barrier::new(2));
        let fresh: Vec<bool> = [a.clone(), b.clone()]
            .into_iter()
            .map(|ledger| {
                let (event, start) = (event.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    ledger
                        .record_webhook("stripe", &event, "charge.refunded")
                        .unwrap()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert_eq!(fresh.iter().filter(|f| **f).count(), 1, "round {round}");
    }
}
