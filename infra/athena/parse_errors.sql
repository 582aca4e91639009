-- Log lines the pipeline could not parse cleanly in the last 7 days, by reason and log object,
-- with one raw line each. Every such line is still a record (parse_error, raw_line), so nothing is lost;
-- so is content that could not be read as lines at all (parse_error truncated-gzip,
-- unsupported-compression, unsupported-format or size-cap, with the byte offset where reading
-- stopped).
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
-- Partitions: year, month, day and hour are zero-padded strings of the time Firehose received the
-- record, in UTC; the filter on them below keeps the records that arrived in the last 7 days.

SELECT
  parse_error,
  log_file,
  COUNT(*) AS lines,
  MIN(raw_line) AS example
FROM s3_access_logs.records_dedup
WHERE year >= CAST(EXTRACT(YEAR FROM CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '7' DAY) AS VARCHAR)
  AND CAST(year || '-' || month || '-' || day || ' ' || hour || ':00:00' AS TIMESTAMP)
      >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '7' DAY - INTERVAL '1' HOUR
  AND parse_error IS NOT NULL
GROUP BY parse_error, log_file
ORDER BY lines DESC, parse_error, log_file
LIMIT 1000
