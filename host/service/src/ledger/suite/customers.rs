//! Customers and their stored cards.

use super::new_card;
use crate::ledger::{Card, CustomerLink, Ledger, LedgerError};

pub fn cards_default_and_removal(l: &dyn Ledger) {
    let a = l.insert_card(&new_card("c1", "pm_a", false)).unwrap();
    assert!(a.is_default, "the first card becomes the default");
    let b = l.insert_card(&new_card("c1", "pm_b", false)).unwrap();
    assert!(!b.is_default);
    let again = l.insert_card(&new_card("c1", "pm_b", true)).unwrap();
    assert_eq!(again.id, b.id, "storing the same card again returns it");
    assert!(l.set_default_card("c1", b.id).unwrap());
    let cards = l.cards("c1").unwrap();
    assert_eq!(cards[0].id, b.id);
    assert!(cards[0].is_default && !cards[1].is_default);
    assert!(
        !l.set_default_card("c2", a.id).unwrap(),
        "another customer's card"
    );
    assert!(l.remove_card("c1", b.id).unwrap());
    assert!(!l.remove_card("c1", b.id).unwrap());
    assert!(l.card(b.id).unwrap().is_none());
    assert_eq!(l.cards("c1").unwrap().len(), 1);
    assert!(matches!(
        l.insert_card(&new_card("c1", "pm_b", false)),
        Err(LedgerError::Conflict { field: "token", .. })
    ));
    let exp = l.expiring_cards((2030, 1), (2030, 12)).unwrap();
    assert_eq!(exp.len(), 1);
    assert!(l.expiring_cards((2031, 1), (2031, 12)).unwrap().is_empty());
    assert!(
        l.update_card_details("stripe", "pm_a", 1, 2031, "1111")
            .unwrap()
    );
    assert_eq!(
        l.expiring_cards((2031, 1), (2031, 1)).unwrap()[0].last4,
        "1111"
    );
}

/// A customer has one link per gateway; linking again takes the new reference and keeps the
/// contact details it does not name.
pub fn customers_link_once_per_gateway_keeping_known_details(l: &dyn Ledger) {
    let link = CustomerLink {
        crm_customer_id: "c1".into(),
        gateway: "stripe".into(),
        gateway_customer_ref: "cus_1".into(),
        email: Some("ann@example.com".into()),
        name: Some("Ann".into()),
        created_at: 100,
    };
    assert_eq!(l.upsert_customer(&link).unwrap(), link);
    let relinked = l
        .upsert_customer(&CustomerLink {
            gateway_customer_ref: "cus_2".into(),
            email: None,
            name: Some("Ann B".into()),
            created_at: 300,
            ..link.clone()
        })
        .unwrap();
    assert_eq!(
        relinked,
        CustomerLink {
            gateway_customer_ref: "cus_2".into(),
            name: Some("Ann B".into()),
            ..link.clone()
        },
        "the new reference and name, the e-mail kept, first linked at 100"
    );
    let offline = CustomerLink {
        gateway: "offline".into(),
        gateway_customer_ref: "off_1".into(),
        email: None,
        name: None,
        created_at: 200,
        ..link.clone()
    };
    l.upsert_customer(&offline).unwrap();
    let links = l.customer_links("c1").unwrap();
    assert_eq!(
        links
            .iter()
            .map(|c| (c.gateway.as_str(), c.gateway_customer_ref.as_str()))
            .collect::<Vec<_>>(),
        vec![("stripe", "cus_2"), ("offline", "off_1")],
        "oldest link first"
    );
    assert!(l.customer_links("c2").unwrap().is_empty());
    // Search: by id, name or e-mail, any case, newest first; LIKE's wildcards match themselves.
    let found = |q: &str| {
        l.search_customers(q, 10)
            .unwrap()
            .iter()
            .map(|c| c.gateway_customer_ref.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(found("C1"), vec!["off_1", "cus_2"]);
    assert_eq!(found("ann b"), vec!["cus_2"]);
    assert_eq!(found("EXAMPLE.com"), vec!["cus_2"]);
    assert_eq!(found(""), vec!["off_1", "cus_2"]);
    assert!(found("%").is_empty() && found("c_").is_empty());
    assert_eq!(l.search_customers("", 1).unwrap().len(), 1);
}

/// Expiry windows span years; a card stored while the customer has no default becomes it;
/// card updates find the card by its gateway reference.
pub fn cards_expire_by_month_and_a_default_is_always_found(l: &dyn Ledger) {
    let a = l.insert_card(&new_card("c1", "pm_a", false)).unwrap();
    assert_eq!(
        (
            a.crm_customer_id.as_str(),
            a.gateway.as_str(),
            a.gateway_card_ref.as_str(),
            a.brand.as_str(),
            a.last4.as_str(),
            a.exp_month,
            a.exp_year,
            a.funding.as_str(),
            a.nickname.as_deref(),
        ),
        (
            "c1",
            "stripe",
            "pm_a",
            "visa",
            "4242",
            12,
            2030,
            "credit",
            Some("Work Visa")
        )
    );
    let mut b = new_card("c1", "pm_b", false);
    (b.exp_month, b.exp_year) = (1, 2031);
    let b = l.insert_card(&b).unwrap();
    let mut c = new_card("c2", "pm_c", false);
    c.exp_month = 11;
    let c = l.insert_card(&c).unwrap();
    let ids = |cards: Vec<Card>| cards.iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(l.expiring_cards((2030, 11), (2031, 1)).unwrap()),
        vec![c.id, a.id, b.id],
        "by expiry month, across the new year"
    );
    assert_eq!(
        ids(l.expiring_cards((2030, 12), (2030, 12)).unwrap()),
        vec![a.id]
    );
    let d = l.insert_card(&new_card("c1", "pm_d", false)).unwrap();
    assert_eq!(
        ids(l.cards("c1").unwrap()),
        vec![a.id, d.id, b.id],
        "the default first, then the newest"
    );
    assert!(l.remove_card("c1", d.id).unwrap());
    assert!(
        !l.set_default_card("c1", d.id).unwrap(),
        "a removed card cannot become the default"
    );
    // Removing the default leaves none; the next card stored becomes it.
    assert!(l.remove_card("c1", a.id).unwrap());
    assert!(l.cards("c1").unwrap().iter().all(|c| !c.is_default));
    let e = l.insert_card(&new_card("c1", "pm_e", false)).unwrap();
    assert!(e.is_default);
    assert_eq!(l.cards("c1").unwrap()[0].id, e.id);
    assert!(
        !l.update_card_details("stripe", "pm_unknown", 1, 2032, "0000")
            .unwrap()
    );
    assert!(
        !l.update_card_details("offline", "pm_b", 1, 2032, "0000")
            .unwrap(),
        "the reference is the gateway's"
    );
    assert!(
        l.update_card_details("stripe", "pm_b", 2, 2032, "5555")
            .unwrap()
    );
    let b = l.card(b.id).unwrap().unwrap();
    assert_eq!(
        (b.exp_month, b.exp_year, b.last4.as_str()),
        (2, 2032, "5555")
    );
}
