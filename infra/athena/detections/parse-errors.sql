-- Detection parse-errors: log lines that could not be parsed cleanly. Severity info; MITRE ATT&CK -.
-- One row per record with a parse_error among those that arrived in the last 7 days (such a record may
-- have no request_time, so the arrival partitions choose them; parse_errors.sql groups them per reason).
-- The same rule as the audit engine's (s3logs audit, the postprocessor); docs/detections.md describes it and
-- infra/tests/test_detections_sql.py checks that this query and the engine find the same hits on a shared
-- fixture. Like the engine, it skips no user agent: only the client-software rules honour EXCLUDE_USER_AGENT.
--
-- Reads s3_access_logs.records_dedup, the view the create_records_dedup_view named query creates (run it
-- once): the last 30 days of records with each record_id once, so a log line delivered twice counts once.
-- Placeholders: s3_access_logs is the database (the stack's DatabaseName parameter, default s3_access_logs);
-- replace it to run this elsewhere. Portable SQL: Athena (Trino) and DuckDB run it as is.

SELECT
  'parse-errors' AS rule,
  request_time,
  bucket_name,
  remote_ip,
  requester,
  operation,
  key_name,
  http_status,
  error_code,
  bytes_sent_size,
  object_size,
  user_agent,
  record_id,
  log_file,
  parse_error,
  raw_line
FROM s3_access_logs.records_dedup
WHERE year >= CAST(EXTRACT(YEAR FROM CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '7' DAY) AS VARCHAR)
  AND CAST(year || '-' || month || '-' || day || ' ' || hour || ':00:00' AS TIMESTAMP)
      >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '7' DAY - INTERVAL '1' HOUR
  AND parse_error IS NOT NULL
ORDER BY request_time DESC, record_id
LIMIT 1000
