//! SetupIntent: how a stored card is set up for off-session charges (by `store-card`, or by the
//! customer in a card session).

use omnicrm_gateway_sdk::charging::{Payment, PaymentStatus};
use omnicrm_gateway_sdk::types::{Money, NextAction as ContractNextAction};
use serde::Deserialize;

use super::common::{
    Expandable, NextAction, Ref, Unmapped, has_id, id, id_of, next_action, status_enum,
};
use super::payment_intent::PaymentError;

/// ISO 4217's code for "no currency": the currency of the payment a card set-up is answered as.
pub const NO_CURRENCY: &str = "XXX";

status_enum! {
    /// `status` of a SetupIntent.
    SetupIntentStatus {
        /// The card was refused, or none was given.
        RequiresPaymentMethod = "requires_payment_method",
        /// Waiting to be confirmed.
        RequiresConfirmation = "requires_confirmation",
        /// Waiting for the customer to authenticate.
        RequiresAction = "requires_action",
        /// Stripe is still working on it.
        Processing = "processing",
        /// Cancelled.
        Canceled = "canceled",
        /// The card is set up.
        Succeeded = "succeeded",
    }
}

/// A SetupIntent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SetupIntent {
    /// `seti_...`.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Where it stands.
    pub status: SetupIntentStatus,
    /// What the customer must do, when it waits for them.
    pub next_action: Option<NextAction>,
    /// The secret for confirming it in the customer's browser or app.
    pub client_secret: Option<String>,
    /// The customer the card is set up for.
    pub customer: Option<Expandable<Ref>>,
    /// The card being set up.
    pub payment_method: Option<Expandable<Ref>>,
    /// Why the last attempt failed.
    pub last_setup_error: Option<PaymentError>,
    /// When Stripe created it.
    pub created: i64,
}

has_id!(SetupIntent);

impl SetupIntent {
    /// What the customer must do for this intent.
    pub fn next_action(&self) -> ContractNextAction {
        next_action(self.next_action.as_ref(), self.client_secret.as_deref())
    }

    /// The id of the customer it is for.
    pub fn customer_id(&self) -> Option<String> {
        id_of(self.customer.as_ref())
    }

    /// The id of the card it sets up.
    pub fn payment_method_id(&self) -> Option<String> {
        id_of(self.payment_method.as_ref())
    }

    /// The set-up as the contract's payment, for `complete-action`: a payment of nothing (0 of
    /// ISO 4217's `XXX`, "no currency") whose card is the card set up. `succeeded` once the card
    /// is set up; `requires-action` while it waits for the customer (or for a card); `failed`
    /// with the decline when the last attempt failed. A status the plugin does not know is
    /// [`Unmapped`].
    pub fn payment(&self) -> Result<Payment, Unmapped> {
        let status = match &self.status {
            SetupIntentStatus::Succeeded => PaymentStatus::Succeeded,
            SetupIntentStatus::Processing => PaymentStatus::Processing,
            SetupIntentStatus::Canceled => PaymentStatus::Canceled,
            SetupIntentStatus::RequiresAction | SetupIntentStatus::RequiresConfirmation => {
                PaymentStatus::RequiresAction
            }
            SetupIntentStatus::RequiresPaymentMethod if self.last_setup_error.is_some() => {
                PaymentStatus::Failed
            }
            SetupIntentStatus::RequiresPaymentMethod => PaymentStatus::RequiresAction,
            other @ SetupIntentStatus::Other(_) => {
                return Err(Unmapped::status("SetupIntent", &self.id, other.as_str()));
            }
        };
        Ok(Payment {
            id: self.id.clone(),
            status,
            amount: Money {
                amount: 0,
                currency: NO_CURRENCY.into(),
            },
            amount_captured: 0,
            amount_refunded: 0,
            customer: self.customer_id(),
            card: self.payment_method_id(),
            description: None,
            metadata: Vec::new(),
            created: self.created,
            last_decline: if status == PaymentStatus::Failed {
                self.last_setup_error
                    .as_ref()
                    .map(|e| e.decline(Some(self.id.clone())))
            } else {
                None
            },
            next_action: (status == PaymentStatus::RequiresAction).then(|| self.next_action()),
            fee: None,
            network_transaction_id: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode;

    #[test]
    fn a_setup_intent_as_stripe_sends_it_and_unknown_statuses() {
        let seti: SetupIntent = decode(include_bytes!("fixtures/setup_intent.json")).unwrap();
        assert_eq!(seti.status, SetupIntentStatus::Succeeded);
        assert_eq!(seti.id, "seti_N3gBgsM1YIs0eOIi5iAk9JfC");
        assert_eq!(
            seti.customer_id().as_deref(),
            Some("cus_Kdn9fxFCpbx3DtJOb3Kb6VvH")
        );
        assert_eq!(
            seti.payment_method_id().as_deref(),
            Some("pm_7geKuizYp3Gt7ZnPEWPgmgHK")
        );
        let p = seti.payment().unwrap();
        assert_eq!(
            (p.status, p.amount.amount, p.amount.currency.as_str()),
            (PaymentStatus::Succeeded, 0, "XXX")
        );
        assert_eq!(p.card.as_deref(), Some("pm_7geKuizYp3Gt7ZnPEWPgmgHK"));
        let odd: SetupIntent = decode(br#"{"id":"seti_1","status":"paused","created":1}"#).unwrap();
        assert_eq!(odd.status, SetupIntentStatus::Other("paused".into()));
        assert_eq!(odd.status.as_str(), "paused");
        assert!(odd.payment().is_err());
        assert!(matches!(
            odd.next_action(),
            ContractNextAction::BringCustomerOnSession
        ));
        assert!(decode::<SetupIntent>(br#"{"id":"seti_1","created":1}"#).is_err());
        assert!(decode::<SetupIntent>(br#"{"id":"seti_1","status":"succeeded"}"#).is_err());
    }

    #[test]
    fn a_set_up_waiting_for_the_customer_or_failed() {
        let waiting: SetupIntent = decode(
            br#"{"id":"seti_1","status":"requires_action","created":1,"client_secret":"seti_1_secret_x",
                "next_action":{"type":"redirect_to_url","redirect_to_url":{"url":"https://bank.example/3ds"}}}"#,
        )
        .unwrap();
        let p = waiting.payment().unwrap();
        assert_eq!(p.status, PaymentStatus::RequiresAction);
        assert!(
            matches!(p.next_action, Some(ContractNextAction::Redirect(ref r)) if r.url == "https://bank.example/3ds")
        );
        let failed: SetupIntent = decode(
            br#"{"id":"seti_1","status":"requires_payment_method","created":1,
                "last_setup_error":{"code":"setup_intent_authentication_failure","message":"Failed."}}"#,
        )
        .unwrap();
        let p = failed.payment().unwrap();
        assert_eq!(p.status, PaymentStatus::Failed);
        let d = p.last_decline.unwrap();
        assert_eq!(d.code, "setup_intent_authentication_failure");
        assert_eq!(
            d.category,
            omnicrm_gateway_sdk::types::DeclineCategory::AuthenticationRequired
        );
        assert_eq!(d.payment.as_deref(), Some("seti_1"));
    }
}
