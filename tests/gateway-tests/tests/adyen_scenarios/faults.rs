//! Money moved once whatever happens on the way: idempotent replays, connections dropped after
//! Adyen acted, server errors and rate limits; errors mapped; the plugin's description.

use adyen_emulator::FailSpec;
use anyhow::{Result, ensure};
use omnicrm_host::contract::{Capabilities, CaptureMode, GatewayError, PaymentStatus};

use super::*;

/// Fails the next `count` payment requests with `status`.
fn fault(count: u32, status: u16, transient: Option<bool>) -> FailSpec {
    FailSpec {
        count,
        status,
        path_prefix: Some("/v71/payments".into()),
        transient_error: transient,
    }
}

/// The same key replays the first answer: one payment at Adyen, whatever the repeats, keys
/// longer than Adyen's included; the same key with another amount is refused.
pub async fn idempotent_replay_charges_once(transport: Transport) -> Result<()> {
    let env = Env::start(transport).await?;
    let (shopper, card) = env.customer_with_card("CRM-IDEM-1").await?;
    let first = env
        .charge(&shopper, &card, 1_500, CaptureMode::Automatic, "txn-5001")
        .await?;
    let again = env
        .charge(&shopper, &card, 1_500, CaptureMode::Automatic, "txn-5001")
        .await?;
    ensure!(
        first.id == again.id && again.status == PaymentStatus::Succeeded,
        "{again:?}"
    );
    ensure!(env.payments_with_reference("txn-5001").len() == 1);

    // A caller key longer than Adyen's 64 characters: a shorter key, the same every time.
    let long_key = format!("txn-{}", "9".repeat(150));
    let mut request = charge_request(&shopper, &card, 700, CaptureMode::Automatic, &long_key);
    request.metadata = vec![("crm_transaction_id".into(), "txn-5002".into())];
    let a = env.gateway.charge(request.clone()).await?;
    let b = env.gateway.charge(request).await?;
    ensure!(a.id == b.id, "{a:?} {b:?}");
    ensure!(env.payments_with_reference("txn-5002").len() == 1);

    // The same key with another amount is another request: refused, nothing charged.
    let conflict = gateway_error(
        env.charge(&shopper, &card, 9_999, CaptureMode::Automatic, "txn-5001")
            .await,
    )?;
    ensure!(
        matches!(conflict, GatewayError::IdempotencyConflict(_)),
        "{conflict:?}"
    );
    ensure!(env.payments_with_reference("txn-5001").len() == 1);
    Ok(())
}

/// Adyen charges, then every connection drops before the answer: `outcome-unknown`; repeating
/// with the same key answers the original payment. One drop the retries recover from is no
/// error at all.
pub async fn dropped_connection_is_unknown_then_replayed(transport: Transport) -> Result<()> {
    let env = Env::start(transport).await?;
    let (shopper, card) = env.customer_with_card("CRM-DROP-1").await?;
    // The first attempt and its three retries (`max-retries`).
    env.emulator
        .faults()
        .drop_after_commit(4, Some("/v71/payments".into()));
    let unknown = gateway_error(
        env.charge(&shopper, &card, 2_000, CaptureMode::Automatic, "txn-6001")
            .await,
    )?;
    ensure!(
        matches!(unknown, GatewayError::OutcomeUnknown(_)),
        "{unknown:?}"
    );
    let charged = env.payments_with_reference("txn-6001");
    ensure!(charged.len() == 1, "Adyen charged once: {charged:?}");
    let replay = env
        .charge(&shopper, &card, 2_000, CaptureMode::Automatic, "txn-6001")
        .await?;
    ensure!(
        replay.id == charged[0]["pspReference"].as_str().unwrap_or_default(),
        "{replay:?}"
    );
    ensure!(replay.status == PaymentStatus::Succeeded);
    ensure!(env.payments_with_reference("txn-6001").len() == 1);

    env.emulator
        .faults()
        .drop_after_commit(1, Some("/v71/payments".into()));
    let recovered = env
        .charge(&shopper, &card, 2_000, CaptureMode::Automatic, "txn-6002")
        .await?;
    let charged = env.payments_with_reference("txn-6002");
    ensure!(
        charged.len() == 1 && charged[0]["pspReference"] == recovered.id.as_str(),
        "{charged:?}"
    );
    Ok(())
}

/// 5xx answers are retried with the same key (one payment), `Transient-Error: true` too, and
/// `Transient-Error: false` is not; a 5xx after the retries is `outcome-unknown`; 429 is
/// `rate-limited` at once; a failing lookup is `not-attempted`.
pub async fn server_errors_and_rate_limits(transport: Transport) -> Result<()> {
    let env = Env::start(transport).await?;
    let (shopper, card) = env.customer_with_card("CRM-FAULT-1").await?;
    let faults = env.emulator.faults();

    faults.fail_next(fault(2, 503, None));
    let paid = env
        .charge(&shopper, &card, 1_000, CaptureMode::Automatic, "txn-7001")
        .await?;
    ensure!(paid.status == PaymentStatus::Succeeded, "{paid:?}");
    ensure!(env.payments_with_reference("txn-7001").len() == 1);

    faults.fail_next(fault(1, 409, Some(true)));
    env.charge(&shopper, &card, 1_000, CaptureMode::Automatic, "txn-7002")
        .await?;
    ensure!(env.payments_with_reference("txn-7002").len() == 1);

    // Every attempt fails: Adyen may have acted on a POST, so the outcome is unknown (here it
    // did not: the emulator executes nothing it fails), and the same key then charges once.
    faults.fail_next(fault(4, 500, None));
    let unknown = gateway_error(
        env.charge(&shopper, &card, 1_000, CaptureMode::Automatic, "txn-7003")
            .await,
    )?;
    ensure!(
        matches!(unknown, GatewayError::OutcomeUnknown(_)),
        "{unknown:?}"
    );
    ensure!(env.payments_with_reference("txn-7003").is_empty());
    env.charge(&shopper, &card, 1_000, CaptureMode::Automatic, "txn-7003")
        .await?;
    ensure!(env.payments_with_reference("txn-7003").len() == 1);

    // Adyen says the request will not succeed later: not retried.
    faults.fail_next(fault(2, 503, Some(false)));
    let final_error = gateway_error(
        env.charge(&shopper, &card, 1_000, CaptureMode::Automatic, "txn-7004")
            .await,
    )?;
    ensure!(
        matches!(final_error, GatewayError::OutcomeUnknown(_)),
        "{final_error:?}"
    );
    // The second fault is still waiting: the plugin made one attempt.
    let second = gateway_error(
        env.charge(&shopper, &card, 1_000, CaptureMode::Automatic, "txn-7004")
            .await,
    )?;
    ensure!(
        matches!(second, GatewayError::OutcomeUnknown(_)),
        "{second:?}"
    );
    env.charge(&shopper, &card, 1_000, CaptureMode::Automatic, "txn-7004")
        .await?;
    ensure!(env.payments_with_reference("txn-7004").len() == 1);

    // Too many requests: answered at once (the host paces and backs off), nothing charged.
    faults.fail_next(fault(1, 429, None));
    let limited = gateway_error(
        env.charge(&shopper, &card, 1_000, CaptureMode::Automatic, "txn-7005")
            .await,
    )?;
    ensure!(
        matches!(limited, GatewayError::RateLimited(_)),
        "{limited:?}"
    );
    ensure!(env.payments_with_reference("txn-7005").is_empty());
    env.charge(&shopper, &card, 1_000, CaptureMode::Automatic, "txn-7005")
        .await?;
    ensure!(env.payments_with_reference("txn-7005").len() == 1);

    // A lookup that keeps failing changed nothing.
    faults.fail_next(FailSpec {
        count: 4,
        status: 503,
        path_prefix: Some("/v71/storedPaymentMethods".into()),
        transient_error: None,
    });
    let lookup = gateway_error(env.gateway.list_cards(&shopper).await)?;
    ensure!(
        matches!(lookup, GatewayError::NotAttempted(_)),
        "{lookup:?}"
    );
    ensure!(env.gateway.list_cards(&shopper).await?.len() == 1);
    Ok(())
}

/// Adyen's error answers in the contract's terms, and the plugin's own checks.
pub async fn errors_are_mapped(transport: Transport) -> Result<()> {
    let env = Env::start(transport).await?;
    let (shopper, card) = env.customer_with_card("CRM-ERRORS-1").await?;

    let unknown_card = gateway_error(
        env.charge(
            &shopper,
            "UNKNOWNCARD00001",
            1_000,
            CaptureMode::Automatic,
            "txn-e1",
        )
        .await,
    )?;
    ensure!(
        matches!(&unknown_card, GatewayError::NotFound(n) if n.kind == "card" && n.id == "UNKNOWNCARD00001"),
        "{unknown_card:?}"
    );
    let other = env.customer("CRM-ERRORS-2").await?;
    let foreign = gateway_error(
        env.charge(&other, &card, 1_000, CaptureMode::Automatic, "txn-e2")
            .await,
    )?;
    ensure!(matches!(foreign, GatewayError::NotFound(_)), "{foreign:?}");
    let unknown_payment =
        gateway_error(env.capture("UNKNOWNPAYMENT01", 100, true, "cap-e3").await)?;
    ensure!(
        matches!(&unknown_payment, GatewayError::NotFound(n) if n.kind == "payment" && n.id == "UNKNOWNPAYMENT01"),
        "{unknown_payment:?}"
    );
    let zero = gateway_error(
        env.charge(&shopper, &card, 0, CaptureMode::Automatic, "txn-e4")
            .await,
    )?;
    ensure!(
        matches!(&zero, GatewayError::InvalidInput(i) if i.field == "amount"),
        "{zero:?}"
    );
    let mut rupiah = charge_request(&shopper, &card, 150, CaptureMode::Automatic, "txn-e5");
    rupiah.amount.currency = "IDR".into();
    let rupiah = gateway_error(env.gateway.charge(rupiah).await)?;
    ensure!(
        matches!(&rupiah, GatewayError::InvalidInput(i) if i.field == "amount"),
        "{rupiah:?}"
    );
    let mut crowded = charge_request(&shopper, &card, 100, CaptureMode::Automatic, "txn-e6");
    crowded.metadata = (0..20).map(|i| (format!("k{i}"), "v".into())).collect();
    let crowded = gateway_error(env.gateway.charge(crowded).await)?;
    ensure!(
        matches!(&crowded, GatewayError::InvalidInput(i) if i.field == "metadata"),
        "{crowded:?}"
    );
    for key in ["txn-e1", "txn-e2", "txn-e4", "txn-e5", "txn-e6"] {
        ensure!(env.payments_with_reference(key).is_empty(), "{key} charged");
    }

    // Configurations Adyen refuses, or the plugin can't use.
    let variant = |name: &str, key: &str, value: Option<&str>| {
        let mut config = env.config.clone();
        match value {
            Some(v) => config.settings.insert(key.into(), v.into()),
            None => config.settings.remove(key),
        };
        (name.to_owned(), config)
    };
    for (name, config) in [
        variant(
            "adyen-wrong-account",
            "merchant-account",
            Some("SomeoneElse"),
        ),
        variant("adyen-no-account", "merchant-account", None),
        variant(
            "adyen-versioned-base",
            "base-url",
            Some(&format!("{}/v70", env.config.settings["base-url"])),
        ),
        variant("adyen-no-return-url", "return-url", None),
    ] {
        let gateway = env.runtime.load(&name, &config).await?;
        let error = gateway_error(
            gateway
                .charge(charge_request(
                    &shopper,
                    &card,
                    100,
                    CaptureMode::Automatic,
                    "txn-e7",
                ))
                .await,
        )?;
        ensure!(
            matches!(error, GatewayError::Configuration(_)),
            "{name}: {error:?}"
        );
    }
    let mut wrong_key = env.config.clone();
    wrong_key.secrets.insert(
        "api-key".into(),
        omnicrm_host::SecretSource::value("AQE_not_the_key"),
    );
    let gateway = env.runtime.load("adyen-wrong-key", &wrong_key).await?;
    let error = gateway_error(gateway.list_cards(&shopper).await)?;
    ensure!(
        matches!(&error, GatewayError::Configuration(f) if f.message.contains("401") && !f.message.contains("AQE_")),
        "{error:?}"
    );
    ensure!(env.payments_with_reference("txn-e7").is_empty());
    Ok(())
}

/// What the plugin says it does, and what the host therefore never calls.
pub async fn describes_its_contract_and_capabilities(transport: Transport) -> Result<()> {
    let env = Env::start(transport).await?;
    let info = env.gateway.info();
    ensure!(
        info.name == "adyen" && info.display_name == "Adyen",
        "{info:?}"
    );
    let expected = Capabilities::PARTIAL_CAPTURE
        | Capabilities::MULTIPLE_CAPTURES
        | Capabilities::ASYNC_MODIFICATIONS
        | Capabilities::DISPUTES
        | Capabilities::CARD_SESSIONS
        | Capabilities::CUSTOMER_ACTIONS;
    ensure!(
        env.gateway.capabilities() == expected,
        "{:?}",
        env.gateway.capabilities()
    );
    // Adyen has no payment or refund lookup: the host answers for the plugin.
    for error in [
        gateway_error(env.gateway.get_payment("ABCDEFGHIJKLMNOP").await)?,
        gateway_error(env.gateway.get_refund("ABCDEFGHIJKLMNOP").await)?,
    ] {
        ensure!(matches!(error, GatewayError::Unsupported(_)), "{error:?}");
    }
    // Shoppers need no call to Adyen: they work while every request fails.
    env.emulator.faults().fail_next(FailSpec {
        count: 100,
        status: 500,
        path_prefix: None,
        transient_error: None,
    });
    ensure!(env.customer("CRM-OFFLINE-1").await? == "CRM-OFFLINE-1");
    env.emulator.faults().clear();
    Ok(())
}
