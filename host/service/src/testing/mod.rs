//! Test support and the tests that need it: a scripted fake gateway ([`fake_gateway`]), a service
//! over it and a real ledger ([`service_env`]), and the tests of the exactly-once executor
//! ([`exactly_once`]), of gateway events ([`events`]) and of a gateway like Adyen's, whose
//! modifications settle by event ([`asynchronous`]), against it.

mod asynchronous;
mod events;
mod exactly_once;
pub mod fake_gateway;
mod review;
pub mod service_env;
