//! Exactly-once money movement: the intent log's executor and the payments of transactions
//! (charges, captures, voids, refunds). Invoices go through the same executor
//! ([`crate::invoices`]).
//!
//! Every gateway call that moves money or changes an invoice follows the same steps:
//! 1. the intent is written to the ledger's operation log with its idempotency key (a fresh
//!    random key, stored) and the exact inputs of the call ([`params`]), before the gateway is
//!    called;
//! 2. the call is made with that key ([`executor`]);
//! 3. the outcome is applied to the transaction, refund or invoice with a compare-and-set that
//!    only moves its state forward ([`outcome`], [`status`]), then the operation is settled.
//!
//! A call whose outcome is unknown (timeout, trap, dropped connection: see
//! [`omnicrm_host::CallError::may_have_moved_money`]) leaves the operation `unknown` (the
//! transaction's status too); a crash leaves it `pending`. The reconciler
//! ([`crate::reconcile`]) repeats such operations with the same key and the same inputs: the
//! gateway answers with the original outcome without moving money twice. Webhooks
//! ([`crate::events`]) apply the same compare-and-set updates, so the synchronous path, the
//! reconciler and webhooks converge in any order.
//!
//! A charge (or a completed customer action) whose answer breaks the contract leaves its
//! transaction `held_for_review` ([`review`]): never repeated, moved or counted until an
//! operator checks it.
//!
//! A charge whose outcome stays unknown through every repeat the reconciler allows is flagged
//! for an operator, who settles it by hand ([`operator`]).
//!
//! A capture, void or refund the gateway answers `pending` leaves its operation `waiting`: it is
//! never repeated, and settles when an event or (where the gateway has lookups) the reconciler
//! tells its outcome ([`pending`]).
//!
//! One flow per file: [`charge`] (recording and charging transactions),
//! `capture`, `void` (both through `authorization`), `refund`, `complete` (finishing a payment
//! after the customer's action), [`lookup`] (moving payments forward to what the gateway says)
//! and [`pending`] (modifications settled later). Around them: [`amount`] (the bounds of an
//! amount, checked before anything is written), [`requester`] (who asks, and which unsettled
//! operation it may resume) and [`journal`] (the operations an API request wrote or ran).

pub mod amount;
mod authorization;
mod capture;
pub mod charge;
mod complete;
pub mod executor;
pub mod journal;
pub mod lookup;
pub mod operator;
pub mod outcome;
pub mod params;
pub mod pending;
mod refund;
pub mod requester;
pub mod review;
pub mod status;
mod void;

pub use amount::{MAX_AMOUNT, check_amount};
pub use authorization::Changed;
pub use charge::{Recorded, TxnRequest};
pub use executor::Exec;
pub use lookup::AUTHORIZATION_EXPIRED;
pub use outcome::{ErrorClass, classify};
pub use requester::Requester;
