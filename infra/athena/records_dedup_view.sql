-- Creates the records_dedup view: the last 30 days of records with each RecordId once.
-- RecordId is a hash of the raw line, so S3's duplicate log deliveries, Lambda retries and Firehose
-- redeliveries all collapse to the copy that arrived first. The window sits inside the view because
-- a filter on the view would not reach the table below the window function; widen it to search
-- further back (it costs a scan of the whole window on every query).
--
-- Placeholders: s3_access_logs.records is the Glue table over the pipeline's NDJSON records. The
-- deployed named query uses the stack's DatabaseName parameter (default s3_access_logs) instead of
-- s3_access_logs; nothing else differs (infra/tests/test_named_queries.py checks it). To run this
-- elsewhere, replace s3_access_logs with your database.
-- Partitions: year, month, day and hour are zero-padded strings of the time Firehose received the
-- record, in UTC. That is always after the request's "Timestamp", so a partition filter that starts
-- an hour before the window (Firehose's hour boundaries) never loses a request. The year comparison
-- lets Athena prune whole years before it evaluates the hourly filter.
-- Portable SQL: Athena (Trino) runs it as is, and so does DuckDB over the same files
-- (infra/tests/test_athena_sql.py).

CREATE OR REPLACE VIEW s3_access_logs.records_dedup AS
SELECT
  SchemaVersion, RecordId, BucketOwner, Bucket, "Timestamp", RemoteIP, Requester, RequestID,
  Operation, Key, RequestURI, HTTPstatus, ErrorCode, BytesSent, ObjectSize, TotalTime,
  TurnAroundTime, Referrer, UserAgent, VersionId, HostId, SignatureVersion, CipherSuite,
  AuthenticationType, HostHeader, TLSVersion, AccessPointArn, AclRequired, SourceRegion,
  ExtraFields, LogFile, ParseError, RawLine,
  year, month, day, hour
FROM (
  SELECT
    r.*,
    ROW_NUMBER() OVER (PARTITION BY RecordId ORDER BY year, month, day, hour, LogFile) AS copy_number
  FROM s3_access_logs.records r
  WHERE year >= CAST(EXTRACT(YEAR FROM CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '30' DAY) AS VARCHAR)
    AND CAST(year || '-' || month || '-' || day || ' ' || hour || ':00:00' AS TIMESTAMP)
        >= CAST(CURRENT_TIMESTAMP AS TIMESTAMP) - INTERVAL '30' DAY - INTERVAL '1' HOUR
) numbered
WHERE copy_number = 1
