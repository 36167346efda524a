//! Summaries of the ledger's own records: cross-checks against the gateways, and each gateway's
//! financial figures.

use std::collections::BTreeMap;

use super::sql::{Connection, Row, params};

use super::connections::Connections;
use crate::ledger::{LedgerFigures, LedgerTotals, Result, Ts};

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
                   AND (status IN ('unknown', 'processing', 'held_for_review')
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

/// Runs `sql` (parameters currency, from, to, period length) whose rows start with a period's
/// number and a gateway name, and hands each row to `add` with that gateway's figures of that
/// period.
fn each_period_gateway(
    conn: &Connection<'_>,
    sql: &str,
    args: (&str, Ts, Ts, i64),
    periods: &mut BTreeMap<(i64, String), LedgerFigures>,
    add: impl Fn(&mut LedgerFigures, &Row<'_>) -> Result<()>,
) -> Result<()> {
    let mut st = conn.prepare_cached(sql)?;
    let mut rows = st.query(params![args.0, args.1, args.2, args.3])?;
    while let Some(row) = rows.next()? {
        let period: i64 = row.get(0)?;
        let gateway: Option<String> = row.get(1)?;
        let gateway = gateway.unwrap_or_default();
        let f = periods
            .entry((period, gateway.clone()))
            .or_insert_with(|| LedgerFigures {
                gateway,
                ..Default::default()
            });
        add(f, row)?;
    }
    Ok(())
}

/// See [`crate::ledger::Ledger::figures_by_period`].
pub(super) fn figures_by_period(
    db: &Connections,
    currency: &str,
    from: Ts,
    to: Ts,
    period: i64,
) -> Result<Vec<(Ts, Vec<LedgerFigures>)>> {
    let period = period.max(1);
    db.read(|conn| {
        let args = (currency, from, to, period);
        let mut periods = BTreeMap::new();
        // A row of payments: how many, the money they took, their fees.
        let payments = |f: &mut LedgerFigures, r: &Row<'_>| -> Result<()> {
            f.successful_payments += r.get::<_, i64>(2)? as u64;
            f.revenue += r.get::<_, i64>(3)?;
            f.fees += r.get::<_, i64>(4)?;
            Ok(())
        };
        // Charges paid by a payment of their own (an invoice's lines are paid by the invoice).
        each_period_gateway(
            conn,
            "SELECT (created_at - ?2) / ?4, gateway, COUNT(*), SUM(amount_captured),
                    SUM(COALESCE(fee, 0))
             FROM transactions
             WHERE currency = ?1 AND kind = 'charge' AND amount_captured > 0
               AND gateway_payment_ref IS NOT NULL AND created_at >= ?2 AND created_at < ?3
             GROUP BY 1, gateway",
            args,
            &mut periods,
            payments,
        )?;
        each_period_gateway(
            conn,
            "SELECT (paid_at - ?2) / ?4, gateway, COUNT(*), SUM(amount_paid),
                    SUM(COALESCE(fee, 0))
             FROM invoices
             WHERE currency = ?1 AND status = 'paid' AND amount_paid > 0
               AND paid_at >= ?2 AND paid_at < ?3
             GROUP BY 1, gateway",
            args,
            &mut periods,
            payments,
        )?;
        each_period_gateway(
            conn,
            "SELECT (r.created_at - ?2) / ?4, t.gateway, COUNT(*), SUM(r.amount) FROM refunds r
               JOIN transactions t ON t.id = r.transaction_id
             WHERE r.currency = ?1 AND r.status = 'succeeded'
               AND r.created_at >= ?2 AND r.created_at < ?3
             GROUP BY 1, t.gateway",
            args,
            &mut periods,
            |f, r| {
                f.refund_count += r.get::<_, i64>(2)? as u64;
                f.refunds += r.get::<_, i64>(3)?;
                Ok(())
            },
        )?;
        // Inquiries (`warning`) move no money and are left out, as gateways count chargebacks.
        each_period_gateway(
            conn,
            "SELECT (created_at - ?2) / ?4, gateway, status, COUNT(*), SUM(amount) FROM disputes
             WHERE currency = ?1 AND status != 'warning' AND created_at >= ?2 AND created_at < ?3
             GROUP BY 1, gateway, status",
            args,
            &mut periods,
            |f, r| {
                let status: String = r.get(2)?;
                let (count, amount) = (r.get::<_, i64>(3)? as u64, r.get::<_, i64>(4)?);
                f.disputes_opened += count;
                f.disputed_amount += amount;
                match status.as_str() {
                    "won" => f.disputes_won += count,
                    "lost" => {
                        f.disputes_lost += count;
                        f.chargeback_amount += amount;
                    }
                    _ => f.open_dispute_amount += amount,
                }
                Ok(())
            },
        )?;
        let mut out: Vec<(Ts, Vec<LedgerFigures>)> = Vec::new();
        for ((n, _), figures) in periods {
            let start = from + n * period;
            match out.last_mut() {
                Some((last, list)) if *last == start => list.push(figures),
                _ => out.push((start, vec![figures])),
            }
        }
        Ok(out)
    })
}
