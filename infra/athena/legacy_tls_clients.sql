-- Clients that connected with TLS 1.0 or 1.1 in the last 7 days. S3 logs the version in varying
-- case (TLSv1.1, TLSV1.1), so the comparison is on LOWER(TLSVersion).
--
-- Reads s3_access_logs.records_dedup, the view the create_records_dedup_view named query creates
-- (run it once): the last 30 days of records with each RecordId once, so a log line delivered
-- twice (S3 delivering a log object twice, a retried Lambda event) is counted once. A filter on
-- the view cannot reach below its window function, so every query over it scans those 30 days.
--
-- Placeholders: the deployed named query uses the stack's DatabaseName parameter (default
-- s3_access_logs) instead of s3_access_logs; nothing else differs (infra/tests/test_named_queries.py
-- checks it). To run this elsewhere, replace s3_access_logs with your database.
-- Portable SQL: Athena (Trino) runs it as is, and so does DuckDB over the same files
-- (infra/tests/test_athena_sql.py).

SELECT
  RemoteIP,
  Requester,
  Bucket,
  TLSVersion,
  CipherSuite,
  UserAgent,
  COUNT(*) AS requests,
  MIN("Timestamp") AS first_seen,
  MAX("Timestamp") AS last_seen
FROM s3_access_logs.records_dedup
WHERE "Timestamp" >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '7' DAY
  AND LOWER(TLSVersion) IN ('tlsv1', 'tlsv1.0', 'tlsv1.1')
GROUP BY RemoteIP, Requester, Bucket, TLSVersion, CipherSuite, UserAgent
ORDER BY requests DESC, RemoteIP, Requester, Bucket
LIMIT 1000
