-- Detection bulk-download: bytes sent to one IP or requester in a window over a threshold. Severity high; MITRE ATT&CK T1530.
-- One row per IP and per requester sent at least the threshold of bytes in one window of the last 7 days
-- (total = bytes_sent_size summed over every request); anonymous requests count for their IP only.
-- The same rule as the audit engine's (s3logs audit, the postprocessor); docs/detections.md describes it and
-- infra/tests/test_detections_sql.py checks that this query and the engine find the same hits on a shared
-- fixture. Like the engine, it skips no user agent: only the client-software rules honour EXCLUDE_USER_AGENT.
-- Windows are fixed: the day is cut into windows of the setting's length from 00:00 UTC, as in the engine.
-- The window length is the literal after % in window_start (minutes of the day; any length that divides a
-- day works, as in the engine).
-- Athena windows span every record the query reads; the postprocessor counts within one invocation only.
--
-- Settings, at the engine's defaults; edit the literals below to change them:
-- Setting bulk-download.bytes = 10737418240
-- Setting bulk-download.minutes = 60
--
-- Reads s3_access_logs.records_dedup, the view the create_records_dedup_view named query creates (run it
-- once): the last 30 days of records with each record_id once, so a log line delivered twice counts once.
-- Placeholders: s3_access_logs is the database (the stack's DatabaseName parameter, default s3_access_logs);
-- replace it to run this elsewhere. Portable SQL: Athena (Trino) and DuckDB run it as is.

SELECT
  'bulk-download' AS rule,
  window_by,
  subject,
  window_start,
  SUM(amount) AS total,
  COUNT(*) AS requests,
  MIN(request_time) AS first_seen,
  MAX(request_time) AS last_seen
FROM (
  SELECT 'RemoteIP' AS window_by, remote_ip AS subject, window_start, request_time, amount
  FROM (
    SELECT
      remote_ip,
      requester,
      request_time,
      bytes_sent_size AS amount,
      date_trunc('day', request_time) + ((hour(request_time) * 60 + minute(request_time)) - (hour(request_time) * 60 + minute(request_time)) % 60) * INTERVAL '1' MINUTE AS window_start
    FROM s3_access_logs.records_dedup
    WHERE request_time >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '7' DAY
      AND bytes_sent_size > 0
  ) events
  WHERE remote_ip IS NOT NULL
  UNION ALL
  SELECT 'Requester' AS window_by, requester AS subject, window_start, request_time, amount
  FROM (
    SELECT
      remote_ip,
      requester,
      request_time,
      bytes_sent_size AS amount,
      date_trunc('day', request_time) + ((hour(request_time) * 60 + minute(request_time)) - (hour(request_time) * 60 + minute(request_time)) % 60) * INTERVAL '1' MINUTE AS window_start
    FROM s3_access_logs.records_dedup
    WHERE request_time >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '7' DAY
      AND bytes_sent_size > 0
  ) events
  WHERE requester IS NOT NULL AND requester <> 'Anonymous'
) subjects
GROUP BY window_by, subject, window_start
HAVING SUM(amount) >= 10737418240
ORDER BY window_start DESC, total DESC, window_by, subject
LIMIT 1000
