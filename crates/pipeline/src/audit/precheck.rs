//! The byte-level pre-check: decides, without parsing JSON, whether a record line could be a hit.
//!
//! Most lines of a Firehose object are ordinary SigV4 / TLS 1.2 requests, so the postprocessor's
//! speed is the speed of rejecting them. For every enabled rule the pre-check finds the rule's
//! key (`"SignatureVersion"`, ...) with a SIMD substring search and looks at the bytes of the
//! value that follows. The full check (`serde_json` into [`super::RecordView`]) then runs on
//! the few lines that remain.
//!
//! Soundness (never a false negative) for *any* valid JSON, not only for our own encoder's
//! output, rests on these facts about JSON text:
//! * A key token `"K"` followed by optional whitespace and `:` is a key. Inside a string a `"`
//!   is written `\"`, so an occurrence whose opening quote follows a `\` is ambiguous and makes
//!   the line a candidate.
//! * A key spelled with `\u` escapes has no plain occurrence, and a nested object may hold a
//!   plain decoy of it; so a `\u` anywhere in the line makes it a candidate (our encoder only
//!   writes `\u` for control characters, which are rare). A required key with no plain
//!   occurrence at all also makes the line a candidate: the full check will report it missing.
//! * A value string containing any `\` escape, or a value that is neither `null`, a plain
//!   string nor digits, is a candidate: the full check decides.
//! * Every plain key occurrence is tested, not only the first, because a nested object may
//!   carry the same key; and duplicate top-level keys are rejected by the full check.

use memchr::memmem::Finder;

use super::Rule;
use super::rules::{CONFIG_CHANGE_OPERATIONS, DELETE_OPERATIONS};
use super::settings::{AgentList, BusinessHours, Thresholds};

/// What the bytes after `"Key":` hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value<'a> {
    Null,
    /// A string without escapes; the bytes between the quotes.
    Str(&'a [u8]),
    /// A run of digits not followed by `.`, `e` or `E`.
    Int(&'a [u8]),
    /// Anything else: escaped strings, other numbers, objects, malformed text.
    Unknown,
}

/// A test on the value of one key.
#[derive(Clone, Debug)]
enum Test {
    /// The value is one of these strings, compared exactly.
    StrIn(&'static [&'static str]),
    /// The value is one of these strings, compared ASCII case-insensitively.
    StrInIgnoreCase(&'static [&'static str]),
    /// The value is this integer.
    Int(&'static [u8]),
    /// The value is `null`, or one of these strings.
    NullOr(&'static [&'static str]),
    /// The value is anything but `null`.
    NotNull,
    /// The value is an integer above this.
    IntAbove(u64),
    /// The value is a User-Agent on this list.
    Agent(AgentList),
    /// The value is a request time outside these hours.
    OffHours(BusinessHours),
}

/// The bytes of a string without escapes as text; `None` for invalid UTF-8.
fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

impl Test {
    fn passes(&self, value: Value<'_>) -> bool {
        // The bytes of a string without escapes are the string itself, so the full check's own
        // functions decide; invalid UTF-8 is left to the full check.
        match (self, value) {
            (_, Value::Unknown) => true,
            (Test::IntAbove(n), Value::Int(s)) => text(s)
                .and_then(|digits| digits.parse::<u64>().ok())
                .is_none_or(|value| value > *n),
            (Test::Agent(list), Value::Str(s)) => text(s).is_none_or(|agent| list.matches(agent)),
            (Test::OffHours(hours), Value::Str(s)) => {
                text(s).is_none_or(|time| hours.is_outside(time) == Some(true))
            }
            (Test::StrIn(set), Value::Str(s)) => set.iter().any(|w| w.as_bytes() == s),
            (Test::StrInIgnoreCase(set), Value::Str(s)) => {
                set.iter().any(|w| w.as_bytes().eq_ignore_ascii_case(s))
            }
            (Test::Int(n), Value::Int(s)) => s == *n,
            (Test::NullOr(_), Value::Null) => true,
            (Test::NullOr(set), Value::Str(s)) => set.iter().any(|w| w.as_bytes() == s),
            (Test::NotNull, value) => value != Value::Null,
            _ => false,
        }
    }
}

/// One key lookup of one rule.
struct KeyCheck {
    finder: Finder<'static>,
    key_len: usize,
    test: Test,
    /// Optional keys (`ParseError`) are usually absent; required keys are always present in a
    /// contract-following record, so their absence is itself suspicious.
    required: bool,
}

/// The pre-check of one rule: the line is a candidate if any of its key checks passes.
struct RuleCheck {
    rule: Rule,
    checks: Vec<KeyCheck>,
}

/// The pre-check for a set of rules.
pub struct PreCheck {
    rules: Vec<RuleCheck>,
    unicode_escape: Finder<'static>,
}

/// A check of the key whose quoted name is `needle`.
fn key(needle: &'static [u8], test: Test, required: bool) -> KeyCheck {
    KeyCheck {
        finder: Finder::new(needle),
        key_len: needle.len(),
        test,
        required,
    }
}

/// Legacy TLS versions as S3 logs them (compared ignoring case: docs print `TLSV1.1`).
pub(crate) const LEGACY_TLS: &[&str] = &["TLSv1", "TLSv1.0", "TLSv1.1"];

/// The requester string older AWS docs used for unauthenticated requests.
pub(crate) const ANONYMOUS_REQUESTER: &str = "Anonymous";

impl PreCheck {
    /// The pre-check for `rules` with `thresholds`. A rule that needs several conditions is
    /// checked on one of them: enough to let every hit through.
    pub fn new(rules: impl IntoIterator<Item = Rule>, thresholds: &Thresholds) -> Self {
        let rules = rules
            .into_iter()
            .map(|rule| RuleCheck {
                rule,
                checks: match rule {
                    Rule::Sigv2 => vec![key(b"\"SignatureVersion\"", Test::StrIn(&["SigV2"]), true)],
                    Rule::TlsLegacy => vec![key(b"\"TLSVersion\"", Test::StrInIgnoreCase(LEGACY_TLS), true)],
                    Rule::AclRequired => vec![key(b"\"AclRequired\"", Test::StrIn(&["Yes"]), true)],
                    Rule::AccessDenied => vec![
                        key(b"\"HTTPstatus\"", Test::Int(b"403"), true),
                        key(b"\"ErrorCode\"", Test::StrIn(&["AccessDenied"]), true),
                    ],
                    Rule::Anonymous | Rule::PublicRead => {
                        vec![key(b"\"Requester\"", Test::NullOr(&[ANONYMOUS_REQUESTER]), true)]
                    }
                    Rule::ParseErrors => vec![key(b"\"ParseError\"", Test::NotNull, false)],
                    Rule::SuspiciousUserAgent => vec![key(
                        b"\"UserAgent\"",
                        Test::Agent(thresholds.suspicious_agents.clone()),
                        true,
                    )],
                    Rule::OffHours => vec![key(
                        b"\"Timestamp\"",
                        Test::OffHours(thresholds.business_hours.clone()),
                        true,
                    )],
                    // Not among the keys every record must have: a record without it is no hit.
                    Rule::LargeResponse => vec![key(
                        b"\"BytesSent\"",
                        Test::IntAbove(thresholds.large_response_bytes),
                        false,
                    )],
                    Rule::LargeObject => vec![key(
                        b"\"ObjectSize\"",
                        Test::IntAbove(thresholds.large_object_bytes),
                        false,
                    )],
                    Rule::BulkDownload => vec![key(b"\"BytesSent\"", Test::IntAbove(0), false)],
                    Rule::BucketConfigChange => {
                        vec![key(b"\"Operation\"", Test::StrIn(CONFIG_CHANGE_OPERATIONS), true)]
                    }
                    Rule::MassDeletion => vec![key(b"\"Operation\"", Test::StrIn(DELETE_OPERATIONS), true)],
                    Rule::Enumeration => vec![
                        key(b"\"HTTPstatus\"", Test::Int(b"403"), true),
                        key(b"\"HTTPstatus\"", Test::Int(b"404"), true),
                    ],
                },
            })
            .collect();
        PreCheck {
            rules,
            unicode_escape: Finder::new(b"\\u"),
        }
    }

    /// Whether `line` could be a hit of any rule; `false` means no rule can match it.
    pub fn is_candidate(&self, line: &[u8]) -> bool {
        self.rules
            .iter()
            .any(|rule| rule.checks.iter().any(|check| passes(check, line)))
            || self.has_unicode_escape(line)
    }

    /// Whether `line` could be a hit of `rule` (which must be one of the pre-check's rules).
    pub fn is_candidate_for(&self, rule: Rule, line: &[u8]) -> bool {
        self.rules
            .iter()
            .filter(|check| check.rule == rule)
            .any(|rule| rule.checks.iter().any(|check| passes(check, line)))
            || self.has_unicode_escape(line)
    }

    /// A `\u` escape can spell any key or value in a way no byte search anticipates, so such
    /// (rare) lines always go to the full check.
    fn has_unicode_escape(&self, line: &[u8]) -> bool {
        self.unicode_escape.find(line).is_some()
    }
}

/// Whether the key check lets `line` through: an ambiguous occurrence, a value that passes,
/// or a required key without any plain occurrence.
fn passes(check: &KeyCheck, line: &[u8]) -> bool {
    let mut found_key = false;
    for at in check.finder.find_iter(line) {
        if at > 0 && line[at - 1] == b'\\' {
            return true;
        }
        let Some(value_at) = after_colon(line, at + check.key_len) else {
            continue;
        };
        found_key = true;
        if check.test.passes(value(&line[value_at..])) {
            return true;
        }
    }
    check.required && !found_key
}

/// The position after `ws* : ws*` at `at`, if a colon is there (i.e. the token was a key).
fn after_colon(line: &[u8], at: usize) -> Option<usize> {
    let mut at = skip_ws(line, at);
    if line.get(at) != Some(&b':') {
        return None;
    }
    at = skip_ws(line, at + 1);
    Some(at)
}

fn skip_ws(line: &[u8], mut at: usize) -> usize {
    while matches!(line.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

fn value(rest: &[u8]) -> Value<'_> {
    match rest.first() {
        Some(b'"') => {
            let body = &rest[1..];
            match memchr::memchr2(b'"', b'\\', body) {
                Some(end) if body[end] == b'"' => Value::Str(&body[..end]),
                _ => Value::Unknown,
            }
        }
        Some(b'n') if rest.starts_with(b"null") => Value::Null,
        Some(b'0'..=b'9') => {
            let end = rest
                .iter()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(rest.len());
            match rest.get(end) {
                Some(b'.' | b'e' | b'E') => Value::Unknown,
                _ => Value::Int(&rest[..end]),
            }
        }
        _ => Value::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_values_after_keys() {
        let cases: &[(&[u8], Value<'_>)] = &[
            (b"null,", Value::Null),
            (b"\"SigV2\",", Value::Str(b"SigV2")),
            (b"\"Sig\\u0056\",", Value::Unknown),
            (b"403,", Value::Int(b"403")),
            (b"403}", Value::Int(b"403")),
            (b"403.0,", Value::Unknown),
            (b"4e2,", Value::Unknown),
            (b"-403,", Value::Unknown),
            (b"\"unterminated", Value::Unknown),
            (b"", Value::Unknown),
            (b"nul", Value::Unknown),
        ];
        for &(rest, expected) in cases {
            assert_eq!(value(rest), expected, "{}", String::from_utf8_lossy(rest));
        }
    }

    #[test]
    fn rejects_ordinary_lines_and_accepts_every_spelling_of_a_hit() {
        let sigv2 = PreCheck::new([Rule::Sigv2], &Thresholds::default());
        let cases: &[(&str, bool)] = &[
            (r#"{"SignatureVersion":"SigV4","X":1}"#, false),
            (r#"{"SignatureVersion":null}"#, false),
            (r#"{"SignatureVersion":"SigV2"}"#, true),
            (r#"{"SignatureVersion" :  "SigV2"}"#, true),
            (r#"{"SignatureVersion":"Sig\u0056\u0032"}"#, true),
            (r#"{"Signature\u0056ersion":"SigV2"}"#, true),
            // The key text as a value is not a key; the key itself is missing: candidate.
            (r#"{"Key":"SignatureVersion","Other":"SigV2"}"#, true),
            (r#"{"Key":"a\"SignatureVersion\":\"SigV2\""}"#, true),
            (
                r#"{"Nested":{"SignatureVersion":null},"SignatureVersion":"SigV2"}"#,
                true,
            ),
            (r#"{"Key":"SigV2","SignatureVersion":"SigV4"}"#, false),
        ];
        for &(line, expected) in cases {
            assert_eq!(sigv2.is_candidate(line.as_bytes()), expected, "{line}");
        }
    }

    #[test]
    fn optional_keys_need_a_unicode_escape_to_hide() {
        let parse_errors = PreCheck::new([Rule::ParseErrors], &Thresholds::default());
        assert!(!parse_errors.is_candidate(br#"{"SignatureVersion":"SigV4"}"#));
        assert!(!parse_errors.is_candidate(br#"{"ParseError":null}"#));
        assert!(parse_errors.is_candidate(br#"{"ParseError":"Time: bad"}"#));
        assert!(parse_errors.is_candidate(br#"{"Parse\u0045rror":"x"}"#));
    }
}
