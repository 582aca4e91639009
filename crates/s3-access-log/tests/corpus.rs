//! The benchmark corpus is what it claims to be: every shape of line, almost all of them clean,
//! and the damaged ones quarantined for the reasons they were damaged. A generator that drifted
//! into producing lines the parser rejects would make the benchmark measure the error path.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use s3_access_log::{ErrorKind, Outcome, RecordEncoder, parse};

#[path = "../examples/corpus/generator.rs"]
mod generator;

#[test]
fn corpus_is_a_realistic_mix() {
    let mut corpus = Vec::new();
    let lines = generator::Generator::new().fill(&mut corpus, 4 << 20);
    assert_eq!(corpus.iter().filter(|&&b| b == b'\n').count(), lines);

    let encoder = RecordEncoder::new("s3://example-access-logs/corpus");
    let mut field_counts = BTreeMap::new();
    let mut quarantined = 0;
    let mut out = Vec::new();
    for line in corpus.split(|&b| b == b'\n').filter(|line| !line.is_empty()) {
        out.clear();
        match encoder.encode(line, &mut out) {
            Outcome::Parsed => {
                let record = parse(line).unwrap();
                *field_counts.entry(record.field_count).or_insert(0usize) += 1;
            }
            Outcome::Quarantined(error) => {
                quarantined += 1;
                // What a cut-and-appended record or an extra token runs into.
                let expected = [
                    ErrorKind::MergedRecord,
                    ErrorKind::UnexpectedValue,
                    ErrorKind::BadTime,
                    ErrorKind::NotANumber,
                ];
                assert!(
                    expected.contains(&error.kind),
                    "{error}: {}",
                    String::from_utf8_lossy(line)
                );
            }
            Outcome::Skipped => panic!("the generator wrote a blank line"),
        }
        serde_json::from_slice::<serde_json::Value>(&out).unwrap();
    }
    for count in [17, 18, 24, 25, 26, 27] {
        assert!(
            field_counts.get(&count).is_some_and(|&n| n > 0),
            "no {count}-field lines"
        );
    }
    let modern = field_counts[&26] + field_counts[&27];
    assert!(
        modern * 10 > lines * 7,
        "26/27-field lines dominate: {field_counts:?}"
    );
    assert!(
        quarantined > 0 && quarantined * 500 < lines,
        "{quarantined} damaged of {lines}"
    );
    let average = corpus.len() / lines;
    assert!((550..750).contains(&average), "average line length {average}");
}
