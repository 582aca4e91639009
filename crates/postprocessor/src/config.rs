//! Settings, read once at start-up from the environment the SAM template sets.
//!
//! A malformed variable stops the function at start-up with an error naming it, not on the
//! first event. Variables:
//! * `RULES`: comma list of audit rules (default `sigv2`; `all` for every rule).
//! * `EXCLUDE_USER_AGENT`: regex of user agents the client-software rules (sigv2, tls-legacy,
//!   acl-required) skip (default: the S3 console and AWS-internal traffic; set it empty to
//!   exclude nothing).
//! * `OUTPUT`: `lines` (one line per hit, default) or `summary` (one line per client and rule
//!   with a `Count`, cheaper in CloudWatch Logs on busy buckets).
//! * `MAX_DECOMPRESSED_BYTES`: cap on decoded bytes per object (for Parquet, the NDJSON bytes
//!   its rows make), a guard against gzip bombs (default 10 GiB, far above Firehose's 128 MiB
//!   buffer at any compression ratio).
//! * `MAX_SPOOL_BYTES`: largest Parquet object copied to ephemeral storage (`/tmp`) to be read
//!   (default 256 MiB: twice Firehose's largest buffer, within Lambda's default 512 MB of
//!   `/tmp`). A larger object fails its event, which is kept for retry and then in the
//!   failed-events queue: raise this and the function's `EphemeralStorage`, then redrive it.
//! * `DETECTION_SETTINGS`: the detections' thresholds as `NAME=VALUE` entries separated by `;`,
//!   the text `s3logs audit --set` takes (`enumeration.count=20;off-hours.time-zone=Europe/Berlin`);
//!   unset or empty keeps every default (`s3logs audit --list` shows them).

use std::path::PathBuf;

use lambda_adapter::ReadSettings;
use pipeline::audit::{AuditConfig, DEFAULT_EXCLUDE_USER_AGENT, DEFAULT_RULES, OutputMode};

use crate::Error;

/// Default `MAX_DECOMPRESSED_BYTES`.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: u64 = 10 << 30;

/// Default `MAX_SPOOL_BYTES`.
pub const DEFAULT_MAX_SPOOL_BYTES: u64 = 256 << 20;

/// The `Function` dimension of the metrics; fixed, so the alarm in the template does not depend
/// on the deployed function name.
pub const FUNCTION_DIMENSION: &str = "postprocessor";

/// Everything the postprocessor needs to know about its deployment.
#[derive(Clone, Debug)]
pub struct Config {
    /// Rules, exclusion and output mode.
    pub audit: AuditConfig,
    /// Most decoded bytes read from one object.
    pub max_decompressed_bytes: u64,
    /// Largest Parquet object spooled to local storage.
    pub max_spool_bytes: u64,
    /// Where Parquet objects are spooled: the temporary directory (`/tmp` in Lambda; not part
    /// of the environment contract beyond `TMPDIR`).
    pub spool_dir: PathBuf,
    /// How objects are downloaded and resumed (not part of the environment contract).
    pub read: ReadSettings,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, Error> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
        let rules = lookup("RULES").unwrap_or_else(|| DEFAULT_RULES.to_owned());
        let exclude = lookup("EXCLUDE_USER_AGENT").unwrap_or_else(|| DEFAULT_EXCLUDE_USER_AGENT.to_owned());
        let output_text = lookup("OUTPUT").unwrap_or_default();
        let output = OutputMode::parse(&output_text).map_err(|error| Error::InvalidVariable {
            name: "OUTPUT",
            value: output_text.clone(),
            reason: error.to_string(),
        })?;
        let mut audit = AuditConfig::new(&rules, &exclude, output).map_err(|error| {
            let (name, value) = match error {
                pipeline::audit::ConfigError::BadExcludePattern(_) => ("EXCLUDE_USER_AGENT", exclude.clone()),
                _ => ("RULES", rules.clone()),
            };
            Error::InvalidVariable {
                name,
                value,
                reason: error.to_string(),
            }
        })?;
        if let Some(settings) = lookup("DETECTION_SETTINGS") {
            audit
                .thresholds
                .apply(&settings)
                .map_err(|error| Error::InvalidVariable {
                    name: "DETECTION_SETTINGS",
                    value: settings.clone(),
                    reason: error.to_string(),
                })?;
        }
        let max_decompressed_bytes =
            bytes_variable(&lookup, "MAX_DECOMPRESSED_BYTES", DEFAULT_MAX_DECOMPRESSED_BYTES)?;
        let max_spool_bytes = bytes_variable(&lookup, "MAX_SPOOL_BYTES", DEFAULT_MAX_SPOOL_BYTES)?;
        Ok(Config {
            audit,
            max_decompressed_bytes,
            max_spool_bytes,
            spool_dir: std::env::temp_dir(),
            read: ReadSettings::default(),
        })
    }
}

/// A whole number of bytes from variable `name`, or `default` when it is unset.
fn bytes_variable(
    lookup: impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<u64, Error> {
    match lookup(name) {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| Error::InvalidVariable {
            name,
            value: text.clone(),
            reason: "expected a whole number of bytes".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use pipeline::audit::{Rule, Thresholds};

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, Error> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_audit_sigv2_without_console_traffic() {
        let config = config(&[]).unwrap();
        assert_eq!(config.audit.rules.iter().collect::<Vec<_>>(), [Rule::Sigv2]);
        assert_eq!(config.audit.output, OutputMode::Lines);
        assert!(config.audit.exclude_user_agent.unwrap().is_match("S3Console/0.4"));
        assert_eq!(config.max_decompressed_bytes, 10 * 1024 * 1024 * 1024);
        assert_eq!(config.max_spool_bytes, 256 * 1024 * 1024);
    }

    #[test]
    fn reads_every_variable() {
        let config = config(&[
            ("RULES", "tls-legacy,acl-required"),
            ("EXCLUDE_USER_AGENT", ""),
            ("OUTPUT", "summary"),
            ("MAX_DECOMPRESSED_BYTES", "1048576"),
            ("MAX_SPOOL_BYTES", "2097152"),
            (
                "DETECTION_SETTINGS",
                "enumeration.count=7; off-hours.time-zone=Europe/Berlin;;large-object.bytes=10",
            ),
        ])
        .unwrap();
        assert_eq!(config.audit.rules.to_string(), "tls-legacy,acl-required");
        assert!(config.audit.exclude_user_agent.is_none());
        assert_eq!(config.audit.output, OutputMode::Summary);
        assert_eq!(config.max_decompressed_bytes, 1 << 20);
        assert_eq!(config.max_spool_bytes, 2 << 20);
        let thresholds = &config.audit.thresholds;
        assert_eq!(thresholds.enumeration.threshold, 7);
        assert_eq!(thresholds.large_object_bytes, 10);
        assert_eq!(thresholds.business_hours.zone.iana_name(), Some("Europe/Berlin"));
        // The settings not named keep their defaults.
        let defaults = Thresholds::default();
        assert_eq!(thresholds.enumeration.minutes, defaults.enumeration.minutes);
        assert_eq!(thresholds.large_response_bytes, defaults.large_response_bytes);
        assert_eq!(thresholds.mass_deletion, defaults.mass_deletion);
    }

    #[test]
    fn detection_settings_unset_or_blank_keep_the_defaults() {
        for vars in [
            &[][..],
            &[("DETECTION_SETTINGS", "")],
            &[("DETECTION_SETTINGS", " ; ")],
        ] {
            assert_eq!(config(vars).unwrap().audit.thresholds, Thresholds::default());
        }
    }

    #[test]
    fn errors_name_the_variable_and_the_accepted_values() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("RULES", "sigv2,sigv5")],
                "RULES=\"sigv2,sigv5\" is invalid: unknown rule `sigv5`; known rules: sigv2",
            ),
            (
                &[("EXCLUDE_USER_AGENT", "(")],
                "EXCLUDE_USER_AGENT=\"(\" is invalid",
            ),
            (&[("OUTPUT", "table")], "OUTPUT=\"table\" is invalid"),
            (
                &[("DETECTION_SETTINGS", "enumeration.count=0")],
                "DETECTION_SETTINGS=\"enumeration.count=0\" is invalid: enumeration.count=\"0\" is invalid",
            ),
            (
                &[("DETECTION_SETTINGS", "large-object.bytes=1;enumeration.size=5")],
                "is invalid: unknown setting `enumeration.size`; known settings",
            ),
            (
                &[("DETECTION_SETTINGS", "off-hours.time-zone=Mars/Olympus")],
                "DETECTION_SETTINGS=\"off-hours.time-zone=Mars/Olympus\" is invalid",
            ),
            (
                &[("MAX_DECOMPRESSED_BYTES", "10GiB")],
                "MAX_DECOMPRESSED_BYTES=\"10GiB\" is invalid",
            ),
            (
                &[("MAX_SPOOL_BYTES", "-1")],
                "MAX_SPOOL_BYTES=\"-1\" is invalid: expected a whole number of bytes",
            ),
        ];
        for &(vars, expected) in cases {
            let error = config(vars).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
    }
}
