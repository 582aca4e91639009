//! The audit engine: applies the rules to each record line of an object and keeps the counts
//! (and, for the windowed rules, the bounded window counters of `windows`).
//!
//! Speed: a record line is first tested with a byte-level pre-check ([`PreCheck`]) that rejects
//! almost every line without parsing it; only candidates are parsed into a borrowed
//! [`RecordView`] and checked exactly. The pre-check never rejects a line the exact check would
//! accept (a property test holds it to that).

use std::io::{Read, Write};

use parquet::file::reader::ChunkReader;

use crate::Error;
use crate::decode::UnreadableContent;

use super::output::{AtLimit, DEFAULT_SUMMARY_GROUPS, GroupKey, GroupStats, Groups, WindowHit, write_hit};
use super::parquet::ParquetRecords;
use super::precheck::PreCheck;
use super::reader::{Format, Item, ObjectLines};
use super::report::{BAD_LINE_EXAMPLES, BadLine, ObjectReport, Totals};
use super::rules::{AuditConfig, OutputMode, Rule};
use super::settings::{epoch_seconds, format_utc};
use super::view::RecordView;
use super::windows::{DEFAULT_WINDOW_ENTRIES, Windows};

/// Pending output is written once it reaches this size.
const FLUSH_AT: usize = 64 * 1024;

/// The audit engine with its counters and, in summary mode, its groups.
pub struct Auditor {
    config: AuditConfig,
    precheck: PreCheck,
    totals: Totals,
    groups: Groups,
    windows: Windows,
    pending: Vec<u8>,
}

impl Auditor {
    /// An auditor for `config`.
    pub fn new(config: AuditConfig) -> Self {
        Auditor {
            precheck: PreCheck::new(config.rules.iter(), &config.thresholds),
            config,
            totals: Totals::default(),
            groups: Groups::new(DEFAULT_SUMMARY_GROUPS, AtLimit::Drain),
            windows: Windows::new(DEFAULT_WINDOW_ENTRIES),
            pending: Vec::with_capacity(FLUSH_AT * 2),
        }
    }

    /// Keeps up to `limit` summary groups before writing them out as summary lines.
    pub fn with_group_limit(mut self, limit: usize) -> Self {
        self.groups = Groups::new(limit, AtLimit::Drain);
        self
    }

    /// Keeps up to `limit` summary groups for a table of the top clients: at the limit the less
    /// busy half is forgotten (see [`Auditor::forgotten_hits`]) instead of written out, so memory
    /// stays bounded however many distinct clients the input has.
    pub fn with_top_groups(mut self, limit: usize) -> Self {
        self.groups = Groups::new(limit, AtLimit::KeepBusiest);
        self
    }

    /// Hits of the groups forgotten by [`Auditor::with_top_groups`]: the table's per-client
    /// counts are exact when this is 0, lower bounds otherwise.
    pub fn forgotten_hits(&self) -> u64 {
        self.groups.forgotten_hits()
    }

    /// Keeps up to `limit` window counters (see [`DEFAULT_WINDOW_ENTRIES`]).
    pub fn with_window_limit(mut self, limit: usize) -> Self {
        self.windows = Windows::new(limit);
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

    /// The summary groups not yet written, in reporting order: by rule, most hits first (copies:
    /// the auditor keeps their text in one buffer).
    pub fn groups(&self) -> Vec<(GroupKey, GroupStats)> {
        self.groups.listed()
    }

    /// Audits one object: `input` is plain or gzip (sniffed), `name` is what raw records are
    /// attributed to (`s3://bucket/key` or a path). Hits go to `out`.
    ///
    /// Returns `Err` only for failures a retry could fix (reading the input, writing `out`);
    /// content that cannot be read as lines is reported in [`ObjectReport::damage`] after
    /// auditing every line before it.
    pub fn audit_object<R: Read>(
        &mut self,
        input: R,
        name: &str,
        format: Format,
        max_decoded: u64,
        out: &mut dyn Write,
    ) -> Result<ObjectReport, Error> {
        let before = self.totals;
        let mut examples = Vec::new();
        let mut object = ObjectLines::open(input, name, format, max_decoded)?;
        while let Some(item) = object.next_item()? {
            let bad = match item {
                Item::Blank => None,
                Item::Record(line, number) => self.audit_record(line).err().map(|reason| (number, reason)),
                Item::Bad(number, reason) => {
                    self.totals.records += 1;
                    Some((number, reason))
                }
            };
            if let Some((line, reason)) = bad {
                self.totals.bad_lines += 1;
                if examples.len() < BAD_LINE_EXAMPLES {
                    examples.push(BadLine { line, reason });
                }
            }
            if self.pending.len() >= FLUSH_AT {
                self.flush_pending(out)?;
            }
        }
        let damage = object.end()?;
        self.flush_pending(out)?;
        self.totals.objects += 1;
        self.totals.decoded_bytes += object.decoded_bytes();
        self.totals.damaged_objects += u64::from(damage.is_some());
        Ok(ObjectReport::new(&self.totals.since(&before), examples, damage))
    }

    /// Audits one Parquet object of records (the `columnar` crate's table, as `s3logs` and
    /// Firehose's conversion write it): its rows are read back, row group by row group, as the
    /// very records they hold and audited as [`Self::audit_object`] audits NDJSON, so both
    /// formats give the same hits and counts. `max_decoded` caps the NDJSON bytes the rows make.
    ///
    /// `input` needs random access (a `File`; a whole object in `bytes::Bytes`). A file cut
    /// short, corrupt, or not of the records' columns is reported in [`ObjectReport::damage`]
    /// as `unreadable-parquet`, after every row before the damage; `Err` as for
    /// [`Self::audit_object`], when reading `input` or writing `out` failed.
    pub fn audit_parquet<R: ChunkReader + 'static>(
        &mut self,
        input: R,
        name: &str,
        max_decoded: u64,
        out: &mut dyn Write,
    ) -> Result<ObjectReport, Error> {
        let mut records = ParquetRecords::open(input).map_err(Error::Io)?;
        let mut report = self.audit_object(&mut records, name, Format::Records, max_decoded, out)?;
        if let (None, Some(reason)) = (report.damage, records.failure()) {
            report.damage = Some(UnreadableContent {
                reason,
                offset: report.decoded_bytes,
            });
            self.totals.damaged_objects += 1;
        }
        Ok(report)
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
        let excluded = match (&self.config.exclude_user_agent, record.user_agent.get()) {
            (Some(exclude), Some(agent)) => exclude.is_match(agent.as_str()),
            _ => false,
        };
        self.totals.excluded += u64::from(excluded);
        for rule in self.config.rules.iter() {
            if excluded && rule.skips_excluded_agents() || !rule.matches(&record, &self.config.thresholds) {
                continue;
            }
            match rule.window(&self.config.thresholds) {
                None => self.hit(rule, &record, None),
                Some(spec) => {
                    let Some(seconds) = record.timestamp.text().and_then(epoch_seconds) else {
                        continue;
                    };
                    let start = spec.burst.window_start(seconds);
                    let amount = rule.window_amount(&record);
                    for &by in spec.by {
                        let Some(subject) = by.of(&record) else { continue };
                        let (fired, evicted) =
                            self.windows
                                .add(rule, by, subject, start, amount, spec.burst.threshold);
                        self.totals.window_evictions += evicted;
                        if let Some(total) = fired {
                            let window = WindowHit {
                                by,
                                start: format_utc(start),
                                total,
                            };
                            self.hit(rule, &record, Some(&window));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn hit(&mut self, rule: Rule, record: &RecordView<'_>, window: Option<&WindowHit>) {
        self.totals.hits.add(rule, 1);
        match self.config.output {
            OutputMode::Lines => write_hit(&mut self.pending, rule, record, window),
            OutputMode::Summary => self.groups.count(rule, record, &mut self.pending),
        }
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
            self.groups.drain(&mut self.pending);
        }
        self.flush_pending(out)?;
        out.flush().map_err(Error::Io)
    }

    /// CloudWatch EMF lines for what this auditor has seen, stamped `timestamp_ms` (see
    /// [`Totals::metric_lines`]).
    pub fn metric_lines(&self, function: &str, timestamp_ms: u64) -> Vec<String> {
        self.totals
            .metric_lines(self.config.rules, function, timestamp_ms)
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
