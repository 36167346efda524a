//! `metrics`: a fixed synthetic schedule of USD activity (see the crate documentation).

use omnicrm_gateway_sdk::Metrics;
use omnicrm_gateway_sdk::metrics::{
    BalanceFilter, BalanceKind, BalancePage, BalanceTransaction, FinancialSummary,
};
use omnicrm_gateway_sdk::types::{GatewayError, Money, PageRequest, TimeRange};

use crate::Offline;
use crate::charging::fee;
use crate::refs::{check_currency, check_page, invalid};

const DAY: i64 = 86_400;
/// The first day with activity: 2020-01-01 UTC, in days since the epoch.
const FIRST_DAY: i64 = 18_262;
/// The day after the last day with activity: 2100-01-01 UTC.
const END_DAY: i64 = 47_482;
/// The only currency with activity.
const CURRENCY: &str = "USD";
/// The fee of a dispute.
const DISPUTE_FEE: i64 = 1_500;
/// The amount of each refund.
const REFUND: i64 = 500;

/// One synthetic balance movement.
struct Event {
    kind: BalanceKind,
    day: i64,
    created: i64,
    amount: i64,
    fee: i64,
    lost: bool,
}

/// The charge of day `day`: 10.00 to 19.00.
fn charge_amount(day: i64) -> i64 {
    1_000 + day.rem_euclid(10) * 100
}

/// The events of one day, oldest first.
fn day_events(day: i64) -> Vec<Event> {
    let start = day * DAY;
    let amount = charge_amount(day);
    let mut events = vec![Event {
        kind: BalanceKind::Charge,
        day,
        created: start + 12 * 3600,
        amount,
        fee: fee(amount),
        lost: false,
    }];
    if day % 7 == 0 {
        events.push(Event {
            kind: BalanceKind::Refund,
            day,
            created: start + 18 * 3600,
            amount: -REFUND,
            fee: 0,
            lost: false,
        });
    }
    if day % 30 == 0 {
        events.push(Event {
            kind: BalanceKind::Dispute,
            day,
            created: start + 21 * 3600,
            amount: -amount,
            fee: DISPUTE_FEE,
            lost: day % 60 == 0,
        });
    }
    events
}

/// The days whose events may fall in `[start, end)`, clamped to the schedule.
fn days(start: i64, end: i64) -> std::ops::Range<i64> {
    let first = start.div_euclid(DAY).clamp(FIRST_DAY, END_DAY);
    let last = end
        .div_euclid(DAY)
        .saturating_add(1)
        .clamp(FIRST_DAY, END_DAY);
    first..last
}

fn check_range(range: &TimeRange) -> Result<(), GatewayError> {
    if range.end < range.start {
        Err(invalid("range", "end is before start"))
    } else {
        Ok(())
    }
}

fn transaction(event: &Event) -> BalanceTransaction {
    let (tag, gateway_type, description) = match event.kind {
        BalanceKind::Charge => ("ch", "charge", "Synthetic daily charge"),
        BalanceKind::Refund => ("re", "refund", "Synthetic weekly refund"),
        _ => ("du", "adjustment", "Synthetic monthly dispute"),
    };
    BalanceTransaction {
        id: format!("off_txn_{tag}_{}", event.day),
        kind: event.kind,
        gateway_type: gateway_type.into(),
        amount: Money {
            amount: event.amount,
            currency: CURRENCY.into(),
        },
        fee: event.fee,
        net: event.amount - event.fee,
        created: event.created,
        source: Some(format!("off_syn_{tag}_{}", event.day)),
        description: Some(description.into()),
    }
}

impl Metrics for Offline {
    fn summarize(range: TimeRange, currency: String) -> Result<FinancialSummary, GatewayError> {
        check_range(&range)?;
        check_currency("currency", &currency)?;
        let mut summary = FinancialSummary {
            range,
            currency,
            gross_volume: 0,
            successful_payments: 0,
            refunded_amount: 0,
            refund_count: 0,
            fees: 0,
            net: 0,
            dispute_count: 0,
            disputed_amount: 0,
            disputes_lost: 0,
            disputes_lost_amount: 0,
        };
        if summary.currency != CURRENCY {
            return Ok(summary);
        }
        for day in days(range.start, range.end) {
            for event in day_events(day)
                .iter()
                .filter(|e| (range.start..range.end).contains(&e.created))
            {
                summary.fees += event.fee;
                summary.net += event.amount - event.fee;
                match event.kind {
                    BalanceKind::Charge => {
                        summary.gross_volume += event.amount;
                        summary.successful_payments += 1;
                    }
                    BalanceKind::Refund => {
                        summary.refunded_amount -= event.amount;
                        summary.refund_count += 1;
                    }
                    _ => {
                        summary.dispute_count += 1;
                        summary.disputed_amount -= event.amount;
                        if event.lost {
                            summary.disputes_lost += 1;
                            summary.disputes_lost_amount -= event.amount;
                        }
                    }
                }
            }
        }
        Ok(summary)
    }

    fn list_balance_transactions(
        filter: BalanceFilter,
        page: PageRequest,
    ) -> Result<BalancePage, GatewayError> {
        check_range(&filter.range)?;
        check_page(&page)?;
        if let Some(currency) = &filter.currency {
            check_currency("currency", currency)?;
            if currency != CURRENCY {
                return Ok(BalancePage {
                    transactions: Vec::new(),
                    next_cursor: None,
                });
            }
        }
        // The cursor is the `created` of the last transaction returned: continue before it.
        let before = match &page.cursor {
            None => filter.range.end,
            Some(cursor) => cursor
                .parse::<i64>()
                .map_err(|_| invalid("cursor", "not a cursor this gateway issued"))?
                .min(filter.range.end),
        };
        let limit = page.limit as usize;
        let mut transactions = Vec::with_capacity(limit);
        let mut more = false;
        'days: for day in days(filter.range.start, before).rev() {
            for event in day_events(day)
                .iter()
                .rev()
                .filter(|e| (filter.range.start..before).contains(&e.created))
            {
                if transactions.len() == limit {
                    more = true;
                    break 'days;
                }
                transactions.push(transaction(event));
            }
        }
        let next_cursor = if more {
            transactions.last().map(|t| t.created.to_string())
        } else {
            None
        };
        Ok(BalancePage {
            transactions,
            next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2020-01-01 00:00 UTC.
    const JAN_2020: i64 = FIRST_DAY * DAY;

    #[test]
    fn the_summary_sums_the_schedule_and_the_pages_list_it() {
        let range = TimeRange {
            start: JAN_2020,
            end: JAN_2020 + 30 * DAY,
        };
        let summary = Offline::summarize(range, "USD".into()).unwrap();
        assert_eq!(summary.successful_payments, 30);
        assert_eq!(summary.net, {
            let mut net = 0;
            for day in FIRST_DAY..FIRST_DAY + 30 {
                for e in day_events(day) {
                    net += e.amount - e.fee;
                }
            }
            net
        });
        assert_eq!(
            Offline::summarize(range, "EUR".into())
                .unwrap()
                .gross_volume,
            0
        );
        let mut seen = 0;
        let mut cursor = None;
        loop {
            let page = Offline::list_balance_transactions(
                BalanceFilter {
                    range,
                    currency: Some("USD".into()),
                },
                PageRequest { limit: 7, cursor },
            )
            .unwrap();
            seen += page.transactions.len();
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(
            seen as u64,
            summary.successful_payments + summary.refund_count + summary.dispute_count
        );
        let backwards = TimeRange {
            start: range.end,
            end: range.start,
        };
        assert!(matches!(
            Offline::summarize(backwards, "USD".into()),
            Err(GatewayError::InvalidInput(i)) if i.field == "range"
        ));
    }
}
