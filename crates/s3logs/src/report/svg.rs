//! The report's charts as inline SVG, drawn here in Rust so that the page needs no script
//! library and no network: stacked bars over time, lines over time and horizontal bars.
//!
//! Every text that comes from the logs goes through [`escape`]; each bar and point carries a
//! `<title>` with its exact value, which browsers show as a tooltip.

use std::fmt::Write as _;

use s3_access_log::LogTime;

/// Width in SVG units of a full-width chart; charts scale to their container, so a chart in a
/// half-width column is drawn [`HALF_WIDTH`] wide to keep its text the size of the page's.
pub const WIDTH: f64 = 1100.0;
/// Width in SVG units of a chart in a half-width column.
pub const HALF_WIDTH: f64 = 540.0;
/// Left margin, for the value axis labels.
const LEFT: f64 = 72.0;
/// Right margin.
const RIGHT: f64 = 12.0;
/// Top margin.
const TOP: f64 = 12.0;
/// Bottom margin, for the time axis labels.
const BOTTOM: f64 = 28.0;
/// Time axis labels drawn at most.
const TIME_LABELS: usize = 6;

/// Text for HTML and SVG: `&`, `<`, `>`, `"` and `'` replaced by entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

/// How values on an axis read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A count: `12,345`.
    Count,
    /// Bytes: `1.2 GB`.
    Bytes,
    /// A share from 0 to 1: `12.5%`.
    Share,
}

impl Unit {
    /// `value` as this unit reads.
    pub fn format(self, value: f64) -> String {
        match self {
            Unit::Count => count(value.round() as u64),
            Unit::Bytes => bytes(value),
            Unit::Share => format!("{:.1}%", value * 100.0),
        }
    }
}

/// `n` with thousands separators.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A byte amount in decimal units.
pub fn bytes(value: f64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = value;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    match unit {
        0 => format!("{value:.0} B"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

/// The start of a bucket `width` seconds wide, as the time axis labels it (UTC).
pub fn bucket_label(start: i64, width: i64) -> String {
    let mut text = Vec::with_capacity(19);
    LogTime::from_epoch_seconds(start).write_utc(&mut text);
    let text = String::from_utf8_lossy(&text).into_owned();
    match width {
        w if w < 86_400 => format!("{} {}", &text[..10], &text[11..16]),
        _ => text[..10].to_owned(),
    }
}

/// One series of a chart over time.
#[derive(Clone, Copy, Debug)]
pub struct Series<'a> {
    /// Its name in the legend and tooltips.
    pub name: &'a str,
    /// Its colour.
    pub color: &'a str,
}

/// A chart over time: bucket starts, their width, and one value per series per bucket.
pub struct OverTime<'a> {
    /// Accessible name of the chart.
    pub label: &'a str,
    /// Bucket width in seconds.
    pub bucket_seconds: i64,
    /// Per bucket: its start and a value per series (`None`: no data, e.g. a share of nothing).
    pub buckets: Vec<(i64, Vec<Option<f64>>)>,
    /// The series, in stacking order (bottom first).
    pub series: &'a [Series<'a>],
    /// How values read.
    pub unit: Unit,
    /// Chart width in SVG units ([`WIDTH`] or [`HALF_WIDTH`]).
    pub view_width: f64,
    /// Chart height in SVG units.
    pub height: f64,
}

impl OverTime<'_> {
    /// Stacked bars, one per bucket.
    pub fn bars(&self) -> String {
        let top = self
            .buckets
            .iter()
            .map(|(_, values)| values.iter().flatten().sum::<f64>())
            .fold(0.0, f64::max);
        let axis = Axis::new(top, self.unit, self.height);
        let mut svg = self.open(&axis);
        let slot = (self.view_width - LEFT - RIGHT) / self.buckets.len().max(1) as f64;
        let bar = (slot * 0.8).max(1.0);
        for (i, (start, values)) in self.buckets.iter().enumerate() {
            let x = LEFT + i as f64 * slot + (slot - bar) / 2.0;
            let mut base = 0.0;
            for (series, value) in self.series.iter().zip(values) {
                let value = value.unwrap_or(0.0);
                if value <= 0.0 {
                    continue;
                }
                let (y0, y1) = (axis.y(base), axis.y(base + value));
                let _ = write!(
                    svg,
                    r#"<rect x="{x:.2}" y="{y1:.2}" width="{bar:.2}" height="{h:.2}" fill="{color}"><title>{when} · {name}: {value}</title></rect>"#,
                    h = (y0 - y1).max(0.5),
                    color = series.color,
                    when = escape(&bucket_label(*start, self.bucket_seconds)),
                    name = escape(series.name),
                    value = self.unit.format(value),
                );
                base += value;
            }
        }
        self.close(svg)
    }

    /// One line per series, broken where a bucket has no value.
    pub fn lines(&self) -> String {
        let top = self
            .buckets
            .iter()
            .flat_map(|(_, values)| values.iter().flatten())
            .fold(0.0, |a: f64, &b| a.max(b));
        let axis = Axis::new(top, self.unit, self.height);
        let mut svg = self.open(&axis);
        let slot = (self.view_width - LEFT - RIGHT) / self.buckets.len().max(1) as f64;
        for (s, series) in self.series.iter().enumerate() {
            let mut path = String::new();
            let mut pen_down = false;
            let mut dots = String::new();
            for (i, (start, values)) in self.buckets.iter().enumerate() {
                let Some(value) = values.get(s).copied().flatten() else {
                    pen_down = false;
                    continue;
                };
                let (x, y) = (LEFT + (i as f64 + 0.5) * slot, axis.y(value));
                let _ = write!(path, "{}{x:.2},{y:.2} ", if pen_down { "L" } else { "M" });
                pen_down = true;
                let _ = write!(
                    dots,
                    r#"<circle cx="{x:.2}" cy="{y:.2}" r="3" fill="{color}"><title>{when} · {name}: {value}</title></circle>"#,
                    color = series.color,
                    when = escape(&bucket_label(*start, self.bucket_seconds)),
                    name = escape(series.name),
                    value = self.unit.format(value),
                );
            }
            let _ = write!(
                svg,
                r#"<path d="{path}" fill="none" stroke="{color}" stroke-width="2"/>{dots}"#,
                path = path.trim_end(),
                color = series.color,
            );
        }
        self.close(svg)
    }

    /// The opening tag, the value grid and the time axis labels.
    fn open(&self, axis: &Axis) -> String {
        let mut svg = format!(
            r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{label}">"#,
            w = self.view_width,
            h = self.height,
            label = escape(self.label),
        );
        axis.draw(&mut svg, self.view_width);
        let n = self.buckets.len();
        let slot = (self.view_width - LEFT - RIGHT) / n.max(1) as f64;
        let labels = if self.view_width < WIDTH {
            TIME_LABELS / 2
        } else {
            TIME_LABELS
        };
        let step = n.div_ceil(labels).max(1);
        for (i, (start, _)) in self.buckets.iter().enumerate().step_by(step) {
            let x = LEFT + (i as f64 + 0.5) * slot;
            let _ = write!(
                svg,
                r#"<text class="axis" x="{x:.2}" y="{y:.2}" text-anchor="middle">{label}</text>"#,
                y = self.height - 8.0,
                label = escape(&bucket_label(*start, self.bucket_seconds)),
            );
        }
        svg
    }

    fn close(&self, mut svg: String) -> String {
        svg.push_str("</svg>");
        if self.series.len() > 1 {
            svg.push_str(&legend(self.series));
        }
        svg
    }
}

/// The legend of a chart, as HTML under it.
fn legend(series: &[Series<'_>]) -> String {
    let mut html = String::from(r#"<ul class="legend">"#);
    for s in series {
        let _ = write!(
            html,
            r#"<li><span class="swatch" style="background:{}"></span>{}</li>"#,
            s.color,
            escape(s.name)
        );
    }
    html.push_str("</ul>");
    html
}

/// The value axis: from 0 in one to four round steps (1, 2 or 5 times a power of ten), with a
/// grid line at each; never empty, so a chart without data still draws.
struct Axis {
    step: f64,
    lines: usize,
    height: f64,
    unit: Unit,
}

impl Axis {
    /// Most grid lines above the baseline.
    const MAX_LINES: f64 = 4.0;

    fn new(top: f64, unit: Unit, height: f64) -> Self {
        // Counts step by whole requests, shares by a tenth of a percent at least.
        let smallest = match unit {
            Unit::Share => 0.001,
            Unit::Count | Unit::Bytes => 1.0,
        };
        let step = round_step((top / Self::MAX_LINES).max(smallest));
        Axis {
            step,
            lines: ((top / step).ceil() as usize).clamp(1, Self::MAX_LINES as usize),
            height,
            unit,
        }
    }

    fn max(&self) -> f64 {
        self.step * self.lines as f64
    }

    /// The vertical position of `value`.
    fn y(&self, value: f64) -> f64 {
        let plot = self.height - TOP - BOTTOM;
        self.height - BOTTOM - value / self.max() * plot
    }

    fn draw(&self, svg: &mut String, width: f64) {
        for i in 0..=self.lines {
            let value = self.step * i as f64;
            let y = self.y(value);
            let _ = write!(
                svg,
                r#"<line class="grid" x1="{LEFT}" x2="{x2}" y1="{y:.2}" y2="{y:.2}"/><text class="axis" x="{lx}" y="{ty:.2}" text-anchor="end">{label}</text>"#,
                x2 = width - RIGHT,
                lx = LEFT - 6.0,
                ty = y + 4.0,
                label = self.unit.format(value),
            );
        }
    }
}

/// The smallest of 1, 2 or 5 times a power of ten that is at least `at_least` (> 0).
fn round_step(at_least: f64) -> f64 {
    let mut power = 10f64.powi(at_least.log10().floor() as i32);
    // Guard the float logarithm: step up or down by a power until it brackets the value.
    while power > at_least {
        power /= 10.0;
    }
    while power * 10.0 <= at_least {
        power *= 10.0;
    }
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&step| step >= at_least)
        .unwrap_or(10.0 * power)
}

/// Horizontal bars, one per (label, value), largest first as given.
pub fn ranking(label: &str, items: &[(&str, u64)], color: &str) -> String {
    const ROW: f64 = 22.0;
    const TEXT: f64 = 250.0;
    let height = (items.len().max(1) as f64) * ROW + 8.0;
    let mut svg = format!(
        r#"<svg class="chart ranking" viewBox="0 0 {HALF_WIDTH} {height}" role="img" aria-label="{}">"#,
        escape(label)
    );
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let room = HALF_WIDTH - TEXT - 70.0;
    if items.is_empty() {
        let _ = write!(svg, r#"<text class="axis" x="8" y="18">none</text>"#);
    }
    for (i, (name, value)) in items.iter().enumerate() {
        let y = 4.0 + i as f64 * ROW;
        let shown = shorten(name);
        let w = (*value as f64 / max * room).max(1.0);
        let _ = write!(
            svg,
            r#"<g><title>{full}: {n}</title><text class="label" x="{lx}" y="{ty:.1}" text-anchor="end">{shown}</text><rect x="{TEXT}" y="{y:.1}" width="{w:.2}" height="{bh}" fill="{color}"/><text class="value" x="{vx:.2}" y="{ty:.1}">{n}</text></g>"#,
            full = escape(name),
            n = count(*value),
            lx = TEXT - 8.0,
            ty = y + 15.0,
            shown = escape(&shown),
            bh = ROW - 6.0,
            vx = TEXT + w + 6.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Longest label of a ranking, in characters; it fits the label column at the page's font size.
const LABEL_CHARS: usize = 32;

/// `name` cut in the middle to [`LABEL_CHARS`]: both ends stay, because ARNs and keys differ at
/// the end and user agents at the start. The full value is in the bar's tooltip.
fn shorten(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= LABEL_CHARS {
        return name.to_owned();
    }
    let head = LABEL_CHARS / 3;
    let tail = LABEL_CHARS - head - 1;
    let mut shown: String = chars[..head].iter().collect();
    shown.push('…');
    shown.extend(&chars[chars.len() - tail..]);
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<script>alert("x&'y")</script>"#),
            "&lt;script&gt;alert(&quot;x&amp;&#39;y&quot;)&lt;/script&gt;"
        );
    }

    #[test]
    fn formats_values() {
        let cases = [
            (Unit::Count.format(1234567.0), "1,234,567"),
            (Unit::Count.format(999.0), "999"),
            (Unit::Bytes.format(999.0), "999 B"),
            (Unit::Bytes.format(1_500_000.0), "1.5 MB"),
            (Unit::Share.format(0.125), "12.5%"),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn axes_step_in_round_numbers() {
        // (top value, unit, step, grid lines)
        let cases = [
            (0.0, Unit::Count, 1.0, 1),
            (1.0, Unit::Count, 1.0, 1),
            (3.0, Unit::Count, 1.0, 3),
            (5.0, Unit::Count, 2.0, 3),
            (70.0, Unit::Count, 20.0, 4),
            (100.0, Unit::Count, 50.0, 2),
            (4200.0, Unit::Count, 2000.0, 3),
            (0.3, Unit::Share, 0.1, 3),
            (0.0, Unit::Share, 0.001, 1),
            (64e6, Unit::Bytes, 2e7, 4),
        ];
        for (top, unit, step, lines) in cases {
            let axis = Axis::new(top, unit, 100.0);
            assert_eq!((axis.step, axis.lines), (step, lines), "{top} {unit:?}");
            assert!(axis.max() >= top);
        }
    }

    #[test]
    fn labels_buckets_by_width() {
        assert_eq!(bucket_label(3_600, 3_600), "1970-01-01 01:00");
        assert_eq!(bucket_label(86_400, 86_400), "1970-01-02");
    }

    #[test]
    fn shortens_long_labels_in_the_middle() {
        assert_eq!(shorten("REST.GET.OBJECT"), "REST.GET.OBJECT");
        let arn = "arn:aws:sts::111122223333:assumed-role/analyst/jane";
        let short = shorten(arn);
        assert_eq!(short.chars().count(), LABEL_CHARS);
        assert_eq!(short, "arn:aws:st…med-role/analyst/jane");
    }

    #[test]
    fn escapes_labels_in_rankings() {
        let svg = ranking("agents", &[("<script>alert(1)</script>", 3)], "#000");
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!svg.contains("<script>"));
    }
}
