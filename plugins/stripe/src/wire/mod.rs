//! Stripe's objects as they come over the wire: typed structs decoded with serde, one module per
//! resource, and their conversions into the contract's records.
//!
//! Decoding rules, which every type here follows:
//! - What the plugin needs is required: an absent or `null` `id`, `status`, `amount`,
//!   `currency` (and the other fields Stripe documents as always present that the plugin reads)
//!   fails the decoding with a message naming the field (`missing field `fee` at line 1 column
//!   523`), instead of defaulting to `""` or `0`. Ids must not be empty.
//! - Fields Stripe documents as nullable are `Option`s; fields the plugin doesn't read are not
//!   declared, so the fields Stripe adds are ignored.
//! - Expandable fields ([`Expandable`]) decode as an id or as the expanded object.
//! - Statuses are enums whose `Other` variant keeps a status the plugin does not know; converting
//!   it into a contract status gives [`Unmapped`], never a guess. What the caller is told then
//!   depends on the request that brought the object (`errors::unusable`): `outcome-unknown` after
//!   a POST, `not-attempted` after a GET; a webhook event reports `other`.
//!
//! Amounts are converted by `money` as a wire object becomes a contract record.
//!
//! The tests decode bodies in `fixtures/`, recorded from `tests/stripe-emulator` (which answers
//! as Stripe's API version 2025-03-31.basil), besides hand-written variations.

mod balance_transaction;
mod charge;
mod common;
mod customer;
mod dispute;
mod error;
mod event;
mod invoice;
mod payment_intent;
mod payment_method;
mod refund;
mod setup_intent;

pub use balance_transaction::BalanceTransaction;
pub use charge::Charge;
pub use common::{DecodeError, HasId, List, Ref, SearchResult, Unmapped, decode, to_json};
pub use customer::{CRM_ID, Customer};
pub use dispute::{Dispute, DisputeStatus};
pub use error::ErrorBody;
pub use event::Event;
pub use invoice::{Invoice, InvoiceItem, InvoiceLine, InvoiceStatus};
pub use payment_intent::{PaymentIntent, PaymentIntentStatus};
pub use payment_method::PaymentMethod;
pub use refund::Refund;
pub use setup_intent::{SetupIntent, SetupIntentStatus};
