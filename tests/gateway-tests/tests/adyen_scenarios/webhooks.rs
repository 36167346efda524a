//! Notifications through the plugin: signatures verified item by item with the host's MAC
//! service, bad items dropped, requests without a genuine item refused, the exact `[accepted]`
//! answer, duplicates and reordering, chargebacks.

use adyen_emulator::DisputeStage;
use anyhow::{Context, Result, ensure};
use omnicrm_host::contract::{CaptureMode, DisputeStatus, EventKind, PaymentStatus, Rejection};
use serde_json::{Value, json};

use super::*;

/// A batch of these items, as Adyen posts it.
fn batch(items: &[Value]) -> Vec<u8> {
    let items: Vec<Value> = items
        .iter()
        .map(|i| json!({"NotificationRequestItem": i}))
        .collect();
    serde_json::to_vec(&json!({"live": "false", "notificationItems": items})).unwrap_or_default()
}

/// `item` signed with the hex `key`, as Adyen signs items.
fn signed(item: &Value, key: &str) -> Result<Value> {
    let mut item = item.clone();
    if let Some(data) = item["additionalData"].as_object_mut() {
        data.remove("hmacSignature");
    }
    let signature = adyen_emulator::hmac_signature(key, &item)?;
    item["additionalData"]["hmacSignature"] = json!(signature);
    Ok(item)
}

/// The items of a delivered batch.
fn items_of(body: &[u8]) -> Result<Vec<Value>> {
    let batch: Value = serde_json::from_slice(body)?;
    Ok(batch["notificationItems"]
        .as_array()
        .context("notificationItems")?
        .iter()
        .map(|w| w["NotificationRequestItem"].clone())
        .collect())
}

/// A delivered notification verified and answered `[accepted]`; items tampered with, unsigned or
/// signed with another key dropped beside genuine ones, and refused alone; requests that are not
/// notification batches, and a host without the HMAC key, refused.
pub async fn webhooks_verified_dropped_and_refused(transport: Transport) -> Result<()> {
    let mut env = Env::start(transport).await?;
    let (shopper, card) = env.customer_with_card("CRM-HOOK-1").await?;
    let paid = env
        .charge(&shopper, &card, 1_200, CaptureMode::Automatic, "txn-8001")
        .await?;
    let (headers, body) = env.next_delivery("AUTHORISATION", &paid.id).await?;

    let outcome = handle(&env.gateway, headers.clone(), body.clone())
        .await?
        .map_err(|r| anyhow::anyhow!("rejected: {r:?}"))?;
    ensure!(
        outcome.response.status == 200 && outcome.response.body == b"[accepted]",
        "{:?}",
        outcome.response
    );
    ensure!(
        outcome.response.content_type.as_deref() == Some("text/plain"),
        "{:?}",
        outcome.response
    );
    let event = outcome
        .events
        .iter()
        .find(|e| e.id == format!("AUTHORISATION:{}:true", paid.id))
        .context("the authorisation")?;
    let EventKind::Payment(p) = &event.kind else {
        anyhow::bail!("{event:?}");
    };
    ensure!(
        p.status == PaymentStatus::Succeeded && p.amount.amount == 1_200,
        "{p:?}"
    );
    ensure!(
        p.metadata == [("crm_transaction_id".to_owned(), "txn-8001".to_owned())],
        "{p:?}"
    );

    let genuine = items_of(&body)?
        .into_iter()
        .find(|i| i["pspReference"] == paid.id.as_str())
        .context("the AUTHORISATION item")?;
    let mut tampered = genuine.clone();
    tampered["amount"]["value"] = json!(1);
    let mut unsigned = genuine.clone();
    if let Some(data) = unsigned["additionalData"].as_object_mut() {
        data.remove("hmacSignature");
    }
    let foreign = signed(
        &genuine,
        "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF",
    )?;

    // Beside a genuine item, the others are dropped and the batch acknowledged.
    let mixed = batch(&[
        tampered.clone(),
        genuine.clone(),
        unsigned.clone(),
        foreign.clone(),
    ]);
    let outcome = handle(&env.gateway, headers.clone(), mixed)
        .await?
        .map_err(|r| anyhow::anyhow!("rejected: {r:?}"))?;
    ensure!(
        outcome.events.len() == 1 && outcome.response.body == b"[accepted]",
        "{outcome:?}"
    );
    ensure!(outcome.events[0].id == event.id);

    // Alone, they are refused (the host answers 400, and Adyen keeps them queued).
    for (items, missing) in [
        (vec![tampered.clone()], false),
        (vec![foreign.clone()], false),
        (vec![unsigned.clone()], true),
        (vec![tampered, unsigned], false),
    ] {
        let answer = handle(&env.gateway, headers.clone(), batch(&items)).await?;
        let refused = match &answer {
            Err(Rejection::MissingSignature) => missing,
            Err(Rejection::BadSignature) => !missing,
            _ => false,
        };
        ensure!(refused, "{answer:?}");
    }

    // An item the test signs with the endpoint's key, Adyen's algorithm: accepted, and of a type
    // the contract does not model.
    let report = signed(
        &json!({
            "pspReference": "REPORT0000000001",
            "merchantAccountCode": MERCHANT_ACCOUNT,
            "merchantReference": "",
            "amount": {"value": 0, "currency": "EUR"},
            "eventCode": "REPORT_AVAILABLE",
            "eventDate": "2026-01-02T03:04:05+01:00",
            "success": "true",
            "reason": "https://ca-test.adyen.com/reports/settlement_detail_report_batch_1.csv",
            "additionalData": {},
        }),
        &env.hmac_key,
    )?;
    let outcome = handle(&env.gateway, Vec::new(), batch(&[report]))
        .await?
        .map_err(|r| anyhow::anyhow!("rejected: {r:?}"))?;
    ensure!(
        matches!(&outcome.events[..], [e] if matches!(&e.kind, EventKind::Other(t) if t == "REPORT_AVAILABLE")
            && e.created == 1_767_319_445),
        "{outcome:?}"
    );

    // Not a notification batch.
    for body in [
        b"[accepted]".to_vec(),
        b"{}".to_vec(),
        b"{\"notificationItems\": []}".to_vec(),
    ] {
        let answer = handle(&env.gateway, Vec::new(), body).await?;
        ensure!(matches!(answer, Err(Rejection::Malformed(_))), "{answer:?}");
    }
    let mut get = webhook_request(headers.clone(), body.clone());
    get.method = "GET".into();
    ensure!(matches!(
        env.gateway.handle_webhook(get).await?,
        Err(Rejection::Malformed(_))
    ));

    // A host that holds no HMAC key can't verify anything.
    let mut keyless = env.config.clone();
    keyless.secrets.remove("hmac-key");
    let keyless = env.runtime.load("adyen-no-hmac-key", &keyless).await?;
    let answer = handle(&keyless, headers, body).await?;
    ensure!(
        matches!(answer, Err(Rejection::NotConfigured(_))),
        "{answer:?}"
    );
    Ok(())
}

/// A notification delivered twice has the same event id; notifications delivered newest first
/// still name their payments, with the same ids.
pub async fn duplicate_and_out_of_order_batches(transport: Transport) -> Result<()> {
    let mut env = Env::start(transport).await?;
    let (shopper, card) = env.customer_with_card("CRM-HOOK-2").await?;
    // The card set-up's notifications (RECURRING_CONTRACT is the last) delivered first, so that
    // the next item delivered is the charge's.
    env.deliveries_of("RECURRING_CONTRACT", &card, 1).await?;
    env.emulator.webhooks().duplicate_next(1);
    let paid = env
        .charge(&shopper, &card, 900, CaptureMode::Automatic, "txn-9001")
        .await?;
    let twice = env.deliveries_of("AUTHORISATION", &paid.id, 2).await?;
    let mut ids = Vec::new();
    for index in twice {
        let (headers, body) = env.received[index].clone();
        let outcome = handle(&env.gateway, headers, body)
            .await?
            .map_err(|r| anyhow::anyhow!("rejected: {r:?}"))?;
        ids.extend(
            outcome
                .events
                .into_iter()
                .filter(|e| e.gateway_type == "AUTHORISATION")
                .map(|e| e.id),
        );
    }
    ensure!(
        ids.len() == 2 && ids[0] == ids[1],
        "a redelivery has the same id: {ids:?}"
    );

    // Held, then delivered newest first, one per batch.
    env.emulator.webhooks().hold();
    let auth = env
        .charge(&shopper, &card, 1_000, CaptureMode::Manual, "txn-9002")
        .await?;
    let capture = env.capture(&auth.id, 1_000, true, "cap-9002").await?;
    env.emulator.release_settlements();
    let refund = env.refund(&auth.id, 400, "refund-9002").await?;
    env.emulator.release_settlements();
    env.emulator.webhooks().release(true);
    let refund_at = env.deliveries_of("REFUND", &refund.id, 1).await?[0];
    let capture_at = env.deliveries_of("CAPTURE", &capture.id, 1).await?[0];
    let auth_at = env.deliveries_of("AUTHORISATION", &auth.id, 1).await?[0];
    ensure!(
        refund_at < capture_at && capture_at < auth_at,
        "newest first: {refund_at} {capture_at} {auth_at}"
    );
    let (refunded, _) = env.event("REFUND", &refund.id).await?;
    let (captured, _) = env.event("CAPTURE", &capture.id).await?;
    let (authorised, _) = env.event("AUTHORISATION", &auth.id).await?;
    ensure!(
        matches!(&refunded.kind, EventKind::Modification(m) if m.payment == auth.id && m.amount.as_ref().map(|a| a.amount) == Some(400)),
        "{refunded:?}"
    );
    ensure!(
        matches!(&captured.kind, EventKind::Modification(m) if m.payment == auth.id),
        "{captured:?}"
    );
    ensure!(
        matches!(&authorised.kind, EventKind::Payment(p) if p.payment == auth.id && p.status == PaymentStatus::RequiresCapture),
        "{authorised:?}"
    );
    ensure!(refunded.id == format!("REFUND:{}:true", refund.id));
    Ok(())
}

/// A chargeback through its stages: one dispute (Adyen's dispute reference), its payment, the
/// scheme's reason code, and a status per stage.
pub async fn chargebacks_are_disputes(transport: Transport) -> Result<()> {
    let mut env = Env::start(transport).await?;
    let (shopper, card) = env.customer_with_card("CRM-DISPUTE-1").await?;
    let paid = env
        .charge(&shopper, &card, 3_000, CaptureMode::Automatic, "txn-10001")
        .await?;
    let mut disputes = Vec::new();
    let mut ids = Vec::new();
    for (stage, code, status) in [
        (
            DisputeStage::Notified,
            "NOTIFICATION_OF_CHARGEBACK",
            DisputeStatus::Warning,
        ),
        (DisputeStage::Chargeback, "CHARGEBACK", DisputeStatus::Open),
        (
            DisputeStage::Reversed,
            "CHARGEBACK_REVERSED",
            DisputeStatus::Won,
        ),
        (
            DisputeStage::SecondChargeback,
            "SECOND_CHARGEBACK",
            DisputeStatus::Lost,
        ),
    ] {
        env.emulator.chargeback(&paid.id, stage, None, None)?;
        let (event, _) = env.event(code, &paid.id).await?;
        let EventKind::Dispute(d) = &event.kind else {
            anyhow::bail!("{code}: {event:?}");
        };
        ensure!(d.status == status, "{code}: {d:?}");
        ensure!(
            d.payment.as_deref() == Some(paid.id.as_str()) && d.amount.amount == 3_000,
            "{d:?}"
        );
        ensure!(d.reason == "10.4", "the scheme's reason code: {d:?}");
        if matches!(stage, DisputeStage::Notified | DisputeStage::Chargeback) {
            ensure!(
                d.evidence_due_by
                    .is_some_and(|t| t > env.emulator.clock().now()),
                "{d:?}"
            );
        }
        disputes.push(d.dispute.clone());
        ids.push(event.id.clone());
    }
    ensure!(
        disputes.iter().all(|d| *d == disputes[0]),
        "one dispute: {disputes:?}"
    );
    ids.sort();
    ids.dedup();
    ensure!(ids.len() == 4, "an event per stage: {ids:?}");
    Ok(())
}
