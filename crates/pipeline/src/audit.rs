//! The audit rules: find the requests that an S3 change will break, in records or raw logs.
//!
//! One engine serves the postprocessor Lambda (records from Firehose), `s3logs audit` (raw
//! logs or records) and `s3logs run`. Each rule selects records; each hit becomes one compact
//! JSON object on one line with top-level keys, so CloudWatch Logs Insights discovers the fields
//! and `filter SignatureVersion = 'SigV2' | stats count(*) by RemoteIP, Bucket, Operation,
//! UserAgent` works as written. In summary mode, hits are counted per client instead.
//!
//! Raw log lines are first encoded into records with [`s3_access_log::RecordEncoder`] (through
//! [`crate::ingest::RecordReader`], exactly as the preprocessor does) and then audited as
//! records, so a raw line and its JSON record give the same hit line, byte for byte.
//!
//! Speed: a record line is first tested with a byte-level pre-check ([`PreCheck`]) that rejects
//! almost every line without parsing it; only candidates are parsed into a borrowed
//! [`RecordView`] and checked exactly. The pre-check never rejects a line the exact check would
//! accept (a property test holds it to that).
//!
//! Rules, and the AWS change each one prepares for:
//! * `sigv2`: Signature Version 2 requests; AWS is ending SigV2 support for S3.
//! * `tls-legacy`: TLS 1.0 / 1.1; AWS requires TLS 1.2 on its endpoints.
//! * `acl-required`: requests authorized by an ACL (`aclRequired = Yes`); they break once
//!   Object Ownership is set to "bucket owner enforced" (ACLs disabled).
//! * `access-denied`: HTTP 403 or `AccessDenied`, the first thing to look at while tightening
//!   policies.
//! * `anonymous`: unauthenticated requests outside the website endpoint; they break when Block
//!   Public Access is turned on.
//! * `parse-errors`: lines the parser could not read cleanly (`ParseError` in the record).
//!
//! AWS describes finding SigV2 and ACL-dependent requests in server access logs in "Identifying
//! Amazon S3 requests using server access logs":
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-s3-access-logs-to-identify-requests.html>

mod precheck;
mod view;

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};

use regex::Regex;
use s3_access_log::write_json_string;

use crate::Error;
use crate::decode::Decoded;
use crate::emf::{MetricLine, Unit};
use crate::ingest::{Limits, RecordReader};
use crate::lines::{DEFAULT_MAX_LINE, Line, LineReader};
pub use precheck::PreCheck;
use precheck::{ANONYMOUS_REQUESTER, LEGACY_TLS};
pub use view::{RecordView, Slot, Text};

/// Rules enabled when none are configured.
pub const DEFAULT_RULES: &str = "sigv2";

/// User agents excluded by default: the S3 console and AWS's own services. Their requests are
/// not the user's to migrate and would drown the real findings.
pub const DEFAULT_EXCLUDE_USER_AGENT: &str = "S3Console|aws-internal|AWSConfig";

/// Most `RawLine` bytes a `parse-errors` hit carries: enough to see what went wrong, far below
/// CloudWatch Logs' 256 KB event limit.
pub const MAX_RAW_LINE_IN_HIT: usize = 2048;

/// Most distinct groups kept in summary mode before they are written out and counting starts
/// over; bounds memory when a rule matches many distinct clients (e.g. `anonymous`).
pub const DEFAULT_SUMMARY_GROUPS: usize = 50_000;

/// How many bad lines of one object are kept as examples for the report.
pub const BAD_LINE_EXAMPLES: usize = 10;

/// Pending output is written once it reaches this size.
const FLUSH_AT: usize = 64 * 1024;

/// One audit rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// Requests signed with Signature Version 2.
    Sigv2,
    /// Requests over TLS 1.0 or 1.1.
    TlsLegacy,
    /// Requests that needed an ACL to be authorized.
    AclRequired,
    /// HTTP 403 or error code `AccessDenied`.
    AccessDenied,
    /// Unauthenticated requests outside website endpoints.
    Anonymous,
    /// Records carrying `ParseError`.
    ParseErrors,
}

impl Rule {
    /// Every rule, in reporting order.
    pub const ALL: [Rule; 6] = [
        Rule::Sigv2,
        Rule::TlsLegacy,
        Rule::AclRequired,
        Rule::AccessDenied,
        Rule::Anonymous,
        Rule::ParseErrors,
    ];

    /// The rule's name in `RULES`, `--rules` and the `Rule` key of hit lines.
    pub const fn name(self) -> &'static str {
        match self {
            Rule::Sigv2 => "sigv2",
            Rule::TlsLegacy => "tls-legacy",
            Rule::AclRequired => "acl-required",
            Rule::AccessDenied => "access-denied",
            Rule::Anonymous => "anonymous",
            Rule::ParseErrors => "parse-errors",
        }
    }

    /// One line on what the rule finds, for help texts and reports.
    pub const fn description(self) -> &'static str {
        match self {
            Rule::Sigv2 => "requests signed with Signature Version 2",
            Rule::TlsLegacy => "requests over TLS 1.0 or 1.1",
            Rule::AclRequired => "requests that needed an ACL (break when ACLs are disabled)",
            Rule::AccessDenied => "requests denied with HTTP 403 / AccessDenied",
            Rule::Anonymous => "unauthenticated requests outside website endpoints",
            Rule::ParseErrors => "log lines that could not be parsed cleanly",
        }
    }

    /// The rule with this name.
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.name() == name)
    }

    /// The exact check: whether the record is a hit of this rule.
    pub fn matches(self, record: &RecordView<'_>) -> bool {
        match self {
            Rule::Sigv2 => record.signature_version.text() == Some("SigV2"),
            Rule::TlsLegacy => record
                .tls_version
                .text()
                .is_some_and(|tls| LEGACY_TLS.iter().any(|legacy| legacy.eq_ignore_ascii_case(tls))),
            Rule::AclRequired => record.acl_required.text() == Some("Yes"),
            Rule::AccessDenied => {
                record.http_status.get() == Some(&403) || record.error_code.text() == Some("AccessDenied")
            }
            // The Operation is parsed after the Requester, so a record that has one also has a
            // trustworthy Requester (a null Requester before a parse error means "unknown").
            Rule::Anonymous => {
                matches!(record.requester.text(), None | Some(ANONYMOUS_REQUESTER))
                    && record
                        .operation
                        .text()
                        .is_some_and(|op| !op.starts_with("WEBSITE."))
            }
            Rule::ParseErrors => record.parse_error.get().is_some(),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleSet(u8);

impl RuleSet {
    /// Parses a comma-separated list of rule names (`all` for every rule). Blank entries are
    /// ignored; an unknown name is an error that lists the known ones.
    pub fn parse(list: &str) -> Result<RuleSet, ConfigError> {
        let mut set = RuleSet(0);
        for name in list.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            if name == "all" {
                set = RuleSet::all();
                continue;
            }
            let rule = Rule::from_name(name).ok_or_else(|| ConfigError::UnknownRule(name.to_owned()))?;
            set.0 |= 1 << rule as u8;
        }
        if set.0 == 0 {
            return Err(ConfigError::NoRules);
        }
        Ok(set)
    }

    /// Every rule.
    pub fn all() -> RuleSet {
        RuleSet((1 << Rule::ALL.len()) - 1)
    }

    /// Whether `rule` is in the set.
    pub fn contains(self, rule: Rule) -> bool {
        self.0 & (1 << rule as u8) != 0
    }

    /// The rules in the set, in reporting order.
    pub fn iter(self) -> impl Iterator<Item = Rule> {
        Rule::ALL.into_iter().filter(move |&rule| self.contains(rule))
    }
}

impl fmt::Display for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Rule::name).collect();
        f.write_str(&names.join(","))
    }
}

/// What is written for the hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputMode {
    /// One line per hit.
    Lines,
    /// One line per (Rule, Bucket, RemoteIP, Requester, Operation, UserAgent) with a `Count`,
    /// to cut CloudWatch Logs ingestion cost on busy buckets.
    Summary,
}

impl OutputMode {
    /// `lines` or `summary`.
    pub fn parse(text: &str) -> Result<OutputMode, ConfigError> {
        match text.trim() {
            "lines" | "" => Ok(OutputMode::Lines),
            "summary" => Ok(OutputMode::Summary),
            other => Err(ConfigError::UnknownOutput(other.to_owned())),
        }
    }
}

/// A configuration mistake: the value that is wrong and what is accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A rule name that does not exist.
    #[error("unknown rule `{0}`; known rules: {known} (or `all`)", known = known_rules())]
    UnknownRule(String),
    /// An empty rule list.
    #[error("no rules selected; known rules: {known} (or `all`)", known = known_rules())]
    NoRules,
    /// The user-agent exclusion is not a valid regular expression.
    #[error("invalid user-agent exclusion pattern: {0}")]
    BadExcludePattern(#[source] Box<regex::Error>),
    /// An output mode other than `lines` or `summary`.
    #[error("unknown output `{0}`; expected `lines` or `summary`")]
    UnknownOutput(String),
}

fn known_rules() -> String {
    Rule::ALL.map(Rule::name).join(", ")
}

/// What to look for and how to report it.
#[derive(Clone, Debug)]
pub struct AuditConfig {
    /// The rules to apply.
    pub rules: RuleSet,
    /// Records whose User-Agent matches are skipped by every rule; records without a
    /// User-Agent (e.g. unparseable lines) are never skipped.
    pub exclude_user_agent: Option<Regex>,
    /// One line per hit, or counts per client.
    pub output: OutputMode,
}

impl AuditConfig {
    /// A configuration from its text form, as environment variables and CLI flags give it. An
    /// empty `exclude_user_agent` excludes nothing.
    pub fn new(rules: &str, exclude_user_agent: &str, output: OutputMode) -> Result<Self, ConfigError> {
        let exclude_user_agent = match exclude_user_agent {
            "" => None,
            pattern => Some(Regex::new(pattern).map_err(|e| ConfigError::BadExcludePattern(Box::new(e)))?),
        };
        Ok(AuditConfig {
            rules: RuleSet::parse(rules)?,
            exclude_user_agent,
            output,
        })
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            rules: RuleSet(1 << Rule::Sigv2 as u8),
            exclude_user_agent: Regex::new(DEFAULT_EXCLUDE_USER_AGENT).ok(),
            output: OutputMode::Lines,
        }
    }
}

/// Hits per rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleCounts([u64; Rule::ALL.len()]);

impl RuleCounts {
    /// Hits of `rule`.
    pub fn get(&self, rule: Rule) -> u64 {
        self.0[rule as usize]
    }

    /// Hits of every rule.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    fn add(&mut self, rule: Rule, n: u64) {
        self.0[rule as usize] += n;
    }
}

/// Counts over everything an [`Auditor`] has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Objects (or files) audited.
    pub objects: u64,
    /// Records read (non-blank lines).
    pub records: u64,
    /// Records that passed the pre-check and were parsed in full.
    pub candidates: u64,
    /// Candidates skipped because of their User-Agent.
    pub excluded: u64,
    /// Lines that are not records (not JSON, or missing keys of the contract).
    pub bad_lines: u64,
    /// Objects that could not be read to the end (corrupt gzip, over the size cap).
    pub damaged_objects: u64,
    /// Decoded bytes read.
    pub decoded_bytes: u64,
    /// Hits per rule.
    pub hits: RuleCounts,
}

/// What the input of an object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// NDJSON records (Firehose output, `s3logs parse` output).
    Records,
    /// Raw S3 server access log lines.
    RawLog,
}

/// A line of a records object that is not a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number in the decoded object.
    pub line: u64,
    /// What is wrong with it.
    pub reason: String,
}

/// The outcome of auditing one object.
#[derive(Debug, Default)]
pub struct ObjectReport {
    /// Records read.
    pub records: u64,
    /// Hits found.
    pub hits: u64,
    /// Lines that are not records.
    pub bad_lines: u64,
    /// The first [`BAD_LINE_EXAMPLES`] bad lines.
    pub bad_line_examples: Vec<BadLine>,
    /// Decoded bytes read.
    pub decoded_bytes: u64,
    /// Why the object could not be read to the end, when that is the data's fault (corrupt or
    /// truncated gzip, over the size cap). The lines before the damage were audited.
    pub damage: Option<Error>,
}

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

/// The audit engine with its counters and, in summary mode, its groups.
pub struct Auditor {
    config: AuditConfig,
    precheck: PreCheck,
    totals: Totals,
    groups: HashMap<GroupKey, GroupStats>,
    group_limit: usize,
    pending: Vec<u8>,
}

impl Auditor {
    /// An auditor for `config`.
    pub fn new(config: AuditConfig) -> Self {
        Auditor {
            precheck: PreCheck::new(config.rules.iter()),
            config,
            totals: Totals::default(),
            groups: HashMap::new(),
            group_limit: DEFAULT_SUMMARY_GROUPS,
            pending: Vec::with_capacity(FLUSH_AT * 2),
        }
    }

    /// Keeps up to `limit` summary groups before writing them out (the CLI's table wants them
    /// all; the Lambda bounds its memory).
    pub fn with_group_limit(mut self, limit: usize) -> Self {
        self.group_limit = limit.max(1);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &AuditConfig {
        &self.config
    }

    /// Counters so far.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// The summary groups not yet written, in reporting order: by rule, most hits first.
    pub fn groups(&self) -> Vec<(&GroupKey, &GroupStats)> {
        let mut groups: Vec<_> = self.groups.iter().collect();
        groups.sort_by(|a, b| (a.0.rule, b.1.count, a.0).cmp(&(b.0.rule, a.1.count, b.0)));
        groups
    }

    /// Audits one object: `input` is plain or gzip (sniffed), `name` is what bad lines and raw
    /// records are attributed to (`s3://bucket/key` or a path). Hits go to `out`.
    ///
    /// Returns `Err` only for failures a retry could fix (reading the input, writing `out`);
    /// damaged data is reported in [`ObjectReport::damage`] after auditing what could be read.
    pub fn audit_object<R: Read>(
        &mut self,
        input: R,
        name: &str,
        format: Format,
        max_decoded: u64,
        out: &mut dyn Write,
    ) -> Result<ObjectReport, Error> {
        let before = self.totals;
        let mut report = ObjectReport::default();
        let outcome = match format {
            Format::Records => self.records_object(input, max_decoded, &mut report, out),
            Format::RawLog => self.raw_object(input, name, max_decoded, out),
        };
        let decoded = match outcome {
            Ok(decoded) => decoded,
            Err((error, decoded)) if !error.is_retryable() => {
                report.damage = Some(error);
                decoded
            }
            Err((error, _)) => return Err(error),
        };
        self.flush_pending(out)?;
        self.totals.objects += 1;
        self.totals.decoded_bytes += decoded;
        self.totals.damaged_objects += u64::from(report.damage.is_some());
        report.records = self.totals.records - before.records;
        report.hits = self.totals.hits.total() - before.hits.total();
        report.bad_lines = self.totals.bad_lines - before.bad_lines;
        report.decoded_bytes = decoded;
        Ok(report)
    }

    /// Reads a records object line by line. On error, returns it with the decoded byte count.
    fn records_object<R: Read>(
        &mut self,
        input: R,
        max_decoded: u64,
        report: &mut ObjectReport,
        out: &mut dyn Write,
    ) -> Result<u64, (Error, u64)> {
        let decoded = Decoded::new(input, max_decoded).map_err(|e| (e, 0))?;
        let mut lines = LineReader::new(decoded, DEFAULT_MAX_LINE);
        let mut number = 0u64;
        loop {
            let line = match lines.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(error) => {
                    let decoded = lines.get_ref();
                    return Err((decoded.classify(error), decoded.produced()));
                }
            };
            number += 1;
            let outcome = match line {
                Line::Whole(bytes) if bytes.trim_ascii().is_empty() => continue,
                Line::Whole(bytes) => self.audit_record(bytes),
                Line::Truncated { len, .. } => {
                    self.totals.records += 1;
                    Err(format!("line of {len} bytes is longer than {DEFAULT_MAX_LINE}"))
                }
            };
            if let Err(reason) = outcome {
                self.totals.bad_lines += 1;
                if report.bad_line_examples.len() < BAD_LINE_EXAMPLES {
                    report.bad_line_examples.push(BadLine { line: number, reason });
                }
            }
            if self.pending.len() >= FLUSH_AT {
                let produced = lines.get_ref().produced();
                self.flush_pending(out).map_err(|e| (e, produced))?;
            }
        }
        Ok(lines.get_ref().produced())
    }

    /// Encodes a raw log object into records, as the preprocessor does, and audits those.
    fn raw_object<R: Read>(
        &mut self,
        input: R,
        name: &str,
        max_decoded: u64,
        out: &mut dyn Write,
    ) -> Result<u64, (Error, u64)> {
        let limits = Limits {
            max_decoded,
            ..Limits::default()
        };
        let mut reader = RecordReader::new(input, name, limits).map_err(|e| (e, 0))?;
        let mut record = Vec::with_capacity(4096);
        loop {
            record.clear();
            match reader.next_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => return Err((error, reader.stats().bytes_in)),
            }
            let line = record.strip_suffix(b"\n").unwrap_or(&record);
            // The encoder writes valid records, so this cannot fail; if it ever did, the line
            // would be counted as bad like any other.
            if self.audit_record(line).is_err() {
                self.totals.bad_lines += 1;
            }
            if self.pending.len() >= FLUSH_AT {
                self.flush_pending(out)
                    .map_err(|e| (e, reader.stats().bytes_in))?;
            }
        }
        Ok(reader.stats().bytes_in)
    }

    /// Audits one record line (NDJSON, without its newline). Hit lines are kept pending until
    /// the next flush. `Err` says why the line is not a record.
    pub fn audit_record(&mut self, line: &[u8]) -> Result<(), String> {
        let line = line.trim_ascii();
        self.totals.records += 1;
        // Every line gets this shape check, so a cut or foreign line is reported even when no
        // rule would look at it.
        if line.first() != Some(&b'{') || line.last() != Some(&b'}') {
            return Err("not a JSON object".to_owned());
        }
        if !self.precheck.is_candidate(line) && looks_like_a_record(line) {
            return Ok(());
        }
        self.totals.candidates += 1;
        let record = RecordView::parse(line)?;
        if let (Some(exclude), Some(agent)) = (&self.config.exclude_user_agent, record.user_agent.get())
            && exclude.is_match(agent.as_str())
        {
            self.totals.excluded += 1;
            return Ok(());
        }
        for rule in self.config.rules.iter() {
            if rule.matches(&record) {
                self.totals.hits.add(rule, 1);
                match self.config.output {
                    OutputMode::Lines => write_hit(&mut self.pending, rule, &record),
                    OutputMode::Summary => self.count(rule, &record),
                }
            }
        }
        Ok(())
    }

    fn count(&mut self, rule: Rule, record: &RecordView<'_>) {
        if self.groups.len() >= self.group_limit {
            self.drain_groups();
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

    /// Moves every summary group into the pending output, in reporting order.
    fn drain_groups(&mut self) {
        let mut pending = std::mem::take(&mut self.pending);
        for (key, stats) in self.groups() {
            write_group(&mut pending, key, stats);
        }
        self.pending = pending;
        self.groups.clear();
    }

    fn flush_pending(&mut self, out: &mut dyn Write) -> Result<(), Error> {
        if !self.pending.is_empty() {
            out.write_all(&self.pending).map_err(Error::Io)?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Writes what is still held: in summary mode, one line per group. Call once at the end of
    /// an invocation or a CLI run.
    pub fn finish(&mut self, out: &mut dyn Write) -> Result<(), Error> {
        if self.config.output == OutputMode::Summary {
            self.drain_groups();
        }
        self.flush_pending(out)?;
        out.flush().map_err(Error::Io)
    }

    /// CloudWatch EMF lines for what this auditor has seen, stamped `timestamp_ms`.
    ///
    /// EMF takes one value per dimension name per log line, so each rule with hits gets its own
    /// line with dimensions `Function` and `Rule` and metric `Hits` (the alarm on SigV2 watches
    /// `Hits` with `Function=<function>, Rule=sigv2`). A last line with dimension `Function`
    /// carries `Records`, `BadLines` and `DamagedObjects`. Rules without hits emit nothing: the
    /// alarm treats missing data as "no SigV2", and quiet buckets cost no metric lines.
    pub fn metric_lines(&self, function: &str, timestamp_ms: u64) -> Vec<String> {
        let totals = &self.totals;
        let mut lines: Vec<String> = self
            .config
            .rules
            .iter()
            .filter(|&rule| totals.hits.get(rule) > 0)
            .map(|rule| {
                MetricLine::new()
                    .dimension("Function", function)
                    .dimension("Rule", rule.name())
                    .metric("Hits", Unit::Count, totals.hits.get(rule) as f64)
                    .render(timestamp_ms)
            })
            .collect();
        lines.push(
            MetricLine::new()
                .dimension("Function", function)
                .metric("Records", Unit::Count, totals.records as f64)
                .metric("BadLines", Unit::Count, totals.bad_lines as f64)
                .metric("DamagedObjects", Unit::Count, totals.damaged_objects as f64)
                .render(timestamp_ms),
        );
        lines
    }
}

/// Whether a line has the outline of the records this pipeline writes: they start with
/// `SchemaVersion` and carry `LogFile` near the end. Lines that do not (a foreign writer, a hand
/// edit, a line missing keys) go through the full check, so a line without the expected keys is
/// reported whether or not a rule would have looked at it; real records skip it at the cost of
/// a prefix comparison and a short reverse search.
fn looks_like_a_record(line: &[u8]) -> bool {
    line.starts_with(b"{\"SchemaVersion\":") && memchr::memmem::rfind(line, b"\"LogFile\":").is_some()
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

fn write_rule(out: &mut Vec<u8>, rule: Rule) {
    out.extend_from_slice(b"{\"Rule\":\"");
    out.extend_from_slice(rule.name().as_bytes());
    out.push(b'"');
}

/// Appends the hit line of `record` for `rule`.
pub fn write_hit(out: &mut Vec<u8>, rule: Rule, record: &RecordView<'_>) {
    write_rule(out, rule);
    write_text(out, "Bucket", record.bucket.text());
    write_text(out, "Timestamp", record.timestamp.text());
    write_text(out, "RemoteIP", record.remote_ip.text());
    write_text(out, "Requester", record.requester.text());
    write_text(out, "Operation", record.operation.text());
    write_text(out, "Key", record.key.text());
    write_text(out, "RequestURI", record.request_uri.text());
    write_key(out, "HTTPstatus");
    match record.http_status.get() {
        Some(status) => out.extend_from_slice(status.to_string().as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    write_text(out, "ErrorCode", record.error_code.text());
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
    write_key(out, "Count");
    out.extend_from_slice(stats.count.to_string().as_bytes());
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

/// Reads an object and says whether it holds records or raw log lines: records if its first
/// non-blank line starts with `{`. Reads at most 64 KiB of decoded text.
pub fn sniff_format<R: Read>(input: R) -> Result<Format, Error> {
    let mut decoded = Decoded::new(input, u64::MAX)?;
    let mut head = [0u8; 64 * 1024];
    let mut filled = 0;
    while filled < head.len() {
        match decoded.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => {
                filled += n;
                if head[..filled].iter().any(|b| !b.is_ascii_whitespace()) {
                    break;
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(decoded.classify(error)),
        }
    }
    Ok(match head[..filled].iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Format::Records,
        _ => Format::RawLog,
    })
}

#[cfg(test)]
mod tests;
