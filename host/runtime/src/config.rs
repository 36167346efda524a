//! Gateway configuration: one `[gateways.NAME]` table of the host's TOML configuration.
//!
//! ```toml
//! [gateways.stripe]
//! component = "target/wasm32-wasip2/plugin/omnicrm_stripe_gateway.wasm"
//! allowed_hosts = ["https://api.stripe.com"]
//! auth = { scheme = "bearer", secret = "api-key" }   # see OutboundAuth for the other schemes
//! [gateways.stripe.secrets]
//! api-key = { env = "STRIPE_SECRET_KEY" }
//! [gateways.stripe.settings]
//! base-url = "https://api.stripe.com"
//! [gateways.stripe.limits]
//! memory_mib = 64
//! call_timeout_ms = 30000
//! ```
//!
//! Every other key has a default (see [`GatewayConfig`] and [`Limits`]).

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use zeroize::Zeroize;

/// The configuration of one gateway plugin.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Path of the component (`.wasm`) to load.
    pub component: PathBuf,
    /// Origins (`https://host[:port]`) the plugin may send HTTP requests to. `http://` is only
    /// accepted for loopback hosts (`127.0.0.0/8`, `::1`, `localhost`): test emulators.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// How the host authenticates the plugin's requests to its allowed hosts.
    #[serde(default)]
    pub auth: OutboundAuth,
    /// Named secrets: where each value comes from (never the value itself, in files).
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretSource>,
    /// Non-secret settings, visible to the plugin through the `config` interface.
    #[serde(default, deserialize_with = "deserialize_settings")]
    pub settings: BTreeMap<String, String>,
    /// The HTTP methods the host adds credentials to (upper case). Requests with other methods
    /// go out without them; `TRACE` and `CONNECT` are refused whatever this says.
    #[serde(default = "default_credential_methods")]
    pub credential_methods: Vec<String>,
    /// Path prefixes (`/v1/`) the host adds credentials to; empty: every path of the allowed
    /// hosts. Requests to other paths go out without credentials.
    #[serde(default)]
    pub credential_path_prefixes: Vec<String>,
    /// Whether allowed host names may resolve to private, loopback or link-local addresses.
    /// Off by default: a name that resolves to such an address is refused when connecting (DNS
    /// rebinding). An allowed host written as an IP address, or `localhost`, names its address
    /// explicitly and is always reachable.
    #[serde(default)]
    pub allow_private_networks: bool,
    /// Resource limits for each call.
    #[serde(default)]
    pub limits: Limits,
}

/// The methods credentials are added to by default: what payment gateways' APIs use.
pub const DEFAULT_CREDENTIAL_METHODS: [&str; 3] = ["GET", "POST", "DELETE"];

fn default_credential_methods() -> Vec<String> {
    DEFAULT_CREDENTIAL_METHODS.map(String::from).to_vec()
}

impl GatewayConfig {
    /// A configuration for `component` with no network access, no secrets, no settings and
    /// default limits.
    pub fn new(component: impl Into<PathBuf>) -> Self {
        GatewayConfig {
            component: component.into(),
            allowed_hosts: Vec::new(),
            auth: OutboundAuth::None,
            secrets: BTreeMap::new(),
            settings: BTreeMap::new(),
            credential_methods: default_credential_methods(),
            credential_path_prefixes: Vec::new(),
            allow_private_networks: false,
            limits: Limits::default(),
        }
    }

    /// Adds an allowed origin (builder style).
    pub fn allow_host(mut self, origin: impl Into<String>) -> Self {
        self.allowed_hosts.push(origin.into());
        self
    }

    /// Sets how outbound requests are authenticated (builder style).
    pub fn with_auth(mut self, auth: OutboundAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Adds a named secret (builder style).
    pub fn with_secret(mut self, name: impl Into<String>, source: SecretSource) -> Self {
        self.secrets.insert(name.into(), source);
        self
    }

    /// Adds a setting (builder style).
    pub fn with_setting(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.insert(key.into(), value.into());
        self
    }

    /// Sets the limits (builder style).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// A whole configuration file's gateways: `[gateways.NAME]` tables. Other top-level tables
/// are ignored, so this can be read from a file that configures other things too.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GatewaysFile {
    /// The gateways, by name.
    #[serde(default)]
    pub gateways: BTreeMap<String, GatewayConfig>,
}

impl GatewaysFile {
    /// Parses TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

/// Settings values may be written as TOML strings, integers, floats or booleans; the plugin
/// sees them as strings.
fn deserialize_settings<'de, D>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        String(String),
        Integer(i64),
        Float(f64),
        Bool(bool),
    }
    let raw = BTreeMap::<String, Scalar>::deserialize(deserializer)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Scalar::String(s) => s,
                Scalar::Integer(i) => i.to_string(),
                Scalar::Float(f) => f.to_string(),
                Scalar::Bool(b) => b.to_string(),
            };
            (k, v)
        })
        .collect())
}

/// How the host authenticates requests to the plugin's allowed hosts. The plugin never sees the
/// credentials: the host strips any `Authorization` header the plugin sets (and, for `header`,
/// any header of the configured name) and adds its own. Every secret named here must be a key of
/// [`GatewayConfig::secrets`]; [`Runtime::load`](crate::Runtime::load) checks that, the header
/// name and the token URL.
///
/// ```toml
/// auth = { scheme = "none" }                                     # the default
/// auth = { scheme = "bearer", secret = "api-key" }               # Authorization: Bearer <api-key>
/// auth = { scheme = "basic", secret = "api-key" }                # Authorization: Basic base64(<api-key>)
/// auth = { scheme = "header", name = "X-API-Key", secret = "api-key" }          # X-API-Key: <api-key>
/// auth = { scheme = "header", name = "Authorization", prefix = "Key ", secret = "api-key" }
/// auth = { scheme = "oauth2-client-credentials", token_url = "https://api.gateway.example/oauth2/token",
///          client_id_secret = "client-id", client_secret_secret = "client-secret", scope = "payments" }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "lowercase", deny_unknown_fields)]
pub enum OutboundAuth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer <secret>`.
    Bearer {
        /// The name of the secret (a key of [`GatewayConfig::secrets`]).
        secret: String,
    },
    /// `Authorization: Basic base64(<secret>)`, where the secret is `user:password`; a secret
    /// without a colon is the user name with an empty password (Stripe's convention).
    Basic {
        /// The name of the secret (a key of [`GatewayConfig::secrets`]).
        secret: String,
    },
    /// `<name>: <prefix><secret>`: an API key in a header of its own (Adyen's `X-API-Key`), or
    /// in `Authorization` with another scheme word (`prefix = "Key "`).
    Header {
        /// The header's name: an HTTP token, and not one the host manages itself (`Host`,
        /// `Content-Length`, `Transfer-Encoding`, `Connection` and the other hop-by-hop headers).
        name: String,
        /// The name of the secret (a key of [`GatewayConfig::secrets`]).
        secret: String,
        /// Text put before the secret in the header's value, such as `"Key "`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
    },
    /// `Authorization: Bearer <access token>`, with an OAuth 2.0 access token the host obtains
    /// from `token_url` with the client-credentials grant (RFC 6749 §4.4, client authenticated
    /// with HTTP Basic), caches until shortly before it expires and shares between concurrent
    /// calls. The token endpoint is reached by the host only: the plugin can reach it only if it
    /// is also one of the allowed hosts.
    #[serde(rename = "oauth2-client-credentials")]
    OAuth2ClientCredentials {
        /// The token endpoint: `https://...`, or `http://` on a loopback host (test servers).
        token_url: String,
        /// The name of the secret holding the client identifier.
        client_id_secret: String,
        /// The name of the secret holding the client secret.
        client_secret_secret: String,
        /// The scope to ask for (space-separated scope tokens), if the gateway wants one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
    },
}

impl OutboundAuth {
    /// The names of the secrets this scheme uses.
    pub fn secret_names(&self) -> Vec<&str> {
        match self {
            OutboundAuth::None => Vec::new(),
            OutboundAuth::Bearer { secret }
            | OutboundAuth::Basic { secret }
            | OutboundAuth::Header { secret, .. } => vec![secret.as_str()],
            OutboundAuth::OAuth2ClientCredentials {
                client_id_secret,
                client_secret_secret,
                ..
            } => vec![client_id_secret.as_str(), client_secret_secret.as_str()],
        }
    }
}

/// Where a secret's value comes from. Resolved when it is used (each request or MAC), so a
/// rotated environment variable takes effect without reloading.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum SecretSource {
    /// The value of an environment variable of the host process.
    Env(String),
    /// A value given programmatically (tests, embedders). Cannot be written in a file.
    #[serde(skip)]
    Value(Secret),
}

impl SecretSource {
    /// A programmatic secret value.
    pub fn value(value: impl Into<String>) -> Self {
        SecretSource::Value(Secret::new(value))
    }
}

/// A secret value. Its `Debug` and `Display` print `[redacted]`; it is wiped from memory when
/// dropped; the only way to read it is [`Secret::expose_secret`].
#[derive(Clone)]
pub struct Secret(Box<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        // Copy into an exact-size box and wipe the original: `into_boxed_str` would reallocate
        // (leaving the old buffer unwiped) whenever the string has spare capacity.
        let mut value = value.into();
        let boxed = Box::from(value.as_str());
        value.zeroize();
        Secret(boxed)
    }

    /// The value. Never log or format it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Resource limits of a gateway: per call, and for the gateway as a whole.
///
/// ```toml
/// [gateways.stripe.limits]
/// memory_mib = 64                          # the plugin's linear memory, per call
/// call_timeout_ms = 30000                  # deadline of a call
/// host_buffer_mib = 16                     # host-side buffers held for one call
/// max_requests_in_flight_per_call = 8      # outbound requests at once, per call
/// max_requests_in_flight = 64              # outbound requests at once, the whole gateway
/// max_connections_per_origin = 64          # open connections to one allowed origin
/// log_bytes_per_call = 65536               # logging, stdout and stderr of one call
/// log_bytes_per_second = 262144            # the same, the whole gateway (sustained rate)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Maximum linear memory of one instance, in MiB. Growing past it fails the call.
    pub memory_mib: u32,
    /// Deadline of one call, in milliseconds, enforced by the host.
    pub call_timeout_ms: u64,
    /// What the host may hold in memory on behalf of one call, in MiB, besides the plugin's own
    /// memory: request bodies waiting to be sent, requests in flight with the response data
    /// held for the plugin, and the handles (header sets, requests, streams) the plugin holds.
    /// Going over fails the call. See the README's sandbox section for how each is counted.
    pub host_buffer_mib: u32,
    /// Outbound requests one call may have in flight (sent, their response's head not yet
    /// received) at once; more wait for their turn.
    pub max_requests_in_flight_per_call: u32,
    /// Outbound requests all the gateway's calls together may have in flight (sent, their
    /// response's head not yet received) at once; more wait for their turn (within their
    /// call's deadline).
    pub max_requests_in_flight: u32,
    /// Connections the gateway's HTTP client keeps open to one origin at most (idle or busy);
    /// a request that needs another waits for one to be free.
    pub max_connections_per_origin: u32,
    /// Bytes of log output (the `logging` interface, stdout and stderr) one call may produce;
    /// the rest is dropped and counted.
    pub log_bytes_per_call: u32,
    /// Bytes of log output per second the gateway's calls may produce together (a bucket
    /// holding one second's worth); the rest is dropped and counted.
    pub log_bytes_per_second: u32,
}

impl Limits {
    /// The memory limit in bytes.
    pub fn memory_bytes(&self) -> usize {
        (self.memory_mib as usize).saturating_mul(1024 * 1024)
    }

    /// The call deadline as a duration.
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }

    /// The host buffer budget of a call in bytes.
    pub fn host_buffer_bytes(&self) -> usize {
        (self.host_buffer_mib as usize).saturating_mul(1024 * 1024)
    }

    /// What is wrong with these limits, if anything: every one must be positive.
    pub(crate) fn problem(&self) -> Option<String> {
        let zero = [
            ("call_timeout_ms", self.call_timeout_ms == 0),
            ("host_buffer_mib", self.host_buffer_mib == 0),
            (
                "max_requests_in_flight_per_call",
                self.max_requests_in_flight_per_call == 0,
            ),
            ("max_requests_in_flight", self.max_requests_in_flight == 0),
            (
                "max_connections_per_origin",
                self.max_connections_per_origin == 0,
            ),
            ("log_bytes_per_call", self.log_bytes_per_call == 0),
            ("log_bytes_per_second", self.log_bytes_per_second == 0),
        ];
        zero.iter()
            .find(|(_, is_zero)| *is_zero)
            .map(|(name, _)| format!("limits.{name} must be positive"))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mib: 64,
            call_timeout_ms: 30_000,
            host_buffer_mib: 16,
            max_requests_in_flight_per_call: 8,
            max_requests_in_flight: 64,
            max_connections_per_origin: 64,
            log_bytes_per_call: 64 * 1024,
            log_bytes_per_second: 256 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_toml() {
        let text = r#"
[gateways.stripe]
component = "target/wasm32-wasip2/plugin/omnicrm_stripe_gateway.wasm"
allowed_hosts = ["https://api.stripe.com"]
auth = { scheme = "bearer", secret = "api-key" }
[gateways.stripe.secrets]
api-key = { env = "STRIPE_SECRET_KEY" }
webhook-secret = { env = "STRIPE_WEBHOOK_SECRET" }
[gateways.stripe.settings]
base-url = "https://api.stripe.com"
webhook-tolerance-secs = 300
[gateways.stripe.limits]
memory_mib = 32
call_timeout_ms = 30000

[gateways.offline]
component = "offline.wasm"
"#;
        let file = GatewaysFile::from_toml_str(text).unwrap();
        let stripe = &file.gateways["stripe"];
        assert_eq!(
            stripe.auth,
            OutboundAuth::Bearer {
                secret: "api-key".into()
            }
        );
        assert!(
            matches!(&stripe.secrets["api-key"], SecretSource::Env(v) if v == "STRIPE_SECRET_KEY")
        );
        assert_eq!(stripe.settings["webhook-tolerance-secs"], "300");
        assert_eq!(stripe.limits.memory_mib, 32);
        let offline = &file.gateways["offline"];
        assert_eq!(offline.auth, OutboundAuth::None);
        assert_eq!(offline.limits, Limits::default());
    }

    #[test]
    fn every_auth_scheme_round_trips_through_toml() {
        let text = r#"
[gateways.adyen]
component = "adyen.wasm"
auth = { scheme = "header", name = "X-API-Key", secret = "api-key" }
[gateways.keyed]
component = "keyed.wasm"
auth = { scheme = "header", name = "Authorization", prefix = "Key ", secret = "api-key" }
[gateways.oauth]
component = "oauth.wasm"
auth = { scheme = "oauth2-client-credentials", token_url = "https://api.gateway.example/oauth2/token", client_id_secret = "client-id", client_secret_secret = "client-secret", scope = "payments" }
[gateways.oauth.secrets]
client-id = { env = "GATEWAY_CLIENT_ID" }
client-secret = { env = "GATEWAY_CLIENT_SECRET" }
[gateways.noscope]
component = "noscope.wasm"
auth = { scheme = "oauth2-client-credentials", token_url = "https://t.example/token", client_id_secret = "i", client_secret_secret = "s" }
[gateways.basic]
component = "basic.wasm"
auth = { scheme = "basic", secret = "api-key" }
[gateways.none]
component = "none.wasm"
auth = { scheme = "none" }
"#;
        let file = GatewaysFile::from_toml_str(text).unwrap();
        assert_eq!(
            file.gateways["adyen"].auth,
            OutboundAuth::Header {
                name: "X-API-Key".into(),
                secret: "api-key".into(),
                prefix: None,
            }
        );
        assert!(
            matches!(&file.gateways["keyed"].auth, OutboundAuth::Header { prefix: Some(p), .. } if p == "Key ")
        );
        let oauth = OutboundAuth::OAuth2ClientCredentials {
            token_url: "https://api.gateway.example/oauth2/token".into(),
            client_id_secret: "client-id".into(),
            client_secret_secret: "client-secret".into(),
            scope: Some("payments".into()),
        };
        assert_eq!(file.gateways["oauth"].auth, oauth);
        assert_eq!(oauth.secret_names(), ["client-id", "client-secret"]);
        assert!(matches!(
            &file.gateways["noscope"].auth,
            OutboundAuth::OAuth2ClientCredentials { scope: None, .. }
        ));
        let written = toml::to_string(&file).unwrap();
        let again = GatewaysFile::from_toml_str(&written).unwrap();
        for (name, gateway) in &file.gateways {
            assert_eq!(gateway.auth, again.gateways[name].auth, "{name}: {written}");
        }
    }

    #[test]
    fn auth_tables_refuse_unknown_fields_and_schemes() {
        for auth in [
            r#"{ scheme = "header", name = "X-API-Key", secret = "k", value = "oops" }"#,
            r#"{ scheme = "oauth2-client-credentials", token_url = "https://t.example/token", client_id_secret = "i", client_secret_secret = "s", client_secret = "oops" }"#,
            r#"{ scheme = "oauth2-client-credentials", token_url = "https://t.example/token", client_id_secret = "i" }"#,
            r#"{ scheme = "header", secret = "k" }"#,
            r#"{ scheme = "oauth2" }"#,
        ] {
            let text = format!("[gateways.x]\ncomponent = \"x.wasm\"\nauth = {auth}\n");
            assert!(GatewaysFile::from_toml_str(&text).is_err(), "{auth}");
        }
    }

    #[test]
    fn secret_values_cannot_come_from_files() {
        let text = r#"
[gateways.x]
component = "x.wasm"
[gateways.x.secrets]
api-key = { value = "sk_live_oops" }
"#;
        let err = GatewaysFile::from_toml_str(text).unwrap_err().to_string();
        assert!(err.contains("expected `env`"), "{err}");
    }

    #[test]
    fn secrets_are_redacted() {
        let source = SecretSource::value("sk_test_123");
        let shown = format!("{source:?} {}", Secret::new("sk_test_123"));
        assert!(!shown.contains("sk_test_123"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
