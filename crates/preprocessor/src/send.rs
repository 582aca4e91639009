//! The sending side of one object: batches to Firehose, a few calls in flight, each retried
//! with backoff until every entry is accepted.
//!
//! A batch is done only when Firehose accepted every entry: a call that half succeeds (HTTP 200
//! with `FailedPutCount`) resends exactly the failed entries, a call that fails as a whole with a
//! transient error is made again, anything else stops the object. Waits never run past the
//! deadline.

use std::sync::Arc;

use lambda_adapter::Backoff;
use pipeline::packing::Batch;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::Error;
use crate::config::Tuning;
use crate::sink::{FailedEntry, RecordSink};
use crate::stats::SendCounters;

/// Sends batches as the producer makes them, up to `max_in_flight` calls at a time, until the
/// producer is done and every call has succeeded, or anything fails. Dropping the returned
/// future (an error, the deadline) aborts the calls in flight.
pub(crate) async fn send_all<K: RecordSink>(
    sink: &Arc<K>,
    batches: &mut mpsc::Receiver<Batch>,
    tuning: &Tuning,
    deadline: Option<Instant>,
    counters: &Arc<SendCounters>,
) -> Result<(), Error> {
    let mut in_flight = JoinSet::new();
    let mut producing = true;
    let max_in_flight = tuning.max_in_flight.max(1);
    loop {
        tokio::select! {
            received = batches.recv(), if producing && in_flight.len() < max_in_flight => match received {
                Some(batch) => {
                    in_flight.spawn(send_batch(Arc::clone(sink), batch, *tuning, deadline, Arc::clone(counters)));
                }
                None => producing = false,
            },
            Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                joined.map_err(|error| Error::Internal(format!("send task failed: {error}")))??;
            },
            else => return Ok(()),
        }
    }
}

/// Delivers one batch: sends it, then resends exactly the entries that failed, with backoff,
/// until all are accepted or the attempts or the time run out.
async fn send_batch<K: RecordSink>(
    sink: Arc<K>,
    batch: Batch,
    tuning: Tuning,
    deadline: Option<Instant>,
    counters: Arc<SendCounters>,
) -> Result<(), Error> {
    let mut pending = batch.into_records();
    let mut backoff = Backoff::new(tuning.backoff_base, tuning.backoff_cap);
    let mut attempt = 0;
    loop {
        attempt += 1;
        counters.call(pending.len(), attempt > 1);
        let last_failure = match sink.put_batch(&pending).await {
            Ok(failed) => {
                let summary = failed.first().map(|first| {
                    format!(
                        "{} of {} entries failed ({})",
                        failed.len(),
                        pending.len(),
                        first.code
                    )
                });
                let (accepted, retry) = split_failed(pending, &failed);
                // Counted as they land, so a batch given up half-way still reports (and bills)
                // the entries Firehose took.
                counters.accepted(&accepted);
                let Some(summary) = summary else {
                    counters.batch_delivered();
                    return Ok(());
                };
                pending = retry;
                summary
            }
            Err(error) if error.failure().is_transient() => error.to_string(),
            Err(error) => return Err(error),
        };
        if attempt >= tuning.max_attempts {
            return Err(Error::RetriesExhausted {
                entries: pending.len(),
                attempts: attempt,
                last: last_failure,
            });
        }
        tracing::debug!(attempt, pending = pending.len(), error = %last_failure, "retrying PutRecordBatch");
        wait(&mut backoff, attempt, deadline).await?;
    }
}

/// The records of a call split into the accepted ones and the ones at the failed positions (to
/// send again), each in order. An index out of range is ignored (the sink reports every entry as
/// failed when it cannot tell which ones did).
fn split_failed(records: Vec<Vec<u8>>, failed: &[FailedEntry]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut retry = vec![false; records.len()];
    for entry in failed {
        if let Some(slot) = retry.get_mut(entry.index) {
            *slot = true;
        }
    }
    let (failed, accepted): (Vec<_>, Vec<_>) = records.into_iter().zip(retry).partition(|(_, retry)| *retry);
    let records = |pairs: Vec<(Vec<u8>, bool)>| pairs.into_iter().map(|(record, _)| record).collect();
    (records(accepted), records(failed))
}

/// Sleeps before retry `attempt`, or gives up at once if the wait would pass the deadline.
async fn wait(backoff: &mut Backoff, attempt: u32, deadline: Option<Instant>) -> Result<(), Error> {
    let delay = backoff.delay(attempt);
    if deadline.is_some_and(|deadline| Instant::now() + delay >= deadline) {
        return Err(Error::OutOfTime);
    }
    tokio::time::sleep(delay).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_accepted_and_failed_records_in_order() {
        let records: Vec<Vec<u8>> = (0..5u8).map(|n| vec![n]).collect();
        let failed = |indexes: &[usize]| -> Vec<FailedEntry> {
            indexes
                .iter()
                .map(|&index| FailedEntry {
                    index,
                    code: "X".into(),
                })
                .collect()
        };
        // (failed positions, accepted records, records to send again)
        type Case = (&'static [usize], Vec<Vec<u8>>, Vec<Vec<u8>>);
        let cases: [Case; 4] = [
            (&[], records.clone(), vec![]),
            (&[4, 1], vec![vec![0], vec![2], vec![3]], vec![vec![1], vec![4]]),
            (&[0, 1, 2, 3, 4], vec![], records.clone()),
            (&[2, 99], vec![vec![0], vec![1], vec![3], vec![4]], vec![vec![2]]),
        ];
        for (indexes, accepted, retry) in cases {
            assert_eq!(
                split_failed(records.clone(), &failed(indexes)),
                (accepted, retry),
                "{indexes:?}"
            );
        }
    }
}
