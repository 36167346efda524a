//! PaymentMethod (type `card`): the contract's stored card.

use omnicrm_gateway_sdk::tokens::{CardFunding, StoredCard};
use omnicrm_gateway_sdk::webhooks::CardUpdate;
use serde::Deserialize;

use super::common::{Expandable, Ref, Unmapped, has_id, id, id_of};

/// A payment method. Only cards are stored; another type has no `card`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentMethod {
    /// `pm_...`.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// The customer it is attached to (read for its id: an expanded customer would name its
    /// default payment method in turn).
    pub customer: Option<Expandable<Ref>>,
    /// The card's details, for `type: card`.
    pub card: Option<Card>,
}

has_id!(PaymentMethod);

/// `card` of a payment method. No card number: Stripe never returns one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Card {
    /// `visa`, `mastercard`, `amex`, ... or `unknown`.
    pub brand: String,
    /// The last four digits.
    pub last4: String,
    /// Expiry month, 1 to 12.
    pub exp_month: u8,
    /// Expiry year, four digits.
    pub exp_year: u16,
    /// Equal for the same card number.
    pub fingerprint: Option<String>,
    /// `credit`, `debit`, `prepaid` or `unknown`.
    pub funding: Option<String>,
    /// Issuing country (ISO 3166-1 alpha-2).
    pub country: Option<String>,
}

impl PaymentMethod {
    /// The card's details; a payment method of another type is [`Unmapped`].
    pub fn card(&self) -> Result<&Card, Unmapped> {
        self.card
            .as_ref()
            .ok_or_else(|| Unmapped::not_a_card(&self.id))
    }

    /// The id of the customer it is attached to.
    pub fn customer_id(&self) -> Option<String> {
        id_of(self.customer.as_ref())
    }

    /// The contract's stored card; `customer` when the card names none.
    pub fn stored_card(&self, customer: &str, is_default: bool) -> Result<StoredCard, Unmapped> {
        let card = self.card()?;
        let brand = match card.brand.as_str() {
            b @ ("visa" | "mastercard" | "amex" | "discover" | "jcb" | "unionpay" | "diners"
            | "cartes_bancaires") => b,
            _ => "unknown",
        };
        Ok(StoredCard {
            id: self.id.clone(),
            customer: self.customer_id().unwrap_or_else(|| customer.to_owned()),
            brand: brand.to_owned(),
            last4: card.last4.clone(),
            exp_month: card.exp_month,
            exp_year: card.exp_year,
            fingerprint: card.fingerprint.clone(),
            funding: match card.funding.as_deref() {
                Some("credit") => CardFunding::Credit,
                Some("debit") => CardFunding::Debit,
                Some("prepaid") => CardFunding::Prepaid,
                _ => CardFunding::Unknown,
            },
            country: card.country.clone(),
            is_default,
            // Stripe keeps the network's identifier of a stored card to itself, and quotes it in
            // the merchant-initiated charges it makes with the card.
            network_transaction_id: None,
        })
    }

    /// The contract's card update (webhooks).
    pub fn update(&self) -> Result<CardUpdate, Unmapped> {
        let card = self.card()?;
        Ok(CardUpdate {
            card: self.id.clone(),
            customer: self.customer_id(),
            exp_month: card.exp_month,
            exp_year: card.exp_year,
            last4: card.last4.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{List, decode};

    #[test]
    fn a_list_of_cards_as_stripe_sends_it() {
        let page: List<PaymentMethod> =
            decode(include_bytes!("fixtures/payment_methods.json")).unwrap();
        let [pm] = &page.data[..] else {
            panic!("{page:?}")
        };
        let c = pm.stored_card("cus_other", true).unwrap();
        assert_eq!(c.id, "pm_7geKuizYp3Gt7ZnPEWPgmgHK");
        assert_eq!(c.customer, "cus_Kdn9fxFCpbx3DtJOb3Kb6VvH");
        assert_eq!((c.brand.as_str(), c.last4.as_str()), ("visa", "4242"));
        assert_eq!((c.exp_month, c.exp_year), (12, 2029));
        assert_eq!(c.funding, CardFunding::Credit);
        assert_eq!(
            (c.fingerprint.as_deref(), c.country.as_deref()),
            (Some("477bba133c182267"), Some("US"))
        );
        assert!(c.is_default);
    }

    #[test]
    fn cards_are_checked_and_other_types_unmapped() {
        let body = br#"{"id":"pm_1","type":"card","customer":null,"card":{"brand":"eftpos_au",
            "last4":"0000","exp_month":1,"exp_year":2031,"funding":"charge"}}"#;
        let c = decode::<PaymentMethod>(body)
            .unwrap()
            .stored_card("cus_1", false)
            .unwrap();
        assert_eq!(
            (c.brand.as_str(), c.customer.as_str()),
            ("unknown", "cus_1")
        );
        assert_eq!(c.funding, CardFunding::Unknown);
        let sepa = decode::<PaymentMethod>(br#"{"id":"pm_2","type":"sepa_debit","sepa_debit":{}}"#)
            .unwrap();
        assert!(sepa.stored_card("cus_1", false).is_err() && sepa.update().is_err());
        // A month out of range, a card without its last digits: not a card Stripe sends.
        for card in [
            r#"{"brand":"visa","last4":"4242","exp_month":300,"exp_year":2030}"#,
            r#"{"brand":"visa","exp_month":1,"exp_year":2030}"#,
        ] {
            let body = format!(r#"{{"id":"pm_1","type":"card","card":{card}}}"#);
            assert!(decode::<PaymentMethod>(body.as_bytes()).is_err(), "{card}");
        }
    }
}
