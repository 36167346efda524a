//! Summaries of the ledger's own records, for cross-checks against the gateways.

use rusqlite::params;

use super::connections::Connections;
use crate::ledger::{LedgerTotals, Result, Ts};

/// See [`crate::ledger::Ledger::totals`].
pub(super) fn totals(db: &Connections, currency: &str, from: Ts, to: Ts) -> Result<LedgerTotals> {
    db.read(|conn| {
        let (charges, captured, refunded): (i64, i64, i64) = conn
            .prepare_cached(
                "SELECT COUNT(*), COALESCE(SUM(amount_captured), 0),
                    COALESCE(SUM(amount_refunded), 0)
                 FROM transactions
                 WHERE currency = ?1 AND kind = 'charge' AND created_at >= ?2 AND created_at < ?3
                   AND status IN ('succeeded', 'partially_refunded', 'refunded')",
            )?
            .query_row(params![currency, from, to], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        let failed: i64 = conn
            .prepare_cached(
                "SELECT COUNT(*) FROM transactions
                 WHERE currency = ?1 AND kind = 'charge' AND status = 'failed'
                   AND created_at >= ?2 AND created_at < ?3",
            )?
            .query_row(params![currency, from, to], |r| r.get(0))?;
        let unsettled: i64 = conn
            .prepare_cached(
                "SELECT COUNT(*) FROM transactions
                 WHERE currency = ?1 AND kind = 'charge'
                   AND (status IN ('unknown', 'processing')
                        OR (status = 'pending' AND attempted_at IS NOT NULL))
                   AND created_at >= ?2 AND created_at < ?3",
            )?
            .query_row(params![currency, from, to], |r| r.get(0))?;
        Ok(LedgerTotals {
            charges: charges as u64,
            captured,
            refunded,
            failed: failed as u64,
            unsettled: unsettled as u64,
        })
    })
}
