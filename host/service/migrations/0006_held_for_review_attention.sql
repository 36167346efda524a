-- OmniCRM Payments ledger, version 6: a transaction held for review needs an operator too.

-- A charge whose gateway answer broke the contract is held for review; an operator settles it
-- by hand, as one the reconciler gave up on. Its `attention` now says why (the reason kept in
-- `last_error`), so the operators' list shows both kinds.
UPDATE transactions
   SET attention = COALESCE(last_error, 'held for review: the gateway''s answer broke the contract')
 WHERE status = 'held_for_review' AND attention IS NULL;
