"""What each infra/athena/*.sql query must return, worked out in Python from the input records.

One function per query file, written from the query's stated purpose and its WHERE/GROUP BY, over
the records `s3logs parse` makes of the raw input (not over the pipeline's output). A query file
without a function here fails the test: a new query needs its expectation written.

The queries read the records_dedup view, so each oracle sees every RecordId once (`unique`). The
partition filters (year/month/day/hour of Firehose's arrival time) keep every row of this run,
which arrives minutes before the query; the test checks that separately. The request-time
("Timestamp") windows are applied here.

Rows are compared as multisets; their order (every group key in ORDER BY) is held by
infra/tests/test_named_queries.py.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from typing import Any, Callable, Iterable

Record = dict[str, Any]
Row = tuple[Any, ...]


def ts(record: Record) -> dt.datetime | None:
    text = record.get("Timestamp")
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S") if text else None


def _since(records: Iterable[Record], start: dt.datetime) -> list[Record]:
    """Records whose request time is at or after `start` (a NULL time never is)."""
    return [r for r in records if ts(r) is not None and ts(r) >= start]


def _group(records: Iterable[Record], keys: list[str]) -> dict[tuple[Any, ...], list[Record]]:
    groups: dict[tuple[Any, ...], list[Record]] = defaultdict(list)
    for record in records:
        groups[tuple(record.get(k) for k in keys)].append(record)
    return groups


def unique(records: Iterable[Record]) -> list[Record]:
    """One record per RecordId, the copy records_dedup keeps: the first by LogFile (all copies of
    this run arrive in the same hour; copies that name no object are the same record)."""
    first: dict[str, Record] = {}
    for record in records:
        kept = first.get(record["RecordId"])
        if kept is None or (record["LogFile"] or "") < (kept["LogFile"] or ""):
            first[record["RecordId"]] = record
    return list(first.values())


def _min_max_time(rows: list[Record]) -> tuple[Any, Any]:
    times = [ts(r) for r in rows if ts(r) is not None]
    return (min(times), max(times)) if times else (None, None)


def _not_like(value: str | None, pattern: str) -> bool:
    regex = "^" + re.escape(pattern).replace("%", ".*").replace("_", ".") + "$"
    return re.match(regex, value or "", re.DOTALL) is None


def failed_requests(records: list[Record], now: dt.datetime, **_: Any) -> list[Row]:
    rows = [
        r
        for r in _since(records, now - dt.timedelta(days=7))
        if ((r.get("HTTPstatus") is not None and r["HTTPstatus"] >= 400) or r.get("ErrorCode") is not None)
        and _not_like(r.get("Requester"), "svc:%")
        and (r.get("Requester") or "") != "AmazonS3"
        and _not_like(r.get("Requester"), "%:assumed-role/AWSServiceRole%")
        and _not_like(r.get("UserAgent"), "%amazonaws.com%")
        and _not_like(r.get("UserAgent"), "aws-internal%")
    ]
    keys = ["Bucket", "Operation", "HTTPstatus", "ErrorCode", "Requester", "RemoteIP"]
    return [(*k, len(g), *_min_max_time(g)) for k, g in _group(rows, keys).items()]


def access_denied_by_requester(records: list[Record], now: dt.datetime, **_: Any) -> list[Row]:
    start = now - dt.timedelta(days=7)
    rows = [r for r in records if ts(r) is not None and start <= ts(r) < now and r.get("ErrorCode") == "AccessDenied"]
    out = []
    for k, g in _group(rows, ["Requester", "Bucket", "Operation"]).items():
        ips = {r.get("RemoteIP") for r in g if r.get("RemoteIP") is not None}
        out.append((*k, len(g), len(ips), *_min_max_time(g)))
    return out


def acl_required(records: list[Record], now: dt.datetime, **_: Any) -> list[Row]:
    rows = [r for r in _since(records, now - dt.timedelta(days=30)) if r.get("AclRequired") == "Yes"]
    return [(*k, len(g), *_min_max_time(g)) for k, g in _group(rows, ["Bucket", "Requester", "Operation"]).items()]


def legacy_tls_clients(records: list[Record], now: dt.datetime, **_: Any) -> list[Row]:
    rows = [
        r
        for r in _since(records, now - dt.timedelta(days=7))
        if (r.get("TLSVersion") or "").lower() in ("tlsv1", "tlsv1.0", "tlsv1.1")
    ]
    keys = ["RemoteIP", "Requester", "Bucket", "TLSVersion", "CipherSuite", "UserAgent"]
    return [(*k, len(g), *_min_max_time(g)) for k, g in _group(rows, keys).items()]


def parse_errors(records: list[Record], now: dt.datetime, **_: Any) -> list[Row]:
    rows = [r for r in records if r.get("ParseError") is not None]
    out = []
    for k, g in _group(rows, ["ParseError", "LogFile"]).items():
        raws = [r["RawLine"] for r in g if r.get("RawLine") is not None]
        out.append((*k, len(g), min(raws) if raws else None))
    return out


def sigv2_clients_24h(records: list[Record], now: dt.datetime, **_: Any) -> list[Row]:
    rows = [r for r in _since(records, now - dt.timedelta(hours=24)) if r.get("SignatureVersion") == "SigV2"]
    keys = ["RemoteIP", "Requester", "Bucket", "Operation", "UserAgent"]
    return [(*k, len(g), *_min_max_time(g)) for k, g in _group(rows, keys).items()]


def records_dedup_view(records: list[Record], now: dt.datetime, **_: Any) -> list[Row]:
    """The view's rows, as (RecordId, LogFile of the first copy): one per RecordId. Copies of a
    line differ only in LogFile and partition; the first by (partition, LogFile) is kept."""
    return [(r["RecordId"], r["LogFile"]) for r in unique(records)]


# The statement run after a CREATE VIEW file, to read what the view holds.
VIEW_PROBES = {
    "records_dedup_view": "SELECT record_id, log_file FROM {database}.records_dedup",
}

ORACLES: dict[str, Callable[..., list[Row]]] = {
    "failed_requests": failed_requests,
    "access_denied_by_requester": access_denied_by_requester,
    "acl_required": acl_required,
    "legacy_tls_clients": legacy_tls_clients,
    "parse_errors": parse_errors,
    "sigv2_clients_24h": sigv2_clients_24h,
    "records_dedup_view": records_dedup_view,
}
