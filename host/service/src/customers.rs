//! Customers and their stored cards: linking a CRM customer to a gateway customer, storing a
//! card from a client-side token, card sessions of the gateway's card form, the default card,
//! removal.
//!
//! None of these move money; each gateway call carries a fresh idempotency key (or one derived
//! from the client's `Idempotency-Key`), and the ledger is written after the gateway answered.

use crate::error::{Error, ErrorKind};
use crate::ledger::{Card, CustomerLink, NewCard, new_key, now};
use crate::retry::RetryPolicy;
use crate::service::Service;
use omnicrm_host::contract::{
    self, Capabilities, CardSession, CardSessionRequest, CustomerRequest, GatewayError,
};
use omnicrm_host::error::CallError;

impl Service {
    /// Links a CRM customer to a gateway customer: the ledger's link when there is one, else the
    /// gateway's (creating it there, or finding the one created before).
    pub async fn link_customer(
        &self,
        crm_customer_id: &str,
        gateway: Option<&str>,
        email: Option<String>,
        name: Option<String>,
        phone: Option<String>,
    ) -> Result<(CustomerLink, bool), Error> {
        check_customer_id(crm_customer_id)?;
        let gateway = self.gateway_name(gateway)?;
        let slot = self.slot(&gateway)?;
        // The ledger's reference is the link: the gateway is asked only for a customer the
        // ledger does not know on this gateway.
        let id = crm_customer_id.to_string();
        let known = self.db.run(move |l| l.customer_links(&id)).await?;
        if let Some(link) = known.into_iter().find(|l| l.gateway == gateway) {
            let updated = CustomerLink {
                email: email.or(link.email.clone()),
                name: name.or(link.name.clone()),
                ..link
            };
            let link = self.db.run(move |l| l.upsert_customer(&updated)).await?;
            return Ok((link, false));
        }
        // One key per CRM customer and gateway: two links racing (or a retry after a crash) create
        // one gateway customer, whatever the gateway's search (if it has one) says. Hashed to fit
        // the contract's key alphabet.
        let key = customer_key(&gateway, crm_customer_id);
        let request = CustomerRequest {
            crm_customer_id: crm_customer_id.to_string(),
            email: email.clone(),
            name: name.clone(),
            phone,
            metadata: vec![("crm_customer_id".into(), crm_customer_id.to_string())],
        };
        let customer = slot
            .call("ensure-customer", RetryPolicy::INTERACTIVE, |g| {
                let request = request.clone();
                let key = key.clone();
                async move { g.ensure_customer(request, &key).await }
            })
            .await
            .map_err(|e| Error::from_call(&e))?;
        if customer.crm_customer_id != crm_customer_id {
            // A plugin that matched another CRM customer's gateway customer: never link it.
            return Err(Error::new(
                ErrorKind::GatewayMismatch,
                Some("customer_id"),
                format!(
                    "gateway {gateway} answered with the customer of another CRM customer; nothing was linked"
                ),
            ));
        }
        let link = CustomerLink {
            crm_customer_id: crm_customer_id.to_string(),
            gateway,
            gateway_customer_ref: customer.id,
            email,
            name,
            created_at: now(),
        };
        let link = self.db.run(move |l| l.upsert_customer(&link)).await?;
        Ok((link, customer.created))
    }

    /// The customer's link on a gateway; not found naming `customer_id` when there is none.
    pub async fn customer_link(
        &self,
        crm_customer_id: &str,
        gateway: &str,
    ) -> Result<CustomerLink, Error> {
        check_customer_id(crm_customer_id)?;
        let id = crm_customer_id.to_string();
        let links = self.db.run(move |l| l.customer_links(&id)).await?;
        if links.is_empty() {
            return Err(Error::not_found(
                "customer_id",
                format!("customer {crm_customer_id:?} is not linked: POST /v1/customers first"),
            ));
        }
        links
            .into_iter()
            .find(|l| l.gateway == gateway)
            .ok_or_else(|| {
                Error::not_found(
                    "customer_id",
                    format!("customer {crm_customer_id:?} is not linked to gateway {gateway}"),
                )
            })
    }

    /// Whether the CRM customer is linked to any gateway; not found naming `customer_id` if not.
    pub async fn require_customer(
        &self,
        crm_customer_id: &str,
    ) -> Result<Vec<CustomerLink>, Error> {
        check_customer_id(crm_customer_id)?;
        let id = crm_customer_id.to_string();
        let links = self.db.run(move |l| l.customer_links(&id)).await?;
        linked(crm_customer_id, links)
    }

    /// A card of the customer; not found naming `card_id` when it is not theirs or was removed.
    pub async fn customer_card(&self, crm_customer_id: &str, card_id: i64) -> Result<Card, Error> {
        let card = self.db.run(move |l| l.card(card_id)).await?;
        own_card(crm_customer_id, card_id, card)
    }

    /// Stores a card at the gateway from a client-side token, and in the ledger.
    pub async fn store_card(
        &self,
        crm_customer_id: &str,
        gateway: Option<&str>,
        token: &str,
        nickname: Option<String>,
        make_default: bool,
        client_key: Option<String>,
    ) -> Result<Card, Error> {
        let links = self.require_customer(crm_customer_id).await?;
        let gateway = self.customer_gateway(&links, gateway)?;
        let link = self.customer_link(crm_customer_id, &gateway).await?;
        let slot = self.slot(&gateway)?;
        let key = client_key
            .map(|k| format!("card-{k}"))
            .unwrap_or_else(|| new_key("card"));
        let has_cards = {
            let id = crm_customer_id.to_string();
            !self.db.run(move |l| l.cards(&id)).await?.is_empty()
        };
        // The gateway's default follows the ledger's: the first card becomes the default.
        let make_default = make_default || !has_cards;
        let stored = slot
            .call("store-card", RetryPolicy::INTERACTIVE, |g| {
                let request = contract::StoreCardRequest {
                    customer: link.gateway_customer_ref.clone(),
                    token: token.to_string(),
                    make_default,
                    return_url: None,
                    idempotency_key: key.clone(),
                };
                async move { g.store_card(request).await }
            })
            .await
            .map_err(|e| match &e {
                CallError::Gateway(GatewayError::InvalidInput(i)) => {
                    Error::invalid("token", i.message.clone())
                }
                CallError::Gateway(GatewayError::NotFound(_)) => {
                    Error::invalid("token", "the gateway does not know this token")
                }
                CallError::Gateway(GatewayError::Declined(d)) => Error::invalid(
                    "token",
                    format!("the card was declined: {}", d.customer_message),
                ),
                _ => Error::from_call(&e),
            })?;
        let new = NewCard {
            crm_customer_id: crm_customer_id.to_string(),
            gateway,
            gateway_card_ref: stored.id,
            brand: stored.brand,
            last4: stored.last4,
            exp_month: stored.exp_month,
            exp_year: stored.exp_year,
            funding: funding_name(stored.funding).to_string(),
            fingerprint: stored.fingerprint,
            nickname,
            make_default,
            network_transaction_id: stored.network_transaction_id,
        };
        Ok(self.db.run(move |l| l.insert_card(&new)).await?)
    }

    /// Starts a session of the gateway's client-side card form for a customer (on `gateway`,
    /// else the customer's default gateway): what the CRM's card page needs to load the
    /// gateway's form, or the gateway's hosted page. The token the form hands back is stored
    /// with [`Service::store_card`]. Unsupported when the gateway has no `card-sessions`.
    pub async fn start_card_session(
        &self,
        crm_customer_id: &str,
        gateway: Option<&str>,
        return_url: Option<String>,
        currency: Option<String>,
        client_key: Option<String>,
    ) -> Result<(String, CardSession), Error> {
        let links = self.require_customer(crm_customer_id).await?;
        let gateway = self.customer_gateway(&links, gateway)?;
        let link = self.customer_link(crm_customer_id, &gateway).await?;
        if let Some(u) = &return_url {
            check_return_url(u)?;
        }
        if let Some(c) = &currency {
            self.check_currency(c, Some(&gateway))?;
        }
        let slot = self.slot(&gateway)?;
        if !slot.capabilities().contains(Capabilities::CARD_SESSIONS) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                Some("gateway"),
                format!(
                    "gateway {gateway} has no card sessions (no `card-sessions` capability): \
                     store cards from its tokens instead"
                ),
            ));
        }
        let key = client_key
            .map(|k| format!("cs-{k}"))
            .unwrap_or_else(|| new_key("cs"));
        let request = CardSessionRequest {
            customer: link.gateway_customer_ref,
            return_url,
            currency,
            idempotency_key: key,
        };
        let session = slot
            .call("start-card-session", RetryPolicy::INTERACTIVE, |g| {
                let r = request.clone();
                async move { g.start_card_session(r).await }
            })
            .await
            .map_err(|e| Error::from_call(&e))?;
        Ok((gateway, session))
    }

    /// The gateway a customer's card goes to: `requested`, else the default gateway when the
    /// customer is linked to it, else the customer's first link.
    fn customer_gateway(
        &self,
        links: &[CustomerLink],
        requested: Option<&str>,
    ) -> Result<String, Error> {
        match requested {
            Some(g) => self.gateway_name(Some(g)),
            None => {
                let d = self.gateways.default_name();
                Ok(match links.iter().find(|l| Some(l.gateway.as_str()) == d) {
                    Some(l) => l.gateway.clone(),
                    None => links[0].gateway.clone(),
                })
            }
        }
    }

    /// Makes a card the customer's default, at its gateway and in the ledger.
    pub async fn set_default_card(
        &self,
        crm_customer_id: &str,
        card_id: i64,
    ) -> Result<Card, Error> {
        let card = self.customer_card(crm_customer_id, card_id).await?;
        let link = self.customer_link(crm_customer_id, &card.gateway).await?;
        let slot = self.slot(&card.gateway)?;
        slot.call("set-default-card", RetryPolicy::INTERACTIVE, |g| {
            let (c, r) = (
                link.gateway_customer_ref.clone(),
                card.gateway_card_ref.clone(),
            );
            async move { g.set_default_card(&c, &r).await }
        })
        .await
        .map_err(|e| Error::from_call(&e))?;
        let id = crm_customer_id.to_string();
        self.db
            .run(move |l| l.set_default_card(&id, card_id))
            .await?;
        self.customer_card(crm_customer_id, card_id).await
    }

    /// Removes a card at its gateway and in the ledger.
    pub async fn remove_card(&self, crm_customer_id: &str, card_id: i64) -> Result<(), Error> {
        let card = self.customer_card(crm_customer_id, card_id).await?;
        let link = self.customer_link(crm_customer_id, &card.gateway).await?;
        let slot = self.slot(&card.gateway)?;
        let result = slot
            .call("remove-card", RetryPolicy::INTERACTIVE, |g| {
                let (c, r) = (
                    link.gateway_customer_ref.clone(),
                    card.gateway_card_ref.clone(),
                );
                async move { g.remove_card(&c, &r).await }
            })
            .await;
        match result {
            Ok(()) | Err(CallError::Gateway(GatewayError::NotFound(_))) => {}
            Err(e) => return Err(Error::from_call(&e)),
        }
        let id = crm_customer_id.to_string();
        self.db.run(move |l| l.remove_card(&id, card_id)).await?;
        Ok(())
    }

    /// The customer's default card; invalid input naming `card_id` when there is none.
    pub async fn default_card(&self, crm_customer_id: &str) -> Result<Card, Error> {
        let id = crm_customer_id.to_string();
        let cards = self.db.run(move |l| l.cards(&id)).await?;
        default_of(crm_customer_id, cards)
    }

    /// The customer's links and the card to use: `card_id`, else the default card when
    /// `need_card`, else none; read together (one trip to the ledger). Errors as
    /// [`Service::require_customer`], [`Service::customer_card`] and [`Service::default_card`].
    pub async fn customer_and_card(
        &self,
        crm_customer_id: &str,
        card_id: Option<i64>,
        need_card: bool,
    ) -> Result<(Vec<CustomerLink>, Option<Card>), Error> {
        check_customer_id(crm_customer_id)?;
        let id = crm_customer_id.to_string();
        let (links, card, cards) = self
            .db
            .run(move |l| {
                let links = l.customer_links(&id)?;
                if links.is_empty() {
                    return Ok((links, None, None));
                }
                match card_id {
                    Some(c) => Ok((links, Some(l.card(c)?), None)),
                    None if need_card => Ok((links, None, Some(l.cards(&id)?))),
                    None => Ok((links, None, None)),
                }
            })
            .await?;
        let links = linked(crm_customer_id, links)?;
        let card = match (card_id, card, cards) {
            (Some(id), Some(card), _) => Some(own_card(crm_customer_id, id, card)?),
            (None, _, Some(cards)) => Some(default_of(crm_customer_id, cards)?),
            _ => None,
        };
        Ok((links, card))
    }
}

/// The stored name of a card's funding.
pub fn funding_name(f: contract::CardFunding) -> &'static str {
    match f {
        contract::CardFunding::Credit => "credit",
        contract::CardFunding::Debit => "debit",
        contract::CardFunding::Prepaid => "prepaid",
        contract::CardFunding::Unknown => "unknown",
    }
}

/// Checks a URL the customer's browser is sent back to: an absolute `http(s)` URL of at most
/// 2048 characters; invalid input naming `return_url` otherwise.
pub fn check_return_url(url: &str) -> Result<(), Error> {
    let ok = url::Url::parse(url)
        .map(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
        .unwrap_or(false);
    if ok && url.len() <= 2048 {
        Ok(())
    } else {
        Err(Error::invalid(
            "return_url",
            "must be an absolute http(s) URL of at most 2048 characters",
        ))
    }
}

/// The longest CRM customer id, in bytes.
pub const MAX_CUSTOMER_ID: usize = 200;

/// Checks a CRM customer id where it enters the service. Ids are taken exactly as given (never
/// trimmed or case-folded), so two ids that differ by white space or invisible characters would be
/// two customers that people and gateways confuse: such ids are refused instead.
pub fn check_customer_id(id: &str) -> Result<(), Error> {
    if id.is_empty() {
        return Err(Error::invalid("customer_id", "must not be empty"));
    }
    if id.len() > MAX_CUSTOMER_ID {
        return Err(Error::invalid(
            "customer_id",
            format!("at most {MAX_CUSTOMER_ID} bytes"),
        ));
    }
    if let Some(c) = id.chars().find(|c| is_invisible(*c)) {
        return Err(Error::invalid(
            "customer_id",
            format!(
                "must not contain white space or control characters (found U+{:04X})",
                c as u32
            ),
        ));
    }
    Ok(())
}

/// White space, control characters and the invisible format characters (zero-width space and
/// joiners, byte-order mark, bidirectional controls).
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{00AD}')
}

/// The links of a customer that must be linked; not found naming `customer_id` if none.
fn linked(crm_customer_id: &str, links: Vec<CustomerLink>) -> Result<Vec<CustomerLink>, Error> {
    if links.is_empty() {
        return Err(Error::not_found(
            "customer_id",
            format!("no customer {crm_customer_id:?}: link it with POST /v1/customers first"),
        ));
    }
    Ok(links)
}

/// A card that must be the customer's; not found naming `card_id` when it is not theirs or was removed.
fn own_card(crm_customer_id: &str, card_id: i64, card: Option<Card>) -> Result<Card, Error> {
    match card {
        Some(c) if c.crm_customer_id == crm_customer_id => Ok(c),
        _ => Err(Error::not_found(
            "card_id",
            format!("customer {crm_customer_id:?} has no card {card_id}"),
        )),
    }
}

/// The default among the customer's cards.
fn default_of(crm_customer_id: &str, cards: Vec<Card>) -> Result<Card, Error> {
    cards.into_iter().find(|c| c.is_default).ok_or_else(|| {
        Error::invalid(
            "card_id",
            format!("customer {crm_customer_id:?} has no default card: add one or name a card_id"),
        )
    })
}

/// The idempotency key for creating the gateway customer of a CRM customer.
fn customer_key(gateway: &str, crm_customer_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{gateway}\n{crm_customer_id}"));
    format!("cust-{}", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_ids_with_invisible_characters_are_refused() {
        for good in ["acme-7", "CRM-42", "Kunde_ß/7", "a"] {
            assert!(check_customer_id(good).is_ok(), "{good}");
        }
        let long = "x".repeat(MAX_CUSTOMER_ID + 1);
        for bad in [
            "",
            "acme-7 ",
            " acme-7",
            "acme 7",
            "acme-7\n",
            "acme\t7",
            "acme\u{0}7",
            "acme\u{200B}7",
            "acme\u{FEFF}",
            "acme\u{00A0}7",
            "a AND b",
            &long,
        ] {
            let e = check_customer_id(bad).expect_err(bad);
            assert_eq!(e.field.as_deref(), Some("customer_id"));
        }
    }
}
