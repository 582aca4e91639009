//! The one failure policy of both functions: every error is sorted into a [`Failure`] class, and
//! the class alone decides the object's [`Disposition`], whatever invoked the function.
//!
//! ```text
//!  crate error ──failure()──▶ Failure ──disposition()──▶ Disposition ──▶ answer per event kind
//!                                                                      S3 / EventBridge: Err or Ok
//!                                                                      SQS: batchItemFailures
//!                                                                      Batch Operations: result code
//! ```
//!
//! Per object there is exactly one outcome: acknowledged (every line delivered, quarantined
//! content included: content that cannot be read as log lines is no failure, the engine makes it
//! one quarantine record after the readable lines) or kept for retry, which after the invoker's retries lands in the
//! failed-events queue (alarmed). Only an object that is gone is [`Disposition::Permanent`]:
//! nothing a retry could deliver, so it is logged and counted instead of kept. An event entry the
//! function cannot read is kept: in the failed-events queue it alarms and can be redriven once a
//! fixed function can read it.

/// What kind of thing went wrong, as the policy sees it. Each crate maps its errors here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The object does not exist (`NoSuchKey`, `NoSuchBucket`, HTTP 404): deleted since the
    /// event, or a wrong key.
    Gone,
    /// Throttling, 5xx, timeouts, dropped connections: the same call soon may succeed, so it is
    /// also retried in place with backoff before the object is given up.
    Transient,
    /// Access denied (a bucket policy, a KMS key): fixing the permission makes a retry succeed.
    Denied,
    /// The object changed while it was read (a resumed read met another ETag): the next attempt
    /// reads the new version from the start.
    Changed,
    /// A service refused the call for a reason a retry soon will not fix (a missing delivery
    /// stream, a bad request); fixing the deployment and redriving does.
    Rejected,
    /// The invocation ran out of time with the object not fully delivered.
    OutOfTime,
    /// An event entry the function cannot read (an SQS body that is not an event, a task without
    /// a key).
    Malformed,
    /// A bug or a lost worker thread.
    Internal,
}

impl Failure {
    /// Every class, for table tests.
    pub const ALL: [Failure; 8] = [
        Failure::Gone,
        Failure::Transient,
        Failure::Denied,
        Failure::Changed,
        Failure::Rejected,
        Failure::OutOfTime,
        Failure::Malformed,
        Failure::Internal,
    ];

    /// The object's outcome. The one place the policy is decided.
    pub fn disposition(self) -> Disposition {
        match self {
            Failure::Gone => Disposition::Permanent,
            Failure::Malformed
            | Failure::Transient
            | Failure::Denied
            | Failure::Changed
            | Failure::Rejected
            | Failure::OutOfTime
            | Failure::Internal => Disposition::Retry,
        }
    }

    /// Whether the same call may succeed if made again in a moment, so that it is worth retrying
    /// in place (with backoff) before giving the object up.
    pub fn is_transient(self) -> bool {
        self == Failure::Transient
    }

    /// A short stable name, for logs and `errorType`.
    pub fn name(self) -> &'static str {
        match self {
            Failure::Gone => "Gone",
            Failure::Transient => "Transient",
            Failure::Denied => "Denied",
            Failure::Changed => "Changed",
            Failure::Rejected => "Rejected",
            Failure::OutOfTime => "OutOfTime",
            Failure::Malformed => "Malformed",
            Failure::Internal => "Internal",
        }
    }
}

/// What happens to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// Every line is delivered (quarantined content as records): done.
    Acknowledge,
    /// Keep the event: the invoker retries it, then hands it to the failed-events queue.
    Retry,
    /// The object is gone and can never be read: logged and counted, not retried.
    Permanent,
}

/// A Batch Operations task result code.
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html>
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchResultCode {
    /// The task is done.
    Succeeded,
    /// Batch Operations retries the task.
    TemporaryFailure,
    /// The task goes to the job's completion report as failed.
    PermanentFailure,
}

impl BatchResultCode {
    /// The code as the response spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchResultCode::Succeeded => "Succeeded",
            BatchResultCode::TemporaryFailure => "TemporaryFailure",
            BatchResultCode::PermanentFailure => "PermanentFailure",
        }
    }
}

impl Disposition {
    /// S3 notifications and EventBridge events (asynchronous invocation): whether the
    /// invocation must return an error so that Lambda retries the event and finally sends it to
    /// the on-failure destination.
    pub fn fails_invocation(self) -> bool {
        self == Disposition::Retry
    }

    /// SQS: whether the message goes into `batchItemFailures` (redelivered, then the queue's
    /// DLQ). Correct only with `FunctionResponseTypes: [ReportBatchItemFailures]` on the event
    /// source mapping; without it Lambda ignores the list and deletes the whole batch.
    pub fn keeps_sqs_message(self) -> bool {
        self == Disposition::Retry
    }

    /// Batch Operations: the task's result code.
    pub fn batch_result_code(self) -> BatchResultCode {
        match self {
            Disposition::Acknowledge => BatchResultCode::Succeeded,
            Disposition::Retry => BatchResultCode::TemporaryFailure,
            Disposition::Permanent => BatchResultCode::PermanentFailure,
        }
    }

    /// The stricter of two outcomes, for a message or an event that names several objects: it
    /// is kept if any of them is.
    pub fn worst(self, other: Disposition) -> Disposition {
        use Disposition::{Acknowledge, Permanent, Retry};
        match (self, other) {
            (Retry, _) | (_, Retry) => Retry,
            (Permanent, _) | (_, Permanent) => Permanent,
            (Acknowledge, Acknowledge) => Acknowledge,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every class and every event kind's answer: (class, disposition, S3/EventBridge returns
    /// Err, SQS keeps the message, Batch Operations code).
    #[test]
    fn every_class_has_one_answer_per_event_kind() {
        use BatchResultCode::*;
        let table = [
            (
                Failure::Gone,
                Disposition::Permanent,
                false,
                false,
                PermanentFailure,
            ),
            (
                Failure::Transient,
                Disposition::Retry,
                true,
                true,
                TemporaryFailure,
            ),
            (Failure::Denied, Disposition::Retry, true, true, TemporaryFailure),
            (Failure::Changed, Disposition::Retry, true, true, TemporaryFailure),
            (
                Failure::Rejected,
                Disposition::Retry,
                true,
                true,
                TemporaryFailure,
            ),
            (
                Failure::OutOfTime,
                Disposition::Retry,
                true,
                true,
                TemporaryFailure,
            ),
            (
                Failure::Malformed,
                Disposition::Retry,
                true,
                true,
                TemporaryFailure,
            ),
            (
                Failure::Internal,
                Disposition::Retry,
                true,
                true,
                TemporaryFailure,
            ),
        ];
        assert_eq!(table.len(), Failure::ALL.len());
        for (failure, disposition, s3_err, sqs_keep, batch) in table {
            assert_eq!(failure.disposition(), disposition, "{failure:?}");
            assert_eq!(disposition.fails_invocation(), s3_err, "{failure:?}");
            assert_eq!(disposition.keeps_sqs_message(), sqs_keep, "{failure:?}");
            assert_eq!(disposition.batch_result_code(), batch, "{failure:?}");
        }
    }

    #[test]
    fn only_transient_failures_are_retried_in_place() {
        for failure in Failure::ALL {
            assert_eq!(
                failure.is_transient(),
                failure == Failure::Transient,
                "{failure:?}"
            );
        }
    }

    #[test]
    fn names_are_distinct() {
        let mut names: Vec<&str> = Failure::ALL.iter().map(|failure| failure.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Failure::ALL.len());
        assert_eq!(BatchResultCode::TemporaryFailure.as_str(), "TemporaryFailure");
    }

    #[test]
    fn the_worst_outcome_wins() {
        use Disposition::*;
        let cases = [
            (Acknowledge, Acknowledge, Acknowledge),
            (Acknowledge, Permanent, Permanent),
            (Permanent, Retry, Retry),
            (Retry, Acknowledge, Retry),
        ];
        for (a, b, worst) in cases {
            assert_eq!(a.worst(b), worst);
            assert_eq!(b.worst(a), worst);
        }
    }
}
