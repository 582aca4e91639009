//! The input walk shared by `parse`, `audit` and `run`, run as a user runs it (the built
//! binary): it never reads the command's own output nor truncates an input, skips FIFOs met in
//! a directory, follows symlinked directories once, and a closed standard output does not hide
//! a failed path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::symlink;
use std::process::Stdio;

use support::{
    Scratch, command, files_under, log_lines, object_records, path_str, records, run_guarded, watch,
};

#[test]
fn parse_skips_its_own_output_in_a_walked_directory() {
    let scratch = Scratch::new("own-output");
    // More than the 1 MiB output chunk, so a run that read its output would find it growing.
    scratch.write("logs/a.log", log_lines(3000, 0).as_bytes());
    let out = scratch.path("logs/out.ndjson");

    let mut runs = (0..2).map(|_| {
        let run = run_guarded(
            command(&["parse", "logs", "-o", "logs/out.ndjson"], &scratch.0),
            &scratch.0,
            Some((&out, 64 << 20)),
        );
        assert!(run.status.success(), "{}", run.stderr);
        assert_eq!(records(&fs::read(&out).unwrap()).len(), 3000);
        run
    });
    runs.next();
    let second = runs.next().unwrap();
    assert!(
        second
            .stderr
            .contains("warning: skipped logs/out.ndjson: it is this command's output"),
        "{}",
        second.stderr
    );
}

#[test]
fn audit_skips_standard_output_redirected_into_the_walk() {
    let scratch = Scratch::new("stdout-output");
    scratch.write("logs/a.log", log_lines(3, 0).as_bytes());
    for _ in 0..2 {
        let mut audit = command(&["audit", "logs"], &scratch.0)
            .stdout(fs::File::create(scratch.path("logs/table.txt")).unwrap())
            .spawn()
            .unwrap();
        assert!(watch(&mut audit, None).success());
    }
    let table = fs::read_to_string(scratch.path("logs/table.txt")).unwrap();
    assert!(
        table.contains("1 file (1 of raw logs, 0 of records), 3 records"),
        "{table}"
    );
}

#[test]
fn the_same_file_as_input_and_output_is_refused_before_truncating_it() {
    let scratch = Scratch::new("same-file");
    let lines = log_lines(2, 0);
    let input = scratch.write("same.log", lines.as_bytes());
    symlink(&input, scratch.path("link.log")).unwrap();

    for output in ["same.log", "link.log", "./same.log"] {
        let run = run_guarded(
            command(&["parse", "same.log", "-o", output], &scratch.0),
            &scratch.0,
            None,
        );
        assert_eq!(run.status.code(), Some(1), "-o {output}");
        assert!(run.stderr.contains("refusing"), "{}", run.stderr);
        assert_eq!(fs::read_to_string(&input).unwrap(), lines, "-o {output}");
    }
}

#[test]
fn fifos_in_a_walked_directory_are_skipped_and_read_when_named() {
    let scratch = Scratch::new("fifo");
    scratch.write("logs/a.log", log_lines(2, 0).as_bytes());
    let fifo = scratch.fifo("logs/b.fifo");
    scratch.write("logs/c.log", log_lines(3, 2).as_bytes());
    let warning = "warning: skipped logs/b.fifo: a FIFO is read only when named on the command line";

    let parse = run_guarded(command(&["parse", "logs"], &scratch.0), &scratch.0, None);
    assert!(parse.status.success(), "{}", parse.stderr);
    assert_eq!(records(&parse.stdout).len(), 5);
    assert!(parse.stderr.contains(warning), "{}", parse.stderr);

    let audit = run_guarded(command(&["audit", "logs"], &scratch.0), &scratch.0, None);
    assert!(audit.status.success(), "{}", audit.stderr);
    assert!(
        String::from_utf8_lossy(&audit.stdout).contains("2 files (2 of raw logs, 0 of records), 5 records")
    );
    assert!(audit.stderr.contains(warning), "{}", audit.stderr);

    let run = run_guarded(
        command(&["run", "logs", "--out", "out"], &scratch.0),
        &scratch.0,
        None,
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert!(run.stderr.contains("5 records"), "{}", run.stderr);
    assert!(run.stderr.contains(warning), "{}", run.stderr);

    // Named on the command line, a FIFO is read like standard input.
    let child = command(&["parse", path_str(&fifo)], &scratch.0)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .unwrap()
        .write_all(log_lines(4, 0).as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(records(&output.stdout).len(), 4);
}

#[test]
fn symlinked_directories_are_followed_and_cycles_read_each_file_once() {
    let scratch = Scratch::new("symlinks");
    scratch.write("logs/a.log", log_lines(2, 0).as_bytes());
    scratch.write("elsewhere/b.log", log_lines(3, 2).as_bytes());
    symlink(scratch.path("elsewhere"), scratch.path("logs/linked")).unwrap();
    symlink(scratch.path("logs"), scratch.path("elsewhere/back")).unwrap();
    symlink("loop", scratch.path("logs/loop")).unwrap();

    let parse = run_guarded(command(&["parse", "logs"], &scratch.0), &scratch.0, None);
    let names: Vec<String> = records(&parse.stdout)
        .iter()
        .map(|record| record["LogFile"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "logs/a.log",
            "logs/a.log",
            "logs/linked/b.log",
            "logs/linked/b.log",
            "logs/linked/b.log"
        ]
    );
    // The self-referencing `loop` link cannot be read: named as a failure, the rest still read.
    assert_eq!(parse.status.code(), Some(1));
    assert!(parse.stderr.contains("error: logs/loop:"), "{}", parse.stderr);

    fs::remove_file(scratch.path("logs/loop")).unwrap();
    let run = run_guarded(
        command(&["run", "logs", "--out", "out"], &scratch.0),
        &scratch.0,
        None,
    );
    assert!(run.status.success(), "{}", run.stderr);
    let packed: usize = files_under(&scratch.path("out/records"))
        .iter()
        .map(|object| object_records(object).len())
        .sum();
    assert_eq!(packed, 5);
}

#[test]
fn a_closed_standard_output_does_not_hide_a_failed_path() {
    let scratch = Scratch::new("broken-pipe");
    // Far more output than a pipe holds, so writing fails once the reader is gone.
    scratch.write("big.log", log_lines(5000, 0).as_bytes());
    let garbage: String = (0..50_000).map(|n| format!("not a log line {n}\n")).collect();
    scratch.write("garbage.log", garbage.as_bytes());
    for args in [
        &["parse", "missing.log", "big.log"][..],
        &[
            "audit",
            "--json",
            "--rules",
            "parse-errors",
            "missing.log",
            "garbage.log",
        ],
        &[
            "run",
            "--json",
            "--rules",
            "parse-errors",
            "missing.log",
            "garbage.log",
            "--out",
            "out",
        ],
    ] {
        let mut child = command(args, &scratch.0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0; 1];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("error: missing.log"), "{args:?}: {stderr}");
    }
}
