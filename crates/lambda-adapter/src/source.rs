//! Where objects come from: one trait both functions read through, S3 in Lambda
//! ([`crate::s3::S3Objects`]), memory in unit tests.

use std::future::Future;
use std::pin::Pin;

use tokio::io::AsyncRead;

use crate::Error;
use crate::event::ObjectRef;

/// The bytes of an object, as they arrive.
pub type Body = Pin<Box<dyn AsyncRead + Send>>;

/// An object (or the rest of one) opened for reading.
pub struct Object {
    /// Bytes in `body` (`Content-Length`), when the store says.
    pub size: Option<u64>,
    /// Offset of the first byte of `body` in the object: 0, or where a resume asked to start.
    pub start: u64,
    /// The version being read (`ETag`), which pins a resume to the same bytes.
    pub etag: Option<String>,
    /// The bytes.
    pub body: Body,
}

/// Where a resumed read starts, and the version it must continue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resume<'a> {
    /// First byte not yet received.
    pub from: u64,
    /// The `ETag` of the first response; another version is [`crate::Failure::Changed`].
    pub etag: &'a str,
}

/// Opens objects by bucket, key and, when the event names one, version.
pub trait ObjectSource: Send + Sync + 'static {
    /// Opens `object` (its bucket and key, at its `version` when it names one), from
    /// `resume.from` and only if it still is `resume.etag` when resuming. A missing object or
    /// version is an error of class [`crate::Failure::Gone`].
    fn get(
        &self,
        object: &ObjectRef,
        resume: Option<Resume<'_>>,
    ) -> impl Future<Output = Result<Object, Error>> + Send;
}
