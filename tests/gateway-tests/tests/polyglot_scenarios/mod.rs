//! The example gateways written in Python (componentize-py) and JavaScript (componentize-js),
//! from `plugins/examples/`, built by `cargo xtask polyglot`. Both implement the same design, so
//! the same scenarios drive each (`python.rs`, `javascript.rs`), through the real runtime with
//! the settings a third party would use: an artifact cache, a memory limit and a deadline per
//! call. Every export is exercised; the first load's compile time, the cache entry's size, the
//! memory a component needs before its first call and the cost of a call are measured and
//! printed (`cargo test -p gateway-tests --test all python:: -- --nocapture`).
//!
//! Each component is compiled once per run of the test binary (or taken from the artifact an
//! earlier run left in `target/polyglot/artifact-cache`), and every test loads it from memory.

mod charging;
mod runtime;
mod tokens;
mod webhooks;

pub use charging::*;
pub use runtime::*;
pub use tokens::*;
pub use webhooks::*;

use gateway_tests::component_dir;
use omnicrm_host::contract::{
    ActionCompletion, CaptureMode, CaptureRequest, ChargeRequest, CustomerRequest, GatewayError,
    Modification, ModificationStatus, Money, Payment, RefundReason, RefundRequest,
    StoreCardRequest, StoredCard, StoredCredentialUse, VoidRequest,
};
use omnicrm_host::{
    ArtifactSource, CallError, Gateway, GatewayConfig, Limits, LoadInfo, Runtime, RuntimeOptions,
    SecretSource,
};
use sha2::Digest as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tokio::sync::OnceCell;

/// What a third party would configure for a Python or JavaScript gateway: the memory these
/// runtimes need (12 to 13 MiB before the first call, see `memory_before_the_first_call`) with
/// room to work, and a deadline well above a call's cost.
pub fn limits() -> Limits {
    Limits {
        memory_mib: 32,
        call_timeout_ms: 5_000,
        ..Limits::default()
    }
}

/// The webhook secret the host holds for the examples.
pub const WEBHOOK_SECRET: &str = "whsec_example_test_secret";

/// The examples' components, by file name without `.wasm`.
const COMPONENTS: [&str; 2] = ["omnicrm_python_example", "omnicrm_javascript_example"];

/// One of the example gateways.
pub struct Example {
    /// The component's file name in the plugin directory, without `.wasm`.
    pub component: &'static str,
    /// The name it describes itself with, and is loaded under.
    pub name: &'static str,
    pub display_name: &'static str,
    /// What its references start with.
    pub prefix: &'static str,
    /// How its first load went: a compile, or the artifact an earlier run compiled.
    first_load: OnceCell<LoadInfo>,
}

impl Example {
    pub const fn new(
        component: &'static str,
        name: &'static str,
        display_name: &'static str,
        prefix: &'static str,
    ) -> Self {
        Example {
            component,
            name,
            display_name,
            prefix,
            first_load: OnceCell::const_new(),
        }
    }

    pub fn path(&self) -> PathBuf {
        component_path(self.component)
    }

    /// The configuration a third party would write: the webhook secret, the limits.
    pub fn config(&self) -> GatewayConfig {
        GatewayConfig::new(self.path())
            .with_secret("webhook-secret", SecretSource::value(WEBHOOK_SECRET))
            .with_limits(limits())
    }

    /// The gateway with [`Example::config`].
    pub async fn gateway(&self) -> Gateway {
        self.load(&self.config()).await
    }

    /// The gateway with `config`, in the shared runtime (compiled by the first load).
    pub async fn load(&self, config: &GatewayConfig) -> Gateway {
        let first = self
            .first_load
            .get_or_init(|| async {
                let gateway = host().runtime.load(self.name, config).await.unwrap();
                let info = gateway.load_info().expect("load info").clone();
                let size = megabytes(std::fs::metadata(self.path()).unwrap().len());
                match info.artifact {
                    ArtifactSource::Compiled => println!(
                        "{}: the first load compiled the component ({size:.1} MB) in {:.1} s",
                        self.name,
                        info.compile_time.as_secs_f64(),
                    ),
                    other => println!(
                        "{}: the first load took the component ({size:.1} MB) from {other:?} in \
                         {:.0} ms (an earlier run compiled it)",
                        self.name,
                        info.compile_time.as_secs_f64() * 1000.0,
                    ),
                }
                info
            })
            .await;
        assert_ne!(first.artifact, ArtifactSource::Memory, "a first load");
        host().runtime.load(self.name, config).await.unwrap()
    }

    /// How the first load went (after one).
    pub fn first_load(&self) -> &LoadInfo {
        self.first_load.get().expect("loaded once")
    }

    pub fn assert_reference(&self, kind: &str, reference: &str) {
        let head = format!("{}{kind}_", self.prefix);
        assert!(reference.starts_with(&head), "{reference} is not {head}...");
        assert!(
            reference.len() <= 255 && reference.is_ascii(),
            "{reference}"
        );
    }
}

fn component_path(component: &str) -> PathBuf {
    let path = component_dir().join(format!("{component}.wasm"));
    assert!(
        path.exists(),
        "component {} is missing: build it with `cargo xtask polyglot` (or `cargo xtask test`)",
        path.display()
    );
    path
}

/// The runtime the examples' tests share, and its artifact cache.
pub struct Host {
    pub runtime: Runtime,
    pub cache_dir: PathBuf,
}

/// Runtime options as an embedder sets them: a cache directory, and instance slots for the
/// calls it makes at once.
pub fn options(cache_dir: &Path) -> RuntimeOptions {
    RuntimeOptions {
        cache_dir: Some(cache_dir.to_path_buf()),
        max_instances: 32,
        ..RuntimeOptions::default()
    }
}

pub fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| {
        // In the target directory and kept between runs: an entry holds 40 to 50 MB of
        // compiled code, which /tmp should not collect, and compiling costs tens of seconds,
        // which a rerun need not pay again. Entries of older builds go.
        let cache_dir = component_dir().join("../../polyglot/artifact-cache");
        std::fs::create_dir_all(&cache_dir).expect("create the artifact cache directory");
        let current: Vec<String> = COMPONENTS
            .iter()
            .filter_map(|c| std::fs::read(component_dir().join(format!("{c}.wasm"))).ok())
            .map(|bytes| hex::encode(sha2::Sha256::digest(bytes)))
            .collect();
        for entry in std::fs::read_dir(&cache_dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !current.iter().any(|digest| name.contains(digest.as_str())) {
                std::fs::remove_file(&path).unwrap();
            }
        }
        Host {
            runtime: Runtime::new(options(&cache_dir)).expect("runtime"),
            cache_dir,
        }
    })
}

pub fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

pub fn usd(amount: i64) -> Money {
    Money {
        amount,
        currency: "USD".into(),
    }
}

pub fn eur(amount: i64) -> Money {
    Money {
        amount,
        currency: "EUR".into(),
    }
}

pub fn expect_error<T: std::fmt::Debug>(result: Result<T, CallError>) -> GatewayError {
    match result {
        Err(CallError::Gateway(e)) => e,
        other => panic!("expected a gateway error, got {other:?}"),
    }
}

/// The field of an `invalid-input` error.
pub fn invalid_field<T: std::fmt::Debug>(result: Result<T, CallError>) -> String {
    match expect_error(result) {
        GatewayError::InvalidInput(i) => i.field,
        other => panic!("expected invalid input, got {other:?}"),
    }
}

/// The kind of a `not-found` error.
pub fn not_found_kind<T: std::fmt::Debug>(result: Result<T, CallError>) -> String {
    match expect_error(result) {
        GatewayError::NotFound(n) => n.kind,
        other => panic!("expected not found, got {other:?}"),
    }
}

pub fn customer_request(crm_id: &str) -> CustomerRequest {
    CustomerRequest {
        crm_customer_id: crm_id.into(),
        email: Some("ada@example.com".into()),
        name: None,
        phone: None,
        metadata: vec![("crm_customer_id".into(), crm_id.into())],
    }
}

/// A customer and one stored card of `token`.
pub async fn customer_with_card(
    gateway: &Gateway,
    crm_id: &str,
    token: &str,
) -> (String, StoredCard) {
    let customer = gateway
        .ensure_customer(customer_request(crm_id), &format!("cus-{crm_id}"))
        .await
        .unwrap();
    let card = gateway
        .store_card(StoreCardRequest {
            customer: customer.id.clone(),
            token: token.into(),
            make_default: true,
            return_url: None,
            idempotency_key: format!("card-{crm_id}-{token}"),
        })
        .await
        .unwrap();
    (customer.id, card)
}

pub fn charge_request(
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
        description: Some("Mobile plan".into()),
        metadata: vec![("crm_transaction_id".into(), "42".into())],
        capture,
        stored_credential: StoredCredentialUse::MerchantRecurring,
        network_transaction_id: None,
        return_url: None,
        idempotency_key: key.into(),
    }
}

pub fn capture_request(payment: &str, amount: Money) -> CaptureRequest {
    CaptureRequest {
        payment: payment.into(),
        amount,
        final_capture: true,
        metadata: vec![],
        idempotency_key: "capture-1".into(),
    }
}

pub fn void_request(payment: &str) -> VoidRequest {
    VoidRequest {
        payment: payment.into(),
        metadata: vec![],
        idempotency_key: "void-1".into(),
    }
}

pub fn refund_request(payment: &str, amount: Money, key: &str) -> RefundRequest {
    RefundRequest {
        payment: payment.into(),
        amount,
        reason: Some(RefundReason::RequestedByCustomer),
        metadata: vec![],
        idempotency_key: key.into(),
    }
}

pub fn completion(payment: &str, details: &[(&str, &str)], key: &str) -> ActionCompletion {
    ActionCompletion {
        payment: payment.into(),
        details: details
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        idempotency_key: key.into(),
    }
}

/// The payment a succeeded synchronous capture or void left.
pub fn settled(modification: Modification) -> Payment {
    assert_eq!(modification.status, ModificationStatus::Succeeded);
    modification.payment_after.expect("the payment after it")
}

/// Every scenario, as a test of the example `$example`.
#[macro_export]
macro_rules! polyglot_tests {
    ($example:expr) => {
        $crate::polyglot_tests!(@tests $example;
            describes_itself_and_declares_what_it_does,
            customers_and_cards,
            charges_succeed_and_refunds_answer_the_request,
            declines_carry_their_category,
            authorizations_are_captured_or_voided_within_bounds,
            customer_action_then_complete_action,
            webhooks_verified_by_the_host_or_rejected,
            memory_before_the_first_call,
            the_artifact_cache_and_the_cost_of_a_call,
            loads_from_a_service_configuration,
        );
    };
    (@tests $example:expr; $($scenario:ident,)*) => {$(
        #[tokio::test]
        async fn $scenario() {
            $crate::polyglot_scenarios::$scenario(&$example).await
        }
    )*};
}
