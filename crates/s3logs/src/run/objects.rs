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
//! Objects are of two kinds: gzip NDJSON ([`GzipObject`], Firehose's format), which takes
//! NDJSON records, and Parquet ([`ParquetObject`], the `columnar` table, as Firehose's record
//! format conversion writes it), which takes rows. [`HourPartitions`] partitions either kind
//! the same way; [`ObjectWriter`] is the one `--format` chose. [`PieceRecords`] takes the
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
use crate::records_out::RecordFormat;

/// A gzip object compresses its pending records into a member once this many bytes are held:
/// with [`OPEN_PARTITIONS`] partitions, at most 8 MiB of records wait per writer, which keeps a
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

/// What the partitioning needs of an object file, of either kind: how each starts and ends.
/// What goes into one differs by kind ([`GzipObject::push`], [`ParquetWriter`]'s rows).
pub trait ObjectFile: Sized {
    /// File name extension of the objects, without the dot (`gz`).
    const EXTENSION: &'static str;
    /// Starts an object at `path`.
    fn create(path: &Path) -> io::Result<Self>;
    /// Completes the file; it is renamed into place afterwards.
    fn finish(self) -> io::Result<()>;
}

/// File name extension of the objects of `format`, without the dot.
fn extension(format: RecordFormat) -> &'static str {
    match format {
        RecordFormat::Json => GzipObject::EXTENSION,
        RecordFormat::Parquet => ParquetObject::EXTENSION,
    }
}

/// What the objects of `format` are, for the summary line (`gzip`).
pub fn description(format: RecordFormat) -> &'static str {
    match format {
        RecordFormat::Json => "gzip",
        RecordFormat::Parquet => "Parquet",
    }
}

/// Firehose's format: NDJSON records compressed as a sequence of gzip members. The file is
/// reopened for each member so that a writer holding many partitions holds no file descriptors
/// between members.
pub struct GzipObject {
    path: PathBuf,
    /// Records not yet compressed into a member.
    pending: Vec<u8>,
}

/// The header of a gzip member: deflate, no name, no time, unknown OS (as flate2 writes it).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

thread_local! {
    /// One deflate state and output buffer per worker thread, reset for every member: a new
    /// deflate state per member costs a few hundred kilobytes of fresh pages, and a year of
    /// hours makes tens of thousands of small members.
    static DEFLATE: RefCell<(Compress, Vec<u8>)> =
        RefCell::new((Compress::new(Compression::default(), false), Vec::new()));
}

impl GzipObject {
    /// Appends one record (a whole NDJSON line), compressing the pending records into a member
    /// once they reach [`MEMBER_BYTES`].
    pub fn push(&mut self, record: &[u8]) -> io::Result<()> {
        self.pending.extend_from_slice(record);
        if self.pending.len() >= MEMBER_BYTES {
            self.write_member()?;
        }
        Ok(())
    }

    /// Appends the pending records to the file as one gzip member, if there are any.
    fn write_member(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let records = &self.pending;
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
            OpenOptions::new()
                .append(true)
                .open(&self.path)?
                .write_all(member)
        })?;
        self.pending.clear();
        Ok(())
    }
}

impl ObjectFile for GzipObject {
    const EXTENSION: &'static str = "gz";

    fn create(path: &Path) -> io::Result<Self> {
        File::create(path)?;
        Ok(GzipObject {
            path: path.to_owned(),
            pending: Vec::new(),
        })
    }

    fn finish(mut self) -> io::Result<()> {
        self.write_member()
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

/// A Parquet object of the `columnar` table (docs/record.md, "Columnar records"), Snappy
/// compressed, one row per record; its file stays open until the footer is written.
pub type ParquetObject = ParquetWriter<BufWriter<File>>;

impl ObjectFile for ParquetObject {
    const EXTENSION: &'static str = "parquet";

    fn create(path: &Path) -> io::Result<Self> {
        let options = WriterOptions {
            row_group_bytes: PARQUET_ROW_GROUP_BYTES,
            ..WriterOptions::default()
        };
        ParquetWriter::new(BufWriter::new(File::create(path)?), options).map_err(io::Error::other)
    }

    fn finish(self) -> io::Result<()> {
        ParquetWriter::finish(self).map_err(io::Error::other)?.flush()
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
    format: RecordFormat,
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
    let extension = extension(format);
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
struct Partition<O> {
    /// Bytes of records already in the current object (for rows, of their lines).
    written: u64,
    /// Number of the current object within the partition.
    sequence: u32,
    /// The current object, once records went to it, under its temporary name.
    object: Option<(PathBuf, O)>,
    /// When a record last went to this partition, in records pushed, to find the least
    /// recently used one.
    last_used: u64,
}

/// Writes records into objects of one kind per hour partition, as Firehose does with its
/// buffers.
///
/// At most [`OPEN_PARTITIONS`] partitions are held at once, so memory does not grow with the
/// number of hours the input spans: a record for another hour first finishes the least
/// recently used partition as a complete object; if that hour comes back, a new object is
/// started for it (as Firehose does when a buffer is flushed). Each object is written under a
/// temporary name in its directory and renamed once complete, so an interrupted run leaves no
/// partial object under an object's name.
pub struct HourPartitions<O> {
    root: PathBuf,
    /// `<job>-<unit>`, the part of object names that tells whose objects they are.
    tag: String,
    object_bytes: u64,
    open: BTreeMap<Hour, Partition<O>>,
    /// Sequence number of the next object of each hour whose partition was finished: one
    /// number per hour, so a returning hour never overwrites an object.
    next_sequence: HashMap<Hour, u32>,
    /// Records pushed so far, the clock of `last_used`.
    pushed: u64,
    objects: Vec<PathBuf>,
}

impl<O: ObjectFile> HourPartitions<O> {
    /// A writer of the objects of unit `unit` of job `job` under `root`, each holding at most
    /// `object_bytes` of records (but at least one).
    pub fn new(root: &Path, job: JobId, unit: u32, object_bytes: u64) -> Self {
        HourPartitions {
            root: root.to_owned(),
            tag: format!("{job}-{unit:04}"),
            object_bytes: object_bytes.max(1),
            open: BTreeMap::new(),
            next_sequence: HashMap::new(),
            pushed: 0,
            objects: Vec::new(),
        }
    }

    /// The current object of the partition of `hour`, for one more record of `bytes`: the
    /// partition is opened if need be (finishing the least recently used one if too many are
    /// open), its object is finished first if `bytes` more would overfill it, and an object is
    /// started under its temporary name if the partition has none.
    pub fn object(&mut self, hour: Hour, bytes: usize) -> io::Result<&mut O> {
        if !self.open.contains_key(&hour) && self.open.len() >= OPEN_PARTITIONS {
            self.finish_least_recently_used()?;
        }
        self.pushed += 1;
        let sequence = self.next_sequence.get(&hour).copied().unwrap_or(0);
        let partition = self.open.entry(hour).or_insert_with(|| Partition {
            written: 0,
            sequence,
            object: None,
            last_used: 0,
        });
        partition.last_used = self.pushed;
        if partition.written > 0 && partition.written + bytes as u64 > self.object_bytes {
            self.finish_object(hour)?;
        }
        let partition = self
            .open
            .get_mut(&hour)
            .ok_or_else(|| io::Error::other("partition vanished"))?;
        partition.written += bytes as u64;
        if partition.object.is_none() {
            let dir = self.root.join(hour.directory());
            fs::create_dir_all(&dir)?;
            // Firehose's names are `<stream>-<version>-<YYYY-MM-DD-HH-MM-SS>-<uuid>`.
            let path = dir.join(format!(
                "{NAME_PREFIX}{}-00-00-{}-{:04}.{}{PARTIAL_SUFFIX}",
                hour.stamp(),
                self.tag,
                partition.sequence,
                O::EXTENSION
            ));
            let object = O::create(&path)?;
            partition.object = Some((path, object));
        }
        partition
            .object
            .as_mut()
            .map(|(_, object)| object)
            .ok_or_else(|| io::Error::other("object vanished"))
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

    /// Completes the partition's current object and gives it its final name; the partition's
    /// next object gets the next sequence number.
    fn finish_object(&mut self, hour: Hour) -> io::Result<()> {
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
}

impl HourPartitions<GzipObject> {
    /// Adds one record (a whole NDJSON line) to the partition of `hour`.
    pub fn push(&mut self, hour: Hour, record: &[u8]) -> io::Result<()> {
        self.object(hour, record.len())?.push(record)
    }
}

/// The objects of one unit of work, of the kind `--format` chose.
pub enum ObjectWriter {
    /// Gzip NDJSON objects, which take NDJSON records.
    Gzip(HourPartitions<GzipObject>),
    /// Parquet objects, which take rows.
    Parquet(HourPartitions<ParquetObject>),
}

impl ObjectWriter {
    /// A writer of the `format` objects of unit `unit` of job `job` under `root`, each holding
    /// at most `object_bytes` of records (but at least one).
    pub fn new(root: &Path, format: RecordFormat, job: JobId, unit: u32, object_bytes: u64) -> Self {
        match format {
            RecordFormat::Json => ObjectWriter::Gzip(HourPartitions::new(root, job, unit, object_bytes)),
            RecordFormat::Parquet => {
                ObjectWriter::Parquet(HourPartitions::new(root, job, unit, object_bytes))
            }
        }
    }

    /// Finishes every object and returns them all, in path order.
    pub fn finish(self) -> io::Result<Vec<PathBuf>> {
        match self {
            ObjectWriter::Gzip(partitions) => partitions.finish(),
            ObjectWriter::Parquet(partitions) => partitions.finish(),
        }
    }
}

/// The hours of the records of one piece of input: a record's own time's, else that of the
/// record before it in the piece, else the current hour.
struct PieceHours {
    finder: HourFinder,
    last: Option<Hour>,
}

impl PieceHours {
    /// The hour of a record whose own hour is `own`, if it has one.
    fn of(&mut self, own: Option<Hour>) -> Hour {
        let hour = own.or(self.last).unwrap_or_else(current_hour);
        self.last = Some(hour);
        hour
    }

    /// The hour of an NDJSON record.
    fn of_record(&mut self, record: &[u8]) -> Hour {
        let own = self.finder.hour(record);
        self.of(own)
    }
}

/// The records of one piece of input, as the engine's `RecordReader` writes them, filed into
/// the hour partitions of an [`ObjectWriter`] (see [`PieceHours`] for the hour of each). Gzip
/// objects get NDJSON records; Parquet objects get rows straight from the lines (no JSON in
/// between), which read back as the same records.
pub struct PieceRecords<'w> {
    objects: &'w mut ObjectWriter,
    hours: PieceHours,
    /// The NDJSON record being filed, for gzip objects.
    record: Vec<u8>,
    /// NDJSON bytes filed so far, for the engine's counts.
    json_bytes: usize,
}

impl<'w> PieceRecords<'w> {
    /// Files records into `objects`.
    pub fn new(objects: &'w mut ObjectWriter) -> Self {
        PieceRecords {
            objects,
            hours: PieceHours {
                finder: HourFinder::new(),
                last: None,
            },
            record: Vec::with_capacity(4096),
            json_bytes: 0,
        }
    }
}

/// Files one NDJSON record into the gzip object of its hour, counting its bytes in
/// `json_bytes`.
fn file_record(
    objects: &mut HourPartitions<GzipObject>,
    hours: &mut PieceHours,
    json_bytes: &mut usize,
    record: &[u8],
) -> io::Result<()> {
    let hour = hours.of_record(record);
    *json_bytes += record.len();
    objects.push(hour, record)
}

impl RecordWriter for PieceRecords<'_> {
    fn write_line(&mut self, object: LogObject<'_>, line: &[u8]) -> io::Result<Outcome> {
        match &mut *self.objects {
            ObjectWriter::Gzip(objects) => {
                self.record.clear();
                let outcome = object.encoder.encode(line, &mut self.record);
                file_record(objects, &mut self.hours, &mut self.json_bytes, &self.record)?;
                Ok(outcome)
            }
            ObjectWriter::Parquet(objects) => {
                let parsed = parse_partial(line);
                let hour = self.hours.of(parsed.0.time.map(hour_of));
                objects
                    .object(hour, line.len())?
                    .write_parsed(object.log_file, line, parsed)
                    .map_err(io::Error::other)
            }
        }
    }

    fn write_truncated(
        &mut self,
        object: LogObject<'_>,
        prefix: &[u8],
        id: u64,
        reason: &str,
    ) -> io::Result<()> {
        match &mut *self.objects {
            ObjectWriter::Gzip(objects) => {
                self.record.clear();
                object
                    .encoder
                    .encode_truncated(prefix, id, reason, &mut self.record);
                file_record(objects, &mut self.hours, &mut self.json_bytes, &self.record)
            }
            ObjectWriter::Parquet(objects) => {
                let hour = self.hours.of(None);
                objects
                    .object(hour, prefix.len())?
                    .write_truncated(object.log_file, prefix, id, reason)
                    .map_err(io::Error::other)
            }
        }
    }

    fn write_record(&mut self, record: &[u8]) -> io::Result<()> {
        match &mut *self.objects {
            ObjectWriter::Gzip(objects) => {
                file_record(objects, &mut self.hours, &mut self.json_bytes, record)
            }
            ObjectWriter::Parquet(objects) => {
                let hour = self.hours.of_record(record);
                objects
                    .object(hour, record.len())?
                    .write_record(record)
                    .map_err(io::Error::other)
            }
        }
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
        let mut writer = HourPartitions::<GzipObject>::new(&root, JobId(0xab), 3, u64::MAX);
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
        let mut object = GzipObject::create(&path).unwrap();
        let first: Vec<u8> = (0..40_000)
            .flat_map(|n| format!("{{\"n\":{n}}}\n").into_bytes())
            .collect();
        assert!(first.len() >= MEMBER_BYTES);
        object.push(&first).unwrap();
        let first_member = fs::metadata(&path).unwrap().len();
        assert!(
            first_member > 0,
            "records reaching MEMBER_BYTES go out as a member"
        );
        object.push(b"{\"last\":true}\n").unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            first_member,
            "fewer wait for the next member"
        );
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
        let mut object = ParquetObject::create(&path).unwrap();
        for line in &lines {
            object.write_line("s3://logs/object", line.as_bytes()).unwrap();
        }
        ObjectFile::finish(object).unwrap();
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
        let formats = [("gzip", RecordFormat::Json), ("parquet", RecordFormat::Parquet)];
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
        let removed = remove_uncommitted(&root, RecordFormat::Json, &|job| job == JobId(1)).unwrap();
        assert_eq!(removed, 4);
        assert!(kept.exists());
        assert!(!other_hour.exists(), "emptied partitions go too");

        fs::write(hour.join("notes.txt"), b"mine").unwrap();
        assert!(remove_uncommitted(&root, RecordFormat::Json, &|_| false).is_err());
        assert!(kept.exists(), "nothing removed when refused");
        fs::remove_file(hour.join("notes.txt")).unwrap();

        // Objects of the other format that stay refuse the run; --fresh removes them.
        let error = remove_uncommitted(&root, RecordFormat::Parquet, &|job| job == JobId(1)).unwrap_err();
        assert!(error.to_string().contains("objects of another format"), "{error}");
        assert!(kept.exists(), "nothing removed when refused");
        assert_eq!(
            remove_uncommitted(&root, RecordFormat::Parquet, &|_| false).unwrap(),
            1
        );
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
