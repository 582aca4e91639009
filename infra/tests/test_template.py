"""template.yaml agrees with itself and with the code it deploys.

CloudFormation cannot share a value between a bucket name, a policy ARN and a notification filter
without creating dependency cycles, so some strings appear more than once. These tests make sure
the copies agree, and that the functions get exactly the settings and permissions the Rust crates
expect.
"""

import json
import pathlib
import re
import tomllib
import unittest

import cfn

PREPROCESSOR_ENV = {
    "DELIVERY_STREAM_NAME", "SOURCE_BUCKET", "SOURCE_PREFIX", "OUTPUT_BUCKET", "OUTPUT_PREFIX",
    "PACKING", "MAX_RECORD_BYTES", "RUST_LOG",
}
POSTPROCESSOR_ENV = {"RULES", "EXCLUDE_USER_AGENT", "OUTPUT", "MAX_DECOMPRESSED_BYTES", "RUST_LOG"}
AUDIT_RULES = ["sigv2", "tls-legacy", "acl-required", "access-denied", "anonymous", "parse-errors"]
# The EMF metrics the functions print, with the dimension set each is printed with.
EMF_METRICS = {
    **{m: {"Function"} for m in (
        "LinesRead", "Records", "ParseErrors", "FirehoseRecords", "FirehoseBatches",
        "RetriedEntries", "Billed5KBUnits", "BytesIn", "DurationMs", "BadLines",
    )},
    "Hits": {"Function", "Rule"},
}
FIREHOSE_TO_HIVE = {"yyyy": "year", "MM": "month", "dd": "day", "HH": "hour"}


class TemplateConsistency(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = cfn.load_template()
        cls.r = cls.t["Resources"]
        cls.params = cfn.parameter_defaults(cls.t)
        cls.vars = {
            **cls.params,
            "AWS::AccountId": "111122223333",
            "AWS::Region": "eu-west-1",
            "AWS::Partition": "aws",
            "OutputBucket": "OUTPUT-BUCKET",
            "RawLogBucket": "RAW-BUCKET",
        }

    def props(self, logical_id):
        return self.r[logical_id]["Properties"]

    def bucket_name(self, logical_id):
        return cfn.sub(self.props(logical_id)["BucketName"], self.vars)

    def env(self, function):
        return self.props(function)["Environment"]["Variables"]

    def test_firehose_prefix_is_hive_style_under_records_prefix(self):
        s3 = self.props("DeliveryStream")["ExtendedS3DestinationConfiguration"]
        prefix = cfn.sub(s3["Prefix"], self.params)
        self.assertEqual(
            prefix,
            "records/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/",
        )
        # GZIP unless the preprocessor already gzips each record (Packing=gzip); either way the
        # objects are gzip under .gz, which the postprocessor's notification filter expects.
        self.assertEqual(s3["CompressionFormat"], {"Fn::If": ["GzipRecords", "UNCOMPRESSED", "GZIP"]})
        self.assertEqual(s3["FileExtension"], {"Fn::If": ["GzipRecords", ".gz", {"Ref": "AWS::NoValue"}]})
        self.assertEqual(self.t["Conditions"]["GzipRecords"], {"Fn::Equals": [{"Ref": "Packing"}, "gzip"]})
        errors = s3["ErrorOutputPrefix"]
        self.assertIn("!{firehose:error-output-type}", errors)
        self.assertFalse(errors.startswith(self.params["RecordsPrefix"]), "error output must stay out of the table")

    def test_glue_location_template_matches_firehose_prefix(self):
        s3 = self.props("DeliveryStream")["ExtendedS3DestinationConfiguration"]
        firehose = cfn.sub(s3["Prefix"], self.params)
        expected = "s3://OUTPUT-BUCKET/" + re.sub(
            r"!\{timestamp:(\w+)\}", lambda m: "${" + FIREHOSE_TO_HIVE[m.group(1)] + "}", firehose
        )
        table = self.props("RecordsTable")["TableInput"]
        params = table["Parameters"]
        self.assertEqual(cfn.sub(params["storage.location.template"], self.vars), expected)
        self.assertEqual(cfn.sub(table["StorageDescriptor"]["Location"], self.vars), "s3://OUTPUT-BUCKET/records/")
        keys = [k["Name"] for k in table["PartitionKeys"]]
        self.assertEqual(keys, ["year", "month", "day", "hour"])
        self.assertEqual(params["projection.enabled"], "true")
        for key in keys:
            self.assertEqual(params[f"projection.{key}.type"], "integer")
        for key in ("month", "day", "hour"):
            self.assertEqual(params[f"projection.{key}.digits"], "2", "Firehose writes MM, dd and HH zero-padded")
        serde = table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
        self.assertEqual(serde, "org.openx.data.jsonserde.JsonSerDe")

    def test_notifications_and_self_loop_guard_use_the_same_prefixes(self):
        def rules(bucket):
            (config,) = self.props(bucket)["NotificationConfiguration"]["LambdaConfigurations"]
            return config["Function"], {r["Name"]: r["Value"] for r in config["Filter"]["S3Key"]["Rules"]}

        function, raw_rules = rules("RawLogBucket")
        self.assertEqual(function, {"Fn::GetAtt": ["Preprocessor", "Arn"]})
        self.assertEqual(raw_rules, {"prefix": {"Ref": "RawLogPrefix"}})
        function, out_rules = rules("OutputBucket")
        self.assertEqual(function, {"Fn::GetAtt": ["Postprocessor", "Arn"]})
        self.assertEqual(out_rules, {"prefix": {"Ref": "RecordsPrefix"}, "suffix": ".gz"})

        env = self.env("Preprocessor")
        self.assertEqual(cfn.sub(env["SOURCE_BUCKET"], self.vars), self.bucket_name("RawLogBucket"))
        self.assertEqual(env["SOURCE_PREFIX"], {"Ref": "RawLogPrefix"})
        self.assertEqual(cfn.sub(env["OUTPUT_BUCKET"], self.vars), self.bucket_name("OutputBucket"))
        self.assertEqual(env["OUTPUT_PREFIX"], {"Ref": "RecordsPrefix"})
        self.assertEqual(env["DELIVERY_STREAM_NAME"], {"Ref": "DeliveryStream"})

    def test_names_built_from_strings_match_the_buckets(self):
        # The permissions and policies name the buckets by string to avoid a dependency cycle.
        for function, bucket, prefix in (
            ("Preprocessor", "RawLogBucket", "RawLogPrefix"),
            ("Postprocessor", "OutputBucket", "RecordsPrefix"),
        ):
            with self.subTest(function=function):
                name = self.bucket_name(bucket)
                arn = cfn.sub(self.props(f"{function}InvokePermission")["SourceArn"], self.vars)
                self.assertEqual(arn, f"arn:aws:s3:::{name}")
                self.assertEqual(self.r[bucket]["DependsOn"], f"{function}InvokePermission")
                (policy,) = self.props(f"{function}Role")["Policies"]
                reads = [s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "s3:GetObject"]
                (read,) = reads
                self.assertEqual(cfn.sub(read["Resource"], self.vars), f"arn:aws:s3:::{name}/{self.params[prefix]}*")

    def test_bucket_names_fit_s3_rules(self):
        longest = {**self.vars, "NamePrefix": "a" * 20, "AWS::Region": "ap-southeast-7"}
        for bucket, resource in cfn.resources_of_type(self.t, "AWS::S3::Bucket").items():
            with self.subTest(bucket=bucket):
                name = cfn.sub(resource["Properties"]["BucketName"], longest)
                self.assertLessEqual(len(name), 63)
                self.assertRegex(name, r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")

    def test_function_policies_are_exact(self):
        for function in ("Preprocessor", "Postprocessor"):
            with self.subTest(function=function):
                props = self.props(function)
                self.assertEqual(props["Role"], {"Fn::GetAtt": [f"{function}Role", "Arn"]})
                self.assertNotIn("Policies", props, "one policy per function, on its role")
                role = self.props(f"{function}Role")
                self.assertNotIn("ManagedPolicyArns", role)
                (policy,) = role["Policies"]
                for statement in policy["PolicyDocument"]["Statement"]:
                    self.assertEqual(statement["Effect"], "Allow")
                    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                    for action in actions:
                        self.assertNotIn("*", action)
                    self.assertNotEqual(statement["Resource"], "*")
        (pre,) = self.props("PreprocessorRole")["Policies"]
        actions = {a for s in pre["PolicyDocument"]["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
        self.assertEqual(actions, {"s3:GetObject", "firehose:PutRecordBatch", "logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"})
        (post,) = self.props("PostprocessorRole")["Policies"]
        actions = {a for s in post["PolicyDocument"]["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
        self.assertEqual(actions, {"s3:GetObject", "logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"})

    def test_environment_is_the_contract(self):
        self.assertEqual(set(self.env("Preprocessor")), PREPROCESSOR_ENV)
        self.assertEqual(set(self.env("Postprocessor")), POSTPROCESSOR_ENV)
        pattern = self.t["Parameters"]["AuditRules"]["AllowedPattern"]
        for rule in AUDIT_RULES:
            self.assertRegex(rule, pattern)
        self.assertRegex(",".join(AUDIT_RULES), pattern)
        self.assertRegex("all", pattern)
        self.assertNotRegex("sigv2,", pattern)
        self.assertNotRegex("all,sigv2", pattern)
        self.assertNotRegex("sigv4", pattern)

    def test_functions_build_with_cargo_lambda(self):
        for function, package in (("Preprocessor", "preprocessor"), ("Postprocessor", "postprocessor")):
            with self.subTest(function=function):
                meta = self.r[function]["Metadata"]
                self.assertEqual(meta["BuildMethod"], "rust-cargolambda")
                self.assertEqual(meta["BuildProperties"]["Binary"], package)
                props = self.props(function)
                self.assertEqual(props["CodeUri"], f"crates/{package}")
        globals_ = self.t["Globals"]["Function"]
        self.assertEqual(globals_["Runtime"], "provided.al2023")
        self.assertEqual(globals_["Architectures"], ["arm64"])
        self.assertEqual(globals_["LoggingConfig"]["LogFormat"], "JSON")

    def test_binary_names_are_the_crate_package_names(self):
        for package in ("preprocessor", "postprocessor"):
            with self.subTest(package=package):
                manifest = cfn.ROOT / "crates" / package / "Cargo.toml"
                if not manifest.exists():
                    self.skipTest(f"crates/{package} is not in the workspace yet")
                self.assertEqual(tomllib.loads(manifest.read_text())["package"]["name"], package)

    def test_alarms_watch_metrics_the_functions_print(self):
        alarms = cfn.resources_of_type(self.t, "AWS::CloudWatch::Alarm")
        custom = {k: a["Properties"] for k, a in alarms.items() if a["Properties"]["Namespace"] == "S3AccessLogs"}
        self.assertEqual(
            {(p["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in p["Dimensions"]))) for p in custom.values()},
            {
                ("ParseErrors", (("Function", "preprocessor"),)),
                ("Hits", (("Function", "postprocessor"), ("Rule", "sigv2"))),
            },
        )
        for name, p in custom.items():
            self.assertEqual({d["Name"] for d in p["Dimensions"]}, EMF_METRICS[p["MetricName"]], name)
        for name, alarm in alarms.items():
            with self.subTest(alarm=name):
                self.assertEqual(
                    alarm["Properties"]["AlarmActions"],
                    {"Fn::If": ["HasAlarmEmail", [{"Ref": "AlarmTopic"}], {"Ref": "AWS::NoValue"}]},
                )
                self.assertEqual(alarm["Properties"]["TreatMissingData"], "notBreaching")

    def test_failures_go_to_the_encrypted_queue(self):
        self.assertTrue(self.props("FailedEventsQueue")["SqsManagedSseEnabled"])
        for function in ("Preprocessor", "Postprocessor"):
            with self.subTest(function=function):
                config = self.props(function)["EventInvokeConfig"]
                on_failure = config["DestinationConfig"]["OnFailure"]
                self.assertEqual(on_failure, {"Type": "SQS", "Destination": {"Fn::GetAtt": ["FailedEventsQueue", "Arn"]}})

    def test_put_bucket_logging_command(self):
        command = cfn.sub(self.t["Outputs"]["PutBucketLoggingCommand"]["Value"], self.vars)
        match = re.fullmatch(
            r"aws s3api put-bucket-logging --bucket SOURCE_BUCKET --bucket-logging-status '(.*)'", command
        )
        self.assertIsNotNone(match, command)
        status = json.loads(match.group(1))
        self.assertEqual(status["LoggingEnabled"]["TargetBucket"], "RAW-BUCKET")
        self.assertEqual(status["LoggingEnabled"]["TargetPrefix"], self.params["RawLogPrefix"])
        self.assertIn("PartitionedPrefix", status["LoggingEnabled"]["TargetObjectKeyFormat"])

    def test_raw_log_delivery_is_limited_to_the_log_service_and_account(self):
        statements = self.props("RawLogBucketPolicy")["PolicyDocument"]["Statement"]
        (delivery,) = [s for s in statements if s["Effect"] == "Allow"]
        self.assertEqual(delivery["Principal"], {"Service": "logging.s3.amazonaws.com"})
        self.assertEqual(delivery["Action"], "s3:PutObject")
        self.assertEqual(delivery["Condition"]["StringEquals"], {"aws:SourceAccount": {"Ref": "AWS::AccountId"}})
        self.assertIn("aws:SourceArn", delivery["Condition"]["ArnLike"])

    def test_every_suppression_says_why(self):
        for name, resource in self.r.items():
            metadata = resource.get("Metadata", {})
            for skip in metadata.get("checkov", {}).get("skip", []):
                with self.subTest(resource=name, check=skip.get("id")):
                    self.assertRegex(skip["id"], r"^CKV_AWS_\d+$")
                    self.assertGreater(len(skip.get("comment", "")), 30, "a skipped check needs its reason")
        # cfn-lint ignores (Metadata cfn-lint config ignore_checks) carry their reason as a comment
        # just above; the parsed template has no comments, so read the text.
        lines = cfn.TEMPLATE_PATH.read_text().splitlines()
        for number, line in enumerate(lines):
            if line.strip().startswith("ignore_checks:"):
                above = [previous.strip() for previous in lines[max(0, number - 3) : number]]
                self.assertTrue(
                    any(previous.startswith("#") for previous in above),
                    f"template.yaml line {number + 1}: say why the cfn-lint check is ignored",
                )

    def test_every_bucket_is_hardened(self):
        policies = {
            p["Properties"]["Bucket"]["Ref"]: p for p in cfn.resources_of_type(self.t, "AWS::S3::BucketPolicy").values()
        }
        for bucket, resource in cfn.resources_of_type(self.t, "AWS::S3::Bucket").items():
            with self.subTest(bucket=bucket):
                props = resource["Properties"]
                (sse,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                self.assertEqual(sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"], "AES256")
                self.assertTrue(all(props["PublicAccessBlockConfiguration"].values()))
                self.assertEqual(len(props["PublicAccessBlockConfiguration"]), 4)
                (rule,) = props["LifecycleConfiguration"]["Rules"]
                self.assertIn("ExpirationInDays", rule)
                self.assertEqual(rule["AbortIncompleteMultipartUpload"], {"DaysAfterInitiation": 1})
                statements = policies[bucket]["Properties"]["PolicyDocument"]["Statement"]
                self.assertIn(
                    {"Bool": {"aws:SecureTransport": "false"}},
                    [s.get("Condition") for s in statements if s["Effect"] == "Deny"],
                )


if __name__ == "__main__":
    unittest.main()
