//! `s3logs audit`: the postprocessor's audit rules on local files: raw logs, AWS's native JSON
//! records, NDJSON records or Parquet files of records.
//!
//! Each file is sniffed on its own ([`crate::records_in`]: Parquet and gzip by magic bytes;
//! records if the first non-blank line starts with `{` and is not one of AWS's native records,
//! which are converted as raw lines are), so a directory mixing raw S3 logs, natively delivered records, `s3logs parse`
//! output (NDJSON or Parquet) and downloaded Firehose objects (gzip NDJSON or Parquet) audits in
//! one go. A Parquet file is read from its footer, row group by row group, back into the very
//! records it holds, so it gives the same hits as the same records in NDJSON; it is read by
//! path, since standard input cannot be read out of order. Raw lines are encoded into records
//! first, exactly as the preprocessor does, so `--json` prints byte for byte what the
//! postprocessor Lambda prints for the same lines. Without `--json` the hits are shown as a
//! table per rule: top clients first.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use pipeline::audit::{
    AuditConfig, Auditor, CATALOGUE, DEFAULT_EXCLUDE_USER_AGENT, DEFAULT_WINDOW_ENTRIES, Format,
    ObjectReport, OutputMode, Rule, SETTINGS, Totals,
};

use crate::inputs::{self, Expansion, Input, Outputs};
use crate::records_in::{RecordInput, open_records};

/// Bad lines printed per file; the rest are only counted.
const BAD_LINES_SHOWN: usize = 5;

/// Which rules run and with which settings, shared by `audit`, `run` and `report`; the same
/// knobs as the postprocessor's `RULES`, `SETTINGS` and `EXCLUDE_USER_AGENT` variables.
#[derive(Debug, clap::Args)]
pub struct RuleSelection {
    /// Rules to apply, comma-separated ids (`s3logs audit --list` shows them), or all. (The
    /// Lambda defaults to sigv2 to keep CloudWatch Logs small; locally every rule is free.)
    #[arg(long, value_name = "LIST", default_value = "all")]
    pub rules: String,
    /// A detection threshold, e.g. `enumeration.count=20` (repeatable; `s3logs audit --list`
    /// shows them all with their defaults). The postprocessor takes the same settings,
    /// `;`-separated.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub settings: Vec<String>,
    /// Requests whose User-Agent matches this regular expression are no hits of the
    /// client-software rules, sigv2, tls-legacy and acl-required ("" skips none). The other
    /// rules skip no user agent: any client can send one.
    #[arg(long, value_name = "REGEX", default_value = DEFAULT_EXCLUDE_USER_AGENT)]
    pub exclude_user_agent: String,
}

impl RuleSelection {
    /// The audit configuration of these flags, hits written as `output`.
    pub fn config(&self, output: OutputMode) -> anyhow::Result<AuditConfig> {
        let mut config = AuditConfig::new(&self.rules, &self.exclude_user_agent, output)?;
        for setting in &self.settings {
            config.thresholds.apply(setting)?;
        }
        Ok(config)
    }
}

/// Rule selection and output shape, shared by `audit` and `run`.
#[derive(Debug, clap::Args)]
pub struct RuleArgs {
    /// Which rules, with which settings.
    #[command(flatten)]
    pub selection: RuleSelection,
    /// Print JSON lines exactly as the postprocessor writes them to CloudWatch Logs, instead
    /// of the table.
    #[arg(long)]
    pub json: bool,
    /// With --json: one line per (Rule, Bucket, RemoteIP, Requester, Operation, UserAgent) with
    /// a Count, like OUTPUT=summary.
    #[arg(long)]
    pub summary: bool,
    /// Clients listed per rule in the table.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
}

impl RuleArgs {
    /// An auditor for these flags. The table keeps the busiest clients within a fixed number of
    /// groups, so memory does not grow with the number of distinct clients.
    pub fn auditor(&self) -> anyhow::Result<Auditor> {
        let output = if self.summary || !self.json {
            OutputMode::Summary
        } else {
            OutputMode::Lines
        };
        let config = self.selection.config(output)?;
        Ok(match self.json {
            true => Auditor::new(config),
            false => Auditor::new(config).with_top_groups(TABLE_GROUPS),
        })
    }
}

/// Arguments of `s3logs audit`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    s3logs audit access-logs/\n  \
    s3logs audit --list\n  \
    s3logs audit --rules enumeration,mass-deletion --set enumeration.count=20 access-logs/\n  \
    s3logs audit --rules sigv2,tls-legacy --json firehose-output/ > hits.ndjson\n  \
    s3logs audit requests.parquet parquet-output/\n  \
    aws s3 cp s3://my-log-bucket/logs/2026-11-23-10-15-01-1A2B3C4D5E6F7A8B - | s3logs audit -")]
pub struct AuditArgs {
    /// Raw log files, AWS's native JSON record files, NDJSON record files (gzipped or not),
    /// Parquet files of records, or directories of them (read recursively); `-` or nothing
    /// reads standard input (not Parquet, which is read out of order).
    pub paths: Vec<PathBuf>,
    /// Print the detection catalogue (id, severity, MITRE ATT&CK ids, title) and the settings
    /// with their defaults, and read nothing.
    #[arg(long)]
    pub list: bool,
    /// Rules and output.
    #[command(flatten)]
    pub rules: RuleArgs,
}

/// Runs `s3logs audit`; the exit code is non-zero if any input could not be read to the end.
pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    if args.list {
        let written = io::stdout().lock().write_all(catalogue().as_bytes());
        return match written {
            Err(error) if error.kind() != io::ErrorKind::BrokenPipe => Err(error.into()),
            _ => Ok(ExitCode::SUCCESS),
        };
    }
    let mut auditor = args.rules.auditor()?;
    let expansion = inputs::expand(&args.paths, &Outputs::new().stdout())?;
    let mut problems = expansion_problems(&expansion);
    let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
    let mut formats = FormatCounts::default();
    for input in &expansion.inputs {
        match audit_input(&mut auditor, input, &mut out) {
            Ok((format, report)) => {
                formats.add(format);
                problems.extend(describe_problems(&input.name(), &report));
            }
            Err(error) if is_broken_pipe(&error) => return Ok(report(&problems)),
            Err(error) => problems.push(Problem::fatal(format!("{}: {error:#}", input.name()))),
        }
    }
    finish(&mut auditor, &args.rules, &mut out, &formats, &problems)
}

/// A message about an input; `fatal` ones (unreadable, damaged) make the exit code non-zero,
/// bad lines are only reported.
#[derive(Debug)]
pub(crate) struct Problem {
    pub(crate) message: String,
    pub(crate) fatal: bool,
}

impl Problem {
    pub(crate) fn fatal(message: String) -> Self {
        Problem { message, fatal: true }
    }
}

/// The expansion's bad paths (fatal) and skipped paths (warnings) as problems.
pub(crate) fn expansion_problems(expansion: &Expansion) -> Vec<Problem> {
    let bad = expansion.bad.iter().map(|bad| Problem::fatal(bad.to_string()));
    let skipped = expansion.skipped.iter().map(|skipped| Problem {
        message: skipped.to_string(),
        fatal: false,
    });
    bad.chain(skipped).collect()
}

/// Writes the tail of the output (summary lines or the table) and reports the problems.
pub(crate) fn finish(
    auditor: &mut Auditor,
    args: &RuleArgs,
    out: &mut dyn Write,
    formats: &FormatCounts,
    problems: &[Problem],
) -> anyhow::Result<ExitCode> {
    let written = match args.json {
        true => auditor.finish(out).map_err(anyhow::Error::from),
        false => out
            .write_all(table(auditor, args.top, formats).as_bytes())
            .and_then(|()| out.flush())
            .map_err(anyhow::Error::from),
    };
    match written {
        Err(error) if is_broken_pipe(&error) => {}
        Err(error) => return Err(error.context("writing output")),
        Ok(()) => {}
    }
    if let Some(warning) = window_warning(auditor.totals()) {
        eprintln!("s3logs: warning: {warning}");
    }
    Ok(report(problems))
}

/// Says that window counters were dropped at the memory bound, if they were: the windowed
/// detections may then have missed bursts.
fn window_warning(totals: &Totals) -> Option<String> {
    (totals.window_evictions > 0).then(|| {
        format!(
            "{} dropped at the memory bound ({DEFAULT_WINDOW_ENTRIES}); enumeration, mass-deletion and \
             bulk-download may have missed bursts (docs/detections.md, Windows)",
            plural(totals.window_evictions, "window counter")
        )
    })
}

/// Prints the problems; the exit code is non-zero if any is fatal, whether or not the reader
/// of standard output stayed to the end.
pub(crate) fn report(problems: &[Problem]) -> ExitCode {
    for problem in problems {
        let level = if problem.fatal { "error" } else { "warning" };
        eprintln!("s3logs: {level}: {}", problem.message);
    }
    match problems.iter().any(|problem| problem.fatal) {
        true => ExitCode::FAILURE,
        false => ExitCode::SUCCESS,
    }
}

/// Sniffs and audits one input; a Parquet file counts as records. Hits go to `out`.
pub(crate) fn audit_input(
    auditor: &mut Auditor,
    input: &Input,
    out: &mut dyn Write,
) -> anyhow::Result<(Format, ObjectReport)> {
    Ok(match open_records(input)? {
        // Read by the auditor itself, which reports a damaged file as `unreadable-parquet`.
        RecordInput::Parquet(file) => (
            Format::Records,
            auditor.audit_parquet(file, &input.name(), u64::MAX, out)?,
        ),
        RecordInput::Lines { format, reader } => (
            format,
            auditor.audit_object(reader, &input.name(), format, u64::MAX, out)?,
        ),
    })
}

/// Messages about an input's bad lines and damage, each prefixed with its name.
pub(crate) fn describe_problems(name: &str, report: &ObjectReport) -> Vec<Problem> {
    let mut problems: Vec<Problem> = report
        .bad_line_examples
        .iter()
        .take(BAD_LINES_SHOWN)
        .map(|bad| Problem {
            message: format!("{name}: line {}: {}", bad.line, bad.reason),
            fatal: false,
        })
        .collect();
    let unshown = report.bad_lines.saturating_sub(problems.len() as u64);
    if unshown > 0 {
        problems.push(Problem {
            message: format!("{name}: {} more", plural(unshown, "bad line")),
            fatal: false,
        });
    }
    if let Some(damage) = &report.damage {
        problems.push(Problem::fatal(format!(
            "{name}: {damage} (the lines before it were audited)"
        )));
    }
    problems
}

/// How many inputs were of each format.
#[derive(Debug, Default)]
pub(crate) struct FormatCounts {
    raw: u64,
    records: u64,
}

impl FormatCounts {
    pub(crate) fn add(&mut self, format: Format) {
        match format {
            Format::RawLog => self.raw += 1,
            Format::Records => self.records += 1,
        }
    }
}

pub(crate) fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let io_error =
            cause
                .downcast_ref::<io::Error>()
                .or_else(|| match cause.downcast_ref::<pipeline::Error>() {
                    Some(pipeline::Error::Io(error)) => Some(error),
                    _ => None,
                });
        io_error.is_some_and(|error| error.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// The catalogue as a table, then the settings with their defaults.
fn catalogue() -> String {
    let mut text = format!("{:<22}  {:<8}  {:<30}  TITLE\n", "ID", "SEVERITY", "MITRE ATT&CK");
    for detection in CATALOGUE {
        let _ = writeln!(
            text,
            "{:<22}  {:<8}  {:<30}  {}",
            detection.rule.name(),
            detection.severity.name(),
            detection.mitre_text(),
            detection.title
        );
    }
    text.push_str("\nSettings (--set NAME=VALUE):\n");
    for (name, default, help) in SETTINGS {
        let _ = writeln!(text, "  {name} = {default}\n      {help}");
    }
    text
}

/// Most client groups the table keeps (a few hundred bytes each): far more than it shows.
const TABLE_GROUPS: usize = 20_000;

/// One client of a rule in the table: who, and what they did.
#[derive(Default)]
struct Client<'a> {
    count: u64,
    operations: HashMap<&'a str, u64>,
    buckets: HashMap<&'a str, u64>,
}

/// The hits as text: per rule, the top clients (RemoteIP, Requester, UserAgent) by count, then
/// the totals.
fn table(auditor: &Auditor, top: usize, formats: &FormatCounts) -> String {
    let totals = auditor.totals();
    let mut by_rule: HashMap<Rule, HashMap<[Option<&str>; 3], Client<'_>>> = HashMap::new();
    let groups = auditor.groups();
    for (key, stats) in &groups {
        let client = by_rule
            .entry(key.rule)
            .or_default()
            .entry([
                key.remote_ip.as_deref(),
                key.requester.as_deref(),
                key.user_agent.as_deref(),
            ])
            .or_default();
        client.count += stats.count;
        *client
            .operations
            .entry(key.operation.as_deref().unwrap_or("-"))
            .or_default() += stats.count;
        *client
            .buckets
            .entry(key.bucket.as_deref().unwrap_or("-"))
            .or_default() += stats.count;
    }
    let mut text = String::new();
    for rule in auditor.config().rules.iter() {
        let hits = totals.hits.get(rule);
        let detection = rule.detection();
        let _ = writeln!(
            text,
            "{} [{}] ({}): {}",
            rule.name(),
            detection.severity.name(),
            detection.title,
            plural(hits, "hit")
        );
        let Some(clients) = by_rule.get(&rule) else {
            text.push('\n');
            continue;
        };
        let mut clients: Vec<_> = clients.iter().collect();
        clients.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        let _ = writeln!(
            text,
            "  {:>7}  {:<22}  {:<48}  {:<36}  {:<22}  BUCKET",
            "COUNT", "REMOTE IP", "REQUESTER", "USER AGENT", "OPERATION"
        );
        for ([ip, requester, agent], client) in clients.iter().take(top) {
            let _ = writeln!(
                text,
                "  {:>7}  {:<22}  {:<48}  {:<36}  {:<22}  {}",
                client.count,
                cell(ip.unwrap_or("-"), 22),
                cell(requester.unwrap_or("(anonymous)"), 48),
                cell(agent.unwrap_or("-"), 36),
                cell(&most_common(&client.operations), 22),
                printable(&most_common(&client.buckets)),
            );
        }
        if clients.len() > top {
            let more = clients.len() - top;
            let noun = if more == 1 { "client" } else { "clients" };
            let _ = writeln!(text, "  ... and {more} more {noun}");
        }
        text.push('\n');
    }
    if auditor.forgotten_hits() > 0 {
        let _ = writeln!(
            text,
            "Client counts are lower bounds: {} of rarely seen clients were left out to keep memory bounded ({TABLE_GROUPS} client groups); the hit totals above are exact.\n",
            plural(auditor.forgotten_hits(), "hit")
        );
    }
    text.push_str(&totals_line(totals, formats));
    text
}

fn totals_line(totals: &Totals, formats: &FormatCounts) -> String {
    format!(
        "{} ({} of raw logs, {} of records), {}, {}, {} damaged; {}\n",
        plural(totals.objects, "file"),
        formats.raw,
        formats.records,
        plural(totals.records, "record"),
        plural(totals.bad_lines, "bad line"),
        totals.damaged_objects,
        plural(totals.hits.total(), "hit"),
    )
}

/// The most frequent value, with how many others there are: `REST.GET.OBJECT +2`.
fn most_common(counts: &HashMap<&str, u64>) -> String {
    let top = counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)));
    match top {
        Some((value, _)) if counts.len() > 1 => format!("{value} +{}", counts.len() - 1),
        Some((value, _)) => (*value).to_owned(),
        None => "-".to_owned(),
    }
}

/// `value` made safe for a terminal ([`printable`]), cut to `width` characters, with an
/// ellipsis when cut.
fn cell(value: &str, width: usize) -> String {
    let value = printable(value);
    if value.chars().count() <= width {
        return value;
    }
    let mut cut: String = value.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

/// `value` with its control characters written as `\u{..}` escapes. Log fields are chosen by
/// whoever sent the request: an escape sequence in a User-Agent printed as is would let them
/// recolour, rewrite or erase the lines of the table that name them.
fn printable(value: &str) -> String {
    value
        .chars()
        .map(|c| match c.is_control() {
            true => c.escape_unicode().to_string(),
            false => c.to_string(),
        })
        .collect()
}

/// `1 hit`, `2 hits`: counts in the summaries read as sentences.
pub(crate) fn plural(n: u64, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        _ => format!("{n} {noun}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_window_counters_are_a_warning() {
        let mut totals = Totals::default();
        assert_eq!(window_warning(&totals), None);
        totals.window_evictions = 3;
        let warning = window_warning(&totals).unwrap();
        assert!(
            warning.starts_with("3 window counters dropped at the memory bound (100000)"),
            "{warning}"
        );
    }

    #[test]
    fn cells_are_cut_with_an_ellipsis() {
        assert_eq!(cell("short", 10), "short");
        assert_eq!(cell("exactly10!", 10), "exactly10!");
        assert_eq!(cell("a little too long", 10), "a little …");
        assert_eq!(cell("café au lait", 5), "café…");
    }

    #[test]
    fn cells_show_control_characters_as_escapes() {
        let cases = [
            ("curl/8\u{1b}[2K\r", 40, "curl/8\\u{1b}[2K\\u{d}"),
            ("a\tb\nc\u{7f}\u{9b}", 40, "a\\u{9}b\\u{a}c\\u{7f}\\u{9b}"),
            ("\u{1b}]0;owned\u{7}", 10, "\\u{1b}]0;…"),
            ("café", 10, "café"),
        ];
        for (value, width, shown) in cases {
            assert_eq!(cell(value, width), shown, "{value:?}");
        }
        assert_eq!(printable("logs\u{1b}[8m"), "logs\\u{1b}[8m");
    }

    #[test]
    fn shows_the_most_common_value_and_how_many_others() {
        let counts = HashMap::from([
            ("REST.GET.OBJECT", 5),
            ("REST.PUT.OBJECT", 2),
            ("REST.HEAD.OBJECT", 2),
        ]);
        assert_eq!(most_common(&counts), "REST.GET.OBJECT +2");
        assert_eq!(most_common(&HashMap::from([("b", 1)])), "b");
        assert_eq!(most_common(&HashMap::new()), "-");
    }
}
