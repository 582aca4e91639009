"""Runs every infra/athena/*.sql file, unchanged, in DuckDB over records laid out as Firehose writes them.

The schema is the Glue table's (RecordsTable in template.yaml: AWS's column names, each read from the
record key its SerDe mapping names), the layout is gzip NDJSON under
records/year=YYYY/month=MM/day=DD/hour=HH/, and `s3_access_logs.records` is a DuckDB view over
it, so each file is exactly the SQL Athena gets. The queries read the records_dedup view, which
records_dedup_view.sql creates first, and each test delivers some records twice, as S3 and Lambda
retries do, to show they count once. Records are placed relative to now: the queries look at the
last 24 hours, 7 or 30 days.
"""

import datetime as dt
import gzip
import itertools
import json
import pathlib
import tempfile
import unittest

import duckdb

import cfn

ATHENA_DIR = cfn.ROOT / "infra" / "athena"
DEDUP_VIEW = "records_dedup_view.sql"
DUCKDB_TYPES = {
    "int": "INTEGER",
    "bigint": "BIGINT",
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "array<string>": "VARCHAR[]",
}
NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
_ids = itertools.count(1)


def records_table():
    """The Glue table over the default output, gzip NDJSON."""
    return cfn.records_table(cfn.load_template(), "json")


def record_keys(table):
    """Glue column -> the NDJSON record key the OpenX SerDe fills it from (its `mapping.<column>`)."""
    parameters = table["StorageDescriptor"]["SerdeInfo"]["Parameters"]
    return {c["Name"]: parameters[f"mapping.{c['Name']}"] for c in table["StorageDescriptor"]["Columns"]}


def create_records_view(db, table, files):
    """`s3_access_logs.records` over gzip NDJSON `files` (a glob), as Athena reads them through the
    Glue table: each column typed as Glue types it and read from the key its SerDe mapping names."""
    keys = record_keys(table)
    types = {c["Name"]: DUCKDB_TYPES[c["Type"]] for c in table["StorageDescriptor"]["Columns"]}
    columns = ", ".join(f"'{keys[name]}': '{kind}'" for name, kind in types.items())
    selects = ", ".join([f'"{keys[name]}" AS {name}' for name in types] + [p["Name"] for p in table["PartitionKeys"]])
    hive_types = ", ".join(f"'{p['Name']}': 'VARCHAR'" for p in table["PartitionKeys"])
    db.execute("CREATE SCHEMA s3_access_logs")
    db.execute(
        f"""CREATE VIEW s3_access_logs.records AS SELECT {selects} FROM read_json(
            '{files}', format = 'newline_delimited',
            hive_partitioning = true, hive_types = {{{hive_types}}}, columns = {{{columns}}})"""
    )


def record(keys, request_time, **fields):
    """A record as the preprocessor writes it: every always-present key, in contract order."""
    rec = {name: None for name in keys if name not in ("ExtraFields", "ParseError", "RawLine")}
    rec.update(
        SchemaVersion=1,
        RecordId=f"{next(_ids):016x}",
        BucketOwner="79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
        Bucket="example-bucket",
        Timestamp=request_time.strftime("%Y-%m-%d %H:%M:%S") if request_time else None,
        RemoteIP="192.0.2.10",
        Requester="arn:aws:iam::111122223333:user/alice",
        RequestID="3E57427F33A59F07",
        Operation="REST.GET.OBJECT",
        Key="k",
        RequestURI="GET /k HTTP/1.1",
        HTTPstatus=200,
        UserAgent="curl/8.0",
        SignatureVersion="SigV4",
        TLSVersion="TLSv1.2",
        LogFile="s3://raw/logs/2026-01-01-00-00-00-0123456789ABCDEF",
    )
    rec.update(fields)
    return rec


class AthenaQueriesInDuckDB(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.table = records_table()
        cls.columns = [c["Name"] for c in cls.table["StorageDescriptor"]["Columns"]]
        cls.keys = list(record_keys(cls.table).values())
        cls.partitions = [p["Name"] for p in cls.table["PartitionKeys"]]
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = pathlib.Path(cls.tmp.name)
        cls.batches = {}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.db = duckdb.connect()
        # Athena runs in UTC; CAST(CURRENT_TIMESTAMP AS TIMESTAMP) must mean the same here.
        self.db.execute("SET TimeZone = 'UTC'")
        self.data = self.root / self.id().rsplit(".", 1)[-1]
        self.files = itertools.count()

    def tearDown(self):
        self.db.close()

    def deliver(self, arrival, records):
        """Writes `records` as one Firehose object that arrived at `arrival`."""
        folder = self.data / "records" / arrival.strftime("year=%Y/month=%m/day=%d/hour=%H")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.id().rsplit('.', 1)[-1]}-{next(self.files)}.gz"
        with gzip.open(path, "wt", encoding="utf-8") as out:
            for rec in records:
                out.write(json.dumps(rec, separators=(",", ":")) + "\n")

    def run_file(self, name):
        create_records_view(self.db, self.table, f"{self.data}/records/*/*/*/*/*.gz")
        if name != DEDUP_VIEW:
            self.db.execute((ATHENA_DIR / DEDUP_VIEW).read_text())
        result = self.db.execute((ATHENA_DIR / name).read_text())
        if result.description is None:
            return []
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

    def make(self, when, **fields):
        return record(self.keys, when, **fields)

    def redeliver(self, arrival, records):
        """The same lines again in a later Firehose object, from another copy of the log object."""
        self.deliver(arrival, [{**r, "LogFile": r["LogFile"] + "-copy"} for r in records])

    def test_every_portable_query_has_a_duckdb_test(self):
        files = {p.stem for p in ATHENA_DIR.glob("*.sql")}
        tests = {name[len("test_file_"):] for name in dir(self) if name.startswith("test_file_")}
        self.assertEqual(files, tests)

    def test_file_failed_requests(self):
        hour_ago = NOW - dt.timedelta(hours=1)
        self.deliver(NOW, [
            self.make(hour_ago, HTTPstatus=403, ErrorCode="AccessDenied"),
            self.make(hour_ago, HTTPstatus=403, ErrorCode="AccessDenied"),
            self.make(hour_ago, HTTPstatus=500, ErrorCode="InternalError", Requester=None, RemoteIP="198.51.100.1"),
            self.make(hour_ago, HTTPstatus=200),
            self.make(hour_ago, HTTPstatus=404, ErrorCode="NoSuchKey", Requester="svc:delivery.logs.amazonaws.com"),
            self.make(hour_ago, HTTPstatus=404, ErrorCode="NoSuchKey", Requester="AmazonS3"),
            self.make(hour_ago, HTTPstatus=403, ErrorCode="AccessDenied",
                      Requester="arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForConfig/x"),
            self.make(hour_ago, HTTPstatus=403, ErrorCode="AccessDenied", UserAgent="aws-internal/3 aws-sdk-java/1.12"),
            self.make(hour_ago, HTTPstatus=403, ErrorCode="AccessDenied", UserAgent="config.amazonaws.com"),
        ])
        # Requested 8 days ago, delivered late: the partition is in the window, the request is not.
        self.deliver(NOW - dt.timedelta(days=6), [self.make(NOW - dt.timedelta(days=8), HTTPstatus=403, ErrorCode="AccessDenied")])
        denied = self.make(hour_ago, HTTPstatus=403, ErrorCode="AccessDenied")
        self.deliver(hour_ago, [denied])
        self.redeliver(NOW, [denied])
        rows = self.run_file("failed_requests.sql")
        self.assertEqual(
            [(r["http_status"], r["error_code"], r["requester"], r["requests"]) for r in rows],
            [(403, "AccessDenied", "arn:aws:iam::111122223333:user/alice", 3), (500, "InternalError", None, 1)],
        )

    def test_file_access_denied_by_requester(self):
        # The default window: the last 7 days of request time.
        start = NOW - dt.timedelta(days=7) + dt.timedelta(minutes=10)
        inside = NOW - dt.timedelta(minutes=1)
        first = self.make(start, ErrorCode="AccessDenied", HTTPstatus=403)
        self.deliver(start, [first])
        # Requested just before the end, delivered later.
        self.deliver(NOW, [
            self.make(inside, ErrorCode="AccessDenied", HTTPstatus=403, RemoteIP="192.0.2.99"),
            self.make(inside, ErrorCode="AccessDenied", HTTPstatus=403, Requester="arn:aws:iam::111122223333:user/bob"),
        ])
        self.redeliver(start + dt.timedelta(days=1), [first])
        self.deliver(NOW - dt.timedelta(days=7), [
            self.make(NOW - dt.timedelta(days=7, hours=2), ErrorCode="AccessDenied", HTTPstatus=403),
        ])
        self.deliver(start, [self.make(start, ErrorCode="NoSuchKey", HTTPstatus=404)])
        rows = self.run_file("access_denied_by_requester.sql")
        self.assertEqual(
            [(r["requester"], r["denied"], r["remote_ips"], r["first_seen"], r["last_seen"]) for r in rows],
            [
                ("arn:aws:iam::111122223333:user/alice", 2, 2, start, inside),
                ("arn:aws:iam::111122223333:user/bob", 1, 1, inside, inside),
            ],
        )

    def test_file_sigv2_clients_24h(self):
        recent = NOW - dt.timedelta(hours=2)
        self.deliver(NOW, [
            self.make(recent, SignatureVersion="SigV2", RemoteIP="192.0.2.50", UserAgent="boto/2.49"),
            self.make(recent, SignatureVersion="SigV2", RemoteIP="192.0.2.50", UserAgent="boto/2.49"),
            self.make(recent, SignatureVersion="SigV2", RemoteIP="192.0.2.51", UserAgent="s3cmd/1.6"),
            self.make(recent, SignatureVersion="SigV4"),
            self.make(recent, SignatureVersion=None, Requester=None),
        ])
        self.deliver(NOW - dt.timedelta(hours=20), [self.make(NOW - dt.timedelta(hours=30), SignatureVersion="SigV2")])
        retried = self.make(recent, SignatureVersion="SigV2", RemoteIP="192.0.2.51", UserAgent="s3cmd/1.6")
        self.deliver(recent, [retried])
        self.redeliver(NOW, [retried])
        rows = self.run_file("sigv2_clients_24h.sql")
        self.assertEqual(
            [(r["remote_ip"], r["user_agent"], r["requests"]) for r in rows],
            [("192.0.2.50", "boto/2.49", 2), ("192.0.2.51", "s3cmd/1.6", 2)],
        )

    def test_file_legacy_tls_clients(self):
        recent = NOW - dt.timedelta(days=1)
        legacy = self.make(recent, TLSVersion="TLSv1", RemoteIP="192.0.2.2")
        self.redeliver(NOW, [legacy])
        self.deliver(NOW - dt.timedelta(hours=23), [
            legacy,
            self.make(recent, TLSVersion="TLSv1.1", RemoteIP="192.0.2.1"),
            self.make(recent, TLSVersion="TLSV1.1", RemoteIP="192.0.2.1"),
            self.make(recent, TLSVersion="TLSv1.2"),
            self.make(recent, TLSVersion="TLSV1.3"),
            self.make(recent, TLSVersion=None),
        ])
        rows = self.run_file("legacy_tls_clients.sql")
        self.assertEqual(
            sorted((r["remote_ip"], r["tls_version"], r["requests"]) for r in rows),
            [("192.0.2.1", "TLSV1.1", 1), ("192.0.2.1", "TLSv1.1", 1), ("192.0.2.2", "TLSv1", 1)],
        )

    def test_file_acl_required(self):
        recent = NOW - dt.timedelta(days=10)
        acl = self.make(recent, AclRequired="Yes", Operation="REST.GET.ACL")
        self.deliver(recent + dt.timedelta(hours=3), [
            acl,
            self.make(recent, AclRequired="Yes", Operation="REST.GET.ACL"),
            self.make(recent, AclRequired=None),
        ])
        self.redeliver(recent + dt.timedelta(days=2), [acl])
        self.deliver(NOW - dt.timedelta(days=40), [self.make(NOW - dt.timedelta(days=40), AclRequired="Yes")])
        rows = self.run_file("acl_required.sql")
        self.assertEqual([(r["operation"], r["requests"]) for r in rows], [("REST.GET.ACL", 2)])

    def test_file_parse_errors(self):
        bad = {name: None for name in self.keys if name not in ("ExtraFields", "ParseError", "RawLine")}
        bad.update(SchemaVersion=1, RecordId="00000000000000aa", LogFile="s3://raw/logs/a",
                   ParseError="unterminated quote", RawLine='x y "z')
        bad2 = {**bad, "RecordId": "00000000000000bb", "RawLine": 'a "b'}
        self.deliver(NOW - dt.timedelta(hours=1), [bad, bad2, self.make(NOW)])
        self.redeliver(NOW, [bad2])
        self.deliver(NOW - dt.timedelta(days=9), [{**bad, "RecordId": "00000000000000cc"}])
        rows = self.run_file("parse_errors.sql")
        self.assertEqual(rows, [{"parse_error": "unterminated quote", "log_file": "s3://raw/logs/a", "lines": 2, "example": 'a "b'}])

    def test_deploy_guide_example_counts_a_day_of_requests_once_each(self):
        # The first SQL example of docs/deploy.md ("Querying"): the requests of 2026-03-14 by operation.
        guide = (cfn.ROOT / "docs" / "deploy.md").read_text().split("### Athena", 1)[1]
        example = guide.split("```sql\n", 1)[1].split("```", 1)[0]
        day = dt.datetime(2026, 3, 14)
        late = self.make(day + dt.timedelta(hours=23, minutes=50), Operation="REST.PUT.OBJECT")
        self.deliver(day + dt.timedelta(hours=1), [
            self.make(day + dt.timedelta(minutes=5)),
            self.make(day - dt.timedelta(minutes=5)),
        ])
        # Requested after midnight, in an object named for a record that arrived before it.
        self.deliver(day - dt.timedelta(minutes=2), [self.make(day + dt.timedelta(minutes=1), Operation="REST.HEAD.OBJECT")])
        # Requested before midnight, received by Firehose after it; delivered again an hour later.
        self.deliver(day + dt.timedelta(days=1, minutes=30), [late])
        self.redeliver(day + dt.timedelta(days=1, hours=1), [late])
        self.deliver(day + dt.timedelta(days=1, hours=2), [self.make(day + dt.timedelta(days=1, hours=1))])
        create_records_view(self.db, self.table, f"{self.data}/records/*/*/*/*/*.gz")
        rows = self.db.execute(example).fetchall()
        self.assertEqual(rows, [("REST.GET.OBJECT", 1), ("REST.HEAD.OBJECT", 1), ("REST.PUT.OBJECT", 1)])

    def test_dedup_view_keeps_a_request_filed_under_the_hour_before_its_window(self):
        # Firehose names an object by the arrival of its oldest record, up to its buffer interval
        # (FirehoseBufferIntervalSeconds, at most 15 minutes) before the other records in it: a request
        # made at 10:06, in the window, can be in an object whose oldest record arrived at 09:55, so in
        # the partition of hour 09. The queries are run at a fixed time, for the hour to be 09.
        now = dt.datetime(2026, 3, 31, 10, 5)
        request_time = now - dt.timedelta(days=30) + dt.timedelta(minutes=1)
        self.deliver(request_time - dt.timedelta(minutes=11), [self.make(request_time, AclRequired="Yes")])
        create_records_view(self.db, self.table, f"{self.data}/records/*/*/*/*/*.gz")
        for name in (DEDUP_VIEW, "acl_required.sql"):
            sql = (ATHENA_DIR / name).read_text()
            self.assertIn("CURRENT_TIMESTAMP", sql)
            result = self.db.execute(sql.replace("CURRENT_TIMESTAMP", f"TIMESTAMP '{now}'"))
        self.assertEqual([row[3] for row in result.fetchall()], [1])

    def test_file_records_dedup_view(self):
        when = NOW - dt.timedelta(days=2)
        first = self.make(when, ExtraFields=["future-a"])
        replay = dict(first)
        other = self.make(when)
        self.deliver(when + dt.timedelta(hours=1), [first, other])
        # The same line delivered again a day later (a duplicate log object, or a Lambda retry).
        self.deliver(when + dt.timedelta(days=1), [replay])
        self.assertEqual(self.run_file("records_dedup_view.sql"), [])
        rows = self.db.execute(
            "SELECT record_id, hour, day, extra_fields FROM s3_access_logs.records_dedup ORDER BY record_id"
        ).fetchall()
        arrival = when + dt.timedelta(hours=1)
        self.assertEqual(rows, [
            (first["RecordId"], arrival.strftime("%H"), arrival.strftime("%d"), ["future-a"]),
            (other["RecordId"], arrival.strftime("%H"), arrival.strftime("%d"), None),
        ])
        view_columns = [r[0] for r in self.db.execute("DESCRIBE s3_access_logs.records_dedup").fetchall()]
        self.assertEqual(view_columns, self.columns + self.partitions)


if __name__ == "__main__":
    unittest.main()
