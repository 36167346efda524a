//! The conformance kit (`omnicrm-conformance`) run on the project's gateways, which keep every
//! promise (Stripe and Adyen against their emulators, offline), and on the broken component,
//! each of whose faults the kit must catch under the right check. The gateway configurations
//! and fixtures are the files in `conformance_fixtures/`, as an author would write them.

use gateway_tests::component_path;
use omnicrm_conformance::report::{Outcome, Report};
use omnicrm_conformance::{Target, run, target_from_files};
use omnicrm_host::SecretSource;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance_fixtures")
        .join(name)
}

/// One artifact cache for the kit's runs: each component is compiled once.
fn cache_dir() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temporary directory"))
        .path()
        .to_owned()
}

/// The target of `gateway` (its `<gateway>.gateway.toml`) with `fixtures`, `vars` filled in,
/// and `secrets` given their values (the files name environment variables).
fn target(
    component: &str,
    gateway: &str,
    fixtures: &str,
    vars: &[(&str, &str)],
    secrets: &[(&str, &str)],
) -> Target {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut target = target_from_files(
        &component_path(component),
        &fixture(&format!("{gateway}.gateway.toml")),
        None,
        &fixture(&format!("{fixtures}.fixtures.toml")),
        &vars,
    )
    .expect("reading the conformance fixtures");
    for (name, value) in secrets {
        target
            .config
            .secrets
            .insert(name.to_string(), SecretSource::value(*value));
    }
    target.cache_dir = Some(cache_dir());
    target
}

/// Every check passed or did not apply; the ones in `applicable` passed.
fn assert_conforms(report: &Report, applicable: &[&str]) {
    assert!(report.success(), "{}", report.text());
    for id in applicable {
        let check = report
            .check(id)
            .unwrap_or_else(|| panic!("{id} did not run:\n{}", report.text()));
        assert_eq!(check.outcome, Outcome::Passed, "{id}:\n{}", report.text());
    }
    assert!(report.passed() > 20, "{}", report.text());
}

/// The checks every gateway that charges over HTTP must pass (none of them not applicable).
const NETWORK_CHECKS: &[&str] = &[
    "idempotency.charge-same-key",
    "idempotency.new-key-charges-again",
    "references.unknown-payment-not-found",
    "faults.connection-refused",
    "faults.reset-after-send",
    "faults.server-error",
    "faults.rate-limited",
    "faults.slow-response",
    "webhooks.good-normalizes",
    "webhooks.wrong-signature-rejected",
    "webhooks.replay-changes-nothing",
    "outbound.no-authorization-header",
    "outbound.allow-list-only",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stripe_component_conforms() {
    let emulator = stripe_emulator::Emulator::start(stripe_emulator::EmulatorOptions::default())
        .await
        .expect("starting the Stripe emulator");
    let report = run(target(
        "omnicrm_stripe_gateway",
        "stripe",
        "stripe",
        &[("STRIPE_BASE_URL", emulator.base_url())],
        &[("api-key", "sk_test_conformance_kit")],
    ))
    .await
    .expect("running the kit");
    let mut applicable = NETWORK_CHECKS.to_vec();
    applicable.extend([
        "bounds.capture-above-authorized",
        "bounds.refund-above-captured",
        "declines.reference-and-category",
        "declines.customer-action",
        "webhooks.stale-rejected",
    ]);
    assert_conforms(&report, &applicable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adyen_component_conforms() {
    let emulator = adyen_emulator::Emulator::start(adyen_emulator::EmulatorOptions::default())
        .await
        .expect("starting the Adyen emulator");
    let report = run(target(
        "omnicrm_adyen_gateway",
        "adyen",
        "adyen",
        &[("ADYEN_BASE_URL", emulator.base_url())],
        &[("api-key", "AQE_omnicrm_gateway_tests")],
    ))
    .await
    .expect("running the kit");
    assert_conforms(&report, NETWORK_CHECKS);
    // Adyen settles modifications by notification: the bounds are not seen synchronously.
    assert!(
        matches!(
            report.check("bounds.refund-above-captured").map(|c| &c.outcome),
            Some(Outcome::NotApplicable(why)) if why.contains("async-modifications")
        ),
        "{}",
        report.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_component_conforms() {
    let report = run(target(
        "omnicrm_offline_gateway",
        "offline",
        "offline",
        &[],
        &[],
    ))
    .await
    .expect("running the kit");
    assert_conforms(
        &report,
        &[
            "idempotency.charge-same-key",
            "idempotency.refund-same-key",
            "bounds.capture-above-authorized",
            "bounds.refund-above-captured",
            "declines.reference-and-category",
            "declines.customer-action",
            "references.other-customers-card-refused",
            "webhooks.good-normalizes",
            "webhooks.stale-rejected",
        ],
    );
    // No network: the fault and outbound checks do not apply, and say why.
    for id in [
        "faults.reset-after-send",
        "outbound.no-authorization-header",
    ] {
        assert!(
            matches!(
                report.check(id).map(|c| &c.outcome),
                Some(Outcome::NotApplicable(why)) if why.contains("no HTTP request")
            ),
            "{id}:\n{}",
            report.text()
        );
    }
    // The reports CI reads.
    assert!(
        report
            .junit()
            .contains("<skipped message=\"not applicable: ")
    );
    assert!(report.json().contains("\"outcome\": \"passed\""));
}

/// The broken component with `fault`: the kit's report, which must fail.
async fn broken(fault: &str) -> Report {
    // A loopback port nobody listens on: the broken plugin's requests are refused, and the
    // kit has seen them.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let report = run(target(
        "broken_gateway",
        "broken",
        "offline",
        &[("FAULT", fault), ("BASE_URL", &base)],
        &[],
    ))
    .await
    .expect("running the kit");
    assert!(!report.success(), "{fault} passed:\n{}", report.text());
    report
}

fn assert_caught(report: &Report, ids: &[&str]) {
    for id in ids {
        assert!(
            matches!(
                report.check(id).map(|c| &c.outcome),
                Some(Outcome::Failed(_))
            ),
            "{id} did not catch it:\n{}",
            report.text()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broken_component_without_a_fault_conforms() {
    let report = run(target(
        "broken_gateway",
        "broken",
        "offline",
        &[("FAULT", "none"), ("BASE_URL", "http://127.0.0.1:9")],
        &[],
    ))
    .await
    .expect("running the kit");
    assert!(report.success(), "{}", report.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_error_kinds_are_caught() {
    let report = broken("wrong-error-kinds").await;
    assert_caught(
        &report,
        &[
            "references.unknown-payment-not-found",
            "references.unknown-customer-not-found",
            "declines.reference-and-category",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_charge_on_replay_is_caught() {
    let report = broken("double-charge-on-replay").await;
    assert_caught(&report, &["idempotency.charge-same-key"]);
    assert_eq!(
        report.failed_ids(),
        ["idempotency.charge-same-key"],
        "{}",
        report.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_over_refund_is_caught() {
    let report = broken("over-refund").await;
    assert_eq!(
        report.failed_ids(),
        ["bounds.refund-above-captured"],
        "{}",
        report.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorization_header_set_by_the_plugin_is_caught() {
    let report = broken("sets-authorization").await;
    assert_eq!(
        report.failed_ids(),
        ["outbound.no-authorization-header"],
        "{}",
        report.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_outside_the_allow_list_is_caught() {
    let report = broken("calls-foreign-host").await;
    assert_eq!(
        report.failed_ids(),
        ["outbound.allow-list-only"],
        "{}",
        report.text()
    );
}

/// The command line: a line per check and the summary on stdout, the JUnit and JSON reports
/// written, and the exit code telling a conforming gateway from one that fails a check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_writes_its_reports_and_exits_non_zero_on_a_failure() {
    use omnicrm_conformance::cli::{Args, run_command};
    use std::process::ExitCode;
    let dir = tempfile::tempdir().unwrap();
    let args = |fixtures: PathBuf| Args {
        component: component_path("omnicrm_offline_gateway"),
        config: fixture("offline.gateway.toml"),
        fixtures,
        gateway: None,
        extra_ca: None,
        cache_dir: Some(cache_dir()),
        junit: Some(dir.path().join("report.xml")),
        json: Some(dir.path().join("report.json")),
    };
    let code = run_command(args(fixture("offline.fixtures.toml")))
        .await
        .unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    let junit = std::fs::read_to_string(dir.path().join("report.xml")).unwrap();
    assert!(junit.contains("failures=\"0\""), "{junit}");
    assert!(
        junit.contains("name=\"bounds.refund-above-captured\""),
        "{junit}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["gateway"], "offline 0.1.0");

    // The same gateway with a fixture it contradicts: the decline's category.
    let wrong = std::fs::read_to_string(fixture("offline.fixtures.toml"))
        .unwrap()
        .replace(
            "decline_category = \"do-not-honor\"",
            "decline_category = \"insufficient-funds\"",
        );
    let wrong_path = dir.path().join("wrong.fixtures.toml");
    std::fs::write(&wrong_path, wrong).unwrap();
    let code = run_command(args(wrong_path)).await.unwrap();
    assert_eq!(code, ExitCode::FAILURE);
    let junit = std::fs::read_to_string(dir.path().join("report.xml")).unwrap();
    assert!(junit.contains("failures=\"1\""), "{junit}");
    assert!(
        junit.contains("category `do-not-honor`, the fixtures expect `insufficient-funds`"),
        "{junit}"
    );

    // A file that is not a fixture file: the kit does not run, and says why.
    let err = run_command(args(fixture("offline.gateway.toml")))
        .await
        .unwrap_err();
    assert!(err.contains("offline.gateway.toml"), "{err}");
}
