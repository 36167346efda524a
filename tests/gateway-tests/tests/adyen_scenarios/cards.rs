//! Shoppers, stored cards and card sessions.

use anyhow::{Context, Result, ensure};
use omnicrm_host::contract::{CardFunding, CardSessionRequest, GatewayError};
use serde_json::Value;

use super::*;

/// Cards stored from the card form's token (tokenized by a zero-amount payment), listed newest
/// first, a stored card named by its id, removal, and the shopper references of CRM ids.
pub async fn cards_stored_listed_and_removed(transport: Transport) -> Result<()> {
    let env = Env::start(transport).await?;
    let shopper = env.customer("CRM-CARDS-1").await?;
    ensure!(
        shopper == "CRM-CARDS-1",
        "the CRM id fits Adyen's rules: {shopper}"
    );

    let visa = env.store_card(&shopper, VISA, "card-1").await?;
    ensure!(
        (
            visa.brand.as_str(),
            visa.last4.as_str(),
            visa.exp_month,
            visa.exp_year
        ) == ("visa", "1111", 3, 2030),
        "{visa:?}"
    );
    ensure!(visa.customer == shopper && !visa.is_default, "{visa:?}");
    ensure!(visa.funding == CardFunding::Credit && visa.country.as_deref() == Some("NL"));
    ensure!(visa.network_transaction_id.is_some(), "{visa:?}");
    // The zero-amount payment that stored it, once, whatever the repeats.
    let again = env.store_card(&shopper, VISA, "card-1").await?;
    ensure!(again.id == visa.id, "{again:?}");
    let setups = env.payments_with_reference("card-1");
    ensure!(setups.len() == 1, "{setups:?}");
    ensure!(setups[0]["amount"]["value"] == 0 && setups[0]["success"] == "true");

    let mastercard = env.store_card(&shopper, MASTERCARD, "card-2").await?;
    ensure!(
        (
            mastercard.brand.as_str(),
            mastercard.last4.as_str(),
            mastercard.exp_month,
            mastercard.exp_year
        ) == ("mastercard", "4444", 10, 2031),
        "{mastercard:?}"
    );
    // Adyen's own record of the shopper's cards.
    ensure!(env.oracle.stored_ids(&shopper).await? == [visa.id.clone(), mastercard.id.clone()]);

    let listed: Vec<String> = env
        .gateway
        .list_cards(&shopper)
        .await?
        .into_iter()
        .inspect(|c| assert!(!c.is_default, "Adyen keeps no default: {c:?}"))
        .map(|c| c.id)
        .collect();
    ensure!(
        listed == [mastercard.id.clone(), visa.id.clone()],
        "newest first: {listed:?}"
    );
    // Adyen keeps no default card: nothing changes.
    env.gateway.set_default_card(&shopper, &visa.id).await?;
    let relisted: Vec<String> = env
        .gateway
        .list_cards(&shopper)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    ensure!(relisted == listed, "{relisted:?}");

    // A card the shopper already has, named by its id: no new payment.
    let named = env.store_card(&shopper, &mastercard.id, "card-3").await?;
    ensure!(
        named.id == mastercard.id && named.last4 == "4444",
        "{named:?}"
    );
    ensure!(env.payments_with_reference("card-3").is_empty());

    env.gateway.remove_card(&shopper, &visa.id).await?;
    ensure!(env.oracle.stored_ids(&shopper).await? == std::slice::from_ref(&mastercard.id));
    let gone = gateway_error(env.gateway.remove_card(&shopper, &visa.id).await)?;
    ensure!(
        matches!(&gone, GatewayError::NotFound(n) if n.kind == "card" && n.id == visa.id),
        "{gone:?}"
    );
    // Cards belong to their shopper.
    let other = env.customer("CRM-CARDS-2").await?;
    let foreign = gateway_error(env.gateway.remove_card(&other, &mastercard.id).await)?;
    ensure!(matches!(foreign, GatewayError::NotFound(_)), "{foreign:?}");
    let foreign = gateway_error(env.store_card(&other, &mastercard.id, "card-4").await)?;
    ensure!(matches!(foreign, GatewayError::NotFound(_)), "{foreign:?}");
    ensure!(env.oracle.stored_ids(&shopper).await? == std::slice::from_ref(&mastercard.id));

    // Raw card data never crosses the contract: refused before anything is sent.
    let raw = r#"{"type":"scheme","number":"4111111111111111","expiryMonth":"03","expiryYear":"2030","cvc":"737"}"#;
    let refused = gateway_error(env.store_card(&shopper, raw, "card-raw").await)?;
    ensure!(
        matches!(&refused, GatewayError::InvalidInput(i) if i.field == "token"),
        "{refused:?}"
    );
    ensure!(env.payments_with_reference("card-raw").is_empty());

    // Shopper references: a CRM id Adyen can't take as it is becomes a digest, the same every
    // time, never another CRM id's.
    let short = env.customer("7").await?;
    ensure!(short.starts_with("omnicrm-sha256-"), "{short}");
    ensure!(env.customer("7").await? == short);
    ensure!(env.customer("8").await? != short);
    let card = env.store_card(&short, VISA, "card-short").await?;
    ensure!(env.oracle.stored_ids(&short).await? == [card.id]);
    Ok(())
}

/// A card session for Adyen Web (created at Adyen), its hosted card form, and the card stored
/// from the token the form hands back.
pub async fn card_session_then_card_form(transport: Transport) -> Result<()> {
    let env = Env::start(transport).await?;
    let shopper = env.customer("CRM-SESSION-1").await?;
    let request = CardSessionRequest {
        customer: shopper.clone(),
        return_url: Some("https://crm.example/cards/return".into()),
        currency: Some("EUR".into()),
        idempotency_key: "session-1".into(),
    };
    let session = env.gateway.start_card_session(request.clone()).await?;
    ensure!(
        session.sdk == "adyen-web" && session.id.starts_with("CS"),
        "{session:?}"
    );
    let config: Value = serde_json::from_str(&session.client_config)?;
    ensure!(
        config["client_key"] == CLIENT_KEY && config["environment"] == "test",
        "{config}"
    );
    ensure!(config["session"]["id"] == session.id.as_str(), "{config}");
    ensure!(
        config["session"]["sessionData"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    ensure!(
        !session.client_config.contains(API_KEY),
        "no secret goes to the browser"
    );
    let now = env.emulator.clock().now();
    ensure!(session.expires_at.is_some_and(|t| t > now), "{session:?}");
    // The session exists at Adyen (its page), and the same key gives the same session.
    ensure!(
        env.oracle
            .get(&format!("/_emulator/sessions/{}", session.id))
            .await?
            .status
            == 200
    );
    let again = env.gateway.start_card_session(request).await?;
    ensure!(again.id == session.id, "{again:?}");

    // The hosted card form for pages without Adyen Web: back to the return URL with a token.
    let hosted = session
        .hosted_url
        .clone()
        .context("hosted-url from card-form-url")?;
    let (token, state) = env
        .oracle
        .enter_card(&hosted, "5555555555554444", "03", "2030")
        .await?;
    ensure!(state == session.id, "{state}");
    let card = env.store_card(&shopper, &token, "session-card-1").await?;
    ensure!(
        card.brand == "mastercard" && card.last4 == "4444",
        "{card:?}"
    );
    ensure!(env.oracle.stored_ids(&shopper).await?.contains(&card.id));

    // The result of a session the shopper has not paid is not a card.
    let unpaid = format!(
        r#"{{"sessionId":"{}","sessionResult":"Ab02b4c0!none"}}"#,
        session.id
    );
    let refused = gateway_error(env.store_card(&shopper, &unpaid, "session-card-2").await)?;
    ensure!(
        matches!(refused, GatewayError::InvalidInput(_)),
        "{refused:?}"
    );

    // Without Adyen Web's client key there is no session to start.
    let mut bare = env.config.clone();
    bare.settings.remove("client-key");
    let bare = env.runtime.load("adyen-no-client-key", &bare).await?;
    let refused = gateway_error(
        bare.start_card_session(CardSessionRequest {
            customer: shopper,
            return_url: None,
            currency: None,
            idempotency_key: "session-2".into(),
        })
        .await,
    )?;
    ensure!(
        matches!(&refused, GatewayError::Configuration(f) if f.message.contains("client-key")),
        "{refused:?}"
    );
    Ok(())
}
