//! The dashboard: for a period and a currency, the ledger's figures of every gateway and
//! combined (revenue, payments, refunds, fees, net, disputes open, won and lost, chargebacks),
//! each gateway's own figures beside its ledger's with the differences flagged, and charts of
//! the figures day by day (or week by week).

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::api::summary_views::FiguresView;
use crate::ledger::{LedgerFigures, Ts, now};
use crate::summary::Summary;
use crate::time::parse_time;

use super::super::charts::{Series, legend, line_chart};
use super::super::format::{date, money};
use super::super::guard::Signed;
use super::super::state::ConsoleState;
use super::{Chrome, domain_error, render};

const DAY: i64 = 86_400;
/// The most buckets a chart has.
const MAX_BUCKETS: i64 = 120;

/// The dashboard's query: ISO dates (`to` exclusive, as `/v1/summary` takes them), a currency,
/// `day` or `week`.
#[derive(Debug, Default, Deserialize)]
pub struct DashboardQuery {
    from: Option<String>,
    to: Option<String>,
    currency: Option<String>,
    step: Option<String>,
}

/// One column of the figures table: a gateway's (or the combination's) figures, and the
/// gateway's own beside where it has them.
pub struct Column {
    /// `combined` or the gateway's name (also the cells' id prefix).
    pub name: String,
    /// The ledger's figures, as `/v1/summary` shows them.
    pub ledger: FiguresView,
    /// Disputes still open (opened less won and lost).
    pub disputes_open: u64,
    /// The gateway's own figures.
    pub own: Option<FiguresView>,
    /// Why the gateway's own figures are missing.
    pub own_error: Option<String>,
    /// The figures on which the two disagree (their names).
    pub differing: Vec<String>,
}

impl Column {
    /// Whether the gateway's own `figure` differs from the ledger's.
    pub fn differs(&self, figure: &str) -> bool {
        self.differing.iter().any(|d| d == figure)
    }
}

/// One cell of the figures table.
pub struct Cell {
    /// Its element id: `fig-COLUMN-FIGURE` (the ledger's), `own-COLUMN-FIGURE` (the gateway's).
    pub id: String,
    /// The figure, for people.
    pub value: String,
    /// The gateway's figure differs from the ledger's.
    pub differs: bool,
}

/// One row of the figures table: a figure across the columns.
pub struct Row {
    /// The figure, for people.
    pub label: &'static str,
    /// The ledger's cell of each column, each followed by the gateway's own when it has them.
    pub cells: Vec<Cell>,
}

type Figure = (&'static str, &'static str, fn(&FiguresView, &str) -> String);

/// The figures of the table: id, label, how to write it.
const FIGURES: &[Figure] = &[
    ("revenue", "Revenue", |f, _| f.revenue_display.clone()),
    ("successful_payments", "Successful payments", |f, _| {
        f.successful_payments.to_string()
    }),
    ("refunds", "Refunds", |f, _| f.refunds_display.clone()),
    ("refund_count", "Refunds made", |f, _| {
        f.refund_count.to_string()
    }),
    ("fees", "Fees", |f, _| f.fees_display.clone()),
    ("net", "Net", |f, _| f.net_display.clone()),
    ("disputes", "Disputes opened", |f, _| f.disputes.to_string()),
    ("disputed_amount", "Disputed", |f, c| {
        money(f.disputed_amount, c)
    }),
    ("disputes_won", "Disputes won", |f, _| {
        f.disputes_won
            .map(|w| w.to_string())
            .unwrap_or_else(|| "—".into())
    }),
    ("chargebacks", "Disputes lost (chargebacks)", |f, _| {
        f.chargebacks.to_string()
    }),
    ("chargeback_amount", "Lost to chargebacks", |f, c| {
        money(f.chargeback_amount, c)
    }),
];

/// The figures table's rows (with disputes still open after those opened).
fn rows(columns: &[Column], currency: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for (key, label, write) in FIGURES {
        let mut cells = Vec::new();
        for col in columns {
            cells.push(Cell {
                id: format!("fig-{}-{key}", col.name),
                value: write(&col.ledger, currency),
                differs: false,
            });
            if let Some(own) = &col.own {
                cells.push(Cell {
                    id: format!("own-{}-{key}", col.name),
                    value: write(own, currency),
                    differs: col.differs(key),
                });
            }
        }
        rows.push(Row { label, cells });
        if *key == "disputes" {
            let mut cells = Vec::new();
            for col in columns {
                cells.push(Cell {
                    id: format!("fig-{}-disputes_open", col.name),
                    value: col.disputes_open.to_string(),
                    differs: false,
                });
                if col.own.is_some() {
                    cells.push(Cell {
                        id: format!("own-{}-disputes_open", col.name),
                        value: "—".into(),
                        differs: false,
                    });
                }
            }
            rows.push(Row {
                label: "Disputes open",
                cells,
            });
        }
    }
    rows
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    from: String,
    to: String,
    currency: String,
    step: &'static str,
    columns: Vec<Column>,
    rows: Vec<Row>,
    revenue_chart: String,
    revenue_legend: String,
    outflow_chart: String,
    outflow_legend: String,
    differences: usize,
}

/// `GET /console/`.
pub async fn show(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    Query(q): Query<DashboardQuery>,
) -> Response {
    let today = now().div_euclid(DAY) * DAY;
    let to =
        q.to.as_deref()
            .filter(|s| !s.is_empty())
            .and_then(parse_time)
            .unwrap_or(today + DAY);
    let from = q
        .from
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(parse_time)
        .unwrap_or(to - 30 * DAY);
    let currency = q
        .currency
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.trim().to_ascii_uppercase())
        .unwrap_or_else(|| default_currency(&st));
    let summary = match st.service.summary(None, from, to, &currency).await {
        Ok(s) => s,
        Err(e) => return domain_error(&e),
    };
    let weekly = q.step.as_deref() == Some("week") || (to - from) / DAY > 92;
    let step = bucket_size(from, to, if weekly { 7 * DAY } else { DAY });
    let c = currency.clone();
    let active = st
        .service
        .db
        .run(move |l| l.figures_by_period(&c, from, to, step))
        .await;
    let buckets = match active {
        Ok(active) => every_bucket(from, to, step, active),
        Err(e) => return domain_error(&e.into()),
    };
    let (revenue, outflow, labels) = chart_series(&summary, &buckets);
    let fmt = |v: i64| money(v, &currency);
    let columns = columns(&summary);
    let page = DashboardPage {
        chrome: Chrome::new(&st, &signed, "dashboard"),
        from: date(from),
        to: date(to),
        step: if weekly { "week" } else { "day" },
        differences: columns.iter().map(|c| c.differing.len()).sum(),
        revenue_chart: line_chart(
            &format!(
                "Revenue in {currency}, by {}",
                if weekly { "week" } else { "day" }
            ),
            &labels,
            &revenue,
            fmt,
        ),
        revenue_legend: legend(&revenue),
        outflow_chart: line_chart(
            &format!("Refunds, fees and chargebacks in {currency}"),
            &labels,
            &outflow,
            fmt,
        ),
        outflow_legend: legend(&outflow),
        rows: rows(&columns, &currency),
        currency,
        columns,
    };
    render(&page)
}

/// The currency the dashboard opens with: the default gateway's first, else USD.
fn default_currency(st: &ConsoleState) -> String {
    st.service
        .gateways
        .default_name()
        .and_then(|g| st.service.gateways.get(g))
        .and_then(|s| s.currencies().into_iter().next())
        .unwrap_or_else(|| "USD".to_string())
}

/// A bucket size of at least `wanted` that keeps the chart within [`MAX_BUCKETS`].
fn bucket_size(from: Ts, to: Ts, wanted: i64) -> i64 {
    let span = (to - from).max(1);
    let least = (span + MAX_BUCKETS - 1) / MAX_BUCKETS;
    wanted.max((least + DAY - 1) / DAY * DAY)
}

/// The chart's buckets from `from` to `to`, `step` apart: those of `active` (the periods with
/// activity, oldest first), and empty ones between.
fn every_bucket(
    from: Ts,
    to: Ts,
    step: i64,
    active: Vec<(Ts, Vec<LedgerFigures>)>,
) -> Vec<(Ts, Vec<LedgerFigures>)> {
    let mut active = active.into_iter().peekable();
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let figures = active
            .next_if(|(t, _)| *t == start)
            .map(|(_, f)| f)
            .unwrap_or_default();
        out.push((start, figures));
        start += step;
    }
    out
}

/// The columns of the figures table: combined first, then each gateway.
fn columns(s: &Summary) -> Vec<Column> {
    let open = |f: &LedgerFigures| {
        f.disputes_opened
            .saturating_sub(f.disputes_won)
            .saturating_sub(f.disputes_lost)
    };
    let mut out = vec![Column {
        name: "combined".into(),
        ledger: FiguresView::of_ledger(&s.combined, &s.currency),
        disputes_open: open(&s.combined),
        own: None,
        own_error: None,
        differing: Vec::new(),
    }];
    for g in &s.gateways {
        out.push(Column {
            name: g.gateway.clone(),
            ledger: FiguresView::of_ledger(&g.ledger, &s.currency),
            disputes_open: open(&g.ledger),
            own: g.gateway_figures.as_ref().map(FiguresView::of_gateway),
            own_error: g.gateway_figures_error.clone(),
            differing: g.differences.iter().map(|d| d.field.to_string()).collect(),
        });
    }
    out
}

/// The charts' series: revenue per gateway and combined; refunds, fees and chargebacks of all
/// gateways; and the buckets' labels.
fn chart_series(
    s: &Summary,
    buckets: &[(Ts, Vec<LedgerFigures>)],
) -> (Vec<Series>, Vec<Series>, Vec<String>) {
    // Month and day while the chart spans a year at most; the year too beyond.
    let long = match (buckets.first(), buckets.last()) {
        (Some((a, _)), Some((b, _))) => b - a > 366 * DAY,
        _ => false,
    };
    let labels = buckets
        .iter()
        .map(|(t, _)| {
            let d = date(*t);
            if long { d } else { d[5..].to_string() }
        })
        .collect();
    let sum = |figures: &[LedgerFigures], f: fn(&LedgerFigures) -> i64| -> i64 {
        figures.iter().map(f).sum()
    };
    let mut revenue: Vec<Series> = s
        .gateways
        .iter()
        .map(|g| Series {
            name: g.gateway.clone(),
            values: buckets
                .iter()
                .map(|(_, figures)| {
                    figures
                        .iter()
                        .filter(|f| f.gateway == g.gateway)
                        .map(|f| f.revenue)
                        .sum()
                })
                .collect(),
        })
        .collect();
    if revenue.len() > 1 {
        revenue.insert(
            0,
            Series {
                name: "combined".into(),
                values: buckets.iter().map(|(_, f)| sum(f, |x| x.revenue)).collect(),
            },
        );
    }
    let outflow = vec![
        Series {
            name: "refunds".into(),
            values: buckets.iter().map(|(_, f)| sum(f, |x| x.refunds)).collect(),
        },
        Series {
            name: "fees".into(),
            values: buckets.iter().map(|(_, f)| sum(f, |x| x.fees)).collect(),
        },
        Series {
            name: "chargebacks".into(),
            values: buckets
                .iter()
                .map(|(_, f)| sum(f, |x| x.chargeback_amount))
                .collect(),
        },
    ];
    (revenue, outflow, labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bucket_is_charted_with_the_active_ones_in_place() {
        let figures = |g: &str| LedgerFigures {
            gateway: g.into(),
            revenue: 1,
            ..Default::default()
        };
        let active = vec![(DAY, vec![figures("a")]), (3 * DAY, vec![figures("b")])];
        let all = every_bucket(0, 4 * DAY + 1, DAY, active);
        let starts: Vec<Ts> = all.iter().map(|(t, _)| *t).collect();
        assert_eq!(starts, [0, DAY, 2 * DAY, 3 * DAY, 4 * DAY]);
        let gateways: Vec<Vec<&str>> = all
            .iter()
            .map(|(_, f)| f.iter().map(|f| f.gateway.as_str()).collect())
            .collect();
        assert_eq!(gateways, [vec![], vec!["a"], vec![], vec!["b"], vec![]]);
    }

    #[test]
    fn buckets_stay_within_the_charts_limit() {
        assert_eq!(bucket_size(0, 30 * DAY, DAY), DAY);
        assert_eq!(bucket_size(0, 30 * DAY, 7 * DAY), 7 * DAY);
        let big = bucket_size(0, 3650 * DAY, 7 * DAY);
        assert!(3650 * DAY / big <= MAX_BUCKETS, "{big}");
    }
}
