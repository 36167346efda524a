//! Customers (links of a CRM customer to gateway customers) and their stored cards.

use super::sql::{Connection, LIKE, OptionalExtension, Row, RowResult, params};

use super::connections::Connections;
use crate::ledger::{Card, CardDetails, CustomerLink, LedgerError, NewCard, Result, now};

const CUSTOMER_COLS: &str =
    "crm_customer_id, gateway, gateway_customer_ref, email, name, created_at";

fn customer_row(r: &Row<'_>) -> RowResult<CustomerLink> {
    Ok(CustomerLink {
        crm_customer_id: r.get(0)?,
        gateway: r.get(1)?,
        gateway_customer_ref: r.get(2)?,
        email: r.get(3)?,
        name: r.get(4)?,
        created_at: r.get(5)?,
    })
}

/// The columns [`card_row`] reads, in order.
pub(super) const CARD_COLS: &str = "id, crm_customer_id, gateway, gateway_card_ref, brand, last4, \
     exp_month, exp_year, funding, fingerprint, nickname, is_default, created_at, \
     network_transaction_id";

fn card_row(r: &Row<'_>) -> RowResult<Card> {
    Ok(Card {
        id: r.get(0)?,
        crm_customer_id: r.get(1)?,
        gateway: r.get(2)?,
        gateway_card_ref: r.get(3)?,
        brand: r.get(4)?,
        last4: r.get(5)?,
        exp_month: r.get(6)?,
        exp_year: r.get(7)?,
        funding: r.get(8)?,
        fingerprint: r.get(9)?,
        nickname: r.get(10)?,
        is_default: r.get(11)?,
        created_at: r.get(12)?,
        network_transaction_id: r.get(13)?,
    })
}

/// See [`crate::ledger::Ledger::upsert_customer`].
pub(super) fn upsert_customer(db: &Connections, link: &CustomerLink) -> Result<CustomerLink> {
    db.write(|conn| {
        conn.prepare_cached(
            "INSERT INTO customers (crm_customer_id, gateway, gateway_customer_ref, email, name,
                created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (crm_customer_id, gateway) DO UPDATE SET
                gateway_customer_ref = excluded.gateway_customer_ref,
                email = COALESCE(excluded.email, customers.email),
                name = COALESCE(excluded.name, customers.name)",
        )?
        .execute(params![
            link.crm_customer_id,
            link.gateway,
            link.gateway_customer_ref,
            link.email,
            link.name,
            link.created_at
        ])?;
        let row = conn
            .prepare_cached(&format!(
                "SELECT {CUSTOMER_COLS} FROM customers WHERE crm_customer_id = ?1 AND gateway = ?2"
            ))?
            .query_row(params![link.crm_customer_id, link.gateway], customer_row)?;
        Ok(row)
    })
}

/// See [`crate::ledger::Ledger::customer_links`].
pub(super) fn customer_links(db: &Connections, crm_customer_id: &str) -> Result<Vec<CustomerLink>> {
    db.read(|conn| {
        let mut st = conn.prepare_cached(&format!(
            "SELECT {CUSTOMER_COLS} FROM customers
             WHERE crm_customer_id = ?1 ORDER BY created_at, gateway"
        ))?;
        let rows = st
            .query_map([crm_customer_id], customer_row)?
            .collect::<RowResult<_>>()?;
        Ok(rows)
    })
}

/// See [`crate::ledger::Ledger::search_customers`] (`LIKE`: the backend's case-insensitive
/// match).
pub(super) fn search_customers(
    db: &Connections,
    query: &str,
    limit: u32,
) -> Result<Vec<CustomerLink>> {
    // LIKE's wildcards in the query are matched as themselves.
    let escaped: String = query
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    let pattern = format!("%{escaped}%");
    db.read(|conn| {
        let mut st = conn.prepare_cached(&format!(
            "SELECT {CUSTOMER_COLS} FROM customers
             WHERE crm_customer_id {LIKE} ?1 ESCAPE '\\' OR name {LIKE} ?1 ESCAPE '\\'
                OR email {LIKE} ?1 ESCAPE '\\'
             ORDER BY created_at DESC, crm_customer_id, gateway LIMIT ?2"
        ))?;
        let rows = st
            .query_map(params![pattern, i64::from(limit)], customer_row)?
            .collect::<RowResult<_>>()?;
        Ok(rows)
    })
}

/// See [`crate::ledger::Ledger::insert_card`].
pub(super) fn insert_card(db: &Connections, card: &NewCard) -> Result<Card> {
    db.write(|tx| {
        let existing: Option<(i64, Option<i64>)> = tx
            .prepare_cached(
                "SELECT id, removed_at FROM cards WHERE gateway = ?1 AND gateway_card_ref = ?2",
            )?
            .query_row(params![card.gateway, card.gateway_card_ref], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let id = match existing {
            Some((_, Some(_))) => {
                return Err(LedgerError::Conflict {
                    field: "token",
                    message: "this card was removed and cannot be stored again".into(),
                });
            }
            Some((id, None)) => {
                if let Some(ntid) = &card.network_transaction_id {
                    tx.prepare_cached(
                        "UPDATE cards SET network_transaction_id = ?2
                         WHERE id = ?1 AND network_transaction_id IS NULL",
                    )?
                    .execute(params![id, ntid])?;
                }
                id
            }
            None => insert_new_card(tx, card)?,
        };
        let row = tx
            .prepare_cached(&format!("SELECT {CARD_COLS} FROM cards WHERE id = ?1"))?
            .query_row([id], card_row)?;
        Ok(row)
    })
}

/// Stores a card not stored before, making it the default when asked or when the customer has
/// none; its id.
fn insert_new_card(tx: &Connection<'_>, card: &NewCard) -> Result<i64> {
    let has_default: bool = tx
        .prepare_cached(
            "SELECT 1 FROM cards
             WHERE crm_customer_id = ?1 AND is_default = 1 AND removed_at IS NULL",
        )?
        .query_row([&card.crm_customer_id], |_| Ok(()))
        .optional()?
        .is_some();
    let make_default = card.make_default || !has_default;
    if make_default {
        tx.prepare_cached("UPDATE cards SET is_default = 0 WHERE crm_customer_id = ?1")?
            .execute([&card.crm_customer_id])?;
    }
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO cards (crm_customer_id, gateway, gateway_card_ref, brand, last4,
                exp_month, exp_year, funding, fingerprint, nickname, is_default, created_at,
                network_transaction_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) RETURNING id",
        )?
        .query_row(
            params![
                card.crm_customer_id,
                card.gateway,
                card.gateway_card_ref,
                card.brand,
                card.last4,
                card.exp_month,
                card.exp_year,
                card.funding,
                card.fingerprint,
                card.nickname,
                make_default,
                now(),
                card.network_transaction_id,
            ],
            |r| r.get(0),
        )?;
    Ok(id)
}

/// See [`crate::ledger::Ledger::card`].
pub(super) fn card(db: &Connections, id: i64) -> Result<Option<Card>> {
    db.read(|conn| {
        conn.prepare_cached(&format!(
            "SELECT {CARD_COLS} FROM cards WHERE id = ?1 AND removed_at IS NULL"
        ))?
        .query_row([id], card_row)
        .optional()
    })
}

/// See [`crate::ledger::Ledger::cards`].
pub(super) fn cards(db: &Connections, crm_customer_id: &str) -> Result<Vec<Card>> {
    db.read(|conn| {
        let mut st = conn.prepare_cached(&format!(
            "SELECT {CARD_COLS} FROM cards WHERE crm_customer_id = ?1 AND removed_at IS NULL
             ORDER BY is_default DESC, created_at DESC, id DESC"
        ))?;
        let rows = st
            .query_map([crm_customer_id], card_row)?
            .collect::<RowResult<_>>()?;
        Ok(rows)
    })
}

/// See [`crate::ledger::Ledger::set_default_card`].
pub(super) fn set_default_card(
    db: &Connections,
    crm_customer_id: &str,
    card_id: i64,
) -> Result<bool> {
    db.write(|tx| {
        let exists = tx
            .prepare_cached(
                "SELECT 1 FROM cards WHERE id = ?1 AND crm_customer_id = ?2 AND removed_at IS NULL",
            )?
            .query_row(params![card_id, crm_customer_id], |_| Ok(()))
            .optional()?
            .is_some();
        if exists {
            tx.prepare_cached(
                "UPDATE cards SET is_default = CAST(id = ?2 AS INTEGER) WHERE crm_customer_id = ?1",
            )?
            .execute(params![crm_customer_id, card_id])?;
        }
        Ok(exists)
    })
}

/// See [`crate::ledger::Ledger::remove_card`].
pub(super) fn remove_card(db: &Connections, crm_customer_id: &str, card_id: i64) -> Result<bool> {
    db.write(|conn| {
        let n = conn
            .prepare_cached(
                "UPDATE cards SET removed_at = ?3, is_default = 0
                 WHERE id = ?1 AND crm_customer_id = ?2 AND removed_at IS NULL",
            )?
            .execute(params![card_id, crm_customer_id, now()])?;
        Ok(n == 1)
    })
}

/// See [`crate::ledger::Ledger::expiring_cards`].
pub(super) fn expiring_cards(
    db: &Connections,
    from: (u16, u8),
    to: (u16, u8),
) -> Result<Vec<Card>> {
    db.read(|conn| {
        let mut st = conn.prepare_cached(&format!(
            "SELECT {CARD_COLS} FROM cards WHERE removed_at IS NULL
               AND exp_year * 12 + exp_month BETWEEN ?1 AND ?2
             ORDER BY exp_year, exp_month, crm_customer_id, id"
        ))?;
        let a = from.0 as i64 * 12 + from.1 as i64;
        let b = to.0 as i64 * 12 + to.1 as i64;
        let rows = st
            .query_map(params![a, b], card_row)?
            .collect::<RowResult<_>>()?;
        Ok(rows)
    })
}

/// See [`crate::ledger::Ledger::update_card_details`].
pub(super) fn update_card_details(
    db: &Connections,
    gateway: &str,
    gateway_card_ref: &str,
    exp_month: u8,
    exp_year: u16,
    last4: &str,
) -> Result<bool> {
    db.write(|conn| {
        let n = conn
            .prepare_cached(
                "UPDATE cards SET exp_month = ?3, exp_year = ?4, last4 = ?5
                 WHERE gateway = ?1 AND gateway_card_ref = ?2",
            )?
            .execute(params![
                gateway,
                gateway_card_ref,
                exp_month,
                exp_year,
                last4
            ])?;
        Ok(n > 0)
    })
}

/// See [`crate::ledger::Ledger::refresh_card`].
pub(super) fn refresh_card(
    db: &Connections,
    gateway: &str,
    gateway_card_ref: &str,
    d: &CardDetails,
) -> Result<bool> {
    db.write(|conn| {
        let n = conn
            .prepare_cached(
                "UPDATE cards SET exp_month = ?3, exp_year = ?4, last4 = ?5,
                    brand = COALESCE(?6, brand), funding = COALESCE(?7, funding),
                    fingerprint = COALESCE(?8, fingerprint),
                    network_transaction_id = COALESCE(network_transaction_id, ?9)
                 WHERE gateway = ?1 AND gateway_card_ref = ?2",
            )?
            .execute(params![
                gateway,
                gateway_card_ref,
                d.exp_month,
                d.exp_year,
                d.last4,
                d.brand,
                d.funding,
                d.fingerprint,
                d.network_transaction_id,
            ])?;
        Ok(n > 0)
    })
}

/// See [`crate::ledger::Ledger::set_card_network_transaction_id`].
pub(super) fn set_card_network_transaction_id(
    db: &Connections,
    card_id: i64,
    id: &str,
) -> Result<bool> {
    db.write(|conn| {
        let n = conn
            .prepare_cached(
                "UPDATE cards SET network_transaction_id = ?2
                 WHERE id = ?1 AND network_transaction_id IS NULL",
            )?
            .execute(params![card_id, id])?;
        Ok(n == 1)
    })
}
