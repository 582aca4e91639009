//! `s3logs run`: the whole pipeline on local files, no AWS needed, on every core.
//!
//! Stage 1 does what the preprocessor and Firehose do: raw logs are parsed into NDJSON records
//! (the same [`RecordReader`] as the Lambda) and packed into objects under Hive-style
//! partitions (see `objects`): gzip NDJSON by default, or with `--format parquet` Parquet of
//! the `columnar` table, as Firehose's record format conversion writes it. Stage 2 does what the postprocessor does: every object written
//! is audited with the same engine, and the hits are printed as `s3logs audit` prints them.
//!
//! Work: the inputs are planned into units (see `plan`: small files grouped, large plain
//! files cut into byte ranges, gzip files whole) and `--jobs` worker threads take the units in
//! turn, each unit written by an object writer of its own, so the memory of a worker is one
//! writer's whatever the span of hours. A worker that finishes a unit audits the objects
//! waiting for the audit if no other worker is doing so, so the audit (one engine, one output)
//! overlaps the packing and `--jobs 1` uses one core. The objects are the same whatever
//! `--jobs` is; with more than one worker only the order of the hit lines varies.
//!
//! Output directory: `records/` holds the objects and `manifest/` the inputs processed into
//! it (see `manifest`, whose lock keeps a second run out while one writes). A run adds to what is there: inputs already processed are skipped,
//! their records stay; objects of a job that never reached the manifest (an interrupted run,
//! an input that failed part-way, or a damaged file: cut gzip, unsupported compression) are
//! removed by the next run before it starts and the job is read again, so every record ends up
//! exactly once and a damaged file is reported by every run until it is replaced. A file of
//! another format (records, a CloudFront log, other JSON) is one quarantine record, reported
//! once and recorded as processed.
//! `--fresh` starts over. Only the objects written by this run are audited (`s3logs audit
//! <out>/records` audits them all).
//!
//! Partitioning: Firehose partitions by *arrival* time, which locally would put everything
//! under the hour the command ran. Here a record goes to the hour of its own `Timestamp`
//! instead, so the layout is reproducible and shows what the data covers. A record without a
//! `Timestamp` (a line that could not be parsed) goes with the record before it in the same
//! input, or, at the very start of an input, under the current hour, as Firehose would do.

mod manifest;
mod objects;
mod plan;
mod progress;

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError, mpsc};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use pipeline::audit::{Auditor, Format, ObjectReport};
use pipeline::ingest::{Limits, RecordReader, Stats};

use self::manifest::{JobRecord, MANIFEST_DIR, Manifest};
use self::objects::{ObjectWriter, PieceRecords, remove_uncommitted};
use self::plan::{MIN_UNIT_BYTES, Piece, Plan, Source, UNIT_BYTES, Unit};
use self::progress::Progress;
use crate::audit::{
    FormatCounts, Problem, RuleArgs, describe_problems, expansion_problems, finish, is_broken_pipe, plural,
    report,
};
use crate::inputs::{self, Input, Outputs};
use crate::records_out::RecordFormat;

/// Name of the partition tree under `--out`.
pub const RECORDS_DIR: &str = "records";

/// Inputs of a job named in a message about all of them; the rest are counted.
const NAMED_INPUTS: usize = 5;

/// Lines counted by a worker before they are added to the shared progress counter.
const LINES_PER_PROGRESS: u64 = 4096;

/// Arguments of `s3logs run`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    s3logs run samples/ --out out/\n  \
    s3logs run access-logs/ --out out/ --jobs 4\n  \
    s3logs run access-logs/ --out out/ --format parquet\n  \
    s3logs run access-logs/ --out out/ --rules sigv2 --json > sigv2-hits.ndjson\n\n\
    A rerun into the same --out reads only the inputs not processed into it yet (new files, or\n\
    files that changed) and adds their records; the records already there stay. A damaged file\n\
    (cut or corrupt gzip, unsupported compression) is packed as its readable lines and one\n\
    quarantine record, but not recorded as processed: every rerun removes those records, reads\n\
    it again and exits with status 1, until a good copy replaces it; its records are never there\n\
    twice. A file of another format (records, a CloudFront log) is one quarantine record and\n\
    exit status 1 once, then recorded as processed.")]
pub struct RunArgs {
    /// Raw S3 server access log files or directories (read recursively), gzipped or not;
    /// `-` reads standard input.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Directory for the output: objects in `records/`, the inputs processed in `manifest/`.
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,
    /// `json`: objects of gzip NDJSON records, as Firehose writes them. `parquet`: Parquet
    /// objects whose columns take AWS's native field names (docs/record.md, "Columnar
    /// records"), as Firehose's record format conversion writes them.
    #[arg(long, value_enum, default_value_t = RecordFormat::Json, hide_possible_values = true)]
    pub format: RecordFormat,
    /// Start a new object once one holds this many uncompressed bytes (Firehose's buffer
    /// size, at most 128 MiB).
    #[arg(long, value_name = "BYTES", default_value_t = 128 << 20)]
    pub object_bytes: u64,
    /// Units of work hold about this many raw bytes: smaller files are grouped up to it,
    /// larger plain-text files are cut into ranges of it that workers read at once (at least
    /// 64 KiB).
    #[arg(long, value_name = "BYTES", default_value_t = UNIT_BYTES,
          value_parser = clap::value_parser!(u64).range(MIN_UNIT_BYTES..))]
    pub unit_bytes: u64,
    /// Worker threads [default: all cores].
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<NonZeroUsize>,
    /// Remove the records and the manifest of earlier runs into --out, and read every input.
    #[arg(long)]
    pub fresh: bool,
    /// Rules and output.
    #[command(flatten)]
    pub rules: RuleArgs,
}

/// The directories `run` writes under the output directory `out`: the objects, the manifest.
/// A directory holding both is a run's output.
pub fn output_dirs(out: &Path) -> [PathBuf; 2] {
    [out.join(RECORDS_DIR), out.join(MANIFEST_DIR)]
}

/// Runs `s3logs run`; the exit code is non-zero if any input could not be read.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let auditor = args.rules.auditor()?;
    let [records_dir, manifest_dir] = output_dirs(&args.out);
    // Expanded before anything under --out is removed, so an input among it is refused rather
    // than deleted.
    let outputs = Outputs::new()
        .stdout()
        .dir(&records_dir)
        .dir(&manifest_dir)
        .skip_run_outputs();
    let expansion = inputs::expand(&args.inputs, &outputs)?;
    let mut manifest = Manifest::open(&args.out)?;
    for damaged in &manifest.damaged {
        eprintln!(
            "s3logs: warning: removed a damaged manifest entry, {damaged}; its job counts as not \
             processed"
        );
    }
    if args.fresh {
        // Jobs are forgotten before their objects are removed: a run killed in between leaves
        // objects of no job, which the next run removes and reads again, never jobs without
        // their objects, whose inputs every later run would skip.
        manifest.clear()?;
    }
    let removed = remove_uncommitted(&records_dir, args.format, &|job| manifest.has_job(job))?;
    if !args.fresh && removed > 0 {
        eprintln!(
            "s3logs run: removed {removed} objects that an interrupted run left unfinished, or of damaged \
             inputs; their inputs are read again"
        );
    }
    let mut problems = expansion_problems(&expansion);
    let plan = plan::plan(expansion.inputs, &manifest, args.unit_bytes, nonce());
    problems.extend(
        plan.unreadable
            .iter()
            .map(|(name, error)| Problem::fatal(format!("{name}: {error}"))),
    );
    problems.extend(plan.changed.iter().map(|name| Problem {
        message: format!(
            "{name} changed since it was processed into {}: read again; the records of its earlier \
             content stay (lines in both share a RecordId); --fresh starts over",
            args.out.display()
        ),
        fatal: false,
    }));

    let workers = args
        .jobs
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, NonZeroUsize::get)
        .min(plan.units.len().max(1));
    let work = Work {
        plan: &plan,
        records_dir: &records_dir,
        format: args.format,
        object_bytes: args.object_bytes,
        next: AtomicUsize::new(0),
        progress: Progress::new(plan.bytes()),
        audit: AuditStage::new(auditor, args.format),
    };
    let mut committer = Committer::new(&plan, &mut manifest);
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::channel();
        scope.spawn(|| work.progress.tick_until_finished());
        for _ in 0..workers {
            let sender = sender.clone();
            scope.spawn(|| work.run_worker(sender));
        }
        drop(sender);
        for done in receiver {
            committer.unit_done(done);
        }
        work.progress.finish();
    });
    work.audit.audit_queued(true);
    let packed = committer.finish();
    eprintln!(
        "s3logs run: {}, {} ({} with ParseError) packed into {} {} {} ({:.1} kB) under {} by {}; {} \
         already processed into {} skipped",
        plural(plan.sources.len() as u64, "input"),
        plural(packed.stats.records, "record"),
        packed.stats.parse_errors,
        packed.objects,
        objects::description(work.format),
        if packed.objects == 1 { "object" } else { "objects" },
        packed.object_bytes as f64 / 1e3,
        records_dir.display(),
        plural(workers as u64, "worker"),
        plural(plan.already_processed as u64, "input"),
        args.out.display(),
    );
    problems.extend(packed.problems);

    let mut audit = work.audit.into_state();
    problems.append(&mut audit.problems);
    if audit.closed {
        return Ok(report(&problems));
    }
    finish(
        &mut audit.auditor,
        &args.rules,
        &mut audit.out,
        &audit.formats,
        &problems,
    )
}

/// A number that makes the jobs of streams (which have no identity) unique to this run.
fn nonce() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ u64::from(std::process::id()).rotate_left(32)
}

/// What the workers share.
struct Work<'a> {
    plan: &'a Plan,
    records_dir: &'a Path,
    format: RecordFormat,
    object_bytes: u64,
    /// The next unit to take.
    next: AtomicUsize,
    progress: Progress,
    audit: AuditStage,
}

/// What a worker reports about one unit.
struct UnitDone {
    /// Index into [`Plan::units`].
    unit: usize,
    /// The objects written, complete and in place.
    objects: Vec<PathBuf>,
    stats: Stats,
    problems: Vec<Problem>,
    /// Whether an input failed part-way, a file was damaged or an object could not be written:
    /// the job is then not committed.
    failed: bool,
}

impl Work<'_> {
    /// Takes units until none is left, reporting each to `done`, and audits between them.
    fn run_worker(&self, done: mpsc::Sender<UnitDone>) {
        loop {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(unit) = self.plan.units.get(index) else {
                return;
            };
            let report = self.write_unit(index, unit);
            self.audit.enqueue(&report.objects);
            if done.send(report).is_err() {
                return;
            }
            self.audit.audit_queued(false);
        }
    }

    /// Packs the pieces of one unit into its own objects.
    fn write_unit(&self, index: usize, unit: &Unit) -> UnitDone {
        let job = &self.plan.jobs[unit.job];
        let mut writer = ObjectWriter::new(
            self.records_dir,
            self.format,
            job.id,
            unit.index,
            self.object_bytes,
        );
        let mut stats = Stats::default();
        let mut problems = Vec::new();
        let mut failed = false;
        for piece in &unit.pieces {
            let source = &self.plan.sources[piece.source];
            match self.pack(source, piece, &mut writer) {
                Ok(piece_stats) => {
                    if let Some(unreadable) = piece_stats.unreadable {
                        // A damaged file stays out of the manifest, so that every run reports it
                        // and reads it again (after removing what this run packed of it) until
                        // a good copy replaces it; a stream cannot be read again, so its records
                        // are kept. A file of another format is what it is: it is recorded, as
                        // reading it again would only report it again.
                        failed |= source.file.is_some() && !unreadable.reason.is_another_format();
                        problems.push(Problem::fatal(format!(
                            "{}: {unreadable}; the lines before it and a quarantine record were packed",
                            source.name
                        )));
                    }
                    stats += piece_stats;
                }
                Err(error) => {
                    failed = true;
                    problems.push(Problem::fatal(format!("{}: {error:#}", source.name)));
                }
            }
        }
        let objects = writer.finish().unwrap_or_else(|error| {
            failed = true;
            problems.push(Problem::fatal(format!("writing objects: {error}")));
            Vec::new()
        });
        UnitDone {
            unit: index,
            objects,
            stats,
            problems,
            failed,
        }
    }

    /// Parses one piece of an input and hands its records to the writer, partitioned by hour.
    fn pack(&self, source: &Source, piece: &Piece, writer: &mut ObjectWriter) -> anyhow::Result<Stats> {
        let reader = open_piece(&source.input, piece).context("cannot open")?;
        let mut records = RecordReader::new(self.progress.counting(reader), &source.name, Limits::default())?;
        let mut filed = PieceRecords::new(writer);
        let mut lines = 0;
        while records.write_next(&mut filed)? {
            lines += 1;
            if lines == LINES_PER_PROGRESS {
                self.progress.add_lines(lines);
                lines = 0;
            }
        }
        self.progress.add_lines(lines);
        Ok(records.stats())
    }
}

/// The bytes of `input` that `piece` reads.
fn open_piece(input: &Input, piece: &Piece) -> io::Result<Box<dyn Read>> {
    match (input, &piece.range) {
        (Input::File(path), Some(range)) => {
            let mut file = File::open(path)?;
            file.seek(SeekFrom::Start(range.start))?;
            Ok(Box::new(file.take(range.end - range.start)))
        }
        _ => input.open(),
    }
}

/// What the packing stage did, for the summary.
struct Packed {
    stats: Stats,
    objects: usize,
    object_bytes: u64,
    problems: Vec<Problem>,
}

/// Collects the workers' reports on the main thread and commits each job to the manifest once
/// all its units are in place.
struct Committer<'a> {
    plan: &'a Plan,
    manifest: &'a mut Manifest,
    /// Per job: units not reported yet, whether one failed, records and objects written.
    units_left: Vec<usize>,
    failed: Vec<bool>,
    records: Vec<u64>,
    objects: Vec<usize>,
    packed: Packed,
}

impl<'a> Committer<'a> {
    fn new(plan: &'a Plan, manifest: &'a mut Manifest) -> Self {
        let jobs = plan.jobs.len();
        Committer {
            plan,
            manifest,
            units_left: plan.jobs.iter().map(|job| job.units).collect(),
            failed: vec![false; jobs],
            records: vec![0; jobs],
            objects: vec![0; jobs],
            packed: Packed {
                stats: Stats::default(),
                objects: 0,
                object_bytes: 0,
                problems: Vec::new(),
            },
        }
    }

    fn unit_done(&mut self, done: UnitDone) {
        let job = self.plan.units[done.unit].job;
        self.units_left[job] -= 1;
        self.failed[job] |= done.failed;
        self.records[job] += done.stats.records;
        self.objects[job] += done.objects.len();
        self.packed.stats += done.stats;
        self.packed.objects += done.objects.len();
        self.packed.object_bytes += done
            .objects
            .iter()
            .filter_map(|object| fs::metadata(object).ok())
            .map(|metadata| metadata.len())
            .sum::<u64>();
        self.packed.problems.extend(done.problems);
        if self.units_left[job] == 0 {
            self.commit(job);
        }
    }

    fn commit(&mut self, job: usize) {
        let sources = &self.plan.jobs[job].sources;
        // A job of small files holds thousands of them: the first few are named, so that one
        // damaged file among a year of logs makes a line to read rather than a page.
        let names = || {
            let mut names = sources
                .iter()
                .take(NAMED_INPUTS)
                .map(|&source| self.plan.sources[source].name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            if sources.len() > NAMED_INPUTS {
                names.push_str(&format!(" and {} more", sources.len() - NAMED_INPUTS));
            }
            names
        };
        if self.failed[job] {
            self.packed.problems.push(Problem::fatal(format!(
                "not recorded as processed, so the next run reads them again: {}",
                names()
            )));
            return;
        }
        let record = JobRecord {
            job: self.plan.jobs[job].id,
            inputs: sources
                .iter()
                .map(|&source| {
                    let source = &self.plan.sources[source];
                    source.file.as_ref().ok_or(source.name.as_str())
                })
                .collect(),
            records: self.records[job],
            objects: self.objects[job],
        };
        if let Err(error) = self.manifest.commit(&record) {
            self.packed.problems.push(Problem::fatal(format!(
                "{error:#}; the next run reads these again: {}",
                names()
            )));
        }
    }

    fn finish(self) -> Packed {
        self.packed
    }
}

/// The audit of the objects written, shared by the workers: one auditor and one output, used
/// by whichever worker is free.
struct AuditStage {
    state: Mutex<AuditState>,
    queue: Mutex<VecDeque<PathBuf>>,
}

/// The auditor and what it has written and found.
struct AuditState {
    auditor: Auditor,
    /// Whether the objects are Parquet (else gzip NDJSON).
    parquet: bool,
    out: BufWriter<io::Stdout>,
    formats: FormatCounts,
    problems: Vec<Problem>,
    /// Set once the reader of standard output went away: nothing more is audited.
    closed: bool,
}

impl AuditStage {
    fn new(auditor: Auditor, format: RecordFormat) -> Self {
        AuditStage {
            state: Mutex::new(AuditState {
                auditor,
                parquet: format == RecordFormat::Parquet,
                out: BufWriter::with_capacity(1 << 20, io::stdout()),
                formats: FormatCounts::default(),
                problems: Vec::new(),
                closed: false,
            }),
            queue: Mutex::new(VecDeque::new()),
        }
    }

    fn enqueue(&self, objects: &[PathBuf]) {
        lock(&self.queue).extend(objects.iter().cloned());
    }

    /// Audits the queued objects. Without `wait`, returns at once if another worker is
    /// auditing: it will take these too, since it looks at the queue again before it stops.
    fn audit_queued(&self, wait: bool) {
        loop {
            let mut state = match self.state.try_lock() {
                Ok(state) => state,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) if !wait => return,
                Err(TryLockError::WouldBlock) => lock(&self.state),
            };
            loop {
                // Taken off the queue first, so the queue is not locked during the audit.
                let next = lock(&self.queue).pop_front();
                let Some(object) = next else {
                    break;
                };
                state.audit(&object);
            }
            drop(state);
            if lock(&self.queue).is_empty() {
                return;
            }
        }
    }

    fn into_state(self) -> AuditState {
        self.state.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AuditState {
    fn audit(&mut self, object: &Path) {
        if self.closed {
            return;
        }
        let name = object.display().to_string();
        match self.audit_object(object, &name) {
            Ok(report) => {
                self.formats.add(Format::Records);
                self.problems.extend(describe_problems(&name, &report));
            }
            Err(error) if is_broken_pipe(&error) => self.closed = true,
            Err(error) => self.problems.push(Problem::fatal(format!("{name}: {error:#}"))),
        }
    }

    /// Audits an object this run wrote, in the format it was written in. It is not sniffed
    /// first, as `s3logs audit` sniffs a file of unknown format: that opens a second gzip
    /// decoder and read buffer per object, about 340 kB allocated and freed for each of
    /// thousands of objects between the auditor's long-lived allocations, which fragmented the
    /// heap (a 1 GB run with every detection: 78 MiB peak RSS with the sniff, 65 without).
    fn audit_object(&mut self, object: &Path, name: &str) -> anyhow::Result<ObjectReport> {
        let file = File::open(object).context("cannot open")?;
        let report = match self.parquet {
            true => self.auditor.audit_parquet(file, name, u64::MAX, &mut self.out)?,
            false => self
                .auditor
                .audit_object(file, name, Format::Records, u64::MAX, &mut self.out)?,
        };
        Ok(report)
    }
}

/// Locks `mutex`; a worker that panicked holding it left nothing half-done that matters here.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
