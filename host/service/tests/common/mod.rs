//! Shared set-up of the service tests: the Stripe emulator, the Stripe plugin, a ledger in a
//! temporary directory and the service on a loopback port, driven over real HTTP. The Adyen
//! set-up is in [`adyen`], what the crash tests share in [`crash`].
#![allow(dead_code)]

pub mod adyen;
pub mod browser;
pub mod crash;
pub mod postgres;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use omnicrm_host::config::{GatewayConfig, OutboundAuth, SecretSource};
use omnicrm_pay::Service;
use omnicrm_pay::client::{ApiClient, ApiResponse};
use omnicrm_pay::config::{ApiKeyConfig, GatewayEntry, Scope, ServiceConfig, hash_api_key};
use omnicrm_pay::ledger::{Durability, NewCard};
use omnicrm_pay::server::{self, Running};
use serde_json::{Value, json};
use stripe_emulator::{Emulator, EmulatorOptions};
use tokio::net::TcpListener;

/// The read-write key of the tests.
pub const RW_KEY: &str = "test-key-read-write";
/// The read-only key.
pub const RO_KEY: &str = "test-key-read-only";

/// The workspace's target directory.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// Where the built components are (see [`omnicrm_host::built::component_dir`]).
pub fn component_dir() -> PathBuf {
    omnicrm_host::built::component_dir()
}

/// A built component, by crate name; fails with the command that builds it.
pub fn component(name: &str) -> PathBuf {
    omnicrm_host::built::component_path(name).unwrap_or_else(|missing| panic!("{missing}"))
}

/// A compiled-artifact cache shared by the tests (compiling a component is the slow part).
pub fn cache_dir() -> PathBuf {
    target_dir().join("omnicrm-service-test-cache")
}

/// The API keys of the tests.
pub fn api_keys() -> Vec<ApiKeyConfig> {
    vec![
        ApiKeyConfig {
            name: "crm".into(),
            sha256: hash_api_key(RW_KEY),
            scopes: vec![Scope::Read, Scope::Write],
        },
        ApiKeyConfig {
            name: "reports".into(),
            sha256: hash_api_key(RO_KEY),
            scopes: vec![Scope::Read],
        },
    ]
}

/// The Stripe plugin's configuration against an emulator.
pub fn stripe_gateway(
    component: &Path,
    emulator: &Emulator,
    webhook_secret: &str,
) -> GatewayConfig {
    GatewayConfig::new(component)
        .allow_host(emulator.base_url())
        .with_auth(OutboundAuth::Bearer {
            secret: "api-key".into(),
        })
        .with_secret("api-key", SecretSource::value("sk_test_service_tests"))
        .with_secret("webhook-secret", SecretSource::value(webhook_secret))
        .with_setting("base-url", emulator.base_url())
}

/// A running test environment.
pub struct Env {
    pub emulator: Emulator,
    pub running: Option<Running>,
    pub service: Arc<Service>,
    pub config: ServiceConfig,
    pub dir: tempfile::TempDir,
    pub api: ApiClient,
    pub read_only: ApiClient,
    pub anonymous: ApiClient,
    pub webhook_secret: String,
    pub base: String,
    /// The gateway's calls, when counted ([`EnvOptions::count_gateway_calls`]).
    pub calls: Option<CallCounter>,
}

/// Options of [`start`].
#[derive(Default)]
pub struct EnvOptions {
    /// Stripe plugin settings to add.
    pub settings: Vec<(&'static str, &'static str)>,
    /// Component file to load as `stripe` (default: the built Stripe plugin).
    pub component: Option<PathBuf>,
    /// Watch the component file (every 100 ms).
    pub watch: bool,
    /// Do not register the service as the emulator's webhook endpoint.
    pub no_webhooks: bool,
    /// Pace the Stripe gateway's calls.
    pub requests_per_second: Option<f64>,
    /// Also configure the offline plugin as gateway `offline` (webhook secret `whsec_offline`).
    pub with_offline: bool,
    /// `[service] authorization_max_age_secs` (default: the service's).
    pub authorization_max_age_secs: Option<u64>,
    /// `[service] action_expiry_secs` (default: the service's).
    pub action_expiry_secs: Option<u64>,
    /// Start the emulator without Stripe's customer search (as on accounts that lack it).
    pub no_customer_search: bool,
    /// Send the plugin's calls through a [`CallCounter`] in front of the emulator.
    pub count_gateway_calls: bool,
    /// The component loaded as `offline` with [`EnvOptions::with_offline`] (default: the built
    /// offline plugin, `omnicrm_offline_gateway`).
    pub offline_component: Option<&'static str>,
}

/// Starts the emulator and the service with the Stripe plugin.
pub async fn start(opts: EnvOptions) -> Env {
    let emulator = Emulator::start(EmulatorOptions {
        customer_search: !opts.no_customer_search,
        ..EmulatorOptions::default()
    })
    .await
    .expect("emulator");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let webhook_secret = if opts.no_webhooks {
        "whsec_not_registered".to_string()
    } else {
        emulator.add_webhook_endpoint(&format!("http://{addr}/webhooks/stripe"))
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let component = opts
        .component
        .clone()
        .unwrap_or_else(|| component("omnicrm_stripe_gateway"));
    let calls = if opts.count_gateway_calls {
        Some(CallCounter::start(emulator.base_url()).await)
    } else {
        None
    };
    let mut gc = stripe_gateway(&component, &emulator, &webhook_secret);
    if let Some(c) = &calls {
        gc = gc
            .allow_host(&c.url)
            .with_setting("base-url", c.url.clone());
    }
    for (k, v) in &opts.settings {
        gc = gc.with_setting(*k, *v);
    }
    let mut config = ServiceConfig::default();
    config.service.database = dir.path().join("ledger.db");
    config.service.durability = Durability::Normal;
    config.service.api_keys = api_keys();
    config.service.watch_components = opts.watch;
    config.service.watch_interval_ms = 100;
    config.service.reconcile_interval_secs = 3600;
    if let Some(age) = opts.authorization_max_age_secs {
        config.service.authorization_max_age_secs = age;
    }
    if let Some(expiry) = opts.action_expiry_secs {
        config.service.action_expiry_secs = expiry;
    }
    let mut entry = GatewayEntry::new(gc);
    entry.default = true;
    entry.requests_per_second = opts.requests_per_second;
    config.gateways.insert("stripe".into(), entry);
    if opts.with_offline {
        let name = opts.offline_component.unwrap_or("omnicrm_offline_gateway");
        let offline = GatewayConfig::new(self::component(name))
            .with_secret("webhook-secret", SecretSource::value("whsec_offline"));
        config
            .gateways
            .insert("offline".into(), GatewayEntry::new(offline));
    }
    config.validate().expect("valid config");
    let mut options = server::runtime_options(&config).unwrap();
    options.cache_dir = Some(cache_dir());
    let service = server::build(&config, options).await.expect("service");
    let running = server::start(&config, service.clone(), Some(listener))
        .await
        .expect("start");
    let base = format!("http://{addr}");
    Env {
        api: ApiClient::new(&base, Some(RW_KEY.into())),
        read_only: ApiClient::new(&base, Some(RO_KEY.into())),
        anonymous: ApiClient::new(&base, None),
        emulator,
        running: Some(running),
        service,
        config,
        dir,
        webhook_secret,
        base,
        calls,
    }
}

/// A loopback proxy in front of the emulator that forwards the plugin's requests and counts them
/// by method and path: how many calls reached the gateway.
pub struct CallCounter {
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl CallCounter {
    /// Starts a proxy to `upstream`.
    pub async fn start(upstream: &str) -> CallCounter {
        use axum::body::{Body, Bytes};
        use axum::extract::{Request, State};
        use axum::response::{IntoResponse, Response};
        use http_body_util::{BodyExt, Full};
        use hyper_util::client::legacy::Client;
        use hyper_util::client::legacy::connect::HttpConnector;
        use hyper_util::rt::TokioExecutor;

        type Upstream = (
            Client<HttpConnector, Full<Bytes>>,
            String,
            Arc<Mutex<Vec<(String, String)>>>,
        );
        async fn forward(
            State((client, upstream, seen)): State<Upstream>,
            req: Request,
        ) -> Response {
            let (parts, body) = req.into_parts();
            seen.lock()
                .unwrap()
                .push((parts.method.to_string(), parts.uri.path().to_string()));
            let body = body.collect().await.unwrap().to_bytes();
            let path = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let mut out = http::Request::builder()
                .method(parts.method)
                .uri(format!("{upstream}{path}"));
            for (k, v) in &parts.headers {
                if k != http::header::HOST {
                    out = out.header(k, v);
                }
            }
            match client.request(out.body(Full::new(body)).unwrap()).await {
                Ok(resp) => {
                    let (parts, body) = resp.into_parts();
                    let body = body.collect().await.unwrap().to_bytes();
                    Response::from_parts(parts, Body::from(body))
                }
                Err(e) => (http::StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
            }
        }

        let seen = Arc::new(Mutex::new(Vec::new()));
        let client = Client::builder(TokioExecutor::new()).build_http();
        let app = axum::Router::new().fallback(forward).with_state((
            client,
            upstream.trim_end_matches('/').to_string(),
            seen.clone(),
        ));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        CallCounter { url, seen }
    }

    /// The calls so far whose method is `method` and whose path starts with `prefix` and ends
    /// with `suffix`.
    pub fn count(&self, method: &str, prefix: &str, suffix: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, p)| m == method && p.starts_with(prefix) && p.ends_with(suffix))
            .count()
    }
}

/// Links the customer `fields` describe (`customer_id`, and any other field of
/// `POST /v1/customers`) and stores `token` as its card, through `api`; returns the card id.
pub async fn customer_with_card(api: &ApiClient, fields: Value, token: &str) -> i64 {
    let customer = fields["customer_id"]
        .as_str()
        .expect("a customer_id")
        .to_string();
    let r = api.post("/v1/customers", fields).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.json);
    add_card(api, &customer, token).await
}

/// Stores `token` as a card of `customer` (any text: it is percent-encoded in the path), through
/// `api`; returns the card's id.
pub async fn add_card(api: &ApiClient, customer: &str, token: &str) -> i64 {
    let path = form_urlencoded::byte_serialize(customer.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    let r = api
        .post(
            &format!("/v1/customers/{path}/cards"),
            json!({ "token": token }),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_i64().unwrap()
}

impl Env {
    /// Links `customer` and stores `token` as its card; returns the card id.
    pub async fn customer_with_card(&self, customer: &str, token: &str) -> i64 {
        customer_with_card(&self.api, json!({ "customer_id": customer }), token).await
    }

    /// Stores a card; returns its id.
    pub async fn add_card(&self, customer: &str, token: &str) -> i64 {
        add_card(&self.api, customer, token).await
    }

    /// Creates a transaction; returns the response.
    pub async fn charge(&self, body: Value) -> ApiResponse {
        self.post("/v1/transactions", body).await
    }

    /// Invoices `customer`'s uninvoiced USD transactions; returns the response.
    pub async fn create_invoice(&self, customer: &str) -> ApiResponse {
        self.post(
            "/v1/invoices",
            json!({ "customer_id": customer, "currency": "USD" }),
        )
        .await
    }

    /// `GET path` with the read-write key.
    pub async fn get(&self, path: &str) -> ApiResponse {
        self.api.get(path).await.unwrap()
    }

    /// `POST path` with the read-write key.
    pub async fn post(&self, path: &str, body: Value) -> ApiResponse {
        self.api.post(path, body).await.unwrap()
    }

    /// `POST path` with the read-write key and an `Idempotency-Key`.
    pub async fn post_with_key(&self, path: &str, key: &str, body: Value) -> ApiResponse {
        self.api
            .send(
                "POST",
                path,
                Some(body.to_string().into_bytes()),
                &[("idempotency-key", key)],
            )
            .await
            .unwrap()
    }

    /// The transactions of the ledger, as the API lists them.
    pub async fn transactions(&self) -> Vec<Value> {
        let r = self.get("/v1/transactions?limit=1000").await;
        assert_eq!(r.status, 200, "{}", r.json);
        r.json["transactions"].as_array().unwrap().clone()
    }

    /// `DELETE path` with the read-write key.
    pub async fn delete(&self, path: &str) -> ApiResponse {
        self.api.delete(path).await.unwrap()
    }

    /// The emulator's API, as the customer's browser or the Stripe dashboard would use it.
    pub fn stripe_api(&self) -> ApiClient {
        ApiClient::new(
            self.emulator.base_url(),
            Some("sk_test_service_tests".into()),
        )
    }

    /// Links `customer` with a default card that asks for 3-D Secure on every payment (4000 0027
    /// 6000 3184); returns the card's id. Storing it through the API asks for authentication (its
    /// SetupIntent), so the card is attached at the gateway and recorded as if the customer had
    /// authenticated it then.
    pub async fn sca_customer(&self, customer: &str) -> i64 {
        let r = self
            .post("/v1/customers", json!({ "customer_id": customer }))
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        let gateway_customer = r.json["gateway_customer_ref"].as_str().unwrap();
        let form = format!("customer={gateway_customer}");
        let r = self
            .stripe_api()
            .send(
                "POST",
                "/v1/payment_methods/pm_card_authenticationRequired/attach",
                Some(form.into_bytes()),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.json);
        let card = NewCard {
            crm_customer_id: customer.into(),
            gateway: "stripe".into(),
            gateway_card_ref: r.json["id"].as_str().unwrap().into(),
            brand: "visa".into(),
            last4: "3184".into(),
            exp_month: 12,
            exp_year: 2034,
            funding: "credit".into(),
            fingerprint: None,
            nickname: None,
            make_default: true,
            network_transaction_id: None,
        };
        self.service.db.ledger().insert_card(&card).unwrap().id
    }

    /// Every payment intent at the emulator.
    pub async fn payment_intents(&self) -> Vec<Value> {
        emulator_list(self.emulator.base_url(), "payment_intents").await
    }

    /// Stops the service.
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// Every object of a Stripe list endpoint of the emulator (all pages).
pub async fn emulator_list(base: &str, resource: &str) -> Vec<Value> {
    let client = ApiClient::new(base, Some("sk_test_service_tests".into()));
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/{resource}?limit=100&starting_after={a}"),
            None => format!("/v1/{resource}?limit=100"),
        };
        let r = client.get(&path).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.json);
        let data = r.json["data"].as_array().cloned().unwrap_or_default();
        after = data
            .last()
            .and_then(|o| o["id"].as_str())
            .map(str::to_string);
        out.extend(data);
        if r.json["has_more"] != json!(true) || after.is_none() {
            break;
        }
    }
    out
}

/// Asserts that `r` is an error with HTTP status `status` naming the input `field`.
#[track_caller]
pub fn expect_error(r: &ApiResponse, status: u16, field: &str) {
    assert_eq!(
        (r.status, r.json["error"]["field"].as_str()),
        (status, Some(field)),
        "{}",
        r.json
    );
}

/// Asserts that `r` is an error with HTTP status `status` and error code `code`.
#[track_caller]
pub fn expect_error_code(r: &ApiResponse, status: u16, code: &str) {
    assert_eq!(
        (r.status, r.json["error"]["code"].as_str()),
        (status, Some(code)),
        "{}",
        r.json
    );
}

/// Asserts that `r` has HTTP status `status` and an object whose `status` is `state`.
#[track_caller]
pub fn expect_state(r: &ApiResponse, status: u16, state: &str) {
    assert_eq!(
        (r.status, r.json["status"].as_str()),
        (status, Some(state)),
        "{}",
        r.json
    );
}
