"""docs/deploy.md names every CloudWatch metric the two functions print, and no other.

The metrics are read from the Rust sources as text (each is written by a `.metric("Name", ...)` call,
or the preprocessor's `count(line, "Name", ...)`), so the test needs no build; the guide's list is
the paragraph of its Logs Insights section that starts "Both functions also print".
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


class DeployGuideNamesEveryMetric(unittest.TestCase):
    def test_the_guide_lists_exactly_the_metrics_the_functions_print(self):
        emitted = emitted_metrics()
        self.assertIn("Hits", emitted, "the sources were read")
        self.assertEqual(documented_metrics(), emitted)


if __name__ == "__main__":
    unittest.main()
