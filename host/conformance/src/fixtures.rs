//! The fixture file a gateway's author writes: which test tokens succeed, decline or need the
//! customer, which currency to charge, which references the gateway never issued, how its
//! webhooks are signed, and which header carries its idempotency key on the wire. Its format is
//! documented in the crate's documentation (and in the README); every table but the top-level
//! `currency` and `[cards] succeeds` is optional, and a check whose fixture is missing is
//! reported "not applicable" with the reason.
//!
//! `${NAME}` anywhere in the file is replaced by a variable given to [`Fixtures::parse`] or, when
//! none is given by that name, by the environment variable `NAME` (an emulator's port, a
//! secret kept out of the file).

use serde::Deserialize;
use std::collections::BTreeMap;

/// A parsed fixture file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    /// The ISO 4217 currency of the test charges (upper case).
    pub currency: String,
    /// The amount of the test charges, in minor units (default 2000).
    #[serde(default = "default_amount")]
    pub amount: i64,
    /// The tokens the gateway's card form would hand back.
    pub cards: Cards,
    /// References the gateway never issued, in its own format.
    #[serde(default)]
    pub references: References,
    /// What the kit looks for in the plugin's requests.
    #[serde(default)]
    pub outbound: Outbound,
    /// How the injected faults are shaped.
    #[serde(default)]
    pub faults: Faults,
    /// How to produce signed webhook requests; without it the webhook checks are not applicable.
    pub webhooks: Option<Webhooks>,
}

fn default_amount() -> i64 {
    2000
}

/// Test tokens (`store-card`'s `token`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cards {
    /// A card whose charges succeed.
    pub succeeds: String,
    /// A card whose charges are declined.
    pub declines: Option<String>,
    /// The decline category its decline must carry (`do-not-honor`, `insufficient-funds`, ...);
    /// any category when absent.
    pub decline_category: Option<String>,
    /// A card whose charges need the customer to act (3-D Secure).
    pub customer_action: Option<String>,
}

/// References in the gateway's format that name nothing there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct References {
    /// A payment reference (default `conformance_missing_payment`).
    #[serde(default = "missing_payment")]
    pub payment: String,
    /// A refund reference (default `conformance_missing_refund`).
    #[serde(default = "missing_refund")]
    pub refund: String,
    /// A customer reference (default `conformance_missing_customer`); empty for a gateway
    /// without customer objects, whose customer references are derived and always exist.
    #[serde(default = "missing_customer")]
    pub customer: String,
}

fn missing_payment() -> String {
    "conformance_missing_payment".into()
}
fn missing_refund() -> String {
    "conformance_missing_refund".into()
}
fn missing_customer() -> String {
    "conformance_missing_customer".into()
}

impl Default for References {
    fn default() -> Self {
        References {
            payment: missing_payment(),
            refund: missing_refund(),
            customer: missing_customer(),
        }
    }
}

/// What the plugin's requests carry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outbound {
    /// The header that carries the idempotency key of a request (case-insensitive; default
    /// `idempotency-key`). The fault checks compare it between a request and its retries; empty
    /// when the gateway has none (then retries after an unknown outcome are not allowed at all).
    #[serde(default = "default_idempotency_header")]
    pub idempotency_header: String,
}

fn default_idempotency_header() -> String {
    "idempotency-key".into()
}

impl Default for Outbound {
    fn default() -> Self {
        Outbound {
            idempotency_header: default_idempotency_header(),
        }
    }
}

/// The shape of injected faults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// How long a slow answer is held back, in milliseconds (default 1500): set the plugin's own
    /// request timeout below it in the gateway configuration to see it give up.
    #[serde(default = "default_slow_ms")]
    pub slow_response_ms: u64,
    /// The `Retry-After` of the injected 429, in seconds (default 2).
    #[serde(default = "default_retry_after")]
    pub retry_after_secs: u64,
}

fn default_slow_ms() -> u64 {
    1500
}
fn default_retry_after() -> u64 {
    2
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            slow_response_ms: default_slow_ms(),
            retry_after_secs: default_retry_after(),
        }
    }
}

/// How the gateway signs its webhooks: the kit signs a sample the same way (with the right
/// key, a wrong one, and an old timestamp) and hands it to `handle-webhook`.
///
/// Templates may hold `{timestamp}` (Unix seconds of signing) and `{signature}` (the encoded
/// MAC); `signed_payload` may also hold `{body}` (the body template, `{timestamp}` filled in).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhooks {
    /// The name of the gateway's secret the plugin verifies with (`webhook-secret`): the kit
    /// sets it to `secret` for the run.
    pub secret_name: String,
    /// The secret's value: the kit plays the gateway, so it chooses the key.
    pub secret: String,
    /// `hmac-sha256` (default), `hmac-sha512` or `hmac-sha1`.
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    /// How the secret becomes the key: `raw` (default), `hex` or `base64`.
    #[serde(default = "default_raw")]
    pub key_encoding: String,
    /// How the MAC is written: `hex` (default) or `base64`.
    #[serde(default = "default_hex")]
    pub signature_encoding: String,
    /// What is signed.
    pub signed_payload: String,
    /// The request path (default `/webhooks/<gateway name>`).
    pub path: Option<String>,
    /// Headers of the request (lower-case names), as templates.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body, as a template.
    pub body: String,
    /// The event id the good sample must normalize to.
    pub event_id: String,
    /// The plugin's tolerance of the signed timestamp in seconds, when the signature carries one:
    /// the kit then signs a sample ten times older and expects it refused. Without it the stale
    /// check is not applicable.
    pub tolerance_secs: Option<u64>,
}

fn default_algorithm() -> String {
    "hmac-sha256".into()
}
fn default_raw() -> String {
    "raw".into()
}
fn default_hex() -> String {
    "hex".into()
}

/// Why a fixture file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// `${NAME}` names neither a given variable nor an environment variable.
    #[error("`${{{0}}}` is not set")]
    UnsetVariable(String),
    /// The TOML is invalid or does not match the format.
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// A value is out of range.
    #[error("{field}: {problem}")]
    Invalid {
        /// The key at fault.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
}

impl Fixtures {
    /// Parses a fixture file's text, `${NAME}` replaced from `vars` or the environment.
    pub fn parse(text: &str, vars: &BTreeMap<String, String>) -> Result<Fixtures, FixtureError> {
        let fixtures: Fixtures = toml::from_str(&expand(text, vars)?)?;
        fixtures.validate()?;
        Ok(fixtures)
    }

    fn validate(&self) -> Result<(), FixtureError> {
        let invalid = |field, problem: &str| {
            Err(FixtureError::Invalid {
                field,
                problem: problem.into(),
            })
        };
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return invalid("currency", "must be three upper-case letters");
        }
        if self.amount < 2 {
            return invalid("amount", "must be at least 2");
        }
        if let Some(webhooks) = &self.webhooks {
            if !["hmac-sha256", "hmac-sha512", "hmac-sha1"].contains(&webhooks.algorithm.as_str()) {
                return invalid(
                    "webhooks.algorithm",
                    "must be hmac-sha256, -sha512 or -sha1",
                );
            }
            if !["raw", "hex", "base64"].contains(&webhooks.key_encoding.as_str()) {
                return invalid("webhooks.key_encoding", "must be raw, hex or base64");
            }
            if !["hex", "base64"].contains(&webhooks.signature_encoding.as_str()) {
                return invalid("webhooks.signature_encoding", "must be hex or base64");
            }
        }
        Ok(())
    }
}

/// `text` with every `${NAME}` replaced from `vars`, else the environment.
pub fn expand(text: &str, vars: &BTreeMap<String, String>) -> Result<String, FixtureError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        let value = match vars.get(name) {
            Some(value) => value.clone(),
            None => std::env::var(name).map_err(|_| FixtureError::UnsetVariable(name.into()))?,
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_expanded_and_defaults_filled() {
        let vars = BTreeMap::from([("TOKEN".to_string(), "tok_visa".to_string())]);
        let fixtures = Fixtures::parse(
            "currency = \"EUR\"\n[cards]\nsucceeds = \"${TOKEN}\"\n",
            &vars,
        )
        .unwrap();
        assert_eq!(fixtures.cards.succeeds, "tok_visa");
        assert_eq!(fixtures.amount, 2000);
        assert_eq!(fixtures.outbound.idempotency_header, "idempotency-key");
        assert!(fixtures.webhooks.is_none());
    }

    #[test]
    fn unknown_keys_unset_variables_and_bad_values_are_refused() {
        let none = BTreeMap::new();
        let unknown = "currency = \"EUR\"\nnope = 1\n[cards]\nsucceeds = \"t\"\n";
        assert!(Fixtures::parse(unknown, &none).is_err());
        let unset = "currency = \"${CONFORMANCE_SURELY_UNSET}\"\n[cards]\nsucceeds = \"t\"\n";
        assert!(matches!(
            Fixtures::parse(unset, &none),
            Err(FixtureError::UnsetVariable(_))
        ));
        let lower = "currency = \"eur\"\n[cards]\nsucceeds = \"t\"\n";
        assert!(matches!(
            Fixtures::parse(lower, &none),
            Err(FixtureError::Invalid {
                field: "currency",
                ..
            })
        ));
    }
}
