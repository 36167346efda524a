//! Gateway answers that can not be trusted: a charge's (or a completed customer action's)
//! payment that breaks the contract. The call ran, so money may have moved, but the answer says
//! nothing reliable about how much: the transaction is `held_for_review`. Nothing moves it on
//! its own (no event, no lookup, no repeat of the call), it is never counted as money taken,
//! and it carries `attention`: an operator settles it by hand ([`super::operator`]) after
//! checking the payment at the gateway.
//!
//! Two sources: the runtime's word that a plugin broke the contract ([`invalid_answer`], the one
//! place that reads it from a [`CallError`]), and the service's own checks of the money in a
//! payment against the charge it answers ([`check_payment`]), which also cover gateways that do
//! not run through the runtime.

use crate::ledger::{OpState, TxnPatch, TxnStatus};
use omnicrm_host::contract::Payment;
use omnicrm_host::error::CallError;

/// What is wrong with a gateway's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAnswer {
    /// The offending field, as the contract names it (`payment.amount-captured`).
    pub field: String,
    /// What is wrong with it (never the value itself when it is text).
    pub problem: String,
}

impl std::fmt::Display for InvalidAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the gateway's answer broke the contract (`{}` {}): money may have moved; the \
             transaction is held for review until an operator checks the payment at the gateway",
            self.field, self.problem
        )
    }
}

fn invalid(field: &str, problem: String) -> Result<(), InvalidAnswer> {
    Err(InvalidAnswer {
        field: field.into(),
        problem,
    })
}

/// The runtime's word that a plugin's answer broke the contract, if `error` is that. Every
/// variant is named so that a new one must be placed here.
pub fn invalid_answer(error: &CallError) -> Option<InvalidAnswer> {
    match error {
        CallError::InvalidOutput { field, problem } => Some(InvalidAnswer {
            field: field.clone(),
            problem: problem.clone(),
        }),
        CallError::Gateway(_)
        | CallError::Timeout { .. }
        | CallError::Trap(_)
        | CallError::Host(_) => None,
    }
}

/// Checks the money of a payment answered to a charge of `amount` minor units of `currency`:
/// its amount and currency are the charge's, `0 <= captured <= amount` and
/// `0 <= refunded <= captured`, and it has a reference.
pub fn check_payment(p: &Payment, amount: i64, currency: &str) -> Result<(), InvalidAnswer> {
    if p.id.trim().is_empty() {
        return invalid("payment.id", "is empty".into());
    }
    if !p.amount.currency.eq_ignore_ascii_case(currency) {
        return invalid(
            "payment.amount.currency",
            format!("is not the charge's currency ({currency})"),
        );
    }
    if p.amount.amount != amount {
        return invalid(
            "payment.amount",
            format!("is {} where {amount} was charged", p.amount.amount),
        );
    }
    if !(0..=p.amount.amount).contains(&p.amount_captured) {
        return invalid(
            "payment.amount-captured",
            format!(
                "is {}, outside 0 to the amount ({})",
                p.amount_captured, p.amount.amount
            ),
        );
    }
    if !(0..=p.amount_captured).contains(&p.amount_refunded) {
        return invalid(
            "payment.amount-refunded",
            format!(
                "is {}, outside 0 to the captured amount ({})",
                p.amount_refunded, p.amount_captured
            ),
        );
    }
    Ok(())
}

/// Why a charge's (or completion's) result can not be trusted, if it can not.
pub fn screen(
    result: &Result<Payment, CallError>,
    amount: i64,
    currency: &str,
) -> Option<InvalidAnswer> {
    match result {
        Ok(p) => check_payment(p, amount, currency).err(),
        Err(e) => invalid_answer(e),
    }
}

/// What an untrusted result means: the transaction held for review and flagged for an operator
/// (with the payment's reference when the answer gave one, as a lead) and its operation settled,
/// never repeated.
pub fn held_outcome(
    result: Result<Payment, CallError>,
    why: &InvalidAnswer,
) -> (Option<TxnPatch>, OpState, Option<CallError>) {
    let (reference, error) = match result {
        Ok(p) => (Some(p.id).filter(|id| !id.trim().is_empty()), None),
        Err(e) => (None, Some(e)),
    };
    let patch = TxnPatch {
        status: Some(TxnStatus::HeldForReview),
        gateway_payment_ref: reference,
        next_action: Some(None),
        last_error: Some(Some(why.to_string())),
        attention: Some(Some(why.to_string())),
        ..Default::default()
    };
    (Some(patch), OpState::Failed, error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnicrm_host::contract::{Money, PaymentStatus};

    fn payment(amount: i64, captured: i64, refunded: i64) -> Payment {
        Payment {
            id: "pay_1".into(),
            status: PaymentStatus::Succeeded,
            amount: Money {
                amount,
                currency: "EUR".into(),
            },
            amount_captured: captured,
            amount_refunded: refunded,
            customer: None,
            card: None,
            description: None,
            metadata: Vec::new(),
            created: 0,
            last_decline: None,
            next_action: None,
            fee: None,
            network_transaction_id: None,
        }
    }

    #[test]
    fn the_money_of_a_payment_is_the_charge_s() {
        assert_eq!(check_payment(&payment(1000, 1000, 0), 1000, "eur"), Ok(()));
        assert_eq!(check_payment(&payment(1000, 0, 0), 1000, "EUR"), Ok(()));
        let field = |p: Payment, amount: i64, currency: &str| {
            check_payment(&p, amount, currency).unwrap_err().field
        };
        assert_eq!(
            field(payment(1000, 1000, 0), 1000, "USD"),
            "payment.amount.currency"
        );
        assert_eq!(field(payment(2000, 2000, 0), 1000, "EUR"), "payment.amount");
        assert_eq!(
            field(payment(1000, 1500, 0), 1000, "EUR"),
            "payment.amount-captured"
        );
        assert_eq!(
            field(payment(1000, -1, 0), 1000, "EUR"),
            "payment.amount-captured"
        );
        assert_eq!(
            field(payment(1000, 500, 600), 1000, "EUR"),
            "payment.amount-refunded"
        );
        let mut nameless = payment(1000, 1000, 0);
        nameless.id = " ".into();
        assert_eq!(field(nameless, 1000, "EUR"), "payment.id");
    }

    #[test]
    fn only_the_runtime_s_invalid_output_is_an_invalid_answer() {
        let broken = CallError::InvalidOutput {
            field: "payment.amount-captured".into(),
            problem: "is more than the amount".into(),
        };
        assert_eq!(
            invalid_answer(&broken),
            Some(InvalidAnswer {
                field: "payment.amount-captured".into(),
                problem: "is more than the amount".into(),
            })
        );
        for e in [
            CallError::Timeout {
                after: std::time::Duration::from_secs(1),
            },
            CallError::Trap("boom".into()),
            CallError::Host("busy".into()),
        ] {
            assert_eq!(invalid_answer(&e), None, "{e}");
        }
    }
}
