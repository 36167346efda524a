//! The `info.capabilities` flags: their WIT names, their JSON form, and which of them the host
//! checks against a component's exports.

use super::Capabilities;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use std::fmt;

/// Every capability with its name in the WIT (`partial-capture`), in the WIT's order.
pub const CAPABILITY_NAMES: [(Capabilities, &str); 11] = [
    (Capabilities::PARTIAL_CAPTURE, "partial-capture"),
    (Capabilities::MULTIPLE_CAPTURES, "multiple-captures"),
    (Capabilities::ASYNC_MODIFICATIONS, "async-modifications"),
    (Capabilities::PAYMENT_LOOKUP, "payment-lookup"),
    (Capabilities::REFUND_LOOKUP, "refund-lookup"),
    (Capabilities::INVOICING, "invoicing"),
    (Capabilities::METRICS, "metrics"),
    (Capabilities::PAYMENT_FEES, "payment-fees"),
    (Capabilities::DISPUTES, "disputes"),
    (Capabilities::CARD_SESSIONS, "card-sessions"),
    (Capabilities::CUSTOMER_ACTIONS, "customer-actions"),
];

/// The capabilities that declare an optional export, with the interface each declares.
pub(crate) const EXPORT_CAPABILITIES: [(Capabilities, &str); 2] = [
    (Capabilities::INVOICING, "invoicing"),
    (Capabilities::METRICS, "metrics"),
];

impl Capabilities {
    /// The WIT names of the capabilities set here, in the WIT's order.
    pub fn names(&self) -> Vec<&'static str> {
        CAPABILITY_NAMES
            .iter()
            .filter(|(flag, _)| self.contains(*flag))
            .map(|(_, name)| *name)
            .collect()
    }

    /// The capability of a WIT name (`payment-lookup`), if there is one.
    pub fn from_name(name: &str) -> Option<Capabilities> {
        CAPABILITY_NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(flag, _)| *flag)
    }

    /// The WIT name of a single capability (`Capabilities::INVOICING` is `invoicing`); the names
    /// joined with `, ` for a set of several.
    pub fn name(&self) -> String {
        self.names().join(", ")
    }
}

/// A list of WIT names: `["partial-capture", "payment-lookup"]`.
impl serde::Serialize for Capabilities {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let names = self.names();
        let mut seq = serializer.serialize_seq(Some(names.len()))?;
        for name in names {
            seq.serialize_element(name)?;
        }
        seq.end()
    }
}

/// From a list of WIT names; an unknown name is an error.
impl<'de> serde::Deserialize<'de> for Capabilities {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Names;
        impl<'de> Visitor<'de> for Names {
            type Value = Capabilities;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of capability names")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Capabilities, A::Error> {
                let mut capabilities = Capabilities::empty();
                while let Some(name) = seq.next_element::<String>()? {
                    capabilities |= Capabilities::from_name(&name)
                        .ok_or_else(|| de::Error::custom(format!("unknown capability `{name}`")))?;
                }
                Ok(capabilities)
            }
        }
        deserializer.deserialize_seq(Names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_every_flag_once() {
        let mut all = Capabilities::empty();
        for (flag, name) in CAPABILITY_NAMES {
            assert!(!all.intersects(flag), "{name} twice");
            all |= flag;
            assert_eq!(Capabilities::from_name(name), Some(flag));
            assert_eq!(flag.name(), name);
        }
        assert_eq!(all, Capabilities::all());
        assert_eq!(Capabilities::from_name("teleport"), None);
    }

    #[test]
    fn json_is_a_list_of_names() {
        let some = Capabilities::PAYMENT_LOOKUP | Capabilities::PARTIAL_CAPTURE;
        let json = serde_json::to_string(&some).unwrap();
        assert_eq!(json, r#"["partial-capture","payment-lookup"]"#);
        assert_eq!(serde_json::from_str::<Capabilities>(&json).unwrap(), some);
        assert_eq!(serde_json::to_string(&Capabilities::empty()).unwrap(), "[]");
        assert!(serde_json::from_str::<Capabilities>(r#"["teleport"]"#).is_err());
    }
}
