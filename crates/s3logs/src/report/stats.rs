//! What the report counts: traffic from every record line, and detection hits from the audit
//! engine's hit lines. Memory is bounded whatever the input: top-k sketches ([`TopK`]) for the
//! "top" charts and bounded [`Timeline`]s for everything over time.
//!
//! Detections are not re-implemented here: the report runs the audit engine and reads the hit
//! lines it writes (their `Rule` and `Timestamp` keys), so a detection added to the catalogue
//! shows up in the report without a change to this module.

use std::collections::BTreeMap;
use std::io::{self, Write};

use pipeline::audit::{RecordView, Rule, Thresholds};
use s3_access_log::LogTime;
use serde::Deserialize;

use super::sketch::TopK;
use super::timeline::Timeline;

/// Distinct values each top-k sketch keeps.
pub const SKETCH_CAPACITY: usize = 2_000;

/// Distinct sources kept per detection (for its "top sources" list).
const DETECTION_SKETCH_CAPACITY: usize = 200;

/// Longest hit line kept while it is being assembled; hit lines carry one record's fields, far
/// below this.
const MAX_HIT_LINE: usize = 1 << 20;

/// Columns of [`Traffic::requests`]: requests by status class, then bytes sent.
pub mod traffic_column {
    /// HTTP 2xx.
    pub const STATUS_2XX: usize = 0;
    /// HTTP 3xx.
    pub const STATUS_3XX: usize = 1;
    /// HTTP 4xx.
    pub const STATUS_4XX: usize = 2;
    /// HTTP 5xx.
    pub const STATUS_5XX: usize = 3;
    /// No status, or one outside 200-599.
    pub const STATUS_OTHER: usize = 4;
    /// Bytes sent.
    pub const BYTES_SENT: usize = 5;
    /// How many columns.
    pub const COUNT: usize = 6;
}

/// Columns of [`Traffic::migration`]: per day, requests, signed ones, SigV2 ones, those over
/// TLS and those over legacy TLS.
pub mod migration_column {
    /// Every request with a time.
    pub const REQUESTS: usize = 0;
    /// Requests with a `SignatureVersion`.
    pub const SIGNED: usize = 1;
    /// Requests signed with SigV2.
    pub const SIGV2: usize = 2;
    /// Requests with a `TLSVersion` (HTTPS).
    pub const TLS: usize = 3;
    /// Requests over TLS 1.0 or 1.1.
    pub const LEGACY_TLS: usize = 4;
    /// How many columns.
    pub const COUNT: usize = 5;
}

/// Which field a top-k chart counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `Requester` (`(anonymous)` when there is none).
    Requester,
    /// `RemoteIP`.
    RemoteIp,
    /// `Key`.
    Key,
    /// `UserAgent`.
    UserAgent,
    /// `Operation`.
    Operation,
    /// `ErrorCode`, for requests that have one.
    ErrorCode,
}

impl Field {
    /// Every field with a top-k chart, in page order.
    pub const ALL: [Field; 6] = [
        Field::Requester,
        Field::RemoteIp,
        Field::Key,
        Field::UserAgent,
        Field::Operation,
        Field::ErrorCode,
    ];

    /// The chart's title.
    pub fn title(self) -> &'static str {
        match self {
            Field::Requester => "Top requesters",
            Field::RemoteIp => "Top remote IPs",
            Field::Key => "Top keys",
            Field::UserAgent => "Top user agents",
            Field::Operation => "Top operations",
            Field::ErrorCode => "Top error codes",
        }
    }

    /// The value of this field in `record`, if it counts.
    fn of<'r>(self, record: &'r RecordView<'_>) -> Option<&'r str> {
        match self {
            Field::Requester => Some(record.requester.text().unwrap_or("(anonymous)")),
            Field::RemoteIp => record.remote_ip.text(),
            Field::Key => record.key.text(),
            Field::UserAgent => record.user_agent.text(),
            Field::Operation => record.operation.text(),
            Field::ErrorCode => record.error_code.text(),
        }
    }
}

/// Traffic counted from every record line.
#[derive(Debug)]
pub struct Traffic {
    thresholds: Thresholds,
    /// Record lines seen.
    pub records: u64,
    /// Lines that are not records of the contract; counted, not charted.
    pub bad_lines: u64,
    /// Records with `ParseError` (quarantined lines).
    pub parse_errors: u64,
    /// Records without a usable `Timestamp`, left out of the charts over time.
    pub untimed: u64,
    /// Bytes sent over all records.
    pub bytes_sent: u64,
    /// Earliest and latest request time, seconds since the epoch.
    pub span: Option<(i64, i64)>,
    /// Requests by status class and bytes sent, per bucket (see [`traffic_column`]).
    pub requests: Timeline,
    /// SigV2 and legacy TLS use per day (see [`migration_column`]).
    pub migration: Timeline,
    /// One sketch per [`Field::ALL`].
    pub top: Vec<TopK>,
}

impl Traffic {
    /// Empty counts; `thresholds` are the audit's, for the rules the migration chart shares.
    pub fn new(thresholds: Thresholds) -> Self {
        Traffic {
            thresholds,
            records: 0,
            bad_lines: 0,
            parse_errors: 0,
            untimed: 0,
            bytes_sent: 0,
            span: None,
            requests: Timeline::hourly(traffic_column::COUNT),
            migration: Timeline::daily(migration_column::COUNT),
            top: Field::ALL.iter().map(|_| TopK::new(SKETCH_CAPACITY)).collect(),
        }
    }

    /// Counts one record line (NDJSON, without its newline; blank lines are ignored).
    pub fn observe(&mut self, line: &[u8]) {
        let line = line.trim_ascii();
        if line.is_empty() {
            return;
        }
        self.records += 1;
        let Ok(record) = RecordView::parse(line) else {
            self.bad_lines += 1;
            return;
        };
        self.parse_errors += u64::from(record.parse_error.get().is_some());
        let bytes = record.bytes_sent.get().copied().unwrap_or(0);
        self.bytes_sent += bytes;
        for (field, sketch) in Field::ALL.iter().zip(&mut self.top) {
            if let Some(value) = field.of(&record) {
                sketch.add(value);
            }
        }
        let Some(seconds) = record.timestamp.text().and_then(epoch_seconds) else {
            self.untimed += 1;
            return;
        };
        self.span = Some(match self.span {
            None => (seconds, seconds),
            Some((first, last)) => (first.min(seconds), last.max(seconds)),
        });
        let class = match record.http_status.get() {
            Some(200..=299) => traffic_column::STATUS_2XX,
            Some(300..=399) => traffic_column::STATUS_3XX,
            Some(400..=499) => traffic_column::STATUS_4XX,
            Some(500..=599) => traffic_column::STATUS_5XX,
            _ => traffic_column::STATUS_OTHER,
        };
        self.requests.add(seconds, class, 1);
        self.requests.add(seconds, traffic_column::BYTES_SENT, bytes);
        let migration = [
            (migration_column::REQUESTS, true),
            (migration_column::SIGNED, record.signature_version.get().is_some()),
            (
                migration_column::SIGV2,
                Rule::Sigv2.matches(&record, &self.thresholds),
            ),
            (migration_column::TLS, record.tls_version.get().is_some()),
            (
                migration_column::LEGACY_TLS,
                Rule::TlsLegacy.matches(&record, &self.thresholds),
            ),
        ];
        for (column, counts) in migration {
            if counts {
                self.migration.add(seconds, column, 1);
            }
        }
    }
}

/// A record `Timestamp` (`YYYY-MM-DD HH:MM:SS`, UTC) as seconds since the epoch.
pub fn epoch_seconds(timestamp: &str) -> Option<i64> {
    LogTime::parse_utc(timestamp.as_bytes())
        .ok()
        .map(LogTime::unix_seconds)
}

/// The hits of one detection.
#[derive(Debug)]
pub struct RuleHits {
    /// Hit lines.
    pub count: u64,
    /// Hits per bucket (one column).
    pub timeline: Timeline,
    /// The `RemoteIP`s of the hits.
    pub sources: TopK,
}

/// The audit engine's hit lines, counted per rule; written to as the engine's output.
#[derive(Debug, Default)]
pub struct Hits {
    /// Per rule name (as the `Rule` key of the hit lines carries it).
    pub by_rule: BTreeMap<String, RuleHits>,
    /// Hit lines that could not be read (never expected; counted so that nothing is silently
    /// lost).
    pub unreadable: u64,
    partial: Vec<u8>,
}

/// The keys of a hit line the report uses.
#[derive(Deserialize)]
struct HitLine<'a> {
    #[serde(rename = "Rule", borrow)]
    rule: std::borrow::Cow<'a, str>,
    #[serde(rename = "Timestamp", borrow, default)]
    timestamp: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "RemoteIP", borrow, default)]
    remote_ip: Option<std::borrow::Cow<'a, str>>,
}

impl Hits {
    /// The hits of `rule`, if it had any.
    pub fn of(&self, rule: &str) -> Option<&RuleHits> {
        self.by_rule.get(rule)
    }

    fn count_line(&mut self, line: &[u8]) {
        let line = line.trim_ascii();
        if line.is_empty() {
            return;
        }
        let Ok(hit) = serde_json::from_slice::<HitLine<'_>>(line) else {
            self.unreadable += 1;
            return;
        };
        let rule = self
            .by_rule
            .entry(hit.rule.into_owned())
            .or_insert_with(|| RuleHits {
                count: 0,
                timeline: Timeline::hourly(1),
                sources: TopK::new(DETECTION_SKETCH_CAPACITY),
            });
        rule.count += 1;
        if let Some(seconds) = hit.timestamp.as_deref().and_then(epoch_seconds) {
            rule.timeline.add(seconds, 0, 1);
        }
        if let Some(ip) = hit.remote_ip.as_deref() {
            rule.sources.add(ip);
        }
    }
}

impl Write for Hits {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut rest = bytes;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            if self.partial.is_empty() {
                self.count_line(&rest[..end]);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&rest[..end]);
                self.count_line(&line);
            }
            rest = &rest[end + 1..];
        }
        if self.partial.len() + rest.len() > MAX_HIT_LINE {
            self.unreadable += 1;
            self.partial.clear();
        } else {
            self.partial.extend_from_slice(rest);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.count_line(&line);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"Bucket":"b","Timestamp":"2026-11-23 10:15:00","RemoteIP":"192.0.2.1","Requester":null,"Operation":"REST.GET.OBJECT","Key":"k","RequestURI":"GET /k HTTP/1.1","HTTPstatus":403,"ErrorCode":"AccessDenied","BytesSent":100,"UserAgent":"curl/8","SignatureVersion":"SigV2","TLSVersion":"TLSv1.1","AclRequired":null,"RecordId":"0123456789abcdef","LogFile":"f"}"#;

    #[test]
    fn counts_a_record_in_every_chart() {
        let mut traffic = Traffic::new(Thresholds::default());
        traffic.observe(RECORD.as_bytes());
        traffic.observe(b"");
        traffic.observe(b"not json");
        assert_eq!(
            (traffic.records, traffic.bad_lines, traffic.bytes_sent),
            (2, 1, 100)
        );
        let hour = epoch_seconds("2026-11-23 10:00:00").unwrap();
        assert_eq!(traffic.requests.buckets(), [(hour, vec![0, 0, 1, 0, 0, 100])]);
        let day = epoch_seconds("2026-11-23 00:00:00").unwrap();
        assert_eq!(traffic.migration.buckets(), [(day, vec![1, 1, 1, 1, 1])]);
        let tops: Vec<_> = traffic.top.iter().map(|t| t.top(1)[0].0).collect();
        assert_eq!(
            tops,
            [
                "(anonymous)",
                "192.0.2.1",
                "k",
                "curl/8",
                "REST.GET.OBJECT",
                "AccessDenied"
            ]
        );
    }

    #[test]
    fn counts_hit_lines_split_across_writes() {
        let mut hits = Hits::default();
        let lines = concat!(
            r#"{"Rule":"sigv2","Timestamp":"2026-11-23 10:15:00","RemoteIP":"192.0.2.1"}"#,
            "\n",
            r#"{"Rule":"sigv2","Timestamp":"2026-11-23 11:15:00","RemoteIP":"192.0.2.1"}"#,
            "\n",
            r#"{"Rule":"new-rule","Timestamp":null,"RemoteIP":null}"#,
            "\n",
            "garbage\n",
        );
        for chunk in lines.as_bytes().chunks(7) {
            hits.write_all(chunk).unwrap();
        }
        hits.flush().unwrap();
        let sigv2 = hits.of("sigv2").unwrap();
        assert_eq!(sigv2.count, 2);
        assert_eq!(sigv2.timeline.buckets().len(), 2);
        assert_eq!(sigv2.sources.top(1), [("192.0.2.1", 2)]);
        assert_eq!(hits.of("new-rule").unwrap().count, 1);
        assert_eq!(hits.unreadable, 1);
    }
}
