-- OmniCRM Payments ledger, version 1.
-- Money is an integer count of the currency's minor unit; timestamps are Unix seconds (UTC).

-- A CRM customer linked to its counterpart at one gateway.
CREATE TABLE customers (
    crm_customer_id      TEXT NOT NULL,
    gateway              TEXT NOT NULL,
    gateway_customer_ref TEXT NOT NULL,
    email                TEXT,
    name                 TEXT,
    created_at           INTEGER NOT NULL,
    PRIMARY KEY (crm_customer_id, gateway)
);

-- Stored cards: references to the gateway's tokens, never card numbers.
CREATE TABLE cards (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    crm_customer_id  TEXT NOT NULL,
    gateway          TEXT NOT NULL,
    gateway_card_ref TEXT NOT NULL,
    brand            TEXT NOT NULL,
    last4            TEXT NOT NULL,
    exp_month        INTEGER NOT NULL,
    exp_year         INTEGER NOT NULL,
    funding          TEXT NOT NULL DEFAULT 'unknown',
    fingerprint      TEXT,
    nickname         TEXT,
    is_default       INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    removed_at       INTEGER,
    UNIQUE (gateway, gateway_card_ref)
);
CREATE INDEX cards_customer ON cards (crm_customer_id);
CREATE INDEX cards_expiry ON cards (exp_year, exp_month);

-- Invoices group a customer's transactions.
CREATE TABLE invoices (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    number              TEXT NOT NULL UNIQUE,
    crm_customer_id     TEXT NOT NULL,
    gateway             TEXT NOT NULL,
    currency            TEXT NOT NULL,
    description         TEXT,
    period_start        INTEGER NOT NULL,
    period_end          INTEGER NOT NULL,
    due_date            INTEGER,
    status              TEXT NOT NULL,
    subtotal            INTEGER NOT NULL,
    tax                 INTEGER NOT NULL DEFAULT 0,
    total               INTEGER NOT NULL,
    amount_paid         INTEGER NOT NULL DEFAULT 0,
    gateway_invoice_ref TEXT UNIQUE,
    gateway_number      TEXT,
    hosted_url          TEXT,
    pdf_url             TEXT,
    idempotency_key     TEXT NOT NULL UNIQUE,
    pay_attempts        INTEGER NOT NULL DEFAULT 0,
    last_error          TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX invoices_customer ON invoices (crm_customer_id);
CREATE INDEX invoices_status ON invoices (status);

-- Year-by-year counters for invoice numbers (INV-YYYY-NNNNNN).
CREATE TABLE invoice_counters (
    year INTEGER PRIMARY KEY,
    last INTEGER NOT NULL
);

-- Everything that costs money: charges (taken from a card) and credits (owed to the customer).
CREATE TABLE transactions (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    crm_customer_id     TEXT NOT NULL,
    card_id             INTEGER REFERENCES cards (id),
    gateway             TEXT,
    amount              INTEGER NOT NULL,
    currency            TEXT NOT NULL,
    description         TEXT,
    kind                TEXT NOT NULL,
    capture             TEXT NOT NULL DEFAULT 'automatic',
    status              TEXT NOT NULL,
    amount_captured     INTEGER NOT NULL DEFAULT 0,
    amount_refunded     INTEGER NOT NULL DEFAULT 0,
    invoice_id          INTEGER REFERENCES invoices (id),
    gateway_payment_ref TEXT,
    idempotency_key     TEXT NOT NULL UNIQUE,
    attempted_at        INTEGER,
    decline_code        TEXT,
    decline_reason      TEXT,
    last_error          TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX transactions_customer ON transactions (crm_customer_id);
CREATE INDEX transactions_status ON transactions (status);
CREATE INDEX transactions_invoice ON transactions (invoice_id);
CREATE INDEX transactions_payment ON transactions (gateway_payment_ref);

-- Refunds of transactions.
CREATE TABLE refunds (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id     INTEGER NOT NULL REFERENCES transactions (id),
    amount             INTEGER NOT NULL,
    currency           TEXT NOT NULL,
    reason             TEXT,
    status             TEXT NOT NULL,
    gateway_refund_ref TEXT UNIQUE,
    idempotency_key    TEXT UNIQUE,
    last_error         TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX refunds_transaction ON refunds (transaction_id);

-- Disputes (chargebacks) reported by the gateways.
CREATE TABLE disputes (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    gateway             TEXT NOT NULL,
    gateway_dispute_ref TEXT NOT NULL,
    transaction_id      INTEGER REFERENCES transactions (id),
    gateway_payment_ref TEXT,
    amount              INTEGER NOT NULL,
    currency            TEXT NOT NULL,
    reason              TEXT NOT NULL,
    status              TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (gateway, gateway_dispute_ref)
);

-- The intent log: every call to a gateway that moves money or changes an invoice is written here,
-- with its idempotency key, before it is made, and settled afterwards. Unsettled operations
-- (pending or unknown) are repeated with the same key by the reconciler.
CREATE TABLE operations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    gateway         TEXT NOT NULL,
    transaction_id  INTEGER REFERENCES transactions (id),
    refund_id       INTEGER REFERENCES refunds (id),
    invoice_id      INTEGER REFERENCES invoices (id),
    idempotency_key TEXT NOT NULL UNIQUE,
    params          TEXT NOT NULL DEFAULT '{}',
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX operations_state ON operations (state);

-- Responses to API requests that carried an Idempotency-Key header, replayed on repeats.
CREATE TABLE api_idempotency (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state        TEXT NOT NULL,
    owner        TEXT NOT NULL,
    status_code  INTEGER,
    response     BLOB,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);

-- Webhook events already processed (deduplication on the gateway's event id).
CREATE TABLE webhook_events (
    gateway      TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    gateway_type TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (gateway, event_id)
);
