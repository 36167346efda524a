//! The console's configuration: the `[service.console]` table of the service's file.
//!
//! ```toml
//! [service.console]
//! session_minutes = 480
//! public_url = "https://pay.example.com"  # default: the request's Host
//!
//! [[service.console.users]]
//! name = "ops"
//! password_hash = "$argon2id$v=19$m=19456,t=2,p=1$..."  # `omnicrm-pay hash-password` prints it
//! role = "write"                                         # or "read"
//! ```
//!
//! Operators may also sign in with an API key of the `read` or `write` scope (`admin` signs in
//! as `write`).

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
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            users: Vec::new(),
            session_minutes: default_session_minutes(),
            public_url: None,
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
        assert!(
            toml::from_str::<ConsoleSettings>(
                "[[users]]\nname = \"a\"\npassword = \"p\"\nrole = \"read\""
            )
            .is_err()
        );
    }
}
