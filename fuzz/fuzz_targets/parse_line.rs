//! Any bytes, taken as one log line: the encoder must not panic, must write exactly one line
//! of valid JSON (or nothing for a blank line), and must agree with `parse`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use s3_access_log::{Outcome, RecordEncoder, parse};

fuzz_target!(|line: &[u8]| {
    let mut out = Vec::new();
    let outcome = RecordEncoder::new("s3://fuzz/log").encode(line, &mut out);
    if outcome == Outcome::Skipped {
        assert!(out.is_empty());
        return;
    }
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
    assert_eq!(out.last(), Some(&b'\n'));
    let record: serde_json::Value = serde_json::from_slice(&out).expect("the record is valid JSON");
    assert!(record.is_object());
    match (outcome, parse(line)) {
        (Outcome::Parsed, Ok(_)) => assert!(record.get("ParseError").is_none()),
        (Outcome::Quarantined(error), Err(parse_error)) => {
            assert_eq!(error, parse_error);
            assert!(record.get("RawLine").is_some());
        }
        (outcome, result) => panic!("encode said {outcome:?}, parse said {result:?}"),
    }
});
