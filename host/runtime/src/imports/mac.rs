//! The MACs the host computes for plugins with a named secret: the key read from the secret in
//! the requested encoding, HMAC-SHA1/256/512, verification in constant time, and the work done
//! on the blocking pool so that plugins hashing large messages in a loop cannot stall the async
//! workers that run every other call. One implementation behind every contract version's
//! `credentials` interface.

use crate::config::Secret;
use crate::contract::{KeyEncoding, MacAlgorithm};
use crate::secrets::SecretStore;
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use sha1::Digest;
use zeroize::Zeroizing;

/// The longest message the host MACs: 1 MiB.
pub(crate) const MAX_MESSAGE: usize = 1 << 20;

/// Base64 with the standard alphabet, padding optional.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why no MAC was computed, as much as plugins are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MacError {
    /// The secret is not configured, is an outbound credential, or has no value now.
    Unavailable,
    /// The secret's value is not valid in the requested encoding.
    BadEncoding,
    /// The message is longer than [`MAX_MESSAGE`].
    TooLarge,
}

/// `algorithm(key, message)` with the MAC key `secret` of `secrets`, read in `encoding`, hashed
/// on tokio's blocking pool. Refusals are logged for the operator (naming the secret, never its
/// value); the plugin gets a bare [`MacError`].
pub(crate) async fn compute_mac(
    gateway: &str,
    secrets: &SecretStore,
    secret: &str,
    encoding: KeyEncoding,
    algorithm: MacAlgorithm,
    message: Vec<u8>,
) -> Result<Vec<u8>, MacError> {
    let key = key_for(gateway, secrets, secret, encoding, message.len())?;
    off_thread(gateway, move || compute(&key, algorithm, &message)).await
}

/// Whether `expected` is `algorithm(key, message)` (see [`compute_mac`]), compared in constant
/// time.
pub(crate) async fn verify_mac(
    gateway: &str,
    secrets: &SecretStore,
    secret: &str,
    encoding: KeyEncoding,
    algorithm: MacAlgorithm,
    message: Vec<u8>,
    expected: Vec<u8>,
) -> Result<bool, MacError> {
    let key = key_for(gateway, secrets, secret, encoding, message.len())?;
    off_thread(gateway, move || {
        verify(&key, algorithm, &message, &expected)
    })
    .await
}

/// The key of a MAC of `len` bytes: the MAC key `secret` in `encoding`, or why not.
fn key_for(
    gateway: &str,
    secrets: &SecretStore,
    secret: &str,
    encoding: KeyEncoding,
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, MacError> {
    if len > MAX_MESSAGE {
        tracing::warn!(
            gateway,
            bytes = len,
            "refused to compute a MAC of more than {MAX_MESSAGE} bytes"
        );
        return Err(MacError::TooLarge);
    }
    let value = secrets.mac_key(secret).map_err(|e| {
        tracing::warn!(gateway, "refused to compute a MAC: {e}");
        MacError::Unavailable
    })?;
    decode_key(&value, encoding).inspect_err(|_| {
        tracing::warn!(
            gateway,
            "secret `{secret}` is not valid {encoding:?}: no MAC computed"
        );
    })
}

/// Runs `work` on the blocking pool, off the async workers.
async fn off_thread<T: Send + 'static>(
    gateway: &str,
    work: impl FnOnce() -> Result<T, MacError> + Send + 'static,
) -> Result<T, MacError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        tracing::error!(gateway, "the MAC computation failed: {e}");
        Err(MacError::Unavailable)
    })
}

/// The key bytes of a secret in `encoding`, wiped when dropped.
pub(crate) fn decode_key(
    secret: &Secret,
    encoding: KeyEncoding,
) -> Result<Zeroizing<Vec<u8>>, MacError> {
    let text = secret.expose_secret();
    let key = match encoding {
        KeyEncoding::Raw => text.as_bytes().to_vec(),
        KeyEncoding::Hex => hex::decode(text.trim()).map_err(|_| MacError::BadEncoding)?,
        KeyEncoding::Base64 => BASE64
            .decode(text.trim())
            .map_err(|_| MacError::BadEncoding)?,
        KeyEncoding::Sha1Digest => sha1::Sha1::digest(text.as_bytes()).to_vec(),
    };
    Ok(Zeroizing::new(key))
}

/// The MAC of `message` under `key`, not finalized. (HMAC takes keys of any length: the error
/// is there for the type's sake.)
fn keyed<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Result<M, MacError> {
    let mut mac =
        <M as hmac::digest::KeyInit>::new_from_slice(key).map_err(|_| MacError::BadEncoding)?;
    mac.update(message);
    Ok(mac)
}

/// `algorithm(key, message)`.
pub(crate) fn compute(
    key: &[u8],
    algorithm: MacAlgorithm,
    message: &[u8],
) -> Result<Vec<u8>, MacError> {
    Ok(match algorithm {
        MacAlgorithm::HmacSha1 => keyed::<Hmac<sha1::Sha1>>(key, message)?
            .finalize()
            .into_bytes()
            .to_vec(),
        MacAlgorithm::HmacSha256 => keyed::<Hmac<sha2::Sha256>>(key, message)?
            .finalize()
            .into_bytes()
            .to_vec(),
        MacAlgorithm::HmacSha512 => keyed::<Hmac<sha2::Sha512>>(key, message)?
            .finalize()
            .into_bytes()
            .to_vec(),
    })
}

/// Whether `expected` is `algorithm(key, message)`, compared in constant time (`hmac`'s
/// `verify_slice`, through `subtle`).
pub(crate) fn verify(
    key: &[u8],
    algorithm: MacAlgorithm,
    message: &[u8],
    expected: &[u8],
) -> Result<bool, MacError> {
    Ok(match algorithm {
        MacAlgorithm::HmacSha1 => keyed::<Hmac<sha1::Sha1>>(key, message)?
            .verify_slice(expected)
            .is_ok(),
        MacAlgorithm::HmacSha256 => keyed::<Hmac<sha2::Sha256>>(key, message)?
            .verify_slice(expected)
            .is_ok(),
        MacAlgorithm::HmacSha512 => keyed::<Hmac<sha2::Sha512>>(key, message)?
            .verify_slice(expected)
            .is_ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2202 / RFC 4231 test case 2: key "Jefe", "what do ya want for nothing?".
    const MESSAGE: &[u8] = b"what do ya want for nothing?";

    #[test]
    fn hmacs_match_the_rfc_test_vectors() {
        assert_eq!(
            hex::encode(compute(b"Jefe", MacAlgorithm::HmacSha1, MESSAGE).unwrap()),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hex::encode(compute(b"Jefe", MacAlgorithm::HmacSha256, MESSAGE).unwrap()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(compute(b"Jefe", MacAlgorithm::HmacSha512, MESSAGE).unwrap()),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
             9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
    }

    #[test]
    fn verification_accepts_the_mac_only() {
        for algorithm in [
            MacAlgorithm::HmacSha1,
            MacAlgorithm::HmacSha256,
            MacAlgorithm::HmacSha512,
        ] {
            let mac = compute(b"Jefe", algorithm, MESSAGE).unwrap();
            assert!(verify(b"Jefe", algorithm, MESSAGE, &mac).unwrap());
            let mut wrong = mac.clone();
            wrong[0] ^= 1;
            assert!(!verify(b"Jefe", algorithm, MESSAGE, &wrong).unwrap());
            assert!(!verify(b"Jefe", algorithm, MESSAGE, &mac[..mac.len() - 1]).unwrap());
            assert!(!verify(b"Jefe", algorithm, MESSAGE, &[]).unwrap());
        }
    }

    #[test]
    fn keys_are_read_in_each_encoding() {
        let key = |text: &str, encoding| decode_key(&Secret::new(text), encoding);
        assert_eq!(*key("whsec_abc", KeyEncoding::Raw).unwrap(), b"whsec_abc");
        assert_eq!(*key("4a656665", KeyEncoding::Hex).unwrap(), b"Jefe");
        assert_eq!(*key("4A656665", KeyEncoding::Hex).unwrap(), b"Jefe");
        assert_eq!(*key("SmVmZQ==", KeyEncoding::Base64).unwrap(), b"Jefe");
        assert_eq!(*key("SmVmZQ", KeyEncoding::Base64).unwrap(), b"Jefe");
        // SHA-1("Jefe")
        assert_eq!(
            hex::encode(&*key("Jefe", KeyEncoding::Sha1Digest).unwrap()),
            "cb5551f403fac5fd3d6d1b6329993c3848c468ce"
        );
        assert_eq!(
            key("not hex", KeyEncoding::Hex).unwrap_err(),
            MacError::BadEncoding
        );
        assert_eq!(
            key("4a6", KeyEncoding::Hex).unwrap_err(),
            MacError::BadEncoding
        );
        assert_eq!(
            key("not*base64", KeyEncoding::Base64).unwrap_err(),
            MacError::BadEncoding
        );
    }
}
