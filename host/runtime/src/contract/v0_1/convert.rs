//! Conversions between contract 0.1's types and the newest ones (the public model): requests go
//! down to 0.1 (`From<model> for 0.1`), answers come up (`From<0.1> for model`, and [`Upgrade`]
//! for the answers that carry a next action, which needs the plugin's name).
//!
//! Where 0.1 says less than the model, the mapping is a choice, documented at each conversion:
//! - a decline's category is read from the well-known codes ([`decline_category`]);
//! - `redirect-to-url(u)` is a `get` redirect to `u`; `confirm-with-client-sdk(secret)` is a
//!   `client-sdk` action of the SDK named like the plugin, with `{"client_secret": secret}`;
//! - a capture or cancel answered with the payment is a `succeeded` modification whose id is the
//!   payment's, with the payment as `payment-after`;
//! - a verified event is a webhook outcome of that one event, answered `200 {"received":true}`;
//! - fields 0.1 does not have are absent (`none`, empty), and request fields 0.1 cannot take are
//!   dropped: a 0.1 charge is the off-session charge 0.1 makes, whatever its stored-credential use.

use super::bindings::exports::omnicrm::payments::{
    charging, info, invoicing, metrics, tokens, webhooks,
};
use super::bindings::omnicrm::payments::types;
use crate::contract as model;

/// The answer to a verified 0.1 event: what 0.1 plugins' hosts answered.
pub(crate) const WEBHOOK_ANSWER: &[u8] = br#"{"received":true}"#;

fn vec<A, B: From<A>>(items: Vec<A>) -> Vec<B> {
    items.into_iter().map(B::from).collect()
}

// ---- requests: the model down to 0.1 ----

impl From<model::Money> for types::Money {
    fn from(m: model::Money) -> Self {
        types::Money {
            amount: m.amount,
            currency: m.currency,
        }
    }
}

impl From<model::TimeRange> for types::TimeRange {
    fn from(r: model::TimeRange) -> Self {
        types::TimeRange {
            start: r.start,
            end: r.end,
        }
    }
}

impl From<model::PageRequest> for types::PageRequest {
    fn from(p: model::PageRequest) -> Self {
        types::PageRequest {
            limit: p.limit,
            cursor: p.cursor,
        }
    }
}

impl From<model::CustomerRequest> for tokens::CustomerRequest {
    fn from(r: model::CustomerRequest) -> Self {
        tokens::CustomerRequest {
            crm_customer_id: r.crm_customer_id,
            email: r.email,
            name: r.name,
            phone: r.phone,
            metadata: r.metadata,
        }
    }
}

impl From<model::CaptureMode> for charging::CaptureMode {
    fn from(m: model::CaptureMode) -> Self {
        match m {
            model::CaptureMode::Automatic => charging::CaptureMode::Automatic,
            model::CaptureMode::Manual => charging::CaptureMode::Manual,
        }
    }
}

/// 0.1 charges a stored card off-session, as merchant-initiated charges are: the stored-credential
/// use, the network transaction id and the return URL have no 0.1 counterpart and are dropped.
impl From<model::ChargeRequest> for charging::ChargeRequest {
    fn from(r: model::ChargeRequest) -> Self {
        charging::ChargeRequest {
            customer: r.customer,
            card: r.card,
            amount: r.amount.into(),
            description: r.description,
            metadata: r.metadata,
            capture: r.capture.into(),
            idempotency_key: r.idempotency_key,
        }
    }
}

impl From<model::RefundReason> for charging::RefundReason {
    fn from(r: model::RefundReason) -> Self {
        match r {
            model::RefundReason::Duplicate => charging::RefundReason::Duplicate,
            model::RefundReason::Fraudulent => charging::RefundReason::Fraudulent,
            model::RefundReason::RequestedByCustomer => charging::RefundReason::RequestedByCustomer,
        }
    }
}

impl From<model::RefundRequest> for charging::RefundRequest {
    fn from(r: model::RefundRequest) -> Self {
        charging::RefundRequest {
            payment: r.payment,
            amount: r.amount,
            reason: r.reason.map(Into::into),
            metadata: r.metadata,
            idempotency_key: r.idempotency_key,
        }
    }
}

impl From<model::CollectionMethod> for invoicing::CollectionMethod {
    fn from(m: model::CollectionMethod) -> Self {
        match m {
            model::CollectionMethod::ChargeAutomatically => {
                invoicing::CollectionMethod::ChargeAutomatically
            }
            model::CollectionMethod::SendInvoice => invoicing::CollectionMethod::SendInvoice,
        }
    }
}

impl From<model::LineItem> for invoicing::LineItem {
    fn from(i: model::LineItem) -> Self {
        invoicing::LineItem {
            description: i.description,
            unit_amount: i.unit_amount,
            quantity: i.quantity,
            metadata: i.metadata,
        }
    }
}

impl From<model::InvoiceRequest> for invoicing::InvoiceRequest {
    fn from(r: model::InvoiceRequest) -> Self {
        invoicing::InvoiceRequest {
            customer: r.customer,
            currency: r.currency,
            items: vec(r.items),
            description: r.description,
            collection: r.collection.into(),
            days_until_due: r.days_until_due,
            metadata: r.metadata,
            idempotency_key: r.idempotency_key,
        }
    }
}

impl From<model::InvoiceStatus> for invoicing::InvoiceStatus {
    fn from(s: model::InvoiceStatus) -> Self {
        match s {
            model::InvoiceStatus::Draft => invoicing::InvoiceStatus::Draft,
            model::InvoiceStatus::Open => invoicing::InvoiceStatus::Open,
            model::InvoiceStatus::Paid => invoicing::InvoiceStatus::Paid,
            model::InvoiceStatus::Void => invoicing::InvoiceStatus::Void,
            model::InvoiceStatus::Uncollectible => invoicing::InvoiceStatus::Uncollectible,
        }
    }
}

impl From<model::InvoiceFilter> for invoicing::InvoiceFilter {
    fn from(f: model::InvoiceFilter) -> Self {
        invoicing::InvoiceFilter {
            customer: f.customer,
            status: f.status.map(Into::into),
            created: f.created.map(Into::into),
        }
    }
}

impl From<model::BalanceFilter> for metrics::BalanceFilter {
    fn from(f: model::BalanceFilter) -> Self {
        metrics::BalanceFilter {
            range: f.range.into(),
            currency: f.currency,
        }
    }
}

// ---- answers: 0.1 up to the model ----

impl From<types::Money> for model::Money {
    fn from(m: types::Money) -> Self {
        model::Money {
            amount: m.amount,
            currency: m.currency,
        }
    }
}

impl From<types::TimeRange> for model::TimeRange {
    fn from(r: types::TimeRange) -> Self {
        model::TimeRange {
            start: r.start,
            end: r.end,
        }
    }
}

impl From<types::Failure> for model::Failure {
    fn from(f: types::Failure) -> Self {
        model::Failure {
            message: f.message,
            request_id: f.request_id,
        }
    }
}

impl From<types::InvalidInput> for model::InvalidInput {
    fn from(i: types::InvalidInput) -> Self {
        model::InvalidInput {
            field: i.field,
            message: i.message,
            request_id: i.request_id,
        }
    }
}

impl From<types::RateLimited> for model::RateLimited {
    fn from(r: types::RateLimited) -> Self {
        model::RateLimited {
            retry_after_ms: r.retry_after_ms,
            message: r.message,
            request_id: r.request_id,
        }
    }
}

impl From<types::NotFound> for model::NotFound {
    fn from(n: types::NotFound) -> Self {
        model::NotFound {
            kind: n.kind,
            id: n.id,
        }
    }
}

/// The category of a 0.1 decline, from the well-known codes (Stripe's `code` and
/// `decline_code`, which other gateways' plugins mostly reuse): the more specific
/// `decline_reason` first, then `code`; anything else is `other`.
pub(crate) fn decline_category(code: &str, decline_reason: Option<&str>) -> model::DeclineCategory {
    use model::DeclineCategory as Category;
    let of = |code: &str| match code {
        "insufficient_funds" => Some(Category::InsufficientFunds),
        "expired_card" => Some(Category::ExpiredCard),
        "incorrect_cvc" | "incorrect_number" | "incorrect_zip" => Some(Category::IncorrectDetails),
        "do_not_honor" | "generic_decline" => Some(Category::DoNotHonor),
        "fraudulent" | "lost_card" | "stolen_card" | "pickup_card" => {
            Some(Category::SuspectedFraud)
        }
        "authentication_required" => Some(Category::AuthenticationRequired),
        "processing_error" | "try_again_later" | "issuer_not_available" => {
            Some(Category::TryAgainLater)
        }
        _ => None,
    };
    decline_reason
        .and_then(of)
        .or_else(|| of(code))
        .unwrap_or(Category::Other)
}

impl From<types::Decline> for model::Decline {
    fn from(d: types::Decline) -> Self {
        model::Decline {
            category: decline_category(&d.code, d.decline_reason.as_deref()),
            code: d.code,
            decline_reason: d.decline_reason,
            customer_message: d.customer_message,
            payment: d.payment,
            request_id: d.request_id,
        }
    }
}

/// A 0.1 plugin's description, with what 0.1 can do ([`super::capabilities`]).
impl From<info::GatewayInfo> for model::GatewayInfo {
    fn from(i: info::GatewayInfo) -> Self {
        model::GatewayInfo {
            name: i.name,
            display_name: i.display_name,
            version: i.version,
            currencies: i.currencies,
            capabilities: super::capabilities(),
        }
    }
}

impl From<tokens::Customer> for model::Customer {
    fn from(c: tokens::Customer) -> Self {
        model::Customer {
            id: c.id,
            crm_customer_id: c.crm_customer_id,
            default_card: c.default_card,
            created: c.created,
        }
    }
}

impl From<tokens::CardFunding> for model::CardFunding {
    fn from(f: tokens::CardFunding) -> Self {
        match f {
            tokens::CardFunding::Credit => model::CardFunding::Credit,
            tokens::CardFunding::Debit => model::CardFunding::Debit,
            tokens::CardFunding::Prepaid => model::CardFunding::Prepaid,
            tokens::CardFunding::Unknown => model::CardFunding::Unknown,
        }
    }
}

impl From<tokens::StoredCard> for model::StoredCard {
    fn from(c: tokens::StoredCard) -> Self {
        model::StoredCard {
            id: c.id,
            customer: c.customer,
            brand: c.brand,
            last4: c.last4,
            exp_month: c.exp_month,
            exp_year: c.exp_year,
            fingerprint: c.fingerprint,
            funding: c.funding.into(),
            country: c.country,
            is_default: c.is_default,
            network_transaction_id: None,
        }
    }
}

impl From<charging::PaymentStatus> for model::PaymentStatus {
    fn from(s: charging::PaymentStatus) -> Self {
        match s {
            charging::PaymentStatus::Succeeded => model::PaymentStatus::Succeeded,
            charging::PaymentStatus::Processing => model::PaymentStatus::Processing,
            charging::PaymentStatus::RequiresAction => model::PaymentStatus::RequiresAction,
            charging::PaymentStatus::RequiresCapture => model::PaymentStatus::RequiresCapture,
            charging::PaymentStatus::Failed => model::PaymentStatus::Failed,
            charging::PaymentStatus::Canceled => model::PaymentStatus::Canceled,
        }
    }
}

impl From<charging::RefundReason> for model::RefundReason {
    fn from(r: charging::RefundReason) -> Self {
        match r {
            charging::RefundReason::Duplicate => model::RefundReason::Duplicate,
            charging::RefundReason::Fraudulent => model::RefundReason::Fraudulent,
            charging::RefundReason::RequestedByCustomer => model::RefundReason::RequestedByCustomer,
        }
    }
}

impl From<charging::RefundStatus> for model::RefundStatus {
    fn from(s: charging::RefundStatus) -> Self {
        match s {
            charging::RefundStatus::Pending => model::RefundStatus::Pending,
            charging::RefundStatus::RequiresAction => model::RefundStatus::RequiresAction,
            charging::RefundStatus::Succeeded => model::RefundStatus::Succeeded,
            charging::RefundStatus::Failed => model::RefundStatus::Failed,
            charging::RefundStatus::Canceled => model::RefundStatus::Canceled,
        }
    }
}

impl From<charging::Refund> for model::Refund {
    fn from(r: charging::Refund) -> Self {
        model::Refund {
            id: r.id,
            payment: r.payment,
            amount: r.amount.into(),
            status: r.status.into(),
            reason: r.reason.map(Into::into),
            created: r.created,
            failure_reason: None,
        }
    }
}

impl From<invoicing::InvoiceStatus> for model::InvoiceStatus {
    fn from(s: invoicing::InvoiceStatus) -> Self {
        match s {
            invoicing::InvoiceStatus::Draft => model::InvoiceStatus::Draft,
            invoicing::InvoiceStatus::Open => model::InvoiceStatus::Open,
            invoicing::InvoiceStatus::Paid => model::InvoiceStatus::Paid,
            invoicing::InvoiceStatus::Void => model::InvoiceStatus::Void,
            invoicing::InvoiceStatus::Uncollectible => model::InvoiceStatus::Uncollectible,
        }
    }
}

impl From<invoicing::InvoiceLine> for model::InvoiceLine {
    fn from(l: invoicing::InvoiceLine) -> Self {
        model::InvoiceLine {
            description: l.description,
            amount: l.amount,
            quantity: l.quantity,
        }
    }
}

impl From<invoicing::Invoice> for model::Invoice {
    fn from(i: invoicing::Invoice) -> Self {
        model::Invoice {
            id: i.id,
            customer: i.customer,
            status: i.status.into(),
            number: i.number,
            currency: i.currency,
            lines: vec(i.lines),
            subtotal: i.subtotal,
            tax: i.tax,
            total: i.total,
            amount_paid: i.amount_paid,
            amount_remaining: i.amount_remaining,
            hosted_url: i.hosted_url,
            pdf_url: i.pdf_url,
            created: i.created,
            due_date: i.due_date,
            metadata: i.metadata,
        }
    }
}

impl From<invoicing::InvoicePage> for model::InvoicePage {
    fn from(p: invoicing::InvoicePage) -> Self {
        model::InvoicePage {
            invoices: vec(p.invoices),
            next_cursor: p.next_cursor,
        }
    }
}

impl From<metrics::FinancialSummary> for model::FinancialSummary {
    fn from(s: metrics::FinancialSummary) -> Self {
        model::FinancialSummary {
            range: s.range.into(),
            currency: s.currency,
            gross_volume: s.gross_volume,
            successful_payments: s.successful_payments,
            refunded_amount: s.refunded_amount,
            refund_count: s.refund_count,
            fees: s.fees,
            net: s.net,
            dispute_count: s.dispute_count,
            disputed_amount: s.disputed_amount,
            disputes_lost: s.disputes_lost,
            disputes_lost_amount: s.disputes_lost_amount,
        }
    }
}

impl From<metrics::BalanceKind> for model::BalanceKind {
    fn from(k: metrics::BalanceKind) -> Self {
        match k {
            metrics::BalanceKind::Charge => model::BalanceKind::Charge,
            metrics::BalanceKind::Refund => model::BalanceKind::Refund,
            metrics::BalanceKind::Dispute => model::BalanceKind::Dispute,
            metrics::BalanceKind::DisputeReversal => model::BalanceKind::DisputeReversal,
            metrics::BalanceKind::Fee => model::BalanceKind::Fee,
            metrics::BalanceKind::Payout => model::BalanceKind::Payout,
            metrics::BalanceKind::Other => model::BalanceKind::Other,
        }
    }
}

impl From<metrics::BalanceTransaction> for model::BalanceTransaction {
    fn from(t: metrics::BalanceTransaction) -> Self {
        model::BalanceTransaction {
            id: t.id,
            kind: t.kind.into(),
            gateway_type: t.gateway_type,
            amount: t.amount.into(),
            fee: t.fee,
            net: t.net,
            created: t.created,
            source: t.source,
            description: t.description,
        }
    }
}

impl From<metrics::BalancePage> for model::BalancePage {
    fn from(p: metrics::BalancePage) -> Self {
        model::BalancePage {
            transactions: vec(p.transactions),
            next_cursor: p.next_cursor,
        }
    }
}

impl From<webhooks::Rejection> for model::Rejection {
    fn from(r: webhooks::Rejection) -> Self {
        match r {
            webhooks::Rejection::MissingSignature => model::Rejection::MissingSignature,
            webhooks::Rejection::BadSignature => model::Rejection::BadSignature,
            webhooks::Rejection::OutsideTolerance => model::Rejection::OutsideTolerance,
            webhooks::Rejection::NotConfigured(m) => model::Rejection::NotConfigured(m),
            webhooks::Rejection::Malformed(m) => model::Rejection::Malformed(m),
        }
    }
}

/// A 0.1 payment update carries neither the captured amount, the metadata, the fee nor the
/// network transaction id: they are absent.
impl From<webhooks::PaymentUpdate> for model::PaymentUpdate {
    fn from(u: webhooks::PaymentUpdate) -> Self {
        model::PaymentUpdate {
            payment: u.payment,
            status: u.status.into(),
            amount: u.amount.into(),
            amount_captured: None,
            decline: u.decline.map(Into::into),
            metadata: Vec::new(),
            fee: None,
            network_transaction_id: None,
        }
    }
}

impl From<webhooks::DisputeStatus> for model::DisputeStatus {
    fn from(s: webhooks::DisputeStatus) -> Self {
        match s {
            webhooks::DisputeStatus::Warning => model::DisputeStatus::Warning,
            webhooks::DisputeStatus::Open => model::DisputeStatus::Open,
            webhooks::DisputeStatus::Won => model::DisputeStatus::Won,
            webhooks::DisputeStatus::Lost => model::DisputeStatus::Lost,
        }
    }
}

impl From<webhooks::DisputeUpdate> for model::DisputeUpdate {
    fn from(d: webhooks::DisputeUpdate) -> Self {
        model::DisputeUpdate {
            dispute: d.dispute,
            payment: d.payment,
            amount: d.amount.into(),
            reason: d.reason,
            status: d.status.into(),
            evidence_due_by: None,
        }
    }
}

impl From<webhooks::CardUpdate> for model::CardUpdate {
    fn from(c: webhooks::CardUpdate) -> Self {
        model::CardUpdate {
            card: c.card,
            customer: c.customer,
            exp_month: c.exp_month,
            exp_year: c.exp_year,
            last4: c.last4,
        }
    }
}

/// Where a 0.1 refund stands, as a modification: one that waits (for the gateway or the
/// customer) is `pending`; a canceled refund returned nothing, like a failed one.
fn refund_modification_status(s: charging::RefundStatus) -> model::ModificationStatus {
    match s {
        charging::RefundStatus::Pending | charging::RefundStatus::RequiresAction => {
            model::ModificationStatus::Pending
        }
        charging::RefundStatus::Succeeded => model::ModificationStatus::Succeeded,
        charging::RefundStatus::Failed | charging::RefundStatus::Canceled => {
            model::ModificationStatus::Failed
        }
    }
}

/// 0.1's event kinds in the model's terms: payment events are payment updates (the status says
/// which); a refund is a `modification` of kind `refund` (one that names no payment, which
/// nothing could be matched with, is `other`); disputes opened and closed are dispute updates;
/// an invoice paid or whose payment failed is an invoice update (`payment-failed` says which).
impl From<webhooks::GatewayEvent> for model::GatewayEvent {
    fn from(e: webhooks::GatewayEvent) -> Self {
        use webhooks::EventKind as Old;
        let kind = match e.kind {
            Old::PaymentSucceeded(u) | Old::PaymentFailed(u) => model::EventKind::Payment(u.into()),
            Old::Refund(r) => match r.payment {
                Some(payment) => model::EventKind::Modification(model::ModificationUpdate {
                    modification: r.refund,
                    kind: model::ModificationKind::Refund,
                    payment,
                    status: refund_modification_status(r.status),
                    amount: Some(r.amount.into()),
                    reason: None,
                }),
                None => model::EventKind::Other(e.gateway_type.clone()),
            },
            Old::DisputeOpened(d) | Old::DisputeClosed(d) => model::EventKind::Dispute(d.into()),
            Old::InvoicePaid(i) => model::EventKind::Invoice(model::InvoiceUpdate {
                invoice: i.invoice,
                status: i.status.into(),
                amount_paid: i.amount_paid,
                payment_failed: false,
            }),
            Old::InvoicePaymentFailed(i) => model::EventKind::Invoice(model::InvoiceUpdate {
                invoice: i.invoice,
                status: i.status.into(),
                amount_paid: i.amount_paid,
                payment_failed: true,
            }),
            Old::CardUpdated(c) => model::EventKind::CardUpdated(c.into()),
            Old::Other(name) => model::EventKind::Other(name),
        };
        model::GatewayEvent {
            id: e.id,
            created: e.created,
            gateway_type: e.gateway_type,
            kind,
        }
    }
}

/// The conversions of 0.1 answers that carry a next action: 0.1 names no client SDK, so the
/// plugin's name stands for it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Upgrade<'a> {
    /// The plugin's name (`info.describe`).
    pub(crate) plugin: &'a str,
}

/// Whether a modification is a capture or a void.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ModificationOf {
    Capture,
    Void,
}

impl Upgrade<'_> {
    /// `redirect-to-url(u)` is a `get` redirect to `u`; `confirm-with-client-sdk(secret)` a
    /// `client-sdk` action whose SDK is the plugin's name and whose payload is
    /// `{"client_secret": secret}`.
    pub(crate) fn next_action(self, a: types::NextAction) -> model::NextAction {
        match a {
            types::NextAction::RedirectToUrl(url) => model::NextAction::Redirect(model::Redirect {
                url,
                method: model::RedirectMethod::Get,
                fields: Vec::new(),
            }),
            types::NextAction::ConfirmWithClientSdk(secret) => {
                model::NextAction::ClientSdk(model::SdkAction {
                    sdk: self.plugin.to_owned(),
                    payload: serde_json::json!({ "client_secret": secret }).to_string(),
                })
            }
            types::NextAction::BringCustomerOnSession => model::NextAction::BringCustomerOnSession,
        }
    }

    /// A 0.1 error.
    pub(crate) fn error(self, e: types::GatewayError) -> model::GatewayError {
        use types::GatewayError as Old;
        match e {
            Old::Declined(d) => model::GatewayError::Declined(d.into()),
            Old::ActionRequired(a) => model::GatewayError::ActionRequired(model::ActionRequired {
                payment: a.payment,
                next_action: self.next_action(a.next_action),
                customer_message: a.customer_message,
                request_id: a.request_id,
            }),
            Old::InvalidInput(i) => model::GatewayError::InvalidInput(i.into()),
            Old::Configuration(f) => model::GatewayError::Configuration(f.into()),
            Old::RateLimited(r) => model::GatewayError::RateLimited(r.into()),
            Old::IdempotencyConflict(f) => model::GatewayError::IdempotencyConflict(f.into()),
            Old::NotFound(n) => model::GatewayError::NotFound(n.into()),
            Old::Unsupported(what) => model::GatewayError::Unsupported(what),
            Old::NotAttempted(f) => model::GatewayError::NotAttempted(f.into()),
            Old::OutcomeUnknown(f) => model::GatewayError::OutcomeUnknown(f.into()),
        }
    }

    /// A 0.1 payment (no network transaction id in 0.1).
    pub(crate) fn payment(self, p: charging::Payment) -> model::Payment {
        model::Payment {
            id: p.id,
            status: p.status.into(),
            amount: p.amount.into(),
            amount_captured: p.amount_captured,
            amount_refunded: p.amount_refunded,
            customer: p.customer,
            card: p.card,
            description: p.description,
            metadata: p.metadata,
            created: p.created,
            last_decline: p.last_decline.map(Into::into),
            next_action: p.next_action.map(|a| self.next_action(a)),
            fee: p.fee.map(Into::into),
            network_transaction_id: None,
        }
    }

    /// The payment a 0.1 `capture` or `cancel` answered with, as the modification it made:
    /// `succeeded` (0.1 answers once it is done), identified by the payment's id, with the
    /// captured amount for a capture, and the payment as `payment-after`.
    pub(crate) fn modification(
        self,
        p: charging::Payment,
        of: ModificationOf,
    ) -> model::Modification {
        let payment = self.payment(p);
        model::Modification {
            id: payment.id.clone(),
            payment: payment.id.clone(),
            status: model::ModificationStatus::Succeeded,
            amount: (of == ModificationOf::Capture).then(|| model::Money {
                amount: payment.amount_captured,
                currency: payment.amount.currency.clone(),
            }),
            payment_after: Some(payment),
            failure_reason: None,
        }
    }

    /// A 0.1 answer, its error converted.
    pub(crate) fn result<T, U>(
        self,
        r: Result<T, types::GatewayError>,
        ok: impl FnOnce(T) -> U,
    ) -> Result<U, model::GatewayError> {
        r.map(ok).map_err(|e| self.error(e))
    }
}

/// A verified 0.1 event as a webhook outcome: that one event, answered `200` with
/// `{"received":true}` as JSON.
pub(crate) fn webhook_outcome(event: webhooks::GatewayEvent) -> model::WebhookOutcome {
    model::WebhookOutcome {
        events: vec![event.into()],
        response: model::WebhookResponse {
            status: 200,
            content_type: Some("application/json".into()),
            body: WEBHOOK_ANSWER.to_vec(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::DeclineCategory as Category;

    #[test]
    fn decline_categories_come_from_the_well_known_codes() {
        let cases = [
            (
                "card_declined",
                Some("insufficient_funds"),
                Category::InsufficientFunds,
            ),
            ("expired_card", None, Category::ExpiredCard),
            ("card_declined", Some("expired_card"), Category::ExpiredCard),
            ("incorrect_cvc", None, Category::IncorrectDetails),
            ("incorrect_number", None, Category::IncorrectDetails),
            (
                "card_declined",
                Some("incorrect_zip"),
                Category::IncorrectDetails,
            ),
            ("card_declined", Some("do_not_honor"), Category::DoNotHonor),
            (
                "card_declined",
                Some("generic_decline"),
                Category::DoNotHonor,
            ),
            (
                "card_declined",
                Some("fraudulent"),
                Category::SuspectedFraud,
            ),
            ("card_declined", Some("lost_card"), Category::SuspectedFraud),
            (
                "card_declined",
                Some("stolen_card"),
                Category::SuspectedFraud,
            ),
            (
                "card_declined",
                Some("pickup_card"),
                Category::SuspectedFraud,
            ),
            (
                "authentication_required",
                None,
                Category::AuthenticationRequired,
            ),
            (
                "card_declined",
                Some("authentication_required"),
                Category::AuthenticationRequired,
            ),
            ("processing_error", None, Category::TryAgainLater),
            (
                "card_declined",
                Some("try_again_later"),
                Category::TryAgainLater,
            ),
            (
                "card_declined",
                Some("issuer_not_available"),
                Category::TryAgainLater,
            ),
            ("card_declined", None, Category::Other),
            (
                "card_declined",
                Some("card_velocity_exceeded"),
                Category::Other,
            ),
            ("6", Some("Not enough balance"), Category::Other),
        ];
        for (code, reason, category) in cases {
            assert_eq!(
                decline_category(code, reason),
                category,
                "{code} {reason:?}"
            );
        }
    }

    #[test]
    fn next_actions_become_redirects_and_sdk_actions() {
        let up = Upgrade { plugin: "stripe" };
        assert_eq!(
            up.next_action(types::NextAction::RedirectToUrl(
                "https://bank.example/3ds".into()
            )),
            model::NextAction::Redirect(model::Redirect {
                url: "https://bank.example/3ds".into(),
                method: model::RedirectMethod::Get,
                fields: vec![],
            })
        );
        let model::NextAction::ClientSdk(action) = up.next_action(
            types::NextAction::ConfirmWithClientSdk("pi_1_secret_\"x".into()),
        ) else {
            panic!("a client SDK action")
        };
        assert_eq!(action.sdk, "stripe");
        let payload: serde_json::Value = serde_json::from_str(&action.payload).unwrap();
        assert_eq!(
            payload,
            serde_json::json!({"client_secret": "pi_1_secret_\"x"})
        );
        assert_eq!(
            up.next_action(types::NextAction::BringCustomerOnSession),
            model::NextAction::BringCustomerOnSession
        );
    }

    fn payment(status: charging::PaymentStatus, captured: i64) -> charging::Payment {
        charging::Payment {
            id: "pi_1".into(),
            status,
            amount: types::Money {
                amount: 5_000,
                currency: "EUR".into(),
            },
            amount_captured: captured,
            amount_refunded: 0,
            customer: Some("cus_1".into()),
            card: Some("pm_1".into()),
            description: None,
            metadata: vec![("crm_transaction_id".into(), "7".into())],
            created: 1,
            last_decline: None,
            next_action: None,
            fee: Some(types::Money {
                amount: 175,
                currency: "EUR".into(),
            }),
        }
    }

    #[test]
    fn captures_and_cancels_are_succeeded_modifications() {
        let up = Upgrade { plugin: "stripe" };
        let capture = up.modification(
            payment(charging::PaymentStatus::Succeeded, 3_000),
            ModificationOf::Capture,
        );
        assert_eq!(capture.id, "pi_1");
        assert_eq!(capture.payment, "pi_1");
        assert_eq!(capture.status, model::ModificationStatus::Succeeded);
        assert_eq!(
            capture.amount,
            Some(model::Money {
                amount: 3_000,
                currency: "EUR".into()
            })
        );
        let after = capture.payment_after.expect("the payment after");
        assert_eq!(after.amount_captured, 3_000);
        assert_eq!(after.fee.map(|f| f.amount), Some(175));
        assert_eq!(
            after.metadata,
            vec![("crm_transaction_id".into(), "7".into())]
        );

        let void = up.modification(
            payment(charging::PaymentStatus::Canceled, 0),
            ModificationOf::Void,
        );
        assert_eq!(void.amount, None);
        assert_eq!(
            void.payment_after.map(|p| p.status),
            Some(model::PaymentStatus::Canceled)
        );
    }

    fn event(kind: webhooks::EventKind) -> model::GatewayEvent {
        webhooks::GatewayEvent {
            id: "evt_1".into(),
            created: 10,
            gateway_type: "some.type".into(),
            kind,
        }
        .into()
    }

    #[test]
    fn events_map_to_the_newest_kinds() {
        let money = || types::Money {
            amount: 800,
            currency: "USD".into(),
        };
        let update = webhooks::PaymentUpdate {
            payment: "pi_1".into(),
            status: charging::PaymentStatus::Failed,
            amount: money(),
            decline: Some(types::Decline {
                code: "card_declined".into(),
                decline_reason: Some("insufficient_funds".into()),
                customer_message: "Declined".into(),
                payment: Some("pi_1".into()),
                request_id: None,
            }),
        };
        let e = event(webhooks::EventKind::PaymentFailed(update));
        let model::EventKind::Payment(p) = &e.kind else {
            panic!("{e:?}")
        };
        assert_eq!(p.status, model::PaymentStatus::Failed);
        assert_eq!(
            p.decline.as_ref().map(|d| d.category),
            Some(Category::InsufficientFunds)
        );
        assert_eq!((e.id.as_str(), e.created), ("evt_1", 10));

        let refund = |payment: Option<&str>, status| {
            event(webhooks::EventKind::Refund(webhooks::RefundUpdate {
                refund: "re_1".into(),
                payment: payment.map(str::to_owned),
                amount: money(),
                status,
            }))
        };
        let e = refund(Some("pi_1"), charging::RefundStatus::Succeeded);
        assert_eq!(
            e.kind,
            model::EventKind::Modification(model::ModificationUpdate {
                modification: "re_1".into(),
                kind: model::ModificationKind::Refund,
                payment: "pi_1".into(),
                status: model::ModificationStatus::Succeeded,
                amount: Some(model::Money {
                    amount: 800,
                    currency: "USD".into()
                }),
                reason: None,
            })
        );
        let e = refund(Some("pi_1"), charging::RefundStatus::Canceled);
        assert!(matches!(&e.kind, model::EventKind::Modification(m)
            if m.status == model::ModificationStatus::Failed));
        let e = refund(None, charging::RefundStatus::Succeeded);
        assert_eq!(e.kind, model::EventKind::Other("some.type".into()));

        let invoice = webhooks::InvoiceUpdate {
            invoice: "in_1".into(),
            status: invoicing::InvoiceStatus::Open,
            amount_paid: 0,
        };
        let e = event(webhooks::EventKind::InvoicePaymentFailed(invoice));
        assert!(matches!(&e.kind, model::EventKind::Invoice(i)
            if i.payment_failed && i.status == model::InvoiceStatus::Open));

        let dispute = webhooks::DisputeUpdate {
            dispute: "du_1".into(),
            payment: Some("pi_1".into()),
            amount: money(),
            reason: "fraudulent".into(),
            status: webhooks::DisputeStatus::Lost,
        };
        let e = event(webhooks::EventKind::DisputeClosed(dispute));
        assert!(matches!(&e.kind, model::EventKind::Dispute(d)
            if d.status == model::DisputeStatus::Lost && d.evidence_due_by.is_none()));

        let outcome = webhook_outcome(webhooks::GatewayEvent {
            id: "evt_2".into(),
            created: 0,
            gateway_type: "x".into(),
            kind: webhooks::EventKind::Other("x".into()),
        });
        assert_eq!(outcome.events.len(), 1);
        assert_eq!(outcome.response.status, 200);
        assert_eq!(outcome.response.body, br#"{"received":true}"#);
    }
}
