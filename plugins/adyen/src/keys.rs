//! The identifiers the plugin derives from the caller's: idempotency keys of each request, shopper
//! references of CRM customers, and merchant references of payments and modifications. Each
//! derivation is a pure function of its input (the plugin keeps no state), fits Adyen's rules, and
//! never gives two inputs the same output: an input that fits is used as it is, one that doesn't is
//! replaced by a digest whose form no fitting input can have.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use omnicrm_gateway_sdk::types::GatewayError;
use sha2::{Digest, Sha256};

/// The longest `Idempotency-Key` Adyen accepts (Checkout API v71, header `Idempotency-Key`: "a
/// maximum of 64 characters").
pub const MAX_IDEMPOTENCY_KEY: usize = 64;

/// The longest merchant `reference` of a payment or modification ("Maximum length: 80
/// characters").
pub const MAX_REFERENCE: usize = 80;

/// The shortest shopper reference Adyen accepts ("Minimum length: 3 characters").
const MIN_SHOPPER_REFERENCE: usize = 3;

/// The longest CRM customer id used as the shopper reference as it is (Adyen allows 256; the
/// reference is repeated in every stored-method URL and notification, so long ids are digested).
const MAX_EXACT_SHOPPER_REFERENCE: usize = 64;

/// How a digested shopper reference starts; a CRM id that starts so is digested too, so that no
/// CRM id can be taken for another's digest.
const SHOPPER_DIGEST_PREFIX: &str = "omnicrm-sha256-";

/// The characters of a caller's idempotency key (`types.idempotency-key`) and of the ids used
/// as they are: letters, digits and `.`, `_`, `:`, `-`.
fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-')
}

/// URL-safe Base64 of the SHA-256 of `input`: 43 characters of `A-Z a-z 0-9 - _`.
fn digest(input: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(input.as_bytes()))
}

/// Checks a caller's idempotency key: 1 to 200 characters of `A-Z a-z 0-9 . _ : -`.
pub fn check_key(key: &str) -> Result<&str, GatewayError> {
    if key.is_empty() || key.len() > 200 || !key.bytes().all(is_key_char) {
        return Err(GatewayError::invalid_input(
            "idempotency-key",
            "must be 1 to 200 characters of A-Z a-z 0-9 . _ : -",
        ));
    }
    Ok(key)
}

/// The `Idempotency-Key` of one step (`payment`, `capture`, `details`, ...) of an operation:
/// `<key>:<step>` when it fits in 64 characters, else `k-` and the digest of `<key>:<step>`.
///
/// Adyen keeps keys per account, not per endpoint, so every request of an operation needs a key
/// of its own. The plain form always contains `:`; the digest form never does, so the two never
/// meet, and the same caller key always gives the same Adyen key (a repeat replays the answer).
pub fn step_key(key: &str, step: &str) -> Result<String, GatewayError> {
    let plain = format!("{}:{step}", check_key(key)?);
    if plain.len() <= MAX_IDEMPOTENCY_KEY {
        Ok(plain)
    } else {
        Ok(format!("k-{}", digest(&plain)))
    }
}

/// The shopper reference of a CRM customer: the CRM id itself when it has 3 to 64 characters of
/// `A-Z a-z 0-9 . _ : -` (and does not start like a digest), else `omnicrm-sha256-` and the
/// digest of the id. Exact ids stay readable in Adyen's Customer Area; anything else (too short,
/// too long, other characters) is digested, so that the mapping stays one-to-one: two CRM ids
/// never share a shopper, and a CRM id always gets the same one.
pub fn shopper_reference(crm_customer_id: &str) -> String {
    let fits = (MIN_SHOPPER_REFERENCE..=MAX_EXACT_SHOPPER_REFERENCE)
        .contains(&crm_customer_id.len())
        && crm_customer_id.bytes().all(is_key_char)
        && !crm_customer_id.starts_with(SHOPPER_DIGEST_PREFIX);
    if fits {
        crm_customer_id.to_owned()
    } else {
        format!("{SHOPPER_DIGEST_PREFIX}{}", digest(crm_customer_id))
    }
}

/// Checks a shopper reference the CRM passes back (`customer-ref`) before it is sent.
pub fn check_shopper(customer: &str) -> Result<&str, GatewayError> {
    let valid = (MIN_SHOPPER_REFERENCE..=255).contains(&customer.len())
        && customer.bytes().all(|b| b.is_ascii_graphic());
    if !valid {
        return Err(GatewayError::invalid_input(
            "customer",
            "not a shopper reference of this gateway",
        ));
    }
    Ok(customer)
}

/// Checks an Adyen identifier (a `pspReference`, a stored payment method id, a session id)
/// before it goes into a URL path: 1 to 64 letters and digits.
pub fn check_id<'a>(field: &str, id: &'a str) -> Result<&'a str, GatewayError> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(GatewayError::invalid_input(
            field,
            format!("not a valid Adyen {field} identifier"),
        ));
    }
    Ok(id)
}

/// A merchant `reference` from `preferred` (the CRM transaction id, or the caller's key): itself
/// when it fits in 80 characters, else `ref-` and its digest. References identify a payment in
/// Adyen's reports; they need not be unique, but the same input always gives the same reference.
pub fn reference(preferred: &str) -> String {
    if !preferred.is_empty() && preferred.len() <= MAX_REFERENCE {
        preferred.to_owned()
    } else {
        format!("ref-{}", digest(preferred))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_keys_fit_adyen_and_never_collide() {
        assert_eq!(step_key("order-1", "payment").unwrap(), "order-1:payment");
        let long = "k".repeat(200);
        let derived = step_key(&long, "payment").unwrap();
        assert!(derived.len() <= MAX_IDEMPOTENCY_KEY, "{derived}");
        assert!(derived.starts_with("k-") && !derived.contains(':'));
        // The same every time, and one per step.
        assert_eq!(derived, step_key(&long, "payment").unwrap());
        assert_ne!(derived, step_key(&long, "capture").unwrap());
        assert_ne!(derived, step_key(&"k".repeat(199), "payment").unwrap());
        // The longest plain key, and one character more.
        let fits = "a".repeat(MAX_IDEMPOTENCY_KEY - ":payment".len());
        assert_eq!(step_key(&fits, "payment").unwrap().len(), 64);
        assert!(
            step_key(&format!("{fits}a"), "payment")
                .unwrap()
                .starts_with("k-")
        );
        for bad in ["", "with space", "é", &"k".repeat(201)] {
            assert!(
                matches!(step_key(bad, "x"), Err(GatewayError::InvalidInput(i)) if i.field == "idempotency-key"),
                "{bad}"
            );
        }
    }

    #[test]
    fn shopper_references_are_exact_or_digested_and_one_to_one() {
        assert_eq!(shopper_reference("CRM-42"), "CRM-42");
        assert_eq!(shopper_reference("crm-42"), "crm-42", "case is kept");
        let digested = [
            "42",
            "x",
            "a/b",
            "ünïcode",
            "with space",
            &"a".repeat(65),
            "omnicrm-sha256-abc",
        ];
        let mut seen = std::collections::BTreeSet::new();
        for id in digested {
            let r = shopper_reference(id);
            assert!(r.starts_with(SHOPPER_DIGEST_PREFIX), "{id} -> {r}");
            assert!(
                r.len() <= 80 && r.bytes().all(|b| b.is_ascii_graphic()),
                "{r}"
            );
            assert_eq!(r, shopper_reference(id), "stable");
            assert!(seen.insert(r), "{id} collides");
        }
        // A CRM id that looks like another's digest is digested itself.
        let taken = shopper_reference("42");
        assert_ne!(shopper_reference(&taken), taken);
        assert!(seen.insert(shopper_reference("CRM-42")));
        assert_eq!(check_shopper(&taken).unwrap(), taken);
        assert!(check_shopper("ab").is_err());
        assert!(check_shopper("a b c").is_err());
    }

    #[test]
    fn ids_and_references() {
        assert_eq!(
            check_id("payment", "ABCD1234EFGH5678").unwrap(),
            "ABCD1234EFGH5678"
        );
        for bad in ["", "AB/CD", "AB CD", "AB?x=1", &"A".repeat(65)] {
            assert!(check_id("payment", bad).is_err(), "{bad}");
        }
        assert_eq!(reference("7"), "7");
        let long = reference(&"t".repeat(81));
        assert!(long.starts_with("ref-") && long.len() <= MAX_REFERENCE);
        assert_eq!(long, reference(&"t".repeat(81)));
        assert!(reference("").starts_with("ref-"));
    }
}
