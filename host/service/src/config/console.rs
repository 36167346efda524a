//! The console's configuration: the `[service.console]` table of the service's file.
//!
//! ```toml
//! [service.console]
//! session_minutes = 480
//! public_url = "https://pay.example.com"  # default: the request's Host
//! sign_in_failures_per_name = 5      # failed sign-ins of one name before it is locked
//! sign_in_failures_per_address = 20  # failed sign-ins from one client address (any name, API keys)
//! sign_in_lockout_minutes = 15       # the window failures are counted in, and the lock's length
//!
//! [[service.console.users]]
//! name = "ops"
//! password_hash = "$argon2id$v=19$m=19456,t=2,p=1$..."  # `omnicrm-pay hash-password` prints it
//! role = "write"                                         # or "read", or "admin"
//! ```
//!
//! Operators may also sign in with an API key: its scope (`read`, `write` or `admin`) is the
//! role.

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use serde::{Deserialize, Serialize};

/// What a signed-in operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Look at every page; no form that changes anything.
    Read,
    /// Also charge, capture, void, refund, manage cards and invoices, start billing runs.
    Write,
    /// Also settle by hand a transaction flagged for an operator (as the API's `admin` scope).
    Admin,
}

/// A console user: a name, the argon2 hash of the password (PHC string), a role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleUser {
    /// The sign-in name.
    pub name: String,
    /// The password's argon2 hash in PHC form (`$argon2id$...`), never the password.
    pub password_hash: String,
    /// What the user may do.
    pub role: Role,
}

fn default_session_minutes() -> u64 {
    8 * 60
}

fn default_failures_per_name() -> u32 {
    5
}

fn default_failures_per_address() -> u32 {
    20
}

fn default_lockout_minutes() -> u64 {
    15
}

/// The most failures a sign-in limit may allow (a limit above it would not limit guessing).
pub const MAX_SIGN_IN_FAILURES: u32 = 1000;

/// The longest lockout, in minutes (a day).
pub const MAX_LOCKOUT_MINUTES: u64 = 24 * 60;

/// The `[service.console]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    /// Console users (API keys of the `read` or `write` scope sign in too).
    #[serde(default)]
    pub users: Vec<ConsoleUser>,
    /// How long a session lasts without a request, in minutes (default 8 hours).
    #[serde(default = "default_session_minutes")]
    pub session_minutes: u64,
    /// The console's address as browsers reach it (`https://pay.example.com`), for the address
    /// a gateway's card form sends the customer back to; default: the request's `Host`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Failed sign-ins of one account name within `sign_in_lockout_minutes` after which the
    /// name is locked (its sign-ins refused without checking the password) for
    /// `sign_in_lockout_minutes`. Unknown names count alike. Default 5.
    #[serde(default = "default_failures_per_name")]
    pub sign_in_failures_per_name: u32,
    /// Failed sign-ins from one client address (the connection's peer; IPv6 per /64), whatever
    /// the name, API keys included, after which the address is locked likewise. Default 20.
    #[serde(default = "default_failures_per_address")]
    pub sign_in_failures_per_address: u32,
    /// The window failed sign-ins are counted in (from the first), and how long a lock lasts,
    /// in minutes. Default 15.
    #[serde(default = "default_lockout_minutes")]
    pub sign_in_lockout_minutes: u64,
}

impl ConsoleSettings {
    /// Checks the sign-in limits: a message naming the setting at fault.
    pub fn validate(&self) -> Result<(), String> {
        for (setting, value) in [
            ("sign_in_failures_per_name", self.sign_in_failures_per_name),
            (
                "sign_in_failures_per_address",
                self.sign_in_failures_per_address,
            ),
        ] {
            if !(1..=MAX_SIGN_IN_FAILURES).contains(&value) {
                return Err(format!(
                    "service.console.{setting} is {value}: it must be from 1 to {MAX_SIGN_IN_FAILURES}"
                ));
            }
        }
        if !(1..=MAX_LOCKOUT_MINUTES).contains(&self.sign_in_lockout_minutes) {
            return Err(format!(
                "service.console.sign_in_lockout_minutes is {}: it must be from 1 to {MAX_LOCKOUT_MINUTES}",
                self.sign_in_lockout_minutes
            ));
        }
        Ok(())
    }
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            users: Vec::new(),
            session_minutes: default_session_minutes(),
            public_url: None,
            sign_in_failures_per_name: default_failures_per_name(),
            sign_in_failures_per_address: default_failures_per_address(),
            sign_in_lockout_minutes: default_lockout_minutes(),
        }
    }
}

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("hashing the password: {0}")]
pub struct HashError(String);

/// The argon2id hash (PHC string, random salt) of a password, as `password_hash` takes it.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| HashError(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches the PHC `hash` (false for a malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("correct horse"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horse ", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        assert_ne!(
            hash,
            hash_password("correct horse").unwrap(),
            "a fresh salt"
        );
    }

    #[test]
    fn the_table_reads_users_and_refuses_unknown_keys() {
        let s: ConsoleSettings = toml::from_str(
            "[[users]]\nname = \"ops\"\npassword_hash = \"$argon2id$x\"\nrole = \"read\"",
        )
        .unwrap();
        assert_eq!((s.users[0].role, s.session_minutes), (Role::Read, 480));
        assert_eq!(
            (
                s.sign_in_failures_per_name,
                s.sign_in_failures_per_address,
                s.sign_in_lockout_minutes
            ),
            (5, 20, 15)
        );
        assert!(s.validate().is_ok());
        assert!(
            toml::from_str::<ConsoleSettings>(
                "[[users]]\nname = \"a\"\npassword = \"p\"\nrole = \"read\""
            )
            .is_err()
        );
        let roles: Vec<Role> = ["read", "write", "admin"]
            .iter()
            .map(|r| {
                let text =
                    format!("[[users]]\nname = \"a\"\npassword_hash = \"h\"\nrole = \"{r}\"");
                toml::from_str::<ConsoleSettings>(&text).unwrap().users[0].role
            })
            .collect();
        assert_eq!(roles, [Role::Read, Role::Write, Role::Admin]);
        assert!(
            toml::from_str::<ConsoleSettings>(
                "[[users]]\nname = \"a\"\npassword_hash = \"h\"\nrole = \"root\""
            )
            .is_err()
        );
    }

    #[test]
    fn the_sign_in_limits_are_read_and_checked() {
        let s: ConsoleSettings = toml::from_str(
            "sign_in_failures_per_name = 3\nsign_in_failures_per_address = 50\n\
             sign_in_lockout_minutes = 60",
        )
        .unwrap();
        assert_eq!(
            (
                s.sign_in_failures_per_name,
                s.sign_in_failures_per_address,
                s.sign_in_lockout_minutes
            ),
            (3, 50, 60)
        );
        assert!(s.validate().is_ok());
        for (toml, setting) in [
            ("sign_in_failures_per_name = 0", "sign_in_failures_per_name"),
            (
                "sign_in_failures_per_address = 1001",
                "sign_in_failures_per_address",
            ),
            ("sign_in_lockout_minutes = 0", "sign_in_lockout_minutes"),
            ("sign_in_lockout_minutes = 1441", "sign_in_lockout_minutes"),
        ] {
            let s: ConsoleSettings = toml::from_str(toml).unwrap();
            let error = s.validate().unwrap_err();
            assert!(error.contains(setting), "{error}");
        }
        assert!(toml::from_str::<ConsoleSettings>("sign_in_failures_per_name = -1").is_err());
    }
}
