//! Every export answers within its deadline without trapping (a contract error is an answer; a
//! trap, a timeout or an answer that breaks the contract is not), and the capabilities the
//! plugin declares match what it exports.

use super::{Recorder, fail, not_applicable, pass};
use crate::kit::{Kit, Payer, describe};
use crate::report::Outcome;
use omnicrm_host::CallError;
use omnicrm_host::contract::{
    BalanceFilter, Capabilities, CaptureMode, CaptureRequest, CardSessionRequest, CollectionMethod,
    InvoiceFilter, InvoiceRequest, LineItem, PageRequest, RefundRequest, TimeRange, VoidRequest,
    WebhookRequest,
};
use std::collections::BTreeSet;

/// A call's result with its value dropped.
type Answer = Result<(), CallError>;

fn answered(result: Answer) -> Outcome {
    match result {
        Ok(()) | Err(CallError::Gateway(_)) => pass(),
        Err(e) => fail(describe(&e)),
    }
}

fn promise(export: &str) -> String {
    format!("{export} answers within its deadline without trapping")
}

pub(crate) async fn run(kit: &Kit, payer: Option<&Payer>, recorder: &mut Recorder) {
    let g = &kit.gateway;
    let caps = kit.capabilities();
    recorder
        .check("exports.info.describe", &promise("info.describe"), async {
            pass()
        })
        .await;
    recorder
        .check(
            "capabilities.match-exports",
            "the capabilities declared match the interfaces exported",
            capabilities_match_exports(kit),
        )
        .await;
    let Some(payer) = payer else {
        return;
    };
    let amount = kit.fixtures.amount;

    recorder
        .check(
            "exports.tokens.ensure-customer",
            &promise("tokens.ensure-customer"),
            async { answered(kit.customer("exports").await.map(drop)) },
        )
        .await;
    // Stored for a customer of its own: gateways that store a card once per customer (Adyen)
    // answer the payer's card again, and removing it below would leave the payer without one.
    let mut spare = None;
    recorder
        .check(
            "exports.tokens.store-card",
            &promise("tokens.store-card"),
            async {
                let result = kit.payer("spare", &kit.fixtures.cards.succeeds).await;
                answered(result.map(|payer| spare = Some(payer)))
            },
        )
        .await;
    recorder
        .check(
            "exports.tokens.start-card-session",
            &promise("tokens.start-card-session"),
            declared(caps, Capabilities::CARD_SESSIONS, async {
                let request = CardSessionRequest {
                    customer: payer.customer.clone(),
                    return_url: Some("https://crm.example/return".into()),
                    currency: Some(kit.fixtures.currency.clone()),
                    idempotency_key: kit.key("session"),
                };
                answered(g.start_card_session(request).await.map(drop))
            }),
        )
        .await;
    recorder
        .check(
            "exports.tokens.list-cards",
            &promise("tokens.list-cards"),
            async { answered(g.list_cards(&payer.customer).await.map(drop)) },
        )
        .await;
    recorder
        .check(
            "exports.tokens.set-default-card",
            &promise("tokens.set-default-card"),
            async { answered(g.set_default_card(&payer.customer, &payer.card).await) },
        )
        .await;
    recorder
        .check(
            "exports.tokens.remove-card",
            &promise("tokens.remove-card"),
            async {
                let result = match &spare {
                    Some(spare) => g.remove_card(&spare.customer, &spare.card).await,
                    None => {
                        g.remove_card(&payer.customer, "conformance_missing_card")
                            .await
                    }
                };
                answered(result)
            },
        )
        .await;

    let mut payment = None;
    recorder
        .check(
            "exports.charging.charge",
            &promise("charging.charge"),
            async {
                let request =
                    kit.charge_request(payer, amount, CaptureMode::Automatic, &kit.key("charge"));
                answered(g.charge(request).await.map(|p| payment = Some(p.id)))
            },
        )
        .await;
    let payment = payment.unwrap_or_else(|| kit.fixtures.references.payment.clone());
    recorder
        .check(
            "exports.charging.capture-payment",
            &promise("charging.capture-payment"),
            async {
                let request =
                    kit.charge_request(payer, amount, CaptureMode::Manual, &kit.key("auth"));
                let authorized = match g.charge(request).await {
                    Ok(p) => p.id,
                    Err(e) => return fail(format!("authorizing first: {}", describe(&e))),
                };
                answered(
                    g.capture_payment(CaptureRequest {
                        payment: authorized,
                        amount: kit.money(amount),
                        final_capture: true,
                        metadata: Vec::new(),
                        idempotency_key: kit.key("capture"),
                    })
                    .await
                    .map(drop),
                )
            },
        )
        .await;
    recorder
        .check(
            "exports.charging.void-payment",
            &promise("charging.void-payment"),
            async {
                let request =
                    kit.charge_request(payer, amount, CaptureMode::Manual, &kit.key("auth"));
                let authorized = match g.charge(request).await {
                    Ok(p) => p.id,
                    Err(e) => return fail(format!("authorizing first: {}", describe(&e))),
                };
                answered(
                    g.void_payment(VoidRequest {
                        payment: authorized,
                        metadata: Vec::new(),
                        idempotency_key: kit.key("void"),
                    })
                    .await
                    .map(drop),
                )
            },
        )
        .await;
    let mut refund = None;
    recorder
        .check(
            "exports.charging.refund-payment",
            &promise("charging.refund-payment"),
            async {
                let request = RefundRequest {
                    payment: payment.clone(),
                    amount: kit.money(amount / 2),
                    reason: None,
                    metadata: Vec::new(),
                    idempotency_key: kit.key("refund"),
                };
                answered(g.refund_payment(request).await.map(|r| refund = Some(r.id)))
            },
        )
        .await;
    recorder
        .check(
            "exports.charging.complete-action",
            &promise("charging.complete-action"),
            declared(caps, Capabilities::CUSTOMER_ACTIONS, async {
                let request = omnicrm_host::contract::ActionCompletion {
                    payment: payment.clone(),
                    details: Vec::new(),
                    idempotency_key: kit.key("complete"),
                };
                answered(g.complete_action(request).await.map(drop))
            }),
        )
        .await;
    recorder
        .check(
            "exports.charging.get-payment",
            &promise("charging.get-payment"),
            declared(caps, Capabilities::PAYMENT_LOOKUP, async {
                answered(g.get_payment(&payment).await.map(drop))
            }),
        )
        .await;
    recorder
        .check(
            "exports.charging.get-refund",
            &promise("charging.get-refund"),
            declared(caps, Capabilities::REFUND_LOOKUP, async {
                let refund = refund.as_deref().unwrap_or(&kit.fixtures.references.refund);
                answered(g.get_refund(refund).await.map(drop))
            }),
        )
        .await;

    invoicing(kit, payer, recorder).await;
    metrics(kit, recorder).await;

    recorder
        .check(
            "exports.webhooks.handle-webhook",
            &promise("webhooks.handle-webhook"),
            async {
                let request = WebhookRequest {
                    method: "POST".into(),
                    path: format!("/webhooks/{}", g.info().name),
                    query: String::new(),
                    headers: vec![("content-type".into(), b"application/json".to_vec())],
                    body: b"{}".to_vec(),
                };
                match g.handle_webhook(request).await {
                    Ok(Ok(outcome)) if !outcome.events.is_empty() => {
                        fail("an unsigned request was accepted with events")
                    }
                    Ok(_) => pass(),
                    Err(e) => fail(describe(&e)),
                }
            },
        )
        .await;
}

async fn invoicing(kit: &Kit, payer: &Payer, recorder: &mut Recorder) {
    let g = &kit.gateway;
    let caps = kit.capabilities();
    let mut invoice = None;
    recorder
        .check(
            "exports.invoicing.create-invoice",
            &promise("invoicing.create-invoice"),
            declared(caps, Capabilities::INVOICING, async {
                let request = InvoiceRequest {
                    customer: payer.customer.clone(),
                    currency: kit.fixtures.currency.clone(),
                    items: vec![LineItem {
                        description: "conformance kit".into(),
                        unit_amount: kit.fixtures.amount,
                        quantity: 1,
                        metadata: Vec::new(),
                    }],
                    description: None,
                    collection: CollectionMethod::SendInvoice,
                    days_until_due: Some(14),
                    metadata: Vec::new(),
                    idempotency_key: kit.key("invoice"),
                };
                answered(
                    g.create_invoice(request)
                        .await
                        .map(|i| invoice = Some(i.id)),
                )
            }),
        )
        .await;
    let invoice = invoice.unwrap_or_else(|| "conformance_missing_invoice".into());
    // Each step of an invoice's life, in an order every status machine allows; a step the
    // gateway refuses is still an answer.
    for (id, export) in [
        (
            "exports.invoicing.finalize-invoice",
            "invoicing.finalize-invoice",
        ),
        (
            "exports.invoicing.mark-uncollectible",
            "invoicing.mark-uncollectible",
        ),
        ("exports.invoicing.void-invoice", "invoicing.void-invoice"),
        ("exports.invoicing.pay-invoice", "invoicing.pay-invoice"),
    ] {
        let invoice = &invoice;
        recorder
            .check(
                id,
                &promise(export),
                declared(caps, Capabilities::INVOICING, async move {
                    let key = kit.key("invoice-step");
                    let result = match export {
                        "invoicing.finalize-invoice" => g.finalize_invoice(invoice, &key).await,
                        "invoicing.mark-uncollectible" => g.mark_uncollectible(invoice, &key).await,
                        "invoicing.void-invoice" => g.void_invoice(invoice, &key).await,
                        _ => g.pay_invoice(invoice, None, &key).await,
                    };
                    answered(result.map(drop))
                }),
            )
            .await;
    }
    recorder
        .check(
            "exports.invoicing.get-invoice",
            &promise("invoicing.get-invoice"),
            declared(caps, Capabilities::INVOICING, async {
                answered(g.get_invoice(&invoice).await.map(drop))
            }),
        )
        .await;
    recorder
        .check(
            "exports.invoicing.list-invoices",
            &promise("invoicing.list-invoices"),
            declared(caps, Capabilities::INVOICING, async {
                let filter = InvoiceFilter {
                    customer: Some(payer.customer.clone()),
                    status: None,
                    created: None,
                };
                answered(g.list_invoices(filter, first_page()).await.map(drop))
            }),
        )
        .await;
}

async fn metrics(kit: &Kit, recorder: &mut Recorder) {
    let g = &kit.gateway;
    let caps = kit.capabilities();
    let day = TimeRange {
        start: 1_767_225_600,
        end: 1_767_312_000,
    };
    recorder
        .check(
            "exports.metrics.summarize",
            &promise("metrics.summarize"),
            declared(caps, Capabilities::METRICS, async {
                answered(g.summarize(day, &kit.fixtures.currency).await.map(drop))
            }),
        )
        .await;
    recorder
        .check(
            "exports.metrics.list-balance-transactions",
            &promise("metrics.list-balance-transactions"),
            declared(caps, Capabilities::METRICS, async {
                let filter = BalanceFilter {
                    range: day,
                    currency: Some(kit.fixtures.currency.clone()),
                };
                answered(
                    g.list_balance_transactions(filter, first_page())
                        .await
                        .map(drop),
                )
            }),
        )
        .await;
}

fn first_page() -> PageRequest {
    PageRequest {
        limit: 10,
        cursor: None,
    }
}

/// The check, or "not applicable" when the plugin does not declare `capability` (the host
/// never calls the export then).
async fn declared(
    caps: Capabilities,
    capability: Capabilities,
    check: impl Future<Output = Outcome>,
) -> Outcome {
    if caps.contains(capability) {
        check.await
    } else {
        not_applicable(format!(
            "`{}` is not declared: the host never calls it",
            capability.name()
        ))
    }
}

/// `invoicing` and `metrics` are declared exactly when their interfaces are exported (read from
/// the component itself), and the lookups declared answer something other than `unsupported`.
async fn capabilities_match_exports(kit: &Kit) -> Outcome {
    let exports = match component_exports(&kit.component) {
        Ok(exports) => exports,
        Err(e) => return fail(format!("cannot read the component's exports: {e}")),
    };
    let caps = kit.capabilities();
    let mut problems = Vec::new();
    for (capability, interface) in [
        (Capabilities::INVOICING, "omnicrm:payments/invoicing@"),
        (Capabilities::METRICS, "omnicrm:payments/metrics@"),
    ] {
        let exported = exports.iter().any(|e| e.starts_with(interface));
        if exported != caps.contains(capability) {
            problems.push(format!(
                "`{}` is {} but {} exported",
                capability.name(),
                if caps.contains(capability) {
                    "declared"
                } else {
                    "not declared"
                },
                if exported {
                    "its interface is"
                } else {
                    "its interface is not"
                }
            ));
        }
    }
    let g = &kit.gateway;
    let refs = &kit.fixtures.references;
    let lookups: [(Capabilities, Answer); 2] = [
        (
            Capabilities::PAYMENT_LOOKUP,
            if caps.contains(Capabilities::PAYMENT_LOOKUP) {
                g.get_payment(&refs.payment).await.map(drop)
            } else {
                Ok(())
            },
        ),
        (
            Capabilities::REFUND_LOOKUP,
            if caps.contains(Capabilities::REFUND_LOOKUP) {
                g.get_refund(&refs.refund).await.map(drop)
            } else {
                Ok(())
            },
        ),
    ];
    for (capability, answer) in lookups {
        if let Err(CallError::Gateway(omnicrm_host::contract::GatewayError::Unsupported(_))) =
            answer
        {
            problems.push(format!(
                "`{}` is declared but its function answers unsupported",
                capability.name()
            ));
        }
    }
    if problems.is_empty() {
        pass()
    } else {
        fail(problems.join("; "))
    }
}

/// The names of the component's own (top-level) exports.
fn component_exports(bytes: &[u8]) -> Result<BTreeSet<String>, wasmparser::BinaryReaderError> {
    let mut names = BTreeSet::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload? {
            wasmparser::Payload::Version { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    names.insert(export?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(names)
}
