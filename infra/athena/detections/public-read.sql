-- Detection public-read: successful anonymous object reads (public access). Severity high; MITRE ATT&CK T1530.
-- One row per successful (2xx) unauthenticated GET or HEAD of an object through the REST endpoint in
-- the last 7 days: data anyone can read.
-- The same rule as the audit engine's (s3logs audit, the postprocessor); docs/detections.md describes it and
-- infra/tests/test_detections_sql.py checks that this query and the engine find the same hits on a shared
-- fixture. Like the engine, it skips no user agent: only the client-software rules honour EXCLUDE_USER_AGENT.
--
-- Reads s3_access_logs.records_dedup, the view the create_records_dedup_view named query creates (run it
-- once): the last 30 days of records with each record_id once, so a log line delivered twice counts once.
-- Placeholders: s3_access_logs is the database (the stack's DatabaseName parameter, default s3_access_logs);
-- replace it to run this elsewhere. Portable SQL: Athena (Trino) and DuckDB run it as is.

SELECT
  'public-read' AS rule,
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
  AND operation IN ('REST.GET.OBJECT', 'REST.HEAD.OBJECT')
  AND http_status BETWEEN 200 AND 299
ORDER BY request_time DESC, record_id
LIMIT 1000
