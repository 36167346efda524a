//! The host's sandbox and runtime guarantees, with real components: refusing wrong components,
//! traps, runaway loops and memory growth becoming typed errors (and the next call working),
//! the artifact cache, per-call isolation and the instance pool. The attacks on the sandbox
//! (outbound HTTP, host memory, connections, credentials, log output, answers, failures, DNS
//! rebinding) are in `sandbox_scenarios/`, one module each.
//!
//! The misbehaving component (`tests/components/misbehaving`) misbehaves on request through the
//! description of `charging.charge` (`trap`, `loop`, `grow-memory`, `fetch:<url>`, ...).
//!
//! Every guarantee's tests share one runtime (`sandbox_scenarios::runtime`), so the components
//! compile once.

use crate::sandbox_scenarios::*;
use omnicrm_host::{
    ArtifactSource, CallError, GatewayConfig, Limits, LoadError, OutboundAuth, Runtime,
    RuntimeOptions,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

#[tokio::test]
async fn a_component_without_the_contract_exports_is_refused_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "empty.wat", "(component)");
    let err = runtime()
        .load("empty", &GatewayConfig::new(&path))
        .await
        .expect_err("an empty component must be refused");
    let message = err.to_string();
    assert!(matches!(err, LoadError::Incompatible { .. }), "{err:?}");
    // Checked against the newest contract.
    for interface in REQUIRED_INTERFACES {
        assert!(
            message.contains(&format!(
                "missing export omnicrm:payments/{interface}@0.2.x"
            )),
            "{message}"
        );
    }
    assert!(!message.contains("invoicing"), "optional: {message}");
}

#[tokio::test]
async fn a_component_of_another_contract_version_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "v3.wat", &hollow_component("0.3.0"));
    let err = runtime()
        .load("v3", &GatewayConfig::new(&path))
        .await
        .expect_err("a 0.3 component must be refused");
    let message = err.to_string();
    assert!(
        message.contains(
            "exports omnicrm:payments/charging@0.3.0 but this host supports 0.1.x or 0.2.x"
        ),
        "{message}"
    );
    assert!(!message.contains("missing export"), "{message}");
}

#[tokio::test]
async fn a_component_importing_what_the_host_does_not_provide_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(
        dir.path(),
        "imports.wat",
        r#"(component
             (import "acme:backdoor/shell@1.0.0" (instance))
             (import "wasi:http/incoming-handler@0.2.12" (instance)))"#,
    );
    let message = runtime()
        .load("imports", &GatewayConfig::new(&path))
        .await
        .expect_err("must be refused")
        .to_string();
    assert!(
        message.contains("imports acme:backdoor/shell@1.0.0, which this host does not provide"),
        "{message}"
    );
    assert!(
        message.contains("imports wasi:http/incoming-handler@0.2.12"),
        "{message}"
    );
}

#[tokio::test]
async fn a_core_module_or_garbage_is_not_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let err = runtime()
        .load("core", &GatewayConfig::new(&core))
        .await
        .expect_err("a core module must be refused");
    assert!(matches!(err, LoadError::NotAComponent { .. }), "{err:?}");
    assert!(err.to_string().contains("core WebAssembly module"), "{err}");

    let junk = write_temp(dir.path(), "junk.wasm", "not wasm at all");
    let err = runtime()
        .load("junk", &GatewayConfig::new(&junk))
        .await
        .expect_err("garbage must be refused");
    assert!(matches!(err, LoadError::NotAComponent { .. }), "{err:?}");

    let missing = dir.path().join("missing.wasm");
    let err = runtime()
        .load("missing", &GatewayConfig::new(&missing))
        .await
        .expect_err("a missing file must be refused");
    assert!(matches!(err, LoadError::Read { .. }), "{err:?}");
}

#[tokio::test]
async fn invalid_configurations_are_refused_before_loading() {
    let runtime = runtime();
    let plain_http = GatewayConfig::new(misbehaving()).allow_host("http://api.stripe.com");
    let err = runtime
        .load("m", &plain_http)
        .await
        .expect_err("plain http to a public host");
    assert!(
        err.to_string().contains("only allowed for loopback"),
        "{err}"
    );

    let unknown_secret = GatewayConfig::new(misbehaving()).with_auth(OutboundAuth::Bearer {
        secret: "api-key".into(),
    });
    let err = runtime
        .load("m", &unknown_secret)
        .await
        .expect_err("auth without its secret");
    assert!(err.to_string().contains("`api-key`"), "{err}");

    let too_big = GatewayConfig::new(misbehaving()).with_limits(Limits {
        memory_mib: 100_000,
        call_timeout_ms: 1000,
        ..Limits::default()
    });
    assert!(matches!(
        runtime.load("m", &too_big).await,
        Err(LoadError::Config { .. })
    ));
}

#[tokio::test]
async fn a_trap_is_an_error_and_the_next_call_works() {
    let gateway = runtime()
        .load("misbehaving", &GatewayConfig::new(misbehaving()))
        .await
        .expect("loads");
    assert_eq!(gateway.info().name, "misbehaving");
    assert_eq!(gateway.name(), "misbehaving");
    assert_eq!(gateway.contract_version(), "0.1.0");
    let err = gateway.charge(request("trap")).await.expect_err("traps");
    match &err {
        CallError::Trap(trap) => {
            assert!(
                trap.detail().contains("trap requested"),
                "the panic message is kept for the operator: {}",
                trap.detail()
            );
            assert!(
                !err.to_string().contains("trap requested"),
                "but not shown: {err}"
            );
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(err.may_have_moved_money());
    assert_healthy(&gateway).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_is_stopped_by_the_deadline() {
    let config = GatewayConfig::new(misbehaving()).with_limits(Limits {
        memory_mib: 32,
        call_timeout_ms: 500,
        ..Limits::default()
    });
    let gateway = runtime().load("looping", &config).await.expect("loads");

    // While one call spins, other calls on the same runtime are still served.
    let spinning = tokio::spawn({
        let gateway = gateway.clone();
        async move {
            let started = Instant::now();
            (gateway.charge(request("loop")).await, started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let others_started = Instant::now();
    for _ in 0..5 {
        assert_healthy(&gateway).await;
    }
    let others = others_started.elapsed();

    let (result, elapsed) = spinning.await.unwrap();
    assert_stopped_by_the_deadline(result, elapsed);
    assert!(
        others < Duration::from_millis(450),
        "other calls were served while the loop ran ({others:?})"
    );
    assert_healthy(&gateway).await;

    // A loop is also stopped when the caller runs it on a current-thread executor.
    let result = tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move { gateway.charge(request("loop")).await })
    })
    .await
    .unwrap();
    assert!(
        matches!(result, Err(CallError::Timeout { .. })),
        "{result:?}"
    );
}

/// A call whose plugin waits in a host HTTP call (epochs do not stop a guest that is not
/// running) is stopped by the deadline all the same, and its request is abandoned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_blocked_in_a_host_http_request_is_stopped_by_the_deadline() {
    // Accepts connections, reads the request, never answers; counts closed connections.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (accepted, closed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    tokio::spawn({
        let (accepted, closed) = (accepted.clone(), closed.clone());
        async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let closed = closed.clone();
                tokio::spawn(async move {
                    let mut chunk = [0u8; 4096];
                    while let Ok(n) = socket.read(&mut chunk).await {
                        if n == 0 {
                            break;
                        }
                    }
                    closed.fetch_add(1, Ordering::SeqCst);
                });
            }
        }
    });
    let config = GatewayConfig::new(misbehaving())
        .allow_host(&origin)
        .with_limits(Limits {
            memory_mib: 32,
            call_timeout_ms: 500,
            ..Limits::default()
        });
    let gateway = runtime().load("tarpit", &config).await.expect("loads");

    let started = Instant::now();
    let result = gateway
        .charge(request(&format!("fetch:{origin}/v1/never")))
        .await;
    let elapsed = started.elapsed();
    assert_stopped_by_the_deadline(result, elapsed);
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "the request was sent");
    // Dropping the call's store aborted the request: the connection is closed, not left to
    // the guest's 600 s default timeouts.
    let waited = Instant::now();
    while closed.load(Ordering::SeqCst) == 0 && waited.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        closed.load(Ordering::SeqCst),
        1,
        "the abandoned request's connection was closed"
    );
    assert_healthy(&gateway).await;
}

#[tokio::test]
async fn growing_memory_past_the_limit_fails_cleanly() {
    let config = GatewayConfig::new(misbehaving()).with_limits(Limits {
        memory_mib: 16,
        call_timeout_ms: 20_000,
        ..Limits::default()
    });
    let gateway = runtime().load("greedy", &config).await.expect("loads");
    let err = gateway
        .charge(request("grow-memory"))
        .await
        .expect_err("fails");
    match &err {
        CallError::Trap(trap) => assert!(
            trap.detail()
                .contains("exceeded its memory limit of 16 MiB"),
            "{}",
            trap.detail()
        ),
        other => panic!("expected a trap naming the memory limit, got {other:?}"),
    }
    assert_healthy(&gateway).await;
}

#[tokio::test]
async fn the_artifact_cache_is_hit_on_a_second_load_and_recovers_from_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let config = GatewayConfig::new(misbehaving());

    // A fresh runtime per load: as after a restart of the host.
    let cold = load_after_restart(dir.path(), "m", &config).await;
    let cold_info = cold.load_info().unwrap().clone();
    assert_eq!(cold_info.artifact, ArtifactSource::Compiled);

    let warm = load_after_restart(dir.path(), "m", &config).await;
    let warm_info = warm.load_info().unwrap().clone();
    assert_eq!(warm_info.artifact, ArtifactSource::DiskCache);
    assert_healthy(&warm).await;
    println!(
        "misbehaving component: cold load {:?} (compile {:?}), warm load {:?} (artifact {:?})",
        cold_info.total_time, cold_info.compile_time, warm_info.total_time, warm_info.compile_time
    );
    assert!(warm_info.compile_time < cold_info.compile_time);

    // The same runtime loading it again reuses the compiled component.
    let runtime = Runtime::new(cached_runtime_options(dir.path())).unwrap();
    runtime.load("a", &config).await.unwrap();
    let again = runtime.load("b", &config).await.unwrap();
    assert_eq!(again.load_info().unwrap().artifact, ArtifactSource::Memory);

    // Corrupt every entry: truncate one way, flip bytes another.
    let entries: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let bytes = std::fs::read(&entries[0]).unwrap();
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    for corrupt in [
        flipped,
        bytes[..bytes.len() / 3].to_vec(),
        b"garbage".to_vec(),
    ] {
        std::fs::write(&entries[0], &corrupt).unwrap();
        let recovered = load_after_restart(dir.path(), "m", &config).await;
        let info = recovered.load_info().unwrap();
        assert_eq!(info.artifact, ArtifactSource::Compiled);
        assert!(info.discarded_cache_entry.is_some());
        assert_healthy(&recovered).await;
        // The recompiled artifact replaced the corrupt entry.
        let reloaded = load_after_restart(dir.path(), "m", &config).await;
        assert_eq!(
            reloaded.load_info().unwrap().artifact,
            ArtifactSource::DiskCache
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_each_get_their_own_instance() {
    let gateway = runtime()
        .load("concurrent", &GatewayConfig::new(misbehaving()))
        .await
        .expect("loads");
    let mut tasks = Vec::new();
    for i in 0..40 {
        let gateway = gateway.clone();
        tasks.push(tokio::spawn(async move {
            let mut req = request("fine");
            req.idempotency_key = format!("key-{i}");
            if i % 10 == 3 {
                req.description = Some("trap".into());
            }
            (i, gateway.charge(req).await)
        }));
    }
    for task in tasks {
        let (i, result) = task.await.unwrap();
        if i % 10 == 3 {
            assert!(matches!(result, Err(CallError::Trap(_))), "{result:?}");
        } else {
            assert_eq!(result.unwrap().id, format!("mis_pay_key-{i}"));
        }
    }
}

#[tokio::test]
async fn no_state_survives_from_one_call_to_the_next() {
    let gateway = runtime()
        .load("isolated", &GatewayConfig::new(misbehaving()))
        .await
        .expect("loads");
    for _ in 0..3 {
        let payment = gateway.charge(request("count")).await.expect("counts");
        assert_eq!(
            payment.amount_captured, 1,
            "a fresh instance serves every call, so its counter starts from zero"
        );
    }
}

/// Cold (compile) and warm (artifact cache, as after a restart) load times of every built
/// component; run with `--nocapture` to see them.
#[tokio::test]
async fn cold_and_warm_load_times() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "misbehaving_gateway",
        "omnicrm_offline_gateway",
        "omnicrm_stripe_gateway",
    ] {
        let path = gateway_tests::component_dir().join(format!("{name}.wasm"));
        if !path.exists() {
            println!("{name}: not built, skipped");
            continue;
        }
        let size = std::fs::metadata(&path).unwrap().len();
        let config = GatewayConfig::new(&path);
        let cold = load_after_restart(dir.path(), name, &config).await;
        let warm = load_after_restart(dir.path(), name, &config).await;
        let (cold, warm) = (cold.load_info().unwrap(), warm.load_info().unwrap());
        assert_eq!(cold.artifact, ArtifactSource::Compiled);
        assert_eq!(warm.artifact, ArtifactSource::DiskCache);
        println!(
            "{name} ({} KB): cold load {:.1} ms (compile {:.1} ms), warm load {:.1} ms (cached artifact {:.1} ms)",
            size / 1024,
            cold.total_time.as_secs_f64() * 1e3,
            cold.compile_time.as_secs_f64() * 1e3,
            warm.total_time.as_secs_f64() * 1e3,
            warm.compile_time.as_secs_f64() * 1e3,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_instance_pool_wait_for_a_slot() {
    let runtime = Runtime::new(RuntimeOptions {
        max_instances: 2,
        ..RuntimeOptions::default()
    })
    .unwrap();
    let gateway = runtime
        .load("small-pool", &GatewayConfig::new(misbehaving()))
        .await
        .unwrap();
    let calls = (0..12).map(|i| {
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let mut req = request("fine");
            req.idempotency_key = format!("key-{i}");
            gateway.charge(req).await
        })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await
            .unwrap()
            .expect("waits for a slot instead of failing");
    }
}

#[tokio::test]
async fn a_component_whose_interfaces_lack_functions_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "hollow.wat", &hollow_component("0.1.0"));
    let err = runtime()
        .load("hollow", &GatewayConfig::new(&path))
        .await
        .expect_err("interfaces without their functions must be refused");
    assert!(matches!(err, LoadError::Incompatible { .. }), "{err:?}");
    let message = err.to_string();
    println!("{message}");
    assert!(message.contains("does not match the contract"), "{message}");
}
