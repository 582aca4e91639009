-- Who did what to which object, and when: CloudTrail S3 data events of the last 7 days.
--
-- Only deployed when the stack's CloudTrailBuckets parameter names buckets. Athena only (it uses
-- Trino's time zone and JSON functions), which is why it is not in infra/athena/ beside the
-- portable queries.
-- Placeholders: s3_access_logs is the stack's DatabaseName parameter, 'UTC' its CloudTrailTimeZone
-- parameter (any IANA zone, such as Europe/Berlin); the deployed named query has the stack's values.
-- Partitions: day is the yyyy/MM/dd folder CloudTrail writes (UTC).

SELECT
  from_iso8601_timestamp(eventtime) AT TIME ZONE 'UTC' AS event_time,
  COALESCE(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS who,
  useridentity.type AS identity_type,
  eventname AS action,
  json_extract_scalar(requestparameters, '$.bucketName') AS bucket,
  json_extract_scalar(requestparameters, '$.key') AS object_key,
  json_extract_scalar(requestparameters, '$.versionId') AS version_id,
  sourceipaddress AS source_ip,
  useragent AS user_agent,
  errorcode AS error_code
FROM s3_access_logs.cloudtrail_s3_data_events
WHERE day >= date_format(current_date - INTERVAL '7' DAY, '%Y/%m/%d')
  AND eventsource = 's3.amazonaws.com'
ORDER BY eventtime DESC
LIMIT 1000
