"""The Glue table of template.yaml, and the Athena queries over it, in DuckDB.

Athena reads the records table as the Glue definition says; `records_view_sql` says the same to
DuckDB, mechanically, from the template's `TableInput`:

* files: `storage.location.template` with every `${partition}` turned into `*`, over a local
  mirror of the output bucket (`<mirror>/<bucket>/<key>`); gzip is recognised by the `.gz`
  extension, as Athena's TextInputFormat does; a table whose InputFormat is Parquet's is read
  with `read_parquet`, each column by its name and cast to its Glue type;
* partitions: `hive_partitioning` reads `year=2026/...` path segments, typed by `PartitionKeys`;
* columns: each Glue column, with its Glue type mapped to DuckDB's (`GLUE_TO_DUCKDB`), read from
  the JSON key the OpenX SerDe would read it from: `mapping.<column>` if the SerDe has one,
  else the key whose name equals the column's ignoring case (`case.insensitive`). DuckDB casts
  every value to the column's type and fails on one that does not fit, like the SerDe with
  `ignore.malformed.json` FALSE.

Query translation (`to_duckdb`) is a fixed list of textual rewrites, each a Trino spelling with a
DuckDB equivalent; the queries of infra/athena/*.sql are written to need none of them beyond the
table name, which needs no rewrite at all because the view lives in a DuckDB schema named after
the Glue database. A Trino-only construct with no rule (`TRINO_ONLY`) is refused with its name,
so a query that cannot be translated mechanically fails loudly instead of being rewritten by
hand. The session time zone is UTC, as in Athena, so `CAST(CURRENT_TIMESTAMP AS TIMESTAMP)`
means the same in both.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

GLUE_TO_DUCKDB = {
    "string": "VARCHAR",
    "int": "INTEGER",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "boolean": "BOOLEAN",
    "double": "DOUBLE",
    "float": "FLOAT",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "array<string>": "VARCHAR[]",
    "array<bigint>": "BIGINT[]",
    "array<int>": "INTEGER[]",
}

# Which JSON values each Glue type accepts from the records.
GLUE_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "int": (int,),
    "integer": (int,),
    "bigint": (int,),
    "timestamp": (str,),
    "array<string>": (list,),
}

# (Trino pattern, DuckDB replacement): mechanical rewrites for spellings that differ.
REWRITES: list[tuple[str, str]] = [
    (r"\bapprox_distinct\s*\(", "approx_count_distinct("),
    (r"\bregexp_like\s*\(", "regexp_matches("),
    (r"\bcardinality\s*\(", "len("),
]

# Trino constructs with no mechanical DuckDB equivalent.
TRINO_ONLY = [
    r"\bAT\s+TIME\s+ZONE\b",
    r"\bfrom_iso8601_timestamp\s*\(",
    r"\bjson_extract_scalar\s*\(",
    r"\bdate_format\s*\(",
    r"\bdate_parse\s*\(",
    r"\bparse_datetime\s*\(",
    r"\bUNNEST\b",
    r"\bTABLESAMPLE\b",
    r"\bMSCK\b",
    r"\bCREATE\s+EXTERNAL\s+TABLE\b",
]


class NotTranslatable(Exception):
    """The query uses a Trino construct that has no mechanical DuckDB equivalent."""


def to_duckdb(sql: str) -> str:
    """The Athena (Trino) query, rewritten for DuckDB by the fixed rules above."""
    code = re.sub(r"--[^\n]*", "", sql)  # comments may mention anything
    for pattern in TRINO_ONLY:
        match = re.search(pattern, code, re.IGNORECASE)
        if match:
            raise NotTranslatable(f"{match.group(0)!r} has no mechanical DuckDB translation")
    for pattern, replacement in REWRITES:
        code = re.sub(pattern, replacement, code, flags=re.IGNORECASE)
    return code


def json_keys(files: list[Path]) -> set[str]:
    """Every top-level key of every record in these gzip NDJSON files."""
    import gzip

    keys: set[str] = set()
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    keys.update(json.loads(line))
    return keys


def column_sources(table_input: dict[str, Any], keys: set[str]) -> dict[str, str]:
    """Glue column name -> the JSON key the SerDe reads it from."""
    serde = table_input["StorageDescriptor"].get("SerdeInfo", {})
    parameters = serde.get("Parameters", {})
    case_insensitive = str(parameters.get("case.insensitive", "TRUE")).upper() == "TRUE"
    by_lower: dict[str, list[str]] = {}
    for key in keys:
        by_lower.setdefault(key.lower(), []).append(key)
    sources = {}
    for column in table_input["StorageDescriptor"]["Columns"]:
        name = column["Name"]
        mapped = parameters.get(f"mapping.{name.lower()}") or parameters.get(f"mapping.{name}")
        if mapped:
            sources[name] = mapped
        elif case_insensitive:
            candidates = by_lower.get(name.lower(), [])
            if len(candidates) > 1:
                raise ValueError(f"keys {candidates} differ only in case: the SerDe cannot tell them apart")
            sources[name] = candidates[0] if candidates else name
        else:
            sources[name] = name
    return sources


def files_glob(table_input: dict[str, Any], mirror: Path) -> str:
    """The local glob of the files Athena reads: storage.location.template over the mirror."""
    template = table_input["Parameters"]["storage.location.template"]
    path = re.sub(r"\$\{[^}]+\}", "*", template.removeprefix("s3://"))
    # Athena reads the objects directly under each partition's location.
    return str(mirror / path.rstrip("/")) + "/*"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def is_parquet(table_input: dict[str, Any]) -> bool:
    """Whether the Glue table reads Parquet files (else gzip NDJSON through the OpenX SerDe)."""
    return "parquet" in table_input["StorageDescriptor"]["InputFormat"].lower()


def _glue_to_duckdb(column: dict[str, Any]) -> str:
    glue_type = column["Type"].lower().replace(" ", "")
    if glue_type not in GLUE_TO_DUCKDB:
        raise ValueError(f"Glue type {column['Type']} of {column['Name']} has no DuckDB mapping here")
    return GLUE_TO_DUCKDB[glue_type]


def records_view_sql(database: str, table_input: dict[str, Any], mirror: Path, keys: set[str]) -> str:
    """`CREATE VIEW database.table` over the mirrored files, as the Glue table defines it.
    `keys`: the JSON keys of the records (unused for a Parquet table)."""
    if is_parquet(table_input):
        return _parquet_view_sql(database, table_input, mirror)
    sources = column_sources(table_input, keys)
    columns = []
    selects = []
    for column in table_input["StorageDescriptor"]["Columns"]:
        duck_type = _glue_to_duckdb(column)
        source = sources[column["Name"]]
        columns.append(f"{_literal(source)}: {_literal(duck_type)}")
        # Glue lowercases column names; DuckDB matches identifiers ignoring case anyway.
        selects.append(f"{_quote(source)} AS {_quote(column['Name'].lower())}")
    hive_types = []
    for key in table_input.get("PartitionKeys", []):
        hive_types.append(f"{_literal(key['Name'])}: {_literal(GLUE_TO_DUCKDB[key['Type'].lower()])}")
        selects.append(_quote(key["Name"].lower()))
    return (
        f"CREATE OR REPLACE VIEW {_quote(database)}.{_quote(table_input['Name'])} AS\n"
        f"SELECT {', '.join(selects)}\n"
        f"FROM read_json({_literal(files_glob(table_input, mirror))}, format = 'newline_delimited', "
        f"compression = 'auto_detect', hive_partitioning = true, "
        f"hive_types = {{{', '.join(hive_types)}}}, columns = {{{', '.join(columns)}}})"
    )


def _parquet_view_sql(database: str, table_input: dict[str, Any], mirror: Path) -> str:
    """The view over Parquet files: Athena reads each Glue column from the Parquet column of its
    name as the Glue type (a UTC timestamp as `timestamp`, which DuckDB does in UTC sessions)."""
    selects = [
        f"CAST({_quote(c['Name'].lower())} AS {_glue_to_duckdb(c)}) AS {_quote(c['Name'].lower())}"
        for c in table_input["StorageDescriptor"]["Columns"]
    ]
    hive_types = []
    for key in table_input.get("PartitionKeys", []):
        hive_types.append(f"{_literal(key['Name'])}: {_literal(GLUE_TO_DUCKDB[key['Type'].lower()])}")
        selects.append(_quote(key["Name"].lower()))
    return (
        f"CREATE OR REPLACE VIEW {_quote(database)}.{_quote(table_input['Name'])} AS\n"
        f"SELECT {', '.join(selects)}\n"
        f"FROM read_parquet({_literal(files_glob(table_input, mirror))}, hive_partitioning = true, "
        f"hive_types = {{{', '.join(hive_types)}}})"
    )


def connect(database: str) -> Any:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE SCHEMA {_quote(database)}")
    return con


def projection_accepts(parameters: dict[str, str], partition: str, value: str) -> bool:
    """Whether Athena's partition projection would produce `value` for `partition`."""
    kind = parameters.get(f"projection.{partition}.type")
    if kind == "integer":
        low, high = (int(v) for v in parameters[f"projection.{partition}.range"].split(","))
        digits = int(parameters.get(f"projection.{partition}.digits", "1"))
        return value.isdigit() and low <= int(value) <= high and value == f"{int(value):0{digits}d}"
    if kind == "enum":
        return value in parameters[f"projection.{partition}.values"].split(",")
    raise ValueError(f"projection type {kind!r} of {partition} is not checked here")
