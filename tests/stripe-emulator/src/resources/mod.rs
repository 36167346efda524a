//! One module per Stripe resource family. Handlers take the locked state and the decoded
//! parameters and return the JSON to answer, or a Stripe error.

pub mod balance;
pub mod charges;
pub mod customers;
pub mod disputes;
pub mod events;
pub mod invoices;
pub mod payment_intents;
pub mod payment_methods;
pub mod refunds;
pub mod setup_intents;
