//! The inputs of a command: files, directories (walked recursively, in name order) and `-`.
//!
//! Every subcommand takes the same kind of path list, so they all expand it here, and the
//! rules that keep a run finite and harmless live in this one walk:
//! - a path that cannot be read is reported by name and the other paths are still processed,
//!   because a user pointing the tool at a directory of a thousand logs wants the 999 good ones;
//! - the command's own output is never read: met in a walk it is skipped with a message, named
//!   on the command line the run is refused before anything is written, so `parse DIR -o
//!   DIR/out.ndjson` cannot read its own growing output and `parse a.log -o a.log` cannot
//!   truncate its input;
//! - for the commands that read raw logs (`parse`, `run`), the output directory of an earlier
//!   `s3logs run` met in a walk (`logs/out-2024/` under `logs/`) is skipped with a message: its
//!   objects are records, not logs, and its Parquet objects would fail the run as damaged files
//!   on every rerun; named on the command line it is read;
//! - the manifest of an `s3logs run` (`out/manifest/`, which inputs it read) is never records
//!   nor logs: met in a walk (`s3logs audit out/`) it is skipped with a message;
//! - FIFOs, sockets and devices met in a walk are skipped with a message (opening a FIFO
//!   nobody writes to blocks forever); named on the command line they are read;
//! - symlinked directories are followed, and each directory and file is visited once by
//!   identity (device and inode), so a symlink cycle ends and no file is read twice.

use std::collections::HashSet;
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::bail;

/// One thing to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Standard input, named `-`.
    Stdin,
    /// A regular file, or a FIFO or device named on the command line.
    File(PathBuf),
}

impl Input {
    /// The name used in records' `LogFile` and in messages.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "-".to_owned(),
            Input::File(path) => path.display().to_string(),
        }
    }

    /// Size in bytes when known, for progress reporting.
    pub fn len(&self) -> Option<u64> {
        match self {
            Input::Stdin => None,
            Input::File(path) => fs::metadata(path).ok().map(|m| m.len()),
        }
    }

    /// Opens the input for reading.
    pub fn open(&self) -> io::Result<Box<dyn Read>> {
        Ok(match self {
            Input::Stdin => Box::new(io::stdin().lock()),
            Input::File(path) => Box::new(File::open(path)?),
        })
    }
}

/// A path that could not be used, with the reason.
#[derive(Debug)]
pub struct BadPath {
    /// The path as given or found.
    pub path: PathBuf,
    /// Why it could not be used.
    pub error: io::Error,
}

impl std::fmt::Display for BadPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.error)
    }
}

/// A file or directory of a walk that was deliberately not read, with the reason; reported
/// as a warning, not a failure.
#[derive(Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The path as found.
    pub path: PathBuf,
    /// Why it was not read.
    pub reason: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "skipped {}: {}", self.path.display(), self.reason)
    }
}

/// What a path list expands to.
#[derive(Debug, Default)]
pub struct Expansion {
    /// Everything to read, in order.
    pub inputs: Vec<Input>,
    /// Paths that could not be used; they make the exit code non-zero.
    pub bad: Vec<BadPath>,
    /// Paths left out on purpose; they are warnings.
    pub skipped: Vec<Skipped>,
}

/// A file or directory, by device and inode, so links and different spellings of one path
/// compare equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Identity {
    device: u64,
    inode: u64,
}

impl Identity {
    fn of(metadata: &Metadata) -> Self {
        Identity {
            device: metadata.dev(),
            inode: metadata.ino(),
        }
    }
}

/// Where a command writes, so that the walk never reads it back.
#[derive(Debug, Default)]
pub struct Outputs {
    /// Output files that exist now, with the path the user gave.
    files: Vec<(Identity, PathBuf)>,
    /// Output directories that exist now.
    dirs: Vec<(Identity, PathBuf)>,
    /// Whether the output directory of an earlier `s3logs run` met in a walk is skipped.
    skip_run_outputs: bool,
}

impl Outputs {
    /// No outputs yet.
    pub fn new() -> Self {
        Outputs::default()
    }

    /// The command writes `path`, which may not exist yet (then it cannot be read either).
    pub fn file(mut self, path: &Path) -> Self {
        if let Ok(metadata) = fs::metadata(path) {
            self.files.push((Identity::of(&metadata), path.to_owned()));
        }
        self
    }

    /// The command writes standard output; when it is redirected to a file (`> out.ndjson`)
    /// that file is an output like any other.
    pub fn stdout(mut self) -> Self {
        if let Some(metadata) = fd_metadata(io::stdout().as_fd()).filter(Metadata::is_file) {
            self.files
                .push((Identity::of(&metadata), PathBuf::from("standard output")));
        }
        self
    }

    /// The command writes everything under directory `path`, which may not exist yet.
    pub fn dir(mut self, path: &Path) -> Self {
        if let Ok(metadata) = fs::metadata(path) {
            self.dirs.push((Identity::of(&metadata), path.to_owned()));
        }
        self
    }

    /// The command reads raw logs: the output directory of an earlier `s3logs run` (records,
    /// not logs) met in a walk is skipped.
    pub fn skip_run_outputs(mut self) -> Self {
        self.skip_run_outputs = true;
        self
    }

    /// Whether `dir` is the output directory of an `s3logs run` into another `--out` than this
    /// command's, to be skipped (this command's own is walked, and its parts skipped as outputs).
    fn is_earlier_run(&self, dir: &Path) -> bool {
        let parts = crate::run::output_dirs(dir);
        self.skip_run_outputs
            && parts.iter().all(|part| {
                fs::metadata(part).is_ok_and(|metadata| metadata.is_dir() && self.find(&metadata).is_none())
            })
    }

    /// Whether `dir` is the manifest directory of an `s3logs run`'s output directory.
    fn is_run_manifest(dir: &Path) -> bool {
        let Some(out) = dir.parent() else {
            return false;
        };
        let [records, manifest] = crate::run::output_dirs(out);
        manifest == dir && manifest.is_dir() && records.is_dir()
    }

    /// The output that `metadata` is, if any.
    fn find(&self, metadata: &Metadata) -> Option<&Path> {
        let identity = Identity::of(metadata);
        let list = if metadata.is_dir() {
            &self.dirs
        } else {
            &self.files
        };
        list.iter()
            .find(|(output, _)| *output == identity)
            .map(|(_, path)| path.as_path())
    }

    /// The output directory that `path` is in, if any.
    fn enclosing_dir(&self, path: &Path) -> Option<&Path> {
        let canonical = fs::canonicalize(path).ok()?;
        canonical
            .ancestors()
            .filter_map(|ancestor| fs::metadata(ancestor).ok())
            .filter(Metadata::is_dir)
            .find_map(|metadata| self.find(&metadata))
    }
}

/// Metadata of an open file descriptor (standard input or output), without a path.
fn fd_metadata(fd: std::os::fd::BorrowedFd<'_>) -> Option<Metadata> {
    File::from(fd.try_clone_to_owned().ok()?).metadata().ok()
}

/// Expands `paths` into inputs; no paths means standard input. Refused (an error, before
/// anything is read or written) when a path named on the command line is one of `outputs`
/// or lies inside one of them.
pub fn expand(paths: &[PathBuf], outputs: &Outputs) -> anyhow::Result<Expansion> {
    let mut walk = Walk {
        outputs,
        seen: HashSet::new(),
        found: Expansion::default(),
    };
    if paths.is_empty() {
        walk.stdin()?;
    }
    for path in paths {
        if path.as_os_str() == "-" {
            walk.stdin()?;
        } else {
            walk.named(path)?;
        }
    }
    Ok(walk.found)
}

/// The state of one expansion.
struct Walk<'a> {
    outputs: &'a Outputs,
    /// Directories and files already visited, so cycles end and nothing is read twice.
    seen: HashSet<Identity>,
    found: Expansion,
}

impl Walk<'_> {
    fn stdin(&mut self) -> anyhow::Result<()> {
        let metadata = fd_metadata(io::stdin().as_fd()).filter(Metadata::is_file);
        if let Some(output) = metadata.as_ref().and_then(|m| self.outputs.find(m)) {
            bail!(
                "standard input is the output {}; refusing to overwrite an input",
                output.display()
            );
        }
        self.found.inputs.push(Input::Stdin);
        Ok(())
    }

    /// A path named on the command line: read whatever it is, unless it is an output.
    fn named(&mut self, path: &Path) -> anyhow::Result<()> {
        let Some(metadata) = self.metadata(path) else {
            return Ok(());
        };
        if let Some(output) = self.outputs.find(&metadata) {
            bail!(
                "{} is this command's output {}; refusing to read what it writes",
                path.display(),
                output.display()
            );
        }
        if let Some(output) = self.outputs.enclosing_dir(path) {
            bail!(
                "{} is inside the output directory {}; refusing to read what this command replaces",
                path.display(),
                output.display()
            );
        }
        if !metadata.is_dir() {
            self.file(path, &metadata);
            return Ok(());
        }
        // A directory named to be read that gives nothing is most likely the wrong one (a sync
        // that has not run, a mistyped prefix): said, rather than a silent run over no input.
        let first_visit = !self.seen.contains(&Identity::of(&metadata));
        let before = self.found.inputs.len();
        self.dir(path, &metadata);
        if first_visit && self.found.inputs.len() == before {
            self.found.skipped.push(Skipped {
                path: path.to_owned(),
                reason: "it holds no file to read".to_owned(),
            });
        }
        Ok(())
    }

    /// A path met in a directory: regular files and directories only, never an output.
    fn found(&mut self, path: &Path) {
        let Some(metadata) = self.metadata(path) else {
            return;
        };
        let reason = if let Some(output) = self.outputs.find(&metadata) {
            format!("it is this command's output {}", output.display())
        } else if metadata.is_dir() && Outputs::is_run_manifest(path) {
            "it is the manifest of an `s3logs run` (the inputs it read), neither logs nor records".to_owned()
        } else if metadata.is_dir() && self.outputs.is_earlier_run(path) {
            format!(
                "it is the output of an earlier `s3logs run`, records rather than logs (`s3logs audit {}` \
                 reads them)",
                path.join(crate::run::RECORDS_DIR).display()
            )
        } else if metadata.is_dir() {
            return self.dir(path, &metadata);
        } else if metadata.is_file() {
            return self.file(path, &metadata);
        } else {
            format!(
                "a {} is read only when named on the command line",
                special_kind(&metadata)
            )
        };
        self.found.skipped.push(Skipped {
            path: path.to_owned(),
            reason,
        });
    }

    fn file(&mut self, path: &Path, metadata: &Metadata) {
        if self.seen.insert(Identity::of(metadata)) {
            self.found.inputs.push(Input::File(path.to_owned()));
        }
    }

    fn dir(&mut self, path: &Path, metadata: &Metadata) {
        if !self.seen.insert(Identity::of(metadata)) {
            return;
        }
        let entries = fs::read_dir(path).and_then(|entries| {
            entries
                .map(|e| e.map(|e| e.path()))
                .collect::<io::Result<Vec<_>>>()
        });
        match entries {
            Ok(mut entries) => {
                entries.sort();
                for entry in entries {
                    self.found(&entry);
                }
            }
            Err(error) => self.bad(path, error),
        }
    }

    /// Metadata following symlinks; a failure is reported as a bad path.
    fn metadata(&mut self, path: &Path) -> Option<Metadata> {
        fs::metadata(path).map_err(|error| self.bad(path, error)).ok()
    }

    fn bad(&mut self, path: &Path, error: io::Error) {
        self.found.bad.push(BadPath {
            path: path.to_owned(),
            error,
        });
    }
}

/// What a file that is neither regular nor a directory is, for messages.
fn special_kind(metadata: &Metadata) -> &'static str {
    let file_type = metadata.file_type();
    if file_type.is_fifo() {
        "FIFO"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_char_device() || file_type.is_block_device() {
        "device"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("s3logs-inputs-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn file(&self, name: &str) -> PathBuf {
            let path = self.0.join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, "").unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn walks_directories_in_name_order_and_reports_missing_paths() {
        let scratch = Scratch::new("order");
        let dir = &scratch.0;
        scratch.file("b.log");
        scratch.file("a.log");
        scratch.file("sub/c.log");
        let missing = dir.join("missing.log");
        let found = expand(
            &[dir.clone(), missing.clone(), PathBuf::from("-")],
            &Outputs::new(),
        )
        .unwrap();
        assert_eq!(
            found.inputs,
            [
                Input::File(dir.join("a.log")),
                Input::File(dir.join("b.log")),
                Input::File(dir.join("sub/c.log")),
                Input::Stdin
            ]
        );
        assert_eq!(found.bad.len(), 1);
        assert_eq!(found.bad[0].path, missing);
        assert!(found.skipped.is_empty());
    }

    #[test]
    fn follows_symlinked_directories_once_and_ends_cycles() {
        let scratch = Scratch::new("links");
        let dir = &scratch.0;
        scratch.file("logs/a.log");
        scratch.file("elsewhere/b.log");
        symlink(dir.join("elsewhere"), dir.join("logs/linked")).unwrap();
        symlink(dir.join("logs"), dir.join("elsewhere/back")).unwrap();
        symlink(dir.join("logs/a.log"), dir.join("logs/z-same-file.log")).unwrap();
        let found = expand(&[dir.join("logs"), dir.join("logs/a.log")], &Outputs::new()).unwrap();
        assert_eq!(
            found.inputs,
            [
                Input::File(dir.join("logs/a.log")),
                Input::File(dir.join("logs/linked/b.log")),
            ]
        );
        assert!(found.bad.is_empty() && found.skipped.is_empty());
    }

    #[test]
    fn skips_outputs_met_in_a_walk_and_refuses_named_ones() {
        let scratch = Scratch::new("outputs");
        let dir = &scratch.0;
        let log = scratch.file("logs/a.log");
        let out = scratch.file("logs/out.ndjson");
        let records = scratch.file("logs/run/records/x.gz");
        let outputs = Outputs::new()
            .file(&out)
            .dir(&dir.join("logs/run/records"))
            .dir(&dir.join("not-yet"));

        let found = expand(&[dir.join("logs")], &outputs).unwrap();
        assert_eq!(found.inputs, [Input::File(log)]);
        let skipped: Vec<&Path> = found.skipped.iter().map(|s| s.path.as_path()).collect();
        assert_eq!(skipped, [out.as_path(), dir.join("logs/run/records").as_path()]);

        for named in [
            out,
            records,
            dir.join("logs/run/records"),
            dir.join("logs/./out.ndjson"),
        ] {
            assert!(
                expand(std::slice::from_ref(&named), &outputs).is_err(),
                "{}",
                named.display()
            );
        }
    }

    #[test]
    fn skips_an_earlier_runs_output_met_in_a_walk_when_asked_but_not_its_own_or_a_named_one() {
        let scratch = Scratch::new("earlier-run");
        let dir = &scratch.0;
        let log = scratch.file("logs/a.log");
        let earlier = scratch.file("logs/old/records/year=2025/x.parquet");
        let entry = scratch.file("logs/old/manifest/0123456789abcdef.json");
        scratch.file("logs/new/records/year=2025/y.gz");
        scratch.file("logs/new/manifest/fedcba9876543210.json");
        // A directory of logs that only happens to be called `records` is read.
        let named_records = scratch.file("logs/records/b.log");
        let outputs = || {
            Outputs::new()
                .dir(&dir.join("logs/new/records"))
                .dir(&dir.join("logs/new/manifest"))
        };

        let found = expand(&[dir.join("logs")], &outputs().skip_run_outputs()).unwrap();
        assert_eq!(
            found.inputs,
            [Input::File(log.clone()), Input::File(named_records.clone())]
        );
        let skipped: Vec<&Path> = found.skipped.iter().map(|s| s.path.as_path()).collect();
        assert_eq!(
            skipped,
            [
                dir.join("logs/new/manifest").as_path(),
                dir.join("logs/new/records").as_path(),
                dir.join("logs/old").as_path()
            ]
        );
        assert!(found.skipped[2].reason.contains("earlier `s3logs run`"));

        // Commands that read records (audit, report) read its records, and so does a walk of it
        // named; its manifest is neither.
        let found = expand(&[dir.join("logs")], &outputs()).unwrap();
        assert_eq!(
            found.inputs,
            [
                Input::File(log),
                Input::File(earlier.clone()),
                Input::File(named_records)
            ]
        );
        let found = expand(&[dir.join("logs/old")], &outputs().skip_run_outputs()).unwrap();
        assert_eq!(found.inputs, [Input::File(earlier)]);
        assert_eq!(found.skipped.len(), 1);
        assert!(
            found.skipped[0]
                .reason
                .contains("the manifest of an `s3logs run`")
        );
        // Named, the manifest is read as asked.
        let found = expand(&[dir.join("logs/old/manifest")], &outputs()).unwrap();
        assert_eq!(found.inputs, [Input::File(entry)]);
    }

    #[test]
    fn says_when_a_named_directory_gives_nothing_to_read() {
        let scratch = Scratch::new("empty");
        let dir = &scratch.0;
        fs::create_dir_all(dir.join("empty/sub")).unwrap();
        let log = scratch.file("full/a.log");
        let found = expand(
            &[dir.join("empty"), dir.join("full"), dir.join("full")],
            &Outputs::new(),
        )
        .unwrap();
        assert_eq!(found.inputs, [Input::File(log)]);
        // The empty one is said once; a directory named twice is not empty the second time.
        assert_eq!(
            found.skipped,
            [Skipped {
                path: dir.join("empty"),
                reason: "it holds no file to read".to_owned()
            }]
        );
        assert!(found.bad.is_empty());
    }
}
