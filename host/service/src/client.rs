//! A small JSON client of the service's HTTP API, used by the demo (and handy in tests).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// A response: status, headers and JSON body (`Value::Null` when not JSON).
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// The body as JSON.
    pub json: Value,
    /// The raw body.
    pub raw: Bytes,
}

impl ApiResponse {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A client of one service instance.
#[derive(Clone)]
pub struct ApiClient {
    base: String,
    key: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl ApiClient {
    /// A client of `base` (`http://127.0.0.1:PORT`) sending `key` as its API key.
    pub fn new(base: impl Into<String>, key: Option<String>) -> Self {
        ApiClient {
            base: base.into().trim_end_matches('/').to_string(),
            key,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// The same client with another key (or none).
    pub fn with_key(&self, key: Option<String>) -> Self {
        ApiClient {
            key,
            ..self.clone()
        }
    }

    /// Sends a request with a raw body and extra headers.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Result<ApiResponse, String> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        if let Some(k) = &self.key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let raw = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?
            .to_bytes();
        let json = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Ok(ApiResponse {
            status,
            headers,
            json,
            raw,
        })
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Result<ApiResponse, String> {
        self.send("GET", path, None, &[]).await
    }

    /// POST a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Result<ApiResponse, String> {
        self.send("POST", path, Some(body.to_string().into_bytes()), &[])
            .await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> Result<ApiResponse, String> {
        self.send("DELETE", path, None, &[]).await
    }
}
