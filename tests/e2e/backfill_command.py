"""The template's BackfillCommand output, run by bash and read back as the CreateJob requests the
AWS CLI would send.

`aws` is replaced by a shell function that records its arguments as the shell passed them (after
quoting and variable expansion), so what is checked is what a user's shell would run. Each
`aws s3control` call becomes the request parameters the CLI builds: every `--option` names a
member of the operation's input shape, JSON values are parsed, a list of plain values is the
words up to the next option, and the idempotency token is generated. Used by infra/tests/test_backfill.py (validation against the API
model) and by test_backfill.py (the end-to-end backfill runs the jobs the command creates).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import botocore.session
from botocore import xform_name

# Stands in for `aws`: appends its arguments to $CALLS as one JSON line.
_RECORDER = 'aws() { "$PYTHON" -c \'import json, sys; print(json.dumps(sys.argv[1:]))\' "$@" >>"$CALLS"; }'


# Options of the CLI itself, each taking one value, that do not go into the request.
_CLI_OPTIONS = {"region", "query", "output"}


class CommandError(Exception):
    """The command ran something other than a well-formed `aws s3control` call."""


def s3control_model(operation: str) -> Any:
    """An operation of the S3 Control API model shipped with botocore, by its API name."""
    return botocore.session.get_session().get_service_model("s3control").operation_model(operation)


def create_job_model() -> Any:
    """The CreateJob operation of the S3 Control API model shipped with botocore."""
    return s3control_model("CreateJob")


def run(command: str, env: dict[str, str]) -> list[list[str]]:
    """The `aws` calls `command` makes when bash runs it with `env`, each as its argument list."""
    with tempfile.TemporaryDirectory() as work:
        calls = Path(work) / "calls.jsonl"
        subprocess.run(
            ["bash", "-c", f"{_RECORDER}\n{command}"],
            check=True,
            env={"PATH": "/usr/bin:/bin", "CALLS": str(calls), "PYTHON": sys.executable, **env},
        )
        return [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []


def s3control_request(argv: list[str], model: Any) -> tuple[str | None, dict[str, Any]]:
    """(region, parameters) of one `aws s3control` call of `model`'s operation, as argv words."""
    command = xform_name(model.name).replace("_", "-")
    if argv[:2] != ["s3control", command]:
        raise CommandError(f"not aws s3control {command}: {argv[:2]}")
    shapes = model.input_shape.members
    members = {xform_name(name).replace("_", "-"): name for name in shapes}
    params: dict[str, Any] = {}
    region = None
    args = argv[2:]
    while args:
        option, args = args[0], args[1:]
        if not option.startswith("--"):
            raise CommandError(f"stray argument {option!r}")
        name = option[2:]
        if name in _CLI_OPTIONS:
            if name == "region":
                region = args[0]
            args = args[1:]
            continue
        if name.startswith("no-") and name[3:] in members and shapes[members[name[3:]]].type_name == "boolean":
            params[members[name[3:]]] = False
            continue
        if name not in members:
            raise CommandError(f"{option} is not a {model.name} parameter")
        member = members[name]
        shape = shapes[member]
        if shape.type_name == "boolean" and (not args or args[0].startswith("--")):
            params[member] = True
            continue
        if shape.type_name == "list" and shape.member.type_name == "string" and not args[0].startswith("["):
            # Shorthand: `--job-statuses Active Complete` is the words up to the next option.
            count = next((i for i, word in enumerate(args) if word.startswith("--")), len(args))
            params[member], args = args[:count], args[count:]
            continue
        value, args = args[0], args[1:]
        if shape.type_name in ("structure", "list", "map"):
            value = json.loads(value)
        elif shape.type_name in ("integer", "long"):
            value = int(value)
        params[member] = value
    for member, shape in shapes.items():
        if shape.metadata.get("idempotencyToken"):
            params.setdefault(member, str(uuid.uuid4()))
    return region, params
