//! The report page: one self-contained HTML file (styles, charts and a small script inline; no
//! network needed to view it, which its Content-Security-Policy enforces).
//!
//! The inline script only checks the page: it marks the root element `data-rendered="ok"` when
//! every section has its charts and no script error happened, which the browser test reads.

use std::fmt::Write as _;

use pipeline::audit::Rule;

use super::stats::{Field, Hits, SKETCH_CAPACITY, Traffic, migration_column, traffic_column};
use super::svg::{HALF_WIDTH, OverTime, Series, Unit, WIDTH, bucket_label, bytes, count, escape, ranking};
use super::timeline::Timeline;

/// Bars drawn at most in a chart over time; more buckets are merged into wider ones (hours
/// into days, days into weeks...): up to 16 days show hours, up to a year and a month days.
const MAX_BARS: usize = 400;

/// Rows in each top-k chart.
const TOP_ROWS: usize = 15;

/// Sources listed per detection.
const TOP_SOURCES: usize = 5;

/// What the page is made from.
pub struct Page<'a> {
    /// The inputs, as one line (`3 files: 2 raw log, 1 Parquet`).
    pub inputs: String,
    /// Problems met while reading (unreadable files, damaged content), counted on the page.
    pub problems: usize,
    /// Traffic counts.
    pub traffic: &'a Traffic,
    /// Detection hits.
    pub hits: &'a Hits,
    /// The detections that ran, in catalogue order.
    pub rules: Vec<Rule>,
    /// The user-agent exclusion of the detections, if any.
    pub excluded_agents: Option<String>,
    /// Window counters the engine dropped at its memory bound (bursts may have been missed).
    pub window_evictions: u64,
}

const STATUS_SERIES: [Series<'static>; 5] = [
    Series {
        name: "2xx",
        color: "#2e7d32",
    },
    Series {
        name: "3xx",
        color: "#1565c0",
    },
    Series {
        name: "4xx",
        color: "#ef6c00",
    },
    Series {
        name: "5xx",
        color: "#c62828",
    },
    Series {
        name: "no status",
        color: "#9e9e9e",
    },
];

const STYLE: &str = "
:root{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2328;background:#f6f8fa}
body{margin:0 auto;max-width:1200px;padding:16px 24px 48px}
h1{font-size:1.6rem;margin:8px 0 4px}h2{font-size:1.2rem;margin:0 0 8px}h3{font-size:1rem;margin:0 0 4px}
section,header{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px;margin:16px 0}
.totals{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:8px;margin:12px 0}
.totals div{background:#f6f8fa;border-radius:6px;padding:8px}.totals dt{font-size:.8rem;color:#57606a}
.totals dd{margin:0;font-size:1.2rem;font-weight:600}
.note{font-size:.85rem;color:#57606a}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:16px}
figure{margin:0}figcaption{font-size:.8rem;color:#57606a;margin-top:4px}
svg.chart{width:100%;height:auto;display:block}
svg .axis{font-size:11px;fill:#57606a}svg .label,svg .value{font-size:12px;fill:#1f2328}
svg .grid{stroke:#d8dee4;stroke-width:1}
.legend{list-style:none;display:flex;gap:16px;padding:0;margin:4px 0 0;font-size:.85rem}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #d8dee4}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.sev{display:inline-block;border-radius:10px;padding:0 8px;font-size:.8rem;font-weight:600;color:#fff}
.sev-high{background:#c62828}.sev-medium{background:#ef6c00}.sev-low{background:#1565c0}.sev-info{background:#6e7781}
.detection{border:1px solid #d8dee4;border-radius:6px;padding:12px}
.detection p{margin:4px 0;font-size:.85rem}
";

const SCRIPT: &str = "
(function () {
  var errors = [];
  window.addEventListener('error', function (event) {
    errors.push(String(event.message));
    document.documentElement.setAttribute('data-errors', errors.join(' | '));
  });
  var missing = [];
  var sections = document.querySelectorAll('section[data-charts]');
  for (var i = 0; i < sections.length; i++) {
    var wanted = Number(sections[i].getAttribute('data-charts'));
    if (sections[i].querySelectorAll('svg.chart').length < wanted) missing.push(sections[i].id);
  }
  document.documentElement.setAttribute(
    'data-rendered', missing.length === 0 && errors.length === 0 ? 'ok' : 'missing ' + missing.join(','));
})();
";

/// The whole page.
pub fn render(page: &Page<'_>) -> String {
    let mut html = String::with_capacity(256 * 1024);
    html.push_str(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; ",
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<title>S3 access log report</title><style>"
    ));
    html.push_str(STYLE);
    html.push_str("</style></head><body>\n");
    header(&mut html, page);
    requests(&mut html, page.traffic);
    migration(&mut html, page.traffic);
    detections(&mut html, page);
    top(&mut html, page.traffic);
    let _ = writeln!(html, "<script>{SCRIPT}</script></body></html>");
    html
}

fn header(html: &mut String, page: &Page<'_>) {
    let traffic = page.traffic;
    let span = match traffic.span {
        Some((first, last)) => format!("{} – {} UTC", bucket_label(first, 60), bucket_label(last, 60)),
        None => "no times".to_owned(),
    };
    let hits: u64 = page.hits.by_rule.values().map(|r| r.count).sum();
    let _ = write!(
        html,
        "<header><h1>S3 server access log report</h1>\n<p id=\"inputs\">{inputs}{problems}</p>\n",
        inputs = escape(&page.inputs),
        problems = match page.problems {
            0 => String::new(),
            n => format!("; {n} problem(s) while reading, listed by the command"),
        },
    );
    html.push_str("<dl class=\"totals\">");
    let totals = [
        ("Requests", count(traffic.records - traffic.bad_lines)),
        ("Time span", span),
        ("Bytes sent", bytes(traffic.bytes_sent as f64)),
        ("Detection hits", count(hits)),
        ("Quarantined lines (ParseError)", count(traffic.parse_errors)),
        ("Lines that are not records", count(traffic.bad_lines)),
    ];
    for (name, value) in totals {
        let _ = write!(html, "<div><dt>{name}</dt><dd>{}</dd></div>", escape(&value));
    }
    html.push_str("</dl>\n");
    let _ = writeln!(
        html,
        "<p class=\"note\">Times are UTC. Request and byte counts over time are exact. The top lists \
         are counted in bounded memory (a Misra-Gries sketch of {capacity} values per list), so when \
         a list had more distinct values its counts may be low; each chart says by how much at most. \
         {untimed}</p></header>",
        capacity = count(SKETCH_CAPACITY as u64),
        untimed = match traffic.untimed {
            0 => String::new(),
            n => format!(
                "Records without a readable time (quarantined lines, mostly): {}; they count in \
                 the totals, not in the charts over time.",
                count(n)
            ),
        },
    );
}

/// Requests by status class and bytes sent over time.
fn requests(html: &mut String, traffic: &Traffic) {
    let timeline = traffic.requests.coarsened(MAX_BARS);
    let status = OverTime {
        label: "Requests over time by status class",
        bucket_seconds: timeline.width(),
        view_width: WIDTH,
        buckets: columns(&timeline, |c| {
            STATUS_SERIES
                .iter()
                .enumerate()
                .map(|(i, _)| Some(c[i] as f64))
                .collect()
        }),
        series: &STATUS_SERIES,
        unit: Unit::Count,
        height: 260.0,
    };
    let sent = [Series {
        name: "bytes sent",
        color: "#6f42c1",
    }];
    let bytes_chart = OverTime {
        label: "Bytes sent over time",
        bucket_seconds: timeline.width(),
        view_width: WIDTH,
        buckets: columns(&timeline, |c| vec![Some(c[traffic_column::BYTES_SENT] as f64)]),
        series: &sent,
        unit: Unit::Bytes,
        height: 220.0,
    };
    let _ = writeln!(
        html,
        "<section id=\"requests\" data-charts=\"2\"><h2>Requests over time by status class</h2>\
         <figure>{}<figcaption>{}</figcaption></figure>\
         <h2>Bytes sent over time</h2><figure>{}<figcaption>{}</figcaption></figure></section>",
        status.bars(),
        width_caption(&timeline, "bar"),
        bytes_chart.bars(),
        width_caption(&timeline, "bar"),
    );
}

/// The share of SigV2 and of legacy TLS per day.
fn migration(html: &mut String, traffic: &Traffic) {
    let timeline = traffic.migration.coarsened(MAX_BARS);
    let series = [
        Series {
            name: "SigV2 share of signed requests",
            color: "#c62828",
        },
        Series {
            name: "TLS 1.0/1.1 share of HTTPS requests",
            color: "#ef6c00",
        },
    ];
    let share = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64);
    let chart = OverTime {
        label: "Migration progress: SigV2 and legacy TLS share per day",
        bucket_seconds: timeline.width(),
        view_width: WIDTH,
        buckets: columns(&timeline, |c| {
            vec![
                share(c[migration_column::SIGV2], c[migration_column::SIGNED]),
                share(c[migration_column::LEGACY_TLS], c[migration_column::TLS]),
            ]
        }),
        series: &series,
        unit: Unit::Share,
        height: 240.0,
    };
    let _ = writeln!(
        html,
        "<section id=\"migration\" data-charts=\"1\"><h2>Migration progress</h2>\
         <p class=\"note\">Both lines should reach 0% before AWS turns SigV2 and TLS 1.0/1.1 off. \
         A day with no signed (or no HTTPS) requests has no point.</p>\
         <figure>{}<figcaption>{}</figcaption></figure></section>",
        chart.lines(),
        width_caption(&timeline, "point"),
    );
}

/// The detections that ran: a table, then each one's timeline and top sources.
fn detections(html: &mut String, page: &Page<'_>) {
    let _ = write!(
        html,
        "<section id=\"detections\" data-charts=\"{}\"><h2>Detections</h2>\
         <p class=\"note\">The audit engine's detections (<code>s3logs audit --list</code>), run on \
         every record{excluded}. Windowed detections (bursts) count over all the inputs together \
         (the postprocessor counts within one object), one hit per window and per IP or requester \
         that reached the threshold.{evicted}{unreadable}</p>\
         <table><thead><tr><th>Detection</th><th>Severity</th><th>MITRE ATT&amp;CK</th><th>Title</th>\
         <th class=\"n\">Hits</th></tr></thead><tbody>",
        page.rules.len(),
        excluded = match &page.excluded_agents {
            Some(pattern) => format!(
                " (sigv2, tls-legacy and acl-required except requests whose user agent matches \
                 <code>{}</code>)",
                escape(pattern)
            ),
            None => String::new(),
        },
        unreadable = match page.hits.unreadable {
            0 => String::new(),
            n => format!(
                " {} hit lines of the engine could not be read and are not counted.",
                count(n)
            ),
        },
        evicted = match page.window_evictions {
            0 => String::new(),
            n => format!(
                " <strong>{} window counters were dropped at the engine's memory bound, so bursts \
                 may have been missed.</strong>",
                count(n)
            ),
        },
    );
    for rule in &page.rules {
        let detection = rule.detection();
        let hits = page.hits.of(rule.name()).map_or(0, |r| r.count);
        let _ = write!(
            html,
            "<tr><td><a href=\"#detection-{id}\">{id}</a></td><td><span class=\"sev sev-{sev}\">{sev}</span></td>\
             <td>{mitre}</td><td>{title}</td><td class=\"n\">{hits}</td></tr>",
            id = escape(rule.name()),
            sev = detection.severity.name(),
            mitre = escape(&detection.mitre_text()),
            title = escape(detection.title),
            hits = count(hits),
        );
    }
    html.push_str("</tbody></table><div class=\"grid\" style=\"margin-top:16px\">");
    let span = page.traffic.requests.coarsened(MAX_BARS);
    for rule in &page.rules {
        let detection = rule.detection();
        let hits = page.hits.of(rule.name());
        let series = [Series {
            name: "hits",
            color: severity_color(detection.severity.name()),
        }];
        let none = Timeline::hourly(1);
        let timeline = aligned(hits.map_or(&none, |h| &h.timeline), &span);
        let chart = OverTime {
            label: rule.name(),
            bucket_seconds: timeline.width(),
            view_width: HALF_WIDTH,
            buckets: columns(&timeline, |c| vec![Some(c[0] as f64)]),
            series: &series,
            unit: Unit::Count,
            height: 150.0,
        };
        let sources = hits.map_or_else(Vec::new, |h| h.sources.top(TOP_SOURCES));
        let sources = match sources.is_empty() {
            true => "none".to_owned(),
            false => sources
                .iter()
                .map(|(ip, n)| format!("{} ({})", escape(ip), count(*n)))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let _ = write!(
            html,
            "<div class=\"detection\" id=\"detection-{id}\"><h3>{id} <span class=\"sev sev-{sev}\">{sev}</span> \
             {hits} hit(s)</h3><p>{title}. {description}</p>{chart}<p>Top source IPs: {sources}</p></div>",
            id = escape(rule.name()),
            sev = detection.severity.name(),
            hits = count(hits.map_or(0, |h| h.count)),
            title = escape(detection.title),
            description = escape(detection.description),
            chart = chart.bars(),
        );
    }
    html.push_str("</div></section>\n");
}

/// The top-k charts.
fn top(html: &mut String, traffic: &Traffic) {
    let _ = write!(
        html,
        "<section id=\"top\" data-charts=\"{}\"><h2>Top talkers</h2><div class=\"grid\">",
        Field::ALL.len()
    );
    for (field, sketch) in Field::ALL.iter().zip(&traffic.top) {
        let caption = match sketch.max_undercount() {
            0 => "Exact counts.".to_owned(),
            n => format!("Approximate: each count may be low by up to {}.", count(n)),
        };
        let _ = write!(
            html,
            "<figure><h3>{}</h3>{}<figcaption>{caption}</figcaption></figure>",
            field.title(),
            ranking(field.title(), &sketch.top(TOP_ROWS), "#0969da"),
        );
    }
    html.push_str("</div></section>\n");
}

/// The bars of a timeline, each bucket mapped to its series values.
fn columns(timeline: &Timeline, values: impl Fn(&[u64]) -> Vec<Option<f64>>) -> Vec<(i64, Vec<Option<f64>>)> {
    timeline
        .buckets()
        .into_iter()
        .map(|(start, counters)| (start, values(&counters)))
        .collect()
}

/// A detection's hits over the same span and bucket width as the traffic charts, so that the
/// timelines line up and a quiet detection still shows the whole span.
fn aligned(hits: &Timeline, span: &Timeline) -> Timeline {
    let mut merged = Timeline::hourly(1);
    let edges = span.buckets();
    for (start, _) in edges.first().into_iter().chain(edges.last()) {
        merged.add(*start, 0, 0);
    }
    for (start, counters) in hits.buckets() {
        merged.add(start, 0, counters[0]);
    }
    merged.coarsened(MAX_BARS)
}

/// What one bar (or point, `mark`) of a chart over `timeline` stands for.
fn width_caption(timeline: &Timeline, mark: &str) -> String {
    match timeline.width() {
        3_600 => format!("One {mark} per hour (UTC)."),
        86_400 => format!("One {mark} per day (UTC)."),
        w => format!("One {mark} per {} days (UTC).", w / 86_400),
    }
}

fn severity_color(severity: &str) -> &'static str {
    match severity {
        "high" => "#c62828",
        "medium" => "#ef6c00",
        "low" => "#1565c0",
        _ => "#6e7781",
    }
}
