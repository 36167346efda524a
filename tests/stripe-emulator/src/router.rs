//! Maps `METHOD /v1/...` to the resource handlers, then applies `expand[]`.

use http::Method;
use serde_json::Value;

use crate::error::ApiError;
use crate::form::{Params, decode_segment};
use crate::resources::{
    balance, charges, customers, disputes, events, invoices, payment_intents, payment_methods,
    refunds, setup_intents,
};
use crate::state::State;

/// The error for a path the API doesn't have.
pub fn unrecognized(method: &Method, path: &str) -> ApiError {
    ApiError::new(
        404,
        "invalid_request_error",
        format!(
            "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
        ),
    )
}

/// Executes one API request against the state.
pub fn route(st: &mut State, method: &Method, path: &str, p: &Params) -> Result<Value, ApiError> {
    let Some(rest) = path.strip_prefix("/v1/") else {
        return Err(unrecognized(method, path));
    };
    let owned: Vec<String> = rest
        .trim_end_matches('/')
        .split('/')
        .map(decode_segment)
        .collect();
    let segments: Vec<&str> = owned.iter().map(String::as_str).collect();
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    let delete = *method == Method::DELETE;
    let mut value = match segments.as_slice() {
        ["customers"] if get => customers::list(st, p),
        ["customers"] if post => customers::create(st, p),
        ["customers", "search"] if get && st.customer_search => customers::search(st, p),
        ["customers", "search"] => Err(unrecognized(method, path)),
        ["customers", id] if get => customers::retrieve(st, id),
        ["customers", id] if post => customers::update(st, id, p),
        ["customers", id] if delete => customers::delete(st, id),
        ["customers", id, "payment_methods"] if get => {
            payment_methods::list_for_customer(st, id, p)
        }
        ["customers", id, "payment_methods", pm] if get => {
            payment_methods::retrieve_for_customer(st, id, pm)
        }

        ["payment_methods"] if get => payment_methods::list(st, p),
        ["payment_methods"] if post => payment_methods::create(st, p),
        ["payment_methods", id] if get => payment_methods::retrieve(st, id),
        ["payment_methods", id] if post => payment_methods::update(st, id, p),
        ["payment_methods", id, "attach"] if post => payment_methods::attach(st, id, p),
        ["payment_methods", id, "detach"] if post => payment_methods::detach(st, id, p),

        ["setup_intents"] if get => setup_intents::list(st, p),
        ["setup_intents"] if post => setup_intents::create(st, p),
        ["setup_intents", id] if get => setup_intents::retrieve(st, id),
        ["setup_intents", id, "confirm"] if post => setup_intents::confirm(st, id, p),
        ["setup_intents", id, "cancel"] if post => setup_intents::cancel(st, id, p),

        ["payment_intents"] if get => payment_intents::list(st, p),
        ["payment_intents"] if post => payment_intents::create(st, p),
        ["payment_intents", id] if get => payment_intents::retrieve(st, id),
        ["payment_intents", id] if post => payment_intents::update(st, id, p),
        ["payment_intents", id, "confirm"] if post => payment_intents::confirm(st, id, p),
        ["payment_intents", id, "capture"] if post => payment_intents::capture(st, id, p),
        ["payment_intents", id, "cancel"] if post => payment_intents::cancel(st, id, p),

        ["charges"] if get => charges::list(st, p),
        ["charges", id] if get => charges::retrieve(st, id),
        ["charges", id] if post => charges::update(st, id, p),

        ["refunds"] if get => refunds::list(st, p),
        ["refunds"] if post => refunds::create(st, p),
        ["refunds", id] if get => refunds::retrieve(st, id),

        ["invoices"] if get => invoices::list(st, p),
        ["invoices"] if post => invoices::create(st, p),
        ["invoices", id] if get => invoices::retrieve(st, id),
        ["invoices", id] if post => invoices::update(st, id, p),
        ["invoices", id] if delete => invoices::delete(st, id),
        ["invoices", id, "lines"] if get => invoices::lines(st, id, p),
        ["invoices", id, "finalize"] if post => invoices::finalize(st, id, p),
        ["invoices", id, "pay"] if post => invoices::pay(st, id, p),
        ["invoices", id, "void"] if post => invoices::void(st, id, p),
        ["invoices", id, "mark_uncollectible"] if post => invoices::mark_uncollectible(st, id, p),
        ["invoiceitems"] if get => invoices::list_items(st, p),
        ["invoiceitems"] if post => invoices::create_item(st, p),
        ["invoiceitems", id] if get => invoices::retrieve_item(st, id),
        ["invoiceitems", id] if delete => invoices::delete_item(st, id),
        ["invoice_payments"] if get => invoices::list_payments(st, p),
        ["invoice_payments", id] if get => invoices::retrieve_payment(st, id),

        ["balance"] if get => balance::balance(st),
        ["balance_transactions"] if get => balance::list(st, p),
        ["balance_transactions", id] if get => balance::retrieve(st, id),
        // The legacy path of the same list.
        ["balance", "history"] if get => balance::list(st, p),

        ["disputes"] if get => disputes::list(st, p),
        ["disputes", id] if get => disputes::retrieve(st, id),
        ["disputes", id] if post => disputes::update(st, id, p),
        ["disputes", id, "close"] if post => disputes::close(st, id, p),

        ["events"] if get => events::list(st, p),
        ["events", id] if get => events::retrieve(st, id),

        ["webhook_endpoints"] if post => crate::admin::create_webhook_endpoint(st, p, true),
        ["webhook_endpoints"] if get => Ok(crate::admin::list_webhook_endpoints(st)),
        ["webhook_endpoints", id] if delete => crate::admin::delete_webhook_endpoint(st, id),

        _ => Err(unrecognized(method, path)),
    }?;
    let expand = p.expand()?;
    if !expand.is_empty() {
        st.expand(&mut value, &expand);
    }
    Ok(value)
}
