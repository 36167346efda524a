//! The HTTP JSON API: [`routes`], the handlers of each resource ([`customers`],
//! [`transactions`], [`invoices`], [`reports`], [`webhooks`], [`system`]), the JSON [`views`] of
//! the ledger's rows, authentication ([`auth`], [`api_keys`]), strict request parsing
//! ([`parse`]), the mapping of the domain's errors to HTTP ([`errors`]) and the OpenAPI document
//! ([`openapi`]). It is the only part of the service that knows HTTP.
//!
//! Every route under `/v1` needs an API key (`Authorization: Bearer <key>`): GET needs the
//! `read` scope, POST and DELETE the `write` scope (which includes reading). `/health`,
//! `/openapi.json` and `/webhooks/{gateway}` (verified by the gateway) do not.

pub mod api_keys;
pub mod auth;
pub mod customers;
pub mod errors;
pub mod invoices;
pub mod openapi;
pub mod parse;
pub mod reports;
pub mod routes;
pub mod state;
pub mod system;
pub mod transactions;
pub mod views;
pub mod webhooks;

pub use routes::{route_table, router};
pub use state::AppState;
