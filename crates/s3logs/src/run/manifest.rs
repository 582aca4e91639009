//! The manifest of an output directory: which inputs `s3logs run` has already processed into
//! it, so that a rerun over the same inputs writes nothing new and a rerun after new files
//! arrived processes only those.
//!
//! The manifest is a directory, `<out>/manifest/`, with one small JSON file per job (a group
//! of inputs whose objects were written together, see `plan`), `<job>.json`:
//!
//! ```json
//! {"job":"9f0c…","records":1234,"objects":7,
//!  "inputs":[{"path":"/abs/logs/a.log","size":5120,"mtime_ns":1764000000000000000,"fingerprint":"1a2b…"}]}
//! ```
//!
//! A job file is written under a temporary name and renamed into place only after every object
//! of the job was renamed into place, so a job is either in the manifest with all its objects
//! or not at all; the objects of a job that is not (an interrupted run) are removed by the next
//! run before it starts, and that job's inputs are read again: every record ends up exactly
//! once. One file per job keeps a commit cheap however many inputs came before. A job with a
//! damaged file (cut gzip, unsupported compression) is not committed either: its
//! objects are removed by the next run like an interrupted job's, so reading the file again
//! never adds its readable lines twice, and every run reports it and reads it again until a
//! good copy replaces it (a file of another format, Parquet or a CloudFront log, is committed:
//! reading it again would never give log lines). A job file that does not parse (left empty or cut by a crash before
//! the disk had its data) is removed when the manifest is opened: its job counts as not
//! committed and is redone like an interrupted one.
//!
//! The manifest directory is also the lock of the output directory: a run holds an exclusive
//! `flock` on it from before it removes anything until it ends, so a second run into the same
//! `--out` (an overlapping cron job, a second terminal) is refused instead of removing the
//! objects the first one is writing, which it would take for an interrupted run's. The kernel
//! releases the lock when the process ends, however it ends, so a killed run never leaves a
//! stale lock behind.
//!
//! An input counts as processed when its canonical path, size, modification time and
//! fingerprint all match an entry. The fingerprint is the xxh3 of the size and the first and
//! last 64 KiB (the whole file when smaller), so it catches appends and truncation (size), a
//! different file under the same name and edits near either end even when the modification
//! time was kept; the time catches edits in the middle. An in-place edit of the middle that
//! keeps both the size and the time is not caught. A file moved or renamed since (`mv`, `rsync
//! -a` and `aws s3 sync` keep the time) counts as processed too when its size, time and
//! fingerprint match an entry, so tidying the logs into other folders does not read them into
//! `--out` a second time. Standard input, FIFOs and devices have no identity: they are read on
//! every run and recorded only so that their objects are kept.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, File, TryLockError};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use xxhash_rust::xxh3::Xxh3;

/// Bytes hashed at each end of a file for its fingerprint.
const FINGERPRINT_END: u64 = 64 * 1024;

/// Name of the manifest directory under `--out`.
pub const MANIFEST_DIR: &str = "manifest";

/// Suffix of a job file being written.
const TEMP_SUFFIX: &str = ".json.tmp";

/// A job: the inputs whose objects are written and committed together. Shown as 16 hex digits
/// in object names and manifest file names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub u64);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// What identifies a regular file's content, as far as a cheap check can tell.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileIdentity {
    /// Canonical path, so `logs/a.log` and `./logs/../logs/a.log` are one input.
    pub path: PathBuf,
    /// Size in bytes; only this many are read.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// xxh3 of the size and the first and last [`FINGERPRINT_END`] bytes.
    pub fingerprint: u64,
}

impl FileIdentity {
    /// Reads the identity of the regular file at `path`.
    pub fn of(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let metadata = file.metadata()?;
        let size = metadata.len();
        let mut hash = Xxh3::new();
        hash.update(&size.to_le_bytes());
        let head = size.min(FINGERPRINT_END);
        let tail_start = size.saturating_sub(FINGERPRINT_END).max(head);
        let mut buffer = vec![0; FINGERPRINT_END as usize];
        for (start, end) in [(0, head), (tail_start, size)] {
            let chunk = &mut buffer[..(end - start) as usize];
            file.read_exact_at(chunk, start)?;
            hash.update(chunk);
        }
        Ok(FileIdentity {
            path: fs::canonicalize(path)?,
            size,
            mtime_ns: metadata
                .mtime()
                .saturating_mul(1_000_000_000)
                .saturating_add(metadata.mtime_nsec()),
            fingerprint: hash.digest(),
        })
    }

    /// What identifies the content wherever the file is: size, time and fingerprint.
    fn content(&self) -> (u64, i64, u64) {
        (self.size, self.mtime_ns, self.fingerprint)
    }

    /// The entry of the file. A path that is not UTF-8 (Linux allows any bytes but `/` and NUL)
    /// is also kept as its bytes: its `path` text has replacement characters and would never
    /// match the path again, so the file would be read into `--out` anew on every run.
    fn to_json(&self) -> Value {
        let mut entry = json!({
            "path": self.path.to_string_lossy(),
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "fingerprint": format!("{:016x}", self.fingerprint),
        });
        if self.path.to_str().is_none() {
            entry["path_bytes"] = json!(self.path.as_os_str().as_bytes());
        }
        entry
    }

    fn from_json(value: &Value) -> Option<Self> {
        let path = match value.get("path_bytes") {
            Some(bytes) => {
                let bytes = bytes
                    .as_array()?
                    .iter()
                    .map(|byte| u8::try_from(byte.as_u64()?).ok())
                    .collect::<Option<Vec<u8>>>()?;
                PathBuf::from(OsString::from_vec(bytes))
            }
            None => PathBuf::from(value["path"].as_str()?),
        };
        Some(FileIdentity {
            path,
            size: value["size"].as_u64()?,
            mtime_ns: value["mtime_ns"].as_i64()?,
            fingerprint: u64::from_str_radix(value["fingerprint"].as_str()?, 16).ok()?,
        })
    }
}

/// What the manifest says about an input.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    /// Processed before, unchanged: under this path, or under another it was moved from.
    Processed,
    /// Processed before under this path, but it changed since.
    Changed,
    /// Never processed into this output.
    New,
}

/// What one committed job holds, for its manifest file.
pub struct JobRecord<'a> {
    /// The job.
    pub job: JobId,
    /// Its inputs: a file identity, or the name of a stream (standard input, a FIFO).
    pub inputs: Vec<Result<&'a FileIdentity, &'a str>>,
    /// Records written.
    pub records: u64,
    /// Objects written.
    pub objects: usize,
}

/// The manifest of one output directory, holding its lock (see the module doc) while it lives.
pub struct Manifest {
    dir: PathBuf,
    /// The manifest directory, open and locked; closing it releases the lock.
    _lock: File,
    jobs: HashSet<JobId>,
    files: HashSet<FileIdentity>,
    paths: HashSet<PathBuf>,
    /// Size, modification time and fingerprint of every file, wherever it was.
    contents: HashSet<(u64, i64, u64)>,
    /// Job files found damaged when the manifest was opened, and why; they were removed, so
    /// their jobs count as not committed.
    pub damaged: Vec<String>,
}

impl Manifest {
    /// Locks the output directory `out` and loads its manifest (none yet is an empty one).
    /// Refused while another run holds the lock. Job files left half-written by an interrupted
    /// commit are removed.
    pub fn open(out: &Path) -> anyhow::Result<Self> {
        let dir = out.join(MANIFEST_DIR);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let lock = File::open(&dir).with_context(|| format!("cannot open {}", dir.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => bail!(
                "another `s3logs run` is writing into {}; run again once it has ended (two runs \
                 into one --out would remove each other's unfinished objects)",
                out.display()
            ),
            Err(TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("cannot lock {}", dir.display()));
            }
        }
        let mut manifest = Manifest {
            dir: dir.clone(),
            _lock: lock,
            jobs: HashSet::new(),
            files: HashSet::new(),
            paths: HashSet::new(),
            contents: HashSet::new(),
            damaged: Vec::new(),
        };
        for (path, name) in manifest.files_on_disk()? {
            if name.ends_with(TEMP_SUFFIX) {
                fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
                continue;
            }
            let text = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let added = serde_json::from_slice::<Value>(&text)
                .map_err(anyhow::Error::from)
                .and_then(|job| manifest.add(&job));
            if let Err(error) = added {
                // A job file is renamed into place complete, but a crash before the disk had
                // its data (a power cut) can leave it empty or cut. Its job then counts as not
                // committed, as an interrupted run's: its objects are removed and its inputs read
                // again, rather than every later run, --fresh included, refusing to start.
                fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
                manifest.damaged.push(format!("{}: {error:#}", path.display()));
            }
        }
        Ok(manifest)
    }

    /// Forgets every job and removes its file (`--fresh`).
    pub fn clear(&mut self) -> anyhow::Result<()> {
        for (path, _) in self.files_on_disk()? {
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
        self.jobs.clear();
        self.files.clear();
        self.paths.clear();
        self.contents.clear();
        Ok(())
    }

    /// The job files (and temporary ones) with their names; refused if the directory holds
    /// anything else (a name other than `<job>.json` or `<job>.json.tmp`), so a mistyped
    /// `--out` cannot have its files removed.
    fn files_on_disk(&self) -> anyhow::Result<Vec<(PathBuf, String)>> {
        let entries = match fs::read_dir(&self.dir) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            entries => entries.with_context(|| format!("cannot read {}", self.dir.display()))?,
        };
        let mut files = Vec::new();
        for entry in entries {
            let path = entry
                .with_context(|| format!("cannot read {}", self.dir.display()))?
                .path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let job = name
                .strip_suffix(TEMP_SUFFIX)
                .or_else(|| name.strip_suffix(".json"))
                .unwrap_or_default();
            let job_name = job.len() == 16 && job.bytes().all(|b| b.is_ascii_hexdigit());
            if !(path.is_file() && job_name) {
                bail!(
                    "{} holds {name}, which `s3logs run` did not write; choose another --out",
                    self.dir.display()
                );
            }
            files.push((path, name));
        }
        Ok(files)
    }

    /// Adds a job entry, all of it or, if it is not one, nothing.
    fn add(&mut self, job: &Value) -> anyhow::Result<()> {
        let id = job["job"]
            .as_str()
            .and_then(|id| u64::from_str_radix(id, 16).ok())
            .context("no job id")?;
        let inputs = job["inputs"].as_array().context("no inputs")?;
        self.jobs.insert(JobId(id));
        for file in inputs.iter().filter_map(FileIdentity::from_json) {
            self.paths.insert(file.path.clone());
            self.contents.insert(file.content());
            self.files.insert(file);
        }
        Ok(())
    }

    /// Whether `job` is committed: its objects are complete and stay.
    pub fn has_job(&self, job: JobId) -> bool {
        self.jobs.contains(&job)
    }

    /// What the manifest knows about `file`.
    pub fn seen(&self, file: &FileIdentity) -> Seen {
        if self.files.contains(file) || self.contents.contains(&file.content()) {
            Seen::Processed
        } else if self.paths.contains(&file.path) {
            Seen::Changed
        } else {
            Seen::New
        }
    }

    /// Records a job whose objects are all in place: written to a temporary file, then renamed.
    pub fn commit(&mut self, record: &JobRecord<'_>) -> anyhow::Result<()> {
        let inputs: Vec<Value> = record
            .inputs
            .iter()
            .map(|input| match input {
                Ok(file) => file.to_json(),
                Err(stream) => json!({ "path": stream, "stream": true }),
            })
            .collect();
        let job = json!({
            "job": record.job.to_string(),
            "records": record.records,
            "objects": record.objects,
            "inputs": inputs,
        });
        let path = self.dir.join(format!("{}.json", record.job));
        let temp = self.dir.join(format!("{}{TEMP_SUFFIX}", record.job));
        let mut text = serde_json::to_vec(&job)?;
        text.push(b'\n');
        fs::write(&temp, text).with_context(|| format!("cannot write {}", temp.display()))?;
        fs::rename(&temp, &path).with_context(|| format!("cannot write {}", path.display()))?;
        self.add(&job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("s3logs-manifest-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn the_fingerprint_sees_size_and_either_end_but_not_a_kept_size_middle_edit() {
        let scratch = Scratch::new("fingerprint");
        let path = scratch.0.join("a.log");
        let big = vec![b'x'; 3 * FINGERPRINT_END as usize];
        let fingerprint = |bytes: &[u8]| {
            fs::write(&path, bytes).unwrap();
            FileIdentity::of(&path).unwrap().fingerprint
        };
        let original = fingerprint(&big);
        let mut edited = big.clone();
        edited[0] = b'y';
        assert_ne!(fingerprint(&edited), original, "head");
        let mut edited = big.clone();
        *edited.last_mut().unwrap() = b'y';
        assert_ne!(fingerprint(&edited), original, "tail");
        assert_ne!(fingerprint(&big[1..]), original, "size");
        let mut edited = big.clone();
        edited[FINGERPRINT_END as usize + 10] = b'y';
        assert_eq!(fingerprint(&edited), original, "the middle is not hashed");
        assert_ne!(fingerprint(b"short"), fingerprint(b"shorT"), "small files whole");
    }

    #[test]
    fn commits_survive_a_reload_and_tell_processed_changed_and_new_inputs() {
        let scratch = Scratch::new("reload");
        let out = scratch.0.join("out");
        let log = scratch.0.join("a.log");
        fs::write(&log, b"one\n").unwrap();
        let file = FileIdentity::of(&log).unwrap();
        let mut manifest = Manifest::open(&out).unwrap();
        assert_eq!(manifest.seen(&file), Seen::New);
        manifest
            .commit(&JobRecord {
                job: JobId(7),
                inputs: vec![Ok(&file), Err("-")],
                records: 1,
                objects: 1,
            })
            .unwrap();
        // A job file an interrupted commit left behind.
        fs::write(
            out.join(MANIFEST_DIR).join(format!("{}{TEMP_SUFFIX}", JobId(8))),
            b"{",
        )
        .unwrap();
        drop(manifest);

        let mut manifest = Manifest::open(&out).unwrap();
        assert!(manifest.has_job(JobId(7)) && !manifest.has_job(JobId(8)));
        assert_eq!(manifest.seen(&file), Seen::Processed);
        fs::write(&log, b"one\ntwo\n").unwrap();
        assert_eq!(manifest.seen(&FileIdentity::of(&log).unwrap()), Seen::Changed);
        assert_eq!(fs::read_dir(out.join(MANIFEST_DIR)).unwrap().count(), 1);

        manifest.clear().unwrap();
        assert!(!manifest.has_job(JobId(7)));
        assert_eq!(manifest.seen(&file), Seen::New);
        assert_eq!(fs::read_dir(out.join(MANIFEST_DIR)).unwrap().count(), 0);
    }

    #[test]
    fn an_output_directory_is_locked_while_its_manifest_is_open() {
        let scratch = Scratch::new("lock");
        let out = scratch.0.join("out");
        let first = Manifest::open(&out).unwrap();
        let error = Manifest::open(&out).err().expect("a second open is refused");
        assert!(error.to_string().contains("another `s3logs run`"), "{error}");
        drop(first);
        Manifest::open(&out).expect("the lock goes with the manifest");
    }
}
