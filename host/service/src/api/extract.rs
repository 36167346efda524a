//! Reading requests strictly into their types: JSON bodies ([`JsonBody`], [`OptionalJsonBody`]),
//! query strings ([`QueryParams`]) and numeric path ids ([`path_id`]). Whatever is wrong is
//! refused before a handler runs, with the field at fault named: an unknown or missing field, a
//! wrong type, a key given twice (serde_json keeps the last of duplicate keys; here they are
//! refused), a body that is not JSON or not `application/json` (415), too large (413) or empty
//! where one is required.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::errors::ApiError;

/// The largest body the API reads, in bytes.
pub const MAX_BODY: usize = 1 << 20;

/// A required JSON body of type `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// A JSON body whose fields are all optional: an empty body reads as `T::default()`.
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub T);

/// A query string of type `T` (empty values count as absent).
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        match read_body(req).await? {
            Some(bytes) => parse_json(&bytes).map(JsonBody),
            None => Err(ApiError::invalid(
                "body",
                "a JSON object is required as the body",
            )),
        }
    }
}

impl<S, T> FromRequest<S> for OptionalJsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        match read_body(req).await? {
            Some(bytes) => parse_json(&bytes).map(OptionalJsonBody),
            None => Ok(OptionalJsonBody(T::default())),
        }
    }
}

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or("")).map(QueryParams)
    }
}

/// Reads a body of at most [`MAX_BODY`] bytes; none when it is empty (or only white space). A
/// body that is there must be `application/json`.
async fn read_body(req: Request) -> Result<Option<axum::body::Bytes>, ApiError> {
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(ApiError::payload_too_large(MAX_BODY));
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::payload_too_large(MAX_BODY))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    match &content_type {
        Some(t) if is_json(t) => Ok(Some(bytes)),
        other => Err(ApiError::unsupported_media_type(other.as_deref())),
    }
}

/// Whether a `Content-Type` is JSON (`application/json`, with parameters or not).
fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// Parses a JSON body strictly into `T`: well-formed, an object, no key twice, then `T`'s own
/// rules (unknown fields refused by `deny_unknown_fields`), naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let checked = UniqueKeys {
        path: String::new(),
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|top| de.end().map(|()| top));
    match checked {
        Err(e) => {
            return Err(match duplicate.into_inner() {
                Some(path) => {
                    ApiError::invalid(&path, "is given more than once; give each field once")
                }
                None => ApiError::invalid("body", format!("malformed JSON: {e}")),
            });
        }
        Ok(false) => return Err(ApiError::invalid("body", "the body must be a JSON object")),
        Ok(true) => {}
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| field_error(&e))
}

/// Parses a query string strictly into `T`; empty values count as absent, a parameter given
/// twice is refused.
pub fn parse_query<T: DeserializeOwned>(raw: &str) -> Result<T, ApiError> {
    let mut seen = HashSet::new();
    let mut kept = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        if v.is_empty() {
            continue;
        }
        if !seen.insert(k.clone()) {
            return Err(ApiError::invalid(&k, "is given more than once"));
        }
        kept.append_pair(&k, &v);
    }
    let kept = kept.finish();
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(kept.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| field_error(&e))
}

/// The API error of a deserialization error: the field it names (from the path, or from serde's
/// message for the fields of the top level), and what is wrong.
fn field_error<E: fmt::Display>(e: &serde_path_to_error::Error<E>) -> ApiError {
    let path = e.path().to_string();
    let message = strip_position(&e.inner().to_string());
    let quoted = || message.split('`').nth(1).map(str::to_string);
    if let Some(rest) = message.strip_prefix("unknown field ")
        && let Some(field) = quoted()
    {
        let expected = rest
            .split_once("expected ")
            .map(|(_, e)| e.replace('`', ""))
            .unwrap_or_default();
        // The path already ends with an unknown field's name.
        let name = if path == field || path.ends_with(&format!(".{field}")) {
            path
        } else {
            join_path(&path, &field)
        };
        return ApiError::invalid(&name, format!("unknown field; expected {expected}"));
    }
    if message.starts_with("missing field ")
        && let Some(field) = quoted()
    {
        return ApiError::invalid(&join_path(&path, &field), "is required");
    }
    if message.starts_with("duplicate field ")
        && let Some(field) = quoted()
    {
        return ApiError::invalid(&join_path(&path, &field), "is given more than once");
    }
    if path == "." || path.is_empty() {
        return ApiError::invalid("body", format!("the body must be a JSON object: {message}"));
    }
    ApiError::invalid(&path, message)
}

/// `field` under `path` (`.` is the top level).
fn join_path(path: &str, field: &str) -> String {
    if path == "." || path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

/// serde_json's message without its ` at line L column C`.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Walks a JSON document refusing any object that gives a key twice (recording where in
/// `duplicate`); answers whether the top level is an object.
struct UniqueKeys<'a> {
    path: String,
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for UniqueKeys<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = join_path(&self.path, &key);
            if !keys.insert(key) {
                *self.duplicate.borrow_mut() = Some(path);
                return Err(de::Error::custom("a key is given twice"));
            }
            map.next_value_seed(UniqueKeys {
                path,
                duplicate: self.duplicate,
            })?;
        }
        Ok(true)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut i = 0usize;
        while seq
            .next_element_seed(UniqueKeys {
                path: join_path(&self.path, &i.to_string()),
                duplicate: self.duplicate,
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(false)
    }

    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i128<E>(self, _: i128) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u128<E>(self, _: u128) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// Parses a numeric id from a path segment.
pub fn path_id(field: &str, raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::invalid(field, format!("{raw:?} is not a valid id")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Charge {
        amount: i64,
        currency: String,
        #[serde(default)]
        description: Option<String>,
    }

    fn refused<T: DeserializeOwned + fmt::Debug>(body: &str) -> (String, String) {
        let e = parse_json::<T>(body.as_bytes()).unwrap_err();
        assert_eq!(e.status, 400, "{body}");
        (e.body.field.unwrap(), e.body.message)
    }

    #[test]
    fn bodies_are_read_strictly_naming_the_field() {
        assert_eq!(
            parse_json::<Charge>(br#"{"amount": 5, "currency": "USD", "description": null}"#)
                .unwrap(),
            Charge {
                amount: 5,
                currency: "USD".into(),
                description: None
            }
        );
        let (field, message) = refused::<Charge>(r#"{"amount": 5, "currency": "USD", "x": 1}"#);
        assert_eq!(field, "x");
        assert!(
            message.contains("amount, currency, description"),
            "{message}"
        );
        assert_eq!(refused::<Charge>(r#"{"amount": 5}"#).0, "currency");
        assert_eq!(
            refused::<Charge>(r#"{"amount": 5.5, "currency": "USD"}"#).0,
            "amount"
        );
        assert_eq!(
            refused::<Charge>(r#"{"amount": "5", "currency": "USD"}"#).0,
            "amount"
        );
        assert_eq!(
            refused::<Charge>(r#"{"amount": 100000000000000000000, "currency": "USD"}"#).0,
            "amount"
        );
        assert_eq!(
            refused::<Charge>(r#"{"amount": 5, "currency": "USD", "amount": 7}"#).0,
            "amount",
            "a key given twice"
        );
        assert_eq!(
            refused::<Charge>(r#"{"amount": 5, "x": 1, "x": 2, "currency": "USD"}"#).0,
            "x"
        );
        assert_eq!(refused::<Charge>("[1, 2]").0, "body");
        assert_eq!(refused::<Charge>("7").0, "body");
        assert_eq!(refused::<Charge>(r#"{"amount": 5, "#).0, "body");
        assert_eq!(refused::<Charge>(r#"{"amount": 5} {}"#).0, "body");
    }

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(deny_unknown_fields)]
    struct List {
        #[serde(default)]
        limit: Option<u32>,
        #[serde(default)]
        invoiced: Option<bool>,
        #[serde(default)]
        customer_id: Option<String>,
    }

    #[test]
    fn query_strings_are_read_strictly() {
        assert_eq!(
            parse_query::<List>("limit=5&invoiced=true&customer_id=").unwrap(),
            List {
                limit: Some(5),
                invoiced: Some(true),
                customer_id: None
            }
        );
        assert_eq!(parse_query::<List>("").unwrap(), List::default());
        for (raw, field) in [
            ("limit=x", "limit"),
            ("invoiced=maybe", "invoiced"),
            ("colour=red", "colour"),
            ("limit=1&limit=2", "limit"),
        ] {
            let e = parse_query::<List>(raw).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.body.field.as_deref()),
                (400, Some(field)),
                "{raw}: {}",
                e.body.message
            );
        }
    }
}
