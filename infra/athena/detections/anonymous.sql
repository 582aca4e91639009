-- Detection anonymous: unauthenticated requests outside website endpoints. Severity medium; MITRE ATT&CK T1530,T1619.
-- One row per unauthenticated request of the last 7 days outside the website endpoint, CORS preflights
-- (REST.OPTIONS.PREFLIGHT, never signed) left out.
-- The same rule as the audit engine's (s3logs audit, the postprocessor); docs/detections.md describes it and
-- infra/tests/test_detections_sql.py checks that this query and the engine find the same hits on a shared
-- fixture. Like the engine, it skips no user agent: only the client-software rules honour EXCLUDE_USER_AGENT.
--
-- Reads s3_access_logs.records_dedup, the view the create_records_dedup_view named query creates (run it
-- once): the last 30 days of records with each record_id once, so a log line delivered twice counts once.
-- Placeholders: s3_access_logs is the database (the stack's DatabaseName parameter, default s3_access_logs);
-- replace it to run this elsewhere. Portable SQL: Athena (Trino) and DuckDB run it as is.

SELECT
  'anonymous' AS rule,
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
  log_file
FROM s3_access_logs.records_dedup
WHERE request_time >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '7' DAY
  AND (requester IS NULL OR requester = 'Anonymous')
  AND operation NOT LIKE 'WEBSITE.%'
  AND operation NOT LIKE 'REST.OPTIONS.%'
ORDER BY request_time DESC, record_id
LIMIT 1000
