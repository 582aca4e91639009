"""The end-to-end run, shared by the tests: deploy into moto, feed raw logs, collect what comes out.

`tests/e2e/run.sh` starts moto_server and the two functions under `cargo lambda watch` and passes
their addresses in `E2E_*` variables. The session fixtures then play AWS's part, in order:

1. `deployment`: the template's buckets and delivery stream, created in moto.
2. `first_delivery`: every raw log object is uploaded to the raw log bucket; for each, the S3
   event the template's notification sends goes to the preprocessor (`cargo lambda invoke`),
   which sends records to Firehose (moto). Firehose's delivery is completed by hand
   (`firehose.Delivery`: buffering, gzip, Hive prefix); for each object it writes, the S3 event
   goes to the postprocessor, whose stdout is collected. The output bucket is mirrored to disk.
3. `second_delivery`: S3 delivers the event for one raw object again (notifications are "at
   least once"); the same path runs once more.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import events
import expected as exp
import livedata
from deploy import ROOT, Deployment, Function
from firehose import Delivery
from harness import Phase, RawObject, named_as_delivered
from stack import ACCOUNT_ID, REGION

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SAMPLES = ROOT / "samples"
# Lines of the generated bulk object: enough JSON for several Firehose records and batches.
BULK_LINES = 6000
# The postprocessor's exclusion when EXCLUDE_USER_AGENT is not set (crates/postprocessor config docs).
DEFAULT_EXCLUDE_USER_AGENT = "S3Console|aws-internal|AWSConfig"


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the end-to-end test with tests/e2e/run.sh", pytrace=False)
    return value


@dataclasses.dataclass
class Settings:
    work: Path
    endpoint: str
    s3logs: Path
    ports: dict[str, int]
    stdout: dict[str, Path]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(
        work=Path(_env("E2E_WORK")),
        endpoint=_env("E2E_ENDPOINT"),
        s3logs=Path(_env("E2E_S3LOGS")),
        ports={
            "preprocessor": int(_env("E2E_PREPROCESSOR_PORT")),
            "postprocessor": int(_env("E2E_POSTPROCESSOR_PORT")),
        },
        stdout={
            "preprocessor": Path(_env("E2E_PREPROCESSOR_STDOUT")),
            "postprocessor": Path(_env("E2E_POSTPROCESSOR_STDOUT")),
        },
    )


@pytest.fixture(scope="session")
def aws(settings: Settings) -> dict[str, Any]:
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return {
        name: session.client(name, endpoint_url=settings.endpoint)
        for name in ("s3", "firehose")
    }


@pytest.fixture(scope="session")
def deployment(aws: dict[str, Any]) -> Deployment:
    deployment = Deployment()
    deployment.create(aws["s3"], aws["firehose"])
    return deployment


class Watched:
    """A function running under `cargo lambda watch`, invoked the way the docs show."""

    def __init__(self, function: Function, port: int, stdout: Path, work: Path):
        self.function = function
        self.port = port
        self.stdout = stdout
        self.events = work / "events"
        self.events.mkdir(exist_ok=True)
        self.invocations: list[dict[str, Any]] = []

    def invoke(self, payload: dict[str, Any]) -> dict[str, Any]:
        path = self.events / f"{self.function.binary}-{len(self.invocations) + 1:03d}.json"
        path.write_text(json.dumps(payload, indent=2))
        result = subprocess.run(
            [
                "cargo", "lambda", "invoke",
                "--invoke-address", "127.0.0.1",
                "--invoke-port", str(self.port),
                "--data-file", str(path),
                "--output-format", "json",
                self.function.binary,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        record = {"event": path, "returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}
        self.invocations.append(record)
        path.with_suffix(".response").write_text(result.stdout + result.stderr)
        assert result.returncode == 0, (
            f"{self.function.binary} failed on {path}:\n{result.stdout}\n{result.stderr}"
        )
        return json.loads(result.stdout) if result.stdout.strip() else {}

    def output(self) -> list[str]:
        """The function's stdout so far, once it has stopped growing."""
        size = -1
        for _ in range(50):
            current = self.stdout.stat().st_size
            if current == size:
                break
            size = current
            time.sleep(0.2)
        return self.stdout.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="session")
def functions(settings: Settings, deployment: Deployment) -> dict[str, Watched]:
    return {
        binary: Watched(deployment.function(binary), settings.ports[binary], settings.stdout[binary], settings.work)
        for binary in ("preprocessor", "postprocessor")
    }


def _raw_objects(deployment: Deployment, settings: Settings, now: dt.datetime) -> list[RawObject]:
    bucket, prefix = deployment.source("preprocessor")
    objects = []
    if not SAMPLES.is_dir() or not any(p.is_file() for p in SAMPLES.rglob("*")):
        pytest.fail(f"{SAMPLES} has no sample logs; the end-to-end test feeds them through the pipeline")
    for path in sorted(p for p in SAMPLES.rglob("*") if p.is_file() and p.suffix != ".md"):
        objects.append(RawObject(bucket, f"{prefix}samples/{path.relative_to(SAMPLES).as_posix()}", path))
    raw_dir = DATA / "raw"
    for path in sorted(p for p in raw_dir.rglob("*") if p.is_file()):
        objects.append(RawObject(bucket, prefix + path.relative_to(raw_dir).as_posix(), path))
    live_dir = settings.work / "live"
    live_dir.mkdir(exist_ok=True)
    rendered = [(t.name.removesuffix(".log.in"), livedata.render(t.read_text(), now))
                for t in livedata.live_files(DATA / "live")]
    rendered.append(("bulk", livedata.bulk_log(now, BULK_LINES)))
    for seed, (name, text) in enumerate(rendered):
        path = live_dir / name
        path.write_text(text)
        key = livedata.object_key(prefix, ACCOUNT_ID, REGION, f"e2e-{name}", now, seed)
        objects.append(RawObject(bucket, key, path))
    return objects


def _mirror(s3: Any, bucket: str, into: Path) -> Path:
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            target = into / bucket / obj["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
    return into


def _notify(deployment: Deployment, functions: dict[str, Watched], bucket: str, key: str, size: int, etag: str) -> list[tuple[str, dict[str, Any]]]:
    """Send the S3 ObjectCreated:Put event to every function the bucket's notifications name,
    as an SQS message when the notification goes through a queue."""
    responses = []
    for notification in deployment.matching(bucket, key):
        function = deployment.function_by_arn(notification.function_arn)
        payload = events.s3_notification([(bucket, key, size, etag)])
        if notification.queue_arn is not None:
            payload = events.sqs_of_s3_notification(payload, notification.queue_arn)
        responses.append((function.binary, functions[function.binary].invoke(payload)))
    return responses


def _deliver(aws: dict[str, Any], deployment: Deployment, functions: dict[str, Watched],
             firehose: Delivery, raw: list[RawObject], mirror: Path, upload: bool) -> Phase:
    s3 = aws["s3"]
    before = len(functions["postprocessor"].output())
    pre_responses = []
    for obj in raw:
        if upload:
            s3.put_object(Bucket=obj.bucket, Key=obj.key, Body=obj.path.read_bytes())
        head = s3.head_object(Bucket=obj.bucket, Key=obj.key)
        sent = _notify(deployment, functions, obj.bucket, obj.key, head["ContentLength"], head["ETag"])
        assert [binary for binary, _ in sent] == ["preprocessor"], (
            f"s3://{obj.bucket}/{obj.key} should reach the preprocessor only, reached {sent}"
        )
        pre_responses.append(sent[0][1])
    delivered = firehose.flush()
    post_responses = []
    for obj in delivered:
        head = s3.head_object(Bucket=firehose.bucket, Key=obj.key)
        sent = _notify(deployment, functions, firehose.bucket, obj.key, head["ContentLength"], head["ETag"])
        assert [binary for binary, _ in sent] == ["postprocessor"], (
            f"s3://{firehose.bucket}/{obj.key} should reach the postprocessor only, reached {sent}"
        )
        post_responses.append(sent[0][1])
    stdout = functions["postprocessor"].output()[before:]
    return Phase(raw, pre_responses, delivered, post_responses, stdout,
                 _mirror(s3, deployment.output_bucket, mirror))


@pytest.fixture(scope="session")
def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


@pytest.fixture(scope="session")
def firehose_delivery(aws: dict[str, Any], deployment: Deployment) -> Delivery:
    return Delivery(aws["s3"], deployment.stream_name, deployment.destination, deployment.records_table())


@pytest.fixture(scope="session")
def first_delivery(aws, deployment, functions, firehose_delivery, settings, now) -> Phase:
    raw = _raw_objects(deployment, settings, now)
    return _deliver(aws, deployment, functions, firehose_delivery, raw, settings.work / "mirror-1", upload=True)


@pytest.fixture(scope="session")
def redelivered(first_delivery: Phase) -> RawObject:
    """The raw object whose event S3 delivers twice: the one with recent traffic."""
    return next(o for o in first_delivery.raw if "/e2e-recent-traffic/" in o.key)


@pytest.fixture(scope="session")
def second_delivery(aws, deployment, functions, firehose_delivery, settings, first_delivery, redelivered) -> Phase:
    return _deliver(aws, deployment, functions, firehose_delivery, [redelivered],
                    settings.work / "mirror-2", upload=False)


@pytest.fixture(scope="session")
def expected_records(settings: Settings, first_delivery: Phase, deployment: Deployment) -> dict[str, list[dict[str, Any]]]:
    """The raw object's name -> the records `s3logs parse` makes of that object, LogFile set as
    the delivered records carry it."""
    return {
        obj.log_file: named_as_delivered(deployment, exp.parse_raw(settings.s3logs, obj.path), obj.log_file)
        for obj in first_delivery.raw
    }


@pytest.fixture(scope="session")
def audit_settings(deployment: Deployment) -> exp.AuditSettings:
    """The rules, exclusion regex and detection settings the postprocessor runs with, from its
    environment."""
    env = deployment.function("postprocessor").environment
    return exp.AuditSettings.from_environment(env, DEFAULT_EXCLUDE_USER_AGENT)


@pytest.fixture(scope="session")
def records_table(deployment: Deployment) -> dict[str, Any]:
    """The Glue table over the output bucket's records, as the template defines it."""
    return deployment.records_table()
