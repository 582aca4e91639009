//! The schema of the files is the column table, nothing more and nothing less: in the
//! schema the writer declares, in the footer of a written file, in the mapping table of
//! `docs/record.md`, and as DuckDB (the engine the end-to-end tests run queries with) sees it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;
use columnar::{COLUMNS, Kind, Origin, ParquetWriter, RecordReader, WriterOptions, parquet_schema};
use parquet::basic::{LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::file::reader::{FileReader, SerializedFileReader};

const CLEAN: &[u8] = br#"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSV1.2 - - us-east-1"#;

/// The log object the rows of the sample file were read from.
const LOG_FILE: &str = "s3://logs/sample";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A small file: a clean line, one with extra fields, an anonymous one, a damaged one.
fn sample_file() -> Vec<u8> {
    let mut writer = ParquetWriter::new(Vec::new(), WriterOptions::default()).unwrap();
    writer.write_line(LOG_FILE, CLEAN).unwrap();
    writer
        .write_line(LOG_FILE, &[CLEAN, b" extra-1 extra-2"].concat())
        .unwrap();
    let anonymous = String::from_utf8_lossy(CLEAN).replacen(
        "192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
        "192.0.2.3 -",
        1,
    );
    writer.write_line(LOG_FILE, anonymous.as_bytes()).unwrap();
    writer.write_line(LOG_FILE, &CLEAN[..150]).unwrap();
    writer.finish().unwrap()
}

#[test]
fn the_declared_schema_is_the_table() {
    let schema = parquet_schema().unwrap();
    let fields = schema.get_fields();
    assert_eq!(fields.len(), COLUMNS.len());
    for (field, column) in fields.iter().zip(&COLUMNS) {
        let info = field.get_basic_info();
        assert_eq!(info.name(), column.name);
        assert_eq!(info.repetition(), Repetition::OPTIONAL, "{}", column.name);
        let (physical, logical) = match column.kind {
            Kind::Text => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
            Kind::Int32 => (Physical::INT32, None),
            Kind::Int64 => (Physical::INT64, None),
            Kind::Timestamp => (
                Physical::INT64,
                Some(LogicalType::timestamp(true, TimeUnit::MILLIS)),
            ),
            Kind::TextList => {
                assert_eq!(
                    info.logical_type_ref(),
                    Some(&LogicalType::List),
                    "{}",
                    column.name
                );
                let list = &field.get_fields()[0];
                assert_eq!(list.get_basic_info().repetition(), Repetition::REPEATED);
                let element = &list.get_fields()[0];
                assert_eq!(element.get_physical_type(), Physical::BYTE_ARRAY);
                assert_eq!(
                    element.get_basic_info().logical_type_ref(),
                    Some(&LogicalType::String)
                );
                continue;
            }
        };
        assert_eq!(field.get_physical_type(), physical, "{}", column.name);
        assert_eq!(info.logical_type_ref(), logical.as_ref(), "{}", column.name);
    }
}

#[test]
fn a_written_file_has_the_table_in_its_footer() {
    let file = SerializedFileReader::new(Bytes::from(sample_file())).unwrap();
    let schema = file.metadata().file_metadata().schema_descr();
    let names: Vec<&str> = schema
        .root_schema()
        .get_fields()
        .iter()
        .map(|f| f.name())
        .collect();
    let expected: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
    assert_eq!(names, expected);
    assert_eq!(file.metadata().file_metadata().num_rows(), 4);
    assert_eq!(
        RecordReader::new(Bytes::from(sample_file())).unwrap().rows(),
        4,
        "the reader accepts what the writer wrote"
    );
}

/// The row `docs/record.md` must have for a column, in its mapping table.
fn doc_row(column: &columnar::Column) -> String {
    let position = column.field.map_or("".to_owned(), |f| f.position().to_string());
    let origin = match column.origin {
        Origin::Native(aws_type) => format!("AWS: {aws_type}"),
        Origin::NameOnly => "AWS: name only".to_owned(),
        Origin::Ours => "ours".to_owned(),
    };
    format!(
        "| {position} | `{}` | `{}` | {origin} | `{}` | {} | {} | {} |",
        column.record_key,
        column.name,
        column.kind.glue_type(),
        column.kind.parquet_type(),
        column.nulls,
        column.url_encoding,
    )
}

#[test]
fn docs_record_md_maps_every_column_as_the_table_does() {
    let docs = std::fs::read_to_string(workspace().join("docs/record.md")).unwrap();
    let section = docs
        .split("\n## Columnar records")
        .nth(1)
        .expect("docs/record.md has a section \"Columnar records\"");
    let rows: Vec<&str> = section
        .lines()
        .filter(|line| line.starts_with("| ") && line.contains("` | `"))
        .collect();
    let expected: Vec<String> = COLUMNS.iter().map(doc_row).collect();
    assert_eq!(rows, expected, "\nexpected rows:\n{}\n", expected.join("\n"));
}

#[test]
fn duckdb_reads_the_columns_with_their_types() {
    let python = workspace().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `ln -s /work/main/.venv .venv` in the workspace, or create the venv \
         and `pip install duckdb`",
        python.display()
    );
    let dir = std::env::temp_dir().join(format!("columnar-duckdb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sample.parquet");
    std::fs::write(&path, sample_file()).unwrap();
    let script = r#"
import sys, duckdb
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
path = sys.argv[1]
for name, type_ in con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))", [path]).fetchall():
    print(f"{name} {type_}")
rows = con.execute(
    "SELECT strftime(request_time, '%Y-%m-%d %H:%M:%S'), http_status, requester IS NULL, len(extra_fields), parse_error IS NOT NULL "
    "FROM read_parquet(?) ORDER BY parse_error NULLS FIRST, len(extra_fields) NULLS FIRST, requester NULLS LAST", [path]).fetchall()
for row in rows:
    print("row", *row)
"#;
    let output = Command::new(&python)
        .args(["-c", script])
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        output.status.success(),
        "duckdb failed (install it with `.venv/bin/pip install duckdb`): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut expected: Vec<String> = COLUMNS
        .iter()
        .map(|column| {
            let duckdb_type = match column.kind {
                Kind::Text => "VARCHAR",
                Kind::Int32 => "INTEGER",
                Kind::Int64 => "BIGINT",
                Kind::Timestamp => "TIMESTAMP WITH TIME ZONE",
                Kind::TextList => "VARCHAR[]",
            };
            format!("{} {duckdb_type}", column.name)
        })
        .collect();
    expected.extend(
        [
            "row 2019-02-06 00:00:38 200 False None False",
            "row 2019-02-06 00:00:38 200 True None False",
            "row 2019-02-06 00:00:38 200 False 2 False",
            "row 2019-02-06 00:00:38 None True None True",
        ]
        .map(String::from),
    );
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn files_rewritten_by_duckdb_read_back_as_the_same_records() {
    // DuckDB writes timestamps in microseconds and names list levels its own way: the reader
    // must go by the file's own annotations, not by what our writer happens to write.
    let python = workspace().join(".venv/bin/python");
    let dir = std::env::temp_dir().join(format!("columnar-duckdb-copy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ours = dir.join("ours.parquet");
    let theirs = dir.join("theirs.parquet");
    std::fs::write(&ours, sample_file()).unwrap();
    let script = r#"
import sys, duckdb
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f"COPY (SELECT * FROM read_parquet('{sys.argv[1]}')) TO '{sys.argv[2]}' (FORMAT parquet)")
print(con.execute(f"SELECT type, logical_type FROM parquet_schema('{sys.argv[2]}') WHERE name = 'request_time'").fetchone())
"#;
    let output = Command::new(&python)
        .args(["-c", script])
        .args([&ours, &theirs])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs = std::fs::read(&theirs).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let described = String::from_utf8_lossy(&output.stdout);
    assert!(
        described.contains("MICROS"),
        "DuckDB wrote request_time as {described}"
    );

    let read = |file: Vec<u8>| {
        let mut reader = RecordReader::new(Bytes::from(file)).unwrap();
        let mut out = Vec::new();
        while reader.next_records(&mut out).unwrap() > 0 {}
        String::from_utf8(out).unwrap()
    };
    let expected = read(sample_file());
    assert_eq!(expected.lines().count(), 4);
    assert_eq!(read(theirs), expected);
}
