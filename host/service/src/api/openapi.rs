//! The OpenAPI 3.1 document served at `/openapi.json`, written by hand. Tests check that the
//! router's route table (`super::routes`) and the operations listed here are the same, and (over
//! HTTP) that every documented operation answers.

use serde_json::{Map, Value, json};

/// Every operation: method, path, summary, scope (none: public), request body fields
/// (name, JSON type, required, description), query parameters, success status.
pub struct Op {
    /// HTTP method (lower case).
    pub method: &'static str,
    /// Path template.
    pub path: &'static str,
    /// One line.
    pub summary: &'static str,
    /// `read`, `write` or none.
    pub scope: Option<&'static str>,
    /// Body fields.
    pub body: &'static [(&'static str, &'static str, bool, &'static str)],
    /// Query parameters.
    pub query: &'static [(&'static str, &'static str, &'static str)],
    /// Success status.
    pub ok: u16,
    /// Response schema name.
    pub response: &'static str,
}

const TIME: &str = "string";

/// The operations.
pub const OPS: &[Op] = &[
    Op {
        method: "get",
        path: "/health",
        summary: "Liveness: the ledger answers; the gateways configured",
        scope: None,
        body: &[],
        query: &[],
        ok: 200,
        response: "Health",
    },
    Op {
        method: "get",
        path: "/openapi.json",
        summary: "This document",
        scope: None,
        body: &[],
        query: &[],
        ok: 200,
        response: "Object",
    },
    Op {
        method: "post",
        path: "/webhooks/{gateway}",
        summary: "Gateway events, verified by the gateway's plugin; duplicates are acknowledged and ignored",
        scope: None,
        body: &[],
        query: &[],
        ok: 200,
        response: "WebhookAck",
    },
    Op {
        method: "get",
        path: "/v1/gateways",
        summary: "The loaded gateways, their plugin and contract versions",
        scope: Some("read"),
        body: &[],
        query: &[],
        ok: 200,
        response: "Gateways",
    },
    Op {
        method: "post",
        path: "/v1/customers",
        summary: "Link a CRM customer to a gateway customer (created there, or found)",
        scope: Some("write"),
        body: &[
            ("customer_id", "string", true, "The CRM's customer id"),
            (
                "gateway",
                "string",
                false,
                "Gateway name (default: the default gateway)",
            ),
            ("email", "string", false, "Contact e-mail"),
            ("name", "string", false, "Display name"),
            ("phone", "string", false, "Phone number"),
        ],
        query: &[],
        ok: 200,
        response: "CustomerLink",
    },
    Op {
        method: "get",
        path: "/v1/customers/{customer_id}",
        summary: "A customer's gateway links and cards",
        scope: Some("read"),
        body: &[],
        query: &[],
        ok: 200,
        response: "Customer",
    },
    Op {
        method: "post",
        path: "/v1/customers/{customer_id}/cards",
        summary: "Store a card from a client-side token (Stripe: pm_... or tok_...)",
        scope: Some("write"),
        body: &[
            ("token", "string", true, "The gateway's card token"),
            ("nickname", "string", false, "A name, e.g. Work Visa"),
            (
                "default",
                "boolean",
                false,
                "Make it the default card (the first card always is)",
            ),
            (
                "gateway",
                "string",
                false,
                "Gateway keeping the card (default: the customer's)",
            ),
        ],
        query: &[],
        ok: 201,
        response: "Card",
    },
    Op {
        method: "get",
        path: "/v1/customers/{customer_id}/cards",
        summary: "The customer's cards, default first",
        scope: Some("read"),
        body: &[],
        query: &[],
        ok: 200,
        response: "CardList",
    },
    Op {
        method: "post",
        path: "/v1/customers/{customer_id}/cards/{card_id}/default",
        summary: "Make a card the default",
        scope: Some("write"),
        body: &[],
        query: &[],
        ok: 200,
        response: "Card",
    },
    Op {
        method: "delete",
        path: "/v1/customers/{customer_id}/cards/{card_id}",
        summary: "Remove a card (at the gateway too)",
        scope: Some("write"),
        body: &[],
        query: &[],
        ok: 200,
        response: "Object",
    },
    Op {
        method: "get",
        path: "/v1/cards/expiring",
        summary: "Cards of every customer expiring within N days",
        scope: Some("read"),
        body: &[],
        query: &[("within_days", "integer", "Days ahead (default 60)")],
        ok: 200,
        response: "CardList",
    },
    Op {
        method: "post",
        path: "/v1/transactions",
        summary: "Record a transaction; a charge is charged at once to the default (or named) card unless charge=later",
        scope: Some("write"),
        body: &[
            ("customer_id", "string", true, "CRM customer"),
            (
                "amount",
                "integer",
                true,
                "Positive, in minor units (1050 = USD 10.50)",
            ),
            ("currency", "string", true, "ISO 4217, upper case"),
            (
                "description",
                "string",
                false,
                "Shown on receipts and invoices",
            ),
            ("kind", "string", false, "charge (default) or credit"),
            (
                "card_id",
                "integer",
                false,
                "Card to charge (default: the default card)",
            ),
            (
                "capture",
                "string",
                false,
                "automatic (default) or manual (authorize only)",
            ),
            (
                "charge",
                "string",
                false,
                "now (default) or later (a billing run or an invoice collects it)",
            ),
        ],
        query: &[],
        ok: 201,
        response: "Transaction",
    },
    Op {
        method: "get",
        path: "/v1/transactions",
        summary: "Transactions, newest first",
        scope: Some("read"),
        body: &[],
        query: &[
            ("customer_id", "string", "Only this customer's"),
            ("status", "string", "Comma-separated statuses"),
            ("invoiced", "boolean", "true or false"),
            ("kind", "string", "charge or credit"),
            (
                "from",
                TIME,
                "Created at or after (Unix seconds or YYYY-MM-DD)",
            ),
            ("to", TIME, "Created before"),
            ("limit", "integer", "1 to 1000 (default 100)"),
            (
                "before_id",
                "integer",
                "Page: ids below this (next_before_id)",
            ),
        ],
        ok: 200,
        response: "TransactionList",
    },
    Op {
        method: "get",
        path: "/v1/transactions/{id}",
        summary: "A transaction with its refunds and disputes",
        scope: Some("read"),
        body: &[],
        query: &[],
        ok: 200,
        response: "Transaction",
    },
    Op {
        method: "post",
        path: "/v1/transactions/{id}/capture",
        summary: "Capture an authorized transaction (all, or amount)",
        scope: Some("write"),
        body: &[(
            "amount",
            "integer",
            false,
            "Amount to capture (default: all)",
        )],
        query: &[],
        ok: 200,
        response: "Transaction",
    },
    Op {
        method: "post",
        path: "/v1/transactions/{id}/void",
        summary: "Void an authorization, or cancel a transaction not charged yet",
        scope: Some("write"),
        body: &[],
        query: &[],
        ok: 200,
        response: "Transaction",
    },
    Op {
        method: "post",
        path: "/v1/transactions/{id}/refunds",
        summary: "Refund a transaction in full or in part",
        scope: Some("write"),
        body: &[
            (
                "amount",
                "integer",
                false,
                "Minor units (default: what remains)",
            ),
            (
                "reason",
                "string",
                false,
                "duplicate, fraudulent or requested_by_customer",
            ),
        ],
        query: &[],
        ok: 201,
        response: "Refund",
    },
    Op {
        method: "post",
        path: "/v1/invoices",
        summary: "Invoice a customer's uninvoiced pending transactions in one currency",
        scope: Some("write"),
        body: &[
            ("customer_id", "string", true, "CRM customer"),
            ("currency", "string", true, "ISO 4217"),
            (
                "gateway",
                "string",
                false,
                "Gateway (default: the default card's)",
            ),
            ("description", "string", false, "Note on the invoice"),
            (
                "period_start",
                TIME,
                false,
                "Only transactions created at or after",
            ),
            (
                "period_end",
                TIME,
                false,
                "Only transactions created before",
            ),
            ("days_until_due", "integer", false, "Default 30"),
        ],
        query: &[],
        ok: 201,
        response: "Invoice",
    },
    Op {
        method: "get",
        path: "/v1/invoices",
        summary: "Invoices, newest first",
        scope: Some("read"),
        body: &[],
        query: &[
            ("customer_id", "string", "Only this customer's"),
            (
                "status",
                "string",
                "Comma-separated: draft, open, paid, void, uncollectible",
            ),
            ("limit", "integer", "1 to 1000"),
        ],
        ok: 200,
        response: "InvoiceList",
    },
    Op {
        method: "get",
        path: "/v1/invoices/{id}",
        summary: "An invoice with its lines",
        scope: Some("read"),
        body: &[],
        query: &[],
        ok: 200,
        response: "Invoice",
    },
    Op {
        method: "post",
        path: "/v1/invoices/{id}/finalize",
        summary: "Finalize a draft invoice (it gets the gateway's number and links)",
        scope: Some("write"),
        body: &[],
        query: &[],
        ok: 200,
        response: "Invoice",
    },
    Op {
        method: "post",
        path: "/v1/invoices/{id}/pay",
        summary: "Pay an invoice with a stored card (default: the default card)",
        scope: Some("write"),
        body: &[("card_id", "integer", false, "Card to pay with")],
        query: &[],
        ok: 200,
        response: "Invoice",
    },
    Op {
        method: "post",
        path: "/v1/invoices/{id}/void",
        summary: "Void an invoice (a draft is deleted at the gateway); its pending transactions become uninvoiced",
        scope: Some("write"),
        body: &[],
        query: &[],
        ok: 200,
        response: "Invoice",
    },
    Op {
        method: "get",
        path: "/v1/summary",
        summary: "Financial summary from the gateway: revenue, payments, refunds, fees, net, disputes, chargebacks",
        scope: Some("read"),
        body: &[],
        query: &[
            ("currency", "string", "ISO 4217 (required)"),
            ("from", TIME, "Start (default: 30 days before `to`)"),
            ("to", TIME, "End, exclusive (default: now)"),
            ("gateway", "string", "Gateway (default: the default)"),
        ],
        ok: 200,
        response: "Summary",
    },
    Op {
        method: "get",
        path: "/v1/disputes",
        summary: "Disputes (chargebacks) reported by webhooks",
        scope: Some("read"),
        body: &[],
        query: &[("transaction_id", "integer", "Only this transaction's")],
        ok: 200,
        response: "DisputeList",
    },
];

fn props(fields: &[(&str, &str)]) -> Value {
    let mut m = Map::new();
    for (name, ty) in fields {
        let v = match *ty {
            "string?" => json!({ "type": ["string", "null"] }),
            "integer?" => json!({ "type": ["integer", "null"] }),
            t if t.starts_with('#') => {
                json!({ "$ref": format!("#/components/schemas/{}", &t[1..]) })
            }
            t if t.starts_with('[') => {
                json!({ "type": "array", "items": { "$ref": format!("#/components/schemas/{}", &t[1..t.len() - 1]) } })
            }
            t => json!({ "type": t }),
        };
        m.insert(name.to_string(), v);
    }
    json!({ "type": "object", "properties": m })
}

fn schemas() -> Value {
    json!({
        "Object": { "type": "object" },
        "Error": {
            "type": "object",
            "properties": { "error": props(&[("code", "string"), ("field", "string?"), ("message", "string"), ("details", "object")]) },
        },
        "Health": props(&[("status", "string"), ("ledger", "string"), ("gateways", "array")]),
        "WebhookAck": props(&[("received", "boolean"), ("event", "string"), ("type", "string"), ("duplicate", "boolean"), ("action", "string")]),
        "Gateway": props(&[("name", "string"), ("display_name", "string"), ("version", "string"), ("contract_version", "string"), ("currencies", "array"), ("default", "boolean"), ("component", "string"), ("component_sha256", "string"), ("loaded_at", "integer"), ("generation", "integer"), ("max_concurrency", "integer"), ("requests_per_second", "number")]),
        "Gateways": props(&[("contract", "string"), ("default", "string?"), ("gateways", "[Gateway]")]),
        "CustomerLink": props(&[("customer_id", "string"), ("gateway", "string"), ("gateway_customer_ref", "string"), ("email", "string?"), ("name", "string?"), ("created_at_gateway", "boolean")]),
        "Customer": props(&[("customer_id", "string"), ("links", "array"), ("cards", "[Card]"), ("uninvoiced_pending", "integer")]),
        "Card": props(&[("id", "integer"), ("customer_id", "string"), ("gateway", "string"), ("gateway_card_ref", "string"), ("brand", "string"), ("last4", "string"), ("exp_month", "integer"), ("exp_year", "integer"), ("expiry", "string"), ("funding", "string"), ("nickname", "string?"), ("default", "boolean"), ("created_at", "string")]),
        "CardList": props(&[("cards", "[Card]"), ("within_days", "integer")]),
        "Transaction": props(&[("id", "integer"), ("customer_id", "string"), ("kind", "string"), ("status", "string"), ("amount", "integer"), ("currency", "string"), ("amount_display", "string"), ("amount_captured", "integer"), ("amount_refunded", "integer"), ("description", "string?"), ("capture", "string"), ("card_id", "integer?"), ("gateway", "string?"), ("gateway_payment_ref", "string?"), ("invoiced", "boolean"), ("invoice_id", "integer?"), ("idempotency_key", "string"), ("decline_code", "string?"), ("decline_reason", "string?"), ("last_error", "string?"), ("created_at", "string"), ("updated_at", "string"), ("refunds", "[Refund]"), ("disputes", "[Dispute]")]),
        "TransactionList": props(&[("transactions", "[Transaction]"), ("next_before_id", "integer?")]),
        "Refund": props(&[("id", "integer"), ("transaction_id", "integer"), ("amount", "integer"), ("currency", "string"), ("reason", "string?"), ("status", "string"), ("gateway_refund_ref", "string?"), ("last_error", "string?"), ("created_at", "string"), ("transaction", "#Transaction")]),
        "Invoice": props(&[("id", "integer"), ("number", "string"), ("customer_id", "string"), ("gateway", "string"), ("status", "string"), ("currency", "string"), ("period_start", "string"), ("period_end", "string"), ("due_date", "string?"), ("subtotal", "integer"), ("tax", "integer"), ("total", "integer"), ("amount_paid", "integer"), ("gateway_invoice_ref", "string?"), ("gateway_number", "string?"), ("hosted_url", "string?"), ("pdf_url", "string?"), ("pay_attempts", "integer"), ("last_error", "string?"), ("lines", "[Transaction]")]),
        "InvoiceList": props(&[("invoices", "[Invoice]")]),
        "Dispute": props(&[("id", "integer"), ("gateway", "string"), ("gateway_dispute_ref", "string"), ("transaction_id", "integer?"), ("amount", "integer"), ("currency", "string"), ("reason", "string"), ("status", "string"), ("created_at", "string")]),
        "DisputeList": props(&[("disputes", "[Dispute]")]),
        "Summary": props(&[("gateway", "string"), ("from", "string"), ("to", "string"), ("currency", "string"), ("revenue", "integer"), ("successful_payments", "integer"), ("refunds", "integer"), ("refund_count", "integer"), ("fees", "integer"), ("net", "integer"), ("disputes", "integer"), ("disputed_amount", "integer"), ("chargebacks", "integer"), ("chargeback_amount", "integer"), ("ledger", "object")]),
    })
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPS {
        let mut o = Map::new();
        o.insert("summary".into(), json!(op.summary));
        o.insert(
            "operationId".into(),
            json!(format!("{} {}", op.method, op.path)),
        );
        let mut params: Vec<Value> = Vec::new();
        for seg in op.path.split('/') {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                params.push(json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }));
            }
        }
        for (name, ty, desc) in op.query {
            params.push(json!({ "name": name, "in": "query", "required": false, "description": desc, "schema": { "type": ty } }));
        }
        if op.method == "post" && op.path.starts_with("/v1/") {
            params.push(json!({
                "name": "Idempotency-Key", "in": "header", "required": false,
                "description": "Repeating a request with the same key replays the first response (header Idempotent-Replayed: true) for successes and declines; refused input and server errors are not saved, so the corrected or retried request may reuse the key. The same key with a different body is 422.",
                "schema": { "type": "string", "maxLength": 255 },
            }));
        }
        if !params.is_empty() {
            o.insert("parameters".into(), Value::Array(params));
        }
        if !op.body.is_empty() {
            let mut p = Map::new();
            let mut required = Vec::new();
            for (name, ty, req, desc) in op.body {
                p.insert(name.to_string(), json!({ "type": ty, "description": desc }));
                if *req {
                    required.push(json!(name));
                }
            }
            o.insert(
                "requestBody".into(),
                json!({ "required": !required.is_empty(), "content": { "application/json": { "schema": {
                    "type": "object", "additionalProperties": false, "properties": p, "required": required,
                } } } }),
            );
        }
        let mut responses = Map::new();
        responses.insert(
            op.ok.to_string(),
            json!({ "description": "OK", "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{}", op.response) } } } }),
        );
        let err = |d: &str| json!({ "description": d, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
        responses.insert(
            "400".into(),
            err("Bad input: `error.field` names the field; nothing was changed"),
        );
        if let Some(scope) = op.scope {
            responses.insert("401".into(), err("Missing or wrong API key"));
            responses.insert(
                "403".into(),
                err(&format!("The API key lacks the `{scope}` scope")),
            );
            o.insert("security".into(), json!([{ "apiKey": [scope] }]));
        }
        if op.path.contains('{') || op.method == "post" {
            responses.insert(
                "404".into(),
                err("Unknown customer, card, transaction or invoice"),
            );
        }
        if op.method == "post" {
            responses.insert(
                "409".into(),
                err("The object's state does not allow this (e.g. paying a void invoice)"),
            );
            responses.insert("402".into(), err("The card was declined (invoice payment)"));
            responses.insert("502".into(), err("The gateway failed; nothing is known to have moved, or the outcome is being reconciled"));
        }
        o.insert("responses".into(), Value::Object(responses));
        paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("object")
            .insert(op.method.into(), Value::Object(o));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "OmniCRM Payments (omnicrm-pay)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Payments for OmniCRM: customers linked to gateways, stored cards, transactions charged exactly once, refunds, invoices, disputes and the financial summary. Amounts are integers of the currency's minor unit; currencies are ISO 4217 codes in upper case.",
        },
        "servers": [{ "url": "/" }],
        "components": {
            "securitySchemes": { "apiKey": { "type": "http", "scheme": "bearer", "description": "An API key from the service configuration; scopes read and write" } },
            "schemas": schemas(),
        },
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn document_is_consistent() {
        let doc = super::document();
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(
            paths
                .values()
                .map(|p| p.as_object().unwrap().len())
                .sum::<usize>(),
            super::OPS.len()
        );
        // Every schema reference resolves.
        let text = doc.to_string();
        for piece in text.split("#/components/schemas/").skip(1) {
            let name: String = piece.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(
                doc["components"]["schemas"].get(&name).is_some(),
                "missing schema {name}"
            );
        }
    }
}
