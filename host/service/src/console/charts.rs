//! Charts drawn on the server as SVG: a line per series over time buckets, with the axis
//! labelled in the figures' own format. Every text in the SVG is escaped here (series are named
//! after gateways); colours come from the console's stylesheet through classes, so the policy
//! needs no inline style.

use std::fmt::Write as _;

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Its name, for the legend.
    pub name: String,
    /// One value per bucket.
    pub values: Vec<i64>,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 96.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 28.0;

/// Escapes text for SVG (XML).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A line chart of `series` over the buckets named by `labels`; `format` writes a value for
/// the axis.
pub fn line_chart(
    title: &str,
    labels: &[String],
    series: &[Series],
    format: impl Fn(i64) -> String,
) -> String {
    let values = series.iter().flat_map(|s| s.values.iter().copied());
    let max = values.clone().max().unwrap_or(0).max(0);
    let min = values.min().unwrap_or(0).min(0);
    let span = (max - min).max(1) as f64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let n = labels.len().max(1);
    let x = |i: usize| {
        LEFT + if n > 1 {
            plot_w * i as f64 / (n - 1) as f64
        } else {
            plot_w / 2.0
        }
    };
    let y = |v: i64| TOP + plot_h * (1.0 - (v - min) as f64 / span);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = escape(title)
    );
    // Horizontal grid: the bottom, the top and the middle (and zero when it is neither).
    let mut ticks = vec![min, max, min + (max - min) / 2];
    if min < 0 {
        ticks.push(0);
    }
    ticks.sort_unstable();
    ticks.dedup();
    for v in ticks {
        let yy = y(v);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}"/><text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            escape(&format(v))
        );
    }
    // At most 8 labels along the bottom, evenly spaced back from the last.
    let every = n.div_ceil(8).max(1);
    for (i, label) in labels.iter().enumerate() {
        if (n - 1 - i).is_multiple_of(every) {
            let _ = write!(
                svg,
                r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="{}">{}</text>"#,
                x(i),
                HEIGHT - 8.0,
                // The first and last labels stay inside the chart.
                match i {
                    0 if n > 1 => "start",
                    i if i + 1 == n && n > 1 => "end",
                    _ => "middle",
                },
                escape(label)
            );
        }
    }
    for (k, s) in series.iter().enumerate() {
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline class="series s{}" fill="none" points="{}"><title>{}</title></polyline>"#,
            k % 6,
            points.join(" "),
            escape(&s.name)
        );
        if s.values.len() == 1 {
            let _ = write!(
                svg,
                r#"<circle class="series s{}" cx="{:.1}" cy="{:.1}" r="3"/>"#,
                k % 6,
                x(0),
                y(s.values[0])
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// The legend of a chart's series, as HTML (names escaped).
pub fn legend(series: &[Series]) -> String {
    let mut html = String::from(r#"<ul class="legend">"#);
    for (k, s) in series.iter().enumerate() {
        let _ = write!(
            html,
            r#"<li><span class="swatch s{}"></span>{}</li>"#,
            k % 6,
            escape(&s.name)
        );
    }
    html.push_str("</ul>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_escapes_its_names_and_scales_its_lines() {
        let series = vec![
            Series {
                name: "<script>alert(1)</script>".into(),
                values: vec![0, 50, 100],
            },
            Series {
                name: "net".into(),
                values: vec![-10, 0, 10],
            },
        ];
        let labels = vec!["a".to_string(), "b".into(), "c".into()];
        let svg = line_chart("Revenue & refunds", &labels, &series, |v| v.to_string());
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;") && svg.contains("Revenue &amp; refunds"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        // The top of the plot is the largest value, the bottom the smallest.
        assert!(svg.contains(&format!("{:.1},{:.1}", WIDTH - RIGHT, TOP)));
        assert!(svg.contains(">-10</text>") && svg.contains(">100</text>"));
        assert!(!legend(&series).contains("<script>"));
    }
}
