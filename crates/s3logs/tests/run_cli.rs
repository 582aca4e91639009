//! `s3logs run`'s object output, run as a user runs it (the built binary): correct partitions
//! whatever the span of hours, objects that appear only when complete, and a previous run's
//! output that is neither read again nor deleted when named as input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use support::{
    Scratch, command, files_under, log_line, log_lines, object_records, path_str, run_guarded, watch,
};

/// Hours spanned by the span test: far more than `run` holds open at once.
const HOURS: u32 = 3000;

/// Every record of every object under `records`, by object.
fn packed(records: &Path) -> BTreeMap<String, Vec<serde_json::Value>> {
    files_under(records)
        .iter()
        .map(|object| {
            let name = object.strip_prefix(records).unwrap().display().to_string();
            (name, object_records(object))
        })
        .collect()
}

#[test]
fn every_record_lands_once_in_its_hour_whatever_the_span() {
    let scratch = Scratch::new("span");
    // Every hour twice, the second time after all the others: its first object is finished
    // by then, so the hour gets a second, complete object.
    let mut input = String::new();
    for pass in 0..2 {
        for hour in 0..HOURS {
            input.push_str(&log_line(hour, pass * HOURS + hour));
        }
    }
    scratch.write("logs/span.log", input.as_bytes());

    let run = run_guarded(
        command(&["run", "logs", "--out", "out", "--json"], &scratch.0),
        &scratch.0,
        None,
    );
    assert!(run.status.success(), "{}", run.stderr);

    let objects = packed(&scratch.path("out/records"));
    let mut ids = BTreeSet::new();
    let mut objects_per_hour: BTreeMap<String, usize> = BTreeMap::new();
    for (name, records) in &objects {
        assert!(name.ends_with(".gz"), "{name}");
        let (directory, _) = name.rsplit_once('/').unwrap();
        *objects_per_hour.entry(directory.to_owned()).or_default() += 1;
        for record in records {
            let time = record["Timestamp"].as_str().unwrap();
            let expected = format!(
                "year={}/month={}/day={}/hour={}",
                &time[0..4],
                &time[5..7],
                &time[8..10],
                &time[11..13]
            );
            assert_eq!(directory, expected);
            assert!(ids.insert(record["RecordId"].as_str().unwrap().to_owned()));
        }
    }
    assert_eq!(ids.len(), 2 * HOURS as usize, "every record exactly once");
    assert_eq!(objects_per_hour.len(), HOURS as usize);
    assert!(objects_per_hour.values().all(|&count| count == 2));
}

#[test]
fn an_interrupted_run_leaves_no_partial_object_and_the_next_run_cleans_up() {
    let scratch = Scratch::new("interrupted");
    let fifo = scratch.fifo("feed");
    let records = scratch.path("out/records");
    let mut child = command(&["run", path_str(&fifo), "--out", "out"], &scratch.0)
        .spawn()
        .unwrap();
    // Opening blocks until `run` opens the FIFO; more than a gzip member's worth of records of
    // one hour, then the input stays open: the object is half written when `run` is killed.
    let mut feed = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    feed.write_all(log_lines(3000, 0).as_bytes()).unwrap();
    let mut waited = 0;
    while !records.exists() || files_under(&records).is_empty() {
        assert!(child.try_wait().unwrap().is_none(), "run ended early");
        assert!(waited < 6000, "run wrote nothing");
        std::thread::sleep(Duration::from_millis(20));
        waited += 1;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(feed);

    let left = files_under(&records);
    let names: Vec<String> = left.iter().map(|f| f.display().to_string()).collect();
    assert!(
        names.iter().all(|name| name.ends_with(".gz.partial")),
        "{names:?}"
    );
    assert!(!names.is_empty());

    scratch.write("logs/a.log", log_lines(2, 0).as_bytes());
    let mut rerun = command(&["run", "logs", "--out", "out"], &scratch.0)
        .spawn()
        .unwrap();
    assert!(watch(&mut rerun, None).success());
    let objects = packed(&records);
    let names: Vec<&str> = objects.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["year=2025/month=01/day=01/hour=00/s3logs-run-1-2025-01-01-00-00-00-0000.gz"]
    );
    assert_eq!(objects.values().next().unwrap().len(), 2);
}

#[test]
fn a_previous_run_is_neither_read_again_nor_deleted_as_an_input() {
    let scratch = Scratch::new("run-own-output");
    scratch.write("logs/a.log", log_lines(3, 0).as_bytes());
    let object = scratch
        .path("logs/out/records/year=2025/month=01/day=01/hour=00/s3logs-run-1-2025-01-01-00-00-00-0000.gz");

    for _ in 0..2 {
        let run = run_guarded(
            command(&["run", "logs", "--out", "logs/out"], &scratch.0),
            &scratch.0,
            None,
        );
        assert!(run.status.success(), "{}", run.stderr);
        assert!(run.stderr.contains("3 records"), "{}", run.stderr);
        assert_eq!(object_records(&object).len(), 3);
    }
    let again = run_guarded(
        command(&["run", "logs", "--out", "logs/out"], &scratch.0),
        &scratch.0,
        None,
    );
    assert!(
        again
            .stderr
            .contains("warning: skipped logs/out/records: it is this command's output"),
        "{}",
        again.stderr
    );

    // Named as input, an object of the run it would replace is refused, not deleted.
    let run = run_guarded(
        command(&["run", path_str(&object), "--out", "logs/out"], &scratch.0),
        &scratch.0,
        None,
    );
    assert_eq!(run.status.code(), Some(1));
    assert!(run.stderr.contains("refusing"), "{}", run.stderr);
    assert_eq!(object_records(&object).len(), 3);
}
