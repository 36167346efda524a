//! Identifiers: Adyen's 16-character `pspReference`s (digits and upper-case letters, e.g.
//! `993617895204576J`, `JLCMPCQ8HXSKGK82` in the v71 spec's examples; stored payment method ids
//! have the same shape, `M5N7TQ4TG5PFWR50`), session ids (`CS` and hex, `CS451F2AB1ED897A94`) and
//! opaque tokens.

use rand::Rng;

const UPPER_ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A new 16-character reference.
pub fn reference() -> String {
    let mut rng = rand::rng();
    (0..16)
        .map(|_| char::from(UPPER_ALPHANUMERIC[rng.random_range(0..UPPER_ALPHANUMERIC.len())]))
        .collect()
}

/// A new checkout session id.
pub fn session_id() -> String {
    let bytes: [u8; 8] = rand::random();
    format!("CS{}", hex::encode_upper(bytes))
}

/// A new opaque token (URL-safe), `prefix` then `len` random characters.
pub fn opaque(prefix: &str, len: usize) -> String {
    let mut token = String::with_capacity(prefix.len() + len);
    token.push_str(prefix);
    token.extend(
        rand::rng()
            .sample_iter(&rand::distr::Alphanumeric)
            .take(len)
            .map(char::from),
    );
    token
}

#[cfg(test)]
mod tests {
    #[test]
    fn shapes() {
        let r = super::reference();
        assert_eq!(r.len(), 16);
        assert!(
            r.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        );
        assert_eq!(super::session_id().len(), 18);
        assert!(super::opaque("Ab02b4c0!", 10).starts_with("Ab02b4c0!"));
    }
}
