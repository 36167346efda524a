-- OmniCRM Payments ledger, version 5: bounded reconciliation and operators' settlements.

-- Operations: how many times the reconciler repeated each, when it may try again (it backs off
-- between attempts), and when it gave up and flagged the operation for an operator. Kept in the
-- ledger so that a restart neither resets the count nor repeats at once what just failed.
ALTER TABLE operations ADD COLUMN reconcile_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE operations ADD COLUMN next_attempt_at INTEGER;
ALTER TABLE operations ADD COLUMN flagged_at INTEGER;

-- Transactions: why an operator must settle it (set when the reconciler gives up on one of its
-- operations), and who settled it by hand and why.
ALTER TABLE transactions ADD COLUMN attention TEXT;
ALTER TABLE transactions ADD COLUMN settled_by TEXT;
ALTER TABLE transactions ADD COLUMN settled_note TEXT;
CREATE INDEX transactions_attention ON transactions (attention) WHERE attention IS NOT NULL;
