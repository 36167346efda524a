//! The request bodies and query strings of the API, as types: read strictly by
//! [`super::extract`] (unknown fields refused) and documented in the OpenAPI document from the
//! same definitions.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use std::collections::BTreeMap;

use crate::ledger::{Capture, Initiator, TxnKind};
use crate::payments::MAX_AMOUNT;

use super::errors::ApiError;

/// A point in time: Unix seconds, or an ISO date (`2026-01-31`) or date-time
/// (`2026-01-31T12:00:00Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Time(pub i64);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TimeVisitor;
        impl Visitor<'_> for TimeVisitor {
            type Value = Time;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("Unix seconds or an ISO date (2026-01-31)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Time, E> {
                Ok(Time(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Time, E> {
                i64::try_from(v)
                    .map(Time)
                    .map_err(|_| E::custom("is too far in the future"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Time, E> {
                crate::time::parse_time(v).map(Time).ok_or_else(|| {
                    E::custom(format!(
                        "{v:?} is not Unix seconds or an ISO date (2026-01-31)"
                    ))
                })
            }
        }
        d.deserialize_any(TimeVisitor)
    }
}

/// A required text field that must not be blank.
pub fn non_blank(field: &str, value: String) -> Result<String, ApiError> {
    if value.trim().is_empty() {
        Err(ApiError::invalid(field, "must not be empty"))
    } else {
        Ok(value)
    }
}

/// When a charge is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChargeWhen {
    /// At once, to the default (or named) card.
    #[default]
    Now,
    /// Left pending: a billing run or an invoice collects it.
    Later,
}

/// `POST /v1/customers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkCustomer {
    /// The CRM's customer id, exactly as the CRM spells it.
    pub customer_id: String,
    /// Gateway (default: the default gateway).
    #[serde(default)]
    pub gateway: Option<String>,
    /// Contact e-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
}

/// `POST /v1/customers/{customer_id}/cards`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreCard {
    /// The gateway's card token from the client side (Stripe: `pm_...` or `tok_...`).
    pub token: String,
    /// A name, e.g. `Work Visa`.
    #[serde(default)]
    pub nickname: Option<String>,
    /// Make it the default card (the first card always is).
    #[serde(default)]
    pub default: Option<bool>,
    /// Gateway keeping the card (default: the customer's).
    #[serde(default)]
    pub gateway: Option<String>,
}

/// A body with no fields: `{}` or nothing.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// `POST /v1/transactions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTransaction {
    /// CRM customer.
    pub customer_id: String,
    /// Positive, in minor units (1050 = USD 10.50), at most 999999999999.
    #[schema(minimum = 1, maximum = 999_999_999_999_i64)]
    pub amount: i64,
    /// ISO 4217, upper case.
    pub currency: String,
    /// Shown on receipts and invoices.
    #[serde(default)]
    pub description: Option<String>,
    /// `charge` (default) or `credit`.
    #[serde(default)]
    pub kind: Option<TxnKind>,
    /// Card to charge (default: the default card).
    #[serde(default)]
    pub card_id: Option<i64>,
    /// `automatic` (default) or `manual` (authorize only).
    #[serde(default)]
    pub capture: Option<Capture>,
    /// `now` (default) or `later` (a billing run or an invoice collects it).
    #[serde(default)]
    pub charge: Option<ChargeWhen>,
    /// Who starts the charge: `customer` (present: the gateway may ask them to authenticate,
    /// and they come back to `return_url`), `merchant_recurring` or `merchant_unscheduled`
    /// (default). Billing runs charge as `merchant_recurring`.
    #[serde(default)]
    pub initiator: Option<Initiator>,
    /// Where the customer's browser comes back after authenticating (an absolute http(s) URL);
    /// required for `customer`.
    #[serde(default)]
    pub return_url: Option<String>,
}

/// `POST /v1/transactions/{id}/complete-action`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteAction {
    /// What the gateway's page or SDK handed back, as strings (Adyen: `redirectResult`;
    /// Stripe needs none).
    #[serde(default)]
    pub details: Option<BTreeMap<String, String>>,
}

/// `POST /v1/customers/{customer_id}/card-sessions`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartCardSession {
    /// Gateway (default: the customer's, as for cards).
    #[serde(default)]
    pub gateway: Option<String>,
    /// Where the gateway's form returns the customer (an absolute http(s) URL).
    #[serde(default)]
    pub return_url: Option<String>,
    /// ISO 4217 currency of the payments the card is for (some gateways need it).
    #[serde(default)]
    pub currency: Option<String>,
}

/// `POST /v1/transactions/{id}/capture`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureBody {
    /// Amount to capture, in minor units (default: all that remains authorized).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 999_999_999_999_i64)]
    pub amount: Option<i64>,
    /// Whether this capture releases the rest of the authorization (default true). `false`
    /// (gateways with multiple captures only) keeps the rest for further captures.
    #[serde(default)]
    pub final_capture: Option<bool>,
}

/// `POST /v1/transactions/{id}/refunds`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    /// Minor units (default: what remains refundable).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 999_999_999_999_i64)]
    pub amount: Option<i64>,
    /// `duplicate`, `fraudulent` or `requested_by_customer`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /v1/transactions/{id}/settle`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettleBody {
    /// What the operator found at the gateway: `succeeded` (the money was taken),
    /// `authorized` (reserved, manual capture) or `failed` (nothing was taken).
    pub outcome: String,
    /// The gateway's payment reference; required unless `failed`.
    #[serde(default)]
    pub gateway_payment_ref: Option<String>,
    /// Why: what was found at the gateway (kept with the transaction).
    pub reason: String,
}

/// `POST /v1/invoices`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvoice {
    /// CRM customer.
    pub customer_id: String,
    /// ISO 4217: the transactions of this currency are invoiced.
    pub currency: String,
    /// Gateway (default: the default card's).
    #[serde(default)]
    pub gateway: Option<String>,
    /// Note on the invoice.
    #[serde(default)]
    pub description: Option<String>,
    /// Only transactions created at or after (Unix seconds or an ISO date).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub period_start: Option<Time>,
    /// Only transactions created before (Unix seconds or an ISO date).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub period_end: Option<Time>,
    /// Days until due, 0 to 365 (default 30).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 365)]
    pub days_until_due: Option<i64>,
}

/// `POST /v1/invoices/{id}/pay`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayInvoice {
    /// Card to pay with (default: the customer's default card).
    #[serde(default)]
    pub card_id: Option<i64>,
}

/// `GET /v1/cards/expiring`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExpiringCards {
    /// Days ahead, 0 to 3650 (default 60).
    #[param(minimum = 0, maximum = 3650)]
    pub within_days: Option<i64>,
}

/// `GET /v1/transactions`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListTransactions {
    /// Only this customer's.
    pub customer_id: Option<String>,
    /// Only those made through this gateway.
    pub gateway: Option<String>,
    /// One or more statuses, comma-separated.
    pub status: Option<String>,
    /// Invoiced (`true`) or not (`false`).
    pub invoiced: Option<bool>,
    /// Flagged for an operator (`true`: the outcome stayed unknown, or the transaction is held
    /// for review, and it carries `attention`, see `POST /v1/transactions/{id}/settle`) or not
    /// (`false`).
    pub attention: Option<bool>,
    /// `charge` or `credit`.
    #[param(value_type = Option<String>)]
    pub kind: Option<TxnKind>,
    /// Created at or after (Unix seconds or an ISO date).
    #[param(value_type = Option<String>)]
    pub from: Option<Time>,
    /// Created before (Unix seconds or an ISO date).
    #[param(value_type = Option<String>)]
    pub to: Option<Time>,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// A page: ids below this (the previous page's `next_before_id`).
    #[param(minimum = 1)]
    pub before_id: Option<i64>,
}

/// `GET /v1/invoices`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListInvoices {
    /// Only this customer's.
    pub customer_id: Option<String>,
    /// Comma-separated: draft, open, paid, void, uncollectible.
    pub status: Option<String>,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// `GET /v1/summary`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// ISO 4217.
    pub currency: String,
    /// Start (Unix seconds or an ISO date; default: 30 days before `to`).
    #[param(value_type = Option<String>)]
    pub from: Option<Time>,
    /// End, exclusive (default: now).
    #[param(value_type = Option<String>)]
    pub to: Option<Time>,
    /// Gateway whose figures are at the top level (default: the default gateway).
    pub gateway: Option<String>,
}

/// `GET /v1/disputes`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListDisputes {
    /// Only this transaction's.
    #[param(minimum = 1)]
    pub transaction_id: Option<i64>,
}

/// An integer of a query string within bounds.
pub fn bounded(
    field: &str,
    value: Option<i64>,
    min: i64,
    max: i64,
) -> Result<Option<i64>, ApiError> {
    match value {
        Some(n) if !(min..=max).contains(&n) => Err(ApiError::invalid(
            field,
            format!("must be an integer from {min} to {max}"),
        )),
        v => Ok(v),
    }
}

// The schema attributes above spell the service's maximum amount out.
const _: () = assert!(MAX_AMOUNT == 999_999_999_999);
