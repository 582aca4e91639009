"""The CloudWatch dashboard and the opt-in high-severity alarms in template.yaml.

Every metric the dashboard draws must be one that exists: the S3AccessLogs ones named in the
functions' code and with exactly the dimensions they are printed with (EMF_METRICS, the list the
alarm tests use), the AWS ones on this stack's functions, stream and failed-events queue. The dashboard must show what an operator
needs (detection hits, parse errors, quarantined content by reason, Lambda errors, duration and
throttles, Firehose freshness and conversion failures, failed events), and there is one opt-in alarm per high-severity
detection of the catalogue, off by default, whose rules the postprocessor then runs.
"""

import json
import re
import sys
import unittest

import catalogue
import cfn

sys.path.insert(0, str(cfn.ROOT / "tests" / "e2e"))
from stack import Stack  # noqa: E402
from test_template import EMF_METRICS, FUNCTIONS, QUARANTINE_REASONS

# What !Sub resolves the stack's names to in these tests.
NAMES = {
    "Preprocessor": "PRE-FUNCTION",
    "Postprocessor": "POST-FUNCTION",
    "DeliveryStream": "RECORDS-STREAM",
    "FailedEventsQueue.QueueName": "FAILED-QUEUE",
    "AWS::Region": "eu-west-1",
}
# The AWS metrics the dashboard may draw, with the dimension and the values it may take.
AWS_METRICS = {
    ("AWS/Lambda", "Errors"): ("FunctionName", {"PRE-FUNCTION", "POST-FUNCTION"}),
    ("AWS/Lambda", "Duration"): ("FunctionName", {"PRE-FUNCTION", "POST-FUNCTION"}),
    ("AWS/Lambda", "Throttles"): ("FunctionName", {"PRE-FUNCTION", "POST-FUNCTION"}),
    ("AWS/Firehose", "DeliveryToS3.DataFreshness"): ("DeliveryStreamName", {"RECORDS-STREAM"}),
    ("AWS/Firehose", "FailedConversion.Records"): ("DeliveryStreamName", {"RECORDS-STREAM"}),
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): ("QueueName", {"FAILED-QUEUE"}),
}
# The crates whose code prints the functions' EMF lines.
FUNCTION_CRATES = ("preprocessor", "postprocessor", "pipeline", "lambda-adapter")
# A metric named in the code: `.metric("Name", ...)` or the preprocessor's `count(line, "Name", ...)`.
METRIC_IN_CODE = re.compile(r'(?:\.metric\(|count\(line, )"(\w+)"')
# SEARCH('{Namespace,Dim,...} MetricName="Name" Dim="value" ...', ...)
SEARCH = re.compile(r"""SEARCH\('\{([^}]*)\}\s+MetricName="([^"]+)"((?:\s+\w+="[^"]*")*)'""")


class Dashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = cfn.load_template()
        dashboard = cls.t["Resources"]["Dashboard"]
        variables = {**cfn.parameter_defaults(cls.t), **NAMES}
        cls.body = json.loads(cfn.sub(dashboard["Properties"]["DashboardBody"], variables))
        cls.drawn = []
        for widget in cls.body["widgets"]:
            if widget["type"] == "metric":
                cls.drawn.extend(cls.metrics_of(widget["properties"]))

    @staticmethod
    def metrics_of(properties):
        """(namespace, metric, {dimension: value}) of every metric a widget draws; a SEARCH gives
        its dimension names with the values it filters on (None where it takes any)."""
        drawn = []
        for entry in properties["metrics"]:
            options = entry[-1] if isinstance(entry[-1], dict) else {}
            if "expression" in options:
                match = SEARCH.match(options["expression"])
                if match is None:
                    raise AssertionError(f"an expression that is not a SEARCH: {options['expression']}")
                namespace, *names = [part.strip() for part in match.group(1).split(",")]
                filters = dict(re.findall(r'(\w+)="([^"]*)"', match.group(3)))
                drawn.append((namespace, match.group(2), {name: filters.get(name) for name in names}))
                continue
            plain = [part for part in entry if isinstance(part, str)]
            if "..." in plain:
                raise AssertionError("spell every metric out; '...' hides what is drawn")
            namespace, metric, *pairs = plain
            drawn.append((namespace, metric, dict(zip(pairs[::2], pairs[1::2]))))
        return drawn

    def test_every_metric_is_one_that_is_emitted(self):
        for namespace, metric, dimensions in self.drawn:
            with self.subTest(metric=metric, dimensions=dimensions):
                if namespace == "S3AccessLogs":
                    self.assertIn(metric, EMF_METRICS)
                    self.assertEqual(set(dimensions), EMF_METRICS[metric])
                    self.assertIn(dimensions["Function"], FUNCTIONS)
                    if "Reason" in dimensions:
                        self.assertIn(dimensions["Reason"], QUARANTINE_REASONS)
                    if dimensions.get("Rule") is not None:
                        self.assertIn(dimensions["Rule"], catalogue.severities())
                else:
                    self.assertIn((namespace, metric), AWS_METRICS)
                    name, values = AWS_METRICS[(namespace, metric)]
                    self.assertEqual(set(dimensions), {name})
                    self.assertIn(dimensions[name], values)

    def test_every_custom_metric_is_printed_by_the_code(self):
        printed = set()
        for crate in FUNCTION_CRATES:
            for source in (cfn.ROOT / "crates" / crate / "src").rglob("*.rs"):
                # Only the code, not its tests.
                code = source.read_text().split("#[cfg(test)]")[0]
                printed |= set(METRIC_IN_CODE.findall(code))
        drawn = {metric for namespace, metric, _ in self.drawn if namespace == "S3AccessLogs"}
        self.assertEqual(drawn - printed, set())

    def test_it_shows_what_an_operator_needs(self):
        drawn = {(ns, m, tuple(sorted(d.items(), key=lambda kv: kv[0]))) for ns, m, d in self.drawn}
        functions = ("PRE-FUNCTION", "POST-FUNCTION")
        needed = {
            # Hits of every rule, found by SEARCH so a new detection needs no template change.
            ("S3AccessLogs", "Hits", (("Function", "postprocessor"), ("Rule", None))),
            ("S3AccessLogs", "ParseErrors", (("Function", "preprocessor"),)),
            *{
                ("S3AccessLogs", "QuarantinedContent", (("Function", "preprocessor"), ("Reason", r)))
                for r in QUARANTINE_REASONS
            },
            *{("AWS/Lambda", m, (("FunctionName", f),)) for m in ("Errors", "Duration", "Throttles") for f in functions},
            ("AWS/Firehose", "DeliveryToS3.DataFreshness", (("DeliveryStreamName", "RECORDS-STREAM"),)),
            # Records Firehose could not convert to Parquet are outside the table (its alarm's metric).
            ("AWS/Firehose", "FailedConversion.Records", (("DeliveryStreamName", "RECORDS-STREAM"),)),
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible", (("QueueName", "FAILED-QUEUE"),)),
        }
        self.assertEqual(needed - drawn, set())

    def test_widgets_fit_the_grid_without_overlapping(self):
        taken = set()
        for widget in self.body["widgets"]:
            with self.subTest(widget=widget["properties"].get("title", widget["type"])):
                self.assertLessEqual(widget["x"] + widget["width"], 24)
                cells = {
                    (x, y)
                    for x in range(widget["x"], widget["x"] + widget["width"])
                    for y in range(widget["y"], widget["y"] + widget["height"])
                }
                self.assertEqual(cells & taken, set())
                taken |= cells
                if widget["type"] == "metric":
                    self.assertEqual(widget["properties"]["region"], "eu-west-1")


class HighSeverityAlarms(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = cfn.load_template()

    def test_one_opt_in_alarm_per_high_severity_detection(self):
        high = {rule for rule, severity in catalogue.severities().items() if severity == "high"}
        self.assertTrue(high, "the catalogue has high-severity detections")
        alarms = {
            name: alarm
            for name, alarm in cfn.resources_of_type(self.t, "AWS::CloudWatch::Alarm").items()
            if alarm.get("Condition") == "CreateHighSeverityAlarms"
        }
        watched = {}
        for name, alarm in alarms.items():
            p = alarm["Properties"]
            dimensions = {d["Name"]: d["Value"] for d in p["Dimensions"]}
            with self.subTest(alarm=name):
                self.assertEqual((p["Namespace"], p["MetricName"]), ("S3AccessLogs", "Hits"))
                self.assertEqual(dimensions["Function"], "postprocessor")
                # The first hit is worth a look.
                self.assertEqual(
                    (p["Statistic"], p["Threshold"], p["ComparisonOperator"]),
                    ("Sum", 1, "GreaterThanOrEqualToThreshold"),
                )
                watched[dimensions["Rule"]] = name
        self.assertEqual(set(watched), high)

    def test_the_postprocessor_runs_every_rule_an_alarm_watches(self):
        # An alarm on a rule outside RULES could never fire. The rule list is read as the
        # postprocessor's RuleSet::parse reads it: comma separated, `all` for every rule.
        catalogue_rules = set(catalogue.severities())
        for audit_rules in ("sigv2", "all", "tls-legacy,public-read", "mass-deletion"):
            for switch in ("false", "true"):
                with self.subTest(AuditRules=audit_rules, HighSeverityAlarms=switch):
                    stack = Stack(cfn.TEMPLATE_PATH, {"AuditRules": audit_rules, "HighSeverityAlarms": switch})
                    listed = stack.resources["Postprocessor"].properties["Environment"]["Variables"]["RULES"].split(",")
                    self.assertTrue(set(listed) <= catalogue_rules | {"all"}, listed)
                    running = catalogue_rules if "all" in listed else set(listed)
                    chosen = catalogue_rules if audit_rules == "all" else set(audit_rules.split(","))
                    # Every Hits alarm this stack creates (SigV2HitsAlarm and the opt-in ones).
                    watched = {
                        {d["Name"]: d["Value"] for d in alarm.properties["Dimensions"]}["Rule"]
                        for alarm in stack.of_type("AWS::CloudWatch::Alarm")
                        if alarm.properties["MetricName"] == "Hits"
                    }
                    self.assertEqual(running, chosen | watched)
                    self.assertEqual(watched - {"sigv2"} != set(), switch == "true")

    def test_the_sigv2_alarm_exists_exactly_when_the_rule_runs(self):
        for audit_rules, runs in (
            ("sigv2", True), ("all", True), ("tls-legacy,sigv2", True), ("sigv2,public-read", True),
            ("tls-legacy", False), ("public-read,acl-required", False), ("suspicious-user-agent", False),
        ):
            with self.subTest(AuditRules=audit_rules):
                stack = Stack(cfn.TEMPLATE_PATH, {"AuditRules": audit_rules})
                self.assertEqual("SigV2HitsAlarm" in stack.resources, runs)
        # The condition cuts "sigv2" out of the list: no other rule may contain it.
        self.assertEqual([rule for rule in catalogue.severities() if "sigv2" in rule], ["sigv2"])

    def test_they_are_off_by_default(self):
        parameter = self.t["Parameters"]["HighSeverityAlarms"]
        self.assertEqual(parameter["Default"], "false")
        self.assertEqual(
            self.t["Conditions"]["CreateHighSeverityAlarms"],
            {"Fn::Equals": [{"Ref": "HighSeverityAlarms"}, "true"]},
        )


if __name__ == "__main__":
    unittest.main()
