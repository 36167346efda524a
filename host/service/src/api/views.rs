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
    Capture, CaptureRecord, CaptureStatus, Card, CustomerAction, CustomerLink, Dispute,
    DisputeStatus, Initiator, Invoice, InvoiceKeeper, InvoiceStatus, Refund, RefundStatus,
    Transaction, TxnKind, TxnStatus,
};
use crate::live_gateways::{GatewayStatus, SlotState};
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
    CaptureStatus: "Where a capture stands.",
    Initiator: "Who starts a charge: the customer (present, may be asked to authenticate), or the merchant on an agreed schedule (`merchant_recurring`) or when needed (`merchant_unscheduled`).",
    InvoiceKeeper: "Who keeps an invoice: the gateway (it has invoicing) or the ledger (paid by charging its total to a stored card).",
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
    /// The card network's id of the payment that stored the card (or of its first payment),
    /// quoted by later merchant-initiated charges.
    pub network_transaction_id: Option<String>,
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
            network_transaction_id: c.network_transaction_id.clone(),
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

/// What the customer must do before the payment can go on (3-D Secure, a bank's page).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NextActionView {
    /// `redirect` (send the customer's browser to `url`), `client_sdk` (let the gateway's
    /// client-side SDK `sdk` run `payload`) or `bring_customer_on_session` (the customer must
    /// pay again on-session).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Where to send the customer's browser (`redirect`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `GET` (open the URL) or `POST` (submit an HTML form of `fields` to it) (`redirect`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The form fields of a `POST` redirect, as `[name, value]` pairs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<(String, String)>>,
    /// Which SDK (`stripe-js`, `adyen-web`, ...) (`client_sdk`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sdk: Option<String>,
    /// What the SDK needs: the gateway's JSON (a string when it is not JSON), safe for the
    /// customer's browser (`client_sdk`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
}

impl From<&CustomerAction> for NextActionView {
    fn from(a: &CustomerAction) -> Self {
        let none = NextActionView {
            kind: "bring_customer_on_session",
            url: None,
            method: None,
            fields: None,
            sdk: None,
            payload: None,
        };
        match a {
            CustomerAction::Redirect {
                url,
                method,
                fields,
            } => NextActionView {
                kind: "redirect",
                url: Some(url.clone()),
                method: Some(method.clone()),
                fields: Some(fields.clone()),
                ..none
            },
            CustomerAction::ClientSdk { sdk, payload } => NextActionView {
                kind: "client_sdk",
                sdk: Some(sdk.clone()),
                payload: Some(
                    serde_json::from_str(payload)
                        .unwrap_or_else(|_| serde_json::Value::String(payload.clone())),
                ),
                ..none
            },
            CustomerAction::BringCustomerOnSession => none,
        }
    }
}

/// A capture of an authorized transaction.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaptureView {
    /// The ledger's id.
    pub id: i64,
    /// Minor units asked for.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// For people.
    pub amount_display: String,
    /// Whether it released the rest of the authorization.
    pub final_capture: bool,
    /// `pending` (the gateway settles it later), `succeeded`, `failed` (the authorization stays)
    /// or `unknown` (the reconciler settles it).
    pub status: CaptureStatus,
    /// The gateway's reference of the capture.
    pub gateway_modification_ref: Option<String>,
    /// Why it failed, or why it is overdue.
    pub last_error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<&CaptureRecord> for CaptureView {
    fn from(c: &CaptureRecord) -> Self {
        CaptureView {
            id: c.id,
            amount: c.amount,
            currency: c.currency.clone(),
            amount_display: format_amount(c.amount, &c.currency),
            final_capture: c.final_capture,
            status: c.status,
            gateway_modification_ref: c.gateway_modification_ref.clone(),
            last_error: c.last_error.clone(),
            created_at: format_rfc3339(c.created_at),
            updated_at: format_rfc3339(c.updated_at),
        }
    }
}

/// A transaction; with its refunds, captures and disputes when read alone.
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
    /// The decline's normalized category, whatever the gateway: `insufficient_funds`,
    /// `expired_card`, `incorrect_details`, `do_not_honor`, `suspected_fraud`,
    /// `authentication_required`, `try_again_later` or `other`.
    pub decline_category: Option<String>,
    /// The gateway's fee for the payment, in minor units, once reported.
    pub fee: Option<i64>,
    /// Who starts the charge.
    pub initiator: Initiator,
    /// What the customer must do, while the payment waits for them (`requires_action`).
    pub next_action: Option<NextActionView>,
    /// The last failure.
    pub last_error: Option<String>,
    /// Why an operator must settle it by hand (`POST /v1/transactions/{id}/settle`): the
    /// reconciler gave up learning its outcome, or the gateway's answer broke the contract and
    /// the transaction is held for review. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attention: Option<String>,
    /// The operator (API key name) who settled it by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settled_by: Option<String>,
    /// Why the operator settled it so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settled_note: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Its refunds (when read alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunds: Option<Vec<RefundView>>,
    /// Its captures (when read alone, or just captured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captures: Option<Vec<CaptureView>>,
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
            decline_category: t.decline_category.clone(),
            fee: t.fee,
            initiator: t.initiator,
            next_action: t.next_action.as_ref().map(NextActionView::from),
            last_error: t.last_error.clone(),
            attention: t.attention.clone(),
            settled_by: t.settled_by.clone(),
            settled_note: t.settled_note.clone(),
            created_at: format_rfc3339(t.created_at),
            updated_at: format_rfc3339(t.updated_at),
            refunds: None,
            captures: None,
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
    /// The gateway's page for the customer (none for invoices kept in the ledger).
    pub hosted_url: Option<String>,
    /// The gateway's PDF (none for invoices kept in the ledger).
    pub pdf_url: Option<String>,
    /// `gateway` (the gateway has invoicing) or `ledger` (paid by charging its total to a
    /// stored card).
    pub kept_by: InvoiceKeeper,
    /// The payment that paid an invoice kept in the ledger.
    pub gateway_payment_ref: Option<String>,
    /// That payment's fee, in minor units, once reported.
    pub fee: Option<i64>,
    /// When it was paid (RFC 3339).
    pub paid_at: Option<String>,
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
            kept_by: i.kept_by,
            gateway_payment_ref: i.gateway_payment_ref.clone(),
            fee: i.fee,
            paid_at: i.paid_at.map(format_rfc3339),
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
    /// When evidence is due (RFC 3339), when the gateway says.
    pub evidence_due_by: Option<String>,
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
            evidence_due_by: d.evidence_due_by.map(format_rfc3339),
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

/// Liveness, and where the gateways stand.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// `ok` (the ledger answers, every gateway is loaded), `starting` (some gateway is still
    /// loading its component) or `degraded` (the ledger does not answer, or some gateway failed
    /// to load).
    pub status: &'static str,
    /// `ok` or `unavailable`.
    pub ledger: &'static str,
    /// The configured gateways.
    pub gateways: Vec<String>,
    /// Gateways still loading their component (calls to them are answered 503
    /// `gateway_loading` with `Retry-After`).
    pub loading: Vec<String>,
    /// Gateways whose component failed to load, with the reason (calls to them are answered
    /// 503 `gateway_load_failed`; a fixed component file is loaded when it changes).
    pub failed: Vec<FailedGateway>,
}

/// A gateway whose component failed to load.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FailedGateway {
    /// Configured name.
    pub name: String,
    /// Why.
    pub error: String,
}

/// A configured gateway.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GatewayView {
    /// Configured name.
    pub name: String,
    /// `loading` (its component is being compiled), `ready` or `failed` (see `error`).
    #[schema(value_type = String)]
    pub state: SlotState,
    /// Why its component failed to load (`failed` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Since when it is loading, or when it failed (RFC 3339; absent once ready).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_since: Option<String>,
    /// The plugin's display name (empty until loaded).
    pub display_name: String,
    /// The plugin's own version (empty until loaded).
    pub version: String,
    /// The contract version the plugin was built against (empty until loaded).
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
    /// What the gateway supports beyond the common operations, by their contract names
    /// (`partial-capture`, `invoicing`, `metrics`, `card-sessions`, ...); the service does the
    /// rest itself (invoices and figures in its ledger, waiting for events instead of lookups).
    pub capabilities: Vec<String>,
}

impl From<GatewayStatus> for GatewayView {
    fn from(g: GatewayStatus) -> Self {
        GatewayView {
            name: g.name,
            state: g.state,
            error: g.error,
            state_since: g.state_since.map(format_rfc3339),
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
            capabilities: g
                .capabilities
                .names()
                .into_iter()
                .map(str::to_string)
                .collect(),
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

/// A client-side card session of the gateway's card form.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CardSessionView {
    /// The gateway that keeps the card once stored.
    pub gateway: String,
    /// The gateway's id of the session (Stripe: a SetupIntent `seti_...`).
    pub id: String,
    /// Which client-side form to load: `stripe-elements`, `adyen-web`, ...
    pub sdk: String,
    /// The form's configuration: the gateway's JSON (a string when it is not JSON), made to be
    /// sent to the customer's browser.
    #[schema(value_type = Object)]
    pub client_config: serde_json::Value,
    /// A page hosted by the gateway where the customer enters the card, when there is one.
    pub hosted_url: Option<String>,
    /// When the session expires (RFC 3339), if it does.
    pub expires_at: Option<String>,
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
