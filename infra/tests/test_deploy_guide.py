"""docs/deploy.md names every CloudWatch metric the two functions print and every named query the
stack deploys, and nothing else under those names.

The metrics are read from the Rust sources as text (each is written by a `.metric("Name", ...)` call,
or the preprocessor's `count(line, "Name", ...)`), so the test needs no build; the guide's list is
the paragraph of its Logs Insights section that starts "Both functions also print". The named
queries are the `AWS::Athena::NamedQuery` resources of template.yaml and the guide's table of them.
"""

import re
import unittest

import cfn

DEPLOY_GUIDE = cfn.ROOT / "docs" / "deploy.md"
EMITTED = re.compile(r'(?:\.metric\(|count\(line, )\s*"([A-Za-z0-9]+)"')
FUNCTION_SOURCES = ["pipeline", "preprocessor", "postprocessor", "lambda-adapter"]
# The other CamelCase words of the paragraph: the namespace and the dimensions.
NOT_METRICS = {"S3AccessLogs", "Function", "Rule", "Reason"}


def emitted_metrics():
    """Metric names the functions' code writes in EMF lines (test files left out)."""
    names = set()
    for crate in FUNCTION_SOURCES:
        for path in (cfn.ROOT / "crates" / crate / "src").rglob("*.rs"):
            if path.name != "tests.rs":
                names.update(EMITTED.findall(path.read_text()))
    return names


def documented_metrics():
    """The CamelCase names in backticks of the guide's metrics paragraph, namespace and dimensions left out."""
    paragraph = DEPLOY_GUIDE.read_text().split("Both functions also print", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"`([A-Z][A-Za-z0-9]+)`", paragraph)) - NOT_METRICS


NAMED_QUERY_TABLE = "| Named query | Answers |"
DETECTION_QUERIES = "detection_<id>"


def documented_named_queries():
    """The first cell of each row of the guide's named query table."""
    table = DEPLOY_GUIDE.read_text().split(NAMED_QUERY_TABLE, 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\| `([^`]+)`", table, re.MULTILINE)


class DeployGuideNamesWhatTheStackHas(unittest.TestCase):
    def test_the_guide_lists_exactly_the_metrics_the_functions_print(self):
        emitted = emitted_metrics()
        self.assertIn("Hits", emitted, "the sources were read")
        self.assertEqual(documented_metrics(), emitted)

    def test_the_guide_lists_every_named_query(self):
        deployed = {q["Properties"]["Name"] for q in cfn.resources_of_type(cfn.load_template(), "AWS::Athena::NamedQuery").values()}
        detections = {name for name in deployed if name.startswith("detection_")}
        self.assertTrue(detections, "the detection queries are deployed")
        documented = documented_named_queries()
        self.assertIn(DETECTION_QUERIES, documented, "one row stands for the detection queries")
        self.assertEqual(set(documented) - {DETECTION_QUERIES}, deployed - detections)


if __name__ == "__main__":
    unittest.main()
