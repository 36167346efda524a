//! The console's browser tests' set-up: the service (Stripe plugin against the emulator, whose
//! test card form serves card sessions) with console users, headless Chromium driven through
//! chromedriver (started on a free port, stopped when dropped), screenshots, and forms posted
//! outside the browser with a session's cookie.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use omnicrm_pay::Service;
use omnicrm_pay::client::ApiClient;
use omnicrm_pay::config::console::{ConsoleUser, Role, hash_password};
use omnicrm_pay::config::{GatewayEntry, ServiceConfig};
use omnicrm_pay::ledger::Durability;
use omnicrm_pay::server::{self, Running};
use stripe_emulator::{Emulator, EmulatorOptions};
use tokio::net::TcpListener;

use super::{RO_KEY, RW_KEY, api_keys, cache_dir, component, stripe_gateway};

/// Chromium, from Debian's `chromium` package.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Its driver, from Debian's `chromium-driver` package.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The console user with the `write` role, and its password.
pub const WRITER: (&str, &str) = ("ops", "ops-password-for-tests");
/// The console user with the `read` role, and its password.
pub const READER: (&str, &str) = ("auditor", "auditor-password-for-tests");
/// The console user with the `admin` role, and its password.
pub const ADMIN: (&str, &str) = ("lead", "lead-password-for-tests");

/// The service with the console, and the emulator behind it.
pub struct ConsoleEnv {
    /// The Stripe emulator.
    pub emulator: Emulator,
    /// The service.
    pub running: Option<Running>,
    /// Its state.
    pub service: Arc<Service>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The API with the read-write key.
    pub api: ApiClient,
    /// The ledger's directory.
    pub dir: tempfile::TempDir,
}

impl ConsoleEnv {
    /// Starts the emulator and the service, with the console users of [`console_users`]. The
    /// reconciler runs only when a test calls it, and flags a charge after one repeat.
    pub async fn start() -> ConsoleEnv {
        let emulator = Emulator::start(EmulatorOptions::default())
            .await
            .expect("emulator");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let secret = emulator.add_webhook_endpoint(&format!("http://{addr}/webhooks/stripe"));
        let dir = tempfile::tempdir().expect("tempdir");
        let gateway = stripe_gateway(&component("omnicrm_stripe_gateway"), &emulator, &secret)
            .with_setting("publishable-key", "pk_test_console")
            .with_setting(
                "card-form-url",
                format!("{}/_emulator/card-form", emulator.base_url()),
            );
        let mut config = ServiceConfig::default();
        config.service.database = dir.path().join("ledger.db");
        config.service.durability = Durability::Normal;
        config.service.api_keys = api_keys();
        config.service.watch_components = false;
        config.service.reconcile_interval_secs = 3600;
        config.service.reconcile_max_attempts = 1;
        config.service.reconcile_backoff_secs = 0;
        config.service.console.users = console_users();
        let mut entry = GatewayEntry::new(gateway);
        entry.default = true;
        config.gateways.insert("stripe".into(), entry);
        config.validate().expect("valid config");
        let mut options = server::runtime_options(&config).unwrap();
        options.cache_dir = Some(cache_dir());
        let service = server::build(&config, options).await.expect("service");
        let running = server::start(&config, service.clone(), Some(listener))
            .await
            .expect("start");
        let base = format!("http://{addr}");
        ConsoleEnv {
            api: ApiClient::new(&base, Some(RW_KEY.into())),
            emulator,
            running: Some(running),
            service,
            base,
            dir,
        }
    }

    /// A console URL (`path` starts with `/console`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the service.
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// The console users of the tests: [`WRITER`], [`READER`] and [`ADMIN`].
pub fn console_users() -> Vec<ConsoleUser> {
    vec![
        ConsoleUser {
            name: WRITER.0.into(),
            password_hash: hash_password(WRITER.1).unwrap(),
            role: Role::Write,
        },
        ConsoleUser {
            name: READER.0.into(),
            password_hash: hash_password(READER.1).unwrap(),
            role: Role::Read,
        },
        ConsoleUser {
            name: ADMIN.0.into(),
            password_hash: hash_password(ADMIN.1).unwrap(),
            role: Role::Admin,
        },
    ]
}

/// The read-only API key, for signing in with a key.
pub const READ_ONLY_KEY: &str = RO_KEY;

/// A chromedriver process in a process group of its own, which the Chromium it starts joins:
/// the whole group is killed when dropped, so that no browser outlives a test, even one that
/// failed before closing its session.
pub struct Driver {
    child: Child,
    /// Its WebDriver URL.
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = i32::try_from(self.child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw);
        match group {
            Some(group) => {
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            }
            None => {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}

/// A headless Chromium session and the driver behind it; the profile directory goes with it.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium with a fresh profile. Fails
    /// (never skips) when Chromium or its driver is missing.
    pub async fn start() -> Browser {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                std::path::Path::new(path).exists(),
                "{path} is missing: install Debian's `{package}` package \
                 (`cargo xtask test` installs chromium and chromium-driver when missing)"
            );
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().unwrap().port()
        };
        let child = Command::new(CHROMEDRIVER)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1366,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let caps = caps.as_object().unwrap().clone();
        let mut last_error = String::new();
        for _ in 0..100 {
            let connector = HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&driver.url)
                .await
            {
                Ok(client) => {
                    client
                        .set_window_size(1366, 900)
                        .await
                        .expect("window size");
                    return Browser {
                        client,
                        _driver: driver,
                        _profile: profile,
                    };
                }
                Err(e) => {
                    last_error = e.to_string();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("chromedriver did not start a Chromium session: {last_error}");
    }

    /// Opens a URL.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigating");
    }

    /// The element `css` selects, waiting up to 10 s for it (a click that submits a form
    /// returns before the next page is there); fails with the page shown.
    async fn element(&self, css: &str) -> fantoccini::elements::Element {
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(e) => e,
            Err(e) => {
                let url = self.url().await;
                let source = self.client.source().await.unwrap_or_default();
                if let Ok(png) = self.client.screenshot().await {
                    let _ = save_screenshot("failure", &png);
                }
                panic!("no element {css} on {url}: {e}\n{source}");
            }
        }
    }

    /// The text of the element `css` selects (waiting for it up to 10 s).
    pub async fn text(&self, css: &str) -> String {
        self.element(css).await.text().await.expect("text")
    }

    /// The text of the element `css` selects, if there is one now (none while the page
    /// reloads).
    pub async fn try_text(&self, css: &str) -> Option<String> {
        let e = self.client.find(Locator::Css(css)).await.ok()?;
        e.text().await.ok()
    }

    /// Whether the page stays as it is (not reloaded, not left) for `time`: the element `css`
    /// selects now is still there afterwards.
    pub async fn stays(&self, css: &str, time: Duration) -> bool {
        let e = self.element(css).await;
        tokio::time::sleep(time).await;
        e.text().await.is_ok()
    }

    /// Whether an element matches `css`.
    pub async fn has(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find")
            .is_empty()
    }

    /// Types `text` into the field `css` selects.
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        e.clear().await.expect("clear");
        e.send_keys(text).await.expect("typing");
    }

    /// Clicks the element `css` selects.
    pub async fn click(&self, css: &str) {
        self.element(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    /// Clicks the element `css` selects, a link or a form's button, and waits for the page it
    /// leads to: the click returns before the browser has left the page, and what is read
    /// next must be read on the next page.
    pub async fn submit(&self, css: &str) {
        let page = self
            .client
            .find(Locator::Css("html"))
            .await
            .expect("the page's root");
        self.click(css).await;
        let mut left = false;
        for _ in 0..100 {
            // The root of a page the browser has left is stale.
            if page.tag_name().await.is_err() {
                left = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(left, "clicking {css} did not leave {}", self.url().await);
        self.loaded().await;
    }

    /// Picks the option of value `value` in the select `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.element(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("selecting {value} in {css}: {e}"));
    }

    /// The page's URL.
    pub async fn url(&self) -> String {
        self.client.current_url().await.expect("url").to_string()
    }

    /// The CSRF token of the page's forms.
    pub async fn csrf(&self) -> String {
        self.element("input[name=csrf]")
            .await
            .prop("value")
            .await
            .expect("the token's value")
            .expect("a token")
    }

    /// The session cookie's value.
    pub async fn session_cookie(&self) -> String {
        self.client
            .get_named_cookie(omnicrm_pay::console::session::COOKIE)
            .await
            .expect("the session cookie")
            .value()
            .to_string()
    }

    /// Saves a screenshot of the page as `target/console-screenshots/NAME.png`, once the page
    /// has loaded: a screenshot taken while a navigation starts is aborted by it, so that is
    /// retried.
    pub async fn screenshot(&self, name: &str) {
        let mut attempt = 0;
        let png = loop {
            attempt += 1;
            self.loaded().await;
            match self.client.screenshot().await {
                Ok(png) => break png,
                Err(e) if attempt < 5 => {
                    eprintln!("screenshot {name}, attempt {attempt}: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("screenshot {name}: {e}"),
            }
        };
        save_screenshot(name, &png).expect("writing the screenshot");
    }

    /// Waits up to 10 s for the page to finish loading.
    async fn loaded(&self) {
        for _ in 0..100 {
            let state = self
                .client
                .execute("return document.readyState", vec![])
                .await;
            if matches!(state, Ok(serde_json::Value::String(s)) if s == "complete") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Signs in on the console at `base` with a name and password.
    pub async fn sign_in(&self, base: &str, (name, password): (&str, &str)) {
        self.goto(&format!("{base}/console/sign-in")).await;
        self.fill("#name", name).await;
        self.fill("#password", password).await;
        self.submit("#sign-in").await;
        let who = self.text("#operator").await;
        assert!(who.starts_with(name), "signed in as {who}");
    }

    /// Ends the browser session.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// Writes `png` as `NAME.png` where screenshots go.
fn save_screenshot(name: &str, png: &[u8]) -> std::io::Result<()> {
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("{name}.png")), png)
}

/// Where screenshots go: `target/console-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("console-screenshots")
}

/// Posts a URL-encoded form to `url` with the session cookie `session` (as a page of another
/// site, or a script, would): the status and the body.
pub async fn post_form(url: &str, session: &str, form: &[(&str, &str)]) -> (u16, String) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let client =
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .build::<_, Full<bytes::Bytes>>(HttpConnector::new());
    let request = http::Request::post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "cookie",
            format!("{}={session}", omnicrm_pay::console::session::COOKIE),
        )
        .body(Full::new(bytes::Bytes::from(body)))
        .unwrap();
    let response = client.request(request).await.expect("posting the form");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Gets a page with the session cookie `session`: the status, the headers and the body.
pub async fn get_page(url: &str, session: &str) -> (u16, http::HeaderMap, String) {
    let client =
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .build::<_, Full<bytes::Bytes>>(HttpConnector::new());
    let request = http::Request::get(url)
        .header(
            "cookie",
            format!("{}={session}", omnicrm_pay::console::session::COOKIE),
        )
        .body(Full::new(bytes::Bytes::new()))
        .unwrap();
    let response = client.request(request).await.expect("getting the page");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}
