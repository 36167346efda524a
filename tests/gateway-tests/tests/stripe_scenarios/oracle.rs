//! The emulator's API read directly (the tests' oracle) over plain HTTP/1.1, and the webhook
//! endpoint registered with the emulator.

use anyhow::{Context, Result, ensure};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::dechunk;

/// Reads the emulator's API directly.
pub struct Oracle {
    pub(super) base: String,
}

impl Oracle {
    /// `GET path` (with query), JSON body; fails on non-2xx.
    pub async fn get(&self, path: &str) -> Result<Value> {
        self.request("GET", path, "").await
    }

    /// `POST path` with a form body.
    pub async fn post(&self, path: &str, form: &str) -> Result<Value> {
        self.request("POST", path, form).await
    }

    /// The PaymentIntent `id`.
    pub async fn payment_intent(&self, id: &str) -> Result<Value> {
        self.get(&format!("/v1/payment_intents/{id}")).await
    }

    /// Every PaymentIntent of `customer`.
    pub async fn intents_of(&self, customer: &str) -> Result<Vec<Value>> {
        self.list_all(&format!("/v1/payment_intents?customer={customer}"))
            .await
    }

    /// Every object of a list, page after page.
    pub async fn list_all(&self, path: &str) -> Result<Vec<Value>> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let mut url = format!("{path}{sep}limit=100");
            if let Some(a) = &after {
                url.push_str(&format!("&starting_after={a}"));
            }
            let page = self.get(&url).await?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            after = data
                .last()
                .and_then(|o| o["id"].as_str())
                .map(str::to_owned);
            all.extend(data);
            if page["has_more"] != Value::Bool(true) || after.is_none() {
                return Ok(all);
            }
        }
    }

    async fn request(&self, method: &str, path: &str, form: &str) -> Result<Value> {
        let authority = self
            .base
            .strip_prefix("http://")
            .context("plain base URL")?;
        let mut stream = TcpStream::connect(authority).await?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nhost: {authority}\r\nauthorization: Bearer sk_test_oracle\r\n\
             stripe-version: 2025-03-31.basil\r\ncontent-type: application/x-www-form-urlencoded\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{form}",
            form.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        let (head, body) = split_http(&raw)?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("status line")?;
        let value: Value =
            serde_json::from_slice(&body).with_context(|| format!("JSON from {path}"))?;
        ensure!(
            (200..300).contains(&status),
            "{method} {path}: HTTP {status}: {value}"
        );
        Ok(value)
    }
}

/// Splits a raw HTTP/1.1 message into its head and its (de-chunked) body.
fn split_http(raw: &[u8]) -> Result<(String, Vec<u8>)> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("incomplete HTTP message")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut body = raw[end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body)?;
    }
    Ok((head, body))
}
