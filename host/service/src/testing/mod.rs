//! Test support and the tests that need it: a scripted fake gateway ([`fake_gateway`]) and the
//! exactly-once executor's tests against it ([`exactly_once`]).

mod exactly_once;
pub mod fake_gateway;
