//! Chargebacks, which reach a merchant only as notifications: NOTIFICATION_OF_CHARGEBACK (a
//! dispute is coming, no money moved), CHARGEBACK (the amount is debited), CHARGEBACK_REVERSED
//! (the merchant won, the amount comes back) and SECOND_CHARGEBACK (debited again). A test starts
//! them through the admin API. Fields follow the Webhooks v1 spec examples
//! (`chargebackReasonCode`, `chargebackSchemeCode`, `defensePeriodEndsAt`, `defendable`,
//! `autoDefended`, `modificationMerchantReferences`, `paymentMethodVariant`; the reason as
//! `code:description`), plus `disputeStatus`.

use serde_json::Value;

use crate::currency::Amount;
use crate::dates;
use crate::error::ApiError;
use crate::ids;
use crate::payments::payment_additional_data;
use crate::state::{Dispute, DisputeStage, PaymentStatus, State};

/// How long the merchant has to defend, by the emulator clock.
pub const DEFENSE_PERIOD_SECS: i64 = 14 * 24 * 3600;

/// A representative fraud reason code per scheme.
fn reason_for(brand: &str) -> (&'static str, &'static str) {
    match brand {
        "mc" | "maestro" => ("4837", "No Cardholder Authorization"),
        "amex" => ("F29", "Card Not Present"),
        "discover" | "diners" => ("UA02", "Fraud - Card Not Present Transaction"),
        "jcb" => ("502", "Cardmember Dispute"),
        _ => ("10.4", "Other Fraud-Card Absent Environment"),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::unprocessable("000", message)
}

/// Moves payment `psp`'s dispute to `stage` and sends its notification; returns the item sent.
pub fn advance(
    st: &mut State,
    psp: &str,
    stage: DisputeStage,
    amount: Option<i64>,
    reason_code: Option<&str>,
) -> Result<Value, ApiError> {
    crate::modifications::apply_delayed_capture(st, psp);
    let p = st
        .payments
        .get(psp)
        .ok_or_else(|| invalid(format!("No payment {psp}")))?;
    if p.status != PaymentStatus::Authorised || p.captured == 0 {
        return Err(invalid("Only a captured payment can be disputed"));
    }
    let current = p.dispute.as_ref().map(|d| d.stage);
    let allowed = match stage {
        DisputeStage::Notified => matches!(current, None | Some(DisputeStage::Notified)),
        DisputeStage::Chargeback => matches!(current, None | Some(DisputeStage::Notified)),
        DisputeStage::Reversed => current == Some(DisputeStage::Chargeback),
        DisputeStage::SecondChargeback => current == Some(DisputeStage::Reversed),
    };
    if !allowed {
        return Err(invalid(format!(
            "A dispute at {current:?} cannot move to {stage:?}"
        )));
    }
    let (default_code, description) = reason_for(p.card.brand);
    let dispute = match &p.dispute {
        Some(d) => d.clone(),
        None => Dispute {
            psp_reference: ids::reference(),
            stage,
            amount: Amount::new(amount.unwrap_or(p.captured), &p.amount.currency),
            reason_code: reason_code.unwrap_or(default_code).to_string(),
        },
    };
    if dispute.amount.value <= 0 || dispute.amount.value > p.captured {
        return Err(invalid(
            "The disputed amount must be between 1 and the captured amount",
        ));
    }
    let (event_code, status) = match stage {
        DisputeStage::Notified => ("NOTIFICATION_OF_CHARGEBACK", "Undefended"),
        DisputeStage::Chargeback => ("CHARGEBACK", "Undefended"),
        DisputeStage::Reversed => ("CHARGEBACK_REVERSED", "Won"),
        DisputeStage::SecondChargeback => ("SECOND_CHARGEBACK", "Lost"),
    };
    let reason = format!("{}:{description}", dispute.reason_code);
    let mut event = st.event(
        event_code,
        &dispute.psp_reference,
        Some(p),
        dispute.amount.clone(),
        true,
        &reason,
    );
    event.original_reference = Some(psp.to_string());
    event.additional_data = payment_additional_data(p);
    let data = &mut event.additional_data;
    data.insert("chargebackReasonCode".into(), dispute.reason_code.clone());
    data.insert("chargebackSchemeCode".into(), p.card.brand.to_string());
    data.insert("paymentMethodVariant".into(), p.card.brand.to_string());
    data.insert("modificationMerchantReferences".into(), String::new());
    data.insert("disputeStatus".into(), status.to_string());
    data.insert("grossCurrency".into(), dispute.amount.currency.clone());
    data.insert("grossValue".into(), dispute.amount.value.to_string());
    if matches!(stage, DisputeStage::Notified | DisputeStage::Chargeback) {
        data.insert(
            "defensePeriodEndsAt".into(),
            dates::iso8601(st.now + DEFENSE_PERIOD_SECS),
        );
        data.insert("defendable".into(), "true".into());
        data.insert("autoDefended".into(), "false".into());
    }
    let item = event.item();
    st.emit(&event);
    if let Some(p) = st.payments.get_mut(psp) {
        p.dispute = Some(Dispute { stage, ..dispute });
    }
    Ok(item)
}
