//! A bounded top-k counter (Misra-Gries) for the report's "top requesters, IPs, keys..." charts.
//!
//! A log can name millions of distinct keys or IPs; counting each exactly would make the
//! report's memory grow with the input. Misra-Gries keeps at most `capacity` counters: when a
//! new value arrives and every counter is taken, all counters drop by one and the empty ones
//! are freed. Every value seen more than `n / (capacity + 1)` times is kept, and a kept count is
//! low by at most the number of such drops, which [`TopK::max_undercount`] reports so the page
//! can say how approximate the numbers are (exact when no drop happened).

use std::collections::HashMap;

/// Longest value kept, in bytes; longer values (user agents, keys) are cut at a character
/// boundary so that one huge value cannot take the memory a thousand normal ones would.
const MAX_VALUE_BYTES: usize = 512;

/// Approximate counts of the most frequent values of one field.
#[derive(Debug)]
pub struct TopK {
    counts: HashMap<String, u64>,
    capacity: usize,
    /// How many times every counter was lowered by one: the most any kept count is low by.
    drops: u64,
}

impl TopK {
    /// A counter holding at most `capacity` distinct values.
    pub fn new(capacity: usize) -> Self {
        TopK {
            counts: HashMap::with_capacity(capacity.max(1)),
            capacity: capacity.max(1),
            drops: 0,
        }
    }

    /// Counts one occurrence of `value`.
    pub fn add(&mut self, value: &str) {
        let value = cut(value);
        if let Some(count) = self.counts.get_mut(value) {
            *count += 1;
        } else if self.counts.len() < self.capacity {
            self.counts.insert(value.to_owned(), 1);
        } else {
            // The newcomer's single occurrence cancels out with one of every kept value's.
            self.drops += 1;
            self.counts.retain(|_, count| {
                *count -= 1;
                *count > 0
            });
        }
    }

    /// The `n` largest counts, largest first (ties by value, for a stable page).
    pub fn top(&self, n: usize) -> Vec<(&str, u64)> {
        let mut top: Vec<(&str, u64)> = self.counts.iter().map(|(v, &c)| (v.as_str(), c)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        top.truncate(n);
        top
    }

    /// The most any count shown is below the true count; 0 means the counts are exact.
    pub fn max_undercount(&self) -> u64 {
        self.drops
    }
}

/// `value` cut to [`MAX_VALUE_BYTES`] at a character boundary.
fn cut(value: &str) -> &str {
    if value.len() <= MAX_VALUE_BYTES {
        return value;
    }
    let mut end = MAX_VALUE_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_exactly_while_values_fit() {
        let mut top = TopK::new(3);
        for value in ["a", "b", "a", "c", "a", "b"] {
            top.add(value);
        }
        assert_eq!(top.top(2), [("a", 3), ("b", 2)]);
        assert_eq!(top.max_undercount(), 0);
    }

    #[test]
    fn keeps_heavy_hitters_within_the_bound_when_values_overflow() {
        let mut top = TopK::new(10);
        let mut n = 0u64;
        for i in 0..10_000u64 {
            // "hot" is a third of the stream; the rest are all different.
            if i % 3 == 0 {
                top.add("hot");
            } else {
                top.add(&format!("cold-{i}"));
            }
            n += 1;
        }
        let (value, count) = top.top(1)[0];
        assert_eq!(value, "hot");
        let truth = 3334;
        assert!(count <= truth && truth - count <= top.max_undercount());
        assert!(top.max_undercount() <= n / 11);
        assert!(top.counts.len() <= 10);
    }

    #[test]
    fn cuts_long_values_at_a_character_boundary() {
        let long = "é".repeat(MAX_VALUE_BYTES);
        let mut top = TopK::new(2);
        top.add(&long);
        top.add(&format!("{long}more"));
        let (value, count) = top.top(1)[0];
        assert_eq!(count, 2);
        assert!(value.len() <= MAX_VALUE_BYTES && value.chars().all(|c| c == 'é'));
    }
}
