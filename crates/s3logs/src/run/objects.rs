//! The object side of `s3logs run`: records partitioned by hour into object files under
//! `records/`, as Firehose writes them, and the housekeeping of that tree.
//!
//! Layout: `records/year=YYYY/month=MM/day=DD/hour=HH/<name>.<ext>`. Names follow Firehose's
//! `<stream>-<version>-<YYYY-MM-DD-HH-MM-SS>-<id>`, where the id is the job (a manifest entry,
//! see `manifest`), the unit of work within it and a sequence number:
//! `s3logs-run-1-2025-01-01-00-00-00-<job:16 hex>-<unit:4>-<sequence:4>.gz`. The job in the
//! name is what lets a later run find and remove the objects of a job that never reached the
//! manifest (an interrupted run).
//!
//! The file format sits behind [`ObjectFormat`]: gzip NDJSON ([`GzipNdjson`], Firehose's
//! format) or Parquet ([`ParquetObjects`], the `columnar` table, as Firehose's record format
//! conversion writes it), so the partitioning is the same for both. [`PieceRecords`] takes the
//! records of a piece of input from the engine (`pipeline::ingest`) and files them by hour:
//! NDJSON records for gzip objects, rows straight from the lines for Parquet objects.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use columnar::{ParquetWriter, WriterOptions};
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use memchr::memmem::Finder;
use pipeline::ingest::{LogObject, RecordWriter};
use s3_access_log::{LogTime, Outcome, parse_partial};

use super::manifest::JobId;

/// Records of one partition are handed to the format once this many bytes are held: with
/// [`OPEN_PARTITIONS`] partitions, at most 8 MiB of records wait per writer, which keeps a
/// worker within its memory budget, and gzip members of this size compress as well as larger
/// ones.
const MEMBER_BYTES: usize = 256 * 1024;

/// Partitions a writer holds open at once; with at most [`MEMBER_BYTES`] (plus one record)
/// pending in each, this bounds the memory of a writer whatever the span of hours. Inputs
/// sorted by time, as S3 writes them, keep only a few hours open, so this many rarely splits
/// an object.
pub const OPEN_PARTITIONS: usize = 32;

/// Suffix of an object being written; removed by a rename once the object is complete.
const PARTIAL_SUFFIX: &str = ".partial";

/// Start of every object name `run` writes.
const NAME_PREFIX: &str = "s3logs-run-1-";

/// How records become an object file.
pub trait ObjectFormat: Sync {
    /// File name extension of the objects, without the dot (`gz`).
    fn extension(&self) -> &'static str;
    /// What the objects are, for the summary line (`gzip`).
    fn description(&self) -> &'static str;
    /// Starts an object at `path`.
    fn create(&self, path: &Path) -> io::Result<Box<dyn ObjectFile>>;
    /// Whether its objects take rows ([`ObjectFile::rows`]) rather than NDJSON records.
    fn takes_rows(&self) -> bool {
        false
    }
}

/// One object being written.
pub trait ObjectFile {
    /// Appends records: whole NDJSON lines, each ending in `\n`.
    fn write_records(&mut self, records: &[u8]) -> io::Result<()>;
    /// Completes the file; it is renamed into place afterwards.
    fn finish(self: Box<Self>) -> io::Result<()>;
    /// The writer of its rows, for a format that [`ObjectFormat::takes_rows`].
    fn rows(&mut self) -> Option<&mut ParquetWriter<BufWriter<File>>> {
        None
    }
}

/// Firehose's format: NDJSON records compressed as a sequence of gzip members.
pub struct GzipNdjson;

impl ObjectFormat for GzipNdjson {
    fn extension(&self) -> &'static str {
        "gz"
    }

    fn description(&self) -> &'static str {
        "gzip"
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn ObjectFile>> {
        File::create(path)?;
        Ok(Box::new(GzipObject(path.to_owned())))
    }
}

/// A gzip object, reopened for each member so that a writer holding many partitions holds no
/// file descriptors between members.
struct GzipObject(PathBuf);

/// The header of a gzip member: deflate, no name, no time, unknown OS (as flate2 writes it).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

thread_local! {
    /// One deflate state and output buffer per worker thread, reset for every member: a new
    /// deflate state per member costs a few hundred kilobytes of fresh pages, and a year of
    /// hours makes tens of thousands of small members.
    static DEFLATE: RefCell<(Compress, Vec<u8>)> =
        RefCell::new((Compress::new(Compression::default(), false), Vec::new()));
}

impl ObjectFile for GzipObject {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        DEFLATE.with_borrow_mut(|(deflate, member)| {
            member.clear();
            member.extend_from_slice(&GZIP_HEADER);
            deflate.reset();
            // Room for the whole member up front (deflate never grows data by more than a few
            // bytes per 16 KiB block), so it is compressed in one call: the bytes then do not
            // depend on how much room earlier members left, and objects are the same
            // whichever worker wrote them.
            member.reserve(records.len() + records.len() / 256 + 1024);
            loop {
                member.reserve(1024);
                let consumed = deflate.total_in() as usize;
                match deflate.compress_vec(&records[consumed..], member, FlushCompress::Finish) {
                    Ok(Status::StreamEnd) => break,
                    Ok(_) => {}
                    Err(error) => return Err(io::Error::other(error)),
                }
            }
            let mut crc = Crc::new();
            crc.update(records);
            member.extend_from_slice(&crc.sum().to_le_bytes());
            // ISIZE is the length modulo 2^32, as the gzip format defines it.
            member.extend_from_slice(&(records.len() as u32).to_le_bytes());
            OpenOptions::new().append(true).open(&self.0)?.write_all(member)
        })
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}

/// Buffered rows at which a Parquet object writes a row group. A worker holds up to
/// [`OPEN_PARTITIONS`] objects open, each buffering up to this much (plus the levels and offsets
/// of its rows, and the capacity its buffers keep between row groups), so the `columnar`
/// default of 24 MiB would allow gigabytes. Measured with 32 hours interleaved line by line, the
/// worst case, one worker's peak RSS: 50 MiB at 512 KiB, 68 MiB at 1 MiB, 74 MiB at 2 MiB
/// (gzip objects: 26 MiB). Row groups of about 1,000 requests cost some compression and
/// metadata, but keep the worker under the 64 MiB the CLI's writing is held to.
const PARQUET_ROW_GROUP_BYTES: usize = 512 << 10;

/// Parquet objects of the `columnar` table (docs/record.md, "Columnar records"), Snappy
/// compressed, one row per record.
pub struct ParquetObjects;

impl ObjectFormat for ParquetObjects {
    fn extension(&self) -> &'static str {
        "parquet"
    }

    fn description(&self) -> &'static str {
        "Parquet"
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn ObjectFile>> {
        let options = WriterOptions {
            row_group_bytes: PARQUET_ROW_GROUP_BYTES,
            ..WriterOptions::default()
        };
        let writer =
            ParquetWriter::new(BufWriter::new(File::create(path)?), options).map_err(io::Error::other)?;
        Ok(Box::new(ParquetObject(writer)))
    }

    fn takes_rows(&self) -> bool {
        true
    }
}

/// A Parquet object being written; its file stays open until the footer is written.
struct ParquetObject(ParquetWriter<BufWriter<File>>);

impl ObjectFile for ParquetObject {
    /// Refused: the reader writes a Parquet object's rows straight from the lines
    /// ([`ObjectFile::rows`]), so NDJSON reaching one is a bug in the caller, not data to parse.
    fn write_records(&mut self, _records: &[u8]) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a Parquet object takes rows, not NDJSON records",
        ))
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        self.0.finish().map_err(io::Error::other)?.flush()
    }

    fn rows(&mut self) -> Option<&mut ParquetWriter<BufWriter<File>>> {
        Some(&mut self.0)
    }
}

/// An hour partition: the first 13 bytes of a record `Timestamp`, `YYYY-MM-DD HH`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hour([u8; 13]);

impl Hour {
    fn part(&self, range: std::ops::Range<usize>) -> &str {
        // Only ever built from ASCII digits and separators (see `record_hour`, `current_hour`).
        std::str::from_utf8(&self.0[range]).unwrap_or("0")
    }

    /// `year=YYYY/month=MM/day=DD/hour=HH`.
    fn directory(&self) -> PathBuf {
        PathBuf::from(format!(
            "year={}/month={}/day={}/hour={}",
            self.part(0..4),
            self.part(5..7),
            self.part(8..10),
            self.part(11..13)
        ))
    }

    /// `YYYY-MM-DD-HH`, for object names.
    fn stamp(&self) -> String {
        format!(
            "{}-{}-{}-{}",
            self.part(0..4),
            self.part(5..7),
            self.part(8..10),
            self.part(11..13)
        )
    }
}

/// Finds the hour of a record our encoder wrote.
pub struct HourFinder(Finder<'static>);

impl HourFinder {
    /// A finder of the `Timestamp` key.
    pub fn new() -> Self {
        HourFinder(Finder::new(b",\"Timestamp\":\""))
    }

    /// The hour of `record`: its `Timestamp` is the fifth key, after keys whose string values
    /// escape every `"`, so the first `,"Timestamp":"` is the key itself. `None` for a record
    /// without a time (a line that could not be parsed).
    pub fn hour(&self, record: &[u8]) -> Option<Hour> {
        let at = self.0.find(record)? + self.0.needle().len();
        let text: [u8; 13] = record.get(at..at + 13)?.try_into().ok()?;
        let shape_ok = text.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b' ',
            _ => b.is_ascii_digit(),
        });
        shape_ok.then_some(Hour(text))
    }
}

/// The current UTC hour, for records that carry no time of their own.
pub fn current_hour() -> Hour {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    hour_of(LogTime::from_unix_seconds(seconds))
}

/// The hour of a time, as its record's `Timestamp` begins.
fn hour_of(time: LogTime) -> Hour {
    let mut text = Vec::with_capacity(19);
    time.write_utc(&mut text);
    let mut hour = [b'0'; 13];
    hour.copy_from_slice(&text[..13]);
    Hour(hour)
}

/// The job an object belongs to, from its file name; `None` for a name `run` did not give.
fn job_of(name: &str) -> Option<JobId> {
    // `YYYY-MM-DD-HH-00-00-<job>-...` after the prefix: the job is the seventh field.
    let job = name.strip_prefix(NAME_PREFIX)?.split('-').nth(6)?;
    (job.len() == 16).then(|| u64::from_str_radix(job, 16).ok().map(JobId))?
}

/// Prepares `records_dir` for a run: removes every object whose job is not `committed` (the
/// leftovers of an interrupted run, objects being written included) and the partition
/// directories left empty. Refused, before anything is removed, if the tree holds anything
/// `run` did not write, so a mistyped `--out` cannot delete anything else. With `committed`
/// always false it empties the tree (`--fresh`). Also refused if an object that stays is not of
/// `format`: one tree of mixed formats is no table Athena or DuckDB can read. Returns how many
/// objects were removed.
pub fn remove_uncommitted(
    records_dir: &Path,
    format: &dyn ObjectFormat,
    committed: &dyn Fn(JobId) -> bool,
) -> anyhow::Result<usize> {
    fn collect(dir: &Path, files: &mut Vec<PathBuf>, dirs: &mut Vec<PathBuf>) -> io::Result<bool> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let file_type = entry.file_type()?;
            let ours = if file_type.is_dir() {
                ["year=", "month=", "day=", "hour="]
                    .iter()
                    .any(|p| name.starts_with(p))
                    && collect(&entry.path(), files, dirs)?
            } else {
                file_type.is_file() && name.starts_with(NAME_PREFIX)
            };
            if !ours {
                return Ok(false);
            }
            match file_type.is_dir() {
                true => dirs.push(entry.path()),
                false => files.push(entry.path()),
            }
        }
        Ok(true)
    }
    match fs::symlink_metadata(records_dir) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", records_dir.display())),
        Ok(metadata) if !metadata.is_dir() => {
            bail!("{} exists and is not a directory", records_dir.display())
        }
        Ok(_) => {}
    }
    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    if !collect(records_dir, &mut files, &mut dirs)
        .with_context(|| format!("cannot read {}", records_dir.display()))?
    {
        bail!(
            "{} holds files that `s3logs run` did not write; choose another --out",
            records_dir.display()
        );
    }
    let keep = |file: &Path| {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
        !name.as_deref().is_some_and(|n| n.ends_with(PARTIAL_SUFFIX))
            && name.as_deref().and_then(job_of).is_some_and(committed)
    };
    let extension = format.extension();
    if let Some(other) = files
        .iter()
        .find(|file| keep(file) && file.extension().is_none_or(|found| found != extension))
    {
        bail!(
            "{} holds objects of another format ({}); give the same --format as before, --fresh to \
             start over, or another --out",
            records_dir.display(),
            other.display()
        );
    }
    let mut removed = 0;
    for file in files {
        if !keep(&file) {
            fs::remove_file(&file).with_context(|| format!("cannot remove {}", file.display()))?;
            removed += 1;
        }
    }
    if removed == 0 {
        return Ok(0);
    }
    // Deepest first, so a directory is empty by the time it is tried.
    dirs.sort_by_key(|dir| std::cmp::Reverse(dir.components().count()));
    for dir in dirs {
        // A directory that still holds objects stays: the error says so and is expected.
        let _ = fs::remove_dir(&dir);
    }
    Ok(removed)
}

/// One hour partition being written.
struct Partition {
    /// Records not yet handed to the object.
    pending: Vec<u8>,
    /// Uncompressed bytes already in the current object.
    written: u64,
    /// Number of the current object within the partition.
    sequence: u32,
    /// The current object, once records went to it, under its temporary name.
    object: Option<(PathBuf, Box<dyn ObjectFile>)>,
    /// When a record last went to this partition, in records pushed, to find the least
    /// recently used one.
    last_used: u64,
}

/// Writes records into objects per hour partition, as Firehose does with its buffers.
///
/// At most [`OPEN_PARTITIONS`] partitions are held at once, so memory does not grow with the
/// number of hours the input spans: a record for another hour first finishes the least
/// recently used partition as a complete object; if that hour comes back, a new object is
/// started for it (as Firehose does when a buffer is flushed). Each object is written under a
/// temporary name in its directory and renamed once complete, so an interrupted run leaves no
/// partial object under an object's name.
pub struct ObjectWriter<'a> {
    root: PathBuf,
    format: &'a dyn ObjectFormat,
    /// `<job>-<unit>`, the part of object names that tells whose objects they are.
    tag: String,
    object_bytes: u64,
    open: BTreeMap<Hour, Partition>,
    /// Sequence number of the next object of each hour whose partition was finished: one
    /// number per hour, so a returning hour never overwrites an object.
    next_sequence: HashMap<Hour, u32>,
    /// Records pushed so far, the clock of `last_used`.
    pushed: u64,
    objects: Vec<PathBuf>,
}

impl<'a> ObjectWriter<'a> {
    /// A writer of the objects of unit `unit` of job `job` under `root`, each holding at most
    /// `object_bytes` of records (but at least one).
    pub fn new(root: &Path, format: &'a dyn ObjectFormat, job: JobId, unit: u32, object_bytes: u64) -> Self {
        ObjectWriter {
            root: root.to_owned(),
            format,
            tag: format!("{job}-{unit:04}"),
            object_bytes: object_bytes.max(1),
            open: BTreeMap::new(),
            next_sequence: HashMap::new(),
            pushed: 0,
            objects: Vec::new(),
        }
    }

    /// Adds one record (a whole NDJSON line) to the partition of `hour`.
    pub fn push(&mut self, hour: Hour, record: &[u8]) -> io::Result<()> {
        let partition = self.partition(hour, record.len())?;
        partition.pending.extend_from_slice(record);
        if partition.pending.len() >= MEMBER_BYTES {
            self.write_pending(hour)?;
        }
        Ok(())
    }

    /// The row writer of the partition of `hour`, for one row whose record is about `bytes`
    /// (its line's size; counted against the object size as a record's are), when the format
    /// [`ObjectFormat::takes_rows`].
    pub fn rows(&mut self, hour: Hour, bytes: usize) -> io::Result<&mut ParquetWriter<BufWriter<File>>> {
        self.partition(hour, bytes)?;
        self.start_object(hour)?;
        let partition = self
            .open
            .get_mut(&hour)
            .ok_or_else(|| io::Error::other("partition vanished"))?;
        partition.written += bytes as u64;
        partition
            .object
            .as_mut()
            .and_then(|(_, object)| object.rows())
            .ok_or_else(|| io::Error::other("objects of this format take no rows"))
    }

    /// The partition of `hour`, opened if need be (finishing the least recently used one if too
    /// many are open), with its object finished first if `bytes` more would overfill it.
    fn partition(&mut self, hour: Hour, bytes: usize) -> io::Result<&mut Partition> {
        if !self.open.contains_key(&hour) && self.open.len() >= OPEN_PARTITIONS {
            self.finish_least_recently_used()?;
        }
        self.pushed += 1;
        let sequence = self.next_sequence.get(&hour).copied().unwrap_or(0);
        let partition = self.open.entry(hour).or_insert_with(|| Partition {
            pending: Vec::new(),
            written: 0,
            sequence,
            object: None,
            last_used: 0,
        });
        partition.last_used = self.pushed;
        let held = partition.written + partition.pending.len() as u64;
        if held > 0 && held + bytes as u64 > self.object_bytes {
            self.finish_object(hour)?;
        }
        self.open
            .get_mut(&hour)
            .ok_or_else(|| io::Error::other("partition vanished"))
    }

    fn finish_least_recently_used(&mut self) -> io::Result<()> {
        let oldest = self
            .open
            .iter()
            .min_by_key(|(_, partition)| partition.last_used)
            .map(|(hour, _)| *hour);
        if let Some(hour) = oldest {
            self.finish_object(hour)?;
            if let Some(partition) = self.open.remove(&hour) {
                self.next_sequence.insert(hour, partition.sequence);
            }
        }
        Ok(())
    }

    /// Finishes every object and returns them all, in path order.
    pub fn finish(mut self) -> io::Result<Vec<PathBuf>> {
        let hours: Vec<Hour> = self.open.keys().copied().collect();
        for hour in hours {
            self.finish_object(hour)?;
        }
        self.objects.sort();
        Ok(self.objects)
    }

    /// Writes what is pending, then gives the partition's current object its final name; the
    /// partition's next object gets the next sequence number.
    fn finish_object(&mut self, hour: Hour) -> io::Result<()> {
        self.write_pending(hour)?;
        let Some(partition) = self.open.get_mut(&hour) else {
            return Ok(());
        };
        if let Some((partial, object)) = partition.object.take() {
            object.finish()?;
            let complete = partial.with_extension("");
            fs::rename(&partial, &complete)?;
            self.objects.push(complete);
            partition.sequence += 1;
        }
        partition.written = 0;
        Ok(())
    }

    /// Hands the pending records of a partition to its current object, starting the object if
    /// need be.
    fn write_pending(&mut self, hour: Hour) -> io::Result<()> {
        if self
            .open
            .get(&hour)
            .is_none_or(|partition| partition.pending.is_empty())
        {
            return Ok(());
        }
        self.start_object(hour)?;
        let Some(partition) = self.open.get_mut(&hour) else {
            return Ok(());
        };
        if let Some((_, object)) = &mut partition.object {
            object.write_records(&partition.pending)?;
        }
        partition.written += partition.pending.len() as u64;
        partition.pending.clear();
        Ok(())
    }

    /// Starts the current object of a partition under its temporary name, unless it has one.
    fn start_object(&mut self, hour: Hour) -> io::Result<()> {
        let Some(partition) = self.open.get_mut(&hour) else {
            return Ok(());
        };
        if partition.object.is_none() {
            let dir = self.root.join(hour.directory());
            fs::create_dir_all(&dir)?;
            // Firehose's names are `<stream>-<version>-<YYYY-MM-DD-HH-MM-SS>-<uuid>`.
            let path = dir.join(format!(
                "{NAME_PREFIX}{}-00-00-{}-{:04}.{}{PARTIAL_SUFFIX}",
                hour.stamp(),
                self.tag,
                partition.sequence,
                self.format.extension()
            ));
            let object = self.format.create(&path)?;
            partition.object = Some((path, object));
        }
        Ok(())
    }
}

/// The records of one piece of input, as the engine's `RecordReader` writes them, filed into
/// the hour partitions of an [`ObjectWriter`]. A record's hour is its own time's, else that of
/// the record before it in the piece, else the current hour. Gzip objects get NDJSON records;
/// Parquet objects get rows straight from the lines (no JSON in between), which read back as
/// the same records.
pub struct PieceRecords<'w, 'a> {
    objects: &'w mut ObjectWriter<'a>,
    rows: bool,
    hours: HourFinder,
    last_hour: Option<Hour>,
    /// The NDJSON record being filed, for gzip objects.
    record: Vec<u8>,
    /// NDJSON bytes filed so far, for the engine's counts.
    json_bytes: usize,
}

impl<'w, 'a> PieceRecords<'w, 'a> {
    /// Files records into `objects`.
    pub fn new(objects: &'w mut ObjectWriter<'a>) -> Self {
        PieceRecords {
            rows: objects.format.takes_rows(),
            objects,
            hours: HourFinder::new(),
            last_hour: None,
            record: Vec::with_capacity(4096),
            json_bytes: 0,
        }
    }

    /// The hour of a record whose own hour is `own`, if it has one.
    fn hour(&mut self, own: Option<Hour>) -> Hour {
        let hour = own.or(self.last_hour).unwrap_or_else(current_hour);
        self.last_hour = Some(hour);
        hour
    }

    /// Files the NDJSON record held in `self.record`.
    fn push_record(&mut self) -> io::Result<()> {
        let hour = self.hour(self.hours.hour(&self.record));
        self.json_bytes += self.record.len();
        self.objects.push(hour, &self.record)
    }
}

impl RecordWriter for PieceRecords<'_, '_> {
    fn write_line(&mut self, object: LogObject<'_>, line: &[u8]) -> io::Result<Outcome> {
        if !self.rows {
            self.record.clear();
            let outcome = object.encoder.encode(line, &mut self.record);
            self.push_record()?;
            return Ok(outcome);
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let parsed = parse_partial(line);
        let hour = self.hour(parsed.0.time.map(hour_of));
        let rows = self.objects.rows(hour, line.len())?;
        rows.write_parsed(object.log_file, line, parsed)
            .map_err(io::Error::other)
    }

    fn write_truncated(
        &mut self,
        object: LogObject<'_>,
        prefix: &[u8],
        id: u64,
        reason: &str,
    ) -> io::Result<()> {
        if !self.rows {
            self.record.clear();
            object
                .encoder
                .encode_truncated(prefix, id, reason, &mut self.record);
            return self.push_record();
        }
        let hour = self.hour(None);
        let rows = self.objects.rows(hour, prefix.len())?;
        rows.write_truncated(object.log_file, prefix, id, reason)
            .map_err(io::Error::other)
    }

    fn write_record(&mut self, record: &[u8]) -> io::Result<()> {
        if !self.rows {
            self.record.clear();
            self.record.extend_from_slice(record);
            return self.push_record();
        }
        let hour = self.hour(self.hours.hour(record));
        self.objects
            .rows(hour, record.len())?
            .write_record(record)
            .map_err(io::Error::other)
    }

    fn json_len(&self) -> usize {
        self.json_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_hour_of_a_record() {
        let finder = HourFinder::new();
        let cases: &[(&str, Option<&str>)] = &[
            (
                r#"{"SchemaVersion":1,"Bucket":"b","Timestamp":"2025-03-14 09:26:53","X":1}"#,
                Some("2025-03-14 09"),
            ),
            (r#"{"SchemaVersion":1,"Bucket":"b","Timestamp":null}"#, None),
            (
                r#"{"SchemaVersion":1,"Bucket":"b","Timestamp":"2025-3-14 09:26:53"}"#,
                None,
            ),
            (r#"{"SchemaVersion":1,"Timestamp":"2025-03-14"}"#, None),
        ];
        for &(record, expected) in cases {
            let hour = finder
                .hour(record.as_bytes())
                .map(|hour| String::from_utf8(hour.0.to_vec()).unwrap());
            assert_eq!(hour.as_deref(), expected, "{record}");
        }
        let hour = Hour(*b"2025-03-14 09");
        assert_eq!(
            hour.directory(),
            PathBuf::from("year=2025/month=03/day=14/hour=09")
        );
        assert_eq!(hour.stamp(), "2025-03-14-09");
    }

    #[test]
    fn holds_a_bounded_number_of_partitions_and_renames_complete_objects() {
        let root = std::env::temp_dir().join(format!("s3logs-run-writer-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let mut writer = ObjectWriter::new(&root, &GzipNdjson, JobId(0xab), 3, u64::MAX);
        let hours: Vec<Hour> = (0..3 * OPEN_PARTITIONS)
            .map(|n| {
                Hour(
                    *format!("2025-01-{:02} {:02}", n / 24 + 1, n % 24)
                        .as_bytes()
                        .first_chunk()
                        .unwrap(),
                )
            })
            .collect();
        // Every hour, then the first one again after it was finished.
        for hour in hours.iter().chain(&hours[..1]) {
            writer.push(*hour, b"{}\n").unwrap();
            assert!(writer.open.len() <= OPEN_PARTITIONS);
        }
        let objects = writer.finish().unwrap();
        assert_eq!(objects.len(), hours.len() + 1);
        assert!(objects.iter().all(|object| object.extension().unwrap() == "gz"));
        let first = root.join("year=2025/month=01/day=01/hour=00");
        let mut names: Vec<_> = fs::read_dir(&first)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "s3logs-run-1-2025-01-01-00-00-00-00000000000000ab-0003-0000.gz",
                "s3logs-run-1-2025-01-01-00-00-00-00000000000000ab-0003-0001.gz"
            ]
        );
        assert_eq!(job_of(&names[0]), Some(JobId(0xab)));
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn gzip_objects_are_members_any_gzip_reader_reads_back() {
        use std::io::Read;
        let path = std::env::temp_dir().join(format!("s3logs-run-gzip-{}.gz", std::process::id()));
        let mut object = GzipNdjson.create(&path).unwrap();
        let first: Vec<u8> = (0..20_000)
            .flat_map(|n| format!("{{\"n\":{n}}}\n").into_bytes())
            .collect();
        object.write_records(&first).unwrap();
        object.write_records(b"{\"last\":true}\n").unwrap();
        object.finish().unwrap();
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(File::open(&path).unwrap())
            .read_to_end(&mut text)
            .unwrap();
        let mut expected = first;
        expected.extend_from_slice(b"{\"last\":true}\n");
        assert_eq!(text, expected);
        let status = std::process::Command::new("gzip")
            .arg("-t")
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "gzip -t");
        fs::remove_file(path).unwrap();
    }

    #[test]
    fn parquet_objects_take_rows_that_read_back_as_the_records_of_their_lines() {
        let path = std::env::temp_dir().join(format!("s3logs-run-parquet-{}.parquet", std::process::id()));
        let encoder = s3_access_log::RecordEncoder::new("s3://logs/object");
        let mut records = Vec::new();
        let lines: Vec<String> = (0..5_000)
            .map(|n| format!(
                "owner bucket [06/Feb/2019:00:00:{:02} +0000] 192.0.2.3 - REQ{n} REST.GET.OBJECT key{n} \"GET /key{n} HTTP/1.1\" 200 - 100 100 1 1 \"-\" \"agent\" -",
                n % 60
            ))
            .collect();
        for line in &lines {
            encoder.encode(line.as_bytes(), &mut records);
        }
        let mut object = ParquetObjects.create(&path).unwrap();
        assert!(object.write_records(&records).is_err(), "NDJSON is refused");
        let rows = object.rows().expect("a Parquet object takes rows");
        for line in &lines {
            rows.write_line("s3://logs/object", line.as_bytes()).unwrap();
        }
        object.finish().unwrap();
        let mut reader = columnar::RecordReader::new(File::open(&path).unwrap()).unwrap();
        let mut back = Vec::new();
        while reader.next_records(&mut back).unwrap() > 0 {}
        assert_eq!(back, records);
        fs::remove_file(path).unwrap();
    }

    /// The records of every object under `root`, per hour directory, objects in name order.
    fn records_by_hour(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut objects: Vec<PathBuf> = Vec::new();
        let mut dirs = vec![root.to_owned()];
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                match path.is_dir() {
                    true => dirs.push(path),
                    false => objects.push(path),
                }
            }
        }
        objects.sort();
        let mut hours: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
        for object in objects {
            let records = hours
                .entry(object.parent().unwrap().strip_prefix(root).unwrap().to_owned())
                .or_default();
            if object.extension().is_some_and(|e| e == "gz") {
                io::copy(
                    &mut flate2::read::MultiGzDecoder::new(File::open(&object).unwrap()),
                    records,
                )
                .unwrap();
            } else {
                let mut reader = columnar::RecordReader::new(File::open(&object).unwrap()).unwrap();
                while reader.next_records(records).unwrap() > 0 {}
            }
        }
        hours
    }

    /// Parquet objects get rows straight from the lines: the same records in the same hours as
    /// gzip objects get, whatever the engine decided for each line (bad lines and cut lines
    /// take the hour of the record before them; a cut gzip ends in a quarantine record).
    #[test]
    fn piece_records_file_the_same_records_by_hour_in_both_formats() {
        use std::io::Write as _;

        use pipeline::ingest::{Limits, RecordReader};

        let line = |hour: u32, n: u32| {
            format!(
                "owner bucket [06/Feb/2019:{hour:02}:00:{:02} +0000] 192.0.2.3 - REQ{n} REST.GET.OBJECT key{n} \"GET /key{n} HTTP/1.1\" 200 - 100 100 1 1 \"-\" \"agent\" -",
                n % 60
            )
        };
        let mut text = String::new();
        for n in 0..3000 {
            text.push_str(&line(n / 1000, n));
            text.push('\n');
            match n {
                10 => text.push_str("not a log line\n\n  \n"),
                1500 => text.push_str(&format!(
                    "{}\n",
                    "k".repeat(pipeline::lines::DEFAULT_MAX_LINE + 1)
                )),
                2500 => text.push_str(&format!("{}\n", "\u{1}".repeat(100_000))),
                _ => {}
            }
        }
        text.push_str(&line(5, 0)[..40]);
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
        gzip.write_all(text.as_bytes()).unwrap();
        gzip.flush().unwrap();
        let cut_gzip = gzip.get_ref().clone();

        let base = std::env::temp_dir().join(format!("s3logs-run-pieces-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let formats: [(&str, &dyn ObjectFormat); 2] = [("gzip", &GzipNdjson), ("parquet", &ParquetObjects)];
        let [gzip, parquet] = formats.map(|(name, format)| {
            let root = base.join(name);
            let mut writer = ObjectWriter::new(&root, format, JobId(1), 0, u64::MAX);
            for (name, bytes) in [
                ("s3://logs/plain", text.as_bytes()),
                ("s3://logs/cut.gz", &cut_gzip),
            ] {
                let mut records = RecordReader::new(bytes, name, Limits::default()).unwrap();
                let mut filed = PieceRecords::new(&mut writer);
                while records.write_next(&mut filed).unwrap() {}
            }
            writer.finish().unwrap();
            records_by_hour(&root)
        });
        assert_eq!(
            gzip.keys().collect::<Vec<_>>(),
            parquet.keys().collect::<Vec<_>>()
        );
        assert_eq!(gzip.len(), 3, "three hours");
        for (hour, records) in &gzip {
            let (records, rows) = (
                String::from_utf8_lossy(records),
                String::from_utf8_lossy(&parquet[hour]),
            );
            assert_eq!(
                rows.lines().count(),
                records.lines().count(),
                "{}",
                hour.display()
            );
            for (index, (row, record)) in rows.lines().zip(records.lines()).enumerate() {
                assert_eq!(row, record, "{} record {index}", hour.display());
            }
        }
        let all: String = gzip
            .values()
            .map(|records| String::from_utf8_lossy(records))
            .collect();
        assert_eq!(all.lines().count(), 2 * 3004);
        assert_eq!(all.matches("\"ParseError\":\"line of ").count(), 4);
        assert_eq!(all.matches("truncated-gzip").count(), 1);
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn removes_uncommitted_and_partial_objects_and_refuses_foreign_files() {
        let root = std::env::temp_dir().join(format!("s3logs-run-tree-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let hour = root.join("year=2025/month=01/day=01/hour=00");
        let other_hour = root.join("year=2025/month=01/day=01/hour=01");
        fs::create_dir_all(&hour).unwrap();
        fs::create_dir_all(&other_hour).unwrap();
        let name = |job: u64, suffix: &str| {
            format!("s3logs-run-1-2025-01-01-00-00-00-{job:016x}-0000-0000.gz{suffix}")
        };
        let kept = hour.join(name(1, ""));
        for path in [
            kept.clone(),
            hour.join(name(1, ".partial")),
            hour.join(name(2, "")),
            other_hour.join(name(2, "")),
            hour.join("s3logs-run-1-2025-01-01-00-00-00-0000.gz"),
        ] {
            fs::write(path, b"").unwrap();
        }
        let removed = remove_uncommitted(&root, &GzipNdjson, &|job| job == JobId(1)).unwrap();
        assert_eq!(removed, 4);
        assert!(kept.exists());
        assert!(!other_hour.exists(), "emptied partitions go too");

        fs::write(hour.join("notes.txt"), b"mine").unwrap();
        assert!(remove_uncommitted(&root, &GzipNdjson, &|_| false).is_err());
        assert!(kept.exists(), "nothing removed when refused");
        fs::remove_file(hour.join("notes.txt")).unwrap();

        // Objects of the other format that stay refuse the run; --fresh removes them.
        let error = remove_uncommitted(&root, &ParquetObjects, &|job| job == JobId(1)).unwrap_err();
        assert!(error.to_string().contains("objects of another format"), "{error}");
        assert!(kept.exists(), "nothing removed when refused");
        assert_eq!(remove_uncommitted(&root, &ParquetObjects, &|_| false).unwrap(), 1);
        assert!(!kept.exists());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn the_current_hour_has_the_record_hour_shape() {
        let Hour(text) = current_hour();
        assert!(text.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b' ',
            _ => b.is_ascii_digit(),
        }));
    }
}
