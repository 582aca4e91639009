//! The fields of a log line, in the order S3 writes them.
//!
//! S3 has only ever grown the format by appending fields at the end (17 fields in 2009, 18 with
//! Version Id, 24 in 2019, 25 with Access Point ARN, 26 with aclRequired, 27 with Source Region in
//! 2026), so one ordered list describes every generation: a line simply stops early or carries
//! extra fields past the end.

use crate::KeyStyle;

/// One field of an S3 server access log line.
///
/// The discriminant order is the order of the fields on the line (`Field::ALL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// 1: canonical user ID of the source bucket's owner.
    BucketOwner,
    /// 2: the bucket the request was processed against.
    Bucket,
    /// 3: `[06/Feb/2019:00:00:38 +0000]`.
    Timestamp,
    /// 4: apparent client address, IPv4 or IPv6.
    RemoteIp,
    /// 5: canonical user ID, IAM/STS ARN, service principal, or `-` for anonymous.
    Requester,
    /// 6: S3's request ID (a job UUID for compute-checksum records).
    RequestId,
    /// 7: `REST.GET.OBJECT` and friends: two to four dot-separated parts.
    Operation,
    /// 8: the URL-encoded object key.
    Key,
    /// 9: the quoted HTTP request line.
    RequestUri,
    /// 10: HTTP status code.
    HttpStatus,
    /// 11: S3 error code such as `AccessDenied`.
    ErrorCode,
    /// 12: response bytes sent.
    BytesSent,
    /// 13: size of the object in question.
    ObjectSize,
    /// 14: milliseconds in flight.
    TotalTime,
    /// 15: milliseconds S3 spent processing.
    TurnAroundTime,
    /// 16: quoted `Referer` header.
    Referrer,
    /// 17: quoted `User-Agent` header; the last field of the 2009 format.
    UserAgent,
    /// 18: version ID of the object.
    VersionId,
    /// 19: `x-amz-id-2`; first field of the 2019 additions.
    HostId,
    /// 20: `SigV2` or `SigV4`.
    SignatureVersion,
    /// 21: negotiated TLS cipher suite.
    CipherSuite,
    /// 22: `AuthHeader` or `QueryString`.
    AuthenticationType,
    /// 23: the endpoint the client connected to.
    HostHeader,
    /// 24: `TLSv1.2` and so on, in whatever casing S3 logged.
    TlsVersion,
    /// 25: access point ARN (2021).
    AccessPointArn,
    /// 26: `Yes` when an ACL was needed to authorize the request (2022).
    AclRequired,
    /// 27: the AWS Region the request came from (2026).
    SourceRegion,
}

/// Defines [`Field::json_key`], [`Field::compact_key`] and `Field::member` from one list, so a
/// key and its member prefix cannot disagree.
macro_rules! json_keys {
    ($($field:ident => $key:literal, $compact:literal;)*) => {
        /// The key of this field in the JSON record, which is also its Glue column name.
        pub const fn json_key(self) -> &'static str {
            match self {
                $(Field::$field => $key,)*
            }
        }

        /// The key of this field in the compact record (`docs/record.md`, "Compact record"):
        /// one or two lowercase letters, which Firehose's deserializer maps to the column.
        pub const fn compact_key(self) -> &'static str {
            match self {
                $(Field::$field => $compact,)*
            }
        }

        /// What the record writer puts before this field's value in `style`: `,"Key":`. One
        /// static string per key, so writing it is one copy.
        pub(crate) const fn member(self, style: KeyStyle) -> &'static str {
            match style {
                KeyStyle::Full => match self {
                    $(Field::$field => concat!(",\"", $key, "\":"),)*
                },
                KeyStyle::Compact => match self {
                    $(Field::$field => concat!(",\"", $compact, "\":"),)*
                },
            }
        }
    };
}

impl Field {
    /// Every field in line order.
    pub const ALL: [Field; 27] = [
        Field::BucketOwner,
        Field::Bucket,
        Field::Timestamp,
        Field::RemoteIp,
        Field::Requester,
        Field::RequestId,
        Field::Operation,
        Field::Key,
        Field::RequestUri,
        Field::HttpStatus,
        Field::ErrorCode,
        Field::BytesSent,
        Field::ObjectSize,
        Field::TotalTime,
        Field::TurnAroundTime,
        Field::Referrer,
        Field::UserAgent,
        Field::VersionId,
        Field::HostId,
        Field::SignatureVersion,
        Field::CipherSuite,
        Field::AuthenticationType,
        Field::HostHeader,
        Field::TlsVersion,
        Field::AccessPointArn,
        Field::AclRequired,
        Field::SourceRegion,
    ];

    /// Fields every line has had since 2009; shorter lines are truncated.
    pub const MIN_COUNT: usize = 17;

    json_keys! {
        BucketOwner => "BucketOwner", "o";
        Bucket => "Bucket", "b";
        Timestamp => "Timestamp", "t";
        RemoteIp => "RemoteIP", "a";
        Requester => "Requester", "r";
        RequestId => "RequestID", "q";
        Operation => "Operation", "p";
        Key => "Key", "k";
        RequestUri => "RequestURI", "u";
        HttpStatus => "HTTPstatus", "s";
        ErrorCode => "ErrorCode", "e";
        BytesSent => "BytesSent", "n";
        ObjectSize => "ObjectSize", "z";
        TotalTime => "TotalTime", "m";
        TurnAroundTime => "TurnAroundTime", "d";
        Referrer => "Referrer", "f";
        UserAgent => "UserAgent", "g";
        VersionId => "VersionId", "vi";
        HostId => "HostId", "h";
        SignatureVersion => "SignatureVersion", "w";
        CipherSuite => "CipherSuite", "c";
        AuthenticationType => "AuthenticationType", "y";
        HostHeader => "HostHeader", "x";
        TlsVersion => "TLSVersion", "l";
        AccessPointArn => "AccessPointArn", "ap";
        AclRequired => "AclRequired", "ac";
        SourceRegion => "SourceRegion", "sr";
    }

    /// 1-based position of the field on the line, as AWS documents it.
    pub const fn position(self) -> usize {
        self as usize + 1
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.json_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_line_order() {
        for (index, field) in Field::ALL.iter().enumerate() {
            assert_eq!(field.position(), index + 1, "{field}");
        }
    }

    #[test]
    fn member_is_the_quoted_key_between_a_comma_and_a_colon() {
        for field in Field::ALL {
            assert_eq!(
                field.member(KeyStyle::Full),
                format!(",\"{}\":", field.json_key())
            );
            assert_eq!(
                field.member(KeyStyle::Compact),
                format!(",\"{}\":", field.compact_key())
            );
        }
    }
}
