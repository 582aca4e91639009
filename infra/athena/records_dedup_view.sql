-- Creates the records_dedup view: the last 30 days of records with each record_id once.
-- record_id is a hash of the raw line, so S3's duplicate log deliveries, Lambda retries and Firehose
-- redeliveries all collapse to the copy that arrived first. The window sits inside the view because
-- a filter on the view would not reach the table below the window function; widen it to search
-- further back (it costs a scan of the whole window on every query).
--
-- Placeholders: s3_access_logs.records is the Glue table over the pipeline's NDJSON records. The
-- deployed named query uses the stack's DatabaseName parameter (default s3_access_logs) instead of
-- s3_access_logs; nothing else differs (infra/tests/test_named_queries.py checks it). To run this
-- elsewhere, replace s3_access_logs with your database.
-- Partitions: year, month, day and hour are zero-padded strings, in UTC, of the time Firehose received
-- the oldest record of the object (its buffer holds records for at most FirehoseBufferIntervalSeconds,
-- 15 minutes at most). A record arrives after its request, so its partition starts at most 1 hour
-- 15 minutes before the request's request_time: the partition filter starts 2 hours before the window
-- and never loses a request. (`s3logs run` names partitions by each request's own hour, which the
-- filter keeps too.) The year comparison lets Athena prune whole years before it evaluates the hourly
-- filter.
-- Portable SQL: Athena (Trino) runs it as is, and so does DuckDB over the same files
-- (infra/tests/test_athena_sql.py).

CREATE OR REPLACE VIEW s3_access_logs.records_dedup AS
SELECT
  bucket_name, request_time, bucket_owner_id, remote_ip, requester, request_id, operation, key_name,
  request_uri, http_status, error_code, bytes_sent_size, object_size, total_duration, turn_around_duration, referer,
  user_agent, version_id, host_id, signature_version, cipher_suite, authentication_type, host_header,
  tls_version, access_point_arn, acl_required, source_region,
  schema_version, record_id, extra_fields, log_file, parse_error, raw_line,
  year, month, day, hour
FROM (
  SELECT
    r.*,
    ROW_NUMBER() OVER (PARTITION BY record_id ORDER BY year, month, day, hour, log_file) AS copy_number
  FROM s3_access_logs.records r
  WHERE year >= CAST(EXTRACT(YEAR FROM CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '30' DAY - INTERVAL '2' HOUR) AS VARCHAR)
    AND CAST(year || '-' || month || '-' || day || ' ' || hour || ':00:00' AS TIMESTAMP)
        >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '30' DAY - INTERVAL '2' HOUR
) numbered
WHERE copy_number = 1
