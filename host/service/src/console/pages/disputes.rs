//! Disputes: every dispute the gateways reported, newest first, with its evidence due date
//! (overdue and due within a week highlighted) and status.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::Response;

use crate::api::views::DisputeView;
use crate::ledger::{DisputeStatus, now};

use super::super::guard::Signed;
use super::super::state::ConsoleState;
use super::{Chrome, domain_error, render};

/// A dispute in the list.
pub struct DisputeRow {
    /// The dispute.
    pub d: DisputeView,
    /// `expired` (overdue and still waiting for evidence), `expiring` (due within a week) or
    /// empty.
    pub due_class: &'static str,
}

#[derive(Template)]
#[template(path = "console/disputes.html")]
struct DisputesPage {
    chrome: Chrome,
    disputes: Vec<DisputeRow>,
}

/// `GET /console/disputes`.
pub async fn list(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
) -> Response {
    let rows = match st.service.db.run(|l| l.disputes(None)).await {
        Ok(r) => r,
        Err(e) => return domain_error(&e.into()),
    };
    let now = now();
    let disputes = rows
        .iter()
        .map(|d| {
            let waiting = matches!(d.status, DisputeStatus::Open | DisputeStatus::Warning);
            let due_class = match d.evidence_due_by {
                Some(due) if waiting && due < now => "expired",
                Some(due) if waiting && due < now + 7 * 86_400 => "expiring",
                _ => "",
            };
            DisputeRow {
                d: DisputeView::from(d),
                due_class,
            }
        })
        .collect();
    render(&DisputesPage {
        chrome: Chrome::new(&st, &signed, "disputes"),
        disputes,
    })
}
