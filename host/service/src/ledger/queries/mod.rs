//! The queries of the two SQL backends, written once.
//!
//! Each file of this folder but this one is the queries of one job (`customers`,
//! `transactions`, `refunds`, `captures`, `operations`, `claims`, `invoices`, `gateway_events`,
//! `idempotency`, `totals`), with the row mappers of what it reads. It is compiled twice, as a
//! module of each backend (`#[path = "../queries/..."]`), against that backend's `sql` module:
//! rusqlite for SQLite, the rusqlite-shaped `compat` layer for PostgreSQL, which offer the same
//! names (`Connection`, `Row`, `params!`, `RowResult`, `LIKE`...). The SQL is written in what
//! both dialects accept (`RETURNING`, `ON CONFLICT`, `CAST`); each backend's `connections`
//! module decides how a read or a write runs (SQLite: one writer with group commit;
//! PostgreSQL: serializable transactions run again on conflict).
//!
//! This module holds what the queries share whatever the driver (`placeholders`,
//! `and_status_in`) and the
//! [`Ledger`](super::Ledger) methods both backends implement alike.

/// `n` placeholders separated by commas, for an `IN (...)` list.
pub(super) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Narrows `sql` to rows whose status is one of `statuses` (their stored names), their names
/// added to `args`; nothing when there are none (any status).
pub(super) fn and_status_in<'a, V: From<String>>(
    sql: &mut String,
    args: &mut Vec<V>,
    statuses: impl ExactSizeIterator<Item = &'a str>,
) {
    if statuses.len() == 0 {
        return;
    }
    sql.push_str(&format!(
        " AND status IN ({})",
        placeholders(statuses.len())
    ));
    args.extend(statuses.map(|s| V::from(s.to_string())));
}

/// The [`Ledger`](super::Ledger) methods that hand each call to the query module of its job
/// with the backend's connections (`self.db`); expanded inside each backend's `impl Ledger`,
/// where those modules and the model's types are in scope.
macro_rules! ledger_methods {
    () => {
        fn upsert_customer(&self, link: &CustomerLink) -> Result<CustomerLink> {
            customers::upsert_customer(&self.db, link)
        }

        fn search_customers(&self, query: &str, limit: u32) -> Result<Vec<CustomerLink>> {
            customers::search_customers(&self.db, query, limit)
        }

        fn customer_links(&self, crm_customer_id: &str) -> Result<Vec<CustomerLink>> {
            customers::customer_links(&self.db, crm_customer_id)
        }

        fn insert_card(&self, card: &NewCard) -> Result<Card> {
            customers::insert_card(&self.db, card)
        }

        fn card(&self, id: i64) -> Result<Option<Card>> {
            customers::card(&self.db, id)
        }

        fn cards(&self, crm_customer_id: &str) -> Result<Vec<Card>> {
            customers::cards(&self.db, crm_customer_id)
        }

        fn set_default_card(&self, crm_customer_id: &str, card_id: i64) -> Result<bool> {
            customers::set_default_card(&self.db, crm_customer_id, card_id)
        }

        fn remove_card(&self, crm_customer_id: &str, card_id: i64) -> Result<bool> {
            customers::remove_card(&self.db, crm_customer_id, card_id)
        }

        fn expiring_cards(&self, from: (u16, u8), to: (u16, u8)) -> Result<Vec<Card>> {
            customers::expiring_cards(&self.db, from, to)
        }

        fn update_card_details(
            &self,
            gateway: &str,
            gateway_card_ref: &str,
            exp_month: u8,
            exp_year: u16,
            last4: &str,
        ) -> Result<bool> {
            customers::update_card_details(
                &self.db,
                gateway,
                gateway_card_ref,
                exp_month,
                exp_year,
                last4,
            )
        }

        fn refresh_card(
            &self,
            gateway: &str,
            gateway_card_ref: &str,
            details: &CardDetails,
        ) -> Result<bool> {
            customers::refresh_card(&self.db, gateway, gateway_card_ref, details)
        }

        fn set_card_network_transaction_id(&self, card_id: i64, id: &str) -> Result<bool> {
            customers::set_card_network_transaction_id(&self.db, card_id, id)
        }

        fn insert_transaction(&self, t: &NewTransaction) -> Result<(Transaction, bool)> {
            transactions::insert_transaction(&self.db, t)
        }

        fn transaction(&self, id: i64) -> Result<Option<Transaction>> {
            transactions::transaction(&self.db, id)
        }

        fn transaction_by_payment(
            &self,
            gateway: &str,
            payment_ref: &str,
        ) -> Result<Option<Transaction>> {
            transactions::transaction_by_payment(&self.db, gateway, payment_ref)
        }

        fn transactions(&self, filter: &TxnFilter) -> Result<Vec<Transaction>> {
            transactions::transactions(&self.db, filter)
        }

        fn update_transaction(
            &self,
            id: i64,
            from: &[TxnStatus],
            patch: &TxnPatch,
        ) -> Result<Option<Transaction>> {
            transactions::update_transaction(&self.db, id, from, patch)
        }

        fn cancel_unattempted(&self, id: i64) -> Result<Option<Transaction>> {
            transactions::cancel_unattempted(&self.db, id)
        }

        fn create_refund(
            &self,
            transaction_id: i64,
            amount: Option<i64>,
            reason: Option<&str>,
            idempotency_key: &str,
            operation: &dyn Fn(&Refund, &Transaction) -> Result<NewOperation>,
        ) -> Result<(Refund, Operation)> {
            refunds::create_refund(
                &self.db,
                transaction_id,
                amount,
                reason,
                idempotency_key,
                operation,
            )
        }

        fn refund(&self, id: i64) -> Result<Option<Refund>> {
            refunds::refund(&self.db, id)
        }

        fn refunds(&self, transaction_id: i64) -> Result<Vec<Refund>> {
            refunds::refunds(&self.db, transaction_id)
        }

        fn settle_refund(
            &self,
            id: i64,
            from: &[RefundStatus],
            status: RefundStatus,
            gateway_refund_ref: Option<&str>,
            last_error: Option<&str>,
        ) -> Result<Option<Refund>> {
            refunds::settle_refund(&self.db, id, from, status, gateway_refund_ref, last_error)
        }

        fn observe_refund(
            &self,
            transaction_id: i64,
            gateway_refund_ref: &str,
            amount: i64,
            status: RefundStatus,
        ) -> Result<Option<Refund>> {
            refunds::observe_refund(&self.db, transaction_id, gateway_refund_ref, amount, status)
        }

        fn captures(&self, transaction_id: i64) -> Result<Vec<CaptureRecord>> {
            captures::captures(&self.db, transaction_id)
        }

        fn capture_by_key(&self, idempotency_key: &str) -> Result<Option<CaptureRecord>> {
            captures::capture_by_key(&self.db, idempotency_key)
        }

        fn settle_capture(
            &self,
            id: i64,
            from: &[CaptureStatus],
            status: CaptureStatus,
            gateway_modification_ref: Option<&str>,
            last_error: Option<&str>,
        ) -> Result<Option<CaptureRecord>> {
            captures::settle_capture(
                &self.db,
                id,
                from,
                status,
                gateway_modification_ref,
                last_error,
            )
        }

        fn create_invoice(&self, new: &NewInvoice) -> Result<Option<Invoice>> {
            invoices::create_invoice(&self.db, new)
        }

        fn invoice(&self, id: i64) -> Result<Option<Invoice>> {
            invoices::invoice(&self.db, id)
        }

        fn invoice_by_ref(&self, gateway: &str, invoice_ref: &str) -> Result<Option<Invoice>> {
            invoices::invoice_by_ref(&self.db, gateway, invoice_ref)
        }

        fn invoice_by_payment(&self, gateway: &str, payment_ref: &str) -> Result<Option<Invoice>> {
            invoices::invoice_by_payment(&self.db, gateway, payment_ref)
        }

        fn invoices(&self, filter: &InvoiceFilter) -> Result<Vec<Invoice>> {
            invoices::invoices(&self.db, filter)
        }

        fn invoice_lines(&self, id: i64) -> Result<Vec<Transaction>> {
            invoices::invoice_lines(&self.db, id)
        }

        fn update_invoice(
            &self,
            id: i64,
            from: &[InvoiceStatus],
            patch: &InvoicePatch,
        ) -> Result<Option<Invoice>> {
            invoices::update_invoice(&self.db, id, from, patch)
        }

        fn upsert_dispute(&self, update: &DisputeUpdate) -> Result<Dispute> {
            gateway_events::upsert_dispute(&self.db, update)
        }

        fn disputes(&self, transaction_id: Option<i64>) -> Result<Vec<Dispute>> {
            gateway_events::disputes(&self.db, transaction_id)
        }

        fn insert_operation(&self, op: &NewOperation) -> Result<(Operation, bool)> {
            operations::insert_operation(&self.db, op)
        }

        fn begin_charge(&self, op: &NewOperation, card_id: i64) -> Result<Option<Operation>> {
            operations::begin_charge(&self.db, op, card_id)
        }

        fn create_charge(
            &self,
            t: &NewTransaction,
            operation: &dyn Fn(&Transaction) -> Result<NewOperation>,
        ) -> Result<(Transaction, Option<Operation>)> {
            operations::create_charge(&self.db, t, operation)
        }

        fn settle_charge(
            &self,
            op_id: i64,
            txn_id: i64,
            from: &[TxnStatus],
            patch: Option<&TxnPatch>,
            state: OpState,
            last_error: Option<&str>,
        ) -> Result<(OpState, Option<Transaction>)> {
            operations::settle_charge(&self.db, op_id, txn_id, from, patch, state, last_error)
        }

        fn operation(&self, id: i64) -> Result<Option<Operation>> {
            operations::operation(&self.db, id)
        }

        fn unsettled_operations(&self, updated_before: Ts, limit: u32) -> Result<Vec<Operation>> {
            operations::unsettled_operations(&self.db, updated_before, limit)
        }

        fn waiting_operations(&self, after_id: i64, limit: u32) -> Result<Vec<Operation>> {
            operations::waiting_operations(&self.db, after_id, limit)
        }

        fn operations_for(
            &self,
            transaction_id: Option<i64>,
            invoice_id: Option<i64>,
        ) -> Result<Vec<Operation>> {
            operations::operations_for(&self.db, transaction_id, invoice_id)
        }

        fn record_reconcile_attempt(
            &self,
            id: i64,
            next_attempt_at: Ts,
            flag: Option<&str>,
        ) -> Result<()> {
            operations::record_reconcile_attempt(&self.db, id, next_attempt_at, flag)
        }

        fn flagged_operations(&self) -> Result<Vec<Operation>> {
            operations::flagged_operations(&self.db)
        }

        fn settle_by_hand(
            &self,
            txn_id: i64,
            flagged_op: Option<(i64, OpState)>,
            from: &[TxnStatus],
            patch: &TxnPatch,
            operator: &str,
            note: &str,
        ) -> Result<Option<Transaction>> {
            operations::settle_by_hand(&self.db, txn_id, flagged_op, from, patch, operator, note)
        }

        fn unflag_charge_settled_by_gateway(
            &self,
            txn_id: i64,
            status: TxnStatus,
            state: OpState,
        ) -> Result<bool> {
            operations::unflag_charge_settled_by_gateway(&self.db, txn_id, status, state)
        }

        fn set_operation_state(
            &self,
            id: i64,
            state: OpState,
            last_error: Option<&str>,
            attempted: bool,
        ) -> Result<()> {
            operations::set_operation_state(&self.db, id, state, last_error, attempted)
        }

        fn begin_payment_change(
            &self,
            transaction_id: i64,
            concurrent_captures: bool,
            operation: &PaymentChangeBuilder<'_>,
        ) -> Result<Begun<Transaction>> {
            claims::begin_payment_change(&self.db, transaction_id, concurrent_captures, operation)
        }

        fn begin_invoice_op(
            &self,
            invoice_id: i64,
            kind: OpKind,
            allowed: &[InvoiceStatus],
            operation: &dyn Fn(&Invoice) -> Result<NewOperation>,
        ) -> Result<Begun<Invoice>> {
            claims::begin_invoice_op(&self.db, invoice_id, kind, allowed, operation)
        }

        fn discard_refused_charge(&self, transaction_id: i64, operation_id: i64) -> Result<bool> {
            claims::discard_refused_charge(&self.db, transaction_id, operation_id)
        }

        fn idem_unsettled(&self, scope: &str, key: &str) -> Result<()> {
            idempotency::idem_unsettled(&self.db, scope, key)
        }

        fn idem_finish(&self, scope: &str, key: &str, status: u16, body: &[u8]) -> Result<()> {
            idempotency::idem_finish(&self.db, scope, key, status, body)
        }

        fn idem_abort(&self, scope: &str, key: &str) -> Result<()> {
            idempotency::idem_abort(&self.db, scope, key)
        }

        fn webhook_seen(&self, gateway: &str, event_id: &str) -> Result<bool> {
            gateway_events::webhook_seen(&self.db, gateway, event_id)
        }

        fn record_webhook(
            &self,
            gateway: &str,
            event_id: &str,
            gateway_type: &str,
        ) -> Result<bool> {
            gateway_events::record_webhook(&self.db, gateway, event_id, gateway_type)
        }

        fn totals(&self, currency: &str, from: Ts, to: Ts) -> Result<LedgerTotals> {
            totals::totals(&self.db, currency, from, to)
        }

        fn figures_by_period(
            &self,
            currency: &str,
            from: Ts,
            to: Ts,
            period: i64,
        ) -> Result<Vec<(Ts, Vec<LedgerFigures>)>> {
            totals::figures_by_period(&self.db, currency, from, to, period)
        }
    };
}
pub(super) use ledger_methods;
