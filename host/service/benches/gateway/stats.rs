//! Latency samples, percentiles and the printed table.

use std::fmt::Write as _;
use std::time::Duration;

/// Latencies of one measurement.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    sorted: Vec<Duration>,
}

impl Samples {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Samples { sorted: samples }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The `q` quantile (nearest rank), `q` in 0..=1.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.sorted.is_empty() {
            return None;
        }
        let rank = ((q * self.sorted.len() as f64).ceil() as usize).clamp(1, self.sorted.len());
        Some(self.sorted[rank - 1])
    }

    pub fn median(&self) -> Option<Duration> {
        self.quantile(0.5)
    }

    pub fn p99(&self) -> Option<Duration> {
        self.quantile(0.99)
    }
}

/// Formats a duration with a unit that keeps 3 significant digits.
pub fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} us", ns / 1_000.0)
    } else if ns < 1_000_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else {
        format!("{:.2} s", ns / 1_000_000_000.0)
    }
}

fn fmt_opt(d: Option<Duration>) -> String {
    d.map(fmt_duration).unwrap_or_else(|| "-".into())
}

/// One line of the results table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The measurement number of the issue (1..7).
    pub section: u8,
    pub what: String,
    pub samples: Samples,
    /// Operations per second, when the measurement is a throughput.
    pub rate: Option<f64>,
    /// Free text: ratio, protocol, errors, ...
    pub note: String,
}

impl Row {
    pub fn new(section: u8, what: impl Into<String>, samples: Samples) -> Self {
        Row {
            section,
            what: what.into(),
            samples,
            rate: None,
            note: String::new(),
        }
    }

    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = Some(rate);
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }
}

/// A target of the issue, met or not.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub section: u8,
    pub target: String,
    /// `None`: could not be measured in this run.
    pub met: Option<bool>,
    pub figure: String,
}

/// Renders the rows and verdicts as fixed-width text tables (also valid Markdown-ish).
pub fn render(rows: &[Row], verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    let header = ["#", "measurement", "n", "median", "p99", "rate/s", "notes"];
    let body: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.section.to_string(),
                r.what.clone(),
                r.samples.len().to_string(),
                fmt_opt(r.samples.median()),
                fmt_opt(r.samples.p99()),
                r.rate
                    .map(|x| format!("{x:.0}"))
                    .unwrap_or_else(|| "-".into()),
                r.note.clone(),
            ]
        })
        .collect();
    table(&mut out, &header, &body);
    out.push('\n');
    let header = ["#", "target", "met", "figure"];
    let body: Vec<[String; 4]> = verdicts
        .iter()
        .map(|v| {
            [
                v.section.to_string(),
                v.target.clone(),
                match v.met {
                    Some(true) => "met".into(),
                    Some(false) => "NOT MET".into(),
                    None => "-".into(),
                },
                v.figure.clone(),
            ]
        })
        .collect();
    table(&mut out, &header, &body);
    out
}

fn table<const N: usize>(out: &mut String, header: &[&str; N], body: &[[String; N]]) {
    let mut widths = header.map(|h| h.chars().count());
    for row in body {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut String, cells: &[&str]| {
        out.push('|');
        for (cell, w) in cells.iter().zip(widths) {
            let pad = w - cell.chars().count();
            let _ = write!(out, " {cell}{} |", " ".repeat(pad));
        }
        out.push('\n');
    };
    line(out, header);
    out.push('|');
    for w in widths {
        let _ = write!(out, "{}|", "-".repeat(w + 2));
    }
    out.push('\n');
    for row in body {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(out, &cells);
    }
}
