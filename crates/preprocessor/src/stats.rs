//! What delivering objects did, gathered one way: the engine's counts come back with the
//! producer, the download's from the bridge, and every Firehose count from one set of counters
//! the send tasks bump as calls happen (so a failed or cancelled object still reports its calls).

use std::sync::atomic::{AtomicU64, Ordering};

use pipeline::ingest::Stats;
use pipeline::packing::billed_units;

/// Counts of one object, or of an invocation's objects added up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Lines read and records made.
    pub ingest: Stats,
    /// Bytes downloaded (compressed size for gzip objects).
    pub object_bytes: u64,
    /// Range requests made to continue broken downloads.
    pub resumes: u64,
    /// Firehose records accepted (also those of a batch given up part-way: they landed).
    pub firehose_records: u64,
    /// Bytes in those records.
    pub firehose_bytes: u64,
    /// Batches fully delivered.
    pub firehose_batches: u64,
    /// `PutRecordBatch` calls made, retries included.
    pub put_calls: u64,
    /// Entries sent again after a failure (each one a possible duplicate).
    pub retried_entries: u64,
    /// Billed 5 KB units of the accepted records.
    pub billed_units: u64,
}

impl Delivery {
    /// Adds another object's counts.
    pub fn add(&mut self, other: &Delivery) {
        self.ingest += other.ingest;
        self.object_bytes += other.object_bytes;
        self.resumes += other.resumes;
        self.firehose_records += other.firehose_records;
        self.firehose_bytes += other.firehose_bytes;
        self.firehose_batches += other.firehose_batches;
        self.put_calls += other.put_calls;
        self.retried_entries += other.retried_entries;
        self.billed_units += other.billed_units;
    }
}

/// Firehose counts of one object, shared by its send tasks.
#[derive(Debug, Default)]
pub(crate) struct SendCounters {
    records: AtomicU64,
    bytes: AtomicU64,
    batches: AtomicU64,
    put_calls: AtomicU64,
    retried_entries: AtomicU64,
    billed_units: AtomicU64,
}

impl SendCounters {
    /// A `PutRecordBatch` call is being made with `entries` entries, a resend when `retry`.
    pub(crate) fn call(&self, entries: usize, retry: bool) {
        self.put_calls.fetch_add(1, Ordering::Relaxed);
        if retry {
            self.retried_entries.fetch_add(entries as u64, Ordering::Relaxed);
        }
    }

    /// Firehose accepted `records` (of a call, whether or not the rest of its batch follows).
    pub(crate) fn accepted(&self, records: &[Vec<u8>]) {
        let bytes: usize = records.iter().map(Vec::len).sum();
        let billed: u64 = records.iter().map(|record| billed_units(record.len())).sum();
        self.records.fetch_add(records.len() as u64, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.billed_units.fetch_add(billed, Ordering::Relaxed);
    }

    /// A batch was delivered whole.
    pub(crate) fn batch_delivered(&self) {
        self.batches.fetch_add(1, Ordering::Relaxed);
    }

    /// Copies the counts into `delivery`.
    pub(crate) fn write_to(&self, delivery: &mut Delivery) {
        delivery.firehose_records = self.records.load(Ordering::Relaxed);
        delivery.firehose_bytes = self.bytes.load(Ordering::Relaxed);
        delivery.firehose_batches = self.batches.load(Ordering::Relaxed);
        delivery.put_calls = self.put_calls.load(Ordering::Relaxed);
        delivery.retried_entries = self.retried_entries.load(Ordering::Relaxed);
        delivery.billed_units = self.billed_units.load(Ordering::Relaxed);
    }
}
