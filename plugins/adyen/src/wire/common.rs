//! What every wire type shares: decoding, amounts, `additionalData`-style string maps,
//! Adyen's error body, and status enums that keep values the plugin does not know.

use core::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, Unexpected, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// Why a body did not decode: serde_json's message, which names the field at fault and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(String);

impl DecodeError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> DecodeError {
        DecodeError(message.into())
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Decodes a whole JSON body into `T`. serde_json limits nesting (128 levels), so hostile input
/// can't overflow the stack; its errors name the field at fault and where it is.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    let mut json = serde_json::Deserializer::from_slice(body);
    let value = T::deserialize(&mut json).map_err(decode_error)?;
    end(&mut json)?;
    Ok(value)
}

// The parts of `decode` that don't depend on `T`, compiled once.
#[inline(never)]
fn end(
    json: &mut serde_json::Deserializer<serde_json::de::SliceRead<'_>>,
) -> Result<(), DecodeError> {
    json.end().map_err(decode_error)
}

#[inline(never)]
fn decode_error(error: serde_json::Error) -> DecodeError {
    DecodeError(error.to_string())
}

/// A JSON text of a serializable value (the plugin's own request structs, which always
/// serialize).
pub fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// An Adyen identifier (`pspReference`, stored payment method `id`, session `id`): required and
/// not empty (`#[serde(deserialize_with = "id")]`).
pub fn id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let id = String::deserialize(deserializer)?;
    if id.is_empty() {
        return Err(de::Error::invalid_value(
            Unexpected::Str(""),
            &"an Adyen identifier",
        ));
    }
    Ok(id)
}

/// `{"value": <minor units>, "currency": "EUR"}`, in Adyen's minor units (see `money`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    /// Minor units of Adyen's table of decimals.
    pub value: i64,
    /// ISO 4217 code, upper case.
    pub currency: String,
}

/// String keys and values in the order written: `additionalData`, `metadata`, a redirect's
/// `data`. Decoding keeps the string values and skips any other (Adyen documents string values
/// only; one it adds of another type must not make a whole answer unusable).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Strings(pub Vec<(String, String)>);

impl Strings {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key` when present and not empty (after trimming white space).
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).map(str::trim).filter(|v| !v.is_empty())
    }
}

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Pairs;

        impl<'de> Visitor<'de> for Pairs {
            type Value = Strings;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of string values")
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Strings::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if let StringOrOther::String(value) = map.next_value::<StringOrOther>()? {
                        pairs.push((key, value));
                    }
                }
                Ok(Strings(pairs))
            }
        }

        deserializer.deserialize_any(Pairs)
    }
}

/// A JSON value kept when it is a string and skipped otherwise.
enum StringOrOther {
    String(String),
    Other,
}

impl<'de> Deserialize<'de> for StringOrOther {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Value;

        impl<'de> Visitor<'de> for Value {
            type Value = StringOrOther;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StringOrOther::String(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(StringOrOther::String(v))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(StringOrOther::Other)
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(StringOrOther::Other)
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(StringOrOther::Other)
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(StringOrOther::Other)
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(StringOrOther::Other)
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(StringOrOther::Other)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(StringOrOther::Other)
            }
        }

        deserializer.deserialize_any(Value)
    }
}

/// Borrowed string pairs serialized as a JSON object (request `metadata`, `additionalData`,
/// `details`), in the order given.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pairs<'a>(pub &'a [(String, String)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Pairs<'_> {
    /// Whether there are no pairs (the field is then left out).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Adyen's error body (`ServiceError`): `status`, `errorCode`, `message`, `errorType` and, once
/// processing began, `pspReference`. Every field is optional: an error answer that is not JSON
/// (a proxy's page) decodes as all `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceError {
    /// The HTTP status Adyen meant.
    pub status: Option<u16>,
    /// Adyen's error code (`"702"`, `"14_030"`, ...).
    pub error_code: Option<String>,
    /// What went wrong.
    pub message: Option<String>,
    /// `validation`, `security`, `configuration`, `internal`.
    pub error_type: Option<String>,
    /// The reference of the request, for Adyen's support.
    pub psp_reference: Option<String>,
}

impl ServiceError {
    /// The body of an error answer; anything that isn't a `ServiceError` gives the empty one.
    pub fn parse(body: &[u8]) -> ServiceError {
        decode(body).unwrap_or_default()
    }

    /// The error code, or `""`.
    pub fn code(&self) -> &str {
        self.error_code.as_deref().unwrap_or("")
    }
}

/// A status enum: one variant per value Adyen documents, and `Other` keeping the text of any
/// value Adyen adds later, so that decoding never fails on a new value and no conversion can
/// mistake it for a known one.
macro_rules! status_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
            /// A value this plugin does not know, as Adyen spelled it.
            Other(String),
        }

        impl $name {
            /// Adyen's spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(value) => value,
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Ok(match value.as_str() {
                    $($text => Self::$variant,)+
                    _ => Self::Other(value),
                })
            }
        }
    };
}
pub(crate) use status_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_keep_string_values_only() {
        let s: Strings =
            decode(br#"{"a":"1","n":2,"b":"x","o":{"k":[1]},"l":[true],"z":null}"#).unwrap();
        assert_eq!(
            s.0,
            [("a".into(), "1".into()), ("b".into(), "x".into())].to_vec()
        );
        assert_eq!(s.get("b"), Some("x"));
        assert_eq!(s.non_empty("missing"), None);
        assert_eq!(decode::<Strings>(b"null").unwrap(), Strings::default());
        let blank: Strings = decode(br#"{"k":"  "}"#).unwrap();
        assert_eq!(blank.non_empty("k"), None);
    }

    #[test]
    fn pairs_serialize_as_an_object_in_order() {
        let pairs = [
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "\"1\"".to_owned()),
        ];
        assert_eq!(
            to_json(&Pairs(&pairs)),
            br#"{"b":"2","a":"\"1\""}"#.to_vec()
        );
        assert!(Pairs(&[]).is_empty());
    }

    #[test]
    fn service_errors_decode_or_default() {
        let e = ServiceError::parse(
            br#"{"status":422,"errorCode":"800","message":"Contract not found","errorType":"validation","pspReference":"P1"}"#,
        );
        assert_eq!((e.status, e.code()), (Some(422), "800"));
        assert_eq!(e.psp_reference.as_deref(), Some("P1"));
        assert_eq!(ServiceError::parse(b"<html>"), ServiceError::default());
        assert_eq!(ServiceError::default().code(), "");
    }

    #[test]
    fn ids_must_not_be_empty_and_trailing_data_is_refused() {
        #[derive(Debug, Deserialize)]
        struct WithId {
            #[serde(deserialize_with = "id")]
            #[allow(dead_code)]
            id: String,
        }
        assert!(decode::<WithId>(br#"{"id":"A"}"#).is_ok());
        assert!(decode::<WithId>(br#"{"id":""}"#).is_err());
        assert!(decode::<WithId>(br#"{"id":"A"} x"#).is_err());
        let deep = "[".repeat(10_000);
        assert!(decode::<Strings>(deep.as_bytes()).is_err());
    }
}
