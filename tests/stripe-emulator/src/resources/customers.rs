//! Customers: create, retrieve, update, delete, list, search.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::cards;
use crate::error::ApiError;
use crate::form::{Params, nested_str};
use crate::state::{Object, Page, State, new_id, update_metadata};

/// A customer.
#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    /// `cus_...`
    pub id: String,
    /// `customer`
    pub object: &'static str,
    /// Address (opaque).
    pub address: Option<Value>,
    /// Customer credit balance (always 0 here).
    pub balance: i64,
    /// Creation time.
    pub created: i64,
    /// Default currency.
    pub currency: Option<String>,
    /// Legacy default source (always null).
    pub default_source: Option<String>,
    /// Whether an invoice is past due.
    pub delinquent: bool,
    /// Free text.
    pub description: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Prefix of the customer's invoice numbers.
    pub invoice_prefix: String,
    /// `default_payment_method` lives here.
    pub invoice_settings: InvoiceSettings,
    /// Always false.
    pub livemode: bool,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
    /// Name.
    pub name: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Locales.
    pub preferred_locales: Vec<String>,
    /// Shipping (opaque).
    pub shipping: Option<Value>,
    /// `none`.
    pub tax_exempt: &'static str,
    /// Deleted customers answer `{id, object, deleted: true}`.
    #[serde(skip)]
    pub deleted: bool,
}

/// `invoice_settings` of a customer.
#[derive(Debug, Clone, Serialize, Default)]
pub struct InvoiceSettings {
    /// Custom fields (always null).
    pub custom_fields: Option<Value>,
    /// The payment method charged when none is named.
    pub default_payment_method: Option<String>,
    /// Footer (always null).
    pub footer: Option<String>,
    /// Rendering options (always null).
    pub rendering_options: Option<Value>,
}

impl Object for Customer {
    const NAME: &'static str = "customer";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
    fn render(&self, _state: &State) -> Value {
        if self.deleted {
            json!({ "id": self.id, "object": "customer", "deleted": true })
        } else {
            serde_json::to_value(self).unwrap_or(Value::Null)
        }
    }
}

const FIELDS: &[&str] = &[
    "email",
    "name",
    "phone",
    "description",
    "metadata",
    "payment_method",
    "invoice_settings",
    "address",
    "shipping",
    "preferred_locales",
    "invoice_prefix",
    "tax_exempt",
];

/// A live (not deleted) customer.
pub fn find<'a>(st: &'a State, id: &str, param: &str) -> Result<&'a Customer, ApiError> {
    match st.customers.get(id) {
        Some(c) if !c.deleted => Ok(c),
        _ => Err(ApiError::missing("customer", id, param)),
    }
}

fn opt(p: &Params, key: &str) -> Result<Option<Option<String>>, ApiError> {
    // Given and empty unsets the field; absent leaves it alone.
    Ok(p.str(key)?.map(|s| (!s.is_empty()).then(|| s.to_string())))
}

/// `POST /v1/customers`
pub fn create(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(FIELDS)?;
    let mut metadata = BTreeMap::new();
    update_metadata(&mut metadata, p)?;
    let default_pm = p
        .map("invoice_settings")?
        .and_then(|m| nested_str(m, "default_payment_method"))
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let id = new_id("cus");
    let prefix: String = id[4..12].to_ascii_uppercase();
    let customer = Customer {
        id: id.clone(),
        object: "customer",
        address: None,
        balance: 0,
        created: st.now,
        currency: None,
        default_source: None,
        delinquent: false,
        description: p.non_empty("description")?.map(str::to_string),
        email: p.non_empty("email")?.map(str::to_string),
        invoice_prefix: p
            .non_empty("invoice_prefix")?
            .map(str::to_string)
            .unwrap_or(prefix),
        invoice_settings: InvoiceSettings::default(),
        livemode: false,
        metadata,
        name: p.non_empty("name")?.map(str::to_string),
        phone: p.non_empty("phone")?.map(str::to_string),
        preferred_locales: p.str_list("preferred_locales")?,
        shipping: None,
        tax_exempt: "none",
        deleted: false,
    };
    let seq = st.next_seq();
    st.customers.insert(seq, customer);
    // Creation is all or nothing: a declined or unknown payment method undoes it.
    let attached = match p.non_empty("payment_method")? {
        Some(pm) => super::payment_methods::attach_to(st, pm, &id, "payment_method").map(Some),
        None => Ok(None),
    };
    let result = attached.and_then(|attached| match default_pm.as_deref() {
        // `payment_method=pm_card_visa` creates a fresh id, which the default may name.
        Some(pm) if cards::lookup(pm).is_some() => {
            set_default_payment_method(st, &id, attached.as_deref().or(Some(pm)))
        }
        Some(pm) => set_default_payment_method(st, &id, Some(pm)),
        None => Ok(()),
    });
    if let Err(e) = result {
        st.customers.remove(&id);
        return Err(e);
    }
    st.emit_for("customer.created", &id);
    Ok(st.render_id(&id).unwrap_or(Value::Null))
}

/// Sets or clears `invoice_settings.default_payment_method`; the method must be attached to the
/// customer.
pub fn set_default_payment_method(
    st: &mut State,
    customer: &str,
    pm: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(pm) = pm {
        let attached = st
            .payment_methods
            .get(pm)
            .is_some_and(|m| m.customer.as_deref() == Some(customer));
        if !attached {
            return Err(ApiError::invalid_state(
                "resource_missing",
                format!(
                    "No such PaymentMethod: '{pm}'; the payment method must be attached to the customer {customer}."
                ),
            )
            .with_param("invoice_settings[default_payment_method]"));
        }
    }
    if let Some(c) = st.customers.get_mut(customer) {
        c.invoice_settings.default_payment_method = pm.map(str::to_string);
    }
    Ok(())
}

/// `GET /v1/customers/{id}` (deleted customers answer `deleted: true`).
pub fn retrieve(st: &mut State, id: &str) -> Result<Value, ApiError> {
    let c = st.customers.find(id, "id")?;
    Ok(c.render(st))
}

/// `POST /v1/customers/{id}`
pub fn update(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&[FIELDS, &["default_source"]].concat())?;
    let c = find(st, id, "id")?;
    let mut metadata = c.metadata.clone();
    update_metadata(&mut metadata, p)?;
    let (email, name, phone, description) = (
        opt(p, "email")?,
        opt(p, "name")?,
        opt(p, "phone")?,
        opt(p, "description")?,
    );
    let default_pm = p
        .map("invoice_settings")?
        .and_then(|m| nested_str(m, "default_payment_method"))
        .map(str::to_string);
    if let Some(pm) = &default_pm {
        set_default_payment_method(st, id, (!pm.is_empty()).then_some(pm.as_str()))?;
    }
    if let Some(pm) = p.non_empty("payment_method")? {
        super::payment_methods::attach_to(st, pm, id, "payment_method")?;
    }
    let Some(c) = st.customers.get_mut(id) else {
        return Err(ApiError::missing("customer", id, "id"));
    };
    c.metadata = metadata;
    if let Some(v) = email {
        c.email = v;
    }
    if let Some(v) = name {
        c.name = v;
    }
    if let Some(v) = phone {
        c.phone = v;
    }
    if let Some(v) = description {
        c.description = v;
    }
    st.emit_for("customer.updated", id);
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

/// `DELETE /v1/customers/{id}`
pub fn delete(st: &mut State, id: &str) -> Result<Value, ApiError> {
    find(st, id, "id")?;
    let object = st.render_id(id).unwrap_or(Value::Null);
    if let Some(c) = st.customers.get_mut(id) {
        c.deleted = true;
    }
    st.emit("customer.deleted", object);
    Ok(json!({ "id": id, "object": "customer", "deleted": true }))
}

/// `GET /v1/customers` (filters: `email`, `created`).
pub fn list(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "limit",
        "starting_after",
        "ending_before",
        "created",
        "email",
        "test_clock",
    ])?;
    let page = Page::parse(p)?;
    let email = p.non_empty("email")?;
    let (items, has_more) = st.customers.page(&page, |c| {
        !c.deleted && email.is_none_or(|e| c.email.as_deref() == Some(e))
    })?;
    Ok(st.render_list("/v1/customers", &items, has_more))
}

/// One clause of a search query.
#[derive(Debug, PartialEq)]
enum Clause {
    Equals(String, String),
    Contains(String, String),
    MetadataEquals(String, String),
}

fn parse_query(query: &str) -> Result<Vec<Clause>, ApiError> {
    let invalid = || {
        ApiError::invalid_param(
            "query",
            format!(
                "Invalid search query: {query}. Supported: field:'value', field~'value', metadata['key']:'value', joined with AND."
            ),
        )
    };
    let mut clauses = Vec::new();
    for part in query.split(" AND ").map(str::trim) {
        if part.is_empty() || part.contains(" OR ") {
            return Err(invalid());
        }
        let unquote = |s: &str| -> Option<String> {
            let s = s.trim();
            let inner = s
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| s.strip_prefix('"').and_then(|s| s.strip_suffix('"')))?;
            Some(inner.replace("\\'", "'").replace("\\\"", "\""))
        };
        if let Some(rest) = part.strip_prefix("metadata[") {
            let close = rest.find(']').ok_or_else(invalid)?;
            let key = unquote(&rest[..close]).ok_or_else(invalid)?;
            let value = rest[close + 1..].strip_prefix(':').ok_or_else(invalid)?;
            clauses.push(Clause::MetadataEquals(
                key,
                unquote(value).ok_or_else(invalid)?,
            ));
        } else if let Some(i) = part.find([':', '~']) {
            let field = part[..i].trim().to_string();
            let value = unquote(&part[i + 1..]).ok_or_else(invalid)?;
            if !["email", "name", "phone", "created"].contains(&field.as_str()) {
                return Err(invalid());
            }
            clauses.push(if part.as_bytes()[i] == b':' {
                Clause::Equals(field, value)
            } else {
                Clause::Contains(field, value)
            });
        } else {
            return Err(invalid());
        }
    }
    Ok(clauses)
}

fn field<'a>(c: &'a Customer, name: &str) -> Option<&'a str> {
    match name {
        "email" => c.email.as_deref(),
        "name" => c.name.as_deref(),
        "phone" => c.phone.as_deref(),
        _ => None,
    }
}

/// `GET /v1/customers/search?query=...` (`page` is the opaque cursor from `next_page`). Unlike
/// Stripe, whose search index lags by up to a minute, results are immediate.
pub fn search(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&["query", "limit", "page"])?;
    let clauses = parse_query(p.required("query")?)?;
    let limit = match p.int("limit")? {
        None => 10,
        Some(l) if (1..=100).contains(&l) => l as usize,
        Some(_) => {
            return Err(ApiError::invalid_param(
                "limit",
                "limit must be between 1 and 100",
            ));
        }
    };
    let offset = match p.non_empty("page")? {
        None => 0,
        Some(page) => page
            .strip_prefix("page_")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ApiError::invalid_param("page", "Invalid page cursor"))?,
    };
    let matches = |c: &Customer| {
        !c.deleted
            && clauses.iter().all(|clause| match clause {
                Clause::Equals(f, v) if f == "created" => c.created.to_string() == *v,
                Clause::Equals(f, v) => field(c, f).is_some_and(|x| x.eq_ignore_ascii_case(v)),
                Clause::Contains(f, v) => {
                    field(c, f).is_some_and(|x| x.to_lowercase().contains(&v.to_lowercase()))
                }
                Clause::MetadataEquals(k, v) => c.metadata.get(k) == Some(v),
            })
    };
    let mut found: Vec<&Customer> = st.customers.iter().filter(|c| matches(c)).collect();
    // Newest first, like lists.
    found.sort_by_key(|c| std::cmp::Reverse((c.created, st.customers.seq(&c.id))));
    let total = found.len();
    let data: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(limit)
        .map(|c| c.render(st))
        .collect();
    let has_more = offset + limit < total;
    Ok(json!({
        "object": "search_result",
        "data": data,
        "has_more": has_more,
        "next_page": if has_more { json!(format!("page_{}", offset + limit)) } else { Value::Null },
        "total_count": total,
        "url": "/v1/customers/search",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_metadata_query() {
        assert_eq!(
            parse_query("metadata['crm_customer_id']:'X-1' AND email:'a@b.c'").unwrap(),
            vec![
                Clause::MetadataEquals("crm_customer_id".into(), "X-1".into()),
                Clause::Equals("email".into(), "a@b.c".into()),
            ]
        );
        assert!(parse_query("nonsense").is_err());
    }
}
