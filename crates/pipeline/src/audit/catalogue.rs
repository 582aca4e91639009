//! The detection catalogue: one definition per rule (id, title, severity, MITRE ATT&CK technique
//! ids, what it means and how to respond), read by every place a rule shows up: hit lines, the
//! `s3logs audit --list` table, the metrics, and the tests that keep the Athena and Logs
//! Insights query files and `docs/detections.md` in step with it.

use std::fmt;

use super::rules::Rule;

/// How urgently a hit should be looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Bookkeeping: the pipeline's own health.
    Info,
    /// Hygiene or a weak signal: review in bulk.
    Low,
    /// Worth a look the same day.
    Medium,
    /// Look now: data exposed, destroyed or reconfigured.
    High,
}

impl Severity {
    /// `info`, `low`, `medium` or `high`, as hit lines carry it.
    pub const fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The definition of one detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detection {
    /// The rule it defines.
    pub rule: Rule,
    /// One line on what it finds.
    pub title: &'static str,
    /// How urgent a hit is.
    pub severity: Severity,
    /// MITRE ATT&CK (Enterprise, cloud) technique ids; empty for migration and health rules,
    /// which find no adversary behaviour. `docs/detections.md` justifies each id.
    pub mitre: &'static [&'static str],
    /// Why it matters and how to respond.
    pub description: &'static str,
    /// The settings (see [`super::Thresholds`]) that tune it.
    pub settings: &'static [&'static str],
}

impl Detection {
    /// The MITRE ids joined with `,` (`-` when there are none), as hit lines carry them.
    pub fn mitre_text(&self) -> String {
        match self.mitre {
            [] => "-".to_owned(),
            ids => ids.join(","),
        }
    }
}

/// Every detection, in reporting order (the order of [`Rule::ALL`]).
pub const CATALOGUE: [Detection; Rule::ALL.len()] = [
    Detection {
        rule: Rule::Sigv2,
        title: "requests signed with Signature Version 2",
        severity: Severity::Low,
        mitre: &[],
        description: "AWS is retiring SigV2 for S3; these requests will fail. Upgrade the client \
                      (UserAgent) to an SDK that signs with SigV4.",
        settings: &[],
    },
    Detection {
        rule: Rule::TlsLegacy,
        title: "requests over TLS 1.0 or 1.1",
        severity: Severity::Low,
        mitre: &[],
        description: "AWS endpoints require TLS 1.2 or later; these clients will fail to connect. \
                      Update the client's TLS stack.",
        settings: &[],
    },
    Detection {
        rule: Rule::AclRequired,
        title: "requests that needed an ACL (break when ACLs are disabled)",
        severity: Severity::Low,
        mitre: &[],
        description: "The request was authorized by an ACL; it fails once Object Ownership is \
                      set to bucket owner enforced. Grant the principal access in the bucket \
                      policy first.",
        settings: &[],
    },
    Detection {
        rule: Rule::AccessDenied,
        title: "requests denied with HTTP 403 / AccessDenied",
        severity: Severity::Low,
        mitre: &[],
        description: "A denied request is a broken client or someone probing. Check whether the \
                      requester should have access; many denials from one client are reported \
                      as enumeration.",
        settings: &[],
    },
    Detection {
        rule: Rule::Anonymous,
        title: "unauthenticated requests outside website endpoints",
        severity: Severity::Medium,
        mitre: &["T1530", "T1619"],
        description: "Anyone on the internet can make these requests; they break when Block \
                      Public Access is turned on. Confirm the bucket is meant to be public.",
        settings: &[],
    },
    Detection {
        rule: Rule::ParseErrors,
        title: "log lines that could not be parsed cleanly",
        severity: Severity::Info,
        mitre: &[],
        description: "The line is kept whole (RawLine) with the reason (ParseError). A sudden \
                      rise means a new log format or damaged log objects.",
        settings: &[],
    },
    Detection {
        rule: Rule::PublicRead,
        title: "successful anonymous object reads (public access)",
        severity: Severity::High,
        mitre: &["T1530"],
        description: "An object was read (GET or HEAD, 2xx) without credentials through the REST \
                      endpoint. Unless the bucket is meant to be public, turn on Block Public \
                      Access and review the bucket policy and ACLs.",
        settings: &[],
    },
    Detection {
        rule: Rule::SuspiciousUserAgent,
        title: "requests from scripted clients, bots and scanners",
        severity: Severity::Medium,
        mitre: &["T1595"],
        description: "The User-Agent is a command-line tool, a bare HTTP library, a crawler or a \
                      scanner, not an AWS SDK. Check who runs it; block the IP if it is not yours. \
                      The User-Agent is chosen by the client, so its absence proves nothing.",
        settings: &["suspicious-user-agent.patterns", "suspicious-user-agent.except"],
    },
    Detection {
        rule: Rule::OffHours,
        title: "authenticated access outside business hours",
        severity: Severity::Low,
        mitre: &["T1078"],
        description: "A signed request outside the configured hours and days. Stolen credentials \
                      are often used when nobody watches; confirm the principal's activity was \
                      expected.",
        settings: &["off-hours.hours", "off-hours.days", "off-hours.time-zone"],
    },
    Detection {
        rule: Rule::LargeResponse,
        title: "responses larger than a threshold (BytesSent)",
        severity: Severity::Medium,
        mitre: &["T1530"],
        description: "One request sent more bytes than the threshold. Confirm the requester is \
                      expected to copy that much data.",
        settings: &["large-response.bytes"],
    },
    Detection {
        rule: Rule::LargeObject,
        title: "requests on objects larger than a threshold (ObjectSize)",
        severity: Severity::Low,
        mitre: &["T1530"],
        description: "The object touched is larger than the threshold. Review who reads and writes \
                      such objects; combine with large-response and bulk-download.",
        settings: &["large-object.bytes"],
    },
    Detection {
        rule: Rule::BucketConfigChange,
        title: "bucket configuration changed (policy, ACL, public access, logging, ...)",
        severity: Severity::High,
        mitre: &["T1098", "T1562.008", "T1485", "T1530"],
        description: "A successful PUT or DELETE of a bucket setting: who (Requester), what \
                      (Operation), from where (RemoteIP, UserAgent). Confirm the change was \
                      planned; revert it if not.",
        settings: &[],
    },
    Detection {
        rule: Rule::Enumeration,
        title: "bursts of 403/404 from one IP or requester",
        severity: Severity::Medium,
        mitre: &["T1619", "T1580"],
        description: "Many denied or missing keys in a short window: someone guessing keys or \
                      probing permissions. Block the IP or disable the credentials if unknown.",
        settings: &["enumeration.count", "enumeration.minutes"],
    },
    Detection {
        rule: Rule::MassDeletion,
        title: "bursts of object deletions by one requester",
        severity: Severity::High,
        mitre: &["T1485"],
        description: "Many objects deleted in a short window. Confirm it was planned; if not, \
                      revoke the credentials and restore from versions or backups.",
        settings: &["mass-deletion.count", "mass-deletion.minutes"],
    },
    Detection {
        rule: Rule::BulkDownload,
        title: "bytes sent to one IP or requester in a window over a threshold",
        severity: Severity::High,
        mitre: &["T1530"],
        description: "Much data sent to one client in a short window: a possible exfiltration. \
                      Confirm the transfer was expected; revoke the credentials if not.",
        settings: &["bulk-download.bytes", "bulk-download.minutes"],
    },
];

impl Rule {
    /// The rule's definition in the catalogue.
    pub const fn detection(self) -> &'static Detection {
        &CATALOGUE[self as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_defines_every_rule_once_in_order() {
        for (index, rule) in Rule::ALL.into_iter().enumerate() {
            assert_eq!(CATALOGUE[index].rule, rule);
            assert_eq!(rule.detection().rule, rule);
        }
    }

    #[test]
    fn mitre_ids_are_technique_ids() {
        let technique = regex::Regex::new(r"^T\d{4}(\.\d{3})?$").unwrap();
        for detection in CATALOGUE {
            for id in detection.mitre {
                assert!(technique.is_match(id), "{}: {id}", detection.rule);
            }
        }
        assert_eq!(Rule::Sigv2.detection().mitre_text(), "-");
        assert_eq!(Rule::Enumeration.detection().mitre_text(), "T1619,T1580");
    }
}
