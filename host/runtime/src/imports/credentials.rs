//! The `credentials` import of each contract version: MACs computed by the host with a named
//! secret (see `mac`), so signatures can be made and checked without the secret entering the
//! guest.
//!
//! What a plugin learns from a refusal is the same whatever the cause of unavailability (no such
//! secret, an outbound credential, a variable that is not set): it cannot tell which secrets
//! exist or where their values come from. The host's log says which.

use super::mac::{self, MacError};
use super::state::HostState;
use crate::contract::v0_1::bindings::omnicrm::payments::credentials as v0_1;
use crate::contract::v0_2::bindings::omnicrm::payments::credentials as v0_2;
use crate::contract::{KeyEncoding, MacAlgorithm};

/// What a 0.2 plugin is told.
fn v0_2_error(error: MacError) -> v0_2::CredentialError {
    match error {
        MacError::Unavailable => v0_2::CredentialError::Unavailable,
        MacError::BadEncoding => v0_2::CredentialError::BadEncoding,
        MacError::TooLarge => v0_2::CredentialError::TooLarge,
    }
}

/// What a 0.1 plugin is told: 0.1 has no finer error than `unavailable`, and its text says
/// nothing of the secret.
fn v0_1_error(_: MacError) -> v0_1::CredentialError {
    v0_1::CredentialError::Unavailable("not available".into())
}

impl v0_2::Host for HostState {
    async fn compute_mac(
        &mut self,
        key: v0_2::MacKey,
        algorithm: MacAlgorithm,
        message: Vec<u8>,
    ) -> Result<Vec<u8>, v0_2::CredentialError> {
        let shared = &self.shared;
        mac::compute_mac(
            &shared.name,
            &shared.secrets,
            &key.secret,
            key.encoding,
            algorithm,
            message,
        )
        .await
        .map_err(v0_2_error)
    }

    async fn verify_mac(
        &mut self,
        key: v0_2::MacKey,
        algorithm: MacAlgorithm,
        message: Vec<u8>,
        expected: Vec<u8>,
    ) -> Result<bool, v0_2::CredentialError> {
        let shared = &self.shared;
        mac::verify_mac(
            &shared.name,
            &shared.secrets,
            &key.secret,
            key.encoding,
            algorithm,
            message,
            expected,
        )
        .await
        .map_err(v0_2_error)
    }
}

impl v0_1::Host for HostState {
    async fn compute_mac(
        &mut self,
        secret_name: String,
        algorithm: v0_1::MacAlgorithm,
        message: Vec<u8>,
    ) -> Result<Vec<u8>, v0_1::CredentialError> {
        let algorithm = match algorithm {
            v0_1::MacAlgorithm::HmacSha256 => MacAlgorithm::HmacSha256,
            v0_1::MacAlgorithm::HmacSha512 => MacAlgorithm::HmacSha512,
        };
        let shared = &self.shared;
        // 0.1 keys are the secret's bytes.
        mac::compute_mac(
            &shared.name,
            &shared.secrets,
            &secret_name,
            KeyEncoding::Raw,
            algorithm,
            message,
        )
        .await
        .map_err(v0_1_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretSource;
    use crate::secrets::SecretStore;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    const API_KEY: &str = "sk_test_the_api_key";
    const WEBHOOK_SECRET: &str = "whsec_the_webhook_secret";
    const UNSET_VARIABLE: &str = "OMNICRM_TEST_MAC_KEY_THAT_IS_NEVER_SET";

    /// A gateway's secrets as a configuration with bearer auth on `api-key` gives them.
    fn secrets() -> SecretStore {
        let mut sources = BTreeMap::new();
        sources.insert("api-key".to_string(), SecretSource::value(API_KEY));
        sources.insert(
            "webhook-secret".to_string(),
            SecretSource::value(WEBHOOK_SECRET),
        );
        sources.insert("hex-key".to_string(), SecretSource::value("4a656665"));
        sources.insert(
            "from-env".to_string(),
            SecretSource::Env(UNSET_VARIABLE.into()),
        );
        SecretStore::new(sources, ["api-key"])
    }

    async fn compute(
        secrets: &SecretStore,
        secret: &str,
        encoding: KeyEncoding,
        message: &[u8],
    ) -> Result<Vec<u8>, MacError> {
        mac::compute_mac(
            "test",
            secrets,
            secret,
            encoding,
            MacAlgorithm::HmacSha256,
            message.to_vec(),
        )
        .await
    }

    #[tokio::test]
    async fn the_api_key_is_no_mac_oracle() {
        let secrets = secrets();
        // A plugin asking for MACs keyed with the outbound credential, in every encoding, is
        // refused exactly as for a secret that does not exist.
        for encoding in [
            KeyEncoding::Raw,
            KeyEncoding::Hex,
            KeyEncoding::Base64,
            KeyEncoding::Sha1Digest,
        ] {
            let refused = compute(&secrets, "api-key", encoding, b"probe").await;
            assert_eq!(refused, Err(MacError::Unavailable), "{encoding:?}");
        }
        assert_eq!(
            compute(&secrets, "no-such-secret", KeyEncoding::Raw, b"probe").await,
            Err(MacError::Unavailable)
        );
        let verdict = mac::verify_mac(
            "test",
            &secrets,
            "api-key",
            KeyEncoding::Raw,
            MacAlgorithm::HmacSha256,
            b"probe".to_vec(),
            mac::compute(API_KEY.as_bytes(), MacAlgorithm::HmacSha256, b"probe").unwrap(),
        )
        .await;
        assert_eq!(verdict, Err(MacError::Unavailable));
        // Both versions' answers say nothing of the secret.
        assert_eq!(
            v0_2_error(MacError::Unavailable),
            v0_2::CredentialError::Unavailable
        );
        assert_eq!(
            v0_1_error(MacError::Unavailable),
            v0_1::CredentialError::Unavailable("not available".into())
        );
        // The webhook secret works.
        let mac = compute(&secrets, "webhook-secret", KeyEncoding::Raw, b"body")
            .await
            .unwrap();
        assert_eq!(
            mac,
            mac::compute(WEBHOOK_SECRET.as_bytes(), MacAlgorithm::HmacSha256, b"body").unwrap()
        );
        // Verified in the same way, against the right MAC only.
        let verify = |expected: Vec<u8>| {
            mac::verify_mac(
                "test",
                &secrets,
                "webhook-secret",
                KeyEncoding::Raw,
                MacAlgorithm::HmacSha256,
                b"body".to_vec(),
                expected,
            )
        };
        assert_eq!(verify(mac.clone()).await, Ok(true));
        let mut forged = mac;
        forged[3] ^= 0x40;
        assert_eq!(verify(forged).await, Ok(false));
    }

    #[tokio::test]
    async fn refusals_never_name_where_a_secret_comes_from() {
        let secrets = secrets();
        let refused = compute(&secrets, "from-env", KeyEncoding::Raw, b"x").await;
        assert_eq!(refused, Err(MacError::Unavailable));
        for text in [
            format!("{:?}", v0_2_error(MacError::Unavailable)),
            format!("{:?}", v0_1_error(MacError::Unavailable)),
            format!("{:?}", v0_1_error(MacError::TooLarge)),
            format!("{:?}", v0_1_error(MacError::BadEncoding)),
        ] {
            assert!(!text.contains(UNSET_VARIABLE), "{text}");
            assert!(!text.contains("from-env"), "{text}");
            assert!(!text.contains("environment"), "{text}");
        }
    }

    #[tokio::test]
    async fn encodings_and_sizes() {
        let secrets = secrets();
        // "4a656665" read as hex is the key "Jefe".
        let hex = compute(
            &secrets,
            "hex-key",
            KeyEncoding::Hex,
            b"what do ya want for nothing?",
        )
        .await
        .unwrap();
        assert_eq!(
            hex::encode(hex),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // The webhook secret is not hexadecimal.
        assert_eq!(
            compute(&secrets, "webhook-secret", KeyEncoding::Hex, b"x").await,
            Err(MacError::BadEncoding)
        );
        // 1 MiB is accepted; one byte more is too large (0.1 plugins see `unavailable`).
        let limit = vec![7u8; mac::MAX_MESSAGE];
        assert!(
            compute(&secrets, "webhook-secret", KeyEncoding::Raw, &limit)
                .await
                .is_ok()
        );
        let over = vec![7u8; mac::MAX_MESSAGE + 1];
        assert_eq!(
            compute(&secrets, "webhook-secret", KeyEncoding::Raw, &over).await,
            Err(MacError::TooLarge)
        );
        assert_eq!(
            v0_2_error(MacError::TooLarge),
            v0_2::CredentialError::TooLarge
        );
        assert!(matches!(
            v0_1_error(MacError::TooLarge),
            v0_1::CredentialError::Unavailable(_)
        ));
    }

    /// Eight plugins computing MACs of 1 MiB in loops, on a runtime with a single async worker
    /// thread: another task on that worker keeps getting turns in between, because the hashing
    /// happens on the blocking pool. (Hashed on the worker, a plugin's loop would never yield,
    /// and the other task would run only between whole loops: at most 8 turns.) Turns, not
    /// wall-clock ticks, are counted: the machine's load cannot change the verdict.
    #[test]
    fn macs_of_large_messages_leave_the_async_workers_free() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let secrets = Arc::new(secrets());
            let turns = Arc::new(AtomicUsize::new(0));
            let done = Arc::new(AtomicBool::new(false));
            let other_task = {
                let (turns, done) = (turns.clone(), done.clone());
                tokio::spawn(async move {
                    while !done.load(Ordering::Relaxed) {
                        turns.fetch_add(1, Ordering::Relaxed);
                        tokio::task::yield_now().await;
                    }
                })
            };
            let message = vec![0x5au8; mac::MAX_MESSAGE];
            let plugins: Vec<_> = (0..8)
                .map(|_| {
                    let (secrets, message) = (secrets.clone(), message.clone());
                    tokio::spawn(async move {
                        for _ in 0..16 {
                            compute(&secrets, "webhook-secret", KeyEncoding::Raw, &message)
                                .await
                                .unwrap();
                        }
                    })
                })
                .collect();
            for plugin in plugins {
                plugin.await.unwrap();
            }
            let during = turns.load(Ordering::Relaxed);
            done.store(true, Ordering::Relaxed);
            other_task.await.unwrap();
            assert!(
                during >= 64,
                "the other task had {during} turns during 128 MACs of 1 MiB"
            );
        });
    }
}
