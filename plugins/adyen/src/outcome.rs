//! What an answer of `/payments` or `/payments/details` means in the contract's terms: a
//! payment, a decline, or an action the shopper must take.
//!
//! | `resultCode` | contract |
//! |---|---|
//! | `Authorised` | `succeeded` (automatic capture) or `requires-capture` (manual) |
//! | `Pending`, `Received` | `processing`: a notification tells the outcome |
//! | `Refused`, `Error`, `Cancelled` | `declined`, categorized from `refusalReasonCode` (`decline`) |
//! | `RedirectShopper`, `IdentifyShopper`, `ChallengeShopper` | `action-required`: a `get` or `post` redirect with its fields for `redirect` actions, else `client-sdk` `adyen-web` with the `action` JSON; `bring-customer-on-session` for merchant-initiated payments |
//! | anything else (`PresentToShopper`, `PartiallyAuthorised`, a new value) | unusable: the payment is not a card payment the contract models |

use omnicrm_gateway_sdk::charging::{Payment, PaymentStatus};
use omnicrm_gateway_sdk::http::Method;
use omnicrm_gateway_sdk::types::{
    ActionRequired, GatewayError, Metadata, Money, NextAction, Redirect, RedirectMethod, SdkAction,
};

use crate::decline;
use crate::errors::unusable;
use crate::money;
use crate::wire::{Action, PaymentResponse, ResultCode};

/// The metadata key the plugin stores with each payment it makes: `manual` or `automatic`.
/// Adyen's AUTHORISATION notification does not say whether a payment waits for a capture (its
/// `operations` field is "experimental ... do not base your code on this field"); this entry,
/// returned as `additionalData.metadata.omnicrm_capture`, does.
pub const CAPTURE_MODE_KEY: &str = "omnicrm_capture";

/// The SDK of `client-sdk` actions: Adyen Web (`checkout.createFromAction`).
pub const ADYEN_WEB: &str = "adyen-web";

/// What the customer is told when the issuer wants them to authenticate.
const AUTHENTICATE: &str = "The card issuer asks the customer to authenticate the payment.";

/// What the caller knows of the payment the answer is about.
#[derive(Debug, Clone)]
pub struct Asked {
    /// The amount asked for (used when the answer has none).
    pub amount: Money,
    /// The shopper.
    pub customer: Option<String>,
    /// The stored card.
    pub card: Option<String>,
    /// The description given.
    pub description: Option<String>,
    /// The metadata given.
    pub metadata: Metadata,
    /// Authorize only.
    pub manual_capture: bool,
    /// A merchant-initiated payment (`ContAuth`): the shopper is not there to act.
    pub merchant_initiated: bool,
    /// When the answer came.
    pub now: i64,
}

/// The contract's next action of an Adyen `action` (`raw` is its JSON text).
pub fn next_action(action: &Action, raw: &str) -> NextAction {
    match (action.kind.as_str(), action.url.as_deref()) {
        ("redirect", Some(url)) if action.method.as_deref() == Some("POST") => {
            NextAction::Redirect(Redirect {
                url: url.to_owned(),
                method: RedirectMethod::Post,
                fields: action.data.0.clone(),
            })
        }
        ("redirect", Some(url)) => NextAction::Redirect(Redirect {
            url: url.to_owned(),
            method: RedirectMethod::Get,
            fields: Vec::new(),
        }),
        _ => NextAction::ClientSdk(SdkAction {
            sdk: ADYEN_WEB.into(),
            payload: raw.to_owned(),
        }),
    }
}

/// The payment an answer stands for, or the error it is (see the module table). `method` is the
/// request that brought it (a POST: anything unusable is `outcome-unknown`).
pub fn payment(answer: &PaymentResponse, asked: &Asked) -> Result<Payment, GatewayError> {
    let psp = answer.psp_reference.clone().filter(|p| !p.is_empty());
    let require_psp = || {
        psp.clone().ok_or_else(|| {
            unusable(
                Method::Post,
                format!(
                    "a `{}` answer without a pspReference",
                    answer.result_code.as_str()
                ),
                None,
            )
        })
    };
    let status = match &answer.result_code {
        ResultCode::Authorised if asked.manual_capture => PaymentStatus::RequiresCapture,
        ResultCode::Authorised => PaymentStatus::Succeeded,
        ResultCode::Pending | ResultCode::Received => PaymentStatus::Processing,
        ResultCode::Refused | ResultCode::Error | ResultCode::Cancelled => {
            let code = answer.refusal_reason_code.as_deref().or(
                // A cancellation without a code is Adyen's "Cancelled" refusal.
                (answer.result_code == ResultCode::Cancelled).then_some("15"),
            );
            return Err(GatewayError::declined(decline::decline(
                code,
                answer.refusal_reason.clone(),
                psp,
            )));
        }
        ResultCode::RedirectShopper
        | ResultCode::IdentifyShopper
        | ResultCode::ChallengeShopper => {
            let payment = require_psp()?;
            let next_action = if asked.merchant_initiated {
                NextAction::BringCustomerOnSession
            } else {
                let action = answer
                    .decoded_action()
                    .map_err(|e| unusable(Method::Post, e.to_string(), psp.clone()))?
                    .ok_or_else(|| {
                        unusable(
                            Method::Post,
                            "a shopper action without an `action`",
                            psp.clone(),
                        )
                    })?;
                let raw = answer.action.as_deref().map_or("{}", |r| r.get());
                next_action(&action, raw)
            };
            return Err(GatewayError::ActionRequired(ActionRequired {
                payment,
                next_action,
                customer_message: AUTHENTICATE.into(),
                request_id: None,
            }));
        }
        other => {
            return Err(unusable(
                Method::Post,
                format!(
                    "result code `{}` is not one of a card payment",
                    other.as_str()
                ),
                psp,
            ));
        }
    };
    let amount = answer
        .amount
        .as_ref()
        .map_or_else(|| asked.amount.clone(), money::from_adyen);
    let amount_captured = if status == PaymentStatus::Succeeded {
        amount.amount
    } else {
        0
    };
    Ok(Payment {
        id: require_psp()?,
        status,
        amount,
        amount_captured,
        amount_refunded: 0,
        customer: asked.customer.clone(),
        card: asked.card.clone(),
        description: asked.description.clone(),
        metadata: asked.metadata.clone(),
        created: asked.now,
        last_decline: None,
        next_action: None,
        fee: None,
        network_transaction_id: answer
            .additional_data
            .non_empty("networkTxReference")
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode;
    use omnicrm_gateway_sdk::types::DeclineCategory;

    fn asked(manual: bool, merchant_initiated: bool) -> Asked {
        Asked {
            amount: Money {
                amount: 1000,
                currency: "EUR".into(),
            },
            customer: Some("CRM-1".into()),
            card: Some("QQK5F3YZ6I521VJV".into()),
            description: None,
            metadata: vec![("crm_transaction_id".into(), "7".into())],
            manual_capture: manual,
            merchant_initiated,
            now: 1_700_000_000,
        }
    }

    fn answer(body: &str) -> PaymentResponse {
        decode(body.as_bytes()).unwrap()
    }

    #[test]
    fn authorised_pending_and_unknown_codes() {
        let ok = answer(
            r#"{"pspReference":"P1","resultCode":"Authorised","amount":{"value":500000,"currency":"ISK"},
               "additionalData":{"networkTxReference":"N1"}}"#,
        );
        let p = payment(&ok, &asked(false, true)).unwrap();
        assert_eq!((p.id.as_str(), p.status), ("P1", PaymentStatus::Succeeded));
        assert_eq!((p.amount.amount, p.amount_captured), (5000, 5000));
        assert_eq!(p.network_transaction_id.as_deref(), Some("N1"));
        assert_eq!(p.metadata.len(), 1);
        let held = payment(&ok, &asked(true, true)).unwrap();
        assert_eq!(
            (held.status, held.amount_captured),
            (PaymentStatus::RequiresCapture, 0)
        );
        for code in ["Pending", "Received"] {
            let p = payment(
                &answer(&format!(r#"{{"pspReference":"P2","resultCode":"{code}"}}"#)),
                &asked(false, true),
            )
            .unwrap();
            assert_eq!(
                (p.status, p.amount.amount),
                (PaymentStatus::Processing, 1000)
            );
        }
        for code in ["PresentToShopper", "Novel"] {
            assert!(matches!(
                payment(&answer(&format!(r#"{{"pspReference":"P3","resultCode":"{code}"}}"#)), &asked(false, false)),
                Err(GatewayError::OutcomeUnknown(f)) if f.message.contains(code)
            ));
        }
        assert!(matches!(
            payment(
                &answer(r#"{"resultCode":"Authorised"}"#),
                &asked(false, false)
            ),
            Err(GatewayError::OutcomeUnknown(_))
        ));
    }

    #[test]
    fn refusals_are_declines_with_categories() {
        let refused = answer(
            std::str::from_utf8(include_bytes!("wire/fixtures/payment_refused.json")).unwrap(),
        );
        match payment(&refused, &asked(false, true)) {
            Err(GatewayError::Declined(d)) => {
                assert_eq!(d.category, DeclineCategory::InsufficientFunds);
                assert_eq!(
                    (d.code.as_str(), d.decline_reason.as_deref()),
                    ("12", Some("Not enough balance"))
                );
                assert_eq!(d.payment.as_deref(), Some("GRWBAR9G49OMA6JB"));
            }
            other => panic!("{other:?}"),
        }
        let error = answer(
            r#"{"pspReference":"P","resultCode":"Error","refusalReason":"Acquirer Error","refusalReasonCode":"4"}"#,
        );
        assert!(matches!(payment(&error, &asked(false, true)),
            Err(GatewayError::Declined(d)) if d.category == DeclineCategory::TryAgainLater));
        let cancelled = answer(r#"{"resultCode":"Cancelled"}"#);
        assert!(matches!(payment(&cancelled, &asked(false, true)),
            Err(GatewayError::Declined(d)) if d.code == "15" && d.payment.is_none()));
        let fraud = answer(
            r#"{"pspReference":"P","resultCode":"Cancelled","refusalReason":"FRAUD-CANCELLED","refusalReasonCode":"22"}"#,
        );
        assert!(matches!(payment(&fraud, &asked(false, true)),
            Err(GatewayError::Declined(d)) if d.category == DeclineCategory::SuspectedFraud
                && !d.customer_message.to_lowercase().contains("fraud")));
    }

    #[test]
    fn shopper_actions_are_redirects_or_adyen_web() {
        let redirect = answer(
            std::str::from_utf8(include_bytes!("wire/fixtures/payment_redirect.json")).unwrap(),
        );
        match payment(&redirect, &asked(false, false)) {
            Err(GatewayError::ActionRequired(a)) => {
                assert_eq!(a.payment, "EKYIF727QNEX3KPW");
                assert!(matches!(&a.next_action, NextAction::Redirect(r)
                    if r.method == RedirectMethod::Get && r.url.contains("/_emulator/threeds/") && r.fields.is_empty()));
            }
            other => panic!("{other:?}"),
        }
        // The shopper is not there for a merchant-initiated payment.
        assert!(matches!(payment(&redirect, &asked(false, true)),
            Err(GatewayError::ActionRequired(a)) if matches!(a.next_action, NextAction::BringCustomerOnSession)));
        let post = answer(
            r#"{"pspReference":"P","resultCode":"RedirectShopper","action":{"type":"redirect","method":"POST",
               "url":"https://acs.example/3ds","data":{"MD":"m","PaReq":"p","TermUrl":"https://crm.example/back"}}}"#,
        );
        assert!(matches!(payment(&post, &asked(false, false)),
            Err(GatewayError::ActionRequired(a)) if matches!(&a.next_action, NextAction::Redirect(r)
                if r.method == RedirectMethod::Post && r.fields.len() == 3 && r.fields[0] == ("MD".into(), "m".into()))));
        let native = r#"{"type":"threeDS2","subtype":"fingerprint","token":"t","authorisationToken":"a","paymentData":"d"}"#;
        let challenge = answer(&format!(
            r#"{{"pspReference":"P","resultCode":"IdentifyShopper","action":{native}}}"#
        ));
        match payment(&challenge, &asked(false, false)) {
            Err(GatewayError::ActionRequired(a)) => match a.next_action {
                NextAction::ClientSdk(s) => {
                    assert_eq!(s.sdk, "adyen-web");
                    assert_eq!(s.payload, native, "the action as Adyen wrote it");
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            payment(
                &answer(r#"{"pspReference":"P","resultCode":"ChallengeShopper"}"#),
                &asked(false, false)
            ),
            Err(GatewayError::OutcomeUnknown(_))
        ));
    }
}
