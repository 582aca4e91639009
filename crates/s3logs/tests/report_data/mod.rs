//! Three days of generated S3 server access log lines for the `s3logs report` tests: a mix of
//! statuses, clients and operations, SigV2 and TLS 1.0 fading out day by day, a burst of 404s
//! from one IP, a bucket policy change, a user agent carrying markup and one line that does not
//! parse. Deterministic, so every run draws the same page.
#![allow(dead_code)]

/// The user agent that must come out escaped on the page.
pub const HOSTILE_AGENT: &str = "<script>alert('owned')</script>";

/// Lines generated per hour.
const PER_HOUR: u64 = 40;

/// A tiny deterministic generator (64-bit linear congruential), so the data needs no crate.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next(items.len() as u64) as usize]
    }
}

/// One log line.
#[allow(clippy::too_many_arguments)]
fn line(
    day: u64,
    hour: u64,
    minute: u64,
    ip: &str,
    requester: &str,
    operation: &str,
    key: &str,
    status: u16,
    error: &str,
    bytes: u64,
    agent: &str,
    signature: &str,
    tls: &str,
    n: u64,
) -> String {
    let method = operation.split('.').nth(1).unwrap_or("GET");
    format!(
        "5c1bf4c1dbd6a8d3e0c7a63b4fe51f2e9a0c4c4f1b2a3d5e6f708192a3b4c5d6 media-archive \
         [{:02}/Nov/2026:{hour:02}:{minute:02}:07 +0000] {ip} {requester} {n:016X} {operation} {key} \
         \"{method} /{key} HTTP/1.1\" {status} {error} {bytes} {bytes} 31 12 \"-\" \"{agent}\" - \
         bXlIb3N0SWRGb3JUZXN0aW5nT25seQ== {signature} ECDHE-RSA-AES128-GCM-SHA256 AuthHeader \
         media-archive.s3.eu-west-1.amazonaws.com {tls} - - eu-west-1\n",
        20 + day
    )
}

/// The whole log, about 3,000 lines.
pub fn log() -> String {
    let mut rng = Lcg(7);
    let mut out = String::new();
    let ips = [
        "198.51.100.7",
        "198.51.100.23",
        "203.0.113.9",
        "192.0.2.44",
        "192.0.2.45",
        "2001:db8::17",
    ];
    let requesters = [
        "arn:aws:iam::111122223333:user/deploy",
        "arn:aws:iam::111122223333:role/etl-nightly",
        "arn:aws:sts::111122223333:assumed-role/analyst/jane",
        "-",
    ];
    let agents = [
        "aws-cli/2.17.0 Python/3.12.4 Linux/6.1",
        "Boto3/1.34.0 Python/3.11 Linux/6.1",
        "aws-sdk-java/2.25.0 Linux/6.1 OpenJDK/21",
        "curl/8.5.0",
        HOSTILE_AGENT,
    ];
    let mut n = 0;
    for day in 0..3 {
        for hour in 0..24 {
            // Busier in working hours.
            let count = if (8..19).contains(&hour) {
                PER_HOUR
            } else {
                PER_HOUR / 4
            };
            for i in 0..count {
                n += 1;
                let minute = i * 60 / count;
                let roll = rng.next(100);
                let (operation, status, error) = match roll {
                    0..=59 => ("REST.GET.OBJECT", 200, "-"),
                    60..=69 => ("REST.PUT.OBJECT", 200, "-"),
                    70..=77 => ("REST.HEAD.OBJECT", 304, "-"),
                    78..=83 => ("REST.GET.BUCKET", 200, "-"),
                    84..=89 => ("REST.GET.OBJECT", 404, "NoSuchKey"),
                    90..=94 => ("REST.GET.OBJECT", 403, "AccessDenied"),
                    95..=96 => ("REST.DELETE.OBJECT", 204, "-"),
                    _ => ("REST.PUT.OBJECT", 503, "SlowDown"),
                };
                let bytes = match status {
                    200 if operation == "REST.GET.OBJECT" => 20_000 + rng.next(4_000_000),
                    _ => 0,
                };
                // SigV2 and TLS 1.0 fade out: a third of the clients on day one, none on day three.
                let legacy = rng.next(30) < 10 - 5 * day;
                let key = format!(
                    "media/{}/track-{:03}.mp3",
                    ["jazz", "news", "talk"][rng.next(3) as usize],
                    rng.next(120)
                );
                out.push_str(&line(
                    day,
                    hour,
                    minute,
                    rng.pick(&ips),
                    rng.pick(&requesters),
                    operation,
                    &key,
                    status,
                    error,
                    bytes,
                    rng.pick(&agents),
                    if legacy { "SigV2" } else { "SigV4" },
                    if legacy { "TLSv1" } else { "TLSv1.2" },
                    n,
                ));
            }
        }
    }
    // An enumeration burst: 60 misses from one address in three minutes.
    for i in 0..60 {
        n += 1;
        let key = format!("backup/db-{i:02}.sql");
        out.push_str(&line(
            1,
            3,
            i / 20,
            "203.0.113.250",
            "-",
            "REST.GET.OBJECT",
            &key,
            404,
            "NoSuchKey",
            0,
            "sqlmap/1.8",
            "-",
            "TLSv1.2",
            n,
        ));
    }
    // A bucket policy change.
    n += 1;
    out.push_str(&line(
        2,
        9,
        30,
        "192.0.2.44",
        "arn:aws:iam::111122223333:user/deploy",
        "REST.PUT.BUCKETPOLICY",
        "-",
        204,
        "-",
        0,
        "aws-cli/2.17.0 Python/3.12.4 Linux/6.1",
        "SigV4",
        "TLSv1.2",
        n,
    ));
    out.push_str("this line is not an S3 access log line\n");
    out
}

/// `count` requests in one hour, each for a different key: more distinct keys than the
/// report's top-k sketch holds when `count` is large.
pub fn distinct_keys(count: u64) -> String {
    (0..count)
        .map(|n| {
            let key = format!("uploads/object-{n:06}.bin");
            let minute = n * 60 / count;
            line(
                0,
                10,
                minute,
                "198.51.100.7",
                "-",
                "REST.PUT.OBJECT",
                &key,
                200,
                "-",
                0,
                "curl/8.5.0",
                "SigV4",
                "TLSv1.3",
                n,
            )
        })
        .collect()
}
