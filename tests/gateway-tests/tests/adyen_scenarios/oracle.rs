//! The emulator driven over plain HTTP/1.1, as a browser, Adyen's back office or a test would:
//! its API read with the test's own API key, its pages (the card form, 3-D Secure), and the
//! webhook endpoint registered with it.

use anyhow::{Context, Result, ensure};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{API_KEY, MERCHANT_ACCOUNT, RETURN_URL};
use crate::harness::dechunk;

/// An HTTP answer: status, headers (lower-case names) and body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.body).context("a JSON body")
    }
}

/// The emulator's plain-HTTP side.
pub struct Oracle {
    base: String,
}

impl Oracle {
    pub fn new(base: &str) -> Self {
        Oracle {
            base: base.to_owned(),
        }
    }

    /// The shopper's stored payment methods, as Adyen lists them.
    pub async fn stored_methods(&self, shopper: &str) -> Result<Vec<Value>> {
        let path = format!(
            "/v71/storedPaymentMethods?shopperReference={}&merchantAccount={MERCHANT_ACCOUNT}",
            encode(shopper)
        );
        let answer = self.get(&path).await?;
        ensure!(answer.status == 200, "HTTP {}", answer.status);
        Ok(answer.json()?["storedPaymentMethods"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// The ids of the shopper's stored payment methods.
    pub async fn stored_ids(&self, shopper: &str) -> Result<Vec<String>> {
        Ok(self
            .stored_methods(shopper)
            .await?
            .iter()
            .filter_map(|m| m["id"].as_str().map(str::to_owned))
            .collect())
    }

    /// What waits to settle.
    pub async fn settlements(&self) -> Result<Value> {
        self.get("/_emulator/settlements").await?.json()
    }

    /// `GET` of a page, an admin route or the API.
    pub async fn get(&self, path: &str) -> Result<Answer> {
        self.request("GET", path, &[], b"").await
    }

    /// Submits a form (a page the shopper fills in); the answer, redirects not followed.
    pub async fn submit(&self, path: &str, form: &[(&str, &str)]) -> Result<Answer> {
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        self.request(
            "POST",
            path,
            &[("content-type", "application/x-www-form-urlencoded")],
            body.join("&").as_bytes(),
        )
        .await
    }

    /// The shopper passes (or fails) 3-D Secure on the emulator's redirect page at `url`: the
    /// `redirectResult` the page sends back to the return URL.
    pub async fn authenticate_on_page(&self, url: &str, password: &str) -> Result<String> {
        let path = path_of(url);
        let page = self.get(&path).await?;
        ensure!(
            page.status == 200,
            "the 3-D Secure page answered {}",
            page.status
        );
        let back = self.submit(&path, &[("password", password)]).await?;
        ensure!(
            back.status == 303,
            "leaving the page answered {}",
            back.status
        );
        let location = back.header("location").context("no redirect back")?;
        ensure!(location.starts_with(RETURN_URL), "back to {location}");
        query_value(location, "redirectResult").context("no redirectResult")
    }

    /// Enters a card on the hosted card form at `url` (a card session's `hosted-url`): the
    /// `token` the form hands back to the return URL, and the `state` it carried.
    pub async fn enter_card(
        &self,
        url: &str,
        number: &str,
        month: &str,
        year: &str,
    ) -> Result<(String, String)> {
        let path = path_of(url);
        let return_url = query_value(&path, "return_url").context("return_url")?;
        let state = query_value(&path, "state").context("state")?;
        let page = self.get(&path).await?;
        ensure!(page.status == 200, "the card form answered {}", page.status);
        let form_path = path.split('?').next().unwrap_or(&path).to_owned();
        let back = self
            .submit(
                &form_path,
                &[
                    ("return_url", &return_url),
                    ("state", &state),
                    ("number", number),
                    ("expiryMonth", month),
                    ("expiryYear", year),
                    ("cvc", "737"),
                ],
            )
            .await?;
        ensure!(back.status == 303, "the card form answered {}", back.status);
        let location = back.header("location").context("no redirect back")?;
        ensure!(location.starts_with(&return_url), "back to {location}");
        Ok((
            query_value(location, "token").context("token")?,
            query_value(location, "state").context("state")?,
        ))
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer> {
        let authority = self
            .base
            .strip_prefix("http://")
            .context("plain base URL")?;
        let mut stream = TcpStream::connect(authority).await?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {authority}\r\nx-api-key: {API_KEY}\r\n\
             content-length: {}\r\nconnection: close\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        parse_answer(&raw)
    }
}

/// The path and query of a URL (the emulator's pages are reached over plain HTTP whatever base
/// the plugin used).
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/').map_or("/".into(), |i| rest[i..].to_owned())
}

/// Percent-encodes a form or query value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Decodes a percent-encoded query value (`+` is a space).
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of a query parameter of a URL.
pub fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| decode(k) == name)
        .map(|(_, v)| decode(v))
}

/// Splits a raw HTTP/1.1 answer (de-chunking its body).
fn parse_answer(raw: &[u8]) -> Result<Answer> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("incomplete HTTP message")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .context("status line")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}
