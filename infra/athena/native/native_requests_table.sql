-- Creates the native_requests table: S3 server access log records as AWS delivers them itself
-- (server access logging to CloudWatch Logs, delivered on to an S3 bucket as JSON), read in AWS's
-- own field names. The all_requests view unions it with the pipeline's records, so one query
-- covers the history the pipeline processed and the traffic the native feed brings.
--
-- For a JSON delivery: AWS's table ("Log format in CloudWatch Logs") types each field of the JSON
-- record (request_time is an ISO 8601 string), and the OpenX SerDe reads the JSON objects whether
-- or not they are gzip-compressed. For a Parquet delivery, run create_native_requests_parquet_table
-- (native_requests_parquet_table.sql) instead: the same table, STORED AS PARQUET. Never both.
-- Athena reads every object under LOCATION, subfolders included, so point it at the delivery's
-- destination prefix and keep nothing else there.
-- Column types: AWS's where its table gives them (http_status int, the rest up to it string);
-- for the fields after http_status AWS lists the names without types, so the numbers are bigint
-- like the pipeline's columns (docs/record.md, "Where the names come from").
--
-- Placeholders: s3://amzn-s3-demo-bucket/native-access-logs/ is the S3 prefix your native delivery
-- writes to: replace it before you run this. The deployed named query uses the stack's
-- DatabaseName parameter (default s3_access_logs) instead of s3_access_logs; nothing else differs
-- (infra/tests/test_named_queries.py checks it).
-- Athena DDL: infra/tests/test_native_sql.py reads its columns into DuckDB over hand-written
-- native records.

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
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'FALSE')
LOCATION 's3://amzn-s3-demo-bucket/native-access-logs/'
