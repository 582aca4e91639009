"""What the pipeline must find, worked out from the raw input without the pipeline's code.

The records come from `s3logs parse` on the raw files (the CLI shares only the parser with the
Lambdas; the Firehose packing, S3 streaming, delivery and the audit engine are not involved).
The detections are applied here, in Python, from their documented meaning (docs/detections.md):

* `sigv2`: `SignatureVersion` is `SigV2`.
* `tls-legacy`: `TLSVersion` is TLS 1.0 or 1.1, whatever the case (`TLSv1`, `TLSv1.0`, `TLSv1.1`).
* `acl-required`: `AclRequired` is `Yes`.
* `access-denied`: `HTTPstatus` 403 or `ErrorCode` `AccessDenied`.
* `anonymous`: no requester (`-`, or the old docs' `Anonymous`) on a request whose operation
  is known and is neither a website request (`WEBSITE.*`) nor a CORS preflight (`REST.OPTIONS.*`).
* `parse-errors`: the record has `ParseError`.
* `public-read`: anonymous, 2xx, `REST.GET.OBJECT` or `REST.HEAD.OBJECT`.
* `suspicious-user-agent`: the User-Agent contains a pattern and no exception, ignoring case.
* `off-hours`: a requester is set, and is not AWS itself (`AmazonS3`, S3's lifecycle, or a
  service principal `svc:...`), and the request time, in the configured zone, is outside the
  business hours (start inclusive, end exclusive) or on a day that is not a business day.
* `large-response` / `large-object`: `BytesSent` / `ObjectSize` above the threshold.
* `bucket-config-change`: 2xx PUT or DELETE of a bucket setting (the documented operations).
* Windowed, over fixed windows of the configured minutes from 00:00 UTC, by each IP and each
  requester (anonymous requests by IP only): `enumeration` counts 403/404 responses,
  `mass-deletion` counts successful `REST.DELETE.OBJECT`/`BATCH.DELETE.OBJECT` by requester only,
  `bulk-download` sums `BytesSent`. Each (rule, subject, window) fires once, on the request that
  takes it to the threshold, adding `WindowBy`, `WindowStart` and `WindowTotal` to the hit. The
  postprocessor's windows span one invocation, so the windows are counted per delivered object,
  in the order of its records.

The thresholds are the documented defaults, changed by the postprocessor's `DETECTION_SETTINGS`
(`NAME=VALUE;...`). A record whose `UserAgent` matches `EXCLUDE_USER_AGENT` (a regex search) is no
hit of the client-software rules (`sigv2`, `tls-legacy`, `acl-required`); the other rules, windows
included, take it like any other.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

# The keys of a hit line, in order; parse-errors hits add ParseError and RawLine, windowed hits
# WindowBy, WindowStart and WindowTotal.
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
WINDOW_KEYS = ["WindowBy", "WindowStart", "WindowTotal"]
# Each rule's severity and MITRE ATT&CK ids, as docs/detections.md's catalogue states them.
RULE_META = {
    "sigv2": ("low", "-"),
    "tls-legacy": ("low", "-"),
    "acl-required": ("low", "-"),
    "access-denied": ("low", "-"),
    "anonymous": ("medium", "T1530,T1619"),
    "parse-errors": ("info", "-"),
    "public-read": ("high", "T1530"),
    "suspicious-user-agent": ("medium", "T1595"),
    "off-hours": ("low", "T1078"),
    "large-response": ("medium", "T1530"),
    "large-object": ("low", "T1530"),
    "bucket-config-change": ("high", "T1098,T1562.008,T1485,T1530"),
    "enumeration": ("medium", "T1619,T1580"),
    "mass-deletion": ("high", "T1485"),
    "bulk-download": ("high", "T1530"),
}
RAW_LINE_LIMIT = 2048  # bytes of RawLine a parse-errors hit carries at most

# The settings and their defaults (docs/detections.md, "Settings").
DEFAULT_SETTINGS = {
    "suspicious-user-agent.patterns": "curl/|wget/|python-requests|python-urllib|python-httpx|aiohttp|"
    "go-http-client|libwww-perl|bot/|crawler|spider|scrapy|sqlmap|nuclei|nikto|masscan|zgrab|nmap|"
    "gobuster|ffuf|dirbuster|wpscan",
    "suspicious-user-agent.except": "aws-sdk-|aws-cli/|boto3/|botocore/",
    "off-hours.hours": "08-18",
    "off-hours.days": "mon-fri",
    "off-hours.time-zone": "UTC",
    "large-response.bytes": "1073741824",
    "large-object.bytes": "5368709120",
    "enumeration.count": "50",
    "enumeration.minutes": "5",
    "mass-deletion.count": "100",
    "mass-deletion.minutes": "10",
    "bulk-download.bytes": "10737418240",
    "bulk-download.minutes": "60",
}
_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

_LEGACY_TLS = {"tlsv1", "tlsv1.0", "tlsv1.1"}
_CONFIG_CHANGES = {
    f"REST.{method}.{resource}"
    for resource, methods in {
        "BUCKETPOLICY": ("PUT", "DELETE"),
        "ACL": ("PUT",),
        "PUBLIC_ACCESS_BLOCK": ("PUT", "DELETE"),
        "OWNERSHIP_CONTROLS": ("PUT", "DELETE"),
        "ENCRYPTION": ("PUT", "DELETE"),
        "LOGGING_STATUS": ("PUT",),
        "LIFECYCLE": ("PUT", "DELETE"),
        "VERSIONING": ("PUT",),
        "REPLICATION": ("PUT", "DELETE"),
        "CORS": ("PUT", "DELETE"),
        "WEBSITE": ("PUT", "DELETE"),
    }.items()
    for method in methods
}


@dataclasses.dataclass(frozen=True)
class AuditSettings:
    """What the postprocessor is deployed with: its rules, exclusion and detection settings."""

    rules: list[str]
    exclude_user_agent: str
    settings: dict[str, str]

    @classmethod
    def from_environment(cls, env: dict[str, str], default_exclude: str) -> "AuditSettings":
        names = [r.strip() for r in env.get("RULES", "sigv2").split(",") if r.strip()]
        # As RuleSet::parse reads the list: `all` anywhere is every rule, a rule named twice is one.
        rules = list(RULE_META) if "all" in names else list(dict.fromkeys(names))
        settings = dict(DEFAULT_SETTINGS)
        for entry in env.get("DETECTION_SETTINGS", "").split(";"):
            if entry.strip():
                name, value = entry.split("=", 1)
                if name.strip() not in settings:
                    raise ValueError(f"DETECTION_SETTINGS names {name!r}, which is no setting")
                settings[name.strip()] = value.strip()
        return cls(rules, env.get("EXCLUDE_USER_AGENT", default_exclude), settings)

    def number(self, name: str) -> int:
        return int(self.settings[name])

    def substrings(self, name: str) -> list[str]:
        return [s.strip().lower() for s in self.settings[name].split("|") if s.strip()]

    def business_days(self) -> set[int]:
        days: set[int] = set()
        for part in self.settings["off-hours.days"].lower().split(","):
            first, _, last = part.strip().partition("-")
            days.update(range(_DAYS.index(first), _DAYS.index(last or first) + 1))
        return days


def _anonymous(record: dict[str, Any]) -> bool:
    return record.get("Requester") in (None, "Anonymous")


def _success(record: dict[str, Any]) -> bool:
    return 200 <= (record.get("HTTPstatus") or 0) < 300


def _utc(record: dict[str, Any]) -> dt.datetime | None:
    text = record.get("Timestamp")
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.timezone.utc) if text else None


def _suspicious(agent: str | None, s: AuditSettings) -> bool:
    lowered = (agent or "").lower()
    patterns, exceptions = s.substrings("suspicious-user-agent.patterns"), s.substrings("suspicious-user-agent.except")
    return agent is not None and any(p in lowered for p in patterns) and not any(e in lowered for e in exceptions)


def _off_hours(record: dict[str, Any], s: AuditSettings) -> bool:
    when = _utc(record)
    requester = record.get("Requester") or ""
    if _anonymous(record) or requester == "AmazonS3" or requester.startswith("svc:") or when is None:
        return False
    local = when.astimezone(ZoneInfo(s.settings["off-hours.time-zone"]))
    start, end = (int(h) for h in s.settings["off-hours.hours"].split("-"))
    return local.weekday() not in s.business_days() or not start <= local.hour < end


# The rules EXCLUDE_USER_AGENT applies to: findings about client software, which the console's and
# AWS's own clients are not the user's to change.
CLIENT_SOFTWARE_RULES = ("sigv2", "tls-legacy", "acl-required")

RULES: dict[str, Callable[[dict[str, Any], AuditSettings], bool]] = {
    "sigv2": lambda r, s: r.get("SignatureVersion") == "SigV2",
    "tls-legacy": lambda r, s: (r.get("TLSVersion") or "").lower() in _LEGACY_TLS,
    "acl-required": lambda r, s: r.get("AclRequired") == "Yes",
    "access-denied": lambda r, s: r.get("HTTPstatus") == 403 or r.get("ErrorCode") == "AccessDenied",
    "anonymous": lambda r, s: _anonymous(r)
    and r.get("Operation") is not None
    and not r["Operation"].startswith(("WEBSITE.", "REST.OPTIONS.")),
    "parse-errors": lambda r, s: "ParseError" in r,
    "public-read": lambda r, s: _anonymous(r) and _success(r)
    and r.get("Operation") in ("REST.GET.OBJECT", "REST.HEAD.OBJECT"),
    "suspicious-user-agent": lambda r, s: _suspicious(r.get("UserAgent"), s),
    "off-hours": _off_hours,
    "large-response": lambda r, s: (r.get("BytesSent") or 0) > s.number("large-response.bytes"),
    "large-object": lambda r, s: (r.get("ObjectSize") or 0) > s.number("large-object.bytes"),
    "bucket-config-change": lambda r, s: _success(r) and r.get("Operation") in _CONFIG_CHANGES,
}

# Windowed rules: (which requests count, how much each adds, who is counted).
WINDOWED: dict[str, tuple[Callable[[dict[str, Any]], bool], Callable[[dict[str, Any]], int], tuple[str, ...]]] = {
    "enumeration": (lambda r: r.get("HTTPstatus") in (403, 404), lambda r: 1, ("RemoteIP", "Requester")),
    "mass-deletion": (
        lambda r: _success(r) and not _anonymous(r) and r.get("Operation") in ("REST.DELETE.OBJECT", "BATCH.DELETE.OBJECT"),
        lambda r: 1,
        ("Requester",),
    ),
    "bulk-download": (lambda r: (r.get("BytesSent") or 0) > 0, lambda r: r["BytesSent"], ("RemoteIP", "Requester")),
}


def parse_raw(s3logs: Path, path: Path) -> list[dict[str, Any]]:
    """The records of one raw log file, by `s3logs parse`."""
    result = subprocess.run(
        [str(s3logs), "parse", "--quiet", str(path)],
        check=True,
        capture_output=True,
    )
    return [json.loads(line) for line in result.stdout.decode("utf-8").splitlines() if line]


def _hit(rule: str, record: dict[str, Any]) -> dict[str, Any]:
    severity, mitre = RULE_META[rule]
    return {"Rule": rule, "Severity": severity, "Mitre": mitre, **{k: record.get(k) for k in HIT_KEYS[3:]}}


def hits_for(objects: list[list[dict[str, Any]]], settings: AuditSettings) -> list[dict[str, Any]]:
    """The hit lines the rules must produce for the records of each object the postprocessor
    reads (in their order there): one per (record, rule) for rules on single records, one per
    (rule, subject, window) reaching its threshold for windowed rules."""
    unknown = [rule for rule in settings.rules if rule not in RULES and rule not in WINDOWED]
    if unknown:
        raise ValueError(f"no expectation written for rules {unknown}")
    exclude = re.compile(settings.exclude_user_agent) if settings.exclude_user_agent else None
    hits = []
    for records in objects:
        totals: Counter[tuple[str, str, str, dt.datetime]] = Counter()
        for record in records:
            agent = record.get("UserAgent")
            excluded = exclude is not None and agent is not None and exclude.search(agent) is not None
            for rule in settings.rules:
                if excluded and rule in CLIENT_SOFTWARE_RULES:
                    continue
                if rule in WINDOWED:
                    hits.extend(_window_hits(rule, record, settings, totals))
                elif RULES[rule](record, settings):
                    hit = _hit(rule, record)
                    if rule == "parse-errors":
                        hit["ParseError"] = record["ParseError"]
                        hit["RawLine"] = record.get("RawLine")
                    hits.append(hit)
    return hits


def _window_hits(rule: str, record: dict[str, Any], settings: AuditSettings,
                 totals: Counter[tuple[str, str, str, dt.datetime]]) -> list[dict[str, Any]]:
    counts, amount, subjects = WINDOWED[rule]
    when = _utc(record)
    if when is None or not counts(record):
        return []
    minutes = settings.number(f"{rule}.minutes")
    threshold = settings.number(f"{rule}.count" if rule != "bulk-download" else "bulk-download.bytes")
    midnight = when.replace(hour=0, minute=0, second=0)
    start = midnight + dt.timedelta(minutes=(when - midnight) // dt.timedelta(minutes=minutes) * minutes)
    hits = []
    for by in subjects:
        subject = record.get(by)
        if subject is None or (by == "Requester" and _anonymous(record)):
            continue
        key = (rule, by, subject, start)
        before = totals[key]
        totals[key] += amount(record)
        if before < threshold <= totals[key]:
            hit = _hit(rule, record)
            hit.update({"WindowBy": by, "WindowStart": start.strftime("%Y-%m-%d %H:%M:%S"), "WindowTotal": totals[key]})
            hits.append(hit)
    return hits


_IDENTITY_KEYS = HIT_KEYS + ["ParseError"] + WINDOW_KEYS


def hit_identity(hit: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two hit lines the same hit (everything but RawLine, compared separately)."""
    return tuple(json.dumps(hit.get(k)) for k in _IDENTITY_KEYS)


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
            keys = HIT_KEYS + (WINDOW_KEYS if hit.get("Rule") in WINDOWED else [])
            if set(hit) != set(keys):
                problems.append(f"keys {sorted(hit)} != {sorted(keys)} in {hit}")
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
    return ", ".join(f"{k}={v}" for k, v in zip(_IDENTITY_KEYS, identity) if v != "null" or k in HIT_KEYS)
