"""Runs every detection query (infra/athena/detections/*.sql), unchanged, in DuckDB over a shared fixture and
checks it finds exactly the hits the audit engine finds.

The fixture is infra/tests/fixtures/detections.log (raw log lines written to hit and to miss every detection)
and detections.ndjson, its records as the preprocessor writes them. detections.expected.json lists the engine's
hits per rule: RecordIds for rules on single records, "WindowBy|subject|WindowStart" for windowed rules; and, as
"off-hours@Asia/Kolkata", the off-hours hits with business hours in that zone (no daylight saving, so moving the
fixture by weeks keeps its local times; the engine's own tests cover daylight saving). The
Rust test `the_shared_fixture_gives_the_expected_hits_for_every_detection` (crates/pipeline/src/audit/tests.rs)
holds the engine to that file and the records to the log; this test holds the SQL to it.

The queries look at the last 7 days, so the fixture's request times are moved forward by whole weeks to end up
in that range: weekdays, hours and window boundaries stay what they were, and window starts are moved back
before comparing.
"""

import datetime as dt
import gzip
import json
import math
import pathlib
import re
import tempfile
import unittest

import duckdb

from test_athena_sql import ATHENA_DIR, DEDUP_VIEW, create_records_view, records_table

DETECTIONS_DIR = ATHENA_DIR / "detections"
INSIGHTS_DIR = ATHENA_DIR.parent / "insights"
FIXTURES = pathlib.Path(__file__).parent / "fixtures"
WEEK = dt.timedelta(days=7)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class DetectionQueriesAgreeWithTheEngine(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.expected = json.loads((FIXTURES / "detections.expected.json").read_text())
        records = [json.loads(line) for line in (FIXTURES / "detections.ndjson").read_text().splitlines()]
        earliest = min(dt.datetime.strptime(r["Timestamp"], TIME_FORMAT) for r in records if r["Timestamp"])
        cls.shift = WEEK * math.floor((NOW - earliest) / WEEK)
        for rec in records:
            if rec["Timestamp"]:
                moved = dt.datetime.strptime(rec["Timestamp"], TIME_FORMAT) + cls.shift
                rec["Timestamp"] = moved.strftime(TIME_FORMAT)
        cls.tmp = tempfile.TemporaryDirectory()
        folder = pathlib.Path(cls.tmp.name) / "records" / NOW.strftime("year=%Y/month=%m/day=%d/hour=%H")
        folder.mkdir(parents=True)
        with gzip.open(folder / "fixture.gz", "wt", encoding="utf-8") as out:
            for rec in records:
                out.write(json.dumps(rec, separators=(",", ":")) + "\n")
        cls.db = duckdb.connect()
        cls.db.execute("SET TimeZone = 'UTC'")
        create_records_view(cls.db, records_table(), f"{cls.tmp.name}/records/*/*/*/*/*.gz")
        cls.db.execute((ATHENA_DIR / DEDUP_VIEW).read_text())

    @classmethod
    def tearDownClass(cls):
        cls.db.close()
        cls.tmp.cleanup()

    def hits(self, rule, zone="UTC"):
        sql = (DETECTIONS_DIR / f"{rule}.sql").read_text()
        outer = "AT TIME ZONE 'UTC') AT TIME ZONE "
        if zone != "UTC":
            self.assertEqual(sql.count(f"{outer}'UTC'"), 3, "the zone appears in each of the three conditions")
            sql = sql.replace(f"{outer}'UTC'", f"{outer}'{zone}'")
        result = self.db.execute(sql)
        names = [d[0] for d in result.description]
        rows = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
        self.assertTrue(all(row["rule"] == rule for row in rows))
        if "window_by" in names:
            return sorted(
                f"{r['window_by']}|{r['subject']}|{(r['window_start'] - self.shift).strftime(TIME_FORMAT)}"
                for r in rows
            )
        return sorted(r["record_id"] for r in rows)

    def detections(self):
        return [key for key in self.expected if "@" not in key]

    def test_there_is_one_query_per_detection(self):
        self.assertEqual(sorted(p.stem for p in DETECTIONS_DIR.glob("*.sql")), sorted(self.detections()))

    def test_every_detection_has_hits_in_the_fixture(self):
        for rule, hits in self.expected.items():
            with self.subTest(rule=rule):
                self.assertTrue(hits, "the fixture must exercise the detection")

    def test_each_query_finds_the_engines_hits(self):
        for key, expected in self.expected.items():
            with self.subTest(key=key):
                rule, _, zone = key.partition("@")
                self.assertEqual(self.hits(rule, zone or "UTC"), expected)

    def test_windows_of_any_length_that_divides_a_day_start_where_the_engines_do(self):
        # "Edit the literals" must hold for every accepted length, longer than an hour included.
        times = ["2026-11-11 00:00:00", "2026-11-11 00:04:59", "2026-11-11 01:59:59", "2026-11-11 02:00:00",
                 "2026-11-11 13:37:00", "2026-11-11 23:59:59"]
        rows = ", ".join(f"(TIMESTAMP '{t}')" for t in times)
        for rule in ("enumeration", "mass-deletion", "bulk-download"):
            sql = (DETECTIONS_DIR / f"{rule}.sql").read_text()
            minutes = re.search(r"^-- Setting [a-z-]+\.minutes = (\d+)$", sql, re.M).group(1)
            window = re.search(r"^\s*(.+) AS window_start$", sql, re.M).group(1)
            self.assertEqual(window.count(f"% {minutes})"), 1, "the length is one literal after %")
            for length in (1, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440):
                with self.subTest(rule=rule, minutes=length):
                    edited = window.replace(f"% {minutes})", f"% {length})")
                    query = f"SELECT {edited} FROM (VALUES {rows}) t(request_time)"
                    found = [row[0] for row in self.db.execute(query).fetchall()]
                    # The engine's start: the epoch second floored to a multiple of the length.
                    seconds = length * 60
                    epochs = [dt.datetime.strptime(t, TIME_FORMAT).replace(tzinfo=dt.UTC).timestamp() for t in times]
                    expected = [
                        dt.datetime.fromtimestamp(epoch // seconds * seconds, dt.UTC).replace(tzinfo=None)
                        for epoch in epochs
                    ]
                    self.assertEqual(found, expected)

    def test_every_detection_has_an_insights_query_naming_it(self):
        for rule in self.detections():
            with self.subTest(rule=rule):
                text = (INSIGHTS_DIR / f"{rule}.query").read_text()
                self.assertTrue(text.startswith("# "), "starts with a comment saying what it finds")
                self.assertIn(f"filter Rule = '{rule}'", text)


if __name__ == "__main__":
    unittest.main()
