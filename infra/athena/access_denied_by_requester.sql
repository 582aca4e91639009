-- AccessDenied responses by requester within a time range.
-- Edit the window: the request-time bounds ("Timestamp" lines), the partition bounds (the same
-- start, the end plus 2 days because S3 delivers most log records within a few hours but promises
-- no bound) and the years.
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
  Requester,
  Bucket,
  Operation,
  COUNT(*) AS denied,
  COUNT(DISTINCT RemoteIP) AS remote_ips,
  MIN("Timestamp") AS first_seen,
  MAX("Timestamp") AS last_seen
FROM s3_access_logs.records
WHERE year BETWEEN '2026' AND '2026'
  AND CAST(year || '-' || month || '-' || day || ' ' || hour || ':00:00' AS TIMESTAMP)
      BETWEEN TIMESTAMP '2026-01-01 00:00:00' - INTERVAL '1' HOUR
          AND TIMESTAMP '2026-01-08 00:00:00' + INTERVAL '2' DAY
  AND "Timestamp" >= TIMESTAMP '2026-01-01 00:00:00'
  AND "Timestamp" < TIMESTAMP '2026-01-08 00:00:00'
  AND ErrorCode = 'AccessDenied'
GROUP BY Requester, Bucket, Operation
ORDER BY denied DESC, Requester, Bucket, Operation
LIMIT 1000
