//! The service's integration tests, in one test binary (`cargo test -p omnicrm-pay --test all`):
//! each file of this directory is a module of it, so that the binary, which links wasmtime, is
//! linked once rather than once per file. Tests are named by their file (`api::...`,
//! `crash::...`); `cargo test -p omnicrm-pay --test all api::` runs one file's.
//!
//! A new test file is one more `mod` line here; its shared set-up comes from [`common`]
//! (`use crate::common::...`). `every_test_file_is_a_module` fails for a file left out.
//!
//! The tests share one process: none of them changes the process's environment, working
//! directory or global logger (the commands they start are given theirs through `Command`).

mod common;

mod adyen_crash;
mod adyen_demo;
mod adyen_service;
mod api;
mod api_concurrency;
mod api_contract;
mod billing;
mod cli;
mod cluster;
mod conformance_cli;
mod console;
mod console_demo;
mod console_settle;
mod console_sign_in;
mod contract_v0_2;
mod crash;
mod hot_swap;
mod robustness;
mod settlement;

/// Every `*.rs` file beside this one is declared above: a file left out would not be compiled,
/// and its tests would silently not run.
#[test]
fn every_test_file_is_a_module() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let root = std::fs::read_to_string(dir.join("main.rs")).expect("reading tests/main.rs");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("listing tests/") {
        let path = entry.expect("listing tests/").path();
        let Some(module) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".rs"))
        else {
            continue;
        };
        if module != "main" && !root.contains(&format!("\nmod {module};\n")) {
            missing.push(module.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "test files not declared in tests/main.rs: {missing:?}"
    );
}
