-- OmniCRM Payments ledger, version 2: indexes for the lookups of the charge path and the
-- reconciler. Without them `operations_for` (every charge, capture, void and invoice step)
-- scanned the whole intent log, so each charge got slower as the ledger grew.

-- The operations of a transaction (charge, capture, cancel, refunds) or of an invoice.
CREATE INDEX operations_transaction ON operations (transaction_id);
CREATE INDEX operations_invoice ON operations (invoice_id);
CREATE INDEX operations_refund ON operations (refund_id);

-- The disputes of a transaction, by id or (before it is resolved) by payment reference.
CREATE INDEX disputes_transaction ON disputes (transaction_id);
CREATE INDEX disputes_payment ON disputes (gateway_payment_ref);
