//! The detection catalogue against the files that repeat it: the shared fixture's expected hits
//! (which infra/tests/test_detections_sql.py holds the Athena queries to), the Athena and Logs
//! Insights query files, and docs/detections.md.
// Test helpers outside #[test] functions panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use pipeline::audit::{
    AuditConfig, Auditor, CATALOGUE, DEFAULT_EXCLUDE_USER_AGENT, Format, OutputMode, SETTINGS, Thresholds,
};
use s3_access_log::RecordEncoder;
use serde_json::Value;

fn repository(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

fn read(path: &str) -> String {
    fs::read_to_string(repository(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
}

#[test]
fn the_shared_fixture_gives_the_expected_hits_for_every_detection() {
    // The records are the preprocessor's encoding of the log lines, so neither can drift.
    let log = read("infra/tests/fixtures/detections.log");
    let encoder = RecordEncoder::new("detections.log");
    let mut encoded = Vec::new();
    for line in log.lines() {
        encoder.encode(line.as_bytes(), &mut encoded);
    }
    let records = read("infra/tests/fixtures/detections.ndjson");
    assert!(
        String::from_utf8(encoded).unwrap() == records,
        "detections.ndjson is not the encoding of detections.log: run `s3logs parse detections.log -o detections.ndjson` in infra/tests/fixtures"
    );

    // Every rule at its defaults, with the default user-agent exclusion, as the queries have them;
    // and off-hours in a zone with a half-hour offset, as its query runs with the zone filled in.
    let mut found = hits(&records, "all", "");
    let kolkata = hits(&records, "off-hours", "off-hours.time-zone=Asia/Kolkata");
    found.insert("off-hours@Asia/Kolkata".to_owned(), kolkata["off-hours"].clone());
    let expected: BTreeMap<String, Vec<String>> =
        serde_json::from_str(&read("infra/tests/fixtures/detections.expected.json")).unwrap();
    assert_eq!(found, expected);
    assert!(
        expected.values().all(|hits| !hits.is_empty()),
        "every detection is exercised"
    );
}

/// The hits of `rules` with `settings` on `records`, per rule: RecordIds, or
/// `WindowBy|subject|WindowStart` for windowed rules; every selected rule has an entry.
fn hits(records: &str, rules: &str, settings: &str) -> BTreeMap<String, Vec<String>> {
    let mut config = AuditConfig::new(rules, DEFAULT_EXCLUDE_USER_AGENT, OutputMode::Lines).unwrap();
    config.thresholds.apply(settings).unwrap();
    let mut found: BTreeMap<String, Vec<String>> = config
        .rules
        .iter()
        .map(|rule| (rule.name().to_owned(), Vec::new()))
        .collect();
    let mut auditor = Auditor::new(config);
    let mut out = Vec::new();
    auditor
        .audit_object(
            records.as_bytes(),
            "detections.ndjson",
            Format::Records,
            u64::MAX,
            &mut out,
        )
        .unwrap();
    auditor.finish(&mut out).unwrap();
    for line in String::from_utf8(out).unwrap().lines() {
        let hit: Value = serde_json::from_str(line).unwrap();
        let key = match hit["WindowBy"].as_str() {
            None => hit["RecordId"].as_str().unwrap().to_owned(),
            Some(by) => format!(
                "{by}|{}|{}",
                hit[by].as_str().unwrap(),
                hit["WindowStart"].as_str().unwrap()
            ),
        };
        found.get_mut(hit["Rule"].as_str().unwrap()).unwrap().push(key);
    }
    found.values_mut().for_each(|keys| keys.sort());
    found
}

#[test]
fn every_detection_has_an_athena_query_with_its_definition_and_settings() {
    let defaults: BTreeMap<&str, &str> = SETTINGS
        .iter()
        .map(|&(name, default, _)| (name, default))
        .collect();
    for detection in CATALOGUE {
        let id = detection.rule.name();
        let sql = read(&format!("infra/athena/detections/{id}.sql"));
        let first = format!(
            "-- Detection {id}: {}. Severity {}; MITRE ATT&CK {}.\n",
            detection.title,
            detection.severity.name(),
            detection.mitre_text()
        );
        assert!(sql.starts_with(&first), "{id}.sql must start with {first:?}");
        assert!(sql.contains(&format!("'{id}' AS rule")), "{id}");
        let settings: Vec<&str> = sql
            .lines()
            .filter_map(|line| line.strip_prefix("-- Setting "))
            .collect();
        let expected: Vec<String> = detection
            .settings
            .iter()
            .map(|name| format!("{name} = {}", defaults[name]))
            .collect();
        assert_eq!(
            settings, expected,
            "{id}.sql lists its settings at their defaults"
        );
    }
}

#[test]
fn the_user_agent_query_has_the_default_lists() {
    let sql = read("infra/athena/detections/suspicious-user-agent.sql");
    let agents = Thresholds::default().suspicious_agents;
    for pattern in agents.patterns() {
        assert!(
            sql.contains(&format!("LOWER(user_agent) LIKE '%{pattern}%'")),
            "{pattern}"
        );
    }
    for pattern in agents.exceptions() {
        assert!(
            sql.contains(&format!("LOWER(user_agent) NOT LIKE '%{pattern}%'")),
            "{pattern}"
        );
    }
    assert_eq!(
        sql.matches("LIKE '%").count(),
        agents.patterns().len() + agents.exceptions().len(),
        "no other patterns"
    );
}

#[test]
fn the_queries_skip_the_excluded_agents_exactly_where_the_engine_does() {
    let agents: Vec<&str> = DEFAULT_EXCLUDE_USER_AGENT.split('|').collect();
    for detection in CATALOGUE {
        let id = detection.rule.name();
        let sql = read(&format!("infra/athena/detections/{id}.sql"));
        let skipped = agents
            .iter()
            .filter(|agent| sql.contains(&format!("COALESCE(user_agent, '') NOT LIKE '%{agent}%'")))
            .count();
        let expected = if detection.rule.skips_excluded_agents() {
            agents.len()
        } else {
            0
        };
        assert_eq!(skipped, expected, "{id}.sql");
    }
}

#[test]
fn every_detection_has_an_insights_query_and_a_row_in_the_docs() {
    let docs = read("docs/detections.md");
    for detection in CATALOGUE {
        let id = detection.rule.name();
        let query = read(&format!("infra/insights/{id}.query"));
        assert!(query.contains(&format!("| filter Rule = '{id}'\n")), "{id}.query");
        let mitre = match detection.mitre {
            [] => "-".to_owned(),
            ids => ids.join(", "),
        };
        let row = format!(
            "| `{id}` | {} | {mitre} | {} |",
            detection.severity.name(),
            detection.title
        );
        assert!(docs.contains(&row), "docs/detections.md has no row {row}");
        assert!(
            docs.contains(&format!("### `{id}`")),
            "docs/detections.md has no section on {id}"
        );
        for setting in detection.settings {
            assert!(
                docs.contains(&format!("`{setting}`")),
                "docs/detections.md: {setting}"
            );
        }
    }
}

#[test]
fn every_setting_belongs_to_one_detection() {
    let mut owned: Vec<&str> = CATALOGUE
        .iter()
        .flat_map(|detection| detection.settings.iter().copied())
        .collect();
    owned.sort_unstable();
    let mut settings: Vec<&str> = SETTINGS.iter().map(|&(name, _, _)| name).collect();
    settings.sort_unstable();
    assert_eq!(owned, settings);
}
