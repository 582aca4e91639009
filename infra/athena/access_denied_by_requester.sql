-- AccessDenied responses by requester within a time range, by default the last 7 days.
-- Edit the window: the two request-time bounds (request_time lines), for example
-- request_time >= TIMESTAMP '2026-03-01 00:00:00'. The view holds the last 30 days; for an older
-- window, widen the view first (create_records_dedup_view).
--
-- Reads s3_access_logs.records_dedup, the view the create_records_dedup_view named query creates
-- (run it once): the last 30 days of records with each record_id once, so a log line delivered
-- twice (S3 delivering a log object twice, a retried Lambda event) is counted once. A filter on
-- the view cannot reach below its window function, so every query over it scans those 30 days.
--
-- Placeholders: the deployed named query uses the stack's DatabaseName parameter (default
-- s3_access_logs) instead of s3_access_logs; nothing else differs (infra/tests/test_named_queries.py
-- checks it). To run this elsewhere, replace s3_access_logs with your database.
-- Portable SQL: Athena (Trino) runs it as is, and so does DuckDB over the same files
-- (infra/tests/test_athena_sql.py).

SELECT
  requester,
  bucket_name,
  operation,
  COUNT(*) AS denied,
  COUNT(DISTINCT remote_ip) AS remote_ips,
  MIN(request_time) AS first_seen,
  MAX(request_time) AS last_seen
FROM s3_access_logs.records_dedup
WHERE request_time >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '7' DAY
  AND request_time < CAST(CURRENT_TIMESTAMP AS TIMESTAMP)
  AND error_code = 'AccessDenied'
GROUP BY requester, bucket_name, operation
ORDER BY denied DESC, requester, bucket_name, operation
LIMIT 1000
