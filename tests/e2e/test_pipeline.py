"""Raw log objects in, audit hit lines and Athena rows out: the whole pipeline on one machine."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import athena
import events
import expected as exp
import queries
from harness import Phase, database_name, delivered_records, duckdb_over, is_hit
from deploy import PARAMETER_OVERRIDES, ROOT, Deployment
from firehose import evaluate_prefix
from stack import TemplateError

ATHENA_SQL = sorted((ROOT / "infra" / "athena").glob("*.sql"))
DEDUP_VIEW = ROOT / "infra" / "athena" / "records_dedup_view.sql"


def _records_in(phase: Phase, mirror_bucket: Path, deployment: Deployment) -> list[dict[str, Any]]:
    records = []
    for obj in phase.delivered:
        records.extend(delivered_records(deployment, mirror_bucket / obj.key))
    return records


def _all(expected_records: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [r for records in expected_records.values() for r in records]


def _as_delivered(phase: Phase, mirror_bucket: Path, expected_records: dict[str, list[dict[str, Any]]],
                  deployment: Deployment) -> list[list[dict[str, Any]]]:
    """The expected records (from `s3logs parse`), grouped and ordered as each object the
    postprocessor read holds them: its windows span one object. Only which line went where is
    taken from the delivered objects (test_firehose_output_is_every_line_as_its_record checks
    that they hold exactly the expected records)."""
    by_line: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in _all(expected_records):
        by_line.setdefault((record["LogFile"], record["RecordId"]), []).append(record)
    objects = []
    for obj in phase.delivered:
        delivered = delivered_records(deployment, mirror_bucket / obj.key)
        objects.append([by_line[(r["LogFile"], r["RecordId"])][0] for r in delivered])
    return objects


# --- the wiring of the template -------------------------------------------------------------------


def test_template_wires_the_stages_together(deployment: Deployment) -> None:
    pre = deployment.function("preprocessor").environment
    source_bucket, source_prefix = deployment.source("preprocessor")
    output_bucket, records_prefix = deployment.source("postprocessor")
    prefix = deployment.destination["Prefix"]
    # The preprocessor reads what its notification sends (with backfill sources, anything its role
    # may read) and guards against its own output.
    if deployment.backfill_sources:
        assert "SOURCE_BUCKET" not in pre and "SOURCE_PREFIX" not in pre
    else:
        assert (pre["SOURCE_BUCKET"], pre["SOURCE_PREFIX"]) == (source_bucket, source_prefix)
    assert (pre["OUTPUT_BUCKET"], pre["OUTPUT_PREFIX"]) == (deployment.output_bucket, records_prefix)
    assert pre["DELIVERY_STREAM_NAME"] == deployment.stream_name
    # Firehose writes where the postprocessor is notified, and not where the raw logs arrive.
    assert output_bucket == deployment.output_bucket
    assert prefix.startswith(records_prefix)
    assert not (deployment.output_bucket == source_bucket and prefix.startswith(source_prefix))
    assert not deployment.destination["ErrorOutputPrefix"].startswith(records_prefix)


def test_template_refuses_parquet_with_gzip_packing() -> None:
    """Firehose cannot convert gzip records: the stack's Rules refuse the pair before anything
    is created, and let every other packing through with Parquet; nor does it convert with a
    buffer under 64 MiB, which JSON output may use."""
    with pytest.raises(TemplateError, match="OutputFormat=parquet cannot be combined with Packing=gzip"):
        Deployment(overrides={**PARAMETER_OVERRIDES, "OutputFormat": "parquet", "Packing": "gzip"})
    for packing in ("packed", "line"):
        converted = Deployment(overrides={**PARAMETER_OVERRIDES, "OutputFormat": "parquet", "Packing": packing})
        assert converted.destination["FileExtension"] == ".parquet"
    Deployment(overrides={**PARAMETER_OVERRIDES, "OutputFormat": "json", "Packing": "gzip"})
    with pytest.raises(TemplateError, match="at least 64"):
        Deployment(overrides={
            **PARAMETER_OVERRIDES, "OutputFormat": "parquet", "Packing": "packed", "FirehoseBufferSizeMB": "63",
        })
    Deployment(overrides={**PARAMETER_OVERRIDES, "OutputFormat": "json", "FirehoseBufferSizeMB": "1"})


def test_a_raw_log_deleted_since_its_event_reads_as_gone() -> None:
    """moto answers 404 to any caller; AWS answers a missing key with 404 only to a role that may
    list the bucket (at the key, as `s3:prefix`), and with 403 AccessDenied otherwise, which the
    preprocessor keeps for retry until the failed-events queue alarms."""
    deployment = Deployment(overrides=PARAMETER_OVERRIDES)
    role = deployment.stack.resources["PreprocessorRole"].properties
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    raw_bucket = f"arn:aws:s3:::{deployment.stack.physical_id('RawLogBucket')}"
    prefix = deployment.stack.ref("RawLogPrefix")
    lookups = [s for s in statements if s["Action"] == "s3:ListBucket" and s["Resource"] == raw_bucket]
    assert lookups, f"no s3:ListBucket on {raw_bucket}"
    # Only the logs: the role may not list the rest of the bucket.
    assert [s["Condition"] for s in lookups] == [{"StringLike": {"s3:prefix": f"{prefix}*"}}]


def test_s3_test_event_is_acknowledged(deployment: Deployment, functions, firehose_delivery) -> None:
    """"When the notification is first enabled, an s3:TestEvent occurs" (S3 User Guide, "Using
    Amazon SQS, Amazon SNS, and Lambda"). Each notified function must take it without error (a
    failure is retried, lands in the failed-events queue and raises its alarm) and do nothing."""
    stdout_before = {name: len(f.output()) for name, f in functions.items()}
    for notification in deployment.notifications:
        function = deployment.function_by_arn(notification.function_arn)
        functions[function.binary].invoke(events.s3_test_event(notification.bucket))
    assert firehose_delivery.flush() == []
    hits = [line for line in functions["postprocessor"].output()[stdout_before["postprocessor"]:] if is_hit(line)]
    assert hits == []


# --- preprocessor and Firehose ---------------------------------------------------------------------


def test_every_raw_object_was_processed(first_delivery: Phase, deployment, expected_records) -> None:
    """Each invocation reports its one object done, nothing failed or skipped (through SQS: no
    batch item failures, so the queue deletes the message)."""
    assert len(first_delivery.preprocessor_responses) == len(first_delivery.raw)
    for response, obj in zip(first_delivery.preprocessor_responses, first_delivery.raw):
        (notification,) = deployment.matching(obj.bucket, obj.key)
        if notification.queue_arn is None:
            assert (response["delivered"], response["failed"], response["skipped"]) == (1, 0, 0), (obj.key, response)
        else:
            assert response == {"batchItemFailures": []}, (obj.key, response)
    assert first_delivery.delivered, "Firehose wrote nothing"
    for response, obj in zip(first_delivery.postprocessor_responses, first_delivery.delivered):
        assert response["objects"] == 1 and response["bad_lines"] == 0, (obj.key, response)
        assert response["damaged_objects"] == 0 and response["skipped_objects"] == 0, (obj.key, response)
    assert sum(r["records"] for r in first_delivery.postprocessor_responses) == len(_all(expected_records))
    assert sum(r["hits"] for r in first_delivery.postprocessor_responses) == len(first_delivery.hits)


def test_firehose_output_is_every_line_as_its_record(first_delivery: Phase, expected_records, deployment) -> None:
    """Each raw line arrives exactly once as the same record `s3logs parse` makes of it."""
    got = Counter(json.dumps(r, sort_keys=True) for r in _records_in(first_delivery, first_delivery.mirror / deployment.output_bucket, deployment))
    want = Counter(json.dumps(r, sort_keys=True) for r in _all(expected_records))
    assert sum(want.values()) > 100, "too little input to mean anything"
    missing, extra = want - got, got - want
    assert not missing and not extra, (
        f"{sum(missing.values())} records missing, e.g. {list(missing)[:2]}; "
        f"{sum(extra.values())} unexpected, e.g. {list(extra)[:2]}"
    )


def test_firehose_objects_are_laid_out_as_the_template_says(first_delivery: Phase, deployment, now, settings) -> None:
    """gzip NDJSON under the template's Prefix evaluated at the arrival time in the name; or,
    converted, Parquet of the Glue table's schema, the very schema `s3logs parse --format parquet`
    writes, so one table and one query read the files of both."""
    prefix = deployment.destination["Prefix"]
    conversion = deployment.conversion()
    if conversion:
        import pyarrow.parquet as pq

        cli_file = settings.work / "cli-records.parquet"
        subprocess.run([str(settings.s3logs), "parse", "--quiet", "--format", "parquet", "--output", str(cli_file),
                        str(first_delivery.raw[0].path)], check=True, capture_output=True)
        assert pq.read_schema(cli_file).remove_metadata() == conversion.schema()
    extension = r"\.parquet" if conversion else r"\.gz"
    name_pattern = re.escape(deployment.stream_name) + r"-\d+-(\d{4}(?:-\d\d){5})-[0-9a-f-]{36}" + extension
    for obj in first_delivery.delivered:
        data = (first_delivery.mirror / deployment.output_bucket / obj.key).read_bytes()
        if conversion:
            assert data[:4] == data[-4:] == b"PAR1", f"{obj.key} is not Parquet"
            schema = pq.read_schema(first_delivery.mirror / deployment.output_bucket / obj.key)
            assert schema.remove_metadata() == conversion.schema(), f"{obj.key}: not the Glue table's schema"
        else:
            assert data[:2] == b"\x1f\x8b", f"{obj.key} is not gzip"
            text = gzip.decompress(data)
            assert text.endswith(b"\n") and b"\n\n" not in text, f"{obj.key}: records are not newline-terminated NDJSON"
        directory, name = obj.key.rsplit("/", 1)
        match = re.fullmatch(name_pattern, name)
        assert match, f"{name} is not a Firehose object name"
        arrival = dt.datetime.strptime(match[1], "%Y-%m-%d-%H-%M-%S").replace(tzinfo=dt.timezone.utc)
        assert directory + "/" == evaluate_prefix(prefix, arrival), f"{obj.key} does not follow {prefix}"
        assert now - dt.timedelta(hours=1) <= arrival <= now + dt.timedelta(hours=1)


# --- postprocessor ---------------------------------------------------------------------------------


def test_every_finding_is_one_hit_line(first_delivery: Phase, expected_records, audit_settings, deployment) -> None:
    """Every finding of every detection is exactly one line on the postprocessor's stdout, with
    the record's fields: a request for the rules on single records, the request that took a
    window to its threshold for the windowed ones."""
    assert sorted(audit_settings.rules) == sorted(exp.RULE_META), "the e2e deploys every detection"
    objects = _as_delivered(first_delivery, first_delivery.mirror / deployment.output_bucket, expected_records, deployment)
    want = exp.hits_for(objects, audit_settings)
    by_rule = Counter(h["Rule"] for h in want)
    for rule in ("sigv2", "tls-legacy", "acl-required", "access-denied"):
        assert by_rule[rule] >= 3, f"the input has too few {rule} requests to test: {by_rule}"
    for rule in exp.RULE_META:
        assert by_rule[rule] >= 1, f"the input has no {rule} hit to test: {by_rule}"
    problems = exp.compare(want, first_delivery.hits)
    assert not problems, "\n".join(problems[:40])


def test_stdout_is_hits_and_metrics_only(first_delivery: Phase) -> None:
    """Logs go to stderr; stdout carries hit lines and EMF metric lines, whose Hits per rule add
    up to the hit lines (the SigV2 alarm watches that metric)."""
    metrics: Counter[str] = Counter()
    for line in first_delivery.stdout:
        value = json.loads(line)  # every stdout line is one JSON object
        if "_aws" in value:
            if "Rule" in value:
                metrics[value["Rule"]] += value["Hits"]
        else:
            assert "Rule" in value, f"not a hit line: {line}"
    assert metrics == Counter(h["Rule"] for h in first_delivery.hits)


# --- Athena ---------------------------------------------------------------------------------------


def test_glue_table_describes_the_records(first_delivery: Phase, deployment, records_table) -> None:
    """Every record key fills a Glue column (through the SerDe's mappings) and every value has
    the column's type; the partition values are ones the projection produces; DuckDB, reading
    the files with the table's location template, finds exactly the objects Firehose wrote."""
    records = _records_in(first_delivery, first_delivery.mirror / deployment.output_bucket, deployment)
    types = {c["Name"]: c["Type"].lower() for c in records_table["StorageDescriptor"]["Columns"]}
    record_keys = {k for r in records for k in r}
    conversion = deployment.conversion()
    # Converted, the rows are read back under the record keys the JSON table maps the columns
    # to (Firehose read them from the compact record's short keys); else the table's SerDe maps.
    sources = (conversion.record_keys if conversion
               else athena.column_sources(records_table, record_keys))
    column_of = {key: column for column, key in sources.items()}
    for record in records:
        for key, value in record.items():
            assert key in column_of, f"record key {key} fills no Glue column"
            if value is not None:
                assert isinstance(value, athena.GLUE_JSON_TYPES[types[column_of[key]]]), (key, value)
    assert set(sources.values()) <= record_keys, f"columns no record fills: {set(sources.values()) - record_keys}"

    parameters = records_table["Parameters"]
    for obj in first_delivery.delivered:
        for name, value in re.findall(r"(\w+)=([^/]+)/", obj.key):
            assert athena.projection_accepts(parameters, name, value), f"{obj.key}: {name}={value}"

    con = duckdb_over(deployment, records_table, first_delivery)
    glob = athena.files_glob(records_table, first_delivery.mirror)
    reader = "read_parquet" if athena.is_parquet(records_table) else "read_json"
    read = {Path(p) for (p,) in con.execute(f"SELECT DISTINCT filename FROM {reader}(?, filename = true)", [glob]).fetchall()}
    assert read == {first_delivery.mirror / deployment.output_bucket / o.key for o in first_delivery.delivered}
    assert con.execute(f"SELECT count(*) FROM {database_name(deployment)}.{records_table['Name']}").fetchone()[0] == len(records)
    if athena.is_parquet(records_table):
        return
    # What DuckDB infers from the JSON agrees with the Glue types.
    inferred = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_json(?, sample_size = -1, hive_partitioning = false))", [glob]).fetchall())
    compatible = {"string": {"VARCHAR"}, "int": {"BIGINT"}, "bigint": {"BIGINT", "UBIGINT"},
                  "timestamp": {"TIMESTAMP", "VARCHAR"}, "array<string>": {"VARCHAR[]"}}
    for key, duck_type in inferred.items():
        if duck_type not in ("JSON", "NULL"):  # a column that is null in every record
            assert duck_type in compatible[types[column_of[key]]], f"{key}: DuckDB infers {duck_type}, Glue says {types[column_of[key]]}"


def _rows(con: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in con.execute(sql).fetchall()]


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=lambda row: json.dumps(row, default=str))


@pytest.mark.parametrize("sql_file", ATHENA_SQL, ids=lambda p: p.stem)
def test_athena_query(sql_file: Path, first_delivery: Phase, deployment, records_table, expected_records) -> None:
    """The query, as its file and as the deployed named query, returns the expected rows."""
    assert sql_file.stem in queries.ORACLES, f"write the expected rows of {sql_file.name} in tests/e2e/queries.py"
    database = database_name(deployment)
    con = duckdb_over(deployment, records_table, first_delivery)
    named = [q for q in deployment.stack.of_type("AWS::Athena::NamedQuery")
             if q.metadata.get("SourceFile") == sql_file.relative_to(ROOT).as_posix()]
    assert len(named) == 1, f"{sql_file.name} is not one named query in template.yaml"
    texts = {"file": sql_file.read_text(), "named query": named[0].properties["QueryString"]}
    records = _all(expected_records)
    if sql_file.name != DEDUP_VIEW.name:
        # Every other query reads the view: create it first, and count each RecordId once.
        con.execute(athena.to_duckdb(DEDUP_VIEW.read_text()))
        records = queries.unique(records)
    want = queries.ORACLES[sql_file.stem](records, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    assert want, f"{sql_file.stem}: the input should give some rows"
    limit = re.search(r"\bLIMIT\s+(\d+)", texts["file"])
    assert limit is None or len(want) < int(limit[1]), f"{sql_file.stem}: more expected rows than its LIMIT"
    for origin, text in texts.items():
        sql = athena.to_duckdb(text)
        if sql_file.stem in queries.VIEW_PROBES:
            con.execute(sql)
            sql = queries.VIEW_PROBES[sql_file.stem].format(database=database)
        got = _rows(con, sql)
        assert _sorted(got) == _sorted(want), f"{sql_file.name} ({origin}) returned other rows"


# --- duplicate delivery ---------------------------------------------------------------------------


def test_duplicate_delivery_duplicates_hits(second_delivery: Phase, redelivered, expected_records, audit_settings,
                                            deployment) -> None:
    """S3 delivering the same event twice makes the same hit lines a second time."""
    again = {redelivered.log_file: expected_records[redelivered.log_file]}
    want = exp.hits_for(_as_delivered(second_delivery, second_delivery.mirror / deployment.output_bucket, again, deployment), audit_settings)
    assert want, "the redelivered object should have findings"
    problems = exp.compare(want, second_delivery.hits)
    assert not problems, "\n".join(problems[:40])


def test_dedup_view_removes_the_duplicates(first_delivery: Phase, second_delivery: Phase, redelivered,
                                           deployment, records_table, expected_records) -> None:
    database = database_name(deployment)
    dedup_sql = athena.to_duckdb(DEDUP_VIEW.read_text())
    duplicated = len(expected_records[redelivered.log_file])
    ids = sorted({r["RecordId"] for r in expected_records[redelivered.log_file]})
    assert len(ids) == duplicated, "the redelivered object should hold no line twice"
    distinct = len({r["RecordId"] for r in _all(expected_records)})
    counts = {}
    for name, phase in (("once", first_delivery), ("twice", second_delivery)):
        con = duckdb_over(deployment, records_table, phase)
        con.execute(dedup_sql)
        counts[name] = (
            con.execute(f"SELECT count(*) FROM {database}.{records_table['Name']}").fetchone()[0],
            con.execute(f"SELECT count(*) FROM {database}.records_dedup").fetchone()[0],
            con.execute(f"SELECT count(*) FROM {database}.records_dedup WHERE list_contains(?, record_id)", [ids]).fetchone()[0],
        )
    total = len(_all(expected_records))
    assert counts["once"] == (total, distinct, duplicated)
    assert counts["twice"] == (total + duplicated, distinct, duplicated)
