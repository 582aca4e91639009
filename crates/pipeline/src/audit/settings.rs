//! The detections' thresholds: each has a name (`enumeration.count`), a default, and a text
//! form, so that the CLI (`--set NAME=VALUE`), the postprocessor (`DETECTION_SETTINGS`) and the
//! documentation all speak of the same knobs.
//!
//! Also home to the pieces of logic a threshold carries with it: the user-agent list, business
//! hours in a time zone, and the request time as seconds since the epoch.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use regex::{Regex, RegexBuilder};

use super::rules::ConfigError;

/// Every setting: its name, its default and what it means, in `--list` order.
pub const SETTINGS: [(&str, &str, &str); 13] = [
    (
        "suspicious-user-agent.patterns",
        DEFAULT_SUSPICIOUS_AGENTS,
        "`|`-separated substrings of the User-Agent, compared ignoring case",
    ),
    (
        "suspicious-user-agent.except",
        DEFAULT_SDK_AGENTS,
        "`|`-separated substrings that clear a User-Agent (AWS SDKs built on curl); may be empty",
    ),
    (
        "off-hours.hours",
        "08-18",
        "business hours, local: start inclusive, end exclusive",
    ),
    (
        "off-hours.days",
        "mon-fri",
        "business days: a range (mon-fri) or a list (mon,wed)",
    ),
    (
        "off-hours.time-zone",
        "UTC",
        "IANA time zone of the business hours (Europe/Berlin)",
    ),
    (
        "large-response.bytes",
        "1073741824",
        "BytesSent above this is a hit (1 GiB)",
    ),
    (
        "large-object.bytes",
        "5368709120",
        "ObjectSize above this is a hit (5 GiB)",
    ),
    (
        "enumeration.count",
        "50",
        "403/404 responses from one IP or requester in a window",
    ),
    (
        "enumeration.minutes",
        "5",
        "window length; must divide a day (1440)",
    ),
    (
        "mass-deletion.count",
        "100",
        "objects deleted by one requester in a window",
    ),
    (
        "mass-deletion.minutes",
        "10",
        "window length; must divide a day (1440)",
    ),
    (
        "bulk-download.bytes",
        "10737418240",
        "bytes sent to one IP or requester in a window (10 GiB)",
    ),
    (
        "bulk-download.minutes",
        "60",
        "window length; must divide a day (1440)",
    ),
];

/// The default `suspicious-user-agent.patterns`: command-line tools and bare HTTP libraries
/// (curl, wget, Python's requests, urllib, httpx and aiohttp, Go's net/http, Perl's LWP),
/// crawlers (`bot/` matches `Googlebot/2.1` and `bingbot/2.0` but not `Botocore/1.34`), and
/// scanners. AWS SDKs and the AWS CLI (boto3 and botocore included) name themselves
/// (`aws-cli/`, `Boto3/`, `aws-sdk-java/`) and match none of these.
pub const DEFAULT_SUSPICIOUS_AGENTS: &str = "curl/|wget/|python-requests|python-urllib|python-httpx|\
aiohttp|go-http-client|libwww-perl|bot/|crawler|spider|scrapy|sqlmap|nuclei|nikto|masscan|zgrab|nmap|\
gobuster|ffuf|dirbuster|wpscan";

/// The default `suspicious-user-agent.except`: AWS SDKs and tools whose User-Agent names the
/// HTTP library underneath (the AWS SDK for PHP v2 sends `aws-sdk-php/2.8 Guzzle/3.9 curl/7.47`).
pub const DEFAULT_SDK_AGENTS: &str = "aws-sdk-|aws-cli/|boto3/|botocore/";

/// `|`-separated substrings, lower-cased, searched for all at once, ignoring case.
#[derive(Clone, Debug, Default)]
struct Substrings {
    list: Vec<String>,
    /// The alternation of the escaped substrings; `None` for an empty list. One search per
    /// User-Agent, without allocating, whatever the length of the list.
    search: Option<Regex>,
}

impl Substrings {
    fn parse(text: &str) -> Result<Self, String> {
        let list: Vec<String> = text
            .split('|')
            .map(str::trim)
            .filter(|pattern| !pattern.is_empty())
            .map(str::to_lowercase)
            .collect();
        let alternation: Vec<String> = list.iter().map(|pattern| regex::escape(pattern)).collect();
        let search = match list.is_empty() {
            true => None,
            // Escaped literals always compile, unless the list is too long for the regex size
            // limit.
            false => Some(
                RegexBuilder::new(&alternation.join("|"))
                    .case_insensitive(true)
                    .build()
                    .map_err(|error| error.to_string())?,
            ),
        };
        Ok(Substrings { list, search })
    }

    fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    fn found_in(&self, text: &str) -> bool {
        self.search.as_ref().is_some_and(|search| search.is_match(text))
    }
}

impl PartialEq for Substrings {
    fn eq(&self, other: &Self) -> bool {
        self.list == other.list
    }
}

/// Which User-Agents are suspicious: those containing a pattern and no exception, both
/// compared ignoring case.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentList {
    patterns: Substrings,
    except: Substrings,
}

impl AgentList {
    /// Whether `agent` contains one of the patterns and none of the exceptions.
    pub fn matches(&self, agent: &str) -> bool {
        self.patterns.found_in(agent) && !self.except.found_in(agent)
    }

    /// The patterns, lower-cased.
    pub fn patterns(&self) -> &[String] {
        &self.patterns.list
    }

    /// The exceptions, lower-cased.
    pub fn exceptions(&self) -> &[String] {
        &self.except.list
    }
}

/// Business hours: days of the week and an hour range, in a time zone.
#[derive(Clone, Debug, PartialEq)]
pub struct BusinessHours {
    /// First business hour (0-23), local.
    pub start: i8,
    /// First hour after business (1-24), local.
    pub end: i8,
    /// Business days, Monday first.
    pub days: [bool; 7],
    /// The zone the hours are in.
    pub zone: TimeZone,
}

impl BusinessHours {
    /// Whether the request time `timestamp` (`YYYY-MM-DD HH:MM:SS`, UTC, as in records) falls
    /// outside business hours; `None` if it is not such a time.
    pub fn is_outside(&self, timestamp: &str) -> Option<bool> {
        let utc = TimeZone::UTC.to_timestamp(parse_utc(timestamp)?).ok()?;
        let local = self.zone.to_datetime(utc);
        let day = local.weekday().to_monday_zero_offset() as usize;
        let hour = local.hour();
        Some(!self.days[day] || hour < self.start || hour >= self.end)
    }
}

fn parse_hours(text: &str) -> Result<(i8, i8), String> {
    let (start, end) = text.split_once('-').ok_or("expected START-END, like 08-18")?;
    let start: i8 = start.trim().parse().map_err(|_| "START is not an hour")?;
    let end: i8 = end.trim().parse().map_err(|_| "END is not an hour")?;
    match (0..24).contains(&start) && (1..=24).contains(&end) && start < end {
        true => Ok((start, end)),
        false => Err("expected 0 <= START < END <= 24".to_owned()),
    }
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let day = |name: &str| {
        DAY_NAMES
            .iter()
            .position(|day| day.eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| format!("`{}` is not a day (mon..sun)", name.trim()))
    };
    let mut days = [false; 7];
    for part in text.split(',').filter(|part| !part.trim().is_empty()) {
        match part.split_once('-') {
            Some((first, last)) => {
                let (first, last) = (day(first)?, day(last)?);
                if first > last {
                    return Err(format!("`{}`: a range runs mon to sun", part.trim()));
                }
                days[first..=last].iter_mut().for_each(|on| *on = true);
            }
            None => days[day(part)?] = true,
        }
    }
    Ok(days)
}

/// A count of events in a window of minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Burst {
    /// The count (events, or bytes) that makes a hit.
    pub threshold: u64,
    /// Window length in minutes; divides a day, so windows start at the same times every day
    /// (and the Athena queries can compute them from the hour and minute).
    pub minutes: u32,
}

impl Burst {
    /// The start of the window holding `seconds` (since the epoch), in seconds since the epoch.
    pub fn window_start(&self, seconds: i64) -> i64 {
        let length = i64::from(self.minutes) * 60;
        seconds.div_euclid(length) * length
    }
}

fn parse_minutes(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(minutes) if minutes > 0 && 1440 % minutes == 0 => Ok(minutes),
        _ => Err("expected minutes that divide a day (1, 5, 10, 15, 30, 60, 120, ...)".to_owned()),
    }
}

fn parse_count(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(count) if count > 0 => Ok(count),
        _ => Err("expected a whole number above 0".to_owned()),
    }
}

/// The detections' thresholds.
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    /// `suspicious-user-agent.patterns`.
    pub suspicious_agents: AgentList,
    /// `off-hours.*`.
    pub business_hours: BusinessHours,
    /// `large-response.bytes`.
    pub large_response_bytes: u64,
    /// `large-object.bytes`.
    pub large_object_bytes: u64,
    /// `enumeration.*`: 403/404 responses.
    pub enumeration: Burst,
    /// `mass-deletion.*`: deleted objects.
    pub mass_deletion: Burst,
    /// `bulk-download.*`: bytes sent.
    pub bulk_download: Burst,
}

impl Default for Thresholds {
    fn default() -> Self {
        let mut thresholds = Thresholds {
            suspicious_agents: AgentList {
                patterns: Substrings::default(),
                except: Substrings::default(),
            },
            business_hours: BusinessHours {
                start: 0,
                end: 24,
                days: [true; 7],
                zone: TimeZone::UTC,
            },
            large_response_bytes: 0,
            large_object_bytes: 0,
            enumeration: Burst {
                threshold: 1,
                minutes: 1,
            },
            mass_deletion: Burst {
                threshold: 1,
                minutes: 1,
            },
            bulk_download: Burst {
                threshold: 1,
                minutes: 1,
            },
        };
        for (name, default, _) in SETTINGS {
            // The defaults are constants checked by a test; they always parse.
            let _ = thresholds.set(name, default);
        }
        thresholds
    }
}

impl Thresholds {
    /// Sets one threshold from its text form.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let bad = |reason: String| ConfigError::BadSetting {
            name: name.to_owned(),
            value: value.to_owned(),
            reason,
        };
        let hours = &mut self.business_hours;
        match name.trim() {
            "suspicious-user-agent.patterns" => match Substrings::parse(value).map_err(bad)? {
                patterns if patterns.is_empty() => {
                    return Err(bad("expected at least one pattern".to_owned()));
                }
                patterns => self.suspicious_agents.patterns = patterns,
            },
            "suspicious-user-agent.except" => {
                self.suspicious_agents.except = Substrings::parse(value).map_err(bad)?;
            }
            "off-hours.hours" => (hours.start, hours.end) = parse_hours(value).map_err(bad)?,
            "off-hours.days" => hours.days = parse_days(value).map_err(bad)?,
            "off-hours.time-zone" => {
                hours.zone = TimeZone::get(value.trim()).map_err(|error| bad(error.to_string()))?;
            }
            "large-response.bytes" => self.large_response_bytes = parse_count(value).map_err(bad)?,
            "large-object.bytes" => self.large_object_bytes = parse_count(value).map_err(bad)?,
            "enumeration.count" => self.enumeration.threshold = parse_count(value).map_err(bad)?,
            "enumeration.minutes" => self.enumeration.minutes = parse_minutes(value).map_err(bad)?,
            "mass-deletion.count" => self.mass_deletion.threshold = parse_count(value).map_err(bad)?,
            "mass-deletion.minutes" => self.mass_deletion.minutes = parse_minutes(value).map_err(bad)?,
            "bulk-download.bytes" => self.bulk_download.threshold = parse_count(value).map_err(bad)?,
            "bulk-download.minutes" => self.bulk_download.minutes = parse_minutes(value).map_err(bad)?,
            other => return Err(ConfigError::UnknownSetting(other.to_owned())),
        }
        Ok(())
    }

    /// Applies `NAME=VALUE` settings separated by `;` (blank entries are ignored), as
    /// `DETECTION_SETTINGS` and repeated `--set` flags give them.
    pub fn apply(&mut self, list: &str) -> Result<(), ConfigError> {
        for entry in list.split(';').map(str::trim).filter(|entry| !entry.is_empty()) {
            let (name, value) = entry
                .split_once('=')
                .ok_or_else(|| ConfigError::UnknownSetting(entry.to_owned()))?;
            self.set(name, value)?;
        }
        Ok(())
    }
}

/// The names of the settings, for error messages.
pub(super) fn known_settings() -> String {
    SETTINGS.map(|(name, _, _)| name).join(", ")
}

/// A record `Timestamp` (`YYYY-MM-DD HH:MM:SS`, UTC) as a civil time.
fn parse_utc(timestamp: &str) -> Option<DateTime> {
    timestamp.parse::<DateTime>().ok()
}

/// A record `Timestamp` (`YYYY-MM-DD HH:MM:SS`, UTC) as seconds since the epoch.
pub(super) fn epoch_seconds(timestamp: &str) -> Option<i64> {
    Some(
        TimeZone::UTC
            .to_timestamp(parse_utc(timestamp)?)
            .ok()?
            .as_second(),
    )
}

/// Seconds since the epoch as a record `Timestamp`.
pub(super) fn format_utc(seconds: i64) -> String {
    match jiff::Timestamp::from_second(seconds) {
        Ok(time) => TimeZone::UTC
            .to_datetime(time)
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => seconds.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        let mut thresholds = Thresholds::default();
        for (name, default, _) in SETTINGS {
            thresholds.set(name, default).unwrap();
        }
        assert_eq!(thresholds, Thresholds::default());
        assert_eq!(
            thresholds.enumeration,
            Burst {
                threshold: 50,
                minutes: 5
            }
        );
        assert_eq!(
            thresholds.business_hours.days,
            [true, true, true, true, true, false, false]
        );
        for list in [DEFAULT_SUSPICIOUS_AGENTS, DEFAULT_SDK_AGENTS] {
            assert!(
                !list.contains(['%', '_', '\'']),
                "the Athena LIKE patterns would differ"
            );
        }
    }

    #[test]
    fn settings_are_checked() {
        let cases: &[(&str, &str, &str)] = &[
            ("off-hours.hours", "18-08", "START < END"),
            ("off-hours.hours", "8", "START-END"),
            ("off-hours.days", "mon-funday", "`funday` is not a day"),
            ("off-hours.days", "fri-mon", "a range runs mon to sun"),
            ("off-hours.time-zone", "Mars/Olympus", "Mars/Olympus"),
            ("enumeration.minutes", "7", "divide a day"),
            ("enumeration.count", "0", "above 0"),
            ("suspicious-user-agent.patterns", " | ", "at least one pattern"),
            ("enumeration.window", "5", "unknown setting `enumeration.window`"),
        ];
        for &(name, value, expected) in cases {
            let error = Thresholds::default().set(name, value).unwrap_err().to_string();
            assert!(error.contains(expected), "{name}={value}: {error}");
        }
        let mut thresholds = Thresholds::default();
        thresholds
            .apply(" enumeration.count=3; off-hours.days=mon,wed-thu ;;off-hours.time-zone=Europe/Berlin")
            .unwrap();
        assert_eq!(thresholds.enumeration.threshold, 3);
        assert_eq!(
            thresholds.business_hours.days,
            [true, false, true, true, false, false, false]
        );
        assert!(thresholds.apply("enumeration.count").is_err());
    }

    #[test]
    fn business_hours_are_local_with_daylight_saving() {
        let mut thresholds = Thresholds::default();
        thresholds.apply("off-hours.time-zone=Europe/Berlin").unwrap();
        let hours = &thresholds.business_hours;
        let cases = [
            // Winter, UTC+1: 07:30 UTC is 08:30 in Berlin.
            ("2026-01-14 07:30:00", Some(false)),
            ("2026-01-14 06:59:59", Some(true)),
            // Summer, UTC+2: 06:30 UTC is 08:30; 16:00 UTC is 18:00, closed.
            ("2026-07-15 06:30:00", Some(false)),
            ("2026-07-15 16:00:00", Some(true)),
            // Saturday midday.
            ("2026-07-18 10:00:00", Some(true)),
            // Sunday 23:30 UTC is Monday 00:30 in Berlin: a business day, before hours.
            ("2026-07-19 23:30:00", Some(true)),
            ("not a time", None),
        ];
        for (timestamp, expected) in cases {
            assert_eq!(hours.is_outside(timestamp), expected, "{timestamp}");
        }
    }

    #[test]
    fn user_agents_match_ignoring_case_and_sdks_do_not() {
        let agents = Thresholds::default().suspicious_agents;
        for agent in [
            "curl/8.5.0",
            "Wget/1.21",
            "python-requests/2.31",
            "Python-urllib/3.11",
            "Mozilla/5.0 (compatible; Googlebot/2.1)",
            "sqlmap/1.7",
            "Nuclei - Open-source project",
            "masscan/1.3",
            "Mozilla/5.0 zgrab/0.x",
        ] {
            assert!(agents.matches(agent), "{agent}");
        }
        for agent in [
            "aws-cli/2.15.0 md/awscrt#0.19 ua/2.0 os/linux lang/python#3.11",
            "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux lang/python#3.11",
            "aws-sdk-java/1.12 Java/17",
            "S3Console/0.4",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
            "aws-sdk-php/2.8.31 Guzzle/3.9.3 curl/7.47.0 PHP/5.6.40",
        ] {
            assert!(!agents.matches(agent), "{agent}");
        }
        let mut thresholds = Thresholds::default();
        thresholds.set("suspicious-user-agent.except", "").unwrap();
        assert!(
            thresholds
                .suspicious_agents
                .matches("aws-sdk-php/2.8.31 Guzzle/3.9.3 curl/7.47.0")
        );
    }

    #[test]
    fn windows_align_to_the_day() {
        let burst = Burst {
            threshold: 1,
            minutes: 5,
        };
        let at = epoch_seconds("2026-03-14 09:27:59").unwrap();
        assert_eq!(format_utc(burst.window_start(at)), "2026-03-14 09:25:00");
        assert_eq!(epoch_seconds("2026-03-14T09:27:59"), Some(at));
        assert_eq!(epoch_seconds("-"), None);
    }
}
