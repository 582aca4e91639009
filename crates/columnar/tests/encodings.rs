//! The writer's encodings, read from the footer of a file it wrote: times delta-encoded, nearly
//! unique text with its lengths apart, dictionaries only in the row groups where values repeat
//! enough to pay for one, and a dictionary that grows past its limit falling back to lengths
//! apart too. These are what keep the bytes a query reads small (`scripts/bench-columnar.sh`);
//! the round-trip tests show every file reads back to its records whatever the encodings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use columnar::{ParquetWriter, RecordReader, WriterOptions};
use parquet::basic::Encoding;
use parquet::file::reader::{FileReader, SerializedFileReader};
use s3_access_log::RecordEncoder;

const LOG_FILE: &str = "s3://example-access-logs/logs/2026-01-15-00-00-00-0123456789ABCDEF";

/// Rows of the file: user agents, each used twice, enough to fill more than the 1 MiB
/// dictionary limit.
const ROWS: usize = 8_000;

/// Line `n`: one second after line `n - 1`, from client address number `address`, with a
/// 300-byte user agent shared with one other line.
fn line(n: usize, address: usize) -> String {
    format!(
        "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 \
         [06/Feb/2019:{:02}:{:02}:{:02} +0000] 10.{}.{}.{} - 3E57427F3EXAMPLE{n:06} REST.GET.OBJECT \
         photos/{n}.jpg \"GET /amzn-s3-demo-bucket1/photos/{n}.jpg HTTP/1.1\" 200 - 113 113 7 6 \"-\" \
         \"aws-cli/2.15.0 {agent:06} {pad}\" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= \
         SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com \
         TLSv1.2 - - us-east-1",
        n / 3600,
        n / 60 % 60,
        n % 60,
        address >> 16,
        (address >> 8) & 0xff,
        address & 0xff,
        agent = n / 2,
        pad = "x".repeat(300),
    )
}

fn written() -> (Bytes, Vec<u8>) {
    let mut writer = ParquetWriter::new(Vec::new(), WriterOptions::default()).unwrap();
    let encoder = RecordEncoder::new(LOG_FILE);
    let mut records = Vec::new();
    for n in 0..ROWS {
        let line = line(n, n);
        writer.write_line(LOG_FILE, line.as_bytes()).unwrap();
        encoder.encode(line.as_bytes(), &mut records);
    }
    (Bytes::from(writer.finish().unwrap()), records)
}

/// The encodings of each column chunk of the file's single row group, by column name.
fn encodings(file: &Bytes) -> Vec<(String, Vec<Encoding>)> {
    let reader = SerializedFileReader::new(file.clone()).unwrap();
    assert_eq!(reader.metadata().num_row_groups(), 1);
    row_group_encodings(file, 0)
}

/// The encodings of each column chunk of row group `index`, by column name.
fn row_group_encodings(file: &Bytes, index: usize) -> Vec<(String, Vec<Encoding>)> {
    let reader = SerializedFileReader::new(file.clone()).unwrap();
    reader
        .metadata()
        .row_group(index)
        .columns()
        .iter()
        .map(|chunk| (chunk.column_path().string(), chunk.encodings().collect()))
        .collect()
}

#[test]
fn each_column_has_the_encoding_that_keeps_its_chunk_small() {
    let (file, _) = written();
    let encodings = encodings(&file);
    let of = |name: &str| {
        encodings
            .iter()
            .find(|(path, _)| path == name)
            .map(|(_, encodings)| encodings.clone())
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let cases: [(&str, &[Encoding], &[Encoding]); 6] = [
        // Times in order: deltas, not 8 bytes a value.
        (
            "request_time",
            &[Encoding::DELTA_BINARY_PACKED],
            &[Encoding::PLAIN, Encoding::RLE_DICTIONARY],
        ),
        // Unique hashes: no dictionary, lengths apart from the values.
        (
            "record_id",
            &[Encoding::DELTA_LENGTH_BYTE_ARRAY],
            &[Encoding::PLAIN_DICTIONARY, Encoding::RLE_DICTIONARY],
        ),
        (
            "key_name",
            &[Encoding::DELTA_LENGTH_BYTE_ARRAY],
            &[Encoding::RLE_DICTIONARY],
        ),
        // Each agent twice: a dictionary pays, but its 1.2 MB of agents give way at the limit.
        (
            "user_agent",
            &[Encoding::RLE_DICTIONARY, Encoding::DELTA_LENGTH_BYTE_ARRAY],
            &[],
        ),
        // A new address on every line: a dictionary would only add an index to every value,
        // so the table's dictionary candidate is written without one.
        (
            "remote_ip",
            &[Encoding::DELTA_LENGTH_BYTE_ARRAY],
            &[Encoding::PLAIN_DICTIONARY, Encoding::RLE_DICTIONARY],
        ),
        // One value: the dictionary holds it, nothing falls back.
        (
            "operation",
            &[Encoding::RLE_DICTIONARY],
            &[Encoding::DELTA_LENGTH_BYTE_ARRAY],
        ),
    ];
    for (column, present, absent) in cases {
        let found = of(column);
        for encoding in present {
            assert!(
                found.contains(encoding),
                "{column}: {encoding:?} not in {found:?}"
            );
        }
        for encoding in absent {
            assert!(!found.contains(encoding), "{column}: {encoding:?} in {found:?}");
        }
    }
}

#[test]
fn each_row_group_has_a_dictionary_only_where_its_values_repeat() {
    // A first row group where every client is new, then one where 100 clients come back.
    let mut writer = ParquetWriter::new(Vec::new(), WriterOptions::default()).unwrap();
    let encoder = RecordEncoder::new(LOG_FILE);
    let mut expected = Vec::new();
    for n in 0..2 * ROWS {
        if n == ROWS {
            writer.flush_row_group().unwrap();
        }
        let address = if n < ROWS { n } else { n % 100 };
        let line = line(n, address);
        writer.write_line(LOG_FILE, line.as_bytes()).unwrap();
        encoder.encode(line.as_bytes(), &mut expected);
    }
    let file = Bytes::from(writer.finish().unwrap());
    let remote_ip = |index: usize| {
        row_group_encodings(&file, index)
            .into_iter()
            .find(|(path, _)| path == "remote_ip")
            .unwrap()
            .1
    };
    let (distinct, repeating) = (remote_ip(0), remote_ip(1));
    assert!(!distinct.contains(&Encoding::RLE_DICTIONARY), "{distinct:?}");
    assert!(
        distinct.contains(&Encoding::DELTA_LENGTH_BYTE_ARRAY),
        "{distinct:?}"
    );
    assert!(repeating.contains(&Encoding::RLE_DICTIONARY), "{repeating:?}");
    assert!(
        !repeating.contains(&Encoding::DELTA_LENGTH_BYTE_ARRAY),
        "{repeating:?}"
    );

    assert_reads_back(file, &expected);
}

#[test]
fn a_file_of_every_encoding_reads_back_to_its_records() {
    let (file, expected) = written();
    assert_reads_back(file, &expected);
}

/// Reads `file` back as records and holds them equal to the `expected` NDJSON.
fn assert_reads_back(file: Bytes, expected: &[u8]) {
    let mut reader = RecordReader::new(file).unwrap();
    let mut actual = Vec::new();
    while reader.next_records(&mut actual).unwrap() > 0 {}
    assert_eq!(
        String::from_utf8_lossy(&actual),
        String::from_utf8_lossy(expected)
    );
}
