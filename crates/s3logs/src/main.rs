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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// The rule flags are one struct in every subcommand that audits, so a user reads the same
    /// name, help and default wherever they are.
    #[test]
    fn every_auditing_subcommand_has_the_same_rule_flags() {
        let cli = Cli::command();
        let flag = |subcommand: &str, id: &str| {
            let subcommand = cli.find_subcommand(subcommand).unwrap();
            let arg = subcommand
                .get_arguments()
                .find(|arg| arg.get_long() == Some(id))
                .unwrap_or_else(|| panic!("{} has no --{id}", subcommand.get_name()));
            let help = arg.get_help().map(ToString::to_string);
            let defaults: Vec<_> = arg.get_default_values().to_vec();
            (help, defaults, arg.get_value_names().map(<[_]>::to_vec))
        };
        for id in ["rules", "set", "exclude-user-agent"] {
            let audit = flag("audit", id);
            assert!(audit.0.is_some(), "--{id} has help");
            for other in ["run", "report"] {
                assert_eq!(flag(other, id), audit, "--{id} of {other}");
            }
        }
        for id in ["json", "summary", "top"] {
            assert!(
                cli.find_subcommand("report")
                    .unwrap()
                    .get_arguments()
                    .all(|arg| arg.get_long() != Some(id)),
                "report draws a page: --{id} has no meaning there"
            );
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
