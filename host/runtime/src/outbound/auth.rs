//! Credential injection: a gateway's outbound authentication, checked when the gateway is
//! loaded; which requests get credentials (the methods and path prefixes the gateway uses);
//! and the credential header each of them gets, with the values a response must not reflect.
//! Values come from the gateway's secrets when used and never reach the plugin.

use super::client::OutboundClient;
use super::oauth::{TokenSource, parse_token_url};
use crate::config::OutboundAuth;
use crate::secrets::SecretStore;
use base64::Engine as _;
use http::Method;
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

impl Authenticator {
    /// The header the credential goes in, if the gateway authenticates: the plugin's own
    /// header of that name is removed from its requests.
    pub(crate) fn header_name(&self) -> Option<&HeaderName> {
        match self {
            Authenticator::None => None,
            Authenticator::Header { name, .. } => Some(name),
            Authenticator::Bearer { .. }
            | Authenticator::Basic { .. }
            | Authenticator::OAuth2(_) => Some(&AUTHORIZATION),
        }
    }
}

/// Which requests to the allowed hosts get credentials: those with one of the gateway's
/// methods and, when prefixes are configured, a path under one of them.
#[derive(Debug, Clone)]
pub(crate) struct CredentialScope {
    methods: Vec<Method>,
    path_prefixes: Vec<String>,
}

impl CredentialScope {
    /// The scope of a gateway's `credential_methods` and `credential_path_prefixes`. `TRACE`
    /// and `CONNECT` are refused: a request of either never leaves the host.
    pub(crate) fn new(methods: &[String], path_prefixes: &[String]) -> Result<Self, String> {
        let methods = methods
            .iter()
            .map(|m| {
                let method = Method::from_bytes(m.as_bytes())
                    .map_err(|_| format!("credential_methods: `{m}` is not an HTTP method"))?;
                if m.as_str() != method.as_str() || m.bytes().any(|b| b.is_ascii_lowercase()) {
                    return Err(format!("credential_methods: write `{m}` in upper case"));
                }
                if is_refused_method(&method) {
                    return Err(format!(
                        "credential_methods: {m} requests are never sent, with or without credentials"
                    ));
                }
                Ok(method)
            })
            .collect::<Result<Vec<_>, _>>()?;
        for prefix in path_prefixes {
            if !prefix.starts_with('/') || has_dot_segment(prefix) || prefix.contains(['?', '#']) {
                return Err(format!(
                    "credential_path_prefixes: `{prefix}` must be a path starting with `/`, without `.` or `..` segments"
                ));
            }
        }
        Ok(CredentialScope {
            methods,
            path_prefixes: path_prefixes.to_vec(),
        })
    }

    /// Whether a request with `method` to `path` gets credentials. A path with `.` or `..`
    /// segments (plain or percent-encoded) never does: a server resolves them, so the path it
    /// serves is not the one checked.
    pub(crate) fn covers(&self, method: &Method, path: &str) -> bool {
        self.methods.contains(method)
            && (self.path_prefixes.is_empty()
                || (!has_dot_segment(path)
                    && self
                        .path_prefixes
                        .iter()
                        .any(|p| path.starts_with(p.as_str()))))
    }
}

/// `TRACE` echoes the request (credentials included) and `CONNECT` opens a tunnel: neither is
/// sent.
pub(crate) fn is_refused_method(method: &Method) -> bool {
    *method == Method::TRACE || *method == Method::CONNECT
}

/// Whether a path has a `.` or `..` segment, plain or percent-encoded.
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    })
}

/// Values shorter than this are not looked for in responses: they would match by chance.
const MIN_NEEDLE: usize = 8;

/// A credential the host adds to a request: its header, and the secret values (as sent, and
/// the secret itself) that a response must not contain. Wiped when dropped.
pub(crate) struct Credential {
    pub(crate) name: HeaderName,
    pub(crate) value: HeaderValue,
    pub(crate) needles: Vec<Zeroizing<Vec<u8>>>,
}

impl Credential {
    fn new(name: HeaderName, value: HeaderValue, secrets: &[&[u8]]) -> Credential {
        let needles = secrets
            .iter()
            .filter(|s| s.len() >= MIN_NEEDLE)
            .map(|s| Zeroizing::new(s.to_vec()))
            .collect();
        Credential {
            name,
            value,
            needles,
        }
    }
}

/// The credential for an allowed request, if the gateway authenticates. The temporary copies
/// of the secret are wiped when dropped; the header value is marked sensitive (never printed
/// by `Debug`, never indexed by HTTP/2 HPACK). Errors name secrets, never values.
pub(crate) async fn credential(
    gateway: &str,
    auth: &Authenticator,
    secrets: &SecretStore,
) -> Result<Option<Credential>, HttpError> {
    let resolve = |name: &str| {
        secrets.outbound_credential(name).map_err(|e| {
            tracing::warn!(gateway, "cannot authenticate an outbound request: {e}");
            // Nothing was sent: a configuration error, which plugins treat as "not attempted"
            // (an internal error could be taken for a request that may have been processed).
            HttpError::ConfigurationError
        })
    };
    let credential = match auth {
        Authenticator::None => return Ok(None),
        Authenticator::Bearer { secret: name } => {
            let secret = resolve(name)?;
            let value = Zeroizing::new(format!("Bearer {}", secret.expose_secret()));
            Credential::new(
                AUTHORIZATION,
                sensitive_value(&value, name)?,
                &[secret.expose_secret().as_bytes()],
            )
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
            Credential::new(
                AUTHORIZATION,
                sensitive_value(&value, name)?,
                &[encoded.as_bytes(), raw.as_bytes()],
            )
        }
        Authenticator::Header {
            name,
            prefix,
            secret: secret_name,
        } => {
            let secret = resolve(secret_name)?;
            let value = Zeroizing::new(format!("{prefix}{}", secret.expose_secret()));
            Credential::new(
                name.clone(),
                sensitive_value(&value, secret_name)?,
                &[secret.expose_secret().as_bytes()],
            )
        }
        Authenticator::OAuth2(tokens) => {
            // The token source logs the cause (without secrets) once per failed refresh.
            let token = tokens.access_token().await.map_err(|e| e.to_http_error())?;
            let value = Zeroizing::new(format!("Bearer {}", token.expose_secret()));
            // Checked when fetched: a token is always a valid header value.
            Credential::new(
                AUTHORIZATION,
                sensitive_value(&value, "OAuth access token")?,
                &[token.expose_secret().as_bytes()],
            )
        }
    };
    Ok(Some(credential))
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
        let credential = credential("test", &auth, &SecretStore::new(secrets, ["api-key"]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(credential.name, "x-api-key");
        assert_eq!(credential.value.as_bytes(), b"Key sk_header_secret");
        assert!(credential.value.is_sensitive());
        assert!(!format!("{:?}", credential.value).contains("sk_header_secret"));
        assert_eq!(credential.needles.len(), 1);
        assert_eq!(credential.needles[0].as_slice(), b"sk_header_secret");
    }

    #[tokio::test]
    async fn basic_credentials_are_looked_for_encoded_and_raw() {
        let mut secrets = BTreeMap::new();
        secrets.insert("api-key".to_string(), SecretSource::value("sk_basic_user"));
        let credential = credential(
            "test",
            &Authenticator::Basic {
                secret: "api-key".into(),
            },
            &SecretStore::new(secrets, ["api-key"]),
        )
        .await
        .unwrap()
        .unwrap();
        let needles: Vec<&[u8]> = credential.needles.iter().map(|n| n.as_slice()).collect();
        assert_eq!(
            needles,
            [b"c2tfYmFzaWNfdXNlcjo=".as_slice(), b"sk_basic_user"]
        );
    }

    #[test]
    fn credentials_go_to_the_gateways_methods_and_paths_only() {
        let methods = |m: &[&str]| m.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let all = CredentialScope::new(&methods(&["GET", "POST", "DELETE"]), &[]).unwrap();
        assert!(all.covers(&Method::GET, "/anything"));
        assert!(all.covers(&Method::DELETE, "/v1/x"));
        assert!(!all.covers(&Method::PUT, "/v1/x"));
        assert!(!all.covers(&Method::TRACE, "/v1/x"));
        assert!(!all.covers(&Method::OPTIONS, "/v1/x"));
        let v1 = CredentialScope::new(&methods(&["GET"]), &["/v1/".to_string()]).unwrap();
        assert!(v1.covers(&Method::GET, "/v1/charges"));
        assert!(!v1.covers(&Method::GET, "/v2/charges"));
        assert!(!v1.covers(&Method::GET, "/v1/../admin"));
        assert!(!v1.covers(&Method::GET, "/v1/%2E%2e/admin"));
        for bad in [&["TRACE"][..], &["CONNECT"], &["get"], &["BAD METHOD"]] {
            assert!(CredentialScope::new(&methods(bad), &[]).is_err(), "{bad:?}");
        }
        for bad in ["v1/", "/v1/../", "/v1?x"] {
            assert!(
                CredentialScope::new(&methods(&["GET"]), &[bad.to_string()]).is_err(),
                "{bad}"
            );
        }
    }
}
