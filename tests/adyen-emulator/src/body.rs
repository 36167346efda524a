//! Reading JSON request bodies the way Adyen validates them: unknown fields are refused with
//! `702` naming the structure, values of the wrong JSON type likewise, and missing required values
//! with the code the caller gives.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::ApiError;

/// Parses a request body. An empty body is an empty object (GET and DELETE carry none); anything
/// that is not a JSON object is refused with `702`.
pub fn parse(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::unexpected_input(format!("Unexpected input: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::unexpected_input(
            "Unexpected input: expected a JSON object",
        ));
    }
    Ok(value)
}

/// One JSON object of a request, with the name Adyen gives its structure (for error messages) and
/// its path in the request.
#[derive(Debug, Clone, Copy)]
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    structure: &'static str,
}

fn unexpected(field: &str, expected: &str) -> ApiError {
    ApiError::unexpected_input(format!(
        "Unexpected data for field '{field}': expected {expected}"
    ))
}

impl<'a> Obj<'a> {
    /// The request's root object (as returned by [`parse`]).
    pub fn root(value: &'a Value, structure: &'static str) -> Result<Obj<'a>, ApiError> {
        match value {
            Value::Object(map) => Ok(Obj { map, structure }),
            _ => Err(ApiError::unexpected_input(
                "Unexpected input: expected a JSON object",
            )),
        }
    }

    /// Refuses fields not in `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        let unknown: Vec<String> = self
            .map
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(ApiError::unknown_fields(self.structure, &unknown))
        }
    }

    /// Whether the field is present and not null.
    pub fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    /// A string field (`null` counts as absent).
    pub fn str(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(unexpected(key, "a string")),
        }
    }

    /// A string field that is present and not empty.
    pub fn non_empty(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        Ok(self.str(key)?.filter(|s| !s.trim().is_empty()))
    }

    /// A boolean field.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(unexpected(key, "a boolean")),
        }
    }

    /// An integer field.
    pub fn i64(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| unexpected(key, "an integer")),
            Some(_) => Err(unexpected(key, "an integer")),
        }
    }

    /// A nested object, named `structure` in error messages.
    pub fn obj(&self, key: &str, structure: &'static str) -> Result<Option<Obj<'a>>, ApiError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj { map, structure })),
            Some(_) => Err(unexpected(key, "an object")),
        }
    }

    /// An object of string values (`additionalData`, `metadata`). Numbers and booleans are taken
    /// as their text, as Adyen's `additionalData` accepts `"manualCapture": true` too.
    pub fn string_map(&self, key: &str) -> Result<BTreeMap<String, String>, ApiError> {
        let Some(obj) = self.obj(key, "Map")? else {
            return Ok(BTreeMap::new());
        };
        obj.map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Bool(b) => Ok((k.clone(), b.to_string())),
                Value::Number(n) => Ok((k.clone(), n.to_string())),
                _ => Err(unexpected(&format!("{key}.{k}"), "a string")),
            })
            .collect()
    }

    /// The raw field.
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }
}

/// A flat set of form or query parameters (`a=1&b=2`), for query strings and the admin routes.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes the query string and, for form bodies, the body.
    pub fn parse(query: Option<&str>, form_body: Option<&[u8]>) -> Params {
        let mut pairs: Vec<(String, String)> =
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        if let Some(body) = form_body {
            pairs.extend(form_urlencoded::parse(body).into_owned());
        }
        Params { pairs }
    }

    /// The last value given for `key`, if not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// An integer parameter.
    pub fn int(&self, key: &str) -> Result<Option<i64>, String> {
        self.get(key)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| format!("{key} must be an integer, not {v:?}"))
            })
            .transpose()
    }

    /// A boolean parameter (`true` / `false`).
    pub fn bool(&self, key: &str) -> Result<Option<bool>, String> {
        match self.get(key) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(format!("{key} must be true or false, not {v:?}")),
        }
    }
}
