//! Requests in the model, down to 0.1 (`From<model> for 0.1`). Fields 0.1 cannot take are
//! dropped, as documented at each conversion.

use super::bindings::exports::omnicrm::payments::{charging, invoicing, metrics, tokens};
use super::bindings::omnicrm::payments::types;
use super::vec;
use crate::contract as model;

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
            // 0.1 takes the amount in the payment's currency, which it knows.
            amount: Some(r.amount.amount),
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
