//! A scripted fake gateway for tests: a [`PaymentGateway`] that keeps customers, stored cards,
//! payments and invoices in memory, honours idempotency keys as a real gateway does (a repeat
//! with the same key and inputs answers the original outcome and does nothing again; the same
//! key with other inputs is an idempotency conflict), records every call that reaches it, and
//! follows a script of what to do with the next calls of each operation.

// The fake answers with the contract's `GatewayError` by value, as the runtime does (see
// `omnicrm_host`): a record of a few strings, past clippy's size threshold for `Err`.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Notify;

use crate::config::GatewayEntry;
use crate::gateway::{GatewayFuture, PaymentGateway};
use crate::live_gateways::Gateways;
use omnicrm_host::GatewayConfig;
use omnicrm_host::contract::{
    self, ActionCompletion, Capabilities, CaptureMode, CaptureRequest, CardFunding, CardSession,
    CardSessionRequest, ChargeRequest, Customer, CustomerRequest, Decline, DeclineCategory,
    Failure, FinancialSummary, GatewayError, GatewayInfo, InvalidInput, Invoice, InvoiceLine,
    InvoiceRequest, InvoiceStatus, Modification, ModificationStatus, Money, NotFound, Payment,
    PaymentStatus, Refund, RefundRequest, Rejection, StoreCardRequest, StoredCard, TimeRange,
    VoidRequest, WebhookOutcome, WebhookRequest,
};
use omnicrm_host::error::CallError;

/// The fake's name in the service's configuration.
pub const NAME: &str = "fake";

/// What the fake does with one call.
#[derive(Debug, Clone)]
pub enum Step {
    /// Does it, or answers the original outcome of a repeated key.
    Answer,
    /// Refuses without doing anything (not attempted, rate limited, host trouble): the call is
    /// recorded, nothing is stored under its key.
    Refuse(CallError),
    /// Does it (or replays it), then the answer is lost: the caller hears this error (outcome
    /// unknown, timeout, trap).
    LoseAnswer(CallError),
    /// Declines a charge or an invoice payment with this code; the decline is the key's
    /// outcome, answered again to a repeat.
    Decline(&'static str),
    /// Parks the call before it reaches the gateway (nothing recorded, nothing done) until the
    /// task is dropped.
    HoldBefore,
    /// Does it and records it, then parks before answering until the task is dropped.
    HoldAfter,
    /// Accepts a capture, void or refund without settling it: answered `pending` (the outcome
    /// comes later, by an event the test sends), nothing changed yet.
    Pending,
    /// Answers a charge `action-required` (a redirect the customer must follow): the payment
    /// waits for `complete-action`.
    RequireAction,
    /// Makes a charge, then answers a payment that breaks the contract: it claims twice the
    /// amount captured (the payment the fake keeps is right).
    BreakContract,
}

/// A call that reached the fake.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The operation (`charge`, `capture`, `void`, `refund`, `pay-invoice`, ...).
    pub op: &'static str,
    /// The idempotency key, for operations that take one.
    pub key: Option<String>,
    /// The inputs, as JSON.
    pub inputs: Value,
}

#[derive(Default)]
struct State {
    script: HashMap<&'static str, VecDeque<Step>>,
    calls: Vec<Call>,
    /// Per idempotency key: the inputs and the outcome.
    outcomes: HashMap<String, (Value, Result<Value, GatewayError>)>,
    /// The step of the call being performed (what `perform` reads for `Pending`,
    /// `RequireAction` and `BreakContract`).
    step: Option<Step>,
    customers: BTreeMap<String, Customer>,
    cards: BTreeMap<String, StoredCard>,
    payments: BTreeMap<String, Payment>,
    refunds: BTreeMap<String, Refund>,
    invoices: BTreeMap<String, Invoice>,
    next_id: u64,
}

/// The fake's capabilities by default: a synchronous gateway with invoices, lookups and customer
/// actions; no figures of its own.
pub fn synchronous() -> Capabilities {
    Capabilities::PARTIAL_CAPTURE
        | Capabilities::PAYMENT_LOOKUP
        | Capabilities::INVOICING
        | Capabilities::CUSTOMER_ACTIONS
}

/// A gateway like Adyen's: modifications answered later, several captures of an authorization,
/// no lookups, no invoicing, no figures.
pub fn asynchronous() -> Capabilities {
    Capabilities::PARTIAL_CAPTURE
        | Capabilities::MULTIPLE_CAPTURES
        | Capabilities::ASYNC_MODIFICATIONS
        | Capabilities::CUSTOMER_ACTIONS
        | Capabilities::PAYMENT_FEES
}

/// The scripted fake gateway.
pub struct FakeGateway {
    info: GatewayInfo,
    state: Mutex<State>,
    held: Notify,
}

impl FakeGateway {
    /// A fake accepting any currency, with the [`synchronous`] capabilities and an empty script
    /// (every call answered).
    pub fn new() -> Arc<Self> {
        Self::with_capabilities(synchronous())
    }

    /// A fake declaring `capabilities`.
    pub fn with_capabilities(capabilities: Capabilities) -> Arc<Self> {
        Arc::new(FakeGateway {
            info: GatewayInfo {
                name: NAME.into(),
                display_name: "Scripted fake".into(),
                version: "0.0.0".into(),
                currencies: Vec::new(),
                capabilities,
            },
            state: Mutex::new(State::default()),
            held: Notify::new(),
        })
    }

    /// Live gateways holding only this fake, as the default gateway.
    pub fn gateways(self: &Arc<Self>) -> Gateways {
        Gateways::from_gateways(
            vec![(
                NAME.to_string(),
                GatewayEntry::new(GatewayConfig::new("memory:fake")),
                self.clone() as Arc<dyn PaymentGateway>,
            )],
            Some(NAME.to_string()),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Scripts the next calls of `op` (after those scripted before); unscripted calls are
    /// answered.
    pub fn script(&self, op: &'static str, steps: impl IntoIterator<Item = Step>) {
        self.lock().script.entry(op).or_default().extend(steps);
    }

    /// Every call that reached the fake, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The calls of one operation.
    pub fn calls_of(&self, op: &str) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.op == op).collect()
    }

    /// The payments the fake made, by id.
    pub fn payments(&self) -> BTreeMap<String, Payment> {
        self.lock().payments.clone()
    }

    /// Settles at the gateway what an event then reports: a payment's new status and captured
    /// amount (a capture or void answered `pending` taking effect).
    pub fn set_payment(&self, id: &str, status: PaymentStatus, captured: i64) {
        if let Some(p) = self.lock().payments.get_mut(id) {
            p.status = status;
            p.amount_captured = captured;
        }
    }

    /// Resolves once a call is parked by [`Step::HoldBefore`] or [`Step::HoldAfter`].
    pub async fn held(&self) {
        self.held.notified().await
    }

    async fn run<T: Serialize + DeserializeOwned>(
        &self,
        op: &'static str,
        key: Option<&str>,
        inputs: Value,
        perform: impl FnOnce(&mut State) -> Result<T, GatewayError>,
    ) -> Result<T, CallError> {
        let step = self
            .lock()
            .script
            .get_mut(op)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Step::Answer);
        if let Step::HoldBefore = step {
            self.held.notify_one();
            std::future::pending::<()>().await;
        }
        let result = {
            let mut st = self.lock();
            st.calls.push(Call {
                op,
                key: key.map(str::to_string),
                inputs: inputs.clone(),
            });
            if let Step::Refuse(e) = step {
                return Err(e);
            }
            let stored = key.and_then(|k| st.outcomes.get(k).cloned());
            match stored {
                Some((before, _)) if before != inputs => {
                    Err(GatewayError::IdempotencyConflict(Failure {
                        message: "the key was used with other inputs".into(),
                        request_id: None,
                    }))
                }
                Some((_, outcome)) => {
                    outcome.map(|v| serde_json::from_value(v).expect("a stored outcome reads back"))
                }
                None => {
                    let outcome = match &step {
                        Step::Decline(code) => Err(GatewayError::Declined(Decline {
                            category: DeclineCategory::Other,
                            code: (*code).into(),
                            decline_reason: None,
                            customer_message: "Your card was declined.".into(),
                            payment: None,
                            request_id: None,
                        })),
                        _ => {
                            st.step = Some(step.clone());
                            let outcome = perform(&mut st);
                            st.step = None;
                            outcome
                        }
                    };
                    if let Some(k) = key {
                        let kept = outcome
                            .as_ref()
                            .map(|v| serde_json::to_value(v).expect("outcomes are JSON"))
                            .map_err(Clone::clone);
                        st.outcomes.insert(k.to_string(), (inputs, kept));
                    }
                    outcome
                }
            }
        };
        match step {
            Step::LoseAnswer(e) => Err(e),
            Step::HoldAfter => {
                self.held.notify_one();
                std::future::pending().await
            }
            _ => result.map_err(CallError::Gateway),
        }
    }
}

fn json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("inputs are JSON")
}

/// A synchronous gateway's answer to a capture or void: done, with the payment after it.
fn settled(payment: Payment, amount: Option<Money>) -> Modification {
    Modification {
        id: payment.id.clone(),
        payment: payment.id.clone(),
        status: ModificationStatus::Succeeded,
        amount,
        payment_after: Some(payment),
        failure_reason: None,
    }
}

/// An asynchronous gateway's answer to a capture or void: received, settled later.
fn accepted(id: String, payment: &str, amount: Option<Money>) -> Modification {
    Modification {
        id,
        payment: payment.to_string(),
        status: ModificationStatus::Pending,
        amount,
        payment_after: None,
        failure_reason: None,
    }
}

/// The fake's fee of a payment: 3% plus 30 minor units, in its currency.
fn fee_for(amount: &Money) -> Money {
    Money {
        amount: amount.amount * 3 / 100 + 30,
        currency: amount.currency.clone(),
    }
}

/// The redirect of a payment waiting for the customer.
fn authenticate(payment: &str) -> contract::NextAction {
    contract::NextAction::Redirect(contract::Redirect {
        url: format!("https://fake.invalid/authenticate/{payment}"),
        method: contract::RedirectMethod::Get,
        fields: Vec::new(),
    })
}

fn not_found(kind: &str, id: &str) -> GatewayError {
    GatewayError::NotFound(NotFound {
        kind: kind.into(),
        id: id.into(),
    })
}

fn invalid(field: &str, message: &str) -> GatewayError {
    GatewayError::InvalidInput(InvalidInput {
        field: field.into(),
        message: message.into(),
        request_id: None,
    })
}

impl State {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_{}", self.next_id)
    }

    /// Whether the call being performed was scripted [`Step::Pending`].
    fn pending(&self) -> bool {
        matches!(self.step, Some(Step::Pending))
    }

    fn payment(&mut self, id: &str) -> Result<&mut Payment, GatewayError> {
        self.payments
            .get_mut(id)
            .ok_or_else(|| not_found("payment", id))
    }

    fn invoice(&mut self, id: &str) -> Result<&mut Invoice, GatewayError> {
        self.invoices
            .get_mut(id)
            .ok_or_else(|| not_found("invoice", id))
    }
}

impl PaymentGateway for FakeGateway {
    fn describe(&self) -> &GatewayInfo {
        &self.info
    }

    fn contract_version(&self) -> &str {
        contract::CONTRACT_VERSION
    }

    fn ensure_customer<'a>(
        &'a self,
        request: CustomerRequest,
        idempotency_key: &'a str,
    ) -> GatewayFuture<'a, Customer> {
        let inputs = json(&request);
        Box::pin(self.run(
            "ensure-customer",
            Some(idempotency_key),
            inputs,
            move |st| {
                if let Some(c) = st
                    .customers
                    .values()
                    .find(|c| c.crm_customer_id == request.crm_customer_id)
                {
                    return Ok(Customer {
                        created: false,
                        ..c.clone()
                    });
                }
                let customer = Customer {
                    id: st.id("cus"),
                    crm_customer_id: request.crm_customer_id,
                    default_card: None,
                    created: true,
                };
                st.customers.insert(customer.id.clone(), customer.clone());
                Ok(customer)
            },
        ))
    }

    fn store_card(&self, request: StoreCardRequest) -> GatewayFuture<'_, StoredCard> {
        let inputs = serde_json::json!({
            "customer": request.customer, "token": request.token, "make_default": request.make_default,
        });
        Box::pin(async move {
            let key = request.idempotency_key.clone();
            self.run("store-card", Some(&key), inputs, move |st| {
                if !st.customers.contains_key(&request.customer) {
                    return Err(not_found("customer", &request.customer));
                }
                let card = StoredCard {
                    id: st.id("card"),
                    customer: request.customer,
                    brand: "visa".into(),
                    last4: "4242".into(),
                    exp_month: 12,
                    exp_year: 2040,
                    fingerprint: Some(format!("fp-{}", request.token)),
                    funding: CardFunding::Credit,
                    country: None,
                    is_default: request.make_default,
                    network_transaction_id: None,
                };
                st.cards.insert(card.id.clone(), card.clone());
                Ok(card)
            })
            .await
        })
    }

    fn list_cards<'a>(&'a self, customer: &'a str) -> GatewayFuture<'a, Vec<StoredCard>> {
        let inputs = serde_json::json!({ "customer": customer });
        Box::pin(self.run("list-cards", None, inputs, move |st| {
            Ok(st
                .cards
                .values()
                .filter(|c| c.customer == customer)
                .cloned()
                .collect())
        }))
    }

    fn set_default_card<'a>(&'a self, customer: &'a str, card: &'a str) -> GatewayFuture<'a, ()> {
        let inputs = serde_json::json!({ "customer": customer, "card": card });
        Box::pin(self.run("set-default-card", None, inputs, move |st| {
            if !st.cards.contains_key(card) {
                return Err(not_found("card", card));
            }
            for c in st.cards.values_mut().filter(|c| c.customer == customer) {
                c.is_default = c.id == card;
            }
            Ok(())
        }))
    }

    fn remove_card<'a>(&'a self, customer: &'a str, card: &'a str) -> GatewayFuture<'a, ()> {
        let inputs = serde_json::json!({ "customer": customer, "card": card });
        Box::pin(self.run("remove-card", None, inputs, move |st| {
            st.cards
                .remove(card)
                .map(|_| ())
                .ok_or_else(|| not_found("card", card))
        }))
    }

    fn charge(&self, request: ChargeRequest) -> GatewayFuture<'_, Payment> {
        let inputs = json(&request);
        let key = request.idempotency_key.clone();
        Box::pin(async move {
            self.run("charge", Some(&key), inputs, move |st| {
                if !st.cards.contains_key(&request.card) {
                    return Err(not_found("card", &request.card));
                }
                let automatic = request.capture == CaptureMode::Automatic;
                let fee_base = request.amount.clone();
                let id = st.id("pay");
                if matches!(st.step, Some(Step::RequireAction)) {
                    let payment = Payment {
                        id: id.clone(),
                        status: PaymentStatus::RequiresAction,
                        amount_captured: 0,
                        amount: request.amount.clone(),
                        amount_refunded: 0,
                        customer: Some(request.customer.clone()),
                        card: Some(request.card.clone()),
                        description: request.description.clone(),
                        metadata: request.metadata.clone(),
                        created: crate::ledger::now(),
                        last_decline: None,
                        next_action: Some(authenticate(&id)),
                        fee: None,
                        network_transaction_id: None,
                    };
                    st.payments.insert(id.clone(), payment);
                    return Err(GatewayError::ActionRequired(contract::ActionRequired {
                        payment: id.clone(),
                        next_action: authenticate(&id),
                        customer_message: "Authenticate the payment.".into(),
                        request_id: None,
                    }));
                }
                let payment = Payment {
                    id: id.clone(),
                    status: if automatic {
                        PaymentStatus::Succeeded
                    } else {
                        PaymentStatus::RequiresCapture
                    },
                    amount_captured: if automatic { request.amount.amount } else { 0 },
                    amount: request.amount,
                    amount_refunded: 0,
                    customer: Some(request.customer),
                    card: Some(request.card),
                    description: request.description,
                    metadata: request.metadata,
                    created: crate::ledger::now(),
                    last_decline: None,
                    next_action: None,
                    fee: automatic.then(|| fee_for(&fee_base)),
                    network_transaction_id: Some(format!("ntid_{id}")),
                };
                st.payments.insert(payment.id.clone(), payment.clone());
                if matches!(st.step, Some(Step::BreakContract)) {
                    return Ok(Payment {
                        amount_captured: payment.amount.amount * 2,
                        ..payment
                    });
                }
                Ok(payment)
            })
            .await
        })
    }

    fn capture(&self, request: CaptureRequest) -> GatewayFuture<'_, Modification> {
        let inputs = serde_json::json!({ "payment": request.payment, "amount": request.amount });
        Box::pin(async move {
            let key = request.idempotency_key.clone();
            self.run("capture", Some(&key), inputs, move |st| {
                let pending = st.pending();
                let modification = st.id("cap");
                let p = st.payment(&request.payment)?;
                if p.status != PaymentStatus::RequiresCapture {
                    return Err(invalid("payment", "the payment is not authorized"));
                }
                if pending {
                    return Ok(accepted(modification, &p.id, Some(request.amount)));
                }
                p.status = PaymentStatus::Succeeded;
                p.amount_captured = request.amount.amount;
                Ok(settled(
                    p.clone(),
                    Some(Money {
                        amount: p.amount_captured,
                        currency: p.amount.currency.clone(),
                    }),
                ))
            })
            .await
        })
    }

    fn void(&self, request: VoidRequest) -> GatewayFuture<'_, Modification> {
        let inputs = serde_json::json!({ "payment": request.payment });
        Box::pin(async move {
            let key = request.idempotency_key.clone();
            self.run("void", Some(&key), inputs, move |st| {
                let pending = st.pending();
                let modification = st.id("void");
                let p = st.payment(&request.payment)?;
                if !matches!(
                    p.status,
                    PaymentStatus::RequiresCapture | PaymentStatus::RequiresAction
                ) {
                    return Err(invalid("payment", "the payment cannot be voided"));
                }
                if pending {
                    return Ok(accepted(modification, &p.id, None));
                }
                p.status = PaymentStatus::Canceled;
                Ok(settled(p.clone(), None))
            })
            .await
        })
    }

    fn refund(&self, request: RefundRequest) -> GatewayFuture<'_, Refund> {
        let inputs = json(&request);
        let key = request.idempotency_key.clone();
        Box::pin(async move {
            self.run("refund", Some(&key), inputs, move |st| {
                let id = st.id("re");
                let pending = st.pending();
                let p = st.payment(&request.payment)?;
                let amount = request.amount.amount;
                if amount > p.amount_captured - p.amount_refunded {
                    return Err(invalid("amount", "more than remains refundable"));
                }
                p.amount_refunded += amount;
                let refund = Refund {
                    id,
                    payment: p.id.clone(),
                    amount: Money {
                        amount,
                        currency: p.amount.currency.clone(),
                    },
                    status: if pending {
                        contract::RefundStatus::Pending
                    } else {
                        contract::RefundStatus::Succeeded
                    },
                    reason: request.reason,
                    created: crate::ledger::now(),
                    failure_reason: None,
                };
                st.refunds.insert(refund.id.clone(), refund.clone());
                Ok(refund)
            })
            .await
        })
    }

    fn get_payment<'a>(&'a self, payment: &'a str) -> GatewayFuture<'a, Payment> {
        let inputs = serde_json::json!({ "payment": payment });
        Box::pin(self.run("get-payment", None, inputs, move |st| {
            st.payment(payment).map(|p| p.clone())
        }))
    }

    fn complete_action(&self, request: ActionCompletion) -> GatewayFuture<'_, Payment> {
        let inputs = json(&request);
        let key = request.idempotency_key.clone();
        Box::pin(async move {
            self.run("complete-action", Some(&key), inputs, move |st| {
                let p = st.payment(&request.payment)?;
                if p.status == PaymentStatus::RequiresAction {
                    p.status = PaymentStatus::Succeeded;
                    p.amount_captured = p.amount.amount;
                    p.next_action = None;
                    p.fee = Some(fee_for(&p.amount));
                    p.network_transaction_id = Some(format!("ntid_{}", p.id));
                }
                Ok(p.clone())
            })
            .await
        })
    }

    fn get_refund<'a>(&'a self, refund: &'a str) -> GatewayFuture<'a, Refund> {
        let inputs = serde_json::json!({ "refund": refund });
        Box::pin(self.run("get-refund", None, inputs, move |st| {
            st.refunds
                .get(refund)
                .cloned()
                .ok_or_else(|| not_found("refund", refund))
        }))
    }

    fn start_card_session(&self, request: CardSessionRequest) -> GatewayFuture<'_, CardSession> {
        let inputs = json(&request);
        let key = request.idempotency_key.clone();
        Box::pin(async move {
            self.run("start-card-session", Some(&key), inputs, move |st| {
                Ok(CardSession {
                    id: st.id("cs"),
                    sdk: "fake-form".into(),
                    client_config: r#"{"form": "fake"}"#.into(),
                    hosted_url: None,
                    expires_at: None,
                })
            })
            .await
        })
    }

    fn create_invoice(&self, request: InvoiceRequest) -> GatewayFuture<'_, Invoice> {
        let inputs = json(&request);
        let key = request.idempotency_key.clone();
        Box::pin(async move {
            self.run("create-invoice", Some(&key), inputs, move |st| {
                let total = request
                    .items
                    .iter()
                    .map(|i| i.unit_amount * i64::from(i.quantity))
                    .sum();
                let invoice = Invoice {
                    id: st.id("in"),
                    customer: request.customer,
                    status: InvoiceStatus::Draft,
                    number: None,
                    currency: request.currency,
                    lines: request
                        .items
                        .iter()
                        .map(|i| InvoiceLine {
                            description: i.description.clone(),
                            amount: i.unit_amount,
                            quantity: i.quantity,
                        })
                        .collect(),
                    subtotal: total,
                    tax: 0,
                    total,
                    amount_paid: 0,
                    amount_remaining: total,
                    hosted_url: None,
                    pdf_url: None,
                    created: crate::ledger::now(),
                    due_date: None,
                    metadata: request.metadata,
                };
                st.invoices.insert(invoice.id.clone(), invoice.clone());
                Ok(invoice)
            })
            .await
        })
    }

    fn finalize_invoice<'a>(
        &'a self,
        invoice: &'a str,
        idempotency_key: &'a str,
    ) -> GatewayFuture<'a, Invoice> {
        let inputs = serde_json::json!({ "invoice": invoice });
        Box::pin(self.run(
            "finalize-invoice",
            Some(idempotency_key),
            inputs,
            move |st| {
                let inv = st.invoice(invoice)?;
                if inv.status != InvoiceStatus::Draft {
                    return Err(invalid("invoice", "the invoice is not a draft"));
                }
                inv.status = InvoiceStatus::Open;
                inv.number = Some(format!("FAKE-{}", inv.id));
                Ok(inv.clone())
            },
        ))
    }

    fn pay_invoice<'a>(
        &'a self,
        invoice: &'a str,
        card: Option<&'a str>,
        idempotency_key: &'a str,
    ) -> GatewayFuture<'a, Invoice> {
        let inputs = serde_json::json!({ "invoice": invoice, "card": card });
        Box::pin(
            self.run("pay-invoice", Some(idempotency_key), inputs, move |st| {
                let inv = st.invoice(invoice)?;
                if !matches!(
                    inv.status,
                    InvoiceStatus::Open | InvoiceStatus::Uncollectible
                ) {
                    return Err(invalid("invoice", "the invoice is not open"));
                }
                inv.status = InvoiceStatus::Paid;
                inv.amount_paid = inv.total;
                inv.amount_remaining = 0;
                Ok(inv.clone())
            }),
        )
    }

    fn void_invoice<'a>(
        &'a self,
        invoice: &'a str,
        idempotency_key: &'a str,
    ) -> GatewayFuture<'a, Invoice> {
        let inputs = serde_json::json!({ "invoice": invoice });
        Box::pin(
            self.run("void-invoice", Some(idempotency_key), inputs, move |st| {
                let inv = st.invoice(invoice)?;
                inv.status = InvoiceStatus::Void;
                Ok(inv.clone())
            }),
        )
    }

    fn summarize<'a>(
        &'a self,
        range: TimeRange,
        currency: &'a str,
    ) -> GatewayFuture<'a, FinancialSummary> {
        let inputs = serde_json::json!({ "range": json(&range), "currency": currency });
        Box::pin(self.run("summarize", None, inputs, |_| {
            Err(GatewayError::Unsupported(
                "the fake gateway keeps no balance".into(),
            ))
        }))
    }

    fn handle_webhook(
        &self,
        _request: WebhookRequest,
    ) -> GatewayFuture<'_, Result<WebhookOutcome, Rejection>> {
        Box::pin(async {
            Ok(Err(Rejection::NotConfigured(
                "the fake gateway signs no events".into(),
            )))
        })
    }
}
