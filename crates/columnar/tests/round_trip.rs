//! Round trips: a raw line's NDJSON record, and the record read back from its Parquet row, are
//! the same bytes; so is a record written into Parquet and read back, and a file written from
//! lines is the very file written from their records. Run over every golden
//! fixture of the parser (every shape and trap of the format), a generated corpus spanning many
//! row groups, and hand-made edge cases: quarantined and truncated lines, invalid UTF-8, extra
//! fields, huge values, empty input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use bytes::Bytes;
use columnar::{Codec, ParquetWriter, RecordReader, WriterOptions, is_parquet};
use s3_access_log::RecordEncoder;

#[path = "../../s3-access-log/examples/corpus/generator.rs"]
#[allow(dead_code)]
mod generator;

const LOG_FILE: &str = "s3://example-access-logs/logs/2026-01-15-00-00-00-0123456789ABCDEF";

const CLEAN: &[u8] = br#"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSV1.2 - - us-east-1"#;

/// Splits a log object into lines as the pipeline does: on `\n`, last terminator optional.
fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|last| last.is_empty()) {
        lines.pop();
    }
    lines
}

/// The NDJSON records of `lines`, as the pipeline writes them.
fn encode(lines: &[&[u8]]) -> Vec<u8> {
    let encoder = RecordEncoder::new(LOG_FILE);
    let mut out = Vec::new();
    for line in lines {
        encoder.encode(line, &mut out);
    }
    out
}

/// A Parquet file of `lines`, written from the lines.
fn parquet_from_lines(lines: &[&[u8]], options: WriterOptions) -> Bytes {
    let mut writer = ParquetWriter::new(Vec::new(), options).unwrap();
    for line in lines {
        writer.write_line(LOG_FILE, line).unwrap();
    }
    Bytes::from(writer.finish().unwrap())
}

/// A Parquet file of NDJSON `records`, written from the records.
fn parquet_from_records(records: &[u8], options: WriterOptions) -> Bytes {
    let mut writer = ParquetWriter::new(Vec::new(), options).unwrap();
    for record in lines(records) {
        writer.write_record(record).unwrap();
    }
    Bytes::from(writer.finish().unwrap())
}

/// Every record of a Parquet file, read back a batch at a time.
fn read_back(file: Bytes) -> Vec<u8> {
    assert!(is_parquet(&file));
    let mut reader = RecordReader::new(file).unwrap();
    let mut out = Vec::new();
    while reader.next_records(&mut out).unwrap() > 0 {}
    out
}

/// Compares record streams line by line, so a failure names the first differing record.
fn assert_same_records(name: &str, actual: &[u8], expected: &[u8]) {
    let (actual, expected) = (lines(actual), lines(expected));
    for (index, (a, e)) in actual.iter().zip(&expected).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(e),
            "{name}: record {index}"
        );
    }
    assert_eq!(actual.len(), expected.len(), "{name}: record count");
}

fn check_round_trips(name: &str, lines: &[&[u8]], options: WriterOptions) {
    let expected = encode(lines);
    let file_from_lines = parquet_from_lines(lines, options);
    let file_from_records = parquet_from_records(&expected, options);
    assert!(
        file_from_lines == file_from_records,
        "{name}: lines and records give other files"
    );
    let from_lines = read_back(file_from_lines);
    assert_same_records(&format!("{name}, from lines"), &from_lines, &expected);
    let from_records = read_back(file_from_records);
    assert_same_records(&format!("{name}, from records"), &from_records, &expected);
}

#[test]
fn every_golden_fixture_round_trips() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../s3-access-log/tests/data");
    let mut cases = 0;
    for entry in std::fs::read_dir(data).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "log") {
            continue;
        }
        let log = std::fs::read(&path).unwrap();
        check_round_trips(
            &path.display().to_string(),
            &lines(&log),
            WriterOptions::default(),
        );
        cases += 1;
    }
    assert!(cases >= 70, "only {cases} fixtures found");
}

#[test]
fn a_generated_corpus_round_trips_across_row_groups() {
    let mut corpus = Vec::new();
    let count = generator::Generator::new().fill(&mut corpus, 2 << 20);
    let lines = lines(&corpus);
    assert_eq!(lines.len(), count);
    let options = WriterOptions {
        row_group_bytes: 256 << 10,
        ..WriterOptions::default()
    };
    check_round_trips("corpus", &lines, options);

    let mut writer = ParquetWriter::new(Vec::new(), options).unwrap();
    for line in &lines {
        writer.write_line(LOG_FILE, line).unwrap();
    }
    let stats = writer.stats();
    assert_eq!(stats.rows, count as u64);
    assert!(stats.quarantined > 0, "the generator damages some lines");
    assert!(stats.row_groups >= 7, "{} row groups", stats.row_groups);
    let file = Bytes::from(writer.finish().unwrap());
    assert_eq!(RecordReader::new(file).unwrap().rows(), count as u64);
}

#[test]
fn edge_cases_round_trip() {
    let mut invalid_utf8 = CLEAN.to_vec();
    let at = invalid_utf8
        .windows(13)
        .position(|w| w == b"S3Console/0.4")
        .unwrap();
    invalid_utf8.splice(at..at + 2, [0xff, 0xc3, b'(', 0xe2, 0x82]);
    let mut with_extra_fields = CLEAN.to_vec();
    with_extra_fields.extend_from_slice(b" future-field-1 \"x\\y\" -");
    let mut huge_value = CLEAN.to_vec();
    huge_value.extend(std::iter::repeat_n(b'a', 300_000));
    let mut escapes = CLEAN.to_vec();
    let at = escapes.windows(13).position(|w| w == b"S3Console/0.4").unwrap();
    escapes.splice(at..at, b"tab\there \x01\x1f quote\\\" ".iter().copied());
    let huge_number = CLEAN
        .windows(8)
        .position(|w| w == b" 113 - 7")
        .map(|at| [&CLEAN[..at], b" 99999999999999999999 - 7", &CLEAN[at + 8..]].concat())
        .unwrap();
    let seventeen_fields = CLEAN
        .split(|&b| b == b'"')
        .take(6)
        .collect::<Vec<_>>()
        .join(&b'"');
    let seventeen_fields = [seventeen_fields.as_slice(), b"\""].concat();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("clean", CLEAN.to_vec()),
        ("crlf", [CLEAN, b"\r"].concat()),
        // Only the last `\r` ends the line: the one before it is the line's own.
        ("cr before crlf", [CLEAN, b"\r\r"].concat()),
        ("truncated mid-line", CLEAN[..200].to_vec()),
        ("only a bucket owner", b"79a59df900b949e5".to_vec()),
        ("not a log line", b"{\"json\": true}".to_vec()),
        ("invalid utf-8", invalid_utf8),
        ("extra fields", with_extra_fields),
        ("huge trailing value", huge_value),
        ("escapes in the user agent", escapes),
        ("seventeen fields", seventeen_fields),
        ("number beyond u64", huge_number),
        ("blank", b"   \t".to_vec()),
    ];
    for (name, line) in &cases {
        check_round_trips(name, &[line], WriterOptions::default());
    }
    let all: Vec<&[u8]> = cases.iter().map(|(_, line)| line.as_slice()).collect();
    check_round_trips(
        "all edge cases in one file",
        &all,
        WriterOptions {
            row_group_bytes: 1,
            ..WriterOptions::default()
        },
    );
}

#[test]
fn a_truncated_line_keeps_its_prefix_id_and_reason() {
    let id = s3_access_log::record_id(CLEAN);
    let reason = "line of 700000 bytes is over the limit; RawLine holds its first 100 bytes";
    let mut expected = Vec::new();
    RecordEncoder::new(LOG_FILE).encode_truncated(&CLEAN[..100], id, reason, &mut expected);

    let mut writer = ParquetWriter::new(Vec::new(), WriterOptions::default()).unwrap();
    writer
        .write_truncated(LOG_FILE, &CLEAN[..100], id, reason)
        .unwrap();
    assert_eq!(writer.stats().quarantined, 1);
    let from_line = read_back(Bytes::from(writer.finish().unwrap()));
    assert_same_records("truncated", &from_line, &expected);
    let from_record = read_back(parquet_from_records(&expected, WriterOptions::default()));
    assert_same_records("truncated, from record", &from_record, &expected);
}

/// The parser quarantines such a line, but records written before it did carry the number
/// (and a caller may hand over any record): the row cannot hold it.
#[test]
fn a_number_beyond_bigint_in_a_record_becomes_null_and_a_parse_error() {
    let mut record = Vec::new();
    RecordEncoder::new(LOG_FILE).encode(CLEAN, &mut record);
    let record = String::from_utf8(record).unwrap().replacen(
        "\"BytesSent\":113,",
        "\"BytesSent\":18446744073709551615,",
        1,
    );
    assert!(record.contains("18446744073709551615"), "{record}");
    let mut writer = ParquetWriter::new(Vec::new(), WriterOptions::default()).unwrap();
    writer.write_record(record.as_bytes()).unwrap();
    assert_eq!(writer.stats().quarantined, 1);
    let records = read_back(Bytes::from(writer.finish().unwrap()));
    let row: serde_json::Value = serde_json::from_slice(&records).unwrap();
    assert_eq!(row["BytesSent"], serde_json::Value::Null);
    assert_eq!(
        row["ParseError"],
        "BytesSent: 18446744073709551615 is out of range for bigint"
    );
    assert_eq!(row["HTTPstatus"], 200);
}

/// The line itself is quarantined by the parser, the same in a record and in a row.
#[test]
fn a_line_with_a_number_beyond_bigint_is_quarantined() {
    let line = CLEAN
        .windows(8)
        .position(|w| w == b" 113 - 7")
        .map(|at| [&CLEAN[..at], b" 9223372036854775808 - 7", &CLEAN[at + 8..]].concat())
        .unwrap();
    let mut writer = ParquetWriter::new(Vec::new(), WriterOptions::default()).unwrap();
    assert!(matches!(
        writer.write_line(LOG_FILE, &line).unwrap(),
        s3_access_log::Outcome::Quarantined(_)
    ));
    let records = read_back(Bytes::from(writer.finish().unwrap()));
    let row: serde_json::Value = serde_json::from_slice(&records).unwrap();
    assert_eq!(row["ParseError"], "BytesSent: number out of range");
    assert_eq!(row["RawLine"].as_str().map(str::as_bytes), Some(line.as_slice()));
    check_round_trips("beyond bigint", &[&line], WriterOptions::default());
}

#[test]
fn row_groups_can_be_flushed_on_demand() {
    let mut writer = ParquetWriter::new(Vec::new(), WriterOptions::default()).unwrap();
    writer.flush_row_group().unwrap();
    assert_eq!(writer.stats().row_groups, 0, "nothing buffered, nothing written");
    writer.write_line(LOG_FILE, CLEAN).unwrap();
    assert!(writer.buffered_bytes() >= CLEAN.len());
    writer.flush_row_group().unwrap();
    assert_eq!(writer.buffered_bytes(), 0);
    writer.write_line(LOG_FILE, CLEAN).unwrap();
    writer.write_line(LOG_FILE, b"").unwrap();
    let stats = writer.stats();
    assert_eq!((stats.rows, stats.row_groups), (2, 1));
    let file = Bytes::from(writer.finish().unwrap());
    assert_same_records("flushed", &read_back(file), &encode(&[CLEAN, CLEAN]));
}

#[test]
fn a_file_reads_as_an_ndjson_stream() {
    use std::io::Read;
    let mut corpus = Vec::new();
    generator::Generator::new().fill(&mut corpus, 256 << 10);
    let lines = lines(&corpus);
    let file = parquet_from_lines(
        &lines,
        WriterOptions {
            row_group_bytes: 64 << 10,
            ..WriterOptions::default()
        },
    );
    let mut stream = RecordReader::new(file).unwrap().into_ndjson();
    let mut small = [0u8; 777];
    let mut streamed = Vec::new();
    loop {
        let read = stream.read(&mut small).unwrap();
        if read == 0 {
            break;
        }
        streamed.extend_from_slice(&small[..read]);
    }
    assert_same_records("stream", &streamed, &encode(&lines));
}

#[test]
fn gzip_files_read_back_the_same_and_are_smaller() {
    use parquet::basic::Compression;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let mut corpus = Vec::new();
    generator::Generator::new().fill(&mut corpus, 512 << 10);
    let lines = lines(&corpus);
    let gzip = WriterOptions {
        codec: Codec::Gzip(6),
        ..WriterOptions::default()
    };
    check_round_trips("gzip", &lines, gzip);
    let gzip_file = parquet_from_lines(&lines, gzip);
    let snappy_file = parquet_from_lines(&lines, WriterOptions::default());
    assert!(gzip_file.len() < snappy_file.len() * 9 / 10);
    for (file, codec) in [(gzip_file, "GZIP"), (snappy_file, "SNAPPY")] {
        let metadata = SerializedFileReader::new(file).unwrap().metadata().clone();
        for chunk in metadata.row_group(0).columns() {
            let name = match chunk.compression() {
                Compression::GZIP(_) => "GZIP",
                Compression::SNAPPY => "SNAPPY",
                _ => "other",
            };
            assert_eq!(name, codec, "{}", chunk.column_path());
        }
    }
    let level_ten = WriterOptions {
        codec: Codec::Gzip(10),
        ..WriterOptions::default()
    };
    assert!(ParquetWriter::new(Vec::new(), level_ten).is_err());
}

#[test]
fn an_empty_input_is_a_valid_file_without_rows() {
    let file = parquet_from_lines(&[], WriterOptions::default());
    let mut reader = RecordReader::new(file).unwrap();
    assert_eq!(reader.rows(), 0);
    let mut out = Vec::new();
    assert_eq!(reader.next_records(&mut out).unwrap(), 0);
    assert!(out.is_empty());
}

#[test]
fn records_that_are_not_records_are_errors() {
    for bad in [
        &b"not json"[..],
        b"[1,2]",
        b"{\"SchemaVersion\":1,\"Surprise\":2}",
        b"{\"HTTPstatus\":\"200\"}",
        b"{\"Timestamp\":\"06/Feb/2019:00:00:38 +0000\"}",
        b"{\"RecordId\":\"a\"} trailing",
    ] {
        let mut writer = ParquetWriter::new(Vec::new(), WriterOptions::default()).unwrap();
        let error = writer.write_record(bad).unwrap_err();
        assert!(
            matches!(error, columnar::Error::Record(_)),
            "{}: {error}",
            String::from_utf8_lossy(bad)
        );
        assert_eq!(writer.stats().rows, 0);
    }
}

#[test]
fn files_that_are_not_ours_are_refused() {
    assert!(!is_parquet(b"\x1f\x8b\x08\x00"));
    assert!(!is_parquet(b"PAR"));
    assert!(RecordReader::new(Bytes::from_static(b"PAR1 but nothing else")).is_err());
}
