//! The counts of one invocation and the EMF lines they become: namespace `S3AccessLogs`,
//! dimension `Function=preprocessor`, plus one `QuarantinedContent` line per reason seen
//! (dimensions `Function`, `Reason`). The template's alarms use these names.

use std::time::Duration;

use lambda_adapter::emf::{MetricLine, Unit};

use crate::stats::Delivery;

/// The `Function` dimension of every metric.
pub const FUNCTION: &str = "preprocessor";

/// Counts of one invocation: the metrics it reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Lines, records and Firehose calls of every object.
    pub delivery: Delivery,
    /// Objects fully delivered (quarantined content included).
    pub objects: u64,
    /// Objects skipped (outside the source, own output, empty, gone, delivered by an earlier
    /// attempt) and entries with nothing to do.
    pub skipped: u64,
    /// Objects (or unreadable messages and tasks) kept for retry.
    pub failed: u64,
    /// Wall time of the invocation.
    pub duration: Duration,
}

impl Totals {
    /// The invocation's EMF lines: the totals, then one `QuarantinedContent` line per reason.
    pub fn metric_lines(&self) -> Vec<MetricLine> {
        let delivery = &self.delivery;
        let count = |line: MetricLine, name: &str, value: u64| line.metric(name, Unit::Count, value as f64);
        let line = MetricLine::new().dimension("Function", FUNCTION);
        let line = count(line, "LinesRead", delivery.ingest.lines);
        let line = count(line, "Records", delivery.ingest.records);
        let line = count(line, "ParseErrors", delivery.ingest.parse_errors);
        let line = count(line, "FirehoseRecords", delivery.firehose_records);
        let line = count(line, "FirehoseBatches", delivery.firehose_batches);
        let line = count(line, "RetriedEntries", delivery.retried_entries);
        let line = count(line, "Billed5KBUnits", delivery.billed_units);
        let line = count(line, "DownloadResumes", delivery.resumes);
        let line = line.metric("BytesIn", Unit::Bytes, delivery.ingest.bytes_in as f64);
        let line = line.metric("DurationMs", Unit::Milliseconds, self.duration.as_millis() as f64);
        let line = count(line, "ObjectsRead", self.objects);
        let line = count(line, "ObjectsSkipped", self.skipped);
        let line = count(line, "ObjectsFailed", self.failed);
        let mut lines = vec![line];
        // Objects that ended in unreadable content, by reason (`truncated-gzip`,
        // `unsupported-compression`, `unsupported-format`, `size-cap`), as the engine counted them.
        for (reason, objects) in delivery.ingest.unreadable_objects.seen() {
            let line = MetricLine::new()
                .dimension("Function", FUNCTION)
                .dimension("Reason", reason);
            lines.push(count(line, "QuarantinedContent", objects));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn parse(line: &MetricLine) -> Value {
        serde_json::from_str(&line.render(1)).unwrap()
    }

    #[test]
    fn metric_lines_have_the_names_the_alarms_use() {
        let mut totals = Totals::default();
        totals.delivery.ingest.lines = 10;
        totals.delivery.firehose_records = 2;
        totals.delivery.billed_units = 3;
        totals.failed = 1;
        totals.duration = Duration::from_millis(1500);
        let lines = totals.metric_lines();
        assert_eq!(lines.len(), 1, "no quarantine line without quarantined content");
        let line = parse(&lines[0]);
        let names: Vec<&str> = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|metric| metric["Name"].as_str().unwrap())
            .collect();
        for expected in [
            "LinesRead",
            "Records",
            "ParseErrors",
            "FirehoseRecords",
            "FirehoseBatches",
            "RetriedEntries",
            "Billed5KBUnits",
            "DownloadResumes",
            "BytesIn",
            "DurationMs",
            "ObjectsRead",
            "ObjectsSkipped",
            "ObjectsFailed",
        ] {
            assert!(names.contains(&expected), "{expected} missing from {names:?}");
        }
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "S3AccessLogs");
        assert_eq!(line["Function"], "preprocessor");
        assert_eq!(line["LinesRead"], 10.0);
        assert_eq!(line["ObjectsFailed"], 1.0);
        assert_eq!(line["DurationMs"], 1500.0);
    }

    /// The counts the engine makes of an object: `cut` gzip bytes or a `cap` on decoded bytes.
    fn stats_of(object: &[u8], cap: u64) -> pipeline::ingest::Stats {
        let limits = pipeline::ingest::Limits {
            max_decoded: cap,
            ..pipeline::ingest::Limits::default()
        };
        let mut reader = pipeline::ingest::RecordReader::new(object, "s3://b/k", limits).unwrap();
        let mut out = Vec::new();
        while reader.next_record(&mut out).unwrap() {}
        reader.stats()
    }

    #[test]
    fn one_quarantine_line_per_reason() {
        use std::io::Write;
        let text = "a log line\n".repeat(10_000);
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        let gzip = encoder.finish().unwrap();
        let mut totals = Totals::default();
        for _ in 0..2 {
            totals.delivery.ingest += stats_of(&gzip[..gzip.len() / 2], u64::MAX);
        }
        totals.delivery.ingest += stats_of(text.as_bytes(), 1_000);
        let lines: Vec<Value> = totals.metric_lines().iter().map(parse).collect();
        assert_eq!(lines.len(), 3);
        let mut seen: Vec<(String, f64)> = lines[1..]
            .iter()
            .map(|line| {
                assert_eq!(
                    line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
                    serde_json::json!([["Function", "Reason"]])
                );
                assert_eq!(line["Function"], "preprocessor");
                (
                    line["Reason"].as_str().unwrap().to_owned(),
                    line["QuarantinedContent"].as_f64().unwrap(),
                )
            })
            .collect();
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            seen,
            [("size-cap".to_owned(), 1.0), ("truncated-gzip".to_owned(), 2.0)]
        );
    }
}
