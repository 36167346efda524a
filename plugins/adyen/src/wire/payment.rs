//! `POST /payments` and `POST /payments/details`: the request the plugin sends, and the answer
//! (`PaymentResponse`, `PaymentDetailsResponse`, which share their fields) with its `action`.
//!
//! Field names are those of the Checkout API v71 spec (Adyen/adyen-openapi
//! `json/CheckoutService-v71.json`, schemas `PaymentRequest`, `PaymentResponse`,
//! `PaymentDetailsRequest`, `CheckoutRedirectAction`, `CheckoutThreeDS2Action`). Adyen refuses a
//! request with a field its spec lacks (`702`), so the structs send nothing else.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::common::{Amount, DecodeError, Pairs, Strings, status_enum};

/// `paymentMethod` of a payment: a stored card by id, or what the card form produced.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
pub enum PaymentMethod<'a> {
    /// `{"type": "scheme", "storedPaymentMethodId": ...}`.
    Stored(StoredMethodRef<'a>),
    /// The card component's `paymentMethod` object, sent as it came (encrypted fields, or the
    /// test environment's `test_` ones).
    Given(&'a RawValue),
}

/// A stored card as a payment method.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredMethodRef<'a> {
    /// Always `scheme` (cards).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The stored payment method's id.
    pub stored_payment_method_id: &'a str,
}

impl<'a> StoredMethodRef<'a> {
    /// The stored card `id`.
    pub fn card(id: &'a str) -> Self {
        StoredMethodRef {
            kind: "scheme",
            stored_payment_method_id: id,
        }
    }
}

/// `POST /payments`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequest<'a> {
    /// The merchant account.
    pub merchant_account: &'a str,
    /// How much, in Adyen's minor units.
    pub amount: Amount,
    /// The merchant's reference of the payment (at most 80 characters).
    pub reference: String,
    /// The card.
    pub payment_method: PaymentMethod<'a>,
    /// The shopper the card belongs to.
    pub shopper_reference: &'a str,
    /// `Ecommerce` (the shopper is there) or `ContAuth` (merchant-initiated).
    pub shopper_interaction: &'static str,
    /// `CardOnFile`, `Subscription` or `UnscheduledCardOnFile`.
    pub recurring_processing_model: &'a str,
    /// Tokenize the card (card set-ups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_payment_method: Option<bool>,
    /// Where the shopper comes back after a redirect (required by v71).
    pub return_url: &'a str,
    /// Key/value pairs stored with the payment, returned in its notifications.
    #[serde(skip_serializing_if = "Pairs::is_empty")]
    pub metadata: Pairs<'a>,
    /// `manualCapture`, `networkTxReference`.
    #[serde(skip_serializing_if = "Pairs::is_empty")]
    pub additional_data: Pairs<'a>,
}

/// `POST /payments/details`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailsRequest<'a> {
    /// What came back from the shopper's action (`redirectResult`, `threeDSResult`, ...).
    pub details: Pairs<'a>,
    /// The `paymentData` of an older action, when the caller has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_data: Option<&'a str>,
}

status_enum! {
    /// `resultCode` (docs.adyen.com "online-payments/payment-result-codes").
    ResultCode {
        /// Authorised; final.
        Authorised = "Authorised",
        /// Refused by the issuer or Adyen's risk checks; final.
        Refused = "Refused",
        /// The outcome is not known yet; a notification follows.
        Pending = "Pending",
        /// Received; the outcome comes by notification.
        Received = "Received",
        /// An error while processing; final.
        Error = "Error",
        /// Cancelled before processing completed; final.
        Cancelled = "Cancelled",
        /// The shopper must be redirected (3-D Secure).
        RedirectShopper = "RedirectShopper",
        /// The shopper's device must be fingerprinted (native 3-D Secure 2).
        IdentifyShopper = "IdentifyShopper",
        /// The shopper must pass a challenge (native 3-D Secure 2).
        ChallengeShopper = "ChallengeShopper",
        /// The shopper must be shown something (a voucher, a QR code).
        PresentToShopper = "PresentToShopper",
        /// Partially authorised (gift cards).
        PartiallyAuthorised = "PartiallyAuthorised",
    }
}

/// The card brand of an answer (`paymentMethod.brand`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ResponsePaymentMethod {
    /// Adyen's brand code (`visa`, `mc`, ...).
    pub brand: Option<String>,
}

/// The answer of `/payments` or `/payments/details`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentResponse {
    /// Adyen's reference of the payment (absent on some `Error` answers).
    pub psp_reference: Option<String>,
    /// Where the payment stands.
    pub result_code: ResultCode,
    /// Why it was refused.
    pub refusal_reason: Option<String>,
    /// Adyen's code of the refusal reason (see `decline`).
    pub refusal_reason_code: Option<String>,
    /// What the shopper must do, for `RedirectShopper`, `IdentifyShopper`, `ChallengeShopper`.
    pub action: Option<Box<RawValue>>,
    /// Card and tokenization facts (`cardSummary`, `expiryDate`,
    /// `tokenization.storedPaymentMethodId`, `networkTxReference`, ...).
    #[serde(default)]
    pub additional_data: Strings,
    /// The amount.
    pub amount: Option<Amount>,
    /// The card's brand.
    #[serde(default)]
    pub payment_method: ResponsePaymentMethod,
}

impl PaymentResponse {
    /// The stored payment method a card set-up created (or found): Adyen's tokenization field,
    /// or the older `recurring.recurringDetailReference`.
    pub fn stored_method_id(&self) -> Option<&str> {
        self.additional_data
            .non_empty("tokenization.storedPaymentMethodId")
            .or_else(|| {
                self.additional_data
                    .non_empty("recurring.recurringDetailReference")
            })
    }

    /// The card's brand: `paymentMethod.brand`, else `additionalData.paymentMethod`.
    pub fn brand(&self) -> Option<&str> {
        self.payment_method
            .brand
            .as_deref()
            .or_else(|| self.additional_data.non_empty("paymentMethod"))
    }

    /// The action, decoded (its JSON text is [`PaymentResponse::action`]).
    pub fn decoded_action(&self) -> Result<Option<Action>, DecodeError> {
        self.action
            .as_deref()
            .map(|raw| {
                serde_json::from_str(raw.get())
                    .map_err(|e| DecodeError::new(format!("action: {e}")))
            })
            .transpose()
    }
}

/// What the plugin reads of an `action` (the rest goes to Adyen Web untouched).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Action {
    /// `redirect`, `threeDS2`, `sdk`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `GET` or `POST`, for `redirect`.
    pub method: Option<String>,
    /// Where to redirect, for `redirect`.
    pub url: Option<String>,
    /// The form fields of a `POST` redirect (`MD`, `PaReq`, `TermUrl`).
    #[serde(default)]
    pub data: Strings,
}

#[cfg(test)]
mod tests {
    use super::super::common::{decode, to_json};
    use super::*;

    #[test]
    fn requests_carry_only_spec_fields() {
        let metadata = [("crm_transaction_id".to_owned(), "7".to_owned())];
        let extra = [("manualCapture".to_owned(), "true".to_owned())];
        let request = PaymentRequest {
            merchant_account: "OmniCRM",
            amount: Amount {
                value: 2000,
                currency: "EUR".into(),
            },
            reference: "7".into(),
            payment_method: PaymentMethod::Stored(StoredMethodRef::card("VTCPKZWPQL50BN6S")),
            shopper_reference: "CRM-1",
            shopper_interaction: "ContAuth",
            recurring_processing_model: "Subscription",
            store_payment_method: None,
            return_url: "https://crm.example/back",
            metadata: Pairs(&metadata),
            additional_data: Pairs(&extra),
        };
        let json: serde_json::Value = serde_json::from_slice(&to_json(&request)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "merchantAccount": "OmniCRM",
                "amount": {"value": 2000, "currency": "EUR"},
                "reference": "7",
                "paymentMethod": {"type": "scheme", "storedPaymentMethodId": "VTCPKZWPQL50BN6S"},
                "shopperReference": "CRM-1",
                "shopperInteraction": "ContAuth",
                "recurringProcessingModel": "Subscription",
                "returnUrl": "https://crm.example/back",
                "metadata": {"crm_transaction_id": "7"},
                "additionalData": {"manualCapture": "true"},
            })
        );
        let raw = RawValue::from_string(
            r#"{"type":"scheme","encryptedCardNumber":"test_4111111111111111"}"#.into(),
        )
        .unwrap();
        let given = PaymentRequest {
            payment_method: PaymentMethod::Given(&raw),
            store_payment_method: Some(true),
            metadata: Pairs(&[]),
            additional_data: Pairs(&[]),
            ..request
        };
        let text = String::from_utf8(to_json(&given)).unwrap();
        assert!(
            text.contains(
                r#""paymentMethod":{"type":"scheme","encryptedCardNumber":"test_4111111111111111"}"#
            ),
            "{text}"
        );
        assert!(text.contains(r#""storePaymentMethod":true"#));
        assert!(!text.contains("metadata") && !text.contains("additionalData"));
        let details = [("redirectResult".to_owned(), "X6Xtf".to_owned())];
        assert_eq!(
            to_json(&DetailsRequest {
                details: Pairs(&details),
                payment_data: None
            }),
            br#"{"details":{"redirectResult":"X6Xtf"}}"#.to_vec()
        );
    }

    #[test]
    fn answers_decode_with_their_action_and_tokenization() {
        let stored: PaymentResponse =
            decode(include_bytes!("fixtures/payment_stored.json")).unwrap();
        assert_eq!(stored.result_code, ResultCode::Authorised);
        assert_eq!(stored.stored_method_id(), Some("QQK5F3YZ6I521VJV"));
        assert_eq!(stored.brand(), Some("visa"));
        assert!(stored.decoded_action().unwrap().is_none());

        let redirect: PaymentResponse =
            decode(include_bytes!("fixtures/payment_redirect.json")).unwrap();
        assert_eq!(redirect.result_code, ResultCode::RedirectShopper);
        let action = redirect.decoded_action().unwrap().unwrap();
        assert_eq!(
            (action.kind.as_str(), action.method.as_deref()),
            ("redirect", Some("GET"))
        );
        assert!(action.url.unwrap().contains("/_emulator/threeds/"));

        let refused: PaymentResponse =
            decode(include_bytes!("fixtures/payment_refused.json")).unwrap();
        assert_eq!(refused.result_code, ResultCode::Refused);
        assert_eq!(refused.refusal_reason_code.as_deref(), Some("12"));
        assert_eq!(refused.stored_method_id(), None);

        let unknown: PaymentResponse =
            decode(br#"{"resultCode":"SomethingNew","pspReference":"P"}"#).unwrap();
        assert_eq!(
            unknown.result_code,
            ResultCode::Other("SomethingNew".into())
        );
        assert!(
            decode::<PaymentResponse>(br#"{"pspReference":"P"}"#).is_err(),
            "resultCode is required"
        );
        let bad_action: PaymentResponse =
            decode(br#"{"resultCode":"RedirectShopper","action":{"url":"x"}}"#).unwrap();
        assert!(bad_action.decoded_action().is_err());
    }
}
