"""What the pipeline must find, worked out from the raw input without the pipeline's code.

The records come from `s3logs parse` on the raw files (the CLI shares only the parser with the
Lambdas; the Firehose packing, S3 streaming, delivery and the audit engine are not involved).
The audit rules are applied here, in Python, from their documented meaning
(README / `crates/pipeline/src/audit.rs` module docs):

* `sigv2`: `SignatureVersion` is `SigV2`.
* `tls-legacy`: `TLSVersion` is TLS 1.0 or 1.1, whatever the case (`TLSv1`, `TLSv1.0`, `TLSv1.1`).
* `acl-required`: `AclRequired` is `Yes`.
* `access-denied`: `HTTPstatus` 403 or `ErrorCode` `AccessDenied`.
* `anonymous`: no requester (`-`, or the old docs' `Anonymous`) on a request whose operation
  is known and is not a website request (`WEBSITE.*`).
* `parse-errors`: the record has `ParseError`.

A record whose `UserAgent` matches `EXCLUDE_USER_AGENT` (a regex search) is no rule's hit.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any, Callable

# The keys of a hit line, in order; parse-errors hits add ParseError and RawLine.
HIT_KEYS = [
    "Rule",
    "Severity",
    "Mitre",
    "Bucket",
    "Timestamp",
    "RemoteIP",
    "Requester",
    "Operation",
    "Key",
    "RequestURI",
    "HTTPstatus",
    "ErrorCode",
    "BytesSent",
    "ObjectSize",
    "UserAgent",
    "SignatureVersion",
    "TLSVersion",
    "AclRequired",
    "RecordId",
    "LogFile",
]
PARSE_ERROR_KEYS = ["ParseError", "RawLine"]
# Each rule's severity and MITRE ATT&CK ids, as docs/detections.md states them.
RULE_META = {
    "sigv2": ("low", "-"),
    "tls-legacy": ("low", "-"),
    "acl-required": ("low", "-"),
    "access-denied": ("low", "-"),
    "anonymous": ("medium", "T1530,T1619"),
    "parse-errors": ("info", "-"),
}
RAW_LINE_LIMIT = 2048  # bytes of RawLine a parse-errors hit carries at most

_LEGACY_TLS = {"tlsv1", "tlsv1.0", "tlsv1.1"}

RULES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "sigv2": lambda r: r.get("SignatureVersion") == "SigV2",
    "tls-legacy": lambda r: (r.get("TLSVersion") or "").lower() in _LEGACY_TLS,
    "acl-required": lambda r: r.get("AclRequired") == "Yes",
    "access-denied": lambda r: r.get("HTTPstatus") == 403 or r.get("ErrorCode") == "AccessDenied",
    "anonymous": lambda r: r.get("Requester") in (None, "Anonymous")
    and r.get("Operation") is not None
    and not r["Operation"].startswith("WEBSITE."),
    "parse-errors": lambda r: "ParseError" in r,
}


def parse_raw(s3logs: Path, path: Path) -> list[dict[str, Any]]:
    """The records of one raw log file, by `s3logs parse`."""
    result = subprocess.run(
        [str(s3logs), "parse", "--quiet", str(path)],
        check=True,
        capture_output=True,
    )
    return [json.loads(line) for line in result.stdout.decode("utf-8").splitlines() if line]


def hits_for(
    records: list[dict[str, Any]], rules: list[str], exclude_user_agent: str
) -> list[dict[str, Any]]:
    """The hit lines the rules must produce for these records, one per (record, rule)."""
    unknown = [rule for rule in rules if rule not in RULES]
    if unknown:
        raise ValueError(f"no expectation written for rules {unknown}")
    exclude = re.compile(exclude_user_agent) if exclude_user_agent else None
    hits = []
    for record in records:
        agent = record.get("UserAgent")
        if exclude is not None and agent is not None and exclude.search(agent):
            continue
        for rule in rules:
            if RULES[rule](record):
                severity, mitre = RULE_META[rule]
                hit = {"Rule": rule, "Severity": severity, "Mitre": mitre, **{k: record.get(k) for k in HIT_KEYS[3:]}}
                if rule == "parse-errors":
                    hit["ParseError"] = record["ParseError"]
                    hit["RawLine"] = record.get("RawLine")
                hits.append(hit)
    return hits


def hit_identity(hit: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two hit lines the same hit (everything but RawLine, compared separately)."""
    return tuple(json.dumps(hit.get(k)) for k in HIT_KEYS + ["ParseError"])


def compare(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    """Differences between the expected and actual hit lines, as readable messages."""
    problems = []
    want = Counter(hit_identity(h) for h in expected)
    got = Counter(hit_identity(h) for h in actual)
    for identity, count in sorted((want - got).items()):
        problems.append(f"missing ({count}x): {_show(identity)}")
    for identity, count in sorted((got - want).items()):
        problems.append(f"unexpected ({count}x): {_show(identity)}")
    raw_by_identity = {hit_identity(h): h.get("RawLine") for h in expected if h["Rule"] == "parse-errors"}
    for hit in actual:
        if hit.get("Rule") != "parse-errors":
            if set(hit) != set(HIT_KEYS):
                problems.append(f"keys {sorted(hit)} != {sorted(HIT_KEYS)} in {hit}")
            continue
        if set(hit) != set(HIT_KEYS + PARSE_ERROR_KEYS):
            problems.append(f"keys {sorted(hit)} != {sorted(HIT_KEYS + PARSE_ERROR_KEYS)} in {hit}")
        full = raw_by_identity.get(hit_identity(hit))
        raw = hit.get("RawLine")
        if full is not None and raw is not None:
            if len(raw.encode()) > RAW_LINE_LIMIT or not full.startswith(raw) or (
                raw != full and len(raw.encode()) < RAW_LINE_LIMIT - 4
            ):
                problems.append(f"RawLine {raw[:80]!r}... is not the line's first {RAW_LINE_LIMIT} bytes")
    return problems


def _show(identity: tuple[Any, ...]) -> str:
    return ", ".join(f"{k}={v}" for k, v in zip(HIT_KEYS + ["ParseError"], identity))
