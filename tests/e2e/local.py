"""The pipeline on your machine, by hand: the steps the end-to-end test takes, one command each.

    python tests/e2e/local.py create  --endpoint URL            buckets and Firehose stream, from template.yaml
    python tests/e2e/local.py env     BINARY --endpoint URL     a function's environment, KEY=VALUE lines
    python tests/e2e/local.py upload  --endpoint URL FILE...    raw logs into the raw log bucket, + S3 events
    python tests/e2e/local.py deliver --endpoint URL            finish Firehose's delivery, + S3 events
    python tests/e2e/local.py query   --endpoint URL SQL...     Athena queries (files or text) in DuckDB

The stack is deployed with the test's parameters (deploy.PARAMETER_OVERRIDES: every audit rule
on); `--parameter NAME=VALUE` changes one. Event files go to out/events/, the output bucket's
mirror to out/mirror/. See "Try it locally" in README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import athena
import events
from deploy import PARAMETER_OVERRIDES, ROOT, Deployment, DUMMY_CREDENTIALS
from firehose import Delivery
from stack import REGION

OUT = ROOT / "out"
# The ports README.md's "Try it locally" runs `cargo lambda watch` on.
PORTS = {"preprocessor": 9001, "postprocessor": 9002}


def _clients(endpoint: str) -> tuple[Any, Any]:
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    return session.client("s3", endpoint_url=endpoint), session.client("firehose", endpoint_url=endpoint)


def _write_events(deployment: Deployment, s3: Any, bucket: str, keys: list[str], name: str) -> None:
    """One event file per object and function notified, and the command that sends it."""
    directory = OUT / "events"
    directory.mkdir(parents=True, exist_ok=True)
    for i, key in enumerate(keys, 1):
        head = s3.head_object(Bucket=bucket, Key=key)
        targets = deployment.targets(bucket, key)
        if not targets:
            print(f"# s3://{bucket}/{key}: no notification matches; S3 would invoke nothing")
        for function in targets:
            path = directory / f"{name}-{i:03d}-{function.binary}.json"
            path.write_text(json.dumps(events.s3_notification([(bucket, key, head["ContentLength"], head["ETag"])]), indent=2))
            print(f"cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port {PORTS[function.binary]} "
                  f"--data-file {path.relative_to(ROOT)} {function.binary}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="a stack parameter (default: the end-to-end test's)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("create", "upload", "deliver", "query", "env"):
        command = sub.add_parser(name)
        command.add_argument("--endpoint", required=True, help="moto_server URL, e.g. http://127.0.0.1:5000")
        if name == "env":
            command.add_argument("binary", choices=["preprocessor", "postprocessor"])
        if name == "upload":
            command.add_argument("files", nargs="+", type=Path)
        if name == "query":
            command.add_argument("sql", nargs="+", help="a .sql file, or the text of a query")
    args = parser.parse_args(argv)

    overrides = dict(PARAMETER_OVERRIDES)
    overrides.update(p.split("=", 1) for p in args.parameter)
    deployment = Deployment(overrides=overrides)

    if args.command == "env":
        for key, value in sorted(deployment.function_environment(args.binary, args.endpoint).items()):
            if "\n" in value:
                raise SystemExit(f"{key}: a newline cannot go into an env file")
            print(f"{key}={value}")
        return 0

    s3, firehose = _clients(args.endpoint)
    if args.command == "create":
        deployment.create(s3, firehose)
        print(f"buckets: {', '.join(deployment.buckets)}")
        print(f"delivery stream: {deployment.stream_name} -> s3://{deployment.output_bucket}/{deployment.destination['Prefix']}")
    elif args.command == "upload":
        bucket, prefix = deployment.source("preprocessor")
        keys = []
        for path in args.files:
            key = prefix + path.name
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
            print(f"# uploaded {path} to s3://{bucket}/{key}")
            keys.append(key)
        _write_events(deployment, s3, bucket, keys, "raw")
    elif args.command == "deliver":
        delivered = Delivery(s3, deployment.stream_name, deployment.destination, deployment.records_table()).flush()
        for obj in delivered:
            print(f"# Firehose object s3://{deployment.output_bucket}/{obj.key} ({obj.records_bytes} bytes of records)")
        if not delivered:
            print("# nothing new from Firehose")
        stamp = dt.datetime.now().strftime("%H%M%S")
        _write_events(deployment, s3, deployment.output_bucket, [o.key for o in delivered], f"records-{stamp}")
    elif args.command == "query":
        mirror = OUT / "mirror"
        shutil.rmtree(mirror, ignore_errors=True)
        paginator = s3.get_paginator("list_objects_v2")
        files = []
        for page in paginator.paginate(Bucket=deployment.output_bucket):
            for obj in page.get("Contents", []):
                target = mirror / deployment.output_bucket / obj["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=deployment.output_bucket, Key=obj["Key"])["Body"].read())
                if target.suffix == ".gz":
                    files.append(target)
        table = deployment.records_table()
        database = deployment.stack.one_of_type("AWS::Glue::Database").properties["DatabaseInput"]["Name"]
        con = athena.connect(database)
        keys = set() if athena.is_parquet(table) else athena.json_keys(files)
        con.execute(athena.records_view_sql(database, table, mirror, keys))
        for query in args.sql:
            path = Path(query)
            sql = athena.to_duckdb(path.read_text() if path.is_file() else query)
            print(f"-- {query}")
            if re.match(r"\s*CREATE\b", sql, re.IGNORECASE):
                con.execute(sql)
                print("(done)")
                continue
            con.sql(sql).show(max_width=200)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
