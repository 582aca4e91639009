//! Counters per time bucket, with a bounded number of buckets, for the report's charts over time.
//!
//! Buckets start at an hour. When the data spans more buckets than [`MAX_BUCKETS`], every bucket
//! is merged into the next width of [`WIDTHS`] (hour, day, week, 30 days, 365 days): bucket
//! starts are multiples of the width since the epoch, so merging is exact and memory stays
//! bounded whatever the input's span. A report of a few hours shows hours, one of months days.

use std::collections::BTreeMap;

/// Bucket widths in seconds, narrowest first.
pub const WIDTHS: [i64; 5] = [3_600, 86_400, 7 * 86_400, 30 * 86_400, 365 * 86_400];

/// Most buckets kept before they are merged into wider ones.
pub const MAX_BUCKETS: usize = 2_000;

/// `columns` counters per bucket.
#[derive(Debug)]
pub struct Timeline {
    /// Index into [`WIDTHS`].
    width: usize,
    columns: usize,
    buckets: BTreeMap<i64, Vec<u64>>,
}

impl Timeline {
    /// A timeline of `columns` counters per bucket, starting at the width `WIDTHS[width]`.
    pub fn new(columns: usize, width: usize) -> Self {
        Timeline {
            width: width.min(WIDTHS.len() - 1),
            columns,
            buckets: BTreeMap::new(),
        }
    }

    /// Hourly buckets to start with.
    pub fn hourly(columns: usize) -> Self {
        Timeline::new(columns, 0)
    }

    /// Daily buckets to start with.
    pub fn daily(columns: usize) -> Self {
        Timeline::new(columns, 1)
    }

    /// Adds `amount` to counter `column` of the bucket holding `seconds` (since the epoch).
    pub fn add(&mut self, seconds: i64, column: usize, amount: u64) {
        let start = seconds.div_euclid(self.width()) * self.width();
        let columns = self.columns;
        self.buckets.entry(start).or_insert_with(|| vec![0; columns])[column] += amount;
        while self.buckets.len() > MAX_BUCKETS && self.width + 1 < WIDTHS.len() {
            self.widen();
        }
    }

    /// The bucket width in seconds.
    pub fn width(&self) -> i64 {
        WIDTHS[self.width]
    }

    /// Every bucket from the first to the last with data, empty ones included (a gap in the
    /// logs shows as a gap in the chart), as (start, counters).
    pub fn buckets(&self) -> Vec<(i64, Vec<u64>)> {
        let (Some(&first), Some(&last)) = (self.buckets.keys().next(), self.buckets.keys().next_back())
        else {
            return Vec::new();
        };
        let width = self.width();
        // With the widest width the count is bounded by the span in years, so this stays small.
        (0..=(last - first) / width)
            .map(|i| {
                let start = first + i * width;
                let counters = self
                    .buckets
                    .get(&start)
                    .cloned()
                    .unwrap_or_else(|| vec![0; self.columns]);
                (start, counters)
            })
            .collect()
    }

    /// This timeline merged into wider buckets while it would show more than `max_buckets`:
    /// how the page picks hours or days from the span.
    pub fn coarsened(&self, max_buckets: usize) -> Timeline {
        let mut merged = Timeline::new(self.columns, self.width);
        merged.buckets = self.buckets.clone();
        while merged.width + 1 < WIDTHS.len() && merged.span_buckets() > max_buckets as i64 {
            merged.widen();
        }
        merged
    }

    /// How many buckets [`Timeline::buckets`] returns.
    fn span_buckets(&self) -> i64 {
        match (self.buckets.keys().next(), self.buckets.keys().next_back()) {
            (Some(first), Some(last)) => (last - first) / self.width() + 1,
            _ => 0,
        }
    }

    fn widen(&mut self) {
        self.width += 1;
        let width = self.width();
        let mut merged: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
        for (start, counters) in std::mem::take(&mut self.buckets) {
            let into = merged
                .entry(start.div_euclid(width) * width)
                .or_insert_with(|| vec![0; self.columns]);
            for (total, count) in into.iter_mut().zip(counters) {
                *total += count;
            }
        }
        self.buckets = merged;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600;
    const DAY: i64 = 86_400;

    #[test]
    fn counts_per_hour_and_fills_gaps() {
        let mut timeline = Timeline::hourly(2);
        timeline.add(10 * HOUR + 5, 0, 1);
        timeline.add(10 * HOUR + 3599, 1, 7);
        timeline.add(12 * HOUR, 0, 2);
        assert_eq!(
            timeline.buckets(),
            [
                (10 * HOUR, vec![1, 7]),
                (11 * HOUR, vec![0, 0]),
                (12 * HOUR, vec![2, 0])
            ]
        );
    }

    #[test]
    fn widens_exactly_when_the_span_needs_too_many_buckets() {
        let mut timeline = Timeline::hourly(1);
        let hours = MAX_BUCKETS as i64 + 1;
        for hour in 0..hours {
            timeline.add(hour * HOUR, 0, 1);
        }
        assert_eq!(timeline.width(), DAY);
        assert!(timeline.buckets.len() <= MAX_BUCKETS);
        let total: u64 = timeline.buckets().iter().map(|(_, c)| c[0]).sum();
        assert_eq!(total, hours as u64);
        assert_eq!(timeline.buckets()[0], (0, vec![24]));
    }

    #[test]
    fn stays_bounded_over_centuries() {
        let mut timeline = Timeline::hourly(1);
        for day in 0..200 * 365 {
            timeline.add(day * DAY, 0, 1);
        }
        assert_eq!(timeline.width(), 365 * DAY);
        assert!(timeline.buckets().len() <= 202);
    }

    #[test]
    fn coarsens_for_display_from_the_span() {
        let mut timeline = Timeline::hourly(1);
        timeline.add(0, 0, 1);
        timeline.add(9 * DAY, 0, 1);
        assert_eq!(timeline.coarsened(240).width(), HOUR);
        let days = timeline.coarsened(100);
        assert_eq!(days.width(), DAY);
        assert_eq!(days.buckets().len(), 10);
    }

    #[test]
    fn buckets_times_before_the_epoch() {
        let mut timeline = Timeline::hourly(1);
        timeline.add(-1, 0, 1);
        assert_eq!(timeline.buckets(), [(-HOUR, vec![1])]);
    }
}
