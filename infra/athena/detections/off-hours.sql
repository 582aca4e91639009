-- Detection off-hours: authenticated access outside business hours. Severity low; MITRE ATT&CK T1078.
-- One row per signed request of the last 7 days outside business hours, leaving out AWS itself: S3's
-- lifecycle (requester AmazonS3) and AWS services (requester svc:...), which run at any hour. The inner AT TIME ZONE reads
-- request_time as UTC; put the business time zone (an IANA name such as 'Europe/Berlin') in the outer one.
-- Days are numbered from Monday = 0: the business days are 0 to 4.
-- The same rule as the audit engine's (s3logs audit, the postprocessor); docs/detections.md describes it and
-- infra/tests/test_detections_sql.py checks that this query and the engine find the same hits on a shared
-- fixture. Like the engine, it skips no user agent: only the client-software rules honour EXCLUDE_USER_AGENT.
--
-- Settings, at the engine's defaults; edit the literals below to change them:
-- Setting off-hours.hours = 08-18
-- Setting off-hours.days = mon-fri
-- Setting off-hours.time-zone = UTC
--
-- Reads s3_access_logs.records_dedup, the view the create_records_dedup_view named query creates (run it
-- once): the last 30 days of records with each record_id once, so a log line delivered twice counts once.
-- Placeholders: s3_access_logs is the database (the stack's DatabaseName parameter, default s3_access_logs);
-- replace it to run this elsewhere. Portable SQL: Athena (Trino) and DuckDB run it as is.

SELECT
  'off-hours' AS rule,
  request_time,
  bucket_name,
  remote_ip,
  requester,
  operation,
  key_name,
  http_status,
  error_code,
  bytes_sent_size,
  object_size,
  user_agent,
  record_id,
  log_file
FROM s3_access_logs.records_dedup
WHERE request_time >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '7' DAY
  AND requester IS NOT NULL
  AND requester <> 'Anonymous'
  AND requester <> 'AmazonS3'
  AND requester NOT LIKE 'svc:%'
  AND (
    (EXTRACT(DOW FROM (request_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') + 6) % 7 NOT IN (0, 1, 2, 3, 4)
    OR hour((request_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') < 8
    OR hour((request_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') >= 18
  )
ORDER BY request_time DESC, record_id
LIMIT 1000
