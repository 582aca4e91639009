-- Detection suspicious-user-agent: requests from scripted clients, bots and scanners. Severity medium; MITRE ATT&CK T1595.
-- One row per request of the last 7 days whose User-Agent names a command-line tool, a bare HTTP
-- library, a crawler or a scanner, and no AWS SDK (compared ignoring case).
-- The same rule as the audit engine's (s3logs audit, the postprocessor); docs/detections.md describes it and
-- infra/tests/test_detections_sql.py checks that this query and the engine find the same hits on a shared
-- fixture. Like the engine, it skips no user agent: only the client-software rules honour EXCLUDE_USER_AGENT.
--
-- Settings, at the engine's defaults; edit the literals below to change them:
-- Setting suspicious-user-agent.patterns = curl/|wget/|python-requests|python-urllib|python-httpx|aiohttp|go-http-client|libwww-perl|bot/|crawler|spider|scrapy|sqlmap|nuclei|nikto|masscan|zgrab|nmap|gobuster|ffuf|dirbuster|wpscan
-- Setting suspicious-user-agent.except = aws-sdk-|aws-cli/|boto3/|botocore/
--
-- Reads s3_access_logs.records_dedup, the view the create_records_dedup_view named query creates (run it
-- once): the last 30 days of records with each record_id once, so a log line delivered twice counts once.
-- Placeholders: s3_access_logs is the database (the stack's DatabaseName parameter, default s3_access_logs);
-- replace it to run this elsewhere. Portable SQL: Athena (Trino) and DuckDB run it as is.

SELECT
  'suspicious-user-agent' AS rule,
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
  AND (
    LOWER(user_agent) LIKE '%curl/%'
    OR LOWER(user_agent) LIKE '%wget/%'
    OR LOWER(user_agent) LIKE '%python-requests%'
    OR LOWER(user_agent) LIKE '%python-urllib%'
    OR LOWER(user_agent) LIKE '%python-httpx%'
    OR LOWER(user_agent) LIKE '%aiohttp%'
    OR LOWER(user_agent) LIKE '%go-http-client%'
    OR LOWER(user_agent) LIKE '%libwww-perl%'
    OR LOWER(user_agent) LIKE '%bot/%'
    OR LOWER(user_agent) LIKE '%crawler%'
    OR LOWER(user_agent) LIKE '%spider%'
    OR LOWER(user_agent) LIKE '%scrapy%'
    OR LOWER(user_agent) LIKE '%sqlmap%'
    OR LOWER(user_agent) LIKE '%nuclei%'
    OR LOWER(user_agent) LIKE '%nikto%'
    OR LOWER(user_agent) LIKE '%masscan%'
    OR LOWER(user_agent) LIKE '%zgrab%'
    OR LOWER(user_agent) LIKE '%nmap%'
    OR LOWER(user_agent) LIKE '%gobuster%'
    OR LOWER(user_agent) LIKE '%ffuf%'
    OR LOWER(user_agent) LIKE '%dirbuster%'
    OR LOWER(user_agent) LIKE '%wpscan%'
  )
  AND LOWER(user_agent) NOT LIKE '%aws-sdk-%'
  AND LOWER(user_agent) NOT LIKE '%aws-cli/%'
  AND LOWER(user_agent) NOT LIKE '%boto3/%'
  AND LOWER(user_agent) NOT LIKE '%botocore/%'
ORDER BY request_time DESC, record_id
LIMIT 1000
