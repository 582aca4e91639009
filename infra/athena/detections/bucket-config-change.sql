-- Detection bucket-config-change: bucket configuration changed (policy, ACL, public access, logging, ...). Severity high; MITRE ATT&CK T1098,T1562.008,T1485,T1530.
-- One row per successful PUT or DELETE of a bucket setting in the last 7 days: who (Requester), what
-- (Operation, Key for an object ACL) and from where (RemoteIP, UserAgent). Failed attempts are
-- in access-denied.
-- The same rule as the audit engine's (s3logs audit, the postprocessor); docs/detections.md describes it and
-- infra/tests/test_detections_sql.py checks that this query and the engine find the same hits on a shared
-- fixture. Like the engine's default EXCLUDE_USER_AGENT, it skips the S3 console and AWS-internal traffic.
--
-- Reads s3_access_logs.records_dedup, the view the create_records_dedup_view named query creates (run it
-- once): the last 30 days of records with each RecordId once, so a log line delivered twice counts once.
-- Placeholders: s3_access_logs is the database (the stack's DatabaseName parameter, default s3_access_logs);
-- replace it to run this elsewhere. Portable SQL: Athena (Trino) and DuckDB run it as is.

SELECT
  'bucket-config-change' AS rule,
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
  AND HTTPstatus BETWEEN 200 AND 299
  AND Operation IN (
    'REST.PUT.BUCKETPOLICY',
    'REST.DELETE.BUCKETPOLICY',
    'REST.PUT.ACL',
    'REST.PUT.PUBLIC_ACCESS_BLOCK',
    'REST.DELETE.PUBLIC_ACCESS_BLOCK',
    'REST.PUT.OWNERSHIP_CONTROLS',
    'REST.DELETE.OWNERSHIP_CONTROLS',
    'REST.PUT.ENCRYPTION',
    'REST.DELETE.ENCRYPTION',
    'REST.PUT.LOGGING_STATUS',
    'REST.PUT.LIFECYCLE',
    'REST.DELETE.LIFECYCLE',
    'REST.PUT.VERSIONING',
    'REST.PUT.REPLICATION',
    'REST.DELETE.REPLICATION',
    'REST.PUT.CORS',
    'REST.DELETE.CORS',
    'REST.PUT.WEBSITE',
    'REST.DELETE.WEBSITE'
  )
ORDER BY "Timestamp" DESC, RecordId
LIMIT 1000
