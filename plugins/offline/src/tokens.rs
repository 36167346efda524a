//! `tokens`: customers and stored cards.

use crate::Offline;
use crate::cards::{self, EXP_MONTH, EXP_YEAR};
use crate::refs::{self, CardRef, check_key, check_metadata, invalid};
use omnicrm_gateway_sdk::exports::omnicrm::payments::tokens::{
    Customer, CustomerRequest, Guest, StoredCard,
};
use omnicrm_gateway_sdk::omnicrm::payments::types::GatewayError;

impl Guest for Offline {
    fn ensure_customer(
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

    fn store_card(
        customer: String,
        token: String,
        make_default: bool,
        idempotency_key: String,
    ) -> Result<StoredCard, GatewayError> {
        check_key(&idempotency_key)?;
        let customer_hash = refs::parse_customer(&customer)?;
        let card = cards::by_token(&token).ok_or_else(|| {
            invalid("token", "unknown test token: use tok_<name> or pm_card_<name> with a Stripe test card name such as visa")
        })?;
        let card_ref = CardRef {
            card,
            customer: customer_hash.to_string(),
        };
        Ok(stored_card(&card_ref, make_default))
    }

    fn list_cards(customer: String) -> Result<Vec<StoredCard>, GatewayError> {
        refs::parse_customer(&customer)?;
        Ok(Vec::new())
    }

    fn set_default_card(customer: String, card: String) -> Result<(), GatewayError> {
        let customer_hash = refs::parse_customer(&customer)?;
        CardRef::parse_owned(&card, customer_hash).map(|_| ())
    }

    fn remove_card(customer: String, card: String) -> Result<(), GatewayError> {
        let customer_hash = refs::parse_customer(&customer)?;
        CardRef::parse_owned(&card, customer_hash).map(|_| ())
    }
}

/// The stored card a reference describes.
fn stored_card(card_ref: &CardRef, is_default: bool) -> StoredCard {
    StoredCard {
        id: card_ref.encode(),
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
