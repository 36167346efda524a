//! The offline gateway component (contract 0.2), loaded by the host at run time, with every
//! export of the contract exercised through `omnicrm_host::Gateway`: the host's typed calls, its
//! `config` and `credentials` imports (webhook verification through `verify-mac`) and the JSON
//! form of the contract types. Its core variant (`omnicrm_offline_gateway_core.wasm`, world
//! `gateway`: no invoicing, no metrics) shows what the host does with capabilities a plugin does
//! not declare: it answers `unsupported` without entering the component.
//!
//! One file for every export (hence its length), whose tests share one runtime, so the component
//! compiles once.

use gateway_tests::component_path;
use hmac::{Hmac, Mac};
use omnicrm_host::contract::{
    ActionCompletion, CONTRACT_VERSION, Capabilities, CardSessionRequest, NextAction,
    RedirectMethod,
};
use omnicrm_host::contract::{
    BalanceFilter, CaptureMode, CaptureRequest, ChargeRequest, CollectionMethod, CustomerRequest,
    DeclineCategory, EventKind, GatewayError, InvoiceFilter, InvoiceRequest, InvoiceStatus,
    LineItem, Modification, ModificationStatus, Money, PageRequest, Payment, PaymentStatus,
    RefundReason, RefundRequest, RefundStatus, Rejection, StoreCardRequest, StoredCard,
    StoredCredentialUse, TimeRange, VoidRequest, WebhookOutcome, WebhookRequest,
};
use omnicrm_host::{CallError, Gateway, GatewayConfig, Runtime, RuntimeOptions, SecretSource};
use std::sync::OnceLock;

const WEBHOOK_SECRET: &str = "whsec_offline_test_secret";

fn runtime() -> Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            Runtime::new(RuntimeOptions {
                max_instances: 32,
                ..RuntimeOptions::default()
            })
            .expect("runtime")
        })
        .clone()
}

async fn offline_with(settings: &[(&str, &str)]) -> Gateway {
    let mut config = GatewayConfig::new(component_path("omnicrm_offline_gateway"))
        .with_secret("webhook-secret", SecretSource::value(WEBHOOK_SECRET));
    for (k, v) in settings {
        config = config.with_setting(*k, *v);
    }
    runtime()
        .load("offline", &config)
        .await
        .expect("the offline gateway loads")
}

async fn offline() -> Gateway {
    offline_with(&[]).await
}

/// A customer with a CRM id and nothing else.
fn customer_request(crm_id: &str) -> CustomerRequest {
    CustomerRequest {
        crm_customer_id: crm_id.into(),
        email: None,
        name: None,
        phone: None,
        metadata: vec![],
    }
}

fn usd(amount: i64) -> Money {
    Money {
        amount,
        currency: "USD".into(),
    }
}

fn charge_request(
    customer: &str,
    card: &str,
    amount: i64,
    capture: CaptureMode,
    key: &str,
) -> ChargeRequest {
    ChargeRequest {
        customer: customer.into(),
        card: card.into(),
        amount: usd(amount),
        description: Some("Order 42".into()),
        metadata: vec![("crm_txn".into(), "txn_42".into())],
        capture,
        stored_credential: StoredCredentialUse::MerchantRecurring,
        network_transaction_id: None,
        return_url: None,
        idempotency_key: key.into(),
    }
}

async fn store_card(
    gateway: &Gateway,
    customer: &str,
    token: &str,
    make_default: bool,
    key: &str,
) -> Result<StoredCard, CallError> {
    gateway
        .store_card(StoreCardRequest {
            customer: customer.into(),
            token: token.into(),
            make_default,
            return_url: None,
            idempotency_key: key.into(),
        })
        .await
}

async fn capture(
    gateway: &Gateway,
    payment: &str,
    amount: Money,
    key: &str,
) -> Result<Modification, CallError> {
    gateway
        .capture_payment(CaptureRequest {
            payment: payment.into(),
            amount,
            final_capture: true,
            metadata: vec![],
            idempotency_key: key.into(),
        })
        .await
}

async fn void(gateway: &Gateway, payment: &str, key: &str) -> Result<Modification, CallError> {
    gateway
        .void_payment(VoidRequest {
            payment: payment.into(),
            metadata: vec![],
            idempotency_key: key.into(),
        })
        .await
}

/// The payment a succeeded synchronous modification left.
fn settled(modification: Modification) -> Payment {
    assert_eq!(
        modification.status,
        ModificationStatus::Succeeded,
        "{modification:?}"
    );
    modification
        .payment_after
        .expect("a synchronous gateway answers with the payment")
}

async fn webhook(
    gateway: &Gateway,
    headers: Vec<(String, Vec<u8>)>,
    body: &[u8],
) -> Result<Result<WebhookOutcome, Rejection>, CallError> {
    gateway
        .handle_webhook(WebhookRequest {
            method: "POST".into(),
            path: "/webhooks/offline".into(),
            query: String::new(),
            headers,
            body: body.to_vec(),
        })
        .await
}

fn expect_gateway_error<T: std::fmt::Debug>(result: Result<T, CallError>) -> GatewayError {
    match result {
        Err(CallError::Gateway(e)) => e,
        other => panic!("expected a gateway error, got {other:?}"),
    }
}

/// What the offline plugin declares besides invoicing and metrics.
fn core_capabilities() -> Capabilities {
    Capabilities::PARTIAL_CAPTURE
        | Capabilities::REFUND_LOOKUP
        | Capabilities::PAYMENT_FEES
        | Capabilities::DISPUTES
        | Capabilities::CARD_SESSIONS
        | Capabilities::CUSTOMER_ACTIONS
}

#[tokio::test]
async fn describes_itself() {
    let gateway = offline().await;
    let info = gateway.info();
    assert_eq!(info.name, "offline");
    assert_eq!(info.display_name, "Offline (no network)");
    assert!(!info.version.is_empty());
    assert!(info.currencies.is_empty());
    assert_eq!(gateway.contract_version(), CONTRACT_VERSION);
    assert_eq!(
        gateway.capabilities(),
        core_capabilities() | Capabilities::INVOICING | Capabilities::METRICS
    );
    assert_eq!(info.capabilities, gateway.capabilities());
    // A lookup it cannot answer is not declared; the host does not ask.
    assert!(
        !gateway
            .capabilities()
            .contains(Capabilities::PAYMENT_LOOKUP)
    );
    let json = serde_json::to_value(info).unwrap();
    assert!(
        json["capabilities"]
            .as_array()
            .unwrap()
            .contains(&"card-sessions".into()),
        "{json}"
    );
}

#[tokio::test]
async fn customers_and_cards() {
    let gateway = offline().await;
    let request = CustomerRequest {
        crm_customer_id: "crm-1".into(),
        email: Some("ada@example.com".into()),
        name: Some("Ada".into()),
        phone: None,
        metadata: vec![],
    };
    let customer = gateway
        .ensure_customer(request.clone(), "cus-key-1")
        .await
        .unwrap();
    assert!(customer.id.starts_with("off_cus_"), "{customer:?}");
    assert_eq!(customer.crm_customer_id, "crm-1");
    let again = gateway.ensure_customer(request, "cus-key-1").await.unwrap();
    assert_eq!(again.id, customer.id, "deterministic");

    let empty = customer_request("");
    match expect_gateway_error(gateway.ensure_customer(empty, "k").await) {
        GatewayError::InvalidInput(i) => assert_eq!(i.field, "crm-customer-id"),
        other => panic!("{other:?}"),
    }

    let card = store_card(&gateway, &customer.id, "tok_visa", true, "card-key-1")
        .await
        .unwrap();
    assert_eq!((card.brand.as_str(), card.last4.as_str()), ("visa", "4242"));
    assert_eq!((card.exp_month, card.exp_year), (12, 2034));
    assert!(card.is_default);
    assert_eq!(card.customer, customer.id);

    match expect_gateway_error(
        store_card(&gateway, &customer.id, "4242424242424242", false, "k").await,
    ) {
        GatewayError::InvalidInput(i) => assert_eq!(i.field, "token"),
        other => panic!("{other:?}"),
    }

    assert!(gateway.list_cards(&customer.id).await.unwrap().is_empty());
    gateway
        .set_default_card(&customer.id, &card.id)
        .await
        .unwrap();
    gateway.remove_card(&customer.id, &card.id).await.unwrap();
    let err = expect_gateway_error(gateway.remove_card(&customer.id, "off_card_nonsense").await);
    assert_eq!(err.kind(), "not-found", "{err:?}");
}

#[tokio::test]
async fn charging_capture_cancel_refund_and_lookup() {
    let gateway = offline().await;
    let customer = gateway
        .ensure_customer(customer_request("crm-2"), "cus-2")
        .await
        .unwrap();
    let visa = store_card(&gateway, &customer.id, "pm_card_visa", false, "c1")
        .await
        .unwrap();

    // Charge now.
    let payment = gateway
        .charge(charge_request(
            &customer.id,
            &visa.id,
            1050,
            CaptureMode::Automatic,
            "pay-1",
        ))
        .await
        .unwrap();
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    assert_eq!(payment.amount, usd(1050));
    assert_eq!(payment.amount_captured, 1050);
    assert_eq!(payment.description.as_deref(), Some("Order 42"));
    assert_eq!(
        payment.metadata,
        vec![("crm_txn".to_string(), "txn_42".to_string())]
    );
    assert_eq!(payment.fee, Some(usd(30 + (1050 * 29 + 500) / 1000)));
    let repeat = gateway
        .charge(charge_request(
            &customer.id,
            &visa.id,
            1050,
            CaptureMode::Automatic,
            "pay-1",
        ))
        .await
        .unwrap();
    assert_eq!(repeat.id, payment.id, "same key, same outcome");

    // The contract types serialize to JSON for the service.
    let json = serde_json::to_value(&payment).unwrap();
    assert_eq!(json["id"], payment.id.as_str());
    assert_eq!(json["amount"]["amount"], 1050);
    let back: omnicrm_host::contract::Payment = serde_json::from_value(json).unwrap();
    assert_eq!(back.id, payment.id);

    // No `payment-lookup`: the host answers without calling the plugin.
    match expect_gateway_error(gateway.get_payment(&payment.id).await) {
        GatewayError::Unsupported(m) => assert!(m.contains("payment-lookup"), "{m}"),
        other => panic!("{other:?}"),
    }

    // Refund part of it.
    let refund = gateway
        .refund_payment(RefundRequest {
            payment: payment.id.clone(),
            amount: usd(300),
            reason: Some(RefundReason::RequestedByCustomer),
            metadata: vec![],
            idempotency_key: "re-1".into(),
        })
        .await
        .unwrap();
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.amount, usd(300));
    assert_eq!(refund.payment, payment.id);
    let looked_up = gateway.get_refund(&refund.id).await.unwrap();
    assert_eq!(
        (looked_up.id.as_str(), &looked_up.amount, looked_up.status),
        (refund.id.as_str(), &usd(300), RefundStatus::Succeeded)
    );
    let too_much = gateway
        .refund_payment(RefundRequest {
            payment: payment.id.clone(),
            amount: usd(5000),
            reason: None,
            metadata: vec![],
            idempotency_key: "re-2".into(),
        })
        .await;
    match expect_gateway_error(too_much) {
        GatewayError::InvalidInput(i) => assert_eq!(i.field, "amount"),
        other => panic!("{other:?}"),
    }

    // Authorize, capture part.
    let auth = gateway
        .charge(charge_request(
            &customer.id,
            &visa.id,
            2000,
            CaptureMode::Manual,
            "pay-2",
        ))
        .await
        .unwrap();
    assert_eq!(auth.status, PaymentStatus::RequiresCapture);
    assert_eq!(auth.amount_captured, 0);
    let modification = capture(&gateway, &auth.id, usd(1500), "cap-1")
        .await
        .unwrap();
    assert_eq!(modification.id, auth.id);
    assert_eq!(modification.amount, Some(usd(1500)));
    let captured = settled(modification);
    assert_eq!(captured.status, PaymentStatus::Succeeded);
    assert_eq!(captured.amount_captured, 1500);
    assert_eq!(captured.fee, Some(usd(30 + (1500 * 29 + 500) / 1000)));

    // Authorize, cancel.
    let auth = gateway
        .charge(charge_request(
            &customer.id,
            &visa.id,
            700,
            CaptureMode::Manual,
            "pay-3",
        ))
        .await
        .unwrap();
    let canceled = settled(void(&gateway, &auth.id, "can-1").await.unwrap());
    assert_eq!(canceled.status, PaymentStatus::Canceled);
    // A payment charged with automatic capture is refunded, not voided.
    let err = expect_gateway_error(void(&gateway, &payment.id, "can-2").await);
    assert_eq!(err.kind(), "invalid-input");

    // Declines and authentication.
    let declining = store_card(
        &gateway,
        &customer.id,
        "tok_chargeDeclinedInsufficientFunds",
        false,
        "c2",
    )
    .await
    .unwrap();
    match expect_gateway_error(
        gateway
            .charge(charge_request(
                &customer.id,
                &declining.id,
                1000,
                CaptureMode::Automatic,
                "pay-4",
            ))
            .await,
    ) {
        GatewayError::Declined(d) => {
            assert_eq!(d.code, "card_declined");
            assert_eq!(d.decline_reason.as_deref(), Some("insufficient_funds"));
            assert_eq!(d.category, DeclineCategory::InsufficientFunds);
            assert!(d.payment.is_some());
        }
        other => panic!("{other:?}"),
    }
    let sca = store_card(
        &gateway,
        &customer.id,
        "tok_authenticationRequired",
        false,
        "c3",
    )
    .await
    .unwrap();
    let err = expect_gateway_error(
        gateway
            .charge(charge_request(
                &customer.id,
                &sca.id,
                1000,
                CaptureMode::Automatic,
                "pay-5",
            ))
            .await,
    );
    assert_eq!(err.kind(), "action-required", "{err:?}");
    assert!(!CallError::Gateway(err).may_have_moved_money());

    // A refund it could not have issued.
    let err = expect_gateway_error(gateway.get_refund("re_not_ours").await);
    assert_eq!(err.kind(), "not-found");
}

#[tokio::test]
async fn invoices_through_their_lifecycle() {
    let gateway = offline().await;
    let customer = gateway
        .ensure_customer(customer_request("crm-3"), "cus-3")
        .await
        .unwrap();
    let card = store_card(&gateway, &customer.id, "tok_mastercard", true, "c")
        .await
        .unwrap();
    let request = |key: &str| InvoiceRequest {
        customer: customer.id.clone(),
        currency: "EUR".into(),
        items: vec![
            LineItem {
                description: "Seats".into(),
                unit_amount: 1200,
                quantity: 3,
                metadata: vec![],
            },
            LineItem {
                description: "Setup".into(),
                unit_amount: 500,
                quantity: 1,
                metadata: vec![],
            },
        ],
        description: Some("March".into()),
        collection: CollectionMethod::SendInvoice,
        days_until_due: Some(30),
        metadata: vec![],
        idempotency_key: key.into(),
    };

    let draft = gateway.create_invoice(request("inv-1")).await.unwrap();
    assert_eq!(draft.status, InvoiceStatus::Draft);
    assert_eq!(draft.total, 4100);
    assert_eq!(draft.lines.len(), 2);
    let open = gateway.finalize_invoice(&draft.id, "fin-1").await.unwrap();
    assert_eq!(open.status, InvoiceStatus::Open);
    assert!(open.number.is_some());
    let fetched = gateway.get_invoice(&open.id).await.unwrap();
    assert_eq!(fetched.status, InvoiceStatus::Open);
    let paid = gateway
        .pay_invoice(&open.id, Some(&card.id), "pay-1")
        .await
        .unwrap();
    assert_eq!(paid.status, InvoiceStatus::Paid);
    assert_eq!(paid.amount_paid, 4100);
    let err = expect_gateway_error(gateway.void_invoice(&paid.id, "void-0").await);
    assert_eq!(err.kind(), "invalid-input");
    // A draft is deleted, reported void; repeating the call answers the same.
    let draft2 = gateway.create_invoice(request("inv-4")).await.unwrap();
    let deleted = gateway.void_invoice(&draft2.id, "void-d").await.unwrap();
    assert_eq!(deleted.status, InvoiceStatus::Void);
    assert_eq!(deleted.total, 4100);
    let again = gateway.void_invoice(&draft2.id, "void-d").await.unwrap();
    assert_eq!(again, deleted);

    let open2 = gateway
        .finalize_invoice(
            &gateway.create_invoice(request("inv-2")).await.unwrap().id,
            "fin-2",
        )
        .await
        .unwrap();
    let uncollectible = gateway
        .mark_uncollectible(&open2.id, "unc-1")
        .await
        .unwrap();
    assert_eq!(uncollectible.status, InvoiceStatus::Uncollectible);
    let void = gateway
        .void_invoice(&uncollectible.id, "void-1")
        .await
        .unwrap();
    assert_eq!(void.status, InvoiceStatus::Void);
    let paid_default = gateway
        .pay_invoice(
            &gateway
                .finalize_invoice(
                    &gateway.create_invoice(request("inv-3")).await.unwrap().id,
                    "fin-3",
                )
                .await
                .unwrap()
                .id,
            None,
            "pay-3",
        )
        .await
        .unwrap();
    assert_eq!(paid_default.status, InvoiceStatus::Paid);

    let page = gateway
        .list_invoices(
            InvoiceFilter {
                customer: Some(customer.id.clone()),
                status: Some(InvoiceStatus::Open),
                created: None,
            },
            PageRequest {
                limit: 10,
                cursor: None,
            },
        )
        .await
        .unwrap();
    assert!(page.invoices.is_empty());
    assert!(page.next_cursor.is_none());
    let err = expect_gateway_error(
        gateway
            .list_invoices(
                InvoiceFilter {
                    customer: None,
                    status: None,
                    created: None,
                },
                PageRequest {
                    limit: 0,
                    cursor: None,
                },
            )
            .await,
    );
    assert_eq!(err.kind(), "invalid-input");
}

#[tokio::test]
async fn metrics_summary_and_balance_transactions() {
    let gateway = offline().await;
    // 2024-01-01 .. 2024-01-31 UTC.
    let range = TimeRange {
        start: 1_704_067_200,
        end: 1_704_067_200 + 30 * 86_400,
    };
    let summary = gateway.summarize(range, "USD").await.unwrap();
    assert_eq!(summary.currency, "USD");
    assert_eq!(summary.successful_payments, 30);
    assert!(summary.gross_volume > 0);
    assert!(summary.fees > 0);
    let none = gateway.summarize(range, "EUR").await.unwrap();
    assert_eq!((none.successful_payments, none.gross_volume), (0, 0));
    let err = expect_gateway_error(
        gateway
            .summarize(TimeRange { start: 10, end: 5 }, "USD")
            .await,
    );
    assert_eq!(err.kind(), "invalid-input");

    let filter = BalanceFilter {
        range,
        currency: Some("USD".into()),
    };
    let first = gateway
        .list_balance_transactions(
            filter.clone(),
            PageRequest {
                limit: 10,
                cursor: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(first.transactions.len(), 10);
    assert!(
        first
            .transactions
            .windows(2)
            .all(|w| w[0].created >= w[1].created),
        "newest first"
    );
    let cursor = first.next_cursor.clone().expect("more pages");
    let second = gateway
        .list_balance_transactions(
            filter,
            PageRequest {
                limit: 10,
                cursor: Some(cursor),
            },
        )
        .await
        .unwrap();
    assert!(!second.transactions.is_empty());
    assert!(second.transactions[0].created < first.transactions[9].created);
}

fn signed_headers(secret: &str, timestamp: i64, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    let signature = hex::encode(mac.finalize().into_bytes());
    vec![
        ("content-type".into(), b"application/json".to_vec()),
        (
            "offline-signature".into(),
            format!("t={timestamp},v1={signature}").into_bytes(),
        ),
    ]
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn webhooks_are_verified_with_the_host_held_secret() {
    let gateway = offline().await;
    let body = br#"{"id":"evt_1","created":1700000000,"type":"payment.succeeded","data":{"payment":"off_pay_x","amount":1050,"currency":"USD"}}"#;

    // Signed with the configured secret: the plugin verified it through the host's credentials.
    let outcome = webhook(&gateway, signed_headers(WEBHOOK_SECRET, now(), body), body)
        .await
        .unwrap()
        .expect("verified");
    // The plugin's answer, byte for byte.
    assert_eq!(outcome.response.status, 200);
    assert_eq!(
        outcome.response.content_type.as_deref(),
        Some("application/json")
    );
    assert_eq!(outcome.response.body, br#"{"received":true}"#);
    assert_eq!(outcome.events.len(), 1, "{outcome:?}");
    let event = &outcome.events[0];
    assert_eq!(event.id, "evt_1");
    assert_eq!(event.gateway_type, "payment.succeeded");
    match &event.kind {
        EventKind::Payment(update) => {
            assert_eq!(update.payment, "off_pay_x");
            assert_eq!(update.status, PaymentStatus::Succeeded);
            assert_eq!(update.amount, usd(1050));
        }
        other => panic!("{other:?}"),
    }
    assert!(serde_json::to_string(&outcome).unwrap().contains("evt_1"));

    let rejection =
        |r: Result<Result<WebhookOutcome, Rejection>, CallError>| r.unwrap().expect_err("rejected");
    assert!(matches!(
        rejection(webhook(&gateway, vec![], body).await),
        Rejection::MissingSignature
    ));
    assert!(matches!(
        rejection(webhook(&gateway, signed_headers("whsec_wrong", now(), body), body).await),
        Rejection::BadSignature
    ));
    let old = now() - 3600;
    assert!(matches!(
        rejection(webhook(&gateway, signed_headers(WEBHOOK_SECRET, old, body), body).await),
        Rejection::OutsideTolerance
    ));

    // The plugin reads its settings through the host's config interface.
    let lenient = offline_with(&[("webhook-tolerance-secs", "0")]).await;
    let outcome = webhook(&lenient, signed_headers(WEBHOOK_SECRET, old, body), body)
        .await
        .unwrap()
        .expect("tolerance disabled by the setting");
    assert_eq!(outcome.events[0].id, "evt_1");

    // Without the secret configured, the plugin reports it is not configured.
    let unconfigured = runtime()
        .load(
            "offline-no-secret",
            &GatewayConfig::new(component_path("omnicrm_offline_gateway")),
        )
        .await
        .unwrap();
    assert!(matches!(
        rejection(
            webhook(
                &unconfigured,
                signed_headers(WEBHOOK_SECRET, now(), body),
                body
            )
            .await
        ),
        Rejection::NotConfigured(_)
    ));
}

#[tokio::test]
async fn card_sessions_and_customer_actions() {
    let gateway = offline().await;
    let customer = gateway
        .ensure_customer(customer_request("crm-4"), "cus-4")
        .await
        .unwrap();
    let session = gateway
        .start_card_session(CardSessionRequest {
            customer: customer.id.clone(),
            return_url: Some("https://crm.example/cards".into()),
            currency: Some("EUR".into()),
            idempotency_key: "session-4".into(),
        })
        .await
        .unwrap();
    assert!(session.id.starts_with("off_cs_"), "{session:?}");
    assert_eq!(session.sdk, "offline");
    let config: serde_json::Value = serde_json::from_str(&session.client_config).unwrap();
    let token = config["test_tokens"][0].as_str().unwrap().to_string();
    let card = store_card(&gateway, &customer.id, &token, true, "card-4")
        .await
        .unwrap();
    assert_eq!(card.customer, customer.id);
    assert!(card.network_transaction_id.is_some(), "{card:?}");

    // A customer-initiated charge of a 3-D Secure card: a redirect, then the completion.
    let secure = store_card(
        &gateway,
        &customer.id,
        "tok_threeDSecure2Required",
        false,
        "c-3ds",
    )
    .await
    .unwrap();
    let mut request = charge_request(
        &customer.id,
        &secure.id,
        2500,
        CaptureMode::Automatic,
        "3ds",
    );
    request.stored_credential = StoredCredentialUse::CustomerInitiated;
    request.return_url = Some("https://crm.example/paid".into());
    let action = match expect_gateway_error(gateway.charge(request).await) {
        GatewayError::ActionRequired(a) => a,
        other => panic!("{other:?}"),
    };
    match &action.next_action {
        NextAction::Redirect(r) => {
            assert_eq!(r.method, RedirectMethod::Get);
            assert!(r.url.contains(&action.payment), "{r:?}");
            assert!(r.url.contains("return_url="), "{r:?}");
        }
        other => panic!("{other:?}"),
    }
    let completion = |details: Vec<(String, String)>, key: &str| ActionCompletion {
        payment: action.payment.clone(),
        details,
        idempotency_key: key.into(),
    };
    let paid = gateway
        .complete_action(completion(vec![], "3ds-done"))
        .await
        .unwrap();
    assert_eq!(paid.status, PaymentStatus::Succeeded);
    assert_eq!(paid.amount_captured, 2500);
    let failed = gateway
        .complete_action(completion(
            vec![("outcome".into(), "fail".into())],
            "3ds-fail",
        ))
        .await
        .unwrap();
    assert_eq!(failed.status, PaymentStatus::Failed);
    assert_eq!(
        failed.last_decline.map(|d| d.category),
        Some(DeclineCategory::AuthenticationRequired)
    );
    // The same card charged by the merchant: the customer must come back.
    let merchant = charge_request(
        &customer.id,
        &secure.id,
        2500,
        CaptureMode::Automatic,
        "mit",
    );
    match expect_gateway_error(gateway.charge(merchant).await) {
        GatewayError::ActionRequired(a) => {
            assert_eq!(a.next_action, NextAction::BringCustomerOnSession)
        }
        other => panic!("{other:?}"),
    }
}

/// The core variant exports neither `invoicing` nor `metrics` and declares neither: the host
/// answers their calls `unsupported` itself, naming the capability, and everything else works.
#[tokio::test]
async fn the_core_variant_declares_what_it_exports() {
    let config = GatewayConfig::new(component_path("omnicrm_offline_gateway_core"))
        .with_secret("webhook-secret", SecretSource::value(WEBHOOK_SECRET));
    let gateway = runtime().load("offline-core", &config).await.unwrap();
    assert_eq!(gateway.contract_version(), CONTRACT_VERSION);
    assert_eq!(gateway.capabilities(), core_capabilities());
    assert!(
        !gateway
            .capabilities()
            .intersects(Capabilities::INVOICING | Capabilities::METRICS)
    );

    let refused = |err: GatewayError, capability: &str| match err {
        // The host's own answer: the plugin was never called (it exports no such function).
        GatewayError::Unsupported(m) => assert!(
            m.contains(&format!("does not declare the `{capability}` capability")),
            "{m}"
        ),
        other => panic!("{other:?}"),
    };
    let customer = gateway
        .ensure_customer(customer_request("crm-core"), "cus-core")
        .await
        .unwrap();
    let invoice = InvoiceRequest {
        customer: customer.id.clone(),
        currency: "USD".into(),
        items: vec![LineItem {
            description: "Plan".into(),
            unit_amount: 1000,
            quantity: 1,
            metadata: vec![],
        }],
        description: None,
        collection: CollectionMethod::ChargeAutomatically,
        days_until_due: None,
        metadata: vec![],
        idempotency_key: "inv-core".into(),
    };
    refused(
        expect_gateway_error(gateway.create_invoice(invoice).await),
        "invoicing",
    );
    refused(
        expect_gateway_error(gateway.finalize_invoice("off_in_x", "k").await),
        "invoicing",
    );
    refused(
        expect_gateway_error(gateway.pay_invoice("off_in_x", None, "k").await),
        "invoicing",
    );
    refused(
        expect_gateway_error(gateway.void_invoice("off_in_x", "k").await),
        "invoicing",
    );
    refused(
        expect_gateway_error(gateway.mark_uncollectible("off_in_x", "k").await),
        "invoicing",
    );
    refused(
        expect_gateway_error(gateway.get_invoice("off_in_x").await),
        "invoicing",
    );
    let page = PageRequest {
        limit: 10,
        cursor: None,
    };
    refused(
        expect_gateway_error(
            gateway
                .list_invoices(
                    InvoiceFilter {
                        customer: None,
                        status: None,
                        created: None,
                    },
                    page.clone(),
                )
                .await,
        ),
        "invoicing",
    );
    let range = TimeRange {
        start: 1_704_067_200,
        end: 1_704_067_200 + 86_400,
    };
    refused(
        expect_gateway_error(gateway.summarize(range, "USD").await),
        "metrics",
    );
    refused(
        expect_gateway_error(
            gateway
                .list_balance_transactions(
                    BalanceFilter {
                        range,
                        currency: None,
                    },
                    page,
                )
                .await,
        ),
        "metrics",
    );

    // The common operations work as in the full build.
    let card = store_card(&gateway, &customer.id, "tok_visa", true, "card-core")
        .await
        .unwrap();
    let payment = gateway
        .charge(charge_request(
            &customer.id,
            &card.id,
            900,
            CaptureMode::Automatic,
            "pay-core",
        ))
        .await
        .unwrap();
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    let body = br#"{"id":"evt_core","created":1700000000,"type":"other.thing","data":{}}"#;
    let outcome = webhook(&gateway, signed_headers(WEBHOOK_SECRET, now(), body), body)
        .await
        .unwrap()
        .expect("verified");
    assert_eq!(
        outcome.events[0].kind,
        EventKind::Other("other.thing".into())
    );
}

/// The webhook secret is a MAC key only as long as the gateway's `auth` does not use it: named as
/// an outbound credential, the plugin's `verify-mac` with it is refused (`not-configured`), so a
/// plugin can never use the API key as a MAC oracle.
#[tokio::test]
async fn an_outbound_credential_is_never_a_mac_key() {
    let body = br#"{"id":"evt_2","created":1700000000,"type":"other.thing","data":{}}"#;
    let config = GatewayConfig::new(component_path("omnicrm_offline_gateway"))
        .with_secret("webhook-secret", SecretSource::value(WEBHOOK_SECRET))
        .with_auth(omnicrm_host::OutboundAuth::Bearer {
            secret: "webhook-secret".into(),
        });
    let gateway = runtime().load("offline-oracle", &config).await.unwrap();
    let verdict = webhook(&gateway, signed_headers(WEBHOOK_SECRET, now(), body), body)
        .await
        .unwrap();
    match verdict {
        Err(Rejection::NotConfigured(m)) => assert!(!m.contains(WEBHOOK_SECRET), "{m}"),
        other => panic!("the outbound credential was a MAC key: {other:?}"),
    }
    // From the environment, and the variable not set: the same refusal, naming no variable.
    let config = GatewayConfig::new(component_path("omnicrm_offline_gateway")).with_secret(
        "webhook-secret",
        SecretSource::Env("OMNICRM_GATEWAY_TESTS_UNSET_WEBHOOK_SECRET".into()),
    );
    let gateway = runtime().load("offline-unset", &config).await.unwrap();
    match webhook(&gateway, signed_headers(WEBHOOK_SECRET, now(), body), body)
        .await
        .unwrap()
    {
        Err(Rejection::NotConfigured(m)) => {
            assert!(!m.contains("OMNICRM_GATEWAY_TESTS_UNSET"), "{m}")
        }
        other => panic!("{other:?}"),
    }
}
