//! The forward-only status machine: the order of transaction and invoice statuses (updates only
//! move forward in it, so the synchronous path, the reconciler and webhooks converge in any
//! order) and the ledger's statuses and records of the contract's (decline categories, customer
//! actions).

use crate::ledger::{CustomerAction, InvoiceStatus, RefundStatus, TxnStatus};
use omnicrm_host::contract::{
    self, DeclineCategory, ModificationStatus, NextAction, PaymentStatus, RedirectMethod,
};

/// Order of transaction statuses: updates only move forward in it.
pub fn txn_rank(s: TxnStatus) -> u8 {
    match s {
        TxnStatus::Pending => 0,
        TxnStatus::Unknown => 1,
        TxnStatus::Processing | TxnStatus::RequiresAction => 2,
        TxnStatus::Authorized => 3,
        TxnStatus::Succeeded | TxnStatus::Failed | TxnStatus::Canceled => 4,
        TxnStatus::PartiallyRefunded | TxnStatus::Refunded => 5,
        // Above every other: no event or lookup moves a transaction out of it.
        TxnStatus::HeldForReview => 6,
    }
}

/// The statuses a transaction may move to `new` from.
pub fn txn_from(new: TxnStatus) -> Vec<TxnStatus> {
    match new {
        TxnStatus::Unknown => return vec![TxnStatus::Pending, TxnStatus::Unknown],
        // Only a payment not settled yet is held: an answer that arrives after an event settled
        // it changes nothing.
        TxnStatus::HeldForReview => {
            return vec![
                TxnStatus::Pending,
                TxnStatus::Unknown,
                TxnStatus::Processing,
                TxnStatus::RequiresAction,
            ];
        }
        _ => {}
    }
    TxnStatus::ALL
        .iter()
        .copied()
        .filter(|s| txn_rank(*s) < txn_rank(new))
        .collect()
}

fn invoice_rank(s: InvoiceStatus) -> u8 {
    match s {
        InvoiceStatus::Draft => 0,
        InvoiceStatus::Open => 1,
        InvoiceStatus::Uncollectible => 2,
        InvoiceStatus::Paid | InvoiceStatus::Void => 3,
    }
}

/// The statuses an invoice may move to `new` from (or stay in, for updates of the same status).
pub fn invoice_from(new: InvoiceStatus) -> Vec<InvoiceStatus> {
    InvoiceStatus::ALL
        .iter()
        .copied()
        .filter(|s| invoice_rank(*s) < invoice_rank(new) || (*s == new && invoice_rank(new) < 3))
        .collect()
}

/// The ledger status of a gateway payment status.
pub fn txn_status_of(p: PaymentStatus) -> TxnStatus {
    match p {
        PaymentStatus::Succeeded => TxnStatus::Succeeded,
        PaymentStatus::Processing => TxnStatus::Processing,
        PaymentStatus::RequiresAction => TxnStatus::RequiresAction,
        PaymentStatus::RequiresCapture => TxnStatus::Authorized,
        PaymentStatus::Failed => TxnStatus::Failed,
        PaymentStatus::Canceled => TxnStatus::Canceled,
    }
}

/// The ledger status of a gateway refund status.
pub fn refund_status_of(s: contract::RefundStatus) -> RefundStatus {
    match s {
        contract::RefundStatus::Pending => RefundStatus::Pending,
        contract::RefundStatus::RequiresAction => RefundStatus::RequiresAction,
        contract::RefundStatus::Succeeded => RefundStatus::Succeeded,
        contract::RefundStatus::Failed => RefundStatus::Failed,
        contract::RefundStatus::Canceled => RefundStatus::Canceled,
    }
}

/// The ledger status of a gateway invoice status.
pub fn invoice_status_of(s: contract::InvoiceStatus) -> InvoiceStatus {
    match s {
        contract::InvoiceStatus::Draft => InvoiceStatus::Draft,
        contract::InvoiceStatus::Open => InvoiceStatus::Open,
        contract::InvoiceStatus::Paid => InvoiceStatus::Paid,
        contract::InvoiceStatus::Void => InvoiceStatus::Void,
        contract::InvoiceStatus::Uncollectible => InvoiceStatus::Uncollectible,
    }
}

/// The ledger's refund status of a modification status (of a refund event).
pub fn refund_status_of_modification(s: ModificationStatus) -> RefundStatus {
    match s {
        ModificationStatus::Pending => RefundStatus::Pending,
        ModificationStatus::Succeeded => RefundStatus::Succeeded,
        ModificationStatus::Failed => RefundStatus::Failed,
    }
}

/// The stored (and JSON) name of a decline category: the contract's, in snake case.
pub fn decline_category_name(c: DeclineCategory) -> &'static str {
    match c {
        DeclineCategory::InsufficientFunds => "insufficient_funds",
        DeclineCategory::ExpiredCard => "expired_card",
        DeclineCategory::IncorrectDetails => "incorrect_details",
        DeclineCategory::DoNotHonor => "do_not_honor",
        DeclineCategory::SuspectedFraud => "suspected_fraud",
        DeclineCategory::AuthenticationRequired => "authentication_required",
        DeclineCategory::TryAgainLater => "try_again_later",
        DeclineCategory::Other => "other",
    }
}

/// The ledger's record of what the customer must do.
pub fn customer_action_of(a: &NextAction) -> CustomerAction {
    match a {
        NextAction::Redirect(r) => CustomerAction::Redirect {
            url: r.url.clone(),
            method: match r.method {
                RedirectMethod::Get => "GET",
                RedirectMethod::Post => "POST",
            }
            .to_string(),
            fields: r.fields.clone(),
        },
        NextAction::ClientSdk(s) => CustomerAction::ClientSdk {
            sdk: s.sdk.clone(),
            payload: s.payload.clone(),
        },
        NextAction::BringCustomerOnSession => CustomerAction::BringCustomerOnSession,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_only_move_forward() {
        assert_eq!(
            txn_from(TxnStatus::Unknown),
            vec![TxnStatus::Pending, TxnStatus::Unknown]
        );
        let to_succeeded = txn_from(TxnStatus::Succeeded);
        for s in [
            TxnStatus::Pending,
            TxnStatus::Unknown,
            TxnStatus::Processing,
            TxnStatus::RequiresAction,
            TxnStatus::Authorized,
        ] {
            assert!(to_succeeded.contains(&s), "{s}");
        }
        for s in [
            TxnStatus::Succeeded,
            TxnStatus::Failed,
            TxnStatus::Canceled,
            TxnStatus::Refunded,
        ] {
            assert!(!to_succeeded.contains(&s), "{s}");
        }
        // A late `processing` never overwrites a settled payment.
        assert!(!txn_from(TxnStatus::Processing).contains(&TxnStatus::Succeeded));
        assert!(invoice_from(InvoiceStatus::Paid).contains(&InvoiceStatus::Open));
        assert!(!invoice_from(InvoiceStatus::Paid).contains(&InvoiceStatus::Void));
        assert!(!invoice_from(InvoiceStatus::Open).contains(&InvoiceStatus::Paid));
        assert!(invoice_from(InvoiceStatus::Open).contains(&InvoiceStatus::Open));
    }

    #[test]
    fn an_authorization_is_a_payment_that_requires_capture() {
        assert_eq!(
            txn_status_of(PaymentStatus::RequiresCapture),
            TxnStatus::Authorized
        );
        assert_eq!(txn_status_of(PaymentStatus::Canceled), TxnStatus::Canceled);
    }
}
