//! What every story of the demo shares: its error, the printer of its steps, and the checks of
//! the service's answers.

use std::time::Duration;

use serde_json::Value;

use crate::client::{ApiClient, ApiResponse};

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
#[error("demo: {0}")]
pub struct DemoError(String);

/// A [`DemoError`] saying `m`.
pub fn err(m: impl Into<String>) -> DemoError {
    DemoError(m.into())
}

/// Prints numbered sections and aligned lines.
pub struct Printer {
    /// Also print the raw JSON of responses.
    pub verbose: bool,
    step: u32,
}

impl Printer {
    /// A printer at the first section.
    pub fn new(verbose: bool) -> Self {
        Printer { verbose, step: 0 }
    }

    /// Starts the next numbered section.
    pub fn section(&mut self, title: &str) {
        self.step += 1;
        println!("\n{}. {title}", self.step);
    }

    /// One aligned line.
    pub fn line(&self, label: &str, value: impl std::fmt::Display) {
        println!("   {label:<22} {value}");
    }

    /// The raw JSON of a response, in verbose mode.
    pub fn raw(&self, r: &ApiResponse) {
        if self.verbose {
            println!(
                "   {}",
                serde_json::to_string_pretty(&r.json)
                    .unwrap_or_default()
                    .replace('\n', "\n   ")
            );
        }
    }
}

/// A JSON value as text: strings unquoted, null as `-`.
pub fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// `r` when its status is one of `ok`, else an error naming `what`.
pub fn expect(r: ApiResponse, ok: &[u16], what: &str) -> Result<ApiResponse, DemoError> {
    if ok.contains(&r.status) {
        Ok(r)
    } else {
        Err(err(format!("{what}: HTTP {} {}", r.status, r.json)))
    }
}

/// `GET path`.
pub async fn get(api: &ApiClient, path: &str) -> Result<ApiResponse, DemoError> {
    api.get(path).await.map_err(err)
}

/// `POST path` with a JSON body.
pub async fn post(api: &ApiClient, path: &str, body: Value) -> Result<ApiResponse, DemoError> {
    api.post(path, body).await.map_err(err)
}

/// Polls `GET path` until `done` holds for its JSON (events arrive by webhook): the last answer,
/// and whether `done` held within `within`.
pub async fn wait_for(
    api: &ApiClient,
    path: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Result<(Value, bool), DemoError> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let r = expect(get(api, path).await?, &[200], path)?;
        if done(&r.json) {
            return Ok((r.json, true));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok((r.json, false));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
