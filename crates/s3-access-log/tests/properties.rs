//! Properties of the parser and the record writer over generated input.
//!
//! * Any bytes, including log-shaped token soup and mutated valid lines, give exactly one line
//!   of valid JSON (or nothing for a blank line), whose `RecordId` is the line's XXH3-64, and
//!   never a panic.
//! * A record rendered with `LogRecord::write_line` parses back to itself, for every field count
//!   from 17 to 27 and with extra fields. The generators are realistic but deliberately nasty:
//!   quotes and spaces inside the quoted fields, invalid UTF-8, sizes up to `bigint`, every
//!   offset.
//! * A line cut short at any byte either is quarantined or keeps every field it still has where
//!   it was: each is the whole line's value, absent, or (the one the cut fell in) the start of it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use proptest::sample::Index;
use s3_access_log::{Field, LogRecord, LogTime, Outcome, RecordEncoder, parse, parse_partial};
use serde_json::Value;
use xxhash_rust::xxh3::xxh3_64;

const LOG_FILE: &str = "s3://example-access-logs/logs/2026-04-14-09-20-00-0123456789ABCDEF";

/// Encodes `line` and checks what must hold for any input; returns the outcome.
fn check_any_line(line: &[u8]) -> Outcome {
    let mut out = Vec::new();
    let outcome = RecordEncoder::new(LOG_FILE).encode(line, &mut out);
    let id_bytes = line.strip_suffix(b"\r").unwrap_or(line);
    if outcome == Outcome::Skipped {
        assert!(out.is_empty());
        assert!(
            id_bytes.iter().all(u8::is_ascii_whitespace),
            "skipped a non-blank line"
        );
        return outcome;
    }
    assert_eq!(
        out.iter().filter(|&&b| b == b'\n').count(),
        1,
        "one record, one line"
    );
    assert_eq!(out.last(), Some(&b'\n'));
    let text = std::str::from_utf8(&out).expect("output is UTF-8");
    let record: Value = serde_json::from_str(text).expect("output is JSON");
    assert!(record.is_object());
    assert_eq!(record["RecordId"], format!("{:016x}", xxh3_64(id_bytes)));
    assert_eq!(record["SchemaVersion"], 1);
    assert_eq!(record["LogFile"], LOG_FILE);

    let (parsed, error) = parse_partial(line);
    assert_eq!(outcome, error.map_or(Outcome::Parsed, Outcome::Quarantined));
    assert_eq!(parse(line).err(), error);
    assert!(parsed.field_count <= 27);
    assert!(parsed.extra_fields.is_none() || parsed.field_count == 27);
    match error {
        None => {
            assert!(parsed.field_count >= 17);
            assert!(record.get("ParseError").is_none() && record.get("RawLine").is_none());
        }
        Some(error) => {
            assert_eq!(record["ParseError"], error.to_string());
            assert_eq!(record["RawLine"], String::from_utf8_lossy(id_bytes).as_ref());
        }
    }
    outcome
}

/// Whatever parsed cleanly, rendered again, parses to the same record.
///
/// Except when the bare tokens after the User-Agent hold quotes, which S3 never writes:
/// `write_line` renders a null User-Agent as `"-"` whatever the line had, and a quoted
/// User-Agent runs to the last quote on the line, where a bare `-` stops at the next space.
fn check_render_is_stable(line: &[u8]) {
    if let Ok(record) = parse(line) {
        let quote_in_tail = record
            .tail
            .iter()
            .chain([&record.extra_fields])
            .any(|value| value.is_some_and(|value| value.contains(&b'"')));
        if quote_in_tail {
            return;
        }
        let mut rendered = Vec::new();
        record.write_line(&mut rendered);
        assert_eq!(
            parse(&rendered),
            Ok(record),
            "re-rendered as {:?}",
            String::from_utf8_lossy(&rendered)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Generators of realistic field values.

fn text(regex: &'static str) -> BoxedStrategy<Vec<u8>> {
    regex.prop_map(String::into_bytes).boxed()
}

fn maybe(strategy: BoxedStrategy<Vec<u8>>) -> BoxedStrategy<Option<Vec<u8>>> {
    proptest::option::weighted(0.85, strategy).boxed()
}

fn number() -> BoxedStrategy<Option<u64>> {
    proptest::option::weighted(
        0.8,
        prop_oneof![0u64..100_000, 0..=i64::MAX as u64, (1u64 << 32)..(1u64 << 44)],
    )
    .boxed()
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn time() -> BoxedStrategy<LogTime> {
    let offset = prop_oneof![
        3 => Just(0i16),
        1 => (-23i16..=23, 0i16..60).prop_map(|(hours, minutes)| hours * 60 + hours.signum() * minutes),
    ];
    (1990u16..=2100, 1u8..=12, 0u8..24, 0u8..60, 0u8..60, offset)
        .prop_flat_map(|(year, month, hour, minute, second, offset_minutes)| {
            (1..=days_in_month(year, month)).prop_map(move |day| LogTime {
                year,
                month,
                day,
                hour,
                minute,
                second,
                offset_minutes,
            })
        })
        .boxed()
}

fn requester() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        text("[0-9a-f]{64}"),
        text("arn:aws:iam::[0-9]{12}:user/[a-z][a-z0-9.@+=,_-]{0,30}"),
        text("arn:aws:sts::[0-9]{12}:assumed-role/[A-Za-z-]{3,20}/[a-z0-9_.-]{3,40}"),
        text("arn:aws-(cn|us-gov):iam::[0-9]{12}:root"),
        Just(b"svc:delivery.logs.amazonaws.com".to_vec()),
        Just(b"AmazonS3".to_vec()),
        text("[0-9a-f]{32}|[0-9a-f]{96}"),
        text("arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E[A-Z0-9]{8,14}"),
    ]
    .boxed()
}

fn operation() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        text("REST\\.(GET|PUT|HEAD|POST|DELETE|COPY|OPTIONS)\\.[A-Z_]{3,16}"),
        text("S3\\.(EXPIRE\\.OBJECT|CREATE\\.DELETEMARKER|TRANSITION_[A-Z]{3}\\.OBJECT|COMPUTE\\.OBJECT\\.CHECKSUM)"),
        text("(BATCH\\.DELETE\\.OBJECT|SOAP\\.PUT\\.OBJECT|WEBSITE\\.GET\\.OBJECT|REST\\.COPY\\.OBJECT_GET)"),
    ]
    .boxed()
}

/// Bytes for free text: words, spaces, quotes raw and escaped, UTF-8 and invalid UTF-8.
fn free_text() -> BoxedStrategy<Vec<u8>> {
    let piece = prop_oneof![
        4 => text("[A-Za-z0-9/._;:,()+=-]{1,24}"),
        3 => Just(b" ".to_vec()),
        1 => Just(b"\"".to_vec()),
        1 => Just(b"\\\"".to_vec()),
        1 => Just(b" - ".to_vec()),
        1 => Just("é日本🙂".as_bytes().to_vec()),
        1 => Just(vec![0xff, 0xc3]),
        1 => Just(b"\t".to_vec()),
    ];
    proptest::collection::vec(piece, 0..16)
        .prop_map(|pieces| pieces.concat())
        .prop_filter("`-` is null", |text| text != b"-")
        .boxed()
}

fn request_uri() -> BoxedStrategy<Vec<u8>> {
    let path_piece = prop_oneof![
        6 => text("[A-Za-z0-9/._~%=&?*!'()+-]{1,30}"),
        1 => Just(b"\"".to_vec()),
        1 => Just(vec![0xc3, 0xa9, 0xff]),
        1 => text("X-Amz-Security-Token=[A-Za-z0-9%]{200,2000}"),
    ];
    (
        text("GET|PUT|HEAD|POST|DELETE|OPTIONS"),
        proptest::collection::vec(path_piece, 0..8),
        text("HTTP/1\\.[01]|HTTP/2\\.0"),
    )
        .prop_map(|(method, path, protocol)| {
            [method, b" /".to_vec(), path.concat(), b" ".to_vec(), protocol].concat()
        })
        .boxed()
}

/// A referrer is free text with one constraint, because the format is genuinely ambiguous
/// there: S3 does not escape quotes, so in `"a" "b" "c"` the Referer could be `a` (and the
/// User-Agent `b" "c`) or `a" "b`. The parser ends the Referer at the first quote followed by a
/// space and the start of a User-Agent; a generated Referer never has a quote followed by a
/// space, so it has one reading. (The User-Agent has no such constraint: every field after it
/// is a bare token, so it ends at the last quote.)
fn referrer() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        text("https?://[a-z0-9.-]{3,30}(/[A-Za-z0-9._?&=%-]{0,60})?"),
        free_text().prop_map(|text| {
            let mut out = Vec::with_capacity(text.len());
            for (index, &byte) in text.iter().enumerate() {
                out.push(byte);
                if byte == b'"' && text.get(index + 1) == Some(&b' ') {
                    out.push(b'_');
                }
            }
            out
        }),
    ]
    .prop_filter("`-` is null", |text| text != b"-")
    .boxed()
}

/// Bare tokens: no space, never `-` (that is null), and after the User-Agent no quote (the
/// User-Agent ends at the last quote on the line).
fn token() -> BoxedStrategy<Vec<u8>> {
    text("[A-Za-z0-9._:/+=@%*!,()~-]{1,40}")
        .prop_filter("`-` is null", |token| token != b"-")
        .boxed()
}

fn tail() -> BoxedStrategy<[Option<Vec<u8>>; 10]> {
    (
        maybe(text("[A-Za-z0-9._]{32}")),
        maybe(text("[A-Za-z0-9+/]{56,76}={0,1}")),
        maybe(text("SigV[24]")),
        maybe(text(
            "ECDHE-RSA-AES128-(GCM-SHA256|SHA)|TLS_AES_(128|256)_GCM_SHA(256|384)",
        )),
        maybe(text("AuthHeader|QueryString")),
        maybe(text(
            "[a-z0-9.-]{3,30}\\.amazonaws\\.com(\\.cn)?(:[0-9]{2,5})?|[a-z0-9.-]{3,30}",
        )),
        maybe(text("TLS[vV]1(\\.[123])?")),
        maybe(text(
            "arn:aws:s3:[a-z]{2}-[a-z]{4,9}-[1-3]:[0-9]{12}:accesspoint/[a-z0-9-]{3,20}",
        )),
        maybe(Just(b"Yes".to_vec()).boxed()),
        maybe(text("[a-z]{2}-[a-z]{4,9}-[1-3]")),
    )
        .prop_map(|(a, b, c, d, e, f, g, h, i, j)| [a, b, c, d, e, f, g, h, i, j])
        .boxed()
}

/// A record that owns its bytes; [`OwnedRecord::record`] borrows a [`LogRecord`] from it.
#[derive(Clone, Debug)]
struct OwnedRecord {
    text: [Option<Vec<u8>>; 11],
    time: Option<LogTime>,
    http_status: Option<u16>,
    numbers: [Option<u64>; 4],
    tail: [Option<Vec<u8>>; 10],
    extra_fields: Option<Vec<u8>>,
    field_count: usize,
}

impl OwnedRecord {
    fn record(&self) -> LogRecord<'_> {
        let t = |index: usize| self.text[index].as_deref();
        let mut tail = [None; 10];
        for (slot, value) in tail.iter_mut().zip(&self.tail) {
            *slot = value.as_deref();
        }
        LogRecord {
            bucket_owner: t(0),
            bucket: t(1),
            time: self.time,
            remote_ip: t(2),
            requester: t(3),
            request_id: t(4),
            operation: t(5),
            key: t(6),
            request_uri: t(7),
            http_status: self.http_status,
            error_code: t(8),
            bytes_sent: self.numbers[0],
            object_size: self.numbers[1],
            total_time: self.numbers[2],
            turn_around_time: self.numbers[3],
            referrer: t(9),
            user_agent: t(10),
            tail,
            extra_fields: self.extra_fields.as_deref(),
            field_count: self.field_count,
        }
    }

    fn line(&self) -> Vec<u8> {
        let mut line = Vec::new();
        self.record().write_line(&mut line);
        line
    }
}

fn owned_record() -> impl Strategy<Value = OwnedRecord> {
    let head = (
        maybe(text("[0-9a-f]{64}|[0-9a-f]{32}|[A-Za-z0-9]{4,12}")),
        maybe(text("[a-z0-9][a-z0-9.-]{2,40}")),
        proptest::option::weighted(0.9, time()),
        maybe(text(
            "([0-9]{1,3}\\.){3}[0-9]{1,3}|[0-9a-f]{1,4}(:[0-9a-f]{0,4}){2,7}|::ffff:127\\.0\\.0\\.1",
        )),
        maybe(requester()),
        maybe(text(
            "[0-9A-Z]{16}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        )),
        maybe(operation()),
        maybe(prop_oneof![token(), text("[A-Za-z0-9/._%+*!'()\"-]{1,200}")].boxed()),
    );
    let middle = (
        maybe(request_uri()),
        proptest::option::weighted(0.9, any::<u16>()),
        maybe(text("[A-Z][A-Za-z]{4,30}")),
        [number(), number(), number(), number()],
        maybe(referrer()),
        maybe(
            prop_oneof![free_text(), text("[A-Za-z0-9/. ();,_-]{1,300}")]
                .prop_filter("`-` is null", |text| text != b"-")
                .boxed(),
        ),
    );
    let end = (
        tail(),
        17usize..=27,
        proptest::option::weighted(0.3, proptest::collection::vec(token(), 1..4)),
    );
    (head, middle, end).prop_map(
        |(
            (owner, bucket, time, ip, requester, request_id, operation, key),
            (uri, status, error_code, numbers, referrer, user_agent),
            (mut tail, field_count, extras),
        )| {
            // A requester with spaces ends where the Operation is found, so the Operation must
            // be there: `arn:… Identity E2X ABC - -` has no single reading. S3 always logs
            // an Operation for such requests.
            let operation = match (&requester, operation) {
                (Some(requester), None) if requester.contains(&b' ') => Some(b"REST.GET.OBJECT".to_vec()),
                (_, operation) => operation,
            };
            for value in tail.iter_mut().skip(field_count - 17) {
                *value = None;
            }
            OwnedRecord {
                text: [
                    owner, bucket, ip, requester, request_id, operation, key, uri, error_code, referrer,
                    user_agent,
                ],
                time,
                http_status: status,
                numbers,
                tail,
                extra_fields: extras
                    .filter(|_| field_count == 27)
                    .map(|extras| extras.join(&b' ')),
                field_count,
            }
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Generators of damaged lines.

/// Tokens that steer the parser down its less travelled paths.
fn token_soup() -> impl Strategy<Value = Vec<u8>> {
    let word = prop_oneof![
        Just(&b"-"[..]),
        Just(&b"\"-\""[..]),
        Just(&b"\""[..]),
        Just(&b"\"GET / HTTP/1.1\""[..]),
        Just(&b"[06/Feb/2019:00:00:38 +0000]"[..]),
        Just(&b"[06/Feb/2019:00:00:38"[..]),
        Just(&b"+0000]"[..]),
        Just(&b"REST.GET.OBJECT"[..]),
        Just(&b"S3.COMPUTE.OBJECT.CHECKSUM"[..]),
        Just(&b"arn:aws:iam::cloudfront:user/CloudFront"[..]),
        Just(&b"Origin"[..]),
        Just(&b"200"[..]),
        Just(&b"18446744073709551616"[..]),
        Just(&b"SigV4"[..]),
        Just(&b"TLSv1.2"[..]),
        Just(&b"\"Mozilla/5.0 (X11)\""[..]),
        Just(&b"\"a\" \"b\""[..]),
        Just(&b""[..]),
        Just(&b"\r"[..]),
        Just(&b"\xff\xfe"[..]),
    ];
    proptest::collection::vec(word, 0..40).prop_map(|words| words.join(&b' '))
}

#[derive(Clone, Debug)]
enum Mutation {
    Insert(Index, u8),
    Replace(Index, u8),
    Delete(Index, usize),
    Truncate(Index),
    Duplicate(Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![
        Just(b' '),
        Just(b'"'),
        Just(b'-'),
        Just(b'['),
        Just(b']'),
        Just(b'\\'),
        Just(b'\r'),
        Just(b'\t'),
        Just(0xff),
        Just(0),
        any::<u8>(),
    ];
    prop_oneof![
        (any::<Index>(), byte.clone()).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        (any::<Index>(), byte).prop_map(|(at, byte)| Mutation::Replace(at, byte)),
        (any::<Index>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete(at, len)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), any::<Index>()).prop_map(|(from, to)| Mutation::Duplicate(from, to)),
    ]
}

fn mutate(mut line: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        let len = line.len();
        let at = |index: &Index| if len == 0 { 0 } else { index.index(len + 1) };
        match mutation {
            Mutation::Insert(index, byte) => line.insert(at(index), *byte),
            Mutation::Replace(index, byte) if len > 0 => line[index.index(len)] = *byte,
            Mutation::Delete(index, count) => {
                let start = at(index);
                line.drain(start..(start + count).min(len));
            }
            Mutation::Truncate(index) => line.truncate(at(index)),
            Mutation::Duplicate(from, to) => {
                let (a, b) = (at(from), at(to));
                let piece = line[a.min(b)..a.max(b)].to_vec();
                let insert_at = a.max(b);
                line.splice(insert_at..insert_at, piece);
            }
            Mutation::Replace(..) => {}
        }
    }
    line
}

/// Our golden fixture lines, as seeds for mutation.
fn fixture_lines() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "log"))
        .collect();
    paths.sort();
    paths
        .iter()
        .flat_map(|path| {
            let bytes = std::fs::read(path).unwrap();
            bytes
                .split(|&b| b == b'\n')
                .map(<[u8]>::to_vec)
                .filter(|line| !line.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Checks that `cut`, a line cut short, kept every field of `whole` (the same line parsed
/// whole) in place: a field is the same value, absent, or, for the last one only, its start.
fn check_cut_keeps_fields_in_place(whole: &LogRecord<'_>, cut: &LogRecord<'_>, shown: &str) {
    assert!(cut.time.is_none_or(|time| Some(time) == whole.time), "{shown}");
    let mut cut_short = Vec::new();
    for field in Field::ALL {
        assert!(
            cut.number(field).is_none_or(|n| Some(n) == whole.number(field)),
            "{shown}: {field:?}"
        );
        if let Some(value) = cut.text(field) {
            let whole_value = whole.text(field).unwrap_or_default();
            assert!(whole_value.starts_with(value), "{shown}: {field:?}");
            if value != whole_value {
                cut_short.push(field);
            }
        }
    }
    if let Some(extra) = cut.extra_fields {
        assert!(
            whole.extra_fields.unwrap_or_default().starts_with(extra),
            "{shown}: extra"
        );
    }
    assert!(cut_short.len() <= 1, "{shown}: {cut_short:?} all cut short");
}

/// Every fixture line that parses, cut at every byte: no field moves to another's place.
///
/// Except lines whose Referer or User-Agent hold a quote: cut inside such a value, the line
/// can end at that quote (`"-" ""linux64" sra` reads as the User-Agent `"linux64` and the
/// Version Id `sra`), which is what a whole line with that User-Agent would look like. And
/// except lines with a quoted Host header (OneFS): cut inside it, the line ends at its opening
/// quote, as a line of 17 fields whose User-Agent holds the next five would.
#[test]
fn a_line_cut_short_keeps_its_fields_in_place() {
    let mut cuts = 0;
    for line in fixture_lines() {
        let Ok(whole) = parse(&line) else { continue };
        let quoted_text = [whole.referrer, whole.user_agent];
        if quoted_text.iter().flatten().any(|value| value.contains(&b'"')) {
            continue;
        }
        let quoted_host = whole
            .text(Field::HostHeader)
            .map(|host| [b"\"", host, b"\""].concat());
        if quoted_host.is_some_and(|quoted| line.windows(quoted.len()).any(|w| w == quoted)) {
            continue;
        }
        for end in 1..line.len() {
            let shown = String::from_utf8_lossy(&line[..end]).into_owned();
            if let Ok(cut) = parse(&line[..end]) {
                check_cut_keeps_fields_in_place(&whole, &cut, &shown);
                cuts += 1;
            }
        }
    }
    assert!(
        cuts > 1_000,
        "only {cuts} cut lines parsed: the fixtures were not read"
    );
}

// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_give_one_json_record(line in proptest::collection::vec(any::<u8>(), 0..600)) {
        check_any_line(&line);
        check_render_is_stable(&line);
    }

    #[test]
    fn log_shaped_token_soup_gives_one_json_record(line in token_soup()) {
        check_any_line(&line);
        check_render_is_stable(&line);
    }

    #[test]
    fn blank_lines_give_no_record(line in "[ \t\r]{0,20}") {
        prop_assert_eq!(check_any_line(line.as_bytes()), Outcome::Skipped);
    }
}

proptest! {
    #[test]
    fn rendered_records_parse_back(owned in owned_record()) {
        let line = owned.line();
        let record = owned.record();
        prop_assert_eq!(parse(&line), Ok(record), "line: {:?}", String::from_utf8_lossy(&line));
        prop_assert_eq!(check_any_line(&line), Outcome::Parsed);
        // What a CRLF file or a trailing space adds changes nothing but the id.
        let padded = [&line[..], b" \r"].concat();
        prop_assert_eq!(parse(&padded), Ok(owned.record()));
    }

    #[test]
    fn mutated_lines_never_panic(
        owned in owned_record(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let line = mutate(owned.line(), &mutations);
        check_any_line(&line);
        check_render_is_stable(&line);
    }

    #[test]
    fn mutated_fixture_lines_never_panic(
        seed in any::<Index>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let lines = fixture_lines();
        let line = mutate(seed.get(&lines).clone(), &mutations);
        check_any_line(&line);
        check_render_is_stable(&line);
    }
}
