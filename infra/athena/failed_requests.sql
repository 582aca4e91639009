-- Failed requests (HTTP 4xx/5xx or an S3 error code) in the last 7 days, grouped by bucket,
-- operation, error and client, leaving out AWS services acting on the buckets.
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
  bucket_name,
  operation,
  http_status,
  error_code,
  requester,
  remote_ip,
  COUNT(*) AS requests,
  MIN(request_time) AS first_seen,
  MAX(request_time) AS last_seen
FROM s3_access_logs.records_dedup
WHERE request_time >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '7' DAY
  AND (http_status >= 400 OR error_code IS NOT NULL)
  -- AWS acting on the bucket: service principals (log delivery), S3 itself (lifecycle), service-linked
  -- roles, and AWS services that name themselves in the user agent. COALESCE keeps anonymous requests.
  AND COALESCE(requester, '') NOT LIKE 'svc:%'
  AND COALESCE(requester, '') <> 'AmazonS3'
  AND COALESCE(requester, '') NOT LIKE '%:assumed-role/AWSServiceRole%'
  AND COALESCE(user_agent, '') NOT LIKE '%amazonaws.com%'
  AND COALESCE(user_agent, '') NOT LIKE 'aws-internal%'
GROUP BY bucket_name, operation, http_status, error_code, requester, remote_ip
ORDER BY requests DESC, bucket_name, operation, http_status, error_code, requester, remote_ip
LIMIT 1000
