//! Stored cards in the contract's terms, from what Adyen says of them: a stored payment method of
//! `GET /storedPaymentMethods`, or the `additionalData` of the payment that stored the card.
//! Adyen keeps no default card, so no card is ever the default.

use omnicrm_gateway_sdk::tokens::{CardFunding, StoredCard};

use crate::wire::{PaymentResponse, StoredMethod, Strings};

/// The contract's brand of an Adyen brand code (`mc`, `visa`, and variants such as `mccredit`
/// or `visadebit`); `unknown` for any other.
pub fn brand(adyen: &str) -> &'static str {
    let b = adyen.trim().to_ascii_lowercase();
    let table: [(&str, &'static str); 10] = [
        ("visa", "visa"),
        ("mc", "mastercard"),
        ("maestro", "maestro"),
        ("amex", "amex"),
        ("discover", "discover"),
        ("jcb", "jcb"),
        ("cup", "unionpay"),
        ("diners", "diners"),
        ("cartebancaire", "cartes_bancaires"),
        ("bcmc", "unknown"),
    ];
    table
        .iter()
        .find(|(prefix, _)| b.starts_with(prefix))
        .map_or("unknown", |(_, name)| name)
}

fn last4(text: &str) -> Option<String> {
    let t = text.trim();
    (t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.to_owned())
}

fn month(text: &str) -> Option<u8> {
    text.trim()
        .parse::<u8>()
        .ok()
        .filter(|m| (1..=12).contains(m))
}

/// A four-digit year, or a two-digit one of this century (`30` is 2030).
fn year(text: &str) -> Option<u16> {
    let t = text.trim();
    let y: u16 = t.parse().ok()?;
    match t.len() {
        2 => Some(2000 + y),
        4 if y >= 1000 => Some(y),
        _ => None,
    }
}

fn funding(text: Option<&str>) -> CardFunding {
    match text.map(|t| t.trim().to_ascii_uppercase()).as_deref() {
        Some("CREDIT") => CardFunding::Credit,
        Some("DEBIT" | "DEFERRED_DEBIT") => CardFunding::Debit,
        Some("PREPAID" | "PREPAID_RELOADABLE" | "PREPAID_NONRELOADABLE") => CardFunding::Prepaid,
        _ => CardFunding::Unknown,
    }
}

fn country(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(str::to_ascii_uppercase)
}

/// A stored card of `customer` from Adyen's stored method; `Err` names what is missing.
pub fn from_stored(method: &StoredMethod, customer: &str) -> Result<StoredCard, String> {
    let missing = |what: &str| format!("stored payment method {} has no valid {what}", method.id);
    Ok(StoredCard {
        id: method.id.clone(),
        customer: customer.to_owned(),
        brand: brand(method.brand.as_deref().unwrap_or("")).to_owned(),
        last4: method
            .last_four
            .as_deref()
            .and_then(last4)
            .ok_or_else(|| missing("lastFour"))?,
        exp_month: method
            .expiry_month
            .as_deref()
            .and_then(month)
            .ok_or_else(|| missing("expiryMonth"))?,
        exp_year: method
            .expiry_year
            .as_deref()
            .and_then(year)
            .ok_or_else(|| missing("expiryYear"))?,
        fingerprint: None,
        funding: CardFunding::Unknown,
        country: None,
        is_default: false,
        network_transaction_id: method
            .network_tx_reference
            .clone()
            .filter(|n| !n.is_empty()),
    })
}

/// The expiry of `additionalData.expiryDate`: `3/2030` (month/year).
fn expiry(data: &Strings) -> Option<(u8, u16)> {
    let (m, y) = data.non_empty("expiryDate")?.split_once('/')?;
    Some((month(m)?, year(y)?))
}

/// The stored card `id` of `customer` from `additionalData`-style facts (`cardSummary`,
/// `expiryDate`, `fundingSource`, `cardIssuingCountry`, `networkTxReference`) and a brand, when
/// they hold everything a stored card needs (brand, last four, expiry).
pub fn from_facts(
    id: &str,
    customer: &str,
    brand_code: Option<&str>,
    data: &Strings,
) -> Option<StoredCard> {
    let (exp_month, exp_year) = expiry(data)?;
    Some(StoredCard {
        id: id.to_owned(),
        customer: customer.to_owned(),
        brand: brand(brand_code?).to_owned(),
        last4: last4(data.non_empty("cardSummary")?)?,
        exp_month,
        exp_year,
        fingerprint: None,
        funding: funding(data.non_empty("fundingSource")),
        country: country(data.non_empty("cardIssuingCountry")),
        is_default: false,
        network_transaction_id: data.non_empty("networkTxReference").map(str::to_owned),
    })
}

/// The stored card `id` of `customer` from the answer of the payment that stored it, when the
/// answer has everything a stored card needs.
pub fn from_payment(answer: &PaymentResponse, id: &str, customer: &str) -> Option<StoredCard> {
    from_facts(id, customer, answer.brand(), &answer.additional_data)
}

/// `card` with the funding and country the storing payment's answer gave (the stored methods
/// list has neither).
pub fn with_payment_facts(mut card: StoredCard, answer: &PaymentResponse) -> StoredCard {
    let data = &answer.additional_data;
    card.funding = funding(data.non_empty("fundingSource"));
    card.country = country(data.non_empty("cardIssuingCountry"));
    if card.network_transaction_id.is_none() {
        card.network_transaction_id = data.non_empty("networkTxReference").map(str::to_owned);
    }
    card
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{StoredMethods, decode};

    #[test]
    fn brands_in_the_contract_s_names() {
        for (adyen, contract) in [
            ("visa", "visa"),
            ("visadebit", "visa"),
            ("mc", "mastercard"),
            ("mccredit", "mastercard"),
            ("MC", "mastercard"),
            ("amex", "amex"),
            ("cup", "unionpay"),
            ("diners", "diners"),
            ("discover", "discover"),
            ("jcb", "jcb"),
            ("maestro", "maestro"),
            ("cartebancaire", "cartes_bancaires"),
            ("bcmc", "unknown"),
            ("paypal", "unknown"),
            ("", "unknown"),
        ] {
            assert_eq!(brand(adyen), contract, "{adyen}");
        }
    }

    #[test]
    fn stored_methods_become_stored_cards() {
        let list: StoredMethods =
            decode(include_bytes!("wire/fixtures/stored_methods.json")).unwrap();
        let card = from_stored(&list.stored_payment_methods[0], "CRM-1").unwrap();
        assert_eq!(
            (
                card.id.as_str(),
                card.brand.as_str(),
                card.last4.as_str(),
                card.exp_month,
                card.exp_year
            ),
            ("QQK5F3YZ6I521VJV", "visa", "1111", 3, 2030)
        );
        assert_eq!(card.customer, "CRM-1");
        assert!(!card.is_default && card.network_transaction_id.is_some());
        let mc = from_stored(&list.stored_payment_methods[1], "CRM-1").unwrap();
        assert_eq!(
            (mc.brand.as_str(), mc.last4.as_str()),
            ("mastercard", "4444")
        );

        let mut broken = list.stored_payment_methods[0].clone();
        broken.expiry_month = Some("13".into());
        assert!(
            from_stored(&broken, "c")
                .unwrap_err()
                .contains("expiryMonth")
        );
        broken.expiry_month = Some("12".into());
        broken.expiry_year = Some("2030".into());
        assert_eq!(from_stored(&broken, "c").unwrap().exp_year, 2030);
        broken.last_four = Some("11a1".into());
        assert!(from_stored(&broken, "c").unwrap_err().contains("lastFour"));
    }

    #[test]
    fn the_storing_payment_describes_the_card() {
        let answer: PaymentResponse =
            decode(include_bytes!("wire/fixtures/payment_stored.json")).unwrap();
        let card = from_payment(&answer, "QQK5F3YZ6I521VJV", "CRM-1").unwrap();
        assert_eq!(
            (card.last4.as_str(), card.exp_month, card.exp_year),
            ("1111", 3, 2030)
        );
        assert_eq!(card.funding, CardFunding::Credit);
        assert_eq!(card.country.as_deref(), Some("NL"));
        assert_eq!(
            card.network_transaction_id.as_deref(),
            Some("GFLLEWULDD1BQU2")
        );

        let redirect: PaymentResponse =
            decode(include_bytes!("wire/fixtures/payment_redirect.json")).unwrap();
        assert!(
            from_payment(&redirect, "X", "CRM-1").is_none(),
            "no expiry in the answer"
        );

        let list: StoredMethods =
            decode(include_bytes!("wire/fixtures/stored_methods.json")).unwrap();
        let listed = from_stored(&list.stored_payment_methods[0], "CRM-1").unwrap();
        let completed = with_payment_facts(listed, &answer);
        assert_eq!(completed.funding, CardFunding::Credit);
        assert_eq!(completed.country.as_deref(), Some("NL"));
        assert_eq!(year("999"), None);
        assert_eq!(year("0999"), None);
    }
}
