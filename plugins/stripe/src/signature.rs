//! Stripe webhook signatures: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]` over
//! `"{t}.{raw body}"` with HMAC-SHA256. The host verifies each `v1` with the `webhook-secret` it
//! holds (`credentials.verify-mac`, compared in constant time); this module parses the header,
//! builds the signed payload and checks the tolerance.

/// The parts of a `Stripe-Signature` header that matter: the timestamp and every `v1` MAC.
#[derive(Debug, PartialEq, Eq)]
pub struct Header {
    /// `t`: when Stripe signed the event, in Unix seconds.
    pub timestamp: i64,
    /// Every `v1` MAC (several while the endpoint's secret is being rolled).
    pub v1: Vec<Vec<u8>>,
}

/// Parses the header; `None` when it has no valid timestamp or no `v1` value. Other schemes
/// (`v0`) and `v1` values that are not hex are ignored.
pub fn parse(header: &str) -> Option<Header> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" if v.bytes().all(|b| b.is_ascii_digit()) => timestamp = v.parse::<i64>().ok(),
            "t" => return None,
            "v1" => v1.extend(hex(v)),
            _ => {}
        }
    }
    let timestamp = timestamp?;
    (!v1.is_empty()).then_some(Header { timestamp, v1 })
}

/// Decodes lower- or upper-case hex digits (nothing else: no signs, no white space).
fn hex(s: &str) -> Option<Vec<u8>> {
    let digit = |b: u8| char::from(b).to_digit(16);
    s.as_bytes()
        .chunks(2)
        .map(|pair| match *pair {
            [hi, lo] => u8::try_from((digit(hi)? << 4) | digit(lo)?).ok(),
            _ => None,
        })
        .collect()
}

/// The bytes that are signed: `"{t}." + body`.
pub fn signed_payload(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut payload = format!("{timestamp}.").into_bytes();
    payload.extend_from_slice(body);
    payload
}

/// Whether `timestamp` is within `tolerance` seconds of `now`, either way.
pub fn within_tolerance(timestamp: i64, now: i64, tolerance: u64) -> bool {
    now.abs_diff(timestamp) <= tolerance
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_several_v1_and_ignores_v0() {
        let h = parse("t=1700000000,v1=00ff,v0=abcd, v1=0102,v1=zz").unwrap();
        assert_eq!(h.timestamp, 1_700_000_000);
        assert_eq!(h.v1, vec![vec![0, 255], vec![1, 2]]);
        assert_eq!(signed_payload(h.timestamp, b"{}"), b"1700000000.{}");
        assert!(parse("v1=00").is_none());
        assert!(parse("t=1").is_none());
        assert!(parse("t=1,v0=00").is_none());
        assert!(within_tolerance(1000, 1300, 300));
        assert!(!within_tolerance(1000, 1301, 300));
        assert!(!within_tolerance(1301, 1000, 300));
        assert!(!within_tolerance(i64::MIN, i64::MAX, u64::MAX - 1));
    }

    #[test]
    fn hex_is_strict() {
        assert_eq!(hex("0aFf"), Some(vec![0x0a, 0xff]));
        assert_eq!(hex(""), Some(vec![]));
        for bad in ["+f", "0", "0g", " 0a", "é0", "0é"] {
            assert_eq!(hex(bad), None, "{bad}");
        }
        // A signature of signs is not a signature.
        assert!(parse("t=1,v1=+f+f").is_none());
        assert!(parse("t=+1,v1=00").is_none());
        assert!(parse("t=-1,v1=00").is_none());
    }

    #[test]
    fn hostile_headers_never_panic() {
        let samples = [
            "",
            ",",
            "=",
            "t=",
            "t==,v1==",
            "t=99999999999999999999,v1=00",
            "t=1,v1=\u{e9}\u{e9}",
            "t=1,,,,v1=00,=,v1",
            "\u{0}t=1,v1=00",
        ];
        for h in samples {
            let _ = parse(h);
        }
        let many = format!("t=1{}", ",v1=00".repeat(10_000));
        assert_eq!(parse(&many).map(|h| h.v1.len()), Some(10_000));
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let alphabet = b"tv01=,9af \xc3\xa9-+";
        for _ in 0..20_000 {
            let mut bytes = Vec::new();
            for _ in 0..(seed % 20) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            if let Ok(s) = core::str::from_utf8(&bytes) {
                let _ = parse(s);
            }
        }
    }
}
