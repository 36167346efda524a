//! `GET /storedPaymentMethods?shopperReference=&merchantAccount=` (Checkout API v71,
//! `ListStoredPaymentMethodsResponse` and `StoredPaymentMethodResource`).

use serde::Deserialize;

use super::common::id;

/// A shopper's stored payment methods.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredMethods {
    /// Every method, cards and others (absent when there is none).
    #[serde(default)]
    pub stored_payment_methods: Vec<StoredMethod>,
}

/// One stored payment method.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredMethod {
    /// Its id (what charges name).
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// `scheme` for cards.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Adyen's brand code (`visa`, `mc`, ...).
    pub brand: Option<String>,
    /// The last four digits.
    pub last_four: Option<String>,
    /// `03`.
    pub expiry_month: Option<String>,
    /// `2030` (or `30`).
    pub expiry_year: Option<String>,
    /// The card network's id of the payment that stored it.
    pub network_tx_reference: Option<String>,
}

impl StoredMethod {
    /// Whether it is a card.
    pub fn is_card(&self) -> bool {
        matches!(self.kind.as_deref(), None | Some("scheme" | "card"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::decode;
    use super::*;

    #[test]
    fn stored_methods_decode() {
        let list: StoredMethods = decode(include_bytes!("fixtures/stored_methods.json")).unwrap();
        assert_eq!(list.stored_payment_methods.len(), 2);
        let first = &list.stored_payment_methods[0];
        assert!(first.is_card());
        assert_eq!(first.last_four.as_deref(), Some("1111"));
        assert!(first.network_tx_reference.is_some());
        let none: StoredMethods =
            decode(br#"{"merchantAccount":"M","shopperReference":"S"}"#).unwrap();
        assert!(none.stored_payment_methods.is_empty());
        let sepa: StoredMethods =
            decode(br#"{"storedPaymentMethods":[{"id":"X","type":"sepadirectdebit"}]}"#).unwrap();
        assert!(!sepa.stored_payment_methods[0].is_card());
        assert!(
            decode::<StoredMethods>(br#"{"storedPaymentMethods":[{"brand":"visa"}]}"#).is_err()
        );
    }
}
