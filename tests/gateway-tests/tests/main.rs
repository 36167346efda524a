//! The component tests, in one test binary (`cargo test -p gateway-tests --test all`): each file
//! of this directory is a module of it, so that the binary, which links wasmtime, is linked once
//! rather than once per file, and each component is compiled once for every test. Tests are named
//! by their file (`stripe_tls::successful_charge`, `sandbox::...`); `cargo test -p gateway-tests
//! --test all stripe_tls::` runs one file's.
//!
//! The scenario directories (`stripe_scenarios`, `adyen_scenarios`, `polyglot_scenarios`,
//! `sandbox_scenarios`) hold tests written once and run by several files (the Stripe scenarios
//! over HTTP, over TLS and on the contract 0.1 build); [`harness`] holds what the scenarios
//! against an emulator share. A new test file is one more `mod` line here.
//!
//! The tests share one process: none changes its environment, working directory or global
//! logger. Those that measure the process (resident memory, open descriptors) allow for the
//! tests running beside them.

// Calls answer `CallError`, which holds the contract's `GatewayError` by value (see
// `omnicrm_host`): past clippy's size threshold for `Err`.
#![allow(clippy::result_large_err)]

mod harness;

mod adyen_scenarios;
mod polyglot_scenarios;
mod sandbox_scenarios;
mod stripe_scenarios;

mod adyen;
mod adyen_tls;
mod capabilities;
mod conformance;
mod javascript;
mod offline;
mod python;
mod sandbox;
mod stripe;
mod stripe_tls;
mod stripe_v0_1;
