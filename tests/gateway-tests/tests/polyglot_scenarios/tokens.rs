//! `info` and `tokens`: what the example declares (and what the host then answers itself),
//! customers derived from the CRM id, cards stored from test tokens.

use super::*;
use omnicrm_host::contract::{CONTRACT_VERSION, Capabilities, CardFunding, CardSessionRequest};

pub async fn describes_itself_and_declares_what_it_does(example: &Example) {
    let gateway = example.gateway().await;
    let info = gateway.info();
    assert_eq!(info.name, example.name);
    assert_eq!(info.display_name, example.display_name);
    assert_eq!(info.version, "0.1.0");
    assert_eq!(info.currencies, ["EUR", "GBP", "USD"]);
    assert_eq!(gateway.contract_version(), CONTRACT_VERSION);
    assert_eq!(
        gateway.capabilities(),
        Capabilities::PARTIAL_CAPTURE
            | Capabilities::REFUND_LOOKUP
            | Capabilities::CUSTOMER_ACTIONS
    );
    // What it does not declare, the host answers itself, without entering the component.
    let undeclared = |e: GatewayError, capability: &str| match e {
        GatewayError::Unsupported(m) => assert!(m.contains(capability), "{m}"),
        other => panic!("{other:?}"),
    };
    undeclared(
        expect_error(gateway.get_payment("py_pay_x").await),
        "payment-lookup",
    );
    let session = CardSessionRequest {
        customer: format!("{}cus_x", example.prefix),
        return_url: None,
        currency: None,
        idempotency_key: "session-1".into(),
    };
    undeclared(
        expect_error(gateway.start_card_session(session).await),
        "card-sessions",
    );
    undeclared(expect_error(gateway.get_invoice("in_1").await), "invoicing");
}

pub async fn customers_and_cards(example: &Example) {
    let gateway = example.gateway().await;
    let customer = gateway
        .ensure_customer(customer_request("crm-1"), "cus-1")
        .await
        .unwrap();
    example.assert_reference("cus", &customer.id);
    assert_eq!(customer.crm_customer_id, "crm-1");
    assert!(customer.created && customer.default_card.is_none());
    let again = gateway
        .ensure_customer(customer_request("crm-1"), "cus-1")
        .await
        .unwrap();
    assert_eq!(again.id, customer.id, "derived from the CRM id");
    let other = gateway
        .ensure_customer(customer_request("crm-1 "), "cus-2")
        .await
        .unwrap();
    assert_ne!(other.id, customer.id, "ids are taken exactly as given");
    assert_eq!(
        invalid_field(gateway.ensure_customer(customer_request(""), "k").await),
        "crm-customer-id"
    );
    assert_eq!(
        invalid_field(
            gateway
                .ensure_customer(customer_request("crm-1"), "bad key")
                .await
        ),
        "idempotency-key"
    );

    let store = |token: &str, customer: &str, make_default: bool| StoreCardRequest {
        customer: customer.into(),
        token: token.into(),
        make_default,
        return_url: None,
        idempotency_key: "card-1".into(),
    };
    let visa = gateway
        .store_card(store("tok_visa", &customer.id, true))
        .await
        .unwrap();
    example.assert_reference("card", &visa.id);
    assert_eq!((visa.brand.as_str(), visa.last4.as_str()), ("visa", "4242"));
    assert_eq!((visa.exp_month, visa.exp_year), (12, 2034));
    assert_eq!(
        (visa.funding, visa.customer.as_str(), visa.is_default),
        (CardFunding::Credit, customer.id.as_str(), true)
    );
    let debit = gateway
        .store_card(store("pm_card_visa_debit", &customer.id, false))
        .await
        .unwrap();
    assert_eq!(
        (debit.funding, debit.is_default),
        (CardFunding::Debit, false)
    );
    assert_ne!(debit.fingerprint, visa.fingerprint);
    assert_eq!(
        invalid_field(
            gateway
                .store_card(store("4242424242424242", &customer.id, false))
                .await
        ),
        "token"
    );
    let stranger = format!("{}cus_{}", example.prefix, "0".repeat(32));
    assert_eq!(
        not_found_kind(
            gateway
                .store_card(store("tok_visa", "cus_elsewhere", false))
                .await
        ),
        "customer"
    );

    assert!(gateway.list_cards(&customer.id).await.unwrap().is_empty());
    gateway
        .set_default_card(&customer.id, &debit.id)
        .await
        .unwrap();
    gateway.remove_card(&customer.id, &visa.id).await.unwrap();
    assert_eq!(
        not_found_kind(gateway.remove_card(&stranger, &visa.id).await),
        "card",
        "another customer's card"
    );
    assert_eq!(
        not_found_kind(gateway.set_default_card(&customer.id, "card_x").await),
        "card"
    );
}
