//! Stripe's own financial figures, checked against the emulator's balance transactions.

use anyhow::{Context, Result, ensure};
use omnicrm_host::contract::{
    BalanceFilter, CaptureMode, PageRequest, PaymentStatus, RefundRequest, TimeRange,
};
use serde_json::Value;

use super::{Env, Setup, charge_request, customer_request, today_range, usd};

/// A charge on a disputed card opens a dispute that the metrics count; conceding it counts a
/// lost dispute; an inquiry is not a chargeback.
pub async fn dispute_shows_in_metrics(s: Setup) -> Result<()> {
    let env = Env::start(s).await?;
    let customer = env
        .gateway
        .ensure_customer(customer_request("crm-dispute"), "cus-dispute")
        .await?;
    let card = env
        .store_card(&customer.id, "pm_card_createDispute", true, "d-card")
        .await?;
    let p = env
        .charge(
            &customer.id,
            &card.id,
            10_000,
            CaptureMode::Automatic,
            "d-charge",
        )
        .await?;
    ensure!(p.status == PaymentStatus::Succeeded);
    let inquiry = env
        .store_card(
            &customer.id,
            "pm_card_createDisputeInquiry",
            false,
            "i-card",
        )
        .await?;
    env.charge(
        &customer.id,
        &inquiry.id,
        2_000,
        CaptureMode::Automatic,
        "i-charge",
    )
    .await?;

    let range = today_range(&env);
    let s = env.gateway.summarize(range, "USD").await?;
    ensure!(
        s.dispute_count == 1 && s.disputed_amount == 10_000 && s.disputes_lost == 0,
        "{s:?}"
    );
    ensure!(
        s.gross_volume == 12_000 && s.successful_payments == 2,
        "{s:?}"
    );

    let disputes = env.oracle.list_all("/v1/disputes").await?;
    let dispute = disputes
        .iter()
        .find(|d| d["payment_intent"] == p.id.as_str())
        .context("dispute of the charge")?;
    env.oracle
        .post(
            &format!(
                "/v1/disputes/{}/close",
                dispute["id"].as_str().unwrap_or_default()
            ),
            "",
        )
        .await?;
    let s = env.gateway.summarize(range, "USD").await?;
    ensure!(
        s.disputes_lost == 1 && s.disputes_lost_amount == 10_000,
        "{s:?}"
    );
    // The dispute's withdrawal and fee show in the figures.
    ensure!(s.net < s.gross_volume - s.fees, "{s:?}");
    Ok(())
}

/// The summary equals the sums of the emulator's balance transactions, walked page by page
/// (the plugin's page size is 3), with charges, refunds, fees, another currency and a dispute.
pub async fn metrics_equal_emulator_sums_across_pages(s: Setup) -> Result<()> {
    let env = Env::start(s).await?;
    let (customer, card) = env
        .customer_with_card("crm-metrics", "pm_card_visa")
        .await?;
    let mut payments = Vec::new();
    for i in 0..7 {
        payments.push(
            env.charge(
                &customer,
                &card,
                1_000 + i * 111,
                CaptureMode::Automatic,
                &format!("m-{i}"),
            )
            .await?,
        );
    }
    for (i, p) in payments.iter().take(2).enumerate() {
        env.gateway
            .refund_payment(RefundRequest {
                payment: p.id.clone(),
                amount: usd(300),
                reason: None,
                metadata: vec![],
                idempotency_key: format!("m-refund-{i}"),
            })
            .await?;
    }
    let mut eur = charge_request(&customer, &card, 4_200, CaptureMode::Automatic, "m-eur");
    eur.amount.currency = "EUR".into();
    env.gateway.charge(eur).await?;
    let disputed = env
        .store_card(&customer, "pm_card_createDispute", false, "m-d-card")
        .await?;
    env.charge(
        &customer,
        &disputed.id,
        5_000,
        CaptureMode::Automatic,
        "m-disputed",
    )
    .await?;

    let range = today_range(&env);
    let s = env.gateway.summarize(range, "USD").await?;

    let txns = env.oracle.list_all("/v1/balance_transactions").await?;
    let usd: Vec<&Value> = txns.iter().filter(|t| t["currency"] == "usd").collect();
    let int = |v: &Value| v.as_i64().unwrap_or(0);
    let of_type = |types: &[&str]| {
        usd.iter()
            .filter(|t| types.contains(&t["type"].as_str().unwrap_or("")))
            .copied()
            .collect::<Vec<_>>()
    };
    let charges = of_type(&["charge", "payment"]);
    let refunds = of_type(&["refund", "payment_refund"]);
    ensure!(
        charges.len() == 8 && refunds.len() == 2,
        "{} charges, {} refunds",
        charges.len(),
        refunds.len()
    );
    let gross: i64 = charges.iter().map(|t| int(&t["amount"])).sum();
    let refunded: i64 = refunds.iter().map(|t| -int(&t["amount"])).sum();
    let fees: i64 = usd.iter().map(|t| int(&t["fee"])).sum();
    let net: i64 = usd
        .iter()
        .filter(|t| !t["type"].as_str().unwrap_or("").starts_with("payout"))
        .map(|t| int(&t["net"]))
        .sum();
    ensure!(
        s.gross_volume == gross && s.successful_payments == 8,
        "gross {gross}: {s:?}"
    );
    ensure!(
        s.refunded_amount == refunded && refunded == 600 && s.refund_count == 2,
        "{s:?}"
    );
    ensure!(
        s.fees == fees && s.net == net,
        "fees {fees}, net {net}: {s:?}"
    );
    ensure!(s.dispute_count == 1 && s.disputed_amount == 5_000, "{s:?}");
    ensure!(s.currency == "USD");

    let e = env.gateway.summarize(range, "EUR").await?;
    ensure!(
        e.gross_volume == 4_200 && e.successful_payments == 1 && e.dispute_count == 0,
        "{e:?}"
    );
    // Nothing outside the range.
    let before = TimeRange {
        start: range.start - 86_400,
        end: range.start,
    };
    ensure!(
        env.gateway
            .summarize(before, "USD")
            .await?
            .successful_payments
            == 0
    );

    // Listing page by page gives the same transactions as the emulator, newest first.
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = env
            .gateway
            .list_balance_transactions(
                BalanceFilter {
                    range,
                    currency: Some("USD".into()),
                },
                PageRequest { limit: 4, cursor },
            )
            .await?;
        listed.extend(page.transactions);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let ids: Vec<_> = listed.iter().map(|t| t.id.clone()).collect();
    let expected: Vec<_> = usd
        .iter()
        .map(|t| t["id"].as_str().unwrap_or("").to_owned())
        .collect();
    ensure!(ids == expected, "{ids:?} != {expected:?}");
    ensure!(listed.iter().all(|t| t.net == t.amount.amount - t.fee));
    Ok(())
}
