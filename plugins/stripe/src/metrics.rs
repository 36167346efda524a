//! `metrics`: sums over balance transactions and disputes, walking every page.

use omnicrm_gateway_sdk::Metrics;
use omnicrm_gateway_sdk::metrics::{BalanceFilter, BalanceKind, BalancePage, FinancialSummary};
use omnicrm_gateway_sdk::types::{GatewayError, PageRequest, TimeRange};

use serde::de::DeserializeOwned;

use crate::Stripe;
use crate::client::{Client, check_id};
use crate::errors::{Target, invalid};
use crate::form::Form;
use crate::money;
use crate::wire::{self, HasId, List};

/// Lists name no object.
const LIST: Target<'static> = Target::any("");

impl Metrics for Stripe {
    fn summarize(range: TimeRange, currency: String) -> Result<FinancialSummary, GatewayError> {
        check_range(&range)?;
        let wire_currency = money::currency_to_stripe(&currency)?;
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
            |t: wire::BalanceTransaction| {
                let (amount, fee, net) = t.amounts(&wire_currency);
                match t.kind() {
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
                if t.kind == "stripe_fee" {
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
            |d: wire::Dispute| {
                if d.status.is_inquiry() {
                    return; // inquiries: no chargeback
                }
                let amount = money::from_stripe(d.amount, &wire_currency);
                s.dispute_count += 1;
                s.disputed_amount += amount;
                if d.status == wire::DisputeStatus::Lost {
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
            query.add("currency", money::currency_to_stripe(currency)?);
        }
        if let Some(cursor) = &page.cursor {
            query.add("starting_after", check_id("cursor", "cursor", cursor)?);
        }
        let list: List<wire::BalanceTransaction> =
            client.get("/v1/balance_transactions", &query, LIST)?;
        let next_cursor = if list.has_more {
            list.data.last().map(|t| t.id.clone())
        } else {
            None
        };
        let wanted = filter.currency.as_deref().map(str::to_ascii_lowercase);
        let transactions = list
            .data
            .iter()
            .filter(|t| wanted.as_deref().is_none_or(|c| t.currency == c))
            .map(wire::BalanceTransaction::record)
            .collect();
        Ok(BalancePage {
            transactions,
            next_cursor,
        })
    }
}

fn check_range(range: &TimeRange) -> Result<(), GatewayError> {
    if range.end <= range.start {
        return Err(invalid("range", "end must be after start"));
    }
    Ok(())
}

/// Calls `each` for every object of a list over `[start, end)` in `currency`, page after page;
/// `filter_at_stripe` when the list takes a `currency` parameter.
fn walk<T: DeserializeOwned + HasId + Currency>(
    client: &Client,
    path: &str,
    range: &TimeRange,
    currency: &str,
    filter_at_stripe: bool,
    mut each: impl FnMut(T),
) -> Result<(), GatewayError> {
    let mut query = Form::new();
    query
        .add("created[gte]", range.start)
        .add("created[lt]", range.end)
        .opt("currency", filter_at_stripe.then_some(currency));
    client.walk(path, &query, None, LIST, |item: T| {
        if item.currency() == currency {
            each(item);
        }
    })
}

/// An object in one currency.
trait Currency {
    /// Its currency, lower case.
    fn currency(&self) -> &str;
}

impl Currency for wire::BalanceTransaction {
    fn currency(&self) -> &str {
        &self.currency
    }
}

impl Currency for wire::Dispute {
    fn currency(&self) -> &str {
        &self.currency
    }
}
