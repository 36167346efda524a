//! Declines carry the payment's reference and a normalized category; a card that needs the
//! customer is `action-required` with the waiting payment.

use super::{Recorder, fail, not_applicable, pass};
use crate::kit::{Kit, Payer, describe};
use omnicrm_host::CallError;
use omnicrm_host::contract::{CaptureMode, DeclineCategory, GatewayError, StoredCredentialUse};

/// The contract's name of a decline category.
fn category_name(category: DeclineCategory) -> &'static str {
    match category {
        DeclineCategory::InsufficientFunds => "insufficient-funds",
        DeclineCategory::ExpiredCard => "expired-card",
        DeclineCategory::IncorrectDetails => "incorrect-details",
        DeclineCategory::DoNotHonor => "do-not-honor",
        DeclineCategory::SuspectedFraud => "suspected-fraud",
        DeclineCategory::AuthenticationRequired => "authentication-required",
        DeclineCategory::TryAgainLater => "try-again-later",
        DeclineCategory::Other => "other",
    }
}

pub(crate) async fn run(kit: &Kit, _payer: &Payer, recorder: &mut Recorder) {
    let g = &kit.gateway;
    let cards = &kit.fixtures.cards;
    recorder
        .check(
            "declines.reference-and-category",
            "a decline is `declined`, carries the failed payment's reference and the normalized category",
            async {
                let Some(token) = &cards.declines else {
                    return not_applicable("the fixtures name no declining card (`cards.declines`)");
                };
                let payer = match kit.payer("declined", token).await {
                    Ok(p) => p,
                    Err(e) => return fail(format!("storing the declining card: {}", describe(&e))),
                };
                let request = kit.charge_request(
                    &payer,
                    kit.fixtures.amount,
                    CaptureMode::Automatic,
                    &kit.key("decline"),
                );
                let decline = match g.charge(request).await {
                    Err(CallError::Gateway(GatewayError::Declined(d))) => d,
                    Err(e) => return fail(format!("expected declined, got {}", describe(&e))),
                    Ok(p) => return fail(format!("the charge was not declined: {} {:?}", p.id, p.status)),
                };
                if decline.payment.as_deref().is_none_or(str::is_empty) {
                    return fail("the decline carries no payment reference");
                }
                let category = category_name(decline.category);
                if let Some(expected) = &cards.decline_category
                    && expected != category
                {
                    return fail(format!("category `{category}`, the fixtures expect `{expected}`"));
                }
                if decline.customer_message.trim().is_empty() {
                    return fail("the decline has no customer message");
                }
                pass()
            },
        )
        .await;
    recorder
        .check(
            "declines.customer-action",
            "a card that needs the customer is `action-required`, naming the waiting payment",
            async {
                let Some(token) = &cards.customer_action else {
                    return not_applicable(
                        "the fixtures name no card that needs the customer (`cards.customer_action`)",
                    );
                };
                // The gateway may ask for the customer when the card is stored (a set-up that
                // needs authentication) or when it is charged: either is the promise kept.
                let payer = match kit.payer("action", token).await {
                    Ok(p) => p,
                    Err(CallError::Gateway(GatewayError::ActionRequired(a))) if !a.payment.is_empty() => {
                        return pass();
                    }
                    Err(e) => return fail(format!("storing the card: {}", describe(&e))),
                };
                let mut request = kit.charge_request(
                    &payer,
                    kit.fixtures.amount,
                    CaptureMode::Automatic,
                    &kit.key("action"),
                );
                request.stored_credential = StoredCredentialUse::CustomerInitiated;
                request.return_url = Some("https://crm.example/return".into());
                match g.charge(request).await {
                    Err(CallError::Gateway(GatewayError::ActionRequired(a))) if !a.payment.is_empty() => pass(),
                    Err(CallError::Gateway(GatewayError::ActionRequired(_))) => {
                        fail("action-required without the waiting payment's reference")
                    }
                    Err(e) => fail(format!("expected action-required, got {}", describe(&e))),
                    Ok(p) => fail(format!("answered a payment {} {:?}", p.id, p.status)),
                }
            },
        )
        .await;
}
