"""The raw_logs table's RegexSerDe regex fills every column of 17- to 27-field lines.

Hive's RegexSerDe uses java.util.regex with Matcher.matches(): the whole line must match, each
capturing group is one column in order, a group that took no part is NULL, a line that does not
match is a row of NULLs, and a value that does not parse as the column's number type is NULL. This
test applies the same rules with Python's re, after checking the regex stays inside the syntax both
engines read the same way. The lines are written for this test, one per format generation.
"""

import re
import unittest

import cfn

# Python-only syntax, or syntax Java reads differently.
NOT_JAVA = [r"(?P<", r"(?P=", r"\Z", r"(?(", r"\N{", r"\U"]


def raw_table():
    template = cfn.load_template()
    return template["Resources"]["RawLogsTable"]["Properties"]["TableInput"]


def hive_value(text, column_type):
    if text is None:
        return None
    if column_type in ("int", "bigint"):
        try:
            return int(text)
        except ValueError:
            return None
    return text


def row(regex, columns, line):
    match = regex.fullmatch(line)
    if match is None:
        return {name: None for name, _ in columns}
    return {name: hive_value(value, t) for (name, t), value in zip(columns, match.groups(), strict=True)}


OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"

# Each case: a line and every column it must produce. Columns not named are NULL.
CASES = {
    "17 fields (2009: ends with User-Agent)": (
        '65a011a29cdf8ec533ec3d1ccaae921c example-bucket [06/Mar/2009:21:00:01 +0000] 192.0.2.10 '
        '65a011a29cdf8ec533ec3d1ccaae921c 9F8E7D6C5B4A3210 REST.GET.OBJECT photos/cat.jpg '
        '"GET /example-bucket/photos/cat.jpg HTTP/1.1" 200 - 2048 2048 15 14 '
        '"http://www.example.org/gallery" "Mozilla/5.0 (X11; Linux x86_64) Gecko/2009"',
        {
            "BucketOwner": "65a011a29cdf8ec533ec3d1ccaae921c",
            "LoggedBucket": "example-bucket",
            "RequestDateTime": "06/Mar/2009:21:00:01 +0000",
            "RemoteIP": "192.0.2.10",
            "Requester": "65a011a29cdf8ec533ec3d1ccaae921c",
            "RequestID": "9F8E7D6C5B4A3210",
            "Operation": "REST.GET.OBJECT",
            "Key": "photos/cat.jpg",
            "RequestURI": "GET /example-bucket/photos/cat.jpg HTTP/1.1",
            "HTTPstatus": 200,
            "ErrorCode": "-",
            "BytesSent": 2048,
            "ObjectSize": 2048,
            "TotalTime": 15,
            "TurnAroundTime": 14,
            "Referrer": "http://www.example.org/gallery",
            "UserAgent": "Mozilla/5.0 (X11; Linux x86_64) Gecko/2009",
        },
    ),
    "18 fields (2010-2018: adds Version Id)": (
        f"{OWNER} reports-bucket [10/Feb/2012:07:17:02 +0000] 198.51.100.7 "
        "arn:aws:iam::111122223333:user/alice 0123456789ABCDEF REST.PUT.OBJECT reports/2012%2F02.csv "
        '"PUT /reports/2012%2F02.csv HTTP/1.1" 403 AccessDenied 243 - 9 - "-" "aws-cli/1.0 Python/2.7" -',
        {
            "BucketOwner": OWNER,
            "LoggedBucket": "reports-bucket",
            "RequestDateTime": "10/Feb/2012:07:17:02 +0000",
            "RemoteIP": "198.51.100.7",
            "Requester": "arn:aws:iam::111122223333:user/alice",
            "RequestID": "0123456789ABCDEF",
            "Operation": "REST.PUT.OBJECT",
            "Key": "reports/2012%2F02.csv",
            "RequestURI": "PUT /reports/2012%2F02.csv HTTP/1.1",
            "HTTPstatus": 403,
            "ErrorCode": "AccessDenied",
            "BytesSent": 243,
            "TotalTime": 9,
            "Referrer": "-",
            "UserAgent": "aws-cli/1.0 Python/2.7",
            "VersionId": "-",
        },
    ),
    "24 fields (2019: adds Host Id .. TLS version; a Referer with spaces)": (
        f"{OWNER} data-bucket [22/Mar/2019:13:45:10 +0000] 2001:db8::1 "
        "arn:aws:sts::111122223333:assumed-role/etl/session-1 MVGXZXEVN3IG9S24 REST.GET.OBJECT data/file.bin "
        '"GET /data/file.bin?versionId=3HL4kqtJvjVBH40Nrjfkd HTTP/1.1" 206 - 1048576 10679416372 120 30 '
        '"https://example.com/search?q=big file" "aws-sdk-java/1.11.500 Linux/4.14 OpenJDK_64-Bit_Server_VM/25.201" '
        "3HL4kqtJvjVBH40Nrjfkd b3VyIGhvc3QgaWQgZm9yIHRoaXMgdGVzdA+/= SigV4 ECDHE-RSA-AES128-GCM-SHA256 "
        "AuthHeader data-bucket.s3.us-west-2.amazonaws.com TLSv1.2",
        {
            "BucketOwner": OWNER,
            "LoggedBucket": "data-bucket",
            "RequestDateTime": "22/Mar/2019:13:45:10 +0000",
            "RemoteIP": "2001:db8::1",
            "Requester": "arn:aws:sts::111122223333:assumed-role/etl/session-1",
            "RequestID": "MVGXZXEVN3IG9S24",
            "Operation": "REST.GET.OBJECT",
            "Key": "data/file.bin",
            "RequestURI": "GET /data/file.bin?versionId=3HL4kqtJvjVBH40Nrjfkd HTTP/1.1",
            "HTTPstatus": 206,
            "ErrorCode": "-",
            "BytesSent": 1048576,
            "ObjectSize": 10679416372,
            "TotalTime": 120,
            "TurnAroundTime": 30,
            "Referrer": "https://example.com/search?q=big file",
            "UserAgent": "aws-sdk-java/1.11.500 Linux/4.14 OpenJDK_64-Bit_Server_VM/25.201",
            "VersionId": "3HL4kqtJvjVBH40Nrjfkd",
            "HostId": "b3VyIGhvc3QgaWQgZm9yIHRoaXMgdGVzdA+/=",
            "SignatureVersion": "SigV4",
            "CipherSuite": "ECDHE-RSA-AES128-GCM-SHA256",
            "AuthenticationType": "AuthHeader",
            "HostHeader": "data-bucket.s3.us-west-2.amazonaws.com",
            "TLSVersion": "TLSv1.2",
        },
    ),
    "25 fields (2021: adds Access Point ARN; copy-GET record with bare dashes)": (
        f"{OWNER} source-bucket [14/Jul/2021:08:00:59 +0000] 203.0.113.9 {OWNER} 7D5C3B1A9F8E6D4C "
        "REST.COPY.OBJECT_GET src/key.txt - 200 - - 512 - - - - 111aaa222bbb "
        "aGlkZGVuIGhvc3Q= SigV4 TLS_AES_128_GCM_SHA256 AuthHeader dest-bucket.s3.amazonaws.com TLSv1.3 "
        "arn:aws:s3:us-east-1:111122223333:accesspoint/reader",
        {
            "BucketOwner": OWNER,
            "LoggedBucket": "source-bucket",
            "RequestDateTime": "14/Jul/2021:08:00:59 +0000",
            "RemoteIP": "203.0.113.9",
            "Requester": OWNER,
            "RequestID": "7D5C3B1A9F8E6D4C",
            "Operation": "REST.COPY.OBJECT_GET",
            "Key": "src/key.txt",
            "RequestURI": "-",
            "HTTPstatus": 200,
            "ErrorCode": "-",
            "ObjectSize": 512,
            "Referrer": "-",
            "UserAgent": "-",
            "VersionId": "111aaa222bbb",
            "HostId": "aGlkZGVuIGhvc3Q=",
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "AuthenticationType": "AuthHeader",
            "HostHeader": "dest-bucket.s3.amazonaws.com",
            "TLSVersion": "TLSv1.3",
            "AccessPointArn": "arn:aws:s3:us-east-1:111122223333:accesspoint/reader",
        },
    ),
    "26 fields (2022: adds aclRequired; trailing space, SigV2, upper-case TLSV)": (
        f"{OWNER} legacy-bucket [16/Nov/2022:19:02:31 +0000] 192.0.2.200 - 3E57427F33A59F07 "
        'REST.GET.ACL - "GET /legacy-bucket?acl HTTP/1.1" 200 - 1412 - 4 3 "-" "S3Console/0.4" - '
        "c2lnIHYyIGNsaWVudA== SigV2 ECDHE-RSA-AES128-SHA QueryString s3.amazonaws.com TLSV1.1 - Yes ",
        {
            "BucketOwner": OWNER,
            "LoggedBucket": "legacy-bucket",
            "RequestDateTime": "16/Nov/2022:19:02:31 +0000",
            "RemoteIP": "192.0.2.200",
            "Requester": "-",
            "RequestID": "3E57427F33A59F07",
            "Operation": "REST.GET.ACL",
            "Key": "-",
            "RequestURI": "GET /legacy-bucket?acl HTTP/1.1",
            "HTTPstatus": 200,
            "ErrorCode": "-",
            "BytesSent": 1412,
            "TotalTime": 4,
            "TurnAroundTime": 3,
            "Referrer": "-",
            "UserAgent": "S3Console/0.4",
            "VersionId": "-",
            "HostId": "c2lnIHYyIGNsaWVudA==",
            "SignatureVersion": "SigV2",
            "CipherSuite": "ECDHE-RSA-AES128-SHA",
            "AuthenticationType": "QueryString",
            "HostHeader": "s3.amazonaws.com",
            "TLSVersion": "TLSV1.1",
            "AccessPointArn": "-",
            "AclRequired": "Yes",
        },
    ),
    "27 fields (2026: adds Source region; lifecycle record)": (
        f"{OWNER} archive-bucket [02/Jan/2026:00:00:00 +0000] - AmazonS3 0F1E2D3C4B5A6978 "
        'S3.EXPIRE.OBJECT old/2020.tar.gz "-" - - - 7340032 - - "-" "-" - '
        "bGlmZWN5Y2xl - - - - - - - us-east-1",
        {
            "BucketOwner": OWNER,
            "LoggedBucket": "archive-bucket",
            "RequestDateTime": "02/Jan/2026:00:00:00 +0000",
            "RemoteIP": "-",
            "Requester": "AmazonS3",
            "RequestID": "0F1E2D3C4B5A6978",
            "Operation": "S3.EXPIRE.OBJECT",
            "Key": "old/2020.tar.gz",
            "RequestURI": "-",
            "ErrorCode": "-",
            "ObjectSize": 7340032,
            "Referrer": "-",
            "UserAgent": "-",
            "VersionId": "-",
            "HostId": "bGlmZWN5Y2xl",
            "SignatureVersion": "-",
            "CipherSuite": "-",
            "AuthenticationType": "-",
            "HostHeader": "-",
            "TLSVersion": "-",
            "AccessPointArn": "-",
            "AclRequired": "-",
            "SourceRegion": "us-east-1",
        },
    ),
    "29 fields (fields AWS adds later go to ExtraFields)": (
        f"{OWNER} new-bucket [01/Jun/2027:12:00:00 +0000] 192.0.2.1 {OWNER} AAAABBBBCCCCDDDD "
        'REST.HEAD.OBJECT a.txt "HEAD /a.txt HTTP/1.1" 200 - - 10 2 1 "-" "curl/8.0" - '
        "aG9zdA== SigV4 TLS_AES_256_GCM_SHA384 AuthHeader new-bucket.s3.eu-west-1.amazonaws.com TLSv1.3 - - "
        "eu-west-1 future-a future-b",
        {
            "BucketOwner": OWNER,
            "LoggedBucket": "new-bucket",
            "RequestDateTime": "01/Jun/2027:12:00:00 +0000",
            "RemoteIP": "192.0.2.1",
            "Requester": OWNER,
            "RequestID": "AAAABBBBCCCCDDDD",
            "Operation": "REST.HEAD.OBJECT",
            "Key": "a.txt",
            "RequestURI": "HEAD /a.txt HTTP/1.1",
            "HTTPstatus": 200,
            "ErrorCode": "-",
            "ObjectSize": 10,
            "TotalTime": 2,
            "TurnAroundTime": 1,
            "Referrer": "-",
            "UserAgent": "curl/8.0",
            "VersionId": "-",
            "HostId": "aG9zdA==",
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_256_GCM_SHA384",
            "AuthenticationType": "AuthHeader",
            "HostHeader": "new-bucket.s3.eu-west-1.amazonaws.com",
            "TLSVersion": "TLSv1.3",
            "AccessPointArn": "-",
            "AclRequired": "-",
            "SourceRegion": "eu-west-1",
            "ExtraFields": "future-a future-b",
        },
    ),
    "a raw quote inside the User-Agent: no match, a row of NULLs": (
        f'{OWNER} b [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.OBJECT k '
        '"GET /b/k HTTP/1.1" 200 - 1 1 1 1 "-" "Safari/604.1"" - aG9zdA== SigV4 - AuthHeader b.s3.amazonaws.com TLSv1.2',
        {},
    ),
}


class RawTableRegex(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        table = raw_table()
        descriptor = table["StorageDescriptor"]
        cls.pattern = cfn.join_literals(descriptor["SerdeInfo"]["Parameters"]["input.regex"])
        cls.regex = re.compile(cls.pattern)
        cls.columns = [(c["Name"], c["Type"]) for c in descriptor["Columns"]]
        cls.serde = descriptor["SerdeInfo"]["SerializationLibrary"]

    def test_is_hive_regex_serde(self):
        self.assertEqual(self.serde, "org.apache.hadoop.hive.serde2.RegexSerDe")

    def test_stays_in_the_java_compatible_subset(self):
        for construct in NOT_JAVA:
            self.assertNotIn(construct, self.pattern)
        # Java needs a bounded look-behind; the only one here is a single quote character.
        self.assertEqual(re.findall(r"\(\?<[=!]([^)]*)\)", self.pattern), ['"', '"', '"'])

    def test_one_group_per_column(self):
        self.assertEqual(self.regex.groups, len(self.columns))

    def test_every_column_of_every_generation(self):
        for name, (line, expected) in CASES.items():
            with self.subTest(case=name):
                unknown = set(expected) - {c for c, _ in self.columns}
                self.assertFalse(unknown, f"the test names columns the table lacks: {unknown}")
                want = {column: expected.get(column) for column, _ in self.columns}
                self.assertEqual(row(self.regex, self.columns, line), want)

    def test_cases_have_the_field_counts_they_claim(self):
        # Quote-aware count with the time as one field, as in the format notes.
        token = re.compile(r'"[^"]*"|\[[^\]]*\]|[^ ]+')
        for name, (line, expected) in CASES.items():
            if not expected:
                continue
            with self.subTest(case=name):
                self.assertEqual(len(token.findall(line)), int(name.split()[0]))


if __name__ == "__main__":
    unittest.main()
