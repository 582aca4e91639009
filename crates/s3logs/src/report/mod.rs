//! `s3logs report`: one self-contained HTML page of charts for raw logs, NDJSON records or
//! Parquet files: traffic over time, top talkers, every detection's hits and the SigV2 and
//! legacy-TLS migration progress.
//!
//! Each input is turned into records ([`source`]), every record line is counted on its way
//! ([`stats::Traffic`]) into the audit engine, whose hit lines are counted per detection
//! ([`stats::Hits`]); the page is then drawn ([`html`], [`svg`]). Memory is bounded whatever the
//! input's size: top lists are sketches ([`sketch`]), charts over time have a bounded number of
//! buckets ([`timeline`]), and the engine bounds its own window counters.

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use pipeline::audit::{Auditor, Format, OutputMode};

use crate::audit::{Problem, RuleSelection, describe_problems, expansion_problems, report};
use crate::inputs::{self, Outputs};

mod html;
mod sketch;
mod source;
mod stats;
mod svg;
mod timeline;

use source::{InputKind, Tee};
use stats::{Hits, Traffic};

/// Arguments of `s3logs report`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    s3logs report access-logs/ -o report.html\n  \
    s3logs report --rules sigv2,tls-legacy firehose-output/ parquet/ -o migration.html\n\n\
    Requests of --exclude-user-agent are left out of the client-software detections (sigv2,\n\
    tls-legacy, acl-required) only; the other detections and the traffic charts count every\n\
    request.")]
pub struct ReportArgs {
    /// Raw log files, NDJSON record files, Parquet files or directories (read recursively),
    /// gzipped or not; `-` or nothing reads standard input.
    pub paths: Vec<PathBuf>,
    /// The HTML file to write.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Detections and their settings.
    #[command(flatten)]
    pub rules: RuleSelection,
}

/// Runs `s3logs report`; the exit code is non-zero if any input could not be read to the end
/// (the page is still written, with what could be read).
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let config = args.rules.config(OutputMode::Lines)?;
    let mut traffic = Traffic::new(config.thresholds.clone());
    let mut auditor = Auditor::new(config);
    let mut hits = Hits::default();
    let expansion = inputs::expand(&args.paths, &Outputs::new().file(&args.output))?;
    let mut problems = expansion_problems(&expansion);
    let mut kinds = Vec::new();
    for input in &expansion.inputs {
        let name = input.name();
        let (kind, records) = match source::records(input) {
            Ok(opened) => opened,
            Err(error) => {
                problems.push(Problem::fatal(format!("{name}: {error:#}")));
                continue;
            }
        };
        kinds.push(kind);
        let tee = Tee::new(records, |line: &[u8]| traffic.observe(line));
        match auditor.audit_object(tee, &name, Format::Records, u64::MAX, &mut hits) {
            Ok(object) => problems.extend(describe_problems(&name, &object)),
            // A damaged file (a gzip stream cut short) fails part-way: what was read before is
            // counted, as `s3logs audit` audits the lines before damage.
            Err(error) => problems.push(Problem::fatal(format!(
                "{name}: {error:#} (the records before it are in the report)"
            ))),
        }
    }
    auditor.finish(&mut hits).context("counting hits")?;
    let page = html::Page {
        inputs: describe_inputs(&kinds),
        problems: problems.iter().filter(|p| p.fatal).count(),
        traffic: &traffic,
        hits: &hits,
        rules: auditor.config().rules.iter().collect(),
        excluded_agents: auditor
            .config()
            .exclude_user_agent
            .as_ref()
            .map(|r| r.as_str().to_owned()),
        window_evictions: auditor.totals().window_evictions,
    };
    fs::write(&args.output, html::render(&page))
        .with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!("s3logs: wrote {}", args.output.display());
    Ok(report(&problems))
}

/// `3 inputs: 2 raw log, 1 Parquet`.
fn describe_inputs(kinds: &[InputKind]) -> String {
    if kinds.is_empty() {
        return "No input could be read.".to_owned();
    }
    let mut parts = Vec::new();
    for kind in [InputKind::RawLog, InputKind::Records, InputKind::Parquet] {
        let n = kinds.iter().filter(|&&k| k == kind).count();
        if n > 0 {
            parts.push(format!("{n} {}", kind.name()));
        }
    }
    let noun = if kinds.len() == 1 { "input" } else { "inputs" };
    format!("{} {noun}: {}", kinds.len(), parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_the_inputs_by_kind() {
        let cases: [(&[InputKind], &str); 3] = [
            (&[], "No input could be read."),
            (&[InputKind::Records], "1 input: 1 NDJSON records"),
            (
                &[InputKind::Parquet, InputKind::RawLog, InputKind::RawLog],
                "3 inputs: 2 raw log, 1 Parquet",
            ),
        ];
        for (kinds, text) in cases {
            assert_eq!(describe_inputs(kinds), text);
        }
    }
}
