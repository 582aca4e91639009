"""Bytes each named Athena query must read from Parquet, against the whole gzip NDJSON.

Usage: bench_columnar.py VIEW_SQL NDJSON_GZ LABEL=PARQUET... -- QUERY_SQL...

Which columns a query references is found from DuckDB's parse tree (json_serialize_sql), not by
matching words in the text: every COLUMN_REF of the query whose name is a column of the Parquet
file. A query over records_dedup also reads what the view itself needs below its window: the
columns of its ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...) and of its WHERE clause, found the
same way in VIEW_SQL (the partition columns year/month/day/hour there are in the S3 key, not in the
file, so they cost nothing). The view's pass-through select list is not counted: Trino, which
Athena runs, prunes columns the outer query does not use through views and window functions.

The bytes a query reads from a Parquet file are the compressed sizes of the column chunks of
those columns in every row group (DuckDB's parquet_metadata, read from the file's footer), the
most it can read: Athena may skip row groups whose min/max statistics exclude the query's time
window, which this does not count, since every request of the corpus is inside the window.
Over gzip NDJSON a query reads every byte of every object, so its bytes are the file's size.
"""

import json
import os
import sys

import duckdb


def parse(sql):
    """DuckDB's parse tree of one SELECT statement."""
    tree = json.loads(duckdb.sql("SELECT json_serialize_sql(?)", params=[sql]).fetchone()[0])
    if tree.get("error"):
        raise SystemExit(f"DuckDB cannot parse the query: {tree.get('error_message')}")
    return tree["statements"]


def column_refs(node):
    """Every column name referenced anywhere under a parse tree node."""
    names = set()
    if isinstance(node, dict):
        if node.get("class") == "COLUMN_REF":
            names.add(node["column_names"][-1])
        for value in node.values():
            names |= column_refs(value)
    elif isinstance(node, list):
        for value in node:
            names |= column_refs(value)
    return names


def view_own_refs(node):
    """Columns a view reads for itself: those of its window functions and WHERE clauses."""
    names = set()
    if isinstance(node, dict):
        if node.get("class") == "WINDOW":
            names |= column_refs(node)
        if node.get("type") == "SELECT_NODE" and node.get("where_clause"):
            names |= column_refs(node["where_clause"])
        for value in node.values():
            names |= view_own_refs(value)
    elif isinstance(node, list):
        for value in node:
            names |= view_own_refs(value)
    return names


def chunk_bytes(path):
    """Compressed bytes of each top-level column, summed over row groups."""
    rows = duckdb.sql(
        "SELECT split_part(path_in_schema, ',', 1), sum(total_compressed_size) "
        "FROM parquet_metadata(?) GROUP BY 1",
        params=[path],
    ).fetchall()
    return {name: int(size) for name, size in rows}


def main(argv):
    split = argv.index("--")
    view_sql, ndjson_gz, *parquets = argv[:split]
    queries = argv[split + 1 :]
    files = [entry.split("=", 1) for entry in parquets]
    sizes = {label: chunk_bytes(path) for label, path in files}
    schema = set(next(iter(sizes.values())))
    view_text = open(view_sql, encoding="utf-8").read()
    view_refs = view_own_refs(parse(view_text[view_text.index("SELECT") :])) & schema
    ndjson = os.path.getsize(ndjson_gz)

    print(f"whole gzip NDJSON: {ndjson / 1e6:.1f} MB; records_dedup reads {', '.join(sorted(view_refs))} itself")
    header = f"{'query':40} {'columns':>7}"
    for label, _ in files:
        header += f" {label + ' MB':>12} {'fewer':>6}"
    print(header)
    for query in queries:
        text = open(query, encoding="utf-8").read()
        columns = column_refs(parse(text)) & schema
        if "records_dedup" in text:
            columns |= view_refs
        name = os.path.relpath(query, "infra/athena").removesuffix(".sql")
        line = f"{name:40} {len(columns):>7}"
        for label, _ in files:
            read = sum(sizes[label][column] for column in columns)
            line += f" {read / 1e6:>12.1f} {ndjson / read:>5.1f}x"
        print(line)
        print(f"    {', '.join(sorted(columns))}")


if __name__ == "__main__":
    main(sys.argv[1:])
