//! The console's limits on failed sign-ins, over real HTTP against the service on loopback (no
//! browser: the sign-in form is posted with its session's cookie and CSRF token): a name locked
//! after too many wrong passwords, even for the right one, answered 429 with `Retry-After` and
//! without checking the password, an unknown name answered alike, and the per-address limit
//! counting every name and API key (every test client is on 127.0.0.1).

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use omnicrm_host::config::{GatewayConfig, SecretSource};
use omnicrm_pay::config::console::ConsoleSettings;
use omnicrm_pay::config::{GatewayEntry, ServiceConfig};
use omnicrm_pay::ledger::Durability;
use omnicrm_pay::server::{self, Running};
use tokio::net::TcpListener;

use crate::common::browser::{READ_ONLY_KEY, READER, WRITER, console_users};
use crate::common::{api_keys, cache_dir, component};

/// The service (with the offline plugin: sign-in needs no gateway) and its console users
/// [`WRITER`] and [`READER`], with these sign-in limits.
struct Console {
    running: Running,
    base: String,
    http: Client<HttpConnector, Full<bytes::Bytes>>,
    _dir: tempfile::TempDir,
}

/// What a sign-in answered.
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: String,
    took: Duration,
}

/// A sign-in form's session: its cookie and CSRF token.
struct Form {
    cookie: String,
    csrf: String,
}

impl Console {
    async fn start(per_name: u32, per_address: u32) -> Console {
        let dir = tempfile::tempdir().expect("tempdir");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut config = ServiceConfig::default();
        config.service.database = dir.path().join("ledger.db");
        config.service.durability = Durability::Normal;
        config.service.api_keys = api_keys();
        config.service.watch_components = false;
        config.service.reconcile_interval_secs = 3600;
        config.service.console = ConsoleSettings {
            users: console_users(),
            sign_in_failures_per_name: per_name,
            sign_in_failures_per_address: per_address,
            ..ConsoleSettings::default()
        };
        let offline = GatewayConfig::new(component("omnicrm_offline_gateway"))
            .with_secret("webhook-secret", SecretSource::value("whsec_offline"));
        let mut entry = GatewayEntry::new(offline);
        entry.default = true;
        config.gateways.insert("offline".into(), entry);
        config.validate().expect("valid config");
        let mut options = server::runtime_options(&config).unwrap();
        options.cache_dir = Some(cache_dir());
        let service = server::build(&config, options).await.expect("service");
        let running = server::start(&config, service, Some(listener))
            .await
            .expect("start");
        Console {
            running,
            base: format!("http://{addr}"),
            http: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
            _dir: dir,
        }
    }

    /// Opens the sign-in page: a new session's cookie and its CSRF token.
    async fn form(&self) -> Form {
        let request = http::Request::get(format!("{}/console/sign-in", self.base))
            .body(Full::new(bytes::Bytes::new()))
            .unwrap();
        let response = self.http.request(request).await.expect("the sign-in page");
        assert_eq!(response.status(), 200);
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").to_string())
            .find(|c| c.starts_with(omnicrm_pay::console::session::COOKIE))
            .expect("the sign-in page sets the session cookie");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let html = String::from_utf8_lossy(&body);
        let csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("the form's CSRF token")
            .to_string();
        Form { cookie, csrf }
    }

    /// Posts the sign-in form of `form` with `fields`.
    async fn post(&self, form: &Form, fields: &[(&str, &str)]) -> Answer {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", &form.csrf)
            .extend_pairs(fields)
            .finish();
        let request = http::Request::post(format!("{}/console/sign-in", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &form.cookie)
            .body(Full::new(bytes::Bytes::from(body)))
            .unwrap();
        let started = Instant::now();
        let response = self.http.request(request).await.expect("posting the form");
        let took = started.elapsed();
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("Retry-After is not a number of seconds: {v:?}"))
        });
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            retry_after,
            body: String::from_utf8_lossy(&body).into_owned(),
            took,
        }
    }

    /// Signs in with a name and password.
    async fn password(&self, form: &Form, name: &str, password: &str) -> Answer {
        self.post(form, &[("name", name), ("password", password)])
            .await
    }

    /// Signs in with an API key.
    async fn key(&self, form: &Form, key: &str) -> Answer {
        self.post(form, &[("api_key", key)]).await
    }
}

/// A refusal of a locked name or address: 429, a `Retry-After` within the lockout (15 minutes
/// by default), the page saying to wait and about how long, the form still there.
fn assert_locked(answer: &Answer) {
    assert_eq!(answer.status, 429, "{}", answer.body);
    let seconds = answer.retry_after.expect("a Retry-After header");
    assert!((600..=900).contains(&seconds), "Retry-After: {seconds}");
    let wait = format!(
        "Too many failed sign-ins: wait about {} minutes, then try again.",
        seconds.div_ceil(60)
    );
    assert!(answer.body.contains(&wait), "{wait}\n{}", answer.body);
    assert!(answer.body.contains("id=\"password-form\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_lock_a_name_out_even_for_its_right_password() {
    let console = Console::start(3, 100).await;
    let form = console.form().await;

    let mut checked = Vec::new();
    for _ in 0..3 {
        let wrong = console.password(&form, WRITER.0, "not the password").await;
        assert_eq!(wrong.status, 401, "{}", wrong.body);
        assert!(wrong.body.contains("not valid") && wrong.retry_after.is_none());
        checked.push(wrong.took);
    }
    // Locked: the right password is refused too, and so are more wrong ones.
    let right = console.password(&form, WRITER.0, WRITER.1).await;
    assert_locked(&right);
    let mut refused = vec![right.took];
    for _ in 0..3 {
        let again = console.password(&form, WRITER.0, "guess").await;
        assert_locked(&again);
        refused.push(again.took);
    }

    // A name no user has is counted and refused exactly alike: the same page, word for word
    // (the same session, so the same CSRF token).
    for _ in 0..3 {
        let wrong = console.password(&form, "nobody", "not the password").await;
        assert_eq!(wrong.status, 401, "{}", wrong.body);
        checked.push(wrong.took);
    }
    let unknown = console.password(&form, "nobody", "guess").await;
    assert_locked(&unknown);
    assert_eq!(unknown.body, right.body);
    refused.push(unknown.took);

    // While locked no password is checked: a refusal takes a small part of the time of an
    // argon2 check (the median, so that one refusal slowed down by the machine does not count).
    let quickest_check = *checked.iter().min().unwrap();
    refused.sort();
    let median_refusal = refused[refused.len() / 2];
    assert!(
        median_refusal * 10 < quickest_check,
        "refusals took {refused:?}, the quickest password check {quickest_check:?}"
    );

    // The limit is per name: another user signs in from the same address.
    let reader = console.password(&form, READER.0, READER.1).await;
    assert_eq!(reader.status, 303, "{}", reader.body);
    // And the writer's name stays locked.
    let form = console.form().await;
    assert_locked(&console.password(&form, WRITER.0, WRITER.1).await);
    console.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_clears_the_names_failures() {
    let console = Console::start(3, 100).await;
    let form = console.form().await;
    for _ in 0..2 {
        let wrong = console.password(&form, WRITER.0, "not the password").await;
        assert_eq!(wrong.status, 401, "{}", wrong.body);
    }
    let right = console.password(&form, WRITER.0, WRITER.1).await;
    assert_eq!(right.status, 303, "{}", right.body);
    // Counted from zero again: two more failures do not lock the name.
    let form = console.form().await;
    for _ in 0..2 {
        let wrong = console.password(&form, WRITER.0, "not the password").await;
        assert_eq!(wrong.status, 401, "{}", wrong.body);
    }
    let right = console.password(&form, WRITER.0, WRITER.1).await;
    assert_eq!(right.status, 303, "{}", right.body);
    console.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_limit_counts_every_name_and_api_key() {
    let console = Console::start(100, 4).await;
    let form = console.form().await;
    let wrong = console.password(&form, "someone", "guess").await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let wrong = console.key(&form, "not-a-key").await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    // A success in between does not reset the address's count (one good account must not
    // let an address guess others' passwords without end).
    let good = console.key(&form, READ_ONLY_KEY).await;
    assert_eq!(good.status, 303, "{}", good.body);
    let form = console.form().await;
    let wrong = console.password(&form, "someone else", "guess").await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let wrong = console.key(&form, "another-wrong-key").await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    // Four failures from 127.0.0.1: every sign-in from it is refused, whatever the name, the
    // password or the key.
    assert_locked(&console.password(&form, WRITER.0, WRITER.1).await);
    assert_locked(&console.password(&form, READER.0, READER.1).await);
    assert_locked(&console.key(&form, READ_ONLY_KEY).await);
    console.running.shutdown().await;
}
