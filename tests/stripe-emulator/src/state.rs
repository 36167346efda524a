//! The emulator's in-memory state: one store per resource, ids, list pagination, `expand[]`, and
//! events. Everything lives behind one mutex held only for the (synchronous, cheap) execution of a
//! request.

use std::collections::HashMap;

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::form::{Param, Params, nested_str};
use crate::idempotency::IdempotencyStore;
use crate::resources::{
    balance::BalanceTransaction, charges::Charge, customers::Customer, disputes::Dispute,
    invoices::Invoice, invoices::InvoiceItem, invoices::InvoicePayment,
    payment_intents::PaymentIntent, payment_methods::PaymentMethod, refunds::Refund,
    setup_intents::SetupIntent,
};
use crate::webhooks::WebhookRegistry;
use emulator_support::Clock;

/// The Stripe API version the emulator speaks (answered when the client sends none).
pub const API_VERSION: &str = "2025-03-31.basil";

/// A new random id with Stripe's prefix, e.g. `cus_...`.
pub fn new_id(prefix: &str) -> String {
    let mut id = String::with_capacity(prefix.len() + 25);
    id.push_str(prefix);
    id.push('_');
    id.extend(
        rand::rng()
            .sample_iter(&Alphanumeric)
            .take(24)
            .map(char::from),
    );
    id
}

/// A stored API object.
pub trait Object: Serialize {
    /// The name used in "No such customer: 'cus_x'".
    const NAME: &'static str;
    /// Its id.
    fn id(&self) -> &str;
    /// Its creation time.
    fn created(&self) -> i64;
    /// Its JSON representation; derived fields (statuses that depend on the clock, nested lists)
    /// are filled in here.
    fn render(&self, _state: &State) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A collection of objects of one kind, each with the sequence number that breaks ties between
/// objects created in the same second.
#[derive(Debug)]
pub struct Store<T> {
    items: HashMap<String, (u64, T)>,
}

impl<T> Default for Store<T> {
    fn default() -> Self {
        Store {
            items: HashMap::new(),
        }
    }
}

/// Pagination and `created` filter of a list request.
#[derive(Debug, Default, Clone)]
pub struct Page {
    /// 1..=100, default 10.
    pub limit: usize,
    /// Cursor: objects older than this one.
    pub starting_after: Option<String>,
    /// Cursor: objects newer than this one.
    pub ending_before: Option<String>,
    /// `created` range, inclusive bounds.
    pub created: Option<(i64, i64)>,
}

impl Page {
    /// Reads `limit`, `starting_after`, `ending_before` and `created[...]`.
    pub fn parse(params: &Params) -> Result<Page, ApiError> {
        let limit = match params.int("limit")? {
            None => 10,
            Some(l) if (1..=100).contains(&l) => l as usize,
            Some(_) => {
                return Err(ApiError::invalid_param(
                    "limit",
                    "This value must be greater than or equal to 1 and less than or equal to 100.",
                ));
            }
        };
        let starting_after = params.non_empty("starting_after")?.map(str::to_string);
        let ending_before = params.non_empty("ending_before")?.map(str::to_string);
        if starting_after.is_some() && ending_before.is_some() {
            return Err(ApiError::invalid_param(
                "ending_before",
                "You may only specify one of these parameters: ending_before, starting_after.",
            ));
        }
        Ok(Page {
            limit,
            starting_after,
            ending_before,
            created: range_filter(params, "created")?,
        })
    }
}

/// Reads a range filter: `created=N` (exact) or `created[gt|gte|lt|lte]=N`.
pub fn range_filter(params: &Params, key: &str) -> Result<Option<(i64, i64)>, ApiError> {
    let parse = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| ApiError::invalid_param(key, format!("Invalid integer: {s}")))
    };
    match params.get(key) {
        None => Ok(None),
        Some(Param::Str(s)) if s.is_empty() => Ok(None),
        Some(Param::Str(s)) => {
            let v = parse(s)?;
            Ok(Some((v, v)))
        }
        Some(Param::Map(m)) => {
            let (mut low, mut high) = (i64::MIN, i64::MAX);
            for (op, _) in m.iter() {
                let value = parse(nested_str(m, op).unwrap_or(""))?;
                match op.as_str() {
                    "gt" => low = low.max(value.saturating_add(1)),
                    "gte" => low = low.max(value),
                    "lt" => high = high.min(value.saturating_sub(1)),
                    "lte" => high = high.min(value),
                    other => {
                        return Err(ApiError::invalid_param(
                            key,
                            format!("Received unknown parameter: {key}[{other}]"),
                        ));
                    }
                }
            }
            Ok(Some((low, high)))
        }
        Some(Param::List(_)) => Err(ApiError::invalid_param(key, format!("Invalid {key}"))),
    }
}

impl<T: Object> Store<T> {
    /// The object with this id.
    pub fn get(&self, id: &str) -> Option<&T> {
        self.items.get(id).map(|(_, t)| t)
    }

    /// The object with this id, mutable.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        self.items.get_mut(id).map(|(_, t)| t)
    }

    /// The object, or Stripe's 404 naming `param`.
    pub fn find(&self, id: &str, param: &str) -> Result<&T, ApiError> {
        self.get(id)
            .ok_or_else(|| ApiError::missing(T::NAME, id, param))
    }

    /// The object mutably, or Stripe's 404 naming `param`.
    pub fn find_mut(&mut self, id: &str, param: &str) -> Result<&mut T, ApiError> {
        self.get_mut(id)
            .ok_or_else(|| ApiError::missing(T::NAME, id, param))
    }

    /// Stores an object.
    pub fn insert(&mut self, seq: u64, object: T) {
        self.items.insert(object.id().to_string(), (seq, object));
    }

    /// Removes an object.
    pub fn remove(&mut self, id: &str) -> Option<T> {
        self.items.remove(id).map(|(_, t)| t)
    }

    /// The creation sequence number of an object (0 if unknown): orders objects made in the
    /// same second.
    pub fn seq(&self, id: &str) -> u64 {
        self.items.get(id).map_or(0, |(seq, _)| *seq)
    }

    /// Every object, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.values().map(|(_, t)| t)
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn key(&self, id: &str, param: &str) -> Result<(i64, u64), ApiError> {
        let (seq, t) = self
            .items
            .get(id)
            .ok_or_else(|| ApiError::missing(T::NAME, id, param).with_status(400))?;
        Ok((t.created(), *seq))
    }

    /// One page of the objects that pass `filter`, newest first (ties broken by creation order),
    /// and whether more remain in the direction of travel.
    pub fn page(
        &self,
        page: &Page,
        filter: impl Fn(&T) -> bool,
    ) -> Result<(Vec<&T>, bool), ApiError> {
        let after = match &page.starting_after {
            Some(id) => Some(self.key(id, "starting_after")?),
            None => None,
        };
        let before = match &page.ending_before {
            Some(id) => Some(self.key(id, "ending_before")?),
            None => None,
        };
        let mut matching: Vec<((i64, u64), &T)> = self
            .items
            .values()
            .filter(|(_, t)| {
                page.created
                    .is_none_or(|(low, high)| (low..=high).contains(&t.created()))
            })
            .map(|(seq, t)| ((t.created(), *seq), t))
            .filter(|(key, _)| after.is_none_or(|a| *key < a) && before.is_none_or(|b| *key > b))
            .filter(|(_, t)| filter(t))
            .collect();
        if before.is_some() {
            // Walk towards newer objects from the cursor, then present them newest first.
            matching.sort_unstable_by_key(|(key, _)| *key);
            let has_more = matching.len() > page.limit;
            matching.truncate(page.limit);
            matching.reverse();
            Ok((matching.into_iter().map(|(_, t)| t).collect(), has_more))
        } else {
            matching.sort_unstable_by(|(a, _), (b, _)| b.cmp(a));
            let has_more = matching.len() > page.limit;
            matching.truncate(page.limit);
            Ok((matching.into_iter().map(|(_, t)| t).collect(), has_more))
        }
    }
}

impl ApiError {
    /// Changes the status (cursor errors are 400s, not 404s).
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
}

/// Who made the request being executed (recorded in events).
#[derive(Debug, Default, Clone)]
pub struct RequestInfo {
    /// `req_...`
    pub id: String,
    /// The request's idempotency key.
    pub idempotency_key: Option<String>,
    /// The base URL the client used (for hosted invoice and authentication URLs).
    pub base_url: String,
}

/// A stored event (rendered once, when it happened).
#[derive(Debug, Serialize)]
pub struct Event {
    /// `evt_...`
    pub id: String,
    /// When it happened.
    pub created: i64,
    /// The event type.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip)]
    body: Value,
}

impl Object for Event {
    const NAME: &'static str = "event";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
    fn render(&self, _state: &State) -> Value {
        self.body.clone()
    }
}

/// All the emulator's state.
#[derive(Debug)]
pub struct State {
    /// The clock.
    pub clock: Clock,
    /// The time of the request being executed (read once per request).
    pub now: i64,
    /// The request being executed.
    pub request: RequestInfo,
    seq: u64,
    invoice_numbers: u64,
    /// `cus_`
    pub customers: Store<Customer>,
    /// `pm_`
    pub payment_methods: Store<PaymentMethod>,
    /// `seti_`
    pub setup_intents: Store<SetupIntent>,
    /// `pi_`
    pub payment_intents: Store<PaymentIntent>,
    /// `ch_`
    pub charges: Store<Charge>,
    /// `re_`
    pub refunds: Store<Refund>,
    /// `in_`
    pub invoices: Store<Invoice>,
    /// `ii_`
    pub invoice_items: Store<InvoiceItem>,
    /// `inpay_`
    pub invoice_payments: Store<InvoicePayment>,
    /// `txn_`
    pub balance_transactions: Store<BalanceTransaction>,
    /// `du_`
    pub disputes: Store<Dispute>,
    /// `evt_`
    pub events: Store<Event>,
    /// Saved idempotent results.
    pub idempotency: IdempotencyStore,
    /// Webhook endpoints and the delivery queue.
    pub webhooks: WebhookRegistry,
    /// Whether `GET /v1/customers/search` exists (Stripe's search is missing on some accounts
    /// and regions, and from simpler test doubles).
    pub customer_search: bool,
    /// Settlement delays of refunds and captures.
    pub(crate) delays: crate::delays::DelayConfig,
    /// Settlements the request being executed queued (spawned once the lock is released).
    pub(crate) scheduled: Vec<crate::delays::Scheduled>,
}

impl State {
    /// Empty state.
    pub fn new(clock: Clock, webhooks: WebhookRegistry) -> State {
        let now = clock.now();
        State {
            clock,
            now,
            request: RequestInfo::default(),
            seq: 0,
            invoice_numbers: 0,
            customers: Store::default(),
            payment_methods: Store::default(),
            setup_intents: Store::default(),
            payment_intents: Store::default(),
            charges: Store::default(),
            refunds: Store::default(),
            invoices: Store::default(),
            invoice_items: Store::default(),
            invoice_payments: Store::default(),
            balance_transactions: Store::default(),
            disputes: Store::default(),
            events: Store::default(),
            idempotency: IdempotencyStore::default(),
            webhooks,
            customer_search: true,
            delays: Default::default(),
            scheduled: Vec::new(),
        }
    }

    /// The next creation sequence number.
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// The next invoice number suffix.
    pub fn next_invoice_number(&mut self) -> u64 {
        self.invoice_numbers += 1;
        self.invoice_numbers
    }

    /// Renders any stored object by its id prefix.
    pub fn render_id(&self, id: &str) -> Option<Value> {
        let prefix = id.split('_').next().unwrap_or("");
        match prefix {
            "cus" => self.customers.get(id).map(|o| o.render(self)),
            "pm" => self.payment_methods.get(id).map(|o| o.render(self)),
            "seti" => self.setup_intents.get(id).map(|o| o.render(self)),
            "pi" => self.payment_intents.get(id).map(|o| o.render(self)),
            "ch" => self.charges.get(id).map(|o| o.render(self)),
            "re" => self.refunds.get(id).map(|o| o.render(self)),
            "in" => self.invoices.get(id).map(|o| o.render(self)),
            "ii" => self.invoice_items.get(id).map(|o| o.render(self)),
            "inpay" => self.invoice_payments.get(id).map(|o| o.render(self)),
            "txn" => self.balance_transactions.get(id).map(|o| o.render(self)),
            "du" => self.disputes.get(id).map(|o| o.render(self)),
            "evt" => self.events.get(id).map(|o| o.render(self)),
            _ => None,
        }
    }

    /// Renders a list response.
    pub fn render_list<T: Object>(&self, url: &str, items: &[&T], has_more: bool) -> Value {
        let data: Vec<Value> = items.iter().map(|o| o.render(self)).collect();
        json!({ "object": "list", "url": url, "has_more": has_more, "data": data })
    }

    /// Applies `expand[]` paths to a response (`data.` prefixes for lists).
    pub fn expand(&self, value: &mut Value, paths: &[String]) {
        for path in paths {
            let segments: Vec<&str> = path.split('.').collect();
            self.expand_path(value, &segments, 0);
        }
    }

    fn expand_path(&self, value: &mut Value, segments: &[&str], depth: usize) {
        if depth > 4 {
            return;
        }
        let Some((first, rest)) = segments.split_first() else {
            return;
        };
        let Some(field) = value.get_mut(*first) else {
            return;
        };
        match field {
            Value::String(id) => {
                if let Some(rendered) = self.render_id(id) {
                    *field = rendered;
                }
            }
            Value::Array(items) => {
                for item in items.iter_mut() {
                    if rest.is_empty() {
                        if let Value::String(id) = item
                            && let Some(rendered) = self.render_id(id)
                        {
                            *item = rendered;
                        }
                    } else {
                        self.expand_path(item, rest, depth + 1);
                    }
                }
                return;
            }
            _ => {}
        }
        if !rest.is_empty() {
            self.expand_path(field, rest, depth + 1);
        }
    }

    /// Records an event and queues it for the webhook endpoints.
    pub fn emit(&mut self, kind: &str, object: Value) {
        let id = new_id("evt");
        let created = self.now;
        let pending = self.webhooks.matching(kind);
        let body = json!({
            "id": id,
            "object": "event",
            "api_version": API_VERSION,
            "created": created,
            "data": { "object": object },
            "livemode": false,
            "pending_webhooks": pending,
            "request": {
                "id": if self.request.id.is_empty() { Value::Null } else { json!(self.request.id) },
                "idempotency_key": self.request.idempotency_key,
            },
            "type": kind,
        });
        if pending > 0 {
            self.webhooks.deliver(kind, &body);
        }
        let seq = self.next_seq();
        self.events.insert(
            seq,
            Event {
                id,
                created,
                kind: kind.to_string(),
                body,
            },
        );
    }

    /// Renders an object by id and emits an event with it.
    pub fn emit_for(&mut self, kind: &str, id: &str) {
        if let Some(object) = self.render_id(id) {
            self.emit(kind, object);
        }
    }
}

/// Applies Stripe's metadata update rules: `metadata=` clears all, `metadata[k]=` removes one key.
pub fn update_metadata(
    metadata: &mut std::collections::BTreeMap<String, String>,
    params: &Params,
) -> Result<(), ApiError> {
    match params.get("metadata") {
        None => Ok(()),
        Some(Param::Str(s)) if s.is_empty() => {
            metadata.clear();
            Ok(())
        }
        Some(Param::Map(m)) => {
            for (k, v) in m {
                let Param::Str(v) = v else {
                    return Err(ApiError::invalid_param(
                        "metadata",
                        "Invalid metadata: values must be strings",
                    ));
                };
                if k.len() > 40 {
                    return Err(ApiError::invalid_param(
                        "metadata",
                        "Metadata keys can have a maximum length of 40 characters.",
                    ));
                }
                if v.len() > 500 {
                    return Err(ApiError::invalid_param(
                        "metadata",
                        "Metadata values can have a maximum length of 500 characters.",
                    ));
                }
                if v.is_empty() {
                    metadata.remove(k);
                } else {
                    metadata.insert(k.clone(), v.clone());
                }
            }
            if metadata.len() > 50 {
                return Err(ApiError::invalid_param(
                    "metadata",
                    "You can have up to 50 metadata keys.",
                ));
            }
            Ok(())
        }
        Some(_) => Err(ApiError::invalid_param("metadata", "Invalid metadata")),
    }
}

/// Checks a currency parameter and returns it lower-case.
pub fn currency_param(params: &Params, key: &str) -> Result<Option<String>, ApiError> {
    match params.non_empty(key)? {
        None => Ok(None),
        Some(c) => crate::fees::normalize_currency(c)
            .map(Some)
            .ok_or_else(|| ApiError::invalid_param(key, format!("Invalid currency: {c}"))),
    }
}
