//! A gateway's named secrets, resolved when used. Values never leave the host: they are put
//! into outbound `Authorization` headers and used as MAC keys, nothing else.

use crate::config::{Secret, SecretSource};
use crate::contract::CredentialError;
use std::collections::BTreeMap;

/// The secrets of one gateway, by name.
#[derive(Debug, Clone, Default)]
pub(crate) struct SecretStore {
    sources: BTreeMap<String, SecretSource>,
}

impl SecretStore {
    pub(crate) fn new(sources: BTreeMap<String, SecretSource>) -> Self {
        SecretStore { sources }
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.sources.contains_key(name)
    }

    /// The current value of a secret. Errors name the secret (and the variable it comes
    /// from), never a value.
    pub(crate) fn resolve(&self, name: &str) -> Result<Secret, CredentialError> {
        match self.sources.get(name) {
            None => Err(CredentialError::UnknownSecret(name.to_string())),
            Some(SecretSource::Value(secret)) => Ok(secret.clone()),
            Some(SecretSource::Env(var)) => match std::env::var(var) {
                Ok(value) if !value.is_empty() => Ok(Secret::new(value)),
                Ok(_) => Err(CredentialError::Unavailable(format!(
                    "secret `{name}`: environment variable {var} is empty"
                ))),
                Err(_) => Err(CredentialError::Unavailable(format!(
                    "secret `{name}`: environment variable {var} is not set"
                ))),
            },
        }
    }
}
