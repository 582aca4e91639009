//! The rules and their configuration: what each rule selects, which rules run, which user
//! agents are left out and whether hits are written one by one or counted per client.

use std::fmt;

use regex::Regex;

use super::precheck::{ANONYMOUS_REQUESTER, LEGACY_TLS};
use super::view::RecordView;

/// Rules enabled when none are configured.
pub const DEFAULT_RULES: &str = "sigv2";

/// User agents excluded by default: the S3 console and AWS's own services. Their requests are
/// not the user's to migrate and would drown the real findings.
pub const DEFAULT_EXCLUDE_USER_AGENT: &str = "S3Console|aws-internal|AWSConfig";

/// One audit rule.
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
    /// Unauthenticated requests outside website endpoints.
    Anonymous,
    /// Records carrying `ParseError`.
    ParseErrors,
}

impl Rule {
    /// Every rule, in reporting order.
    pub const ALL: [Rule; 6] = [
        Rule::Sigv2,
        Rule::TlsLegacy,
        Rule::AclRequired,
        Rule::AccessDenied,
        Rule::Anonymous,
        Rule::ParseErrors,
    ];

    /// The rule's name in `RULES`, `--rules` and the `Rule` key of hit lines.
    pub const fn name(self) -> &'static str {
        match self {
            Rule::Sigv2 => "sigv2",
            Rule::TlsLegacy => "tls-legacy",
            Rule::AclRequired => "acl-required",
            Rule::AccessDenied => "access-denied",
            Rule::Anonymous => "anonymous",
            Rule::ParseErrors => "parse-errors",
        }
    }

    /// One line on what the rule finds, for help texts and reports.
    pub const fn description(self) -> &'static str {
        match self {
            Rule::Sigv2 => "requests signed with Signature Version 2",
            Rule::TlsLegacy => "requests over TLS 1.0 or 1.1",
            Rule::AclRequired => "requests that needed an ACL (break when ACLs are disabled)",
            Rule::AccessDenied => "requests denied with HTTP 403 / AccessDenied",
            Rule::Anonymous => "unauthenticated requests outside website endpoints",
            Rule::ParseErrors => "log lines that could not be parsed cleanly",
        }
    }

    /// The rule with this name.
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.name() == name)
    }

    /// The exact check: whether the record is a hit of this rule.
    pub fn matches(self, record: &RecordView<'_>) -> bool {
        match self {
            Rule::Sigv2 => record.signature_version.text() == Some("SigV2"),
            Rule::TlsLegacy => record
                .tls_version
                .text()
                .is_some_and(|tls| LEGACY_TLS.iter().any(|legacy| legacy.eq_ignore_ascii_case(tls))),
            Rule::AclRequired => record.acl_required.text() == Some("Yes"),
            Rule::AccessDenied => {
                record.http_status.get() == Some(&403) || record.error_code.text() == Some("AccessDenied")
            }
            // The Operation is parsed after the Requester, so a record that has one also has a
            // trustworthy Requester (a null Requester before a parse error means "unknown").
            Rule::Anonymous => {
                matches!(record.requester.text(), None | Some(ANONYMOUS_REQUESTER))
                    && record
                        .operation
                        .text()
                        .is_some_and(|op| !op.starts_with("WEBSITE."))
            }
            Rule::ParseErrors => record.parse_error.get().is_some(),
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
pub struct RuleSet(u8);

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
            set.0 |= 1 << rule as u8;
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
        self.0 & (1 << rule as u8) != 0
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
        })
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            rules: RuleSet(1 << Rule::Sigv2 as u8),
            exclude_user_agent: Regex::new(DEFAULT_EXCLUDE_USER_AGENT).ok(),
            output: OutputMode::Lines,
        }
    }
}
