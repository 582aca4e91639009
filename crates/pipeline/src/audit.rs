//! The audit rules: find the requests that an S3 change will break, and the requests a security
//! team wants to see, in records or raw logs.
//!
//! One engine serves the postprocessor Lambda (records from Firehose, gzip NDJSON or Parquet),
//! `s3logs audit` (raw logs, records or Parquet files of records) and `s3logs run`. Each rule
//! selects records; each hit becomes one compact JSON object on one line with top-level keys, so
//! CloudWatch Logs Insights discovers the fields and `filter SignatureVersion = 'SigV2' | stats
//! count(*) by RemoteIP, Bucket, Operation, UserAgent` works as written. In summary mode, hits
//! are counted per client instead.
//!
//! Raw log lines are first encoded into records with [`s3_access_log::RecordEncoder`] (through
//! [`crate::ingest::RecordReader`], exactly as the preprocessor does) and then audited as
//! records, so a raw line and its JSON record give the same hit line, byte for byte.
//!
//! The parts, each in its module: `catalogue` (each detection's id, title, severity, MITRE
//! ATT&CK ids and description: the one definition every output reads), `rules` (what each rule
//! selects, the configuration), `settings` (the thresholds), `reader` (an object's record lines,
//! raw or records), `parquet` (a Parquet object's rows as those records), `auditor` (the rules applied, counted), `windows` (the bounded counters of
//! the rules over a time window), `report` (totals, per-object reports, metrics) and `output`
//! (hit and summary lines), with the byte-level `precheck` and the borrowed `view` of a record
//! underneath. `docs/detections.md` describes every detection for users.
//!
//! The first six rules, and the AWS change each one prepares for:
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
//! Then the security detections: `public-read`, `suspicious-user-agent`, `off-hours`,
//! `large-response`, `large-object`, `bucket-config-change`, and the windowed `enumeration`,
//! `mass-deletion` and `bulk-download` (see [`CATALOGUE`]).
//!
//! AWS describes finding SigV2 and ACL-dependent requests in server access logs in "Identifying
//! Amazon S3 requests using server access logs":
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-s3-access-logs-to-identify-requests.html>

mod auditor;
mod catalogue;
mod output;
mod parquet;
mod precheck;
mod reader;
mod report;
mod rules;
mod settings;
mod view;
mod windows;

pub use auditor::Auditor;
pub use catalogue::{CATALOGUE, Detection, Severity};
pub use output::{DEFAULT_SUMMARY_GROUPS, GroupKey, GroupStats, MAX_RAW_LINE_IN_HIT, WindowHit, write_hit};
pub use precheck::PreCheck;
pub use reader::{Format, sniff_format};
pub use report::{BAD_LINE_EXAMPLES, BadLine, ObjectReport, RuleCounts, Totals};
pub use rules::{
    AuditConfig, CONFIG_CHANGE_OPERATIONS, ConfigError, DEFAULT_EXCLUDE_USER_AGENT, DEFAULT_RULES,
    DELETE_OPERATIONS, OBJECT_READ_OPERATIONS, OutputMode, Rule, RuleSet, WindowBy, WindowSpec,
};
pub use settings::{
    AgentList, Burst, BusinessHours, DEFAULT_SDK_AGENTS, DEFAULT_SUSPICIOUS_AGENTS, SETTINGS, Thresholds,
};
pub use view::{RecordView, Slot, Text};
pub use windows::DEFAULT_WINDOW_ENTRIES;

#[cfg(test)]
mod tests;
