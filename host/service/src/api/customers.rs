//! Customers and their stored cards: `/v1/customers`, `/v1/cards/expiring`.

use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;

use crate::ledger::{TxnFilter, TxnStatus, now};

use super::errors::ErrorResponse;
use super::extract::{JsonBody, OptionalJsonBody, QueryParams, path_id};
use super::idempotency::{ClientKey, client_key};
use super::requests::{
    Empty, ExpiringCards, LinkCustomer, StartCardSession, StoreCard, bounded, non_blank,
};
use super::state::{ApiResult, AppState, ok};
use super::views::{
    CardList, CardSessionView, CardView, CustomerLinkView, CustomerView, ExpiringCardList,
    LinkedCustomer, Removed,
};
use crate::time::format_rfc3339;

/// `POST /v1/customers`.
#[utoipa::path(
    post,
    path = "/customers",
    tag = "customers",
    summary = "Link a CRM customer to a gateway customer (created there, or found)",
    request_body = LinkCustomer,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to repeat")),
    responses(
        (status = 200, description = "Linked", body = LinkedCustomer),
        (status = 400, description = "Invalid input, the field named", body = ErrorResponse),
        (status = "5XX", description = "The gateway's trouble", body = ErrorResponse),
    ),
    security(("api_key" = ["write"]))
)]
pub async fn link_customer(
    State(st): State<Arc<AppState>>,
    JsonBody(b): JsonBody<LinkCustomer>,
) -> ApiResult {
    let id = non_blank("customer_id", b.customer_id)?;
    let (link, created) = st
        .service
        .link_customer(&id, b.gateway.as_deref(), b.email, b.name, b.phone)
        .await?;
    ok(
        StatusCode::OK,
        LinkedCustomer {
            customer_id: link.crm_customer_id,
            gateway: link.gateway,
            gateway_customer_ref: link.gateway_customer_ref,
            email: link.email,
            name: link.name,
            created_at_gateway: created,
        },
    )
}

/// `GET /v1/customers/{customer_id}`.
#[utoipa::path(
    get,
    path = "/customers/{customer_id}",
    tag = "customers",
    summary = "A customer's gateway links and cards",
    params(("customer_id" = String, Path, description = "CRM customer")),
    responses(
        (status = 200, description = "The customer", body = CustomerView),
        (status = 404, description = "No such customer", body = ErrorResponse),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn get_customer(
    State(st): State<Arc<AppState>>,
    Path(customer_id): Path<String>,
) -> ApiResult {
    let links = st.service.require_customer(&customer_id).await?;
    let id = customer_id.clone();
    let cards = st.service.db.run(move |l| l.cards(&id)).await?;
    let id = customer_id.clone();
    let uninvoiced = st
        .service
        .db
        .run(move |l| {
            l.transactions(&TxnFilter {
                customer: Some(id),
                statuses: vec![TxnStatus::Pending],
                invoiced: Some(false),
                ..Default::default()
            })
        })
        .await?;
    ok(
        StatusCode::OK,
        CustomerView {
            customer_id,
            links: links.iter().map(CustomerLinkView::from).collect(),
            cards: cards.iter().map(CardView::from).collect(),
            uninvoiced_pending: uninvoiced.len(),
        },
    )
}

/// `POST /v1/customers/{customer_id}/cards`.
#[utoipa::path(
    post,
    path = "/customers/{customer_id}/cards",
    tag = "customers",
    summary = "Store a card from a client-side token (Stripe: pm_... or tok_...)",
    request_body = StoreCard,
    params(
        ("customer_id" = String, Path, description = "CRM customer"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to repeat"),
    ),
    responses(
        (status = 201, description = "Stored", body = CardView),
        (status = 400, description = "Invalid input, the field named", body = ErrorResponse),
        (status = 404, description = "No such customer", body = ErrorResponse),
        (status = "5XX", description = "The gateway's trouble", body = ErrorResponse),
    ),
    security(("api_key" = ["write"]))
)]
pub async fn store_card(
    State(st): State<Arc<AppState>>,
    key: Option<Extension<ClientKey>>,
    Path(customer_id): Path<String>,
    JsonBody(b): JsonBody<StoreCard>,
) -> ApiResult {
    let token = non_blank("token", b.token)?;
    let card = st
        .service
        .store_card(
            &customer_id,
            b.gateway.as_deref(),
            &token,
            b.nickname,
            b.default.unwrap_or(false),
            client_key(key),
        )
        .await?;
    ok(StatusCode::CREATED, CardView::from(&card))
}

/// `POST /v1/customers/{customer_id}/card-sessions`.
#[utoipa::path(
    post,
    path = "/customers/{customer_id}/card-sessions",
    tag = "customers",
    summary = "Start a session of the gateway's card form (what the CRM's card page needs)",
    description = "Answers the gateway's session: the client-side form to load (`sdk`) and its configuration (`client_config`, made to be sent to the customer's browser), or a page the gateway hosts (`hosted_url`), and when it expires. The token the form hands back is stored with `POST /v1/customers/{customer_id}/cards`. A gateway without card sessions is 501.",
    request_body(content = Option<StartCardSession>, description = "Optional: `{}` uses the customer's gateway"),
    params(
        ("customer_id" = String, Path, description = "CRM customer"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to repeat"),
    ),
    responses(
        (status = 201, description = "The session", body = CardSessionView),
        (status = 400, description = "Invalid input, the field named", body = ErrorResponse),
        (status = 404, description = "No such customer", body = ErrorResponse),
        (status = 501, description = "The gateway has no card sessions", body = ErrorResponse),
        (status = "5XX", description = "The gateway's trouble", body = ErrorResponse),
    ),
    security(("api_key" = ["write"]))
)]
pub async fn start_card_session(
    State(st): State<Arc<AppState>>,
    key: Option<Extension<ClientKey>>,
    Path(customer_id): Path<String>,
    OptionalJsonBody(b): OptionalJsonBody<StartCardSession>,
) -> ApiResult {
    let (gateway, session) = st
        .service
        .start_card_session(
            &customer_id,
            b.gateway.as_deref(),
            b.return_url,
            b.currency,
            client_key(key),
        )
        .await?;
    ok(
        StatusCode::CREATED,
        CardSessionView {
            gateway,
            id: session.id,
            sdk: session.sdk,
            client_config: serde_json::from_str(&session.client_config)
                .unwrap_or(serde_json::Value::String(session.client_config)),
            hosted_url: session.hosted_url,
            expires_at: session.expires_at.map(format_rfc3339),
        },
    )
}

/// `GET /v1/customers/{customer_id}/cards`.
#[utoipa::path(
    get,
    path = "/customers/{customer_id}/cards",
    tag = "customers",
    summary = "The customer's cards, default first",
    params(("customer_id" = String, Path, description = "CRM customer")),
    responses(
        (status = 200, description = "The cards", body = CardList),
        (status = 404, description = "No such customer", body = ErrorResponse),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn list_cards(
    State(st): State<Arc<AppState>>,
    Path(customer_id): Path<String>,
) -> ApiResult {
    st.service.require_customer(&customer_id).await?;
    let cards = st.service.db.run(move |l| l.cards(&customer_id)).await?;
    ok(
        StatusCode::OK,
        CardList {
            cards: cards.iter().map(CardView::from).collect(),
        },
    )
}

/// `POST /v1/customers/{customer_id}/cards/{card_id}/default`.
#[utoipa::path(
    post,
    path = "/customers/{customer_id}/cards/{card_id}/default",
    tag = "customers",
    summary = "Make a card the default",
    params(
        ("customer_id" = String, Path, description = "CRM customer"),
        ("card_id" = i64, Path, description = "Card id"),
    ),
    request_body(content = Option<Empty>, description = "Optional: `{}` or nothing"),
    responses(
        (status = 200, description = "The default card", body = CardView),
        (status = 404, description = "No such customer or card", body = ErrorResponse),
    ),
    security(("api_key" = ["write"]))
)]
pub async fn set_default_card(
    State(st): State<Arc<AppState>>,
    Path((customer_id, card_id)): Path<(String, String)>,
    OptionalJsonBody(Empty {}): OptionalJsonBody<Empty>,
) -> ApiResult {
    let card_id = path_id("card_id", &card_id)?;
    st.service.require_customer(&customer_id).await?;
    let card = st.service.set_default_card(&customer_id, card_id).await?;
    ok(StatusCode::OK, CardView::from(&card))
}

/// `DELETE /v1/customers/{customer_id}/cards/{card_id}`.
#[utoipa::path(
    delete,
    path = "/customers/{customer_id}/cards/{card_id}",
    tag = "customers",
    summary = "Remove a card (at the gateway too)",
    params(
        ("customer_id" = String, Path, description = "CRM customer"),
        ("card_id" = i64, Path, description = "Card id"),
    ),
    responses(
        (status = 200, description = "Removed", body = Removed),
        (status = 404, description = "No such customer or card", body = ErrorResponse),
    ),
    security(("api_key" = ["write"]))
)]
pub async fn remove_card(
    State(st): State<Arc<AppState>>,
    Path((customer_id, card_id)): Path<(String, String)>,
) -> ApiResult {
    let card_id = path_id("card_id", &card_id)?;
    st.service.require_customer(&customer_id).await?;
    st.service.remove_card(&customer_id, card_id).await?;
    ok(
        StatusCode::OK,
        Removed {
            removed: true,
            id: card_id,
        },
    )
}

/// `GET /v1/cards/expiring`.
#[utoipa::path(
    get,
    path = "/cards/expiring",
    tag = "customers",
    summary = "Cards of every customer expiring within N days",
    params(ExpiringCards),
    responses(
        (status = 200, description = "The cards", body = ExpiringCardList),
        (status = 400, description = "Invalid parameter", body = ErrorResponse),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn expiring_cards(
    State(st): State<Arc<AppState>>,
    QueryParams(q): QueryParams<ExpiringCards>,
) -> ApiResult {
    let days = bounded("within_days", q.within_days, 0, 3650)?.unwrap_or(60);
    let today = now();
    let (y0, m0, _) = crate::time::date_of(today);
    let (y1, m1, _) = crate::time::date_of(today + days * 86_400);
    let cards = st
        .service
        .db
        .run(move |l| l.expiring_cards((y0 as u16, m0 as u8), (y1 as u16, m1 as u8)))
        .await?;
    ok(
        StatusCode::OK,
        ExpiringCardList {
            within_days: days,
            cards: cards.iter().map(CardView::from).collect(),
        },
    )
}
