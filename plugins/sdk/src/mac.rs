//! Message authentication codes computed and verified by the host with named secrets (the
//! contract's `credentials` interface): webhook signatures, signed-request schemes. The secret's
//! value never enters the plugin; the plugin names it and says how its text becomes the key.
//!
//! ```ignore
//! use omnicrm_gateway_sdk::mac::{self, MacAlgorithm, MacKey};
//! let key = MacKey::raw("webhook-secret");
//! let valid = mac::verify_any(&key, MacAlgorithm::HmacSha256, &signed_payload, &signatures)?;
//! ```

use crate::bindings::omnicrm::payments::credentials;
pub use crate::bindings::omnicrm::payments::credentials::{
    CredentialError, KeyEncoding, MacAlgorithm, MacKey,
};

/// The most candidate MACs [`verify_any`] checks: a signature header lists one per active
/// secret (two while a secret is rolled), so more than this is no signature, and each check
/// costs the host a MAC over the whole message.
pub const MAX_CANDIDATES: usize = 8;

impl MacKey {
    /// The named secret, read as `encoding` says.
    pub fn new(secret: impl Into<String>, encoding: KeyEncoding) -> Self {
        MacKey {
            secret: secret.into(),
            encoding,
        }
    }

    /// The secret's UTF-8 bytes are the key (Stripe's `whsec_...`).
    pub fn raw(secret: impl Into<String>) -> Self {
        MacKey::new(secret, KeyEncoding::Raw)
    }

    /// The secret is hexadecimal; the key is the decoded bytes (Adyen's HMAC key).
    pub fn hex(secret: impl Into<String>) -> Self {
        MacKey::new(secret, KeyEncoding::Hex)
    }

    /// The secret is Base64; the key is the decoded bytes.
    pub fn base64(secret: impl Into<String>) -> Self {
        MacKey::new(secret, KeyEncoding::Base64)
    }

    /// The key is the SHA-1 digest of the secret's UTF-8 bytes (Braintree).
    pub fn sha1_digest(secret: impl Into<String>) -> Self {
        MacKey::new(secret, KeyEncoding::Sha1Digest)
    }
}

/// `algorithm(key, message)`, computed by the host: the raw MAC bytes.
pub fn compute_mac(
    key: &MacKey,
    algorithm: MacAlgorithm,
    message: &[u8],
) -> Result<Vec<u8>, CredentialError> {
    credentials::compute_mac(key, algorithm, message)
}

/// Whether `expected` is `algorithm(key, message)`, compared by the host in constant time.
pub fn verify_mac(
    key: &MacKey,
    algorithm: MacAlgorithm,
    message: &[u8],
    expected: &[u8],
) -> Result<bool, CredentialError> {
    credentials::verify_mac(key, algorithm, message, expected)
}

/// Whether any of `candidates` is `algorithm(key, message)`: at most the first
/// [`MAX_CANDIDATES`] are checked, each by the host in constant time, until one matches.
pub fn verify_any<M: AsRef<[u8]>>(
    key: &MacKey,
    algorithm: MacAlgorithm,
    message: &[u8],
    candidates: &[M],
) -> Result<bool, CredentialError> {
    for candidate in candidates.iter().take(MAX_CANDIDATES) {
        if verify_mac(key, algorithm, message, candidate.as_ref())? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What went wrong with the named secret, for a `not-configured` rejection or a
/// `configuration` error: the plugin learns no more than this, and says no more.
pub fn describe_error(secret: &str, error: &CredentialError) -> String {
    match error {
        CredentialError::Unavailable => {
            format!("the secret `{secret}` is not configured or not available as a MAC key")
        }
        CredentialError::BadEncoding => {
            format!("the secret `{secret}` is not valid in the key encoding the plugin uses")
        }
        CredentialError::TooLarge => "the message is larger than the host signs".to_owned(),
    }
}
