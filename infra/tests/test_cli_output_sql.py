"""Runs the named queries in DuckDB over what `s3logs run` writes, in both --format json and parquet, and
checks their answers against answers worked out here from the requests the input lines were written from.

The input is raw log text generated below: recent requests (the queries look at the last 24 hours, 7 or
30 days) with every shape that could trip a query: time-zone offsets in the log's timestamps, lines on
hour and year boundaries, the 17-field lines of 2006, lines with fields past the last known one, `-`
fields (null), anonymous requests, lines that do not parse (quarantined with ParseError and RawLine),
and a second log file that repeats lines of the first (a duplicate delivery: same RecordId). The
records table is defined in DuckDB from the Glue table of template.yaml, for the JSON table and for the
Parquet table, by the end-to-end test's own definition (tests/e2e/athena.py), so every query reads
exactly what it would read in Athena. The expected answers never come from the output: each is
computed from the request dicts by the query's own rules, written out in Python.
"""

import datetime as dt
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import unittest

import cfn

sys.path.insert(0, str(cfn.ROOT / "tests" / "e2e"))
import athena  # noqa: E402  (tests/e2e/athena.py: the Glue table as a DuckDB view)

ATHENA_DIR = cfn.ROOT / "infra" / "athena"
DEDUP_VIEW = ATHENA_DIR / "records_dedup_view.sql"
DATABASE = "s3_access_logs"
# The local stand-in for the output bucket: `s3logs run --out` writes `records/` under it, as
# Firehose writes under the records prefix.
BUCKET = "out"
NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
ALICE = "arn:aws:iam::111122223333:user/alice"
BOB = "arn:aws:iam::111122223333:user/bob"


def request(when, **fields):
    """A request as S3 would log it, at UTC time `when`; `offset` (minutes east of UTC) is the zone
    the log's timestamp is written in, `generation` 17 gives the 2006 line, `extra` fields past the 27th."""
    req = {
        "time": when, "offset": 0, "generation": 27, "extra": [],
        "bucket": "example-bucket", "ip": "192.0.2.10", "requester": ALICE, "request_id": "3E57427F33A59F07",
        "operation": "REST.GET.OBJECT", "key": "photos/a%20b.jpg", "uri": "GET /photos/a%20b.jpg HTTP/1.1",
        "status": 200, "error": None, "bytes_sent": 512, "object_size": 512, "total": 12, "turnaround": 10,
        "referrer": None, "agent": "aws-cli/2.15.0", "version": None, "host_id": "aGlkaGlk", "signature": "SigV4",
        "cipher": "ECDHE-RSA-AES128-GCM-SHA256", "auth": "AuthHeader", "host": "example-bucket.s3.amazonaws.com",
        "tls": "TLSv1.3", "access_point": None, "acl": None, "region": None,
    }
    req.update(fields)
    return req


def log_time(when, offset_minutes):
    """`[06/Feb/2019:00:00:38 +0000]` for the UTC time `when`, written in the zone `offset_minutes` east."""
    local = when + dt.timedelta(minutes=offset_minutes)
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"[{local.day:02d}/{MONTHS[local.month - 1]}/{local.year}:{local:%H:%M:%S} {sign}{hours:02d}{minutes:02d}]"


def line(req):
    """The raw log line of `req`: `-` for a missing value, quotes around the three quoted fields."""
    def plain(value):
        return "-" if value is None else str(value)

    def quoted(value):
        return '"-"' if value is None else f'"{value}"'

    fields = [
        OWNER, req["bucket"], log_time(req["time"], req["offset"]), req["ip"], plain(req["requester"]),
        req["request_id"], req["operation"], plain(req["key"]), quoted(req["uri"]), plain(req["status"]),
        plain(req["error"]), plain(req["bytes_sent"]), plain(req["object_size"]), plain(req["total"]),
        plain(req["turnaround"]), quoted(req["referrer"]), quoted(req["agent"]),
    ]
    if req["generation"] > 17:
        fields += [plain(req[name]) for name in (
            "version", "host_id", "signature", "cipher", "auth", "host", "tls", "access_point", "acl", "region")]
    return " ".join(fields + req["extra"])


def in_window(req, length):
    """Whether `req` is in the queries' window of `length` before now."""
    return req["time"] is not None and NOW - length <= req["time"]


HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
# The last hour boundary more than three hours ago: requests a second either side of it.
BOUNDARY = NOW.replace(minute=0, second=0) - 3 * HOUR


def scenario():
    """(first log file's lines, second log file's lines, the requests behind the parsed lines of both,
    the quarantined lines of both by file name)."""
    def sigv2(when, ip, agent, **fields):
        return request(when, signature="SigV2", ip=ip, agent=agent, auth="QueryString", **fields)

    first = [
        sigv2(NOW - 2 * HOUR, "192.0.2.50", "boto/2.49", request_id="A1"),
        sigv2(NOW - 2 * HOUR, "192.0.2.50", "boto/2.49", request_id="A2"),
        # Written in India's and California's zones: as text without their offsets, one would be in the
        # future and one outside the last 24 hours.
        sigv2(NOW - 3 * HOUR, "192.0.2.50", "boto/2.49", request_id="A3", offset=330),
        sigv2(NOW - 20 * HOUR, "192.0.2.51", "s3cmd/1.6", request_id="A4", offset=-480),
        sigv2(NOW - 30 * HOUR, "192.0.2.52", "s3cmd/1.6", request_id="A5"),
        request(BOUNDARY - dt.timedelta(seconds=1), request_id="B1", status=403, error="AccessDenied",
                operation="REST.PUT.OBJECT", ip="192.0.2.20"),
        request(BOUNDARY, request_id="B2", status=403, error="AccessDenied", operation="REST.PUT.OBJECT",
                ip="192.0.2.21"),
        request(NOW - 5 * DAY, request_id="B3", status=403, error="AccessDenied", requester=BOB),
        request(NOW - 8 * DAY, request_id="B4", status=403, error="AccessDenied", requester=BOB),
        # Anonymous, `-` in every field that can be: a 2006 line, without the fields added since.
        request(NOW - HOUR, request_id="C1", generation=17, requester=None, status=404, error="NoSuchKey",
                bytes_sent=None, object_size=None, total=None, turnaround=None, referrer=None, agent=None, key=None,
                uri="GET / HTTP/1.1"),
        request(NOW - HOUR, request_id="C2", requester="svc:delivery.logs.amazonaws.com", status=404,
                error="NoSuchKey"),
        request(NOW - HOUR, request_id="C3", requester="AmazonS3", status=404, error="NoSuchKey"),
        request(NOW - HOUR, request_id="C4", status=403, error="AccessDenied", agent="aws-internal/3 aws-sdk-java/1.12"),
        request(NOW - HOUR, request_id="C5", status=503, error="SlowDown", requester=None, ip="198.51.100.7",
                signature=None, auth=None, tls=None, cipher=None),
        request(NOW - 2 * DAY, request_id="D1", tls="TLSv1.1", ip="192.0.2.30"),
        request(NOW - 2 * DAY, request_id="D2", tls="TLSV1.1", ip="192.0.2.30"),
        # Two fields past the last known one, as AWS appends them.
        request(NOW - 2 * DAY, request_id="D3", tls="TLSv1", ip="192.0.2.31", extra=["future-a", "future-b"]),
        request(NOW - 9 * DAY, request_id="D4", tls="TLSv1", ip="192.0.2.31"),
        request(NOW - 10 * DAY, request_id="E1", acl="Yes", operation="REST.GET.ACL", key=None, uri="GET /?acl HTTP/1.1"),
        request(NOW - 10 * DAY, request_id="E2", acl="Yes", operation="REST.GET.ACL", key=None, uri="GET /?acl HTTP/1.1"),
        request(NOW - 40 * DAY, request_id="E3", acl="Yes", operation="REST.GET.ACL", key=None, uri="GET /?acl HTTP/1.1"),
        # Years ago, on a year boundary only with the offset applied, and the first year of server access logs.
        request(dt.datetime(2026, 1, 1, 0, 30), request_id="F1", offset=-60),
        request(dt.datetime(2025, 12, 31, 23, 30), request_id="F2", offset=60),
        request(dt.datetime(2006, 3, 15, 10, 0), request_id="F3", generation=17),
    ]
    bad_status = request(NOW - HOUR, request_id="Q1", status="abc")
    first_lines = [line(r) for r in first[:12]] + [line(bad_status), "garbage without any fields"]
    first_lines += [line(r) for r in first[12:]]
    # A second copy of part of the first file (S3 delivered it twice), with one request of its own.
    own = request(NOW - 4 * HOUR, request_id="G1", status=403, error="AccessDenied", ip="192.0.2.22")
    second_lines = first_lines[:4] + [line(bad_status), line(own)]
    quarantined = {"a.log": [line(bad_status), "garbage without any fields"], "b.log": [line(bad_status)]}
    return first_lines, second_lines, first + [own], quarantined


def dedup_window(requests):
    """The requests `records_dedup` holds: each line once, the last 30 days (by partition, which `run`
    takes from the request's own hour)."""
    return [r for r in requests if r["time"].replace(minute=0, second=0) >= NOW - 30 * DAY - 2 * HOUR]


def count(rows, key):
    """Group key -> (requests, first_seen, last_seen), the columns most of the queries end with."""
    groups = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r["time"])
    return {k: (len(times), min(times), max(times)) for k, times in groups.items()}


def excluded_as_aws(req):
    """Whether failed_requests leaves `req` out as AWS acting on the bucket."""
    requester = req["requester"] or ""
    agent = req["agent"] or ""
    return (requester.startswith("svc:") or requester == "AmazonS3" or ":assumed-role/AWSServiceRole" in requester
            or "amazonaws.com" in agent or agent.startswith("aws-internal"))


def expected_answers(requests, quarantined, log_files):
    """The answer of each named query, worked out from the requests by the query's own rules."""
    held = dedup_window(requests)
    week = [r for r in held if in_window(r, 7 * DAY)]
    return {
        "sigv2_clients_24h": count(
            [r for r in held if in_window(r, DAY) and r["signature"] == "SigV2"],
            lambda r: (r["ip"], r["requester"], r["bucket"], r["operation"], r["agent"])),
        "access_denied_by_requester": _denied_by_requester([r for r in week if r["error"] == "AccessDenied"]),
        "failed_requests": count(
            [r for r in week if ((r["status"] or 0) >= 400 or r["error"] is not None) and not excluded_as_aws(r)],
            lambda r: (r["bucket"], r["operation"], r["status"], r["error"], r["requester"], r["ip"])),
        "legacy_tls_clients": count(
            [r for r in week if r["generation"] > 17 and (r["tls"] or "").lower() in ("tlsv1", "tlsv1.0", "tlsv1.1")],
            lambda r: (r["ip"], r["requester"], r["bucket"], r["tls"], r["cipher"], r["agent"])),
        "acl_required": count(
            [r for r in held if in_window(r, 30 * DAY) and r["generation"] > 17 and r["acl"] == "Yes"],
            lambda r: (r["bucket"], r["requester"], r["operation"])),
        # Each quarantined line once, under the file whose copy the view keeps: both copies are in one
        # partition, and then the least log_file wins.
        "parse_errors": _parse_error_lines(quarantined, log_files),
    }


def _denied_by_requester(denied):
    """(requester, bucket, operation) -> (denied, remote_ips, first_seen, last_seen)."""
    groups = {}
    for r in denied:
        groups.setdefault((r["requester"], r["bucket"], r["operation"]), []).append(r)
    return {k: (len(g), len({r["ip"] for r in g}), min(r["time"] for r in g), max(r["time"] for r in g))
            for k, g in groups.items()}


def _parse_error_lines(quarantined, log_files):
    """Log file -> (lines, the least raw line) of the quarantined lines, each counted once."""
    seen = {}
    for name in sorted(quarantined):
        for raw in quarantined[name]:
            seen.setdefault(raw, log_files[name])
    by_file = {}
    for raw, log_file in seen.items():
        by_file.setdefault(log_file, []).append(raw)
    return {log_file: (len(lines), min(lines)) for log_file, lines in by_file.items()}


def answer_of(name, rows):
    """A query's rows in the shape of `expected_answers`."""
    if name == "sigv2_clients_24h":
        return {(r["remote_ip"], r["requester"], r["bucket_name"], r["operation"], r["user_agent"]):
                (r["requests"], r["first_seen"], r["last_seen"]) for r in rows}
    if name == "access_denied_by_requester":
        return {(r["requester"], r["bucket_name"], r["operation"]):
                (r["denied"], r["remote_ips"], r["first_seen"], r["last_seen"]) for r in rows}
    if name == "failed_requests":
        return {(r["bucket_name"], r["operation"], r["http_status"], r["error_code"], r["requester"], r["remote_ip"]):
                (r["requests"], r["first_seen"], r["last_seen"]) for r in rows}
    if name == "legacy_tls_clients":
        return {(r["remote_ip"], r["requester"], r["bucket_name"], r["tls_version"], r["cipher_suite"], r["user_agent"]):
                (r["requests"], r["first_seen"], r["last_seen"]) for r in rows}
    if name == "acl_required":
        return {(r["bucket_name"], r["requester"], r["operation"]): (r["requests"], r["first_seen"], r["last_seen"])
                for r in rows}
    if name == "parse_errors":
        answer = {}
        for r in rows:
            lines, example = answer.get(r["log_file"], (0, None))
            answer[r["log_file"]] = (lines + r["lines"], min(x for x in (example, r["example"]) if x is not None))
        return answer
    raise AssertionError(f"no answer shape for {name}")


def s3logs():
    """The s3logs binary of this checkout, built if it is not up to date."""
    subprocess.run(["cargo", "build", "--quiet", "-p", "s3logs", "--bin", "s3logs"], cwd=cfn.ROOT, check=True)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", cfn.ROOT / "target"))
    return target / "debug" / "s3logs"


class NamedQueriesOverCliOutput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = pathlib.Path(cls.tmp.name)
        first, second, cls.requests, quarantined = scenario()
        logs = root / "logs"
        logs.mkdir()
        (logs / "a.log").write_text("\n".join(first) + "\n")
        (logs / "b.log").write_text("\n".join(second) + "\n")
        cls.log_files = {name: str((logs / name).resolve()) for name in ("a.log", "b.log")}
        cls.quarantined = quarantined
        cls.lines = len(first) + len(second)
        binary = s3logs()
        template = cfn.load_template()
        cls.dbs = {}
        for output_format in cfn.OUTPUT_FORMATS:
            mirror = root / output_format
            subprocess.run(
                [binary, "run", str(logs), "--out", str(mirror / BUCKET), "--format", output_format, "--rules", "sigv2",
                 "--jobs", "2"],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            table = cfn.records_table(template, output_format)
            table["Parameters"]["storage.location.template"] = cfn.sub(
                template["Resources"]["RecordsTable"]["Properties"]["TableInput"]["Parameters"]["storage.location.template"]["Fn::Sub"][0],
                {"RecordsBucket": BUCKET, "RecordsPrefix": cfn.parameter_defaults(template)["RecordsPrefix"]},
            )
            db = athena.connect(DATABASE)
            db.execute(athena.records_view_sql(DATABASE, table, mirror, athena.json_keys(sorted(mirror.rglob("*.gz")))))
            db.execute(DEDUP_VIEW.read_text())
            cls.dbs[output_format] = db
        cls.table = cfn.records_table(template, "json")
        cls.partitions = {p.relative_to(root / "json" / BUCKET / "records").as_posix()
                          for p in (root / "json" / BUCKET / "records").glob("*/*/*/*")}

    @classmethod
    def tearDownClass(cls):
        for db in cls.dbs.values():
            db.close()
        cls.tmp.cleanup()

    def rows(self, output_format, sql):
        result = self.dbs[output_format].execute(sql)
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

    def test_each_named_query_gives_the_answer_worked_out_from_the_input(self):
        expected = expected_answers(self.requests, self.quarantined, self.log_files)
        for output_format in cfn.OUTPUT_FORMATS:
            for name, answer in expected.items():
                with self.subTest(format=output_format, query=name):
                    self.assertTrue(answer, "the input exercises the query")
                    rows = self.rows(output_format, (ATHENA_DIR / f"{name}.sql").read_text())
                    self.assertEqual(answer_of(name, rows), answer)

    def test_json_and_parquet_give_every_query_the_same_rows(self):
        queries = [p for p in sorted(ATHENA_DIR.rglob("*.sql"))
                   if re.search(r"\bFROM\s+s3_access_logs\.records_dedup\b", p.read_text())
                   and not re.match(r"\s*CREATE\b", re.sub(r"--[^\n]*", "", p.read_text()))]
        self.assertGreater(len(queries), 6)
        for path in queries:
            with self.subTest(query=str(path.relative_to(ATHENA_DIR))):
                sql = path.read_text()
                self.assertEqual(self.rows("json", sql), self.rows("parquet", sql))

    def test_json_and_parquet_tables_hold_the_same_values(self):
        columns = ", ".join([c["Name"] for c in self.table["StorageDescriptor"]["Columns"]] + ["year", "month", "day", "hour"])
        sql = f"SELECT {columns} FROM s3_access_logs.records ORDER BY record_id, log_file"
        json_rows = self.rows("json", sql)
        self.assertEqual(len(json_rows), self.lines, "one row per line of each file")
        self.assertEqual(json_rows, self.rows("parquet", sql))

    def test_each_line_is_in_the_partition_of_its_utc_request_hour(self):
        for output_format in cfn.OUTPUT_FORMATS:
            rows = self.rows(output_format, """SELECT request_id, request_time, year, month, day, hour, extra_fields
                FROM s3_access_logs.records WHERE parse_error IS NULL""")
            by_id = {r["request_id"]: r for r in rows}
            for req in self.requests:
                with self.subTest(format=output_format, request=req["request_id"]):
                    row = by_id[req["request_id"]]
                    self.assertEqual(row["request_time"], req["time"])
                    self.assertEqual((row["year"], row["month"], row["day"], row["hour"]),
                                     tuple(req["time"].strftime("%Y %m %d %H").split()))
                    self.assertEqual(row["extra_fields"], req["extra"] or None)
            # A line without a time takes the hour of the line read before it.
            (garbage,) = self.rows(output_format, """SELECT year, month, day, hour FROM s3_access_logs.records
                WHERE raw_line = 'garbage without any fields'""")
            self.assertEqual(tuple(garbage.values()), tuple((NOW - HOUR).strftime("%Y %m %d %H").split()))

    def test_partition_projection_finds_every_partition_run_writes(self):
        # `s3logs run` names partitions by request time, so history goes back to 2006, when S3 began logging.
        parameters = self.table["Parameters"]
        self.assertIn("year=2006/month=03/day=15/hour=10", self.partitions)
        for partition in self.partitions:
            with self.subTest(partition=partition):
                for part in partition.split("/"):
                    name, value = part.split("=")
                    self.assertTrue(athena.projection_accepts(parameters, name, value), part)


if __name__ == "__main__":
    unittest.main()
