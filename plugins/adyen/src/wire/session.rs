//! Checkout sessions: `POST /sessions` (`CreateCheckoutSessionRequest` and its response) and
//! `GET /sessions/{sessionId}?sessionResult=` (`SessionResultResponse`), Checkout API v71.

use serde::{Deserialize, Serialize};

use super::common::{Amount, Strings, id, status_enum};

/// `POST /sessions` for storing a card: a zero amount, the shopper, and storage enabled.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRequest<'a> {
    /// The merchant account.
    pub merchant_account: &'a str,
    /// Zero, in the currency of the payments the card is for.
    pub amount: Amount,
    /// The merchant reference of the session's payment.
    pub reference: String,
    /// Where the shopper comes back.
    pub return_url: &'a str,
    /// The shopper the card will belong to.
    pub shopper_reference: &'a str,
    /// `enabled`: the card is stored without asking (the point of the session).
    pub store_payment_method_mode: &'static str,
    /// How the stored card will be used.
    pub recurring_processing_model: &'a str,
    /// `Ecommerce`: the shopper is there.
    pub shopper_interaction: &'static str,
}

/// The session created.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// `CS...`.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// What Adyen Web needs with the id.
    #[serde(deserialize_with = "id")]
    pub session_data: String,
    /// When it expires (ISO 8601).
    pub expires_at: Option<String>,
}

status_enum! {
    /// `SessionResultResponse.status`.
    SessionStatus {
        /// The shopper paid (authorised).
        Completed = "completed",
        /// An asynchronous payment is under way.
        PaymentPending = "paymentPending",
        /// Too many refusals: the session can no longer be paid.
        Refused = "refused",
        /// The shopper cancelled.
        Canceled = "canceled",
        /// Still open.
        Active = "active",
        /// Expired.
        Expired = "expired",
    }
}

/// `GET /sessions/{id}?sessionResult=`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionResult {
    /// The session.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Where it stands.
    pub status: SessionStatus,
    /// Fields the account enables (`tokenization.storedPaymentMethodId`, ...).
    #[serde(default)]
    pub additional_data: Strings,
}

#[cfg(test)]
mod tests {
    use super::super::common::{decode, to_json};
    use super::*;

    #[test]
    fn sessions_both_ways() {
        let request = SessionRequest {
            merchant_account: "OmniCRM",
            amount: Amount {
                value: 0,
                currency: "EUR".into(),
            },
            reference: "k:session".into(),
            return_url: "https://crm.example/cards",
            shopper_reference: "CRM-1",
            store_payment_method_mode: "enabled",
            recurring_processing_model: "Subscription",
            shopper_interaction: "Ecommerce",
        };
        let json: serde_json::Value = serde_json::from_slice(&to_json(&request)).unwrap();
        assert_eq!(json["storePaymentMethodMode"], "enabled");
        assert_eq!(json["amount"]["value"], 0);
        let session: Session = decode(include_bytes!("fixtures/session.json")).unwrap();
        assert!(session.id.starts_with("CS") && !session.session_data.is_empty());
        assert!(session.expires_at.is_some());
        let result: SessionResult = decode(
            br#"{"id":"CS1","status":"completed","payments":[{"pspReference":"P1","resultCode":"Authorised"}],"additionalData":{"tokenization.storedPaymentMethodId":"S1"}}"#,
        )
        .unwrap();
        assert_eq!(result.status, SessionStatus::Completed);
        assert_eq!(
            result
                .additional_data
                .get("tokenization.storedPaymentMethodId"),
            Some("S1")
        );
    }
}
