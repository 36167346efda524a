//! Invoices kept at Stripe.

use anyhow::{Result, ensure};
use omnicrm_host::contract::{
    CollectionMethod, GatewayError, InvoiceFilter, InvoiceRequest, InvoiceStatus, LineItem,
    PageRequest,
};

use super::{Env, Setup, customer_request, gateway_error};

/// An invoice with two lines: draft, finalized (number, hosted URL, PDF), paid with the stored
/// card; another finalized then voided; listing by status; a third marked uncollectible.
pub async fn invoices_finalized_paid_and_voided(s: Setup) -> Result<()> {
    let env = Env::start(s).await?;
    let g = &env.gateway;
    let (customer, card) = env
        .customer_with_card("crm-invoices", "pm_card_visa")
        .await?;
    let request = |key: &str| InvoiceRequest {
        customer: customer.clone(),
        currency: "USD".into(),
        items: vec![
            LineItem {
                description: "Consulting".into(),
                unit_amount: 15_000,
                quantity: 2,
                metadata: vec![("crm_line".into(), "1".into())],
            },
            LineItem {
                description: "Discount".into(),
                unit_amount: -5_000,
                quantity: 1,
                metadata: vec![],
            },
        ],
        description: Some("March".into()),
        collection: CollectionMethod::ChargeAutomatically,
        days_until_due: None,
        metadata: vec![("crm_invoice".into(), key.into())],
        idempotency_key: key.into(),
    };
    let draft = g.create_invoice(request("inv-1")).await?;
    ensure!(
        draft.status == InvoiceStatus::Draft && draft.id.starts_with("in_"),
        "{draft:?}"
    );
    ensure!(
        draft.lines.len() == 2 && draft.total == 25_000 && draft.subtotal == 25_000,
        "{draft:?}"
    );
    ensure!(
        draft
            .lines
            .iter()
            .any(|l| l.amount == 30_000 && l.quantity == 2)
    );
    // Same key: the same invoice, no extra lines.
    let again = g.create_invoice(request("inv-1")).await?;
    ensure!(again.id == draft.id && again.lines.len() == 2, "{again:?}");

    let open = g.finalize_invoice(&draft.id, "inv-1").await?;
    ensure!(
        open.status == InvoiceStatus::Open && open.number.is_some(),
        "{open:?}"
    );
    ensure!(
        open.hosted_url.is_some() && open.pdf_url.is_some(),
        "{open:?}"
    );
    let paid = g.pay_invoice(&draft.id, Some(&card), "inv-1").await?;
    ensure!(
        paid.status == InvoiceStatus::Paid
            && paid.amount_paid == 25_000
            && paid.amount_remaining == 0,
        "{paid:?}"
    );
    ensure!(g.get_invoice(&draft.id).await?.status == InvoiceStatus::Paid);

    let second = g.create_invoice(request("inv-2")).await?;
    g.finalize_invoice(&second.id, "inv-2").await?;
    let void = g.void_invoice(&second.id, "inv-2").await?;
    ensure!(void.status == InvoiceStatus::Void, "{void:?}");

    let third = g.create_invoice(request("inv-3")).await?;
    g.finalize_invoice(&third.id, "inv-3").await?;
    let written_off = g.mark_uncollectible(&third.id, "inv-3").await?;
    ensure!(
        written_off.status == InvoiceStatus::Uncollectible,
        "{written_off:?}"
    );
    // Uncollectible can still be paid, with the default card.
    let paid_late = g.pay_invoice(&third.id, None, "inv-3").await?;
    ensure!(paid_late.status == InvoiceStatus::Paid, "{paid_late:?}");

    let filter = |status| InvoiceFilter {
        customer: Some(customer.clone()),
        status: Some(status),
        created: None,
    };
    let page = g
        .list_invoices(
            filter(InvoiceStatus::Paid),
            PageRequest {
                limit: 10,
                cursor: None,
            },
        )
        .await?;
    let ids: Vec<_> = page.invoices.iter().map(|i| i.id.as_str()).collect();
    ensure!(
        ids == [third.id.as_str(), draft.id.as_str()] && page.next_cursor.is_none(),
        "{ids:?}"
    );
    // Paging by one.
    let first = g
        .list_invoices(
            filter(InvoiceStatus::Paid),
            PageRequest {
                limit: 1,
                cursor: None,
            },
        )
        .await?;
    ensure!(first.invoices.len() == 1 && first.next_cursor.is_some());
    let next = g
        .list_invoices(
            filter(InvoiceStatus::Paid),
            PageRequest {
                limit: 1,
                cursor: first.next_cursor,
            },
        )
        .await?;
    ensure!(
        next.invoices.len() == 1 && next.invoices[0].id == draft.id,
        "{next:?}"
    );
    let voided = g
        .list_invoices(
            filter(InvoiceStatus::Void),
            PageRequest {
                limit: 10,
                cursor: None,
            },
        )
        .await?;
    ensure!(voided.invoices.len() == 1 && voided.invoices[0].id == second.id);

    let err = gateway_error(g.get_invoice("in_doesnotexist").await)?;
    ensure!(
        matches!(&err, GatewayError::NotFound(n) if n.kind == "invoice"),
        "{err:?}"
    );
    Ok(())
}

/// Voiding a draft deletes it at Stripe and reports it `void`; a repeat of the call (after a
/// lost answer) reports the same, while another key or an unknown invoice is `not-found`.
pub async fn voiding_a_draft_deletes_it(s: Setup) -> Result<()> {
    let env = Env::start(s).await?;
    let g = &env.gateway;
    let customer = g
        .ensure_customer(customer_request("crm-draft"), "cus-draft")
        .await?;
    let request = |key: &str| InvoiceRequest {
        customer: customer.id.clone(),
        currency: "USD".into(),
        items: vec![LineItem {
            description: "Roaming pack".into(),
            unit_amount: 1_500,
            quantity: 2,
            metadata: vec![],
        }],
        description: None,
        collection: CollectionMethod::SendInvoice,
        days_until_due: Some(14),
        metadata: vec![("crm_invoice".into(), key.into())],
        idempotency_key: key.into(),
    };
    let draft = g.create_invoice(request("draft-1")).await?;
    ensure!(draft.status == InvoiceStatus::Draft, "{draft:?}");

    let void = g.void_invoice(&draft.id, "draft-1:void").await?;
    ensure!(
        void.id == draft.id
            && void.status == InvoiceStatus::Void
            && void.total == 3_000
            && void.lines.len() == 1
            && void.customer == customer.id,
        "{void:?}"
    );
    // Deleted at Stripe, with its line.
    ensure!(
        env.oracle
            .get(&format!("/v1/invoices/{}", draft.id))
            .await
            .is_err(),
        "the draft is still at Stripe"
    );
    let items = env
        .oracle
        .list_all(&format!("/v1/invoiceitems?customer={}", customer.id))
        .await?;
    ensure!(items.is_empty(), "{items:?}");
    // The same call again: done, the same answer.
    let again = g.void_invoice(&draft.id, "draft-1:void").await?;
    ensure!(again == void, "{again:?}");
    // Another operation on the deleted draft, or an invoice that never was: not found.
    let err = gateway_error(g.void_invoice(&draft.id, "another-void").await)?;
    ensure!(
        matches!(&err, GatewayError::NotFound(n) if n.kind == "invoice" && n.id == draft.id),
        "{err:?}"
    );
    let err = gateway_error(g.void_invoice("in_doesnotexist", "ghost-void").await)?;
    ensure!(
        matches!(&err, GatewayError::NotFound(n) if n.kind == "invoice"),
        "{err:?}"
    );
    // An open invoice is voided, not deleted.
    let open = g.create_invoice(request("draft-2")).await?;
    g.finalize_invoice(&open.id, "draft-2").await?;
    let void = g.void_invoice(&open.id, "draft-2:void").await?;
    ensure!(
        void.status == InvoiceStatus::Void && void.number.is_some(),
        "{void:?}"
    );
    let kept = env.oracle.get(&format!("/v1/invoices/{}", open.id)).await?;
    ensure!(kept["status"] == "void", "{kept}");
    Ok(())
}
