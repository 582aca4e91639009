//! The one byte bridge from an object's async body to the engine's blocking `Read`, and the one
//! place a broken download is resumed and told apart from bad content.
//!
//! ```text
//!  ObjectSource::get ─▶ pump (async task) ──chunks (bounded)──▶ BodyReader (engine thread)
//!        ▲                 │ body broke (reset, read timeout, short body)
//!        └─ Range: bytes=N-, If-Match: <first ETag>  (bounded resumes, backoff)
//! ```
//!
//! The engine (parsing, auditing) is synchronous CPU work on a blocking thread; the pump moves the
//! body to it in chunks through a bounded channel, so memory is a few chunks whatever the object's
//! size and a slow consumer slows the download instead of filling memory. The reader hands each
//! drained chunk back to the pump (`ChunkPool`), so those few chunks are the same buffers for
//! the whole object: no allocator churn, whatever the allocator's settings.
//!
//! When the body breaks, the pump asks for the rest with a Range request from the first byte not
//! yet received, pinned to the first response's `ETag`: a changed object is then an error of
//! class [`Failure::Changed`](crate::Failure::Changed), never a spliced stream. A body that ends
//! cleanly but short of its `Content-Length` is treated as broken too. Only when the resumes are
//! used up does the reader see an error, of kind `ConnectionAborted` (which the engine reports as
//! I/O, never as corrupt gzip), and [`Transfer::take_failure`] says what really failed: whatever
//! the engine made of the bytes, a source failure wins.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::Error;
use crate::backoff::Backoff;
use crate::chunk_pool::ChunkPool;
use crate::event::ObjectRef;
use crate::source::{Body, Object, ObjectSource, Resume};

/// How an object is downloaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadSettings {
    /// Size of one chunk handed to the engine.
    pub chunk_bytes: usize,
    /// Chunks buffered between the download and the engine.
    pub queued_chunks: usize,
    /// Range requests made to continue one object's broken body before giving up.
    pub max_resumes: u32,
    /// First resume waits up to this long (full jitter).
    pub backoff_base: Duration,
    /// No resume waits longer than this.
    pub backoff_cap: Duration,
}

impl Default for ReadSettings {
    fn default() -> Self {
        ReadSettings {
            chunk_bytes: 256 * 1024,
            queued_chunks: 4,
            max_resumes: 5,
            backoff_base: Duration::from_millis(200),
            backoff_cap: Duration::from_secs(5),
        }
    }
}

/// An object being downloaded: its reader for the engine thread and the handle of the download.
pub struct Download {
    /// The object's size, when the store says.
    pub size: Option<u64>,
    /// The bytes, as a blocking reader (use it on a blocking thread only).
    pub reader: BodyReader,
    /// The download running behind the reader.
    pub transfer: Transfer,
}

/// The running download. Dropping it stops the download.
pub struct Transfer {
    progress: Arc<Progress>,
    pump: JoinHandle<()>,
}

impl Transfer {
    /// Bytes received so far (resumed requests included, each byte once).
    pub fn received(&self) -> u64 {
        self.progress.received.load(Ordering::Relaxed)
    }

    /// Range requests made to continue the body.
    pub fn resumes(&self) -> u32 {
        self.progress.resumes.load(Ordering::Relaxed)
    }

    /// Stops the download now (the consumer gave up); the reader then fails instead of waiting.
    pub fn stop(&self) {
        self.pump.abort();
    }

    /// The source's failure, if the download failed: it is the real cause of whatever error or
    /// damage the engine reported, since the engine only saw the bytes stop.
    pub fn take_failure(&self) -> Option<Error> {
        self.progress
            .failure
            .lock()
            .ok()
            .and_then(|mut failure| failure.take())
    }
}

impl Drop for Transfer {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

#[derive(Default)]
struct Progress {
    received: AtomicU64,
    resumes: AtomicU32,
    failure: Mutex<Option<Error>>,
}

/// Opens `object` (at the version it names, if any) and starts downloading it. Must be called
/// within a tokio runtime.
pub async fn open<S: ObjectSource>(
    source: &Arc<S>,
    object: &ObjectRef,
    settings: ReadSettings,
) -> Result<Download, Error> {
    let first = source.get(object, None).await?;
    let size = first.size;
    let queued = settings.queued_chunks.max(1);
    let (chunk_tx, chunk_rx) = mpsc::channel(queued);
    // At most `queued` chunks wait in the channel, one is being filled and one is being read.
    let pool = ChunkPool::new(settings.chunk_bytes.max(1), queued + 2);
    let progress = Arc::new(Progress::default());
    let pump = Pump {
        source: Arc::clone(source),
        object: object.clone(),
        size,
        etag: first.etag,
        settings,
        chunks: chunk_tx,
        pool: pool.clone(),
        progress: Arc::clone(&progress),
    };
    let pump = tokio::spawn(pump.run(first.body));
    Ok(Download {
        size,
        reader: BodyReader::new(chunk_rx, pool),
        transfer: Transfer { progress, pump },
    })
}

/// A piece of the download, or how it ended.
enum Chunk {
    Data(Vec<u8>),
    End,
    Failed(String),
}

/// How filling one chunk ended.
enum Fill {
    Full,
    End,
    Broke(String),
}

struct Pump<S> {
    source: Arc<S>,
    object: ObjectRef,
    size: Option<u64>,
    etag: Option<String>,
    settings: ReadSettings,
    chunks: mpsc::Sender<Chunk>,
    pool: ChunkPool,
    progress: Arc<Progress>,
}

impl<S: ObjectSource> Pump<S> {
    /// Moves the body into the channel, resuming it when it breaks. Waiting on a full channel is
    /// what bounds memory.
    async fn run(self, mut body: Body) {
        let mut backoff = Backoff::new(self.settings.backoff_base, self.settings.backoff_cap);
        let mut received = 0u64;
        loop {
            let mut buffer = self.pool.take();
            let mut filled = 0;
            let fill = loop {
                match body.read(&mut buffer[filled..]).await {
                    Ok(0) => break Fill::End,
                    Ok(n) => {
                        filled += n;
                        if filled == buffer.len() {
                            break Fill::Full;
                        }
                    }
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => break Fill::Broke(error.to_string()),
                }
            };
            if filled > 0 {
                buffer.truncate(filled);
                received += filled as u64;
                self.progress.received.store(received, Ordering::Relaxed);
                if self.chunks.send(Chunk::Data(buffer)).await.is_err() {
                    return;
                }
            }
            let complete = self.size.is_some_and(|size| received >= size);
            let broke = match fill {
                Fill::Full => continue,
                Fill::End if complete || self.size.is_none() => None,
                // Every byte arrived and only the connection's end failed: nothing is missing.
                Fill::Broke(_) if complete => None,
                Fill::End => Some(format!(
                    "the body ended after {received} of {} bytes",
                    self.size.unwrap_or_default()
                )),
                Fill::Broke(message) => Some(message),
            };
            let Some(broke) = broke else {
                let _ = self.chunks.send(Chunk::End).await;
                return;
            };
            tracing::warn!(bucket = %self.object.bucket, key = %self.object.key, version = self.object.version.as_deref(), received, error = %broke, "download broke; resuming");
            match self.resume(received, broke, &mut backoff).await {
                Ok(rest) => body = rest,
                Err(error) => {
                    let message = error.to_string();
                    if let Ok(mut failure) = self.progress.failure.lock() {
                        *failure = Some(error);
                    }
                    let _ = self.chunks.send(Chunk::Failed(message)).await;
                    return;
                }
            }
        }
    }

    /// The rest of the object from byte `from`, pinned to the first ETag, with backoff between
    /// attempts; an error once the resumes are used up or the failure is not transient.
    async fn resume(&self, from: u64, broke: String, backoff: &mut Backoff) -> Result<Body, Error> {
        let object = self.object.describe();
        let mut last = broke;
        let Some(etag) = self.etag.as_deref() else {
            return Err(Error::Broken {
                object,
                received: from,
                resumes: 0,
                message: format!("{last} (no ETag to resume against)"),
            });
        };
        loop {
            let done = self.progress.resumes.load(Ordering::Relaxed);
            if done >= self.settings.max_resumes {
                return Err(Error::Broken {
                    object,
                    received: from,
                    resumes: done,
                    message: last,
                });
            }
            self.progress.resumes.store(done + 1, Ordering::Relaxed);
            tokio::time::sleep(backoff.delay(done + 1)).await;
            let resume = Resume { from, etag };
            match self.source.get(&self.object, Some(resume)).await {
                Ok(Object { start, body, .. }) if start == from => return Ok(body),
                Ok(Object { start, .. }) => {
                    last = format!("asked for the object from byte {from}, got it from byte {start}");
                }
                Err(error) if error.failure().is_transient() => last = error.to_string(),
                Err(error) => return Err(error),
            }
        }
    }
}

/// The engine's side of the bridge: a blocking `Read` over the download's chunks.
pub struct BodyReader {
    chunks: mpsc::Receiver<Chunk>,
    pool: ChunkPool,
    current: Vec<u8>,
    at: usize,
    ended: bool,
}

impl BodyReader {
    fn new(chunks: mpsc::Receiver<Chunk>, pool: ChunkPool) -> Self {
        BodyReader {
            chunks,
            pool,
            current: Vec::new(),
            at: 0,
            ended: false,
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            if self.ended {
                return Ok(0);
            }
            // The drained chunk goes back before waiting, so the pump can fill it again.
            self.pool.give_back(std::mem::take(&mut self.current));
            self.at = 0;
            match self.chunks.blocking_recv() {
                Some(Chunk::Data(data)) => self.current = data,
                Some(Chunk::End) => self.ended = true,
                // `ConnectionAborted`: the engine reports it as I/O, never as corrupt content.
                Some(Chunk::Failed(message)) => {
                    return Err(io::Error::new(io::ErrorKind::ConnectionAborted, message));
                }
                // The pump is gone without saying the object ended: never mistake that for EOF.
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "download stopped before the end of the object",
                    ));
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::io::{AsyncRead, ReadBuf};

    use super::*;
    use crate::Failure;

    /// An object in memory whose responses break after set numbers of bytes.
    struct Flaky {
        data: Vec<u8>,
        etag: &'static str,
        /// Each response in turn delivers this many bytes, then breaks (reset) or, for
        /// `short`, ends cleanly; responses past the list are whole.
        breaks: Vec<usize>,
        short: bool,
        /// The ETag later responses answer with (the object changed).
        changed_to: Option<&'static str>,
        calls: AtomicU32,
    }

    impl Flaky {
        fn new(data: Vec<u8>, breaks: Vec<usize>) -> Self {
            Flaky {
                data,
                etag: "\"v1\"",
                breaks,
                short: false,
                changed_to: None,
                calls: AtomicU32::new(0),
            }
        }
    }

    struct Breaking {
        data: io::Cursor<Vec<u8>>,
        short: bool,
    }

    impl AsyncRead for Breaking {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let mut chunk = [0u8; 1000];
            let n = io::Read::read(&mut self.data, &mut chunk[..buf.remaining().min(1000)])?;
            if n == 0 && !self.short {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset")));
            }
            buf.put_slice(&chunk[..n]);
            Poll::Ready(Ok(()))
        }
    }

    impl ObjectSource for Flaky {
        async fn get(&self, object: &ObjectRef, resume: Option<Resume<'_>>) -> Result<Object, Error> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst) as usize;
            let current = if call > 0 {
                self.changed_to.unwrap_or(self.etag)
            } else {
                self.etag
            };
            let from = match resume {
                Some(resume) if resume.etag != current => {
                    return Err(Error::S3 {
                        object: object.describe(),
                        message: "PreconditionFailed".into(),
                        failure: Failure::Changed,
                    });
                }
                Some(resume) => resume.from as usize,
                None => 0,
            };
            let rest = self.data[from..].to_vec();
            let size = Some(rest.len() as u64);
            let body: Body = match self.breaks.get(call) {
                Some(&after) => Box::pin(Breaking {
                    data: io::Cursor::new(rest[..after.min(rest.len())].to_vec()),
                    short: self.short,
                }),
                None => Box::pin(io::Cursor::new(rest)),
            };
            Ok(Object {
                size,
                start: from as u64,
                etag: Some(current.to_owned()),
                body,
            })
        }
    }

    fn settings(max_resumes: u32) -> ReadSettings {
        ReadSettings {
            chunk_bytes: 777,
            queued_chunks: 2,
            max_resumes,
            backoff_base: Duration::from_millis(1),
            backoff_cap: Duration::from_millis(2),
        }
    }

    fn data() -> Vec<u8> {
        (0..50_000u32).flat_map(|n| n.to_le_bytes()).collect()
    }

    /// Reads everything on a blocking thread, as the engine does.
    async fn read_all(source: Flaky, settings: ReadSettings) -> (io::Result<Vec<u8>>, Transfer, Arc<Flaky>) {
        read_all_with_pool(source, settings).await.0
    }

    /// [`read_all`], with the download's chunk pool.
    async fn read_all_with_pool(
        source: Flaky,
        settings: ReadSettings,
    ) -> ((io::Result<Vec<u8>>, Transfer, Arc<Flaky>), ChunkPool) {
        let source = Arc::new(source);
        let download = open(&source, &ObjectRef::new("b", "k", None), settings)
            .await
            .unwrap();
        let mut reader = download.reader;
        let pool = reader.pool.clone();
        let read = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            reader.read_to_end(&mut out).map(|_| out)
        })
        .await
        .unwrap();
        ((read, download.transfer, source), pool)
    }

    #[tokio::test]
    async fn passes_a_whole_body_through() {
        let (read, transfer, source) = read_all(Flaky::new(data(), vec![]), settings(3)).await;
        assert_eq!(read.unwrap(), data());
        assert_eq!((transfer.received(), transfer.resumes()), (200_000, 0));
        assert!(transfer.take_failure().is_none());
        assert_eq!(source.calls.load(Ordering::SeqCst), 1);
    }

    /// The reader hands every drained chunk back to the pump's pool (the pool's own tests show
    /// that a chunk given back is the next one handed out, and that it keeps no more than the
    /// chunks that can exist at once).
    #[tokio::test]
    async fn the_reader_gives_drained_chunks_back_to_the_pool() {
        let ((read, _, _), pool) = read_all_with_pool(Flaky::new(data(), vec![1_234]), settings(3)).await;
        let data = data();
        assert_eq!(read.unwrap(), data);
        // The body resumed at byte 1,234 and went on in 777-byte chunks, so the last chunk holds
        // its last bytes. The reader gave it back when it reached the end, after the pump's
        // last take: the pool's next buffer is that chunk, its bytes still in it (a new buffer
        // would be zeroed).
        let last = (data.len() - 1_234) % 777;
        let next = pool.take();
        assert_eq!(&next[..last], &data[data.len() - last..]);
    }

    #[tokio::test]
    async fn resumes_broken_and_short_bodies_from_the_first_missing_byte() {
        for short in [false, true] {
            let mut source = Flaky::new(data(), vec![1_234, 50_000, 7]);
            source.short = short;
            let (read, transfer, source) = read_all(source, settings(3)).await;
            // Every byte once, in order: nothing spliced twice, nothing skipped.
            assert_eq!(read.unwrap(), data(), "short {short}");
            assert_eq!(transfer.resumes(), 3);
            assert_eq!(source.calls.load(Ordering::SeqCst), 4);
        }
    }

    #[tokio::test]
    async fn gives_up_after_the_allowed_resumes() {
        let (read, transfer, _) = read_all(Flaky::new(data(), vec![10_000; 10]), settings(2)).await;
        let error = read.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionAborted);
        let failure = transfer.take_failure().unwrap();
        assert!(
            matches!(
                failure,
                Error::Broken {
                    resumes: 2,
                    received: 30_000,
                    ..
                }
            ),
            "{failure}"
        );
        assert_eq!(failure.failure(), Failure::Transient);
    }

    #[tokio::test]
    async fn a_changed_object_is_an_error_not_a_spliced_stream() {
        let mut source = Flaky::new(data(), vec![5_000]);
        source.changed_to = Some("\"v2\"");
        let (read, transfer, _) = read_all(source, settings(3)).await;
        assert!(read.is_err());
        assert_eq!(transfer.take_failure().unwrap().failure(), Failure::Changed);
        assert_eq!(transfer.received(), 5_000);
    }
}
