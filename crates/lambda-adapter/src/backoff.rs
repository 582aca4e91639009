//! Exponential backoff with full jitter, written out so its behaviour is ours and testable.
//!
//! Used where the functions retry in place rather than through the SDK: resuming a broken
//! `GetObject` body, and the preprocessor's `PutRecordBatch` calls (a call that half succeeds is
//! answered with HTTP 200, so only the caller can resend exactly the failed entries). Full
//! jitter (a uniformly random wait below an exponentially growing ceiling) spreads the retries of
//! concurrent invocations, as the AWS Architecture Blog's "Exponential Backoff And Jitter"
//! recommends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Waits before retries: attempt `n` (1 after the first failure) waits a random time below
/// `min(cap, base * 2^(n-1))`.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    rng: u64,
}

impl Backoff {
    /// A backoff seeded from the clock and a process-wide counter, so concurrent batches do not
    /// wait in lockstep.
    pub fn new(base: Duration, cap: Duration) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let clock = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos() as u64);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        Backoff::with_seed(base, cap, clock ^ count.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// A backoff with a fixed seed, for reproducible tests.
    pub fn with_seed(base: Duration, cap: Duration, seed: u64) -> Self {
        Backoff {
            base,
            cap: cap.max(base),
            // xorshift has one fixed point, zero; avoid it.
            rng: seed | 1,
        }
    }

    /// The most that attempt `attempt` may wait.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.base.saturating_mul(1 << doublings).min(self.cap)
    }

    /// A random wait for attempt `attempt`, in `[0, ceiling]`.
    pub fn delay(&mut self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt).as_nanos() as u64;
        Duration::from_nanos(self.next() % (ceiling + 1))
    }

    /// xorshift64*: plenty for jitter, and no dependency for it.
    fn next(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let backoff = Backoff::with_seed(100 * MS, 1000 * MS, 7);
        let ceilings: Vec<u128> = (1..=7).map(|n| backoff.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(backoff.ceiling(u32::MAX), 1000 * MS);
        assert_eq!(backoff.ceiling(0), 100 * MS);
    }

    #[test]
    fn delays_are_jittered_within_the_ceiling() {
        let mut backoff = Backoff::with_seed(100 * MS, 1000 * MS, 42);
        for attempt in 1..=8 {
            let delays: Vec<Duration> = (0..200).map(|_| backoff.delay(attempt)).collect();
            let ceiling = backoff.ceiling(attempt);
            assert!(delays.iter().all(|delay| *delay <= ceiling), "attempt {attempt}");
            // Full jitter: waits spread over the whole range, not bunched at the ceiling.
            let low = delays.iter().filter(|delay| **delay < ceiling / 4).count();
            let high = delays.iter().filter(|delay| **delay > ceiling * 3 / 4).count();
            assert!(low > 20 && high > 20, "attempt {attempt}: {low} low, {high} high");
        }
    }

    #[test]
    fn same_seed_same_delays_and_different_seeds_differ() {
        let run = |seed| {
            let mut backoff = Backoff::with_seed(MS, 100 * MS, seed);
            (1..10).map(|n| backoff.delay(n)).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        assert_ne!(Backoff::new(MS, MS).rng, 0);
    }
}
