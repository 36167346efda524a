//! Answers of 0.1 components, up to the model (`From<0.1> for model`, and [`Upgrade`] for the
//! answers that carry a next action, which needs the plugin's name). Fields 0.1 does not have are
//! absent (`none`, empty).

use super::bindings::exports::omnicrm::payments::{charging, info, invoicing, metrics, tokens};
use super::bindings::omnicrm::payments::types;
use super::vec;
use crate::contract as model;

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
}
