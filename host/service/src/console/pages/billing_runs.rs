//! Billing runs: start one (charges every due transaction, pays open invoices), watch its
//! progress live (the page polls a fragment every second through the console's script; without
//! it, a reload shows the same), see its results, stop it.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;

use crate::billing_run::BillingSummary;
use crate::currency::format_amount;

use super::super::billing::{Progress, Run, RunRequest};
use super::super::format::datetime;
use super::super::guard::Signed;
use super::super::state::ConsoleState;
use super::{Chrome, after_form, domain_error, error_page, render};

/// A run in the list.
pub struct RunRow {
    /// Its number.
    pub id: usize,
    /// Who started it.
    pub started_by: String,
    /// When.
    pub started_at: String,
    /// `running`, `done` or `failed`.
    pub state: &'static str,
}

fn row(r: &Run) -> RunRow {
    RunRow {
        id: r.id,
        started_by: r.started_by.clone(),
        started_at: datetime(r.started_at),
        state: match r.outcome() {
            None => "running",
            Some((_, Ok(_))) => "done",
            Some((_, Err(_))) => "failed",
        },
    }
}

#[derive(Template)]
#[template(path = "console/billing_runs.html")]
struct RunsPage {
    chrome: Chrome,
    runs: Vec<RunRow>,
}

/// `GET /console/billing-runs`.
pub async fn list(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
) -> Response {
    render(&RunsPage {
        chrome: Chrome::new(&st, &signed, "billing-runs"),
        runs: st.runs.all().iter().map(|r| row(r)).collect(),
    })
}

/// The form starting a run.
#[derive(Debug, Deserialize)]
pub struct StartForm {
    #[serde(default)]
    concurrency: String,
    #[serde(default)]
    limit: String,
    #[serde(default)]
    invoices: Option<String>,
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /console/billing-runs` (confirmed).
pub async fn start(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    Form(f): Form<StartForm>,
) -> Response {
    let back = "/console/billing-runs";
    if f.confirm.is_none() {
        return after_form(&st, &signed, back, Err("Tick the box to confirm.".into()));
    }
    let number = |s: &str, default: Option<usize>| -> Result<Option<usize>, String> {
        match s.trim() {
            "" => Ok(default),
            s => s
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .map(Some)
                .ok_or_else(|| format!("{s:?} is not a positive number")),
        }
    };
    let request = match (number(&f.concurrency, Some(8)), number(&f.limit, None)) {
        (Ok(c), Ok(limit)) => RunRequest {
            concurrency: c.unwrap_or(8).min(64),
            limit,
            invoices: f.invoices.is_some(),
        },
        (Err(e), _) | (_, Err(e)) => return after_form(&st, &signed, back, Err(e)),
    };
    let operator = signed
        .0
        .operator
        .as_ref()
        .map(|o| o.name.clone())
        .unwrap_or_default();
    match st.runs.start(st.service.clone(), &operator, request).await {
        Ok(run) => after_form(
            &st,
            &signed,
            &format!("/console/billing-runs/{}", run.id),
            Ok(format!("Billing run {} started.", run.id)),
        ),
        Err(e) => after_form(&st, &signed, back, Err(e)),
    }
}

/// A run's results, for people.
pub struct Results {
    /// What it did.
    pub summary: BillingSummary,
    /// Collected, per currency.
    pub collected: Vec<String>,
    /// When it finished.
    pub finished_at: String,
}

#[derive(Template)]
#[template(path = "console/billing_run.html")]
struct RunPage {
    chrome: Chrome,
    run: RunRow,
    due_charges: u64,
    due_invoices: u64,
    stopping: bool,
    progress: ProgressFragment,
    results: Option<Results>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/billing_progress.html")]
struct ProgressFragment {
    id: usize,
    running: bool,
    progress: Progress,
}

async fn fragment(st: &ConsoleState, run: &Run) -> Result<ProgressFragment, Response> {
    let progress = run
        .progress(&st.service)
        .await
        .map_err(|e| domain_error(&e))?;
    Ok(ProgressFragment {
        id: run.id,
        running: run.running(),
        progress,
    })
}

/// `GET /console/billing-runs/{id}`.
pub async fn show(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<usize>,
) -> Response {
    let Some(run) = st.runs.get(id) else {
        return error_page(StatusCode::NOT_FOUND, "No such billing run.");
    };
    let progress = match fragment(&st, &run).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (results, error) = match run.outcome() {
        Some((at, Ok(summary))) => (
            Some(Results {
                collected: summary
                    .collected
                    .iter()
                    .map(|(c, a)| format_amount(*a, c))
                    .collect(),
                summary,
                finished_at: datetime(at),
            }),
            None,
        ),
        Some((_, Err(e))) => (None, Some(e)),
        None => (None, None),
    };
    render(&RunPage {
        chrome: Chrome::new(&st, &signed, "billing-runs"),
        run: row(&run),
        due_charges: run.due_charges,
        due_invoices: run.due_invoices,
        stopping: run.stopping(),
        progress,
        results,
        error,
    })
}

/// `GET /console/billing-runs/{id}/progress`: the progress fragment the page polls.
pub async fn progress(State(st): State<Arc<ConsoleState>>, Path(id): Path<usize>) -> Response {
    let Some(run) = st.runs.get(id) else {
        return error_page(StatusCode::NOT_FOUND, "No such billing run.");
    };
    match fragment(&st, &run).await {
        Ok(p) => render(&p),
        Err(r) => r,
    }
}

/// `POST /console/billing-runs/{id}/stop`.
pub async fn stop(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<usize>,
) -> Response {
    let back = format!("/console/billing-runs/{id}");
    match st.runs.get(id) {
        Some(run) => {
            run.stop();
            after_form(
                &st,
                &signed,
                &back,
                Ok("Stopping: charges in flight finish, no new one starts.".into()),
            )
        }
        None => error_page(StatusCode::NOT_FOUND, "No such billing run."),
    }
}
