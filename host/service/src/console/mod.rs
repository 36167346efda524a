//! The operator console: the CRM's payment screens and financial dashboard in the browser,
//! served by `omnicrm-pay serve` under `/console` on the API's own port.
//!
//! Pages are rendered on the server from compiled-in askama templates (HTML escaping on, so
//! every string a gateway or plugin returned renders as text); charts are SVG drawn on the
//! server ([`charts`]); the stylesheet and the one small script are compiled into the binary
//! ([`assets`]). The console calls the domain ([`crate::service::Service`]) directly and shows
//! the API's own views.
//!
//! Security ([`guard`], [`session`], [`throttle`]): operators sign in with a console user's
//! password (argon2 hashes in `[service.console]`, [`crate::config::console`]) or an API key of
//! the `read` or `write` scope; failed sign-ins are counted per account name and per client
//! address, and past a limit refused (429) for a while without checking any password; a
//! session is a random id in an HttpOnly, SameSite=Lax cookie (Secure unless the listener is on
//! loopback); every form carries the session's CSRF token; a read-only operator sees no write
//! form and gets 403 on any write; the Content-Security-Policy allows the console's own origin
//! only (no inline script or style), the Stripe Elements page adding Stripe's.
//!
//! Modules: [`session`], [`guard`], [`throttle`] (failed sign-ins), [`state`], [`billing`]
//! (billing runs in the background), [`format`], [`charts`], [`assets`], [`pages`] (one module
//! per page); the configuration is [`crate::config::console`].

pub mod assets;
pub mod billing;
pub mod charts;
pub mod error_page;
pub mod format;
pub mod guard;
pub mod pages;
pub mod session;
pub mod state;
pub mod throttle;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Redirect;
use axum::routing::{get, post};

use crate::config::ServiceSection;
use crate::service::Service;

use pages::{
    billing_runs, customers, dashboard, disputes, gateways, invoices, sign_in, transactions,
};
use state::ConsoleState;

/// The console's router (every route under `/console`, to merge with the API's), for a service
/// configured by `section` and listening on `addr`.
pub fn router(service: Arc<Service>, section: &ServiceSection, addr: SocketAddr) -> Router {
    let state = Arc::new(ConsoleState::new(service, section, addr.ip().is_loopback()));
    let signed_in = Router::new()
        .route("/", get(dashboard::show))
        .route("/customers", get(customers::list).post(customers::link))
        .route("/customers/{id}", get(customers::show))
        .route(
            "/customers/{id}/card-form",
            post(customers::start_card_form),
        )
        .route("/customers/{id}/charge", post(customers::charge))
        .route(
            "/customers/{id}/cards/{card}/default",
            post(customers::set_default),
        )
        .route(
            "/customers/{id}/cards/{card}/remove",
            post(customers::remove),
        )
        .route("/card-return", get(customers::card_return))
        .route("/transactions", get(transactions::list))
        .route("/transactions/{id}", get(transactions::show))
        .route("/transactions/{id}/{action}", post(transactions::act))
        .route("/invoices", get(invoices::list).post(invoices::create))
        .route("/invoices/{id}", get(invoices::show))
        .route("/invoices/{id}/{action}", post(invoices::act))
        .route("/disputes", get(disputes::list))
        .route("/gateways", get(gateways::list))
        .route(
            "/billing-runs",
            get(billing_runs::list).post(billing_runs::start),
        )
        .route("/billing-runs/{id}", get(billing_runs::show))
        .route("/billing-runs/{id}/progress", get(billing_runs::progress))
        .route("/billing-runs/{id}/stop", post(billing_runs::stop))
        .route("/sign-out", post(sign_in::sign_out))
        .route_layer(from_fn_with_state(state.clone(), guard::require_operator));
    let console = Router::new()
        .route("/sign-in", get(sign_in::show).post(sign_in::submit))
        .route("/assets/{name}", get(assets::asset))
        .merge(signed_in);
    Router::new()
        .route("/console/", get(|| async { Redirect::to("/console") }))
        .nest("/console", console)
        .layer(from_fn(guard::security_headers))
        .with_state(state)
}
