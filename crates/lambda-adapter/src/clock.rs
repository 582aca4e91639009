//! Wall-clock time and the invocation deadline, the two clocks a Lambda handler works with.
//!
//! EMF lines carry epoch milliseconds; work is bounded by the invocation deadline Lambda puts in
//! the context, less a margin left for answering (retries must be arranged before the runtime
//! kills the invocation, or the event is retried with no record of why).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::Context;
use tokio::time::Instant;

/// 2001-01-01 in milliseconds since the epoch: any real deadline is later.
const EPOCH_2001_MS: u64 = 978_307_200_000;

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// When work must stop: the invocation deadline less `margin`, but never less than nine tenths
/// of the time left (a function with a 3 s timeout must not stop before it starts). `None` when
/// the context has no deadline (a local run).
pub fn deadline(context: &Context, margin: Duration) -> Option<Instant> {
    if context.deadline == 0 {
        return None;
    }
    let remaining = if context.deadline < EPOCH_2001_MS {
        // Not a point in time: `cargo lambda watch` sends the timeout itself (600000).
        Duration::from_millis(context.deadline)
    } else {
        Duration::from_millis(context.deadline.saturating_sub(epoch_ms()))
    };
    Some(Instant::now() + remaining.saturating_sub(margin.min(remaining / 10)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_leaves_the_margin() {
        let mut context = Context::default();
        assert_eq!(deadline(&context, Duration::from_secs(1)), None);
        context.deadline = epoch_ms() + 60_000;
        let left = deadline(&context, Duration::from_secs(10)).unwrap() - Instant::now();
        // A minute: the margin is six seconds, a tenth of it.
        assert!(
            left > Duration::from_secs(53) && left <= Duration::from_secs(54),
            "{left:?}"
        );
        // A short timeout keeps nine tenths of its time.
        context.deadline = epoch_ms() + 3_000;
        let left = deadline(&context, Duration::from_secs(10)).unwrap() - Instant::now();
        assert!(
            left > Duration::from_millis(2_500) && left <= Duration::from_millis(2_700),
            "{left:?}"
        );
        context.deadline = epoch_ms().saturating_sub(1);
        assert!(deadline(&context, Duration::from_secs(10)).unwrap() <= Instant::now());
        // The local emulator's relative timeout.
        context.deadline = 600_000;
        let left = deadline(&context, Duration::from_secs(10)).unwrap() - Instant::now();
        assert!(
            left > Duration::from_secs(589) && left <= Duration::from_secs(590),
            "{left:?}"
        );
    }

    #[test]
    fn epoch_ms_is_after_2001() {
        assert!(epoch_ms() > EPOCH_2001_MS);
    }
}
