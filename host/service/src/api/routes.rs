//! The routes: every path, its method and handler, registered once so that the OpenAPI document
//! can be checked against them.

use std::sync::Arc;

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};

use super::state::AppState;
use super::{auth, customers, invoices, reports, system, transactions, webhooks};

/// Registers routes and remembers them, so that the OpenAPI test can compare the two.
struct Routes {
    router: Router<Arc<AppState>>,
    list: Vec<(&'static str, String)>,
    prefix: &'static str,
}

impl Routes {
    fn new(prefix: &'static str) -> Self {
        Routes {
            router: Router::new(),
            list: Vec::new(),
            prefix,
        }
    }

    fn add<H, T>(mut self, method: &'static str, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, Arc<AppState>>,
        T: 'static,
    {
        let filter = match method {
            "get" => MethodFilter::GET,
            "post" => MethodFilter::POST,
            _ => MethodFilter::DELETE,
        };
        self.router = self.router.route(path, on(filter, handler));
        self.list.push((method, format!("{}{path}", self.prefix)));
        self
    }
}

/// The routes under `/v1` (an API key needed).
fn v1_routes() -> Routes {
    Routes::new("/v1")
        .add("get", "/gateways", system::gateways)
        .add("post", "/customers", customers::link_customer)
        .add("get", "/customers/{customer_id}", customers::get_customer)
        .add(
            "post",
            "/customers/{customer_id}/cards",
            customers::store_card,
        )
        .add(
            "get",
            "/customers/{customer_id}/cards",
            customers::list_cards,
        )
        .add(
            "post",
            "/customers/{customer_id}/cards/{card_id}/default",
            customers::set_default_card,
        )
        .add(
            "delete",
            "/customers/{customer_id}/cards/{card_id}",
            customers::remove_card,
        )
        .add("get", "/cards/expiring", customers::expiring_cards)
        .add("post", "/transactions", transactions::create_transaction)
        .add("get", "/transactions", transactions::list_transactions)
        .add("get", "/transactions/{id}", transactions::get_transaction)
        .add("post", "/transactions/{id}/capture", transactions::capture)
        .add("post", "/transactions/{id}/void", transactions::void)
        .add("post", "/transactions/{id}/refunds", transactions::refund)
        .add("post", "/invoices", invoices::create_invoice)
        .add("get", "/invoices", invoices::list_invoices)
        .add("get", "/invoices/{id}", invoices::get_invoice)
        .add(
            "post",
            "/invoices/{id}/finalize",
            invoices::finalize_invoice,
        )
        .add("post", "/invoices/{id}/pay", invoices::pay_invoice)
        .add("post", "/invoices/{id}/void", invoices::void_invoice)
        .add("get", "/summary", reports::summary)
        .add("get", "/disputes", reports::list_disputes)
}

/// The routes anyone may call.
fn public_routes() -> Routes {
    Routes::new("")
        .add("get", "/health", system::health)
        .add("get", "/openapi.json", system::openapi_doc)
        .add("post", "/webhooks/{gateway}", webhooks::receive)
}

/// Every route the router serves: (method, path template).
pub fn route_table() -> Vec<(&'static str, String)> {
    let mut all = public_routes().list;
    all.extend(v1_routes().list);
    all
}

/// The router of the whole API.
pub fn router(state: Arc<AppState>) -> Router {
    let v1 =
        v1_routes()
            .router
            .fallback(system::not_found)
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                auth::authenticate,
            ));
    public_routes()
        .router
        .nest("/v1", v1)
        .fallback(system::not_found)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::super::openapi::OPS;

    #[test]
    fn every_route_is_documented_and_every_operation_routed() {
        let mut routed: Vec<(String, String)> = super::route_table()
            .into_iter()
            .map(|(m, p)| (m.to_string(), p))
            .collect();
        let mut documented: Vec<(String, String)> = OPS
            .iter()
            .map(|o| (o.method.to_string(), o.path.to_string()))
            .collect();
        routed.sort();
        documented.sort();
        assert_eq!(routed, documented);
    }
}
