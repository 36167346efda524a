//! Strict request parsing: bodies, query strings and path ids, with errors naming the field at
//! fault.

use serde_json::{Map, Value};

use crate::error::Error;

/// A JSON object body, read strictly: unknown fields and wrong types are errors naming the
/// field.
pub struct Body {
    map: Map<String, Value>,
}

impl Body {
    /// Parses a body that must be a JSON object (an empty body is an empty object).
    pub fn parse(bytes: &[u8], allowed: &[&str]) -> Result<Self, Error> {
        let map = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            Map::new()
        } else {
            match serde_json::from_slice::<Value>(bytes) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(Error::invalid("body", "the body must be a JSON object"));
                }
                Err(e) => {
                    return Err(Error::invalid("body", format!("malformed JSON: {e}")));
                }
            }
        };
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(Error::invalid(
                unknown,
                format!("unknown field; expected one of: {}", allowed.join(", ")),
            ));
        }
        Ok(Body { map })
    }

    fn get(&self, field: &str) -> Option<&Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    /// An optional string.
    pub fn str(&self, field: &str) -> Result<Option<String>, Error> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Error::invalid(field, "must be a string")),
        }
    }

    /// A required, non-empty string.
    pub fn req_str(&self, field: &str) -> Result<String, Error> {
        match self.str(field)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(Error::invalid(field, "must not be empty")),
            None => Err(Error::invalid(field, "is required")),
        }
    }

    /// An optional integer.
    pub fn i64(&self, field: &str) -> Result<Option<i64>, Error> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
                Error::invalid(field, "must be an integer (minor units, no decimals)")
            }),
            Some(_) => Err(Error::invalid(field, "must be an integer")),
        }
    }

    /// A required integer.
    pub fn req_i64(&self, field: &str) -> Result<i64, Error> {
        self.i64(field)?
            .ok_or_else(|| Error::invalid(field, "is required"))
    }

    /// An optional boolean.
    pub fn bool(&self, field: &str) -> Result<Option<bool>, Error> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(Error::invalid(field, "must be true or false")),
        }
    }

    /// An optional time: Unix seconds or an ISO date (`2026-01-31`, `2026-01-31T12:00:00Z`).
    pub fn time(&self, field: &str) -> Result<Option<i64>, Error> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| Error::invalid(field, "must be Unix seconds or an ISO date")),
            Some(Value::String(s)) => crate::time::parse_time(s)
                .map(Some)
                .ok_or_else(|| Error::invalid(field, "must be Unix seconds or an ISO date")),
            Some(_) => Err(Error::invalid(field, "must be Unix seconds or an ISO date")),
        }
    }
}

/// Query parameters, read strictly.
pub struct Query {
    map: std::collections::HashMap<String, String>,
}

impl Query {
    /// Parses a query string, refusing unknown parameters.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Self, Error> {
        let mut map = std::collections::HashMap::new();
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if !allowed.contains(&k.as_ref()) {
                return Err(Error::invalid(
                    &k,
                    format!(
                        "unknown query parameter; expected one of: {}",
                        allowed.join(", ")
                    ),
                ));
            }
            map.insert(k.into_owned(), v.into_owned());
        }
        Ok(Query { map })
    }

    /// An optional string.
    pub fn str(&self, field: &str) -> Option<String> {
        self.map.get(field).filter(|v| !v.is_empty()).cloned()
    }

    /// An optional integer within bounds.
    pub fn int(&self, field: &str, min: i64, max: i64) -> Result<Option<i64>, Error> {
        match self.str(field) {
            None => Ok(None),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(Error::invalid(
                    field,
                    format!("must be an integer from {min} to {max}"),
                )),
            },
        }
    }

    /// An optional boolean.
    pub fn bool(&self, field: &str) -> Result<Option<bool>, Error> {
        match self.str(field).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(Error::invalid(field, "must be true or false")),
        }
    }

    /// An optional time.
    pub fn time(&self, field: &str) -> Result<Option<i64>, Error> {
        match self.str(field) {
            None => Ok(None),
            Some(s) => crate::time::parse_time(&s).map(Some).ok_or_else(|| {
                Error::invalid(field, "must be Unix seconds or an ISO date (2026-01-31)")
            }),
        }
    }
}

/// Parses a numeric id from a path segment.
pub fn path_id(field: &str, raw: &str) -> Result<i64, Error> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Error::invalid(field, format!("{raw:?} is not a valid id")))
}
