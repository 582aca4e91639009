-- Detection suspicious-user-agent: requests from scripted clients, bots and scanners. Severity medium; MITRE ATT&CK T1595.
-- One row per request of the last 7 days whose User-Agent names a command-line tool, a bare HTTP
-- library, a crawler or a scanner, and no AWS SDK (compared ignoring case).
-- The same rule as the audit engine's (s3logs audit, the postprocessor); docs/detections.md describes it and
-- infra/tests/test_detections_sql.py checks that this query and the engine find the same hits on a shared
-- fixture. Like the engine's default EXCLUDE_USER_AGENT, it skips the S3 console and AWS-internal traffic.
--
-- Settings, at the engine's defaults; edit the literals below to change them:
-- Setting suspicious-user-agent.patterns = curl/|wget/|python-requests|python-urllib|python-httpx|aiohttp|go-http-client|libwww-perl|bot/|crawler|spider|scrapy|sqlmap|nuclei|nikto|masscan|zgrab|nmap|gobuster|ffuf|dirbuster|wpscan
-- Setting suspicious-user-agent.except = aws-sdk-|aws-cli/|boto3/|botocore/
--
-- Reads s3_access_logs.records_dedup, the view the create_records_dedup_view named query creates (run it
-- once): the last 30 days of records with each RecordId once, so a log line delivered twice counts once.
-- Placeholders: s3_access_logs is the database (the stack's DatabaseName parameter, default s3_access_logs);
-- replace it to run this elsewhere. Portable SQL: Athena (Trino) and DuckDB run it as is.

SELECT
  'suspicious-user-agent' AS rule,
  "Timestamp",
  Bucket,
  RemoteIP,
  Requester,
  Operation,
  Key,
  HTTPstatus,
  ErrorCode,
  BytesSent,
  ObjectSize,
  UserAgent,
  RecordId,
  LogFile
FROM s3_access_logs.records_dedup
WHERE "Timestamp" >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '7' DAY
  AND COALESCE(UserAgent, '') NOT LIKE '%S3Console%'
  AND COALESCE(UserAgent, '') NOT LIKE '%aws-internal%'
  AND COALESCE(UserAgent, '') NOT LIKE '%AWSConfig%'
  AND (
    LOWER(UserAgent) LIKE '%curl/%'
    OR LOWER(UserAgent) LIKE '%wget/%'
    OR LOWER(UserAgent) LIKE '%python-requests%'
    OR LOWER(UserAgent) LIKE '%python-urllib%'
    OR LOWER(UserAgent) LIKE '%python-httpx%'
    OR LOWER(UserAgent) LIKE '%aiohttp%'
    OR LOWER(UserAgent) LIKE '%go-http-client%'
    OR LOWER(UserAgent) LIKE '%libwww-perl%'
    OR LOWER(UserAgent) LIKE '%bot/%'
    OR LOWER(UserAgent) LIKE '%crawler%'
    OR LOWER(UserAgent) LIKE '%spider%'
    OR LOWER(UserAgent) LIKE '%scrapy%'
    OR LOWER(UserAgent) LIKE '%sqlmap%'
    OR LOWER(UserAgent) LIKE '%nuclei%'
    OR LOWER(UserAgent) LIKE '%nikto%'
    OR LOWER(UserAgent) LIKE '%masscan%'
    OR LOWER(UserAgent) LIKE '%zgrab%'
    OR LOWER(UserAgent) LIKE '%nmap%'
    OR LOWER(UserAgent) LIKE '%gobuster%'
    OR LOWER(UserAgent) LIKE '%ffuf%'
    OR LOWER(UserAgent) LIKE '%dirbuster%'
    OR LOWER(UserAgent) LIKE '%wpscan%'
  )
  AND LOWER(UserAgent) NOT LIKE '%aws-sdk-%'
  AND LOWER(UserAgent) NOT LIKE '%aws-cli/%'
  AND LOWER(UserAgent) NOT LIKE '%boto3/%'
  AND LOWER(UserAgent) NOT LIKE '%botocore/%'
ORDER BY "Timestamp" DESC, RecordId
LIMIT 1000
