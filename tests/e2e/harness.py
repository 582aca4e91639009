"""The records of one end-to-end run: raw objects in, what each round of delivery produced, and
the DuckDB stand-in for Athena over what a round wrote."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import athena
from deploy import Deployment
from firehose import DeliveredObject, read_records


@dataclasses.dataclass
class RawObject:
    """A raw log object uploaded to the raw log bucket."""

    bucket: str
    key: str
    path: Path  # the same bytes on disk, for `s3logs parse`

    @property
    def log_file(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclasses.dataclass
class Phase:
    """What one round of deliveries produced."""

    raw: list[RawObject]
    preprocessor_responses: list[dict[str, Any]]
    delivered: list[DeliveredObject]
    postprocessor_responses: list[dict[str, Any]]
    stdout: list[str]  # the postprocessor's stdout lines written during this phase
    mirror: Path  # the output bucket on disk after this phase

    @property
    def hits(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout if is_hit(line)]


def is_hit(line: str) -> bool:
    """A hit line: a JSON object with `Rule`, not an EMF metric line (those have `_aws`)."""
    try:
        value = json.loads(line)
    except ValueError:
        return False
    return isinstance(value, dict) and "Rule" in value and "_aws" not in value


def database_name(deployment: Deployment) -> str:
    """The Glue database of the stack."""
    return deployment.stack.one_of_type("AWS::Glue::Database").properties["DatabaseInput"]["Name"]


def duckdb_over(deployment: Deployment, table: dict[str, Any], phase: Phase) -> Any:
    """A DuckDB connection with the Glue table `table` as a view over what `phase` delivered."""
    files = [phase.mirror / deployment.output_bucket / o.key for o in phase.delivered]
    con = athena.connect(database_name(deployment))
    keys = set() if athena.is_parquet(table) else athena.json_keys(files)
    con.execute(athena.records_view_sql(database_name(deployment), table, phase.mirror, keys))
    return con


def named_as_delivered(deployment: Deployment, records: list[dict[str, Any]], log_file: str) -> list[dict[str, Any]]:
    """`records` (`s3logs parse` of one raw object) with the `LogFile` their delivered copies
    carry: the object's name, except where the preprocessor sends compact records
    (`RECORD_KEYS=compact`, for Parquet output), which name it only when they carry
    `ParseError` (docs/record.md, "Compact record")."""
    compact = deployment.function("preprocessor").environment.get("RECORD_KEYS") == "compact"
    for record in records:
        record["LogFile"] = None if compact and "ParseError" not in record else log_file
    return records


def delivered_records(deployment: Deployment, path: Path) -> list[dict[str, Any]]:
    """The records of one object Firehose delivered: gzip NDJSON, or Parquet rows read back
    through the stream's conversion."""
    return read_records(path.read_bytes(), deployment.conversion())
