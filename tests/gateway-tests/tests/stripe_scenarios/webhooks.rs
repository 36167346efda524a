//! Webhooks: deliveries verified and normalized by the plugin, with MACs the host computes.

use anyhow::{Context, Result, bail, ensure};
use omnicrm_host::contract::{
    CaptureMode, CollectionMethod, DisputeStatus, EventKind, GatewayError, InvoiceRequest,
    InvoiceStatus, LineItem, ModificationKind, PaymentStatus, RefundRequest, Rejection,
};
use omnicrm_host::{OutboundAuth, SecretSource};

use super::{Env, Setup, handle, usd, verified};

/// Delivered events are verified and normalized (payment succeeded and failed, refund, dispute
/// opened, invoice paid); a tampered body is a bad signature; no header is a missing signature;
/// an event signed outside the tolerance is refused, and accepted with a wider configured one.
pub async fn webhooks_verified_and_rejected(s: Setup) -> Result<()> {
    let mut env = Env::start(s).await?;
    let (customer, card) = env
        .customer_with_card("crm-webhooks", "pm_card_visa")
        .await?;
    let p = env
        .charge(&customer, &card, 1_234, CaptureMode::Automatic, "wh-1")
        .await?;
    let (headers, body) = env
        .next_webhook("payment_intent.succeeded", Some(&p.id))
        .await?;
    let event = verified(&env.gateway, headers.clone(), body.clone()).await?;
    ensure!(event.id.starts_with("evt_") && event.gateway_type == "payment_intent.succeeded");
    let EventKind::Payment(update) = &event.kind else {
        bail!("{event:?}")
    };
    ensure!(
        update.payment == p.id && update.amount.amount == 1_234 && update.amount.currency == "USD",
        "{update:?}"
    );
    ensure!(update.status == PaymentStatus::Succeeded && update.decline.is_none());

    let mut tampered = body.clone();
    let pos = tampered
        .iter()
        .position(|b| *b == b'1')
        .context("a digit")?;
    tampered[pos] = b'9';
    let verdict = handle(&env.gateway, headers.clone(), tampered).await?;
    ensure!(
        matches!(verdict, Err(Rejection::BadSignature)),
        "{verdict:?}"
    );
    let unsigned: Vec<_> = headers
        .iter()
        .filter(|(k, _)| k != "stripe-signature")
        .cloned()
        .collect();
    let verdict = handle(&env.gateway, unsigned, body.clone()).await?;
    ensure!(
        matches!(verdict, Err(Rejection::MissingSignature)),
        "{verdict:?}"
    );
    let verdict = handle(&env.gateway, headers.clone(), b"not json".to_vec()).await?;
    ensure!(
        matches!(verdict, Err(Rejection::BadSignature)),
        "signature first: {verdict:?}"
    );

    // A refund.
    let refund = env
        .gateway
        .refund_payment(RefundRequest {
            payment: p.id.clone(),
            amount: usd(234),
            reason: None,
            metadata: vec![],
            idempotency_key: "wh-refund".into(),
        })
        .await?;
    let (h, b) = env.next_webhook("refund.created", Some(&refund.id)).await?;
    let EventKind::Modification(r) = verified(&env.gateway, h, b).await?.kind else {
        bail!("refund event")
    };
    ensure!(
        r.kind == ModificationKind::Refund
            && r.modification == refund.id
            && r.payment == p.id
            && r.amount.as_ref().map(|m| m.amount) == Some(234),
        "{r:?}"
    );

    // A failed payment, with its decline.
    let failing = env
        .store_card(
            &customer,
            "pm_card_chargeCustomerFail",
            false,
            "wh-fail-card",
        )
        .await?;
    let err = env
        .failed_charge(&customer, &failing.id, 500, "wh-fail")
        .await?;
    let GatewayError::Declined(d) = err else {
        bail!("expected a decline")
    };
    let failed_id = d.payment.context("failed payment id")?;
    let (h, b) = env
        .next_webhook("payment_intent.payment_failed", Some(&failed_id))
        .await?;
    let EventKind::Payment(f) = verified(&env.gateway, h, b).await?.kind else {
        bail!("failure event")
    };
    ensure!(
        f.payment == failed_id
            && f.status == PaymentStatus::Failed
            && f.decline
                .as_ref()
                .is_some_and(|d| d.code == "card_declined"),
        "{f:?}"
    );

    // A dispute.
    let disputed = env
        .store_card(&customer, "pm_card_createDispute", false, "wh-d-card")
        .await?;
    let dp = env
        .charge(&customer, &disputed.id, 800, CaptureMode::Automatic, "wh-d")
        .await?;
    let (h, b) = env.next_webhook("charge.dispute.created", None).await?;
    let EventKind::Dispute(du) = verified(&env.gateway, h, b).await?.kind else {
        bail!("dispute event")
    };
    ensure!(
        du.payment.as_deref() == Some(dp.id.as_str())
            && du.reason == "fraudulent"
            && du.amount.amount == 800
            && matches!(du.status, DisputeStatus::Open | DisputeStatus::Warning),
        "{du:?}"
    );

    // An invoice paid.
    let inv = env
        .gateway
        .create_invoice(InvoiceRequest {
            customer: customer.clone(),
            currency: "USD".into(),
            items: vec![LineItem {
                description: "Support plan".into(),
                unit_amount: 4_900,
                quantity: 1,
                metadata: vec![],
            }],
            description: None,
            collection: CollectionMethod::ChargeAutomatically,
            days_until_due: None,
            metadata: vec![],
            idempotency_key: "wh-inv".into(),
        })
        .await?;
    env.gateway.finalize_invoice(&inv.id, "wh-inv").await?;
    env.gateway.pay_invoice(&inv.id, None, "wh-inv").await?;
    let (h, b) = env.next_webhook("invoice.paid", Some(&inv.id)).await?;
    let EventKind::Invoice(iu) = verified(&env.gateway, h, b).await?.kind else {
        bail!("invoice event")
    };
    ensure!(
        iu.invoice == inv.id
            && iu.status == InvoiceStatus::Paid
            && iu.amount_paid == 4_900
            && !iu.payment_failed,
        "{iu:?}"
    );

    // The emulator signs with its clock when it delivers: ten minutes ago is outside the 300 s
    // tolerance... (the clock is set back only once the delivery arrived, or it might be signed
    // with the current time)
    let now = env.emulator.clock().now();
    env.emulator.clock().set(now - 600);
    let old = env
        .charge(&customer, &card, 999, CaptureMode::Automatic, "wh-old")
        .await?;
    let (h, b) = env
        .next_webhook("payment_intent.succeeded", Some(&old.id))
        .await?;
    env.emulator.clock().set(now);
    let verdict = handle(&env.gateway, h.clone(), b.clone()).await?;
    ensure!(
        matches!(verdict, Err(Rejection::OutsideTolerance)),
        "{verdict:?}"
    );
    // ... and inside a 900 s tolerance from the configuration.
    let lenient = env
        .config
        .clone()
        .with_setting("webhook-tolerance-secs", "900");
    let lenient = env.runtime.load("stripe-lenient", &lenient).await?;
    verified(&lenient, h, b).await.context("900 s tolerance")?;
    // Without the secret configured: not configured.
    let mut no_secret = env.config.clone();
    no_secret.secrets.remove("webhook-secret");
    let no_secret = env.runtime.load("stripe-no-secret", &no_secret).await?;
    let verdict = handle(&no_secret, headers, body).await?;
    ensure!(
        matches!(verdict, Err(Rejection::NotConfigured(_))),
        "{verdict:?}"
    );
    Ok(())
}

/// A plugin cannot use the API key as a MAC key: with the webhook secret's name pointing at the
/// secret the host authenticates outbound requests with, verification finds no usable key (the
/// plugin is told no more), while the key still authenticates the plugin's requests. Were MACs
/// keyed with it, a plugin could compute or check signatures with the API key.
pub async fn the_api_key_is_never_a_mac_key(s: Setup) -> Result<()> {
    let mut env = Env::start(s).await?;
    let (customer, card) = env.customer_with_card("crm-oracle", "pm_card_visa").await?;
    let p = env
        .charge(&customer, &card, 1_500, CaptureMode::Automatic, "oracle-1")
        .await?;
    let (headers, body) = env
        .next_webhook("payment_intent.succeeded", Some(&p.id))
        .await?;
    verified(&env.gateway, headers.clone(), body.clone()).await?;

    // The outbound credential named `webhook-secret` (and its value, the API key): the plugin
    // asks for MACs with that name.
    let oracle = env
        .config
        .clone()
        .with_auth(OutboundAuth::Bearer {
            secret: "webhook-secret".into(),
        })
        .with_secret(
            "webhook-secret",
            SecretSource::value("sk_test_omnicrm_gateway_tests"),
        );
    let oracle = env.runtime.load("stripe-oracle", &oracle).await?;
    let verdict = handle(&oracle, headers, body).await?;
    let Err(Rejection::NotConfigured(message)) = &verdict else {
        bail!("the API key was usable as a MAC key: {verdict:?}")
    };
    ensure!(
        !message.contains("sk_test") && !message.contains("api-key"),
        "{message}"
    );
    // The same secret still authenticates the plugin's requests.
    let looked_up = oracle.get_payment(&p.id).await?;
    ensure!(
        looked_up.status == PaymentStatus::Succeeded,
        "{looked_up:?}"
    );
    let err = match oracle.get_payment("pi_doesnotexist").await {
        Err(omnicrm_host::CallError::Gateway(e)) => e,
        other => bail!("{other:?}"),
    };
    ensure!(matches!(err, GatewayError::NotFound(_)), "{err:?}");
    Ok(())
}
