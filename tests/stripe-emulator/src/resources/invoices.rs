//! Invoices, invoice items and invoice payments: draft -> finalize (number, hosted URL, PDF) ->
//! pay (a card decline leaves it open with a 402) / void / mark uncollectible; drafts can be
//! deleted. Follows API version 2025-03-31.basil: the invoice's payment intent is found through
//! `GET /v1/invoice_payments?invoice=in_...`, not on the invoice.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::form::Params;
use crate::state::{Object, Page, State, currency_param, new_id, range_filter, update_metadata};

/// An invoice.
#[derive(Debug, Clone, Serialize)]
pub struct Invoice {
    /// `in_...`
    pub id: String,
    /// `invoice`
    pub object: &'static str,
    /// Amount paid.
    pub amount_paid: i64,
    /// Payment attempts.
    pub attempt_count: u32,
    /// Whether a payment was attempted.
    pub attempted: bool,
    /// Whether Stripe would advance it automatically (informational here).
    pub auto_advance: bool,
    /// `manual`
    pub billing_reason: &'static str,
    /// `charge_automatically` or `send_invoice`.
    pub collection_method: String,
    /// Creation time.
    pub created: i64,
    /// Currency.
    pub currency: String,
    /// Customer.
    pub customer: String,
    /// Customer e-mail.
    pub customer_email: Option<String>,
    /// Customer name.
    pub customer_name: Option<String>,
    /// Payment method to charge instead of the customer's default.
    pub default_payment_method: Option<String>,
    /// Memo.
    pub description: Option<String>,
    /// Due date (send_invoice).
    pub due_date: Option<i64>,
    /// When it took effect (finalized).
    pub effective_at: Option<i64>,
    /// Hosted page, once finalized.
    pub hosted_invoice_url: Option<String>,
    /// PDF, once finalized.
    pub invoice_pdf: Option<String>,
    /// Always false.
    pub livemode: bool,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
    /// Number, once finalized.
    pub number: Option<String>,
    /// Period start.
    pub period_start: i64,
    /// Period end.
    pub period_end: i64,
    /// draft / open / paid / uncollectible / void
    pub status: &'static str,
    /// When each status was reached.
    pub status_transitions: StatusTransitions,
    /// Days until due (send_invoice).
    #[serde(skip)]
    pub days_until_due: Option<i64>,
    /// The payment intent of the payment attempts.
    #[serde(skip)]
    pub payment_intent: Option<String>,
}

/// `status_transitions` of an invoice.
#[derive(Debug, Clone, Serialize, Default)]
pub struct StatusTransitions {
    /// Finalized at.
    pub finalized_at: Option<i64>,
    /// Marked uncollectible at.
    pub marked_uncollectible_at: Option<i64>,
    /// Paid at.
    pub paid_at: Option<i64>,
    /// Voided at.
    pub voided_at: Option<i64>,
}

impl Object for Invoice {
    const NAME: &'static str = "invoice";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
    fn render(&self, state: &State) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        let lines = lines_of(state, &self.id);
        let total: i64 = lines.iter().map(|i| i.amount).sum();
        let due = if self.status == "void" {
            0
        } else {
            total.max(0)
        };
        let data: Vec<Value> = lines.iter().map(|i| i.as_line()).collect();
        v["subtotal"] = json!(total);
        v["subtotal_excluding_tax"] = json!(total);
        v["total"] = json!(total);
        v["total_excluding_tax"] = json!(total);
        v["amount_due"] = json!(due);
        v["amount_remaining"] = json!((due - self.amount_paid).max(0));
        v["amount_overpaid"] = json!(0);
        v["starting_balance"] = json!(0);
        v["ending_balance"] = if self.status == "draft" {
            Value::Null
        } else {
            json!(0)
        };
        v["lines"] = json!({
            "object": "list",
            "data": data,
            "has_more": false,
            "total_count": lines.len(),
            "url": format!("/v1/invoices/{}/lines", self.id),
        });
        v
    }
}

/// An invoice item.
#[derive(Debug, Clone, Serialize)]
pub struct InvoiceItem {
    /// `ii_...`
    pub id: String,
    /// `invoiceitem`
    pub object: &'static str,
    /// Amount (unit amount times quantity).
    pub amount: i64,
    /// Currency.
    pub currency: String,
    /// Customer.
    pub customer: String,
    /// Creation time.
    pub date: i64,
    /// Description.
    pub description: Option<String>,
    /// Always true.
    pub discountable: bool,
    /// The invoice, or null while pending.
    pub invoice: Option<String>,
    /// Always false.
    pub livemode: bool,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
    /// Service period.
    pub period: Value,
    /// Always false.
    pub proration: bool,
    /// Quantity.
    pub quantity: i64,
    /// Unit amount as a decimal string.
    pub unit_amount_decimal: String,
}

impl Object for InvoiceItem {
    const NAME: &'static str = "invoiceitem";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.date
    }
}

impl InvoiceItem {
    /// The invoice line made from this item.
    fn as_line(&self) -> Value {
        json!({
            "id": format!("il_{}", &self.id[3..]),
            "object": "line_item",
            "amount": self.amount,
            "currency": self.currency,
            "description": self.description,
            "discountable": true,
            "invoice": self.invoice,
            "livemode": false,
            "metadata": self.metadata,
            "parent": {
                "type": "invoice_item_details",
                "invoice_item_details": { "invoice_item": self.id, "proration": false },
                "subscription_item_details": null,
            },
            "period": self.period,
            "pricing": { "type": null, "unit_amount_decimal": self.unit_amount_decimal },
            "quantity": self.quantity,
        })
    }
}

/// A payment (attempt) of an invoice.
#[derive(Debug, Clone, Serialize)]
pub struct InvoicePayment {
    /// `inpay_...`
    pub id: String,
    /// `invoice_payment`
    pub object: &'static str,
    /// Amount paid.
    pub amount_paid: Option<i64>,
    /// Amount asked for.
    pub amount_requested: i64,
    /// Creation time.
    pub created: i64,
    /// Currency.
    pub currency: String,
    /// The invoice.
    pub invoice: String,
    /// Whether this is the invoice's current payment.
    pub is_default: bool,
    /// Always false.
    pub livemode: bool,
    /// `{type: payment_intent, payment_intent}`.
    pub payment: Value,
    /// open / paid / canceled
    pub status: &'static str,
    /// Paid / canceled times.
    pub status_transitions: Value,
}

impl Object for InvoicePayment {
    const NAME: &'static str = "invoice_payment";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
}

fn lines_of<'a>(st: &'a State, invoice: &str) -> Vec<&'a InvoiceItem> {
    let mut items: Vec<&InvoiceItem> = st
        .invoice_items
        .iter()
        .filter(|i| i.invoice.as_deref() == Some(invoice))
        .collect();
    items.sort_by_key(|i| (i.date, st.invoice_items.seq(&i.id)));
    items
}

fn total_of(st: &State, invoice: &str) -> i64 {
    lines_of(st, invoice).iter().map(|i| i.amount).sum()
}

fn not_editable(inv: &Invoice, action: &str) -> ApiError {
    ApiError::invalid_state(
        "invoice_not_editable",
        format!(
            "You can only {action} an invoice whose status allows it; {} has status {}.",
            inv.id, inv.status
        ),
    )
}

/// `POST /v1/invoices`
pub fn create(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "customer",
        "currency",
        "collection_method",
        "days_until_due",
        "due_date",
        "description",
        "metadata",
        "auto_advance",
        "default_payment_method",
        "pending_invoice_items_behavior",
        "footer",
        "custom_fields",
        "statement_descriptor",
        "payment_settings",
        "automatic_tax",
    ])?;
    let customer_id = p.required("customer")?.to_string();
    let collection_method = p
        .non_empty("collection_method")?
        .unwrap_or("charge_automatically")
        .to_string();
    if collection_method != "charge_automatically" && collection_method != "send_invoice" {
        return Err(ApiError::invalid_param(
            "collection_method",
            "Invalid collection_method: must be one of charge_automatically or send_invoice",
        ));
    }
    let days_until_due = p.int("days_until_due")?;
    let due_date = p.int("due_date")?;
    if collection_method == "send_invoice" && days_until_due.is_none() && due_date.is_none() {
        return Err(ApiError::invalid_param(
            "days_until_due",
            "Invoices with `collection_method=send_invoice` must have either `days_until_due` or `due_date` set.",
        ));
    }
    if collection_method == "charge_automatically"
        && (days_until_due.is_some() || due_date.is_some())
    {
        return Err(ApiError::invalid_param(
            "days_until_due",
            "Invoices with `collection_method=charge_automatically` cannot have `days_until_due` or `due_date` set.",
        ));
    }
    let include_pending = match p.non_empty("pending_invoice_items_behavior")? {
        None | Some("exclude") => false,
        Some("include") => true,
        Some(_) => {
            return Err(ApiError::invalid_param(
                "pending_invoice_items_behavior",
                "Invalid pending_invoice_items_behavior: must be one of exclude or include",
            ));
        }
    };
    let mut metadata = BTreeMap::new();
    update_metadata(&mut metadata, p)?;
    let currency = currency_param(p, "currency")?;
    let customer = super::customers::find(st, &customer_id, "customer")?;
    let (email, name) = (customer.email.clone(), customer.name.clone());
    let currency = currency
        .or_else(|| customer.currency.clone())
        .unwrap_or_else(|| "usd".to_string());
    let default_payment_method = p.non_empty("default_payment_method")?.map(str::to_string);
    if let Some(pm) = &default_payment_method {
        st.payment_methods.find(pm, "default_payment_method")?;
    }
    let id = new_id("in");
    let invoice = Invoice {
        id: id.clone(),
        object: "invoice",
        amount_paid: 0,
        attempt_count: 0,
        attempted: false,
        auto_advance: p.bool("auto_advance")?.unwrap_or(false),
        billing_reason: "manual",
        collection_method,
        created: st.now,
        currency: currency.clone(),
        customer: customer_id.clone(),
        customer_email: email,
        customer_name: name,
        default_payment_method,
        description: p.non_empty("description")?.map(str::to_string),
        due_date,
        effective_at: None,
        hosted_invoice_url: None,
        invoice_pdf: None,
        livemode: false,
        metadata,
        number: None,
        period_start: st.now,
        period_end: st.now,
        status: "draft",
        status_transitions: StatusTransitions::default(),
        days_until_due,
        payment_intent: None,
    };
    let seq = st.next_seq();
    st.invoices.insert(seq, invoice);
    if include_pending {
        let pending: Vec<String> = st
            .invoice_items
            .iter()
            .filter(|i| i.invoice.is_none() && i.customer == customer_id && i.currency == currency)
            .map(|i| i.id.clone())
            .collect();
        for item in pending {
            if let Some(i) = st.invoice_items.get_mut(&item) {
                i.invoice = Some(id.clone());
            }
        }
    }
    st.emit_for("invoice.created", &id);
    Ok(st.render_id(&id).unwrap_or(Value::Null))
}

/// `GET /v1/invoices/{id}`
pub fn retrieve(st: &mut State, id: &str) -> Result<Value, ApiError> {
    Ok(st.invoices.find(id, "invoice")?.render(st))
}

/// `POST /v1/invoices/{id}` (metadata always; other fields on drafts).
pub fn update(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "description",
        "metadata",
        "default_payment_method",
        "days_until_due",
        "due_date",
        "auto_advance",
        "collection_method",
        "footer",
    ])?;
    let inv = st.invoices.find(id, "invoice")?;
    let mut metadata = inv.metadata.clone();
    update_metadata(&mut metadata, p)?;
    let touches_draft_fields = p
        .keys()
        .any(|k| k != "metadata" && k != "auto_advance" && k != "expand");
    if touches_draft_fields && inv.status != "draft" {
        return Err(not_editable(inv, "update"));
    }
    let description = p
        .str("description")?
        .map(|d| (!d.is_empty()).then(|| d.to_string()));
    let default_pm = p
        .str("default_payment_method")?
        .map(|d| (!d.is_empty()).then(|| d.to_string()));
    let days = p.int("days_until_due")?;
    let due = p.int("due_date")?;
    let auto_advance = p.bool("auto_advance")?;
    let inv = st.invoices.find_mut(id, "invoice")?;
    inv.metadata = metadata;
    if let Some(d) = description {
        inv.description = d;
    }
    if let Some(pm) = default_pm {
        inv.default_payment_method = pm;
    }
    if days.is_some() {
        inv.days_until_due = days;
    }
    if due.is_some() {
        inv.due_date = due;
    }
    if let Some(a) = auto_advance {
        inv.auto_advance = a;
    }
    st.emit_for("invoice.updated", id);
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

/// `POST /v1/invoices/{id}/finalize`
pub fn finalize(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&["auto_advance"])?;
    let inv = st.invoices.find(id, "invoice")?;
    if inv.status != "draft" {
        return Err(ApiError::invalid_state(
            "invoice_not_editable",
            format!(
                "This invoice is already finalized, you can't re-finalize a non-draft invoice ({}).",
                inv.id
            ),
        ));
    }
    finalize_now(st, id);
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

fn finalize_now(st: &mut State, id: &str) {
    let number_seq = st.next_invoice_number();
    let now = st.now;
    let base = st.request.base_url.clone();
    let total = total_of(st, id);
    let Some(inv) = st.invoices.get(id) else {
        return;
    };
    let prefix = st
        .customers
        .get(&inv.customer)
        .map(|c| c.invoice_prefix.clone())
        .unwrap_or_else(|| "EMULATOR".to_string());
    let Some(inv) = st.invoices.get_mut(id) else {
        return;
    };
    inv.status = "open";
    inv.number = Some(format!("{prefix}-{number_seq:04}"));
    inv.hosted_invoice_url = Some(format!("{base}/_emulator/invoices/{id}"));
    inv.invoice_pdf = Some(format!("{base}/_emulator/invoices/{id}/pdf"));
    inv.status_transitions.finalized_at = Some(now);
    inv.effective_at = Some(now);
    if inv.collection_method == "send_invoice" && inv.due_date.is_none() {
        inv.due_date = Some(now + inv.days_until_due.unwrap_or(30) * 86_400);
    }
    st.emit_for("invoice.finalized", id);
    if total <= 0 {
        mark_paid(st, id, 0);
    }
}

fn mark_paid(st: &mut State, id: &str, amount: i64) {
    let now = st.now;
    if let Some(inv) = st.invoices.get_mut(id) {
        inv.status = "paid";
        inv.amount_paid += amount;
        inv.status_transitions.paid_at = Some(now);
    }
    st.emit_for("invoice.paid", id);
    st.emit_for("invoice.payment_succeeded", id);
}

/// `POST /v1/invoices/{id}/pay` (`payment_method`, else the invoice's default, else the customer's
/// `invoice_settings.default_payment_method`; `paid_out_of_band`; `off_session` defaults to true).
pub fn pay(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "payment_method",
        "paid_out_of_band",
        "off_session",
        "forgive",
        "source",
        "mandate",
    ])?;
    let out_of_band = p.bool("paid_out_of_band")?.unwrap_or(false);
    let off_session = p.bool("off_session")?.unwrap_or(true);
    let inv = st.invoices.find(id, "invoice")?;
    if !["draft", "open", "uncollectible"].contains(&inv.status) {
        return Err(ApiError::invalid_state(
            "invoice_unexpected_state",
            format!(
                "Invoice {} is already {}; only open or uncollectible invoices can be paid.",
                inv.id, inv.status
            ),
        ));
    }
    if inv.status == "draft" {
        // Paying a draft finalizes it first, as Stripe does.
        finalize_now(st, id);
    }
    let inv = st.invoices.find(id, "invoice")?;
    if inv.status == "paid" {
        return Ok(st.render_id(id).unwrap_or(Value::Null));
    }
    let remaining = total_of(st, id).max(0) - inv.amount_paid;
    if out_of_band {
        mark_paid(st, id, 0);
        return Ok(st.render_id(id).unwrap_or(Value::Null));
    }
    let customer = inv.customer.clone();
    let currency = inv.currency.clone();
    let number = inv.number.clone().unwrap_or_default();
    let pm_param = match p.non_empty("payment_method")? {
        Some(pm) => Some(super::payment_methods::resolve(st, pm, "payment_method")?),
        None => None,
    };
    let inv = st.invoices.find(id, "invoice")?;
    let pm = pm_param
        .or_else(|| inv.default_payment_method.clone())
        .or_else(|| {
            st.customers
                .get(&customer)
                .and_then(|c| c.invoice_settings.default_payment_method.clone())
        });
    let Some(pm) = pm else {
        return Err(ApiError::invalid_state(
            "invoice_no_payment_method_types",
            "Cannot charge a customer that has no active card or default payment method. Pass a payment_method or set the customer's invoice_settings[default_payment_method].",
        ));
    };
    let existing = inv.payment_intent.clone().filter(|pi| {
        st.payment_intents.get(pi).is_some_and(|pi| {
            [
                "requires_payment_method",
                "requires_confirmation",
                "requires_action",
            ]
            .contains(&pi.status)
        })
    });
    let pi_id = match existing {
        Some(pi) => pi,
        None => {
            let pi_id = new_id("pi");
            let pi = super::payment_intents::PaymentIntent {
                id: pi_id.clone(),
                object: "payment_intent",
                amount: remaining,
                amount_capturable: 0,
                amount_received: 0,
                canceled_at: None,
                cancellation_reason: None,
                capture_method: "automatic".to_string(),
                client_secret: format!("{pi_id}_secret_{}", &new_id("s")[2..]),
                confirmation_method: "automatic".to_string(),
                created: st.now,
                currency: currency.clone(),
                customer: Some(customer.clone()),
                description: Some(format!("Payment for Invoice {number}")),
                last_payment_error: None,
                latest_charge: None,
                livemode: false,
                metadata: BTreeMap::new(),
                next_action: None,
                payment_method: None,
                payment_method_options: json!({"card": {"request_three_d_secure": "automatic"}}),
                payment_method_types: vec!["card".to_string()],
                processing: None,
                receipt_email: None,
                setup_future_usage: None,
                statement_descriptor: None,
                status: "requires_payment_method",
                return_url: None,
            };
            let seq = st.next_seq();
            st.payment_intents.insert(seq, pi);
            let inpay = new_id("inpay");
            let seq = st.next_seq();
            st.invoice_payments.insert(
                seq,
                InvoicePayment {
                    id: inpay,
                    object: "invoice_payment",
                    amount_paid: None,
                    amount_requested: remaining,
                    created: st.now,
                    currency: currency.clone(),
                    invoice: id.to_string(),
                    is_default: true,
                    livemode: false,
                    payment: json!({"type": "payment_intent", "payment_intent": pi_id}),
                    status: "open",
                    status_transitions: json!({"canceled_at": null, "paid_at": null}),
                },
            );
            if let Some(inv) = st.invoices.get_mut(id) {
                inv.payment_intent = Some(pi_id.clone());
            }
            pi_id
        }
    };
    if let Some(pi) = st.payment_intents.get_mut(&pi_id) {
        pi.payment_method = Some(pm);
    }
    if let Some(inv) = st.invoices.get_mut(id) {
        inv.attempt_count += 1;
        inv.attempted = true;
    }
    let result = super::payment_intents::confirm_intent(st, &pi_id, off_session);
    let status = st
        .payment_intents
        .get(&pi_id)
        .map(|pi| pi.status)
        .unwrap_or("");
    match result {
        Ok(()) if status == "succeeded" => {
            let now = st.now;
            for ip in st
                .invoice_payments
                .iter()
                .filter(|ip| ip.payment["payment_intent"] == pi_id)
                .map(|ip| ip.id.clone())
                .collect::<Vec<_>>()
            {
                if let Some(ip) = st.invoice_payments.get_mut(&ip) {
                    ip.status = "paid";
                    ip.amount_paid = Some(remaining);
                    ip.status_transitions["paid_at"] = json!(now);
                }
            }
            mark_paid(st, id, remaining);
            Ok(st.render_id(id).unwrap_or(Value::Null))
        }
        Ok(()) => {
            st.emit_for("invoice.payment_action_required", id);
            Err(ApiError::new(
                402,
                "card_error",
                "This payment requires additional user action before it can be completed successfully. Payment can be completed using the PaymentIntent associated with the invoice.",
            )
            .with_code("invoice_payment_intent_requires_action")
            .with_extra("payment_intent", st.render_id(&pi_id).unwrap_or(Value::Null)))
        }
        Err(e) => {
            st.emit_for("invoice.payment_failed", id);
            Err(e)
        }
    }
}

/// `POST /v1/invoices/{id}/void`
pub fn void(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&[])?;
    let inv = st.invoices.find(id, "invoice")?;
    if inv.status != "open" && inv.status != "uncollectible" {
        return Err(ApiError::invalid_state(
            "invoice_not_editable",
            format!(
                "You can only void an open or uncollectible invoice; {} is {}.",
                inv.id, inv.status
            ),
        ));
    }
    let now = st.now;
    let inv = st.invoices.find_mut(id, "invoice")?;
    inv.status = "void";
    inv.status_transitions.voided_at = Some(now);
    if let Some(pi) = inv.payment_intent.clone()
        && st
            .payment_intents
            .get(&pi)
            .is_some_and(|p| p.status != "succeeded" && p.status != "canceled")
        && let Some(pi) = st.payment_intents.get_mut(&pi)
    {
        pi.status = "canceled";
        pi.canceled_at = Some(now);
        pi.cancellation_reason = Some("void_invoice".to_string());
    }
    st.emit_for("invoice.voided", id);
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

/// `POST /v1/invoices/{id}/mark_uncollectible`
pub fn mark_uncollectible(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&[])?;
    let inv = st.invoices.find(id, "invoice")?;
    if inv.status != "open" {
        return Err(ApiError::invalid_state(
            "invoice_not_editable",
            format!(
                "You can only mark an open invoice as uncollectible; {} is {}.",
                inv.id, inv.status
            ),
        ));
    }
    let now = st.now;
    let inv = st.invoices.find_mut(id, "invoice")?;
    inv.status = "uncollectible";
    inv.status_transitions.marked_uncollectible_at = Some(now);
    st.emit_for("invoice.marked_uncollectible", id);
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

/// `DELETE /v1/invoices/{id}` (drafts only).
pub fn delete(st: &mut State, id: &str) -> Result<Value, ApiError> {
    let inv = st.invoices.find(id, "invoice")?;
    if inv.status != "draft" {
        return Err(ApiError::invalid_state(
            "invoice_not_editable",
            format!(
                "You can only delete draft invoices; {} is {}. Void it instead.",
                inv.id, inv.status
            ),
        ));
    }
    let object = inv.render(st);
    let items: Vec<String> = lines_of(st, id).iter().map(|i| i.id.clone()).collect();
    for item in items {
        st.invoice_items.remove(&item);
    }
    st.invoices.remove(id);
    st.emit("invoice.deleted", object);
    Ok(json!({ "id": id, "object": "invoice", "deleted": true }))
}

/// `GET /v1/invoices` (filters: `customer`, `status`, `collection_method`, `created`, `due_date`).
pub fn list(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "limit",
        "starting_after",
        "ending_before",
        "created",
        "customer",
        "status",
        "collection_method",
        "due_date",
        "subscription",
    ])?;
    let page = Page::parse(p)?;
    let customer = p.non_empty("customer")?;
    let status = p.non_empty("status")?;
    if let Some(s) = status
        && !["draft", "open", "paid", "uncollectible", "void"].contains(&s)
    {
        return Err(ApiError::invalid_param(
            "status",
            "Invalid status: must be one of draft, open, paid, uncollectible, or void",
        ));
    }
    let method = p.non_empty("collection_method")?;
    let due = range_filter(p, "due_date")?;
    let (items, has_more) = st.invoices.page(&page, |i| {
        customer.is_none_or(|c| i.customer == c)
            && status.is_none_or(|s| i.status == s)
            && method.is_none_or(|m| i.collection_method == m)
            && due.is_none_or(|(lo, hi)| i.due_date.is_some_and(|d| (lo..=hi).contains(&d)))
    })?;
    Ok(st.render_list("/v1/invoices", &items, has_more))
}

/// `GET /v1/invoices/{id}/lines`
pub fn lines(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&["limit", "starting_after", "ending_before"])?;
    st.invoices.find(id, "invoice")?;
    let data: Vec<Value> = lines_of(st, id).iter().map(|i| i.as_line()).collect();
    Ok(
        json!({"object": "list", "url": format!("/v1/invoices/{id}/lines"), "has_more": false, "data": data}),
    )
}

/// `POST /v1/invoiceitems` (`customer`; `invoice`; `amount`, or `unit_amount_decimal` /
/// `unit_amount` with `quantity`; `currency`; `description`; `metadata`).
pub fn create_item(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "customer",
        "invoice",
        "amount",
        "unit_amount",
        "unit_amount_decimal",
        "quantity",
        "currency",
        "description",
        "metadata",
        "period",
        "discountable",
        "tax_behavior",
        "price_data",
        "pricing",
    ])?;
    let customer = p.required("customer")?.to_string();
    let quantity = p.int("quantity")?.unwrap_or(1);
    if quantity < 0 {
        return Err(ApiError::invalid_param(
            "quantity",
            "This value must be greater than or equal to 0.",
        ));
    }
    let (amount, unit_decimal) = match (
        p.int("amount")?,
        p.non_empty("unit_amount_decimal")?,
        p.int("unit_amount")?,
    ) {
        (Some(a), None, None) => (
            a,
            if quantity > 0 {
                (a / quantity.max(1)).to_string()
            } else {
                "0".into()
            },
        ),
        (None, Some(d), None) => {
            let unit: f64 = d.parse().map_err(|_| {
                ApiError::invalid_param("unit_amount_decimal", format!("Invalid decimal: {d}"))
            })?;
            ((unit * quantity as f64).round() as i64, d.to_string())
        }
        (None, None, Some(u)) => (u * quantity, u.to_string()),
        (None, None, None) => return Err(ApiError::missing_param("amount")),
        _ => {
            return Err(ApiError::invalid_param(
                "amount",
                "You may only specify one of these parameters: amount, unit_amount, unit_amount_decimal.",
            ));
        }
    };
    let mut metadata = BTreeMap::new();
    update_metadata(&mut metadata, p)?;
    let currency = currency_param(p, "currency")?;
    super::customers::find(st, &customer, "customer")?;
    let invoice = p.non_empty("invoice")?.map(str::to_string);
    let currency = match &invoice {
        Some(inv_id) => {
            let inv = st.invoices.find(inv_id, "invoice")?;
            if inv.customer != customer {
                return Err(ApiError::invalid_state(
                    "invoice_not_editable",
                    format!("Invoice {inv_id} belongs to another customer."),
                )
                .with_param("invoice"));
            }
            if inv.status != "draft" {
                return Err(not_editable(inv, "add items to").with_param("invoice"));
            }
            if let Some(c) = &currency
                && *c != inv.currency
            {
                return Err(ApiError::invalid_state(
                    "invoice_currency_mismatch",
                    format!("The currency of the invoice item ({c}) must match the invoice's currency ({}).", inv.currency),
                )
                .with_param("currency"));
            }
            inv.currency.clone()
        }
        None => currency.ok_or_else(|| ApiError::missing_param("currency"))?,
    };
    let id = new_id("ii");
    let item = InvoiceItem {
        id: id.clone(),
        object: "invoiceitem",
        amount,
        currency,
        customer,
        date: st.now,
        description: p.non_empty("description")?.map(str::to_string),
        discountable: true,
        invoice,
        livemode: false,
        metadata,
        period: json!({"end": st.now, "start": st.now}),
        proration: false,
        quantity,
        unit_amount_decimal: unit_decimal,
    };
    let seq = st.next_seq();
    st.invoice_items.insert(seq, item);
    st.emit_for("invoiceitem.created", &id);
    Ok(st.render_id(&id).unwrap_or(Value::Null))
}

/// `GET /v1/invoiceitems/{id}`
pub fn retrieve_item(st: &mut State, id: &str) -> Result<Value, ApiError> {
    Ok(st.invoice_items.find(id, "id")?.render(st))
}

/// `DELETE /v1/invoiceitems/{id}` (only while pending or on a draft).
pub fn delete_item(st: &mut State, id: &str) -> Result<Value, ApiError> {
    let item = st.invoice_items.find(id, "id")?;
    if let Some(inv) = item.invoice.as_deref().and_then(|i| st.invoices.get(i))
        && inv.status != "draft"
    {
        return Err(not_editable(inv, "delete items of"));
    }
    st.invoice_items.remove(id);
    Ok(json!({"id": id, "object": "invoiceitem", "deleted": true}))
}

/// `GET /v1/invoiceitems` (filters: `customer`, `invoice`, `pending`, `created`).
pub fn list_items(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "limit",
        "starting_after",
        "ending_before",
        "created",
        "customer",
        "invoice",
        "pending",
    ])?;
    let page = Page::parse(p)?;
    let customer = p.non_empty("customer")?;
    let invoice = p.non_empty("invoice")?;
    let pending = p.bool("pending")?;
    let (items, has_more) = st.invoice_items.page(&page, |i| {
        customer.is_none_or(|c| i.customer == c)
            && invoice.is_none_or(|x| i.invoice.as_deref() == Some(x))
            && pending.is_none_or(|pend| i.invoice.is_none() == pend)
    })?;
    Ok(st.render_list("/v1/invoiceitems", &items, has_more))
}

/// `GET /v1/invoice_payments?invoice=in_...`
pub fn list_payments(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "limit",
        "starting_after",
        "ending_before",
        "invoice",
        "payment",
        "status",
        "created",
    ])?;
    let page = Page::parse(p)?;
    let invoice = p.non_empty("invoice")?;
    let status = p.non_empty("status")?;
    let (items, has_more) = st.invoice_payments.page(&page, |ip| {
        invoice.is_none_or(|i| ip.invoice == i) && status.is_none_or(|s| ip.status == s)
    })?;
    Ok(st.render_list("/v1/invoice_payments", &items, has_more))
}

/// `GET /v1/invoice_payments/{id}`
pub fn retrieve_payment(st: &mut State, id: &str) -> Result<Value, ApiError> {
    Ok(st.invoice_payments.find(id, "id")?.render(st))
}

/// A plain HTML page for `hosted_invoice_url` / `invoice_pdf` (served by the admin routes).
pub fn hosted_page(st: &State, id: &str) -> Option<String> {
    let inv = st.invoices.get(id)?;
    let lines: String = lines_of(st, id)
        .iter()
        .map(|i| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                html_escape(i.description.as_deref().unwrap_or("")),
                i.quantity,
                i.amount
            )
        })
        .collect();
    Some(format!(
        "<!doctype html><html><head><title>Invoice {num}</title></head><body><h1>Invoice {num}</h1><p>Status: {status}</p><p>Currency: {cur}</p><table>{lines}</table><p>Total: {total}</p></body></html>",
        num = html_escape(inv.number.as_deref().unwrap_or("draft")),
        status = inv.status,
        cur = inv.currency,
        total = total_of(st, id),
    ))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
