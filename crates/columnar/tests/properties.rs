//! Whatever the bytes of a line, its Parquet row reads back as the very record the NDJSON
//! writer makes of it, and nothing panics: arbitrary bytes, and real lines with bytes
//! replaced, inserted and removed (quotes, spaces, invalid UTF-8, control characters).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use columnar::{ParquetWriter, RecordReader, WriterOptions};
use proptest::prelude::*;
use s3_access_log::RecordEncoder;

const LOG_FILE: &str = "s3://example-access-logs/logs/2026-04-14-09-20-00-0123456789ABCDEF";

const CLEAN: &[u8] = br#"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 arn:aws:iam::123456789012:user/alice 3E57427F3EXAMPLE REST.PUT.OBJECT photos/2019/a%20b.jpg "PUT /amzn-s3-demo-bucket1/photos/2019/a%20b.jpg HTTP/1.1" 200 - - 4406583 41754 28 "https://example.com/?q=1" "aws-cli/2.15.0 Python/3.11" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV2 ECDHE-RSA-AES128-GCM-SHA256 QueryString amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSv1.1 - Yes us-east-1 extra"#;

/// One edit of a line: at a relative position, remove some bytes and insert others.
fn edit() -> impl Strategy<Value = (f64, usize, Vec<u8>)> {
    let inserted = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..4),
        proptest::collection::vec(prop::sample::select(&b" \"-[]\\\t\x00\xff\xc3"[..]), 1..3),
    ];
    (0.0..1.0f64, 0usize..4, inserted)
}

fn edited_line() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(edit(), 0..6).prop_map(|edits| {
        let mut line = CLEAN.to_vec();
        for (at, removed, inserted) in edits {
            let start = ((line.len() as f64) * at) as usize;
            let end = (start + removed).min(line.len());
            line.splice(start..end, inserted);
        }
        line
    })
}

fn any_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![edited_line(), proptest::collection::vec(any::<u8>(), 0..300)]
        .prop_map(|line| line.into_iter().filter(|&b| b != b'\n').collect())
}

fn check(lines: &[Vec<u8>]) {
    let encoder = RecordEncoder::new(LOG_FILE);
    let mut expected = Vec::new();
    let mut writer = ParquetWriter::new(
        Vec::new(),
        WriterOptions {
            row_group_bytes: 2048,
            ..WriterOptions::default()
        },
    )
    .unwrap();
    for line in lines {
        let outcome = encoder.encode(line, &mut expected);
        assert_eq!(writer.write_line(LOG_FILE, line).unwrap(), outcome);
    }
    let file = Bytes::from(writer.finish().unwrap());
    let mut reader = RecordReader::new(file).unwrap();
    let mut actual = Vec::new();
    while reader.next_records(&mut actual).unwrap() > 0 {}
    assert_eq!(
        String::from_utf8_lossy(&actual),
        String::from_utf8_lossy(&expected)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_lines_round_trip_to_their_records(lines in proptest::collection::vec(any_line(), 0..12)) {
        check(&lines);
    }
}
