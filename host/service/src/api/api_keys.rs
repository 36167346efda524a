//! API keys: configured as SHA-256 hashes with scopes, never as the keys themselves.

use sha2::Digest;

use crate::config::{ApiKeyConfig, Scope};

/// The configured keys: the SHA-256 of each (never the key itself), its name and scopes.
#[derive(Clone, Default)]
pub struct ApiKeys {
    keys: Vec<([u8; 32], String, Vec<Scope>)>,
}

impl ApiKeys {
    /// From the configuration (the configuration checks that each `sha256` is 64 hex digits;
    /// one that is not matches no key).
    pub fn new(keys: &[ApiKeyConfig]) -> Self {
        ApiKeys {
            keys: keys
                .iter()
                .filter_map(|k| {
                    let digest = hex::decode(k.sha256.trim()).ok()?.try_into().ok()?;
                    Some((digest, k.name.clone(), k.scopes.clone()))
                })
                .collect(),
        }
    }

    /// The name and scopes of a presented key. The presented key's SHA-256 is compared with
    /// every configured one in constant time, so the answer's timing tells nothing about how
    /// close a guess came.
    pub fn lookup(&self, presented: &str) -> Option<(String, Vec<Scope>)> {
        let presented: [u8; 32] = sha2::Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (digest, name, scopes) in &self.keys {
            let diff = digest
                .iter()
                .zip(presented.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if std::hint::black_box(diff) == 0 {
                found = Some((name.clone(), scopes.clone()));
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::hash_api_key;

    #[test]
    fn keys_are_matched_by_their_hash_only() {
        let config = |name: &str, sha256: String, scopes: Vec<Scope>| ApiKeyConfig {
            name: name.into(),
            sha256,
            scopes,
        };
        let keys = ApiKeys::new(&[
            config("crm", hash_api_key("secret-1"), vec![Scope::Write]),
            config(
                "reports",
                hash_api_key("secret-2").to_ascii_uppercase(),
                vec![Scope::Read],
            ),
            config("broken", "not hex".into(), vec![Scope::Write]),
        ]);
        assert_eq!(
            keys.lookup("secret-1"),
            Some(("crm".to_string(), vec![Scope::Write]))
        );
        assert_eq!(
            keys.lookup("secret-2"),
            Some(("reports".to_string(), vec![Scope::Read]))
        );
        assert_eq!(keys.lookup("secret-3"), None);
        assert_eq!(keys.lookup(""), None);
        // The configured hash is not a key.
        assert_eq!(keys.lookup(&hash_api_key("secret-1")), None);
        assert_eq!(keys.lookup("not hex"), None);
    }
}
