//! Settings, read once at start-up from the environment the SAM template sets.
//!
//! Only the variables of the deployment contract are read; everything else (retry timing,
//! concurrency) is a [`Tuning`] default that tests may tighten. A missing or malformed variable
//! stops the function at start-up with an error naming it, not on the first event.

use std::time::Duration;

use lambda_adapter::ReadSettings;
use pipeline::ingest::DEFAULT_MAX_OBJECT_BYTES;
use pipeline::packing::{MAX_RECORD, Packing};
use s3_access_log::KeyStyle;

use crate::Error;

/// Smallest `MAX_RECORD_BYTES` accepted: room for any record the ingest limits can produce
/// (a quarantined over-long line is cut to fit with 4 KiB of overhead).
pub const MIN_RECORD_BYTES: usize = 16 * 1024;

/// Everything the preprocessor needs to know about its deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `DELIVERY_STREAM_NAME`: the Firehose stream records go to.
    pub delivery_stream: String,
    /// `SOURCE_BUCKET`: only objects of this bucket are read, if set.
    pub source_bucket: Option<String>,
    /// `SOURCE_PREFIX`: only keys under this prefix are read.
    pub source_prefix: String,
    /// `OUTPUT_BUCKET`: where the pipeline writes; objects there under `output_prefix` are
    /// never read back (self-loop guard).
    pub output_bucket: Option<String>,
    /// `OUTPUT_PREFIX`: see `output_bucket`.
    pub output_prefix: String,
    /// `PACKING`: `packed` (default), `line`, or `gzip` (packed records gzipped, for a stream
    /// that stores records uncompressed with a `.gz` extension).
    pub packing: Packing,
    /// `RECORD_KEYS`: `full` (default) sends the records of `docs/record.md`; `compact` sends
    /// short keys with nulls left out, for a stream whose record format conversion maps them
    /// to the table's columns (the template sets it with `OutputFormat=parquet`).
    pub key_style: KeyStyle,
    /// `MAX_RECORD_BYTES`: largest Firehose record, and largest JSON record of one line.
    pub max_record_bytes: usize,
    /// `MAX_OBJECT_BYTES`: decoded bytes read from one object; what lies past them becomes one
    /// `size-cap` quarantine record (0 or unset: [`DEFAULT_MAX_OBJECT_BYTES`]).
    pub max_object_bytes: u64,
    /// `STATE_BUCKET` (default `OUTPUT_BUCKET`): where delivery markers are kept, under
    /// `_state/delivered/`, so that a retried event skips its objects already delivered. No
    /// markers without either variable.
    pub state_bucket: Option<String>,
    /// Timing and concurrency, not part of the environment contract.
    pub tuning: Tuning,
}

/// How hard and how long delivery tries. Defaults suit Lambda; tests shorten them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// `PutRecordBatch` calls in flight while the object is still being read.
    pub max_in_flight: usize,
    /// Batches built ahead of the calls in flight (each up to 4 MiB).
    pub queued_batches: usize,
    /// How objects are downloaded and resumed.
    pub read: ReadSettings,
    /// First retry waits up to this long (full jitter).
    pub backoff_base: Duration,
    /// No retry waits longer than this.
    pub backoff_cap: Duration,
    /// Calls made for one batch before the object is given up as failed (and retried whole by
    /// whoever invoked the function).
    pub max_attempts: u32,
    /// Work stops this long before the invocation deadline, leaving time to report (at most a
    /// tenth of the time the invocation has).
    pub deadline_margin: Duration,
    /// One `PutRecordBatch` attempt taking longer than this is abandoned and retried.
    pub attempt_timeout: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            max_in_flight: 3,
            queued_batches: 2,
            read: ReadSettings::default(),
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(5),
            max_attempts: 20,
            deadline_margin: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(20),
        }
    }
}

impl Config {
    /// A configuration with defaults for everything but the delivery stream.
    pub fn new(delivery_stream: impl Into<String>) -> Self {
        Config {
            delivery_stream: delivery_stream.into(),
            source_bucket: None,
            source_prefix: String::new(),
            output_bucket: None,
            output_prefix: String::new(),
            packing: Packing::Packed,
            key_style: KeyStyle::Full,
            max_record_bytes: MAX_RECORD,
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
            state_bucket: None,
            tuning: Tuning::default(),
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, Error> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`, so the rules are testable without touching the
    /// process environment. Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let var = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let delivery_stream =
            var("DELIVERY_STREAM_NAME").ok_or(Error::MissingVariable("DELIVERY_STREAM_NAME"))?;
        let mut config = Config::new(delivery_stream);
        config.source_bucket = var("SOURCE_BUCKET");
        config.source_prefix = var("SOURCE_PREFIX").unwrap_or_default();
        config.output_bucket = var("OUTPUT_BUCKET");
        config.output_prefix = var("OUTPUT_PREFIX").unwrap_or_default();
        config.state_bucket = var("STATE_BUCKET").or_else(|| config.output_bucket.clone());
        if let Some(value) = var("PACKING") {
            config.packing = value.parse().map_err(|_| Error::InvalidVariable {
                name: "PACKING",
                value: value.clone(),
                expected: "`packed`, `line` or `gzip`",
            })?;
        }
        if let Some(value) = var("RECORD_KEYS") {
            config.key_style = KeyStyle::from_name(&value).ok_or(Error::InvalidVariable {
                name: "RECORD_KEYS",
                value: value.clone(),
                expected: "`full` or `compact`",
            })?;
        }
        if let Some(value) = var("MAX_RECORD_BYTES") {
            config.max_record_bytes = value
                .parse()
                .ok()
                .filter(|size| (MIN_RECORD_BYTES..=MAX_RECORD).contains(size))
                .ok_or(Error::InvalidVariable {
                    name: "MAX_RECORD_BYTES",
                    value,
                    expected: "a byte count from 16384 to 1022976 (Firehose's record limit less gzip framing)",
                })?;
        }
        if let Some(value) = var("MAX_OBJECT_BYTES") {
            let bytes: u64 = value.trim().parse().map_err(|_| Error::InvalidVariable {
                name: "MAX_OBJECT_BYTES",
                value: value.clone(),
                expected: "a whole number of bytes (0 for the default, 1 GiB)",
            })?;
            if bytes > 0 {
                config.max_object_bytes = bytes;
            }
        }
        Ok(config)
    }

    /// Whether `key` in `bucket` is the pipeline's own output, which must never be read back.
    pub fn is_own_output(&self, bucket: &str, key: &str) -> bool {
        self.output_bucket.as_deref() == Some(bucket) && key.starts_with(&self.output_prefix)
    }

    /// Whether `key` in `bucket` is where raw logs are expected.
    pub fn is_source(&self, bucket: &str, key: &str) -> bool {
        self.source_bucket
            .as_deref()
            .is_none_or(|source| source == bucket)
            && key.starts_with(&self.source_prefix)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, Error> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn names_the_missing_variable() {
        let error = config(&[("SOURCE_BUCKET", "logs")]).unwrap_err();
        assert!(error.to_string().contains("DELIVERY_STREAM_NAME"), "{error}");
        let error = config(&[("DELIVERY_STREAM_NAME", "")]).unwrap_err();
        assert!(error.to_string().contains("DELIVERY_STREAM_NAME"), "{error}");
    }

    #[test]
    fn applies_defaults() {
        let config = config(&[("DELIVERY_STREAM_NAME", "s3-access-logs")]).unwrap();
        assert_eq!(config, Config::new("s3-access-logs"));
        assert_eq!(config.packing, Packing::Packed);
        assert_eq!(config.key_style, KeyStyle::Full);
        assert_eq!(config.max_record_bytes, MAX_RECORD);
        assert!(config.max_record_bytes < pipeline::packing::FIREHOSE_MAX_RECORD);
    }

    #[test]
    fn reads_every_variable() {
        let config = config(&[
            ("DELIVERY_STREAM_NAME", "stream"),
            ("SOURCE_BUCKET", "raw"),
            ("SOURCE_PREFIX", "logs/"),
            ("OUTPUT_BUCKET", "lake"),
            ("OUTPUT_PREFIX", "records/"),
            ("PACKING", "line"),
            ("RECORD_KEYS", "compact"),
            ("MAX_RECORD_BYTES", "65536"),
            ("MAX_OBJECT_BYTES", "1048576"),
        ])
        .unwrap();
        assert_eq!(config.source_bucket.as_deref(), Some("raw"));
        assert_eq!(config.source_prefix, "logs/");
        assert_eq!(config.output_bucket.as_deref(), Some("lake"));
        assert_eq!(config.output_prefix, "records/");
        assert_eq!(config.packing, Packing::Line);
        assert_eq!(config.key_style, KeyStyle::Compact);
        assert_eq!(config.max_record_bytes, 65_536);
        assert_eq!(config.max_object_bytes, 1 << 20);
        // Markers go to the output bucket unless STATE_BUCKET says otherwise.
        assert_eq!(config.state_bucket.as_deref(), Some("lake"));
    }

    #[test]
    fn max_object_bytes_zero_or_unset_means_the_default() {
        for vars in [
            &[("DELIVERY_STREAM_NAME", "s")][..],
            &[("DELIVERY_STREAM_NAME", "s"), ("MAX_OBJECT_BYTES", "0")],
        ] {
            assert_eq!(config(vars).unwrap().max_object_bytes, DEFAULT_MAX_OBJECT_BYTES);
        }
        let state = config(&[("DELIVERY_STREAM_NAME", "s"), ("STATE_BUCKET", "state")]).unwrap();
        assert_eq!(state.state_bucket.as_deref(), Some("state"));
    }

    #[test]
    fn rejects_bad_values_by_name() {
        let cases = [
            ("PACKING", "lines"),
            ("RECORD_KEYS", "short"),
            ("RECORD_KEYS", "Compact"),
            ("MAX_RECORD_BYTES", "lots"),
            ("MAX_RECORD_BYTES", "1024001"),
            ("MAX_RECORD_BYTES", "100"),
            ("MAX_OBJECT_BYTES", "1GiB"),
        ];
        for (name, value) in cases {
            let error = config(&[("DELIVERY_STREAM_NAME", "s"), (name, value)]).unwrap_err();
            let message = error.to_string();
            assert!(message.contains(name) && message.contains(value), "{message}");
        }
    }

    #[test]
    fn tells_source_from_own_output() {
        let mut config = Config::new("s");
        assert!(config.is_source("any", "any/key"));
        assert!(!config.is_own_output("any", "any/key"));
        config.source_bucket = Some("raw".into());
        config.source_prefix = "logs/".into();
        config.output_bucket = Some("raw".into());
        config.output_prefix = "records/".into();
        let cases = [
            ("raw", "logs/2024-01-01-00-00-00-ABC", true, false),
            ("raw", "records/2024/01/01/x", false, true),
            ("other", "logs/x", false, false),
            ("raw", "elsewhere/x", false, false),
        ];
        for (bucket, key, source, own) in cases {
            assert_eq!(config.is_source(bucket, key), source, "{bucket}/{key}");
            assert_eq!(config.is_own_output(bucket, key), own, "{bucket}/{key}");
        }
    }
}
