//! Delivery markers: how a retried event skips the objects an earlier attempt fully delivered.
//!
//! When an event that names several objects is about to be kept for retry, the preprocessor
//! writes one small marker for each of its objects that was delivered whole; the retry checks
//! them and reads only the others, so their lines are not sent again. Markers are written only
//! on that failure path and checked only for events naming more than one object, so the common
//! case costs nothing. A marker names the object's version (`ETag` from the event): a new version
//! under the same key is never mistaken for a delivered one. The bucket's lifecycle rule expires
//! them once no retry can come any more.

use std::future::Future;

use crate::Error;

/// Prefix of every marker key.
pub const MARKS_PREFIX: &str = "_state/delivered/";

/// Longest S3 key, in bytes.
const MAX_KEY: usize = 1024;

/// The marker key of `bucket`/`key` at version `etag` (quotes dropped); `None` when it would be
/// longer than S3 allows (a key near 1,024 bytes), and such an object is simply not marked: a
/// retry sends it again, which duplicates but never loses.
pub fn mark_key(bucket: &str, key: &str, etag: &str) -> Option<String> {
    let mark = format!("{MARKS_PREFIX}{bucket}/{key}#{}", etag.trim_matches('"'));
    (mark.len() <= MAX_KEY).then_some(mark)
}

/// Where markers are kept (an S3 prefix in Lambda, memory in unit tests).
pub trait DeliveryMarks: Send + Sync + 'static {
    /// Whether the marker `key` exists.
    fn is_marked(&self, key: &str) -> impl Future<Output = Result<bool, Error>> + Send;
    /// Writes the marker `key`.
    fn mark(&self, key: &str) -> impl Future<Output = Result<(), Error>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_name_bucket_key_and_version() {
        assert_eq!(
            mark_key("raw", "logs/a b", "\"d41d8cd9\"").as_deref(),
            Some("_state/delivered/raw/logs/a b#d41d8cd9")
        );
        assert_ne!(mark_key("raw", "k", "v1"), mark_key("raw", "k", "v2"));
        assert!(mark_key("raw", &"k".repeat(1000), "v1").is_some_and(|mark| mark.len() == 1024));
        assert_eq!(mark_key("raw", &"k".repeat(1001), "v1"), None);
    }
}
