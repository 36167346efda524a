//! The omnicrm-pay service: ledger, HTTP API, exactly-once payments, billing runs and the demo.
//!
//! # Modules
//!
//! The domain knows nothing of HTTP: [`service`] (the shared state and the look-ups every flow
//! starts with), [`customers`] (customers and stored cards), [`payments`] (the intent log's
//! executor and the flows that move money: charge, capture, void, refund), [`invoices`] (through
//! the same executor), [`reconcile`] (settling unknown outcomes, looking up waiting payments),
//! [`events`] (gateway events: verify, deduplicate, apply), [`summary`] (the gateway's financial
//! summary), [`billing_run`]; their errors are [`error::Error`]. Beneath them: [`ledger`] (the
//! storage seam and its SQLite implementation), [`gateway`] (the seam to a gateway,
//! [`gateway::PaymentGateway`]), [`live_gateways`] (the loaded gateways: slots, limits, hot
//! reload; their call budgets, lookups apart, in `call_budget`), [`retry`] (which failed calls are repeated, and when), [`keys`] (derived
//! idempotency keys).
//!
//! Around the domain: [`api`] (HTTP routes, handlers, views, auth, the mapping of errors to HTTP,
//! OpenAPI), [`console`] (the operators' web console under `/console`), [`server`] (start-up), [`config`] (the TOML file), [`demo`], [`client`] (the API
//! client the demo and tests use), [`currency`] (ISO 4217) and [`time`] (calendar arithmetic).
//!
//! # Glossary
//!
//! The service's names follow the gateway contract (`wit/`) where they mean the same thing.
//!
//! | term | meaning |
//! |---|---|
//! | customer | A CRM customer, named by the CRM's own id (`customer_id`). |
//! | gateway customer | The gateway's customer a CRM customer is linked to (`gateway_customer_ref`); one per gateway. |
//! | card, stored card | A card kept by the gateway for a customer; the ledger holds its reference (`gateway_card_ref`), brand, last 4 and expiry, never its number. Made from a token by *store card*. |
//! | token | The single-use token the gateway's card form makes in the customer's browser; *store card* turns it into a stored card. |
//! | transaction | The CRM's record of an amount: a *charge* (taken from the customer's card) or a *credit* (owed to the customer, deducted on an invoice). Its status moves forward only. |
//! | charge | Taking money from a stored card off-session (the contract's `charge`); also a transaction of that kind. |
//! | authorization | A charge with manual capture: the money is reserved, not taken; the transaction is `authorized` until captured or voided (or until it expires at the gateway, after about 7 days). |
//! | capture | Taking all or part of an authorization. |
//! | void | Releasing an authorization (or a payment awaiting authentication) at the gateway: the contract's `cancel`, stored as the operation kind `cancel`. The transaction ends `canceled`. A pending transaction never charged is voided in the ledger only. |
//! | refund | Giving back all or part of a captured payment. |
//! | invoice | A bill of a customer's uninvoiced pending transactions, created, finalized, paid with a stored card, or voided at the gateway. |
//! | dispute | A chargeback or inquiry the cardholder's bank opened, reported by webhook. |
//! | operation, intent | A row of the ledger's intent log: one gateway call that changes something (charge, capture, void, refund, an invoice step), written with its key and exact inputs before the call. |
//! | idempotency key | The key sent with every attempt of an operation; a repeat with the same key gets the original outcome without doing anything again. |
//! | outcome unknown | A call that may have moved money without the service hearing the answer (timeout, trap, lost connection, the gateway's `outcome-unknown`). The operation stays `unknown` until reconciled. |
//! | reconcile | Settling unknown or interrupted operations by repeating them with their stored key and inputs, and looking up payments that wait at the gateway. |

pub mod api;
pub mod billing_run;
mod call_budget;
pub mod client;
pub mod config;
pub mod console;
pub mod currency;
pub mod customers;
pub mod demo;
pub mod error;
pub mod events;
pub mod gateway;
pub mod invoices;
pub mod keys;
pub mod ledger;
pub mod live_gateways;
pub mod payments;
pub mod plugin_fault;
pub mod reconcile;
pub mod retry;
pub mod server;
pub mod service;
pub mod summary;
pub mod time;

#[cfg(test)]
mod testing;

pub use service::{Claim, Service};
