//! CloudWatch Embedded Metric Format: metrics as one JSON log line, no API calls.
//!
//! A Lambda that prints this line to stdout gets real CloudWatch metrics (for alarms) without a
//! `PutMetricData` call or its latency and cost.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use serde_json::{Map, Value, json};

/// The namespace every metric of the pipeline is published under.
pub const NAMESPACE: &str = "S3AccessLogs";

/// The unit of a metric, as EMF spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A count of things.
    Count,
    /// Bytes.
    Bytes,
    /// Milliseconds.
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Bytes => "Bytes",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One EMF line: a set of dimensions and the metrics recorded under them.
#[derive(Clone, Debug, Default)]
pub struct MetricLine {
    dimensions: Vec<(String, String)>,
    metrics: Vec<(String, Unit, f64)>,
}

impl MetricLine {
    /// An empty line.
    pub fn new() -> Self {
        MetricLine::default()
    }

    /// Adds a dimension, such as `Function` = `preprocessor`.
    pub fn dimension(mut self, name: &str, value: &str) -> Self {
        self.dimensions.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Records a metric value.
    pub fn metric(mut self, name: &str, unit: Unit, value: f64) -> Self {
        self.metrics.push((name.to_owned(), unit, value));
        self
    }

    /// The JSON line (without newline), stamped with `timestamp_ms` since the Unix epoch.
    pub fn render(&self, timestamp_ms: u64) -> String {
        let mut root = Map::new();
        let dimension_names: Vec<&str> = self.dimensions.iter().map(|(name, _)| name.as_str()).collect();
        let metric_defs: Vec<Value> = self
            .metrics
            .iter()
            .map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        root.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [dimension_names],
                    "Metrics": metric_defs,
                }],
            }),
        );
        for (name, value) in &self.dimensions {
            root.insert(name.clone(), Value::from(value.as_str()));
        }
        for (name, _, value) in &self.metrics {
            root.insert(name.clone(), json!(value));
        }
        Value::Object(root).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_emf_envelope() {
        let line = MetricLine::new()
            .dimension("Function", "preprocessor")
            .metric("Records", Unit::Count, 3.0)
            .metric("BytesIn", Unit::Bytes, 1800.0)
            .render(1_700_000_000_000);
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["_aws"]["Timestamp"], 1_700_000_000_000u64);
        let directive = &value["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "S3AccessLogs");
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(
            directive["Metrics"][1],
            json!({"Name": "BytesIn", "Unit": "Bytes"})
        );
        assert_eq!(value["Function"], "preprocessor");
        assert_eq!(value["Records"], 3.0);
    }
}
