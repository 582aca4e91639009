//! Helpers for the tests that run the built `s3logs` binary on inputs that could hang it
//! (FIFOs, its own output, symlink cycles): scratch directories, generated log lines and a
//! watchdog that kills a run that does not end instead of hanging the test suite.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use flate2::read::MultiGzDecoder;
use serde_json::Value;

/// Longest a run may take before the watchdog calls it hung; far above any real run here.
const HUNG_AFTER: Duration = Duration::from_secs(120);

/// A fresh directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("s3logs-cli-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, bytes).unwrap();
        path
    }

    /// A FIFO at `name`, made by the `mkfifo` tool.
    pub fn fifo(&self, name: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let status = Command::new("mkfifo").arg(&path).status().unwrap();
        assert!(status.success(), "mkfifo {}", path.display());
        path
    }
}

/// The directory itself, so a scratch directory goes wherever a path does.
impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A valid log line of hour `hour` (0-based, spanning up to 12 × 28 × 24 hours of 2025),
/// made unique by `n` in its request ID.
pub fn log_line(hour: u32, n: u32) -> String {
    let (month, day, hh) = (hour / (28 * 24), hour / 24 % 28, hour % 24);
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][month as usize];
    format!(
        "5c1bf4c1dbd6a8d3e0c7a63b4fe51f2e9a0c4c4f1b2a3d5e6f708192a3b4c5d6 example-logs \
         [{:02}/{month}/2025:{hh:02}:15:01 +0000] 198.51.100.7 arn:aws:iam::111122223333:user/deploy \
         {n:016X} REST.GET.OBJECT reports/q3.csv \"GET /reports/q3.csv HTTP/1.1\" 200 - 5120 5120 31 12 \
         \"-\" \"aws-cli/2.17.0 Python/3.12.4 Linux/6.1\" - bXlIb3N0SWRGb3JUZXN0aW5nT25seQ== SigV4 \
         TLS_AES_128_GCM_SHA256 AuthHeader example-logs.s3.eu-west-1.amazonaws.com TLSv1.3 - - eu-west-1\n",
        day + 1
    )
}

/// `count` lines of one hour, numbered from `first`.
pub fn log_lines(count: u32, first: u32) -> String {
    (first..first + count).map(|n| log_line(0, n)).collect()
}

/// The `s3logs` binary with `args`, run in `cwd`, standard input empty.
pub fn command(args: &[&str], cwd: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_s3logs"));
    command.args(args).current_dir(cwd).stdin(Stdio::null());
    command
}

/// What a finished run left.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs `command` with standard output and error in files under `dir` (named `stdout` and
/// `stderr`, so no pipe can fill up), killing it and failing the test if it runs for longer
/// than [`HUNG_AFTER`] or `grows` (a file it writes) passes `limit` bytes.
pub fn run_guarded(mut command: Command, dir: &Path, grows: Option<(&Path, u64)>) -> Finished {
    let stdout = dir.join("stdout");
    let stderr = dir.join("stderr");
    command
        .stdout(fs::File::create(&stdout).unwrap())
        .stderr(fs::File::create(&stderr).unwrap());
    let mut child = command.spawn().unwrap();
    let status = watch(&mut child, grows);
    Finished {
        status,
        stdout: fs::read(&stdout).unwrap(),
        stderr: fs::read_to_string(&stderr).unwrap(),
    }
}

/// Waits for `child`, killing it and failing the test if it hangs or `grows` past its limit.
pub fn watch(child: &mut Child, grows: Option<(&Path, u64)>) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        let size = grows.and_then(|(path, limit)| Some((fs::metadata(path).ok()?.len(), limit)));
        let runaway = size.is_some_and(|(size, limit)| size > limit);
        if runaway || started.elapsed() > HUNG_AFTER {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("s3logs did not end (runaway output: {runaway})");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// NDJSON lines parsed.
pub fn records(ndjson: &[u8]) -> Vec<Value> {
    String::from_utf8(ndjson.to_vec())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Every file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The records of a gzip object, failing the test if it does not decompress to the end.
pub fn object_records(path: &Path) -> Vec<Value> {
    let mut text = Vec::new();
    MultiGzDecoder::new(fs::File::open(path).unwrap())
        .read_to_end(&mut text)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    records(&text)
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}
