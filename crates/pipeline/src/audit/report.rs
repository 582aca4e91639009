//! What an audit counted: hits per rule, totals over every object, and the report of one object.
//!
//! Counting happens in one place, the [`Totals`] an [`super::Auditor`] keeps; the report of one
//! object is the difference of the totals before and after it, so the two can never disagree.

use crate::decode::UnreadableContent;
use crate::emf::{MetricLine, Unit};

use super::rules::{Rule, RuleSet};

/// How many bad lines of one object are kept as examples for the report.
pub const BAD_LINE_EXAMPLES: usize = 10;

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

    pub(super) fn add(&mut self, rule: Rule, n: u64) {
        self.0[rule as usize] += n;
    }
}

/// Counts over everything an [`super::Auditor`] has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Objects (or files) audited.
    pub objects: u64,
    /// Records read (non-blank lines).
    pub records: u64,
    /// Records that passed the pre-check and were parsed in full.
    pub candidates: u64,
    /// Candidates whose User-Agent the client-software rules skip.
    pub excluded: u64,
    /// Lines that are not records (not JSON, or missing keys of the contract).
    pub bad_lines: u64,
    /// Objects with content that could not be read as lines (truncated gzip, an unsupported
    /// compression, over the size cap, an unreadable Parquet object).
    pub damaged_objects: u64,
    /// Decoded bytes read.
    pub decoded_bytes: u64,
    /// Window counters dropped to stay within the bound (see [`super::DEFAULT_WINDOW_ENTRIES`]).
    pub window_evictions: u64,
    /// Hits per rule.
    pub hits: RuleCounts,
}

impl Totals {
    /// What was counted since `before` (an earlier copy of these totals).
    pub fn since(&self, before: &Totals) -> Totals {
        let mut hits = self.hits;
        for (now, then) in hits.0.iter_mut().zip(before.hits.0) {
            *now -= then;
        }
        Totals {
            objects: self.objects - before.objects,
            records: self.records - before.records,
            candidates: self.candidates - before.candidates,
            excluded: self.excluded - before.excluded,
            bad_lines: self.bad_lines - before.bad_lines,
            damaged_objects: self.damaged_objects - before.damaged_objects,
            decoded_bytes: self.decoded_bytes - before.decoded_bytes,
            window_evictions: self.window_evictions - before.window_evictions,
            hits,
        }
    }

    /// CloudWatch EMF lines for these totals, stamped `timestamp_ms`.
    ///
    /// EMF takes one value per dimension name per log line, so each rule with hits gets its own
    /// line with dimensions `Function` and `Rule` and metric `Hits` (the alarm on SigV2 watches
    /// `Hits` with `Function=<function>, Rule=sigv2`). A last line with dimension `Function`
    /// carries `Records`, `BadLines`, `DamagedObjects` and `WindowEvictions` (window counters
    /// dropped at the memory bound: windowed rules may have missed bursts). Rules without hits
    /// emit nothing: the
    /// alarm treats missing data as "no SigV2", and quiet buckets cost no metric lines.
    pub fn metric_lines(&self, rules: RuleSet, function: &str, timestamp_ms: u64) -> Vec<String> {
        let mut lines: Vec<String> = rules
            .iter()
            .filter(|&rule| self.hits.get(rule) > 0)
            .map(|rule| {
                MetricLine::new()
                    .dimension("Function", function)
                    .dimension("Rule", rule.name())
                    .metric("Hits", Unit::Count, self.hits.get(rule) as f64)
                    .render(timestamp_ms)
            })
            .collect();
        lines.push(
            MetricLine::new()
                .dimension("Function", function)
                .metric("Records", Unit::Count, self.records as f64)
                .metric("BadLines", Unit::Count, self.bad_lines as f64)
                .metric("DamagedObjects", Unit::Count, self.damaged_objects as f64)
                .metric("WindowEvictions", Unit::Count, self.window_evictions as f64)
                .render(timestamp_ms),
        );
        lines
    }
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
    /// Where and why the object stopped being readable as lines (truncated gzip, an unsupported
    /// compression, over the size cap). The lines before it were audited.
    pub damage: Option<UnreadableContent>,
}

impl ObjectReport {
    /// The report of an object from what the totals counted while it was read.
    pub(super) fn new(
        counted: &Totals,
        bad_line_examples: Vec<BadLine>,
        damage: Option<UnreadableContent>,
    ) -> Self {
        ObjectReport {
            records: counted.records,
            hits: counted.hits.total(),
            bad_lines: counted.bad_lines,
            bad_line_examples,
            decoded_bytes: counted.decoded_bytes,
            damage,
        }
    }
}
