//! A plugin's answer is not taken as truth: each is checked against its request and the
//! contract before it is handed on, and one that fails is `CallError::InvalidOutput`, naming the
//! field and what is wrong (never the plugin's text), an outcome the caller must reconcile.

use super::*;
use omnicrm_host::contract::StoreCardRequest;

/// The field an invalid answer was refused for.
fn invalid_field<T: std::fmt::Debug>(result: Result<T, CallError>) -> (String, String) {
    match result {
        Err(err @ CallError::InvalidOutput { .. }) => {
            assert!(err.may_have_moved_money(), "{err}");
            let CallError::InvalidOutput { field, problem } = err else {
                unreachable!()
            };
            (field, problem)
        }
        other => panic!("expected an invalid output, got {other:?}"),
    }
}

#[tokio::test]
async fn a_payment_that_does_not_match_its_charge_is_refused() {
    let gateway = runtime()
        .load("liar", &GatewayConfig::new(misbehaving()))
        .await
        .expect("loads");
    // The request: USD 10.50 of customer `cus_1`, card `card_1`.
    for (description, field) in [
        ("captured:100000000", "payment.amount-captured"),
        ("captured:-1", "payment.amount-captured"),
        ("amount:2000", "payment.amount.amount"),
        ("amount:-1050", "payment.amount.amount"),
        ("currency:EUR", "payment.amount.currency"),
        ("currency:usd", "payment.amount.currency"),
        ("id:", "payment.id"),
        ("id:pi_1\nINFO forged", "payment.id"),
        ("id:pi_\u{e9}", "payment.id"),
        ("huge-id:1", "payment.id"),
        ("decline-on-success", "payment.last-decline"),
        ("customer:cus_someone_else", "payment.customer"),
    ] {
        let (found, problem) = invalid_field(gateway.charge(request(description)).await);
        assert_eq!(found, field, "{description}: {problem}");
        for quoted in ["forged", "someone_else", "xxxx", "EUR", "\u{e9}"] {
            assert!(!problem.contains(quoted), "{description}: {problem}");
        }
    }
    assert_healthy(&gateway).await;
}

#[tokio::test]
async fn a_stored_card_that_is_malformed_or_someone_elses_is_refused() {
    let gateway = runtime()
        .load("card-liar", &GatewayConfig::new(misbehaving()))
        .await
        .expect("loads");
    let store = |token: &str| StoreCardRequest {
        customer: "mis_cus_1".into(),
        token: token.into(),
        make_default: false,
        return_url: None,
        idempotency_key: "card-key".into(),
    };
    for (token, field) in [
        ("last4=4242424242424242", "stored-card.last4"),
        ("last4=42a2", "stored-card.last4"),
        ("expiry=13/2030", "stored-card.exp-month"),
        ("expiry=0/2030", "stored-card.exp-month"),
        ("expiry=12/30", "stored-card.exp-year"),
        ("owner=mis_cus_2", "stored-card.customer"),
        ("brand=visa\nINFO forged", "stored-card.brand"),
        ("brand=", "stored-card.brand"),
    ] {
        let (found, problem) = invalid_field(gateway.store_card(store(token)).await);
        assert_eq!(found, field, "{token}: {problem}");
    }
    let card = gateway
        .store_card(store("tok_ok"))
        .await
        .expect("a valid card");
    assert_eq!((card.last4.as_str(), card.exp_month), ("4242", 12));
}
