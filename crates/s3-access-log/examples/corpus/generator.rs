//! A deterministic generator of realistic S3 server access log lines.
//!
//! Shared by the `corpus` example (which writes hundreds of megabytes for whole-process
//! benchmarks) and the criterion bench (which keeps a few megabytes in memory), through
//! `#[path]`, so both measure the same mix. Every line is rendered by `LogRecord::write_line`
//! from a record built here; a few are then damaged on purpose, as real archives are.
//!
//! The mix follows what a busy bucket logs today: 26 and 27 field lines from SDKs, browsers
//! and CloudFront dominate, many with presigned URLs; older 18, 24 and 25 field lines from
//! archives, lifecycle, batch delete and copy records, AccessDenied and NoSuchKey, SigV2,
//! TLS 1.1, `aclRequired` Yes, IPv6 clients, a few quotes inside the User-Agent, a few damaged
//! lines, and rarely a line of tens of kilobytes (a presigned URL with a huge session token).
//! It needs no dependency: a splitmix64 generator with a constant seed gives the same corpus on
//! every machine.

use s3_access_log::{LogRecord, LogTime};

/// The generator's seed; change it and every benchmark's input changes.
const SEED: u64 = 0x5EED_5A10_6C0F_FEE5;

/// Writes log lines, the same sequence every time.
pub struct Generator {
    rng: SplitMix64,
    /// Seconds since 2026-01-01 00:00:00 of the current line: log files run forward in time,
    /// with some records late.
    clock: u64,
    /// Seconds the clock moves per step of the usual pace (one second per line on average).
    stretch: u64,
    owners: Vec<String>,
    requesters: Vec<String>,
}

impl Generator {
    /// A generator at the start of its sequence.
    pub fn new() -> Self {
        let mut rng = SplitMix64(SEED);
        let owners = (0..3).map(|_| hex(&mut rng, 64)).collect();
        let mut requesters: Vec<String> = (0..2).map(|_| hex(&mut rng, 64)).collect();
        for _ in 0..6 {
            let account = digits(&mut rng, 12);
            let user = pick(&mut rng, USER_NAMES);
            requesters.push(format!("arn:aws:iam::{account}:user/{user}"));
        }
        for _ in 0..10 {
            let account = digits(&mut rng, 12);
            let role = pick(&mut rng, ROLE_NAMES);
            let session = format!("i-0{}", hex(&mut rng, 16));
            requesters.push(format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"));
        }
        Generator {
            rng,
            clock: 14 * 86_400,
            stretch: 1,
            owners,
            requesters,
        }
    }

    /// Makes time pass `stretch` times faster from line to line, so that a corpus of a given
    /// size spans more hours; the lines are otherwise the same.
    #[allow(dead_code)] // The corpus example's `--span-hours`; the criterion bench keeps the pace.
    pub fn stretch_time(&mut self, stretch: u64) {
        self.stretch = stretch.max(1);
    }

    /// Appends whole lines, each ending in `\n`, until `out` has grown by at least `bytes`;
    /// returns the number of lines written.
    pub fn fill(&mut self, out: &mut Vec<u8>, bytes: usize) -> usize {
        let target = out.len() + bytes;
        let mut lines = 0;
        while out.len() < target {
            self.line(out);
            out.push(b'\n');
            lines += 1;
        }
        lines
    }

    /// Appends one line without its terminator.
    fn line(&mut self, out: &mut Vec<u8>) {
        let roll = self.rng.below(10_000);
        let mut arena = Arena::default();
        let shape = match roll {
            0..=179 => Shape::Lifecycle,
            180..=359 => Shape::BatchDelete,
            360..=449 => Shape::CopyGet,
            450..=454 => Shape::Damaged,
            455 => Shape::VeryLong,
            _ => Shape::Request,
        };
        if shape == Shape::Damaged {
            return self.damaged(out);
        }
        let fields = self.fields(shape, &mut arena);
        let start = out.len();
        arena.record(&fields).write_line(out);
        if matches!(shape, Shape::BatchDelete | Shape::CopyGet) {
            // S3 writes the Request-URI, Referer and User-Agent of these records as a bare `-`,
            // where `write_line` writes `"-"`; their other fields have no quotes.
            let line = out.split_off(start);
            let mut rest = &line[..];
            while let Some(at) = rest.windows(3).position(|w| w == b"\"-\"") {
                out.extend_from_slice(&rest[..at]);
                out.push(b'-');
                rest = &rest[at + 3..];
            }
            out.extend_from_slice(rest);
        }
    }

    /// A line that does not parse cleanly: two records merged, or the unexplained extra token
    /// before the Host Id.
    fn damaged(&mut self, out: &mut Vec<u8>) {
        let mut first = Vec::new();
        let mut arena = Arena::default();
        let fields = self.fields(Shape::Request, &mut arena);
        arena.record(&fields).write_line(&mut first);
        if self.rng.chance(50) {
            let cut = 1 + self.rng.below(first.len() as u64 - 1) as usize;
            out.extend_from_slice(&first[..cut]);
            let mut arena = Arena::default();
            let fields = self.fields(Shape::Request, &mut arena);
            arena.record(&fields).write_line(out);
        } else {
            let mut arena = Arena::default();
            let mut fields = self.fields(Shape::Request, &mut arena);
            fields.count = 24;
            if let Some(host_id) = fields.tail[1] {
                let both = format!(
                    "AIDA{} {}",
                    upper(&mut self.rng, 17),
                    String::from_utf8_lossy(arena.get(host_id))
                );
                fields.tail[1] = Some(arena.push(&both));
            }
            arena.record(&fields).write_line(out);
        }
    }

    fn fields(&mut self, shape: Shape, arena: &mut Arena) -> Fields {
        let rng = &mut self.rng;
        // Mostly forward in time, sometimes a late record.
        self.clock += rng.below(3) * self.stretch;
        let seconds = if rng.chance(2) {
            self.clock.saturating_sub(rng.below(7_200))
        } else {
            self.clock
        };
        let mut f = Fields {
            count: match rng.below(1_000) {
                0..=449 => 27,
                450..=799 => 26,
                800..=869 => 25,
                870..=959 => 24,
                960..=994 => 18,
                _ => 17,
            },
            ..Fields::default()
        };
        // A bucket has one owner.
        let bucket_index = rng.below(BUCKETS.len() as u64) as usize;
        let bucket = BUCKETS[bucket_index];
        f.text[OWNER] = Some(arena.push(&self.owners[bucket_index % self.owners.len()]));
        f.text[BUCKET] = Some(arena.push(bucket));
        f.time = Some(time(seconds));
        f.text[REQUEST_ID] = Some(arena.push(&upper(rng, 16)));
        let host_id = base64(rng, 76);
        f.tail[1] = Some(arena.push(&host_id));

        match shape {
            Shape::Lifecycle => {
                f.count = if rng.chance(50) { 24 } else { 26 };
                f.text[REQUESTER] = Some(arena.push("AmazonS3"));
                f.text[OPERATION] = Some(arena.push(pick(rng, LIFECYCLE_OPERATIONS)));
                let key = key(rng);
                f.text[KEY] = Some(arena.push(&key));
                f.numbers[1] = Some(size(rng));
                if rng.chance(40) {
                    f.tail[0] = Some(arena.push(&alnum(rng, 32)));
                }
                f.tail[1] = Some(arena.push(&base64(rng, 64)));
                return f;
            }
            Shape::BatchDelete | Shape::CopyGet => {
                let requester = self.requesters[rng.below(self.requesters.len() as u64) as usize].clone();
                f.text[REMOTE_IP] = Some(arena.push(&ipv4(rng)));
                f.text[REQUESTER] = Some(arena.push(&requester));
                let batch = shape == Shape::BatchDelete;
                f.text[OPERATION] = Some(arena.push(if batch {
                    "BATCH.DELETE.OBJECT"
                } else {
                    "REST.COPY.OBJECT_GET"
                }));
                f.text[KEY] = Some(arena.push(&key(rng)));
                f.http_status = batch.then_some(204);
                f.numbers[1] = Some(size(rng));
                f.count = f.count.max(24);
                self.tls_fields(&mut f, arena, false);
                let host = format!("s3.{}.amazonaws.com", pick(&mut self.rng, REGIONS));
                f.tail[5] = Some(arena.push(&host));
                return f;
            }
            Shape::Request | Shape::VeryLong | Shape::Damaged => {}
        }

        // An ordinary request.
        let rng = &mut self.rng;
        let ip = if rng.chance(5) { ipv6(rng) } else { ipv4(rng) };
        f.text[REMOTE_IP] = Some(arena.push(&ip));
        let anonymous = rng.chance(6);
        if !anonymous {
            let requester = if rng.chance(1) {
                format!(
                    "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E{}",
                    upper(rng, 13)
                )
            } else {
                self.requesters[rng.below(self.requesters.len() as u64) as usize].clone()
            };
            f.text[REQUESTER] = Some(arena.push(&requester));
        }
        let rng = &mut self.rng;
        let (operation, method) = pick(rng, OPERATIONS);
        f.text[OPERATION] = Some(arena.push(operation));
        let object = operation.ends_with("OBJECT") || operation.ends_with("PART");
        let key = key(rng);
        if object {
            f.text[KEY] = Some(arena.push(&key));
        }
        let presigned = object && !anonymous && rng.chance(10);
        let path_style = rng.chance(15);
        let mut uri = format!("{method} /");
        if path_style {
            uri.push_str(bucket);
            uri.push('/');
        }
        if object {
            uri.push_str(&key);
        } else {
            uri.push_str(pick(rng, BUCKET_QUERIES));
        }
        if presigned || shape == Shape::VeryLong {
            let token_len = if shape == Shape::VeryLong {
                20_000 + rng.below(200_000) as usize
            } else if rng.chance(25) {
                600 + rng.below(800) as usize
            } else {
                0
            };
            uri.push_str(&presigned_query(rng, seconds, token_len));
        }
        uri.push_str(if rng.chance(3) { " HTTP/1.0" } else { " HTTP/1.1" });
        f.text[REQUEST_URI] = Some(arena.push(&uri));

        let (status, error) = match rng.below(100) {
            0..=5 => (403, Some("AccessDenied")),
            6..=10 => (404, Some(if object { "NoSuchKey" } else { "NoSuchBucketPolicy" })),
            11 => (503, Some("SlowDown")),
            12 => (500, Some("InternalError")),
            13..=15 if method == "GET" && object => (206, None),
            16 if method == "GET" && object => (304, None),
            _ if method == "DELETE" => (204, None),
            _ => (200, None),
        };
        f.http_status = Some(status);
        f.text[ERROR_CODE] = error.map(|error| arena.push(error));
        let object_size = size(rng);
        f.numbers = [
            Some(match (error, method) {
                (Some(_), _) => 243 + rng.below(100),
                (None, "GET") if status == 206 => object_size.min(8_388_608),
                (None, "GET") => object_size,
                _ => rng.below(2_000),
            })
            .filter(|&sent| sent > 0),
            (object && error.is_none()).then_some(object_size),
            Some(1 + rng.below(400)),
            (!rng.chance(10)).then(|| 1 + rng.below(60)),
        ];
        if rng.chance(12) {
            f.text[REFERRER] = Some(arena.push(pick(rng, REFERRERS)));
        }
        let agent = if rng.chance(1) {
            // S3 does not escape quotes, and some clients put them in the User-Agent.
            pick(rng, QUOTED_AGENTS)
        } else if presigned {
            pick(rng, BROWSER_AGENTS)
        } else {
            pick(rng, AGENTS)
        };
        f.text[USER_AGENT] = Some(arena.push(agent));
        if rng.chance(3) {
            f.tail[0] = Some(arena.push(&alnum(rng, 32)));
        }
        self.tls_fields(&mut f, arena, anonymous);
        let rng = &mut self.rng;
        if presigned {
            f.tail[4] = Some(arena.push("QueryString"));
        }
        let host = if path_style {
            format!("s3.{}.amazonaws.com", pick(rng, REGIONS))
        } else {
            format!("{bucket}.s3.{}.amazonaws.com", pick(rng, REGIONS))
        };
        f.tail[5] = Some(arena.push(&host));
        if rng.chance(2) {
            let account = digits(rng, 12);
            let arn = format!(
                "arn:aws:s3:{}:{account}:accesspoint/{}",
                pick(rng, REGIONS),
                pick(rng, ROLE_NAMES)
            );
            f.tail[7] = Some(arena.push(&arn.to_lowercase()));
        }
        if rng.chance(2) {
            f.tail[8] = Some(arena.push("Yes"));
        }
        f.tail[9] = Some(arena.push(pick(rng, REGIONS)));
        f
    }

    /// Signature version, cipher, authentication type and TLS version.
    fn tls_fields(&mut self, f: &mut Fields, arena: &mut Arena, anonymous: bool) {
        let rng = &mut self.rng;
        if !anonymous {
            f.tail[2] = Some(arena.push(if rng.chance(1) { "SigV2" } else { "SigV4" }));
            f.tail[4] = Some(arena.push("AuthHeader"));
        }
        let (cipher, tls) = match rng.below(100) {
            0 => ("ECDHE-RSA-AES128-SHA", "TLSv1.1"),
            1..=3 => ("-", "-"),
            4..=40 => ("TLS_AES_128_GCM_SHA256", "TLSv1.3"),
            _ => ("ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2"),
        };
        if cipher != "-" {
            f.tail[3] = Some(arena.push(cipher));
            f.tail[6] = Some(arena.push(tls));
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Request,
    Lifecycle,
    BatchDelete,
    CopyGet,
    Damaged,
    VeryLong,
}

// Indexes into `Fields::text`.
const OWNER: usize = 0;
const BUCKET: usize = 1;
const REMOTE_IP: usize = 2;
const REQUESTER: usize = 3;
const REQUEST_ID: usize = 4;
const OPERATION: usize = 5;
const KEY: usize = 6;
const REQUEST_URI: usize = 7;
const ERROR_CODE: usize = 8;
const REFERRER: usize = 9;
const USER_AGENT: usize = 10;

/// The fields of one record as spans of an [`Arena`].
#[derive(Default)]
struct Fields {
    text: [Option<Span>; 11],
    time: Option<LogTime>,
    http_status: Option<u16>,
    numbers: [Option<u64>; 4],
    tail: [Option<Span>; 10],
    count: usize,
}

#[derive(Clone, Copy)]
struct Span(usize, usize);

/// The bytes of one record's text fields, so a [`LogRecord`] can borrow them all at once.
#[derive(Default)]
struct Arena(Vec<u8>);

impl Arena {
    fn push(&mut self, text: &str) -> Span {
        let start = self.0.len();
        self.0.extend_from_slice(text.as_bytes());
        Span(start, self.0.len())
    }

    fn get(&self, span: Span) -> &[u8] {
        &self.0[span.0..span.1]
    }

    fn record(&self, f: &Fields) -> LogRecord<'_> {
        let text = |index: usize| f.text[index].map(|span| self.get(span));
        let mut tail = [None; 10];
        for (slot, span) in tail.iter_mut().zip(f.tail).take(f.count.saturating_sub(17)) {
            *slot = span.map(|span| self.get(span));
        }
        LogRecord {
            bucket_owner: text(OWNER),
            bucket: text(BUCKET),
            time: f.time,
            remote_ip: text(REMOTE_IP),
            requester: text(REQUESTER),
            request_id: text(REQUEST_ID),
            operation: text(OPERATION),
            key: text(KEY),
            request_uri: text(REQUEST_URI),
            http_status: f.http_status,
            error_code: text(ERROR_CODE),
            bytes_sent: f.numbers[0],
            object_size: f.numbers[1],
            total_time: f.numbers[2],
            turn_around_time: f.numbers[3],
            referrer: text(REFERRER),
            user_agent: text(USER_AGENT),
            tail,
            extra_fields: None,
            field_count: f.count,
        }
    }
}

/// splitmix64 (Steele, Lea and Flood): tiny, fast and good enough for test data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (`bound` > 0; the modulo bias is irrelevant here).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn pick<T: Copy>(rng: &mut SplitMix64, items: &[T]) -> T {
    items[rng.below(items.len() as u64) as usize]
}

fn from_alphabet(rng: &mut SplitMix64, alphabet: &[u8], len: usize) -> String {
    (0..len).map(|_| char::from(pick(rng, alphabet))).collect()
}

fn hex(rng: &mut SplitMix64, len: usize) -> String {
    from_alphabet(rng, b"0123456789abcdef", len)
}

fn digits(rng: &mut SplitMix64, len: usize) -> String {
    from_alphabet(rng, b"0123456789", len)
}

fn upper(rng: &mut SplitMix64, len: usize) -> String {
    from_alphabet(rng, b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", len)
}

fn alnum(rng: &mut SplitMix64, len: usize) -> String {
    from_alphabet(
        rng,
        b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._",
        len,
    )
}

fn base64(rng: &mut SplitMix64, len: usize) -> String {
    let mut text = from_alphabet(
        rng,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        len - 1,
    );
    text.push('=');
    text
}

fn ipv4(rng: &mut SplitMix64) -> String {
    let [a, b, c, d, ..] = rng.next().to_le_bytes();
    format!("{}.{b}.{c}.{d}", a.max(3))
}

fn ipv6(rng: &mut SplitMix64) -> String {
    let words = rng.next();
    format!(
        "2001:db8:{:x}:{:x}::{:x}:{:x}",
        words & 0xffff,
        (words >> 16) & 0xffff,
        (words >> 32) & 0xffff,
        words >> 48
    )
}

/// Sizes spread over orders of magnitude, some past 4 GiB.
fn size(rng: &mut SplitMix64) -> u64 {
    let magnitude = rng.below(36);
    1 + rng.below(1 << magnitude)
}

fn key(rng: &mut SplitMix64) -> String {
    let mut key = String::from(pick(rng, PREFIXES));
    for _ in 0..rng.below(3) {
        key.push_str(pick(rng, WORDS));
        key.push('/');
    }
    key.push_str(pick(rng, WORDS));
    if rng.chance(10) {
        key.push_str("%20%28copy%29");
    }
    key.push('-');
    let len = 1 + rng.below(8) as usize;
    key.push_str(&digits(rng, len));
    key.push_str(pick(rng, EXTENSIONS));
    key
}

fn time(seconds: u64) -> LogTime {
    // Within 2026, which is not a leap year.
    const DAYS: [u64; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut day = (seconds / 86_400) % 365;
    let mut month = 0;
    while day >= DAYS[month] {
        day -= DAYS[month];
        month += 1;
    }
    let second_of_day = seconds % 86_400;
    LogTime {
        year: 2026,
        month: month as u8 + 1,
        day: day as u8 + 1,
        hour: (second_of_day / 3_600) as u8,
        minute: (second_of_day / 60 % 60) as u8,
        second: (second_of_day % 60) as u8,
        offset_minutes: 0,
    }
}

/// The query string of a SigV4 presigned URL, with a session token of `token_len` bytes.
fn presigned_query(rng: &mut SplitMix64, seconds: u64, token_len: usize) -> String {
    let t = time(seconds);
    let date = format!("2026{:02}{:02}", t.month, t.day);
    let mut query = format!(
        "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIA{}%2F{date}%2F{}%2Fs3%2Faws4_request\
         &X-Amz-Date={date}T{:02}{:02}{:02}Z&X-Amz-Expires={}&X-Amz-SignedHeaders=host",
        upper(rng, 16),
        pick(rng, REGIONS),
        t.hour,
        t.minute,
        t.second,
        pick(rng, &[300, 900, 3600, 86400, 604800]),
    );
    if token_len > 0 {
        query.push_str("&X-Amz-Security-Token=IQoJb3JpZ2luX2Vj");
        query.push_str(&from_alphabet(
            rng,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789%",
            token_len,
        ));
    }
    if rng.chance(30) {
        query.push_str("&response-content-disposition=attachment%3B%20filename%3D%22report.pdf%22");
    }
    query.push_str("&X-Amz-Signature=");
    query.push_str(&hex(rng, 64));
    query
}

const BUCKETS: &[&str] = &[
    "example-media-prod",
    "example-data-lake-raw",
    "static.example.com",
    "example-backups-eu-west-1",
];

const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
];

const USER_NAMES: &[&str] = &[
    "jane.doe@example.com",
    "ci-deploy",
    "data.engineer+etl@example.com",
    "backup-agent",
    "analytics",
];

const ROLE_NAMES: &[&str] = &[
    "media-reader",
    "etl-glue-job",
    "lambda-thumbnailer",
    "AWSServiceRoleForTrustedAdvisor",
    "eks-node-group",
];

/// `(operation, HTTP method)`, weighted by repetition.
const OPERATIONS: &[(&str, &str)] = &[
    ("REST.GET.OBJECT", "GET"),
    ("REST.GET.OBJECT", "GET"),
    ("REST.GET.OBJECT", "GET"),
    ("REST.GET.OBJECT", "GET"),
    ("REST.GET.OBJECT", "GET"),
    ("REST.GET.OBJECT", "GET"),
    ("REST.HEAD.OBJECT", "HEAD"),
    ("REST.HEAD.OBJECT", "HEAD"),
    ("REST.PUT.OBJECT", "PUT"),
    ("REST.PUT.OBJECT", "PUT"),
    ("REST.PUT.PART", "PUT"),
    ("REST.DELETE.OBJECT", "DELETE"),
    ("REST.GET.BUCKET", "GET"),
    ("REST.GET.BUCKET", "GET"),
    ("REST.HEAD.BUCKET", "HEAD"),
    ("REST.GET.ACL", "GET"),
    ("REST.GET.BUCKETPOLICY", "GET"),
    ("REST.POST.UPLOADS", "POST"),
    ("REST.COPY.OBJECT", "PUT"),
    ("REST.OPTIONS.PREFLIGHT", "OPTIONS"),
];

const LIFECYCLE_OPERATIONS: &[&str] = &[
    "S3.EXPIRE.OBJECT",
    "S3.CREATE.DELETEMARKER",
    "S3.TRANSITION_SIA.OBJECT",
    "S3.TRANSITION_GDA.OBJECT",
    "S3.DELETE.UPLOAD",
];

const BUCKET_QUERIES: &[&str] = &[
    "?list-type=2&prefix=logs%2F2026%2F&delimiter=%2F&encoding-type=url",
    "?acl",
    "?policy",
    "?versioning",
    "?uploads",
    "",
    "?location",
];

const PREFIXES: &[&str] = &[
    "",
    "images/",
    "raw/year=2026/month=01/",
    "backups/",
    "assets/v2/",
    "users/",
];

const WORDS: &[&str] = &[
    "thumbnail",
    "IMG",
    "report",
    "part",
    "index",
    "events",
    "Screen+Shot+2026-01-14+at+09.12.33",
    "caf%C3%A9",
    "logo(1)",
    "data*set",
];

const EXTENSIONS: &[&str] = &[
    ".jpg", ".png", ".parquet", ".json.gz", ".pdf", ".html", ".mp4", ".tar",
];

const REFERRERS: &[&str] = &[
    "https://www.example.com/",
    "https://app.example.com/dashboard/reports?range=30d&team=analytics",
    "https://www.google.com/",
    "https://audit.example.org/hadoop/1/op_open/6f1c2e34-98ab-4cde-b0a1-1c2d3e4f5a6b-00000042/?op=op_open&p1=raw/events&pr=etl&ps=1a2b3c4d-5e6f-4a1b-8c9d-0e1f2a3b4c5d&id=6f1c2e34-98ab-4cde-b0a1-1c2d3e4f5a6b-00000042&t0=91&fs=6f1c2e34-98ab-4cde-b0a1-1c2d3e4f5a6b&t1=93&ts=1768381953000",
];

const AGENTS: &[&str] = &[
    "aws-sdk-java/2.25.11 Linux/6.1.79-99.164.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.210-201.852.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79-99.164.amzn2023.x86_64 exe/x86_64.amzn.2023 prompt/off command/s3.cp",
    "aws-sdk-go-v2/1.25.3 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.51.4",
    "Amazon CloudFront",
    "S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488 Linux/5.10.215-181.850.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.372-b08 java/1.8.0_372 vendor/Oracle_Corporation cfg/retry-mode/standard",
    "Hadoop 3.3.6, aws-sdk-java/1.12.367 Linux/5.15.0-1051-aws OpenJDK_64-Bit_Server_VM/11.0.22+7 java/11.0.22 scala/2.12.18 vendor/Eclipse_Adoptium cfg/retry-mode/legacy",
    "curl/8.5.0",
    "rclone/v1.66.0",
    "Amazon CloudFront",
    "S3Console/0.4",
    "aws-sdk-go/1.44.0 (go1.20.4; linux; amd64)",
];

const BROWSER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0",
];

const QUOTED_AGENTS: &[&str] = &[
    "\"linux64\" bio-toolkit fetch.3.1.0 (phid=abc123,libc=2.35)",
    "linux64 bio-toolkit \\\"fetch.3.1.0 (phid=def456,libc=2.35)\\\"",
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1\"",
];
