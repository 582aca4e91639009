//! What the audit writes: one compact JSON line per hit, or per client group in summary mode.
//! Every line opens with the rule's `Rule`, `Severity` and `Mitre` keys.
//!
//! Hit lines carry top-level keys only, so CloudWatch Logs Insights discovers the fields and
//! `filter SignatureVersion = 'SigV2' | stats count(*) by RemoteIP, Bucket, Operation,
//! UserAgent` works as written. Summary mode counts hits per client in [`Groups`] instead, to
//! cut CloudWatch Logs ingestion on busy buckets.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use s3_access_log::write_json_string;

use super::rules::{Rule, WindowBy};
use super::view::{RecordView, Slot};

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
///
/// The text of the groups (their keys and time ranges) is kept in one buffer and found through
/// an index of key hashes, rather than in strings of its own: a new group then allocates
/// nothing until the buffer, the list or the index has to grow, which happens a few dozen times
/// in a run. With a few small strings per new group, allocated while the object being audited
/// had its reader open (a gzip inflater, read and line buffers, freed at the end of each
/// object), the strings pinned the space those buffers came from, the next object's buffers
/// went to fresh memory: a 1 GB `s3logs run --rules sigv2` of 8,643 objects peaked at 155 MiB
/// of RSS, and grew with the number of objects; 34 MiB with one buffer.
pub(super) struct Groups {
    /// The first group of each key hash; groups whose keys hash alike are chained through
    /// [`Group::next`].
    index: HashMap<u64, usize>,
    hasher: RandomState,
    groups: Vec<Group>,
    /// The text of every group, spans of which [`Group::fields`] points to.
    text: String,
    /// Bytes of `text` no group points to any more: times replaced by longer ones.
    left_behind: usize,
    /// The memory of the groups and text before the last [`Groups::copy_groups`], which copies
    /// the groups it keeps into it: the two alternate, so forgetting groups allocates nothing
    /// once both have grown.
    spare: (Vec<Group>, String),
    limit: usize,
    at_limit: AtLimit,
    forgotten_hits: u64,
}

/// A span of [`Groups::text`]: start and end.
type Span = (usize, usize);

/// How many key fields a group has: the first of [`Group::fields`].
const KEY_FIELDS: usize = 5;
/// Where the first and the last `Timestamp` of a group are in [`Group::fields`].
const FIRST_SEEN: usize = 5;
const LAST_SEEN: usize = 6;

/// One group, its text in [`Groups::text`].
struct Group {
    rule: Rule,
    /// `Bucket`, `RemoteIP`, `Requester`, `Operation`, `UserAgent`, then the first and last
    /// `Timestamp`.
    fields: [Option<Span>; 7],
    count: u64,
    /// The next group with the same key hash.
    next: Option<usize>,
}

/// The key fields of a hit or a group, in [`Group::fields`] order.
type KeyText<'a> = [Option<&'a str>; KEY_FIELDS];

impl Groups {
    pub(super) fn new(limit: usize, at_limit: AtLimit) -> Self {
        Groups {
            index: HashMap::new(),
            hasher: RandomState::new(),
            groups: Vec::new(),
            text: String::new(),
            left_behind: 0,
            spare: (Vec::new(), String::new()),
            limit: limit.max(2),
            at_limit,
            forgotten_hits: 0,
        }
    }

    /// Hits of groups forgotten at the limit (always 0 with [`AtLimit::Drain`]).
    pub(super) fn forgotten_hits(&self) -> u64 {
        self.forgotten_hits
    }

    fn field(&self, span: Option<Span>) -> Option<&str> {
        span.map(|(start, end)| &self.text[start..end])
    }

    fn key_of(&self, group: &Group) -> KeyText<'_> {
        std::array::from_fn(|field| self.field(group.fields[field]))
    }

    fn hash(&self, rule: Rule, key: &KeyText<'_>) -> u64 {
        self.hasher.hash_one((rule, key))
    }

    /// The group of `rule` and `key`, if counted.
    fn find(&self, hash: u64, rule: Rule, key: &KeyText<'_>) -> Option<usize> {
        let mut next = self.index.get(&hash).copied();
        while let Some(at) = next {
            let group = &self.groups[at];
            if group.rule == rule && self.key_of(group) == *key {
                return Some(at);
            }
            next = group.next;
        }
        None
    }

    fn push_text(&mut self, text: Option<&str>) -> Option<Span> {
        text.map(|text| {
            let start = self.text.len();
            self.text.push_str(text);
            (start, self.text.len())
        })
    }

    /// Adds a group without hits; its key must not be counted yet.
    fn insert(&mut self, hash: u64, rule: Rule, key: &KeyText<'_>) -> usize {
        let mut fields = [None; 7];
        for (field, text) in fields.iter_mut().zip(key) {
            *field = self.push_text(*text);
        }
        let at = self.groups.len();
        self.groups.push(Group {
            rule,
            fields,
            count: 0,
            next: self.index.insert(hash, at),
        });
        at
    }

    /// Sets the `which` time of group `at` to `time`, if it has none or `replace` says so.
    /// A time that fits takes the old one's place in the text (record timestamps all have one
    /// length); a longer one is appended, and once the text left behind outweighs the rest the
    /// text is copied afresh, so records with times of varying lengths do not make it grow.
    fn set_time(&mut self, at: usize, which: usize, time: &str, replace: impl FnOnce(&str) -> bool) {
        let held = self.groups[at].fields[which];
        if self.field(held).is_some_and(|held| !replace(held)) {
            return;
        }
        self.groups[at].fields[which] = match held {
            Some((start, end)) if time.len() <= end - start => {
                self.text.replace_range(start..start + time.len(), time);
                self.left_behind += end - start - time.len();
                Some((start, start + time.len()))
            }
            _ => {
                self.left_behind += held.map_or(0, |(start, end)| end - start);
                self.push_text(Some(time))
            }
        };
        if self.left_behind > self.text.len() / 2 {
            self.copy_groups(|_| true);
        }
    }

    /// Forgets the less busy half of the groups. A client that keeps coming back is counted
    /// again from then on, so the counts shown are lower bounds, exact for clients never
    /// forgotten.
    fn keep_busiest(&mut self) {
        let mut counts: Vec<u64> = self.groups.iter().map(|group| group.count).collect();
        let middle = counts.len() / 2;
        let (_, threshold, _) = counts.select_nth_unstable_by(middle, |a, b| b.cmp(a));
        let threshold = *threshold;
        let mut kept = 0;
        let keep = self.limit / 2;
        let mut forgotten = 0;
        self.copy_groups(|group| {
            let keep_it = group.count > threshold || (group.count == threshold && kept < keep);
            if keep_it {
                kept += 1;
            } else {
                forgotten += group.count;
            }
            keep_it
        });
        self.forgotten_hits += forgotten;
    }

    /// Copies the groups `keep` says to keep, in their order, into the spare memory, which
    /// becomes theirs; the text no group points to any more is left behind.
    fn copy_groups(&mut self, mut keep: impl FnMut(&Group) -> bool) {
        let (spare_groups, spare_text) = std::mem::take(&mut self.spare);
        let mut groups = std::mem::replace(&mut self.groups, spare_groups);
        let mut text = std::mem::replace(&mut self.text, spare_text);
        self.index.clear();
        self.left_behind = 0;
        for group in groups.drain(..) {
            if !keep(&group) {
                continue;
            }
            let text_of = |span: Option<Span>| span.map(|(start, end)| &text[start..end]);
            let key: KeyText<'_> = std::array::from_fn(|field| text_of(group.fields[field]));
            let hash = self.hash(group.rule, &key);
            let at = self.insert(hash, group.rule, &key);
            self.groups[at].count = group.count;
            self.groups[at].fields[FIRST_SEEN] = self.push_text(text_of(group.fields[FIRST_SEEN]));
            self.groups[at].fields[LAST_SEEN] = self.push_text(text_of(group.fields[LAST_SEEN]));
        }
        text.clear();
        self.spare = (groups, text);
    }

    /// The groups, in reporting order: by rule, most hits first.
    fn sorted(&self) -> Vec<&Group> {
        let mut groups: Vec<&Group> = self.groups.iter().collect();
        groups.sort_by(|a, b| (a.rule, b.count, self.key_of(a)).cmp(&(b.rule, a.count, self.key_of(b))));
        groups
    }

    /// The groups as keys and stats, in reporting order.
    pub(super) fn listed(&self) -> Vec<(GroupKey, GroupStats)> {
        self.sorted()
            .into_iter()
            .map(|group| {
                let owned = |field: usize| self.field(group.fields[field]).map(str::to_owned);
                let key = GroupKey {
                    rule: group.rule,
                    bucket: owned(0),
                    remote_ip: owned(1),
                    requester: owned(2),
                    operation: owned(3),
                    user_agent: owned(4),
                };
                let stats = GroupStats {
                    count: group.count,
                    first_seen: owned(FIRST_SEEN),
                    last_seen: owned(LAST_SEEN),
                };
                (key, stats)
            })
            .collect()
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
        let key: KeyText<'_> = [
            &record.bucket,
            &record.remote_ip,
            &record.requester,
            &record.operation,
            &record.user_agent,
        ]
        .map(Slot::text);
        let hash = self.hash(rule, &key);
        let at = match self.find(hash, rule, &key) {
            Some(at) => at,
            None => self.insert(hash, rule, &key),
        };
        self.groups[at].count += 1;
        if let Some(time) = record.timestamp.text() {
            self.set_time(at, FIRST_SEEN, time, |first| time < first);
            self.set_time(at, LAST_SEEN, time, |last| time > last);
        }
    }

    /// Writes every group to `out`, in reporting order, and forgets them, keeping the memory
    /// they took for the next ones.
    pub(super) fn drain(&mut self, out: &mut Vec<u8>) {
        for group in self.sorted() {
            write_group(
                out,
                group.rule,
                self.key_of(group),
                group.count,
                [
                    self.field(group.fields[FIRST_SEEN]),
                    self.field(group.fields[LAST_SEEN]),
                ],
            );
        }
        self.index.clear();
        self.groups.clear();
        self.text.clear();
        self.left_behind = 0;
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

/// Appends the summary line of one group: its key, count and first and last `Timestamp`.
fn write_group(out: &mut Vec<u8>, rule: Rule, key: KeyText<'_>, count: u64, seen: [Option<&str>; 2]) {
    let [bucket, remote_ip, requester, operation, user_agent] = key;
    write_rule(out, rule);
    write_text(out, "Bucket", bucket);
    write_text(out, "RemoteIP", remote_ip);
    write_text(out, "Requester", requester);
    write_text(out, "Operation", operation);
    write_text(out, "UserAgent", user_agent);
    write_number(out, "Count", Some(count));
    write_text(out, "FirstSeen", seen[0]);
    write_text(out, "LastSeen", seen[1]);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_varying_lengths_do_not_make_the_text_grow() {
        let mut groups = Groups::new(10, AtLimit::Drain);
        let raw = "3f1c9a0be2d84c7a9e65b0d1c2f3a4b5c6d7e8f90123456789abcdef01234567 photo-archive \
                   [14/Mar/2025:09:26:53 +0000] 198.51.100.23 - 7QW2KX9RB3YHTM4E REST.GET.OBJECT a.jpg \
                   \"GET /photo-archive/a.jpg HTTP/1.1\" 200 - 5120 5120 41 12 \"-\" \"boto/2\" - \
                   hG3kV9pQ2wT8rY1uE5iO7aS4dF6gJ0lZxC+vB/nM= SigV2 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader \
                   photo-archive.s3.eu-west-1.amazonaws.com TLSv1.2 - - eu-west-1";
        let mut encoded = Vec::new();
        s3_access_log::RecordEncoder::new("s3://logs/a").encode(raw.as_bytes(), &mut encoded);
        let encoded = String::from_utf8(encoded).unwrap();
        let line = |time: &str| encoded.trim_end().replace("2025-03-14 09:26:53", time);
        let mut out = Vec::new();
        // Each time is later than the last and of another length than it, so it never fits
        // in the place of the one it replaces.
        for i in 0..10_000u32 {
            let fraction = if i % 2 == 0 { "" } else { ".5" };
            let record = line(&format!(
                "2025-03-14 {:02}:{:02}:{:02}{fraction}",
                i / 3600,
                i / 60 % 60,
                i % 60
            ));
            groups.count(
                Rule::Sigv2,
                &RecordView::parse(record.as_bytes()).unwrap(),
                &mut out,
            );
        }
        assert!(groups.text.len() < 200, "{} bytes of text", groups.text.len());
        groups.drain(&mut out);
        let summary: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(summary["Count"], 10_000);
        assert_eq!(summary["FirstSeen"], "2025-03-14 00:00:00");
        assert_eq!(summary["LastSeen"], "2025-03-14 02:46:39.5");
    }
}
