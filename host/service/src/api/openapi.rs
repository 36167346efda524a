//! The OpenAPI 3.1 document served at `/openapi.json`. Nothing here is written by hand but what
//! the document says of itself (title, the API key scheme, the tags): its paths, parameters,
//! bodies and answers are generated from the handlers' `#[utoipa::path]` attributes and the
//! request and response types (`super::requests`, `super::views`, `super::errors`), collected
//! as [`super::routes`] registers each route.

use std::sync::Arc;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, OpenApi as Document};
use utoipa::{Modify, OpenApi};

use super::errors::ErrorResponse;

/// The document's own parts; the routes add the rest.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "OmniCRM Payments",
        description = "The payment layer of OmniCRM: customers and their stored cards, \
            transactions (charges, authorizations, captures, voids, refunds), invoices, \
            disputes and figures, over pluggable gateways.\n\n\
            Everything under `/v1` needs `Authorization: Bearer <API key>`: GET the `read` \
            scope, POST and DELETE the `write` scope; settling a flagged transaction by hand \
            the `admin` scope (which allows everything). Bodies are JSON (`Content-Type: \
            application/json`), read strictly: unknown fields and keys given twice are \
            refused. Every error answers `{\"error\": {\"code\", \"field\", \"message\", \
            \"details\"?}}` and, unless it says otherwise, changes nothing.\n\n\
            POST requests take an `Idempotency-Key`: a final answer (a success or a decline) \
            is replayed to repeats; a request refused before anything was written frees the \
            key; one without a final answer (5xx, an unknown outcome) keeps it for the same \
            request, which settles what the first started; another request with the key is \
            answered 422."
    ),
    modifiers(&ApiKeyScheme),
    components(schemas(ErrorResponse)),
    tags(
        (name = "customers", description = "CRM customers linked to gateway customers, and their stored cards"),
        (name = "transactions", description = "Charges and credits; authorizations, captures, voids and refunds"),
        (name = "invoices", description = "Invoices of a customer's uninvoiced transactions"),
        (name = "reports", description = "The financial summary and disputes"),
        (name = "system", description = "Health, this document, the loaded gateways and gateway events"),
    )
)]
struct Base;

/// Declares the API key as a bearer token.
struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, doc: &mut Document) {
        let components = doc
            .components
            .get_or_insert_with(|| ComponentsBuilder::new().build());
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key of the `[[service.api_keys]]` configuration; its scopes \
                         (`read`, `write`, `admin`) are the requirement's",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document's own parts, before the routes are added.
pub fn base() -> Document {
    let mut doc = Base::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

/// The generated document as served, shared by the handler of `/openapi.json`.
#[derive(Clone)]
pub struct DocumentJson(pub Arc<String>);

impl DocumentJson {
    /// The JSON of `doc`.
    pub fn new(doc: &Document) -> Self {
        DocumentJson(Arc::new(
            doc.to_json()
                .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")),
        ))
    }
}
