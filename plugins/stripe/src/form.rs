//! `application/x-www-form-urlencoded` bodies and query strings as Stripe reads them: nested keys
//! with brackets (`metadata[order_id]=42`, `expand[]=latest_charge`), keys and values
//! percent-encoded.

/// An ordered list of form parameters.
#[derive(Debug, Default, Clone)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// An empty form.
    pub fn new() -> Self {
        Form::default()
    }

    /// Adds `key=value`. `key` may use brackets for nesting (`card[token]`).
    pub fn add(&mut self, key: &str, value: impl ToString) -> &mut Self {
        self.pairs.push((key.to_owned(), value.to_string()));
        self
    }

    /// Adds `key=value` when `value` is set.
    pub fn opt(&mut self, key: &str, value: Option<impl ToString>) -> &mut Self {
        if let Some(v) = value {
            self.add(key, v);
        }
        self
    }

    /// Adds `parent[child]=value`.
    pub fn nested(&mut self, parent: &str, child: &str, value: impl ToString) -> &mut Self {
        self.pairs
            .push((format!("{parent}[{child}]"), value.to_string()));
        self
    }

    /// Adds `metadata[k]=v` for every entry.
    pub fn metadata(&mut self, metadata: &[(String, String)]) -> &mut Self {
        for (k, v) in metadata {
            self.nested("metadata", k, v);
        }
        self
    }

    /// Adds `expand[]=path`.
    pub fn expand(&mut self, path: &str) -> &mut Self {
        self.add("expand[]", path)
    }

    /// Whether no parameter was added.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The encoded form: `a=1&metadata%5Bk%5D=v`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            encode_into(&mut out, k);
            out.push('=');
            encode_into(&mut out, v);
        }
        out
    }
}

/// Percent-encodes everything but the unreserved characters of RFC 3986 (`A-Z a-z 0-9 - . _ ~`).
pub fn encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

/// Percent-encodes one path segment or value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    encode_into(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_nested_keys_and_values() {
        let mut f = Form::new();
        f.add("amount", 1050)
            .metadata(&[("crm id".into(), "a&b=c/é".into())])
            .expand("latest_charge.balance_transaction")
            .nested("card", "token", "tok_visa");
        assert_eq!(
            f.encode(),
            "amount=1050&metadata%5Bcrm%20id%5D=a%26b%3Dc%2F%C3%A9\
             &expand%5B%5D=latest_charge.balance_transaction&card%5Btoken%5D=tok_visa"
        );
    }

    #[test]
    fn encodes_every_reserved_byte() {
        assert_eq!(encode("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(
            encode(" +&=?#/%[]'\""),
            "%20%2B%26%3D%3F%23%2F%25%5B%5D%27%22"
        );
        assert_eq!(encode("€\n\u{0}"), "%E2%82%AC%0A%00");
        let mut f = Form::new();
        f.add("metadata[]", "")
            .opt("skipped", None::<&str>)
            .add("k", -5);
        assert_eq!(f.encode(), "metadata%5B%5D=&k=-5");
        assert!(Form::new().encode().is_empty());
    }
}
