"""The stack of template.yaml, deployed into moto_server as far as the pipeline needs it.

`Deployment` reads everything from the template: the bucket names, the delivery stream and its
S3 destination (prefix, error prefix, buffering, compression), the S3 notifications (which
function an object reaches, and the prefix/suffix filters), and each function's environment
(including the cargo binary it is built from, `Metadata.BuildProperties.Binary`).

`local.py env` prints a function's environment from here (run.sh starts `cargo lambda watch`
with exactly that environment, which the function inherits).
"""

from __future__ import annotations

import os

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firehose import ParquetConversion
from stack import REGION, Stack, TemplateError

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

# The stack parameters this test deploys with, as `sam deploy --parameter-overrides` would give
# them. Every detection of the catalogue is on, named one by one (so each id must pass the
# AuditRules AllowedPattern), so each kind of finding goes end to end; DetectionSettings lowers the
# burst thresholds to what hand-written input reaches (tests/e2e/data/raw/2025-11-24-...) and moves
# business hours to Europe/Berlin; ExcludeUserAgent keeps its default (empty), so the
# postprocessor's built-in exclusion is what applies.
# MaxRecordBytes is set low so one object's records span several Firehose records and batches.
# E2E_PACKING=gzip runs every check again with records gzipped by the preprocessor and stored
# as they come by the stream (the template switches Firehose's compression off for it).
# E2E_RAW_EVENTS_VIA=sqs runs them with the raw bucket notifying a queue the preprocessor polls.
# E2E_OUTPUT_FORMAT=parquet runs them with Firehose converting the records to Parquet
# (firehose.ParquetConversion), the Glue table over Parquet and the postprocessor reading it.
# BackfillSources names old logs in both key layouts of log delivery (SimplePrefix and
# PartitionedPrefix) in a bucket the test creates as the user's existing log bucket.
BACKFILL_BUCKET = "e2e-old-access-logs-123456789012"
PARAMETER_OVERRIDES = {
    "AuditRules": ",".join([
        "sigv2", "tls-legacy", "acl-required", "access-denied", "anonymous", "parse-errors",
        "public-read", "suspicious-user-agent", "off-hours", "large-response", "large-object",
        "bucket-config-change", "enumeration", "mass-deletion", "bulk-download",
    ]),
    "DetectionSettings": "enumeration.count=5;mass-deletion.count=6;mass-deletion.minutes=5;off-hours.time-zone=Europe/Berlin",
    "MaxRecordBytes": "16384",
    "Packing": os.environ.get("E2E_PACKING", "packed"),
    "RawEventsVia": os.environ.get("E2E_RAW_EVENTS_VIA", "direct"),
    "OutputFormat": os.environ.get("E2E_OUTPUT_FORMAT", "json"),
    "BackfillSources": f"{BACKFILL_BUCKET}/simple/,{BACKFILL_BUCKET}/partitioned/",
}

# Credentials moto accepts; never real ones.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass(frozen=True)
class Function:
    """A Lambda function of the stack."""

    logical_id: str
    name: str  # FunctionName as deployed
    arn: str
    binary: str  # the cargo binary (SAM BuildProperties.Binary), also the watch invoke name
    environment: dict[str, str]


@dataclass(frozen=True)
class Notification:
    """One S3 bucket notification to a Lambda function, straight or through an SQS queue that
    the function polls (then the function gets the notification as an SQS message body)."""

    bucket: str
    events: tuple[str, ...]
    prefix: str
    suffix: str
    function_arn: str
    queue_arn: str | None = None

    def matches(self, event_name: str, key: str) -> bool:
        """Whether S3 sends this notification for `event_name` (e.g. ObjectCreated:Put) on `key`."""
        wanted = any(fnmatch.fnmatchcase("s3:" + event_name, pattern) for pattern in self.events)
        return wanted and key.startswith(self.prefix) and key.endswith(self.suffix)


class Deployment:
    """What the template deploys, with names resolved for the test's stack."""

    def __init__(self, template: Path = TEMPLATE, overrides: dict[str, str] | None = None):
        overrides = dict(PARAMETER_OVERRIDES if overrides is None else overrides)
        self.stack = Stack(template, overrides)
        # The same stack with JSON output, whose records table maps each column to its full
        # record key: Parquet rows are read back into full records through it.
        self.json_stack = Stack(template, {**overrides, "OutputFormat": "json"})
        self._check_parameters(overrides)
        self.functions = {f.binary: f for f in self._functions()}
        self.buckets = [r.properties.get("BucketName") or self.stack.physical_id(r.logical_id)
                        for r in self.stack.of_type("AWS::S3::Bucket")]
        self.notifications = self._notifications()
        stream = self.stack.one_of_type("AWS::KinesisFirehose::DeliveryStream")
        self.stream_name = self.stack.physical_id(stream.logical_id)
        self.stream_properties = stream.properties
        destination = stream.properties.get("ExtendedS3DestinationConfiguration")
        if destination is None:
            raise TemplateError("the delivery stream has no ExtendedS3DestinationConfiguration")
        self.destination: dict[str, Any] = destination

    def records_table(self, stack: Stack | None = None) -> dict[str, Any]:
        """The Glue table over the output bucket's records (its TableInput), as the template
        defines it (for `stack`, this deployment's by default)."""
        tables = [t for t in (stack or self.stack).of_type("AWS::Glue::Table")
                  if t.properties["TableInput"]["StorageDescriptor"]["Location"].startswith(
                      f"s3://{self.output_bucket}/")]
        if len(tables) != 1:
            raise TemplateError(f"expected one Glue table over the output bucket, found {tables}")
        return tables[0].properties["TableInput"]

    def conversion(self) -> ParquetConversion | None:
        """The delivery stream's record format conversion, if it converts."""
        conversion = self.destination.get("DataFormatConversionConfiguration", {})
        if not conversion.get("Enabled"):
            return None
        serde = self.records_table(self.json_stack)["StorageDescriptor"]["SerdeInfo"]["Parameters"]
        record_keys = {k.removeprefix("mapping."): v for k, v in serde.items() if k.startswith("mapping.")}
        return ParquetConversion(conversion, self.records_table(), record_keys)

    # Template reading ---------------------------------------------------------------------

    def _check_parameters(self, overrides: dict[str, str]) -> None:
        """Validate overrides as CloudFormation would (AllowedPattern / AllowedValues)."""
        spec = self.stack.template.get("Parameters") or {}
        for name, value in overrides.items():
            if name not in spec:
                raise TemplateError(f"parameter override {name}: the template has no such parameter")
            pattern = spec[name].get("AllowedPattern")
            # A CommaDelimitedList's pattern applies to each of its values.
            values = value.split(",") if spec[name].get("Type") == "CommaDelimitedList" else [value]
            for item in values:
                if pattern is not None and not re.fullmatch(pattern, item):
                    raise TemplateError(f"parameter {name}={item!r} fails AllowedPattern {pattern}")
            allowed = spec[name].get("AllowedValues")
            if allowed is not None and value not in [str(a) for a in allowed]:
                raise TemplateError(f"parameter {name}={value!r} not in AllowedValues {allowed}")

    def _functions(self) -> list[Function]:
        functions = []
        for resource in self.stack.of_type("AWS::Serverless::Function"):
            binary = (resource.metadata.get("BuildProperties") or {}).get("Binary")
            if not binary:
                raise TemplateError(f"{resource.logical_id}: no Metadata.BuildProperties.Binary")
            variables = (resource.properties.get("Environment") or {}).get("Variables") or {}
            environment = {k: _env_text(v) for k, v in variables.items()}
            name = self.stack.physical_id(resource.logical_id)
            arn = self.stack.get_att(resource.logical_id, "Arn")
            functions.append(Function(resource.logical_id, name, arn, binary, environment))
        return functions

    def _notifications(self) -> list[Notification]:
        notifications = []
        for resource in self.stack.of_type("AWS::S3::Bucket"):
            bucket = resource.properties.get("BucketName") or self.stack.physical_id(resource.logical_id)
            config = resource.properties.get("NotificationConfiguration") or {}
            for other in ("TopicConfigurations", "EventBridgeConfiguration"):
                if other in config:
                    raise TemplateError(f"{resource.logical_id}: {other} is not wired up by the e2e test")
            targets = [(c, c["Function"], None) for c in config.get("LambdaConfigurations", [])]
            targets += [(c, self._poller(c["Queue"]), c["Queue"]) for c in config.get("QueueConfigurations", [])]
            for target, function_arn, queue_arn in targets:
                rules = {r["Name"].lower(): r["Value"] for r in
                         (target.get("Filter") or {}).get("S3Key", {}).get("Rules", [])}
                events = target["Event"] if isinstance(target["Event"], list) else [target["Event"]]
                notifications.append(Notification(
                    bucket=bucket,
                    events=tuple(events),
                    prefix=rules.get("prefix", ""),
                    suffix=rules.get("suffix", ""),
                    function_arn=function_arn,
                    queue_arn=queue_arn,
                ))
        for resource in self.stack.of_type("AWS::Serverless::Function"):
            for name, event in ((resource.properties.get("Events") or {})).items():
                raise TemplateError(
                    f"{resource.logical_id}.Events.{name} ({event.get('Type')}) is not wired up "
                    "by the e2e test; it follows bucket NotificationConfiguration only"
                )
        return notifications

    def _poller(self, queue_arn: str) -> str:
        """The ARN of the one function polling `queue_arn`, which must report batch item failures:
        without them one failed object sends its whole batch back and objects are delivered twice."""
        mappings = [m.properties for m in self.stack.of_type("AWS::Lambda::EventSourceMapping")
                    if m.properties.get("EventSourceArn") == queue_arn]
        if len(mappings) != 1:
            raise TemplateError(f"expected one event source mapping polling {queue_arn}, found {len(mappings)}")
        (mapping,) = mappings
        if mapping.get("FunctionResponseTypes") != ["ReportBatchItemFailures"]:
            raise TemplateError(f"the mapping polling {queue_arn} does not report batch item failures")
        return mapping["FunctionName"]

    # Questions the test asks ---------------------------------------------------------------

    def function(self, binary: str) -> Function:
        try:
            return self.functions[binary]
        except KeyError as error:
            raise TemplateError(f"no function built from binary {binary!r}") from error

    def function_by_arn(self, arn: str) -> Function:
        for function in self.functions.values():
            if function.arn == arn:
                return function
        raise TemplateError(f"no function with ARN {arn}")

    def matching(self, bucket: str, key: str, event_name: str = "ObjectCreated:Put") -> list[Notification]:
        """The notifications S3 sends when `key` is created in `bucket`."""
        return [n for n in self.notifications if n.bucket == bucket and n.matches(event_name, key)]

    def targets(self, bucket: str, key: str, event_name: str = "ObjectCreated:Put") -> list[Function]:
        """The functions S3 notifies when `key` is created in `bucket`."""
        return [self.function_by_arn(n.function_arn) for n in self.matching(bucket, key, event_name)]

    def source(self, binary: str = "preprocessor") -> tuple[str, str]:
        """(bucket, prefix) of the notification that feeds `binary`."""
        arn = self.function(binary).arn
        found = [(n.bucket, n.prefix) for n in self.notifications if n.function_arn == arn]
        if len(found) != 1:
            raise TemplateError(f"expected one bucket notification to {binary}, found {found}")
        return found[0]

    @property
    def backfill_sources(self) -> list[tuple[str, str]]:
        """(bucket, prefix) of each BackfillSources entry."""
        return [tuple(entry.split("/", 1)) for entry in self.stack.ref("BackfillSources")]

    @property
    def output_bucket(self) -> str:
        return self.destination["BucketARN"].split(":::", 1)[1]

    def function_environment(self, binary: str, endpoint: str) -> dict[str, str]:
        """The environment `binary` runs with: the template's, plus the local AWS endpoint."""
        env = dict(self.function(binary).environment)
        env.update(DUMMY_CREDENTIALS)
        env.update({
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
        })
        return env

    # Creating the resources in moto ----------------------------------------------------------

    def create(self, s3: Any, firehose: Any) -> None:
        """Create the buckets and the delivery stream in moto as the template declares them."""
        for bucket in self.buckets:
            s3.create_bucket(Bucket=bucket)
        destination = _api_shape(firehose, "ExtendedS3DestinationConfiguration", self.destination)
        firehose.create_delivery_stream(
            DeliveryStreamName=self.stream_name,
            DeliveryStreamType=self.stream_properties.get("DeliveryStreamType", "DirectPut"),
            ExtendedS3DestinationConfiguration=destination,
        )


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise TemplateError(f"environment value {value!r} did not resolve to a string")
    return str(value)


def _api_shape(client: Any, member: str, value: Any) -> Any:
    """`value` from the template converted to the API's types (CloudFormation passes numbers as
    strings); a key the API does not have is an error, not silently dropped."""
    operation = client.meta.service_model.operation_model("CreateDeliveryStream")
    shape = operation.input_shape.members[member]
    return _convert(shape, value, member)


def _convert(shape: Any, value: Any, path: str) -> Any:
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            raise TemplateError(f"{path}: expected a map, got {value!r}")
        out = {}
        for key, item in value.items():
            if key not in shape.members:
                raise TemplateError(f"{path}.{key}: not a field of the Firehose API")
            out[key] = _convert(shape.members[key], item, f"{path}.{key}")
        return out
    if shape.type_name == "list":
        return [_convert(shape.member, item, f"{path}[]") for item in value]
    if shape.type_name in ("integer", "long"):
        return int(value)
    if shape.type_name == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    return value
