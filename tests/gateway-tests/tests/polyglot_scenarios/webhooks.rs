//! `webhooks`: events signed with the host-held secret, verified through `verify-mac`, and
//! every rejection.

use super::*;
use hmac::{Hmac, Mac};
use omnicrm_host::contract::{
    EventKind, ModificationKind, PaymentStatus, Rejection, WebhookOutcome, WebhookRequest,
};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn signed(secret: &str, timestamp: i64, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    let signature = hex::encode(mac.finalize().into_bytes());
    vec![
        ("content-type".into(), b"application/json".to_vec()),
        (
            "example-signature".into(),
            format!("t={timestamp},v1={signature}").into_bytes(),
        ),
    ]
}

async fn webhook(
    gateway: &Gateway,
    method: &str,
    headers: Vec<(String, Vec<u8>)>,
    body: &[u8],
) -> Result<WebhookOutcome, Rejection> {
    gateway
        .handle_webhook(WebhookRequest {
            method: method.into(),
            path: "/webhooks/example".into(),
            query: String::new(),
            headers,
            body: body.to_vec(),
        })
        .await
        .expect("the call itself works")
}

pub async fn webhooks_verified_by_the_host_or_rejected(example: &Example) {
    let gateway = example.gateway().await;
    let (customer, card) = customer_with_card(&gateway, "crm-6", "tok_visa").await;
    let payment = gateway
        .charge(charge_request(
            &customer,
            &card.id,
            1200,
            CaptureMode::Automatic,
            "pay-1",
        ))
        .await
        .unwrap();
    let body = format!(
        r#"{{"id":"evt_1","created":1700000000,"type":"payment.succeeded",
            "data":{{"payment":"{}","metadata":{{"crm_transaction_id":"42"}}}}}}"#,
        payment.id
    );
    let body = body.as_bytes();

    let outcome = webhook(&gateway, "POST", signed(WEBHOOK_SECRET, now(), body), body)
        .await
        .expect("verified");
    assert_eq!(outcome.response.status, 200);
    assert_eq!(
        outcome.response.content_type.as_deref(),
        Some("application/json")
    );
    assert_eq!(outcome.response.body, br#"{"received":true}"#);
    let [event] = &outcome.events[..] else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        (
            event.id.as_str(),
            event.created,
            event.gateway_type.as_str()
        ),
        ("evt_1", 1_700_000_000, "payment.succeeded")
    );
    match &event.kind {
        EventKind::Payment(update) => {
            assert_eq!(
                (
                    &update.payment,
                    update.status,
                    &update.amount,
                    update.amount_captured
                ),
                (
                    &payment.id,
                    PaymentStatus::Succeeded,
                    &usd(1200),
                    Some(1200)
                )
            );
            assert_eq!(
                update.metadata,
                [("crm_transaction_id".into(), "42".into())]
            );
        }
        other => panic!("{other:?}"),
    }

    let refund = gateway
        .refund_payment(refund_request(&payment.id, usd(200), "re-1"))
        .await
        .unwrap();
    let body = format!(
        r#"{{"id":"evt_2","created":1,"type":"refund.succeeded","data":{{"refund":"{}"}}}}"#,
        refund.id
    );
    let outcome = webhook(
        &gateway,
        "POST",
        signed(WEBHOOK_SECRET, now(), body.as_bytes()),
        body.as_bytes(),
    )
    .await
    .expect("verified");
    match &outcome.events[0].kind {
        EventKind::Modification(m) => assert_eq!(
            (&m.modification, m.kind, &m.payment, m.status, &m.amount),
            (
                &refund.id,
                ModificationKind::Refund,
                &payment.id,
                ModificationStatus::Succeeded,
                &Some(usd(200))
            )
        ),
        other => panic!("{other:?}"),
    }
    let other = br#"{"id":"evt_3","created":1,"type":"customer.updated"}"#;
    let outcome = webhook(
        &gateway,
        "POST",
        signed(WEBHOOK_SECRET, now(), other),
        other,
    )
    .await
    .unwrap();
    assert_eq!(
        outcome.events[0].kind,
        EventKind::Other("customer.updated".into())
    );

    // Rejections: nothing is read before the signature holds.
    assert_eq!(
        webhook(&gateway, "POST", vec![], body.as_bytes())
            .await
            .unwrap_err(),
        Rejection::MissingSignature
    );
    let forged = signed("whsec_someone_else", now(), body.as_bytes());
    assert_eq!(
        webhook(&gateway, "POST", forged, body.as_bytes())
            .await
            .unwrap_err(),
        Rejection::BadSignature
    );
    let tampered = signed(WEBHOOK_SECRET, now(), body.as_bytes());
    assert_eq!(
        webhook(&gateway, "POST", tampered, b"{}")
            .await
            .unwrap_err(),
        Rejection::BadSignature
    );
    let garbled = vec![("example-signature".into(), b"t=1,v1=xyz".to_vec())];
    assert_eq!(
        webhook(&gateway, "POST", garbled, other).await.unwrap_err(),
        Rejection::BadSignature
    );
    let old = now() - 3600;
    assert_eq!(
        webhook(&gateway, "POST", signed(WEBHOOK_SECRET, old, other), other)
            .await
            .unwrap_err(),
        Rejection::OutsideTolerance
    );
    for (method, body, expected) in [
        ("GET", &other[..], "POST"),
        ("POST", &b"not json"[..], "JSON"),
        ("POST", &br#"{"id":"","created":1,"type":"x"}"#[..], "id"),
        (
            "POST",
            &br#"{"id":"e","created":"1","type":"x"}"#[..],
            "created",
        ),
        (
            "POST",
            &br#"{"id":"e","created":1,"type":"payment.failed","data":{"payment":"pi_1"}}"#[..],
            "data.payment",
        ),
    ] {
        match webhook(&gateway, method, signed(WEBHOOK_SECRET, now(), body), body).await {
            Err(Rejection::Malformed(m)) => assert!(m.contains(expected), "{m}"),
            other => panic!("{method} {}: {other:?}", String::from_utf8_lossy(body)),
        }
    }

    // The plugin reads its settings through the host's `config`.
    let lenient = example
        .load(&example.config().with_setting("webhook-tolerance-secs", "0"))
        .await;
    assert!(
        webhook(&lenient, "POST", signed(WEBHOOK_SECRET, old, other), other)
            .await
            .is_ok()
    );
    // Without the secret, the host refuses the MAC and the plugin says it is not configured.
    let unconfigured = example
        .load(&GatewayConfig::new(example.path()).with_limits(limits()))
        .await;
    match webhook(
        &unconfigured,
        "POST",
        signed(WEBHOOK_SECRET, now(), other),
        other,
    )
    .await
    {
        Err(Rejection::NotConfigured(m)) => assert!(!m.contains(WEBHOOK_SECRET), "{m}"),
        other => panic!("{other:?}"),
    }
}
