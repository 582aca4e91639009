//! The function: recognize the event, deliver each object it names, answer in the event's own
//! format, and print one CloudWatch EMF line of metrics per invocation.
//!
//! How failures are answered, so that no line is lost and nothing is retried in vain:
//! - S3 notifications and EventBridge: an error is returned (Lambda retries, then the on-failure
//!   destination keeps the event) unless the object itself can never be delivered (gone,
//!   corrupt), which is logged and counted instead.
//! - SQS: each failed message is listed in `batchItemFailures`, so only it is redelivered (and
//!   ends in the queue's DLQ if it keeps failing); the others are deleted.
//!   <https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>
//! - Batch Operations: each task is `Succeeded`, `TemporaryFailure` (Batch Operations retries
//!   it) or `PermanentFailure` (it goes to the job's completion report).
//!   <https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html>
//!
//! Objects outside the source bucket/prefix, the pipeline's own output and zero-byte objects are
//! skipped with a log line and a counter, never an error.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::s3::batch_job::{S3BatchJobEvent, S3BatchJobResponse, S3BatchJobResult};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{Context, LambdaEvent};
use pipeline::emf::{MetricLine, Unit};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::Error;
use crate::config::Config;
use crate::deliver::{Delivery, ObjectSource, Outcome, RecordSink, deliver_object};
use crate::event::{
    Event, ObjectRef, Target, batch_task_target, eventbridge_target, s3_targets, sqs_body_targets,
};

/// The function's state: configuration and clients, built once per execution environment.
pub struct Handler<S, K> {
    config: Config,
    source: S,
    sink: Arc<K>,
}

/// Counts of one invocation: the metrics it reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Lines, records and Firehose calls of every object.
    pub delivery: Delivery,
    /// Objects fully delivered.
    pub objects: u64,
    /// Objects skipped (outside the source, own output, empty) and entries with nothing to do.
    pub skipped: u64,
    /// Objects or messages that failed.
    pub failed: u64,
    /// Wall time of the invocation.
    pub duration: Duration,
}

impl Totals {
    /// The invocation's EMF line: namespace `S3AccessLogs`, dimension `Function=preprocessor`.
    /// Alarms in the template use these metric names.
    pub fn metric_line(&self) -> MetricLine {
        let delivery = &self.delivery;
        let count = |line: MetricLine, name: &str, value: u64| line.metric(name, Unit::Count, value as f64);
        let line = MetricLine::new().dimension("Function", "preprocessor");
        let line = count(line, "LinesRead", delivery.ingest.lines);
        let line = count(line, "Records", delivery.ingest.records);
        let line = count(line, "ParseErrors", delivery.ingest.parse_errors);
        let line = count(line, "FirehoseRecords", delivery.firehose_records);
        let line = count(line, "FirehoseBatches", delivery.firehose_batches);
        let line = count(line, "RetriedEntries", delivery.retried_entries);
        let line = count(line, "Billed5KBUnits", delivery.billed_units);
        let line = line.metric("BytesIn", Unit::Bytes, delivery.ingest.bytes_in as f64);
        let line = line.metric("DurationMs", Unit::Milliseconds, self.duration.as_millis() as f64);
        let line = count(line, "ObjectsRead", self.objects);
        let line = count(line, "ObjectsSkipped", self.skipped);
        count(line, "ObjectsFailed", self.failed)
    }
}

/// The answer to one event, with its counts.
#[derive(Debug)]
pub struct Invocation {
    /// What the function returns to Lambda.
    pub result: Result<Value, Error>,
    /// What it did.
    pub totals: Totals,
}

/// How one object ended, when it did not fail.
enum Done {
    Delivered(Delivery),
    Skipped(&'static str),
}

impl<S: ObjectSource, K: RecordSink> Handler<S, K> {
    /// A handler reading through `source` and writing to `sink`.
    pub fn new(config: Config, source: S, sink: K) -> Self {
        Handler {
            config,
            source,
            sink: Arc::new(sink),
        }
    }

    /// The Lambda entry point: handles the event and prints the metrics line.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        let invocation = self.run(event).await;
        println!("{}", invocation.totals.metric_line().render(epoch_ms()));
        invocation.result
    }

    /// Handles the event and returns the answer with the counts, printing nothing.
    pub async fn run(&self, event: LambdaEvent<Value>) -> Invocation {
        let started = Instant::now();
        let deadline = deadline(&event.context, self.config.tuning.deadline_margin);
        let mut totals = Totals::default();
        let result = match Event::from_value(event.payload) {
            Ok(Event::S3(event)) => self.notification(s3_targets(&event), deadline, &mut totals).await,
            Ok(Event::S3Test) => {
                tracing::info!(event = "s3:TestEvent", "test event acknowledged");
                Ok(json!({"ignored": "s3:TestEvent"}))
            }
            Ok(Event::EventBridge(event)) => match eventbridge_target(&event) {
                Ok(target) => self.notification(vec![target], deadline, &mut totals).await,
                Err(error) => Err(error),
            },
            Ok(Event::Sqs(event)) => self.sqs(event, deadline, &mut totals).await,
            Ok(Event::BatchJob(job)) => self.batch_job(job, deadline, &mut totals).await,
            Err(error) => Err(error),
        };
        if let Err(error) = &result {
            tracing::error!(error = %error, error_type = error.kind(), "invocation failed");
        }
        totals.duration = started.elapsed();
        Invocation { result, totals }
    }

    /// S3 notifications and EventBridge events: every object, or an error to keep the event.
    async fn notification(
        &self,
        targets: Vec<Target>,
        deadline: Option<Instant>,
        totals: &mut Totals,
    ) -> Result<Value, Error> {
        for target in targets {
            match target {
                Target::Ignore(reason) => ignore(&reason, totals),
                Target::Object(object) => match self.object(&object, deadline, totals).await {
                    Err(error) if !error.is_permanent() => return Err(error),
                    _ => {}
                },
            }
        }
        Ok(json!({"delivered": totals.objects, "skipped": totals.skipped, "failed": totals.failed}))
    }

    /// SQS: messages that failed are reported for redelivery; the rest are done.
    async fn sqs(
        &self,
        event: SqsEvent,
        deadline: Option<Instant>,
        totals: &mut Totals,
    ) -> Result<Value, Error> {
        let mut failures = Vec::new();
        let mut out_of_time = false;
        for message in event.records {
            let keep = if out_of_time {
                true
            } else {
                match sqs_body_targets(message.body.as_deref().unwrap_or_default()) {
                    Err(error) => {
                        totals.failed += 1;
                        tracing::warn!(message_id = message.message_id.as_deref(), error = %error, "unreadable SQS message");
                        true
                    }
                    Ok(targets) => {
                        let mut keep = false;
                        for target in targets {
                            match target {
                                Target::Ignore(reason) => ignore(&reason, totals),
                                Target::Object(object) => {
                                    if let Err(error) = self.object(&object, deadline, totals).await {
                                        out_of_time = matches!(error, Error::OutOfTime);
                                        if !error.is_permanent() {
                                            keep = true;
                                            break;
                                        }
                                    }
                                }
                            }
                        }
                        keep
                    }
                }
            };
            if keep {
                let Some(item_identifier) = message.message_id else {
                    // Without an id the failure cannot be reported alone: fail the whole batch.
                    return Err(Error::UnknownEvent(
                        "a failed SQS message has no messageId".to_owned(),
                    ));
                };
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = item_identifier;
                failures.push(failure);
            }
        }
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = failures;
        serde_json::to_value(response).map_err(|error| Error::Internal(error.to_string()))
    }

    /// Batch Operations: one result per task.
    async fn batch_job(
        &self,
        job: S3BatchJobEvent,
        deadline: Option<Instant>,
        totals: &mut Totals,
    ) -> Result<Value, Error> {
        let mut results = Vec::with_capacity(job.tasks.len());
        let mut out_of_time = false;
        for task in &job.tasks {
            let (code, text) = if out_of_time {
                ("TemporaryFailure", Error::OutOfTime.to_string())
            } else {
                match batch_task_target(task) {
                    Err(error) => {
                        totals.failed += 1;
                        ("PermanentFailure", error.to_string())
                    }
                    Ok(object) => match self.object(&object, deadline, totals).await {
                        Ok(Done::Delivered(delivery)) => (
                            "Succeeded",
                            format!(
                                "delivered {} lines in {} Firehose records",
                                delivery.ingest.lines, delivery.firehose_records
                            ),
                        ),
                        Ok(Done::Skipped(reason)) => ("Succeeded", format!("skipped: {reason}")),
                        Err(error) => {
                            out_of_time = matches!(error, Error::OutOfTime);
                            let code = if error.is_permanent() || !(error.is_retryable() || out_of_time) {
                                "PermanentFailure"
                            } else {
                                "TemporaryFailure"
                            };
                            (code, error.to_string())
                        }
                    },
                }
            };
            let mut result = S3BatchJobResult::default();
            result.task_id = task.task_id.clone();
            result.result_code = Some(code.to_owned());
            result.result_string = Some(text);
            results.push(result);
        }
        let mut response = S3BatchJobResponse::default();
        response.invocation_schema_version = job.invocation_schema_version;
        response.invocation_id = job.invocation_id;
        // A key that vanished before its task ran has nothing to deliver and never will.
        response.treat_missing_keys_as = Some("PermanentFailure".to_owned());
        response.results = results;
        serde_json::to_value(response).map_err(|error| Error::Internal(error.to_string()))
    }

    /// One object: skipped, delivered or failed, with one summary log event either way.
    async fn object(
        &self,
        object: &ObjectRef,
        deadline: Option<Instant>,
        totals: &mut Totals,
    ) -> Result<Done, Error> {
        let (bucket, key) = (object.bucket.as_str(), object.key.as_str());
        let skip = if self.config.is_own_output(bucket, key) {
            Some("the pipeline's own output (OUTPUT_BUCKET/OUTPUT_PREFIX)")
        } else if !self.config.is_source(bucket, key) {
            Some("outside SOURCE_BUCKET/SOURCE_PREFIX")
        } else if object.size == Some(0) {
            Some(EMPTY)
        } else {
            None
        };
        if let Some(reason) = skip {
            totals.skipped += 1;
            tracing::info!(bucket, key, outcome = "skipped", reason, "object skipped");
            return Ok(Done::Skipped(reason));
        }

        let started = Instant::now();
        let mut delivery = Delivery::default();
        let result = deliver_object(
            &self.source,
            &self.sink,
            object,
            &self.config,
            deadline,
            &mut delivery,
        )
        .await;
        totals.delivery.add(&delivery);
        let d = &delivery;
        let duration_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(Outcome::Empty) => {
                totals.skipped += 1;
                tracing::info!(bucket, key, outcome = "skipped", reason = EMPTY, "object skipped");
                Ok(Done::Skipped(EMPTY))
            }
            Ok(Outcome::Delivered) => {
                totals.objects += 1;
                tracing::info!(
                    bucket, key, outcome = "delivered",
                    lines = d.ingest.lines, records = d.ingest.records, parse_errors = d.ingest.parse_errors,
                    truncated = d.ingest.truncated, bytes_in = d.ingest.bytes_in, object_bytes = d.object_bytes,
                    firehose_records = d.firehose_records, firehose_batches = d.firehose_batches,
                    put_calls = d.put_calls, retried_entries = d.retried_entries, billed_5kb_units = d.billed_units,
                    packing = %self.config.packing, duration_ms,
                    "object delivered"
                );
                Ok(Done::Delivered(delivery))
            }
            Err(error) => {
                totals.failed += 1;
                tracing::error!(
                    bucket, key, outcome = "failed", error = %error, error_type = error.kind(),
                    permanent = error.is_permanent(),
                    lines_read = d.ingest.lines, firehose_records = d.firehose_records,
                    put_calls = d.put_calls, retried_entries = d.retried_entries, duration_ms,
                    "object failed"
                );
                Err(error)
            }
        }
    }
}

const EMPTY: &str = "zero-byte object";

fn ignore(reason: &str, totals: &mut Totals) {
    totals.skipped += 1;
    tracing::info!(outcome = "skipped", reason, "event entry ignored");
}

/// When work must stop: the invocation deadline less the margin, but never more than a tenth of
/// the time left (a function with a 3 s timeout must not stop before it starts). `None` when the
/// context has no deadline (a local run).
fn deadline(context: &Context, margin: Duration) -> Option<Instant> {
    if context.deadline == 0 {
        return None;
    }
    let remaining = if context.deadline < EPOCH_2001_MS {
        // Not a point in time: `cargo lambda watch` sends the timeout itself (600000).
        Duration::from_millis(context.deadline)
    } else {
        Duration::from_millis(context.deadline.saturating_sub(epoch_ms()))
    };
    Some(Instant::now() + remaining.saturating_sub(margin.min(remaining / 10)))
}

/// 2001-01-01 in milliseconds since the epoch: any real deadline is later.
const EPOCH_2001_MS: u64 = 978_307_200_000;

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_line_has_the_names_the_alarms_use() {
        let mut totals = Totals::default();
        totals.delivery.ingest.lines = 10;
        totals.delivery.firehose_records = 2;
        totals.delivery.billed_units = 3;
        totals.duration = Duration::from_millis(1500);
        let line: Value = serde_json::from_str(&totals.metric_line().render(1)).unwrap();
        let names: Vec<&str> = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|metric| metric["Name"].as_str().unwrap())
            .collect();
        for expected in [
            "LinesRead",
            "Records",
            "ParseErrors",
            "FirehoseRecords",
            "FirehoseBatches",
            "RetriedEntries",
            "Billed5KBUnits",
            "BytesIn",
            "DurationMs",
        ] {
            assert!(names.contains(&expected), "{expected} missing from {names:?}");
        }
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "S3AccessLogs");
        assert_eq!(line["Function"], "preprocessor");
        assert_eq!(line["LinesRead"], 10.0);
        assert_eq!(line["Billed5KBUnits"], 3.0);
        assert_eq!(line["DurationMs"], 1500.0);
    }

    #[test]
    fn deadline_leaves_the_margin() {
        let mut context = Context::default();
        assert_eq!(deadline(&context, Duration::from_secs(1)), None);
        context.deadline = epoch_ms() + 60_000;
        let left = deadline(&context, Duration::from_secs(10)).unwrap() - Instant::now();
        // A minute: the margin is six seconds, a tenth of it.
        assert!(
            left > Duration::from_secs(53) && left <= Duration::from_secs(54),
            "{left:?}"
        );
        // A short timeout keeps nine tenths of its time.
        context.deadline = epoch_ms() + 3_000;
        let left = deadline(&context, Duration::from_secs(10)).unwrap() - Instant::now();
        assert!(
            left > Duration::from_millis(2_500) && left <= Duration::from_millis(2_700),
            "{left:?}"
        );
        context.deadline = epoch_ms().saturating_sub(1);
        assert!(deadline(&context, Duration::from_secs(10)).unwrap() <= Instant::now());
        // The local emulator's relative timeout.
        context.deadline = 600_000;
        let left = deadline(&context, Duration::from_secs(10)).unwrap() - Instant::now();
        assert!(
            left > Duration::from_secs(589) && left <= Duration::from_secs(590),
            "{left:?}"
        );
    }
}
