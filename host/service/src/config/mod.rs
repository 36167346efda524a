//! The service's TOML configuration file.
//!
//! ```toml
//! [service]
//! listen = "127.0.0.1:8080"
//! database = "omnicrm-pay.db"        # SQLite ledger (relative to this file), or
//!                                     # "postgres://user@host:5432/db" (several instances)
//! database_password_env = "OMNICRM_DATABASE_PASSWORD" # PostgreSQL's password (else PGPASSWORD)
//! database_pool_size = 16             # PostgreSQL connections of this instance
//! database_ca_pem = "db-ca.pem"       # authorities of PostgreSQL's certificate (with sslmode=)
//! billing_lease_secs = 60             # a billing run's claim on due transactions (PostgreSQL)
//! default_gateway = "stripe"          # or `default = true` in one [gateways.NAME] table
//! reconcile_interval_secs = 30
//! authorization_max_age_secs = 518400 # look up authorizations older than 6 days
//! action_expiry_secs = 86400          # cancel payments awaiting 3-D Secure for 24 hours
//! modification_overdue_secs = 259200  # flag pending captures, voids, refunds after 3 days
//! reconcile_concurrency = 4           # unsettled operations repeated at once
//! reconcile_max_attempts = 8          # then the transaction is flagged for an operator
//! reconcile_backoff_secs = 30         # wait after an attempt, doubling each time...
//! reconcile_backoff_max_secs = 3600   # ...up to this
//!
//! [[service.api_keys]]
//! name = "crm"
//! sha256 = "<hex SHA-256 of the key>"  # `omnicrm-pay hash-key` prints it; never the key itself
//! scopes = ["read", "write"]
//!
//! [gateways.stripe]
//! component = "target/wasm32-wasip2/plugin/omnicrm_stripe_gateway.wasm"
//! allowed_hosts = ["https://api.stripe.com"]
//! auth = { scheme = "bearer", secret = "api-key" }
//! max_concurrency = 8                 # calls in flight at once
//! requests_per_second = 20            # pacing of calls (Stripe test mode allows ~25/s)
//! [gateways.stripe.secrets]
//! api-key = { env = "STRIPE_SECRET_KEY" }
//! webhook-secret = { env = "STRIPE_WEBHOOK_SECRET" }
//! [gateways.stripe.settings]
//! base-url = "https://api.stripe.com"
//! [gateways.stripe.limits]
//! memory_mib = 64
//! call_timeout_ms = 30000
//! ```
//!
//! The `[gateways.NAME]` tables are the runtime's [`GatewayConfig`] plus the service's own keys
//! `default`, `max_concurrency` and `requests_per_second` (also accepted inside `limits`). Both
//! limits are shared by every call to the gateway; the lookups that events and the reconciler
//! make take at most a fifth of each, so they never starve charges.
//! Relative paths are resolved against the directory of the configuration file.

pub mod console;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ledger::Durability;
use omnicrm_host::config::GatewayConfig;

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown or mistyped keys.
    #[error("{0}")]
    Toml(String),
    /// A value is not acceptable.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// GET requests.
    Read,
    /// POST and DELETE requests (and, with it, reading).
    Write,
    /// Operators' requests: settling by hand a transaction flagged for an operator (and, with
    /// it, everything `write` allows).
    Admin,
}

/// One API key, stored as the hex SHA-256 of its value.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// A name for logs and idempotency scopes (`crm`, `portal`).
    pub name: String,
    /// Lower-case hex SHA-256 of the key.
    pub sha256: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_database() -> PathBuf {
    PathBuf::from("omnicrm-pay.db")
}
fn default_password_env() -> String {
    "OMNICRM_DATABASE_PASSWORD".into()
}
fn default_pool_size() -> u32 {
    crate::ledger::postgres::DEFAULT_POOL_SIZE
}
fn default_lease() -> u64 {
    60
}
fn default_reconcile() -> u64 {
    30
}
fn default_grace() -> u64 {
    60
}
fn default_authorization_max_age() -> u64 {
    6 * 86_400
}
fn default_action_expiry() -> u64 {
    86_400
}
fn default_modification_overdue() -> u64 {
    3 * 86_400
}
fn default_reconcile_concurrency() -> usize {
    4
}
fn default_reconcile_max_attempts() -> u32 {
    8
}
fn default_reconcile_backoff() -> u64 {
    30
}
fn default_reconcile_backoff_max() -> u64 {
    3600
}
fn default_watch_ms() -> u64 {
    1000
}
fn yes() -> bool {
    true
}

/// The `[service]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSection {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The SQLite ledger file, or a `postgres://` URL (without its password) of a PostgreSQL
    /// database that several instances may share.
    #[serde(default = "default_database")]
    pub database: PathBuf,
    /// The environment variable holding PostgreSQL's password (`PGPASSWORD` when it is unset).
    #[serde(default = "default_password_env")]
    pub database_password_env: String,
    /// PostgreSQL connections of this instance, at most.
    #[serde(default = "default_pool_size")]
    pub database_pool_size: u32,
    /// A PEM file of the authorities PostgreSQL's certificate may come from, beside the public
    /// web's (relative to the configuration file), for a URL with `sslmode=prefer` or `require`.
    #[serde(default)]
    pub database_ca_pem: Option<PathBuf>,
    /// How long a billing run's claim on a batch of due transactions keeps other instances away
    /// (PostgreSQL): the delay before the work of an instance that died is taken over.
    #[serde(default = "default_lease")]
    pub billing_lease_secs: u64,
    /// `full` (default) or `normal` (survives process crashes, not power cuts).
    #[serde(default)]
    pub durability: Durability,
    /// The gateway used when a request names none.
    #[serde(default)]
    pub default_gateway: Option<String>,
    /// API keys.
    #[serde(default)]
    pub api_keys: Vec<ApiKeyConfig>,
    /// How often the reconciler looks for operations with an unknown outcome.
    #[serde(default = "default_reconcile")]
    pub reconcile_interval_secs: u64,
    /// How old an unsettled operation must be before the periodic reconciler repeats it (the
    /// start-up pass repeats all of them).
    #[serde(default = "default_grace")]
    pub reconcile_grace_secs: u64,
    /// How old an authorization (an `authorized` transaction) must be before the reconciler
    /// looks it up at the gateway, to settle one that expired (card authorizations last about
    /// 7 days) or was captured elsewhere. Default 6 days.
    #[serde(default = "default_authorization_max_age")]
    pub authorization_max_age_secs: u64,
    /// How long a payment may wait for the customer to authenticate (3-D Secure) before the
    /// reconciler cancels it at the gateway. Default 24 hours.
    #[serde(default = "default_action_expiry")]
    pub action_expiry_secs: u64,
    /// How long a capture, void or refund the gateway answered `pending` may wait for its
    /// outcome (an event, or a lookup where the gateway has one) before the reconciler flags it
    /// for operators. Default 3 days.
    #[serde(default = "default_modification_overdue")]
    pub modification_overdue_secs: u64,
    /// How many unsettled operations the reconciler repeats at once. Default 4.
    #[serde(default = "default_reconcile_concurrency")]
    pub reconcile_concurrency: usize,
    /// How many times the reconciler repeats an operation whose outcome stays unknown before it
    /// gives up and flags its transaction for an operator. Default 8.
    #[serde(default = "default_reconcile_max_attempts")]
    pub reconcile_max_attempts: u32,
    /// How long the reconciler waits before repeating an operation it could not settle: this
    /// after its first attempt, doubling after each one up to `reconcile_backoff_max_secs`.
    /// Default 30 s.
    #[serde(default = "default_reconcile_backoff")]
    pub reconcile_backoff_secs: u64,
    /// The longest wait between two attempts of an operation. Default 1 hour.
    #[serde(default = "default_reconcile_backoff_max")]
    pub reconcile_backoff_max_secs: u64,
    /// Watch the component files and reload a gateway when its file changes.
    #[serde(default = "yes")]
    pub watch_components: bool,
    /// How often the component files are checked, in milliseconds.
    #[serde(default = "default_watch_ms")]
    pub watch_interval_ms: u64,
    /// Directory of the compiled-component cache (none: no cache).
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// An extra trusted CA certificate (PEM file), for local TLS emulators.
    #[serde(default)]
    pub extra_ca_pem: Option<PathBuf>,
    /// The operator console (`[service.console]`): its users and sessions.
    #[serde(default)]
    pub console: crate::config::console::ConsoleSettings,
}

impl ServiceSection {
    /// The PostgreSQL database the ledger is in, when `database` is a `postgres://` URL; the
    /// password is read from the environment variable the configuration names (else
    /// `PGPASSWORD`).
    pub fn postgres(&self) -> Option<crate::ledger::postgres::PgOptions> {
        let url = self.database.to_str()?;
        if !crate::ledger::postgres::is_postgres_url(url) {
            return None;
        }
        let password = std::env::var(&self.database_password_env)
            .or_else(|_| std::env::var("PGPASSWORD"))
            .ok();
        Some(crate::ledger::postgres::PgOptions {
            url: url.to_string(),
            password,
            pool_size: self.database_pool_size,
            ca_pem: self.database_ca_pem.clone(),
        })
    }

    /// The ledger's location as shown to people: the file, or the URL without any password.
    pub fn database_shown(&self) -> String {
        match self.database.to_str() {
            Some(url) if crate::ledger::postgres::is_postgres_url(url) => {
                crate::ledger::postgres::redacted(url)
            }
            _ => self.database.display().to_string(),
        }
    }
}

impl Default for ServiceSection {
    fn default() -> Self {
        ServiceSection {
            listen: default_listen(),
            database: default_database(),
            database_password_env: default_password_env(),
            database_pool_size: default_pool_size(),
            billing_lease_secs: default_lease(),
            durability: Durability::default(),
            default_gateway: None,
            api_keys: Vec::new(),
            reconcile_interval_secs: default_reconcile(),
            reconcile_grace_secs: default_grace(),
            authorization_max_age_secs: default_authorization_max_age(),
            action_expiry_secs: default_action_expiry(),
            modification_overdue_secs: default_modification_overdue(),
            reconcile_concurrency: default_reconcile_concurrency(),
            reconcile_max_attempts: default_reconcile_max_attempts(),
            reconcile_backoff_secs: default_reconcile_backoff(),
            reconcile_backoff_max_secs: default_reconcile_backoff_max(),
            watch_components: true,
            watch_interval_ms: default_watch_ms(),
            cache_dir: None,
            extra_ca_pem: None,
            database_ca_pem: None,
            console: Default::default(),
        }
    }
}

/// One configured gateway.
#[derive(Debug, Clone)]
pub struct GatewayEntry {
    /// The runtime's configuration of the plugin.
    pub config: GatewayConfig,
    /// Whether it is the default gateway.
    pub default: bool,
    /// Calls in flight at once (at least 1).
    pub max_concurrency: usize,
    /// Calls started per second at most (none: unpaced).
    pub requests_per_second: Option<f64>,
}

impl GatewayEntry {
    /// An entry with the default service limits (8 concurrent calls, unpaced).
    pub fn new(config: GatewayConfig) -> Self {
        GatewayEntry {
            config,
            default: false,
            max_concurrency: 8,
            requests_per_second: None,
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default)]
pub struct ServiceConfig {
    /// `[service]`.
    pub service: ServiceSection,
    /// `[gateways.NAME]`, by name.
    pub gateways: BTreeMap<String, GatewayEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    service: ServiceSection,
    #[serde(default)]
    gateways: BTreeMap<String, toml::Table>,
}

impl ServiceConfig {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml_str(&text, base)
    }

    /// Parses and validates TOML text; relative paths are resolved against `base`.
    pub fn from_toml_str(text: &str, base: &Path) -> Result<Self, ConfigError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| ConfigError::Toml(e.to_string()))?;
        let mut gateways = BTreeMap::new();
        for (name, mut table) in raw.gateways {
            let mut take = |key: &str| -> Option<toml::Value> {
                let top = table.remove(key);
                let nested = table
                    .get_mut("limits")
                    .and_then(|l| l.as_table_mut())
                    .and_then(|l| l.remove(key));
                top.or(nested)
            };
            let default = match take("default") {
                None => false,
                Some(toml::Value::Boolean(b)) => b,
                Some(_) => {
                    return Err(invalid(format!(
                        "gateways.{name}.default must be true or false"
                    )));
                }
            };
            let max_concurrency = match take("max_concurrency") {
                None => 8,
                Some(toml::Value::Integer(n)) if (1..=10_000).contains(&n) => n as usize,
                Some(_) => {
                    return Err(invalid(format!(
                        "gateways.{name}.max_concurrency must be an integer from 1 to 10000"
                    )));
                }
            };
            let requests_per_second = match take("requests_per_second") {
                None => None,
                Some(toml::Value::Integer(n)) if n > 0 => Some(n as f64),
                Some(toml::Value::Float(f)) if f > 0.0 && f.is_finite() => Some(f),
                Some(_) => {
                    return Err(invalid(format!(
                        "gateways.{name}.requests_per_second must be a positive number"
                    )));
                }
            };
            let mut config: GatewayConfig = toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Toml(format!("gateways.{name}: {e}")))?;
            if config.component.is_relative() {
                config.component = base.join(&config.component);
            }
            gateways.insert(
                name,
                GatewayEntry {
                    config,
                    default,
                    max_concurrency,
                    requests_per_second,
                },
            );
        }
        let mut service = raw.service;
        if service.database.is_relative() && service.postgres().is_none() {
            service.database = base.join(&service.database);
        }
        if let Some(dir) = &service.cache_dir
            && dir.is_relative()
        {
            service.cache_dir = Some(base.join(dir));
        }
        for pem in [&mut service.extra_ca_pem, &mut service.database_ca_pem]
            .into_iter()
            .flatten()
        {
            if pem.is_relative() {
                *pem = base.join(&*pem);
            }
        }
        let config = ServiceConfig { service, gateways };
        config.validate()?;
        Ok(config)
    }

    /// Checks names, keys and the default gateway.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for name in self.gateways.keys() {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            {
                return Err(invalid(format!(
                    "gateway name {name:?}: use lower-case letters, digits, '-' and '_'"
                )));
            }
        }
        let flagged: Vec<&String> = self
            .gateways
            .iter()
            .filter(|(_, g)| g.default)
            .map(|(n, _)| n)
            .collect();
        if flagged.len() > 1 {
            return Err(invalid(format!(
                "several gateways are marked default: {flagged:?}"
            )));
        }
        if let Some(d) = &self.service.default_gateway {
            if !self.gateways.contains_key(d) {
                return Err(invalid(format!(
                    "service.default_gateway names {d:?}, which is not configured"
                )));
            }
            if let Some(f) = flagged.first()
                && *f != d
            {
                return Err(invalid(format!(
                    "service.default_gateway is {d:?} but gateways.{f}.default is true"
                )));
            }
        }
        if self.service.database_ca_pem.is_some() {
            match self.service.database.to_str() {
                Some(url) if crate::ledger::postgres::is_postgres_url(url) => {
                    if !crate::ledger::postgres::names_ssl_mode(url) {
                        return Err(invalid(
                            "service.database_ca_pem is set but the database URL has no \
                             sslmode, so TLS would not be used: add sslmode=require"
                                .into(),
                        ));
                    }
                }
                _ => {
                    return Err(invalid(
                        "service.database_ca_pem is for a PostgreSQL database (a postgres:// \
                         URL), not a SQLite file"
                            .into(),
                    ));
                }
            }
        }
        let mut names = std::collections::HashSet::new();
        for key in &self.service.api_keys {
            if !names.insert(&key.name) {
                return Err(invalid(format!("two API keys are named {:?}", key.name)));
            }
            if key.sha256.len() != 64 || !key.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(invalid(format!(
                    "api key {:?}: sha256 must be 64 hex digits (the SHA-256 of the key, never the key)",
                    key.name
                )));
            }
            if key.scopes.is_empty() {
                return Err(invalid(format!("api key {:?} has no scopes", key.name)));
            }
        }
        if self.service.reconcile_interval_secs == 0 || self.service.watch_interval_ms == 0 {
            return Err(invalid(
                "reconcile_interval_secs and watch_interval_ms must be positive".into(),
            ));
        }
        if self.service.reconcile_concurrency == 0 || self.service.reconcile_max_attempts == 0 {
            return Err(invalid(
                "reconcile_concurrency and reconcile_max_attempts must be positive".into(),
            ));
        }
        self.service.console.validate().map_err(invalid)?;
        Ok(())
    }

    /// The default gateway's name: `service.default_gateway`, the one marked `default = true`,
    /// or the only one configured.
    pub fn default_gateway(&self) -> Option<&str> {
        if let Some(d) = &self.service.default_gateway {
            return Some(d);
        }
        if let Some((n, _)) = self.gateways.iter().find(|(_, g)| g.default) {
            return Some(n);
        }
        if self.gateways.len() == 1 {
            return self.gateways.keys().next().map(String::as_str);
        }
        None
    }
}

fn invalid(message: String) -> ConfigError {
    ConfigError::Invalid(message)
}

/// Hex SHA-256 of an API key, as written in the configuration.
pub fn hash_api_key(key: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(key.as_bytes()))
}

/// A new random API key (`ocp_` and 48 hex digits).
pub fn generate_api_key() -> String {
    let bytes: [u8; 24] = rand::random();
    format!("ocp_{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[service]
listen = "127.0.0.1:9090"
database = "data/ledger.db"
reconcile_interval_secs = 5

[[service.api_keys]]
name = "crm"
sha256 = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
scopes = ["read", "write"]

[[service.api_keys]]
name = "reports"
sha256 = "6b86b273ff34fce19c6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"
scopes = ["read"]

[gateways.stripe]
default = true
component = "plugins/stripe.wasm"
allowed_hosts = ["https://api.stripe.com"]
auth = { scheme = "bearer", secret = "api-key" }
max_concurrency = 4
requests_per_second = 20
[gateways.stripe.secrets]
api-key = { env = "STRIPE_SECRET_KEY" }
[gateways.stripe.settings]
base-url = "https://api.stripe.com"
[gateways.stripe.limits]
call_timeout_ms = 10000

[gateways.offline]
component = "/abs/offline.wasm"
[gateways.offline.limits]
max_concurrency = 2
"#;

    #[test]
    fn parses_the_example() {
        let c = ServiceConfig::from_toml_str(EXAMPLE, Path::new("/etc/omnicrm")).unwrap();
        assert_eq!(c.service.listen.port(), 9090);
        assert_eq!(
            c.service.database,
            PathBuf::from("/etc/omnicrm/data/ledger.db")
        );
        assert_eq!(c.service.api_keys.len(), 2);
        assert_eq!(c.default_gateway(), Some("stripe"));
        let s = &c.gateways["stripe"];
        assert_eq!((s.max_concurrency, s.requests_per_second), (4, Some(20.0)));
        assert_eq!(
            s.config.component,
            PathBuf::from("/etc/omnicrm/plugins/stripe.wasm")
        );
        assert_eq!(s.config.limits.call_timeout_ms, 10_000);
        let o = &c.gateways["offline"];
        assert_eq!(o.max_concurrency, 2);
        assert_eq!(o.config.component, PathBuf::from("/abs/offline.wasm"));
    }

    #[test]
    fn a_postgres_ledger_takes_its_authorities_beside_the_file() {
        let c = ServiceConfig::from_toml_str(
            "[service]\ndatabase = \"postgres://pay@db.internal/ledger?sslmode=require\"\n\
             database_ca_pem = \"db-ca.pem\"",
            Path::new("/etc/omnicrm"),
        )
        .unwrap();
        let pg = c.service.postgres().expect("a PostgreSQL ledger");
        assert_eq!(pg.url, "postgres://pay@db.internal/ledger?sslmode=require");
        assert_eq!(pg.ca_pem, Some(PathBuf::from("/etc/omnicrm/db-ca.pem")));
        // An authority that would not be used is a mistake, said at once.
        let refused = |database: &str| {
            ServiceConfig::from_toml_str(
                &format!("[service]\ndatabase = \"{database}\"\ndatabase_ca_pem = \"ca.pem\""),
                Path::new("/etc/omnicrm"),
            )
            .unwrap_err()
            .to_string()
        };
        let e = refused("postgres://pay@db.internal/ledger");
        assert!(e.contains("no sslmode"), "{e}");
        let e = refused("ledger.db");
        assert!(e.contains("not a SQLite file"), "{e}");
    }

    #[test]
    fn rejects_mistakes() {
        let bad = |text: &str| {
            ServiceConfig::from_toml_str(text, Path::new("."))
                .unwrap_err()
                .to_string()
        };
        assert!(bad("[service]\nlisten = 5").contains("listen"));
        assert!(bad("[service]\nlistn = \"x\"").contains("listn"));
        let e = bad("[[service.api_keys]]\nname = \"a\"\nsha256 = \"secret\"\nscopes = [\"read\"]");
        assert!(e.contains("64 hex"), "{e}");
        assert!(!e.contains("secret\""));
        assert!(bad("[service]\ndefault_gateway = \"x\"").contains("not configured"));
        assert!(
            bad("[gateways.a]\ncomponent = \"a\"\ndefault = true\n[gateways.b]\ncomponent = \"b\"\ndefault = true")
                .contains("several")
        );
        assert!(
            bad("[gateways.a]\ncomponent = \"a\"\nmax_concurrency = 0").contains("max_concurrency")
        );
        assert!(bad("[gateways.a]\ncomponent = \"a\"\nbogus = 1").contains("bogus"));
        assert!(bad("[gateways.A]\ncomponent = \"a\"").contains("lower-case"));
        // A secret value cannot be written in the file.
        assert!(
            bad(
                "[gateways.a]\ncomponent = \"a\"\n[gateways.a.secrets]\nk = { value = \"sk_live\" }"
            )
            .contains("gateways.a")
        );
    }

    #[test]
    fn the_example_file_is_valid() {
        let text = include_str!("../../tests/fixtures/omnicrm-pay.example.toml");
        let c = ServiceConfig::from_toml_str(text, Path::new("/repo")).unwrap();
        assert_eq!(c.default_gateway(), Some("stripe"));
        assert_eq!(c.gateways.len(), 2);
        assert_eq!(c.service.api_keys.len(), 2);
        assert_eq!(c.service.authorization_max_age_secs, 6 * 86_400);
        assert_eq!(c.service.action_expiry_secs, 86_400);
        assert_eq!(
            c.service.api_keys[0].sha256,
            hash_api_key("crm-demo-key"),
            "the comment names the key"
        );
        assert_eq!(
            c.gateways["stripe"].config.component,
            PathBuf::from("/repo/target/wasm32-wasip2/plugin/omnicrm_stripe_gateway.wasm")
        );
    }

    #[test]
    fn single_gateway_is_the_default_and_keys_hash() {
        let c =
            ServiceConfig::from_toml_str("[gateways.only]\ncomponent = \"x.wasm\"", Path::new("."))
                .unwrap();
        assert_eq!(c.default_gateway(), Some("only"));
        assert_eq!(
            hash_api_key("password"),
            "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
        );
        let k = generate_api_key();
        assert!(k.starts_with("ocp_") && k.len() == 52);
    }
}
