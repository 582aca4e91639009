"""The event payloads AWS sends to the functions when an object is created.

Shapes follow the AWS documentation:
* S3 event notification, version 2.1
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html).
  The object key is URL-encoded as in a form (space is `+`, `=` is `%3D`): a Hive-style key
  `year=2025/...` arrives as `year%3D2025/...`.
* The same notification delivered through an SQS queue (the JSON is the message body).
* The EventBridge "Object Created" event
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html), whose key is not
  URL-encoded.
* The S3 Batch Operations "Invoke AWS Lambda function" event, invocation schema 2.0
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html): one task
  per invocation, the bucket by name (`s3Bucket`), the key URL-encoded as in the job's manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import urllib.parse
import uuid
from typing import Any

from stack import ACCOUNT_ID, REGION


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _sequencer(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:18].upper()


def s3_record(bucket: str, key: str, size: int, etag: str, event_name: str = "ObjectCreated:Put") -> dict[str, Any]:
    """One `Records[]` entry of an S3 event notification."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": _now(),
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AROAEXAMPLEE2E:e2e"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
            "x-amz-id-2": hashlib.sha256(key.encode()).hexdigest(),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "e2e",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": {
                "key": urllib.parse.quote_plus(key, safe="/"),
                "size": size,
                "eTag": etag.strip('"'),
                "sequencer": _sequencer(key),
            },
        },
    }


def s3_notification(objects: list[tuple[str, str, int, str]]) -> dict[str, Any]:
    """An S3 event notification for (bucket, key, size, etag) objects."""
    return {"Records": [s3_record(*o) for o in objects]}


def sqs_of_s3_notification(notification: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """The SQS event a function gets when S3 notifies a queue."""
    body = json.dumps(notification)
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "e2e-receipt-handle",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(int(dt.datetime.now().timestamp() * 1000)),
                    "SenderId": "AIDAEXAMPLEE2E",
                    "ApproximateFirstReceiveTimestamp": str(
                        int(dt.datetime.now().timestamp() * 1000)
                    ),
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's digest
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
        ]
    }


def eventbridge_object_created(bucket: str, key: str, size: int, etag: str) -> dict[str, Any]:
    """The EventBridge event S3 sends for a new object."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT_ID,
        "time": _now()[:19] + "Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": size,
                "etag": etag.strip('"'),
                "sequencer": _sequencer(key),
            },
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": ACCOUNT_ID,
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        },
    }


def s3_test_event(bucket: str) -> dict[str, Any]:
    """The `s3:TestEvent` S3 sends to a function when a bucket notification to it is created."""
    return {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": _now(),
        "Bucket": bucket,
        "RequestId": uuid.uuid4().hex[:16].upper(),
        "HostId": hashlib.sha256(bucket.encode()).hexdigest(),
    }


def batch_job_v2(job_id: str, bucket: str, key: str) -> dict[str, Any]:
    """The event a Batch Operations job with InvocationSchemaVersion 2.0 (and no UserArguments, as
    the template's BackfillCommand creates it) sends for one task."""
    return {
        "invocationSchemaVersion": "2.0",
        "invocationId": uuid.uuid4().hex,
        "job": {"id": job_id},
        "tasks": [
            {
                "taskId": uuid.uuid4().hex,
                "s3Key": urllib.parse.quote(key, safe="/"),
                "s3VersionId": None,
                "s3Bucket": bucket,
            }
        ],
    }
