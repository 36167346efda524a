//! The HTTP JSON API: [`routes`] (the router and, from the same definitions, the [`openapi`]
//! document), the handlers of each resource ([`customers`], [`transactions`], [`invoices`],
//! [`reports`], [`webhooks`], [`system`]), the request types ([`requests`]) read strictly by
//! [`extract`], the answers ([`views`], and [`summary_views`] for the financial summary), authentication ([`auth`], [`api_keys`]),
//! `Idempotency-Key` ([`idempotency`]) and the errors ([`errors`]: the domain's mapped to HTTP,
//! and every other error in the same JSON shape). It is the only part of the service that knows
//! HTTP.
//!
//! Every route under `/v1` needs an API key (`Authorization: Bearer <key>`): GET needs the
//! `read` scope, POST and DELETE the `write` scope (which includes reading); settling a
//! flagged transaction by hand needs the `admin` scope (which includes everything). `/health`,
//! `/openapi.json` and `/webhooks/{gateway}` (verified by the gateway) do not.

pub mod api_keys;
pub mod auth;
pub mod customers;
pub mod errors;
pub mod extract;
pub mod idempotency;
pub mod invoices;
pub mod openapi;
pub mod reports;
pub mod requests;
pub mod routes;
pub mod state;
pub mod summary_views;
pub mod system;
pub mod transactions;
pub mod views;
pub mod webhooks;

pub use routes::{document, router};
pub use state::AppState;
