//! `metrics`: sums over balance transactions and disputes, walking every page.

use omnicrm_gateway_sdk::exports::omnicrm::payments::metrics::{
    BalanceFilter, BalanceKind, BalancePage, BalanceTransaction, FinancialSummary, Guest,
};
use omnicrm_gateway_sdk::omnicrm::payments::types::{GatewayError, PageRequest, TimeRange};

use crate::Stripe;
use crate::client::{Client, check_id};
use crate::errors::{Target, invalid};
use crate::form::Form;
use crate::json::Json;
use crate::money::{self, money};

/// Lists name no object.
const LIST: Target<'static> = Target::any("");

impl Guest for Stripe {
    fn summarize(range: TimeRange, currency: String) -> Result<FinancialSummary, GatewayError> {
        check_range(&range)?;
        let wire_currency = crate::currency_to_stripe(&currency)?;
        let client = Client::from_config()?;
        let mut s = FinancialSummary {
            range,
            currency: wire_currency.to_ascii_uppercase(),
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

        walk(
            &client,
            "/v1/balance_transactions",
            &range,
            &wire_currency,
            true,
            |t| {
                let (amount, fee, net) = amounts(t, &wire_currency);
                let ty = t.get("type").str().unwrap_or("");
                match kind(t) {
                    BalanceKind::Charge => {
                        s.gross_volume += amount;
                        s.successful_payments += 1;
                    }
                    BalanceKind::Refund => {
                        s.refunded_amount -= amount;
                        s.refund_count += 1;
                    }
                    BalanceKind::Payout => return, // moves money to the bank: not activity
                    _ => {}
                }
                s.fees += fee;
                if ty == "stripe_fee" {
                    s.fees -= amount; // a fee charged on its own is its (negative) amount
                }
                s.net += net;
            },
        )?;

        walk(
            &client,
            "/v1/disputes",
            &range,
            &wire_currency,
            false,
            |d| {
                let status = d.get("status").str().unwrap_or("");
                if status.starts_with("warning_") {
                    return; // inquiries: no chargeback
                }
                let amount = money::field(d, "amount", &wire_currency);
                s.dispute_count += 1;
                s.disputed_amount += amount;
                if status == "lost" {
                    s.disputes_lost += 1;
                    s.disputes_lost_amount += amount;
                }
            },
        )?;
        Ok(s)
    }

    fn list_balance_transactions(
        filter: BalanceFilter,
        page: PageRequest,
    ) -> Result<BalancePage, GatewayError> {
        check_range(&filter.range)?;
        let client = Client::from_config()?;
        let mut query = Form::new();
        query
            .add("limit", page.limit.clamp(1, 100))
            .add("created[gte]", filter.range.start)
            .add("created[lt]", filter.range.end);
        if let Some(currency) = &filter.currency {
            query.add("currency", crate::currency_to_stripe(currency)?);
        }
        if let Some(cursor) = &page.cursor {
            query.add("starting_after", check_id("cursor", "cursor", cursor)?);
        }
        let list = client.get("/v1/balance_transactions", &query, LIST)?;
        let data = list.get("data").arr();
        let next_cursor = if list.get("has_more").bool() == Some(true) {
            data.last().and_then(|t| t.get("id").string())
        } else {
            None
        };
        let wanted = filter.currency.as_deref().map(str::to_ascii_lowercase);
        let transactions = data
            .iter()
            .filter(|t| wanted.is_none() || t.get("currency").str() == wanted.as_deref())
            .map(|t| {
                let amount = money(t.get("amount").i64().unwrap_or(0), t.get("currency"));
                let (_, fee, net) = amounts(t, &amount.currency);
                BalanceTransaction {
                    id: t.get("id").string().unwrap_or_default(),
                    kind: kind(t),
                    gateway_type: t.get("type").string().unwrap_or_default(),
                    amount,
                    fee,
                    net,
                    created: t.get("created").i64().unwrap_or(0),
                    source: t.get("source").id(),
                    description: t.get("description").string(),
                }
            })
            .collect();
        Ok(BalancePage {
            transactions,
            next_cursor,
        })
    }
}

/// A balance transaction's `(amount, fee, net)` in contract units of `currency`. `net` is the
/// converted `amount - fee`, as Stripe defines its own `net`: the contract's `net = amount - fee`
/// then holds even where converting a fee rounds (ISK fees are in hundredths of a króna).
fn amounts(t: &Json, currency: &str) -> (i64, i64, i64) {
    let amount = money::field(t, "amount", currency);
    let fee = money::field(t, "fee", currency);
    (amount, fee, amount - fee)
}

fn check_range(range: &TimeRange) -> Result<(), GatewayError> {
    if range.end <= range.start {
        return Err(invalid("range", "end must be after start"));
    }
    Ok(())
}

/// The kind of a balance transaction, from its type and reporting category.
fn kind(t: &Json) -> BalanceKind {
    let category = t.get("reporting_category").str().unwrap_or("");
    match (t.get("type").str().unwrap_or(""), category) {
        (_, "dispute_reversal") | ("dispute_reversal", _) => BalanceKind::DisputeReversal,
        (_, "dispute") | ("dispute", _) => BalanceKind::Dispute,
        ("charge" | "payment", _) => BalanceKind::Charge,
        ("refund" | "payment_refund", _) => BalanceKind::Refund,
        ("stripe_fee" | "application_fee" | "tax_fee", _) => BalanceKind::Fee,
        ("payout" | "payout_cancel" | "payout_failure", _) => BalanceKind::Payout,
        _ => BalanceKind::Other,
    }
}

/// Calls `each` for every object of a list over `[start, end)` in `currency`, page after page;
/// `filter_at_stripe` when the list takes a `currency` parameter.
fn walk(
    client: &Client,
    path: &str,
    range: &TimeRange,
    currency: &str,
    filter_at_stripe: bool,
    mut each: impl FnMut(&Json),
) -> Result<(), GatewayError> {
    let mut query = Form::new();
    query
        .add("created[gte]", range.start)
        .add("created[lt]", range.end)
        .opt("currency", filter_at_stripe.then_some(currency));
    client.walk(path, &query, None, LIST, |item| {
        if item.get("currency").str() == Some(currency) {
            each(item);
        }
    })
}
