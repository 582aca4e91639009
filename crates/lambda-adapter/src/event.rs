//! What invoked a function, told apart by the payload's shape, which objects it names, and the
//! answer each kind expects. The functions see plain [`Event`]s and build their answers here;
//! `aws_lambda_events` types stay in this module.
//!
//! One binary serves every wiring a user may choose: S3 event notifications (direct, or through
//! SQS or SNS), EventBridge "Object Created" events, and S3 Batch Operations jobs for backfills.
//! The payload is read as JSON first and dispatched on its shape, so a wrong guess is a clear
//! error rather than a half-deserialized event.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::s3::batch_job::{
    S3BatchJobEvent, S3BatchJobResponse, S3BatchJobResult, S3BatchJobTask,
};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde_json::Value;

use crate::Error;
use crate::disposition::Disposition;
use crate::event_key::decode_key;

/// A payload, by kind.
#[derive(Debug)]
pub enum Event {
    /// An S3 event notification (`Records` with `eventSource` `aws:s3`): its entries.
    S3(Vec<Target>),
    /// The `s3:TestEvent` S3 sends when a notification is set up: acknowledged, nothing to do.
    S3Test,
    /// SQS messages, each carrying a notification.
    Sqs(Vec<Message>),
    /// An EventBridge event from `aws.s3`: its one entry.
    EventBridge(Target),
    /// An S3 Batch Operations "Invoke Lambda" job (schema 1.0 or 2.0).
    BatchJob(BatchJob),
}

/// One SQS message.
#[derive(Debug)]
pub struct Message {
    /// `messageId`, which names it in `batchItemFailures`.
    pub id: Option<String>,
    /// The entries of the notification in its body, or why the body cannot be read.
    pub targets: Result<Vec<Target>, Error>,
}

/// A Batch Operations job: its tasks, and what its answer must repeat.
#[derive(Debug)]
pub struct BatchJob {
    schema_version: Option<String>,
    invocation_id: Option<String>,
    /// The tasks, in order.
    pub tasks: Vec<Task>,
}

/// One Batch Operations task.
#[derive(Debug)]
pub struct Task {
    /// `taskId`.
    pub id: Option<String>,
    /// The object it names, or why it names none.
    pub target: Result<ObjectRef, Error>,
}

impl BatchJob {
    /// The job's answer: one result per task, in order, each a disposition and a text for the
    /// completion report. A key that vanished before its task ran is a `PermanentFailure`.
    pub fn answer(&self, results: impl IntoIterator<Item = (Disposition, String)>) -> Value {
        let results = self
            .tasks
            .iter()
            .zip(results)
            .map(|(task, (disposition, text))| {
                let mut result = S3BatchJobResult::default();
                result.task_id = task.id.clone();
                result.result_code = Some(disposition.batch_result_code().as_str().to_owned());
                result.result_string = Some(text);
                result
            })
            .collect();
        let mut response = S3BatchJobResponse::default();
        response.invocation_schema_version = self.schema_version.clone();
        response.invocation_id = self.invocation_id.clone();
        response.treat_missing_keys_as = Some("PermanentFailure".to_owned());
        response.results = results;
        to_value(response)
    }
}

/// The SQS answer: the messages to redeliver (`batchItemFailures`), by `messageId`. Honoured only
/// with `FunctionResponseTypes: [ReportBatchItemFailures]` on the event source mapping.
pub fn sqs_answer(kept: impl IntoIterator<Item = String>) -> Value {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = kept
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    to_value(response)
}

/// The answer types are plain strings and lists, which always serialize.
fn to_value(response: impl serde::Serialize) -> Value {
    serde_json::to_value(response).unwrap_or(Value::Null)
}

/// One object an event points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    /// Bucket name.
    pub bucket: String,
    /// Key, decoded.
    pub key: String,
    /// Size from the event, when the event says.
    pub size: Option<u64>,
    /// Version from the event (`ETag`), when the event says: names the delivery marker.
    pub etag: Option<String>,
    /// The S3 version id a Batch Operations task names (a manifest of a versioned bucket): that
    /// version is read, not whichever is current, so a task never delivers other bytes than
    /// the ones it names and a version deleted since is reported, not silently replaced.
    pub version: Option<String>,
}

impl ObjectRef {
    /// A reference to `bucket`/`key`.
    pub fn new(bucket: impl Into<String>, key: impl Into<String>, size: Option<u64>) -> Self {
        ObjectRef {
            bucket: bucket.into(),
            key: key.into(),
            size,
            etag: None,
            version: None,
        }
    }

    /// The same reference, naming version `etag`.
    pub fn with_etag(mut self, etag: Option<&str>) -> Self {
        self.etag = etag.filter(|etag| !etag.is_empty()).map(str::to_owned);
        self
    }

    /// The same reference, naming S3 version `version` (`null`, the JSON value, names none).
    pub fn with_version(mut self, version: Option<&str>) -> Self {
        self.version = version.filter(|version| !version.is_empty()).map(str::to_owned);
        self
    }

    /// `s3://bucket/key`, the record's `LogFile`.
    pub fn log_file(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// The object as errors name it: its `LogFile`, and the version when one is named (a task
    /// report must say which version could not be read).
    pub fn describe(&self) -> String {
        match &self.version {
            Some(version) => format!("{} (version {version})", self.log_file()),
            None => self.log_file(),
        }
    }
}

/// What one entry of an event asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Read this object.
    Object(ObjectRef),
    /// Nothing to do, and why (an `ObjectRemoved` notification, say).
    Ignore(String),
}

impl Event {
    /// Recognizes a payload by its shape and reads the objects it names.
    pub fn from_value(value: Value) -> Result<Event, Error> {
        let shape = Shape::of(&value);
        let event = match shape {
            Shape::BatchJob => {
                let job: S3BatchJobEvent = deserialize(value, "S3 Batch Operations job")?;
                let tasks = job
                    .tasks
                    .iter()
                    .map(|task| Task {
                        id: task.task_id.clone(),
                        target: batch_task_target(task),
                    })
                    .collect();
                Event::BatchJob(BatchJob {
                    schema_version: job.invocation_schema_version,
                    invocation_id: job.invocation_id,
                    tasks,
                })
            }
            Shape::S3Test => Event::S3Test,
            Shape::Sqs => {
                let event: SqsEvent = deserialize(value, "SQS event")?;
                let messages = event
                    .records
                    .into_iter()
                    .map(|message| Message {
                        targets: sqs_body_targets(message.body.as_deref().unwrap_or_default()),
                        id: message.message_id,
                    })
                    .collect();
                Event::Sqs(messages)
            }
            Shape::S3 => Event::S3(s3_targets(&deserialize(value, "S3 event notification")?)),
            Shape::EventBridge => {
                Event::EventBridge(eventbridge_target(&deserialize(value, "EventBridge event")?)?)
            }
            Shape::Sns | Shape::Unknown => return Err(unknown(&value)),
        };
        Ok(event)
    }
}

/// The objects named in the body of one SQS message: an S3 notification, an `s3:TestEvent`, an
/// EventBridge event (an EventBridge rule targeting the queue), or any of these wrapped in an
/// SNS notification (a topic fanning out to the queue).
fn sqs_body_targets(body: &str) -> Result<Vec<Target>, Error> {
    let value: Value = serde_json::from_str(body)
        .map_err(|error| Error::Event(format!("SQS message body is not JSON: {error}")))?;
    match Shape::of(&value) {
        Shape::S3 => Ok(s3_targets(&deserialize(value, "S3 event notification")?)),
        Shape::S3Test => Ok(vec![Target::Ignore("s3:TestEvent".to_owned())]),
        Shape::EventBridge => Ok(vec![eventbridge_target(&deserialize(
            value,
            "EventBridge event",
        )?)?]),
        Shape::Sns => match value.get("Message").and_then(Value::as_str) {
            Some(message) => sqs_body_targets(message),
            None => Err(unknown(&value)),
        },
        Shape::Sqs | Shape::BatchJob | Shape::Unknown => Err(unknown(&value)),
    }
}

/// The objects of an S3 notification: every record, `ObjectCreated:*` only, keys decoded.
fn s3_targets(event: &S3Event) -> Vec<Target> {
    event
        .records
        .iter()
        .map(|record| {
            let name = record.event_name.as_deref().unwrap_or_default();
            if !name.starts_with("ObjectCreated:") {
                return Target::Ignore(format!("event {name:?} is not ObjectCreated"));
            }
            let object = &record.s3.object;
            match (&record.s3.bucket.name, &object.key) {
                (Some(bucket), Some(key)) => Target::Object(
                    ObjectRef::new(
                        bucket.as_str(),
                        decode_key(key),
                        object.size.and_then(|size| u64::try_from(size).ok()),
                    )
                    .with_etag(object.e_tag.as_deref()),
                ),
                _ => Target::Ignore("notification record without bucket or key".to_owned()),
            }
        })
        .collect()
}

/// The object of an EventBridge event. Only `Object Created` from `aws.s3` names one; keys in
/// EventBridge events are not URL-encoded.
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html>
fn eventbridge_target(event: &EventBridgeEvent<Value>) -> Result<Target, Error> {
    if event.source != "aws.s3" || event.detail_type != "Object Created" {
        return Ok(Target::Ignore(format!(
            "EventBridge event {:?} from {:?} is not an S3 Object Created event",
            event.detail_type, event.source
        )));
    }
    let detail = &event.detail;
    let bucket = detail.pointer("/bucket/name").and_then(Value::as_str);
    let key = detail.pointer("/object/key").and_then(Value::as_str);
    let size = detail.pointer("/object/size").and_then(Value::as_u64);
    let etag = detail.pointer("/object/etag").and_then(Value::as_str);
    match (bucket, key) {
        (Some(bucket), Some(key)) => Ok(Target::Object(ObjectRef::new(bucket, key, size).with_etag(etag))),
        _ => Err(Error::Event(
            "EventBridge Object Created event without detail.bucket.name or detail.object.key".to_owned(),
        )),
    }
}

/// The object of a Batch Operations task. Schema 1.0 names the bucket by ARN, 2.0 by name
/// (`s3Bucket`); in both the key is URL-encoded, as in the job's CSV manifest, and `s3VersionId`
/// is the manifest's version (JSON `null` for an unversioned bucket).
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html>
fn batch_task_target(task: &S3BatchJobTask) -> Result<ObjectRef, Error> {
    let bucket = task
        .other
        .get("s3Bucket")
        .and_then(Value::as_str)
        .or_else(|| task.s3_bucket_arn.as_deref().and_then(bucket_from_arn));
    match (bucket, task.s3_key.as_deref()) {
        (Some(bucket), Some(key)) if !bucket.is_empty() => {
            Ok(ObjectRef::new(bucket, decode_key(key), None).with_version(task.s3_version_id.as_deref()))
        }
        _ => Err(Error::Event(
            "Batch Operations task without s3Key and s3Bucket or s3BucketArn".to_owned(),
        )),
    }
}

/// `arn:aws:s3:::bucket` (in any partition) to `bucket`.
fn bucket_from_arn(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:")?
        .split_once(":s3:::")
        .map(|(_, bucket)| bucket)
}

/// The kinds of payload, told apart by the keys that only that kind has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    BatchJob,
    S3Test,
    Sqs,
    S3,
    EventBridge,
    Sns,
    Unknown,
}

impl Shape {
    fn of(value: &Value) -> Shape {
        let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str);
        if value.get("invocationSchemaVersion").is_some() && value.get("tasks").is_some() {
            return Shape::BatchJob;
        }
        if text("/Event") == Some("s3:TestEvent") {
            return Shape::S3Test;
        }
        if let Some(records) = value.get("Records").and_then(Value::as_array) {
            // An empty notification is harmless: treat it as S3 with nothing to do.
            return match records
                .first()
                .map(|record| record.get("eventSource").and_then(Value::as_str))
            {
                Some(Some("aws:sqs")) => Shape::Sqs,
                Some(Some("aws:s3")) | None => Shape::S3,
                Some(_) => Shape::Unknown,
            };
        }
        if value.get("detail-type").is_some() && value.get("source").is_some() {
            return Shape::EventBridge;
        }
        if text("/Type") == Some("Notification") && text("/Message").is_some() {
            return Shape::Sns;
        }
        Shape::Unknown
    }
}

fn deserialize<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|error| Error::Event(format!("malformed {what}: {error}")))
}

fn unknown(value: &Value) -> Error {
    let keys: Vec<&str> = value
        .as_object()
        .map(|object| object.keys().map(String::as_str).take(8).collect())
        .unwrap_or_default();
    Error::Event(format!(
        "not an S3 notification, SQS, EventBridge or Batch Operations payload (top-level keys: {keys:?})"
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn s3_record(event_name: &str, bucket: &str, key: &str, size: u64) -> Value {
        json!({
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2024-01-01T00:00:00.000Z", "eventName": event_name,
            "userIdentity": {"principalId": "AWS:EXAMPLE"},
            "requestParameters": {"sourceIPAddress": "192.0.2.1"},
            "responseElements": {"x-amz-request-id": "R", "x-amz-id-2": "I"},
            "s3": {
                "s3SchemaVersion": "1.0", "configurationId": "logs",
                "bucket": {"name": bucket, "ownerIdentity": {"principalId": "O"}, "arn": format!("arn:aws:s3:::{bucket}")},
                "object": {"key": key, "size": size, "eTag": "e", "sequencer": "0A"}
            }
        })
    }

    #[test]
    fn reads_every_record_of_a_notification() {
        let payload = json!({"Records": [
            s3_record("ObjectCreated:Put", "raw", "logs/a+b%3Dc", 10),
            s3_record("ObjectRemoved:Delete", "raw", "logs/gone", 0),
            s3_record("ObjectCreated:CompleteMultipartUpload", "raw", "logs/second", 0),
        ]});
        let Event::S3(targets) = Event::from_value(payload).unwrap() else {
            panic!("not S3")
        };
        assert_eq!(
            targets[0],
            Target::Object(ObjectRef::new("raw", "logs/a b=c", Some(10)).with_etag(Some("e")))
        );
        assert!(matches!(targets[1], Target::Ignore(_)));
        assert_eq!(
            targets[2],
            Target::Object(ObjectRef::new("raw", "logs/second", Some(0)).with_etag(Some("e")))
        );
    }

    #[test]
    fn recognizes_each_shape() {
        let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2024-01-01T00:00:00.000Z",
            "Bucket": "raw", "RequestId": "R", "HostId": "H"});
        assert!(matches!(Event::from_value(test_event.clone()), Ok(Event::S3Test)));

        let sqs = json!({"Records": [{"messageId": "m1", "receiptHandle": "r", "body": test_event.to_string(),
            "attributes": {}, "messageAttributes": {}, "md5OfBody": "x", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}]});
        assert!(matches!(Event::from_value(sqs), Ok(Event::Sqs(_))));

        let eventbridge = json!({"version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3",
            "account": "123456789012", "time": "2024-01-01T00:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:s3:::raw"],
            "detail": {"version": "0", "bucket": {"name": "raw"},
                "object": {"key": "logs/a+b", "size": 5, "etag": "e", "sequencer": "1"},
                "request-id": "R", "requester": "123456789012", "reason": "PutObject"}});
        let Ok(Event::EventBridge(target)) = Event::from_value(eventbridge) else {
            panic!("not EventBridge")
        };
        // EventBridge keys are not URL-encoded: `+` stays.
        assert_eq!(
            target,
            Target::Object(ObjectRef::new("raw", "logs/a+b", Some(5)).with_etag(Some("e")))
        );

        assert!(matches!(
            Event::from_value(json!({"Records": []})),
            Ok(Event::S3(_))
        ));
        for unknown in [
            json!({"hello": "world"}),
            json!([1, 2]),
            json!({"Records": [{"eventSource": "aws:kinesis"}]}),
        ] {
            let error = Event::from_value(unknown).unwrap_err();
            assert!(matches!(error, Error::Event(_)), "{error}");
        }
    }

    #[test]
    fn reads_batch_tasks_of_both_schemas() {
        let v1 = json!({"invocationSchemaVersion": "1.0", "invocationId": "inv", "job": {"id": "job"},
            "tasks": [{"taskId": "t1", "s3Key": "logs/a%2Bb+c", "s3VersionId": null,
                "s3BucketArn": "arn:aws:s3:::raw"}]});
        let v2 = json!({"invocationSchemaVersion": "2.0", "invocationId": "inv",
            "job": {"id": "job", "userArguments": {"k": "v"}},
            "tasks": [{"taskId": "t1", "s3Key": "logs/a%2Bb+c", "s3VersionId": null, "s3Bucket": "raw"}]});
        for payload in [v1, v2] {
            let Ok(Event::BatchJob(job)) = Event::from_value(payload) else {
                panic!("not a batch job")
            };
            assert_eq!(job.tasks[0].id.as_deref(), Some("t1"));
            assert_eq!(
                *job.tasks[0].target.as_ref().unwrap(),
                ObjectRef::new("raw", "logs/a+b c", None)
            );
        }
        // A task of a versioned bucket's manifest names the version to read.
        let versioned = json!({"invocationSchemaVersion": "2.0", "invocationId": "inv", "job": {"id": "job"},
            "tasks": [{"taskId": "t1", "s3Key": "k", "s3VersionId": "v-7", "s3Bucket": "raw"}]});
        let Ok(Event::BatchJob(job)) = Event::from_value(versioned) else {
            panic!("not a batch job")
        };
        let target = job.tasks[0].target.as_ref().unwrap();
        assert_eq!(target.version.as_deref(), Some("v-7"));
        assert_eq!(target.describe(), "s3://raw/k (version v-7)");
        assert_eq!(bucket_from_arn("arn:aws-cn:s3:::raw"), Some("raw"));
        assert_eq!(bucket_from_arn("raw"), None);
    }

    #[test]
    fn reads_sqs_bodies_of_every_wiring() {
        let notification = json!({"Records": [s3_record("ObjectCreated:Put", "raw", "logs/k%20x", 3)]});
        let expected = vec![Target::Object(
            ObjectRef::new("raw", "logs/k x", Some(3)).with_etag(Some("e")),
        )];
        assert_eq!(sqs_body_targets(&notification.to_string()).unwrap(), expected);
        let via_sns = json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t",
            "Message": notification.to_string()});
        assert_eq!(sqs_body_targets(&via_sns.to_string()).unwrap(), expected);
        let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent"});
        assert!(matches!(
            &sqs_body_targets(&test_event.to_string()).unwrap()[..],
            [Target::Ignore(_)]
        ));
        assert!(sqs_body_targets("not json").is_err());
        assert!(sqs_body_targets("{\"unrelated\": true}").is_err());
    }

    #[test]
    fn answers_each_kind_in_its_format() {
        assert_eq!(
            sqs_answer(["m-2".to_owned()]),
            json!({"batchItemFailures": [{"itemIdentifier": "m-2"}]})
        );
        assert_eq!(sqs_answer([]), json!({"batchItemFailures": []}));
        let payload = json!({"invocationSchemaVersion": "2.0", "invocationId": "inv", "job": {"id": "job"},
            "tasks": [{"taskId": "t1", "s3Key": "k", "s3VersionId": null, "s3Bucket": "raw"},
                      {"taskId": "t2", "s3Key": "k2", "s3VersionId": null, "s3Bucket": "raw"}]});
        let Ok(Event::BatchJob(job)) = Event::from_value(payload) else {
            panic!("not a batch job")
        };
        let answer = job.answer([
            (Disposition::Acknowledge, "delivered".to_owned()),
            (Disposition::Retry, "throttled".to_owned()),
        ]);
        assert_eq!(answer["invocationSchemaVersion"], "2.0");
        assert_eq!(answer["invocationId"], "inv");
        assert_eq!(answer["treatMissingKeysAs"], "PermanentFailure");
        assert_eq!(answer["results"][0]["taskId"], "t1");
        assert_eq!(answer["results"][0]["resultCode"], "Succeeded");
        assert_eq!(answer["results"][1]["resultCode"], "TemporaryFailure");
        assert_eq!(answer["results"][1]["resultString"], "throttled");
    }
}
