//! The outcome of a run: one result per check, printed a line each with a summary line, and
//! written as JUnit XML or JSON for CI.

use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;

/// How one check ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "kebab-case")]
pub enum Outcome {
    /// The gateway keeps the promise.
    Passed,
    /// It does not: why.
    Failed(String),
    /// The check does not apply to this gateway (its capabilities, or the fixtures): why. Not
    /// counted as passed.
    NotApplicable(String),
}

/// The result of one check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// Its stable identifier, `<area>.<name>` (`bounds.refund-above-captured`).
    pub id: String,
    /// The promise checked, in a sentence.
    pub promise: String,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

/// Every check's result, in the order they ran.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The gateway's name (`info.name`) and version.
    pub gateway: String,
    /// The contract version the component exports.
    pub contract: String,
    /// The results.
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// How many checks passed.
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Passed))
    }

    /// How many failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }

    /// How many did not apply.
    pub fn not_applicable(&self) -> usize {
        self.count(|o| matches!(o, Outcome::NotApplicable(_)))
    }

    fn count(&self, which: impl Fn(&Outcome) -> bool) -> usize {
        self.checks.iter().filter(|c| which(&c.outcome)).count()
    }

    /// Whether no check failed.
    pub fn success(&self) -> bool {
        self.failed() == 0
    }

    /// The result of the check `id`, if it ran.
    pub fn check(&self, id: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// The identifiers of the failed checks.
    pub fn failed_ids(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Failed(_)))
            .map(|c| c.id.as_str())
            .collect()
    }

    /// The summary line: `N passed, N failed (N not applicable)`.
    pub fn summary(&self) -> String {
        format!(
            "{} passed, {} failed ({} not applicable)",
            self.passed(),
            self.failed(),
            self.not_applicable()
        )
    }

    /// One line per check, then the summary line.
    pub fn text(&self) -> String {
        let mut out = format!(
            "conformance of {} (contract {})\n",
            self.gateway, self.contract
        );
        for check in &self.checks {
            let _ = match &check.outcome {
                Outcome::Passed => writeln!(out, "pass  {}: {}", check.id, check.promise),
                Outcome::Failed(why) => {
                    writeln!(out, "FAIL  {}: {}\n      {why}", check.id, check.promise)
                }
                Outcome::NotApplicable(why) => {
                    writeln!(out, "n/a   {}: {} ({why})", check.id, check.promise)
                }
            };
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    /// The report as JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The report as a JUnit XML test suite: a failed check is a `failure`, a check that does
    /// not apply is `skipped` with its reason.
    pub fn junit(&self) -> String {
        let total: u64 = self.checks.iter().map(|c| c.millis).sum();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\">",
            xml(&format!("conformance {}", self.gateway)),
            self.checks.len(),
            self.failed(),
            self.not_applicable(),
            seconds(total)
        );
        for check in &self.checks {
            let area = check.id.split('.').next().unwrap_or("");
            let _ = write!(
                out,
                "  <testcase classname=\"conformance.{}\" name=\"{}\" time=\"{}\"",
                xml(area),
                xml(&check.id),
                seconds(check.millis)
            );
            let _ = match &check.outcome {
                Outcome::Passed => writeln!(out, "/>"),
                Outcome::Failed(why) => writeln!(
                    out,
                    ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>",
                    xml(&check.promise),
                    xml(why)
                ),
                Outcome::NotApplicable(why) => writeln!(
                    out,
                    ">\n    <skipped message=\"not applicable: {}\"/>\n  </testcase>",
                    xml(why)
                ),
            };
        }
        out.push_str("</testsuite>\n");
        out
    }
}

fn seconds(millis: u64) -> String {
    format!("{:.3}", Duration::from_millis(millis).as_secs_f64())
}

/// Text escaped for XML attributes and content; control characters other than tab and line
/// breaks (not allowed in XML 1.0) become `?`.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let check = |id: &str, outcome| CheckResult {
            id: id.into(),
            promise: "keeps <its> promise".into(),
            outcome,
            millis: 12,
        };
        Report {
            gateway: "test 1.0".into(),
            contract: "0.2.0".into(),
            checks: vec![
                check("a.one", Outcome::Passed),
                check("b.two", Outcome::Failed("got \"x\" & \u{1} y".into())),
                check("c.three", Outcome::NotApplicable("no lookup".into())),
            ],
        }
    }

    #[test]
    fn counts_and_summary() {
        let report = report();
        assert_eq!(report.summary(), "1 passed, 1 failed (1 not applicable)");
        assert!(!report.success());
        assert_eq!(report.failed_ids(), ["b.two"]);
        assert!(
            report
                .text()
                .ends_with("1 passed, 1 failed (1 not applicable)\n")
        );
    }

    #[test]
    fn junit_escapes_and_marks_skipped_and_failed() {
        let xml = report().junit();
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("got &quot;x&quot; &amp; ? y"), "{xml}");
        assert!(
            xml.contains("<skipped message=\"not applicable: no lookup\"/>"),
            "{xml}"
        );
        assert!(xml.contains("keeps &lt;its&gt; promise"), "{xml}");
    }

    #[test]
    fn json_names_outcomes() {
        let json: serde_json::Value = serde_json::from_str(&report().json()).unwrap();
        assert_eq!(json["checks"][1]["outcome"], "failed");
        assert_eq!(json["checks"][2]["outcome"], "not-applicable");
        assert_eq!(json["checks"][2]["reason"], "no lookup");
    }
}
