//! `s3logs`: the S3 access log pipeline on local files, no AWS needed.
//!
//! `parse` turns raw logs into the same NDJSON records the preprocessor sends to Firehose.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod audit;
mod inputs;
mod parse;
mod records_in;
mod records_out;
mod report;
mod run;

/// Amazon S3 server access logs, parsed and audited on your machine.
#[derive(Debug, Parser)]
#[command(name = "s3logs", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse raw S3 server access logs (or AWS's native JSON records) into NDJSON records (one JSON object per line) or Parquet.
    Parse(parse::ParseArgs),
    /// Audit raw logs, NDJSON records or Parquet files for SigV2, legacy TLS, ACLs, denied and anonymous access.
    Audit(audit::AuditArgs),
    /// Run the whole pipeline locally: pack records into Firehose-style gzip or Parquet objects, then audit them.
    Run(run::RunArgs),
    /// Draw one self-contained HTML page of charts: traffic, top talkers, detections, migration.
    Report(report::ReportArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Parse(args) => parse::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Run(args) => run::run(args),
        Command::Report(args) => report::run(args),
    };
    result.unwrap_or_else(|error| {
        eprintln!("s3logs: error: {error:#}");
        ExitCode::FAILURE
    })
}
