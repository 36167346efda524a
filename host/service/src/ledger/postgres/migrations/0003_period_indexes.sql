-- OmniCRM Payments ledger on PostgreSQL, version 3: indexes for the figures of a period. The summary and the
-- console's dashboard (one period per day of its charts) select by currency and creation time;
-- without these each period scanned every transaction, refund and dispute.
CREATE INDEX transactions_period ON transactions (currency, created_at);
CREATE INDEX refunds_period ON refunds (currency, created_at);
CREATE INDEX disputes_period ON disputes (currency, created_at);
