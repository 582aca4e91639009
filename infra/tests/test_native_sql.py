"""Runs infra/athena/native/*.sql in DuckDB: AWS's native feed and the pipeline's records in one view.

The native_requests table is Athena DDL (an OpenX JSON SerDe table for the JSON delivery, STORED AS
PARQUET for the Parquet one), which DuckDB cannot run, so its column list is read from the file and
becomes a DuckDB view over native records written by hand from AWS's documented format: JSON
objects, one per line, gzip; or the same records in a Parquet file that DuckDB writes in the DDL's
columns and types. The all_requests view runs unchanged over either and over the pipeline's
records, laid out as test_athena_sql.py lays them out (gzip NDJSON read through the Glue table's
mappings). The shipped SigV2 and AccessDenied queries then run over the view with only the table
name changed, as docs/deploy.md tells users to. Every test runs once per delivery format.
"""

import datetime as dt
import gzip
import json
import pathlib
import re
import tempfile
import unittest

import duckdb

import cfn
from test_athena_sql import ATHENA_DIR, DUCKDB_TYPES, NOW, create_records_view, record, record_keys, records_table

NATIVE_DIR = ATHENA_DIR / "native"
TABLE_DDL = NATIVE_DIR / "native_requests_table.sql"
PARQUET_TABLE_DDL = NATIVE_DIR / "native_requests_parquet_table.sql"
VIEW = NATIVE_DIR / "all_requests_view.sql"
# AWS's native fields that no text log line has (crates/columnar/src/columns.rs, NATIVE_ONLY).
NATIVE_ONLY = ["schema_version_id", "bucket_arn"]
# Our own columns of the records table, after the log fields.
OURS = ["schema_version", "record_id", "extra_fields", "log_file", "parse_error", "raw_line"]
DDL_COLUMN = re.compile(r"^\s+([a-z_]+) (string|int|bigint|timestamp),?$", re.MULTILINE)


def ddl_columns(ddl=TABLE_DDL):
    """(name, Glue type) of each column a native_requests DDL declares, in order."""
    return DDL_COLUMN.findall(ddl.read_text())


def native(request_time, **fields):
    """A native record as AWS documents it: every field, AWS's names, request_time in ISO 8601 with
    milliseconds and Z, numbers as JSON numbers, null where the text log has '-'."""
    rec = {name: None for name, _ in ddl_columns()}
    rec.update(
        schema_version_id="V_1_0",
        bucket_arn="arn:aws:s3:::example-bucket",
        bucket_name="example-bucket",
        request_time=request_time.strftime("%Y-%m-%dT%H:%M:%S.") + f"{request_time.microsecond // 1000:03d}Z",
        bucket_owner_id="79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
        remote_ip="203.0.113.9",
        requester="arn:aws:iam::111122223333:user/carol",
        request_id="9D4E5F6A7EXAMPLE",
        operation="REST.GET.OBJECT",
        key_name="reports/q2.csv",
        request_uri="GET /reports/q2.csv HTTP/1.1",
        http_status=200,
        bytes_sent_size=2048,
        object_size=2048,
        total_duration=12,
        turn_around_duration=10,
        user_agent="aws-cli/2.15",
        host_id="s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234=",
        signature_version="SigV4",
        cipher_suite="TLS_AES_128_GCM_SHA256",
        authentication_type="AuthHeader",
        host_header="example-bucket.s3.eu-west-1.amazonaws.com",
        tls_version="TLSv1.3",
    )
    rec.update(fields)
    return rec


class NativeFeedInDuckDB(unittest.TestCase):
    """The JSON delivery, read through create_native_requests_table's columns."""

    DDL = TABLE_DDL

    @classmethod
    def setUpClass(cls):
        cls.table = records_table()
        cls.keys = list(record_keys(cls.table).values())

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = pathlib.Path(self.tmp.name)
        self.db = duckdb.connect()
        self.db.execute("SET TimeZone = 'UTC'")
        self.ours = []
        self.natives = []

    def tearDown(self):
        self.db.close()
        self.tmp.cleanup()

    def write(self):
        """Our records as one Firehose object (the first ones again in a later object, as a retried
        delivery writes them), the native records as one delivered object."""
        for hour, records in ((NOW, self.ours), (NOW + dt.timedelta(hours=1), self.ours[:1])):
            folder = self.root / "records" / hour.strftime("year=%Y/month=%m/day=%d/hour=%H")
            folder.mkdir(parents=True, exist_ok=True)
            with gzip.open(folder / "delivery.gz", "wt", encoding="utf-8") as out:
                out.writelines(json.dumps(r) + "\n" for r in records)
        folder = self.root / "native" / "AWSLogs" / "111122223333"
        folder.mkdir(parents=True)
        create_records_view(self.db, self.table, f"{self.root}/records/*/*/*/*/*.gz")
        self.create_native_requests(folder)
        self.db.execute(VIEW.read_text())

    def create_native_requests(self, folder):
        """The native records as one delivered JSON object, and native_requests as the DDL declares
        it: each column typed as Glue types it, read by name."""
        with gzip.open(folder / "native.json.gz", "wt", encoding="utf-8") as out:
            out.writelines(json.dumps(r) + "\n" for r in self.natives)
        columns = ", ".join(f"'{name}': '{DUCKDB_TYPES[kind]}'" for name, kind in ddl_columns(self.DDL))
        self.db.execute(
            f"""CREATE VIEW s3_access_logs.native_requests AS SELECT * FROM read_json(
                '{self.root}/native/**/*.json.gz', format = 'newline_delimited', columns = {{{columns}}})"""
        )

    def query(self, sql):
        result = self.db.execute(sql)
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

    def shipped(self, name):
        """A shipped query over the view: the records_dedup table name changed, nothing else."""
        text = (ATHENA_DIR / name).read_text()
        self.assertIn("s3_access_logs.records_dedup", text)
        return self.query(text.replace("s3_access_logs.records_dedup", "s3_access_logs.all_requests"))

    def test_the_ddl_declares_aws_fields_in_the_records_table_names_and_types(self):
        glue = [(c["Name"], c["Type"]) for c in self.table["StorageDescriptor"]["Columns"] if c["Name"] not in OURS]
        declared = ddl_columns(self.DDL)
        self.assertEqual([name for name, _ in declared[:2]], NATIVE_ONLY)
        # request_time is AWS's ISO 8601 string in the record; the view makes it the records' timestamp.
        self.assertEqual(declared[2:], [(n, "string" if n == "request_time" else t) for n, t in glue])
        text = self.DDL.read_text()
        self.assertIn("CREATE EXTERNAL TABLE IF NOT EXISTS s3_access_logs.native_requests (", text)
        self.assertIn("LOCATION 's3://amzn-s3-demo-bucket/native-access-logs/'", text)

    def test_view_returns_both_sources_in_aws_names(self):
        ours = record(self.keys, NOW - dt.timedelta(days=400), BytesSent=512, TotalTime=7, TurnAroundTime=5)
        self.ours = [ours]
        self.natives = [native(NOW.replace(microsecond=125000) - dt.timedelta(minutes=5), http_status=304)]
        self.write()
        rows = self.query("SELECT * FROM s3_access_logs.all_requests ORDER BY request_time")
        view_columns = [r[0] for r in self.db.execute("DESCRIBE s3_access_logs.all_requests").fetchall()]
        self.assertEqual(view_columns, ["source", *NATIVE_ONLY, *[n for n, _ in ddl_columns(self.DDL)[2:]]])
        self.assertEqual([r["source"] for r in rows], ["pipeline", "aws_native"], "the retried copy counts once")
        pipeline, aws = rows
        self.assertEqual(
            (pipeline["request_time"], pipeline["bytes_sent_size"], pipeline["total_duration"],
             pipeline["turn_around_duration"], pipeline["schema_version_id"], pipeline["bucket_arn"]),
            (NOW - dt.timedelta(days=400), 512, 7, 5, None, None),
        )
        self.assertEqual(
            (aws["request_time"], aws["http_status"], aws["bytes_sent_size"], aws["schema_version_id"],
             aws["bucket_arn"], aws["referer"]),
            (NOW.replace(microsecond=125000) - dt.timedelta(minutes=5), 304, 2048, "V_1_0",
             "arn:aws:s3:::example-bucket", None),
        )

    def test_sigv2_query_counts_history_and_native_traffic(self):
        recent = NOW - dt.timedelta(hours=2)
        self.ours = [
            record(self.keys, recent, SignatureVersion="SigV2", RemoteIP="192.0.2.50", UserAgent="boto/2.49"),
            record(self.keys, recent, SignatureVersion="SigV4", RemoteIP="192.0.2.50"),
        ]
        self.natives = [
            # The same client, now in the native feed: one row of the result counts both sources.
            native(recent, signature_version="SigV2", remote_ip="192.0.2.50",
                   requester="arn:aws:iam::111122223333:user/alice", user_agent="boto/2.49"),
            native(recent, signature_version="SigV2", remote_ip="198.51.100.4", user_agent="s3cmd/1.6"),
            native(NOW - dt.timedelta(hours=30), signature_version="SigV2"),
        ]
        self.write()
        rows = self.shipped("sigv2_clients_24h.sql")
        self.assertEqual(
            [(r["remote_ip"], r["requester"], r["user_agent"], r["requests"]) for r in rows],
            [
                ("192.0.2.50", "arn:aws:iam::111122223333:user/alice", "boto/2.49", 2),
                ("198.51.100.4", "arn:aws:iam::111122223333:user/carol", "s3cmd/1.6", 1),
            ],
        )

    def test_access_denied_query_and_the_documented_cutover(self):
        # The pipeline has the text log of every hour; the native feed starts at `cutover` and then
        # covers the same requests as the text logs, so without the cutover they count twice.
        cutover = (NOW - dt.timedelta(days=2)).replace(minute=0, second=0)
        before, after = cutover - dt.timedelta(hours=5), cutover + dt.timedelta(hours=5)
        self.ours = [
            record(self.keys, before, HTTPstatus=403, ErrorCode="AccessDenied"),
            record(self.keys, after, HTTPstatus=403, ErrorCode="AccessDenied"),
        ]
        self.natives = [
            native(after, http_status=403, error_code="AccessDenied", requester="arn:aws:iam::111122223333:user/alice",
                   bucket_name="example-bucket", operation="REST.GET.OBJECT"),
        ]
        self.write()
        rows = self.shipped("access_denied_by_requester.sql")
        self.assertEqual([(r["requester"], r["denied"]) for r in rows], [("arn:aws:iam::111122223333:user/alice", 3)])
        one_source = self.query(
            f"""SELECT source, COUNT(*) AS denied FROM s3_access_logs.all_requests
                WHERE error_code = 'AccessDenied'
                  AND (source = 'aws_native' OR request_time < TIMESTAMP '{cutover:%Y-%m-%d %H:%M:%S}')
                GROUP BY source ORDER BY source"""
        )
        self.assertEqual(one_source, [{"source": "aws_native", "denied": 1}, {"source": "pipeline", "denied": 1}])


class NativeParquetFeedInDuckDB(NativeFeedInDuckDB):
    """The Parquet delivery, read through create_native_requests_parquet_table's columns: every
    test above, over the same records in a Parquet file."""

    DDL = PARQUET_TABLE_DDL

    def setUp(self):
        super().setUp()
        # The delivered file's columns and types: the DDL's, unless a test changes them.
        self.columns = ddl_columns(self.DDL)

    def create_native_requests(self, folder):
        """The native records as one delivered Parquet object in self.columns, and native_requests
        reading it by name, as Athena reads a Parquet table."""
        columns = self.columns
        self.db.execute(
            "CREATE TEMP TABLE delivered ("
            + ", ".join(f"{name} {DUCKDB_TYPES[kind]}" for name, kind in columns) + ")"
        )
        self.db.executemany(
            f"INSERT INTO delivered VALUES ({', '.join('?' * len(columns))})",
            [[r[name] for name, _ in columns] for r in self.natives],
        )
        self.db.execute(f"COPY delivered TO '{folder / 'native.parquet'}' (FORMAT PARQUET)")
        self.db.execute(
            f"""CREATE VIEW s3_access_logs.native_requests AS SELECT {', '.join(n for n, _ in columns)}
                FROM read_parquet('{self.root}/native/**/*.parquet')"""
        )

    def test_the_ddl_is_the_json_one_stored_as_parquet(self):
        json_ddl, parquet_ddl = (ddl.read_text() for ddl in (TABLE_DDL, PARQUET_TABLE_DDL))
        body = re.compile(r"^CREATE EXTERNAL TABLE.*?^\)$", re.MULTILINE | re.DOTALL)
        self.assertEqual(body.search(parquet_ddl).group(), body.search(json_ddl).group())
        self.assertIn("\nSTORED AS PARQUET\nLOCATION", parquet_ddl)
        self.assertNotIn("SERDE", parquet_ddl.split("CREATE EXTERNAL TABLE")[1])

    def test_delivered_file_has_the_declared_columns_and_types(self):
        # Athena reads a Parquet table's columns by name and fails on a type that differs from the
        # file's, so the file the other tests query must carry exactly the DDL's.
        self.natives = [native(NOW)]
        self.write()
        described = self.db.execute(f"DESCRIBE SELECT * FROM '{self.root}/native/AWSLogs/111122223333/native.parquet'")
        self.assertEqual(
            [(r[0], r[1]) for r in described.fetchall()], [(n, DUCKDB_TYPES[k]) for n, k in ddl_columns(self.DDL)]
        )

    def test_view_reads_request_time_stored_as_a_timestamp(self):
        # AWS does not document the Parquet file's types; the DDL says to declare request_time
        # timestamp if a file stores one, and the view must then give the same request_time.
        self.columns = [(n, "timestamp" if n == "request_time" else k) for n, k in self.columns]
        when = NOW.replace(microsecond=125000) - dt.timedelta(minutes=5)
        self.natives = [{**native(when), "request_time": when}]
        self.write()
        rows = self.query("SELECT source, request_time FROM s3_access_logs.all_requests")
        self.assertEqual(rows, [{"source": "aws_native", "request_time": when}])


if __name__ == "__main__":
    unittest.main()
