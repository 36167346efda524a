//! Modifications: `POST /payments/{paymentPspReference}/captures`, `/cancels` and `/refunds`
//! (Checkout API v71 schemas `PaymentCaptureRequest`, `PaymentCancelRequest`,
//! `PaymentRefundRequest` and their responses). Each answers `201` with `status: received` and
//! the modification's own `pspReference`; the outcome comes later by notification.

use serde::{Deserialize, Serialize};

use super::common::{Amount, id, status_enum};

/// A capture, cancel or refund request: the fields the three share, the amount where one is
/// taken, and the refund's reason.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModificationRequest<'a> {
    /// The merchant account.
    pub merchant_account: &'a str,
    /// How much (captures and refunds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<Amount>,
    /// The merchant's reference of the modification (at most 80 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// `FRAUD`, `CUSTOMER REQUEST`, `RETURN`, `DUPLICATE` or `OTHER` (refunds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_refund_reason: Option<&'static str>,
}

status_enum! {
    /// The `status` of a modification answer.
    ModificationStatus {
        /// Adyen received the request; the outcome comes by notification.
        Received = "received",
    }
}

/// The answer to a modification request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModificationResponse {
    /// The modification's own reference.
    #[serde(deserialize_with = "id")]
    pub psp_reference: String,
    /// `received`.
    pub status: ModificationStatus,
    /// The amount, for captures and refunds.
    pub amount: Option<Amount>,
}

#[cfg(test)]
mod tests {
    use super::super::common::{decode, to_json};
    use super::*;

    #[test]
    fn modifications_both_ways() {
        let refund = ModificationRequest {
            merchant_account: "OmniCRM",
            amount: Some(Amount {
                value: 500,
                currency: "EUR".into(),
            }),
            reference: Some("r-1".into()),
            merchant_refund_reason: Some("CUSTOMER REQUEST"),
        };
        assert_eq!(
            to_json(&refund),
            br#"{"merchantAccount":"OmniCRM","amount":{"value":500,"currency":"EUR"},"reference":"r-1","merchantRefundReason":"CUSTOMER REQUEST"}"#.to_vec()
        );
        let cancel = ModificationRequest {
            merchant_account: "OmniCRM",
            amount: None,
            reference: None,
            merchant_refund_reason: None,
        };
        assert_eq!(
            to_json(&cancel),
            br#"{"merchantAccount":"OmniCRM"}"#.to_vec()
        );

        let received: ModificationResponse =
            decode(include_bytes!("fixtures/capture_received.json")).unwrap();
        assert_eq!(received.status, ModificationStatus::Received);
        assert_eq!(received.amount.unwrap().value, 1500);
        assert_eq!(received.psp_reference, "ME3NQJRQZ0T3DZ40");
        assert!(decode::<ModificationResponse>(br#"{"status":"received"}"#).is_err());
        let other: ModificationResponse =
            decode(br#"{"pspReference":"M","status":"queued"}"#).unwrap();
        assert_eq!(other.status.as_str(), "queued");
    }
}
