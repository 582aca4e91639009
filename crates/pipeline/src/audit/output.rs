//! What the audit writes: one compact JSON line per hit, or per client group in summary mode.
//! Every line opens with the rule's `Rule`, `Severity` and `Mitre` keys.
//!
//! Hit lines carry top-level keys only, so CloudWatch Logs Insights discovers the fields and
//! `filter SignatureVersion = 'SigV2' | stats count(*) by RemoteIP, Bucket, Operation,
//! UserAgent` works as written. Summary mode counts hits per client in [`Groups`] instead, to
//! cut CloudWatch Logs ingestion on busy buckets.

use std::collections::HashMap;

use s3_access_log::write_json_string;

use super::rules::{Rule, WindowBy};
use super::view::{RecordView, Slot, Text};

/// Most `RawLine` bytes a `parse-errors` hit carries: enough to see what went wrong, far below
/// CloudWatch Logs' 256 KB event limit.
pub const MAX_RAW_LINE_IN_HIT: usize = 2048;

/// Most distinct groups kept in summary mode before they are written out and counting starts
/// over; bounds memory when a rule matches many distinct clients (e.g. `anonymous`).
pub const DEFAULT_SUMMARY_GROUPS: usize = 50_000;

/// Hits counted per client in summary mode.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    /// The rule.
    pub rule: Rule,
    /// `Bucket`.
    pub bucket: Option<String>,
    /// `RemoteIP`.
    pub remote_ip: Option<String>,
    /// `Requester`.
    pub requester: Option<String>,
    /// `Operation`.
    pub operation: Option<String>,
    /// `UserAgent`.
    pub user_agent: Option<String>,
}

/// The count and time range of one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupStats {
    /// Hits.
    pub count: u64,
    /// Earliest `Timestamp` (the record format sorts as text).
    pub first_seen: Option<String>,
    /// Latest `Timestamp`.
    pub last_seen: Option<String>,
}

/// What [`Groups`] does when it holds as many groups as it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AtLimit {
    /// Writes the groups out as summary lines and starts over (the Lambda: every hit is
    /// reported, counts are split across lines).
    Drain,
    /// Keeps the busiest half and forgets the rest, counting the hits forgotten (the CLI's table,
    /// which shows only the top clients: they stay, the long tail goes).
    KeepBusiest,
}

/// Summary-mode counts per client, bounded in number.
pub(super) struct Groups {
    groups: HashMap<GroupKey, GroupStats>,
    limit: usize,
    at_limit: AtLimit,
    forgotten_hits: u64,
}

impl Groups {
    pub(super) fn new(limit: usize, at_limit: AtLimit) -> Self {
        Groups {
            groups: HashMap::new(),
            limit: limit.max(2),
            at_limit,
            forgotten_hits: 0,
        }
    }

    /// Hits of groups forgotten at the limit (always 0 with [`AtLimit::Drain`]).
    pub(super) fn forgotten_hits(&self) -> u64 {
        self.forgotten_hits
    }

    /// Forgets the less busy half of the groups. A client that keeps coming back is counted
    /// again from then on, so the counts shown are lower bounds, exact for clients never
    /// forgotten.
    fn keep_busiest(&mut self) {
        let mut counts: Vec<u64> = self.groups.values().map(|stats| stats.count).collect();
        let middle = counts.len() / 2;
        let (_, threshold, _) = counts.select_nth_unstable_by(middle, |a, b| b.cmp(a));
        let threshold = *threshold;
        let mut kept = 0;
        let keep = self.limit / 2;
        let mut forgotten = 0;
        self.groups.retain(|_, stats| {
            let keep_it = stats.count > threshold || (stats.count == threshold && kept < keep);
            if keep_it {
                kept += 1;
            } else {
                forgotten += stats.count;
            }
            keep_it
        });
        self.forgotten_hits += forgotten;
    }

    /// The groups, in reporting order: by rule, most hits first.
    pub(super) fn sorted(&self) -> Vec<(&GroupKey, &GroupStats)> {
        let mut groups: Vec<_> = self.groups.iter().collect();
        groups.sort_by(|a, b| (a.0.rule, b.1.count, a.0).cmp(&(b.0.rule, a.1.count, b.0)));
        groups
    }

    /// Counts one hit; when the limit is reached, the groups held so far are written to `out`
    /// first and counting starts over.
    pub(super) fn count(&mut self, rule: Rule, record: &RecordView<'_>, out: &mut Vec<u8>) {
        if self.groups.len() >= self.limit {
            match self.at_limit {
                AtLimit::Drain => self.drain(out),
                AtLimit::KeepBusiest => self.keep_busiest(),
            }
        }
        let owned = |slot: &Slot<Text<'_>>| slot.text().map(str::to_owned);
        let key = GroupKey {
            rule,
            bucket: owned(&record.bucket),
            remote_ip: owned(&record.remote_ip),
            requester: owned(&record.requester),
            operation: owned(&record.operation),
            user_agent: owned(&record.user_agent),
        };
        let time = record.timestamp.text();
        let stats = self.groups.entry(key).or_insert(GroupStats {
            count: 0,
            first_seen: None,
            last_seen: None,
        });
        stats.count += 1;
        if let Some(time) = time {
            if stats.first_seen.as_deref().is_none_or(|first| time < first) {
                stats.first_seen = Some(time.to_owned());
            }
            if stats.last_seen.as_deref().is_none_or(|last| time > last) {
                stats.last_seen = Some(time.to_owned());
            }
        }
    }

    /// Writes every group to `out`, in reporting order, and forgets them.
    pub(super) fn drain(&mut self, out: &mut Vec<u8>) {
        for (key, stats) in self.sorted() {
            write_group(out, key, stats);
        }
        self.groups.clear();
    }
}

fn write_key(out: &mut Vec<u8>, key: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

fn write_text(out: &mut Vec<u8>, key: &str, value: Option<&str>) {
    write_key(out, key);
    match value {
        Some(value) => write_json_string(out, value.as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_number(out: &mut Vec<u8>, key: &str, value: Option<u64>) {
    write_key(out, key);
    match value {
        Some(value) => out.extend_from_slice(value.to_string().as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
}

/// Opens a line with the rule's `Rule`, `Severity` and `Mitre` (ids joined with `,`, `-` for
/// none) from the catalogue.
fn write_rule(out: &mut Vec<u8>, rule: Rule) {
    let detection = rule.detection();
    out.extend_from_slice(b"{\"Rule\":\"");
    out.extend_from_slice(rule.name().as_bytes());
    out.extend_from_slice(b"\",\"Severity\":\"");
    out.extend_from_slice(detection.severity.name().as_bytes());
    out.extend_from_slice(b"\",\"Mitre\":\"");
    out.extend_from_slice(detection.mitre_text().as_bytes());
    out.push(b'"');
}

/// The window a hit of a windowed rule was found in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowHit {
    /// What was counted: one IP or one requester.
    pub by: WindowBy,
    /// The window's start, as a record `Timestamp`.
    pub start: String,
    /// The total when the threshold was reached: events, or bytes for `bulk-download`.
    pub total: u64,
}

/// Appends the hit line of `record` for `rule`; a windowed rule's hit also names its window
/// (`WindowBy`, `WindowStart`, `WindowTotal`), the record being the one that reached the
/// threshold.
pub fn write_hit(out: &mut Vec<u8>, rule: Rule, record: &RecordView<'_>, window: Option<&WindowHit>) {
    write_rule(out, rule);
    write_text(out, "Bucket", record.bucket.text());
    write_text(out, "Timestamp", record.timestamp.text());
    write_text(out, "RemoteIP", record.remote_ip.text());
    write_text(out, "Requester", record.requester.text());
    write_text(out, "Operation", record.operation.text());
    write_text(out, "Key", record.key.text());
    write_text(out, "RequestURI", record.request_uri.text());
    write_number(out, "HTTPstatus", record.http_status.get().copied());
    write_text(out, "ErrorCode", record.error_code.text());
    write_number(out, "BytesSent", record.bytes_sent.get().copied());
    write_number(out, "ObjectSize", record.object_size.get().copied());
    write_text(out, "UserAgent", record.user_agent.text());
    write_text(out, "SignatureVersion", record.signature_version.text());
    write_text(out, "TLSVersion", record.tls_version.text());
    write_text(out, "AclRequired", record.acl_required.text());
    write_text(out, "RecordId", record.record_id.text());
    write_text(out, "LogFile", record.log_file.text());
    if rule == Rule::ParseErrors {
        write_text(out, "ParseError", record.parse_error.text());
        write_text(
            out,
            "RawLine",
            record.raw_line.text().map(|raw| cut(raw, MAX_RAW_LINE_IN_HIT)),
        );
    }
    if let Some(window) = window {
        write_text(out, "WindowBy", Some(window.by.name()));
        write_text(out, "WindowStart", Some(&window.start));
        write_number(out, "WindowTotal", Some(window.total));
    }
    out.extend_from_slice(b"}\n");
}

/// Appends the summary line of one group.
fn write_group(out: &mut Vec<u8>, key: &GroupKey, stats: &GroupStats) {
    write_rule(out, key.rule);
    write_text(out, "Bucket", key.bucket.as_deref());
    write_text(out, "RemoteIP", key.remote_ip.as_deref());
    write_text(out, "Requester", key.requester.as_deref());
    write_text(out, "Operation", key.operation.as_deref());
    write_text(out, "UserAgent", key.user_agent.as_deref());
    write_number(out, "Count", Some(stats.count));
    write_text(out, "FirstSeen", stats.first_seen.as_deref());
    write_text(out, "LastSeen", stats.last_seen.as_deref());
    out.extend_from_slice(b"}\n");
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
