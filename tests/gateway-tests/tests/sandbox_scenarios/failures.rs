//! What callers (and through them API clients) see of a plugin that fails: a trap is a short
//! message with a reference, the plugin's words (its panic, its stderr) only in the detail for
//! the operator's log; a deadline hit while the instance is being made is a timeout like any
//! other.

use super::*;
use omnicrm_host::LoadError;
use std::time::Instant;

#[tokio::test]
async fn a_trap_reaches_callers_as_a_reference_only() {
    let gateway = runtime()
        .load("trapper", &GatewayConfig::new(misbehaving()))
        .await
        .expect("loads");
    let err = gateway
        .charge(request(
            "trap:card 4242 declined\nERROR omnicrm_pay: forged\u{1b}[31m",
        ))
        .await
        .expect_err("traps");
    let CallError::Trap(trap) = &err else {
        panic!("{err:?}")
    };
    let shown = err.to_string();
    assert_eq!(
        shown,
        format!(
            "the plugin failed unexpectedly (reference {}; details in the host's log)",
            trap.reference()
        )
    );
    assert!(
        trap.reference().starts_with("trap-"),
        "{}",
        trap.reference()
    );
    // The operator's detail: the trap, and the plugin's stderr (its panic message), escaped.
    let detail = trap.detail();
    assert!(
        detail.contains("plugin stderr:")
            && detail.contains("card 4242 declined\\nERROR omnicrm_pay: forged\\u{1b}[31m"),
        "{detail}"
    );
    assert!(!detail.chars().any(char::is_control), "{detail}");
    assert_eq!(err.detail(), Some(detail));
    // A second trap has another reference.
    let again = trap_of(gateway.charge(request("trap")).await);
    assert_ne!(again.reference(), trap.reference());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_hit_while_instantiating_is_a_timeout() {
    let config = GatewayConfig::new(misbehaving())
        .with_setting("on-instantiate", "loop")
        .with_limits(Limits {
            call_timeout_ms: 500,
            ..Limits::default()
        });
    let started = Instant::now();
    let err = runtime()
        .load("slow-start", &config)
        .await
        .expect_err("describing itself never ends");
    let elapsed = started.elapsed();
    match &err {
        LoadError::Describe { source, .. } => match source.as_ref() {
            CallError::Timeout { after } => assert_eq!(*after, Duration::from_millis(500)),
            other => panic!("expected a timeout, got {other:?}"),
        },
        other => panic!("expected the describe call to fail, got {other:?}"),
    }
    assert!(!err.to_string().contains("interrupt"), "{err}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test]
async fn a_trap_while_instantiating_is_a_trap_with_a_reference() {
    let config = GatewayConfig::new(misbehaving()).with_setting("on-instantiate", "trap");
    let err = runtime()
        .load("bad-start", &config)
        .await
        .expect_err("the start function traps");
    let LoadError::Describe { source, .. } = &err else {
        panic!("{err:?}")
    };
    let CallError::Trap(trap) = source.as_ref() else {
        panic!("expected a trap, got {source:?}")
    };
    assert!(
        trap.detail().contains("trap while instantiating"),
        "{}",
        trap.detail()
    );
    assert!(
        !err.to_string().contains("trap while instantiating"),
        "{err}"
    );
    assert!(err.to_string().contains(trap.reference()), "{err}");
}
