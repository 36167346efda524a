//! Customers and stored cards, and what the component says about itself.

use anyhow::{Result, bail, ensure};
use omnicrm_host::CallError;
use omnicrm_host::contract::{Capabilities, CaptureMode, GatewayError, PaymentStatus};
use stripe_emulator::EmulatorOptions;

use super::{Env, Plugin, Setup, customer_request, gateway_error};

/// The component exports the contract version of its build and declares what Stripe can do; a
/// 0.1 component has what 0.1 can do, and what it cannot (card sessions, refund lookups) is
/// answered `unsupported` by the host without a call into the component.
pub async fn describes_its_contract_and_capabilities(s: Setup) -> Result<()> {
    let env = Env::start(s).await?;
    let g = &env.gateway;
    ensure!(g.info().name == "stripe", "{:?}", g.info());
    ensure!(g.contract_version() == s.plugin.contract_version());
    let caps = g.capabilities();
    ensure!(caps == g.info().capabilities);
    for common in [
        Capabilities::PARTIAL_CAPTURE,
        Capabilities::PAYMENT_LOOKUP,
        Capabilities::INVOICING,
        Capabilities::METRICS,
        Capabilities::PAYMENT_FEES,
        Capabilities::DISPUTES,
        Capabilities::CUSTOMER_ACTIONS,
    ] {
        ensure!(
            caps.contains(common),
            "{} missing from {caps:?}",
            common.name()
        );
    }
    match s.plugin {
        Plugin::V0_1 => {
            ensure!(
                !caps.intersects(
                    Capabilities::CARD_SESSIONS
                        | Capabilities::REFUND_LOOKUP
                        | Capabilities::MULTIPLE_CAPTURES
                        | Capabilities::ASYNC_MODIFICATIONS
                ),
                "{caps:?}"
            );
            let customer = g
                .ensure_customer(customer_request("crm-caps"), "cus-caps")
                .await?;
            let requests_before = env.oracle.list_all("/v1/setup_intents").await?.len();
            let err = gateway_error(
                g.start_card_session(omnicrm_host::contract::CardSessionRequest {
                    customer: customer.id.clone(),
                    return_url: None,
                    currency: None,
                    idempotency_key: "session-caps".into(),
                })
                .await,
            )?;
            ensure!(
                matches!(&err, GatewayError::Unsupported(m) if m.contains("card-sessions")),
                "{err:?}"
            );
            ensure!(env.oracle.list_all("/v1/setup_intents").await?.len() == requests_before);
            let err = gateway_error(g.get_refund("re_anything").await)?;
            ensure!(
                matches!(&err, GatewayError::Unsupported(m) if m.contains("refund-lookup")),
                "{err:?}"
            );
        }
        Plugin::Current => {
            // Refunds can be pending at Stripe; a capture releases the rest of the authorization.
            ensure!(
                caps.contains(
                    Capabilities::CARD_SESSIONS
                        | Capabilities::REFUND_LOOKUP
                        | Capabilities::ASYNC_MODIFICATIONS
                ),
                "{caps:?}"
            );
            ensure!(!caps.contains(Capabilities::MULTIPLE_CAPTURES), "{caps:?}");
        }
    }
    Ok(())
}

/// Cards from a `pm_` and from a `tok_` token are stored with their details; the list puts the
/// default first; the default can be changed; a removed card is gone and can't be charged; a
/// declining card is refused when stored; another customer's card is not found.
pub async fn cards_from_each_kind_of_token(s: Setup) -> Result<()> {
    let env = Env::start(s).await?;
    let g = &env.gateway;
    let customer = g
        .ensure_customer(customer_request("crm-cards"), "cus-cards")
        .await?;
    ensure!(customer.created && customer.id.starts_with("cus_") && customer.default_card.is_none());
    // Found again (not created) by its CRM id, whatever the key.
    let again = g
        .ensure_customer(customer_request("crm-cards"), "cus-cards-2")
        .await?;
    ensure!(again.id == customer.id && !again.created, "{again:?}");
    let stripe_customer = env
        .oracle
        .get(&format!("/v1/customers/{}", customer.id))
        .await?;
    ensure!(stripe_customer["metadata"]["crm_customer_id"] == "crm-cards");
    ensure!(stripe_customer["metadata"]["segment"] == "tests & more");

    let visa = env
        .store_card(&customer.id, "pm_card_visa", true, "card-1")
        .await?;
    ensure!(
        visa.id.starts_with("pm_") && visa.brand == "visa" && visa.last4 == "4242",
        "{visa:?}"
    );
    ensure!(visa.is_default && visa.exp_year >= 2025 && (1..=12).contains(&visa.exp_month));
    let mc = env
        .store_card(&customer.id, "tok_mastercard", false, "card-2")
        .await?;
    ensure!(
        mc.id.starts_with("pm_")
            && mc.brand == "mastercard"
            && mc.last4 == "4444"
            && !mc.is_default,
        "{mc:?}"
    );
    // Storing again with the same key returns the same card.
    let mc_again = env
        .store_card(&customer.id, "tok_mastercard", false, "card-2")
        .await?;
    ensure!(mc_again.id == mc.id, "replay stored a second card");

    let cards = g.list_cards(&customer.id).await?;
    let ids: Vec<_> = cards.iter().map(|c| c.id.as_str()).collect();
    ensure!(
        ids == [visa.id.as_str(), mc.id.as_str()],
        "default first: {ids:?}"
    );
    ensure!(cards[0].is_default && !cards[1].is_default);

    g.set_default_card(&customer.id, &mc.id).await?;
    let cards = g.list_cards(&customer.id).await?;
    ensure!(cards[0].id == mc.id && cards[0].is_default, "{cards:?}");
    let stripe_customer = env
        .oracle
        .get(&format!("/v1/customers/{}", customer.id))
        .await?;
    ensure!(stripe_customer["invoice_settings"]["default_payment_method"] == mc.id.as_str());
    let found = g
        .ensure_customer(customer_request("crm-cards"), "cus-cards-3")
        .await?;
    ensure!(found.default_card.as_deref() == Some(mc.id.as_str()));

    g.remove_card(&customer.id, &visa.id).await?;
    let cards = g.list_cards(&customer.id).await?;
    ensure!(cards.len() == 1 && cards[0].id == mc.id, "{cards:?}");
    let err = env
        .failed_charge(&customer.id, &visa.id, 500, "removed")
        .await?;
    ensure!(!matches!(err, GatewayError::OutcomeUnknown(_)), "{err:?}");

    // Another customer's card: not found, and nothing detached.
    let other = g
        .ensure_customer(customer_request("crm-other"), "cus-other")
        .await?;
    let err = gateway_error(g.remove_card(&other.id, &mc.id).await)?;
    ensure!(
        matches!(&err, GatewayError::NotFound(n) if n.kind == "card" && n.id == mc.id),
        "{err:?}"
    );
    ensure!(g.list_cards(&customer.id).await?.len() == 1);

    // A card that fails verification is declined when stored; a bad token is invalid input.
    let err = gateway_error(
        env.store_card(&customer.id, "pm_card_chargeDeclined", false, "card-3")
            .await,
    )?;
    ensure!(
        matches!(&err, GatewayError::Declined(d) if d.code == "card_declined"),
        "{err:?}"
    );
    let err = gateway_error(
        env.store_card(&customer.id, "4242424242424242", false, "card-4")
            .await,
    )?;
    ensure!(
        matches!(&err, GatewayError::InvalidInput(i) if i.field == "token"),
        "{err:?}"
    );
    let err = gateway_error(g.list_cards("cus_doesnotexist").await)?;
    ensure!(
        matches!(&err, GatewayError::NotFound(n) if n.kind == "customer"),
        "{err:?}"
    );
    Ok(())
}

/// CRM ids are taken exactly (never trimmed into another customer's), and customers are created
/// with the caller's key where Stripe's search is missing.
pub async fn customers_are_never_merged_and_need_no_search(s: Setup) -> Result<()> {
    let env = Env::start(s).await?;
    let g = &env.gateway;
    let acme = g
        .ensure_customer(customer_request("acme-7"), "cus-acme-7")
        .await?;
    for padded in ["acme-7 ", " acme-7", "acme-7\n", "acme 7"] {
        match g
            .ensure_customer(customer_request(padded), "cus-padded")
            .await
        {
            Err(CallError::Gateway(GatewayError::InvalidInput(i))) => {
                ensure!(i.field == "crm-customer-id", "{i:?}")
            }
            other => bail!("{padded:?} was not refused: {other:?}"),
        }
    }
    let upper = g
        .ensure_customer(customer_request("ACME-7"), "cus-upper")
        .await?;
    ensure!(upper.id != acme.id && upper.created, "{upper:?}");
    let customers = env.oracle.list_all("/v1/customers").await?;
    ensure!(customers.len() == 2, "{} customers", customers.len());

    // Search answered as an unknown URL: the idempotent create decides.
    let env = Env::start_on(
        s,
        EmulatorOptions {
            customer_search: false,
            ..EmulatorOptions::default()
        },
        |c| c,
    )
    .await?;
    let g = &env.gateway;
    let first = g
        .ensure_customer(customer_request("acme-9"), "cus-acme-9")
        .await?;
    ensure!(first.created && first.id.starts_with("cus_"), "{first:?}");
    let again = g
        .ensure_customer(customer_request("acme-9"), "cus-acme-9")
        .await?;
    ensure!(again.id == first.id, "a repeat created {again:?}");
    let other = g
        .ensure_customer(customer_request("acme-10"), "cus-acme-10")
        .await?;
    ensure!(other.id != first.id);
    ensure!(env.oracle.list_all("/v1/customers").await?.len() == 2);
    let card = env
        .store_card(&first.id, "pm_card_visa", true, "card-acme-9")
        .await?;
    let paid = env
        .charge(
            &first.id,
            &card.id,
            1500,
            CaptureMode::Automatic,
            "pay-acme-9",
        )
        .await?;
    ensure!(paid.status == PaymentStatus::Succeeded, "{paid:?}");
    Ok(())
}
