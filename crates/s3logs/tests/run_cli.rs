//! `s3logs run`'s object output, run as a user runs it (the built binary): correct partitions
//! whatever the span of hours, objects that appear only when complete, and a previous run's
//! output that is neither read again nor deleted when named as input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use support::{
    Scratch, command, files_under, log_line, log_lines, object_records, path_str, run_guarded, watch,
};

/// Every record of every object under `records`, as sorted JSON lines per partition
/// directory: what must not depend on how the work was split.
fn records_per_partition(records: &Path) -> BTreeMap<String, Vec<String>> {
    let mut partitions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, records) in packed(records) {
        let (directory, _) = name.rsplit_once('/').unwrap();
        let lines = partitions.entry(directory.to_owned()).or_default();
        lines.extend(records.iter().map(ToString::to_string));
    }
    for lines in partitions.values_mut() {
        lines.sort();
    }
    partitions
}

/// Every file under `dir` with its size and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    files_under(dir)
        .into_iter()
        .map(|file| {
            let metadata = fs::metadata(&file).unwrap();
            (file, (metadata.len(), metadata.modified().unwrap()))
        })
        .collect()
}

/// The RecordIds of every record under `records`, failing the test if one appears twice.
fn unique_ids(records: &Path) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for (name, records) in packed(records) {
        for record in records {
            let id = record["RecordId"].as_str().unwrap().to_owned();
            assert!(ids.insert(id.clone()), "{id} twice (in {name})");
        }
    }
    ids
}

/// `count` lines climbing one hour every 40 lines from `first_hour`, every 7th one a line
/// that does not parse (no Timestamp: it goes with the record before it), numbered from `n`.
fn history(first_hour: u32, count: u32, n: u32) -> String {
    (0..count)
        .map(|i| match i % 7 {
            6 => format!("not a log line {}\n", n + i),
            _ => log_line(first_hour + i / 40, n + i),
        })
        .collect()
}

#[test]
fn one_worker_and_four_write_the_same_objects_and_cut_files_read_like_whole_ones() {
    let scratch = Scratch::new("jobs");
    scratch.write("logs/a.log", history(0, 3000, 0).as_bytes());
    scratch.write("logs/b.log", history(100, 500, 10_000).as_bytes());
    scratch.write("logs/c.log", history(90, 400, 20_000).as_bytes());
    let gzipped = {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(history(50, 2000, 30_000).as_bytes()).unwrap();
        encoder.finish().unwrap()
    };
    scratch.write("logs/d.log.gz", &gzipped);
    let lines = 3000 + 500 + 400 + 2000;

    let mut results = Vec::new();
    // Whole files by one worker; then files cut into ranges of 100 kB (a.log into about 20,
    // the gzip file whole, b and c grouped) by one worker and by four.
    for (out, args) in [
        ("whole", &["--jobs", "1"][..]),
        ("cut-1", &["--jobs", "1", "--unit-bytes", "100000"]),
        ("cut-4", &["--jobs", "4", "--unit-bytes", "100000"]),
    ] {
        let mut all = vec!["run", "logs", "--out", out, "--rules", "sigv2", "--json"];
        all.extend_from_slice(args);
        let run = run_guarded(command(&all, &scratch.0), &scratch.0, None);
        assert!(run.status.success(), "{}", run.stderr);
        assert!(run.stderr.contains(&format!("{lines} records")), "{}", run.stderr);
        let records = scratch.path(out).join("records");
        assert_eq!(unique_ids(&records).len(), lines as usize);
        let objects: BTreeMap<PathBuf, Vec<u8>> = files_under(&records)
            .into_iter()
            .map(|object| {
                (
                    object.strip_prefix(&records).unwrap().to_owned(),
                    fs::read(&object).unwrap(),
                )
            })
            .collect();
        results.push((objects, records_per_partition(&records)));
    }
    assert_eq!(
        results[0].1, results[1].1,
        "cut files give the records of whole ones"
    );
    assert!(
        results[1] == results[2],
        "--jobs 4 writes the objects of --jobs 1, byte for byte"
    );
    assert!(results[1].0.len() > results[0].0.len(), "the cut made more units");
}

#[test]
fn a_rerun_writes_nothing_new_and_a_new_file_is_all_it_reads() {
    let scratch = Scratch::new("rerun");
    scratch.write("logs/a.log", history(0, 2000, 0).as_bytes());
    scratch.write("logs/b.log", history(30, 300, 5_000).as_bytes());
    let run = |args: &[&str]| {
        let mut all = vec!["run", "logs", "--out", "out", "--unit-bytes", "100000"];
        all.extend_from_slice(args);
        let run = run_guarded(command(&all, &scratch.0), &scratch.0, None);
        assert!(run.status.success(), "{}", run.stderr);
        run.stderr
    };
    let first = run(&[]);
    assert!(first.contains("2 inputs, 2300 records"), "{first}");
    assert!(
        !first.contains("lines/s"),
        "no progress bar when stderr is a file: {first}"
    );
    let before = snapshot(&scratch.path("out"));
    assert!(
        before
            .keys()
            .any(|file| file.starts_with(scratch.path("out/manifest")))
    );

    let again = run(&["--jobs", "3"]);
    assert!(again.contains("0 inputs, 0 records"), "{again}");
    assert!(again.contains("2 inputs already processed"), "{again}");
    assert_eq!(snapshot(&scratch.path("out")), before, "same files, same times");

    scratch.write("logs/c.log", history(10, 700, 9_000).as_bytes());
    let third = run(&[]);
    assert!(third.contains("1 input, 700 records"), "{third}");
    assert!(third.contains("2 inputs already processed"), "{third}");
    let after = snapshot(&scratch.path("out/records"));
    for (file, stamp) in snapshot(&scratch.path("out/records")) {
        if before.contains_key(&file) {
            assert_eq!(before[&file], stamp, "{} was rewritten", file.display());
        }
    }
    assert!(
        before
            .keys()
            .all(|file| !file.starts_with(scratch.path("out/records")) || after.contains_key(file))
    );
    assert_eq!(unique_ids(&scratch.path("out/records")).len(), 3000);

    // --fresh starts over: the same records, written again.
    let fresh = run(&["--fresh"]);
    assert!(fresh.contains("3 inputs, 3000 records"), "{fresh}");
    assert_eq!(unique_ids(&scratch.path("out/records")).len(), 3000);
}

#[test]
fn a_changed_file_is_read_again_with_a_warning_and_its_old_records_stay() {
    let scratch = Scratch::new("changed");
    let log = scratch.write("logs/a.log", history(0, 300, 0).as_bytes());
    let run = || {
        let run = run_guarded(
            command(&["run", "logs", "--out", "out"], &scratch.0),
            &scratch.0,
            None,
        );
        assert!(run.status.success(), "{}", run.stderr);
        run.stderr
    };
    run();
    // Grown since, as a log still being written would be.
    fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(history(20, 10, 300).as_bytes())
        .unwrap();
    let again = run();
    assert!(
        again.contains("warning: logs/a.log changed since it was processed into out"),
        "{again}"
    );
    assert!(again.contains("1 input, 310 records"), "{again}");
    let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
    for (_, records) in packed(&scratch.path("out/records")) {
        for record in records {
            *per_id
                .entry(record["RecordId"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    // Its first 300 lines twice (one RecordId each, for the de-duplicated view), the new ones once.
    assert_eq!(per_id.len(), 310);
    assert_eq!(per_id.values().filter(|&&count| count == 2).count(), 300);
}

#[test]
fn an_interrupted_run_is_finished_by_the_next_with_every_record_once() {
    let scratch = Scratch::new("interrupted-rerun");
    scratch.write("logs/a.log", history(0, 400, 0).as_bytes());
    let fifo = scratch.fifo("feed");
    let manifest = scratch.path("out/manifest");
    let records = scratch.path("out/records");
    // One worker: a.log first, committed; then the FIFO, whose records span more hours than a
    // writer holds open, so complete objects of its job are in place when the run is killed.
    let mut child = command(
        &["run", "logs", path_str(&fifo), "--out", "out", "--jobs", "1"],
        &scratch.0,
    )
    .spawn()
    .unwrap();
    let fed = history(200, 3000, 100_000);
    let mut feed = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    feed.write_all(fed.as_bytes()).unwrap();
    let committed_and_more = || {
        let jobs = manifest.exists() && fs::read_dir(&manifest).unwrap().count() == 1;
        let objects = records.exists()
            && files_under(&records)
                .iter()
                .filter(|f| f.extension().unwrap() == "gz")
                .count()
                > 12;
        jobs && objects
    };
    let mut waited = 0;
    while !committed_and_more() {
        assert!(child.try_wait().unwrap().is_none(), "run ended early");
        assert!(waited < 6000, "run wrote too little");
        std::thread::sleep(Duration::from_millis(20));
        waited += 1;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(feed);

    // What the FIFO held arrives as a file; a.log was done and is not read again.
    scratch.write("logs/b.log", fed.as_bytes());
    let rerun = run_guarded(
        command(&["run", "logs", "--out", "out"], &scratch.0),
        &scratch.0,
        None,
    );
    assert!(rerun.status.success(), "{}", rerun.stderr);
    assert!(
        rerun.stderr.contains("that an interrupted run left unfinished"),
        "{}",
        rerun.stderr
    );
    assert!(rerun.stderr.contains("1 input, 3000 records"), "{}", rerun.stderr);
    assert!(
        rerun.stderr.contains("1 input already processed"),
        "{}",
        rerun.stderr
    );
    assert_eq!(unique_ids(&records).len(), 3400, "every record exactly once");
    assert!(
        files_under(&records)
            .iter()
            .all(|f| f.extension().unwrap() == "gz")
    );
}

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
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(
        names[0].starts_with("year=2025/month=01/day=01/hour=00/s3logs-run-1-2025-01-01-00-00-00-"),
        "{names:?}"
    );
    assert_eq!(objects.values().next().unwrap().len(), 2);
}

#[test]
fn a_previous_run_is_neither_read_again_nor_deleted_as_an_input() {
    let scratch = Scratch::new("run-own-output");
    scratch.write("logs/a.log", log_lines(3, 0).as_bytes());

    for (processed, skipped) in [(3, "0 inputs"), (0, "1 input")] {
        let run = run_guarded(
            command(&["run", "logs", "--out", "logs/out"], &scratch.0),
            &scratch.0,
            None,
        );
        assert!(run.status.success(), "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("{processed} records")),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&format!("{skipped} already processed")),
            "{}",
            run.stderr
        );
    }
    let objects = files_under(&scratch.path("logs/out/records"));
    assert_eq!(objects.len(), 1);
    let object = &objects[0];
    assert_eq!(object_records(object).len(), 3);
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
        command(&["run", path_str(object), "--out", "logs/out"], &scratch.0),
        &scratch.0,
        None,
    );
    assert_eq!(run.status.code(), Some(1));
    assert!(run.stderr.contains("refusing"), "{}", run.stderr);
    assert_eq!(object_records(object).len(), 3);
}

/// A second run into an output directory that a run is writing is refused: it would take the
/// first run's unfinished objects for an interrupted run's and remove them, and records the
/// first run reports as packed would be lost.
#[test]
fn a_second_run_into_the_same_output_is_refused_while_the_first_writes() {
    let scratch = Scratch::new("concurrent");
    scratch.write("logs/a.log", history(0, 200, 0).as_bytes());
    let fifo = scratch.fifo("feed");
    let records = scratch.path("out/records");
    let mut first = command(&["run", "logs", path_str(&fifo), "--out", "out"], &scratch.0)
        .stdout(std::process::Stdio::null())
        .stderr(fs::File::create(scratch.path("first.stderr")).unwrap())
        .spawn()
        .unwrap();
    // The first run reads the FIFO and holds an object of it open, unfinished.
    let mut feed = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let fed = history(100, 300, 100_000);
    feed.write_all(fed.as_bytes()).unwrap();
    let mut waited = 0;
    while !(records.exists()
        && files_under(&records)
            .iter()
            .any(|f| f.to_string_lossy().ends_with(".partial")))
    {
        assert!(first.try_wait().unwrap().is_none(), "run ended early");
        assert!(waited < 6000, "run wrote nothing");
        std::thread::sleep(Duration::from_millis(20));
        waited += 1;
    }

    let second = run_guarded(
        command(&["run", "logs", "--out", "out"], &scratch.0),
        &scratch.0,
        None,
    );
    assert_eq!(second.status.code(), Some(1), "{}", second.stderr);
    assert!(
        second.stderr.contains("another `s3logs run` is writing into out"),
        "{}",
        second.stderr
    );

    drop(feed);
    assert!(
        watch(&mut first, None).success(),
        "{}",
        fs::read_to_string(scratch.path("first.stderr")).unwrap()
    );
    assert_eq!(unique_ids(&records).len(), 500, "every record of the first run");
    // Once the first run has ended, the output directory takes the next one.
    let third = run_guarded(
        command(&["run", "logs", "--out", "out"], &scratch.0),
        &scratch.0,
        None,
    );
    assert!(third.status.success(), "{}", third.stderr);
    assert!(
        third.stderr.contains("1 input already processed"),
        "{}",
        third.stderr
    );
}

/// A file whose name is not UTF-8 (Latin-1 from an old system, say) is processed once like any
/// other; its manifest entry used to hold the name with replacement characters, which never
/// matched again, so every rerun added its records anew.
#[test]
fn a_file_whose_name_is_not_utf8_is_skipped_by_a_rerun() {
    use std::os::unix::ffi::OsStrExt;

    let scratch = Scratch::new("non-utf8-name");
    scratch.write("logs/a.log", history(0, 50, 0).as_bytes());
    let latin1 = scratch
        .path("logs")
        .join(std::ffi::OsStr::from_bytes(b"caf\xe9.log"));
    fs::write(&latin1, history(10, 30, 1_000)).unwrap();
    for skipped in ["0 inputs", "2 inputs"] {
        let run = run_guarded(
            command(&["run", "logs", "--out", "out"], &scratch.0),
            &scratch.0,
            None,
        );
        assert!(run.status.success(), "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("{skipped} already processed")),
            "{}",
            run.stderr
        );
    }
    assert_eq!(unique_ids(&scratch.path("out/records")).len(), 80);
}

/// The output of an earlier run into another `--out` inside the logs (`s3logs run . --out pq
/// --format parquet` after `--out out`) holds records, not logs: it is skipped with a warning.
/// Read as logs, its Parquet objects failed every run as damaged files and kept the logs
/// grouped with them out of the manifest, and its manifest became garbage records.
#[test]
fn an_earlier_runs_output_among_the_logs_is_not_read_as_logs() {
    let scratch = Scratch::new("earlier-output");
    scratch.write("logs/a.log", history(0, 100, 0).as_bytes());
    let run = |args: &[&str]| run_guarded(command(args, &scratch.0), &scratch.0, None);
    let first = run(&["run", "logs", "--out", "logs/pq", "--format", "parquet"]);
    assert!(first.status.success(), "{}", first.stderr);

    for skipped in ["0 inputs", "1 input"] {
        let json = run(&["run", "logs", "--out", "out"]);
        assert!(json.status.success(), "{}", json.stderr);
        assert!(
            json.stderr
                .contains("warning: skipped logs/pq: it is the output of an earlier `s3logs run`"),
            "{}",
            json.stderr
        );
        assert!(
            json.stderr.contains(&format!("{skipped} already processed")),
            "{}",
            json.stderr
        );
    }
    let records = packed(&scratch.path("out/records"));
    let log_files: BTreeSet<&str> = records
        .values()
        .flatten()
        .map(|record| record["LogFile"].as_str().unwrap())
        .collect();
    assert_eq!(log_files, BTreeSet::from(["logs/a.log"]));
    assert_eq!(unique_ids(&scratch.path("out/records")).len(), 100);
}

/// Logs tidied into other folders after a run (`mv` keeps a file's time) are the inputs
/// already processed, not new ones: a rerun used to read them again and add every record a
/// second time.
#[test]
fn a_file_moved_after_a_run_is_not_read_again() {
    let scratch = Scratch::new("moved");
    scratch.write("logs/a.log", history(0, 120, 0).as_bytes());
    let run = || {
        let run = run_guarded(
            command(&["run", "logs", "--out", "out"], &scratch.0),
            &scratch.0,
            None,
        );
        assert!(run.status.success(), "{}", run.stderr);
        run.stderr
    };
    run();
    fs::create_dir_all(scratch.path("logs/2025/01")).unwrap();
    fs::rename(scratch.path("logs/a.log"), scratch.path("logs/2025/01/a.log")).unwrap();
    scratch.write("logs/b.log", history(10, 30, 1_000).as_bytes());
    let again = run();
    assert!(again.contains("1 input, 30 records"), "{again}");
    assert!(again.contains("1 input already processed"), "{again}");
    assert_eq!(unique_ids(&scratch.path("out/records")).len(), 150);
}

/// `--fresh` killed while it removes the earlier objects leaves no manifest entry whose objects
/// are gone: it used to remove the objects first and forget the jobs after, so a run killed in
/// between left jobs without their records, and the next run skipped their inputs for good.
#[test]
fn a_fresh_run_killed_while_it_removes_the_old_objects_loses_no_record() {
    let scratch = Scratch::new("fresh-killed");
    scratch.write("logs/a.log", log_lines(3000, 0).as_bytes());
    // One object per record, all in one hour: thousands of files for --fresh to remove.
    let args = [
        "run",
        "logs",
        "--out",
        "out",
        "--object-bytes",
        "1",
        "--rules",
        "sigv2",
    ];
    let first = run_guarded(command(&args, &scratch.0), &scratch.0, None);
    assert!(first.status.success(), "{}", first.stderr);
    let hour = scratch.path("out/records/year=2025/month=01/day=01/hour=00");
    // The object the run removes first: the walk takes a directory's entries in their order.
    let first_removed = fs::read_dir(&hour).unwrap().next().unwrap().unwrap().path();

    let mut fresh = command(&[&args[..], &["--fresh"]].concat(), &scratch.0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while first_removed.exists() && fresh.try_wait().unwrap().is_none() {
        std::thread::yield_now();
    }
    let _ = fresh.kill();
    fresh.wait().unwrap();

    let rerun = run_guarded(command(&args[..6], &scratch.0), &scratch.0, None);
    assert!(rerun.status.success(), "{}", rerun.stderr);
    assert_eq!(
        unique_ids(&scratch.path("out/records")).len(),
        3000,
        "{}",
        rerun.stderr
    );
}

/// A manifest entry left empty or cut by a crash (renamed into place before the disk had its
/// data) counts as a job never committed: the next run removes its objects and reads its
/// inputs again. Every run used to refuse to start on it, `--fresh` included.
#[test]
fn a_damaged_manifest_entry_is_redone_instead_of_refusing_every_run() {
    let scratch = Scratch::new("damaged-entry");
    scratch.write("logs/a.log", history(0, 200, 0).as_bytes());
    let run = |extra: &[&str]| {
        let args = [&["run", "logs", "--out", "out"], extra].concat();
        run_guarded(command(&args, &scratch.0), &scratch.0, None)
    };
    assert!(run(&[]).status.success());
    let entries = files_under(&scratch.path("out/manifest"));
    assert_eq!(entries.len(), 1);
    for damage in [&b""[..], b"{\"job\":\"00"] {
        fs::write(&entries[0], damage).unwrap();
        let rerun = run(&[]);
        assert!(rerun.status.success(), "{}", rerun.stderr);
        assert!(
            rerun.stderr.contains("warning: removed a damaged manifest entry"),
            "{}",
            rerun.stderr
        );
        assert!(rerun.stderr.contains("1 input, 200 records"), "{}", rerun.stderr);
        assert_eq!(unique_ids(&scratch.path("out/records")).len(), 200);
    }
    fs::write(&files_under(&scratch.path("out/manifest"))[0], b"").unwrap();
    let fresh = run(&["--fresh"]);
    assert!(fresh.status.success(), "{}", fresh.stderr);
    assert_eq!(unique_ids(&scratch.path("out/records")).len(), 200);
}

/// A damaged file keeps the files grouped with it out of the manifest; the message about them
/// names a few and counts the rest, instead of listing thousands on one line.
#[test]
fn the_inputs_kept_out_of_the_manifest_with_a_damaged_file_are_counted_not_all_listed() {
    let scratch = Scratch::new("damaged-group");
    for n in 0..40 {
        scratch.write(&format!("logs/{n:02}.log"), log_lines(2, n * 10).as_bytes());
    }
    let mut cut = {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(history(0, 2000, 5_000).as_bytes()).unwrap();
        encoder.finish().unwrap()
    };
    cut.truncate(cut.len() / 2);
    scratch.write("logs/99.log.gz", &cut);
    let run = run_guarded(
        command(&["run", "logs", "--out", "out"], &scratch.0),
        &scratch.0,
        None,
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    let line = run
        .stderr
        .lines()
        .find(|line| line.contains("not recorded as processed"))
        .unwrap();
    assert!(
        line.ends_with("logs/00.log, logs/01.log, logs/02.log, logs/03.log, logs/04.log and 36 more"),
        "{line}"
    );
}
