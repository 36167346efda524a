//! API key check: `Authorization: Bearer sk_test_...`, or HTTP Basic with the key as user name.
//! Test keys (`sk_test_`, restricted `rk_test_`) are accepted; anything else gets Stripe's 401.

use http::HeaderMap;

use crate::error::ApiError;

fn is_test_key(key: &str) -> bool {
    (key.starts_with("sk_test_") || key.starts_with("rk_test_")) && key.len() > 8
}

/// Masks a key for error messages: Stripe shows only its last four characters.
fn masked(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let head: String = key.chars().take_while(|c| *c != '_').collect();
    format!(
        "{head}_{}{tail}",
        "*".repeat(key.len().saturating_sub(head.len() + 5).min(24))
    )
}

/// Checks the request's credentials.
pub fn check(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err(ApiError::new(
            401,
            "invalid_request_error",
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
        ));
    };
    let key = if let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    {
        token.trim().to_string()
    } else if let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    {
        let decoded = decode_base64(encoded.trim()).unwrap_or_default();
        let text = String::from_utf8_lossy(&decoded).into_owned();
        text.split(':').next().unwrap_or("").to_string()
    } else {
        String::new()
    };
    if is_test_key(&key) {
        Ok(())
    } else if key.is_empty() {
        Err(ApiError::new(
            401,
            "invalid_request_error",
            "Invalid API Key provided: the Authorization header must be `Bearer sk_test_...` or HTTP Basic with the key as user name.",
        ))
    } else {
        Err(ApiError::new(
            401,
            "invalid_request_error",
            format!("Invalid API Key provided: {}", masked(&key)),
        ))
    }
}

/// Standard base64 (padding optional); `None` on invalid input.
fn decode_base64(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in input.bytes().filter(|c| *c != b'=') {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_basic() {
        assert_eq!(decode_base64("c2tfdGVzdF9hYmM6").unwrap(), b"sk_test_abc:");
        assert!(masked("sk_live_abcdefgh").ends_with("efgh"));
        assert!(!masked("sk_live_abcdefgh").contains("abcd"));
    }
}
