//! The API's answers as types: the views of the ledger's rows and the other answers, serialized
//! as the API answers them and documented in the OpenAPI document from the same definitions.
//! The ledger's stored states (statuses, kinds) are documented here as the strings they are.

use std::borrow::Cow;

use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::currency::format_amount;
use crate::ledger::{
    Capture, Card, CustomerLink, Dispute, DisputeStatus, Invoice, InvoiceStatus, LedgerTotals,
    Refund, RefundStatus, Transaction, TxnKind, TxnStatus,
};
use crate::live_gateways::GatewayStatus;
use crate::time::{format_date, format_rfc3339};

/// Documents the ledger's stored enums as strings of their spellings.
macro_rules! string_enum_schema {
    ($($name:ident: $doc:literal),+ $(,)?) => {$(
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .enum_values(Some($name::ALL.iter().map(|v| v.as_str())))
                    .description(Some($doc))
                    .into()
            }
        }
        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    )+};
}

string_enum_schema!(
    TxnStatus: "Where a transaction stands.",
    TxnKind: "A charge (money from the customer) or a credit (owed to the customer).",
    Capture: "When a charge is captured: at once, or on request (an authorization).",
    RefundStatus: "Where a refund stands.",
    InvoiceStatus: "The life of an invoice.",
    DisputeStatus: "Where a dispute stands.",
);

/// A stored card.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CardView {
    /// The ledger's id.
    pub id: i64,
    /// CRM customer.
    pub customer_id: String,
    /// The gateway keeping it.
    pub gateway: String,
    /// The gateway's reference.
    pub gateway_card_ref: String,
    /// Brand (`visa`, `mastercard`, ...).
    pub brand: String,
    /// Last four digits.
    pub last4: String,
    /// Expiry month.
    pub exp_month: u8,
    /// Expiry year.
    pub exp_year: u16,
    /// `MM/YYYY`.
    pub expiry: String,
    /// `credit`, `debit`, `prepaid` or `unknown`.
    pub funding: String,
    /// A name given by the customer.
    pub nickname: Option<String>,
    /// Charged when no card is named.
    pub default: bool,
    /// When stored (RFC 3339).
    pub created_at: String,
}

impl From<&Card> for CardView {
    fn from(c: &Card) -> Self {
        CardView {
            id: c.id,
            customer_id: c.crm_customer_id.clone(),
            gateway: c.gateway.clone(),
            gateway_card_ref: c.gateway_card_ref.clone(),
            brand: c.brand.clone(),
            last4: c.last4.clone(),
            exp_month: c.exp_month,
            exp_year: c.exp_year,
            expiry: format!("{:02}/{}", c.exp_month, c.exp_year),
            funding: c.funding.clone(),
            nickname: c.nickname.clone(),
            default: c.is_default,
            created_at: format_rfc3339(c.created_at),
        }
    }
}

/// Cards.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CardList {
    /// The cards, default first.
    pub cards: Vec<CardView>,
}

/// Cards expiring soon.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExpiringCardList {
    /// The window asked for.
    pub within_days: i64,
    /// The cards.
    pub cards: Vec<CardView>,
}

/// A removed card.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Removed {
    /// Always true.
    pub removed: bool,
    /// The card's id.
    pub id: i64,
}

/// A transaction; with its refunds and disputes when read alone.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransactionView {
    /// The ledger's id.
    pub id: i64,
    /// CRM customer.
    pub customer_id: String,
    /// Charge or credit.
    pub kind: TxnKind,
    /// Where it stands.
    pub status: TxnStatus,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// For people (`USD 10.50`).
    pub amount_display: String,
    /// Captured, in minor units.
    pub amount_captured: i64,
    /// Refunded, in minor units.
    pub amount_refunded: i64,
    /// Description.
    pub description: Option<String>,
    /// Automatic or manual capture.
    pub capture: Capture,
    /// The card charged.
    pub card_id: Option<i64>,
    /// The gateway used.
    pub gateway: Option<String>,
    /// The gateway's payment reference.
    pub gateway_payment_ref: Option<String>,
    /// Whether an invoice holds it.
    pub invoiced: bool,
    /// The invoice holding it.
    pub invoice_id: Option<i64>,
    /// The charge's idempotency key at the gateway.
    pub idempotency_key: String,
    /// Decline code of a declined charge.
    pub decline_code: Option<String>,
    /// The issuer's reason of a declined charge.
    pub decline_reason: Option<String>,
    /// The last failure.
    pub last_error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Its refunds (when read alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunds: Option<Vec<RefundView>>,
    /// Its disputes (when read alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disputes: Option<Vec<DisputeView>>,
}

impl From<&Transaction> for TransactionView {
    fn from(t: &Transaction) -> Self {
        TransactionView {
            id: t.id,
            customer_id: t.crm_customer_id.clone(),
            kind: t.kind,
            status: t.status,
            amount: t.amount,
            currency: t.currency.clone(),
            amount_display: format_amount(t.amount, &t.currency),
            amount_captured: t.amount_captured,
            amount_refunded: t.amount_refunded,
            description: t.description.clone(),
            capture: t.capture,
            card_id: t.card_id,
            gateway: t.gateway.clone(),
            gateway_payment_ref: t.gateway_payment_ref.clone(),
            invoiced: t.invoice_id.is_some(),
            invoice_id: t.invoice_id,
            idempotency_key: t.idempotency_key.clone(),
            decline_code: t.decline_code.clone(),
            decline_reason: t.decline_reason.clone(),
            last_error: t.last_error.clone(),
            created_at: format_rfc3339(t.created_at),
            updated_at: format_rfc3339(t.updated_at),
            refunds: None,
            disputes: None,
        }
    }
}

/// A page of transactions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransactionList {
    /// Newest first.
    pub transactions: Vec<TransactionView>,
    /// `before_id` of the next page, when this one is full.
    pub next_before_id: Option<i64>,
}

/// A refund; with its transaction when just made.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RefundView {
    /// The ledger's id.
    pub id: i64,
    /// The refunded transaction.
    pub transaction_id: i64,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// For people.
    pub amount_display: String,
    /// `duplicate`, `fraudulent` or `requested_by_customer`.
    pub reason: Option<String>,
    /// Where it stands.
    pub status: RefundStatus,
    /// The gateway's reference.
    pub gateway_refund_ref: Option<String>,
    /// The last failure.
    pub last_error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// The transaction as it stands after the refund (when just made).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub transaction: Option<Box<TransactionView>>,
}

impl From<&Refund> for RefundView {
    fn from(r: &Refund) -> Self {
        RefundView {
            id: r.id,
            transaction_id: r.transaction_id,
            amount: r.amount,
            currency: r.currency.clone(),
            amount_display: format_amount(r.amount, &r.currency),
            reason: r.reason.clone(),
            status: r.status,
            gateway_refund_ref: r.gateway_refund_ref.clone(),
            last_error: r.last_error.clone(),
            created_at: format_rfc3339(r.created_at),
            transaction: None,
        }
    }
}

/// An invoice; with its lines when read alone or just created.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoiceView {
    /// The ledger's id.
    pub id: i64,
    /// The ledger's number (`INV-2026-000001`).
    pub number: String,
    /// CRM customer.
    pub customer_id: String,
    /// The gateway.
    pub gateway: String,
    /// Where it stands.
    pub status: InvoiceStatus,
    /// ISO 4217.
    pub currency: String,
    /// Note.
    pub description: Option<String>,
    /// `YYYY-MM-DD`.
    pub period_start: String,
    /// `YYYY-MM-DD`.
    pub period_end: String,
    /// `YYYY-MM-DD`.
    pub due_date: Option<String>,
    /// Minor units.
    pub subtotal: i64,
    /// Minor units.
    pub tax: i64,
    /// Minor units.
    pub total: i64,
    /// For people.
    pub total_display: String,
    /// Minor units.
    pub amount_paid: i64,
    /// The gateway's reference.
    pub gateway_invoice_ref: Option<String>,
    /// The gateway's number.
    pub gateway_number: Option<String>,
    /// The gateway's page for the customer.
    pub hosted_url: Option<String>,
    /// The gateway's PDF.
    pub pdf_url: Option<String>,
    /// Payment attempts made.
    pub pay_attempts: i64,
    /// The last failure.
    pub last_error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Its transactions (when read alone or just created).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<TransactionView>>,
}

impl InvoiceView {
    /// The view of an invoice, with its lines when given.
    pub fn new(i: &Invoice, lines: Option<&[Transaction]>) -> Self {
        InvoiceView {
            id: i.id,
            number: i.number.clone(),
            customer_id: i.crm_customer_id.clone(),
            gateway: i.gateway.clone(),
            status: i.status,
            currency: i.currency.clone(),
            description: i.description.clone(),
            period_start: format_date(i.period_start),
            period_end: format_date(i.period_end),
            due_date: i.due_date.map(format_date),
            subtotal: i.subtotal,
            tax: i.tax,
            total: i.total,
            total_display: format_amount(i.total, &i.currency),
            amount_paid: i.amount_paid,
            gateway_invoice_ref: i.gateway_invoice_ref.clone(),
            gateway_number: i.gateway_number.clone(),
            hosted_url: i.hosted_url.clone(),
            pdf_url: i.pdf_url.clone(),
            pay_attempts: i.pay_attempts,
            last_error: i.last_error.clone(),
            created_at: format_rfc3339(i.created_at),
            updated_at: format_rfc3339(i.updated_at),
            lines: lines.map(|l| l.iter().map(TransactionView::from).collect()),
        }
    }
}

/// Invoices.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoiceList {
    /// Newest first.
    pub invoices: Vec<InvoiceView>,
}

/// A dispute (chargeback or inquiry).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DisputeView {
    /// The ledger's id.
    pub id: i64,
    /// The gateway.
    pub gateway: String,
    /// The gateway's reference.
    pub gateway_dispute_ref: String,
    /// The disputed transaction, when known.
    pub transaction_id: Option<i64>,
    /// The gateway's payment reference.
    pub gateway_payment_ref: Option<String>,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// For people.
    pub amount_display: String,
    /// The bank's reason.
    pub reason: String,
    /// Where it stands.
    pub status: DisputeStatus,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<&Dispute> for DisputeView {
    fn from(d: &Dispute) -> Self {
        DisputeView {
            id: d.id,
            gateway: d.gateway.clone(),
            gateway_dispute_ref: d.gateway_dispute_ref.clone(),
            transaction_id: d.transaction_id,
            gateway_payment_ref: d.gateway_payment_ref.clone(),
            amount: d.amount,
            currency: d.currency.clone(),
            amount_display: format_amount(d.amount, &d.currency),
            reason: d.reason.clone(),
            status: d.status,
            created_at: format_rfc3339(d.created_at),
            updated_at: format_rfc3339(d.updated_at),
        }
    }
}

/// Disputes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DisputeList {
    /// Newest first.
    pub disputes: Vec<DisputeView>,
}

/// A CRM customer linked to a gateway customer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkedCustomer {
    /// CRM customer.
    pub customer_id: String,
    /// The gateway.
    pub gateway: String,
    /// The gateway's customer.
    pub gateway_customer_ref: String,
    /// Contact e-mail.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Whether the gateway customer was created now.
    pub created_at_gateway: bool,
}

/// One gateway link of a customer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerLinkView {
    /// The gateway.
    pub gateway: String,
    /// The gateway's customer.
    pub gateway_customer_ref: String,
    /// Contact e-mail.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// RFC 3339.
    pub linked_at: String,
}

impl From<&CustomerLink> for CustomerLinkView {
    fn from(l: &CustomerLink) -> Self {
        CustomerLinkView {
            gateway: l.gateway.clone(),
            gateway_customer_ref: l.gateway_customer_ref.clone(),
            email: l.email.clone(),
            name: l.name.clone(),
            linked_at: format_rfc3339(l.created_at),
        }
    }
}

/// A customer: its gateway links and cards.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerView {
    /// CRM customer.
    pub customer_id: String,
    /// One per gateway.
    pub links: Vec<CustomerLinkView>,
    /// Default first.
    pub cards: Vec<CardView>,
    /// Pending transactions on no invoice yet.
    pub uninvoiced_pending: usize,
}

/// Liveness.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: &'static str,
    /// `ok` or `unavailable`.
    pub ledger: &'static str,
    /// The configured gateways.
    pub gateways: Vec<String>,
}

/// A loaded gateway.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GatewayView {
    /// Configured name.
    pub name: String,
    /// The plugin's display name.
    pub display_name: String,
    /// The plugin's own version.
    pub version: String,
    /// The contract version the plugin was built against.
    pub contract_version: String,
    /// Currencies the gateway accepts (empty: any).
    pub currencies: Vec<String>,
    /// Whether it is the default gateway.
    pub default: bool,
    /// The component file.
    pub component: String,
    /// SHA-256 of the loaded component.
    pub component_sha256: String,
    /// When it was (re)loaded (Unix seconds).
    pub loaded_at: i64,
    /// How many times it was loaded (1 + reloads).
    pub generation: u64,
    /// Calls in flight at once, at most.
    pub max_concurrency: usize,
    /// Calls per second, at most.
    pub requests_per_second: Option<f64>,
}

impl From<GatewayStatus> for GatewayView {
    fn from(g: GatewayStatus) -> Self {
        GatewayView {
            name: g.name,
            display_name: g.display_name,
            version: g.version,
            contract_version: g.contract_version,
            currencies: g.currencies,
            default: g.default,
            component: g.component,
            component_sha256: g.component_sha256,
            loaded_at: g.loaded_at,
            generation: g.generation,
            max_concurrency: g.max_concurrency,
            requests_per_second: g.requests_per_second,
        }
    }
}

/// The loaded gateways.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Gateways {
    /// The contract the host implements (`omnicrm:payments@X.Y.Z`).
    pub contract: String,
    /// The default gateway.
    pub default: Option<String>,
    /// Each gateway.
    pub gateways: Vec<GatewayView>,
}

/// The ledger's own sums, for cross-checks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LedgerTotalsView {
    /// Succeeded (or refunded) charges.
    pub charges: u64,
    /// Captured amount of those charges.
    pub captured: i64,
    /// Refunded amount.
    pub refunded: i64,
    /// Failed charges.
    pub failed: u64,
    /// Transactions still pending or unknown.
    pub unsettled: u64,
}

impl From<LedgerTotals> for LedgerTotalsView {
    fn from(t: LedgerTotals) -> Self {
        LedgerTotalsView {
            charges: t.charges,
            captured: t.captured,
            refunded: t.refunded,
            failed: t.failed,
            unsettled: t.unsettled,
        }
    }
}

/// The gateway's financial summary over a period, in one currency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SummaryView {
    /// The gateway asked.
    pub gateway: String,
    /// RFC 3339.
    pub from: String,
    /// RFC 3339 (exclusive).
    pub to: String,
    /// ISO 4217.
    pub currency: String,
    /// Gross volume, minor units.
    pub revenue: i64,
    /// For people.
    pub revenue_display: String,
    /// Successful payments.
    pub successful_payments: u64,
    /// Refunded, minor units.
    pub refunds: i64,
    /// For people.
    pub refunds_display: String,
    /// Refunds made.
    pub refund_count: u64,
    /// Fees, minor units.
    pub fees: i64,
    /// For people.
    pub fees_display: String,
    /// Net, minor units.
    pub net: i64,
    /// For people.
    pub net_display: String,
    /// Disputes opened.
    pub disputes: u64,
    /// Disputed, minor units.
    pub disputed_amount: i64,
    /// Disputes lost.
    pub chargebacks: u64,
    /// Lost to chargebacks, minor units.
    pub chargeback_amount: i64,
    /// The ledger's own sums over the same period.
    pub ledger: LedgerTotalsView,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_enums_are_documented_with_their_spellings() {
        let schema = serde_json::to_value(TxnStatus::schema()).unwrap();
        let values = schema["enum"].as_array().unwrap();
        assert_eq!(values.len(), TxnStatus::ALL.len());
        assert!(values.contains(&serde_json::json!("partially_refunded")));
        assert_eq!(TxnStatus::name(), "TxnStatus");
    }
}
