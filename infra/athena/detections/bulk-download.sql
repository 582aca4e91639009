-- Detection bulk-download: bytes sent to one IP or requester in a window over a threshold. Severity high; MITRE ATT&CK T1530.
-- One row per IP and per requester sent at least the threshold of bytes in one window of the last 7 days
-- (total = BytesSent summed over every request).
-- The same rule as the audit engine's (s3logs audit, the postprocessor); docs/detections.md describes it and
-- infra/tests/test_detections_sql.py checks that this query and the engine find the same hits on a shared
-- fixture. Like the engine's default EXCLUDE_USER_AGENT, it skips the S3 console and AWS-internal traffic.
-- Windows are fixed: the day is cut into windows of the setting's length from 00:00 UTC, as in the engine.
-- Athena windows span every record the query reads; the postprocessor counts within one invocation only.
--
-- Settings, at the engine's defaults; edit the literals below to change them:
-- Setting bulk-download.bytes = 10737418240
-- Setting bulk-download.minutes = 60
--
-- Reads s3_access_logs.records_dedup, the view the create_records_dedup_view named query creates (run it
-- once): the last 30 days of records with each RecordId once, so a log line delivered twice counts once.
-- Placeholders: s3_access_logs is the database (the stack's DatabaseName parameter, default s3_access_logs);
-- replace it to run this elsewhere. Portable SQL: Athena (Trino) and DuckDB run it as is.

SELECT
  'bulk-download' AS rule,
  window_by,
  subject,
  window_start,
  SUM(amount) AS total,
  COUNT(*) AS requests,
  MIN("Timestamp") AS first_seen,
  MAX("Timestamp") AS last_seen
FROM (
  SELECT 'RemoteIP' AS window_by, RemoteIP AS subject, window_start, "Timestamp", amount
  FROM (
    SELECT
      RemoteIP,
      Requester,
      "Timestamp",
      BytesSent AS amount,
      date_trunc('hour', "Timestamp") AS window_start
    FROM s3_access_logs.records_dedup
    WHERE "Timestamp" >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '7' DAY
      AND COALESCE(UserAgent, '') NOT LIKE '%S3Console%'
      AND COALESCE(UserAgent, '') NOT LIKE '%aws-internal%'
      AND COALESCE(UserAgent, '') NOT LIKE '%AWSConfig%'
      AND BytesSent > 0
  ) events
  WHERE RemoteIP IS NOT NULL
  UNION ALL
  SELECT 'Requester' AS window_by, Requester AS subject, window_start, "Timestamp", amount
  FROM (
    SELECT
      RemoteIP,
      Requester,
      "Timestamp",
      BytesSent AS amount,
      date_trunc('hour', "Timestamp") AS window_start
    FROM s3_access_logs.records_dedup
    WHERE "Timestamp" >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '7' DAY
      AND COALESCE(UserAgent, '') NOT LIKE '%S3Console%'
      AND COALESCE(UserAgent, '') NOT LIKE '%aws-internal%'
      AND COALESCE(UserAgent, '') NOT LIKE '%AWSConfig%'
      AND BytesSent > 0
  ) events
  WHERE Requester IS NOT NULL
) subjects
GROUP BY window_by, subject, window_start
HAVING SUM(amount) >= 10737418240
ORDER BY window_start DESC, total DESC, window_by, subject
LIMIT 1000
