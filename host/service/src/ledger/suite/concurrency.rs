//! Writers racing on one ledger from several threads, and async callers going through [`Db`].

use std::sync::{Arc, Barrier};

use super::{new_txn, refund, succeed};
use crate::ledger::{Db, Ledger, LedgerError, TxnFilter};

const THREADS: usize = 8;

/// Runs `f(i)` on `THREADS` threads started together; their results in thread order.
fn race<T: Send + 'static>(
    l: &Arc<dyn Ledger>,
    f: impl Fn(&dyn Ledger, usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let f = Arc::new(f);
    let start = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let (l, f, start) = (l.clone(), f.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                f(&*l, i)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// Writers racing with the same idempotency keys record each key once, and all of them get
/// the row recorded.
pub fn concurrent_writers_record_each_key_once(l: Arc<dyn Ledger>) {
    const KEYS: usize = 10;
    let seen = race(&l, |l, i| {
        (0..KEYS)
            .map(|k| {
                // Each thread goes through the keys from another starting point.
                let key = format!("k-{}", (k + i) % KEYS);
                let (t, created) = l.insert_transaction(&new_txn("c1", 100, &key)).unwrap();
                (key, t.id, created)
            })
            .collect::<Vec<_>>()
    });
    let all: Vec<_> = seen.into_iter().flatten().collect();
    assert_eq!(all.iter().filter(|(_, _, created)| *created).count(), KEYS);
    let rows = l.transactions(&TxnFilter::default()).unwrap();
    assert_eq!(rows.len(), KEYS);
    for (key, id, _) in &all {
        let row = rows.iter().find(|t| t.id == *id).unwrap();
        assert_eq!(
            &row.idempotency_key, key,
            "every writer got the row of its key"
        );
    }
}

/// Refunds racing on one charge never take more than was captured together.
pub fn concurrent_refunds_never_exceed_the_capture(l: Arc<dyn Ledger>) {
    let (t, _) = l.insert_transaction(&new_txn("c1", 1000, "k1")).unwrap();
    succeed(&*l, t.id, 1000);
    let txn = t.id;
    let outcomes = race(&l, move |l, i| {
        refund(l, txn, Some(300), None, &format!("r-{i}"))
    });
    let made: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(made.len(), 3, "three of 300 fit in 1000, a fourth does not");
    for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert!(
            matches!(
                refused,
                LedgerError::RefundExceeds {
                    requested: 300,
                    remaining: 100
                }
            ),
            "{refused}"
        );
    }
    let stored = l.refunds(t.id).unwrap();
    assert_eq!(stored.iter().map(|r| r.amount).sum::<i64>(), 900);
    assert_eq!(stored.len(), 3);
}

/// Async callers reach the ledger through [`Db`]: calls from many tasks all land, errors come
/// back as they are, and a call that panics comes back as an error of its task.
pub fn async_callers_go_through_db(l: Arc<dyn Ledger>) {
    let db = Db::new(l);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..THREADS)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.run(move |l| l.insert_transaction(&new_txn("c1", 100, &format!("k-{i}"))))
                        .await
                })
            })
            .collect();
        for task in tasks {
            let (_, created) = task.await.unwrap().unwrap();
            assert!(created);
        }
        assert!(matches!(
            db.run(|l| refund(l, i64::MAX, None, None, "r1")).await,
            Err(LedgerError::NotFound { .. })
        ));
        assert!(matches!(
            db.run(|_| -> crate::ledger::Result<()> { panic!("a call that panics") })
                .await,
            Err(LedgerError::Task(_))
        ));
    });
    let rows = db.ledger().transactions(&TxnFilter::default()).unwrap();
    assert_eq!(rows.len(), THREADS);
}
