-- Creates the all_requests view: every request in the pipeline's records and in AWS's native
-- feed (the native_requests table), in AWS's field names, with a source column saying where each
-- row came from ('pipeline' or 'aws_native'). Any query written for records_dedup runs on it with
-- the table name changed, over the pipeline's whole history and the native feed together.
--
-- The pipeline's rows keep each record_id once (S3's duplicate log deliveries, Lambda retries and
-- Firehose redeliveries collapse to the copy that arrived first), over all partitions: a filter on
-- the view cannot reach below the window function, so every query scans the columns it names in
-- the whole records table. Add a partition filter inside the view, as records_dedup does, if that
-- is more history than you query. request_time becomes a timestamp on both sides (AWS writes
-- yyyy-MM-ddTHH:mm:ss.SSSZ, always UTC; a native_requests table that declares it timestamp, for a
-- Parquet delivery that stores one, reads the same through the CAST to VARCHAR).
-- schema_version_id and bucket_arn exist only in native records and are NULL on the pipeline's side.
--
-- Overlap: while the text logs still reach the pipeline and the native feed is on, each request
-- is in both sources, once with source = 'pipeline' and once with source = 'aws_native'. The
-- pipeline's record_id is a hash of the text line, so it never matches a native row, and
-- request_id is not unique per row (a multi-object delete logs one line per key under one
-- request ID), so the view cannot pair them up. Pick one source per period instead: add
-- AND (source = 'aws_native' OR request_time < TIMESTAMP '2026-07-01 00:00:00') with the first
-- hour the native feed covers completely, or turn the text logs off (docs/deploy.md, "Querying
-- history and AWS's native feed together").
--
-- Placeholders: s3_access_logs.records is the Glue table over the pipeline's records,
-- s3_access_logs.native_requests the table the create_native_requests_table (JSON delivery) or
-- create_native_requests_parquet_table (Parquet delivery) named query creates (run one first).
-- The deployed named query uses the stack's DatabaseName parameter (default s3_access_logs)
-- instead of s3_access_logs; nothing else differs (infra/tests/test_named_queries.py checks it).
-- Portable SQL: Athena (Trino) runs it as is, and so does DuckDB (infra/tests/test_native_sql.py).

CREATE OR REPLACE VIEW s3_access_logs.all_requests AS
SELECT
  'pipeline' AS source,
  CAST(NULL AS VARCHAR) AS schema_version_id, CAST(NULL AS VARCHAR) AS bucket_arn,
  bucket_name, request_time, bucket_owner_id, remote_ip, requester, request_id, operation, key_name,
  request_uri, http_status, error_code, bytes_sent_size, object_size, total_duration,
  turn_around_duration, referer, user_agent, version_id, host_id, signature_version, cipher_suite,
  authentication_type, host_header, tls_version, access_point_arn, acl_required, source_region
FROM (
  SELECT
    r.*,
    ROW_NUMBER() OVER (PARTITION BY record_id ORDER BY year, month, day, hour, log_file) AS copy_number
  FROM s3_access_logs.records r
) numbered
WHERE copy_number = 1
UNION ALL
SELECT
  'aws_native' AS source,
  schema_version_id, bucket_arn,
  bucket_name,
  CAST(REPLACE(REPLACE(CAST(request_time AS VARCHAR), 'T', ' '), 'Z', '') AS TIMESTAMP) AS request_time,
  bucket_owner_id, remote_ip, requester, request_id, operation, key_name,
  request_uri, http_status, error_code, bytes_sent_size, object_size, total_duration,
  turn_around_duration, referer, user_agent, version_id, host_id, signature_version, cipher_suite,
  authentication_type, host_header, tls_version, access_point_arn, acl_required, source_region
FROM s3_access_logs.native_requests
