//! What only contract 0.2 can do: card sessions, 3-D Secure completed with `complete-action`,
//! and webhook answers chosen by the plugin.

use anyhow::{Context, Result, bail, ensure};
use omnicrm_host::contract::{
    ActionCompletion, CaptureMode, CardSessionRequest, GatewayError, NextAction, PaymentStatus,
    RedirectMethod, StoredCredentialUse,
};
use serde_json::Value;

use super::{
    Env, PUBLISHABLE_KEY, Setup, charge_request, customer_request, gateway_error, handle, verified,
};

/// A card session gives the CRM's page what Stripe Elements needs (and no secret key); once the
/// customer entered a card in it (the emulator confirms the SetupIntent), storing the session's
/// SetupIntent stores that card, which can then be charged.
pub async fn card_session_then_stored_card(s: Setup) -> Result<()> {
    let env = Env::start(s).await?;
    let g = &env.gateway;
    let customer = g
        .ensure_customer(customer_request("crm-session"), "cus-session")
        .await?;
    let request = CardSessionRequest {
        customer: customer.id.clone(),
        return_url: Some("https://crm.example/cards/done".into()),
        currency: Some("USD".into()),
        idempotency_key: "session-1".into(),
    };
    let session = g.start_card_session(request.clone()).await?;
    ensure!(session.id.starts_with("seti_"), "{session:?}");
    ensure!(session.sdk == "stripe-elements", "{session:?}");
    let config: Value = serde_json::from_str(&session.client_config)
        .with_context(|| format!("client config {}", session.client_config))?;
    ensure!(
        config["client_secret"]
            .as_str()
            .is_some_and(|secret| secret.starts_with(&session.id)),
        "{config}"
    );
    ensure!(config["publishable_key"] == PUBLISHABLE_KEY, "{config}");
    ensure!(
        !session.client_config.contains("sk_test"),
        "the API key reached the browser's config: {config}"
    );
    // The same key: the same session.
    let again = g.start_card_session(request).await?;
    ensure!(again.id == session.id, "{again:?}");
    let intent = env
        .oracle
        .get(&format!("/v1/setup_intents/{}", session.id))
        .await?;
    ensure!(intent["customer"] == customer.id.as_str(), "{intent}");

    // The customer enters a card in Stripe Elements.
    env.oracle
        .post(
            &format!("/v1/setup_intents/{}/confirm", session.id),
            "payment_method=pm_card_visa",
        )
        .await?;
    let card = env
        .store_card(&customer.id, &session.id, true, "card-from-session")
        .await?;
    ensure!(
        card.id.starts_with("pm_") && card.brand == "visa" && card.last4 == "4242",
        "{card:?}"
    );
    ensure!(card.customer == customer.id, "{card:?}");
    let cards = g.list_cards(&customer.id).await?;
    ensure!(cards.len() == 1 && cards[0].id == card.id, "{cards:?}");
    let paid = env
        .charge(
            &customer.id,
            &card.id,
            2_500,
            CaptureMode::Automatic,
            "session-charge",
        )
        .await?;
    ensure!(paid.status == PaymentStatus::Succeeded, "{paid:?}");
    Ok(())
}

/// A customer-initiated charge of a card that needs 3-D Secure: `action-required` with where to
/// send the customer; the customer authenticates at the emulator's page; `complete-action` then
/// answers the payment as it now stands, succeeded, and repeating it changes nothing.
pub async fn three_d_secure_completed_with_complete_action(s: Setup) -> Result<()> {
    let env = Env::start(s).await?;
    let customer = env
        .gateway
        .ensure_customer(customer_request("crm-3ds"), "cus-3ds")
        .await?;
    // Storing the card asks for authentication once; the card is attached all the same.
    let err = gateway_error(
        env.store_card(
            &customer.id,
            "pm_card_authenticationRequired",
            false,
            "3ds-card",
        )
        .await,
    )?;
    ensure!(matches!(err, GatewayError::ActionRequired(_)), "{err:?}");
    let cards = env.gateway.list_cards(&customer.id).await?;
    let card = cards.first().context("the attached card")?.id.clone();

    let mut request = charge_request(&customer.id, &card, 4_200, CaptureMode::Automatic, "3ds-1");
    request.stored_credential = StoredCredentialUse::CustomerInitiated;
    request.return_url = Some("https://crm.example/pay/done".into());
    let err = gateway_error(env.gateway.charge(request).await)?;
    let GatewayError::ActionRequired(action) = &err else {
        bail!("expected action-required, got {err:?}")
    };
    ensure!(action.payment.starts_with("pi_"), "{action:?}");
    match &action.next_action {
        NextAction::Redirect(redirect) => ensure!(
            redirect.method == RedirectMethod::Get && redirect.url.starts_with("http"),
            "{redirect:?}"
        ),
        NextAction::ClientSdk(sdk) => {
            ensure!(sdk.sdk == "stripe-js", "{sdk:?}");
            let payload: Value = serde_json::from_str(&sdk.payload)?;
            ensure!(
                payload["client_secret"]
                    .as_str()
                    .is_some_and(|c| c.starts_with(&action.payment)),
                "{payload}"
            );
        }
        other => bail!("no way to authenticate on-session: {other:?}"),
    }
    let waiting = env.gateway.get_payment(&action.payment).await?;
    ensure!(
        waiting.status == PaymentStatus::RequiresAction && waiting.next_action.is_some(),
        "{waiting:?}"
    );

    // Completing before the customer acted: still waiting.
    let completion = |key: &str| ActionCompletion {
        payment: action.payment.clone(),
        details: vec![],
        idempotency_key: key.into(),
    };
    let early = env.gateway.complete_action(completion("3ds-early")).await?;
    ensure!(early.status == PaymentStatus::RequiresAction, "{early:?}");

    // The customer authenticates on the issuer's page.
    env.oracle
        .get(&format!("/_emulator/authenticate/{}", action.payment))
        .await?;
    let done = env.gateway.complete_action(completion("3ds-done")).await?;
    ensure!(
        done.status == PaymentStatus::Succeeded
            && done.amount_captured == 4_200
            && done.next_action.is_none(),
        "{done:?}"
    );
    let again = env.gateway.complete_action(completion("3ds-done")).await?;
    ensure!(again.status == PaymentStatus::Succeeded, "{again:?}");
    let intents = env.oracle.intents_of(&customer.id).await?;
    ensure!(
        intents.len() == 1 && intents[0]["amount_received"] == 4_200,
        "{intents:?}"
    );
    Ok(())
}

/// The plugin chooses the webhook's HTTP answer: the host sends back exactly its bytes (here
/// Stripe's acknowledgement, for an accepted event).
pub async fn webhook_answers_are_the_plugins_bytes(s: Setup) -> Result<()> {
    let mut env = Env::start(s).await?;
    let (customer, card) = env.customer_with_card("crm-answer", "pm_card_visa").await?;
    let p = env
        .charge(&customer, &card, 700, CaptureMode::Automatic, "answer-1")
        .await?;
    let (headers, body) = env
        .next_webhook("payment_intent.succeeded", Some(&p.id))
        .await?;
    let outcome = handle(&env.gateway, headers.clone(), body.clone())
        .await?
        .map_err(|r| anyhow::anyhow!("rejected: {r:?}"))?;
    ensure!(outcome.response.status == 200, "{:?}", outcome.response);
    ensure!(
        outcome.response.content_type.as_deref() == Some("application/json"),
        "{:?}",
        outcome.response
    );
    let answer: Value = serde_json::from_slice(&outcome.response.body)?;
    ensure!(answer["received"] == true, "{answer}");
    ensure!(outcome.events.len() == 1, "{:?}", outcome.events);
    // A redelivery is the same event, answered the same.
    let event = verified(&env.gateway, headers.clone(), body.clone()).await?;
    ensure!(event.id == outcome.events[0].id);
    let again = handle(&env.gateway, headers, body)
        .await?
        .map_err(|r| anyhow::anyhow!("rejected: {r:?}"))?;
    ensure!(again.response == outcome.response, "{:?}", again.response);
    Ok(())
}
