-- OmniCRM Payments ledger on PostgreSQL, version 2: several instances sharing the work.

-- Billing runs claim due transactions in batches: who claimed each and until when (milliseconds
-- since the epoch, on the database's clock). A claim only splits the work between instances; an
-- expired one (its instance died) is taken over by the next claim.
ALTER TABLE transactions ADD COLUMN claimed_by TEXT;
ALTER TABLE transactions ADD COLUMN claim_expires_ms BIGINT;
CREATE INDEX transactions_due ON transactions (id)
    WHERE status = 'pending' AND kind = 'charge' AND invoice_id IS NULL;

-- The pace of calls to each gateway across instances: when the next call may start
-- (microseconds since the epoch, on the database's clock).
CREATE TABLE gateway_pacing (
    gateway       TEXT PRIMARY KEY,
    next_start_us BIGINT NOT NULL
);
