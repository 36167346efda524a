//! The plugin's non-secret settings (the `settings` table of its section in the host's
//! configuration), read through the contract's `config` interface.

use core::fmt;
use core::str::FromStr;

use crate::bindings::omnicrm::payments::config;

/// A setting that is present but does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSetting {
    /// The setting's key.
    pub key: String,
    /// The value found.
    pub value: String,
}

impl fmt::Display for InvalidSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "setting `{}` has an invalid value `{}`",
            self.key, self.value
        )
    }
}

impl std::error::Error for InvalidSetting {}

/// The value of a setting, if set (surrounding white space trimmed).
pub fn get(key: &str) -> Option<String> {
    config::get(key).map(|v| v.trim().to_owned())
}

/// A setting parsed as `T`, or `default` when it is not set or empty.
pub fn get_or<T: FromStr>(key: &str, default: T) -> Result<T, InvalidSetting> {
    match get(key) {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) => v.parse().map_err(|_| InvalidSetting {
            key: key.to_owned(),
            value: v,
        }),
    }
}

/// Every setting, sorted by key.
pub fn entries() -> Vec<(String, String)> {
    config::entries()
}
