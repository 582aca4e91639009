//! `s3logs run`: the whole pipeline on local files, no AWS needed.
//!
//! Stage 1 does what the preprocessor and Firehose do: raw logs are parsed into NDJSON records
//! (the same [`RecordReader`] as the Lambda) and packed into gzip objects under Hive-style
//! partitions, `records/year=YYYY/month=MM/day=DD/hour=HH/<name>.gz`, each object a sequence
//! of gzip members as Firehose writes them. Stage 2 does what the postprocessor does: every
//! object is audited with the same engine, and the hits are printed as `s3logs audit` prints
//! them.
//!
//! Partitioning: Firehose partitions by *arrival* time, which locally would put everything
//! under the hour the command ran. Here a record goes to the hour of its own `Timestamp`
//! instead, so the layout is reproducible and shows what the data covers. A record without a
//! `Timestamp` (a line that could not be parsed) goes with the record before it in the same
//! input, or, at the very start of an input, under the current hour, as Firehose would do.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use flate2::Compression;
use flate2::write::GzEncoder;
use memchr::memmem::Finder;
use pipeline::audit::Format;
use pipeline::ingest::{Limits, RecordReader, Stats};
use s3_access_log::LogTime;

use crate::audit::{FormatCounts, Problem, RuleArgs, describe_problems, expansion_problems, finish, report};
use crate::inputs::{self, Input, Outputs};

/// Records of one partition are compressed into a gzip member once this many bytes are held,
/// so memory stays bounded per partition and objects are multi-member like Firehose's.
const MEMBER_BYTES: usize = 1 << 20;

/// Partitions held open at once; with at most [`MEMBER_BYTES`] (plus one record) pending in
/// each, this bounds the memory of `run` whatever the span of hours. Inputs sorted by time,
/// as S3 writes them, keep only a few hours open, so this many rarely splits an object.
const OPEN_PARTITIONS: usize = 32;

/// Suffix of an object being written; removed by a rename once the object is complete.
const PARTIAL_SUFFIX: &str = ".gz.partial";

/// Name of the partition tree under `--out`.
const RECORDS_DIR: &str = "records";

/// Arguments of `s3logs run`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    s3logs run samples/ --out out/\n  \
    s3logs run access-logs/ --out out/ --rules sigv2 --json > sigv2-hits.ndjson")]
pub struct RunArgs {
    /// Raw S3 server access log files or directories (read recursively), gzipped or not;
    /// `-` reads standard input.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Directory for the output; `records/` in it is replaced on each run.
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,
    /// Start a new object once one holds this many uncompressed bytes (Firehose's buffer
    /// size, at most 128 MiB).
    #[arg(long, value_name = "BYTES", default_value_t = 128 << 20)]
    pub object_bytes: u64,
    /// Rules and output.
    #[command(flatten)]
    pub rules: RuleArgs,
}

/// Runs `s3logs run`; the exit code is non-zero if any input could not be read.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut auditor = args.rules.auditor()?;
    let records_dir = args.out.join(RECORDS_DIR);
    // Expanded before the previous run's objects are removed, so an input among them is
    // refused rather than deleted.
    let outputs = Outputs::new().stdout().dir(&records_dir);
    let expansion = inputs::expand(&args.inputs, &outputs)?;
    clear_previous_run(&records_dir)?;
    let mut problems = expansion_problems(&expansion);
    let inputs = expansion.inputs;

    let mut writer = ObjectWriter::new(records_dir.clone(), args.object_bytes.max(1));
    let mut packed = Stats::default();
    for input in &inputs {
        match pack(input, &mut writer) {
            Ok(stats) => {
                if let Some(unreadable) = stats.unreadable {
                    problems.push(Problem::fatal(format!(
                        "{}: {unreadable}; the lines before it and a quarantine record were packed",
                        input.name()
                    )));
                }
                packed += stats;
            }
            Err(error) => problems.push(Problem::fatal(format!("{}: {error:#}", input.name()))),
        }
    }
    let objects = writer.finish().context("writing objects")?;
    let gz_bytes: u64 = objects
        .iter()
        .filter_map(|path| fs::metadata(path).ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "s3logs run: {} inputs, {} records ({} with ParseError) packed into {} gzip objects ({:.1} kB) under {}",
        inputs.len(),
        packed.records,
        packed.parse_errors,
        objects.len(),
        gz_bytes as f64 / 1e3,
        records_dir.display()
    );

    let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
    let mut formats = FormatCounts::default();
    for object in &objects {
        let name = object.display().to_string();
        let file = File::open(object).with_context(|| format!("cannot open {name}"))?;
        match auditor.audit_object(file, &name, Format::Records, u64::MAX, &mut out) {
            Ok(report) => {
                formats.add(Format::Records);
                problems.extend(describe_problems(&name, &report));
            }
            Err(pipeline::Error::Io(error)) if error.kind() == io::ErrorKind::BrokenPipe => {
                return Ok(report(&problems));
            }
            Err(error) => problems.push(Problem::fatal(format!("{name}: {error}"))),
        }
    }
    finish(&mut auditor, &args.rules, &mut out, &formats, &problems)
}

/// Parses one raw input and hands its records to the writer, partitioned by hour.
fn pack(input: &Input, writer: &mut ObjectWriter) -> anyhow::Result<Stats> {
    let reader = input.open().context("cannot open")?;
    let mut records = RecordReader::new(reader, &input.name(), Limits::default())?;
    let timestamp = Finder::new(b",\"Timestamp\":\"");
    let mut record = Vec::with_capacity(4096);
    let mut last_hour = None;
    loop {
        record.clear();
        if !records.next_record(&mut record)? {
            break;
        }
        let hour = record_hour(&timestamp, &record)
            .or(last_hour)
            .unwrap_or_else(current_hour);
        last_hour = Some(hour);
        writer.push(hour, &record)?;
    }
    Ok(records.stats())
}

/// An hour partition: the first 13 bytes of a record `Timestamp`, `YYYY-MM-DD HH`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Hour([u8; 13]);

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

/// The hour of a record our encoder wrote: its `Timestamp` is the fifth key, after keys whose
/// string values escape every `"`, so the first `,"Timestamp":"` is the key itself.
fn record_hour(finder: &Finder<'_>, record: &[u8]) -> Option<Hour> {
    let at = finder.find(record)? + finder.needle().len();
    let text: [u8; 13] = record.get(at..at + 13)?.try_into().ok()?;
    let shape_ok = text.iter().enumerate().all(|(i, b)| match i {
        4 | 7 => *b == b'-',
        10 => *b == b' ',
        _ => b.is_ascii_digit(),
    });
    shape_ok.then_some(Hour(text))
}

/// The current UTC hour, for records that carry no time of their own.
fn current_hour() -> Hour {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut text = Vec::with_capacity(19);
    LogTime::from_unix_seconds(seconds).write_utc(&mut text);
    let mut hour = [b'0'; 13];
    hour.copy_from_slice(&text[..13]);
    Hour(hour)
}

/// Removes the `records/` tree of an earlier run, after checking that it holds nothing but
/// what a run writes (partition directories, `.gz` objects and the `.gz.partial` files an
/// interrupted run leaves), so a mistyped `--out` cannot delete anything else.
fn clear_previous_run(records_dir: &Path) -> anyhow::Result<()> {
    fn only_ours(dir: &Path) -> io::Result<bool> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let file_type = entry.file_type()?;
            let ours = if file_type.is_dir() {
                ["year=", "month=", "day=", "hour="]
                    .iter()
                    .any(|p| name.starts_with(p))
                    && only_ours(&entry.path())?
            } else {
                file_type.is_file() && (name.ends_with(".gz") || name.ends_with(PARTIAL_SUFFIX))
            };
            if !ours {
                return Ok(false);
            }
        }
        Ok(true)
    }
    match fs::symlink_metadata(records_dir) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", records_dir.display())),
        Ok(metadata) if !metadata.is_dir() => {
            bail!("{} exists and is not a directory", records_dir.display())
        }
        Ok(_) => {}
    }
    if !only_ours(records_dir).with_context(|| format!("cannot read {}", records_dir.display()))? {
        bail!(
            "{} holds files that `s3logs run` did not write; choose another --out",
            records_dir.display()
        );
    }
    fs::remove_dir_all(records_dir).with_context(|| format!("cannot remove {}", records_dir.display()))
}

/// One hour partition being written.
struct Partition {
    /// Records not yet compressed.
    pending: Vec<u8>,
    /// Uncompressed bytes already in the current object.
    written: u64,
    /// Number of the current object within the partition.
    sequence: u32,
    /// The current object, once its first member is written: still under its temporary name.
    object: Option<PathBuf>,
    /// When a record last went to this partition, in records pushed, to find the least
    /// recently used one.
    last_used: u64,
}

/// Writes records into gzip objects per hour partition, as Firehose does with its buffers.
///
/// At most [`OPEN_PARTITIONS`] partitions are held at once, so memory does not grow with the
/// number of hours the input spans: a record for another hour first finishes the least
/// recently used partition as a complete object; if that hour comes back, a new object is
/// started for it (as Firehose does when a buffer is flushed). Each object is written under a
/// temporary name in its directory and renamed once complete, so an interrupted run leaves no
/// partial object under an object's name.
struct ObjectWriter {
    root: PathBuf,
    object_bytes: u64,
    open: BTreeMap<Hour, Partition>,
    /// Sequence number of the next object of each hour whose partition was finished: one
    /// number per hour, so a returning hour never overwrites an object.
    next_sequence: HashMap<Hour, u32>,
    /// Records pushed so far, the clock of `last_used`.
    pushed: u64,
    objects: Vec<PathBuf>,
}

impl ObjectWriter {
    fn new(root: PathBuf, object_bytes: u64) -> Self {
        ObjectWriter {
            root,
            object_bytes,
            open: BTreeMap::new(),
            next_sequence: HashMap::new(),
            pushed: 0,
            objects: Vec::new(),
        }
    }

    fn push(&mut self, hour: Hour, record: &[u8]) -> io::Result<()> {
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
        if held > 0 && held + record.len() as u64 > self.object_bytes {
            finish_object(&self.root, hour, partition, &mut self.objects)?;
            partition.sequence += 1;
        }
        partition.pending.extend_from_slice(record);
        if partition.pending.len() >= MEMBER_BYTES {
            write_member(&self.root, hour, partition)?;
        }
        Ok(())
    }

    fn finish_least_recently_used(&mut self) -> io::Result<()> {
        let oldest = self
            .open
            .iter()
            .min_by_key(|(_, partition)| partition.last_used)
            .map(|(hour, _)| *hour);
        if let Some((hour, mut partition)) = oldest.and_then(|hour| self.open.remove_entry(&hour)) {
            finish_object(&self.root, hour, &mut partition, &mut self.objects)?;
            self.next_sequence.insert(hour, partition.sequence + 1);
        }
        Ok(())
    }

    /// Finishes every object and returns them all, in path order.
    fn finish(mut self) -> io::Result<Vec<PathBuf>> {
        for (hour, partition) in &mut self.open {
            finish_object(&self.root, *hour, partition, &mut self.objects)?;
        }
        self.objects.sort();
        Ok(self.objects)
    }
}

/// Writes what is pending, then gives the partition's current object its final name.
fn finish_object(
    root: &Path,
    hour: Hour,
    partition: &mut Partition,
    objects: &mut Vec<PathBuf>,
) -> io::Result<()> {
    write_member(root, hour, partition)?;
    if let Some(partial) = partition.object.take() {
        let complete = partial.with_extension("");
        fs::rename(&partial, &complete)?;
        objects.push(complete);
    }
    partition.written = 0;
    Ok(())
}

/// Appends the pending records of a partition to its current object as one gzip member.
fn write_member(root: &Path, hour: Hour, partition: &mut Partition) -> io::Result<()> {
    if partition.pending.is_empty() {
        return Ok(());
    }
    let path = match &partition.object {
        Some(path) => path.clone(),
        None => {
            let dir = root.join(hour.directory());
            fs::create_dir_all(&dir)?;
            // Firehose's names are `<stream>-<version>-<YYYY-MM-DD-HH-MM-SS>-<uuid>`.
            let path = dir.join(format!(
                "s3logs-run-1-{}-00-00-{:04}{PARTIAL_SUFFIX}",
                hour.stamp(),
                partition.sequence
            ));
            partition.object = Some(path.clone());
            path
        }
    };
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    let mut member = GzEncoder::new(BufWriter::new(file), Compression::default());
    member.write_all(&partition.pending)?;
    member.finish()?.flush()?;
    partition.written += partition.pending.len() as u64;
    partition.pending.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_hour_of_a_record() {
        let finder = Finder::new(b",\"Timestamp\":\"");
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
            let hour = record_hour(&finder, record.as_bytes())
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
        let mut writer = ObjectWriter::new(root.clone(), u64::MAX);
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
        let names: Vec<_> = fs::read_dir(&first)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(first.join("s3logs-run-1-2025-01-01-00-00-00-0001.gz").exists());
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
