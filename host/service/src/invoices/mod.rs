//! Invoices: created from a customer's uninvoiced pending transactions, then finalized, paid
//! with a stored card or voided, each step an operation of the intent log (see
//! [`crate::payments`]). A payment attempt gets a key of its own (`…:pay:N`, followed by the
//! request's part when an API request sent an `Idempotency-Key`), so that a declined attempt is
//! never replayed for the next card. One step of an invoice runs at a time: of requests racing
//! on it, one runs.
//!
//! Where an invoice is kept is decided when it is created: at the gateway when it has
//! `invoicing` (created, finalized, paid and voided there; a draft voided is deleted there),
//! else in the ledger ([`ledger_kept`]: finalized and voided in the ledger, paid by charging its
//! total to a stored card). Both have the same API and states.

use crate::error::{Concerned, Error};
use crate::ledger::{
    Begun, Invoice, InvoiceKeeper, InvoicePatch, InvoiceStatus, LedgerError, NewInvoice,
    NewOperation, OpKind, OpState, Operation, Ts, TxnKind, new_key, now,
};
use omnicrm_host::contract::Capabilities;

mod ledger_kept;
use crate::payments::outcome::{ErrorClass, classify};
use crate::payments::params::{
    ChargeParams, InvoiceCreateParams, InvoiceParams, LineParams, to_params,
};
use crate::payments::requester::Requester;
use crate::retry::RetryPolicy;
use crate::service::Service;
use omnicrm_host::error::CallError;

/// An invoice to create, as the API receives it.
#[derive(Debug, Clone)]
pub struct InvoiceRequestIn {
    /// CRM customer.
    pub customer_id: String,
    /// Gateway (none: the gateway of the customer's default card, or the default gateway).
    pub gateway: Option<String>,
    /// Currency.
    pub currency: String,
    /// Note.
    pub description: Option<String>,
    /// Period start filter.
    pub period_start: Option<Ts>,
    /// Period end filter.
    pub period_end: Option<Ts>,
    /// Days until due.
    pub days_until_due: u32,
    /// Key derived from the client's `Idempotency-Key`.
    pub client_key: Option<String>,
}

impl Service {
    /// An invoice of the ledger; not found naming `invoice_id` when there is none.
    pub async fn invoice(&self, id: i64) -> Result<Invoice, Error> {
        self.db
            .run(move |l| l.invoice(id))
            .await?
            .ok_or_else(|| Error::not_found("invoice_id", format!("no invoice {id}")))
    }

    /// Creates an invoice from the customer's uninvoiced pending transactions, in the ledger
    /// and (as a draft) at the gateway.
    pub async fn create_invoice(&self, req: InvoiceRequestIn) -> Result<Invoice, Error> {
        let links = self.require_customer(&req.customer_id).await?;
        let gateway = match &req.gateway {
            Some(g) => self.gateway_name(Some(g))?,
            None => match self.default_card(&req.customer_id).await {
                Ok(c) => c.gateway,
                Err(_) => self
                    .gateways
                    .default_name()
                    .map(str::to_string)
                    .unwrap_or_else(|| links[0].gateway.clone()),
            },
        };
        self.check_currency(&req.currency, Some(&gateway))?;
        // The customer must be linked to the invoice's gateway.
        self.customer_link(&req.customer_id, &gateway).await?;
        let kept_by = if self
            .capabilities(&gateway)?
            .contains(Capabilities::INVOICING)
        {
            InvoiceKeeper::Gateway
        } else {
            InvoiceKeeper::Ledger
        };
        let ts = now();
        let new = NewInvoice {
            crm_customer_id: req.customer_id.clone(),
            gateway: gateway.clone(),
            currency: req.currency.clone(),
            description: req.description.clone(),
            period_start: req.period_start,
            period_end: req.period_end,
            due_date: Some(ts + req.days_until_due as i64 * 86_400),
            idempotency_key: match &req.client_key {
                Some(k) => format!("inv-{k}"),
                None => new_key("inv"),
            },
            now: ts,
            kept_by,
        };
        let invoice = self
            .db
            .run(move |l| l.create_invoice(&new))
            .await?
            .ok_or_else(|| {
                Error::conflict(
                    "customer_id",
                    format!(
                        "customer {:?} has no uninvoiced pending {} transactions{}",
                        req.customer_id,
                        req.currency,
                        if req.period_start.is_some() || req.period_end.is_some() {
                            " in that period"
                        } else {
                            ""
                        }
                    ),
                )
            })?;
        let id = invoice.id;
        if invoice.kept_by == InvoiceKeeper::Ledger {
            return Ok(invoice);
        }
        let new = self.invoice_create_op(&invoice).await?;
        let exec = self.run_new_op(new, RetryPolicy::INTERACTIVE).await?;
        if let Some(e) = &exec.error
            && classify(e) == ErrorClass::Final
        {
            // Nothing was created at the gateway: void the draft so its lines can be invoiced again.
            let patch = InvoicePatch {
                status: Some(InvoiceStatus::Void),
                ..Default::default()
            };
            self.db
                .run(move |l| l.update_invoice(id, &[InvoiceStatus::Draft], &patch))
                .await?;
            return Err(Error::from_call(e));
        }
        self.invoice(id).await
    }

    /// The operation that creates an invoice at the gateway, with its lines. Its key derives
    /// from the invoice's, so building it again yields the same operation.
    async fn invoice_create_op(&self, invoice: &Invoice) -> Result<NewOperation, Error> {
        let link = self
            .customer_link(&invoice.crm_customer_id, &invoice.gateway)
            .await?;
        let id = invoice.id;
        let lines = self.db.run(move |l| l.invoice_lines(id)).await?;
        let days_until_due = invoice
            .due_date
            .map(|d| ((d - invoice.created_at) / 86_400).clamp(0, 365) as u32)
            .unwrap_or(30);
        let params = InvoiceCreateParams {
            customer: link.gateway_customer_ref,
            currency: invoice.currency.clone(),
            items: lines
                .iter()
                .map(|t| LineParams {
                    description: t
                        .description
                        .clone()
                        .unwrap_or_else(|| format!("Transaction {}", t.id)),
                    unit_amount: if t.kind == TxnKind::Credit {
                        -t.amount
                    } else {
                        t.amount
                    },
                    transaction_id: t.id,
                })
                .collect(),
            description: invoice.description.clone(),
            days_until_due,
            number: invoice.number.clone(),
        };
        Ok(NewOperation {
            kind: OpKind::InvoiceCreate,
            gateway: invoice.gateway.clone(),
            transaction_id: None,
            refund_id: None,
            invoice_id: Some(id),
            idempotency_key: format!("{}:create", invoice.idempotency_key),
            params: to_params(&params)?,
        })
    }

    /// Makes sure the invoice exists at the gateway, settling its creation if needed (and
    /// writing the creation's operation when a crash came between the invoice and it).
    async fn gateway_invoice(&self, inv: &Invoice) -> Result<String, Error> {
        if let Some(r) = &inv.gateway_invoice_ref {
            return Ok(r.clone());
        }
        let new = self.invoice_create_op(inv).await?;
        let (op, _) = self.db.run(move |l| l.insert_operation(&new)).await?;
        if matches!(op.state, OpState::Pending | OpState::Unknown) {
            self.execute(op, RetryPolicy::INTERACTIVE)
                .await?
                .into_result()?;
        }
        let fresh = self.invoice(inv.id).await?;
        fresh.gateway_invoice_ref.ok_or_else(|| {
            Error::conflict("invoice_id", "the invoice was not created at the gateway")
        })
    }

    /// Runs a finalize, payment or void of an invoice. Its operation is written only while the
    /// invoice's status is one of `allowed` and no other such operation of the invoice is
    /// unsettled, in one ledger write: of requests racing on one invoice, exactly one calls the
    /// gateway; the others hear what is in progress, or what happened. Only the request that
    /// wrote an operation (repeated with its key), or the service itself, resumes it.
    #[allow(clippy::too_many_arguments)]
    async fn invoice_op(
        &self,
        id: i64,
        kind: OpKind,
        allowed: &[InvoiceStatus],
        card: Option<String>,
        charge: Option<ChargeParams>,
        policy: RetryPolicy,
        requester: Requester<'_>,
    ) -> Result<(Invoice, Option<CallError>), Error> {
        let inv = self.invoice(id).await?;
        let ledger_kept = inv.kept_by == InvoiceKeeper::Ledger;
        let op = match self.unsettled_op(None, Some(id), INVOICE_STEPS).await? {
            Some(op) if op.kind == kind && requester.resumes(&op.idempotency_key) => op,
            Some(op) => return Err(step_in_progress(&inv, &op)),
            None => {
                if !allowed.contains(&inv.status) {
                    return Err(not_allowed(&inv, kind));
                }
                // Voiding a draft deletes it at the gateway (the plugin answers `void`). One the
                // gateway never got is voided in the ledger only; a creation whose outcome is
                // unknown is settled first, as the draft it may have made must go too.
                if kind == OpKind::InvoiceVoid && inv.gateway_invoice_ref.is_none() && !ledger_kept
                {
                    if let Some(create) = self
                        .unsettled_op(None, Some(id), &[OpKind::InvoiceCreate])
                        .await?
                    {
                        self.execute(create, policy).await?.into_result()?;
                    }
                    if self.invoice(id).await?.gateway_invoice_ref.is_none() {
                        let patch = InvoicePatch {
                            status: Some(InvoiceStatus::Void),
                            ..Default::default()
                        };
                        let from = allowed.to_vec();
                        return match self
                            .db
                            .run(move |l| l.update_invoice(id, &from, &patch))
                            .await?
                        {
                            Some(inv) => Ok((inv, None)),
                            None => Err(not_allowed(&self.invoice(id).await?, kind)),
                        };
                    }
                }
                let inv = self.invoice(id).await?;
                let gref = if ledger_kept {
                    String::new()
                } else {
                    self.gateway_invoice(&inv).await?
                };
                // The service's own steps keep the invoice's plain keys; a client's name the
                // request, so that it finds its own when repeated.
                let part = match requester {
                    Requester::Client(Some(_)) => Some(requester.key_part()),
                    _ => None,
                };
                let from = allowed.to_vec();
                let begun = self
                    .db
                    .run(move |l| {
                        l.begin_invoice_op(id, kind, &from, &|inv| {
                            let step = match kind {
                                OpKind::InvoicePay | OpKind::InvoiceCharge => {
                                    format!("pay:{}", inv.pay_attempts)
                                }
                                OpKind::InvoiceFinalize => "finalize".into(),
                                _ => "void".into(),
                            };
                            let key = match &part {
                                Some(part) => format!("{}:{step}:{part}", inv.idempotency_key),
                                None => format!("{}:{step}", inv.idempotency_key),
                            };
                            let params = match &charge {
                                // What remains to pay, as the invoice stands.
                                Some(c) => to_params(&ChargeParams {
                                    amount: inv.total - inv.amount_paid,
                                    ..c.clone()
                                }),
                                None => to_params(&InvoiceParams {
                                    invoice: gref.clone(),
                                    card: card.clone(),
                                }),
                            }
                            .map_err(|e| LedgerError::Database(e.message))?;
                            Ok(NewOperation {
                                kind,
                                gateway: inv.gateway.clone(),
                                transaction_id: None,
                                refund_id: None,
                                invoice_id: Some(id),
                                idempotency_key: key,
                                params,
                            })
                        })
                    })
                    .await?;
                match begun {
                    Begun::Started(op) => op,
                    Begun::Busy(op) => return Err(step_in_progress(&inv, &op)),
                    Begun::Refused(inv) => return Err(not_allowed(&inv, kind)),
                    Begun::Settled(_) => return Ok((self.invoice(id).await?, None)),
                }
            }
        };
        let exec = self.execute(op, policy).await?;
        if exec.in_flight {
            return Err(Error::conflict(
                "invoice_id",
                format!(
                    "{} of invoice {} is in progress",
                    step_name(kind),
                    inv.number
                ),
            ));
        }
        Ok((self.invoice(id).await?, exec.error))
    }

    /// Finalizes a draft invoice, for the service itself.
    pub async fn finalize_invoice(&self, id: i64) -> Result<Invoice, Error> {
        self.finalize_invoice_for(id, Requester::Service).await
    }

    /// Finalizes a draft invoice for `requester`.
    pub async fn finalize_invoice_for(
        &self,
        id: i64,
        requester: Requester<'_>,
    ) -> Result<Invoice, Error> {
        let (inv, err) = self
            .invoice_op(
                id,
                OpKind::InvoiceFinalize,
                &[InvoiceStatus::Draft],
                None,
                None,
                RetryPolicy::INTERACTIVE,
                requester,
            )
            .await?;
        match err {
            Some(e) => Err(Error::from_call(&e)),
            None => Ok(inv),
        }
    }

    /// Pays an open invoice with a stored card (the default when none is named), for the service
    /// itself; finalizes a draft first.
    pub async fn pay_invoice(
        &self,
        id: i64,
        card_id: Option<i64>,
        policy: RetryPolicy,
    ) -> Result<Invoice, Error> {
        self.pay_invoice_for(id, card_id, policy, Requester::Service)
            .await
    }

    /// Pays an open invoice with a stored card (the default when none is named) for
    /// `requester`; finalizes a draft first.
    pub async fn pay_invoice_for(
        &self,
        id: i64,
        card_id: Option<i64>,
        policy: RetryPolicy,
        requester: Requester<'_>,
    ) -> Result<Invoice, Error> {
        let inv = self.invoice(id).await?;
        let ledger_kept = inv.kept_by == InvoiceKeeper::Ledger;
        let card = match card_id {
            Some(c) => {
                let card = self.customer_card(&inv.crm_customer_id, c).await?;
                if card.gateway != inv.gateway {
                    return Err(Error::invalid(
                        "card_id",
                        format!(
                            "card {c} is kept by gateway {}, the invoice by {}",
                            card.gateway, inv.gateway
                        ),
                    ));
                }
                Some(card)
            }
            // The ledger pays with a card of its own choosing: the default.
            None if ledger_kept => Some(self.invoice_default_card(&inv).await?),
            None => None,
        };
        if matches!(inv.status, InvoiceStatus::Void | InvoiceStatus::Paid) {
            return Err(not_allowed(&inv, OpKind::InvoicePay));
        }
        if inv.status == InvoiceStatus::Draft {
            self.finalize_invoice_for(id, requester).await?;
        }
        let (kind, charge) = match (&card, ledger_kept) {
            (Some(card), true) => {
                if let Some(paid) = self.settle_invoice_without_payment(id).await? {
                    return Ok(paid);
                }
                (
                    OpKind::InvoiceCharge,
                    Some(self.invoice_charge_params(&inv, card).await?),
                )
            }
            _ => (OpKind::InvoicePay, None),
        };
        let (inv, err) = self
            .invoice_op(
                id,
                kind,
                &[InvoiceStatus::Open, InvoiceStatus::Uncollectible],
                card.map(|c| c.gateway_card_ref),
                charge,
                policy,
                requester,
            )
            .await?;
        match err {
            Some(e) => Err(Error::from_call(&e).concerning(Concerned::Invoice {
                id: inv.id,
                status: inv.status,
            })),
            None => Ok(inv),
        }
    }

    /// Voids an invoice for the service itself (a draft is deleted at the gateway); its pending
    /// transactions become uninvoiced again.
    pub async fn void_invoice(&self, id: i64) -> Result<Invoice, Error> {
        self.void_invoice_for(id, Requester::Service).await
    }

    /// Voids an invoice for `requester` (a draft is deleted at the gateway); its pending
    /// transactions become uninvoiced again.
    pub async fn void_invoice_for(
        &self,
        id: i64,
        requester: Requester<'_>,
    ) -> Result<Invoice, Error> {
        let (inv, err) = self
            .invoice_op(
                id,
                OpKind::InvoiceVoid,
                &[
                    InvoiceStatus::Draft,
                    InvoiceStatus::Open,
                    InvoiceStatus::Uncollectible,
                ],
                None,
                None,
                RetryPolicy::INTERACTIVE,
                requester,
            )
            .await?;
        match err {
            Some(e) => Err(Error::from_call(&e)),
            None => Ok(inv),
        }
    }
}

/// The steps of an invoice after its creation: one at a time.
const INVOICE_STEPS: &[OpKind] = &[
    OpKind::InvoiceFinalize,
    OpKind::InvoicePay,
    OpKind::InvoiceVoid,
    OpKind::InvoiceCharge,
];

/// A step's name in answers.
fn step_name(kind: OpKind) -> &'static str {
    match kind {
        OpKind::InvoiceFinalize => "the finalization",
        OpKind::InvoicePay | OpKind::InvoiceCharge => "a payment",
        _ => "the void",
    }
}

/// The answer to a step of an invoice that another step, not settled yet, is changing.
fn step_in_progress(inv: &Invoice, op: &Operation) -> Error {
    let state = match op.state {
        OpState::Unknown => {
            "has an unknown outcome; the reconciler settles it (or the request that started it, \
             repeated with its Idempotency-Key)"
        }
        OpState::Waiting => "was accepted by the gateway, which settles it later",
        _ => "is in progress",
    };
    Error::conflict(
        "invoice_id",
        format!("{} of invoice {} {state}", step_name(op.kind), inv.number),
    )
}

/// The answer to a step the invoice's status does not allow: what happened to it.
fn not_allowed(inv: &Invoice, kind: OpKind) -> Error {
    Error::conflict(
        "invoice_id",
        format!(
            "invoice {} is {}: it cannot be {}",
            inv.number,
            inv.status,
            match kind {
                OpKind::InvoiceFinalize => "finalized",
                OpKind::InvoicePay | OpKind::InvoiceCharge => "paid",
                _ => "voided",
            }
        ),
    )
}
