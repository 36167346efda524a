//! SetupIntent: how a stored card is set up for off-session charges.

use omnicrm_gateway_sdk::omnicrm::payments::types::NextAction as ContractNextAction;
use serde::Deserialize;

use super::common::{NextAction, has_id, id, next_action, status_enum};

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
}

has_id!(SetupIntent);

impl SetupIntent {
    /// What the customer must do for this intent.
    pub fn next_action(&self) -> ContractNextAction {
        next_action(self.next_action.as_ref(), self.client_secret.as_deref())
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
        let odd: SetupIntent = decode(br#"{"id":"seti_1","status":"paused"}"#).unwrap();
        assert_eq!(odd.status, SetupIntentStatus::Other("paused".into()));
        assert_eq!(odd.status.as_str(), "paused");
        assert!(matches!(
            odd.next_action(),
            ContractNextAction::BringCustomerOnSession
        ));
        assert!(decode::<SetupIntent>(br#"{"id":"seti_1"}"#).is_err());
    }
}
