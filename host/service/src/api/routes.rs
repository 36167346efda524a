//! The routes: every path, its methods and handler, registered once through `utoipa_axum`'s
//! `routes!`, which takes each handler's method and path from its `#[utoipa::path]` attribute and
//! adds the operation to the OpenAPI document as it adds the route. The router and the document
//! therefore come from the same definitions ([`api`]).
//!
//! Around the routes: API keys and `Idempotency-Key` on `/v1`, a body limit, JSON answers for
//! unknown routes (404) and methods a route does not have (405, with `Allow`), and
//! [`super::errors::json_errors`] so that every error, from any layer, has the JSON error shape.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use utoipa::openapi::OpenApi as Document;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::errors::json_errors;
use super::extract::MAX_BODY;
use super::idempotency::{IdempotencyState, KeyWaits, idempotency};
use super::openapi::{self, DocumentJson};
use super::state::AppState;
use super::{auth, customers, invoices, reports, system, transactions, webhooks};

/// The routes under `/v1` (an API key needed).
fn v1_routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::default()
        .routes(routes!(system::gateways))
        .routes(routes!(customers::link_customer))
        .routes(routes!(customers::get_customer))
        .routes(routes!(customers::store_card, customers::list_cards))
        .routes(routes!(customers::start_card_session))
        .routes(routes!(customers::set_default_card))
        .routes(routes!(customers::remove_card))
        .routes(routes!(customers::expiring_cards))
        .routes(routes!(
            transactions::create_transaction,
            transactions::list_transactions
        ))
        .routes(routes!(transactions::get_transaction))
        .routes(routes!(transactions::capture))
        .routes(routes!(transactions::void))
        .routes(routes!(transactions::refund))
        .routes(routes!(transactions::complete_action))
        .routes(routes!(transactions::settle))
        .routes(routes!(invoices::create_invoice, invoices::list_invoices))
        .routes(routes!(invoices::get_invoice))
        .routes(routes!(invoices::finalize_invoice))
        .routes(routes!(invoices::pay_invoice))
        .routes(routes!(invoices::void_invoice))
        .routes(routes!(reports::summary))
        .routes(routes!(reports::list_disputes))
}

/// The routes anyone may call.
fn public_routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::default()
        .routes(routes!(system::health))
        .routes(routes!(system::openapi_doc))
        .routes(routes!(webhooks::receive))
}

/// The router of the whole API (without its state) and its OpenAPI document.
fn api(state: &Arc<AppState>) -> (Router<Arc<AppState>>, Document) {
    let keys = IdempotencyState {
        app: state.clone(),
        waits: Arc::new(KeyWaits::default()),
    };
    let v1 = v1_routes()
        .fallback(system::not_found)
        .layer(from_fn_with_state(keys, idempotency))
        .layer(from_fn_with_state(state.clone(), auth::authenticate));
    OpenApiRouter::with_openapi(openapi::base())
        .merge(public_routes())
        .nest("/v1", v1)
        .fallback(system::not_found)
        .split_for_parts()
}

/// The OpenAPI document of the API.
pub fn document() -> Document {
    OpenApiRouter::<Arc<AppState>>::with_openapi(openapi::base())
        .merge(public_routes())
        .nest("/v1", v1_routes())
        .into_openapi()
}

/// The router of the whole API.
pub fn router(state: Arc<AppState>) -> Router {
    let (router, doc) = api(&state);
    router
        .layer(axum::Extension(DocumentJson::new(&doc)))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(from_fn(json_errors))
        .with_state(state)
}
