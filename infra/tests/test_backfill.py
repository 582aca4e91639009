"""The backfill and org-wide parts of template.yaml, as deployed with their parameters set.

* `BackfillCommand` is run by bash with `aws` replaced by a recorder, and each `create-job` it makes
  is turned into the CreateJob request the AWS CLI would send (tests/e2e/backfill_command.py) and
  checked against the S3 Control API model with botocore's parameter validator and request
  serializer (no network), for backfill sources in both key layouts of server access log delivery.
* Each entry's prefix is filtered on and granted literally, with or without a trailing slash.
* The `aws s3control` commands of docs/deploy.md's backfill walk-through (watching the jobs,
  re-running the failures) are valid requests of the same model.
* The Batch Operations role and the preprocessor's extra reading are exactly what a backfill needs.
* With an external output bucket, Firehose, its role, the Glue table and the policy the bucket owner
  must hold all name that bucket.

The stack is resolved by the end-to-end test's resolver (tests/e2e/stack.py), which evaluates every
intrinsic function the template uses for a made-up account and Region.
"""

import fnmatch
import json
import re
import sys
import unittest

import botocore.session
from botocore import xform_name
from botocore.serialize import create_serializer
from botocore.validate import ParamValidator

import cfn

sys.path.insert(0, str(cfn.ROOT / "tests" / "e2e"))
import backfill_command  # noqa: E402
from stack import ACCOUNT_ID, PARTITION, REGION, Stack, TemplateError  # noqa: E402

# Where old logs lie, one entry per key layout of log delivery (S3 API reference, PutBucketLogging
# TargetObjectKeyFormat):
#   SimplePrefix       [DestinationPrefix][YYYY]-[MM]-[DD]-[hh]-[mm]-[ss]-[UniqueString]
#   PartitionedPrefix  [DestinationPrefix][SourceAccountId]/[SourceRegion]/[SourceBucket]/[YYYY]/[MM]/[DD]/
#                      [YYYY]-[MM]-[DD]-[hh]-[mm]-[ss]-[UniqueString]
# The simple entry narrows to one month by the date in the key; the partitioned one to one source
# bucket and year.
LOG_BUCKET = "old-access-logs"
SIMPLE = f"{LOG_BUCKET}/logs/2024-03-"
PARTITIONED = f"{LOG_BUCKET}/partitioned/{ACCOUNT_ID}/{REGION}/shop-assets/2024/"
LAYOUT_KEYS = {
    SIMPLE: "logs/2024-03-14-10-15-42-0A1B2C3D4E5F6789",
    PARTITIONED: f"partitioned/{ACCOUNT_ID}/{REGION}/shop-assets/2024/03/14/2024-03-14-00-00-00-0A1B2C3D4E5F6789",
}
EXTERNAL_BUCKET = "log-archive-records"
# The archive's key lives in the archive bucket's Region, which need not be the stack's (REGION).
EXTERNAL_KEY_REGION = "eu-west-1"
EXTERNAL_KEY = f"arn:aws:kms:{EXTERNAL_KEY_REGION}:999988887777:key/1234abcd-12ab-34cd-56ef-1234567890ab"
FIREHOSE_ACTIONS = [
    "s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
    "s3:ListBucketMultipartUploads", "s3:PutObject",
]


def _stack(**parameters):
    return Stack(cfn.TEMPLATE_PATH, parameters)


def _output(stack, name):
    output = stack.template["Outputs"][name]
    if "Condition" in output and not stack.condition(output["Condition"]):
        return None
    return stack.resolve(output["Value"])


def _validate(test, params, model):
    report = ParamValidator().validate(params, model.input_shape)
    test.assertFalse(report.has_errors(), report.generate_report())
    _check_bounds(test, params, model.input_shape, model.name)
    # The request serializes as the CLI would send it (the account id becomes the host prefix).
    create_serializer("rest-xml").serialize_to_request(params, model)


def _check_bounds(test, value, shape, path):
    """What botocore's validator leaves to the service: maximum lengths and patterns of strings
    and lists (a pattern is not anchored, as in the model's Smithy source)."""
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            if name in value:
                _check_bounds(test, value[name], member, f"{path}.{name}")
    elif shape.type_name == "list":
        test.assertLessEqual(len(value), shape.metadata.get("max", len(value)), path)
        for index, item in enumerate(value):
            _check_bounds(test, item, shape.member, f"{path}[{index}]")
    elif shape.type_name == "string":
        test.assertLessEqual(len(value), shape.metadata.get("max", len(value)), path)
        if "pattern" in shape.metadata:
            test.assertRegex(value, shape.metadata["pattern"], path)


def _statements(resource):
    (policy,) = resource.properties["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


class BackfillCommand(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = _stack(BackfillSources=f"{SIMPLE},{PARTITIONED}")
        cls.command = _output(cls.stack, "BackfillCommand")
        cls.model = backfill_command.create_job_model()
        cls.window = {"BACKFILL_FROM": "2024-01-01T00:00:00Z", "BACKFILL_UNTIL": "2025-01-01T00:00:00Z"}
        cls.calls = backfill_command.run(cls.command, cls.window)

    def request(self, argv):
        return backfill_command.s3control_request(argv, self.model)

    def validate(self, params):
        _validate(self, params, self.model)

    def test_one_valid_create_job_per_source(self):
        self.assertEqual(len(self.calls), 2)
        for argv, source in zip(self.calls, (SIMPLE, PARTITIONED)):
            with self.subTest(source=source):
                region, params = self.request(argv)
                self.validate(params)
                bucket, prefix = source.split("/", 1)
                self.assertEqual(region, REGION)
                self.assertEqual(params["AccountId"], ACCOUNT_ID)
                self.assertIs(params["ConfirmationRequired"], False)
                self.assertEqual(params["RoleArn"], self.stack.get_att("BackfillRole", "Arn"))
                self.assertEqual(
                    params["Operation"],
                    {"LambdaInvoke": {"FunctionArn": self.stack.get_att("Preprocessor", "Arn"), "InvocationSchemaVersion": "2.0"}},
                )
                self.assertNotIn("Manifest", params, "the manifest generator lists the objects")
                generator = params["ManifestGenerator"]["S3JobManifestGenerator"]
                self.assertEqual(generator["SourceBucket"], f"arn:{PARTITION}:s3:::{bucket}")
                self.assertEqual(generator["ExpectedBucketOwner"], ACCOUNT_ID)
                self.assertEqual(
                    generator["Filter"],
                    {
                        "KeyNameConstraint": {"MatchAnyPrefix": [prefix]},
                        "CreatedAfter": self.window["BACKFILL_FROM"],
                        "CreatedBefore": self.window["BACKFILL_UNTIL"],
                    },
                )
                report = params["Report"]
                self.assertEqual(report["ReportScope"], "FailedTasksOnly")
                self.assertTrue(report["Enabled"])
                self.assertEqual(report["Bucket"], f"arn:{PARTITION}:s3:::{self.stack.physical_id('OutputBucket')}")
                self.assertTrue(report["Prefix"].startswith("_backfill/"))

    def test_default_window_is_everything_up_to_now(self):
        calls = backfill_command.run(self.command, {})
        self.assertEqual(len(calls), 2)
        for argv in calls:
            _, params = self.request(argv)
            self.validate(params)
            window = params["ManifestGenerator"]["S3JobManifestGenerator"]["Filter"]
            # S3 opened in March 2006: nothing was created before.
            self.assertEqual(window["CreatedAfter"], "2006-03-01T00:00:00Z")
            self.assertRegex(window["CreatedBefore"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_validation_catches_a_malformed_request(self):
        # The check above can fail: the model rejects what the API would.
        _, params = self.request(self.calls[0])
        params["Operation"]["LambdaInvoke"]["InvocationSchemaVersion"] = 2
        params["ManifestGenerator"]["S3JobManifestGenerator"]["Filter"]["KeyNameConstraint"]["MatchAnyPrefix"] = [""]
        del params["Report"]
        report = ParamValidator().validate(params, self.model.input_shape).generate_report()
        for problem in ("InvocationSchemaVersion", "MatchAnyPrefix", "Report"):
            self.assertIn(problem, report)

    def test_both_key_layouts_are_listed_and_readable(self):
        reads = _statements(self.stack.resources["PreprocessorRole"])["ReadBackfillSources"]["Resource"]
        for argv, (source, key) in zip(self.calls, LAYOUT_KEYS.items()):
            with self.subTest(source=source):
                _, params = self.request(argv)
                generator = params["ManifestGenerator"]["S3JobManifestGenerator"]
                (prefix,) = generator["Filter"]["KeyNameConstraint"]["MatchAnyPrefix"]
                self.assertTrue(key.startswith(prefix), "the manifest generator lists the delivered key")
                arn = f"{generator['SourceBucket']}/{key}"
                self.assertTrue(any(fnmatch.fnmatchcase(arn, r) for r in reads), "the preprocessor may read it")
                for outside in (f"arn:aws:s3:::{LOG_BUCKET}-other/{key}", f"arn:aws:s3:::{LOG_BUCKET}/elsewhere/{key}"):
                    self.assertFalse(any(fnmatch.fnmatchcase(outside, r) for r in reads), outside)


class BackfillPrefixes(unittest.TestCase):
    """An entry's prefix is a key prefix like any other, taken as written: without a trailing slash
    `logs` takes the simple layout's keys under a TargetPrefix of `logs` (`logs2024-…`) and also
    `logs-old/`, and `…/shop-assets` takes `…/shop-assets-eu/` too (docs/deploy.md says so)."""

    # entry -> (keys it takes, keys it leaves)
    ENTRIES = {
        "logs-a/logs": ["logs2024-03-14-10-15-42-0A1B2C3D4E5F6789", "logs-old/2024-03-14-10-15-42-0A1B2C3D4E5F6789"],
        "logs-b/logs/": ["logs/2024-03-14-10-15-42-0A1B2C3D4E5F6789"],
        "logs-c/2024-": ["2024-03-14-10-15-42-0A1B2C3D4E5F6789"],
        f"logs-d/p/{ACCOUNT_ID}/{REGION}/shop-assets/": [f"p/{ACCOUNT_ID}/{REGION}/shop-assets/2024/03/14/2024-03-14-00-00-00-0A1B2C3D4E5F6789"],
        f"logs-e/p/{ACCOUNT_ID}/{REGION}/shop-assets": [
            f"p/{ACCOUNT_ID}/{REGION}/shop-assets/2024/03/14/2024-03-14-00-00-00-0A1B2C3D4E5F6789",
            f"p/{ACCOUNT_ID}/{REGION}/shop-assets-eu/2024/03/14/2024-03-14-00-00-00-0A1B2C3D4E5F6789",
        ],
    }
    # A deep DestinationPrefix: the job's description (256 characters at most) cannot hold it.
    LONG = "logs-f/" + "/".join(["delivered-by-the-log-archive-pipeline-of-the-platform-team"] * 5) + "/"
    ENTRIES[LONG] = [LONG.split("/", 1)[1] + "2024-03-14-10-15-42-0A1B2C3D4E5F6789"]
    LEFT = {
        LONG: [LONG.split("/", 1)[1][:-1] + "-old/2024-03-14-10-15-42-0A1B2C3D4E5F6789"],
        "logs-a/logs": ["log/2024-03-14-10-15-42-0A1B2C3D4E5F6789"],
        "logs-b/logs/": ["logs2024-03-14-10-15-42-0A1B2C3D4E5F6789", "logs-old/2024-03-14-10-15-42-0A1B2C3D4E5F6789"],
        "logs-c/2024-": ["2023-12-31-23-59-59-0A1B2C3D4E5F6789", "logs/2024-03-14-10-15-42-0A1B2C3D4E5F6789"],
        f"logs-d/p/{ACCOUNT_ID}/{REGION}/shop-assets/": [f"p/{ACCOUNT_ID}/{REGION}/shop-assets-eu/2024/03/14/2024-03-14-00-00-00-0A1B2C3D4E5F6789"],
        f"logs-e/p/{ACCOUNT_ID}/{REGION}/shop-assets": [f"p/{ACCOUNT_ID}/{REGION}/shop/2024/03/14/2024-03-14-00-00-00-0A1B2C3D4E5F6789"],
    }

    def test_each_entry_is_filtered_and_read_as_written(self):
        stack = _stack(BackfillSources=",".join(self.ENTRIES))
        model = backfill_command.create_job_model()
        calls = backfill_command.run(_output(stack, "BackfillCommand"), {})
        reads = _statements(stack.resources["PreprocessorRole"])["ReadBackfillSources"]["Resource"]
        self.assertEqual(len(calls), len(self.ENTRIES))
        for argv, entry in zip(calls, self.ENTRIES):
            with self.subTest(entry=entry):
                _, params = backfill_command.s3control_request(argv, model)
                _validate(self, params, model)
                bucket, prefix = entry.split("/", 1)
                generator = params["ManifestGenerator"]["S3JobManifestGenerator"]
                self.assertEqual(generator["SourceBucket"], f"arn:{PARTITION}:s3:::{bucket}")
                self.assertEqual(generator["Filter"]["KeyNameConstraint"], {"MatchAnyPrefix": [prefix]})
                self.assertEqual(params["Description"], f"s3logs backfill of {entry}"[:256])
                for key, taken in [(k, True) for k in self.ENTRIES[entry]] + [(k, False) for k in self.LEFT[entry]]:
                    # Listed by the manifest generator exactly when the preprocessor may read it.
                    self.assertEqual(key.startswith(prefix), taken, key)
                    readable = any(fnmatch.fnmatchcase(f"arn:aws:s3:::{bucket}/{key}", r) for r in reads)
                    self.assertEqual(readable, taken, key)


def _guide_backfill_section():
    text = (cfn.ROOT / "docs" / "deploy.md").read_text()
    start = text.index("## Backfilling old logs")
    return text[start:text.index("\n## ", start + 1)]


class BackfillGuide(unittest.TestCase):
    """The `aws s3control` commands docs/deploy.md shows for a backfill, run by bash with `aws`
    recorded and checked against the S3 Control API model like the BackfillCommand."""

    @classmethod
    def setUpClass(cls):
        cls.section = _guide_backfill_section()
        cls.service = botocore.session.get_session().get_service_model("s3control")
        cls.stack = _stack(BackfillSources=f"{SIMPLE},{PARTITIONED}")

    def test_watching_commands_are_valid_requests(self):
        blocks = re.findall(r"```sh\n(.*?)```", self.section, re.S)
        lines = [" ".join(line.split()) for block in blocks for line in block.replace("\\\n", " ").splitlines()]
        inline = [" ".join(command.split()) for command in re.findall(r"`(aws s3control [^`]+)`", self.section)]
        # Commands with their options, not a mere mention such as `aws s3control create-job`.
        commands = [line for line in lines + inline if line.startswith("aws s3control") and " --" in line]
        operations = {xform_name(name).replace("_", "-"): name for name in self.service.operation_names}
        seen = set()
        for command in commands:
            with self.subTest(command=command):
                (argv,) = backfill_command.run(command, {})
                model = self.service.operation_model(operations[argv[1]])
                _, params = backfill_command.s3control_request(argv, model)
                _validate(self, params, model)
                # The validator leaves enums alone: check the values the CLI would send.
                for member, value in params.items():
                    shape = model.input_shape.members[member]
                    allowed = shape.member.enum if shape.type_name == "list" else shape.enum
                    for item in value if shape.type_name == "list" else [value]:
                        if allowed:
                            self.assertIn(item, allowed, member)
                seen.add(model.name)
        self.assertEqual(seen, {"DescribeJob", "ListJobs"})

    def test_rerunning_the_failures_is_a_valid_create_job(self):
        # The guide: run BackfillCommand's create-job with its --manifest in place of --manifest-generator.
        (manifest,) = re.findall(r"`(--manifest '[^`]+')`", self.section)
        rerun, replaced = re.subn(r'--manifest-generator "(?:[^"\\]|\\.)*"', lambda _: manifest,
                                  _output(self.stack, "BackfillCommand"))
        self.assertEqual(replaced, 1)
        # `head-object --query ETag --output text` prints the ETag with its quotes.
        calls = backfill_command.run(rerun, {"ETAG": '"9b2cf535f27731c974343645a3985328"'})
        model = backfill_command.create_job_model()
        self.assertEqual(len(calls), 2)
        reports = _statements(self.stack.resources["BackfillRole"])["Reports"]["Resource"]
        for argv in calls:
            _, params = backfill_command.s3control_request(argv, model)
            _validate(self, params, model)
            self.assertNotIn("ManifestGenerator", params)
            self.assertEqual(params["Manifest"]["Spec"], {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]})
            location = params["Manifest"]["Location"]
            self.assertEqual(location["ETag"], "9b2cf535f27731c974343645a3985328")
            # The role may read the manifest: the guide's bucket stands for the stack's output bucket.
            key = location["ObjectArn"].split(":::", 1)[1].split("/", 1)[1]
            self.assertTrue(fnmatch.fnmatchcase(f"{reports.rsplit('/_backfill/', 1)[0]}/{key}", reports), key)


class BackfillPermissions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.plain = _stack()
        cls.backfill = _stack(BackfillSources=f"{SIMPLE},{PARTITIONED}")

    def test_nothing_without_sources(self):
        self.assertNotIn("BackfillRole", self.plain.resources)
        self.assertNotIn("ReadBackfillSources", _statements(self.plain.resources["PreprocessorRole"]))
        self.assertIsNone(_output(self.plain, "BackfillCommand"))
        env = self.plain.resources["Preprocessor"].properties["Environment"]["Variables"]
        self.assertEqual(env["SOURCE_BUCKET"], self.plain.physical_id("RawLogBucket"))

    def test_preprocessor_reads_exactly_the_sources(self):
        read = _statements(self.backfill.resources["PreprocessorRole"])["ReadBackfillSources"]
        # GetObjectVersion: a task of a versioned bucket's manifest names the version it reads.
        self.assertEqual(read["Action"], ["s3:GetObject", "s3:GetObjectVersion"])
        self.assertEqual(read["Resource"], [f"arn:aws:s3:::{SIMPLE}*", f"arn:aws:s3:::{PARTITIONED}*"])
        # Sources are buckets of this account (the jobs' ExpectedBucketOwner): a bucket name of
        # another account's bucket reads nothing.
        self.assertEqual(read["Condition"], {"StringEquals": {"aws:ResourceAccount": ACCOUNT_ID}})
        # The function would skip the other buckets' objects as outside SOURCE_BUCKET: the role's
        # statements limit its reading instead, and its own output stays excluded.
        env = self.backfill.resources["Preprocessor"].properties["Environment"]["Variables"]
        self.assertNotIn("SOURCE_BUCKET", env)
        self.assertNotIn("SOURCE_PREFIX", env)
        self.assertEqual(env["OUTPUT_BUCKET"], self.backfill.physical_id("OutputBucket"))

    def test_every_partition_reads_the_same_prefixes(self):
        # The stack resolver only knows the aws partition; the aws-cn and aws-us-gov branches of the
        # raw template must be the same expression with their own ARN prefix.
        (statement,) = [
            s["Fn::If"][1] for s in cfn.load_template()["Resources"]["PreprocessorRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            if isinstance(s, dict) and "Fn::If" in s and s["Fn::If"][0] == "HasBackfillSources"
        ]
        china, (gov, aws) = statement["Resource"]["Fn::If"][1], statement["Resource"]["Fn::If"][2]["Fn::If"][1:]
        for partition, branch in (("aws-cn", china), ("aws-us-gov", gov)):
            self.assertEqual(json.dumps(branch), json.dumps(aws).replace("arn:aws:", f"arn:{partition}:"))

    def test_batch_operations_role_is_least_privilege(self):
        role = self.backfill.resources["BackfillRole"].properties
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        self.assertEqual(trust, {"Effect": "Allow", "Principal": {"Service": "batchoperations.s3.amazonaws.com"}, "Action": "sts:AssumeRole"})
        self.assertNotIn("ManagedPolicyArns", role)
        statements = _statements(self.backfill.resources["BackfillRole"])
        records = self.backfill.physical_id("OutputBucket")
        self.assertEqual(
            {sid: (s["Action"], s["Resource"]) for sid, s in statements.items()},
            {
                "InvokePreprocessor": ("lambda:InvokeFunction", self.backfill.get_att("Preprocessor", "Arn")),
                "ListSourceBuckets": ("s3:ListBucket", "arn:aws:s3:::*"),
                "ReportBucketLocation": ("s3:GetBucketLocation", f"arn:aws:s3:::{records}"),
                "Reports": (["s3:GetObject", "s3:PutObject"], f"arn:aws:s3:::{records}/_backfill/*"),
            },
        )
        self.assertEqual(statements["ListSourceBuckets"]["Condition"], {"StringEquals": {"aws:ResourceAccount": ACCOUNT_ID}})
        for statement in statements.values():
            self.assertEqual(statement["Effect"], "Allow")
        # Reports stay outside the records: the table and the postprocessor's trigger start at
        # RecordsPrefix, which cannot start with an underscore.
        pattern = self.backfill.template["Parameters"]["RecordsPrefix"]["AllowedPattern"]
        self.assertNotRegex("_backfill/", pattern)

    def test_an_empty_entry_is_refused(self):
        # A stray comma used to add arn:aws:s3:::* (every bucket) to the preprocessor's reading.
        for value in (f"{SIMPLE},", f",{SIMPLE}", f"{SIMPLE},,{PARTITIONED}", f"{SIMPLE}, "):
            with self.subTest(value=value), self.assertRaisesRegex(TemplateError, "empty entry"):
                _stack(BackfillSources=value)
        for value in ("", ","):
            self.assertNotIn("BackfillRole", _stack(BackfillSources=value).resources)

    def test_source_entries_are_safe_in_shell_and_iam(self):
        pattern = self.backfill.template["Parameters"]["BackfillSources"]["AllowedPattern"]
        for good in ("", SIMPLE, PARTITIONED, "my.bucket-1/logs/", "b12/year=2024/"):
            self.assertRegex(good, pattern)
        for bad in ("old-logs", "old-logs/", "old-logs/*", "old-logs/a b/", "old-logs/$(id)/", "old-logs/'x'/",
                    "old-logs/a;b", "Old-Logs/logs/", "old-logs/!x/"):
            self.assertNotRegex(bad, pattern)


class ExternalOutput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.plain = _stack()
        cls.external = _stack(ExternalOutputBucketArn=f"arn:aws:s3:::{EXTERNAL_BUCKET}")
        cls.keyed = _stack(ExternalOutputBucketArn=f"arn:aws:s3:::{EXTERNAL_BUCKET}", ExternalOutputKmsKeyArn=EXTERNAL_KEY)

    def destination(self, stack):
        return stack.one_of_type("AWS::KinesisFirehose::DeliveryStream").properties["ExtendedS3DestinationConfiguration"]

    def test_records_are_written_and_read_in_the_external_bucket_only(self):
        for stack, bucket in ((self.plain, self.plain.physical_id("OutputBucket")), (self.external, EXTERNAL_BUCKET)):
            with self.subTest(bucket=bucket):
                self.assertEqual(self.destination(stack)["BucketARN"], f"arn:aws:s3:::{bucket}")
                delivery = _statements(stack.resources["FirehoseRole"])["DeliverToOutputBucket"]
                self.assertEqual(delivery["Resource"], [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"])
                self.assertEqual(sorted(delivery["Action"]), FIREHOSE_ACTIONS)
                read = _statements(stack.resources["PostprocessorRole"])["ReadRecords"]
                self.assertEqual(read["Resource"], f"arn:aws:s3:::{bucket}/records/*")
                # Only in this account: a member stack's postprocessor may not read the archive,
                # which holds every account's records, whatever the archive's policy allows.
                self.assertEqual(read["Condition"], {"StringEquals": {"aws:ResourceAccount": ACCOUNT_ID}})
                table = stack.one_of_type("AWS::Glue::Table").properties["TableInput"]
                self.assertEqual(table["StorageDescriptor"]["Location"], f"s3://{bucket}/records/")
                self.assertTrue(table["Parameters"]["storage.location.template"].startswith(f"s3://{bucket}/records/year="))

    def test_kms_only_with_a_key(self):
        for stack in (self.plain, self.external):
            self.assertNotIn("EncryptForExternalOutput", _statements(stack.resources["FirehoseRole"]))
            self.assertEqual(self.destination(stack)["EncryptionConfiguration"], {"NoEncryptionConfig": "NoEncryption"})
        self.assertEqual(self.destination(self.keyed)["EncryptionConfiguration"], {"KMSEncryptionConfig": {"AWSKMSKeyARN": EXTERNAL_KEY}})
        kms = _statements(self.keyed.resources["FirehoseRole"])["EncryptForExternalOutput"]
        self.assertEqual((sorted(kms["Action"]), kms["Resource"]), (["kms:Decrypt", "kms:GenerateDataKey"], EXTERNAL_KEY))
        self.assert_only_through_s3_for_the_bucket(kms, f"arn:aws:s3:::{EXTERNAL_BUCKET}/*")
        # A key without an external bucket would be ignored: the stack refuses it.
        with self.assertRaisesRegex(TemplateError, "OutputKeyNeedsExternalBucket"):
            _stack(ExternalOutputKmsKeyArn=EXTERNAL_KEY)
        for stack in (self.plain, self.external):
            self.assertNotIn("DecryptExternalRecords", _statements(stack.resources["PostprocessorRole"]))

    def assert_only_through_s3_for_the_bucket(self, statement, objects):
        """The key is usable only by S3 in the key's (the bucket's) Region, and only for the bucket:
        the encryption context is an object ARN, or the bucket ARN when the bucket uses S3 Bucket
        Keys (S3 User Guide, "Changes to note before enabling an S3 Bucket Key")."""
        self.assertEqual(statement["Condition"]["StringEquals"], {"kms:ViaService": f"s3.{EXTERNAL_KEY_REGION}.amazonaws.com"})
        (contexts,) = statement["Condition"]["StringLike"].values()
        self.assertEqual(list(statement["Condition"]["StringLike"]), ["kms:EncryptionContext:aws:s3:arn"])
        self.assertEqual(sorted(contexts), sorted([f"arn:aws:s3:::{EXTERNAL_BUCKET}", objects]))
        for other in (f"arn:aws:s3:::{EXTERNAL_BUCKET}-other", f"arn:aws:s3:::{EXTERNAL_BUCKET}-other/records/x.gz"):
            self.assertFalse(any(fnmatch.fnmatchcase(other, c) for c in contexts), other)

    def test_postprocessor_can_decrypt_the_records_it_may_read(self):
        # The log-archive account's stack reads the archive's records (docs/deploy.md, Org-wide);
        # with SSE-KMS, S3 decrypts them only for a reader that may use the key.
        statements = _statements(self.keyed.resources["PostprocessorRole"])
        self.assertEqual(statements["ReadRecords"]["Resource"], f"arn:aws:s3:::{EXTERNAL_BUCKET}/records/*")
        kms = statements["DecryptExternalRecords"]
        self.assertEqual((kms["Action"], kms["Resource"]), ("kms:Decrypt", EXTERNAL_KEY))
        self.assert_only_through_s3_for_the_bucket(kms, f"arn:aws:s3:::{EXTERNAL_BUCKET}/records/*")

    def test_bucket_policy_output_grants_what_the_role_uses(self):
        self.assertIsNone(_output(self.plain, "ExternalOutputBucketPolicy"))
        statement = json.loads(_output(self.external, "ExternalOutputBucketPolicy"))
        self.assertRegex(statement["Sid"], r"^[A-Za-z0-9]+$")
        self.assertEqual(statement["Principal"], {"AWS": self.external.get_att("FirehoseRole", "Arn")})
        delivery = _statements(self.external.resources["FirehoseRole"])["DeliverToOutputBucket"]
        self.assertEqual(sorted(statement["Action"]), sorted(delivery["Action"]))
        self.assertEqual(statement["Resource"], delivery["Resource"])
        self.assertEqual(statement["Effect"], "Allow")

    def test_key_policy_output_grants_what_the_role_uses(self):
        # Cross-account, KMS needs the key policy as well as the role's policy.
        self.assertIsNone(_output(self.external, "ExternalOutputKeyPolicy"))
        statement = json.loads(_output(self.keyed, "ExternalOutputKeyPolicy"))
        self.assertRegex(statement["Sid"], r"^[A-Za-z0-9]+$")
        self.assertEqual(statement["Effect"], "Allow")
        self.assertEqual(statement["Principal"], {"AWS": self.keyed.get_att("FirehoseRole", "Arn")})
        kms = _statements(self.keyed.resources["FirehoseRole"])["EncryptForExternalOutput"]
        self.assertEqual(sorted(statement["Action"]), sorted(kms["Action"]))
        # In a key policy "*" is the key itself.
        self.assertEqual(statement["Resource"], "*")
        self.assertEqual(statement["Condition"], {"StringEquals": kms["Condition"]["StringEquals"]})

    def test_statement_ids_differ_between_the_stacks_of_one_account_and_region(self):
        # A second stack in the same account and Region takes another NamePrefix (its bucket names
        # need it); both statements then go into the archive's one bucket or key policy, whose
        # Sids must differ.
        bucket, key = f"arn:aws:s3:::{EXTERNAL_BUCKET}", EXTERNAL_KEY
        for output in ("ExternalOutputBucketPolicy", "ExternalOutputKeyPolicy"):
            with self.subTest(output=output):
                sids = [
                    json.loads(_output(_stack(NamePrefix=prefix, ExternalOutputBucketArn=bucket, ExternalOutputKmsKeyArn=key), output))["Sid"]
                    for prefix in ("s3logs", "s3logs-two")
                ]
                self.assertNotEqual(sids[0], sids[1])
                for sid in sids:
                    self.assertRegex(sid, r"^[A-Za-z0-9]+$")

    def test_parameter_patterns(self):
        parameters = self.plain.template["Parameters"]
        bucket, key = parameters["ExternalOutputBucketArn"]["AllowedPattern"], parameters["ExternalOutputKmsKeyArn"]["AllowedPattern"]
        for good in ("", f"arn:aws:s3:::{EXTERNAL_BUCKET}", "arn:aws-cn:s3:::a.b-c"):
            self.assertRegex(good, bucket)
        for bad in (EXTERNAL_BUCKET, f"arn:aws:s3:::{EXTERNAL_BUCKET}/records/", "arn:aws:s3:::*"):
            self.assertNotRegex(bad, bucket)
        self.assertRegex(EXTERNAL_KEY, key)
        self.assertNotRegex("alias/records", key)
        self.assertTrue(re.fullmatch(key, ""))


if __name__ == "__main__":
    unittest.main()
