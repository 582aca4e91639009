//! The download's chunk buffers, handed back and forth between the bridge's pump (which fills
//! them) and the engine's reader (which drains them), so one object reuses a few buffers instead
//! of allocating one per chunk.
//!
//! Why it matters: a fresh 256 KiB buffer per chunk is above glibc's initial mmap threshold, so
//! either every chunk is new mmapped pages (page faults and zeroing: CPU) or, once glibc raises
//! its threshold after the first large free, chunks come from per-thread heaps that fragment
//! (peak RSS growing with the object's size). Reused buffers avoid both. A buffer is always owned
//! by exactly one side (the pool, the pump, the channel or the reader), so none is handed out
//! while in use.

use std::sync::{Arc, Mutex};

/// Free chunks of one size, shared by the pump and the reader of one download.
#[derive(Clone)]
pub(crate) struct ChunkPool {
    inner: Arc<Inner>,
}

struct Inner {
    chunk_bytes: usize,
    /// The most free chunks kept; more would only be memory nobody can use, since the bounded
    /// channel caps how many chunks exist at once.
    keep: usize,
    free: Mutex<Vec<Vec<u8>>>,
}

impl ChunkPool {
    /// A pool of `chunk_bytes` buffers keeping at most `keep` free ones.
    pub(crate) fn new(chunk_bytes: usize, keep: usize) -> Self {
        ChunkPool {
            inner: Arc::new(Inner {
                chunk_bytes,
                keep,
                free: Mutex::new(Vec::with_capacity(keep)),
            }),
        }
    }

    /// A buffer of exactly `chunk_bytes` bytes (old contents, if reused), yours until given back.
    pub(crate) fn take(&self) -> Vec<u8> {
        let reused = self.inner.free.lock().ok().and_then(|mut free| free.pop());
        match reused {
            // Only the tail a short chunk left is zeroed; a full chunk comes back as it is.
            Some(mut buffer) => {
                buffer.resize(self.inner.chunk_bytes, 0);
                buffer
            }
            None => vec![0; self.inner.chunk_bytes],
        }
    }

    /// Returns a drained buffer for reuse. Buffers of another size (the reader's empty start)
    /// and buffers beyond `keep` are dropped.
    pub(crate) fn give_back(&self, buffer: Vec<u8>) {
        if buffer.capacity() != self.inner.chunk_bytes {
            return;
        }
        if let Ok(mut free) = self.inner.free.lock()
            && free.len() < self.inner.keep
        {
            free.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer from `pool` filled with `byte`, so that it can be told from a new one (zeroed).
    fn marked(pool: &ChunkPool, byte: u8) -> Vec<u8> {
        let mut buffer = pool.take();
        buffer.fill(byte);
        buffer
    }

    #[test]
    fn a_given_back_chunk_is_the_next_handed_out_and_none_is_handed_out_twice() {
        let pool = ChunkPool::new(1024, 2);
        let first = marked(&pool, 1);
        let second = marked(&pool, 2);
        assert_ne!(first.as_ptr(), second.as_ptr());

        let mut short = first;
        short.truncate(10);
        let reused_at = short.as_ptr();
        pool.give_back(short);
        let again = pool.take();
        // The same allocation, full length again, its old bytes kept and only the tail the
        // short chunk left zeroed, while `second` is still its own.
        assert_eq!(
            (again.as_ptr(), again.len(), again.capacity()),
            (reused_at, 1024, 1024)
        );
        assert_eq!((&again[..10], &again[10..]), (&[1; 10][..], &[0; 1014][..]));
        // The pool is empty now: the next buffer is a new one, not one in use.
        let third = pool.take();
        assert!(![again.as_ptr(), second.as_ptr()].contains(&third.as_ptr()));
        assert!(third.iter().all(|&byte| byte == 0), "a new buffer");
    }

    #[test]
    fn keeps_only_chunks_of_its_size_up_to_its_limit() {
        let pool = ChunkPool::new(1024, 2);
        // Buffers of another size are dropped: the next one is new (zeroed), of the pool's size.
        pool.give_back(Vec::new());
        pool.give_back(vec![7; 100]);
        let fresh = pool.take();
        assert_eq!((fresh.len(), fresh.capacity()), (1024, 1024));
        assert!(fresh.iter().all(|&byte| byte == 0), "a new buffer");

        drop(fresh);

        // Three given back, two kept: they come back last in, first out, then a new one.
        let buffers = [marked(&pool, 1), marked(&pool, 2), marked(&pool, 3)];
        let kept = [buffers[0].as_ptr(), buffers[1].as_ptr()];
        for buffer in buffers {
            pool.give_back(buffer);
        }
        let (a, b, c) = (pool.take(), pool.take(), pool.take());
        assert_eq!([a.as_ptr(), b.as_ptr()], [kept[1], kept[0]]);
        assert!(a.iter().all(|&byte| byte == 2) && b.iter().all(|&byte| byte == 1));
        assert!(c.iter().all(|&byte| byte == 0), "the third was dropped, not kept");
    }
}
