//! Event: a webhook's envelope. `data.object` stays raw text until the event's type says which
//! object to decode it as (see `webhooks`).

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::common::{DecodeError, decode, id};

/// An event.
#[derive(Debug, Deserialize)]
pub struct Event {
    /// `evt_...`: the key the host deduplicates deliveries on.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// `payment_intent.succeeded`, `charge.refunded`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// When Stripe created it.
    pub created: i64,
    /// What it is about.
    pub data: EventData,
}

/// `data` of an event.
#[derive(Debug, Deserialize)]
pub struct EventData {
    /// The object as it was when the event happened, undecoded.
    pub object: Box<RawValue>,
}

impl Event {
    /// Decodes `data.object` as `T`.
    pub fn object<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        decode(self.data.object.get().as_bytes())
            .map_err(|e| DecodeError::new(format!("data.object: {e}")))
    }

    /// Whether `data.object` is a JSON object (every event's is).
    pub fn has_object(&self) -> bool {
        self.data.object.get().starts_with('{')
    }
}
