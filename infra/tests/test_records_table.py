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
        table = cfn.load_template()["Resources"]["RecordsTable"]["Properties"]["TableInput"]
        cls.columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
        cls.serde = table["StorageDescriptor"]["SerdeInfo"]["Parameters"]

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

    def test_column_names_need_no_quoting(self):
        # Lowercase snake_case, as Glue stores names and AWS's native records spell them: no query
        # has to quote a column (the old "Timestamp" did).
        for name, _ in self.columns:
            with self.subTest(column=name):
                self.assertRegex(name, r"^[a-z][a-z0-9_]*$")


if __name__ == "__main__":
    unittest.main()
