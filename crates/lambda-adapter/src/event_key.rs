//! Object keys as S3 event notifications carry them.
//!
//! S3 URL-encodes keys in notifications (form encoding: `+` is a space), while EventBridge and
//! S3 Batch Operations do not; both Lambdas decode notification keys here before asking S3 for
//! the object, since a key with a space or `=` (every Hive-style prefix has one) is otherwise
//! not found.

use std::borrow::Cow;

/// Decodes a key as S3 writes it into event notifications: form encoding, where `+` is a space
/// and `%XX` is a byte. A `%` not followed by two hex digits is kept as is. Keys are UTF-8, so
/// invalid sequences (which S3 never produces) are replaced rather than failing.
pub fn decode_key(encoded: &str) -> Cow<'_, str> {
    if !encoded.bytes().any(|byte| byte == b'%' || byte == b'+') {
        return Cow::Borrowed(encoded);
    }
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'+' => decoded.push(b' '),
            b'%' => match (bytes.get(at + 1).and_then(hex), bytes.get(at + 2).and_then(hex)) {
                (Some(high), Some(low)) => {
                    decoded.push(high << 4 | low);
                    at += 2;
                }
                _ => decoded.push(b'%'),
            },
            byte => decoded.push(byte),
        }
        at += 1;
    }
    match String::from_utf8(decoded) {
        Ok(text) => Cow::Owned(text),
        Err(error) => Cow::Owned(String::from_utf8_lossy(error.as_bytes()).into_owned()),
    }
}

fn hex(digit: &u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_keys_like_s3_encodes_them() {
        let cases = [
            (
                "logs/2024-01-01-00-00-00-0A1B2C3D",
                "logs/2024-01-01-00-00-00-0A1B2C3D",
            ),
            ("a+b", "a b"),
            ("a%2Bb", "a+b"),
            ("%2B%20+", "+  "),
            ("caf%C3%A9", "café"),
            ("%E2%82%AC", "€"),
            ("100%", "100%"),
            ("%zz", "%zz"),
            ("%4", "%4"),
            ("%%41", "%A"),
            ("%2f", "/"),
            ("%FF", "\u{FFFD}"),
            ("", ""),
        ];
        for (encoded, decoded) in cases {
            assert_eq!(decode_key(encoded), decoded, "{encoded}");
        }
        assert!(matches!(decode_key("plain/key"), Cow::Borrowed(_)));
    }

    #[test]
    fn decodes_hive_style_prefixes() {
        assert_eq!(
            decode_key("records/year%3D2025/month%3D03/x+y.gz"),
            "records/year=2025/month=03/x y.gz"
        );
    }
}
