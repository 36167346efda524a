//! Invoices kept in the ledger, for gateways without `invoicing`: finalized (open, with a due
//! date) and voided in the ledger, and paid by charging what remains of the total to a stored
//! card, an `invoice_charge` operation with the invoice's payment key. A paid invoice settles
//! its lines; a decline leaves it open. They have no hosted page or PDF (`hosted_url` and
//! `pdf_url` stay empty).

use crate::error::Error;
use crate::ledger::{Card, Initiator, Invoice, InvoicePatch, InvoiceStatus, OpKind, OpState, now};
use crate::payments::outcome::failed_state;
use crate::payments::params::ChargeParams;
use crate::payments::pending::InvoicePayment;
use crate::service::Service;
use omnicrm_host::contract::{self, ActionRequired, GatewayError, PaymentStatus};
use omnicrm_host::error::CallError;

/// Seconds in a day.
const DAY: i64 = 86_400;

impl Service {
    /// The card a ledger invoice is paid with when none is named: the customer's default card,
    /// which must be kept by the invoice's gateway.
    pub(super) async fn invoice_default_card(&self, inv: &Invoice) -> Result<Card, Error> {
        let card = self.default_card(&inv.crm_customer_id).await?;
        if card.gateway != inv.gateway {
            return Err(Error::invalid(
                "card_id",
                format!(
                    "the customer's default card is kept by gateway {}, the invoice by {}: name a \
                     card of {}",
                    card.gateway, inv.gateway, inv.gateway
                ),
            ));
        }
        Ok(card)
    }

    /// Marks a ledger invoice with nothing left to pay (its credits cover its charges) paid
    /// without charging anything; none when something remains to pay.
    pub(super) async fn settle_invoice_without_payment(
        &self,
        id: i64,
    ) -> Result<Option<Invoice>, Error> {
        let inv = self.invoice(id).await?;
        if inv.total - inv.amount_paid > 0 {
            return Ok(None);
        }
        let patch = InvoicePatch {
            status: Some(InvoiceStatus::Paid),
            last_error: Some(None),
            ..Default::default()
        };
        self.db
            .run(move |l| {
                l.update_invoice(
                    id,
                    &[InvoiceStatus::Open, InvoiceStatus::Uncollectible],
                    &patch,
                )
            })
            .await?;
        Ok(Some(self.invoice(id).await?))
    }

    /// The charge of a ledger invoice to `card` (the amount is set when the operation is
    /// written, from the invoice as it then stands). Invoices are the customer's agreed bills:
    /// a merchant-initiated, recurring use of the stored card.
    pub(super) async fn invoice_charge_params(
        &self,
        inv: &Invoice,
        card: &Card,
    ) -> Result<ChargeParams, Error> {
        let link = self
            .customer_link(&inv.crm_customer_id, &inv.gateway)
            .await?;
        Ok(ChargeParams {
            customer: link.gateway_customer_ref,
            card: card.gateway_card_ref.clone(),
            amount: inv.total - inv.amount_paid,
            currency: inv.currency.clone(),
            description: Some(match &inv.description {
                Some(d) => format!("Invoice {}: {d}", inv.number),
                None => format!("Invoice {}", inv.number),
            }),
            capture: crate::ledger::Capture::Automatic,
            metadata: vec![
                ("crm_invoice_id".into(), inv.id.to_string()),
                ("crm_invoice_number".into(), inv.number.clone()),
                ("crm_customer_id".into(), inv.crm_customer_id.clone()),
            ],
            initiator: Some(Initiator::MerchantRecurring),
            return_url: None,
            network_transaction_id: card.network_transaction_id.clone(),
        })
    }

    /// Runs a finalization or a void of a ledger invoice (operation `kind`): no gateway call. A
    /// finalized invoice is open and due as many days after now as it was when created; a voided
    /// one releases its pending lines.
    pub(crate) async fn ledger_invoice_step(
        &self,
        kind: OpKind,
        id: i64,
    ) -> Result<(OpState, Option<CallError>), Error> {
        let inv = self.invoice(id).await?;
        let (from, patch) = match kind {
            OpKind::InvoiceFinalize => {
                let days = inv
                    .due_date
                    .map(|d| (d - inv.created_at).max(0) / DAY)
                    .unwrap_or(30);
                (
                    vec![InvoiceStatus::Draft],
                    InvoicePatch {
                        status: Some(InvoiceStatus::Open),
                        due_date: Some(now() + days * DAY),
                        last_error: Some(None),
                        ..Default::default()
                    },
                )
            }
            _ => (
                vec![
                    InvoiceStatus::Draft,
                    InvoiceStatus::Open,
                    InvoiceStatus::Uncollectible,
                ],
                InvoicePatch {
                    status: Some(InvoiceStatus::Void),
                    ..Default::default()
                },
            ),
        };
        let moved = self
            .db
            .run(move |l| l.update_invoice(id, &from, &patch))
            .await?;
        Ok(match moved {
            Some(_) => (OpState::Done, None),
            // Moved meanwhile (it is one step at a time, so by nothing of ours): nothing to do.
            None => (OpState::Failed, None),
        })
    }

    /// Applies the charge of a ledger invoice: a payment that succeeded pays the invoice (its
    /// lines settled, the payment and its fee recorded); one still processing leaves the
    /// operation waiting (an event or a lookup settles it); a decline, or a payment that needs
    /// the customer, leaves the invoice open and fails the attempt with that error.
    pub(crate) async fn apply_invoice_charge(
        &self,
        id: i64,
        result: Result<contract::Payment, CallError>,
    ) -> Result<(OpState, Option<CallError>), Error> {
        let refusal = match result {
            Ok(p) => match p.status {
                PaymentStatus::Succeeded => {
                    self.settle_invoice_payment(id, &InvoicePayment::of(&p))
                        .await?;
                    return Ok((OpState::Done, None));
                }
                PaymentStatus::Processing | PaymentStatus::RequiresCapture => {
                    let patch = InvoicePatch {
                        gateway_payment_ref: Some(p.id.clone()),
                        ..Default::default()
                    };
                    self.db
                        .run(move |l| l.update_invoice(id, &[], &patch))
                        .await?;
                    return Ok((OpState::Waiting, None));
                }
                PaymentStatus::RequiresAction => {
                    CallError::Gateway(GatewayError::ActionRequired(ActionRequired {
                        payment: p.id.clone(),
                        next_action: p
                            .next_action
                            .clone()
                            .unwrap_or(contract::NextAction::BringCustomerOnSession),
                        customer_message: "The card issuer asks the customer to authenticate \
                                           the payment."
                            .into(),
                        request_id: None,
                    }))
                }
                PaymentStatus::Failed | PaymentStatus::Canceled => match p.last_decline {
                    Some(d) => CallError::Gateway(GatewayError::Declined(d)),
                    None => {
                        CallError::Gateway(GatewayError::InvalidInput(contract::InvalidInput {
                            field: "card".into(),
                            message: "the gateway did not take the payment".into(),
                            request_id: None,
                        }))
                    }
                },
            },
            Err(e) => e,
        };
        let message = match &refusal {
            CallError::Gateway(GatewayError::Declined(d)) => d.customer_message.clone(),
            CallError::Gateway(GatewayError::ActionRequired(a)) => a.customer_message.clone(),
            other => other.to_string(),
        };
        let patch = InvoicePatch {
            last_error: Some(Some(message)),
            ..Default::default()
        };
        self.db
            .run(move |l| l.update_invoice(id, &[], &patch))
            .await?;
        let state = match &refusal {
            CallError::Gateway(GatewayError::ActionRequired(_)) => OpState::Failed,
            e => failed_state(OpState::Pending, e),
        };
        Ok((state, Some(refusal)))
    }
}
