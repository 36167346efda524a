//! Faults: retries, deadlines, dropped connections, and how errors are mapped.

use std::time::Duration;

use anyhow::{Result, bail, ensure};
use omnicrm_host::contract::{CaptureMode, GatewayError, PaymentStatus};
use omnicrm_host::{CallError, Limits, SecretSource};
use stripe_emulator::FailSpec;
use tokio::net::TcpListener;

use super::{Env, Setup, charge_request, gateway_error, intent_fault};

/// Two injected 503s on the charge: the plugin retries with the same key and charges once.
pub async fn retry_after_503_charges_once(s: Setup) -> Result<()> {
    let env = Env::start(s).await?;
    let (customer, card) = env.customer_with_card("crm-503", "pm_card_visa").await?;
    env.emulator.faults().fail_next(intent_fault(2, 503));
    let p = env
        .charge(&customer, &card, 7_700, CaptureMode::Automatic, "retry-503")
        .await?;
    ensure!(p.status == PaymentStatus::Succeeded, "{p:?}");
    let intents = env.oracle.intents_of(&customer).await?;
    ensure!(intents.len() == 1, "charged {} times", intents.len());
    let charges = env.oracle.list_all("/v1/balance_transactions").await?;
    ensure!(charges.iter().filter(|t| t["type"] == "charge").count() == 1);

    // A 500 on a POST is not retried (it may have been processed): outcome unknown.
    env.emulator.faults().fail_next(intent_fault(1, 500));
    let err = env
        .failed_charge(&customer, &card, 100, "retry-500")
        .await?;
    ensure!(
        matches!(&err, GatewayError::OutcomeUnknown(f) if f.request_id.is_some()),
        "{err:?}"
    );
    // 429 lock_timeout is retried; a plain 429 is rate-limited.
    env.emulator.faults().fail_next(FailSpec {
        lock_timeout: true,
        ..intent_fault(1, 429)
    });
    env.charge(&customer, &card, 100, CaptureMode::Automatic, "retry-lock")
        .await?;
    env.emulator.faults().fail_next(intent_fault(1, 429));
    let err = env
        .failed_charge(&customer, &card, 100, "retry-429")
        .await?;
    ensure!(matches!(err, GatewayError::RateLimited(_)), "{err:?}");
    // A 503 (which a POST may have been processed by), then a plain 429 on the retry: the 429
    // speaks for the last attempt only, so the outcome is unknown, not "rate limited"...
    for status in [503, 429] {
        env.emulator.faults().fail_next(intent_fault(1, status));
    }
    let err = env
        .failed_charge(&customer, &card, 100, "retry-mixed")
        .await?;
    ensure!(matches!(err, GatewayError::OutcomeUnknown(_)), "{err:?}");
    // ... and repeating with the same key settles it.
    let p = env
        .charge(&customer, &card, 100, CaptureMode::Automatic, "retry-mixed")
        .await?;
    ensure!(p.status == PaymentStatus::Succeeded, "{p:?}");
    // Stripe-Should-Retry: false wins over the status.
    env.emulator.faults().fail_next(FailSpec {
        should_retry: Some(false),
        ..intent_fault(1, 503)
    });
    let err = env.failed_charge(&customer, &card, 100, "retry-no").await?;
    ensure!(matches!(err, GatewayError::OutcomeUnknown(_)), "{err:?}");
    Ok(())
}

/// Retries and timeouts stay within the call's deadline: with 503s that never stop, the plugin
/// gives up in time and says the outcome is unknown (a POST); with a server slower than the
/// deadline, the attempt times out inside the plugin, which still answers before the host's
/// deadline.
pub async fn retries_and_timeouts_stay_within_the_deadline(s: Setup) -> Result<()> {
    let env = Env::start_with(s, |c| {
        c.with_setting("max-retries", "50")
            .with_setting("retry-backoff-ms", "200")
            .with_setting("retry-backoff-max-ms", "200")
            .with_limits(Limits {
                memory_mib: 64,
                call_timeout_ms: 2_000,
                ..Limits::default()
            })
    })
    .await?;
    let (customer, card) = env
        .customer_with_card("crm-deadline", "pm_card_visa")
        .await?;
    env.emulator.faults().fail_next(intent_fault(1_000, 503));
    let started = std::time::Instant::now();
    let err = env
        .failed_charge(&customer, &card, 100, "deadline-1")
        .await?;
    ensure!(matches!(err, GatewayError::OutcomeUnknown(_)), "{err:?}");
    ensure!(
        started.elapsed() < Duration::from_millis(2_000),
        "{:?}",
        started.elapsed()
    );
    env.emulator.faults().clear();

    env.emulator.faults().set_latency(Duration::from_secs(5));
    let started = std::time::Instant::now();
    let err = env
        .failed_charge(&customer, &card, 100, "deadline-2")
        .await?;
    ensure!(matches!(err, GatewayError::OutcomeUnknown(_)), "{err:?}");
    ensure!(
        started.elapsed() < Duration::from_millis(2_000),
        "{:?}",
        started.elapsed()
    );
    env.emulator.faults().set_latency(Duration::ZERO);
    Ok(())
}

/// The emulator commits the charge and drops the connection, every attempt: the plugin reports
/// an unknown outcome; repeating with the same key returns the original payment, charged once.
pub async fn dropped_connection_is_unknown_then_replayed(s: Setup) -> Result<()> {
    let env = Env::start(s).await?;
    let (customer, card) = env.customer_with_card("crm-drop", "pm_card_visa").await?;
    // max-retries is 3: four attempts, all dropped after the commit.
    env.emulator
        .faults()
        .drop_after_commit(4, Some("/v1/payment_intents".into()));
    let result = env
        .charge(&customer, &card, 6_600, CaptureMode::Automatic, "drop-1")
        .await;
    let err = match result {
        Err(e) => e,
        Ok(p) => bail!("expected an unknown outcome, got {p:?}"),
    };
    ensure!(err.may_have_moved_money(), "{err:?}");
    ensure!(
        matches!(err, CallError::Gateway(GatewayError::OutcomeUnknown(_))),
        "{err:?}"
    );

    let p = env
        .charge(&customer, &card, 6_600, CaptureMode::Automatic, "drop-1")
        .await?;
    ensure!(
        p.status == PaymentStatus::Succeeded && p.amount.amount == 6_600,
        "{p:?}"
    );
    let intents = env.oracle.intents_of(&customer).await?;
    ensure!(
        intents.len() == 1 && intents[0]["id"] == p.id.as_str(),
        "charged {} times",
        intents.len()
    );

    // One drop, then the retry inside the same call gets the replay: success, charged once.
    env.emulator
        .faults()
        .drop_after_commit(1, Some("/v1/payment_intents".into()));
    let q = env
        .charge(&customer, &card, 1_100, CaptureMode::Automatic, "drop-2")
        .await?;
    ensure!(q.status == PaymentStatus::Succeeded);
    let intents = env.oracle.intents_of(&customer).await?;
    ensure!(intents.len() == 2, "charged {} times", intents.len());
    Ok(())
}

/// Input errors name the contract's field; a bad API key is a configuration error; a host that
/// is not reachable is "not attempted"; a key reused with other input is a conflict.
pub async fn errors_are_mapped(s: Setup) -> Result<()> {
    let env = Env::start(s).await?;
    let (customer, card) = env.customer_with_card("crm-errors", "pm_card_visa").await?;
    let mut bad = charge_request(
        &customer,
        &card,
        100,
        CaptureMode::Automatic,
        "bad-currency",
    );
    bad.amount.currency = "US$".into();
    let err = gateway_error(env.gateway.charge(bad).await)?;
    ensure!(
        matches!(&err, GatewayError::InvalidInput(i) if i.field == "currency"),
        "{err:?}"
    );
    // Three letters, but no currency: Stripe refuses it, naming the parameter.
    let mut unknown = charge_request(&customer, &card, 100, CaptureMode::Automatic, "zzz");
    unknown.amount.currency = "ZZZ".into();
    let err = gateway_error(env.gateway.charge(unknown).await)?;
    ensure!(
        matches!(&err, GatewayError::InvalidInput(i) if i.field == "currency" && i.request_id.is_some()),
        "{err:?}"
    );
    let err = env.failed_charge(&customer, &card, -5, "neg").await?;
    ensure!(
        matches!(&err, GatewayError::InvalidInput(i) if i.field == "amount"),
        "{err:?}"
    );
    let err = env.failed_charge(&customer, &card, 100, "bad key!").await?;
    ensure!(
        matches!(&err, GatewayError::InvalidInput(i) if i.field == "idempotency-key"),
        "{err:?}"
    );

    // Same key, different amount: Stripe's idempotency error.
    env.charge(&customer, &card, 100, CaptureMode::Automatic, "conflict")
        .await?;
    let err = env.failed_charge(&customer, &card, 200, "conflict").await?;
    ensure!(
        matches!(err, GatewayError::IdempotencyConflict(_)),
        "{err:?}"
    );

    // A card of nobody: not found.
    let err = env
        .failed_charge(&customer, "pm_doesnotexist", 100, "nf")
        .await?;
    ensure!(
        matches!(&err, GatewayError::NotFound(n) if n.kind == "card")
            || matches!(&err, GatewayError::InvalidInput(i) if i.field == "card"),
        "{err:?}"
    );

    // A revoked key (the emulator accepts only sk_test_ keys).
    let config = env
        .config
        .clone()
        .with_secret("api-key", SecretSource::value("sk_live_revoked_key_0000"));
    let bad_key = env.runtime.load("stripe-bad-key", &config).await?;
    let err = gateway_error(bad_key.get_payment("pi_x").await)?;
    ensure!(matches!(err, GatewayError::Configuration(_)), "{err:?}");

    // A base URL the host does not allow: nothing is sent.
    let config = env
        .config
        .clone()
        .with_setting("base-url", "https://api.stripe.com");
    let denied = env.runtime.load("stripe-denied", &config).await?;
    let err = gateway_error(
        denied
            .charge(charge_request(
                &customer,
                &card,
                100,
                CaptureMode::Automatic,
                "denied",
            ))
            .await,
    )?;
    ensure!(matches!(err, GatewayError::NotAttempted(_)), "{err:?}");

    // An allowed host that refuses connections: retried, then "not attempted".
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        format!("http://{}", listener.local_addr()?)
    };
    let config = env
        .config
        .clone()
        .allow_host(closed.clone())
        .with_setting("base-url", closed);
    let refused = env.runtime.load("stripe-refused", &config).await?;
    let err = gateway_error(
        refused
            .charge(charge_request(
                &customer,
                &card,
                100,
                CaptureMode::Automatic,
                "refused",
            ))
            .await,
    )?;
    ensure!(matches!(err, GatewayError::NotAttempted(_)), "{err:?}");
    Ok(())
}
