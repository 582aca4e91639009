"""The Glue records table takes AWS's column names and types, and its SerDe finds each in the NDJSON record.

The column table lives in crates/columnar/src/columns.rs; docs/record.md ("Columnar records") prints it
row by row (record key, column, Glue type) and a Rust test holds the two equal, so this test reads the
document and needs no build. The record's own keys are the key table at the top of docs/record.md.
"""

import re
import unittest

import cfn

RECORD_DOC = cfn.ROOT / "docs" / "record.md"
COLUMNAR_SECTION = "## Columnar records"
# | # | `record key` | `column` | from | `Glue type` | ...
COLUMN_ROW = re.compile(r"^\| *\d* *\| `(\w+)` \| `(\w+)` \| [^|]* \| `([^`]+)` \|", re.MULTILINE)
KEY_TABLE = "| key | type | log field | notes |"
KEY_ROW = re.compile(r"^\| `(\w+)` \|", re.MULTILINE)


def column_table():
    """(record key, column, Glue type) for every column, in file order, from docs/record.md."""
    section = RECORD_DOC.read_text().split(COLUMNAR_SECTION, 1)[1]
    rows = COLUMN_ROW.findall(section)
    if not rows:
        raise AssertionError(f"docs/record.md: no column rows under {COLUMNAR_SECTION!r}")
    return rows


def record_keys():
    """The NDJSON record's keys, from the key table at the top of docs/record.md."""
    table = RECORD_DOC.read_text().split(KEY_TABLE, 1)[1].split("\n\n", 1)[0]
    keys = KEY_ROW.findall(table)
    if not keys:
        raise AssertionError("docs/record.md: no key table")
    return keys


class RecordsTableIsTheColumnTable(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        template = cfn.load_template()
        table = cfn.records_table(template, "json")
        cls.columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
        cls.serde = table["StorageDescriptor"]["SerdeInfo"]["Parameters"]
        cls.parquet = cfn.records_table(template, "parquet")

    def test_columns_are_the_column_table_in_order(self):
        self.assertEqual(self.columns, [(column, glue_type) for _, column, glue_type in column_table()])

    def test_every_column_is_mapped_to_its_record_key(self):
        mappings = {k.removeprefix("mapping."): v for k, v in self.serde.items() if k.startswith("mapping.")}
        self.assertEqual(mappings, {column: key for key, column, _ in column_table()})

    def test_every_mapping_names_a_real_record_key(self):
        keys = record_keys()
        self.assertIn("SignatureVersion", keys, "the key table was read")
        for name, value in self.serde.items():
            if name.startswith("mapping."):
                with self.subTest(mapping=name):
                    self.assertIn(value, keys)
        mapped = [v for k, v in self.serde.items() if k.startswith("mapping.")]
        self.assertEqual(sorted(mapped), sorted(keys), "every record key fills exactly one column")

    def test_keys_are_matched_exactly(self):
        # The documented form for mixed-case JSON keys: case.insensitive FALSE and a mapping per
        # column, so no key is found by a lowercased lookup.
        self.assertEqual(self.serde["case.insensitive"], "FALSE")
        self.assertEqual(self.serde["ignore.malformed.json"], "FALSE")

    def test_both_formats_have_the_same_columns_partitions_and_location(self):
        json_table = cfn.records_table(cfn.load_template(), "json")

        def projection(table):
            return {k: v for k, v in table["Parameters"].items() if k != "classification"}

        self.assertEqual(projection(self.parquet), projection(json_table))
        self.assertEqual(self.parquet["PartitionKeys"], json_table["PartitionKeys"])
        for key in ("Columns", "Location"):
            with self.subTest(key=key):
                self.assertEqual(self.parquet["StorageDescriptor"][key], json_table["StorageDescriptor"][key])

    def test_each_format_has_its_serde_and_input_format(self):
        expected = {
            "json": ("json", "org.openx.data.jsonserde.JsonSerDe", "org.apache.hadoop.mapred.TextInputFormat", True),
            "parquet": (
                "parquet",
                "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                False,
            ),
        }
        template = cfn.load_template()
        for output_format, (classification, serde, input_format, compressed) in expected.items():
            with self.subTest(format=output_format):
                table = cfn.records_table(template, output_format)
                storage = table["StorageDescriptor"]
                self.assertEqual(table["Parameters"]["classification"], classification)
                self.assertEqual(storage["SerdeInfo"]["SerializationLibrary"], serde)
                self.assertEqual(storage["InputFormat"], input_format)
                self.assertEqual(storage["Compressed"], compressed)

    def test_column_names_need_no_quoting(self):
        # Lowercase snake_case, as Glue stores names and AWS's native records spell them: no query
        # has to quote a column (the old "Timestamp" did).
        for name, _ in self.columns:
            with self.subTest(column=name):
                self.assertRegex(name, r"^[a-z][a-z0-9_]*$")


if __name__ == "__main__":
    unittest.main()
