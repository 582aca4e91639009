-- Detection bucket-config-change: bucket configuration changed (policy, ACL, public access, logging, ...). Severity high; MITRE ATT&CK T1098,T1562.008,T1485,T1530.
-- One row per successful PUT or DELETE of a bucket setting in the last 7 days: who (requester), what
-- (operation, key_name for an object ACL) and from where (remote_ip, user_agent). Failed attempts are
-- in access-denied.
-- The same rule as the audit engine's (s3logs audit, the postprocessor); docs/detections.md describes it and
-- infra/tests/test_detections_sql.py checks that this query and the engine find the same hits on a shared
-- fixture. Like the engine, it skips no user agent: only the client-software rules honour EXCLUDE_USER_AGENT.
--
-- Reads s3_access_logs.records_dedup, the view the create_records_dedup_view named query creates (run it
-- once): the last 30 days of records with each record_id once, so a log line delivered twice counts once.
-- Placeholders: s3_access_logs is the database (the stack's DatabaseName parameter, default s3_access_logs);
-- replace it to run this elsewhere. Portable SQL: Athena (Trino) and DuckDB run it as is.

SELECT
  'bucket-config-change' AS rule,
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
  AND http_status BETWEEN 200 AND 299
  AND operation IN (
    'REST.PUT.BUCKETPOLICY',
    'REST.DELETE.BUCKETPOLICY',
    'REST.PUT.ACL',
    'REST.PUT.PUBLIC_ACCESS_BLOCK',
    'REST.DELETE.PUBLIC_ACCESS_BLOCK',
    'REST.PUT.OWNERSHIP_CONTROLS',
    'REST.DELETE.OWNERSHIP_CONTROLS',
    'REST.PUT.ENCRYPTION',
    'REST.DELETE.ENCRYPTION',
    'REST.PUT.LOGGING_STATUS',
    'REST.PUT.LIFECYCLE',
    'REST.DELETE.LIFECYCLE',
    'REST.PUT.VERSIONING',
    'REST.PUT.REPLICATION',
    'REST.DELETE.REPLICATION',
    'REST.PUT.CORS',
    'REST.DELETE.CORS',
    'REST.PUT.WEBSITE',
    'REST.DELETE.WEBSITE'
  )
ORDER BY request_time DESC, record_id
LIMIT 1000
