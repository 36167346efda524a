//! A gateway's named secrets, resolved when used. Values never leave the host: they are put
//! into outbound credential headers and used as MAC keys, nothing else.
//!
//! Every secret has one purpose, fixed by the gateway's configuration: a secret its `auth`
//! names authenticates outbound requests and is never usable as a MAC key (a plugin computing
//! MACs with the API key could forge or probe the gateway's own signatures with it); every other
//! secret is a MAC key and is never sent.

use crate::config::{Secret, SecretSource};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// What a secret is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Credentials the host adds to outbound requests (`auth` names it).
    OutboundAuth,
    /// A key of the MACs the host computes for the plugin.
    Mac,
}

/// Why a secret could not be used. For the host's log and errors only: plugins are told less
/// (see `imports::credentials`). It names secrets and environment variables, never values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretError {
    /// No secret of this name is configured.
    Unknown {
        /// The secret's name.
        name: String,
    },
    /// The secret exists for another purpose.
    WrongPurpose {
        /// The secret's name.
        name: String,
        /// What it is for.
        purpose: Purpose,
    },
    /// The secret is configured but its value is not available now.
    Unavailable {
        /// The secret's name.
        name: String,
        /// Why (the environment variable it comes from is not set, or empty).
        reason: String,
    },
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::Unknown { name } => write!(f, "no secret `{name}` is configured"),
            SecretError::WrongPurpose {
                name,
                purpose: Purpose::OutboundAuth,
            } => write!(
                f,
                "secret `{name}` authenticates outbound requests; it is never a MAC key"
            ),
            SecretError::WrongPurpose {
                name,
                purpose: Purpose::Mac,
            } => write!(
                f,
                "secret `{name}` is a MAC key; it never authenticates outbound requests"
            ),
            SecretError::Unavailable { name, reason } => write!(f, "secret `{name}`: {reason}"),
        }
    }
}

/// The secrets of one gateway, by name, each with its purpose.
#[derive(Debug, Clone, Default)]
pub(crate) struct SecretStore {
    sources: BTreeMap<String, SecretSource>,
    outbound: BTreeSet<String>,
}

impl SecretStore {
    /// The secrets `sources`; those named in `outbound` (the gateway's `auth`) authenticate
    /// outbound requests, the others are MAC keys.
    pub(crate) fn new<'a>(
        sources: BTreeMap<String, SecretSource>,
        outbound: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        SecretStore {
            sources,
            outbound: outbound.into_iter().map(str::to_owned).collect(),
        }
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.sources.contains_key(name)
    }

    /// What the secret `name` is for, if it exists.
    pub(crate) fn purpose(&self, name: &str) -> Option<Purpose> {
        self.contains(name).then(|| {
            if self.outbound.contains(name) {
                Purpose::OutboundAuth
            } else {
                Purpose::Mac
            }
        })
    }

    /// The current value of an outbound credential.
    pub(crate) fn outbound_credential(&self, name: &str) -> Result<Secret, SecretError> {
        self.resolve(name, Purpose::OutboundAuth)
    }

    /// The current value of a MAC key. An outbound credential is refused.
    pub(crate) fn mac_key(&self, name: &str) -> Result<Secret, SecretError> {
        self.resolve(name, Purpose::Mac)
    }

    fn resolve(&self, name: &str, purpose: Purpose) -> Result<Secret, SecretError> {
        let Some(source) = self.sources.get(name) else {
            return Err(SecretError::Unknown {
                name: name.to_string(),
            });
        };
        match self.purpose(name) {
            Some(actual) if actual != purpose => {
                return Err(SecretError::WrongPurpose {
                    name: name.to_string(),
                    purpose: actual,
                });
            }
            _ => {}
        }
        let unavailable = |reason: String| SecretError::Unavailable {
            name: name.to_string(),
            reason,
        };
        match source {
            SecretSource::Value(secret) => Ok(secret.clone()),
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(value) if !value.is_empty() => Ok(Secret::new(value)),
                Ok(_) => Err(unavailable(format!("environment variable {var} is empty"))),
                Err(_) => Err(unavailable(format!(
                    "environment variable {var} is not set"
                ))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> SecretStore {
        let mut sources = BTreeMap::new();
        sources.insert("api-key".to_string(), SecretSource::value("sk_test_1"));
        sources.insert("webhook-secret".to_string(), SecretSource::value("whsec_1"));
        sources.insert(
            "from-env".to_string(),
            SecretSource::Env("OMNICRM_TEST_SECRET_THAT_IS_NEVER_SET".into()),
        );
        SecretStore::new(sources, ["api-key"])
    }

    #[test]
    fn each_secret_serves_its_purpose_only() {
        let secrets = store();
        assert_eq!(secrets.purpose("api-key"), Some(Purpose::OutboundAuth));
        assert_eq!(secrets.purpose("webhook-secret"), Some(Purpose::Mac));
        assert_eq!(secrets.purpose("nope"), None);
        assert_eq!(
            secrets
                .outbound_credential("api-key")
                .unwrap()
                .expose_secret(),
            "sk_test_1"
        );
        assert_eq!(
            secrets.mac_key("webhook-secret").unwrap().expose_secret(),
            "whsec_1"
        );
        let refused = secrets.mac_key("api-key").unwrap_err();
        assert_eq!(
            refused,
            SecretError::WrongPurpose {
                name: "api-key".into(),
                purpose: Purpose::OutboundAuth
            }
        );
        assert!(secrets.outbound_credential("webhook-secret").is_err());
        assert!(matches!(
            secrets.mac_key("nope"),
            Err(SecretError::Unknown { .. })
        ));
    }

    #[test]
    fn errors_name_the_variable_for_the_host_never_the_value() {
        let err = store().mac_key("from-env").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("OMNICRM_TEST_SECRET_THAT_IS_NEVER_SET"),
            "{text}"
        );
        let refused = store().mac_key("api-key").unwrap_err().to_string();
        assert!(!refused.contains("sk_test_1"), "{refused}");
    }
}
