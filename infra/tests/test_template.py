"""template.yaml agrees with itself and with the code it deploys.

CloudFormation cannot share a value between a bucket name, a policy ARN and a notification filter
without creating dependency cycles, so some strings appear more than once. These tests make sure
the copies agree, and that the functions get exactly the settings and permissions the Rust crates
expect.
"""

import itertools
import json
import pathlib
import re
import tomllib
import unittest

import catalogue
import cfn

PREPROCESSOR_ENV = {
    "DELIVERY_STREAM_NAME", "SOURCE_BUCKET", "SOURCE_PREFIX", "OUTPUT_BUCKET", "OUTPUT_PREFIX",
    "PACKING", "RECORD_KEYS", "MAX_RECORD_BYTES", "MAX_OBJECT_BYTES", "RUST_LOG", "MALLOC_MMAP_THRESHOLD_",
}
POSTPROCESSOR_ENV = {
    "RULES", "DETECTION_SETTINGS", "EXCLUDE_USER_AGENT", "OUTPUT", "MAX_DECOMPRESSED_BYTES", "MAX_SPOOL_BYTES", "RUST_LOG",
}
# The postprocessor's default MAX_SPOOL_BYTES, as crates/postprocessor/src/config.rs writes it.
POSTPROCESSOR_CONFIG = cfn.ROOT / "crates" / "postprocessor" / "src" / "config.rs"
# The detection catalogue's ids, twice written down outside the template: the rows of the catalogue table
# in docs/detections.md (whose sections crates/pipeline/tests/detections.rs holds to the engine) and the
# Athena files infra/athena/detections/<id>.sql.
DETECTIONS_DOC = cfn.ROOT / "docs" / "detections.md"
CATALOGUE_ROW = re.compile(r"^\| `([a-z0-9-]+)` \| (?:high|medium|low|info) \|", re.MULTILINE)
DETECTION_FILES = cfn.ROOT / "infra" / "athena" / "detections"
# The EMF metrics the functions print, with the dimension set each is printed with
# (docs/record.md and the metrics contract: namespace S3AccessLogs, Function = the function's name).
EMF_METRICS = {
    **{m: {"Function"} for m in (
        "LinesRead", "Records", "ParseErrors", "FirehoseRecords", "FirehoseBatches",
        "RetriedEntries", "Billed5KBUnits", "BytesIn", "DurationMs", "BadLines",
        "ObjectsRead", "ObjectsSkipped", "ObjectsFailed", "DamagedObjects", "WindowEvictions",
    )},
    "Hits": {"Function", "Rule"},
    "QuarantinedContent": {"Function", "Reason"},
}
FUNCTIONS = ("preprocessor", "postprocessor")
# Why the preprocessor quarantines content it cannot read as log lines (ParseError and the Reason
# dimension of QuarantinedContent).
QUARANTINE_REASONS = ("truncated-gzip", "unsupported-compression", "unsupported-format", "size-cap")
# Where the engine names those reasons (`Unreadable::name`); `unreadable-parquet` is the audit's, for a
# damaged Parquet object of records (DamagedObjects), which the preprocessor never reads.
DECODE_RS = cfn.ROOT / "crates" / "pipeline" / "src" / "decode.rs"
REASON_NAME = re.compile(r'Unreadable::\w+(?:\(_\))? => "([a-z-]+)"')
AUDIT_ONLY_REASONS = {"unreadable-parquet"}
# The decoded bytes the preprocessor reads per raw object when MAX_OBJECT_BYTES is unset: 1 GiB.
DEFAULT_MAX_OBJECT_BYTES = 1 << 30
# Where the preprocessor may keep progress markers in the output bucket.
STATE_PREFIX = "_state/"
FIREHOSE_TO_HIVE = {"yyyy": "year", "MM": "month", "dd": "day", "HH": "hour"}
# The compact record's short keys (docs/record.md, "Compact record (Parquet mode)"), which
# crates/s3-access-log/tests/compact.rs holds equal to the code's key table.
RECORD_DOC = cfn.ROOT / "docs" / "record.md"
COMPACT_SECTION = "## Compact record (Parquet mode)"
SHORT_KEY_ROW = re.compile(r"^\| `(\w+)` \| `([a-z]{1,2})` \|$", re.MULTILINE)


def short_keys():
    """Record key -> short key, from docs/record.md's compact record table."""
    section = RECORD_DOC.read_text().split(COMPACT_SECTION, 1)[1].split("\n## ", 1)[0]
    rows = SHORT_KEY_ROW.findall(section)
    if not rows:
        raise AssertionError(f"docs/record.md: no short-key rows under {COMPACT_SECTION!r}")
    return dict(rows)


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
        off = dict.fromkeys(cls.t["Conditions"], False)
        # The stack as deployed with the raw events sent straight to the preprocessor (the
        # default) and through SQS; every other optional part left out.
        cls.modes = {
            "direct": cfn.deployed_resources(cls.t, {**off, "RawEventsDirect": True}),
            "sqs": cfn.deployed_resources(cls.t, {**off, "RawEventsViaSqs": True}),
        }
        # OutputFormat=json (the default, as every mode above) and parquet.
        cls.formats = {
            "json": cls.modes["direct"],
            "parquet": cfn.deployed_resources(cls.t, {**off, "RawEventsDirect": True, "ParquetOutput": True}),
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
        # json: GZIP unless the preprocessor already gzips each record (Packing=gzip); either way the
        # objects are gzip under .gz, which the postprocessor's notification filter expects.
        # parquet: the pages are compressed inside the file, which Firehose leaves as it is.
        self.assertEqual(
            s3["CompressionFormat"],
            {"Fn::If": ["ParquetOutput", "UNCOMPRESSED", {"Fn::If": ["GzipRecords", "UNCOMPRESSED", "GZIP"]}]},
        )
        self.assertEqual(
            s3["FileExtension"],
            {"Fn::If": ["ParquetOutput", ".parquet", {"Fn::If": ["GzipRecords", ".gz", {"Ref": "AWS::NoValue"}]}]},
        )
        self.assertEqual(self.t["Conditions"]["GzipRecords"], {"Fn::Equals": [{"Ref": "Packing"}, "gzip"]})
        self.assertEqual(self.t["Conditions"]["ParquetOutput"], {"Fn::Equals": [{"Ref": "OutputFormat"}, "parquet"]})
        errors = s3["ErrorOutputPrefix"]
        self.assertIn("!{firehose:error-output-type}", errors)
        self.assertFalse(errors.startswith(self.params["RecordsPrefix"]), "error output must stay out of the table")

    def test_glue_location_template_matches_firehose_prefix(self):
        s3 = self.props("DeliveryStream")["ExtendedS3DestinationConfiguration"]
        firehose = cfn.sub(s3["Prefix"], self.params)
        expected = "s3://OUTPUT-BUCKET/" + re.sub(
            r"!\{timestamp:(\w+)\}", lambda m: "${" + FIREHOSE_TO_HIVE[m.group(1)] + "}", firehose
        )
        table = self.modes["direct"]["RecordsTable"]["Properties"]["TableInput"]
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
        def rules(resources, bucket, kind="LambdaConfigurations", target="Function"):
            notifications = resources[bucket]["Properties"]["NotificationConfiguration"]
            self.assertEqual(set(notifications), {kind}, f"{bucket} notifies only through {kind}")
            (config,) = notifications[kind]
            self.assertEqual(config["Event"], "s3:ObjectCreated:*")
            return config[target], {r["Name"]: r["Value"] for r in config["Filter"]["S3Key"]["Rules"]}

        direct, sqs = self.modes["direct"], self.modes["sqs"]
        function, raw_rules = rules(direct, "RawLogBucket")
        self.assertEqual(function, {"Fn::GetAtt": ["Preprocessor", "Arn"]})
        self.assertEqual(raw_rules, {"prefix": {"Ref": "RawLogPrefix"}})
        queue, queued_rules = rules(sqs, "RawLogBucket", "QueueConfigurations", "Queue")
        self.assertEqual(queue, {"Fn::GetAtt": ["RawEventsQueue", "Arn"]})
        self.assertEqual(queued_rules, raw_rules)
        for resources in (direct, sqs):
            function, out_rules = rules(resources, "OutputBucket")
            self.assertEqual(function, {"Fn::GetAtt": ["Postprocessor", "Arn"]})
            self.assertEqual(out_rules, {"prefix": {"Ref": "RecordsPrefix"}, "suffix": ".gz"})
        _, parquet_rules = rules(self.formats["parquet"], "OutputBucket")
        self.assertEqual(parquet_rules, {"prefix": {"Ref": "RecordsPrefix"}, "suffix": ".parquet"})

        env = self.modes["direct"]["Preprocessor"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(cfn.sub(env["SOURCE_BUCKET"], self.vars), self.bucket_name("RawLogBucket"))
        self.assertEqual(env["SOURCE_PREFIX"], {"Ref": "RawLogPrefix"})
        self.assertEqual(cfn.sub(env["OUTPUT_BUCKET"], self.vars), self.bucket_name("OutputBucket"))
        self.assertEqual(env["OUTPUT_PREFIX"], {"Ref": "RecordsPrefix"})
        self.assertEqual(env["DELIVERY_STREAM_NAME"], {"Ref": "DeliveryStream"})

    def test_names_built_from_strings_match_the_buckets(self):
        # The permissions and policies name the buckets by string to avoid a dependency cycle.
        for function, bucket, prefix, sid in (
            ("Preprocessor", "RawLogBucket", "RawLogPrefix", "ReadRawLogs"),
            ("Postprocessor", "OutputBucket", "RecordsPrefix", "ReadRecords"),
        ):
            with self.subTest(function=function):
                name = self.bucket_name(bucket)
                arn = cfn.sub(self.props(f"{function}InvokePermission")["SourceArn"], self.vars)
                self.assertEqual(arn, f"arn:aws:s3:::{name}")
                (read,) = [s for s in self.statements("direct", function) if s.get("Sid") == sid]
                self.assertEqual(cfn.sub(read["Resource"], self.vars), f"arn:aws:s3:::{name}/{self.params[prefix]}*")

    def test_preprocessor_lists_only_its_raw_logs(self):
        # Without ListBucket a raw log deleted since its event reads as 403, kept for retry,
        # instead of 404, skipped as gone; the listing is limited to the logs' prefix.
        (lookup,) = [s for s in self.statements("direct", "Preprocessor") if s.get("Sid") == "RawLogLookup"]
        self.assertEqual(lookup["Action"], "s3:ListBucket")
        self.assertEqual(cfn.sub(lookup["Resource"], self.vars), f"arn:aws:s3:::{self.bucket_name('RawLogBucket')}")
        prefix = cfn.sub(lookup["Condition"]["StringLike"]["s3:prefix"], self.vars)
        self.assertEqual(prefix, f"{self.params['RawLogPrefix']}*")

    def statements(self, mode, function):
        (policy,) = self.modes[mode][f"{function}Role"]["Properties"]["Policies"]
        return policy["PolicyDocument"]["Statement"]

    def test_bucket_names_fit_s3_rules(self):
        longest = {**self.vars, "NamePrefix": "a" * 20, "AWS::Region": "ap-southeast-7"}
        for bucket, resource in cfn.resources_of_type(self.t, "AWS::S3::Bucket").items():
            with self.subTest(bucket=bucket):
                name = cfn.sub(resource["Properties"]["BucketName"], longest)
                self.assertLessEqual(len(name), 63)
                self.assertRegex(name, r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")

    def test_function_policies_are_exact(self):
        def statements(resources, function):
            (policy,) = resources[f"{function}Role"]["Properties"]["Policies"]
            return policy["PolicyDocument"]["Statement"]

        def actions(resources, function):
            return {a for s in statements(resources, function) for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}

        for mode, resources in self.modes.items():
            for function in ("Preprocessor", "Postprocessor"):
                with self.subTest(mode=mode, function=function):
                    props = resources[function]["Properties"]
                    self.assertEqual(props["Role"], {"Fn::GetAtt": [f"{function}Role", "Arn"]})
                    self.assertNotIn("Policies", props, "one policy per function, on its role")
                    self.assertNotIn("ManagedPolicyArns", resources[f"{function}Role"]["Properties"])
                    for statement in statements(resources, function):
                        self.assertEqual(statement["Effect"], "Allow")
                        listed = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                        for action in listed:
                            self.assertNotIn("*", action)
                        self.assertNotEqual(statement["Resource"], "*")
        pre = {"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:ListBucket", "firehose:PutRecordBatch", "logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"}
        polling = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
        post = {"s3:GetObject", "logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"}
        self.assertEqual(actions(self.modes["direct"], "Preprocessor"), pre)
        self.assertEqual(actions(self.modes["sqs"], "Preprocessor"), pre | polling)
        for resources in self.modes.values():
            self.assertEqual(actions(resources, "Postprocessor"), post)
        (poll,) = [s for s in statements(self.modes["sqs"], "Preprocessor") if set(s["Action"]) == polling]
        self.assertEqual(poll["Resource"], {"Fn::GetAtt": ["RawEventsQueue", "Arn"]})

    def test_preprocessor_state_stays_out_of_the_records(self):
        (state,) = [s for s in self.statements("direct", "Preprocessor") if "s3:PutObject" in s["Action"]]
        self.assertEqual(sorted(state["Action"]), ["s3:GetObject", "s3:PutObject"])
        self.assertEqual(
            cfn.sub(state["Resource"], self.vars), f"arn:aws:s3:::{self.bucket_name('OutputBucket')}/{STATE_PREFIX}*"
        )
        # Listing is only for the markers' prefix, so a missing marker reads as 404, not 403.
        (lookup,) = [s for s in self.statements("direct", "Preprocessor") if s.get("Sid") == "StateLookup"]
        self.assertEqual(cfn.sub(lookup["Resource"], self.vars), f"arn:aws:s3:::{self.bucket_name('OutputBucket')}")
        self.assertEqual(lookup["Condition"], {"StringLike": {"s3:prefix": f"{STATE_PREFIX}*"}})
        rules = {r["Id"]: r for r in self.props("OutputBucket")["LifecycleConfiguration"]["Rules"]}
        self.assertEqual(rules["expire-state"], {"Id": "expire-state", "Status": "Enabled", "Prefix": STATE_PREFIX, "ExpirationInDays": 7})
        # The postprocessor's trigger and the Glue table both start at RecordsPrefix, which can
        # never be _state/ or contain it.
        pattern = self.t["Parameters"]["RecordsPrefix"]["AllowedPattern"]
        self.assertRegex(self.params["RecordsPrefix"], pattern)
        for prefix in (STATE_PREFIX, "_records/", "records/_state/"):
            self.assertNotRegex(prefix, pattern)
        self.assertFalse(STATE_PREFIX.startswith(self.params["RecordsPrefix"]))
        table = self.modes["direct"]["RecordsTable"]["Properties"]["TableInput"]["StorageDescriptor"]
        self.assertEqual(cfn.sub(table["Location"], self.vars), f"s3://OUTPUT-BUCKET/{self.params['RecordsPrefix']}")

    def test_output_format_parameter(self):
        parameter = self.t["Parameters"]["OutputFormat"]
        self.assertEqual(parameter["Default"], "json")
        self.assertEqual(parameter["AllowedValues"], ["json", "parquet"])

    def test_json_output_converts_nothing(self):
        s3 = self.formats["json"]["DeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
        self.assertNotIn("DataFormatConversionConfiguration", s3)
        self.assertEqual(s3["CompressionFormat"], "GZIP")
        statements = self.formats["json"]["FirehoseRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        self.assertNotIn("ReadRecordsSchema", [s["Sid"] for s in statements])

    def test_parquet_output_converts_against_the_records_table(self):
        resources = self.formats["parquet"]
        s3 = resources["DeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
        self.assertEqual(s3["CompressionFormat"], "UNCOMPRESSED", "Parquet compresses its own pages")
        self.assertEqual(s3["FileExtension"], ".parquet")
        conversion = s3["DataFormatConversionConfiguration"]
        self.assertIs(conversion["Enabled"], True)
        (deserializer,) = conversion["InputFormatConfiguration"]["Deserializer"].items()
        self.assertEqual(deserializer[0], "OpenXJsonSerDe")
        (serializer,) = conversion["OutputFormatConfiguration"]["Serializer"].items()
        self.assertEqual(serializer, ("ParquetSerDe", {"Compression": "GZIP"}))
        schema = conversion["SchemaConfiguration"]
        self.assertEqual(schema["DatabaseName"], {"Ref": "GlueDatabase"})
        self.assertEqual(schema["TableName"], {"Ref": "RecordsTable"})
        self.assertEqual(schema["RoleARN"], {"Fn::GetAtt": ["FirehoseRole", "Arn"]})
        self.assertEqual(schema["VersionId"], "LATEST")
        # Firehose reads the compact record the preprocessor sends in this mode: each column from
        # the short key of the record key the JSON table's SerDe maps it to, keys matched exactly.
        serde = cfn.records_table(self.t, "json")["StorageDescriptor"]["SerdeInfo"]["Parameters"]
        table_mappings = {k.removeprefix("mapping."): v for k, v in serde.items() if k.startswith("mapping.")}
        short = short_keys()
        self.assertEqual(sorted(short), sorted(table_mappings.values()), "every record key has one short key")
        self.assertEqual(len(set(short.values())), len(short), "short keys are unique")
        self.assertEqual(
            deserializer[1]["ColumnToJsonKeyMappings"],
            {column: short[key] for column, key in table_mappings.items()},
        )
        self.assertIs(deserializer[1]["CaseInsensitive"], False)
        statements = resources["FirehoseRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        (glue,) = [s for s in statements if s.get("Sid") == "ReadRecordsSchema"]
        self.assertEqual(sorted(glue["Action"]), ["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"])
        table_arn = cfn.sub(glue["Resource"][2], self.vars)
        self.assertEqual(table_arn, "arn:aws:glue:eu-west-1:111122223333:table/s3_access_logs/records")
        self.assertEqual(cfn.records_table(self.t)["Name"], "records")

    def test_preprocessor_sends_compact_records_exactly_when_firehose_converts_them(self):
        # That the function accepts each of these values is tested against its own configuration
        # parser: crates/preprocessor/tests/template_record_keys.rs.
        for output_format, keys in (("json", "full"), ("parquet", "compact")):
            with self.subTest(output_format=output_format):
                preprocessor = self.formats[output_format]["Preprocessor"]["Properties"]
                self.assertEqual(preprocessor["Environment"]["Variables"]["RECORD_KEYS"], keys)

    def refused(self, rule_name, parameter_values):
        """The combinations of `parameter_values` (name -> allowed values) that rule `rule_name` refuses,
        its functions evaluated as CloudFormation does (parameter values are strings)."""
        rule = self.t["Rules"][rule_name]

        def value(argument, parameters):
            return parameters[argument["Ref"]] if isinstance(argument, dict) else argument

        def holds(expression, parameters):
            (function, argument), = expression.items()
            if function == "Fn::Equals":
                left, right = (value(a, parameters) for a in argument)
                return left == right
            if function == "Fn::Not":
                return not holds(argument[0], parameters)
            if function == "Fn::Contains":
                values, needle = argument
                return value(needle, parameters) in values
            raise AssertionError(f"{function} is not evaluated here")

        names = list(parameter_values)
        refused = set()
        for combination in itertools.product(*parameter_values.values()):
            parameters = dict(zip(names, combination, strict=True))
            if holds(rule["RuleCondition"], parameters) and not all(
                holds(a["Assert"], parameters) for a in rule["Assertions"]
            ):
                refused.add(combination)
        return refused

    def test_parquet_with_gzip_packing_is_refused(self):
        refused = self.refused("ParquetNeedsJsonRecords", {
            "OutputFormat": self.t["Parameters"]["OutputFormat"]["AllowedValues"],
            "Packing": self.t["Parameters"]["Packing"]["AllowedValues"],
        })
        self.assertEqual(refused, {("parquet", "gzip")})
        message = self.t["Rules"]["ParquetNeedsJsonRecords"]["Assertions"][0]["AssertDescription"]
        for words in ("OutputFormat=parquet", "Packing=gzip", "packed or line"):
            self.assertIn(words, message)

    def test_parquet_with_a_buffer_under_64_mib_is_refused(self):
        # Firehose: "BufferingHints.SizeInMBs must be at least 64 when data format conversion is enabled".
        parameter = self.t["Parameters"]["FirehoseBufferSizeMB"]
        sizes = [str(n) for n in range(parameter["MinValue"], parameter["MaxValue"] + 1)]
        refused = self.refused("ParquetNeedsLargeBuffer", {
            "OutputFormat": self.t["Parameters"]["OutputFormat"]["AllowedValues"],
            "FirehoseBufferSizeMB": sizes,
        })
        self.assertEqual(refused, {("parquet", str(n)) for n in range(1, 64)})
        self.assertGreaterEqual(int(parameter["Default"]), 64, "the defaults deploy with OutputFormat=parquet")
        message = self.t["Rules"]["ParquetNeedsLargeBuffer"]["Assertions"][0]["AssertDescription"]
        for words in ("OutputFormat=parquet", "FirehoseBufferSizeMB", "at least 64"):
            self.assertIn(words, message)

    def test_spool_limit_is_half_the_postprocessor_ephemeral_storage(self):
        parameter = self.t["Parameters"]["PostprocessorEphemeralStorageMB"]
        postprocessor = self.props("Postprocessor")
        self.assertEqual(postprocessor["EphemeralStorage"], {"Size": {"Ref": "PostprocessorEphemeralStorageMB"}})
        self.assertEqual(
            self.env("Postprocessor")["MAX_SPOOL_BYTES"],
            {"Fn::FindInMap": ["SpoolBytes", {"Ref": "PostprocessorEphemeralStorageMB"}, "Max"]},
        )
        spool = self.t["Mappings"]["SpoolBytes"]
        self.assertEqual(sorted(spool, key=int), [str(v) for v in parameter["AllowedValues"]])
        for size_mb, entry in spool.items():
            with self.subTest(size_mb=size_mb):
                # Lambda's MB are MiB here: 512 gives 256 MiB.
                self.assertEqual(int(entry["Max"]), int(size_mb) * (1 << 20) // 2)
        self.assertEqual(int(parameter["Default"]), 512, "Lambda's default /tmp")
        default = re.search(r"DEFAULT_MAX_SPOOL_BYTES: u64 = (\d+) << (\d+);", POSTPROCESSOR_CONFIG.read_text())
        self.assertIsNotNone(default, "config.rs: DEFAULT_MAX_SPOOL_BYTES not found")
        self.assertEqual(int(spool[str(parameter["Default"])]["Max"]), int(default[1]) << int(default[2]))

    def test_max_object_bytes_reaches_the_preprocessor(self):
        parameter = self.t["Parameters"]["MaxObjectBytes"]
        self.assertEqual(self.env("Preprocessor")["MAX_OBJECT_BYTES"], {"Ref": "MaxObjectBytes"})
        self.assertEqual(parameter["Type"], "Number")
        self.assertEqual(int(parameter["Default"]), DEFAULT_MAX_OBJECT_BYTES)
        # 0 means "the default" to the function; the template never passes it.
        self.assertGreater(int(parameter["MinValue"]), 0)
        self.assertLessEqual(int(parameter["MinValue"]), int(parameter["Default"]))
        self.assertGreaterEqual(int(parameter["MaxValue"]), int(parameter["Default"]))
        self.assertIn("size-cap", parameter["Description"])
        groups = self.t["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        self.assertEqual(sum(g["Parameters"].count("MaxObjectBytes") for g in groups), 1)

    def test_sqs_triggers_report_batch_item_failures(self):
        # Without ReportBatchItemFailures, one failed object returns every message of its batch to
        # the queue, and the objects already delivered are delivered again.
        for mode, resources in self.modes.items():
            queues = {k for k, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
            mappings = {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::Lambda::EventSourceMapping"}
            sam_events = [
                (k, e["Properties"]) for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"
                for e in r["Properties"].get("Events", {}).values() if e["Type"] == "SQS"
            ]
            from_queues = {k: p for k, p in mappings.items() if p["EventSourceArn"]["Fn::GetAtt"][0] in queues}
            with self.subTest(mode=mode):
                self.assertEqual(len(from_queues) + len(sam_events), 1 if mode == "sqs" else 0)
                for name, p in [*from_queues.items(), *sam_events]:
                    self.assertEqual(p["FunctionResponseTypes"], ["ReportBatchItemFailures"], name)

    def test_raw_events_queue_follows_aws_guidance(self):
        sqs = self.modes["sqs"]
        queue = sqs["RawEventsQueue"]["Properties"]
        longest_timeout = int(self.t["Parameters"]["PreprocessorTimeout"]["MaxValue"])
        # AWS: visibility timeout at least six times the function timeout; SQS allows 12 hours.
        self.assertGreaterEqual(queue["VisibilityTimeout"], 6 * longest_timeout)
        self.assertLessEqual(queue["VisibilityTimeout"], 12 * 3600)
        self.assertTrue(queue["SqsManagedSseEnabled"])
        redrive = queue["RedrivePolicy"]
        self.assertEqual(redrive["deadLetterTargetArn"], {"Fn::GetAtt": ["RawEventsDeadLetterQueue", "Arn"]})
        self.assertGreaterEqual(redrive["maxReceiveCount"], 2)
        dead = sqs["RawEventsDeadLetterQueue"]["Properties"]
        self.assertTrue(dead["SqsManagedSseEnabled"])
        self.assertGreater(dead["MessageRetentionPeriod"], queue["MessageRetentionPeriod"])
        mapping = sqs["RawEventsSourceMapping"]["Properties"]
        self.assertEqual(mapping["FunctionName"], {"Fn::GetAtt": ["Preprocessor", "Arn"]})
        self.assertEqual(mapping["BatchSize"], {"Ref": "RawEventsBatchSize"})
        self.assertLessEqual(int(self.t["Parameters"]["RawEventsBatchSize"]["MaxValue"]), 10, "over 10 needs a batching window")
        # Only the raw bucket of this account may send; the bucket waits for that policy.
        (allow,) = [s for s in sqs["RawEventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
        self.assertEqual(allow["Principal"], {"Service": "s3.amazonaws.com"})
        self.assertEqual(allow["Action"], "sqs:SendMessage")
        self.assertEqual(cfn.sub(allow["Condition"]["ArnEquals"]["aws:SourceArn"], self.vars), f"arn:aws:s3:::{self.bucket_name('RawLogBucket')}")

    def test_raw_events_alarm_before_they_expire(self):
        # A message never received expires after MessageRetentionPeriod without reaching the
        # dead-letter queue: its age alarms first, but not for a message retried as designed.
        sqs = self.modes["sqs"]
        queue = sqs["RawEventsQueue"]["Properties"]
        (age,) = [
            a["Properties"] for a in sqs.values()
            if a["Type"] == "AWS::CloudWatch::Alarm" and a["Properties"]["MetricName"] == "ApproximateAgeOfOldestMessage"
        ]
        self.assertEqual(age["Namespace"], "AWS/SQS")
        self.assertEqual(age["Dimensions"], [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["RawEventsQueue", "QueueName"]}}])
        self.assertEqual((age["Statistic"], age["ComparisonOperator"]), ("Maximum", "GreaterThanThreshold"))
        retried = queue["RedrivePolicy"]["maxReceiveCount"] * queue["VisibilityTimeout"]
        self.assertGreater(age["Threshold"], retried)
        # Time left to act: at least a day between the alarm and the expiry.
        self.assertLessEqual(age["Threshold"] + age["Period"] * age["EvaluationPeriods"] + 86400, queue["MessageRetentionPeriod"])
        self.assertFalse(
            any(a["Type"] == "AWS::CloudWatch::Alarm" and a["Properties"]["MetricName"] == "ApproximateAgeOfOldestMessage" for a in self.modes["direct"].values())
        )

    def test_buckets_wait_for_their_notification_destinations(self):
        # S3 refuses a notification whose destination does not accept it yet. In sqs mode S3 may
        # not invoke the preprocessor at all.
        self.assertEqual(self.r["OutputBucket"]["DependsOn"], "PostprocessorInvokePermission")
        self.assertEqual(self.r["RawLogBucket"]["DependsOn"], "RawEventsDestinationReady")
        for mode, destination in (("direct", "PreprocessorInvokePermission"), ("sqs", "RawEventsQueuePolicy")):
            with self.subTest(mode=mode):
                resources = self.modes[mode]
                self.assertEqual(resources["RawEventsDestinationReady"]["Metadata"]["Destination"], {"Ref": destination})
                self.assertTrue(destination in resources, f"{destination} is not created")
        self.assertFalse("PreprocessorInvokePermission" in self.modes["sqs"], "S3 may invoke the preprocessor")

    def test_every_failed_events_queue_alarms(self):
        for mode, resources in self.modes.items():
            alarmed = {
                a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
                for a in resources.values()
                if a["Type"] == "AWS::CloudWatch::Alarm" and a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
            }
            dead_letter = {"FailedEventsQueue"} | {
                r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
                for r in resources.values() if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]
            }
            with self.subTest(mode=mode):
                self.assertEqual(alarmed, dead_letter)

    def test_records_firehose_cannot_convert_alarm(self):
        # With Parquet output a record that does not convert lands under errors/ while the
        # delivery succeeds: DeliveryToS3.Success stays 1, and only FailedConversion.Records
        # (AWS/Firehose, per stream) counts it. JSON output converts nothing.
        for output_format, resources in self.formats.items():
            converting = [
                a["Properties"] for a in resources.values()
                if a["Type"] == "AWS::CloudWatch::Alarm" and a["Properties"]["MetricName"] == "FailedConversion.Records"
            ]
            with self.subTest(output_format=output_format):
                if output_format == "json":
                    self.assertEqual(converting, [])
                    continue
                (alarm,) = converting
                self.assertEqual(alarm["Namespace"], "AWS/Firehose")
                self.assertEqual(alarm["Dimensions"], [{"Name": "DeliveryStreamName", "Value": {"Ref": "DeliveryStream"}}])
                self.assertEqual((alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]), ("Sum", 0, "GreaterThanThreshold"))
                errors = resources["DeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"]["ErrorOutputPrefix"]
                self.assertTrue(errors.startswith("errors/!{firehose:error-output-type}/"))
                self.assertIn("errors/format-conversion-failed/", alarm["AlarmDescription"])

    def test_preprocessor_keeps_large_buffers_mmapped(self):
        # A fixed glibc mmap threshold is what keeps the function's peak memory flat in object
        # size (scripts/bench-preprocessor-moto.sh); glibc reads it only as a whole byte count.
        self.assertEqual(self.env("Preprocessor")["MALLOC_MMAP_THRESHOLD_"], "131072")

    def test_environment_is_the_contract(self):
        self.assertEqual(set(self.env("Preprocessor")), PREPROCESSOR_ENV)
        self.assertEqual(set(self.env("Postprocessor")), POSTPROCESSOR_ENV)
        # Empty keeps every default threshold (the postprocessor reads an empty list as no settings).
        self.assertEqual(self.env("Postprocessor")["DETECTION_SETTINGS"], {"Ref": "DetectionSettings"})
        self.assertEqual(self.t["Parameters"]["DetectionSettings"]["Default"], "")

    def test_audit_rules_accept_exactly_the_catalogue(self):
        catalogue = CATALOGUE_ROW.findall(DETECTIONS_DOC.read_text())
        self.assertGreaterEqual(len(catalogue), 15, "docs/detections.md's catalogue table was not found")
        self.assertEqual(sorted(catalogue), sorted(p.stem for p in DETECTION_FILES.glob("*.sql")))
        parameter = self.t["Parameters"]["AuditRules"]
        pattern = parameter["AllowedPattern"]
        for rule in catalogue:
            self.assertRegex(rule, pattern)
            self.assertRegex(f"sigv2,{rule}", pattern)
            # Nothing but whole ids: a prefix or an extension of an id is no rule.
            self.assertNotRegex(rule[:-1], pattern)
            self.assertNotRegex(rule + "s", pattern)
        self.assertRegex(",".join(catalogue), pattern)
        self.assertRegex("all", pattern)
        self.assertNotRegex("sigv2,", pattern)
        self.assertNotRegex("all,sigv2", pattern)
        self.assertNotRegex("sigv4", pattern)
        # The pattern's alternatives are the catalogue, no more: a rule removed from the engine must go.
        alternatives = re.findall(r"\(([a-z0-9|-]+)\)", pattern)
        self.assertTrue(alternatives)
        for alternative in alternatives:
            self.assertEqual(sorted(alternative.split("|")), sorted(catalogue))
        listed = parameter["ConstraintDescription"].removeprefix("all, or a comma list of ").rstrip(".").split(", ")
        self.assertEqual(sorted(listed), sorted(catalogue), "ConstraintDescription names every rule")

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

    def test_every_quarantine_reason_of_the_engine_has_its_alarm(self):
        named = set(REASON_NAME.findall(DECODE_RS.read_text())) - AUDIT_ONLY_REASONS
        self.assertEqual(named, set(QUARANTINE_REASONS))

    def test_alarms_watch_metrics_the_functions_print(self):
        alarms = cfn.resources_of_type(self.t, "AWS::CloudWatch::Alarm")
        custom = {k: a["Properties"] for k, a in alarms.items() if a["Properties"]["Namespace"] == "S3AccessLogs"}
        self.assertEqual(
            {(p["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in p["Dimensions"]))) for p in custom.values()},
            {
                ("ParseErrors", (("Function", "preprocessor"),)),
                ("Hits", (("Function", "postprocessor"), ("Rule", "sigv2"))),
                *{("ObjectsFailed", (("Function", f),)) for f in FUNCTIONS},
                *{("QuarantinedContent", (("Function", "preprocessor"), ("Reason", r))) for r in QUARANTINE_REASONS},
                # The opt-in alarms of test_dashboard.py.
                *{
                    ("Hits", (("Function", "postprocessor"), ("Rule", rule)))
                    for rule, severity in catalogue.severities().items()
                    if severity == "high"
                },
            },
        )
        for name, p in custom.items():
            with self.subTest(alarm=name):
                self.assertEqual({d["Name"] for d in p["Dimensions"]}, EMF_METRICS[p["MetricName"]])
                dimensions = {d["Name"]: d["Value"] for d in p["Dimensions"]}
                self.assertIn(dimensions["Function"], FUNCTIONS)
                self.assertIn(dimensions.get("Reason", QUARANTINE_REASONS[0]), QUARANTINE_REASONS)
                if p["MetricName"] in ("ObjectsFailed", "QuarantinedContent"):
                    # Any one failed object or quarantined piece of content is worth a look.
                    self.assertEqual((p["Statistic"], p["Threshold"], p["ComparisonOperator"]), ("Sum", 0, "GreaterThanThreshold"))
        for name, alarm in alarms.items():
            with self.subTest(alarm=name):
                self.assertEqual(
                    alarm["Properties"]["AlarmActions"],
                    {"Fn::If": ["HasAlarmEmail", [{"Ref": "AlarmTopic"}], {"Ref": "AWS::NoValue"}]},
                )
                self.assertEqual(alarm["Properties"]["TreatMissingData"], "notBreaching")

    def test_objects_failed_alarms_name_where_the_failures_end(self):
        # Only the preprocessor has the raw events queue (RawEventsVia=sqs); the postprocessor is
        # always invoked by its bucket, so its failures end in the failed-events queue alone.
        alarms = cfn.resources_of_type(self.t, "AWS::CloudWatch::Alarm")
        for function, dead_letter in (("preprocessor", True), ("postprocessor", False)):
            (alarm,) = [
                a["Properties"] for a in alarms.values()
                if a["Properties"]["MetricName"] == "ObjectsFailed" and a["Properties"]["Dimensions"][0]["Value"] == function
            ]
            with self.subTest(function=function):
                self.assertIn("failed-events queue", alarm["AlarmDescription"])
                self.assertEqual("dead-letter" in alarm["AlarmDescription"], dead_letter)
                self.assertEqual("delivery" in alarm["AlarmDescription"], function == "preprocessor")

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
                rules = props["LifecycleConfiguration"]["Rules"]
                for rule in rules:
                    self.assertIn("ExpirationInDays", rule)
                (everything,) = [r for r in rules if "Prefix" not in r]
                self.assertEqual(everything["AbortIncompleteMultipartUpload"], {"DaysAfterInitiation": 1})
                statements = policies[bucket]["Properties"]["PolicyDocument"]["Statement"]
                self.assertIn(
                    {"Bool": {"aws:SecureTransport": "false"}},
                    [s.get("Condition") for s in statements if s["Effect"] == "Deny"],
                )


if __name__ == "__main__":
    unittest.main()
