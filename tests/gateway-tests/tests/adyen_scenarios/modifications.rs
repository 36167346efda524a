//! Captures, voids and refunds: Adyen answers `received`, the plugin `pending`, and the outcome
//! comes by notification once the emulator settles them.

use adyen_emulator::ModKind;
use anyhow::{Context, Result, ensure};
use omnicrm_host::contract::{
    CaptureMode, EventKind, GatewayEvent, ModificationKind, ModificationStatus, ModificationUpdate,
    PaymentStatus, RefundReason, RefundStatus,
};

use super::*;

/// The modification an event reports.
fn modification_of(event: &GatewayEvent) -> Result<&ModificationUpdate> {
    match &event.kind {
        EventKind::Modification(m) => Ok(m),
        other => anyhow::bail!("expected a modification, got {other:?}"),
    }
}

/// An authorization captured in two parts (neither final), each settled by a CAPTURE
/// notification; a third capture of more than remains is refused by notification.
pub async fn authorize_then_two_partial_captures(transport: Transport) -> Result<()> {
    let mut env = Env::start(transport).await?;
    let (shopper, card) = env.customer_with_card("CRM-CAPTURE-1").await?;
    let auth = env
        .charge(&shopper, &card, 1_000, CaptureMode::Manual, "txn-2001")
        .await?;
    ensure!(
        auth.status == PaymentStatus::RequiresCapture && auth.amount_captured == 0,
        "{auth:?}"
    );
    let recorded = &env.emitted("AUTHORISATION", &auth.id)[0];
    ensure!(
        recorded["additionalData"]["metadata.omnicrm_capture"] == "manual",
        "{recorded}"
    );

    let first = env.capture(&auth.id, 600, false, "cap-2001-1").await?;
    ensure!(first.status == ModificationStatus::Pending, "{first:?}");
    ensure!(first.payment == auth.id && first.id != auth.id, "{first:?}");
    ensure!(first.amount.as_ref().map(|m| m.amount) == Some(600) && first.payment_after.is_none());
    let second = env.capture(&auth.id, 300, false, "cap-2001-2").await?;
    ensure!(
        second.status == ModificationStatus::Pending && second.id != first.id,
        "{second:?}"
    );
    // A repeat with the same key is the same capture, not a third.
    let again = env.capture(&auth.id, 600, false, "cap-2001-1").await?;
    ensure!(again.id == first.id, "{again:?}");
    ensure!(
        env.emulator.pending_settlements() == 2,
        "two captures wait at Adyen"
    );

    env.emulator.release_settlements();
    for (capture, amount) in [(&first, 600), (&second, 300)] {
        let (event, outcome) = env.event("CAPTURE", &capture.id).await?;
        ensure!(outcome.response.status == 200, "{outcome:?}");
        let m = modification_of(&event)?;
        ensure!(
            (
                m.kind,
                m.status,
                m.modification.as_str(),
                m.payment.as_str()
            ) == (
                ModificationKind::Capture,
                ModificationStatus::Succeeded,
                capture.id.as_str(),
                auth.id.as_str()
            ),
            "{m:?}"
        );
        ensure!(m.amount.as_ref().map(|a| a.amount) == Some(amount), "{m:?}");
        ensure!(
            event.id == format!("CAPTURE:{}:true", capture.id),
            "{event:?}"
        );
    }

    // 100 remain: capturing 200 is received, then refused.
    let over = env.capture(&auth.id, 200, true, "cap-2001-3").await?;
    ensure!(over.status == ModificationStatus::Pending, "{over:?}");
    env.emulator.release_settlements();
    let (event, _) = env.event("CAPTURE", &over.id).await?;
    let m = modification_of(&event)?;
    ensure!(m.status == ModificationStatus::Failed, "{m:?}");
    ensure!(
        m.reason
            .as_deref()
            .is_some_and(|r| r.contains("Insufficient balance")),
        "{m:?}"
    );

    // The authorisation's own notification: waiting for capture, with the CRM's metadata only.
    let (event, _) = env.event("AUTHORISATION", &auth.id).await?;
    let EventKind::Payment(p) = &event.kind else {
        anyhow::bail!("{event:?}");
    };
    ensure!(
        p.status == PaymentStatus::RequiresCapture && p.amount.amount == 1_000,
        "{p:?}"
    );
    ensure!(
        p.metadata == [("crm_transaction_id".to_owned(), "txn-2001".to_owned())],
        "{p:?}"
    );
    Ok(())
}

/// A void of an authorization settled by a CANCELLATION notification; a void of a captured
/// payment is refused by notification.
pub async fn void_an_authorization(transport: Transport) -> Result<()> {
    let mut env = Env::start(transport).await?;
    let (shopper, card) = env.customer_with_card("CRM-VOID-1").await?;
    let auth = env
        .charge(&shopper, &card, 1_000, CaptureMode::Manual, "txn-3001")
        .await?;
    let void = env.void(&auth.id, "void-3001").await?;
    ensure!(
        void.status == ModificationStatus::Pending && void.amount.is_none(),
        "{void:?}"
    );
    ensure!(void.payment == auth.id && void.id != auth.id, "{void:?}");
    env.emulator.release_settlements();
    let (event, _) = env.event("CANCELLATION", &void.id).await?;
    let m = modification_of(&event)?;
    ensure!(
        (m.kind, m.status) == (ModificationKind::Void, ModificationStatus::Succeeded),
        "{m:?}"
    );
    ensure!(m.payment == auth.id && m.amount.is_none(), "{m:?}");
    let recorded = env.emitted("CANCELLATION", &auth.id);
    ensure!(
        recorded.len() == 1 && recorded[0]["success"] == "true",
        "{recorded:?}"
    );

    let captured = env
        .charge(&shopper, &card, 1_000, CaptureMode::Manual, "txn-3002")
        .await?;
    env.capture(&captured.id, 1_000, true, "cap-3002").await?;
    env.emulator.release_settlements();
    let late = env.void(&captured.id, "void-3002").await?;
    ensure!(late.status == ModificationStatus::Pending, "{late:?}");
    env.emulator.release_settlements();
    let (event, _) = env.event("CANCELLATION", &late.id).await?;
    let m = modification_of(&event)?;
    ensure!(
        m.status == ModificationStatus::Failed && m.reason.is_some(),
        "{m:?}"
    );
    Ok(())
}

/// A payment refunded in two parts, each settled by a REFUND notification; a refund of more than
/// remains is refused by notification; another payment refunded in full.
pub async fn full_and_partial_refunds(transport: Transport) -> Result<()> {
    let mut env = Env::start(transport).await?;
    let (shopper, card) = env.customer_with_card("CRM-REFUND-1").await?;
    let paid = env
        .charge(&shopper, &card, 1_000, CaptureMode::Automatic, "txn-4001")
        .await?;
    let first = env.refund(&paid.id, 300, "refund-4001-1").await?;
    ensure!(
        first.status == RefundStatus::Pending && first.payment == paid.id,
        "{first:?}"
    );
    ensure!(
        first.amount.amount == 300 && first.reason == Some(RefundReason::RequestedByCustomer),
        "{first:?}"
    );
    let again = env.refund(&paid.id, 300, "refund-4001-1").await?;
    ensure!(
        again.id == first.id,
        "the same key is the same refund: {again:?}"
    );
    let second = env.refund(&paid.id, 700, "refund-4001-2").await?;
    env.emulator.release_settlements();
    for (refund, amount) in [(&first, 300), (&second, 700)] {
        let (event, _) = env.event("REFUND", &refund.id).await?;
        let m = modification_of(&event)?;
        ensure!(
            (m.kind, m.status, m.payment.as_str())
                == (
                    ModificationKind::Refund,
                    ModificationStatus::Succeeded,
                    paid.id.as_str()
                ),
            "{m:?}"
        );
        ensure!(m.amount.as_ref().map(|a| a.amount) == Some(amount), "{m:?}");
    }
    let recorded: Vec<i64> = env
        .emitted("REFUND", &paid.id)
        .iter()
        .filter(|i| i["success"] == "true")
        .filter_map(|i| i["amount"]["value"].as_i64())
        .collect();
    ensure!(recorded == [300, 700], "Adyen refunded {recorded:?}");

    let over = env.refund(&paid.id, 100, "refund-4001-3").await?;
    env.emulator.release_settlements();
    let (event, _) = env.event("REFUND", &over.id).await?;
    let m = modification_of(&event)?;
    ensure!(m.status == ModificationStatus::Failed, "{m:?}");
    ensure!(
        m.reason
            .as_deref()
            .is_some_and(|r| r.contains("Insufficient balance")),
        "{m:?}"
    );

    let other = env
        .charge(&shopper, &card, 500, CaptureMode::Automatic, "txn-4002")
        .await?;
    let full = env.refund(&other.id, 500, "refund-4002").await?;
    env.emulator.release_settlements();
    let (event, _) = env.event("REFUND", &full.id).await?;
    ensure!(modification_of(&event)?.status == ModificationStatus::Succeeded);
    Ok(())
}

/// A refund Adyen accepts and the scheme refuses later: REFUND, then REFUND_FAILED, two events
/// of the same refund.
pub async fn refund_failing_asynchronously(transport: Transport) -> Result<()> {
    let mut env = Env::start(transport).await?;
    let (shopper, card) = env.customer_with_card("CRM-REFUND-2").await?;
    let paid = env
        .charge(&shopper, &card, 800, CaptureMode::Automatic, "txn-4101")
        .await?;
    env.emulator
        .fail_next_modification(&paid.id, ModKind::Refund)?;
    let refund = env.refund(&paid.id, 800, "refund-4101").await?;
    ensure!(refund.status == RefundStatus::Pending, "{refund:?}");
    env.emulator.release_settlements();
    let (accepted, _) = env.event("REFUND", &refund.id).await?;
    ensure!(modification_of(&accepted)?.status == ModificationStatus::Succeeded);
    let (failed, _) = env.event("REFUND_FAILED", &refund.id).await?;
    let m = modification_of(&failed)?;
    ensure!(
        (m.kind, m.status, m.modification.as_str())
            == (
                ModificationKind::Refund,
                ModificationStatus::Failed,
                refund.id.as_str()
            ),
        "{m:?}"
    );
    ensure!(m.reason.as_deref() == Some("Refund Failed"), "{m:?}");
    ensure!(
        accepted.id != failed.id,
        "two events: {accepted:?} {failed:?}"
    );
    let recorded = env.emitted("REFUND_FAILED", &paid.id);
    ensure!(recorded.len() == 1, "{recorded:?}");
    let _ = recorded.first().context("REFUND_FAILED")?;
    Ok(())
}
