//! Standard notifications (webhooks): the `NotificationRequestItem`s the emulator sends, and their
//! HMAC signatures.
//!
//! A batch is `{"live": "false", "notificationItems": [{"NotificationRequestItem": {...}}]}`.
//! Each item carries `additionalData.hmacSignature` = Base64(HMAC-SHA256(hex-decoded key,
//! `pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success`)),
//! missing fields as empty strings (docs.adyen.com
//! "development-resources/webhooks/secure-webhooks/verify-hmac-signatures"; the same algorithm
//! and test vectors in Adyen/adyen-node-api-library `src/utils/hmacValidator.ts` and its
//! `hmacValidator.spec.ts`, reproduced in this module's tests). Field shapes follow the examples
//! of Adyen's Webhooks v1 spec (Adyen/adyen-openapi `json/Webhooks-v1.json`).

use std::collections::BTreeMap;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::currency::Amount;

/// The `additionalData` key of the signature.
pub const HMAC_SIGNATURE: &str = "hmacSignature";

/// Why a signature could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The HMAC key is not hexadecimal (Adyen's keys are 64 hex digits).
    #[error("the HMAC key is not hexadecimal")]
    KeyNotHex,
    /// The HMAC key is empty.
    #[error("the HMAC key is empty")]
    EmptyKey,
}

/// Decodes a hex HMAC key (either case).
pub fn decode_key(hex_key: &str) -> Result<Vec<u8>, SignatureError> {
    if hex_key.is_empty() {
        return Err(SignatureError::EmptyKey);
    }
    hex::decode(hex_key).map_err(|_| SignatureError::KeyNotHex)
}

/// A new random HMAC key: 32 bytes as 64 upper-case hex digits, like the keys Adyen's Customer
/// Area generates.
pub fn generate_key() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode_upper(bytes)
}

fn field<'a>(item: &'a Value, key: &str) -> &'a str {
    item.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The string Adyen signs for a `NotificationRequestItem` (the object inside
/// `{"NotificationRequestItem": ...}`).
pub fn signing_string(item: &Value) -> String {
    let value = match item.pointer("/amount/value") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let currency = item
        .pointer("/amount/currency")
        .and_then(Value::as_str)
        .unwrap_or("");
    [
        field(item, "pspReference"),
        field(item, "originalReference"),
        field(item, "merchantAccountCode"),
        field(item, "merchantReference"),
        &value,
        currency,
        field(item, "eventCode"),
        field(item, "success"),
    ]
    .join(":")
}

/// Base64(HMAC-SHA256(key, signing string)) with an already decoded key.
pub fn sign(key: &[u8], item: &Value) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(signing_string(item).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The `hmacSignature` of a `NotificationRequestItem` for a hex HMAC key.
pub fn hmac_signature(hex_key: &str, item: &Value) -> Result<String, SignatureError> {
    Ok(sign(&decode_key(hex_key)?, item))
}

/// A copy of `item` with `additionalData.hmacSignature` set.
pub fn signed(key: &[u8], item: &Value) -> Value {
    let signature = sign(key, item);
    let mut item = item.clone();
    if let Some(obj) = item.as_object_mut() {
        let additional = obj
            .entry("additionalData")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(additional) = additional.as_object_mut() {
            additional.insert(HMAC_SIGNATURE.to_string(), json!(signature));
        }
    }
    item
}

/// A batch as Adyen posts it.
pub fn batch(items: &[Value]) -> Value {
    let items: Vec<Value> = items
        .iter()
        .map(|i| json!({"NotificationRequestItem": i}))
        .collect();
    json!({"live": "false", "notificationItems": items})
}

/// One event, before it is signed for an endpoint.
#[derive(Debug, Clone)]
pub struct Event {
    /// `AUTHORISATION`, `CAPTURE`, ...
    pub event_code: &'static str,
    /// The event's own reference (the modification's, or the payment's for AUTHORISATION).
    pub psp_reference: String,
    /// The payment a modification or dispute belongs to.
    pub original_reference: Option<String>,
    /// `merchantAccountCode`.
    pub merchant_account: String,
    /// `merchantReference`.
    pub merchant_reference: String,
    /// `amount`.
    pub amount: Amount,
    /// `success`.
    pub success: bool,
    /// `reason` (empty when none).
    pub reason: String,
    /// `paymentMethod` (the brand).
    pub payment_method: Option<String>,
    /// `eventDate`.
    pub event_date: String,
    /// `operations`, on AUTHORISATION.
    pub operations: Vec<&'static str>,
    /// `additionalData` (the signature is added per endpoint).
    pub additional_data: BTreeMap<String, String>,
}

impl Event {
    /// The `NotificationRequestItem` object, unsigned.
    pub fn item(&self) -> Value {
        let mut item = json!({
            "additionalData": self.additional_data,
            "amount": self.amount.json(),
            "eventCode": self.event_code,
            "eventDate": self.event_date,
            "merchantAccountCode": self.merchant_account,
            "merchantReference": self.merchant_reference,
            "pspReference": self.psp_reference,
            "reason": self.reason,
            "success": if self.success { "true" } else { "false" },
        });
        if let Some(original) = &self.original_reference {
            item["originalReference"] = json!(original);
        }
        if let Some(method) = &self.payment_method {
            item["paymentMethod"] = json!(method);
        }
        if !self.operations.is_empty() {
            item["operations"] = json!(self.operations);
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00";

    fn item(event_code: &str) -> Value {
        json!({
            "pspReference": "pspReference",
            "originalReference": "originalReference",
            "merchantAccountCode": "merchantAccount",
            "merchantReference": "reference",
            "amount": {"currency": "EUR", "value": 1000},
            "eventCode": event_code,
            "success": "true",
        })
    }

    #[test]
    fn adyen_node_library_test_vectors() {
        let report = item("REPORT_AVAILABLE");
        assert_eq!(
            signing_string(&report),
            "pspReference:originalReference:merchantAccount:reference:1000:EUR:REPORT_AVAILABLE:true"
        );
        assert_eq!(
            hmac_signature(KEY, &report).unwrap(),
            "ZNBPtI+oDyyRrLyD1XirkKnQgIAlFc07Vj27TeHsDRE="
        );
        assert_eq!(
            hmac_signature(KEY, &item("EVENT")).unwrap(),
            "ipnxGCaUZ4l8TUW75a71/ghd2Fe5ffvX0pV4TLTntIc="
        );
        assert_eq!(
            hmac_signature("xyz", &report),
            Err(SignatureError::KeyNotHex)
        );
        let signed = signed(&decode_key(KEY).unwrap(), &report);
        assert_eq!(
            signed["additionalData"]["hmacSignature"],
            "ZNBPtI+oDyyRrLyD1XirkKnQgIAlFc07Vj27TeHsDRE="
        );
        assert_eq!(generate_key().len(), 64);
    }

    #[test]
    fn missing_fields_sign_as_empty() {
        let authorisation = json!({
            "pspReference": "A", "merchantAccountCode": "M", "merchantReference": "R",
            "amount": {"currency": "EUR", "value": 5}, "eventCode": "AUTHORISATION", "success": "false",
        });
        assert_eq!(
            signing_string(&authorisation),
            "A::M:R:5:EUR:AUTHORISATION:false"
        );
    }
}
