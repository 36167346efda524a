//! Credential injection: a gateway's outbound authentication, checked when the gateway is
//! loaded, and the credential header each allowed request gets. Values come from the gateway's
//! secrets when used and never reach the plugin.

use super::client::OutboundClient;
use super::oauth::{TokenSource, parse_token_url};
use crate::config::OutboundAuth;
use crate::secrets::SecretStore;
use base64::Engine as _;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, HeaderName, HeaderValue, TE, TRAILER};
use std::sync::Arc;
use wasmtime_wasi_http::{DEFAULT_FORBIDDEN_HEADERS, Error as HttpError};
use zeroize::Zeroizing;

/// A gateway's outbound authentication, checked and prepared when the gateway is loaded (the
/// OAuth token cache lives here, shared by all the gateway's calls).
#[derive(Debug)]
pub(crate) enum Authenticator {
    None,
    /// `Authorization: Bearer <secret>`.
    Bearer {
        secret: String,
    },
    /// `Authorization: Basic base64(<secret>)`.
    Basic {
        secret: String,
    },
    /// `<name>: <prefix><secret>`.
    Header {
        name: HeaderName,
        prefix: String,
        secret: String,
    },
    /// `Authorization: Bearer <access token>`.
    OAuth2(Box<TokenSource>),
}

impl Authenticator {
    /// Checks `auth` against the gateway's secrets (every secret it names must exist) and
    /// prepares it. The error says what is wrong, naming no value.
    pub(crate) fn new(
        gateway: &Arc<str>,
        auth: &OutboundAuth,
        secrets: &Arc<SecretStore>,
        client: &OutboundClient,
    ) -> Result<Self, String> {
        for name in auth.secret_names() {
            if !secrets.contains(name) {
                return Err(format!(
                    "auth names the secret `{name}`, which is not in [secrets]"
                ));
            }
        }
        Ok(match auth {
            OutboundAuth::None => Authenticator::None,
            OutboundAuth::Bearer { secret } => Authenticator::Bearer {
                secret: secret.clone(),
            },
            OutboundAuth::Basic { secret } => Authenticator::Basic {
                secret: secret.clone(),
            },
            OutboundAuth::Header {
                name,
                secret,
                prefix,
            } => {
                let prefix = prefix.clone().unwrap_or_default();
                if HeaderValue::from_str(&prefix).is_err() {
                    return Err(format!(
                        "auth.prefix `{prefix}` cannot start an HTTP header value"
                    ));
                }
                Authenticator::Header {
                    name: credential_header_name(name)?,
                    prefix,
                    secret: secret.clone(),
                }
            }
            OutboundAuth::OAuth2ClientCredentials {
                token_url,
                client_id_secret,
                client_secret_secret,
                scope,
            } => Authenticator::OAuth2(Box::new(TokenSource::new(
                gateway.clone(),
                parse_token_url(token_url).map_err(|e| format!("auth.token_url: {e}"))?,
                client_id_secret.clone(),
                client_secret_secret.clone(),
                scope.clone(),
                secrets.clone(),
                client.clone(),
            ))),
        })
    }
}

/// Parses the header name of the `header` scheme: an HTTP token (any case), and not a header
/// the host controls: those `wasi:http` forbids guests to set (hop-by-hop, `Host`) and the
/// message framing hyper computes (`Content-Length`, `TE`, `Trailer`). `Authorization` is fine
/// (`prefix = "Key "` and the like).
fn credential_header_name(name: &str) -> Result<HeaderName, String> {
    let header = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("auth.name `{name}` is not a valid HTTP header name"))?;
    if DEFAULT_FORBIDDEN_HEADERS.contains(&header)
        || [CONTENT_LENGTH, TE, TRAILER].contains(&header)
    {
        return Err(format!(
            "auth.name `{name}` is a header the host manages itself; it cannot carry credentials"
        ));
    }
    Ok(header)
}

/// The credential header for an allowed request, if the gateway authenticates. The temporary
/// copies of the secret are wiped when dropped; the header value is marked sensitive (never
/// printed by `Debug`, never indexed by HTTP/2 HPACK). Errors name secrets, never values.
pub(crate) async fn credential(
    gateway: &str,
    auth: &Authenticator,
    secrets: &SecretStore,
) -> Result<Option<(HeaderName, HeaderValue)>, HttpError> {
    let resolve = |name: &str| {
        secrets.outbound_credential(name).map_err(|e| {
            tracing::warn!(gateway, "cannot authenticate an outbound request: {e}");
            // Nothing was sent: a configuration error, which plugins treat as "not attempted"
            // (an internal error could be taken for a request that may have been processed).
            HttpError::ConfigurationError
        })
    };
    let (header, value) = match auth {
        Authenticator::None => return Ok(None),
        Authenticator::Bearer { secret: name } => {
            let secret = resolve(name)?;
            let value = Zeroizing::new(format!("Bearer {}", secret.expose_secret()));
            (AUTHORIZATION, sensitive_value(&value, name)?)
        }
        Authenticator::Basic { secret: name } => {
            let secret = resolve(name)?;
            let raw = secret.expose_secret();
            // `user` alone is a user name with an empty password (Stripe's convention).
            let pair = Zeroizing::new(if raw.contains(':') {
                raw.to_owned()
            } else {
                format!("{raw}:")
            });
            let encoded =
                Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()));
            let value = Zeroizing::new(format!("Basic {}", encoded.as_str()));
            (AUTHORIZATION, sensitive_value(&value, name)?)
        }
        Authenticator::Header {
            name,
            prefix,
            secret: secret_name,
        } => {
            let secret = resolve(secret_name)?;
            let value = Zeroizing::new(format!("{prefix}{}", secret.expose_secret()));
            (name.clone(), sensitive_value(&value, secret_name)?)
        }
        Authenticator::OAuth2(tokens) => {
            // The token source logs the cause (without secrets) once per failed refresh.
            let token = tokens.access_token().await.map_err(|e| e.to_http_error())?;
            let value = Zeroizing::new(format!("Bearer {}", token.expose_secret()));
            // Checked when fetched: a token is always a valid header value.
            (
                AUTHORIZATION,
                sensitive_value(&value, "OAuth access token")?,
            )
        }
    };
    Ok(Some((header, value)))
}

/// A header value that `Debug` and HPACK treat as sensitive; `secret` names the secret in the
/// error if the value cannot be a header value.
fn sensitive_value(value: &str, secret: &str) -> Result<HeaderValue, HttpError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        tracing::warn!("secret `{secret}` cannot be used in an HTTP header");
        HttpError::ConfigurationError
    })?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretSource;
    use std::collections::BTreeMap;

    fn authenticator(auth: OutboundAuth) -> Result<Authenticator, String> {
        let mut secrets = BTreeMap::new();
        secrets.insert(
            "api-key".to_string(),
            SecretSource::value("sk_header_secret"),
        );
        secrets.insert("client-id".to_string(), SecretSource::value("id"));
        Authenticator::new(
            &Arc::from("test"),
            &auth,
            &Arc::new(SecretStore::new(secrets, auth.secret_names())),
            &OutboundClient::for_tests(None),
        )
    }

    fn header_auth(name: &str, prefix: Option<&str>) -> OutboundAuth {
        OutboundAuth::Header {
            name: name.into(),
            secret: "api-key".into(),
            prefix: prefix.map(Into::into),
        }
    }

    #[tokio::test]
    async fn auth_is_checked_when_prepared() {
        assert!(authenticator(header_auth("X-API-Key", None)).is_ok());
        assert!(authenticator(header_auth("authorization", Some("Key "))).is_ok());
        for bad in [
            "",
            "X API Key",
            "X-Key:",
            "Host",
            "content-length",
            "Transfer-Encoding",
            "Connection",
            "Keep-Alive",
            "Upgrade",
            "TE",
            "Trailer",
            "Proxy-Authorization",
            "x-key\r\nx-evil",
        ] {
            let err = authenticator(header_auth(bad, None)).unwrap_err();
            assert!(err.contains("auth.name"), "{bad}: {err}");
        }
        let err = authenticator(header_auth("X-API-Key", Some("Key\n"))).unwrap_err();
        assert!(err.contains("auth.prefix"), "{err}");
        let err = authenticator(OutboundAuth::Header {
            name: "X-API-Key".into(),
            secret: "missing".into(),
            prefix: None,
        })
        .unwrap_err();
        assert!(err.contains("`missing`"), "{err}");

        let oauth = |token_url: &str, client_secret: &str| OutboundAuth::OAuth2ClientCredentials {
            token_url: token_url.into(),
            client_id_secret: "client-id".into(),
            client_secret_secret: client_secret.into(),
            scope: None,
        };
        assert!(authenticator(oauth("https://t.example/oauth2/token", "api-key")).is_ok());
        let err = authenticator(oauth("https://t.example/token", "client-secret")).unwrap_err();
        assert!(err.contains("`client-secret`"), "{err}");
        let err = authenticator(oauth("http://t.example/token", "api-key")).unwrap_err();
        assert!(
            err.contains("auth.token_url") && err.contains("loopback"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_credential_header_is_sensitive() {
        let auth = authenticator(header_auth("X-API-Key", Some("Key "))).unwrap();
        assert!(!format!("{auth:?}").contains("sk_header_secret"));
        let mut secrets = BTreeMap::new();
        secrets.insert(
            "api-key".to_string(),
            SecretSource::value("sk_header_secret"),
        );
        let (name, value) = credential("test", &auth, &SecretStore::new(secrets, ["api-key"]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(name, "x-api-key");
        assert_eq!(value.as_bytes(), b"Key sk_header_secret");
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("sk_header_secret"));
    }
}
