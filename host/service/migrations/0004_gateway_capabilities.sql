-- OmniCRM Payments ledger, version 4: what gateways of contract 0.2 tell the service, and what
-- the service keeps for gateways that lack a capability.

-- Transactions: the gateway's fee, the decline's normalized category, who started the charge and
-- where the customer comes back, and what the customer must do while the payment waits (JSON).
ALTER TABLE transactions ADD COLUMN fee INTEGER;
ALTER TABLE transactions ADD COLUMN decline_category TEXT;
ALTER TABLE transactions ADD COLUMN initiator TEXT NOT NULL DEFAULT 'merchant_unscheduled';
ALTER TABLE transactions ADD COLUMN return_url TEXT;
ALTER TABLE transactions ADD COLUMN next_action TEXT;

-- Cards: the card network's id of the payment that stored the card (stored credentials).
ALTER TABLE cards ADD COLUMN network_transaction_id TEXT;

-- Disputes: when evidence is due.
ALTER TABLE disputes ADD COLUMN evidence_due_by INTEGER;

-- Invoices: kept at the gateway or in the ledger; when paid; the payment (and its fee) that paid
-- an invoice kept in the ledger.
ALTER TABLE invoices ADD COLUMN kept_by TEXT NOT NULL DEFAULT 'gateway';
ALTER TABLE invoices ADD COLUMN paid_at INTEGER;
ALTER TABLE invoices ADD COLUMN gateway_payment_ref TEXT;
ALTER TABLE invoices ADD COLUMN fee INTEGER;
UPDATE invoices SET paid_at = updated_at WHERE status = 'paid';
CREATE INDEX invoices_payment ON invoices (gateway_payment_ref);

-- Captures of authorizations. Each is made by the operation with the same idempotency key; one
-- the gateway answered `pending` is settled later by an event or a lookup.
CREATE TABLE captures (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id           INTEGER NOT NULL REFERENCES transactions (id),
    amount                   INTEGER NOT NULL,
    currency                 TEXT NOT NULL,
    final_capture            INTEGER NOT NULL DEFAULT 1,
    status                   TEXT NOT NULL,
    gateway_modification_ref TEXT,
    idempotency_key          TEXT NOT NULL UNIQUE,
    last_error               TEXT,
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL
);
CREATE INDEX captures_transaction ON captures (transaction_id);
