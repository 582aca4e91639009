//! The function: recognize the event, deliver each object it names, answer in the event's own
//! format, and print the invocation's EMF lines.
//!
//! Every object ends in one [`Disposition`] (decided by [`lambda_adapter::Failure`], the same
//! for the postprocessor), and each event kind answers it in its own way:
//! - S3 notifications and EventBridge: an error is returned when any object is kept for retry
//!   (Lambda retries, then the on-failure destination keeps the event).
//! - SQS: each message with an object kept for retry is listed in `batchItemFailures`, so only
//!   it is redelivered (and ends in the queue's DLQ if it keeps failing); the others are
//!   deleted. This answer is only correct when the event source mapping has
//!   `FunctionResponseTypes: [ReportBatchItemFailures]`: without it Lambda ignores the list,
//!   and a batch with a failed message is either deleted whole or (on an error) redelivered
//!   whole. <https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>
//! - Batch Operations: each task is `Succeeded`, `TemporaryFailure` (Batch Operations retries
//!   it) or `PermanentFailure` (only an object that is gone). A task names an object the user
//!   asked for, so one the configuration keeps the function off fails, saying why.
//!   <https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html>
//!
//! An event naming several objects goes on past a failed object, and before it is kept for
//! retry a delivery marker is written for each object it delivered whole; the retry skips those
//! (see [`lambda_adapter::marks`]), so their lines are not sent again.
//!
//! Objects outside the source bucket/prefix, the pipeline's own output and zero-byte objects are
//! skipped with a log line and a counter, never an error, except in a Batch Operations task.

use std::sync::Arc;

use lambda_adapter::{
    BatchJob, DeliveryMarks, Disposition, Event, Failure, Message, ObjectRef, ObjectSource, S3Marks, Target,
    clock, mark_key, sqs_answer,
};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::Error;
use crate::config::Config;
use crate::deliver::{Outcome, deliver_object};
use crate::metrics::Totals;
use crate::sink::RecordSink;
use crate::stats::Delivery;

/// The function's state: configuration and clients, built once per execution environment.
pub struct Handler<S, K, M = S3Marks> {
    config: Config,
    source: Arc<S>,
    sink: Arc<K>,
    marks: Option<M>,
}

/// The answer to one event, with its counts.
#[derive(Debug)]
pub struct Invocation {
    /// What the function returns to Lambda.
    pub result: Result<Value, Error>,
    /// What it did.
    pub totals: Totals,
}

/// How one object ended when nothing failed.
enum Done {
    Delivered(Delivery),
    /// A zero-byte object: there is nothing to deliver.
    Empty,
    /// Not read, because the configuration keeps the function off it; the reason names the
    /// variables. Counted by the caller: a notification skips it, a Batch Operations task fails.
    Refused(&'static str),
}

impl<S: ObjectSource, K: RecordSink> Handler<S, K> {
    /// A handler reading through `source` and writing to `sink`, without delivery markers.
    pub fn new(config: Config, source: S, sink: K) -> Self {
        Handler {
            config,
            source: Arc::new(source),
            sink: Arc::new(sink),
            marks: None,
        }
    }
}

impl<S, K, M> Handler<S, K, M> {
    /// The same handler keeping delivery markers in `marks` (none: every retry resends whole).
    pub fn with_marks<N: DeliveryMarks>(self, marks: Option<N>) -> Handler<S, K, N> {
        Handler {
            config: self.config,
            source: self.source,
            sink: self.sink,
            marks,
        }
    }
}

impl<S: ObjectSource, K: RecordSink, M: DeliveryMarks> Handler<S, K, M> {
    /// The Lambda entry point: handles the event and prints the metric lines.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        let invocation = self.run(event).await;
        let now = clock::epoch_ms();
        for line in invocation.totals.metric_lines() {
            println!("{}", line.render(now));
        }
        invocation.result
    }

    /// Handles the event and returns the answer with the counts, printing nothing.
    pub async fn run(&self, event: LambdaEvent<Value>) -> Invocation {
        let started = Instant::now();
        let deadline = clock::deadline(&event.context, self.config.tuning.deadline_margin);
        let mut totals = Totals::default();
        let result = match Event::from_value(event.payload) {
            Ok(Event::S3(targets)) => self.notification(targets, deadline, &mut totals).await,
            Ok(Event::S3Test) => {
                tracing::info!(event = "s3:TestEvent", "test event acknowledged");
                Ok(json!({"ignored": "s3:TestEvent"}))
            }
            Ok(Event::EventBridge(target)) => self.notification(vec![target], deadline, &mut totals).await,
            Ok(Event::Sqs(messages)) => self.sqs(messages, deadline, &mut totals).await,
            Ok(Event::BatchJob(job)) => Ok(self.batch_job(job, deadline, &mut totals).await),
            Err(error) => Err(error.into()),
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
        self.objects(targets, deadline, totals).await?;
        Ok(json!({"delivered": totals.objects, "skipped": totals.skipped, "failed": totals.failed}))
    }

    /// SQS: messages with an object kept for retry are reported for redelivery; the rest are
    /// done.
    async fn sqs(
        &self,
        messages: Vec<Message>,
        deadline: Option<Instant>,
        totals: &mut Totals,
    ) -> Result<Value, Error> {
        let mut kept_ids = Vec::new();
        for message in messages {
            let kept = match message.targets {
                Ok(targets) => self.objects(targets, deadline, totals).await.err(),
                Err(error) => {
                    totals.failed += 1;
                    tracing::error!(message_id = message.id.as_deref(), error = %error, "unreadable SQS message");
                    Some(error.into())
                }
            };
            if kept.is_some_and(|error: Error| error.disposition().keeps_sqs_message()) {
                let Some(id) = message.id else {
                    // Without an id the failure cannot be reported alone: fail the whole batch.
                    return Err(lambda_adapter::Error::Event(
                        "a failed SQS message has no messageId".to_owned(),
                    )
                    .into());
                };
                kept_ids.push(id);
            }
        }
        Ok(sqs_answer(kept_ids))
    }

    /// Batch Operations: one result per task.
    async fn batch_job(&self, job: BatchJob, deadline: Option<Instant>, totals: &mut Totals) -> Value {
        let mut results = Vec::with_capacity(job.tasks.len());
        for task in &job.tasks {
            let object = match &task.target {
                Ok(object) => object,
                Err(error) => {
                    totals.failed += 1;
                    results.push((error.failure().disposition(), error.to_string()));
                    continue;
                }
            };
            results.push(match self.object(object, deadline, totals).await {
                Ok(Done::Delivered(delivery)) => (
                    Disposition::Acknowledge,
                    format!(
                        "delivered {} lines in {} Firehose records",
                        delivery.ingest.lines, delivery.firehose_records
                    ),
                ),
                Ok(Done::Empty) => (Disposition::Acknowledge, format!("skipped: {EMPTY}")),
                // The job asked for this object, and `Succeeded` would claim its lines were
                // delivered: the task fails until the configuration lets the function read it.
                Ok(Done::Refused(reason)) => {
                    totals.failed += 1;
                    (Failure::Rejected.disposition(), format!("not read: {reason}"))
                }
                Err(error) => (error.disposition(), error.to_string()),
            });
        }
        job.answer(results)
    }

    /// The objects of one notification or message: each one tried, an error if any is kept for
    /// retry. With several objects, the ones delivered by an earlier attempt are skipped, and the
    /// ones delivered now are marked before the event is kept.
    async fn objects(
        &self,
        targets: Vec<Target>,
        deadline: Option<Instant>,
        totals: &mut Totals,
    ) -> Result<(), Error> {
        let objects = targets
            .iter()
            .filter(|target| matches!(target, Target::Object(_)))
            .count();
        let marks = self.marks.as_ref().filter(|_| objects > 1);
        let mut delivered = Vec::new();
        let mut kept = None;
        for target in targets {
            let object = match target {
                Target::Ignore(reason) => {
                    ignore(&reason, totals);
                    continue;
                }
                Target::Object(object) => object,
            };
            let mark = marks.and_then(|_| mark_of(&object));
            if let (Some(marks), Some(mark)) = (marks, &mark)
                && is_marked(marks, mark).await
            {
                totals.skipped += 1;
                tracing::info!(bucket = %object.bucket, key = %object.key, outcome = "skipped",
                    reason = "delivered by an earlier attempt", "object skipped");
                continue;
            }
            match self.object(&object, deadline, totals).await {
                Ok(Done::Delivered(_)) => delivered.extend(mark),
                Ok(Done::Refused(_)) => totals.skipped += 1,
                Ok(Done::Empty) => {}
                Err(error) if error.disposition() == Disposition::Retry => {
                    kept.get_or_insert(error);
                }
                Err(_) => {}
            }
        }
        let Some(error) = kept else {
            return Ok(());
        };
        if let Some(marks) = marks {
            for mark in delivered {
                // A marker that cannot be written only costs duplicates on the retry.
                if let Err(failure) = marks.mark(&mark).await {
                    tracing::warn!(mark = %mark, error = %failure, "delivery marker not written; the retry resends the object");
                }
            }
        }
        Err(error)
    }

    /// One object: skipped, delivered (quarantined content included) or failed, with one summary
    /// log event either way. A failure is counted by its disposition: gone objects as skipped,
    /// objects kept for retry as failed; a refused object is counted by the caller.
    async fn object(
        &self,
        object: &ObjectRef,
        deadline: Option<Instant>,
        totals: &mut Totals,
    ) -> Result<Done, Error> {
        let (bucket, key) = (object.bucket.as_str(), object.key.as_str());
        let refused = if self.config.is_own_output(bucket, key) {
            Some("the pipeline's own output (OUTPUT_BUCKET/OUTPUT_PREFIX)")
        } else if !self.config.is_source(bucket, key) {
            Some("outside SOURCE_BUCKET/SOURCE_PREFIX")
        } else {
            None
        };
        if let Some(reason) = refused {
            tracing::info!(bucket, key, outcome = "skipped", reason, "object skipped");
            return Ok(Done::Refused(reason));
        }
        if object.size == Some(0) {
            totals.skipped += 1;
            tracing::info!(bucket, key, outcome = "skipped", reason = EMPTY, "object skipped");
            return Ok(Done::Empty);
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            totals.failed += 1;
            return Err(Error::OutOfTime);
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
                return Ok(Done::Empty);
            }
            Ok(Outcome::Delivered) => {}
            Err(error) => {
                let disposition = error.disposition();
                if disposition == Disposition::Retry {
                    totals.failed += 1;
                } else {
                    totals.skipped += 1;
                }
                tracing::error!(
                    bucket, key, outcome = "failed", error = %error, error_type = error.kind(),
                    failure = error.failure().name(), disposition = ?disposition,
                    lines_read = d.ingest.lines, firehose_records = d.firehose_records, resumes = d.resumes,
                    put_calls = d.put_calls, retried_entries = d.retried_entries, duration_ms,
                    "object failed"
                );
                return Err(error);
            }
        }
        totals.objects += 1;
        // Content that could not be read as lines is in its quarantine record; say where.
        let unreadable = d.ingest.unreadable.map(|content| content.to_string());
        tracing::info!(
            bucket, key, outcome = "delivered", unreadable,
            lines = d.ingest.lines, records = d.ingest.records, parse_errors = d.ingest.parse_errors,
            truncated = d.ingest.truncated, bytes_in = d.ingest.bytes_in, object_bytes = d.object_bytes,
            resumes = d.resumes, firehose_records = d.firehose_records, firehose_batches = d.firehose_batches,
            put_calls = d.put_calls, retried_entries = d.retried_entries, billed_5kb_units = d.billed_units,
            packing = %self.config.packing, duration_ms,
            "object delivered"
        );
        Ok(Done::Delivered(delivery))
    }
}

const EMPTY: &str = "zero-byte object";

fn ignore(reason: &str, totals: &mut Totals) {
    totals.skipped += 1;
    tracing::info!(outcome = "skipped", reason, "event entry ignored");
}

/// The marker of an object, when the event names its version (and the key leaves room for it).
fn mark_of(object: &ObjectRef) -> Option<String> {
    object
        .etag
        .as_deref()
        .and_then(|etag| mark_key(&object.bucket, &object.key, etag))
}

/// Whether an earlier attempt delivered the object; when the marker cannot be read the object
/// is delivered again (duplicates are removable, lost lines are not).
async fn is_marked<M: DeliveryMarks>(marks: &M, mark: &str) -> bool {
    marks.is_marked(mark).await.unwrap_or_else(|error| {
        tracing::warn!(mark, error = %error, "delivery marker unreadable; delivering the object again");
        false
    })
}
