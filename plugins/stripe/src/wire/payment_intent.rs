//! PaymentIntent: the contract's payment.

use omnicrm_gateway_sdk::charging::{Payment, PaymentStatus};
use omnicrm_gateway_sdk::types::{Decline, Money, NextAction as ContractNextAction};
use omnicrm_gateway_sdk::webhooks::PaymentUpdate;
use serde::Deserialize;

use super::charge::Charge;
use super::common::{
    Expandable, Metadata, NextAction, Unmapped, has_id, id, id_of, next_action, status_enum,
};
use super::customer::Customer;
use super::payment_method::PaymentMethod;
use crate::decline;
use crate::money::{self, money};

status_enum! {
    /// `status` of a PaymentIntent.
    PaymentIntentStatus {
        /// Declined (see `last_payment_error`), or never confirmed.
        RequiresPaymentMethod = "requires_payment_method",
        /// Waiting to be confirmed.
        RequiresConfirmation = "requires_confirmation",
        /// Waiting for the customer to authenticate.
        RequiresAction = "requires_action",
        /// Stripe is still working on it.
        Processing = "processing",
        /// Authorized, waiting for a capture.
        RequiresCapture = "requires_capture",
        /// Cancelled: no money taken.
        Canceled = "canceled",
        /// The money was taken.
        Succeeded = "succeeded",
    }
}

/// A PaymentIntent, with `latest_charge.balance_transaction` expanded when the request asked.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PaymentIntent {
    /// `pi_...`.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Where it stands.
    pub status: PaymentIntentStatus,
    /// The amount asked for, in Stripe's unit of `currency`.
    pub amount: i64,
    /// Lower-case ISO 4217 code.
    pub currency: String,
    /// What was received, when the charge is not expanded.
    pub amount_received: Option<i64>,
    /// The latest charge: captured and refunded amounts, and the fee.
    pub latest_charge: Option<Expandable<Charge>>,
    /// The customer charged.
    pub customer: Option<Expandable<Customer>>,
    /// The card charged.
    pub payment_method: Option<Expandable<PaymentMethod>>,
    /// The description given.
    pub description: Option<String>,
    /// The metadata given.
    #[serde(default)]
    pub metadata: Metadata,
    /// When Stripe created it.
    pub created: i64,
    /// Why the last attempt failed.
    pub last_payment_error: Option<PaymentError>,
    /// What the customer must do, when it waits for them.
    pub next_action: Option<NextAction>,
    /// The secret for confirming it in the customer's browser or app.
    pub client_secret: Option<String>,
}

has_id!(PaymentIntent);

/// `last_payment_error` of a PaymentIntent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentError {
    /// Stripe's error code (`card_declined`, `authentication_required`, ...).
    pub code: Option<String>,
    /// The issuer's reason.
    pub decline_code: Option<String>,
    /// A message that is safe to show to the customer.
    pub message: Option<String>,
}

impl PaymentError {
    /// The contract's decline of this error, for `payment`.
    pub fn decline(&self, payment: Option<String>) -> Decline {
        let code = self.code.as_deref().unwrap_or("card_declined");
        Decline::new(
            decline::category(code, self.decline_code.as_deref()),
            code,
            self.message.clone().unwrap_or_default(),
        )
        .with_reason(self.decline_code.clone())
        .with_payment(payment)
    }
}

impl PaymentIntent {
    /// Where the intent stands in the contract's terms; a status the plugin does not know is
    /// [`Unmapped`], never `failed` or `canceled` (money may have moved).
    ///
    /// An off-session attempt that needed authentication leaves the intent
    /// `requires_payment_method` with `authentication_required`: it still waits for the customer,
    /// who can confirm it on-session, so it is `requires-action` (as `charge` answered), not
    /// `failed`, until it succeeds, fails authentication or is cancelled.
    pub fn status(&self) -> Result<PaymentStatus, Unmapped> {
        Ok(match &self.status {
            PaymentIntentStatus::Succeeded => PaymentStatus::Succeeded,
            PaymentIntentStatus::Processing => PaymentStatus::Processing,
            PaymentIntentStatus::RequiresCapture => PaymentStatus::RequiresCapture,
            PaymentIntentStatus::Canceled => PaymentStatus::Canceled,
            PaymentIntentStatus::RequiresAction | PaymentIntentStatus::RequiresConfirmation => {
                PaymentStatus::RequiresAction
            }
            PaymentIntentStatus::RequiresPaymentMethod if self.waits_for_authentication() => {
                PaymentStatus::RequiresAction
            }
            PaymentIntentStatus::RequiresPaymentMethod => PaymentStatus::Failed,
            other @ PaymentIntentStatus::Other(_) => {
                return Err(Unmapped::status("PaymentIntent", &self.id, other.as_str()));
            }
        })
    }

    fn waits_for_authentication(&self) -> bool {
        self.last_payment_error
            .as_ref()
            .and_then(|e| e.code.as_deref())
            == Some("authentication_required")
    }

    /// What the customer must do for this intent.
    pub fn next_action(&self) -> ContractNextAction {
        next_action(self.next_action.as_ref(), self.client_secret.as_deref())
    }

    /// The last decline, if any.
    pub fn decline(&self) -> Option<Decline> {
        self.last_payment_error
            .as_ref()
            .map(|e| e.decline(Some(self.id.clone())))
    }

    /// The expanded latest charge, if any.
    fn charge(&self) -> Option<&Charge> {
        self.latest_charge.as_ref().and_then(Expandable::object)
    }

    /// What was captured, in Stripe's unit: the expanded charge's, else `amount_received`.
    fn stripe_captured(&self) -> Option<i64> {
        self.charge()
            .map(|c| c.amount_captured)
            .or(self.amount_received)
    }

    /// The fee, from the expanded charge's expanded balance transaction.
    fn fee(&self) -> Option<Money> {
        self.charge()
            .and_then(|c| c.balance_transaction.as_ref())
            .and_then(Expandable::object)
            .map(|txn| money(txn.fee, &txn.currency))
    }

    /// The card network's identifier of the payment, from the expanded charge.
    fn network_transaction_id(&self) -> Option<String> {
        self.charge().and_then(Charge::network_transaction_id)
    }

    /// The contract's payment. The captured and refunded amounts come from the expanded latest
    /// charge (else `amount_received`, and nothing refunded; refunded at most what was captured), the fee from its expanded balance
    /// transaction (else unknown), the network transaction id from the charge's card details.
    pub fn payment(&self) -> Result<Payment, Unmapped> {
        let status = self.status()?;
        let amount = money(self.amount, &self.currency);
        let captured = self.stripe_captured().unwrap_or(0);
        // Stripe reports a canceled authorization's released amount as refunded; the contract
        // counts only money that was taken and given back, so never more than was captured.
        let refunded = self.charge().map_or(0, |c| c.amount_refunded).min(captured);
        Ok(Payment {
            id: self.id.clone(),
            status,
            amount_captured: money::from_stripe(captured, &amount.currency),
            amount_refunded: money::from_stripe(refunded, &amount.currency),
            customer: id_of(self.customer.as_ref()),
            card: id_of(self.payment_method.as_ref()),
            description: self.description.clone(),
            metadata: self.metadata.0.clone(),
            created: self.created,
            last_decline: if status == PaymentStatus::Failed {
                self.decline()
            } else {
                None
            },
            next_action: (status == PaymentStatus::RequiresAction).then(|| self.next_action()),
            fee: self.fee(),
            network_transaction_id: self.network_transaction_id(),
            amount,
        })
    }

    /// The contract's payment update (webhooks), with the intent's metadata, so that the host
    /// finds a payment whose reference it never learnt.
    pub fn update(&self) -> Result<PaymentUpdate, Unmapped> {
        let status = self.status()?;
        Ok(PaymentUpdate {
            payment: self.id.clone(),
            status,
            amount_captured: self
                .stripe_captured()
                .map(|c| money::from_stripe(c, &self.currency)),
            decline: if status == PaymentStatus::Failed {
                self.decline()
            } else {
                None
            },
            metadata: self.metadata.0.clone(),
            fee: self.fee(),
            network_transaction_id: self.network_transaction_id(),
            amount: money(self.amount, &self.currency),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode;
    use omnicrm_gateway_sdk::types::DeclineCategory;

    /// A PaymentIntent body with `status` and `last_payment_error` replaced.
    fn intent(status: &str, error: &str) -> String {
        format!(
            r#"{{"id":"pi_1","object":"payment_intent","amount":1050,"currency":"usd","created":1,
                "status":"{status}","last_payment_error":{error},"client_secret":"pi_1_secret_x"}}"#
        )
    }

    fn status(status: &str, error: &str) -> Result<PaymentStatus, Unmapped> {
        decode::<PaymentIntent>(intent(status, error).as_bytes())
            .unwrap()
            .status()
    }

    #[test]
    fn statuses_map_onto_the_contract() {
        let none = "null";
        assert_eq!(status("succeeded", none), Ok(PaymentStatus::Succeeded));
        assert_eq!(status("processing", none), Ok(PaymentStatus::Processing));
        assert_eq!(
            status("requires_capture", none),
            Ok(PaymentStatus::RequiresCapture)
        );
        assert_eq!(status("canceled", none), Ok(PaymentStatus::Canceled));
        assert_eq!(
            status("requires_action", none),
            Ok(PaymentStatus::RequiresAction)
        );
        assert_eq!(
            status("requires_confirmation", none),
            Ok(PaymentStatus::RequiresAction)
        );
        let declined = r#"{"code":"card_declined","decline_code":"insufficient_funds"}"#;
        assert_eq!(
            status("requires_payment_method", declined),
            Ok(PaymentStatus::Failed)
        );
        // Waiting for the customer to authenticate on-session: not failed.
        let waiting = r#"{"code":"authentication_required"}"#;
        assert_eq!(
            status("requires_payment_method", waiting),
            Ok(PaymentStatus::RequiresAction)
        );
    }

    #[test]
    fn an_unknown_status_is_unmapped_never_failed() {
        let err = status("requires_reauthorization", "null").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Stripe's PaymentIntent pi_1 has status `requires_reauthorization`, which this plugin \
             does not know"
        );
        let pi = decode::<PaymentIntent>(intent("frozen", "null").as_bytes()).unwrap();
        assert_eq!(pi.status, PaymentIntentStatus::Other("frozen".into()));
        assert!(pi.payment().is_err() && pi.update().is_err());
    }

    #[test]
    fn required_fields_are_required() {
        for field in ["id", "status", "amount", "currency", "created"] {
            let mut body: serde_json::Value =
                serde_json::from_str(&intent("succeeded", "null")).unwrap();
            body.as_object_mut().unwrap().remove(field);
            let err = decode::<PaymentIntent>(body.to_string().as_bytes()).unwrap_err();
            assert!(
                err.to_string()
                    .contains(&format!("missing field `{field}`")),
                "{field}: {err}"
            );
        }
        let empty_id = intent("succeeded", "null").replace("\"pi_1\"", "\"\"");
        assert!(decode::<PaymentIntent>(empty_id.as_bytes()).is_err());
        let null_amount = intent("succeeded", "null").replace("1050", "null");
        let err = decode::<PaymentIntent>(null_amount.as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid type: null, expected i64"),
            "{err}"
        );
    }

    #[test]
    fn a_succeeded_intent_as_stripe_sends_it() {
        // Expanded `latest_charge.balance_transaction`, recorded from the emulator.
        let pi: PaymentIntent = decode(include_bytes!("fixtures/payment_intent.json")).unwrap();
        let p = pi.payment().unwrap();
        assert_eq!(p.id, "pi_IdTrhNHSk4NA9vyezFOE2IXP");
        assert_eq!(p.status, PaymentStatus::Succeeded);
        assert_eq!((p.amount.amount, p.amount.currency.as_str()), (2000, "USD"));
        assert_eq!((p.amount_captured, p.amount_refunded), (2000, 0));
        let fee = p.fee.unwrap();
        assert_eq!((fee.amount, fee.currency.as_str()), (88, "USD"));
        assert_eq!(p.customer.as_deref(), Some("cus_Kdn9fxFCpbx3DtJOb3Kb6VvH"));
        assert_eq!(p.card.as_deref(), Some("pm_7geKuizYp3Gt7ZnPEWPgmgHK"));
        assert_eq!(p.metadata, [("crm_transaction_id".into(), "7".into())]);
        assert_eq!(p.created, 1_796_138_413);
        assert!(p.last_decline.is_none() && p.next_action.is_none());
    }

    #[test]
    fn a_canceled_authorization_is_not_refunded() {
        // Stripe marks the released amount of a canceled authorization as refunded.
        let body = r#"{"id":"pi_1","status":"canceled","amount":4000,"currency":"usd",
            "created":1,"latest_charge":{"id":"ch_1","amount_captured":0,
            "amount_refunded":4000}}"#;
        let p = decode::<PaymentIntent>(body.as_bytes())
            .unwrap()
            .payment()
            .unwrap();
        assert_eq!((p.amount_captured, p.amount_refunded), (0, 0));
    }

    #[test]
    fn expandable_fields_decode_both_ways() {
        // Not expanded: the ids, `amount_received` for the captured amount, no fee.
        let body = r#"{"id":"pi_1","status":"succeeded","amount":500000,"currency":"isk",
            "created":1,"amount_received":500000,"latest_charge":"ch_1","customer":"cus_1",
            "payment_method":"pm_1"}"#;
        let p = decode::<PaymentIntent>(body.as_bytes())
            .unwrap()
            .payment()
            .unwrap();
        assert_eq!(p.amount_captured, 5_000);
        assert_eq!(
            (p.customer.as_deref(), p.card.as_deref()),
            (Some("cus_1"), Some("pm_1"))
        );
        assert!(p.fee.is_none());
        // Expanded charge without its balance transaction, expanded customer and card.
        let body = r#"{"id":"pi_1","status":"succeeded","amount":500000,"currency":"isk",
            "created":1,"latest_charge":{"id":"ch_1","amount_captured":400000,
            "amount_refunded":14550,"balance_transaction":"txn_1"},
            "customer":{"id":"cus_1","object":"customer"},
            "payment_method":{"id":"pm_1","object":"payment_method","type":"card"}}"#;
        let p = decode::<PaymentIntent>(body.as_bytes())
            .unwrap()
            .payment()
            .unwrap();
        assert_eq!((p.amount_captured, p.amount_refunded), (4_000, 146));
        assert_eq!(
            (p.customer.as_deref(), p.card.as_deref()),
            (Some("cus_1"), Some("pm_1"))
        );
        assert!(p.fee.is_none());
        // An expanded object that lacks a required field names it.
        let body = r#"{"id":"pi_1","status":"succeeded","amount":1,"currency":"usd","created":1,
            "latest_charge":{"id":"ch_1","amount_captured":1,"amount_refunded":0,
            "balance_transaction":{"id":"txn_1","amount":1,"currency":"usd","type":"charge",
            "created":1}}}"#;
        let err = decode::<PaymentIntent>(body.as_bytes()).unwrap_err();
        assert!(err.to_string().starts_with("missing field `fee`"), "{err}");
        for bad in [r#""""#, "1", "[]"] {
            let body = format!(
                r#"{{"id":"pi_1","status":"succeeded","amount":1,"currency":"usd","created":1,
                    "customer":{bad}}}"#
            );
            assert!(decode::<PaymentIntent>(body.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn waiting_and_declined_intents() {
        let pi: PaymentIntent = decode(include_bytes!(
            "fixtures/payment_intent_requires_action.json"
        ))
        .unwrap();
        let p = pi.payment().unwrap();
        assert_eq!(p.status, PaymentStatus::RequiresAction);
        assert!(matches!(
            p.next_action,
            Some(ContractNextAction::ClientSdk(ref a))
                if a.sdk == "stripe-js" && a.payload.contains("pi_6g1Itgm")
        ));
        let declined = intent(
            "requires_payment_method",
            r#"{"code":"card_declined","decline_code":"lost_card","message":"Declined."}"#,
        );
        let p = decode::<PaymentIntent>(declined.as_bytes())
            .unwrap()
            .payment()
            .unwrap();
        let d = p.last_decline.unwrap();
        assert_eq!(
            (
                d.code.as_str(),
                d.decline_reason.as_deref(),
                d.payment.as_deref()
            ),
            ("card_declined", Some("lost_card"), Some("pi_1"))
        );
        assert_eq!(d.category, DeclineCategory::SuspectedFraud);
        let redirect = r#"{"id":"pi_1","status":"requires_action","amount":1,"currency":"usd",
            "created":1,"client_secret":"s","next_action":{"type":"redirect_to_url",
            "redirect_to_url":{"url":"https://bank.example/3ds","return_url":"x"}}}"#;
        let pi: PaymentIntent = decode(redirect.as_bytes()).unwrap();
        assert!(matches!(
            pi.next_action(),
            ContractNextAction::Redirect(r) if r.url == "https://bank.example/3ds"
        ));
    }

    #[test]
    fn the_network_transaction_id_comes_from_the_charge_s_card() {
        let body = r#"{"id":"pi_1","status":"succeeded","amount":1000,"currency":"usd","created":1,
            "metadata":{"crm_transaction_id":"7"},
            "latest_charge":{"id":"ch_1","amount_captured":1000,"amount_refunded":0,
            "payment_method_details":{"type":"card","card":{"brand":"visa",
            "network_transaction_id":"123456789012345"}}}}"#;
        let pi: PaymentIntent = decode(body.as_bytes()).unwrap();
        let p = pi.payment().unwrap();
        assert_eq!(p.network_transaction_id.as_deref(), Some("123456789012345"));
        let u = pi.update().unwrap();
        assert_eq!(u.network_transaction_id.as_deref(), Some("123456789012345"));
        assert_eq!(
            (u.status, u.amount_captured),
            (PaymentStatus::Succeeded, Some(1000))
        );
        assert_eq!(u.metadata, [("crm_transaction_id".into(), "7".into())]);
        assert!(u.decline.is_none());
        // Not expanded, or no card details: none.
        let plain = body.replace(r#""network_transaction_id":"123456789012345""#, r#""x":1"#);
        let pi: PaymentIntent = decode(plain.as_bytes()).unwrap();
        assert!(pi.payment().unwrap().network_transaction_id.is_none());
        // The fixture recorded from the emulator has card details without one.
        let pi: PaymentIntent = decode(include_bytes!("fixtures/payment_intent.json")).unwrap();
        assert!(pi.payment().unwrap().network_transaction_id.is_none());
    }
}
