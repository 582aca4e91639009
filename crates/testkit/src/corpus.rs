//! Deterministic S3 server access log lines for tests and benches, in any quantity.
//!
//! Lines look like what S3 writes (27 fields, ~600 bytes: 64-hex owner ids, base64 host ids,
//! quoted request lines and user agents) with the variety that matters to the pipeline: every
//! line is different (its request id counts up), some keys need URL-encoding, some user agents
//! are not ASCII, some lines end in `\r`, a few are garbage that the parser must quarantine, and
//! now and then a blank line yields no record. Same seed, same bytes, on every machine.

/// Generates log lines.
#[derive(Clone, Debug)]
pub struct LogLines {
    rng: u64,
    line: u64,
    seconds: u64,
}

const OPERATIONS: [(&str, &str); 6] = [
    ("REST.GET.OBJECT", "GET"),
    ("REST.PUT.OBJECT", "PUT"),
    ("REST.HEAD.OBJECT", "HEAD"),
    ("REST.GET.BUCKET", "GET"),
    ("REST.DELETE.OBJECT", "DELETE"),
    ("REST.COPY.OBJECT", "PUT"),
];
const AGENTS: [&str; 5] = [
    "aws-sdk-java/2.20.43 Linux/5.10.198-187.748.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.9+8-LTS Java/17.0.9 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/standard",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "aws-cli/2.15.0 Python/3.11.6 Linux/6.1.61-85.141.amzn2023.x86_64 exe/x86_64.amzn.2023 prompt/off command/s3.cp",
    "Boto3/1.34.11 md/Botocore#1.34.11 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.12.1 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.11",
    "Überwachung-Agent/1.0 (Zürich; ünïcödé)",
];
const STATUSES: [(&str, &str); 5] = [
    ("200", "-"),
    ("200", "-"),
    ("206", "-"),
    ("403", "AccessDenied"),
    ("404", "NoSuchKey"),
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl LogLines {
    /// A generator; different seeds give different lines.
    pub fn new(seed: u64) -> Self {
        LogLines {
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            line: 0,
            seconds: 0,
        }
    }

    /// Appends the next line, `\n` included, to `out`.
    pub fn write_line(&mut self, out: &mut Vec<u8>) {
        self.line += 1;
        let n = self.line;
        self.seconds += self.next() % 3;
        if n.is_multiple_of(499) {
            out.push(b'\n');
            return;
        }
        if n.is_multiple_of(97) {
            out.extend_from_slice(format!("garbage line {n} that is not an access log record\n").as_bytes());
            return;
        }
        let owner = self.hex(64);
        let (operation, method) = OPERATIONS[(self.next() % OPERATIONS.len() as u64) as usize];
        let (status, error) = STATUSES[(self.next() % STATUSES.len() as u64) as usize];
        let agent = AGENTS[(self.next() % AGENTS.len() as u64) as usize];
        let key = if n.is_multiple_of(5) {
            format!("photos/2024/caf%C3%A9+menu+{n}.jpg")
        } else {
            format!("data/part-{:05}/object-{n}.parquet", self.next() % 100_000)
        };
        let size = self.next() % 50_000_000;
        let day = 1 + (self.seconds / 86_400) % 28;
        let month = MONTHS[((self.seconds / (86_400 * 28)) % 12) as usize];
        let (hour, minute, second) = (
            (self.seconds / 3600) % 24,
            (self.seconds / 60) % 60,
            self.seconds % 60,
        );
        let ip = format!("192.0.{}.{}", self.next() % 256, self.next() % 256);
        let host_id = self.base64(76);
        let request_id = format!("{:016X}", n ^ 0x3E57_0000_0000_0000);
        let total = self.next() % 2000;
        let line = format!(
            "{owner} amzn-s3-demo-bucket [{day:02}/{month}/2024:{hour:02}:{minute:02}:{second:02} +0000] {ip} \
             arn:aws:iam::123456789012:user/analytics {request_id} {operation} {key} \
             \"{method} /amzn-s3-demo-bucket/{key}?versionId=null HTTP/1.1\" {status} {error} {size} {size} {total} {turn} \
             \"https://console.aws.amazon.com/s3/buckets/amzn-s3-demo-bucket\" \"{agent}\" - {host_id} SigV4 \
             ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket.s3.us-east-1.amazonaws.com TLSv1.2 - - us-east-1",
            turn = total / 2,
        );
        out.extend_from_slice(line.as_bytes());
        if n.is_multiple_of(101) {
            out.push(b'\r');
        }
        out.push(b'\n');
    }

    /// Appends whole lines to `out` until it holds at least `bytes` bytes.
    pub fn fill(&mut self, out: &mut Vec<u8>, bytes: usize) {
        while out.len() < bytes {
            self.write_line(out);
        }
    }

    /// At least `bytes` bytes of whole lines.
    pub fn take_bytes(&mut self, bytes: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes + 1024);
        self.fill(&mut out, bytes);
        out
    }

    fn next(&mut self) -> u64 {
        // splitmix64: fast, and good enough to vary test data.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn hex(&mut self, len: usize) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        (0..len)
            .map(|_| DIGITS[(self.next() % 16) as usize] as char)
            .collect()
    }

    fn base64(&mut self, len: usize) -> String {
        const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut text: String = (0..len - 1)
            .map(|_| DIGITS[(self.next() % 64) as usize] as char)
            .collect();
        text.push('=');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_deterministic_and_whole_lines() {
        let a = LogLines::new(7).take_bytes(100_000);
        assert_eq!(a, LogLines::new(7).take_bytes(100_000));
        assert_ne!(a, LogLines::new(8).take_bytes(100_000));
        assert!(a.len() >= 100_000 && a.ends_with(b"\n"));
        let lines: Vec<&[u8]> = a.split(|&b| b == b'\n').collect();
        let typical = lines.iter().filter(|line| line.len() > 400).count();
        assert!(typical * 10 > lines.len() * 9, "{typical} of {}", lines.len());
    }
}
