//! Declared capabilities against exports, with components whose every function traps except
//! `info.describe` (`tests/fixtures/components`, made by `trapping_component.py`): a capability
//! declared without its interface is refused at load, naming both; an interface exported but not
//! declared loads, and the host never calls it, nor any function of a capability the plugin did
//! not declare. A call that reaches such a component traps, so an `unsupported` answer shows the
//! host answered without entering it.

use gateway_tests::fixture_path;
use omnicrm_host::contract::{
    ActionCompletion, BalanceFilter, Capabilities, CaptureMode, CardSessionRequest, ChargeRequest,
    CollectionMethod, GatewayError, InvoiceFilter, InvoiceRequest, LineItem, Money, PageRequest,
    StoredCredentialUse, TimeRange,
};
use omnicrm_host::{CallError, ContractProblem, GatewayConfig, LoadError, Runtime, RuntimeOptions};

fn runtime() -> Runtime {
    Runtime::new(RuntimeOptions {
        max_instances: 8,
        ..RuntimeOptions::default()
    })
    .expect("runtime")
}

/// The host's own `unsupported`, naming the capability the plugin did not declare.
fn refused<T: std::fmt::Debug>(result: Result<T, CallError>, capability: &str) {
    match result {
        Err(CallError::Gateway(GatewayError::Unsupported(message))) => assert!(
            message.contains(&format!("does not declare the `{capability}` capability")),
            "{message}"
        ),
        other => panic!("expected unsupported for `{capability}`, got {other:?}"),
    }
}

#[tokio::test]
async fn a_capability_declared_without_its_interface_is_refused_at_load() {
    let path = fixture_path("declares_invoicing_without_exporting_v0_2.wasm");
    let err = runtime()
        .load("declares-invoicing", &GatewayConfig::new(&path))
        .await
        .expect_err("declared but not exported");
    let LoadError::Incompatible { problems, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        problems,
        &[ContractProblem::DeclaredNotExported {
            capability: "invoicing".into(),
            interface: "omnicrm:payments/invoicing@0.2.x".into(),
        }]
    );
    assert!(
        err.to_string().contains(
            "declares the capability `invoicing` but does not export omnicrm:payments/invoicing@0.2.x"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn interfaces_exported_but_not_declared_are_never_called() {
    let path = fixture_path("exports_everything_declares_nothing_v0_2.wasm");
    let gateway = runtime()
        .load("declares-nothing", &GatewayConfig::new(&path))
        .await
        .expect("exported but not declared is allowed");
    assert_eq!(gateway.contract_version(), "0.2.0");
    assert_eq!(gateway.info().name, "dummy");
    assert_eq!(gateway.capabilities(), Capabilities::empty());

    let page = || PageRequest {
        limit: 10,
        cursor: None,
    };
    let invoice = InvoiceRequest {
        customer: "cus_1".into(),
        currency: "USD".into(),
        items: vec![LineItem {
            description: "Plan".into(),
            unit_amount: 100,
            quantity: 1,
            metadata: vec![],
        }],
        description: None,
        collection: CollectionMethod::ChargeAutomatically,
        days_until_due: None,
        metadata: vec![],
        idempotency_key: "k".into(),
    };
    refused(gateway.create_invoice(invoice).await, "invoicing");
    refused(gateway.finalize_invoice("in_1", "k").await, "invoicing");
    refused(
        gateway.pay_invoice("in_1", Some("pm_1"), "k").await,
        "invoicing",
    );
    refused(gateway.void_invoice("in_1", "k").await, "invoicing");
    refused(gateway.mark_uncollectible("in_1", "k").await, "invoicing");
    refused(gateway.get_invoice("in_1").await, "invoicing");
    let all = InvoiceFilter {
        customer: None,
        status: None,
        created: None,
    };
    refused(gateway.list_invoices(all, page()).await, "invoicing");
    let range = TimeRange { start: 0, end: 10 };
    refused(gateway.summarize(range, "USD").await, "metrics");
    let filter = BalanceFilter {
        range,
        currency: None,
    };
    refused(
        gateway.list_balance_transactions(filter, page()).await,
        "metrics",
    );
    refused(gateway.get_payment("pi_1").await, "payment-lookup");
    refused(gateway.get_refund("re_1").await, "refund-lookup");
    let session = CardSessionRequest {
        customer: "cus_1".into(),
        return_url: None,
        currency: None,
        idempotency_key: "k".into(),
    };
    refused(gateway.start_card_session(session).await, "card-sessions");
    let completion = ActionCompletion {
        payment: "pi_1".into(),
        details: vec![],
        idempotency_key: "k".into(),
    };
    refused(
        gateway.complete_action(completion).await,
        "customer-actions",
    );

    // What every gateway has is called: here it traps, as every function of this component does.
    let charge = ChargeRequest {
        customer: "cus_1".into(),
        card: "pm_1".into(),
        amount: Money {
            amount: 100,
            currency: "USD".into(),
        },
        description: None,
        metadata: vec![],
        capture: CaptureMode::Automatic,
        stored_credential: StoredCredentialUse::MerchantUnscheduled,
        network_transaction_id: None,
        return_url: None,
        idempotency_key: "k".into(),
    };
    let err = gateway.charge(charge).await.expect_err("the dummy traps");
    assert!(matches!(err, CallError::Trap(_)), "{err:?}");
}
