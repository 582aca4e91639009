//! The part of a JSON record the audit rules read, borrowed from the line.
//!
//! Only candidate lines (those that pass the byte-level pre-check) are parsed into this view, so
//! it deserializes the handful of keys a hit line carries and ignores the rest. Strings borrow
//! from the line unless they contain JSON escapes. Each key is a [`Slot`] so that a missing key
//! (a line that does not follow the record contract) can be told apart from a `null` value.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// A key of the record: absent, `null`, or a value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Slot<T> {
    /// The key is not in the object.
    #[default]
    Missing,
    /// The key is there with `null`.
    Null,
    /// The key is there with a value.
    Value(T),
}

impl<T> Slot<T> {
    /// The value, if any; `Missing` and `Null` are both `None`.
    pub fn get(&self) -> Option<&T> {
        match self {
            Slot::Value(value) => Some(value),
            Slot::Missing | Slot::Null => None,
        }
    }

    fn is_missing(&self) -> bool {
        matches!(self, Slot::Missing)
    }
}

impl Slot<Text<'_>> {
    /// The string, if any.
    pub fn text(&self) -> Option<&str> {
        self.get().map(Text::as_str)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Slot<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Only called when the key is present; `#[serde(default)]` covers the missing case.
        Ok(Option::<T>::deserialize(deserializer)?.map_or(Slot::Null, Slot::Value))
    }
}

/// A JSON string borrowed from the line when it has no escapes, owned when it had to be
/// unescaped.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Text<'_> {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(value)))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(value.to_owned())))
            }

            fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(value)))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

/// The keys of a record that the rules and the hit lines use.
///
/// Field names follow the record contract exactly; unknown keys are ignored so that records from
/// a later schema version still audit. A key given twice is an error (serde's derive rejects
/// duplicates), which keeps the byte-level pre-check sound: it never has to guess which of two
/// values the full check would pick.
#[derive(Debug, Default, Deserialize)]
#[allow(missing_docs)] // Each field is the record key it is renamed from.
pub struct RecordView<'a> {
    #[serde(rename = "Bucket", default, borrow)]
    pub bucket: Slot<Text<'a>>,
    #[serde(rename = "Timestamp", default, borrow)]
    pub timestamp: Slot<Text<'a>>,
    #[serde(rename = "RemoteIP", default, borrow)]
    pub remote_ip: Slot<Text<'a>>,
    #[serde(rename = "Requester", default, borrow)]
    pub requester: Slot<Text<'a>>,
    #[serde(rename = "Operation", default, borrow)]
    pub operation: Slot<Text<'a>>,
    #[serde(rename = "Key", default, borrow)]
    pub key: Slot<Text<'a>>,
    #[serde(rename = "RequestURI", default, borrow)]
    pub request_uri: Slot<Text<'a>>,
    #[serde(rename = "HTTPstatus", default)]
    pub http_status: Slot<u64>,
    #[serde(rename = "ErrorCode", default, borrow)]
    pub error_code: Slot<Text<'a>>,
    #[serde(rename = "BytesSent", default)]
    pub bytes_sent: Slot<u64>,
    #[serde(rename = "ObjectSize", default)]
    pub object_size: Slot<u64>,
    #[serde(rename = "UserAgent", default, borrow)]
    pub user_agent: Slot<Text<'a>>,
    #[serde(rename = "SignatureVersion", default, borrow)]
    pub signature_version: Slot<Text<'a>>,
    #[serde(rename = "TLSVersion", default, borrow)]
    pub tls_version: Slot<Text<'a>>,
    #[serde(rename = "AclRequired", default, borrow)]
    pub acl_required: Slot<Text<'a>>,
    #[serde(rename = "RecordId", default, borrow)]
    pub record_id: Slot<Text<'a>>,
    #[serde(rename = "LogFile", default, borrow)]
    pub log_file: Slot<Text<'a>>,
    #[serde(rename = "ParseError", default, borrow)]
    pub parse_error: Slot<Text<'a>>,
    #[serde(rename = "RawLine", default, borrow)]
    pub raw_line: Slot<Text<'a>>,
}

impl<'a> RecordView<'a> {
    /// Parses one NDJSON line and checks that every key a hit line needs is present.
    pub fn parse(line: &'a [u8]) -> Result<Self, String> {
        let view: RecordView<'a> =
            serde_json::from_slice(line).map_err(|error| format!("invalid record JSON: {error}"))?;
        match view.first_missing_key() {
            Some(key) => Err(format!("record has no `{key}` key")),
            None => Ok(view),
        }
    }

    /// The first key the record contract says is always present but this record lacks.
    fn first_missing_key(&self) -> Option<&'static str> {
        let missing = |slot: &Slot<Text<'_>>| slot.is_missing();
        let keys: [(&'static str, bool); 15] = [
            ("Bucket", missing(&self.bucket)),
            ("Timestamp", missing(&self.timestamp)),
            ("RemoteIP", missing(&self.remote_ip)),
            ("Requester", missing(&self.requester)),
            ("Operation", missing(&self.operation)),
            ("Key", missing(&self.key)),
            ("RequestURI", missing(&self.request_uri)),
            ("HTTPstatus", self.http_status.is_missing()),
            ("ErrorCode", missing(&self.error_code)),
            ("UserAgent", missing(&self.user_agent)),
            ("SignatureVersion", missing(&self.signature_version)),
            ("TLSVersion", missing(&self.tls_version)),
            ("AclRequired", missing(&self.acl_required)),
            ("RecordId", missing(&self.record_id)),
            ("LogFile", missing(&self.log_file)),
        ];
        keys.into_iter().find(|&(_, missing)| missing).map(|(key, _)| key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{"Bucket":"b","Timestamp":"2024-01-02 03:04:05","RemoteIP":"192.0.2.1","Requester":null,"Operation":"REST.GET.OBJECT","Key":"k","RequestURI":"GET /k HTTP/1.1","HTTPstatus":200,"ErrorCode":null,"UserAgent":"curl/8","SignatureVersion":"SigV4","TLSVersion":"TLSv1.2","AclRequired":null,"RecordId":"0123456789abcdef","LogFile":"s3://l/k"}"#;

    #[test]
    fn borrows_unescaped_strings_and_owns_escaped_ones() {
        let line = FULL.replace(r#""curl/8""#, r#""say \"hi\"""#);
        let view = RecordView::parse(line.as_bytes()).unwrap();
        assert!(matches!(view.bucket.get().unwrap().0, Cow::Borrowed("b")));
        assert_eq!(view.user_agent.get().unwrap().as_str(), "say \"hi\"");
        assert_eq!(view.requester, Slot::Null);
        assert_eq!(view.http_status, Slot::Value(200));
        assert_eq!(view.parse_error, Slot::Missing);
    }

    #[test]
    fn rejects_records_that_break_the_contract() {
        let cases = [
            (FULL.replace(r#""Key":"k","#, ""), "record has no `Key` key"),
            (
                FULL.replace(r#""HTTPstatus":200,"#, ""),
                "record has no `HTTPstatus` key",
            ),
            (FULL.replace("200", r#""200""#), "invalid record JSON"),
            (
                FULL.replace(r#""Key":"k""#, r#""Key":"k","Key":"j""#),
                "duplicate field",
            ),
            (FULL[..FULL.len() - 1].to_owned(), "invalid record JSON"),
        ];
        for (line, expected) in cases {
            let error = RecordView::parse(line.as_bytes()).unwrap_err();
            assert!(error.contains(expected), "{line}: {error}");
        }
    }
}
