-- Clients that signed requests with AWS Signature Version 2 in the last 24 hours, by IP,
-- requester, bucket, operation and user agent: the list to fix before SigV2 is refused.
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
  remote_ip,
  requester,
  bucket_name,
  operation,
  user_agent,
  COUNT(*) AS requests,
  MIN(request_time) AS first_seen,
  MAX(request_time) AS last_seen
FROM s3_access_logs.records_dedup
WHERE request_time >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '24' HOUR
  AND signature_version = 'SigV2'
GROUP BY remote_ip, requester, bucket_name, operation, user_agent
ORDER BY requests DESC, remote_ip, requester, bucket_name, operation, user_agent
LIMIT 1000
