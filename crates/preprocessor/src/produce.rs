//! The engine side of one object, on a blocking thread: records out of the bytes, packed into
//! Firehose records, grouped into batches and handed to the sending side.
//!
//! Nothing the engine read is dropped: when reading stops with an error, the record being
//! filled and the batch being built are still handed over before the error is returned, so
//! every line read before the error is delivered.

use std::io::Read;

use pipeline::ingest::{Limits, RecordReader, Stats};
use pipeline::packing::{Batch, BatchBuilder, Packer};
use s3_access_log::KeyStyle;
use tokio::sync::mpsc;

use crate::Error;

/// Reads `input` as the log object `log_file` and sends its batches of records in `key_style`.
/// Returns the object's counts with how reading ended.
pub(crate) fn produce(
    input: impl Read,
    log_file: &str,
    limits: Limits,
    key_style: KeyStyle,
    mut packer: Packer,
    batches: mpsc::Sender<Batch>,
) -> (Stats, Result<(), Error>) {
    let mut reader = match RecordReader::new(input, log_file, limits) {
        Ok(reader) => reader.with_key_style(key_style),
        Err(error) => return (Stats::default(), Err(error.into())),
    };
    let mut builder = BatchBuilder::new();
    let hand_over = |batch: Batch| {
        batches
            .blocking_send(batch)
            .map_err(|_| Error::Internal("batch receiver closed".to_owned()))
    };
    let mut line = Vec::with_capacity(4096);
    let read = loop {
        match reader.next_record(&mut line) {
            Ok(true) => {}
            Ok(false) => break Ok(()),
            Err(error) => break Err(Error::from(error)),
        }
        let packed = match packer.push(&line) {
            Ok(packed) => packed,
            Err(error) => break Err(error.into()),
        };
        line.clear();
        if let Some(record) = packed {
            match builder.push(record) {
                Ok(Some(batch)) => {
                    if let Err(error) = hand_over(batch) {
                        return (reader.stats(), Err(error));
                    }
                }
                Ok(None) => {}
                Err(error) => break Err(error.into()),
            }
        }
    };
    // Whatever ended the reading, what was read goes out.
    let flushed =
        flush(&mut packer, &mut builder).and_then(|batches| batches.into_iter().try_for_each(hand_over));
    (reader.stats(), read.and(flushed))
}

/// The pending record and batch, as the batches still to send (at most two).
fn flush(packer: &mut Packer, builder: &mut BatchBuilder) -> Result<Vec<Batch>, Error> {
    let mut out = Vec::new();
    if let Some(record) = packer.finish()
        && let Some(batch) = builder.push(record)?
    {
        out.push(batch);
    }
    out.extend(builder.finish());
    Ok(out)
}
