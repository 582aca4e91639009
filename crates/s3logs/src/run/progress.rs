//! The progress of `s3logs run` on a terminal: bytes read of the total, lines per second and
//! the time left. Workers only add to counters; a ticker thread redraws. Nothing is shown when
//! standard error is not a terminal.

use std::io::{self, IsTerminal, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often the lines-per-second figure is redrawn.
const TICK: Duration = Duration::from_millis(250);

/// Counters shared by the workers, and the bar they feed.
pub struct Progress {
    bar: ProgressBar,
    lines: AtomicU64,
    done: AtomicBool,
}

impl Progress {
    /// A bar over `total` bytes, hidden unless standard error is a terminal.
    pub fn new(total: u64) -> Self {
        let bar = match io::stderr().is_terminal() {
            true => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {msg} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            false => ProgressBar::hidden(),
        };
        Progress {
            bar,
            lines: AtomicU64::new(0),
            done: AtomicBool::new(false),
        }
    }

    /// Counts lines read.
    pub fn add_lines(&self, lines: u64) {
        self.lines.fetch_add(lines, Ordering::Relaxed);
    }

    /// `reader`, counting the bytes read into the bar.
    pub fn counting<R: Read>(&self, reader: R) -> Counted<'_, R> {
        Counted {
            inner: reader,
            progress: self,
        }
    }

    /// Redraws the lines per second until [`Progress::finish`]; meant for a thread of its own.
    /// Returns at once when the bar is hidden.
    pub fn tick_until_finished(&self) {
        let started = Instant::now();
        while !self.bar.is_hidden() && !self.done.load(Ordering::Relaxed) {
            std::thread::sleep(TICK);
            let seconds = started.elapsed().as_secs_f64().max(1e-3);
            let lines = self.lines.load(Ordering::Relaxed) as f64;
            self.bar.set_message(format!("{:.0} lines/s", lines / seconds));
        }
    }

    /// Stops the ticker and clears the bar.
    pub fn finish(&self) {
        self.done.store(true, Ordering::Relaxed);
        self.bar.finish_and_clear();
    }
}

/// A reader that counts what it reads into a [`Progress`].
pub struct Counted<'a, R> {
    inner: R,
    progress: &'a Progress,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.bar.inc(n as u64);
        Ok(n)
    }
}
