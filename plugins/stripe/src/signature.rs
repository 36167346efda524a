//! Stripe webhook signatures: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]` over
//! `"{t}.{raw body}"` with HMAC-SHA256. The MAC is computed by the host with the `webhook-secret`
//! it holds; this module parses the header, compares in constant time and checks the tolerance.

/// The parts of a `Stripe-Signature` header that matter: the timestamp and every `v1` MAC.
#[derive(Debug, PartialEq, Eq)]
pub struct Header {
    pub timestamp: i64,
    pub v1: Vec<Vec<u8>>,
}

/// Parses the header; `None` when it has no timestamp or no `v1` value. Other schemes (`v0`) and
/// values that are not hex are ignored.
pub fn parse(header: &str) -> Option<Header> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" => timestamp = v.parse::<i64>().ok(),
            "v1" => {
                if let Some(mac) = hex(v) {
                    v1.push(mac);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp?;
    (!v1.is_empty()).then_some(Header { timestamp, v1 })
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The bytes that are signed: `"{t}." + body`.
pub fn signed_payload(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut payload = format!("{timestamp}.").into_bytes();
    payload.extend_from_slice(body);
    payload
}

/// Compares two MACs in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    core::hint::black_box(diff) == 0
}

/// Whether any of the header's `v1` values equals `expected` (every one is compared).
pub fn matches(header: &Header, expected: &[u8]) -> bool {
    header
        .v1
        .iter()
        .fold(false, |found, mac| constant_time_eq(mac, expected) | found)
}

/// Whether `timestamp` is within `tolerance` seconds of `now`, either way.
pub fn within_tolerance(timestamp: i64, now: i64, tolerance: i64) -> bool {
    now.abs_diff(timestamp) <= tolerance.unsigned_abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_several_v1_and_ignores_v0() {
        let h = parse("t=1700000000,v1=00ff,v0=abcd, v1=0102,v1=zz").unwrap();
        assert_eq!(h.timestamp, 1_700_000_000);
        assert_eq!(h.v1, vec![vec![0, 255], vec![1, 2]]);
        assert!(matches(&h, &[1, 2]));
        assert!(!matches(&h, &[1, 3]));
        assert!(parse("v1=00").is_none());
        assert!(parse("t=1").is_none());
        assert!(within_tolerance(1000, 1300, 300));
        assert!(!within_tolerance(1000, 1301, 300));
        assert!(!within_tolerance(1301, 1000, 300));
    }
}
