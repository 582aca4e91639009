//! `s3logs parse --format parquet` and `s3logs audit` on Parquet, as a user runs them: the
//! built binary on the repository's sample logs in a temp directory, and DuckDB (from the
//! project's venv) reading what it wrote.
// Test helpers outside #[test] functions panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod support;
use support::Scratch;

/// The repository's `samples/` directory.
fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples")
}

/// A fresh directory for one test, holding `samples` (a symlink, so `LogFile` names are
/// relative and the same in every run).
fn temp_dir(name: &str) -> Scratch {
    let dir = Scratch::new(&format!("parquet-{name}"));
    std::os::unix::fs::symlink(samples().canonicalize().unwrap(), dir.path("samples")).unwrap();
    dir
}

fn s3logs(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s3logs"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs `args`, which must succeed; returns standard output.
fn ok(args: &[&str], cwd: &Path) -> String {
    let output = s3logs(args, cwd);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

const AUDIT_ALL: [&str; 4] = ["audit", "--json", "--exclude-user-agent", ""];

#[test]
fn parse_to_parquet_then_audit_gives_the_hits_of_parse_to_ndjson() {
    let dir = temp_dir("same-hits");
    ok(&["parse", "--quiet", "samples", "-o", "records.ndjson"], &dir);
    ok(
        &[
            "parse",
            "--quiet",
            "samples",
            "--format",
            "parquet",
            "-o",
            "requests.parquet",
        ],
        &dir,
    );
    let parquet = fs::read(dir.join("requests.parquet")).unwrap();
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"));

    let from_ndjson = ok(&[&AUDIT_ALL[..], &["records.ndjson"]].concat(), &dir);
    let from_parquet = ok(&[&AUDIT_ALL[..], &["requests.parquet"]].concat(), &dir);
    assert!(from_ndjson.lines().count() > 50, "{from_ndjson}");
    assert_eq!(from_parquet, from_ndjson);
    // The raw logs themselves give the same hits too.
    assert_eq!(ok(&[&AUDIT_ALL[..], &["samples"]].concat(), &dir), from_ndjson);

    // In a directory, told by its magic bytes whatever its name, beside gzip NDJSON.
    fs::create_dir(dir.join("mixed")).unwrap();
    fs::write(dir.join("mixed/part-0000"), &parquet).unwrap();
    let table = ok(&["audit", "--exclude-user-agent", "", "mixed"], &dir);
    let records = from_ndjson_records(&dir);
    assert!(
        table.ends_with(&format!(
            "1 file (0 of raw logs, 1 of records), {records} records, 0 bad lines, 0 damaged; {} hits\n",
            from_ndjson.lines().count()
        )),
        "{table}"
    );

    // Parquet to a redirected standard output is the same file.
    let piped = s3logs(&["parse", "--quiet", "samples", "--format", "parquet"], &dir);
    assert!(piped.status.success());
    assert_eq!(piped.stdout, parquet);
}

/// Records in the NDJSON output of the samples.
fn from_ndjson_records(dir: &Path) -> usize {
    fs::read_to_string(dir.join("records.ndjson"))
        .unwrap()
        .lines()
        .count()
}

#[test]
fn damaged_parquet_fails_the_run_after_the_other_files_and_stdin_is_refused() {
    let dir = temp_dir("damaged");
    ok(
        &[
            "parse",
            "--quiet",
            "samples",
            "--format",
            "parquet",
            "-o",
            "requests.parquet",
        ],
        &dir,
    );
    let parquet = fs::read(dir.join("requests.parquet")).unwrap();
    fs::write(dir.join("cut.parquet"), &parquet[..parquet.len() - 10]).unwrap();
    let output = s3logs(&["audit", "--json", "cut.parquet", "requests.parquet"], &dir);
    assert_eq!(output.status.code(), Some(1));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        errors.contains(
            "error: cut.parquet: unreadable-parquet (cut short: it does not end with a footer) at decoded byte 0"
        ),
        "{errors}"
    );
    let whole = ok(&["audit", "--json", "requests.parquet"], &dir);
    assert_eq!(String::from_utf8(output.stdout).unwrap(), whole);

    let output = Command::new(env!("CARGO_BIN_EXE_s3logs"))
        .args(["audit", "-"])
        .current_dir(&dir)
        .stdin(fs::File::open(dir.join("requests.parquet")).unwrap())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        errors.contains(
            "-: standard input holds a Parquet file, which is read from its end: give its path instead"
        ),
        "{errors}"
    );
}

/// Parquet is never written to a terminal; `script` gives the run a real one.
#[test]
fn parquet_to_a_terminal_is_refused() {
    let dir = temp_dir("terminal");
    let command = format!(
        "{} parse --quiet samples --format parquet",
        env!("CARGO_BIN_EXE_s3logs")
    );
    let output = Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "Parquet is binary: write it to a file with --output FILE, or redirect standard output"
        ),
        "{text}"
    );
    assert!(!text.contains("PAR1"), "{text}");
}

/// DuckDB, from the project's venv, over the CLI's Parquet: the columns are the `columnar`
/// table's, in order, every record is one row, and a query in AWS's names finds what the audit
/// finds.
#[test]
fn duckdb_reads_the_columns_of_the_columnar_table() {
    let dir = temp_dir("duckdb");
    ok(&["parse", "--quiet", "samples", "-o", "records.ndjson"], &dir);
    ok(
        &[
            "parse",
            "--quiet",
            "samples",
            "--format",
            "parquet",
            "-o",
            "requests.parquet",
        ],
        &dir,
    );
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    let script = "import duckdb, json\n\
        f = 'requests.parquet'\n\
        columns = [row[0] for row in duckdb.sql(f\"DESCRIBE SELECT * FROM '{f}'\").fetchall()]\n\
        rows = duckdb.sql(f\"SELECT count(*) FROM '{f}'\").fetchone()[0]\n\
        sigv2 = duckdb.sql(f\"SELECT count(*) FROM '{f}' WHERE signature_version = 'SigV2'\").fetchone()[0]\n\
        print(json.dumps({'columns': columns, 'rows': rows, 'sigv2': sigv2}))\n";
    let output = Command::new(&python)
        .args(["-c", script])
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|error| panic!("{}: {error}", python.display()));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let expected: Vec<&str> = columnar::COLUMNS.iter().map(|column| column.name).collect();
    assert_eq!(answer["columns"], serde_json::json!(expected));
    assert_eq!(answer["rows"], from_ndjson_records(&dir));
    let sigv2 = ok(
        &[
            "audit",
            "--json",
            "--exclude-user-agent",
            "",
            "--rules",
            "sigv2",
            "requests.parquet",
        ],
        &dir,
    );
    assert!(sigv2.lines().count() > 0);
    assert_eq!(answer["sigv2"], sigv2.lines().count());
}

/// The hit lines of `output`, sorted: with more than one worker only their order varies.
fn sorted_hits(output: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = output.lines().collect();
    lines.sort_unstable();
    lines
}

/// Every object under `dir/records`, by path relative to `dir`, with its bytes.
fn objects(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push((
                    path.strip_prefix(root).unwrap().to_owned(),
                    fs::read(&path).unwrap(),
                ));
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, &dir.join("records"), &mut found);
    found.sort();
    found
}

#[test]
fn run_in_parquet_writes_the_partitions_and_audits_them_like_json() {
    let dir = temp_dir("run");
    let run = |out: &str, extra: &[&str]| {
        let args = [
            &[
                "run",
                "samples",
                "--out",
                out,
                "--json",
                "--exclude-user-agent",
                "",
            ],
            extra,
        ]
        .concat();
        ok(&args, &dir)
    };
    let json_hits = run("json-out", &[]);
    let parquet_hits = run("parquet-out", &["--format", "parquet", "--jobs", "1"]);
    assert!(json_hits.lines().count() > 50, "{json_hits}");
    assert_eq!(sorted_hits(&parquet_hits), sorted_hits(&json_hits));

    // The same partitions as the gzip objects, each object Parquet under a `.parquet` name.
    let json_objects = objects(&dir.join("json-out"));
    let parquet_objects = objects(&dir.join("parquet-out"));
    let partitions = |objects: &[(PathBuf, Vec<u8>)]| -> Vec<PathBuf> {
        objects
            .iter()
            .map(|(path, _)| path.parent().unwrap().to_owned())
            .collect()
    };
    assert_eq!(partitions(&parquet_objects), partitions(&json_objects));
    assert!(
        parquet_objects
            .iter()
            .any(|(path, _)| path.starts_with("records/year=2019/month=06/day=12/hour=14"))
    );
    for (path, bytes) in &parquet_objects {
        assert_eq!(path.extension().unwrap(), "parquet", "{}", path.display());
        assert!(
            bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"),
            "{}",
            path.display()
        );
    }

    // `s3logs audit` reads the tree back to the same hits.
    let audited = ok(&[&AUDIT_ALL[..], &["parquet-out/records"]].concat(), &dir);
    assert_eq!(sorted_hits(&audited), sorted_hits(&json_hits));

    // Workers change nothing in the objects, also when a large file is cut into ranges that
    // workers read at once; a rerun skips what is done and keeps its objects.
    let plain: Vec<u8> = ["photo-archive", "media.example-radio.nl", "shared-reports"]
        .iter()
        .flat_map(|bucket| fs::read_dir(dir.join("samples").join(bucket)).unwrap())
        .flat_map(|entry| fs::read(entry.unwrap().path()).unwrap())
        .collect();
    fs::write(dir.join("large.log"), plain.repeat(300 * 1024 / plain.len() + 1)).unwrap();
    let small_units = ["large.log", "--format", "parquet", "--unit-bytes", "65536"];
    run("one-worker", &[&small_units[..], &["--jobs", "1"]].concat());
    run("three-workers", &[&small_units[..], &["--jobs", "3"]].concat());
    assert!(objects(&dir.join("one-worker")).len() > objects(&dir.join("json-out")).len());
    assert_eq!(
        objects(&dir.join("three-workers")),
        objects(&dir.join("one-worker"))
    );
    let rerun = s3logs(
        &["run", "samples", "--out", "parquet-out", "--format", "parquet"],
        &dir,
    );
    assert!(rerun.status.success());
    assert!(
        String::from_utf8_lossy(&rerun.stderr).contains("0 records"),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    assert_eq!(objects(&dir.join("parquet-out")), parquet_objects);
}

/// DuckDB reads every object of a Parquet run with the table's columns (the partition keys
/// are in the path, not in the file), one row per record.
#[test]
fn duckdb_reads_every_partition_of_a_parquet_run() {
    let dir = temp_dir("run-duckdb");
    ok(&["run", "samples", "--out", "out", "--format", "parquet"], &dir);
    ok(&["parse", "--quiet", "samples", "-o", "records.ndjson"], &dir);
    let files: Vec<String> = objects(&dir.join("out"))
        .into_iter()
        .map(|(path, _)| dir.join("out").join(path).display().to_string())
        .collect();
    assert!(files.len() > 5, "{files:?}");
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    let script = "import duckdb, json, sys\n\
        answer = []\n\
        for f in sys.argv[1:]:\n\
        \x20   table = f\"read_parquet('{f}', hive_partitioning = false)\"\n\
        \x20   columns = [row[0] for row in duckdb.sql(f'DESCRIBE SELECT * FROM {table}').fetchall()]\n\
        \x20   rows = duckdb.sql(f'SELECT count(*) FROM {table}').fetchone()[0]\n\
        \x20   answer.append({'columns': columns, 'rows': rows})\n\
        print(json.dumps(answer))\n";
    let output = Command::new(&python)
        .args(["-c", script])
        .args(&files)
        .output()
        .unwrap_or_else(|error| panic!("{}: {error}", python.display()));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let expected: Vec<&str> = columnar::COLUMNS.iter().map(|column| column.name).collect();
    assert_eq!(answer.len(), files.len());
    for file in &answer {
        assert_eq!(file["columns"], serde_json::json!(expected));
        assert!(file["rows"].as_u64().unwrap() > 0);
    }
    let rows: u64 = answer.iter().map(|file| file["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, from_ndjson_records(&dir) as u64);
}

/// A Parquet run holds the records of a JSON run, byte for byte, also for CRLF lines and for
/// lines with a `\r` of their own before the one that ends them.
#[test]
fn run_in_parquet_holds_the_records_of_run_in_json() {
    let dir = temp_dir("records");
    let sample = fs::read(samples().join("photo-archive/2019-06-12-16-05-21-7E1D0C5F2A9B4C83")).unwrap();
    let mut input = Vec::new();
    for line in sample.split(|&b| b == b'\n').filter(|line| !line.is_empty()) {
        for ending in [&b"\n"[..], b"\r\n", b"\r\r\n"] {
            input.extend_from_slice(line);
            input.extend_from_slice(ending);
        }
    }
    fs::write(dir.path("endings.log"), input).unwrap();
    ok(&["run", "endings.log", "--out", "json-out"], &dir);
    ok(
        &[
            "run",
            "endings.log",
            "--out",
            "parquet-out",
            "--format",
            "parquet",
        ],
        &dir,
    );
    let records = |out: &str| -> Vec<String> {
        let mut records = Vec::new();
        for (path, bytes) in objects(&dir.join(out)) {
            let mut text = Vec::new();
            if path.extension().is_some_and(|e| e == "parquet") {
                let mut reader = columnar::RecordReader::new(bytes::Bytes::from(bytes)).unwrap();
                while reader.next_records(&mut text).unwrap() > 0 {}
            } else {
                std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&bytes[..]), &mut text)
                    .unwrap();
            }
            records.extend(String::from_utf8(text).unwrap().lines().map(str::to_owned));
        }
        records.sort();
        records
    };
    let json = records("json-out");
    assert_eq!(
        json.len(),
        3 * sample.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count()
    );
    assert_eq!(records("parquet-out"), json);
}
