-- Detection mass-deletion: bursts of object deletions by one requester. Severity high; MITRE ATT&CK T1485.
-- One row per requester that deleted at least the threshold of objects in one window of the last 7 days
-- (total = objects). A multi-object delete is logged as one BATCH.DELETE.OBJECT record per key, which
-- are counted, and one REST.POST.MULTI_OBJECT_DELETE record, which is not.
-- The same rule as the audit engine's (s3logs audit, the postprocessor); docs/detections.md describes it and
-- infra/tests/test_detections_sql.py checks that this query and the engine find the same hits on a shared
-- fixture. Like the engine, it skips no user agent: only the client-software rules honour EXCLUDE_USER_AGENT.
-- Windows are fixed: the day is cut into windows of the setting's length from 00:00 UTC, as in the engine.
-- The window length is the literal after % in window_start (minutes of the day; any length that divides a
-- day works, as in the engine).
-- Athena windows span every record the query reads; the postprocessor counts within one invocation only.
--
-- Settings, at the engine's defaults; edit the literals below to change them:
-- Setting mass-deletion.count = 100
-- Setting mass-deletion.minutes = 10
--
-- Reads s3_access_logs.records_dedup, the view the create_records_dedup_view named query creates (run it
-- once): the last 30 days of records with each record_id once, so a log line delivered twice counts once.
-- Placeholders: s3_access_logs is the database (the stack's DatabaseName parameter, default s3_access_logs);
-- replace it to run this elsewhere. Portable SQL: Athena (Trino) and DuckDB run it as is.

SELECT
  'mass-deletion' AS rule,
  window_by,
  subject,
  window_start,
  SUM(amount) AS total,
  COUNT(*) AS requests,
  MIN(request_time) AS first_seen,
  MAX(request_time) AS last_seen
FROM (
  SELECT 'Requester' AS window_by, requester AS subject, window_start, request_time, amount
  FROM (
    SELECT
      remote_ip,
      requester,
      request_time,
      1 AS amount,
      date_trunc('day', request_time) + ((hour(request_time) * 60 + minute(request_time)) - (hour(request_time) * 60 + minute(request_time)) % 10) * INTERVAL '1' MINUTE AS window_start
    FROM s3_access_logs.records_dedup
    WHERE request_time >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '7' DAY
      AND operation IN ('REST.DELETE.OBJECT', 'BATCH.DELETE.OBJECT')
      AND http_status BETWEEN 200 AND 299
      AND requester <> 'Anonymous'
  ) events
  WHERE requester IS NOT NULL
) subjects
GROUP BY window_by, subject, window_start
HAVING SUM(amount) >= 100
ORDER BY window_start DESC, total DESC, window_by, subject
LIMIT 1000
