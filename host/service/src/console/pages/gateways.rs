//! Gateways: every configured gateway, loaded or not: its plugin and contract versions, the
//! component's file and SHA-256, how many times it was (re)loaded, its health (loading, ready,
//! failed and why), limits, capabilities, and the calls made through it and their errors.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::Response;

use crate::api::views::GatewayView;
use crate::live_gateways::{CallCounts, SlotState};

use super::super::format::datetime;
use super::super::guard::Signed;
use super::super::state::ConsoleState;
use super::{Chrome, render};

/// A gateway on the page.
pub struct GatewayRow {
    /// As `/v1/gateways` shows it.
    pub g: GatewayView,
    /// When it was (re)loaded, for people.
    pub loaded: String,
    /// Its calls since the service started.
    pub counts: CallCounts,
    /// `loading`, `ready` or `failed`.
    pub state: &'static str,
}

#[derive(Template)]
#[template(path = "console/gateways.html")]
struct GatewaysPage {
    chrome: Chrome,
    contract: String,
    gateways: Vec<GatewayRow>,
}

/// `GET /console/gateways`.
pub async fn list(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
) -> Response {
    let gateways = st
        .service
        .gateways
        .statuses()
        .into_iter()
        .map(|s| {
            let counts = st
                .service
                .gateways
                .get(&s.name)
                .map(|slot| slot.call_counts())
                .unwrap_or_default();
            let loaded = if s.loaded_at > 0 {
                datetime(s.loaded_at)
            } else {
                String::new()
            };
            let state = match s.state {
                SlotState::Loading => "loading",
                SlotState::Ready => "ready",
                SlotState::Failed => "failed",
            };
            GatewayRow {
                state,
                g: GatewayView::from(s),
                loaded,
                counts,
            }
        })
        .collect();
    render(&GatewaysPage {
        chrome: Chrome::new(&st, &signed, "gateways"),
        contract: format!(
            "{}@{}",
            omnicrm_host::contract::CONTRACT_PACKAGE,
            omnicrm_host::contract::CONTRACT_VERSION
        ),
        gateways,
    })
}
