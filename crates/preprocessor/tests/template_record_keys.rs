//! Every value `template.yaml` can give the preprocessor's `RECORD_KEYS` is one its configuration
//! accepts: each is read through the real parser (`Config::from_lookup`), so a spelling the
//! function would refuse at start-up fails here instead of in a deployed stack. Which value goes
//! with which output format is the template's own business (infra/tests/test_template.py).
//!
//! The template uses CloudFormation tags (`!If`, `!Ref`) that YAML libraries reject without custom
//! tag handling, so this reads the variable's line: a plain value, or `!If [Condition, a, b]` of
//! plain values. Any other form fails the test rather than being skipped.

use preprocessor::Config;

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
const VARIABLE: &str = "RECORD_KEYS";

/// The values the template can set `variable` to, from its one `variable: ...` line.
fn template_values(template: &str, variable: &str) -> Result<Vec<String>, String> {
    let key = format!("{variable}:");
    let lines: Vec<(usize, &str)> = template
        .lines()
        .enumerate()
        .filter_map(|(index, line)| {
            line.trim_start()
                .strip_prefix(&key)
                .map(|value| (index + 1, value.trim()))
        })
        .collect();
    let [(number, value)] = lines[..] else {
        return Err(format!("expected one `{key}` line, found {}", lines.len()));
    };
    let values = match value.strip_prefix("!If") {
        Some(arguments) => {
            let arguments = arguments
                .trim()
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .ok_or_else(|| format!("template.yaml line {number}: expected `!If [Condition, a, b]`"))?;
            let parts: Vec<&str> = arguments.split(',').map(str::trim).collect();
            let [_condition, when_true, when_false] = parts[..] else {
                return Err(format!(
                    "template.yaml line {number}: expected `!If [Condition, a, b]`"
                ));
            };
            vec![when_true, when_false]
        }
        None => vec![value],
    };
    values
        .into_iter()
        .map(|value| {
            let value = value.trim_matches('"');
            let plain = !value.is_empty() && !value.starts_with(['!', '[', '{', '\'', '#']);
            plain
                .then(|| value.to_owned())
                .ok_or_else(|| format!("template.yaml line {number}: `{value}` is not a plain value"))
        })
        .collect()
}

#[test]
fn every_record_keys_value_of_the_template_is_accepted() {
    let template = std::fs::read_to_string(TEMPLATE).unwrap_or_else(|e| panic!("reading {TEMPLATE}: {e}"));
    let values = template_values(&template, VARIABLE).unwrap_or_else(|e| panic!("{e}"));
    for value in values {
        let config = Config::from_lookup(|name| match name {
            "DELIVERY_STREAM_NAME" => Some("stream".to_owned()),
            VARIABLE => Some(value.clone()),
            _ => None,
        });
        if let Err(error) = config {
            panic!("template.yaml sets {VARIABLE}={value}, which the preprocessor refuses: {error}");
        }
    }
}

#[test]
fn reader_finds_plain_and_conditional_values() {
    let cases: &[(&str, &[&str])] = &[
        (
            "      Variables:\n          RECORD_KEYS: !If [ParquetOutput, compact, full]\n",
            &["compact", "full"],
        ),
        (
            "          # RECORD_KEYS=compact: a comment\n          RECORD_KEYS: full\n",
            &["full"],
        ),
        ("          RECORD_KEYS: \"compact\"\n", &["compact"]),
    ];
    for &(template, expected) in cases {
        let values = template_values(template, VARIABLE).unwrap_or_else(|e| panic!("{template}: {e}"));
        assert_eq!(values, expected, "{template}");
    }
}

#[test]
fn reader_fails_on_what_it_cannot_read() {
    let cases = [
        ("          RECORD_KEYS: !Ref RecordKeys\n", "not a plain value"),
        ("          RECORD_KEYS: !If [Parquet, compact]\n", "expected `!If"),
        (
            "          RECORD_KEYS: !If [Parquet, !Ref Keys, full]\n",
            "not a plain value",
        ),
        ("          PACKING: line\n", "found 0"),
        (
            "          RECORD_KEYS: full\n          RECORD_KEYS: compact\n",
            "found 2",
        ),
    ];
    for (template, message) in cases {
        let error = template_values(template, VARIABLE).unwrap_err();
        assert!(error.contains(message), "{template}: {error}");
    }
}
