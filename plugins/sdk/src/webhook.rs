//! Helpers for `handle-webhook`: reading the request's headers, building the answer, and the
//! rejection a MAC failure stands for.

use crate::mac::{self, CredentialError};
use crate::webhooks::{Rejection, WebhookRequest, WebhookResponse};

impl WebhookRequest {
    /// The values of a header (name compared case-insensitively), in the order received.
    pub fn header_values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.header_values(name).next()
    }
}

impl WebhookResponse {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        WebhookResponse {
            status,
            content_type: Some("application/json".into()),
            body: body.into(),
        }
    }

    /// `status` with a plain-text body (Adyen expects `[accepted]`).
    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> Self {
        WebhookResponse {
            status,
            content_type: Some("text/plain".into()),
            body: body.into(),
        }
    }
}

impl Rejection {
    /// The rejection of a request whose signature the host could not check with the secret
    /// `secret`: `not-configured` when the secret is missing or unusable as a key, `malformed`
    /// when the signed message is larger than the host accepts.
    pub fn from_credential_error(secret: &str, error: &CredentialError) -> Self {
        match error {
            CredentialError::TooLarge => {
                Rejection::Malformed("the request is larger than the host verifies".into())
            }
            other => Rejection::NotConfigured(mac::describe_error(secret, other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_answers_and_rejections() {
        let request = WebhookRequest {
            method: "POST".into(),
            path: "/webhooks/x".into(),
            query: String::new(),
            headers: vec![
                ("stripe-signature".into(), b"a".to_vec()),
                ("Stripe-Signature".into(), b"b".to_vec()),
            ],
            body: Vec::new(),
        };
        assert_eq!(request.header("STRIPE-SIGNATURE"), Some(&b"a"[..]));
        assert_eq!(request.header_values("stripe-signature").count(), 2);
        assert!(request.header("other").is_none());
        let ok = WebhookResponse::json(200, r#"{"received":true}"#);
        assert_eq!(
            (ok.status, ok.content_type.as_deref()),
            (200, Some("application/json"))
        );
        assert!(matches!(
            Rejection::from_credential_error("webhook-secret", &CredentialError::Unavailable),
            Rejection::NotConfigured(m) if m.contains("webhook-secret")
        ));
        assert!(matches!(
            Rejection::from_credential_error("s", &CredentialError::TooLarge),
            Rejection::Malformed(_)
        ));
    }
}
