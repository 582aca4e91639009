//! The work of one `s3logs run`, cut into units that workers take in turn.
//!
//! Inputs already in the manifest are left out. The rest become *jobs* (what the manifest
//! commits at once) of *units* (what one worker writes with one object writer):
//! - consecutive small files are grouped into one job of one unit until the group holds
//!   [`UNIT_BYTES`] or [`UNIT_FILES`] files, so a year of small S3 log files does not become a
//!   year of tiny objects, nor one job whose manifest entry is built in memory all at once;
//! - a plain-text file larger than that is one job cut at line boundaries into byte ranges of
//!   about [`UNIT_BYTES`], one unit each, so several workers read it at once;
//! - a gzip file cannot be read from the middle, so it is one unit however large;
//! - standard input, a FIFO or a device is a job of its own, read on every run.
//!
//! The cut is chosen so that reading the ranges gives exactly the records of reading the whole
//! file: a range starts at a line that begins with two hex digits (as every S3 log line does,
//! with the bucket owner's canonical ID; no compression magic does, so the range is read as
//! plain text like the file) and whose record carries its own `Timestamp` (so its hour does
//! not depend on the line before). Records do not depend on their position otherwise:
//! `RecordId` hashes the line, `LogFile` names the file.
//!
//! The plan depends only on the inputs and the manifest, not on the number of workers, and
//! each unit is written by one writer of its own, so the objects (names and content) are the
//! same whatever `--jobs` is.

use std::fs::{self, File};
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;

use memchr::memchr;
use pipeline::ingest::Limits;
use s3_access_log::RecordEncoder;
use xxhash_rust::xxh3::Xxh3;

use super::manifest::{FileIdentity, JobId, Manifest, Seen};
use super::objects::HourFinder;
use crate::inputs::Input;

/// Raw bytes a unit holds, about: small files are grouped up to it, large plain files cut
/// into ranges of it. Large enough that an hour's objects are few, small enough that two
/// workers share a few hundred megabytes evenly.
pub const UNIT_BYTES: u64 = 32 << 20;

/// Files a unit of small files holds at most. Its manifest entry is built in memory when the
/// job is committed and read back by every later run, at about 1.5 KB per file: without this
/// bound a unit of one-line files held some 50,000 of them (80 MB at once), and one of empty
/// files every empty file there is.
pub const UNIT_FILES: usize = 4096;

/// The smallest unit `--unit-bytes` accepts: each cut reads up to a unit's worth of bytes
/// to find a line boundary, so tiny units would read a file many times over.
pub const MIN_UNIT_BYTES: u64 = 64 << 10;

/// How far past a wanted cut a line boundary is looked for (at most a unit); no boundary
/// there, no cut.
const CUT_WINDOW: u64 = 1 << 20;

/// One input to read.
pub struct Source {
    /// The input.
    pub input: Input,
    /// Its name, as in records' `LogFile`.
    pub name: String,
    /// Its identity, for a regular file; `None` for a stream.
    pub file: Option<FileIdentity>,
}

/// A part of an input that one unit reads.
pub struct Piece {
    /// Index into [`Plan::sources`].
    pub source: usize,
    /// The bytes to read; `None` reads a stream to its end.
    pub range: Option<Range<u64>>,
}

/// What one worker writes with one object writer.
pub struct Unit {
    /// Index into [`Plan::jobs`].
    pub job: usize,
    /// Number within the job, in object names.
    pub index: u32,
    /// What it reads, in order.
    pub pieces: Vec<Piece>,
}

/// Inputs whose objects are committed to the manifest together.
pub struct Job {
    /// Its id, in object and manifest names.
    pub id: JobId,
    /// Indexes into [`Plan::sources`].
    pub sources: Vec<usize>,
    /// How many units it has.
    pub units: usize,
}

/// The work of a run.
#[derive(Default)]
pub struct Plan {
    /// Inputs to read.
    pub sources: Vec<Source>,
    /// Jobs, in input order.
    pub jobs: Vec<Job>,
    /// Units, in input order.
    pub units: Vec<Unit>,
    /// Inputs left out because the manifest has them.
    pub already_processed: usize,
    /// Inputs read again because they changed since they were processed.
    pub changed: Vec<String>,
    /// Inputs that could not be opened.
    pub unreadable: Vec<(String, io::Error)>,
}

impl Plan {
    /// Raw bytes the units will read, for the progress bar (streams count as nothing).
    pub fn bytes(&self) -> u64 {
        self.units
            .iter()
            .flat_map(|unit| &unit.pieces)
            .filter_map(|piece| piece.range.as_ref())
            .map(|range| range.end - range.start)
            .sum()
    }
}

/// Plans `inputs` into units of about `unit_bytes`. `nonce` makes the jobs of streams unique
/// to this run.
pub fn plan(inputs: Vec<Input>, manifest: &Manifest, unit_bytes: u64, nonce: u64) -> Plan {
    let mut planner = Planner {
        plan: Plan::default(),
        group: Vec::new(),
        group_bytes: 0,
        unit_bytes: unit_bytes.max(1),
    };
    for input in inputs {
        planner.add(input, manifest, nonce);
    }
    planner.close_group();
    planner.plan
}

struct Planner {
    plan: Plan,
    /// Small files waiting to be grouped into a job.
    group: Vec<usize>,
    group_bytes: u64,
    unit_bytes: u64,
}

impl Planner {
    fn add(&mut self, input: Input, manifest: &Manifest, nonce: u64) {
        let name = input.name();
        let regular = match &input {
            Input::Stdin => None,
            Input::File(path) => match fs::metadata(path) {
                Ok(metadata) if metadata.is_file() => Some(path.clone()),
                Ok(_) => None,
                Err(error) => return self.plan.unreadable.push((name, error)),
            },
        };
        let Some(path) = regular else {
            // Jobs keep the order of the inputs, so one worker reads them in that order.
            self.close_group();
            let source = self.source(input, name, None);
            let id = job_id(&self.plan.sources[source..=source], nonce);
            return self.job(id, vec![source], vec![vec![Piece { source, range: None }]]);
        };
        let file = match FileIdentity::of(&path) {
            Ok(file) => file,
            Err(error) => return self.plan.unreadable.push((name, error)),
        };
        match manifest.seen(&file) {
            Seen::Processed => {
                self.plan.already_processed += 1;
                return;
            }
            Seen::Changed => self.plan.changed.push(name.clone()),
            Seen::New => {}
        }
        let size = file.size;
        let source = self.source(input, name, Some(file));
        if size <= self.unit_bytes {
            let full = self.group_bytes + size > self.unit_bytes || self.group.len() == UNIT_FILES;
            if !self.group.is_empty() && full {
                self.close_group();
            }
            self.group.push(source);
            self.group_bytes += size;
            return;
        }
        self.close_group();
        let ranges = cut(&path, size, self.unit_bytes).unwrap_or_else(|_| whole(size));
        let id = job_id(&self.plan.sources[source..=source], nonce);
        let units = ranges
            .into_iter()
            .map(|range| {
                vec![Piece {
                    source,
                    range: Some(range),
                }]
            })
            .collect();
        self.job(id, vec![source], units);
    }

    fn source(&mut self, input: Input, name: String, file: Option<FileIdentity>) -> usize {
        self.plan.sources.push(Source { input, name, file });
        self.plan.sources.len() - 1
    }

    fn close_group(&mut self) {
        if self.group.is_empty() {
            return;
        }
        let sources = std::mem::take(&mut self.group);
        self.group_bytes = 0;
        let pieces = sources
            .iter()
            .map(|&source| Piece {
                source,
                range: self.plan.sources[source].file.as_ref().map(|file| 0..file.size),
            })
            .collect();
        let identities: Vec<&Source> = sources.iter().map(|&s| &self.plan.sources[s]).collect();
        let id = job_id_of(&identities, 0);
        self.job(id, sources, vec![pieces]);
    }

    fn job(&mut self, id: JobId, sources: Vec<usize>, units: Vec<Vec<Piece>>) {
        let job = self.plan.jobs.len();
        self.plan.jobs.push(Job {
            id,
            sources,
            units: units.len(),
        });
        for (index, pieces) in units.into_iter().enumerate() {
            self.plan.units.push(Unit {
                job,
                index: index as u32,
                pieces,
            });
        }
    }
}

fn job_id(sources: &[Source], nonce: u64) -> JobId {
    job_id_of(&sources.iter().collect::<Vec<_>>(), nonce)
}

/// The id of a job of `sources`: a hash of their identities, so the same inputs give the same
/// objects; a stream, which has no identity, is made unique by `nonce`.
fn job_id_of(sources: &[&Source], nonce: u64) -> JobId {
    let mut hash = Xxh3::new();
    for source in sources {
        match &source.file {
            Some(file) => {
                let path = file.path.to_string_lossy();
                hash.update(&(path.len() as u64).to_le_bytes());
                hash.update(path.as_bytes());
                hash.update(&file.size.to_le_bytes());
                hash.update(&file.mtime_ns.to_le_bytes());
                hash.update(&file.fingerprint.to_le_bytes());
            }
            None => {
                hash.update(&(source.name.len() as u64).to_le_bytes());
                hash.update(source.name.as_bytes());
                hash.update(&nonce.to_le_bytes());
            }
        }
    }
    JobId(hash.digest())
}

/// Byte ranges of about `unit_bytes` that together cover the plain-text file at `path`, each
/// starting at a line its reader can start from (see the module doc); one range for a file
/// that does not start like a log (gzip, another format).
fn cut(path: &Path, size: u64, unit_bytes: u64) -> io::Result<Vec<Range<u64>>> {
    let file = File::open(path)?;
    let mut head = [0; 2];
    file.read_exact_at(&mut head, 0)?;
    if !starts_like_a_log_line(&head) {
        return Ok(whole(size));
    }
    let pieces = size.div_ceil(unit_bytes);
    let mut starts = vec![0];
    let mut window = vec![0; CUT_WINDOW as usize];
    let checker = LineChecker::new();
    for k in 1..pieces {
        let wanted = size / pieces * k;
        let len = CUT_WINDOW.min(unit_bytes).min(size - wanted) as usize;
        file.read_exact_at(&mut window[..len], wanted)?;
        if let Some(at) = checker.first_start(&window[..len]) {
            let start = wanted + at as u64;
            if start > *starts.last().unwrap_or(&0) {
                starts.push(start);
            }
        }
    }
    let mut ranges: Vec<Range<u64>> = starts.windows(2).map(|pair| pair[0]..pair[1]).collect();
    ranges.push(*starts.last().unwrap_or(&0)..size);
    Ok(ranges)
}

/// One range over a whole file of `size` bytes.
fn whole(size: u64) -> Vec<Range<u64>> {
    std::iter::once(0..size).collect()
}

/// Whether bytes start like an S3 log line: two hex digits of the bucket owner's ID. No
/// compressed or archive format starts that way.
fn starts_like_a_log_line(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[..2].iter().all(u8::is_ascii_hexdigit)
}

/// Tells whether a reader could start at a line and produce the records a reader of the whole
/// file would.
struct LineChecker {
    encoder: RecordEncoder,
    hours: HourFinder,
    limits: Limits,
}

impl LineChecker {
    fn new() -> Self {
        LineChecker {
            encoder: RecordEncoder::new(""),
            hours: HourFinder::new(),
            limits: Limits::default(),
        }
    }

    /// Offset in `window` of the first line after its first newline that is a place to start:
    /// a whole line (ended by a newline inside the window), kept whole by the line reader,
    /// starting like a log line, whose record has its own hour.
    fn first_start(&self, window: &[u8]) -> Option<usize> {
        let mut start = memchr(b'\n', window)? + 1;
        let mut record = Vec::with_capacity(4096);
        while let Some(len) = memchr(b'\n', &window[start..]) {
            let line = &window[start..start + len];
            record.clear();
            let fits = line.len() <= self.limits.max_line;
            if fits && starts_like_a_log_line(line) {
                self.encoder.encode(line, &mut record);
                if record.len() <= self.limits.max_record && self.hours.hour(&record).is_some() {
                    return Some(start);
                }
            }
            start += len + 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be awsexamplebucket1 \
        [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be \
        3E57427F3EXAMPLE REST.GET.VERSIONING - \"GET /awsexamplebucket1?versioning HTTP/1.1\" 200 - 113 - 7 - \"-\" \
        \"S3Console/0.4\" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV2 \
        ECDHE-RSA-AES128-GCM-SHA256 AuthHeader awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.2 - -";

    #[test]
    fn a_range_starts_at_a_whole_log_line_with_its_own_hour() {
        let checker = LineChecker::new();
        let cases: &[(String, Option<usize>)] = &[
            // Mid-line: the first newline ends the cut line, the next line is the start.
            (format!("tail of a line\n{LINE}\n"), Some(15)),
            // A line that does not parse has no hour: the next one is the start.
            (format!("x\nnot a log line\n{LINE}\n"), Some(17)),
            // Starting like gzip or without the owner's hex digits is never a start.
            (format!("x\n\u{1f}\u{8b}{LINE}\nBZh9{LINE}\n"), None),
            // A last line without its newline may be cut short by the window.
            (format!("x\n{LINE}"), None),
        ];
        for (window, expected) in cases {
            assert_eq!(checker.first_start(window.as_bytes()), *expected, "{window}");
        }
    }

    /// Small files are grouped by bytes and by count: empty files, which add no bytes, used to
    /// all go into one job.
    #[test]
    fn a_unit_of_small_files_holds_at_most_unit_files() {
        let dir = std::env::temp_dir().join(format!("s3logs-plan-files-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let count = 2 * UNIT_FILES + 1;
        let inputs: Vec<Input> = (0..count)
            .map(|n| {
                let path = dir.join(format!("{n:05}.log"));
                fs::write(&path, b"").unwrap();
                Input::File(path)
            })
            .collect();
        let manifest = Manifest::open(&dir.join("out")).unwrap();
        let plan = plan(inputs, &manifest, UNIT_BYTES, 0);
        let files: Vec<usize> = plan.units.iter().map(|unit| unit.pieces.len()).collect();
        assert_eq!(files, [UNIT_FILES, UNIT_FILES, 1]);
        assert_eq!(plan.jobs.len(), 3);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn ranges_cover_the_file_and_start_at_lines() {
        let dir = std::env::temp_dir().join(format!("s3logs-plan-cut-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.log");
        let text: String = (0..1000).map(|_| format!("{LINE}\n")).collect();
        fs::write(&path, &text).unwrap();
        let ranges = cut(&path, text.len() as u64, 100_000).unwrap();
        assert_eq!(ranges.len(), (text.len() as u64).div_ceil(100_000) as usize);
        assert_eq!(ranges[0].start, 0);
        assert_eq!(ranges.last().unwrap().end, text.len() as u64);
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
            assert_eq!(text.as_bytes()[pair[1].start as usize - 1], b'\n');
        }
        let mut gzip_like = vec![0x1f, 0x8b];
        gzip_like.extend_from_slice(text.as_bytes());
        fs::write(&path, &gzip_like).unwrap();
        let size = gzip_like.len() as u64;
        assert_eq!(cut(&path, size, 100_000).unwrap(), whole(size));
        fs::remove_dir_all(dir).unwrap();
    }
}
