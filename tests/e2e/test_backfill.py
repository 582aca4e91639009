"""A backfill of old logs, run the way the BackfillCommand's S3 Batch Operations job runs it.

The user's old log bucket (`deploy.BACKFILL_BUCKET`, named in the stack's BackfillSources) holds
logs in both key layouts of log delivery, one of them archived (storage class GLACIER), plus an
object outside the sources. The stack's BackfillCommand runs in bash with `aws` recorded
(`backfill_command`), and the test plays Batch Operations' part for the CreateJob requests it makes:

1. the manifest generator: every object of the request's source bucket under its prefix created
   in its time window, as `bucket,key` rows with the key URL-encoded;
2. one object of the manifest is deleted before its task runs (it can never be read);
3. each task invokes the request's function, the preprocessor (`cargo lambda invoke`), with an
   invocation schema 2.0 event;
4. the failed tasks go to a completion report where the request's Report says;
   the archived object is restored, and a job over the report's `bucket,key` columns re-runs only
   the failures;
5. the whole job runs once more.

Firehose's delivery is completed by hand after each job (`firehose.Delivery`); what each job
delivered is mirrored to disk and read by DuckDB through the Glue table and `records_dedup`.
"""

from __future__ import annotations

import csv
import datetime as dt
import fnmatch
import io
import json
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import athena
import backfill_command
import events
import expected as exp
from deploy import BACKFILL_BUCKET, ROOT, Deployment
from firehose import DeliveredObject, Delivery
from harness import Phase, database_name, delivered_records, duckdb_over, named_as_delivered
from stack import ACCOUNT_ID, REGION

DATA = Path(__file__).resolve().parent / "data"
SAMPLES = ROOT / "samples"
DEDUP_VIEW = ROOT / "infra" / "athena" / "records_dedup_view.sql"
PARTITIONED = f"partitioned/{ACCOUNT_ID}/{REGION}"


@dataclass(frozen=True)
class OldLog:
    """An object in the old log bucket, with the bytes it was made from."""

    key: str
    path: Path
    archived: bool = False

    @property
    def log_file(self) -> str:
        return f"s3://{BACKFILL_BUCKET}/{self.key}"


# SimplePrefix keys: [DestinationPrefix][YYYY]-[MM]-[DD]-[hh]-[mm]-[ss]-[UniqueString];
# PartitionedPrefix keys: [DestinationPrefix][SourceAccountId]/[SourceRegion]/[SourceBucket]/[YYYY]/[MM]/[DD]/
# [YYYY]-[MM]-[DD]-[hh]-[mm]-[ss]-[UniqueString] (with EventTime the time of day is zeros).
READABLE = [
    OldLog("simple/2012-12-04-20-00-00-A17C03D2E95F6B48", SAMPLES / "media.example-radio.nl" / "2012-12-04-20-00-00-A17C03D2E95F6B48"),
    OldLog("simple/2019-06-12-16-05-21-7E1D0C5F2A9B4C83", SAMPLES / "photo-archive" / "2019-06-12-16-05-21-7E1D0C5F2A9B4C83"),
    OldLog(f"{PARTITIONED}/data-lake-raw/2026/02/02/2026-02-02-00-00-00-94D2A0B7C1E3F586",
           SAMPLES / "data-lake-raw" / "2026-02-02-05-15-44-94D2A0B7C1E3F586.gz"),
    OldLog(f"{PARTITIONED}/shared-reports/2023/11/07/2023-11-07-00-00-00-3B9F1E07A6C2D548",
           SAMPLES / "shared-reports" / "2023-11-07-14-10-52-3B9F1E07A6C2D548"),
]
# Lifecycle moved it to Glacier: unreadable until restored.
ARCHIVED = OldLog(f"{PARTITIONED}/e2e-releases/2025/11/23/2025-11-23-00-00-00-0A1B2C3D4E5F6A7B",
                  DATA / "raw" / ACCOUNT_ID / REGION / "e2e-releases" / "2025" / "11" / "23" / "2025-11-23-11-00-00-0A1B2C3D4E5F6A7B",
                  archived=True)
# Deleted after the manifest was made: it can never be read.
VANISHED = OldLog("simple/2025-11-23-10-15-01-7E1A5B0C2D3F4A5B", DATA / "raw" / "2025-11-23-10-15-01-7E1A5B0C2D3F4A5B")
# Under no source prefix: never in the manifest.
OUTSIDE = OldLog("elsewhere/2025-11-23-10-15-01-7E1A5B0C2D3F4A5B", DATA / "raw" / "2025-11-23-10-15-01-7E1A5B0C2D3F4A5B")


@dataclass
class Job:
    """One Batch Operations job: its tasks' answers and what Firehose delivered for them."""

    job_id: str
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> the task's result
    delivered: list[DeliveredObject] = field(default_factory=list)

    def code(self, log: OldLog) -> str:
        return self.answers[log.key]["resultCode"]


@dataclass
class Backfill:
    manifest: list[tuple[str, str]]  # (bucket, key) rows as written, keys URL-encoded
    first: Job
    retry: Job
    again: Job
    mirrors: dict[str, Path]  # after which job -> the records every job so far delivered
    records: dict[str, list[dict[str, Any]]]  # key -> what `s3logs parse` makes of it


def _requests(deployment: Deployment, until: dt.datetime) -> list[dict[str, Any]]:
    """The CreateJob requests of the stack's BackfillCommand, run with BACKFILL_UNTIL=`until`."""
    output = deployment.stack.template["Outputs"]["BackfillCommand"]
    assert deployment.stack.condition(output["Condition"]), "the e2e stack has backfill sources"
    command = deployment.stack.resolve(output["Value"])
    model = backfill_command.create_job_model()
    env = {"BACKFILL_UNTIL": until.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return [backfill_command.s3control_request(argv, model)[1] for argv in backfill_command.run(command, env)]


def _timestamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _generate_manifest(s3: Any, requests: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The manifest generator: each request's source objects whose key starts with one of its
    prefixes and that were created in its window (no storage class filter)."""
    rows = []
    for request in requests:
        generator = request["ManifestGenerator"]["S3JobManifestGenerator"]
        bucket = generator["SourceBucket"].split(":::", 1)[1]
        window = generator["Filter"]
        after, before = _timestamp(window["CreatedAfter"]), _timestamp(window["CreatedBefore"])
        for prefix in window["KeyNameConstraint"]["MatchAnyPrefix"]:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                rows += [(bucket, urllib.parse.quote(o["Key"], safe="/")) for o in page.get("Contents", [])
                         if after < o["LastModified"] < before]
    return rows


def _run_job(functions, firehose: Delivery, manifest: list[tuple[str, str]]) -> Job:
    job = Job(str(uuid.uuid4()))
    for bucket, encoded in manifest:
        key = urllib.parse.unquote(encoded)
        event = events.batch_job_v2(job.job_id, bucket, key)
        answer = functions["preprocessor"].invoke(event)
        assert answer["invocationSchemaVersion"] == "2.0" and answer["invocationId"] == event["invocationId"], answer
        (result,) = answer["results"]
        assert result["taskId"] == event["tasks"][0]["taskId"], answer
        job.answers[key] = result
    job.delivered = firehose.flush()
    return job


def _write_report(s3: Any, report_location: dict[str, Any], job: Job) -> tuple[str, str]:
    """The completion report of failed tasks (Report_CSV_20180820; for a Lambda task AWS's example
    rows read bucket, key, version id, `failed`, 200, the result code, the result string), where the
    BackfillCommand asks for it."""
    out = io.StringIO()
    writer = csv.writer(out)
    for key, result in job.answers.items():
        if result["resultCode"] != "Succeeded":
            writer.writerow([BACKFILL_BUCKET, urllib.parse.quote(key, safe="/"), "", "failed", "200",
                             result["resultCode"], result["resultString"]])
    assert report_location["ReportScope"] == "FailedTasksOnly"
    bucket = report_location["Bucket"].split(":::", 1)[1]
    key = f"{report_location['Prefix']}/job-{job.job_id}/results/{uuid.uuid4()}.csv"
    s3.put_object(Bucket=bucket, Key=key, Body=out.getvalue().encode())
    return bucket, key


def _failures_manifest(s3: Any, report: tuple[str, str]) -> list[tuple[str, str]]:
    """What docs/deploy.md does to re-run only the failures: the report's first two columns."""
    bucket, key = report
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [(row[0], row[1]) for row in csv.reader(io.StringIO(body))]


def _mirror(s3: Any, deployment: Deployment, jobs: list[Job], into: Path) -> Path:
    for job in jobs:
        for obj in job.delivered:
            target = into / deployment.output_bucket / obj.key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=deployment.output_bucket, Key=obj.key)["Body"].read())
    return into


@pytest.fixture(scope="session")
def backfill(aws, deployment, functions, firehose_delivery, settings, second_delivery) -> Backfill:
    """The jobs, run once for the module's tests. `second_delivery` comes first: the pipeline
    tests' phases are complete and mirrored before the backfill's records reach the output bucket."""
    s3 = aws["s3"]
    s3.create_bucket(Bucket=BACKFILL_BUCKET)
    for log in [*READABLE, ARCHIVED, VANISHED, OUTSIDE]:
        s3.put_object(Bucket=BACKFILL_BUCKET, Key=log.key, Body=log.path.read_bytes(),
                      StorageClass="GLACIER" if log.archived else "STANDARD")
    # A minute ahead: the objects were created within the current second.
    requests = _requests(deployment, dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1))
    for request in requests:
        function = deployment.function_by_arn(request["Operation"]["LambdaInvoke"]["FunctionArn"])
        assert function.binary == "preprocessor"
        assert request["Operation"]["LambdaInvoke"]["InvocationSchemaVersion"] == "2.0"
    (report_location,) = {json.dumps(r["Report"], sort_keys=True) for r in requests}
    manifest = _generate_manifest(s3, requests)
    s3.delete_object(Bucket=BACKFILL_BUCKET, Key=VANISHED.key)

    first = _run_job(functions, firehose_delivery, manifest)
    report = _write_report(s3, json.loads(report_location), first)
    s3.restore_object(Bucket=BACKFILL_BUCKET, Key=ARCHIVED.key, RestoreRequest={"Days": 1})
    retry = _run_job(functions, firehose_delivery, _failures_manifest(s3, report))
    again = _run_job(functions, firehose_delivery, manifest)

    work = settings.work
    mirrors = {
        "first": _mirror(s3, deployment, [first], work / "mirror-backfill-first"),
        "retry": _mirror(s3, deployment, [first, retry], work / "mirror-backfill-retry"),
        "again": _mirror(s3, deployment, [first, retry, again], work / "mirror-backfill-again"),
    }
    records = {}
    for log in [*READABLE, ARCHIVED]:
        records[log.key] = named_as_delivered(deployment, exp.parse_raw(settings.s3logs, log.path), log.log_file)
    return Backfill(manifest, first, retry, again, mirrors, records)


def _delivered_records(backfill: Backfill, deployment: Deployment, job: Job, mirror: str) -> list[dict[str, Any]]:
    records = []
    for obj in job.delivered:
        records += delivered_records(deployment, backfill.mirrors[mirror] / deployment.output_bucket / obj.key)
    return records


def _by_log_file(records: list[dict[str, Any]]) -> dict[str | None, Counter[str]]:
    """The records by the object they name (compact records of parsed lines name none)."""
    out: dict[str | None, Counter[str]] = {}
    for record in records:
        out.setdefault(record["LogFile"], Counter())[json.dumps(record, sort_keys=True)] += 1
    return out


def test_manifest_holds_both_layouts_and_nothing_else(backfill: Backfill) -> None:
    listed = sorted(urllib.parse.unquote(key) for _, key in backfill.manifest)
    assert listed == sorted(log.key for log in [*READABLE, ARCHIVED, VANISHED])
    assert all(bucket == BACKFILL_BUCKET for bucket, _ in backfill.manifest)


def test_preprocessor_role_may_read_every_task_object(backfill: Backfill, deployment) -> None:
    """moto does not check IAM; in AWS the preprocessor's role is what lets it read the tasks' objects."""
    statements = deployment.stack.resources["PreprocessorRole"].properties["Policies"][0]["PolicyDocument"]["Statement"]
    def listed(value: str | list[str]) -> list[str]:
        return value if isinstance(value, list) else [value]

    # GetObjectVersion too: a task of a versioned bucket's manifest names the version it reads.
    reads = [resource for s in statements
             if {"s3:GetObject", "s3:GetObjectVersion"} <= set(listed(s["Action"]))
             for resource in listed(s["Resource"])]
    for bucket, key in backfill.manifest:
        arn = f"arn:aws:s3:::{bucket}/{urllib.parse.unquote(key)}"
        assert any(fnmatch.fnmatchcase(arn, resource) for resource in reads), arn
    outside = f"arn:aws:s3:::{BACKFILL_BUCKET}/{OUTSIDE.key}"
    assert not any(fnmatch.fnmatchcase(outside, resource) for resource in reads), outside


def test_readable_objects_succeed_with_every_line_once(backfill: Backfill, deployment) -> None:
    for log in READABLE:
        assert backfill.first.code(log) == "Succeeded", backfill.first.answers[log.key]
    got = _by_log_file(_delivered_records(backfill, deployment, backfill.first, "first"))
    for log in READABLE:
        assert backfill.records[log.key], f"{log.path} should have lines"
    # Every line of each readable object once; nothing from the objects that could not be read,
    # nor from outside the sources.
    want = _by_log_file([r for log in READABLE for r in backfill.records[log.key]])
    assert got == want, "records differ"


def test_object_that_can_never_be_read_is_a_permanent_failure(backfill: Backfill) -> None:
    for job in (backfill.first, backfill.retry, backfill.again):
        result = job.answers[VANISHED.key]
        assert result["resultCode"] == "PermanentFailure", result
        assert result["resultString"], "a permanent failure says why"


def test_archived_object_is_a_temporary_failure(backfill: Backfill) -> None:
    """InvalidObjectState until it is restored: a retry can fix it, so TemporaryFailure (docs/deploy.md,
    "What happens when something fails"), never PermanentFailure."""
    result = backfill.first.answers[ARCHIVED.key]
    assert result["resultCode"] == "TemporaryFailure", result


def test_rerunning_the_failures_after_restore_delivers_them(backfill: Backfill, deployment) -> None:
    assert set(backfill.retry.answers) == {ARCHIVED.key, VANISHED.key}, "the retry runs only the failed tasks"
    assert backfill.retry.code(ARCHIVED) == "Succeeded", backfill.retry.answers[ARCHIVED.key]
    got = _by_log_file(_delivered_records(backfill, deployment, backfill.retry, "retry"))
    assert got == _by_log_file(backfill.records[ARCHIVED.key])


def test_rerunning_the_job_adds_nothing_to_the_dedup_view(backfill: Backfill, deployment, records_table) -> None:
    assert all(backfill.again.code(log) == "Succeeded" for log in [*READABLE, ARCHIVED]), backfill.again.answers
    database = database_name(deployment)
    distinct = {r["RecordId"] for records in backfill.records.values() for r in records}
    total = sum(len(records) for records in backfill.records.values())
    counts = {}
    for name, jobs in (("retry", [backfill.first, backfill.retry]), ("again", [backfill.first, backfill.retry, backfill.again])):
        phase = Phase([], [], [o for job in jobs for o in job.delivered], [], [], backfill.mirrors[name])
        con = duckdb_over(deployment, records_table, phase)
        con.execute(athena.to_duckdb(DEDUP_VIEW.read_text()))
        counts[name] = (
            con.execute(f"SELECT count(*) FROM {database}.{records_table['Name']}").fetchone()[0],
            con.execute(f"SELECT count(DISTINCT record_id), count(*) FROM {database}.records_dedup").fetchone(),
        )
    assert counts["retry"] == (total, (len(distinct), len(distinct)))
    assert counts["again"] == (2 * total, (len(distinct), len(distinct)))
