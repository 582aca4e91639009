-- Detection access-denied: requests denied with HTTP 403 / AccessDenied. Severity low; MITRE ATT&CK -.
-- One row per request of the last 7 days answered 403 or AccessDenied (access_denied_by_requester.sql
-- groups them per requester and also leaves out AWS service principals).
-- The same rule as the audit engine's (s3logs audit, the postprocessor); docs/detections.md describes it and
-- infra/tests/test_detections_sql.py checks that this query and the engine find the same hits on a shared
-- fixture. Like the engine's default EXCLUDE_USER_AGENT, it skips the S3 console and AWS-internal traffic.
--
-- Reads s3_access_logs.records_dedup, the view the create_records_dedup_view named query creates (run it
-- once): the last 30 days of records with each RecordId once, so a log line delivered twice counts once.
-- Placeholders: s3_access_logs is the database (the stack's DatabaseName parameter, default s3_access_logs);
-- replace it to run this elsewhere. Portable SQL: Athena (Trino) and DuckDB run it as is.

SELECT
  'access-denied' AS rule,
  "Timestamp",
  Bucket,
  RemoteIP,
  Requester,
  Operation,
  Key,
  HTTPstatus,
  ErrorCode,
  BytesSent,
  ObjectSize,
  UserAgent,
  RecordId,
  LogFile
FROM s3_access_logs.records_dedup
WHERE "Timestamp" >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '7' DAY
  AND COALESCE(UserAgent, '') NOT LIKE '%S3Console%'
  AND COALESCE(UserAgent, '') NOT LIKE '%aws-internal%'
  AND COALESCE(UserAgent, '') NOT LIKE '%AWSConfig%'
  AND (HTTPstatus = 403 OR ErrorCode = 'AccessDenied')
ORDER BY "Timestamp" DESC, RecordId
LIMIT 1000
