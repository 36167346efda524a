//! A small JSON reader for Stripe's responses and events (smaller than serde_json in the component).
//!
//! Strict RFC 8259 grammar. Nesting deeper than [`MAX_DEPTH`] is an error, so hostile input
//! can't overflow the stack. Numbers are checked
//! against the grammar and kept as text, read as integers on demand (nothing here needs floats).
//! Lone or mismatched UTF-16 surrogates in `\u` escapes become U+FFFD.

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as its (valid) text.
    Num(String),
    /// A string, unescaped.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object's members, in document order.
    Obj(Vec<(String, Json)>),
}

static NULL: Json = Json::Null;

impl Json {
    /// Parses a whole document.
    pub fn parse(bytes: &[u8]) -> Result<Json, String> {
        let mut p = Parser { s: bytes, i: 0 };
        p.ws();
        let v = p.value(0)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing data at byte {}", p.i));
        }
        Ok(v)
    }

    /// A member of an object (`Null` when absent or not an object).
    pub fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(m) => m.iter().find(|(k, _)| k == key).map_or(&NULL, |(_, v)| v),
            _ => &NULL,
        }
    }

    /// A member by a dotted path: `path("card.last4")`.
    pub fn path(&self, path: &str) -> &Json {
        path.split('.').fold(self, |v, k| v.get(k))
    }

    /// Whether this is `null` (or an absent member).
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    /// The string, if this is one.
    pub fn str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The string, owned, if this is one.
    pub fn string(&self) -> Option<String> {
        self.str().map(str::to_owned)
    }

    /// The number as an `i64`: `None` for fractions, exponents and values out of range.
    pub fn i64(&self) -> Option<i64> {
        match self {
            Json::Num(n) => n.parse().ok(),
            _ => None,
        }
    }

    /// The number as a smaller integer type (`u8` months, `u16` years...): `None` when out of range.
    pub fn int<T: TryFrom<i64>>(&self) -> Option<T> {
        self.i64().and_then(|n| T::try_from(n).ok())
    }

    /// The boolean, if this is one.
    pub fn bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The items of an array; empty for anything else.
    pub fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            _ => &[],
        }
    }

    /// The members of an object; empty for anything else.
    pub fn entries(&self) -> &[(String, Json)] {
        match self {
            Json::Obj(m) => m,
            _ => &[],
        }
    }

    /// The id of an expandable field: the string itself, or the `id` of the expanded object.
    pub fn id(&self) -> Option<String> {
        match self {
            Json::Str(s) => Some(s.clone()),
            Json::Obj(_) => self.get("id").string(),
            _ => None,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

/// The deepest nesting of arrays and objects accepted (Stripe's objects nest a handful deep).
pub const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.i))
    }

    fn lit(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            self.err("invalid literal")
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return self.err("nesting too deep");
        }
        match self.s.get(self.i) {
            None => self.err("unexpected end"),
            Some(b'n') => self.lit("null", Json::Null),
            Some(b't') => self.lit("true", Json::Bool(true)),
            Some(b'f') => self.lit("false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::Str),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return self.err("expected , or ]"),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(members));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return self.err("expected key");
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.s.get(self.i) != Some(&b':') {
                        return self.err("expected :");
                    }
                    self.i += 1;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    members.push((k, v));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(members));
                        }
                        _ => return self.err("expected , or }"),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.err("unexpected character"),
        }
    }

    /// Skips a run of ASCII digits; how many there were.
    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        self.i - start
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<Json, String> {
        let start = self.i;
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.err("invalid number"),
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return self.err("invalid number");
            }
        }
        if let Some(b'e' | b'E') = self.s.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.s.get(self.i) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return self.err("invalid number");
            }
        }
        // Only ASCII digits and signs were consumed.
        let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        Ok(Json::Num(text))
    }

    /// Four hex digits of a `\u` escape.
    fn hex4(&mut self) -> Result<u32, String> {
        let Some(digits) = self.s.get(self.i..self.i + 4) else {
            return self.err("bad escape");
        };
        let mut v = 0;
        for &d in digits {
            let Some(n) = char::from(d).to_digit(16) else {
                return self.err("bad escape");
            };
            v = v * 16 + n;
        }
        self.i += 4;
        Ok(v)
    }

    /// The code point of a `\u` escape (after the `u`), pairing surrogates.
    fn unicode_escape(&mut self) -> Result<char, String> {
        let cp = self.hex4()?;
        if (0xD800..0xDC00).contains(&cp) && self.s[self.i..].starts_with(b"\\u") {
            let save = self.i;
            self.i += 2;
            let lo = self.hex4()?;
            if (0xDC00..0xE000).contains(&lo) {
                let pair = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                return Ok(char::from_u32(pair).unwrap_or('\u{FFFD}'));
            }
            // Not a low surrogate: the high one stands alone; read the next escape on its own.
            self.i = save;
        }
        Ok(char::from_u32(cp).unwrap_or('\u{FFFD}'))
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // opening quote
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.i) else {
                return self.err("unterminated string");
            };
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        return self.err("unterminated string");
                    };
                    self.i += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return self.err("bad escape"),
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0x00..=0x1F => return self.err("control character in string"),
                _ => out.push(b),
            }
        }
        String::from_utf8(out).or_else(|_| self.err("invalid UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stripe_like_objects() {
        let v = Json::parse(
            br#"{"id":"pi_1","amount":1050,"x":[true,null,-1.5e3],"s":"a\"\u00e9\ud83d\ude00"}"#,
        )
        .unwrap();
        assert_eq!(v.get("id").str(), Some("pi_1"));
        assert_eq!(v.get("amount").i64(), Some(1050));
        assert_eq!(v.get("x").arr().len(), 3);
        assert_eq!(v.get("s").str(), Some("a\"é😀"));
        assert!(Json::parse(b"{").is_err());
        assert!(Json::parse(b"[1] x").is_err());
    }

    #[test]
    fn escapes_and_surrogates() {
        let v = Json::parse(br#""\/\\\b\f\n\r\t\u0041\u20ac""#).unwrap();
        assert_eq!(v.str(), Some("/\\\u{8}\u{c}\n\r\tA€"));
        // A lone or mismatched surrogate is U+FFFD; the escape after it is read on its own.
        let v = Json::parse(br#""\ud83d\u0041|\ude00|\ud83d""#).unwrap();
        assert_eq!(v.str(), Some("\u{FFFD}A|\u{FFFD}|\u{FFFD}"));
        for bad in [
            &br#""\u+041""#[..],
            br#""\u12""#,
            br#""\x""#,
            b"\"a\nb\"",
            b"\"\xff\"",
            b"\"abc",
            b"\"\\",
        ] {
            assert!(
                Json::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn numbers_follow_the_grammar_and_i64_bounds() {
        let v = Json::parse(
            b"[9223372036854775807,-9223372036854775808,9223372036854775808,0,-0,1.5,2e3]",
        )
        .unwrap();
        let n: Vec<Option<i64>> = v.arr().iter().map(Json::i64).collect();
        assert_eq!(
            n,
            [
                Some(i64::MAX),
                Some(i64::MIN),
                None,
                Some(0),
                Some(0),
                None,
                None
            ]
        );
        assert_eq!(Json::parse(b"300").unwrap().int::<u8>(), None);
        assert_eq!(Json::parse(b"12").unwrap().int::<u8>(), Some(12));
        for bad in [
            "-", "01", "1.", ".5", "1e", "1e+", "+1", "--1", "1-2", "0x10", "1.2.3",
        ] {
            assert!(Json::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(Json::parse(ok.as_bytes()).is_ok());
        for open in ["[", "{\"a\":"] {
            let deep = open.repeat(100_000);
            assert!(Json::parse(deep.as_bytes()).is_err());
        }
    }

    #[test]
    fn garbage_never_panics() {
        // A cheap deterministic fuzz: every prefix of valid documents and pseudo-random bytes
        // drawn from JSON's alphabet.
        let doc = br#"{"a":[1,-2.5e-3,"x\u00e9\ud83d\ude00",true,false,null,{"b":{}}],"c":"\"\\"}"#;
        for end in 0..=doc.len() {
            let _ = Json::parse(&doc[..end]);
        }
        let alphabet = b"{}[]:,\"\\/u0123456789abcdefABCDEF.eE+-tnrl \n\xc3\xa9\xff";
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let len = (seed % 24) as usize;
            let mut input = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                input.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            let _ = Json::parse(&input);
        }
    }

    #[test]
    fn lookups_on_the_wrong_shape_are_empty() {
        let v = Json::parse(br#"{"a":{"b":"c"},"n":1,"a":2}"#).unwrap();
        assert_eq!(v.path("a.b").str(), Some("c"));
        assert!(v.path("a.b.c").is_null() && v.path("n.x").is_null());
        assert!(v.get("n").arr().is_empty() && v.get("n").entries().is_empty());
        assert_eq!(Json::Str("cus_1".into()).id().as_deref(), Some("cus_1"));
        assert_eq!(v.get("a").id(), None);
    }
}
