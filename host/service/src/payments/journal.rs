//! The operations a unit of work (an API request) wrote or ran, recorded as the flows go, so that
//! whoever started it can tell afterwards whether it changed anything and whether that is settled.
//! Outside [`tracking`] (billing runs, the reconciler) nothing is recorded.

use std::future::Future;
use std::sync::{Arc, Mutex};

tokio::task_local! {
    static TOUCHED: Arc<Mutex<Vec<i64>>>;
}

/// Runs `work`, returning its output and the ids of the operations it wrote or ran, in order.
pub async fn tracking<F: Future>(work: F) -> (F::Output, Vec<i64>) {
    let touched = Arc::new(Mutex::new(Vec::new()));
    let output = TOUCHED.scope(touched.clone(), work).await;
    let ids = std::mem::take(&mut *touched.lock().unwrap_or_else(|p| p.into_inner()));
    (output, ids)
}

/// Records that the current unit of work wrote or ran operation `id`.
pub(crate) fn record(id: i64) {
    let _ = TOUCHED.try_with(|touched| {
        let mut ids = touched.lock().unwrap_or_else(|p| p.into_inner());
        if !ids.contains(&id) {
            ids.push(id);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_within_its_scope_only() {
        record(1);
        let ((), ids) = tracking(async {
            record(7);
            tokio::task::yield_now().await;
            record(3);
            record(7);
        })
        .await;
        assert_eq!(ids, vec![7, 3]);
        let ((), ids) = tracking(async {}).await;
        assert!(ids.is_empty());
    }
}
