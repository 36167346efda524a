//! Standard notifications (webhooks): a batch `{"live": "false", "notificationItems":
//! [{"NotificationRequestItem": {...}}]}` and its items (Adyen/adyen-openapi
//! `json/Webhooks-v1.json`, `NotificationRequestItem`).
//!
//! The batch keeps each item's JSON text: items are decoded one by one, so that an item the
//! plugin can't read is dropped without losing the others.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::common::{Amount, Strings, id};

/// A notification batch.
#[derive(Debug, Deserialize)]
pub struct Batch {
    /// The items, as JSON text.
    #[serde(rename = "notificationItems")]
    pub items: Vec<Wrapper>,
}

/// `{"NotificationRequestItem": {...}}`.
#[derive(Debug, Deserialize)]
pub struct Wrapper {
    /// The item's JSON text.
    #[serde(rename = "NotificationRequestItem")]
    pub item: Box<RawValue>,
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    /// `AUTHORISATION`, `CAPTURE`, ...
    pub event_code: String,
    /// The reference of what the event is about (the payment, the modification, the dispute,
    /// the stored method).
    #[serde(deserialize_with = "id")]
    pub psp_reference: String,
    /// The payment a modification or dispute belongs to.
    pub original_reference: Option<String>,
    /// The merchant account.
    pub merchant_account_code: Option<String>,
    /// The merchant reference of the payment.
    pub merchant_reference: Option<String>,
    /// The amount.
    pub amount: Option<Amount>,
    /// When it happened (ISO 8601).
    pub event_date: Option<String>,
    /// `true` or `false`.
    pub success: String,
    /// The refusal or failure reason, the chargeback reason (`code:description`), or the
    /// authorisation code.
    pub reason: Option<String>,
    /// The card brand.
    pub payment_method: Option<String>,
    /// `hmacSignature`, `metadata.*`, `refusalReasonCode`, `chargebackReasonCode`, ...
    #[serde(default)]
    pub additional_data: Strings,
}

impl Item {
    /// Whether `success` is `true`.
    pub fn succeeded(&self) -> bool {
        self.success == "true"
    }

    /// The string Adyen signs: `pspReference:originalReference:merchantAccountCode:
    /// merchantReference:value:currency:eventCode:success`, absent fields empty
    /// (docs.adyen.com "development-resources/webhooks/secure-webhooks/verify-hmac-signatures",
    /// and `hmacValidator.ts` of adyen-node-api-library).
    pub fn signing_string(&self) -> String {
        let (value, currency) = match &self.amount {
            Some(a) => (a.value.to_string(), a.currency.as_str()),
            None => (String::new(), ""),
        };
        [
            self.psp_reference.as_str(),
            self.original_reference.as_deref().unwrap_or(""),
            self.merchant_account_code.as_deref().unwrap_or(""),
            self.merchant_reference.as_deref().unwrap_or(""),
            &value,
            currency,
            &self.event_code,
            &self.success,
        ]
        .join(":")
    }

    /// `metadata.KEY` entries of `additionalData`, as `(KEY, value)`.
    pub fn metadata(&self) -> impl Iterator<Item = (&str, &str)> {
        self.additional_data
            .0
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("metadata.")?, v.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::decode;
    use super::*;

    #[test]
    fn signing_strings_match_adyen_s_test_vectors() {
        // adyen-node-api-library `hmacValidator.spec.ts`.
        let item: Item = decode(
            br#"{"pspReference":"pspReference","originalReference":"originalReference",
                "merchantAccountCode":"merchantAccount","merchantReference":"reference",
                "amount":{"currency":"EUR","value":1000},"eventCode":"EVENT","success":"true"}"#,
        )
        .unwrap();
        assert_eq!(
            item.signing_string(),
            "pspReference:originalReference:merchantAccount:reference:1000:EUR:EVENT:true"
        );
        let bare: Item =
            decode(br#"{"pspReference":"A","eventCode":"X","success":"false"}"#).unwrap();
        assert_eq!(bare.signing_string(), "A::::::X:false");
        assert!(!bare.succeeded());
    }

    #[test]
    fn batches_keep_items_as_text() {
        let batch: Batch = decode(include_bytes!("fixtures/notification_batch.json")).unwrap();
        assert_eq!(batch.items.len(), 2);
        let item: Item = decode(batch.items[0].item.get().as_bytes()).unwrap();
        assert_eq!(item.event_code, "AUTHORISATION");
        assert!(item.additional_data.get("hmacSignature").is_some());
        assert!(
            item.metadata()
                .any(|(k, v)| k == "crm_transaction_id" && v == "7")
        );
        assert!(decode::<Batch>(br#"{"live":"false"}"#).is_err());
        assert!(
            decode::<Item>(br#"{"pspReference":"","eventCode":"X","success":"true"}"#).is_err()
        );
    }
}
