//! Where records go: Firehose in Lambda ([`crate::aws::FirehoseSink`]), a recording sink in unit
//! tests and benches.

use std::future::Future;

use crate::Error;

/// A record Firehose did not accept in a call that otherwise succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedEntry {
    /// Its position in the records passed to [`RecordSink::put_batch`].
    pub index: usize,
    /// The per-entry error code (`ServiceUnavailableException`, `InternalFailure`).
    pub code: String,
}

/// Sends batches of records.
pub trait RecordSink: Send + Sync + 'static {
    /// Sends `records` in one call. `Ok` lists the entries that were not accepted (empty when all
    /// were); `Err` means the call as a whole failed and none can be assumed delivered.
    fn put_batch(&self, records: &[Vec<u8>]) -> impl Future<Output = Result<Vec<FailedEntry>, Error>> + Send;
}
