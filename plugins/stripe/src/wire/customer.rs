//! Customer: the contract's gateway customer.

use omnicrm_gateway_sdk::tokens::Customer as ContractCustomer;
use serde::Deserialize;

use super::common::{Expandable, Metadata, has_id, id, id_of};
use super::payment_method::PaymentMethod;

/// The metadata key holding the CRM's customer id.
pub const CRM_ID: &str = "crm_customer_id";

/// A customer, or what is left of a deleted one (`{"id", "object", "deleted": true}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Customer {
    /// `cus_...`.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Set on a deleted customer.
    #[serde(default)]
    pub deleted: bool,
    /// The metadata, with the CRM's id under [`CRM_ID`].
    #[serde(default)]
    pub metadata: Metadata,
    /// Invoice settings: the default card.
    pub invoice_settings: Option<InvoiceSettings>,
}

has_id!(Customer);

/// `invoice_settings` of a customer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InvoiceSettings {
    /// The card charged when none is named.
    pub default_payment_method: Option<Expandable<PaymentMethod>>,
}

impl Customer {
    /// The CRM's customer id kept in the metadata.
    pub fn crm_id(&self) -> Option<&str> {
        self.metadata
            .0
            .iter()
            .find(|(k, _)| k == CRM_ID)
            .map(|(_, v)| v.as_str())
    }

    /// The id of the default card, if one is set.
    pub fn default_card(&self) -> Option<String> {
        self.invoice_settings
            .as_ref()
            .and_then(|s| id_of(s.default_payment_method.as_ref()))
    }

    /// The contract's customer for the CRM customer `crm_id`; `created` when this call created it.
    pub fn record(&self, crm_id: &str, created: bool) -> ContractCustomer {
        ContractCustomer {
            id: self.id.clone(),
            crm_customer_id: self.crm_id().unwrap_or(crm_id).to_owned(),
            default_card: self.default_card(),
            created,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{SearchResult, decode};

    #[test]
    fn search_results_as_stripe_sends_them() {
        let found: SearchResult<Customer> =
            decode(include_bytes!("fixtures/customer_search.json")).unwrap();
        let [cus] = &found.data[..] else {
            panic!("{found:?}")
        };
        assert_eq!(cus.crm_id(), Some("CRM-1"));
        let c = cus.record("CRM-other", false);
        assert_eq!(c.id, "cus_Kdn9fxFCpbx3DtJOb3Kb6VvH");
        assert_eq!(c.crm_customer_id, "CRM-1");
        assert_eq!(
            c.default_card.as_deref(),
            Some("pm_7geKuizYp3Gt7ZnPEWPgmgHK")
        );
        assert!(!c.created && !found.has_more);
    }

    #[test]
    fn deleted_and_minimal_customers() {
        let gone: Customer =
            decode(br#"{"deleted":true,"id":"cus_1","object":"customer"}"#).unwrap();
        assert!(gone.deleted && gone.default_card().is_none());
        let expanded_default = br#"{"id":"cus_1","metadata":{},"invoice_settings":
            {"default_payment_method":{"id":"pm_1","object":"payment_method","type":"card"}}}"#;
        let c: Customer = decode(expanded_default).unwrap();
        assert!(!c.deleted);
        let c = c.record("CRM-1", true);
        assert_eq!(
            (
                c.crm_customer_id.as_str(),
                c.default_card.as_deref(),
                c.created
            ),
            ("CRM-1", Some("pm_1"), true)
        );
        assert!(decode::<Customer>(br#"{"object":"customer","deleted":true}"#).is_err());
        assert!(decode::<Customer>(br#"{"id":"","object":"customer"}"#).is_err());
    }
}
