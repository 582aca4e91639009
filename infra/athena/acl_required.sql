-- Requests in the last 30 days that were authorized only through an ACL (AclRequired = 'Yes'):
-- what breaks when the bucket switches to Object Ownership "bucket owner enforced".
--
-- Placeholders: s3_access_logs.records is the Glue table over the pipeline's NDJSON records. The
-- deployed named query uses the stack's DatabaseName parameter (default s3_access_logs) instead of
-- s3_access_logs; nothing else differs (infra/tests/test_named_queries.py checks it). To run this
-- elsewhere, replace s3_access_logs with your database.
-- Partitions: year, month, day and hour are zero-padded strings of the time Firehose received the
-- record, in UTC. That is always after the request's "Timestamp", so a partition filter that starts
-- an hour before the window (Firehose's hour boundaries) never loses a request. The year comparison
-- lets Athena prune whole years before it evaluates the hourly filter.
-- Portable SQL: Athena (Trino) runs it as is, and so does DuckDB over the same files
-- (infra/tests/test_athena_sql.py).

SELECT
  Bucket,
  Requester,
  Operation,
  COUNT(*) AS requests,
  MIN("Timestamp") AS first_seen,
  MAX("Timestamp") AS last_seen
FROM s3_access_logs.records
WHERE year >= CAST(EXTRACT(YEAR FROM CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '30' DAY) AS VARCHAR)
  AND CAST(year || '-' || month || '-' || day || ' ' || hour || ':00:00' AS TIMESTAMP)
      >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '30' DAY - INTERVAL '1' HOUR
  AND "Timestamp" >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '30' DAY
  AND AclRequired = 'Yes'
GROUP BY Bucket, Requester, Operation
ORDER BY requests DESC, Bucket, Requester, Operation
LIMIT 1000
