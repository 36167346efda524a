//! The behaviour every [`Ledger`] backend must show, written once against the trait.
//!
//! Each test is a function taking a fresh, empty ledger (`&dyn Ledger`, or `Arc<dyn Ledger>` for
//! the tests that share it between threads). A backend runs them all with [`ledger_suite!`],
//! given an expression that opens a fresh ledger as a [`Backend`]:
//!
//! ```ignore
//! mod on_file {
//!     crate::ledger::suite::ledger_suite!(super::fresh_ledger_on_file());
//! }
//! ```
//!
//! which expands to one `#[test]` per behaviour. What only one backend has (SQLite's pragmas,
//! group commit, migration files, query plans) is tested by that backend alone.

pub mod concurrency;
pub mod customers;
pub mod events;
pub mod invoices;
pub mod refunds;
pub mod transactions;

use std::any::Any;
use std::sync::Arc;

use super::{
    Capture, Initiator, InvoiceKeeper, Ledger, NewCard, NewInvoice, NewOperation, NewTransaction,
    OpKind, Refund, Result, Transaction, Ts, TxnKind, TxnPatch, TxnStatus,
};

/// A fresh ledger under test, with what must live as long as it (a temporary directory, a
/// scratch database) and be dropped after it.
pub struct Backend {
    /// The ledger.
    pub ledger: Arc<dyn Ledger>,
    _keep: Option<Box<dyn Any>>,
}

impl Backend {
    /// A ledger that needs nothing else.
    pub fn new(ledger: Arc<dyn Ledger>) -> Self {
        Backend {
            ledger,
            _keep: None,
        }
    }

    /// Keeps `resource` until the ledger is dropped.
    pub fn keeping(mut self, resource: impl Any) -> Self {
        self._keep = Some(Box::new(resource));
        self
    }
}

/// Expands to one `#[test]` per behaviour of the suite, each on a fresh [`Backend`] from the
/// expression given.
macro_rules! ledger_suite {
    ($backend:expr) => {
        $crate::ledger::suite::ledger_suite!(@tests $backend; ());
    };
    // A backend that may be absent (`Option<Backend>`): without it each test returns at once,
    // having said why.
    (optional $backend:expr) => {
        $crate::ledger::suite::ledger_suite!(@tests $backend; { return; });
    };
    (@tests $backend:expr; $absent:tt) => {
        $crate::ledger::suite::ledger_suite!(@each $backend; $absent;
            [
                customers::cards_default_and_removal,
                customers::customers_link_once_per_gateway_keeping_known_details,
                customers::cards_expire_by_month_and_a_default_is_always_found,
                transactions::transactions_are_idempotent_and_compare_and_set,
                transactions::transaction_patches_change_only_what_they_name,
                transactions::transaction_listings_filter_and_page_newest_first,
                transactions::a_charge_intent_is_written_whole_and_only_for_a_free_pending_charge,
                transactions::a_charge_and_its_intent_are_written_together_then_settled_together,
                transactions::the_intent_log_lists_by_owner_and_settles,
                transactions::totals_sum_the_settled_charges_of_one_currency_and_period,
                transactions::figures_by_period_are_each_periods_figures_and_add_up,
                transactions::settling_by_hand_takes_a_flagged_charge_once,
                transactions::a_flagged_charge_the_gateway_settled_is_unflagged,
                refunds::refunds_never_exceed_what_remains_and_converge,
                refunds::only_succeeded_charges_with_a_payment_are_refunded,
                refunds::a_failed_refund_frees_its_amount,
                refunds::a_webhook_refund_waits_when_it_cannot_tell_which_is_ours,
                invoices::invoices_take_uninvoiced_pending_transactions,
                invoices::invoice_numbers_count_per_year,
                invoices::invoice_updates_are_compare_and_set,
                events::disputes_only_move_forward,
                events::disputes_find_their_transaction_by_payment,
                events::operations_idempotency_and_webhooks,
                events::idempotency_keys_abort_and_replay,
                events::unsettled_idempotency_keys_stay_bound,
                events::webhook_events_are_recorded_once_per_gateway,
            ];
            [
                concurrency::concurrent_writers_record_each_key_once,
                concurrency::concurrent_refunds_never_exceed_the_capture,
                concurrency::concurrent_payment_changes_write_one_operation,
                concurrency::concurrent_invoice_payments_write_one_operation,
                concurrency::a_refused_charge_is_discarded_with_its_transaction,
                concurrency::async_callers_go_through_db,
            ]
        );
    };
    (@each $backend:expr; $absent:tt;
        [$($module:ident :: $name:ident),+ $(,)?];
        [$($shared_module:ident :: $shared:ident),+ $(,)?]
    ) => {
        $(
            #[test]
            fn $name() {
                $crate::ledger::suite::ledger_suite!(@bind backend = $backend; $absent);
                $crate::ledger::suite::$module::$name(&*backend.ledger);
            }
        )+
        $(
            #[test]
            fn $shared() {
                $crate::ledger::suite::ledger_suite!(@bind backend = $backend; $absent);
                $crate::ledger::suite::$shared_module::$shared(backend.ledger.clone());
            }
        )+
    };
    (@bind $name:ident = $backend:expr; ()) => {
        let $name: $crate::ledger::suite::Backend = $backend;
    };
    (@bind $name:ident = $backend:expr; $absent:block) => {
        let Some($name): Option<$crate::ledger::suite::Backend> = $backend else $absent;
    };
}
pub(crate) use ledger_suite;

/// A card of `customer` at the gateway `stripe`, expiring 12/2030.
pub fn new_card(customer: &str, r: &str, default: bool) -> NewCard {
    NewCard {
        crm_customer_id: customer.into(),
        gateway: "stripe".into(),
        gateway_card_ref: r.into(),
        brand: "visa".into(),
        last4: "4242".into(),
        exp_month: 12,
        exp_year: 2030,
        funding: "credit".into(),
        fingerprint: None,
        nickname: Some("Work Visa".into()),
        make_default: default,
        network_transaction_id: None,
    }
}

/// A pending USD charge of `customer`, on no card yet.
pub fn new_txn(customer: &str, amount: i64, key: &str) -> NewTransaction {
    NewTransaction {
        crm_customer_id: customer.into(),
        card_id: None,
        gateway: None,
        amount,
        currency: "USD".into(),
        description: Some("service".into()),
        kind: TxnKind::Charge,
        capture: Capture::Automatic,
        status: TxnStatus::Pending,
        idempotency_key: key.into(),
        initiator: Initiator::MerchantUnscheduled,
        return_url: None,
    }
}

/// Marks a pending charge succeeded at the gateway `stripe`, with the payment `pi_<id>`.
pub fn succeed(l: &dyn Ledger, id: i64, amount: i64) -> Transaction {
    l.update_transaction(
        id,
        &[TxnStatus::Pending],
        &TxnPatch {
            status: Some(TxnStatus::Succeeded),
            amount_captured: Some(amount),
            gateway: Some("stripe".into()),
            gateway_payment_ref: Some(format!("pi_{id}")),
            ..Default::default()
        },
    )
    .unwrap()
    .unwrap()
}

/// The refund operation of a refund, keyed by the refund's key.
pub fn refund_op(r: &Refund, t: &Transaction) -> Result<NewOperation> {
    Ok(NewOperation {
        kind: OpKind::Refund,
        gateway: "stripe".into(),
        transaction_id: Some(t.id),
        refund_id: Some(r.id),
        invoice_id: None,
        idempotency_key: r.idempotency_key.clone().unwrap_or_default(),
        params: serde_json::json!({ "amount": r.amount }),
    })
}

/// Creates a refund with its operation; the refund.
pub fn refund(
    l: &dyn Ledger,
    txn: i64,
    amount: Option<i64>,
    reason: Option<&str>,
    key: &str,
) -> Result<Refund> {
    l.create_refund(txn, amount, reason, key, &refund_op)
        .map(|(r, _)| r)
}

/// A USD invoice of `customer` at the gateway `stripe`, created at `at`.
pub fn new_invoice(customer: &str, key: &str, at: Ts) -> NewInvoice {
    NewInvoice {
        crm_customer_id: customer.into(),
        gateway: "stripe".into(),
        currency: "USD".into(),
        description: None,
        period_start: None,
        period_end: None,
        due_date: None,
        idempotency_key: key.into(),
        now: at,
        kept_by: InvoiceKeeper::Gateway,
    }
}

/// The charge operation of transaction `txn`.
pub fn charge_op(txn: i64, key: &str) -> NewOperation {
    NewOperation {
        kind: OpKind::Charge,
        gateway: "stripe".into(),
        transaction_id: Some(txn),
        refund_id: None,
        invoice_id: None,
        idempotency_key: key.into(),
        params: serde_json::json!({ "amount": 1000 }),
    }
}
