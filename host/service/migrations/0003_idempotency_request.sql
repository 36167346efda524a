-- OmniCRM Payments ledger, version 3: an API idempotency key keeps the request it was first used
-- with (method, path and body), so that a different request with the same key is answered with
-- what differs. Rows written before have none.
ALTER TABLE api_idempotency ADD COLUMN request BLOB;
