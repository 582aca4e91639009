"""Raw logs dated relative to now, for the Athena queries' time windows.

The named queries look at the last 24 hours, 7 days or 30 days of request time, so the fixed
dates of `data/raw/` fall outside every window (which the test also relies on: those rows must be
left out). `data/live/*.log.in` are log lines written by hand whose time field is a placeholder:

    {now-10m}        request time 10 minutes before the run, in +0000
    {now-3h@-0500}   3 hours before the run, written in the -0500 offset

Units are m (minutes), h (hours) and d (days). `bulk_log` adds a generated object large enough
that its records fill several Firehose records and more than one PutRecordBatch call.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from pathlib import Path

_PLACEHOLDER = re.compile(r"\{now-(\d+)([mhd])(?:@([+-]\d{4}))?\}")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def log_time(when: dt.datetime, offset: str = "+0000") -> str:
    """`when` (aware) as the log's time field, without the brackets, in `offset`."""
    sign = 1 if offset[0] == "+" else -1
    delta = dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])) * sign
    local = when.astimezone(dt.timezone(delta))
    return f"{local:%d}/{_MONTHS[local.month - 1]}/{local:%Y:%H:%M:%S} {offset}"


def render(template: str, now: dt.datetime) -> str:
    """The template with each placeholder replaced by a log time relative to `now`."""

    def replace(match: re.Match[str]) -> str:
        amount, unit, offset = int(match[1]), match[2], match[3] or "+0000"
        return log_time(now - dt.timedelta(**{_UNITS[unit]: amount}), offset)

    return _PLACEHOLDER.sub(replace, template)


def object_key(prefix: str, account: str, region: str, bucket: str, when: dt.datetime, seed: int) -> str:
    """A key in S3's PartitionedPrefix (EventTime) log layout under `prefix`."""
    unique = f"{random.Random(seed).getrandbits(64):016X}"
    return (
        f"{prefix}{account}/{region}/{bucket}/{when:%Y/%m/%d}/"
        f"{when:%Y-%m-%d-%H-%M-%S}-{unique}"
    )


def bulk_log(now: dt.datetime, lines: int, seed: int = 6) -> str:
    """`lines` ordinary requests of the last hour; every 997th is SigV2 over TLS 1.0."""
    rng = random.Random(seed)
    owner = "5f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80"
    host_id = "YnVsayB0cmFmZmljIGZvciB0aGUgZTJlIHRlc3QsIGdlbmVyYXRlZCwgbm90IHJlYWwgYXQgYWxs"
    out = []
    for i in range(lines):
        when = now - dt.timedelta(seconds=3600 - i * 3000 // max(lines, 1))
        legacy = i % 997 == 996
        key = f"bulk/{rng.randrange(10_000):05d}/{rng.choice(['a', 'b', 'c'])}.parquet"
        size = rng.randrange(1, 50_000_000)
        out.append(
            f"{owner} e2e-bulk [{log_time(when)}] 10.{i % 200}.{i % 7}.{i % 250} "
            f"arn:aws:iam::111122223333:role/{'legacy-job' if legacy else 'spark'} "
            f"B{i:015X} REST.GET.OBJECT {key} \"GET /{key} HTTP/1.1\" 200 - {size} {size} "
            f"{rng.randrange(1, 900)} {rng.randrange(1, 50)} \"-\" "
            f"\"{'curl/7.29.0' if legacy else 'aws-sdk-java/2.25.1 Linux/6.1 OpenJDK_64-Bit_Server_VM/21 spark/3.5'}\" - "
            f"{host_id} {'SigV2' if legacy else 'SigV4'} "
            f"{'ECDHE-RSA-AES128-SHA' if legacy else 'ECDHE-RSA-AES128-GCM-SHA256'} AuthHeader "
            f"e2e-bulk.s3.us-east-1.amazonaws.com {'TLSv1' if legacy else 'TLSv1.2'} - - -"
        )
    return "\n".join(out) + "\n"


def live_files(data_dir: Path) -> list[Path]:
    return sorted(data_dir.glob("*.log.in"))
