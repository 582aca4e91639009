"""The records of one end-to-end run: raw objects in, what each round of delivery produced."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from firehose import DeliveredObject


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
