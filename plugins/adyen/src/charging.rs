//! `charging`: payments of stored cards (`/payments`), the shopper's actions
//! (`/payments/details`), and modifications (`/captures`, `/cancels`, `/refunds`), which Adyen
//! answers `received` and settles later by notification.

use omnicrm_gateway_sdk::charging::{
    ActionCompletion, CaptureMode, CaptureRequest, ChargeRequest, Modification, ModificationStatus,
    Payment, Refund, RefundReason, RefundRequest, RefundStatus, StoredCredentialUse, VoidRequest,
};
use omnicrm_gateway_sdk::http::Method;
use omnicrm_gateway_sdk::time;
use omnicrm_gateway_sdk::types::{GatewayError, Metadata, Money};

use crate::client::Client;
use crate::config::Config;
use crate::errors::{Target, unusable};
use crate::keys::{self, check_id, check_shopper, step_key};
use crate::money;
use crate::outcome::{self, Asked, CAPTURE_MODE_KEY};
use crate::wire::{
    Amount, DetailsRequest, ModificationRequest, ModificationResponse,
    ModificationStatus as Received, Pairs, PaymentMethod, PaymentRequest, PaymentResponse,
    StoredMethodRef, to_json,
};

/// The most metadata entries Adyen keeps with a payment (`177` "Metadata size exceeds limit").
const MAX_METADATA: usize = 20;
/// The longest metadata key (`178`).
const MAX_METADATA_KEY: usize = 20;
/// The longest metadata value.
const MAX_METADATA_VALUE: usize = 80;

/// The metadata key of the CRM's transaction id, the payment's merchant reference when given.
const CRM_TRANSACTION_ID: &str = "crm_transaction_id";

/// The details `/payments/details` takes (`PaymentCompletionDetails`, Checkout API v71).
const COMPLETION_DETAILS: &[&str] = &[
    "MD",
    "PaReq",
    "PaRes",
    "authorization_token",
    "billingToken",
    "cupsecureplus.smscode",
    "facilitatorAccessToken",
    "oneTimePasscode",
    "orderID",
    "payerID",
    "payload",
    "paymentID",
    "paymentStatus",
    "redirectResult",
    "resultCode",
    "returnUrlQueryString",
    "threeDSResult",
    "threeds2.challengeResult",
    "threeds2.fingerprint",
    "vaultToken",
];

/// Checks the caller's metadata against Adyen's limits (one entry is the plugin's own).
fn check_metadata(metadata: &Metadata) -> Result<(), GatewayError> {
    let invalid = |message: String| GatewayError::invalid_input("metadata", message);
    if metadata.len() >= MAX_METADATA {
        return Err(invalid(format!(
            "Adyen keeps {MAX_METADATA} entries with a payment, one of them the plugin's: at most {} may be given",
            MAX_METADATA - 1
        )));
    }
    for (key, value) in metadata {
        if key.is_empty() || key.chars().count() > MAX_METADATA_KEY {
            return Err(invalid(format!(
                "key `{key}`: Adyen takes keys of 1 to {MAX_METADATA_KEY} characters"
            )));
        }
        if key == CAPTURE_MODE_KEY {
            return Err(invalid(format!("key `{key}` is the plugin's own")));
        }
        if value.chars().count() > MAX_METADATA_VALUE {
            return Err(invalid(format!(
                "the value of `{key}`: Adyen takes values of at most {MAX_METADATA_VALUE} characters"
            )));
        }
    }
    Ok(())
}

/// How a charge is made at Adyen: `shopperInteraction`, `recurringProcessingModel`.
fn interaction(use_: StoredCredentialUse) -> (&'static str, &'static str) {
    match use_ {
        StoredCredentialUse::CustomerInitiated => ("Ecommerce", "CardOnFile"),
        StoredCredentialUse::MerchantRecurring => ("ContAuth", "Subscription"),
        StoredCredentialUse::MerchantUnscheduled => ("ContAuth", "UnscheduledCardOnFile"),
    }
}

/// The checked parts of a charge.
struct Charge<'a> {
    customer: &'a str,
    card: &'a str,
    amount: Amount,
    key: String,
    metadata: Metadata,
    additional_data: Vec<(String, String)>,
    reference: String,
    shopper_interaction: &'static str,
    model: &'static str,
    manual: bool,
}

fn prepare(request: &ChargeRequest) -> Result<Charge<'_>, GatewayError> {
    let customer = check_shopper(&request.customer)?;
    let card = check_id("card", &request.card)?;
    let key = step_key(&request.idempotency_key, "payment")?;
    let amount = money::to_adyen(&request.amount, true)?;
    let manual = request.capture == CaptureMode::Manual;
    let merchant_initiated = request.stored_credential != StoredCredentialUse::CustomerInitiated;
    if manual && !merchant_initiated {
        // A customer-initiated charge may need 3-D Secure, and the answer of
        // `/payments/details` does not say whether the payment waits for a capture.
        return Err(GatewayError::invalid_input(
            "capture",
            "a customer-initiated Adyen charge is captured automatically: Adyen's answer after 3-D Secure cannot tell an authorization waiting for capture",
        ));
    }
    check_metadata(&request.metadata)?;
    let mut metadata = request.metadata.clone();
    metadata.push((
        CAPTURE_MODE_KEY.into(),
        if manual { "manual" } else { "automatic" }.into(),
    ));
    let mut additional_data = Vec::new();
    if manual {
        additional_data.push(("manualCapture".into(), "true".into()));
    }
    // Links a merchant-initiated payment to the chain the card network knows
    // (`additionalData.networkTxReference`: "Submit the original transaction ID of the contract
    // in your payment request ... for subsequent charges", with `ContAuth`).
    if let Some(ntx) = request
        .network_transaction_id
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        && merchant_initiated
    {
        additional_data.push(("networkTxReference".into(), ntx.to_owned()));
    }
    let crm_transaction = request
        .metadata
        .iter()
        .find(|(k, _)| k == CRM_TRANSACTION_ID)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty());
    let (shopper_interaction, model) = interaction(request.stored_credential);
    Ok(Charge {
        customer,
        card,
        amount,
        key,
        metadata,
        additional_data,
        reference: keys::reference(crm_transaction.unwrap_or(&request.idempotency_key)),
        shopper_interaction,
        model,
        manual,
    })
}

/// Charges a stored card (see the crate documentation for the fields sent).
pub fn charge(request: ChargeRequest) -> Result<Payment, GatewayError> {
    let charge = prepare(&request)?;
    let config = Config::load()?;
    let body = PaymentRequest {
        merchant_account: &config.merchant_account,
        amount: charge.amount,
        reference: charge.reference,
        payment_method: PaymentMethod::Stored(StoredMethodRef::card(charge.card)),
        shopper_reference: charge.customer,
        shopper_interaction: charge.shopper_interaction,
        recurring_processing_model: charge.model,
        store_payment_method: None,
        return_url: config.return_url(request.return_url.as_deref())?,
        metadata: Pairs(&charge.metadata),
        additional_data: Pairs(&charge.additional_data),
    };
    let answer: PaymentResponse = Client::new(&config).post(
        "/payments",
        to_json(&body),
        &charge.key,
        Target::new("card", charge.card),
    )?;
    let asked = Asked {
        amount: request.amount.clone(),
        customer: Some(request.customer.clone()),
        card: Some(request.card.clone()),
        description: request.description.clone(),
        metadata: request.metadata.clone(),
        manual_capture: charge.manual,
        merchant_initiated: charge.shopper_interaction == "ContAuth",
        now: time::unix_now(),
    };
    outcome::payment(&answer, &asked)
}

/// Sends a modification request and checks that Adyen received it.
fn modify(
    config: &Config,
    payment: &str,
    kind: &str,
    body: &ModificationRequest<'_>,
    key: &str,
) -> Result<ModificationResponse, GatewayError> {
    let path = format!("/payments/{payment}/{kind}");
    let answer: ModificationResponse =
        Client::new(config).post(&path, to_json(body), key, Target::new("payment", payment))?;
    if answer.status != Received::Received {
        return Err(unusable(
            Method::Post,
            format!("modification status `{}`", answer.status.as_str()),
            Some(answer.psp_reference),
        ));
    }
    Ok(answer)
}

/// A modification Adyen received: `pending`, its id the modification's `pspReference`.
fn pending(answer: ModificationResponse, payment: &str, amount: Option<Money>) -> Modification {
    Modification {
        id: answer.psp_reference,
        payment: payment.to_owned(),
        status: ModificationStatus::Pending,
        amount: answer.amount.as_ref().map(money::from_adyen).or(amount),
        payment_after: None,
        failure_reason: None,
    }
}

/// Captures `amount` of an authorization (`/captures`). Several partial captures are allowed;
/// Adyen has no way to release the rest of an authorization after a capture (a cancel of a
/// captured payment is refused), so `final-capture` changes nothing: the rest expires with the
/// authorization. Adyen keeps no metadata with a capture. Whether the capture succeeded comes by
/// a CAPTURE (or CAPTURE_FAILED) notification, and so does a capture of more than remains.
pub fn capture_payment(request: CaptureRequest) -> Result<Modification, GatewayError> {
    let payment = check_id("payment", &request.payment)?;
    let key = step_key(&request.idempotency_key, "capture")?;
    let amount = money::to_adyen(&request.amount, true)?;
    let config = Config::load()?;
    let body = ModificationRequest {
        merchant_account: &config.merchant_account,
        amount: Some(amount),
        reference: Some(keys::reference(&request.idempotency_key)),
        merchant_refund_reason: None,
    };
    let answer = modify(&config, payment, "captures", &body, &key)?;
    Ok(pending(answer, payment, Some(request.amount.clone())))
}

/// Voids an authorization (`/cancels`); the outcome comes by a CANCELLATION notification.
pub fn void_payment(request: VoidRequest) -> Result<Modification, GatewayError> {
    let payment = check_id("payment", &request.payment)?;
    let key = step_key(&request.idempotency_key, "cancel")?;
    let config = Config::load()?;
    let body = ModificationRequest {
        merchant_account: &config.merchant_account,
        amount: None,
        reference: Some(keys::reference(&request.idempotency_key)),
        merchant_refund_reason: None,
    };
    let mut voided = pending(
        modify(&config, payment, "cancels", &body, &key)?,
        payment,
        None,
    );
    voided.amount = None;
    Ok(voided)
}

/// Adyen's `merchantRefundReason` of a contract reason.
fn refund_reason(reason: RefundReason) -> &'static str {
    match reason {
        RefundReason::Duplicate => "DUPLICATE",
        RefundReason::Fraudulent => "FRAUD",
        RefundReason::RequestedByCustomer => "CUSTOMER REQUEST",
    }
}

/// Refunds all or part of a payment (`/refunds`); the outcome comes by a REFUND (or
/// REFUND_FAILED) notification, and so does a refund of more than remains.
pub fn refund_payment(request: RefundRequest) -> Result<Refund, GatewayError> {
    let payment = check_id("payment", &request.payment)?;
    let key = step_key(&request.idempotency_key, "refund")?;
    let amount = money::to_adyen(&request.amount, true)?;
    let config = Config::load()?;
    let body = ModificationRequest {
        merchant_account: &config.merchant_account,
        amount: Some(amount),
        reference: Some(keys::reference(&request.idempotency_key)),
        merchant_refund_reason: request.reason.map(refund_reason),
    };
    let answer = modify(&config, payment, "refunds", &body, &key)?;
    Ok(Refund {
        amount: answer
            .amount
            .as_ref()
            .map_or_else(|| request.amount.clone(), money::from_adyen),
        id: answer.psp_reference,
        payment: payment.to_owned(),
        status: RefundStatus::Pending,
        reason: request.reason,
        created: time::unix_now(),
        failure_reason: None,
    })
}

/// What `/payments/details` is sent: Adyen's completion fields, and `paymentData` apart.
type Completion<'a> = (Vec<(String, String)>, Option<&'a str>);

/// The checked details of a completion: Adyen's completion fields, and `paymentData` apart.
fn completion_details(details: &[(String, String)]) -> Result<Completion<'_>, GatewayError> {
    let mut fields = Vec::new();
    let mut payment_data = None;
    for (key, value) in details {
        if key == "paymentData" {
            payment_data = Some(value.as_str());
        } else if COMPLETION_DETAILS.contains(&key.as_str()) {
            fields.push((key.clone(), value.clone()));
        } else {
            return Err(GatewayError::invalid_input(
                "details",
                format!("`{key}` is not a detail Adyen's /payments/details takes"),
            ));
        }
    }
    if fields.is_empty() {
        return Err(GatewayError::invalid_input(
            "details",
            "expected what the shopper's action returned (`redirectResult` or `threeDSResult`)",
        ));
    }
    Ok((fields, payment_data))
}

/// Finishes a payment (or a card set-up) after the shopper's action (`/payments/details`): the
/// payment as it now stands, a decline, or the next action. An authorised payment is
/// `succeeded`: only automatically captured payments (customer-initiated charges) and card
/// set-ups reach an action; a card set-up's payment names the stored card as its `card`, the
/// token of the `store-card` that follows.
pub fn complete_action(request: ActionCompletion) -> Result<Payment, GatewayError> {
    let payment = check_id("payment", &request.payment)?;
    let key = step_key(&request.idempotency_key, "details")?;
    let (details, payment_data) = completion_details(&request.details)?;
    let config = Config::load()?;
    let body = DetailsRequest {
        details: Pairs(&details),
        payment_data,
    };
    let mut answer: PaymentResponse = Client::new(&config)
        .post(
            "/payments/details",
            to_json(&body),
            &key,
            Target::new("payment", payment),
        )
        .map_err(|e| match e {
            GatewayError::InvalidInput(mut i) if i.field == "request" => {
                i.field = "details".into();
                GatewayError::InvalidInput(i)
            }
            other => other,
        })?;
    if answer.psp_reference.is_none() {
        answer.psp_reference = Some(payment.to_owned());
    }
    let data = &answer.additional_data;
    let asked = Asked {
        // What the answer doesn't say: ISO 4217's "no currency".
        amount: Money {
            amount: 0,
            currency: "XXX".into(),
        },
        customer: data
            .non_empty("tokenization.shopperReference")
            .or_else(|| data.non_empty("recurring.shopperReference"))
            .map(str::to_owned),
        card: answer.stored_method_id().map(str::to_owned),
        description: None,
        metadata: Vec::new(),
        manual_capture: false,
        merchant_initiated: false,
        now: time::unix_now(),
    };
    outcome::payment(&answer, &asked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire;
    use serde_json::Value;

    fn request(use_: StoredCredentialUse, capture: CaptureMode) -> ChargeRequest {
        ChargeRequest {
            customer: "CRM-1".into(),
            card: "QQK5F3YZ6I521VJV".into(),
            amount: Money {
                amount: 5_000,
                currency: "ISK".into(),
            },
            description: Some("May".into()),
            metadata: vec![("crm_transaction_id".into(), "7".into())],
            capture,
            stored_credential: use_,
            network_transaction_id: Some("GFLLEWULDD1BQU2".into()),
            return_url: None,
            idempotency_key: "txn-7".into(),
        }
    }

    fn body(charge: &Charge<'_>) -> Value {
        let payment = PaymentRequest {
            merchant_account: "OmniCRM",
            amount: charge.amount.clone(),
            reference: charge.reference.clone(),
            payment_method: PaymentMethod::Stored(StoredMethodRef::card(charge.card)),
            shopper_reference: charge.customer,
            shopper_interaction: charge.shopper_interaction,
            recurring_processing_model: charge.model,
            store_payment_method: None,
            return_url: "https://crm.example/back",
            metadata: Pairs(&charge.metadata),
            additional_data: Pairs(&charge.additional_data),
        };
        wire::decode(&to_json(&payment)).unwrap()
    }

    #[test]
    fn stored_credentials_map_to_adyen_s_interactions() {
        let recurring = request(StoredCredentialUse::MerchantRecurring, CaptureMode::Manual);
        let b = body(&prepare(&recurring).unwrap());
        assert_eq!(b["shopperInteraction"], "ContAuth");
        assert_eq!(b["recurringProcessingModel"], "Subscription");
        assert_eq!(b["additionalData"]["manualCapture"], "true");
        assert_eq!(b["additionalData"]["networkTxReference"], "GFLLEWULDD1BQU2");
        assert_eq!(b["metadata"]["omnicrm_capture"], "manual");
        assert_eq!(b["metadata"]["crm_transaction_id"], "7");
        assert_eq!(b["reference"], "7", "the CRM transaction id");
        assert_eq!(b["amount"]["value"], 500_000, "ISK in hundredths");
        assert_eq!(
            b["paymentMethod"]["storedPaymentMethodId"],
            "QQK5F3YZ6I521VJV"
        );
        assert_eq!(prepare(&recurring).unwrap().key, "txn-7:payment");

        let unscheduled = request(
            StoredCredentialUse::MerchantUnscheduled,
            CaptureMode::Automatic,
        );
        let b = body(&prepare(&unscheduled).unwrap());
        assert_eq!(
            (
                b["shopperInteraction"].as_str(),
                b["recurringProcessingModel"].as_str()
            ),
            (Some("ContAuth"), Some("UnscheduledCardOnFile"))
        );
        assert!(b["additionalData"].get("manualCapture").is_none());
        assert_eq!(b["metadata"]["omnicrm_capture"], "automatic");

        let mut present = request(
            StoredCredentialUse::CustomerInitiated,
            CaptureMode::Automatic,
        );
        present.metadata.clear();
        let b = body(&prepare(&present).unwrap());
        assert_eq!(
            (
                b["shopperInteraction"].as_str(),
                b["recurringProcessingModel"].as_str()
            ),
            (Some("Ecommerce"), Some("CardOnFile"))
        );
        assert!(
            b.get("additionalData").is_none(),
            "the network id is for merchant-initiated payments"
        );
        assert_eq!(
            b["reference"], "txn-7",
            "the key when no CRM transaction id is given"
        );

        let manual_present = request(StoredCredentialUse::CustomerInitiated, CaptureMode::Manual);
        assert!(
            matches!(prepare(&manual_present), Err(GatewayError::InvalidInput(i)) if i.field == "capture")
        );
    }

    #[test]
    fn charges_are_checked_before_sending() {
        let field = |r: ChargeRequest| match prepare(&r) {
            Err(GatewayError::InvalidInput(i)) => i.field,
            Ok(_) => "ok".into(),
            Err(other) => panic!("{other:?}"),
        };
        let base = || {
            request(
                StoredCredentialUse::MerchantRecurring,
                CaptureMode::Automatic,
            )
        };
        let mut r = base();
        r.amount.amount = 0;
        assert_eq!(field(r), "amount");
        let mut r = base();
        r.card = "QQK/../x".into();
        assert_eq!(field(r), "card");
        let mut r = base();
        r.customer = "x".into();
        assert_eq!(field(r), "customer");
        let mut r = base();
        r.metadata = (0..19).map(|i| (format!("k{i}"), "v".into())).collect();
        assert_eq!(field(r), "ok");
        let mut r = base();
        r.metadata = (0..20).map(|i| (format!("k{i}"), "v".into())).collect();
        assert_eq!(field(r), "metadata");
        let mut r = base();
        r.metadata = vec![("k".repeat(21), "v".into())];
        assert_eq!(field(r), "metadata");
        let mut r = base();
        r.metadata = vec![("k".into(), "v".repeat(81))];
        assert_eq!(field(r), "metadata");
        let mut r = base();
        r.metadata = vec![(CAPTURE_MODE_KEY.into(), "manual".into())];
        assert_eq!(field(r), "metadata");
        let mut r = base();
        r.idempotency_key = "bad key".into();
        assert_eq!(field(r), "idempotency-key");
        let mut r = base();
        r.metadata = vec![("crm_transaction_id".into(), "t".repeat(90))];
        let long = prepare(&r);
        assert!(matches!(long, Err(GatewayError::InvalidInput(i)) if i.field == "metadata"));
    }

    #[test]
    fn refund_reasons_and_completion_details() {
        assert_eq!(refund_reason(RefundReason::Duplicate), "DUPLICATE");
        assert_eq!(refund_reason(RefundReason::Fraudulent), "FRAUD");
        assert_eq!(
            refund_reason(RefundReason::RequestedByCustomer),
            "CUSTOMER REQUEST"
        );
        let given = [
            ("redirectResult".to_owned(), "X6Xtf".to_owned()),
            ("paymentData".to_owned(), "Ab02".to_owned()),
        ];
        let (fields, data) = completion_details(&given).unwrap();
        assert_eq!(
            fields,
            [("redirectResult".to_owned(), "X6Xtf".to_owned())].to_vec()
        );
        assert_eq!(data, Some("Ab02"));
        assert!(
            matches!(completion_details(&[]), Err(GatewayError::InvalidInput(i)) if i.field == "details")
        );
        assert!(matches!(
            completion_details(&[("sessionId".into(), "x".into())]),
            Err(GatewayError::InvalidInput(i)) if i.field == "details"
        ));
    }
}
