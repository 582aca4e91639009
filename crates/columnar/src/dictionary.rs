//! Whether a dictionary makes one text column chunk smaller, decided from the row group's own
//! values before the column is written.
//!
//! The writer ([`crate::batch`]) asks this for every column the table marks as a dictionary
//! candidate ([`crate::Column::dictionary`]), once per row group. A dictionary chunk stores each
//! distinct value once (its dictionary page, `PLAIN`: a 4-byte length and the bytes) and then a
//! bit-packed index per value, `ceil(log2(distinct))` bits wide; a chunk without one stores every
//! value's bytes, with the lengths apart (`DELTA_LENGTH_BYTE_ARRAY`, a byte or less a value
//! once delta-packed, left out on both sides). The dictionary is kept when its form is no
//! larger before compression:
//!
//! `sum over distinct values of (length + 4) + values * ceil(log2(distinct)) / 8 <= sum of all lengths`
//!
//! No constant is tuned here: the rule compares the two layouts the Parquet format defines.
//! Compression only sharpens it, since indexes of values that do not repeat are random bits no
//! codec shrinks, while the values themselves compress. `remote_ip` of 1 M requests, 38 row
//! groups of about 27,000 rows, gzip pages (`scripts/bench-columnar.sh`, part e; figures of the
//! median row group):
//! - the generated corpus draws a fresh address for nearly every request: 26,400 distinct of
//!   14 bytes, 526 KB with a dictionary against 371 KB without. No dictionary: the column goes
//!   from 8.76 MB to 6.78 MB over the file;
//! - addresses drawn from 20,000 with Zipf weights (`scripts/zipf_remote_ip.py`), a bucket whose
//!   clients repeat: 6,500 distinct, 156 KB with a dictionary against 360 KB without. The
//!   dictionary stays, and so does the column's size, 3.09 MB (pyarrow writes the same values
//!   without a dictionary in 4.13 MB).
//!
//! Values are counted by their 64-bit xxh3 hash: two distinct values that collide (odds about
//! 2^-35 in a row group) only make the estimate a value smaller. A value equal to the one before
//! it is skipped without hashing, which makes columns that hold one value for long runs
//! (`log_file`) nearly free, and the count stops as soon as the dictionary form is larger. The
//! count costs `s3logs parse --format parquet` 3.7% more instructions (cachegrind, 100,000
//! lines of the corpus).

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use xxhash_rust::xxh3::xxh3_64;

/// Bytes of a dictionary page entry on top of the value: its `PLAIN` length prefix.
const ENTRY_OVERHEAD: u64 = 4;

/// Whether the values of one text column chunk, back to back in `data` with the end offset of
/// each in `ends`, take fewer or as many bytes with a dictionary as without (see the module
/// documentation). A chunk with no values keeps the dictionary: both forms are empty.
pub(crate) fn pays(data: &[u8], ends: &[usize]) -> bool {
    let plain = data.len() as u64;
    let values = ends.len() as u64;
    let mut seen: HashSet<u64, BuildHasherDefault<Prehashed>> = HashSet::default();
    let mut dictionary = 0;
    let mut previous: Option<&[u8]> = None;
    let mut start = 0;
    for &end in ends {
        let value = &data[start..end];
        start = end;
        if previous == Some(value) {
            continue;
        }
        previous = Some(value);
        if seen.insert(xxh3_64(value)) {
            dictionary += value.len() as u64 + ENTRY_OVERHEAD;
            // Both terms only grow as values come: once over, the answer is known.
            if dictionary + index_bytes(values, seen.len()) > plain {
                return false;
            }
        }
    }
    true
}

/// Bytes of the bit-packed dictionary indexes of `values` values over `distinct` entries.
fn index_bytes(values: u64, distinct: usize) -> u64 {
    let width = usize::BITS - distinct.saturating_sub(1).leading_zeros();
    values * u64::from(width) / 8
}

/// The hasher of a set of xxh3 hashes: each key is already a well-mixed hash, so it is its own.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys reach this hasher, through `write_u64`; anything else is folded in
        // whole so the hasher stays correct.
        self.0 = xxh3_64(bytes) ^ self.0.rotate_left(5);
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values back to back and their end offsets, as the batch holds a text column.
    fn column<S: AsRef<[u8]>>(values: &[S]) -> (Vec<u8>, Vec<usize>) {
        let mut data = Vec::new();
        let mut ends = Vec::new();
        for value in values {
            data.extend_from_slice(value.as_ref());
            ends.push(data.len());
        }
        (data, ends)
    }

    #[test]
    fn a_dictionary_pays_only_where_values_repeat() {
        let distinct: Vec<String> = (0..28_000)
            .map(|n| format!("10.{}.{}.{}", n >> 16, (n >> 8) & 0xff, n & 0xff))
            .collect();
        let cycled: Vec<String> = (0..28_000).map(|n| distinct[n % 7_000].clone()).collect();
        let long_twice: Vec<String> = (0..28_000)
            .map(|n| format!("{}{}", "agent/".repeat(10), n % 14_000))
            .collect();
        let constant = vec!["amzn-s3-demo-bucket1"; 28_000];
        let cases: [(&str, &[String], bool); 3] = [
            ("every address new", &distinct, false),
            ("7,000 addresses in turn", &cycled, true),
            // Seen only twice each, but long: half the bytes for 14 bits a row.
            ("long values twice each", &long_twice, true),
        ];
        for (name, values, expected) in cases {
            let (data, ends) = column(values);
            assert_eq!(pays(&data, &ends), expected, "{name}");
        }
        let (data, ends) = column(&constant);
        assert!(pays(&data, &ends), "one value");
        assert!(pays(&[], &[]), "no values");
    }

    #[test]
    fn index_width_is_the_bits_of_the_largest_index() {
        let cases = [
            (1, 0),
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 3),
            (256, 8),
            (257, 9),
            (28_000, 15),
        ];
        for (distinct, bits) in cases {
            assert_eq!(index_bytes(8_000, distinct), 1_000 * bits, "{distinct}");
        }
    }
}
