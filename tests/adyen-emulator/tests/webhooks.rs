//! Notification batches: HMAC signatures checked with Adyen's documented algorithm, retries until
//! `[accepted]`, batching, duplicates and out-of-order delivery.

mod common;

use std::time::Duration;

use adyen_emulator::{SettleDelay, hmac_signature, signing_string};
use serde_json::{Value, json};

use common::{
    MERCHANT, accept_all, card, items, next_batch, payment, receiver, s, start, verify_hmac,
};

/// The delivery log once `ready` holds (deliveries are recorded when the answer is read).
async fn deliveries_when(
    emulator: &adyen_emulator::Emulator,
    ready: impl Fn(&[adyen_emulator::Delivery]) -> bool,
) -> Vec<adyen_emulator::Delivery> {
    for _ in 0..200 {
        let deliveries = emulator.webhooks().deliveries();
        if ready(&deliveries) {
            return deliveries;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("deliveries: {:?}", emulator.webhooks().deliveries())
}

/// Collects items from batches until `n` items arrived.
async fn collect(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Value>, n: usize) -> Vec<Value> {
    let mut all = Vec::new();
    while all.len() < n {
        let batch = next_batch(rx).await;
        assert_eq!(batch["live"], "false");
        all.extend(items(&batch));
    }
    all
}

#[tokio::test]
async fn batches_are_signed_and_retried_until_accepted() {
    let (emulator, api) = start().await;
    // The first answer is a 500, the second a 200 without "[accepted]": both are retried.
    fn flaky(n: usize) -> (u16, &'static str) {
        match n {
            0 => (500, "oops"),
            1 => (200, "ok"),
            _ => (200, "[accepted]"),
        }
    }
    let (url, mut rx) = receiver(flaky).await;
    let endpoint = emulator.add_webhook_endpoint(&url).unwrap();
    assert_eq!(endpoint.hmac_key.len(), 64);
    let mut body = payment(2500, "EUR", card("4111111111111111"));
    body["metadata"] = json!({"crm": "TX-9"});
    let psp = s(&api.post("/payments", &body).await.ok()["pspReference"]).to_string();
    let mut attempts = Vec::new();
    loop {
        let batch = next_batch(&mut rx).await;
        let item = items(&batch).remove(0);
        assert!(
            verify_hmac(&endpoint.hmac_key, &item),
            "signature of {item}"
        );
        assert_eq!(item["pspReference"], psp.as_str());
        assert_eq!(item["additionalData"]["metadata.crm"], "TX-9");
        attempts.push(batch["_answered"].clone());
        if batch["_answered"] == "[accepted]" {
            break;
        }
    }
    assert_eq!(
        attempts,
        vec![json!("oops"), json!("ok"), json!("[accepted]")]
    );
    // The attempt is recorded once the endpoint's answer is read.
    let deliveries = deliveries_when(&emulator, |d| d.len() == 3).await;
    assert_eq!(
        deliveries.iter().map(|d| d.attempt).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(deliveries[2].accepted && !deliveries[1].accepted);
    assert_eq!(deliveries[1].status, Some(200));
    // The exported helpers agree with the independent check.
    let item = &deliveries[2].items[0];
    let signature = hmac_signature(&endpoint.hmac_key, item).unwrap();
    assert_eq!(item["additionalData"]["hmacSignature"], signature.as_str());
    assert!(signing_string(item).ends_with(":2500:EUR:AUTHORISATION:true"));
    // A wrong key does not verify.
    assert!(!verify_hmac(&"00".repeat(32), item));
}

#[tokio::test]
async fn endpoints_with_given_keys_batching_duplicates_and_reordering() {
    let (emulator, api) = start().await;
    emulator.set_settle_delay(SettleDelay::Manual);
    let key = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00";
    let (url, mut rx) = receiver(accept_all).await;
    let endpoint = api
        .admin("webhook_endpoints", &[("url", &url), ("hmac_key", key)])
        .await;
    assert_eq!(endpoint["hmacKey"], key);
    assert!(
        emulator
            .add_webhook_endpoint_with_key(&url, "not hex")
            .is_err()
    );
    assert!(emulator.add_webhook_endpoint("ftp://example").is_err());
    // Held deliveries queue up, then go out newest first, one per batch.
    emulator.webhooks().hold();
    let mut refs = Vec::new();
    for amount in [101, 102, 103] {
        let mut body = payment(amount, "EUR", card("4111111111111111"));
        body["additionalData"] = json!({"manualCapture": "true"});
        refs.push(s(&api.post("/payments", &body).await.ok()["pspReference"]).to_string());
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(emulator.webhooks().deliveries().is_empty());
    api.admin("notifications/release", &[("order", "reverse")])
        .await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let batch = next_batch(&mut rx).await;
        let items = items(&batch);
        assert_eq!(items.len(), 1);
        assert!(verify_hmac(key, &items[0]));
        seen.push(s(&items[0]["pspReference"]).to_string());
    }
    let mut expected = refs.clone();
    expected.reverse();
    assert_eq!(seen, expected);
    // Several events queued together go out in one batch.
    for psp in &refs {
        let capture =
            json!({"merchantAccount": MERCHANT, "amount": {"value": 1, "currency": "EUR"}});
        api.post(&format!("/payments/{psp}/captures"), &capture)
            .await
            .ok();
    }
    emulator.webhooks().hold();
    emulator.release_settlements();
    emulator.webhooks().release(false);
    let captures = items(&next_batch(&mut rx).await);
    assert_eq!(captures.len(), 3, "one batch: {captures:?}");
    assert!(
        captures
            .iter()
            .all(|i| i["eventCode"] == "CAPTURE" && verify_hmac(key, i))
    );
    // Duplicates: the next item is delivered twice.
    api.admin("notifications/duplicate_next", &[("count", "1")])
        .await;
    let psp = s(&api.pay("4111111111111111", 55).await["pspReference"]).to_string();
    let twice = collect(&mut rx, 2).await;
    assert!(twice.iter().all(|i| i["pspReference"] == psp.as_str()));
    assert_eq!(twice[0], twice[1]);
    // The admin routes list endpoints, items and deliveries.
    let listed = api.page("/_emulator/webhook_endpoints").await.ok();
    assert_eq!(listed["data"][0]["hmacKey"], key);
    let all = api.page("/_emulator/notifications").await.ok();
    assert!(all["items"].as_array().unwrap().len() >= 7);
    let deliveries = api.page("/_emulator/notifications/deliveries").await.ok();
    assert!(deliveries["deliveries"].as_array().unwrap().len() >= 5);
    let id = s(&listed["data"][0]["id"]).to_string();
    let deleted = api
        .try_send(
            http::Method::DELETE,
            &format!("/_emulator/webhook_endpoints/{id}"),
            None,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(deleted.status, 200);
}
