//! What every wire type shares: decoding, ids, expandable fields, list envelopes, metadata,
//! status enums that keep unknown statuses, and the error for an object that can't become a
//! contract record without guessing.

use core::fmt;
use core::marker::PhantomData;

use omnicrm_gateway_sdk::types::{
    NextAction as ContractNextAction, Redirect, RedirectMethod, SdkAction,
};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Unexpected, Visitor};
use serde::{Deserialize, Serialize};

/// Why a body did not decode: serde_json's message, which names the field at fault (`missing
/// field `fee``, `invalid type: null, expected i64`) and its line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(String);

impl DecodeError {
    /// An error with this message.
    pub fn new(message: String) -> DecodeError {
        DecodeError(message)
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

/// A Stripe object id: required and not empty (`#[serde(deserialize_with = "id")]`).
pub fn id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let id = String::deserialize(deserializer)?;
    if id.is_empty() {
        return Err(de::Error::invalid_value(
            Unexpected::Str(""),
            &"a Stripe object id",
        ));
    }
    Ok(id)
}

/// An object with an id: list cursors and expandable fields read it.
pub trait HasId {
    /// The object's id.
    fn id(&self) -> &str;
}

/// Implements [`HasId`] for structs with an `id: String` field.
macro_rules! has_id {
    ($($t:ty),+ $(,)?) => {
        $(impl $crate::wire::common::HasId for $t {
            fn id(&self) -> &str {
                &self.id
            }
        })+
    };
}
pub(crate) use has_id;

/// An object read only for its id, whatever its kind (a balance transaction's `source` is a
/// charge, a refund, a dispute, a payout...).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Ref {
    /// The object's id.
    #[serde(deserialize_with = "id")]
    pub id: String,
}

has_id!(Ref);

/// An expandable field: the object's id, or the object itself when the request asked for it with
/// `expand[]` (or Stripe expanded it anyway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expandable<T> {
    /// Not expanded: the id.
    Id(String),
    /// Expanded: the object.
    Object(T),
}

impl<T: HasId> Expandable<T> {
    /// The object's id, expanded or not.
    pub fn id(&self) -> &str {
        match self {
            Expandable::Id(id) => id,
            Expandable::Object(object) => object.id(),
        }
    }
}

impl<T> Expandable<T> {
    /// The expanded object, if it was expanded.
    pub fn object(&self) -> Option<&T> {
        match self {
            Expandable::Id(_) => None,
            Expandable::Object(object) => Some(object),
        }
    }
}

/// The id of an optional expandable field.
pub fn id_of<T: HasId>(field: Option<&Expandable<T>>) -> Option<String> {
    field.map(|f| f.id().to_owned())
}

// By hand rather than `#[serde(untagged)]`: an expanded object that fails to decode reports its
// own field at fault instead of "did not match any variant", and nothing is buffered.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Expandable<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdOrObject<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for IdOrObject<T> {
            type Value = Expandable<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an id or an expanded object")
            }

            fn visit_str<E: de::Error>(self, id: &str) -> Result<Self::Value, E> {
                if id.is_empty() {
                    return Err(E::invalid_value(Unexpected::Str(""), &self));
                }
                Ok(Expandable::Id(id.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Expandable::Object)
            }
        }

        deserializer.deserialize_any(IdOrObject(PhantomData))
    }
}

/// A page of a list (`"object": "list"`) or of search results (`"object": "search_result"`,
/// whose `next_page` the plugin doesn't use: it reads only the first page of a search).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct List<T> {
    /// The objects of this page.
    pub data: Vec<T>,
    /// Whether more objects follow this page.
    pub has_more: bool,
}

/// A page of search results: the list envelope.
pub type SearchResult<T> = List<T>;

/// Stripe metadata: string keys and values, kept in the order Stripe sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Pairs;

        impl<'de> Visitor<'de> for Pairs {
            type Value = Metadata;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of string values")
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Metadata::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<String, String>()? {
                    pairs.push(pair);
                }
                Ok(Metadata(pairs))
            }
        }

        deserializer.deserialize_any(Pairs)
    }
}

/// A status enum: one variant per status Stripe documents, and `Other` keeping the text of any
/// status Stripe adds later, so that decoding never fails on a new status and no conversion can
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
            /// A status this plugin does not know, as Stripe spelled it.
            Other(String),
        }

        impl $name {
            /// Stripe's spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(status) => status,
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let status = String::deserialize(deserializer)?;
                Ok(match status.as_str() {
                    $($text => Self::$variant,)+
                    _ => Self::Other(status),
                })
            }
        }
    };
}
pub(crate) use status_enum;

/// A decoded object the plugin can't turn into a contract record without guessing: a status it
/// does not know, or a payment method that is not a card. The flows decide what that means for
/// the caller (see `errors::unusable`); webhooks report the event as `other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped(String);

impl Unmapped {
    /// `object` `id` has a status the plugin does not know.
    pub fn status(object: &str, id: &str, status: &str) -> Unmapped {
        Unmapped(format!(
            "Stripe's {object} {id} has status `{status}`, which this plugin does not know"
        ))
    }

    /// The payment method `id` has no card details.
    pub fn not_a_card(id: &str) -> Unmapped {
        Unmapped(format!("Stripe's payment method {id} is not a card"))
    }

    /// `object` `id` names no PaymentIntent.
    pub fn no_payment(object: &str, id: &str) -> Unmapped {
        Unmapped(format!("Stripe's {object} {id} names no PaymentIntent"))
    }
}

impl fmt::Display for Unmapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `next_action` of a PaymentIntent or SetupIntent: only the redirect is read; any other type
/// (`use_stripe_sdk`, ...) is left to Stripe.js with the intent's client secret.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NextAction {
    /// Set when the customer must be sent to a URL.
    pub redirect_to_url: Option<RedirectToUrl>,
}

/// `next_action.redirect_to_url`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RedirectToUrl {
    /// Where to send the customer.
    pub url: Option<String>,
}

/// The SDK name of a `client-sdk` action: Stripe.js (`handleNextAction`, `confirmPayment`).
pub const STRIPE_JS: &str = "stripe-js";

/// What Stripe.js needs to act on an intent: `{"client_secret": ...}`.
#[derive(Serialize)]
struct ClientSecret<'a> {
    client_secret: &'a str,
}

/// A struct of strings as JSON (which cannot fail: its fields are strings).
pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// What the customer must do for an intent that waits for them: a `get` redirect when Stripe
/// gives one (`redirect_to_url`), else Stripe.js with the intent's client secret (`use_stripe_sdk`,
/// or an off-session attempt that needs the customer to confirm on-session), else coming back
/// on-session.
pub fn next_action(action: Option<&NextAction>, client_secret: Option<&str>) -> ContractNextAction {
    let redirect = action
        .and_then(|a| a.redirect_to_url.as_ref())
        .and_then(|r| r.url.clone());
    match (redirect, client_secret) {
        (Some(url), _) => ContractNextAction::Redirect(Redirect {
            url,
            method: RedirectMethod::Get,
            fields: Vec::new(),
        }),
        (None, Some(secret)) => ContractNextAction::ClientSdk(SdkAction {
            sdk: STRIPE_JS.into(),
            payload: to_json(&ClientSecret {
                client_secret: secret,
            }),
        }),
        (None, None) => ContractNextAction::BringCustomerOnSession,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_actions_in_the_contract_s_terms() {
        let redirect: NextAction = decode(
            br#"{"type":"redirect_to_url","redirect_to_url":{"url":"https://bank.example/3ds",
                "return_url":"https://crm.example/back"}}"#,
        )
        .unwrap();
        match next_action(Some(&redirect), Some("pi_1_secret_x")) {
            ContractNextAction::Redirect(r) => {
                assert_eq!(r.url, "https://bank.example/3ds");
                assert_eq!(r.method, RedirectMethod::Get);
                assert!(r.fields.is_empty());
            }
            other => panic!("{other:?}"),
        }
        let sdk: NextAction = decode(
            br#"{"type":"use_stripe_sdk","use_stripe_sdk":{"type":"three_d_secure_redirect"}}"#,
        )
        .unwrap();
        match next_action(Some(&sdk), Some("pi_1_secret_\"x")) {
            ContractNextAction::ClientSdk(a) => {
                assert_eq!(a.sdk, "stripe-js");
                let payload: serde_json::Value = serde_json::from_str(&a.payload).unwrap();
                assert_eq!(payload["client_secret"], "pi_1_secret_\"x");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            next_action(None, None),
            ContractNextAction::BringCustomerOnSession
        ));
    }
}
