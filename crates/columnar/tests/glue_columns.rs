//! The Glue table Athena queries (`RecordsTable` in `template.yaml`) has exactly the columns of the
//! column table, in order, with AWS's names and the same Glue types, as `columnar::COLUMNS` lists them.
//!
//! The template uses CloudFormation tags (`!Ref`, `!Sub`) that YAML libraries reject without custom
//! tag handling, so this reads the one block it needs by lines: the template writes each column as
//! a one-line flow mapping, `- { Name: bucket_name, Type: string }`, under `RecordsTable`'s `Columns:`.
//! Anything else there fails the test rather than being skipped.

use columnar::COLUMNS;

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
const TABLE: &str = "RecordsTable";

/// The `(name, type)` pairs of the named Glue table's `Columns:` list, in template order.
fn glue_columns(template: &str, table: &str) -> Result<Vec<(String, String)>, String> {
    let mut lines = template.lines().enumerate();
    let resource_line = format!("  {table}:");
    lines
        .by_ref()
        .find(|(_, line)| line.trim_end() == resource_line)
        .ok_or_else(|| format!("no resource `{table}` (a line `{resource_line}`)"))?;

    // Stay inside the resource: the next line indented by exactly two spaces starts another one.
    let in_resource =
        |line: &str| line.is_empty() || line.starts_with("   ") || line.trim_start().starts_with('#');
    let (columns_at, _) = lines
        .by_ref()
        .take_while(|(_, line)| in_resource(line))
        .find(|(_, line)| line.trim() == "Columns:")
        .ok_or_else(|| format!("`{table}` has no `Columns:` list"))?;

    let mut columns = Vec::new();
    for (index, line) in lines {
        let item = line.trim();
        if !item.starts_with('-') {
            break;
        }
        let pair = parse_column(item).ok_or_else(|| {
            format!(
                "template.yaml line {}: expected `- {{ Name: <name>, Type: <type> }}`, found `{item}`",
                index + 1
            )
        })?;
        columns.push(pair);
    }
    if columns.is_empty() {
        return Err(format!(
            "`Columns:` of `{table}` (line {}) lists nothing",
            columns_at + 1
        ));
    }
    Ok(columns)
}

/// `- { Name: remote_ip, Type: string }` to `("remote_ip", "string")`; types may be quoted.
fn parse_column(item: &str) -> Option<(String, String)> {
    let body = item
        .strip_prefix('-')?
        .trim()
        .strip_prefix('{')?
        .strip_suffix('}')?;
    let (name, kind) = body.split_once(',')?;
    let name = name.trim().strip_prefix("Name:")?.trim();
    let kind = kind.trim().strip_prefix("Type:")?.trim().trim_matches('"');
    (!name.is_empty() && !kind.is_empty()).then(|| (name.to_owned(), kind.to_owned()))
}

#[test]
fn glue_table_columns_are_the_column_table() {
    let template = std::fs::read_to_string(TEMPLATE).unwrap_or_else(|e| panic!("reading {TEMPLATE}: {e}"));
    let actual = glue_columns(&template, TABLE).unwrap_or_else(|e| panic!("{e}"));
    let expected: Vec<(String, String)> = COLUMNS
        .iter()
        .map(|c| (c.name.to_owned(), c.kind.glue_type().to_owned()))
        .collect();

    for (position, (want, got)) in expected.iter().zip(&actual).enumerate() {
        assert_eq!(
            want, got,
            "column {position} of {TABLE} in template.yaml differs from columnar::COLUMNS"
        );
    }
    assert_eq!(
        actual.len(),
        expected.len(),
        "{TABLE} in template.yaml has {} columns, the column table {}: {:?}",
        actual.len(),
        expected.len(),
        if actual.len() > expected.len() {
            &actual[expected.len()..]
        } else {
            &expected[actual.len()..]
        },
    );
}

#[test]
fn scanner_reads_only_the_named_table() {
    let template = "\
Resources:
  Other:
    Properties:
      Columns:
        - { Name: Wrong, Type: int }
  RecordsTable:
    Type: AWS::Glue::Table
    Properties:
      TableInput:
        # a comment
        StorageDescriptor:
          Columns:
            - { Name: SchemaVersion, Type: int }
            - { Name: Nested, Type: \"array<struct<a:string>>\" }

  Next:
    Type: AWS::Glue::Table
";
    assert_eq!(
        glue_columns(template, "RecordsTable"),
        Ok(vec![
            ("SchemaVersion".to_owned(), "int".to_owned()),
            ("Nested".to_owned(), "array<struct<a:string>>".to_owned()),
        ])
    );
}

#[test]
fn scanner_fails_on_what_it_cannot_read() {
    let block = "  RecordsTable:\n    Properties:\n      Columns:\n        - Name: SchemaVersion\n          Type: int\n";
    assert!(
        glue_columns(block, "RecordsTable")
            .unwrap_err()
            .contains("expected `- { Name:")
    );

    let no_columns = "  RecordsTable:\n    Properties: {}\n  Next:\n    Properties:\n      Columns:\n";
    assert!(
        glue_columns(no_columns, "RecordsTable")
            .unwrap_err()
            .contains("no `Columns:`")
    );

    assert!(
        glue_columns(no_columns, "Missing")
            .unwrap_err()
            .contains("no resource `Missing`")
    );
}
