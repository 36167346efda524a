//! `tokens`: customers, stored cards and the fake card session.

use omnicrm_gateway_sdk::tokens::{
    CardSession, CardSessionRequest, Customer, CustomerRequest, StoreCardRequest, StoredCard,
};
use omnicrm_gateway_sdk::types::GatewayError;

use crate::cards::{self, CARDS, EXP_MONTH, EXP_YEAR};
use crate::refs::{self, CardRef, check_currency, check_key, check_metadata, invalid};

pub fn ensure_customer(
    request: CustomerRequest,
    idempotency_key: String,
) -> Result<Customer, GatewayError> {
    check_key(&idempotency_key)?;
    if request.crm_customer_id.is_empty() {
        return Err(invalid("crm-customer-id", "must not be empty"));
    }
    check_metadata("metadata", &request.metadata)?;
    Ok(Customer {
        id: refs::customer_ref(&request.crm_customer_id),
        crm_customer_id: request.crm_customer_id,
        default_card: None,
        created: true,
    })
}

pub fn store_card(request: StoreCardRequest) -> Result<StoredCard, GatewayError> {
    check_key(&request.idempotency_key)?;
    let customer_hash = refs::parse_customer(&request.customer)?;
    let card = cards::by_token(&request.token).ok_or_else(|| {
        invalid(
            "token",
            "unknown test token: use tok_<name> or pm_card_<name> with a Stripe test card name such as visa",
        )
    })?;
    let card_ref = CardRef {
        card,
        customer: customer_hash.to_string(),
    };
    Ok(stored_card(&card_ref, request.make_default))
}

/// A fake session of a card form that does not exist: its configuration lists the test tokens
/// the "form" may hand back, which `store-card` then takes. No network, nothing kept.
pub fn start_card_session(request: CardSessionRequest) -> Result<CardSession, GatewayError> {
    check_key(&request.idempotency_key)?;
    refs::parse_customer(&request.customer)?;
    if let Some(currency) = &request.currency {
        check_currency("currency", currency)?;
    }
    let id = format!(
        "off_cs_{}",
        refs::hash(&["card-session", &request.customer, &request.idempotency_key])
    );
    let tokens: Vec<String> = CARDS.iter().map(|c| format!("tok_{}", c.name)).collect();
    let config = serde_json::json!({
        "session": id,
        "customer": request.customer,
        "return_url": request.return_url,
        "test_tokens": tokens,
    });
    Ok(CardSession {
        id,
        sdk: "offline".into(),
        client_config: config.to_string(),
        hosted_url: None,
        expires_at: None,
    })
}

pub fn list_cards(customer: String) -> Result<Vec<StoredCard>, GatewayError> {
    refs::parse_customer(&customer)?;
    Ok(Vec::new())
}

pub fn set_default_card(customer: String, card: String) -> Result<(), GatewayError> {
    let customer_hash = refs::parse_customer(&customer)?;
    CardRef::parse_owned(&card, customer_hash).map(|_| ())
}

pub fn remove_card(customer: String, card: String) -> Result<(), GatewayError> {
    let customer_hash = refs::parse_customer(&customer)?;
    CardRef::parse_owned(&card, customer_hash).map(|_| ())
}

/// The stored card a reference describes.
pub fn stored_card(card_ref: &CardRef, is_default: bool) -> StoredCard {
    let id = card_ref.encode();
    StoredCard {
        network_transaction_id: Some(format!("offntid_{}", refs::hash(&[&id]))),
        id,
        customer: card_ref.customer_ref(),
        brand: card_ref.card.brand.into(),
        last4: card_ref.card.last4.into(),
        exp_month: EXP_MONTH,
        exp_year: EXP_YEAR,
        fingerprint: Some(format!("offfp_{}", refs::hash(&[card_ref.card.kind]))),
        funding: card_ref.card.funding,
        country: Some("US".into()),
        is_default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer() -> String {
        refs::customer_ref("crm-1")
    }

    #[test]
    fn cards_are_stored_from_test_tokens_only() {
        let request = |token: &str| StoreCardRequest {
            customer: customer(),
            token: token.into(),
            make_default: true,
            return_url: None,
            idempotency_key: "k".into(),
        };
        let card = store_card(request("pm_card_visa")).unwrap();
        assert_eq!((card.brand.as_str(), card.last4.as_str()), ("visa", "4242"));
        assert!(card.is_default && card.network_transaction_id.is_some());
        assert_eq!(card.customer, customer());
        assert_eq!(store_card(request("tok_visa")).unwrap().id, card.id);
        assert!(matches!(
            store_card(request("4242424242424242")),
            Err(GatewayError::InvalidInput(i)) if i.field == "token"
        ));
        assert!(set_default_card(customer(), card.id.clone()).is_ok());
        assert!(matches!(
            remove_card(refs::customer_ref("crm-2"), card.id),
            Err(GatewayError::NotFound(n)) if n.kind == "card"
        ));
    }

    #[test]
    fn a_card_session_is_a_fake_form_of_test_tokens() {
        let request = CardSessionRequest {
            customer: customer(),
            return_url: Some("https://crm.example/cards".into()),
            currency: Some("EUR".into()),
            idempotency_key: "session-1".into(),
        };
        let session = start_card_session(request.clone()).unwrap();
        assert!(session.id.starts_with("off_cs_"));
        assert_eq!(session.sdk, "offline");
        assert_eq!(start_card_session(request.clone()).unwrap().id, session.id);
        let config: serde_json::Value = serde_json::from_str(&session.client_config).unwrap();
        assert_eq!(config["customer"], customer());
        assert_eq!(config["return_url"], "https://crm.example/cards");
        assert!(
            config["test_tokens"]
                .as_array()
                .unwrap()
                .contains(&"tok_visa".into())
        );
        let unknown = CardSessionRequest {
            customer: "cus_x".into(),
            ..request
        };
        assert!(matches!(
            start_card_session(unknown),
            Err(GatewayError::NotFound(n)) if n.kind == "customer"
        ));
    }
}
