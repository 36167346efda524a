//! Adyen's objects as they come over the wire: typed structs encoded and decoded with serde, one
//! module per resource (Checkout API v71 and the standard notifications).
//!
//! Decoding rules, which every type here follows:
//! - What the plugin needs is required: an absent `resultCode`, modification `pspReference` or
//!   `status`, stored method `id`, notification `eventCode`, `pspReference` or `success` fails
//!   the decoding with a message naming the field, instead of defaulting. Ids must not be empty.
//! - Fields Adyen may leave out are `Option`s; fields the plugin doesn't read are not declared,
//!   so the fields Adyen adds are ignored.
//! - Enumerations (`resultCode`, a modification's or a session's `status`) keep a value the
//!   plugin does not know in an `Other` variant; the flows never guess what it means.
//!
//! Requests are `Serialize` structs that carry only fields of Adyen's spec (Adyen refuses others
//! with `702`). Amounts are converted by `money` on the way in and out.
//!
//! The tests decode bodies in `fixtures/`, recorded from `tests/adyen-emulator` (which answers as
//! Adyen's Checkout API v71), besides hand-written variations.

mod common;
mod modification;
mod notification;
mod payment;
mod session;
mod stored;

pub use common::{Amount, DecodeError, Pairs, ServiceError, Strings, decode, to_json};
pub use modification::{ModificationRequest, ModificationResponse, ModificationStatus};
pub use notification::{Batch, Item};
pub use payment::{
    Action, DetailsRequest, PaymentMethod, PaymentRequest, PaymentResponse, ResultCode,
    StoredMethodRef,
};
pub use session::{Session, SessionRequest, SessionResult, SessionStatus};
pub use stored::{StoredMethod, StoredMethods};
