-- Creates the native_requests table over AWS's native feed delivered to S3 as Parquet: the same
-- table, columns and names as create_native_requests_table (which reads the JSON delivery), so the
-- all_requests view and every query on it run unchanged. Run this one or that one, matching the
-- output format of your native delivery to S3, never both: both create native_requests.
--
-- Column types: AWS's table ("Log format in CloudWatch Logs") types the record's fields, and the
-- Parquet delivery is that record in columns: http_status int, request_time an ISO 8601 string
-- (yyyy-MM-ddTHH:mm:ss.SSSZ), the rest up to http_status string; for the fields after http_status
-- AWS lists the names without types, so the numbers are bigint like the pipeline's columns
-- (docs/record.md, "Where the names come from"). AWS does not document the Parquet file's own
-- types: if a delivered file stores request_time as a timestamp (as the S3 Tables integration
-- does, timestamptz), declare request_time timestamp here; the all_requests view reads either.
-- Athena reads every object under LOCATION, subfolders included, so point it at the delivery's
-- destination prefix and keep nothing else there.
--
-- Placeholders: s3://amzn-s3-demo-bucket/native-access-logs/ is the S3 prefix your native delivery
-- writes to: replace it before you run this. The deployed named query uses the stack's
-- DatabaseName parameter (default s3_access_logs) instead of s3_access_logs; nothing else differs
-- (infra/tests/test_named_queries.py checks it).
-- Athena DDL: infra/tests/test_native_sql.py writes hand-made native records to a Parquet file in
-- these columns and types and runs the all_requests view over it in DuckDB.

CREATE EXTERNAL TABLE IF NOT EXISTS s3_access_logs.native_requests (
  schema_version_id string,
  bucket_arn string,
  bucket_name string,
  request_time string,
  bucket_owner_id string,
  remote_ip string,
  requester string,
  request_id string,
  operation string,
  key_name string,
  request_uri string,
  http_status int,
  error_code string,
  bytes_sent_size bigint,
  object_size bigint,
  total_duration bigint,
  turn_around_duration bigint,
  referer string,
  user_agent string,
  version_id string,
  host_id string,
  signature_version string,
  cipher_suite string,
  authentication_type string,
  host_header string,
  tls_version string,
  access_point_arn string,
  acl_required string,
  source_region string
)
STORED AS PARQUET
LOCATION 's3://amzn-s3-demo-bucket/native-access-logs/'
