//! The conformance kit as a plugin author runs it: the README's commands ("Checking a gateway:
//! the conformance kit"), word for word, run by the built `omnicrm-pay` from the workspace's
//! root. The Python and JavaScript example gateways pass (exit code 0, the summary line, a JUnit
//! report without failures); the misbehaving component fails, under the checks it breaks.
//!
//! The examples are built by `cargo xtask polyglot` (`cargo xtask test` builds them first); the
//! commands share the artifact cache of their component tests, so the 19 MB components are
//! compiled once per build of them, not once per run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The README's command for the Python example.
const PYTHON: &str = "./target/debug/omnicrm-pay conformance \
    --component target/wasm32-wasip2/plugin/omnicrm_python_example.wasm \
    --config tests/gateway-tests/tests/conformance_fixtures/python.gateway.toml \
    --fixtures tests/gateway-tests/tests/conformance_fixtures/python.fixtures.toml \
    --cache-dir target/polyglot/artifact-cache \
    --junit target/conformance/python.xml";

/// The README's command for the JavaScript example.
const JAVASCRIPT: &str = "./target/debug/omnicrm-pay conformance \
    --component target/wasm32-wasip2/plugin/omnicrm_javascript_example.wasm \
    --config tests/gateway-tests/tests/conformance_fixtures/javascript.gateway.toml \
    --fixtures tests/gateway-tests/tests/conformance_fixtures/javascript.fixtures.toml \
    --cache-dir target/polyglot/artifact-cache \
    --junit target/conformance/javascript.xml";

/// The misbehaving component with the offline gateway's fixtures (its tokens mean nothing to
/// it: it answers every call with a plausible value).
const MISBEHAVING: &str = "./target/debug/omnicrm-pay conformance \
    --component target/wasm32-wasip2/plugin/misbehaving_gateway.wasm \
    --config tests/gateway-tests/tests/conformance_fixtures/misbehaving.gateway.toml \
    --fixtures tests/gateway-tests/tests/conformance_fixtures/offline.fixtures.toml \
    --junit target/conformance/misbehaving.xml";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The workspace's target directory: `CARGO_TARGET_DIR` when set, else `target/` at the root.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// A path of the command: one under `target/` in the workspace's target directory (which
/// `CARGO_TARGET_DIR` may move), any other from the workspace's root.
fn resolve(path: &str) -> PathBuf {
    match path.strip_prefix("target/") {
        Some(rest) => target_dir().join(rest),
        None => workspace_root().join(path),
    }
}

/// Runs `command` with the built binary in `./target/debug/omnicrm-pay`'s place, `env` set;
/// the output, and the JUnit report it wrote.
fn run(command: &str, env: &[(&str, &str)]) -> (Output, String) {
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words[..2], ["./target/debug/omnicrm-pay", "conformance"]);
    let mut args = vec!["conformance".to_string()];
    let mut junit = None;
    for pair in words[2..].chunks(2) {
        let [flag, value] = pair else {
            panic!("{command}: `{}` has no value", pair[0])
        };
        let path = resolve(value);
        if *flag == "--component" {
            assert!(
                path.exists(),
                "{} is missing: build it with `cargo xtask polyglot` or `cargo xtask plugins`",
                path.display()
            );
        }
        if *flag == "--junit" {
            // A report of an earlier run must not pass for this one's.
            let _ = std::fs::remove_file(&path);
            junit = Some(path.clone());
        }
        args.extend([flag.to_string(), path.display().to_string()]);
    }
    let output = Command::new(env!("CARGO_BIN_EXE_omnicrm-pay"))
        .args(&args)
        .current_dir(workspace_root())
        .envs(env.iter().copied())
        .output()
        .expect("running omnicrm-pay");
    let junit = junit.expect("the command writes a JUnit report");
    let report = std::fs::read_to_string(&junit).unwrap_or_else(|e| {
        panic!(
            "no JUnit report at {}: {e}\n{}",
            junit.display(),
            describe(&output)
        )
    });
    (output, report)
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The summary line's counts: passed, failed, not applicable.
fn summary(output: &Output) -> (u32, u32, u32) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let numbers: Vec<u32> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter(|n| !n.is_empty())
        .map(|n| n.parse().unwrap())
        .collect();
    let shape = format!(
        "{} passed, {} failed ({} not applicable)",
        numbers.first().unwrap_or(&0),
        numbers.get(1).unwrap_or(&0),
        numbers.get(2).unwrap_or(&0)
    );
    assert_eq!(last, shape, "the summary line:\n{}", describe(output));
    (numbers[0], numbers[1], numbers[2])
}

/// A stateless example gateway without network passes: every check passed or does not apply,
/// and the ones that cannot apply without HTTP requests say so in the JUnit report.
fn assert_example_conforms(command: &str, gateway: &str) {
    let (output, junit) = run(command, &[]);
    assert!(output.status.success(), "{}", describe(&output));
    let (passed, failed, not_applicable) = summary(&output);
    assert_eq!(failed, 0);
    assert!(passed >= 30, "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with(&format!(
            "conformance of {gateway} 0.1.0 (contract 0.2.0)\n"
        )),
        "{stdout}"
    );
    for id in [
        "idempotency.charge-same-key",
        "idempotency.refund-same-key",
        "bounds.capture-above-authorized",
        "bounds.refund-above-captured",
        "declines.reference-and-category",
        "declines.customer-action",
        "references.other-customers-card-refused",
        "webhooks.good-normalizes",
        "webhooks.wrong-signature-rejected",
        "webhooks.stale-rejected",
        "webhooks.replay-changes-nothing",
    ] {
        assert!(
            stdout.contains(&format!("\npass  {id}: ")),
            "{id}:\n{stdout}"
        );
    }
    assert!(
        junit.contains(&format!(
            "tests=\"{}\" failures=\"0\" errors=\"0\" skipped=\"{not_applicable}\"",
            passed + not_applicable
        )),
        "{junit}"
    );
    assert!(
        junit.contains(
            "<skipped message=\"not applicable: the charge sent no HTTP request: there is nothing to fault\"/>"
        ),
        "{junit}"
    );
    assert!(
        junit.contains(
            "<skipped message=\"not applicable: the plugin sent no HTTP request during the run\"/>"
        ),
        "{junit}"
    );
}

#[test]
fn the_python_example_passes_the_kit() {
    assert_example_conforms(PYTHON, "python-example");
}

#[test]
fn the_javascript_example_passes_the_kit() {
    assert_example_conforms(JAVASCRIPT, "javascript-example");
}

/// A gateway that answers everything with a plausible value fails, each broken promise named:
/// in the output (`FAIL  <id>`), and as a JUnit failure; the exit code says it failed.
#[test]
fn the_misbehaving_component_fails_the_kit_under_the_checks_it_breaks() {
    let (output, junit) = run(MISBEHAVING, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let failed: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("FAIL  "))
        .filter_map(|l| l.split_once(": ").map(|(id, _)| id))
        .collect();
    assert_eq!(
        failed,
        [
            "input.zero-amount-names-field",
            "input.bad-currency-names-field",
            "references.unknown-payment-not-found",
            "references.unknown-customer-not-found",
            "references.unknown-payment-lookup-not-found",
            "references.other-customers-card-refused",
            "bounds.capture-above-authorized",
            "bounds.refund-above-captured",
            "declines.reference-and-category",
            "declines.customer-action",
            "webhooks.good-normalizes",
            "webhooks.stale-rejected",
        ],
        "{stdout}"
    );
    let (_, failed_count, _) = summary(&output);
    assert_eq!(failed_count as usize, failed.len());
    assert!(
        stdout.contains("refunded 2001 of a payment of 2000"),
        "{stdout}"
    );
    assert!(
        junit.contains(&format!("failures=\"{failed_count}\"")),
        "{junit}"
    );
    for id in &failed {
        assert!(
            junit.contains(&format!("name=\"{id}\" time=")),
            "{id}:\n{junit}"
        );
    }
    assert_eq!(junit.matches("<failure ").count(), failed.len(), "{junit}");
}
