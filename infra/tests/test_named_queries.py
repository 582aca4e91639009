"""Every infra/athena SQL file is deployed as a NamedQuery whose text is the same query.

CloudFormation cannot read files, so template.yaml carries a copy of each query. The file is the
copy with the stack parameters at their defaults (s3_access_logs for ${DatabaseName}); comments are
documentation and whitespace is layout, so neither counts.
"""

import re
import unittest

import cfn

ATHENA_DIR = cfn.ROOT / "infra" / "athena"
# The queries that read the records table itself: the views that keep each RecordId once.
DEDUP_VIEW = "infra/athena/records_dedup_view.sql"
ALL_REQUESTS_VIEW = "infra/athena/native/all_requests_view.sql"
# The detection queries (infra/athena/detections/) are held to the audit engine by test_detections_sql.py;
# here, like every other query, each must be deployed as a named query with the same text.
TABLE_REFERENCE = re.compile(r"(?<!YEAR )\b(?:FROM|JOIN)\s+([A-Za-z_][\w.]*)")
# The last GROUP BY of a query and the ORDER BY after it, each a plain list of columns.
GROUPED_AND_ORDERED = re.compile(r"\bGROUP BY ([\w, ]+?) ORDER BY ([\w, ]+?)(?: LIMIT \d+)?$")


def normalise(sql):
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return " ".join(" ".join(lines).split())


class NamedQueriesMatchFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.template = cfn.load_template()
        cls.defaults = cfn.parameter_defaults(cls.template)
        cls.queries = cfn.resources_of_type(cls.template, "AWS::Athena::NamedQuery")

    def test_every_file_is_a_named_query_and_back(self):
        files = sorted(str(p.relative_to(cfn.ROOT)) for p in ATHENA_DIR.rglob("*.sql"))
        sources = sorted(q.get("Metadata", {}).get("SourceFile", f"<{name} has no SourceFile>") for name, q in self.queries.items())
        self.assertEqual(files, sources, "every infra/athena file (detections/ included) is one named query, and back")
        names = [q["Properties"]["Name"] for q in self.queries.values()]
        self.assertEqual(len(names), len(set(names)), "named query names are unique")

    def test_query_text_matches_file(self):
        for name, query in self.queries.items():
            with self.subTest(query=name):
                path = cfn.ROOT / query["Metadata"]["SourceFile"]
                deployed = cfn.sub(query["Properties"]["QueryString"], self.defaults)
                self.assertEqual(
                    normalise(path.read_text()),
                    normalise(deployed),
                    f"{path.relative_to(cfn.ROOT)} and the {name} NamedQuery in template.yaml differ",
                )

    def test_files_document_their_placeholders(self):
        for path in ATHENA_DIR.rglob("*.sql"):
            with self.subTest(file=path.name):
                text = path.read_text()
                self.assertTrue(text.startswith("-- "), "starts with a comment saying what it answers")
                self.assertIn("Placeholders:", text)

    def test_named_queries_run_in_the_stack_database_and_workgroup(self):
        for name, query in self.queries.items():
            with self.subTest(query=name):
                props = query["Properties"]
                self.assertEqual(props["Database"], {"Ref": "GlueDatabase"})
                self.assertEqual(props["WorkGroup"], {"Ref": "AthenaWorkGroup"})
                text = cfn.sub(props["QueryString"], self.defaults)
                # Tables are always qualified, so a query pasted into another database fails loudly.
                for table in TABLE_REFERENCE.findall(text):
                    self.assertTrue(table.startswith("s3_access_logs."), f"{table} is not qualified with the database")

    def test_grouped_results_are_ordered_by_every_group_key(self):
        # Rows that tie on the leading sort keys come back in whatever order the engine likes, and
        # LIMIT then keeps an arbitrary subset of them: every group key in ORDER BY makes the
        # answer one list, the same on every run and for JSON and Parquet records alike.
        checked = 0
        for path in ATHENA_DIR.rglob("*.sql"):
            with self.subTest(file=path.name):
                match = GROUPED_AND_ORDERED.search(normalise(path.read_text()))
                if match:
                    checked += 1
                    keys = {column.strip() for column in match.group(1).split(",")}
                    order = {term.split()[0] for term in match.group(2).split(",")}
                    self.assertLessEqual(keys, order, "ORDER BY leaves group keys out")
        self.assertGreater(checked, 5)

    def test_queries_count_each_log_line_once(self):
        # A log line delivered twice (S3 duplicate delivery, a retried event) is in records twice;
        # only the views that keep each RecordId once read the table.
        readers = set()
        for name, query in self.queries.items():
            with self.subTest(query=name):
                tables = set(TABLE_REFERENCE.findall(cfn.sub(query["Properties"]["QueryString"], self.defaults)))
                if "s3_access_logs.records" in tables:
                    readers.add(query["Metadata"]["SourceFile"])
        self.assertEqual(
            readers, {DEDUP_VIEW, ALL_REQUESTS_VIEW}, "count from s3_access_logs.records_dedup, not the records table"
        )
        for view in readers:
            self.assertIn("PARTITION BY record_id", (cfn.ROOT / view).read_text())


if __name__ == "__main__":
    unittest.main()
