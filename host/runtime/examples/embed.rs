//! Embedding the OmniCRM gateway runtime: load a gateway component, see what it is, and charge
//! a card through it.
//!
//! ```text
//! cargo xtask plugins                                      # builds the gateway components
//! cargo run -p omnicrm-host --example embed                # the offline gateway
//! cargo run -p omnicrm-host --example embed -- other.wasm  # another component
//! ```
//!
//! The offline gateway needs no network and no secrets. A gateway that speaks HTTP is given its
//! origins and credentials in its configuration; the host injects them, the plugin never sees
//! them:
//!
//! ```no_run
//! # use omnicrm_host::{GatewayConfig, OutboundAuth, SecretSource};
//! let config = GatewayConfig::new("target/wasm32-wasip2/plugin/omnicrm_stripe_gateway.wasm")
//!     .allow_host("https://api.stripe.com")
//!     .with_auth(OutboundAuth::Bearer { secret: "api-key".into() })
//!     .with_secret("api-key", SecretSource::Env("STRIPE_SECRET_KEY".into()));
//! ```

use anyhow::{Context, Result};
use omnicrm_host::contract::{
    CaptureMode, ChargeRequest, Customer, CustomerRequest, Money, Payment, StoreCardRequest,
    StoredCard, StoredCredentialUse,
};
use omnicrm_host::{GatewayConfig, Runtime, RuntimeOptions, built};
use std::path::{Path, PathBuf};

#[tokio::main]
async fn main() -> Result<()> {
    let component = match std::env::args_os().nth(1) {
        Some(path) => PathBuf::from(path),
        None => built::component_path("omnicrm_offline_gateway")?,
    };
    let cache_dir = std::env::temp_dir().join("omnicrm-embed-cache");
    run(&component, &cache_dir).await?;
    Ok(())
}

/// What the example's calls returned (checked by its test).
#[derive(Debug)]
#[cfg_attr(not(test), allow(dead_code))]
struct Outcome {
    contract_version: String,
    customer: Customer,
    card: StoredCard,
    payment: Payment,
}

/// Loads the gateway component at `component` (compiled artifacts cached in `cache_dir`),
/// prints what it says about itself, then ensures a customer, stores a test card and charges it.
async fn run(component: &Path, cache_dir: &Path) -> Result<Outcome> {
    // One runtime per process: it owns the engine, the instance pool and the HTTP client.
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir.to_path_buf()),
        ..RuntimeOptions::default()
    })?;

    // Loading checks the component against the contract, compiles it (or takes it from the
    // artifact cache) and asks it to describe itself.
    let gateway = runtime
        .load("offline", &GatewayConfig::new(component))
        .await
        .with_context(|| format!("loading {}", component.display()))?;
    let info = gateway.info();
    println!(
        "loaded `{}`: {} {} (contract {}; capabilities: {})",
        gateway.name(),
        info.display_name,
        info.version,
        gateway.contract_version(),
        gateway.capabilities().name()
    );
    if let Some(load) = gateway.load_info() {
        println!(
            "  compiled code: {:?}, loaded in {:.1} ms",
            load.artifact,
            load.total_time.as_secs_f64() * 1000.0
        );
    }

    // Every call runs in a fresh, sandboxed instance; results are the contract's types.
    // Idempotency keys make each call safe to repeat.
    let customer = gateway
        .ensure_customer(
            CustomerRequest {
                crm_customer_id: "crm-42".into(),
                email: Some("ada@example.com".into()),
                name: Some("Ada Lovelace".into()),
                phone: None,
                metadata: vec![],
            },
            "embed-customer-crm-42",
        )
        .await?;
    println!(
        "customer {} for CRM customer {}",
        customer.id, customer.crm_customer_id
    );

    let card = gateway
        .store_card(StoreCardRequest {
            customer: customer.id.clone(),
            token: "tok_visa".into(),
            make_default: true,
            return_url: None,
            idempotency_key: "embed-card-crm-42".into(),
        })
        .await?;
    println!(
        "card {}: {} ending {}, expires {:02}/{}",
        card.id, card.brand, card.last4, card.exp_month, card.exp_year
    );

    let charged = gateway
        .charge(ChargeRequest {
            customer: customer.id.clone(),
            card: card.id.clone(),
            amount: Money {
                amount: 1999,
                currency: "EUR".into(),
            },
            description: Some("Monthly plan".into()),
            metadata: vec![("crm_invoice".into(), "INV-2024-001".into())],
            capture: CaptureMode::Automatic,
            // A monthly bill the customer agreed to: charged without them, on schedule.
            stored_credential: StoredCredentialUse::MerchantRecurring,
            network_transaction_id: None,
            return_url: None,
            idempotency_key: "embed-charge-INV-2024-001".into(),
        })
        .await;
    let payment = match charged {
        Ok(payment) => payment,
        Err(e) => {
            // Whether money may have moved decides what the caller does next: retry with the
            // same key (or look the payment up) before anything else, or report the failure.
            anyhow::bail!(
                "the charge failed ({}): {e}",
                if e.may_have_moved_money() {
                    "outcome unknown: reconcile before retrying"
                } else {
                    "no money moved"
                }
            );
        }
    };
    println!(
        "payment {}: {:?}, {} {} captured",
        payment.id, payment.status, payment.amount_captured, payment.amount.currency
    );

    Ok(Outcome {
        contract_version: gateway.contract_version().to_string(),
        customer,
        card,
        payment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnicrm_host::contract::PaymentStatus;

    /// The example, run against the built offline component (`cargo xtask plugins`).
    #[tokio::test]
    async fn the_example_charges_a_card_through_the_offline_gateway() {
        let component = built::component_path("omnicrm_offline_gateway").unwrap();
        let cache = tempfile::tempdir().unwrap();
        let outcome = run(&component, cache.path()).await.unwrap();
        assert_eq!(
            outcome.contract_version,
            omnicrm_host::contract::CONTRACT_VERSION
        );
        assert_eq!(outcome.customer.crm_customer_id, "crm-42");
        assert!(outcome.customer.id.starts_with("off_cus_"), "{outcome:?}");
        assert_eq!(
            (outcome.card.brand.as_str(), outcome.card.last4.as_str()),
            ("visa", "4242")
        );
        assert_eq!(outcome.card.customer, outcome.customer.id);
        assert_eq!(outcome.payment.status, PaymentStatus::Succeeded);
        assert_eq!(outcome.payment.amount_captured, 1999);
        assert_eq!(outcome.payment.amount.currency, "EUR");
        assert_eq!(
            outcome.payment.customer.as_deref(),
            Some(outcome.customer.id.as_str())
        );
        // The compiled component went into the artifact cache.
        let cached = std::fs::read_dir(cache.path()).unwrap().count();
        assert_eq!(cached, 1, "one artifact cache entry");
    }
}
