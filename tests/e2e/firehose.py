"""What Amazon Data Firehose does to the records, done by hand where moto stops short.

moto's `PutRecordBatch` writes each call's records, concatenated, to one S3 object right away,
under `<Prefix as written>YYYY/MM/DD/HH/<stream>-<version>-<time>-<uuid>`: it neither buffers,
nor compresses, nor evaluates the `!{...}` expressions of a custom prefix. Real Firehose
(https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html,
https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html):

* buffers records until `BufferingHints.SizeInMBs` or `IntervalInSeconds` is reached, then
  writes the buffer, records concatenated with no delimiter, as one object;
* names it `<evaluated prefix><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><extension>`,
  where `!{timestamp:FMT}` in the prefix is the approximate arrival time of the oldest record
  in the object, formatted with a Java DateTimeFormatter pattern (UTC unless CustomTimeZone),
  and the default prefix `YYYY/MM/dd/HH/` is used only when there is no custom prefix;
* compresses it (`CompressionFormat`) and adds the matching extension (`.gz` for GZIP) unless
  `FileExtension` says otherwise;
* with record format conversion (`DataFormatConversionConfiguration`), first turns the buffer's
  JSON records into one Parquet file (`ParquetConversion`): the OpenX JSON SerDe reads each record,
  a column from the key its `ColumnToJsonKeyMappings` names (exactly, with `CaseInsensitive`
  false; an absent key is null), typed by the Glue table of `SchemaConfiguration`, a `timestamp`
  from text `yyyy-MM-dd HH:mm:ss` or from epoch seconds; the Parquet SerDe writes every column
  OPTIONAL, compressed as its `Compression` says
  (https://docs.aws.amazon.com/firehose/latest/dev/record-format-conversion.html).

`Delivery.flush` turns the objects moto wrote into the objects Firehose would have written, from the
delivery stream's configuration as the template defines it, and removes moto's.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

# moto's object name: <stream>-<version>-<yyyy-mm-dd-hh-mm-ss>-<uuid4>
_MOTO_NAME = re.compile(
    r"^(?P<stream>.+)-(?P<version>\d+)-(?P<time>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)-"
    r"(?P<uuid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)

# Java DateTimeFormatter letters Firehose prefixes use; anything else fails loudly.
_JAVA_DATE_LETTERS = {
    "yyyy": "%Y",
    "YYYY": "%Y",
    "uuuu": "%Y",
    "yy": "%y",
    "MM": "%m",
    "dd": "%d",
    "HH": "%H",
    "mm": "%M",
    "ss": "%S",
}

_EXTENSIONS = {"UNCOMPRESSED": "", "GZIP": ".gz"}

# The Parquet SerDe's compression settings, as pyarrow names them.
_PARQUET_CODECS = {"UNCOMPRESSED": "none", "GZIP": "gzip", "SNAPPY": "snappy"}

# How the OpenX JSON SerDe reads a `timestamp` column from a JSON string (the record's format);
# it also reads a JSON number of epoch seconds, which the compact record sends.
_JSON_TIMESTAMP = "%Y-%m-%d %H:%M:%S"

# The record keys the preprocessor writes only when they apply (docs/record.md): a null column
# reads back as an absent key, so a record read from Parquet equals the record sent.
OPTIONAL_KEYS = ("ExtraFields", "ParseError", "RawLine")

PARQUET_MAGIC = b"PAR1"


class DeliveryError(Exception):
    """The stream's configuration asks for something this emulation does not do."""


def _arrow_type(glue_type: str) -> Any:
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "int": pa.int32(),
        "bigint": pa.int64(),
        # Millisecond instants in UTC, as the columnar crate writes `request_time` (docs/record.md).
        "timestamp": pa.timestamp("ms", tz="UTC"),
        "array<string>": pa.list_(pa.string()),
    }
    try:
        return types[glue_type.lower().replace(" ", "")]
    except KeyError:
        raise DeliveryError(f"Glue type {glue_type} is not converted here") from None


class ParquetConversion:
    """Firehose's record format conversion, JSON records to Parquet, for one stream."""

    def __init__(self, conversion: dict[str, Any], table: dict[str, Any], record_keys: dict[str, str] | None = None):
        """`conversion`: the stream's DataFormatConversionConfiguration; `table`: the TableInput
        of the Glue table its SchemaConfiguration names; `record_keys`: column -> the key
        `records` reads it back under (the full record's key when the stream reads compact
        records; by default the key the column was read from)."""
        deserializer = conversion["InputFormatConfiguration"]["Deserializer"]
        serializer = conversion["OutputFormatConfiguration"]["Serializer"]
        if set(deserializer) != {"OpenXJsonSerDe"} or set(serializer) != {"ParquetSerDe"}:
            raise DeliveryError(f"only OpenX JSON to Parquet is emulated, not {deserializer} to {serializer}")
        openx = deserializer["OpenXJsonSerDe"]
        if openx.get("CaseInsensitive", True) is not False:
            raise DeliveryError("only CaseInsensitive false (exact keys) is emulated")
        mappings = openx.get("ColumnToJsonKeyMappings", {})
        self.codec = serializer["ParquetSerDe"].get("Compression", "SNAPPY")
        if self.codec not in _PARQUET_CODECS:
            raise DeliveryError(f"ParquetSerDe Compression {self.codec} is not emulated")
        schema = conversion["SchemaConfiguration"]
        if schema.get("TableName") != table["Name"]:
            raise DeliveryError(f"SchemaConfiguration names table {schema.get('TableName')}, not {table['Name']}")
        # Glue column -> (record key, Glue type); a column without a mapping reads the key of its name.
        self.columns = {
            c["Name"]: (mappings.get(c["Name"], c["Name"]), c["Type"])
            for c in table["StorageDescriptor"]["Columns"]
        }
        self.record_keys = {name: key for name, (key, _) in self.columns.items()} | (record_keys or {})

    def schema(self) -> Any:
        import pyarrow as pa

        return pa.schema([pa.field(name, _arrow_type(kind), nullable=True) for name, (_, kind) in self.columns.items()])

    def to_parquet(self, body: bytes) -> bytes:
        """The buffer's JSON records (concatenated, whitespace between them ignored) as one Parquet file."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        text = body.decode("utf-8")
        decoder = json.JSONDecoder()
        values: dict[str, list[Any]] = {name: [] for name in self.columns}
        position = 0
        while True:
            while position < len(text) and text[position].isspace():
                position += 1
            if position == len(text):
                break
            record, position = decoder.raw_decode(text, position)
            for name, (key, kind) in self.columns.items():
                values[name].append(self._value(record.get(key), kind, key))
        table = pa.table(values, schema=self.schema())
        out = io.BytesIO()
        pq.write_table(table, out, compression=_PARQUET_CODECS[self.codec])
        return out.getvalue()

    @staticmethod
    def _value(value: Any, glue_type: str, key: str) -> Any:
        if value is None or glue_type != "timestamp":
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value, dt.timezone.utc)
        if not isinstance(value, str):
            raise DeliveryError(f"{key}: {value!r} is no timestamp the OpenX SerDe reads")
        return dt.datetime.strptime(value, _JSON_TIMESTAMP).replace(tzinfo=dt.timezone.utc)

    def records(self, data: bytes) -> list[dict[str, Any]]:
        """The rows of a converted object as full JSON records (the inverse of `to_parquet` for
        full records): each column back under its record key, timestamps in the record's
        format, and `OPTIONAL_KEYS` left out when null."""
        import pyarrow.parquet as pq

        rows = pq.read_table(io.BytesIO(data)).to_pylist()
        records = []
        for row in rows:
            record = {}
            for name, (_, kind) in self.columns.items():
                key = self.record_keys[name]
                value = row[name]
                if value is None and key in OPTIONAL_KEYS:
                    continue
                if value is not None and kind == "timestamp":
                    value = value.astimezone(dt.timezone.utc).strftime(_JSON_TIMESTAMP)
                record[key] = value
            records.append(record)
        return records


def java_date_format(pattern: str, when: dt.datetime) -> str:
    """Format `when` with a Java DateTimeFormatter pattern (the subset Firehose users write)."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "'":
            end = pattern.index("'", i + 1)
            out.append(pattern[i + 1 : end] if end > i + 1 else "'")
            i = end + 1
            continue
        if pattern[i].isalpha():
            j = i
            while j < len(pattern) and pattern[j] == pattern[i]:
                j += 1
            token = pattern[i:j]
            if token not in _JAVA_DATE_LETTERS:
                raise DeliveryError(f"timestamp pattern letter run {token!r} is not emulated")
            out.append(when.strftime(_JAVA_DATE_LETTERS[token]))
            i = j
            continue
        out.append(pattern[i])
        i += 1
    return "".join(out)


def evaluate_prefix(prefix: str, arrival: dt.datetime, error_output_type: str | None = None) -> str:
    """The prefix with its `!{namespace:value}` expressions evaluated, as Firehose does."""

    def replace(match: re.Match[str]) -> str:
        namespace, value = match.group(1), match.group(2)
        if namespace == "timestamp":
            return java_date_format(value, arrival)
        if namespace == "firehose" and value == "random-string":
            return secrets.token_hex(6)[:11]
        if namespace == "firehose" and value == "error-output-type":
            if error_output_type is None:
                raise DeliveryError("!{firehose:error-output-type} is only valid in ErrorOutputPrefix")
            return error_output_type
        raise DeliveryError(f"prefix expression !{{{namespace}:{value}}} is not emulated")

    evaluated = re.sub(r"!\{([A-Za-z]+):([^}]*)\}", replace, prefix)
    if evaluated == prefix and "!{" not in prefix:
        # No expression: Firehose appends its default time prefix.
        evaluated = prefix + arrival.strftime("%Y/%m/%d/%H/")
    return evaluated


@dataclass(frozen=True)
class DeliveredObject:
    """One object as Firehose would have written it."""

    key: str
    size: int
    records_bytes: int


def _moto_objects(s3: Any, bucket: str, raw_prefix: str) -> list[dict[str, Any]]:
    """The objects moto's PutRecordBatch wrote, oldest first."""
    found = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=raw_prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"].rsplit("/", 1)[-1]
            match = _MOTO_NAME.match(name)
            if match:
                arrival = dt.datetime.strptime(match["time"], "%Y-%m-%d-%H-%M-%S").replace(
                    tzinfo=dt.timezone.utc
                )
                found.append({**obj, "arrival": arrival, "match": match})
    found.sort(key=lambda o: (o["arrival"], o["LastModified"], o["Key"]))
    return found


class Delivery:
    """Firehose's delivery to S3 for one stream, emulated over what moto wrote."""

    def __init__(self, s3: Any, stream_name: str, destination: dict[str, Any], table: dict[str, Any] | None = None):
        """`destination`: the stream's ExtendedS3DestinationConfiguration from the template;
        `table`: the TableInput of the Glue table a record format conversion reads its schema from."""
        self.s3 = s3
        self.stream_name = stream_name
        self.bucket = destination["BucketARN"].split(":::", 1)[1]
        self.prefix = destination.get("Prefix", "")
        # moto's layout: Prefix as written, '/' appended unless empty or already there.
        self._moto_prefix = (
            self.prefix if self.prefix.endswith("/") or self.prefix == "" else self.prefix + "/"
        )
        self.compression = destination.get("CompressionFormat", "UNCOMPRESSED")
        if self.compression not in _EXTENSIONS:
            raise DeliveryError(f"CompressionFormat {self.compression} is not emulated")
        self.conversion: ParquetConversion | None = None
        conversion = destination.get("DataFormatConversionConfiguration", {})
        if conversion.get("Enabled"):
            if table is None:
                raise DeliveryError("record format conversion needs the Glue table it reads its schema from")
            if self.compression != "UNCOMPRESSED":
                # Firehose refuses the combination: Parquet compresses its own pages.
                raise DeliveryError(f"CompressionFormat must be UNCOMPRESSED with conversion, not {self.compression}")
            self.conversion = ParquetConversion(conversion, table)
        for feature in ("DynamicPartitioningConfiguration", "ProcessingConfiguration"):
            if destination.get(feature, {}).get("Enabled"):
                raise DeliveryError(f"{feature} is not emulated")
        if destination.get("CustomTimeZone", "UTC") != "UTC":
            raise DeliveryError("CustomTimeZone other than UTC is not emulated")
        self.extension = destination.get("FileExtension", _EXTENSIONS[self.compression])
        hints = destination.get("BufferingHints", {})
        self.buffer_limit = int(hints.get("SizeInMBs", 5)) * 1024 * 1024
        self._delivered: set[str] = set()

    def flush(self) -> list[DeliveredObject]:
        """Deliver what moto wrote since the last flush, as one buffering interval would.

        The objects form one buffer, cut in arrival order whenever it reaches `SizeInMBs` (a
        test run is far shorter than `IntervalInSeconds`). moto's objects are then removed.
        """
        written = [
            o
            for o in _moto_objects(self.s3, self.bucket, self._moto_prefix)
            if o["Key"] not in self._delivered
        ]
        buffers: list[list[dict[str, Any]]] = []
        size = 0
        for obj in written:
            if not buffers or size >= self.buffer_limit:
                buffers.append([])
                size = 0
            buffers[-1].append(obj)
            size += obj["Size"]

        delivered = []
        for buffer in buffers:
            body = b"".join(
                self.s3.get_object(Bucket=self.bucket, Key=o["Key"])["Body"].read() for o in buffer
            )
            oldest = buffer[0]
            arrival = oldest["arrival"]
            name = (
                f"{self.stream_name}-{oldest['match']['version']}-"
                f"{arrival.strftime('%Y-%m-%d-%H-%M-%S')}-{oldest['match']['uuid']}{self.extension}"
            )
            key = evaluate_prefix(self.prefix, arrival) + name
            converted = self.conversion.to_parquet(body) if self.conversion is not None else body
            data = gzip.compress(converted, mtime=0) if self.compression == "GZIP" else converted
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
            self._delivered.add(key)
            for o in buffer:
                if o["Key"] != key:
                    self.s3.delete_object(Bucket=self.bucket, Key=o["Key"])
            delivered.append(DeliveredObject(key=key, size=len(data), records_bytes=len(body)))
        return delivered


def read_records(data: bytes, conversion: ParquetConversion | None) -> list[dict[str, Any]]:
    """The records of a delivered object: its Parquet rows read back through `conversion`, or
    its NDJSON lines, gzip-compressed or not."""
    if data[:4] == PARQUET_MAGIC:
        if conversion is None:
            raise DeliveryError("a Parquet object from a stream without record format conversion")
        return conversion.records(data)
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
