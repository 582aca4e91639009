//! Writes a [`LogRecord`] back as a log line, the way S3 would.
//!
//! The pipeline never needs this; tests do (the parse → render → parse round trip) and so does
//! the benchmark, which generates its corpus from records instead of shipping log files.

use crate::parse::LogRecord;

impl LogRecord<'_> {
    /// Appends the record as a log line of `self.field_count` fields (at least 17), plus any
    /// extra fields, without a line terminator. `None` becomes `-`, or `"-"` in quoted fields.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        bare(out, self.bucket_owner);
        out.push(b' ');
        bare(out, self.bucket);
        out.push(b' ');
        match self.time {
            Some(time) => time.write_log_form(out),
            None => out.push(b'-'),
        }
        for value in [
            self.remote_ip,
            self.requester,
            self.request_id,
            self.operation,
            self.key,
        ] {
            out.push(b' ');
            bare(out, value);
        }
        out.push(b' ');
        quoted(out, self.request_uri);
        out.push(b' ');
        number(out, self.http_status.map(u64::from));
        out.push(b' ');
        bare(out, self.error_code);
        for value in [
            self.bytes_sent,
            self.object_size,
            self.total_time,
            self.turn_around_time,
        ] {
            out.push(b' ');
            number(out, value);
        }
        out.push(b' ');
        quoted(out, self.referrer);
        out.push(b' ');
        quoted(out, self.user_agent);
        let tail_count = self
            .field_count
            .saturating_sub(crate::Field::MIN_COUNT)
            .min(self.tail.len());
        for value in &self.tail[..tail_count] {
            out.push(b' ');
            bare(out, *value);
        }
        if let Some(extra) = self.extra_fields {
            out.push(b' ');
            out.extend_from_slice(extra);
        }
    }
}

fn bare(out: &mut Vec<u8>, value: Option<&[u8]>) {
    out.extend_from_slice(value.unwrap_or(b"-"));
}

fn quoted(out: &mut Vec<u8>, value: Option<&[u8]>) {
    out.push(b'"');
    out.extend_from_slice(value.unwrap_or(b"-"));
    out.push(b'"');
}

fn number(out: &mut Vec<u8>, value: Option<u64>) {
    match value {
        Some(value) => out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes()),
        None => out.push(b'-'),
    }
}
