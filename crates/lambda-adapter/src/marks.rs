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

/// The marker key of `bucket`/`key` at version `etag` (quotes dropped).
pub fn mark_key(bucket: &str, key: &str, etag: &str) -> String {
    format!("{MARKS_PREFIX}{bucket}/{key}#{}", etag.trim_matches('"'))
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
            mark_key("raw", "logs/a b", "\"d41d8cd9\""),
            "_state/delivered/raw/logs/a b#d41d8cd9"
        );
        assert_ne!(mark_key("raw", "k", "v1"), mark_key("raw", "k", "v2"));
    }
}
