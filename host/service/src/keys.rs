//! Digests for idempotency keys derived from other values (the key of a capture from its
//! transaction's, the key of an API request from the client's `Idempotency-Key`): short, of the
//! contract's key alphabet, and the same for the same inputs.

use sha2::Digest;

/// A hex digest of `parts` (128 bits), usable inside idempotency keys. Parts are separated, so
/// `["ab", "c"]` and `["a", "bc"]` differ.
pub fn digest(parts: &[&str]) -> String {
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_stable_and_separate_their_parts() {
        assert_eq!(digest(&["a", "b"]), digest(&["a", "b"]));
        assert_ne!(digest(&["ab", "c"]), digest(&["a", "bc"]));
        assert_eq!(digest(&["x"]).len(), 32);
        assert!(digest(&["x"]).chars().all(|c| c.is_ascii_hexdigit()));
    }
}
