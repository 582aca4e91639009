//! Counters of the windowed rules (`enumeration`, `mass-deletion`, `bulk-download`), bounded in
//! memory.
//!
//! Windows are fixed (tumbling): a day is cut into windows of the configured length starting at
//! 00:00 UTC, so a record's window depends on its own `Timestamp` only and input may come in any
//! order. A rule fires once per window and subject, on the record that takes the total to the
//! threshold. A burst that straddles two windows can stay below the threshold in both: a burst
//! of `2 * threshold - 1` within one window length is always reported.
//!
//! The counters live as long as the auditor: all input of an `s3logs audit` run, one invocation
//! (its objects) in the postprocessor. At most [`DEFAULT_WINDOW_ENTRIES`] counters are kept;
//! when a new one would exceed that, the older half (by window start) is dropped and counted in
//! [`super::Totals::window_evictions`]. A burst whose counter was dropped counts again from zero,
//! so it can be missed, and one that already fired can fire a second time, each time on that
//! many more events than the threshold.
//!
//! A counter's subject is held as a 128-bit keyed hash of its text, not as a string: adding a
//! counter then allocates nothing, which keeps the heap from fragmenting between the objects
//! of a long run (see `output::Groups`), and a counter takes a fixed 40 bytes. Two subjects share
//! a counter only if both 64-bit halves of their hashes collide, keyed anew in every process:
//! about one chance in 10^29 among the counters held.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use super::rules::{Rule, WindowBy};

/// Most counters kept at once; about 55 bytes each, the map's slack included.
pub const DEFAULT_WINDOW_ENTRIES: usize = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    rule: Rule,
    by: WindowBy,
    /// The IP or requester, hashed by [`Windows::subjects`].
    subject: (u64, u64),
    start: i64,
}

/// The running totals of the windows.
pub(super) struct Windows {
    totals: HashMap<Key, u64>,
    /// Two independently keyed hashers, one per half of a subject's hash.
    subjects: (RandomState, RandomState),
    limit: usize,
}

impl Windows {
    pub(super) fn new(limit: usize) -> Self {
        Windows {
            totals: HashMap::new(),
            subjects: (RandomState::new(), RandomState::new()),
            limit: limit.max(1),
        }
    }

    /// Adds `amount` to the window of `rule` for `subject` starting at `start`. Returns the new
    /// total if this addition reached `threshold`, and how many counters were dropped to make
    /// room.
    pub(super) fn add(
        &mut self,
        rule: Rule,
        by: WindowBy,
        subject: &str,
        start: i64,
        amount: u64,
        threshold: u64,
    ) -> (Option<u64>, u64) {
        let key = Key {
            rule,
            by,
            subject: (
                self.subjects.0.hash_one(subject),
                self.subjects.1.hash_one(subject),
            ),
            start,
        };
        let mut evicted = 0;
        if self.totals.len() >= self.limit && !self.totals.contains_key(&key) {
            evicted = self.evict_older_half();
        }
        let total = self.totals.entry(key).or_insert(0);
        let before = *total;
        *total = before.saturating_add(amount);
        let fired = (before < threshold && *total >= threshold).then_some(*total);
        (fired, evicted)
    }

    /// Drops the counters of the older half of the windows (at least one counter).
    fn evict_older_half(&mut self) -> u64 {
        let mut starts: Vec<i64> = self.totals.keys().map(|key| key.start).collect();
        let middle = starts.len() / 2;
        let (_, &mut median, _) = starts.select_nth_unstable(middle);
        let before = self.totals.len();
        self.totals.retain(|key, _| key.start > median);
        if self.totals.len() == before {
            // Every window starts at the median: drop them all rather than grow.
            self.totals.clear();
        }
        (before - self.totals.len()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_when_the_total_reaches_the_threshold() {
        let mut windows = Windows::new(10);
        let add = |w: &mut Windows, subject, start, amount| {
            w.add(Rule::Enumeration, WindowBy::RemoteIp, subject, start, amount, 3)
                .0
        };
        assert_eq!(add(&mut windows, "a", 0, 1), None);
        assert_eq!(add(&mut windows, "a", 0, 1), None);
        assert_eq!(add(&mut windows, "b", 0, 1), None);
        assert_eq!(add(&mut windows, "a", 300, 1), None);
        assert_eq!(add(&mut windows, "a", 0, 1), Some(3));
        assert_eq!(add(&mut windows, "a", 0, 1), None);
        assert_eq!(add(&mut windows, "b", 0, 5), Some(6));
    }

    #[test]
    fn at_the_bound_the_older_half_is_dropped() {
        let mut windows = Windows::new(4);
        for start in [400, 100, 300, 200] {
            let (fired, evicted) = windows.add(Rule::MassDeletion, WindowBy::Requester, "r", start, 1, 2);
            assert_eq!((fired, evicted), (None, 0));
        }
        // Full: a new counter drops the windows at or before the median start (100, 200, 300).
        let (fired, evicted) = windows.add(Rule::MassDeletion, WindowBy::Requester, "r", 500, 1, 2);
        assert_eq!((fired, evicted), (None, 3));
        // 400 survived and fires on its second event; 100 starts over.
        assert_eq!(
            windows
                .add(Rule::MassDeletion, WindowBy::Requester, "r", 400, 1, 2)
                .0,
            Some(2)
        );
        assert_eq!(
            windows
                .add(Rule::MassDeletion, WindowBy::Requester, "r", 100, 1, 2)
                .0,
            None
        );
        // An existing counter never evicts.
        assert_eq!(
            windows.add(Rule::MassDeletion, WindowBy::Requester, "r", 500, 1, 2),
            (Some(2), 0)
        );
    }

    #[test]
    fn equal_starts_are_dropped_together() {
        let mut windows = Windows::new(2);
        windows.add(Rule::BulkDownload, WindowBy::RemoteIp, "a", 0, 1, 9);
        windows.add(Rule::BulkDownload, WindowBy::RemoteIp, "b", 0, 1, 9);
        let (_, evicted) = windows.add(Rule::BulkDownload, WindowBy::RemoteIp, "c", 0, 1, 9);
        assert_eq!(evicted, 2);
    }
}
