//! The rules and their configuration: what each rule selects, which rules run, which user
//! agents are left out, the thresholds, and whether hits are written one by one or counted per
//! client.

use std::fmt;

use regex::Regex;

use super::precheck::{ANONYMOUS_REQUESTER, LEGACY_TLS};
use super::settings::{Burst, Thresholds, known_settings};
use super::view::RecordView;

/// Rules enabled when none are configured.
pub const DEFAULT_RULES: &str = "sigv2";

/// User agents the client-software rules skip by default ([`Rule::skips_excluded_agents`]): the
/// S3 console and AWS's own services, whose signing, TLS and ACL use are not the user's to
/// migrate and would drown the real findings.
pub const DEFAULT_EXCLUDE_USER_AGENT: &str = "S3Console|aws-internal|AWSConfig";

/// One audit rule. Its definition (title, severity, MITRE ids, description) is in the
/// catalogue ([`Rule::detection`]); its thresholds are in [`Thresholds`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// Requests signed with Signature Version 2.
    Sigv2,
    /// Requests over TLS 1.0 or 1.1.
    TlsLegacy,
    /// Requests that needed an ACL to be authorized.
    AclRequired,
    /// HTTP 403 or error code `AccessDenied`.
    AccessDenied,
    /// Unauthenticated requests outside website endpoints and CORS preflights.
    Anonymous,
    /// Records carrying `ParseError`.
    ParseErrors,
    /// Successful unauthenticated GET or HEAD of an object through the REST endpoint.
    PublicRead,
    /// User agents of scripted clients, crawlers and scanners.
    SuspiciousUserAgent,
    /// Authenticated requests outside business hours, AWS's own (lifecycle, services) aside.
    OffHours,
    /// `BytesSent` over a threshold.
    LargeResponse,
    /// `ObjectSize` over a threshold.
    LargeObject,
    /// Successful PUT or DELETE of a bucket setting.
    BucketConfigChange,
    /// Many 403/404 responses for one IP or requester in a window.
    Enumeration,
    /// Many deleted objects by one requester in a window.
    MassDeletion,
    /// Many bytes sent to one IP or requester in a window.
    BulkDownload,
}

/// Operations that change a bucket setting, as S3 logs them: `REST.<METHOD>.<RESOURCE>`. Only
/// the GET spellings of these resources are common in published logs; the PUT and DELETE ones
/// follow the same resource names. `REST.PUT.ACL` is also an object ACL change (`Key` set).
pub const CONFIG_CHANGE_OPERATIONS: &[&str] = &[
    "REST.PUT.BUCKETPOLICY",
    "REST.DELETE.BUCKETPOLICY",
    "REST.PUT.ACL",
    "REST.PUT.PUBLIC_ACCESS_BLOCK",
    "REST.DELETE.PUBLIC_ACCESS_BLOCK",
    "REST.PUT.OWNERSHIP_CONTROLS",
    "REST.DELETE.OWNERSHIP_CONTROLS",
    "REST.PUT.ENCRYPTION",
    "REST.DELETE.ENCRYPTION",
    "REST.PUT.LOGGING_STATUS",
    "REST.PUT.LIFECYCLE",
    "REST.DELETE.LIFECYCLE",
    "REST.PUT.VERSIONING",
    "REST.PUT.REPLICATION",
    "REST.DELETE.REPLICATION",
    "REST.PUT.CORS",
    "REST.DELETE.CORS",
    "REST.PUT.WEBSITE",
    "REST.DELETE.WEBSITE",
];

/// Operations that delete one object each: a single DELETE, and the one record per key S3
/// writes for a multi-object delete (`BATCH.DELETE.OBJECT`). The multi-object delete request
/// itself (`REST.POST.MULTI_OBJECT_DELETE`) is not counted, or its keys would count twice.
pub const DELETE_OPERATIONS: &[&str] = &["REST.DELETE.OBJECT", "BATCH.DELETE.OBJECT"];

/// The requester of S3's own actions: lifecycle expirations and transitions (`S3.EXPIRE.OBJECT`).
const S3_ITSELF_REQUESTER: &str = "AmazonS3";

/// How the requester of an AWS service acting on the bucket begins
/// (`svc:delivery.logs.amazonaws.com` writing logs into it).
const SERVICE_PRINCIPAL_PREFIX: &str = "svc:";

/// Whether `requester` is AWS itself rather than an account's principal: S3's lifecycle or an
/// AWS service. Such requests run on AWS's schedule, not a person's.
fn is_aws_itself(requester: &str) -> bool {
    requester == S3_ITSELF_REQUESTER || requester.starts_with(SERVICE_PRINCIPAL_PREFIX)
}

/// Operations that read an object.
pub const OBJECT_READ_OPERATIONS: &[&str] = &["REST.GET.OBJECT", "REST.HEAD.OBJECT"];

/// Who a window counts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WindowBy {
    /// One `RemoteIP`.
    RemoteIp,
    /// One `Requester` (never null nor `Anonymous`: anonymous requests are counted by IP).
    Requester,
}

impl WindowBy {
    /// The record key it names, as the `WindowBy` key of hit lines carries it.
    pub const fn name(self) -> &'static str {
        match self {
            WindowBy::RemoteIp => "RemoteIP",
            WindowBy::Requester => "Requester",
        }
    }

    /// The value counted for: the record's IP or (authenticated) requester.
    pub fn of<'r>(self, record: &'r RecordView<'_>) -> Option<&'r str> {
        match self {
            WindowBy::RemoteIp => record.remote_ip.text(),
            // Every anonymous client shares the old spelling; one burst of all would be no
            // client's.
            WindowBy::Requester => record
                .requester
                .text()
                .filter(|&requester| requester != ANONYMOUS_REQUESTER),
        }
    }
}

/// How a windowed rule counts: what makes a hit and for whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowSpec {
    /// Threshold and window length.
    pub burst: Burst,
    /// Counted separately for each of these.
    pub by: &'static [WindowBy],
}

impl Rule {
    /// Every rule, in reporting order.
    pub const ALL: [Rule; 15] = [
        Rule::Sigv2,
        Rule::TlsLegacy,
        Rule::AclRequired,
        Rule::AccessDenied,
        Rule::Anonymous,
        Rule::ParseErrors,
        Rule::PublicRead,
        Rule::SuspiciousUserAgent,
        Rule::OffHours,
        Rule::LargeResponse,
        Rule::LargeObject,
        Rule::BucketConfigChange,
        Rule::Enumeration,
        Rule::MassDeletion,
        Rule::BulkDownload,
    ];

    /// Whether the rule skips requests of the excluded user agents (`EXCLUDE_USER_AGENT`). Only
    /// the findings about client software do (SigV2, legacy TLS, ACLs). A user agent is
    /// whatever the client chooses to send, so a finding about what was done (a policy
    /// changed, objects deleted or read, at night or in bulk, refused requests) must not be
    /// silenced by one, and changes made in the S3 console are among those an audit must show.
    pub const fn skips_excluded_agents(self) -> bool {
        matches!(self, Rule::Sigv2 | Rule::TlsLegacy | Rule::AclRequired)
    }

    /// The rule's id in `RULES`, `--rules` and the `Rule` key of hit lines.
    pub const fn name(self) -> &'static str {
        match self {
            Rule::Sigv2 => "sigv2",
            Rule::TlsLegacy => "tls-legacy",
            Rule::AclRequired => "acl-required",
            Rule::AccessDenied => "access-denied",
            Rule::Anonymous => "anonymous",
            Rule::ParseErrors => "parse-errors",
            Rule::PublicRead => "public-read",
            Rule::SuspiciousUserAgent => "suspicious-user-agent",
            Rule::OffHours => "off-hours",
            Rule::LargeResponse => "large-response",
            Rule::LargeObject => "large-object",
            Rule::BucketConfigChange => "bucket-config-change",
            Rule::Enumeration => "enumeration",
            Rule::MassDeletion => "mass-deletion",
            Rule::BulkDownload => "bulk-download",
        }
    }

    /// The rule with this id.
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.name() == name)
    }

    /// For rules over a window: how they count. `None` for rules on single records.
    pub fn window(self, thresholds: &Thresholds) -> Option<WindowSpec> {
        const IP_OR_REQUESTER: &[WindowBy] = &[WindowBy::RemoteIp, WindowBy::Requester];
        let (burst, by) = match self {
            Rule::Enumeration => (thresholds.enumeration, IP_OR_REQUESTER),
            Rule::MassDeletion => (thresholds.mass_deletion, &[WindowBy::Requester][..]),
            Rule::BulkDownload => (thresholds.bulk_download, IP_OR_REQUESTER),
            _ => return None,
        };
        Some(WindowSpec { burst, by })
    }

    /// What a selected record adds to its window: bytes sent for `bulk-download`, one event
    /// for the other windowed rules.
    pub fn window_amount(self, record: &RecordView<'_>) -> u64 {
        match self {
            Rule::BulkDownload => record.bytes_sent.get().copied().unwrap_or(0),
            _ => 1,
        }
    }

    /// The exact check: whether the record is a hit of this rule or, for a windowed rule
    /// ([`Rule::window`]), an event that counts towards one.
    pub fn matches(self, record: &RecordView<'_>, thresholds: &Thresholds) -> bool {
        let status = record.http_status.get().copied();
        let success = status.is_some_and(|status| (200..300).contains(&status));
        let operation_in = |set: &[&str]| record.operation.text().is_some_and(|op| set.contains(&op));
        let anonymous = matches!(record.requester.text(), None | Some(ANONYMOUS_REQUESTER));
        match self {
            Rule::Sigv2 => record.signature_version.text() == Some("SigV2"),
            Rule::TlsLegacy => record
                .tls_version
                .text()
                .is_some_and(|tls| LEGACY_TLS.iter().any(|legacy| legacy.eq_ignore_ascii_case(tls))),
            Rule::AclRequired => record.acl_required.text() == Some("Yes"),
            Rule::AccessDenied => status == Some(403) || record.error_code.text() == Some("AccessDenied"),
            // The Operation is parsed after the Requester, so a record that has one also has a
            // trustworthy Requester (a null Requester before a parse error means "unknown").
            // A CORS preflight (`OPTIONS`) is never signed, whatever the bucket's access, and
            // Block Public Access does not stop it.
            Rule::Anonymous => {
                anonymous
                    && record
                        .operation
                        .text()
                        .is_some_and(|op| !op.starts_with("WEBSITE.") && !op.starts_with("REST.OPTIONS."))
            }
            Rule::ParseErrors => record.parse_error.get().is_some(),
            Rule::PublicRead => anonymous && success && operation_in(OBJECT_READ_OPERATIONS),
            Rule::SuspiciousUserAgent => record
                .user_agent
                .text()
                .is_some_and(|agent| thresholds.suspicious_agents.matches(agent)),
            // S3's lifecycle runs at night by design and AWS services write logs around the
            // clock: neither is a principal's credentials at work.
            Rule::OffHours => {
                !anonymous
                    && !record.requester.text().is_some_and(is_aws_itself)
                    && record
                        .timestamp
                        .text()
                        .and_then(|time| thresholds.business_hours.is_outside(time))
                        == Some(true)
            }
            Rule::LargeResponse => record
                .bytes_sent
                .get()
                .is_some_and(|&bytes| bytes > thresholds.large_response_bytes),
            Rule::LargeObject => record
                .object_size
                .get()
                .is_some_and(|&size| size > thresholds.large_object_bytes),
            Rule::BucketConfigChange => success && operation_in(CONFIG_CHANGE_OPERATIONS),
            Rule::Enumeration => matches!(status, Some(403 | 404)),
            Rule::MassDeletion => success && !anonymous && operation_in(DELETE_OPERATIONS),
            Rule::BulkDownload => record.bytes_sent.get().is_some_and(|&bytes| bytes > 0),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleSet(u32);

impl RuleSet {
    /// Parses a comma-separated list of rule names (`all` for every rule). Blank entries are
    /// ignored; an unknown name is an error that lists the known ones.
    pub fn parse(list: &str) -> Result<RuleSet, ConfigError> {
        let mut set = RuleSet(0);
        for name in list.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            if name == "all" {
                set = RuleSet::all();
                continue;
            }
            let rule = Rule::from_name(name).ok_or_else(|| ConfigError::UnknownRule(name.to_owned()))?;
            set.0 |= 1 << rule as u32;
        }
        if set.0 == 0 {
            return Err(ConfigError::NoRules);
        }
        Ok(set)
    }

    /// Every rule.
    pub fn all() -> RuleSet {
        RuleSet((1 << Rule::ALL.len()) - 1)
    }

    /// Whether `rule` is in the set.
    pub fn contains(self, rule: Rule) -> bool {
        self.0 & (1 << rule as u32) != 0
    }

    /// The rules in the set, in reporting order.
    pub fn iter(self) -> impl Iterator<Item = Rule> {
        Rule::ALL.into_iter().filter(move |&rule| self.contains(rule))
    }
}

impl fmt::Display for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Rule::name).collect();
        f.write_str(&names.join(","))
    }
}

/// What is written for the hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputMode {
    /// One line per hit.
    Lines,
    /// One line per (Rule, Bucket, RemoteIP, Requester, Operation, UserAgent) with a `Count`,
    /// to cut CloudWatch Logs ingestion cost on busy buckets.
    Summary,
}

impl OutputMode {
    /// `lines` or `summary`.
    pub fn parse(text: &str) -> Result<OutputMode, ConfigError> {
        match text.trim() {
            "lines" | "" => Ok(OutputMode::Lines),
            "summary" => Ok(OutputMode::Summary),
            other => Err(ConfigError::UnknownOutput(other.to_owned())),
        }
    }
}

/// A configuration mistake: the value that is wrong and what is accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A rule name that does not exist.
    #[error("unknown rule `{0}`; known rules: {known} (or `all`)", known = known_rules())]
    UnknownRule(String),
    /// An empty rule list.
    #[error("no rules selected; known rules: {known} (or `all`)", known = known_rules())]
    NoRules,
    /// The user-agent exclusion is not a valid regular expression.
    #[error("invalid user-agent exclusion pattern: {0}")]
    BadExcludePattern(#[source] Box<regex::Error>),
    /// An output mode other than `lines` or `summary`.
    #[error("unknown output `{0}`; expected `lines` or `summary`")]
    UnknownOutput(String),
    /// A threshold name that does not exist (or an entry without `=`).
    #[error("unknown setting `{0}`; known settings (NAME=VALUE): {known}", known = known_settings())]
    UnknownSetting(String),
    /// A threshold value that does not parse.
    #[error("{name}={value:?} is invalid: {reason}")]
    BadSetting {
        /// The setting.
        name: String,
        /// Its value as given.
        value: String,
        /// What is accepted.
        reason: String,
    },
}

fn known_rules() -> String {
    Rule::ALL.map(Rule::name).join(", ")
}

/// What to look for and how to report it.
#[derive(Clone, Debug)]
pub struct AuditConfig {
    /// The rules to apply.
    pub rules: RuleSet,
    /// Records whose User-Agent matches are skipped by every rule; records without a
    /// User-Agent (e.g. unparseable lines) are never skipped.
    pub exclude_user_agent: Option<Regex>,
    /// One line per hit, or counts per client.
    pub output: OutputMode,
    /// The detections' thresholds (defaults unless set).
    pub thresholds: Thresholds,
}

impl AuditConfig {
    /// A configuration from its text form, as environment variables and CLI flags give it. An
    /// empty `exclude_user_agent` excludes nothing.
    pub fn new(rules: &str, exclude_user_agent: &str, output: OutputMode) -> Result<Self, ConfigError> {
        let exclude_user_agent = match exclude_user_agent {
            "" => None,
            pattern => Some(Regex::new(pattern).map_err(|e| ConfigError::BadExcludePattern(Box::new(e)))?),
        };
        Ok(AuditConfig {
            rules: RuleSet::parse(rules)?,
            exclude_user_agent,
            output,
            thresholds: Thresholds::default(),
        })
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            rules: RuleSet(1 << Rule::Sigv2 as u32),
            thresholds: Thresholds::default(),
            exclude_user_agent: Regex::new(DEFAULT_EXCLUDE_USER_AGENT).ok(),
            output: OutputMode::Lines,
        }
    }
}
