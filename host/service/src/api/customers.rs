//! Customers and their stored cards: `/v1/customers`, `/v1/cards/expiring`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::json;

use crate::ledger::{TxnFilter, TxnStatus, now};
use crate::time::format_rfc3339;

use super::auth::{ClientKey, client_key};
use super::parse::{Body, Query, path_id};
use super::state::{ApiResult, AppState, ok};
use super::views::card_view;

/// `POST /v1/customers`.
pub async fn link_customer(State(st): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let b = Body::parse(&body, &["customer_id", "gateway", "email", "name", "phone"])?;
    let id = b.req_str("customer_id")?;
    let gateway = b.str("gateway")?;
    let (link, created) = st
        .service
        .link_customer(
            &id,
            gateway.as_deref(),
            b.str("email")?,
            b.str("name")?,
            b.str("phone")?,
        )
        .await?;
    ok(
        StatusCode::OK,
        json!({
            "customer_id": link.crm_customer_id,
            "gateway": link.gateway,
            "gateway_customer_ref": link.gateway_customer_ref,
            "email": link.email,
            "name": link.name,
            "created_at_gateway": created,
        }),
    )
}

/// `GET /v1/customers/{customer_id}`.
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
        json!({
            "customer_id": customer_id,
            "links": links.iter().map(|l| json!({
                "gateway": l.gateway, "gateway_customer_ref": l.gateway_customer_ref,
                "email": l.email, "name": l.name, "linked_at": format_rfc3339(l.created_at),
            })).collect::<Vec<_>>(),
            "cards": cards.iter().map(card_view).collect::<Vec<_>>(),
            "uninvoiced_pending": uninvoiced.len(),
        }),
    )
}

/// `POST /v1/customers/{customer_id}/cards`.
pub async fn store_card(
    State(st): State<Arc<AppState>>,
    key: Option<Extension<ClientKey>>,
    Path(customer_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let b = Body::parse(&body, &["token", "nickname", "default", "gateway"])?;
    let token = b.req_str("token")?;
    let card = st
        .service
        .store_card(
            &customer_id,
            b.str("gateway")?.as_deref(),
            &token,
            b.str("nickname")?,
            b.bool("default")?.unwrap_or(false),
            client_key(key),
        )
        .await?;
    ok(StatusCode::CREATED, card_view(&card))
}

/// `GET /v1/customers/{customer_id}/cards`.
pub async fn list_cards(
    State(st): State<Arc<AppState>>,
    Path(customer_id): Path<String>,
) -> ApiResult {
    st.service.require_customer(&customer_id).await?;
    let cards = st.service.db.run(move |l| l.cards(&customer_id)).await?;
    ok(
        StatusCode::OK,
        json!({ "cards": cards.iter().map(card_view).collect::<Vec<_>>() }),
    )
}

/// `POST /v1/customers/{customer_id}/cards/{card_id}/default`.
pub async fn set_default_card(
    State(st): State<Arc<AppState>>,
    Path((customer_id, card_id)): Path<(String, String)>,
) -> ApiResult {
    let card_id = path_id("card_id", &card_id)?;
    st.service.require_customer(&customer_id).await?;
    let card = st.service.set_default_card(&customer_id, card_id).await?;
    ok(StatusCode::OK, card_view(&card))
}

/// `DELETE /v1/customers/{customer_id}/cards/{card_id}`.
pub async fn remove_card(
    State(st): State<Arc<AppState>>,
    Path((customer_id, card_id)): Path<(String, String)>,
) -> ApiResult {
    let card_id = path_id("card_id", &card_id)?;
    st.service.require_customer(&customer_id).await?;
    st.service.remove_card(&customer_id, card_id).await?;
    ok(StatusCode::OK, json!({ "removed": true, "id": card_id }))
}

/// `GET /v1/cards/expiring`.
pub async fn expiring_cards(State(st): State<Arc<AppState>>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), &["within_days"])?;
    let days = q.int("within_days", 0, 3650)?.unwrap_or(60);
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
        json!({ "within_days": days, "cards": cards.iter().map(card_view).collect::<Vec<_>>() }),
    )
}
