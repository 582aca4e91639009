//! The event handler: S3 notifications in, audit hits and metrics out.
//!
//! Objects are read through the shared [`lambda_adapter`] (an [`ObjectSource`]: S3 in Lambda,
//! moto_server in tests, downloads resumed with Range requests): gzip or plain NDJSON streams
//! into the audit, a Parquet object (told by its magic bytes, as gzip is) is first copied to
//! local storage ([`crate::spool`]), since Parquet is read from its footer. Findings go to an
//! [`Output`] (stdout in Lambda, a buffer in tests). Each object of the event is audited on a
//! blocking thread with one [`Auditor`] per invocation, so summary mode and the metrics cover the
//! whole invocation. What becomes of an object that failed is its [`Disposition`], the same
//! policy as the preprocessor's: an error to Lambda (retry, then the on-failure destination)
//! when any object is kept for retry.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use lambda_adapter::emf::{MetricLine, Unit};
use lambda_adapter::{Disposition, Event, ObjectRef, ObjectSource, Target, bridge, clock};
use lambda_runtime::LambdaEvent;
use pipeline::audit::{Auditor, Format, ObjectReport};
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use crate::Error;
use crate::config::{Config, FUNCTION_DIMENSION};
use crate::spool::{SpoolError, spool};

/// Where findings are written: a `Write` shared between invocations and the engine thread.
/// Each `write` call writes its whole buffer under the lock, and the engine only ever writes
/// whole lines, so lines never interleave.
#[derive(Clone)]
pub struct Output(Arc<Mutex<Box<dyn Write + Send>>>);

impl Output {
    /// Process stdout, which Lambda sends to CloudWatch Logs line by line.
    pub fn stdout() -> Self {
        Output::new(io::stdout())
    }

    /// Any writer (tests capture into a buffer).
    pub fn new(writer: impl Write + Send + 'static) -> Self {
        Output(Arc::new(Mutex::new(Box::new(writer))))
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut writer = self
            .0
            .lock()
            .map_err(|_| io::Error::other("output lock poisoned"))?;
        writer.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("output lock poisoned"))?
            .flush()
    }
}

/// What one invocation did; returned to the caller (shown by `cargo lambda invoke`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Response {
    /// Objects audited (damaged ones included).
    pub objects: u64,
    /// Records read.
    pub records: u64,
    /// Hits of all rules.
    pub hits: u64,
    /// Lines that are not records.
    pub bad_lines: u64,
    /// Objects that could not be read to the end (corrupt or truncated gzip or Parquet, over
    /// the decoded-size cap).
    pub damaged_objects: u64,
    /// Objects skipped: gone since the event, or a notification without a key.
    pub skipped_objects: u64,
    /// Objects kept for retry (the invocation then fails).
    pub failed_objects: u64,
}

/// The postprocessor's event handler.
pub struct Handler<S> {
    config: Config,
    source: Arc<S>,
    out: Output,
}

impl<S: ObjectSource> Handler<S> {
    /// A handler reading from `source` and writing findings to `out`.
    pub fn new(config: Config, source: S, out: Output) -> Self {
        Handler {
            config,
            source: Arc::new(source),
            out,
        }
    }

    /// Audits every object of an S3 notification (the output bucket's `ObjectCreated` events;
    /// the `s3:TestEvent` S3 sends when the notification is set up is acknowledged, or every
    /// deployment would start with a failed invocation). Returns `Err` when any object is kept
    /// for retry (S3 or the network failed); the other objects have been reported, so a retry
    /// may repeat some hits (their `RecordId` tells duplicates apart).
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Response, Error> {
        let targets = match Event::from_value(event.payload)? {
            Event::S3(targets) => targets,
            Event::S3Test => {
                info!(event = "s3:TestEvent", "test event acknowledged");
                return Ok(Response::default());
            }
            _ => {
                let wrong = "the postprocessor is wired to S3 notifications of the output bucket only";
                return Err(lambda_adapter::Error::Event(wrong.to_owned()).into());
            }
        };
        let mut auditor = Auditor::new(self.config.audit.clone());
        let mut response = Response::default();
        let mut failure = None;
        for target in targets {
            let object = match target {
                Target::Object(object) => object,
                Target::Ignore(reason) => {
                    warn!(reason, "notification record skipped");
                    response.skipped_objects += 1;
                    continue;
                }
            };
            let (bucket, key) = (object.bucket.as_str(), object.key.as_str());
            let (returned, outcome) = self.audit_object(auditor, &object).await?;
            auditor = returned;
            match outcome {
                Ok(report) => {
                    log_report(bucket, key, &report);
                    response.objects += 1;
                }
                Err(error) if error.disposition() == Disposition::Retry => {
                    warn!(error = %error, failure = error.failure().name(), "object failed; the event will be retried");
                    response.failed_objects += 1;
                    failure.get_or_insert(error);
                }
                Err(error) => {
                    warn!(error = %error, failure = error.failure().name(), "object gone; skipped");
                    response.skipped_objects += 1;
                }
            }
        }
        let totals = *auditor.totals();
        response.records = totals.records;
        response.hits = totals.hits.total();
        response.bad_lines = totals.bad_lines;
        response.damaged_objects = totals.damaged_objects;
        self.write_tail(&mut auditor, response.failed_objects)
            .map_err(|source| Error::Read {
                object: "(findings)".to_owned(),
                source,
            })?;
        match failure {
            Some(error) => Err(error),
            None => Ok(response),
        }
    }

    /// Audits one object on a blocking thread. The auditor goes there and comes back; only a
    /// panic on that thread loses it, which fails the invocation.
    async fn audit_object(
        &self,
        mut auditor: Auditor,
        target: &ObjectRef,
    ) -> Result<(Auditor, Result<ObjectReport, Error>), Error> {
        let object = target.log_file();
        let download = match bridge::open(&self.source, target, self.config.read).await {
            Ok(download) => download,
            Err(error) => return Ok((auditor, Err(error.into()))),
        };
        let reader = download.reader;
        let size = download.size;
        let mut out = self.out.clone();
        let config = self.config.clone();
        let task = tokio::task::spawn_blocking(move || {
            let result = audit_body(&mut auditor, reader, size, &object, &config, &mut out);
            (auditor, result)
        });
        let (auditor, result) = task
            .await
            .map_err(|error| Error::Internal(format!("audit thread failed: {error}")))?;
        // Bytes that stopped because the download failed are not damaged content: the source's
        // failure is the outcome, whatever the engine made of the bytes.
        match download.transfer.take_failure() {
            Some(failure) => Ok((auditor, Err(failure.into()))),
            None => Ok((auditor, result)),
        }
    }

    /// Writes what the auditor still holds (summary lines) and the metric lines, with the
    /// objects kept for retry as `ObjectsFailed` (0 included, so the alarm always has data).
    fn write_tail(&self, auditor: &mut Auditor, failed_objects: u64) -> Result<(), pipeline::Error> {
        let mut out = self.out.clone();
        auditor.finish(&mut out)?;
        let now_ms = clock::epoch_ms();
        let mut metrics = String::new();
        let failed = MetricLine::new()
            .dimension("Function", FUNCTION_DIMENSION)
            .metric("ObjectsFailed", Unit::Count, failed_objects as f64);
        for line in [failed.render(now_ms)]
            .into_iter()
            .chain(auditor.metric_lines(FUNCTION_DIMENSION, now_ms))
        {
            metrics.push_str(&line);
            metrics.push('\n');
        }
        out.write_all(metrics.as_bytes()).map_err(pipeline::Error::Io)?;
        out.flush().map_err(pipeline::Error::Io)
    }
}

/// Audits one object's body, by its first bytes: a Parquet object is spooled to local storage
/// and read from there row group by row group; anything else (gzip or plain NDJSON) streams
/// through. Both give the same hits and counts for the same records.
fn audit_body(
    auditor: &mut Auditor,
    mut body: impl Read,
    size: Option<u64>,
    object: &str,
    config: &Config,
    out: &mut dyn Write,
) -> Result<ObjectReport, Error> {
    let read_failed = |source| Error::Read {
        object: object.to_owned(),
        source,
    };
    let mut head = Vec::with_capacity(MAGIC_BYTES);
    (&mut body)
        .take(MAGIC_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|error| read_failed(pipeline::Error::Io(error)))?;
    let max_decoded = config.max_decompressed_bytes;
    if !columnar::is_parquet(&head) {
        return auditor
            .audit_object(head.chain(body), object, Format::Records, max_decoded, out)
            .map_err(read_failed);
    }
    let file =
        spool(&head, body, size, &config.spool_dir, config.max_spool_bytes).map_err(|error| match error {
            SpoolError::TooLarge { size, max } => Error::TooLargeToSpool {
                object: object.to_owned(),
                size,
                max,
            },
            SpoolError::Io(source) => Error::Spool {
                object: object.to_owned(),
                source,
            },
        })?;
    auditor
        .audit_parquet(file, object, max_decoded, out)
        .map_err(read_failed)
}

/// Bytes read ahead to tell a Parquet object (`PAR1`) from NDJSON.
const MAGIC_BYTES: usize = 4;

/// One summary event per object; bad lines are listed (the first few, with line numbers) in it
/// rather than logged one by one.
fn log_report(bucket: &str, key: &str, report: &ObjectReport) {
    let object = format!("s3://{bucket}/{key}");
    if report.bad_lines > 0 || report.damage.is_some() {
        let examples: Vec<String> = report
            .bad_line_examples
            .iter()
            .map(|bad| format!("line {}: {}", bad.line, bad.reason))
            .collect();
        warn!(
            object = %object,
            records = report.records,
            hits = report.hits,
            bad_lines = report.bad_lines,
            bad_line_examples = ?examples,
            damage = report.damage.as_ref().map(ToString::to_string),
            "object audited with bad input"
        );
    } else {
        info!(
            object = %object,
            records = report.records,
            hits = report.hits,
            decoded_bytes = report.decoded_bytes,
            "object audited"
        );
    }
}
