//! Turns one log line into a [`LogRecord`] that borrows from it.
//!
//! The line is scanned once, left to right. Three fields need more than "split on spaces":
//!
//! * **Requester** may contain spaces (`arn:aws:iam::cloudfront:user/CloudFront Origin Access
//!   Identity E2EXAMPLE`). The Operation token has a strict grammar (`^[A-Z0-9_]+(\.[A-Z0-9_]+)+$`)
//!   that no requester word matches, so the requester is everything up to the token before it.
//! * **Request-URI** is quoted but S3 does not escape quotes inside it (`"GET /" HTTP/1.1"`). Its
//!   closing quote is the first one followed by the fixed-shape fields 10 to 15 (status, error
//!   code, four numbers) and the start of the Referer. Clients cannot put spaces into a request
//!   line, so this anchor cannot be spoofed from inside the URI.
//! * **Referer / User-Agent** are quoted free text. The Referer ends at the first `" "` (or
//!   `" -`); the User-Agent ends at the last quote on the line, because every field after it is
//!   a bare token (but for a Host header in quotes, which one S3-compatible producer writes).
//!   Whatever a client puts into these headers, the fields after them stay put.
//!
//! Every field may be `-` (and the quoted ones `"-"`), which maps to `None`. Fields past the
//! User-Agent are optional (older formats stop early) and fields past the last known one are kept
//! as extra fields, as AWS asks parsers to do.

use std::cell::Cell;

use memchr::{memchr, memchr_iter, memrchr, memrchr_iter};

use crate::Field;
use crate::error::{ErrorKind, ParseError};
use crate::time::LogTime;

/// The fields that follow the User-Agent, in line order.
pub(crate) const TAIL: [Field; 10] = [
    Field::VersionId,
    Field::HostId,
    Field::SignatureVersion,
    Field::CipherSuite,
    Field::AuthenticationType,
    Field::HostHeader,
    Field::TlsVersion,
    Field::AccessPointArn,
    Field::AclRequired,
    Field::SourceRegion,
];

/// Known fields after the Host header: TLS version, access point, ACL required, source Region.
const AFTER_HOST_HEADER: usize = 4;

/// The Host header's place in [`TAIL`].
const HOST_HEADER: usize = Field::HostHeader as usize - Field::VersionId as usize;

/// The largest number a record carries: Athena's and Parquet's `bigint` (a signed 64-bit
/// integer). No real size or duration comes near it; a larger one is a damaged line, and a
/// record carrying it would make every query over its table fail to read it.
const MAX_NUMBER: u64 = i64::MAX as u64;

/// How many tokens a requester with spaces may span before we stop looking for the Operation.
const MAX_REQUESTER_WORDS: usize = 8;

/// One log line, parsed. Text fields borrow from the line and are raw bytes, because S3 logs
/// whatever bytes the client sent; `None` is a field that was `-`, `"-"` or absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogRecord<'a> {
    /// Field 1.
    pub bucket_owner: Option<&'a [u8]>,
    /// Field 2.
    pub bucket: Option<&'a [u8]>,
    /// Field 3, with its offset.
    pub time: Option<LogTime>,
    /// Field 4.
    pub remote_ip: Option<&'a [u8]>,
    /// Field 5; may contain spaces.
    pub requester: Option<&'a [u8]>,
    /// Field 6.
    pub request_id: Option<&'a [u8]>,
    /// Field 7.
    pub operation: Option<&'a [u8]>,
    /// Field 8, URL-encoded as logged.
    pub key: Option<&'a [u8]>,
    /// Field 9 without its quotes.
    pub request_uri: Option<&'a [u8]>,
    /// Field 10.
    pub http_status: Option<u16>,
    /// Field 11.
    pub error_code: Option<&'a [u8]>,
    /// Field 12.
    pub bytes_sent: Option<u64>,
    /// Field 13.
    pub object_size: Option<u64>,
    /// Field 14, milliseconds.
    pub total_time: Option<u64>,
    /// Field 15, milliseconds.
    pub turn_around_time: Option<u64>,
    /// Field 16 without its quotes.
    pub referrer: Option<&'a [u8]>,
    /// Field 17 without its quotes.
    pub user_agent: Option<&'a [u8]>,
    /// Fields 18 to 27 (Version Id to Source Region), see [`Field::ALL`].
    pub tail: [Option<&'a [u8]>; 10],
    /// Everything after field 27: space-separated fields this parser does not know yet.
    pub extra_fields: Option<&'a [u8]>,
    /// How many of the 27 known fields the line had: 17, 18, 24 to 27 (or fewer after an error).
    pub field_count: usize,
}

impl<'a> LogRecord<'a> {
    /// A text field by name; `None` for numeric fields and the time.
    pub fn text(&self, field: Field) -> Option<&'a [u8]> {
        match field {
            Field::BucketOwner => self.bucket_owner,
            Field::Bucket => self.bucket,
            Field::RemoteIp => self.remote_ip,
            Field::Requester => self.requester,
            Field::RequestId => self.request_id,
            Field::Operation => self.operation,
            Field::Key => self.key,
            Field::RequestUri => self.request_uri,
            Field::ErrorCode => self.error_code,
            Field::Referrer => self.referrer,
            Field::UserAgent => self.user_agent,
            Field::Timestamp
            | Field::HttpStatus
            | Field::BytesSent
            | Field::ObjectSize
            | Field::TotalTime
            | Field::TurnAroundTime => None,
            tail => self.tail[tail as usize - Field::VersionId as usize],
        }
    }

    /// A numeric field by name; `None` for text fields.
    pub fn number(&self, field: Field) -> Option<u64> {
        match field {
            Field::HttpStatus => self.http_status.map(u64::from),
            Field::BytesSent => self.bytes_sent,
            Field::ObjectSize => self.object_size,
            Field::TotalTime => self.total_time,
            Field::TurnAroundTime => self.turn_around_time,
            _ => None,
        }
    }

    /// The extra fields past the last known one, in order.
    pub fn extra_fields(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        self.extra_fields
            .into_iter()
            .flat_map(|extra| extra.split(|&b| b == b' '))
    }
}

/// Parses a line (without its line terminator). Trailing `\r`, spaces and tabs are ignored.
pub fn parse(line: &[u8]) -> Result<LogRecord<'_>, ParseError> {
    let (record, error) = parse_partial(line);
    match error {
        None => Ok(record),
        Some(error) => Err(error),
    }
}

/// Parses as much of a line as can be trusted.
///
/// On an error, fields before the failing one are kept (they were read from the left and are
/// sound) and the rest are `None`. When the fields after the User-Agent do not have the shape of
/// their positions (an unexplained extra token shifts them), that whole tail is dropped rather
/// than reported shifted.
pub fn parse_partial(line: &[u8]) -> (LogRecord<'_>, Option<ParseError>) {
    let mut record = LogRecord::default();
    let outcome = parse_counting(line, &LastTime::default(), &mut record);
    (record, outcome.err())
}

/// [`parse_partial`] that also says, for a line that parsed, how many of its quotes were the
/// delimiters of quoted fields. Every other quote is inside a value, which is what the record
/// writer needs to know to copy values without looking at each for bytes to escape.
///
/// `last_time` carries the time read from the line before, for a caller reading many lines.
/// The fields are written into `record`, which must start out empty: the caller's own record is
/// filled in place, where returning one would copy its 500-odd bytes on every line.
pub(crate) fn parse_counting<'a>(
    line: &'a [u8],
    last_time: &LastTime,
    record: &mut LogRecord<'a>,
) -> Result<usize, ParseError> {
    let mut parser = Parser {
        line: trim_end(line),
        last_time,
        pos: 0,
        bracket_ahead: true,
        delimiters: 0,
    };
    parser.run(record).map(|()| parser.delimiters)
}

/// Removes trailing `\r`, spaces and tabs: AWS's own example lines end with a space, and files
/// copied through Windows tools end lines with CRLF.
pub fn trim_end(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|&b| !matches!(b, b'\r' | b' ' | b'\t'))
        .map_or(0, |i| i + 1);
    &line[..end]
}

/// The last time text read and the time it holds.
///
/// Lines come in the order S3 wrote them, so consecutive lines often carry the same second (a
/// third of the pairs in a mixed log, nearly all in a busy bucket's): the same text is then
/// compared rather than parsed again.
#[derive(Clone, Debug, Default)]
pub(crate) struct LastTime(Cell<Option<([u8; LogTime::TEXT_LEN], LogTime)>>);

impl LastTime {
    /// [`LogTime::parse`], remembering what it read.
    fn parse(&self, text: &[u8]) -> Result<LogTime, ErrorKind> {
        if let Some((last, time)) = self.0.get()
            && text == last
        {
            return Ok(time);
        }
        let time = LogTime::parse(text)?;
        if let Ok(text) = text.try_into() {
            self.0.set(Some((text, time)));
        }
        Ok(time)
    }
}

/// The fixed-shape fields 10 to 15 between the Request-URI and the Referer.
struct Middle<'a> {
    http_status: Option<u16>,
    error_code: Option<&'a [u8]>,
    numbers: [Option<u64>; 4],
}

/// The Request-URI and the fields 10 to 15 that anchor its end.
type UriAndMiddle<'a> = (Option<&'a [u8]>, Middle<'a>);

struct Parser<'a, 'm> {
    line: &'a [u8],
    last_time: &'m LastTime,
    pos: usize,
    /// Whether a `[` is left on the line from the Request-URI on: without one, no field there
    /// can hold another record's time, and one search spares a search per field.
    bracket_ahead: bool,
    /// Quotes taken off quoted fields so far.
    delimiters: usize,
}

impl<'a> Parser<'a, '_> {
    fn run(&mut self, r: &mut LogRecord<'a>) -> Result<(), ParseError> {
        r.bucket_owner = dash_to_none(self.bare(Field::BucketOwner)?);
        r.field_count = 1;
        r.bucket = dash_to_none(self.bare(Field::Bucket)?);
        r.field_count = 2;
        r.time = self.time()?;
        r.field_count = 3;
        r.remote_ip = dash_to_none(self.bare(Field::RemoteIp)?);
        r.field_count = 4;
        let [requester, request_id, operation] = self.requester_to_operation()?;
        r.requester = dash_to_none(requester);
        r.request_id = dash_to_none(request_id);
        r.operation = dash_to_none(operation);
        r.field_count = 7;
        let key_start = self.pos;
        r.key = dash_to_none(self.bare(Field::Key)?);
        r.field_count = 8;

        self.bracket_ahead = memchr(b'[', &self.line[self.pos..]).is_some();
        let after_key = self.pos;
        let (uri, middle) = match self.request_uri_and_middle() {
            Ok(read) => read,
            Err(error) => {
                let (key, read) = self.key_with_spaces(key_start, after_key).ok_or(error)?;
                r.key = Some(key);
                read
            }
        };
        self.not_merged(Field::RequestUri, uri)?;
        r.request_uri = uri;
        r.http_status = middle.http_status;
        r.error_code = middle.error_code;
        [r.bytes_sent, r.object_size, r.total_time, r.turn_around_time] = middle.numbers;
        r.field_count = 15;

        let referrer = self.referrer()?;
        r.referrer = self.not_merged(Field::Referrer, referrer)?;
        r.field_count = 16;
        let user_agent_start = self.pos;
        let user_agent = self.user_agent()?;
        r.user_agent = self.not_merged(Field::UserAgent, user_agent)?;
        r.field_count = 17;
        let outcome = self.tail(r);
        // At most four fields follow a quoted Host header, so only a short tail can be what a
        // User-Agent that ran into one left; S3's lines of today have seven or more past the
        // User-Agent and pay one comparison for this.
        if r.field_count <= Field::MIN_COUNT + AFTER_HOST_HEADER
            && let Some(close) = self.user_agent_before_quoted_host(user_agent_start)
        {
            r.user_agent = dash_to_none(&self.line[user_agent_start + 1..close]);
            r.tail = [None; 10];
            r.extra_fields = None;
            r.field_count = Field::MIN_COUNT;
            self.skip_separator(close + 1);
            return self.tail(r);
        }
        outcome
    }

    /// Where the User-Agent that opens at `start` closes when the line's last quote closes a
    /// quoted Host header instead: see [`user_agent_before_quoted_host`].
    #[cold]
    fn user_agent_before_quoted_host(&self, start: usize) -> Option<usize> {
        let line = self.line;
        if line.get(start) != Some(&b'"') {
            return None;
        }
        let last = memrchr_iter(b'"', &line[start + 1..])
            .map(|offset| start + 1 + offset)
            .find(|&close| matches!(line.get(close + 1), None | Some(b' ')))?;
        user_agent_before_quoted_host(line, start, last)
    }

    /// Fails when `value` holds another record's time: see [`embedded_time`].
    #[inline(always)]
    fn not_merged(&self, field: Field, value: Option<&'a [u8]>) -> Result<Option<&'a [u8]>, ParseError> {
        match value.filter(|_| self.bracket_ahead).and_then(embedded_time) {
            Some(_) => Err(ParseError::new(field, ErrorKind::MergedRecord)),
            None => Ok(value),
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.line.len()
    }

    /// Moves past the space after a field, or to the end of the line.
    fn skip_separator(&mut self, end: usize) {
        self.pos = (end + 1).min(self.line.len());
    }

    /// A space-free token.
    fn bare(&mut self, field: Field) -> Result<&'a [u8], ParseError> {
        if self.at_end() {
            return Err(ParseError::new(field, ErrorKind::Missing));
        }
        let start = self.pos;
        // A third of a line's tokens are a lone `-`, found without a search.
        let end = if matches!(self.line.get(start + 1), None | Some(b' ')) {
            start + usize::from(self.line[start] != b' ')
        } else {
            memchr(b' ', &self.line[start..]).map_or(self.line.len(), |i| start + i)
        };
        if end == start {
            return Err(ParseError::new(field, ErrorKind::Empty));
        }
        self.skip_separator(end);
        Ok(&self.line[start..end])
    }

    fn time(&mut self) -> Result<Option<LogTime>, ParseError> {
        let error = |kind| ParseError::new(Field::Timestamp, kind);
        if self.at_end() {
            return Err(error(ErrorKind::Missing));
        }
        let rest = &self.line[self.pos..];
        if rest.starts_with(b"- ") || rest == b"-" {
            self.skip_separator(self.pos + 1);
            return Ok(None);
        }
        if rest[0] != b'[' {
            return Err(error(ErrorKind::BadTime));
        }
        // A time is 26 bytes, none of them a `]`: where a well-formed one closes is known, and
        // a `]` earlier in a line closed there makes its time fail to parse all the same.
        let close = match rest.get(LogTime::TEXT_LEN + 1) {
            Some(b']') => LogTime::TEXT_LEN + 1,
            _ => memchr(b']', rest).ok_or(error(ErrorKind::BadTime))?,
        };
        if rest.get(close + 1).is_some_and(|&b| b != b' ') {
            return Err(error(ErrorKind::BadTime));
        }
        let time = self.last_time.parse(&rest[1..close]).map_err(error)?;
        let end = self.pos + close + 1;
        self.skip_separator(end);
        Ok(Some(time))
    }

    /// Fields 5 to 7. See the module docs for why the Operation anchors the Requester.
    fn requester_to_operation(&mut self) -> Result<[&'a [u8]; 3], ParseError> {
        let start = self.pos;
        let requester = self.bare(Field::Requester)?;
        let request_id = self.bare(Field::RequestId)?;
        let operation = self.bare(Field::Operation)?;
        if operation == b"-" || is_operation(operation) {
            return Ok([requester, request_id, operation]);
        }
        if !requester.starts_with(b"arn:") {
            return Err(ParseError::new(Field::Operation, ErrorKind::UnexpectedValue));
        }
        // An ARN with spaces: look further right for the Operation.
        self.pos = start;
        let mut previous = (start, start);
        let mut cursor = start;
        for index in 0..MAX_REQUESTER_WORDS + 2 {
            if cursor >= self.line.len() {
                break;
            }
            let end = memchr(b' ', &self.line[cursor..]).map_or(self.line.len(), |i| cursor + i);
            let token = &self.line[cursor..end];
            if index >= 2 && is_operation(token) {
                let requester = &self.line[start..previous.0.saturating_sub(1).max(start)];
                if !plausible_spaced_requester(requester) {
                    return Err(ParseError::new(Field::Requester, ErrorKind::UnexpectedSpaces));
                }
                self.skip_separator(end);
                return Ok([requester, &self.line[previous.0..previous.1], token]);
            }
            previous = (cursor, end);
            cursor = end + 1;
        }
        Err(ParseError::new(Field::Operation, ErrorKind::UnexpectedValue))
    }

    /// Field 9 and the fixed-shape fields 10 to 15 after it.
    fn request_uri_and_middle(&mut self) -> Result<UriAndMiddle<'a>, ParseError> {
        if self.at_end() {
            return Err(ParseError::new(Field::RequestUri, ErrorKind::Missing));
        }
        let start = self.pos;
        if self.line[start] != b'"' {
            let uri = self.bare(Field::RequestUri)?;
            return Ok((dash_to_none(uri), self.middle(false)?));
        }
        // The error worth reporting is the one at the first plausible closing quote.
        let mut first_error = None;
        for offset in memchr_iter(b'"', &self.line[start + 1..]) {
            let close = start + 1 + offset;
            let followed_by_space = self.line.get(close + 1) == Some(&b' ');
            if !followed_by_space && close + 1 != self.line.len() {
                continue;
            }
            self.pos = (close + 2).min(self.line.len());
            match self.middle(true) {
                Ok(middle) => {
                    self.delimiters += 2;
                    return Ok((dash_to_none(&self.line[start + 1..close]), middle));
                }
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        self.pos = start;
        Err(first_error.unwrap_or(ParseError::new(Field::RequestUri, ErrorKind::UnterminatedQuote)))
    }

    /// Whether a Referer without quotes is next, then the start of a User-Agent: Ceph's bucket
    /// logging writes the Referer bare (S3 quotes it), which anchors a Request-URI as well.
    fn bare_referrer_ahead(&self) -> bool {
        let rest = &self.line[self.pos..];
        let Some(end) = memchr(b' ', rest) else {
            return false;
        };
        memchr(b'"', &rest[..end]).is_none()
            && match rest.get(end + 1) {
                Some(b'"') => true,
                Some(b'-') => matches!(rest.get(end + 2), None | Some(b' ')),
                _ => false,
            }
    }

    /// The Key, when it holds spaces, and the fields after it.
    ///
    /// Ceph's bucket logging writes the Key as the object's name, not URL-encoded as S3 does, so
    /// `photos/my cat.jpg` is two tokens. When no Request-URI follows the Key's first word, the Key
    /// runs to one of the next few ` "` that opens a Request-URI followed by fields 10 to 15.
    fn key_with_spaces(
        &mut self,
        key_start: usize,
        after_key: usize,
    ) -> Option<(&'a [u8], UriAndMiddle<'a>)> {
        const TRIES: usize = 4;
        let line = self.line;
        let quotes = memchr_iter(b'"', &line[after_key..]).map(|offset| after_key + offset);
        for quote in quotes.filter(|&quote| line[quote - 1] == b' ').take(TRIES) {
            let key = &line[key_start..quote - 1];
            // Another record's time: a record cut short in its Key with the next one after it.
            if embedded_time(key).is_some() {
                break;
            }
            self.pos = quote;
            if let Ok(read) = self.request_uri_and_middle() {
                return Some((key, read));
            }
        }
        self.pos = after_key;
        None
    }

    /// Fields 10 to 15. With `anchoring`, they must be followed by the start of a Referer
    /// (quoted or `-`), which is what makes them a reliable end marker for a quoted Request-URI.
    fn middle(&mut self, anchoring: bool) -> Result<Middle<'a>, ParseError> {
        let http_status = self.number(Field::HttpStatus)?;
        let http_status = http_status
            .map(|status| {
                u16::try_from(status).map_err(|_| ParseError::new(Field::HttpStatus, ErrorKind::OutOfRange))
            })
            .transpose()?;
        let error_code = dash_to_none(self.bare(Field::ErrorCode)?);
        let numbers = [
            self.number(Field::BytesSent)?,
            self.number(Field::ObjectSize)?,
            self.number(Field::TotalTime)?,
            self.number(Field::TurnAroundTime)?,
        ];
        match self.line.get(self.pos) {
            None => return Err(ParseError::new(Field::Referrer, ErrorKind::Missing)),
            Some(b'"' | b'-') => {}
            Some(_) if anchoring && !self.bare_referrer_ahead() => {
                return Err(ParseError::new(Field::Referrer, ErrorKind::UnexpectedValue));
            }
            Some(_) => {}
        }
        Ok(Middle {
            http_status,
            error_code,
            numbers,
        })
    }

    // Inlined: five calls a line, each reading a few digits.
    #[inline(always)]
    fn number(&mut self, field: Field) -> Result<Option<u64>, ParseError> {
        // Numbers are a few digits: reading them finds the end of the token without a search.
        // Up to 19 digits cannot overflow a `u64`; anything else takes the checked way below.
        let start = self.pos;
        let rest = &self.line[start.min(self.line.len())..];
        let mut digits = 0;
        let mut value: u64 = 0;
        for &b in rest.iter().take(19) {
            if !b.is_ascii_digit() {
                break;
            }
            value = value * 10 + u64::from(b - b'0');
            digits += 1;
        }
        if digits > 0 && matches!(rest.get(digits), None | Some(b' ')) {
            if value > MAX_NUMBER {
                return Err(ParseError::new(field, ErrorKind::OutOfRange));
            }
            self.skip_separator(start + digits);
            return Ok(Some(value));
        }
        let token = self.bare(field)?;
        if token == b"-" {
            return Ok(None);
        }
        checked_number(field, token).map(Some)
    }

    /// Field 16: ends at the first `" "` or `" -` (the start of the User-Agent).
    fn referrer(&mut self) -> Result<Option<&'a [u8]>, ParseError> {
        let start = self.pos;
        if self.line[start] != b'"' {
            return self.bare(Field::Referrer).map(dash_to_none);
        }
        let line = self.line;
        for offset in memchr_iter(b'"', &line[start + 1..]) {
            let close = start + 1 + offset;
            let next_is_user_agent = line.get(close + 1) == Some(&b' ')
                && match line.get(close + 2) {
                    Some(b'"') => true,
                    Some(b'-') => matches!(line.get(close + 3), None | Some(b' ')),
                    _ => false,
                };
            if next_is_user_agent {
                self.pos = close + 2;
                self.delimiters += 2;
                return Ok(dash_to_none(&line[start + 1..close]));
            }
        }
        if line.len() > start + 1 && line[line.len() - 1] == b'"' {
            return Err(ParseError::new(Field::UserAgent, ErrorKind::Missing));
        }
        Err(ParseError::new(Field::Referrer, ErrorKind::UnterminatedQuote))
    }

    /// Field 17: ends at the last quote that is followed by a space or the end of the line (or
    /// before a quoted Host header, which [`Parser::run`] looks for after a short tail).
    fn user_agent(&mut self) -> Result<Option<&'a [u8]>, ParseError> {
        if self.at_end() {
            return Err(ParseError::new(Field::UserAgent, ErrorKind::Missing));
        }
        let start = self.pos;
        if self.line[start] != b'"' {
            return self.bare(Field::UserAgent).map(dash_to_none);
        }
        let line = self.line;
        let last = memrchr_iter(b'"', &line[start + 1..])
            .map(|offset| start + 1 + offset)
            .find(|&close| matches!(line.get(close + 1), None | Some(b' ')))
            .ok_or(ParseError::new(Field::UserAgent, ErrorKind::UnterminatedQuote))?;
        self.skip_separator(last + 1);
        self.delimiters += 2;
        Ok(dash_to_none(&line[start + 1..last]))
    }

    /// A Host header without the quotes Dell PowerScale OneFS writes around it; S3's own are
    /// bare, and a quote cannot be part of a host name.
    fn unquoted(&mut self, token: &'a [u8]) -> &'a [u8] {
        match token {
            [b'"', host @ .., b'"'] => {
                self.delimiters += 2;
                host
            }
            _ => token,
        }
    }

    /// Fields 18 and later: bare tokens (the Host header may be quoted).
    fn tail(&mut self, r: &mut LogRecord<'a>) -> Result<(), ParseError> {
        let rest = &self.line[self.pos..];
        if let Some(at) = Some(rest).filter(|_| self.bracket_ahead).and_then(embedded_time) {
            let index = memchr_iter(b' ', &rest[..at]).count();
            let field = TAIL.get(index).copied().unwrap_or(Field::SourceRegion);
            return Err(ParseError::new(field, ErrorKind::MergedRecord));
        }
        for (slot, field) in TAIL.into_iter().enumerate() {
            if self.at_end() {
                break;
            }
            r.tail[slot] = dash_to_none(self.bare(field)?);
            r.field_count += 1;
        }
        if let Some(host) = &mut r.tail[HOST_HEADER] {
            *host = self.unquoted(host);
        }
        if !self.at_end() {
            r.extra_fields = Some(&self.line[self.pos..]);
        }
        if let Err(error) = check_tail_shape(r) {
            r.tail = [None; 10];
            r.extra_fields = None;
            r.field_count = Field::MIN_COUNT;
            return Err(error);
        }
        Ok(())
    }
}

/// A number the quick reading did not take: many digits, not digits, or a duration with its unit.
///
/// Ceph's bucket logging writes the Turn-Around Time with its unit (`12ms`); both durations are
/// milliseconds, so that suffix is read as what it says.
fn checked_number(field: Field, token: &[u8]) -> Result<u64, ParseError> {
    let digits = match token.strip_suffix(b"ms") {
        Some(digits) if !digits.is_empty() && matches!(field, Field::TotalTime | Field::TurnAroundTime) => {
            digits
        }
        _ => token,
    };
    let mut value: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return Err(ParseError::new(field, ErrorKind::NotANumber));
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .filter(|&v| v <= MAX_NUMBER)
            .ok_or(ParseError::new(field, ErrorKind::OutOfRange))?;
    }
    Ok(value)
}

/// Where the User-Agent opened at `start` closes when the line's last quote, at `last`, closes a
/// quoted Host header instead.
///
/// Dell PowerScale OneFS writes S3's format with the Host header in quotes (`... SigV4
/// TLS_AES_256_GCM_SHA384 AuthHeader "192.0.2.20:9021" TLSv1.3 - Yes`), five bare tokens after the
/// User-Agent. Read to the last quote, the User-Agent would swallow fields 18 to 22. The earlier
/// close is taken only when the five tokens between it and the quoted one have the shape of
/// fields 18 to 22, a Signature Version and an Authentication Type in their places, and at most
/// the four known fields follow it. A client cannot use this to pass a forged tail off as the
/// line's: on S3's lines the last quote closes the User-Agent itself, and at least the seven
/// fields 18 to 24 follow it.
fn user_agent_before_quoted_host(line: &[u8], start: usize, last: usize) -> Option<usize> {
    let inside = start + 1;
    // The quoted token ending at `last`; looking only at the User-Agent's last word first keeps
    // this to a few bytes on S3's own lines.
    let before_host = inside + memrchr(b' ', &line[inside..last])?;
    let host = &line[before_host + 1..last];
    if host.first() != Some(&b'"') || memchr(b'"', &host[1..]).is_some() {
        return None;
    }
    if memchr_iter(b' ', &line[last + 1..]).count() > AFTER_HOST_HEADER {
        return None;
    }
    let mut end = before_host;
    let mut tokens: [&[u8]; 5] = [b""; 5];
    for token in tokens.iter_mut().rev() {
        let space = inside + memrchr(b' ', &line[inside..end])?;
        *token = &line[space + 1..end];
        if token.is_empty() || memchr(b'"', token).is_some() {
            return None;
        }
        end = space;
    }
    let [_, _, signature, _, authentication] = tokens;
    let shaped = (signature == b"-" || signature.starts_with(b"SigV"))
        && matches!(authentication, b"-" | b"AuthHeader" | b"QueryString");
    let close = end - 1;
    (shaped && close > start && line[close] == b'"').then_some(close)
}

/// Two fields with a distinctive documented shape; a value out of place there means an extra or
/// missing token shifted the fields, and reporting shifted values would be worse than reporting
/// none. Other value sets are left open: S3 and S3-compatible producers add values over time.
fn check_tail_shape(r: &LogRecord<'_>) -> Result<(), ParseError> {
    let signature_ok = r.tail[2].is_none_or(|v| v.starts_with(b"SigV"));
    let tls_ok = r.tail[6].is_none_or(|v| v.len() >= 3 && v[..3].eq_ignore_ascii_case(b"TLS"));
    match (signature_ok, tls_ok) {
        (false, _) => Err(ParseError::new(
            Field::SignatureVersion,
            ErrorKind::UnexpectedValue,
        )),
        (_, false) => Err(ParseError::new(Field::TlsVersion, ErrorKind::UnexpectedValue)),
        _ => Ok(()),
    }
}

/// `REST.GET.OBJECT`, `S3.COMPUTE.OBJECT.CHECKSUM`, `SOAP.PUT.OBJECT`: `^[A-Z0-9_]+(\.[A-Z0-9_]+)+$`.
///
/// One pass over the token, every line's Operation being read once, rather than a pass per part.
pub(crate) fn is_operation(token: &[u8]) -> bool {
    // As if after a dot, so that a leading dot is a second dot in a row.
    let mut after_dot = true;
    let mut dots = 0;
    for &b in token {
        if b == b'.' {
            if after_dot {
                return false;
            }
            dots += 1;
            after_dot = true;
        } else if b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' {
            after_dot = false;
        } else {
            return false;
        }
    }
    dots >= 1 && !after_dot
}

/// A requester spanning several tokens is only believed when it is an ARN (the CloudFront origin
/// access identity form) and carries no bracket, which would mean the start of another record's
/// time: two log records merged into one line.
fn plausible_spaced_requester(requester: &[u8]) -> bool {
    requester.starts_with(b"arn:") && memchr(b'[', requester).is_none() && memchr(b'"', requester).is_none()
}

/// Where a `[dd/Mon/yyyy:HH:MM:SS +hhmm]` starts in `bytes`, if anywhere.
///
/// S3 writes the time only as field 3, and a client cannot put one into a request line (it has
/// no spaces). Past field 3 it means a record was cut short and the next one appended to it
/// (NCBI keeps such a line from their real logs): the quoted fields or the tail then swallow the
/// second record and the line would otherwise parse "cleanly" with one request's fields mixed
/// into another's. A header value could carry one on purpose; that line is quarantined whole,
/// which loses nothing.
fn embedded_time(bytes: &[u8]) -> Option<usize> {
    memchr_iter(b'[', bytes).find(|&at| {
        bytes.get(at + 27) == Some(&b']')
            && bytes
                .get(at + 1..at + 27)
                .is_some_and(|text| LogTime::parse(text).is_ok())
    })
}

/// `-` and the inside of `"-"` are null.
fn dash_to_none(token: &[u8]) -> Option<&[u8]> {
    (token != b"-").then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_another_records_time() {
        let cases: [(&[u8], Option<usize>); 7] = [
            (b"Mozilla/5.0 (X11; Linux x86_64)", None),
            (b"a [06/Feb/2019:00:00:38 +0000] b", Some(2)),
            (b"[06/Feb/2019:00:00:38 -0500]", Some(0)),
            (b"[en] [06/Feb/2019:00:00:38 +0000", None),
            (b"[06/Feb/2019:00:00:38 +0000 ]", None),
            (b"[31/Feb/2019:00:00:38 +0000]", None),
            (b"[[[06/Feb/2019:00:00:38 +0000]", Some(2)),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                embedded_time(bytes),
                expected,
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    /// Numbers read on the way to their end agree with the checked reading at every length,
    /// at the end of the line or before the next field.
    #[test]
    fn reads_numbers_of_every_length() {
        let error = |kind| Err(ParseError::new(Field::BytesSent, kind));
        type Reading = Result<Option<u64>, ParseError>;
        let cases: [(&[u8], Reading); 14] = [
            (b"7", Ok(Some(7))),
            (b"0042", Ok(Some(42))),
            (b"9223372036854775807", Ok(Some(i64::MAX as u64))),
            (b"00009223372036854775807", Ok(Some(i64::MAX as u64))),
            (b"9223372036854775808", error(ErrorKind::OutOfRange)),
            (b"9999999999999999999", error(ErrorKind::OutOfRange)),
            (b"18446744073709551615", error(ErrorKind::OutOfRange)),
            (b"18446744073709551616", error(ErrorKind::OutOfRange)),
            (b"99999999999999999999x", error(ErrorKind::OutOfRange)),
            (b"12a4", error(ErrorKind::NotANumber)),
            (b"-", Ok(None)),
            (b"-1", error(ErrorKind::NotANumber)),
            (b"", error(ErrorKind::Missing)),
            (b" ", error(ErrorKind::Empty)),
        ];
        for (token, expected) in cases {
            // Before another field, unless the token is the lack of one.
            let nexts: &[&[u8]] = if token.is_empty() { &[b""] } else { &[b"", b" 5"] };
            for &next in nexts {
                let line = [token, next].concat();
                let mut parser = Parser {
                    line: &line,
                    last_time: &LastTime::default(),
                    pos: 0,
                    bracket_ahead: true,
                    delimiters: 0,
                };
                let read = parser.number(Field::BytesSent);
                let shown = String::from_utf8_lossy(&line);
                assert_eq!(read, expected, "{shown}");
                if read.is_ok() {
                    assert_eq!(parser.pos, (token.len() + 1).min(line.len()), "{shown}");
                }
            }
        }
    }

    /// Ceph writes durations with their unit; only milliseconds, and only where a duration is.
    #[test]
    fn a_duration_may_carry_its_milliseconds_unit() {
        let cases = [
            (Field::TurnAroundTime, "12ms", Ok(Some(12))),
            (Field::TotalTime, "0ms", Ok(Some(0))),
            (
                Field::TurnAroundTime,
                "9223372036854775808ms",
                Err(ErrorKind::OutOfRange),
            ),
            (Field::TurnAroundTime, "ms", Err(ErrorKind::NotANumber)),
            (Field::TurnAroundTime, "12s", Err(ErrorKind::NotANumber)),
            (Field::TurnAroundTime, "12msms", Err(ErrorKind::NotANumber)),
            (Field::BytesSent, "12ms", Err(ErrorKind::NotANumber)),
        ];
        for (field, token, expected) in cases {
            let line = format!("{token} 5");
            let mut parser = Parser {
                line: line.as_bytes(),
                last_time: &LastTime::default(),
                pos: 0,
                bracket_ahead: true,
                delimiters: 0,
            };
            let expected = expected.map_err(|kind| ParseError::new(field, kind));
            assert_eq!(parser.number(field), expected, "{field:?} {token}");
        }
    }

    /// A time is read where its 26 bytes end only when it is whole there: a `]` anywhere else
    /// before or at that place, or none, makes it a bad time.
    #[test]
    fn reads_the_time_only_where_it_closes() {
        let bad = Err(ParseError::new(Field::Timestamp, ErrorKind::BadTime));
        let cases: [(&str, Result<(), ParseError>); 8] = [
            ("[06/Feb/2019:00:00:38 +0000]", Ok(())),
            ("[06/Feb/2019:00:00:38 +0000] ", Ok(())),
            ("[06/Feb/2019:00:00:38]+0000]", bad),
            ("[06/Feb/2019:00:00:3] +0000]", bad),
            ("[06/Feb/2019:00:00:38 +0000]]", bad),
            ("[06/Feb/2019:00:00:38 +0000]x", bad),
            ("[06/Feb/2019:00:00:38 +00000]", bad),
            ("[06/Feb/2019:00:00:38 +0000", bad),
        ];
        for (time, expected) in cases {
            let line = format!("owner bucket {time} 192.0.2.3");
            let mut parser = Parser {
                line: line.as_bytes(),
                last_time: &LastTime::default(),
                pos: "owner bucket ".len(),
                bracket_ahead: true,
                delimiters: 0,
            };
            let read = parser.time().map(|time| assert!(time.is_some(), "{line}"));
            assert_eq!(read, expected, "{line}");
        }
    }

    /// Remembering the last time changes no reading, whatever came before: the same text, a
    /// text one byte apart, an invalid text or one of another length.
    #[test]
    fn a_remembered_time_reads_as_a_fresh_one() {
        let texts: [&[u8]; 9] = [
            b"06/Feb/2019:00:00:38 +0000",
            b"06/Feb/2019:00:00:38 +0000",
            b"06/Feb/2019:00:00:39 +0000",
            b"06/Feb/2019:00:00:38 +0000",
            b"06/Feb/2019:00:00:38 -0500",
            b"31/Feb/2019:00:00:38 +0000",
            b"06/Feb/2019:00:00:38 -0500",
            b"06/Feb/2019:00:00:38 -050",
            b"06/Feb/2019:00:00:38 -0500",
        ];
        let last_time = LastTime::default();
        for text in texts {
            assert_eq!(
                last_time.parse(text),
                LogTime::parse(text),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn recognises_operations() {
        let cases: [(&[u8], bool); 15] = [
            (b"REST.GET.OBJECT", true),
            (b"A.B", true),
            (b"REST.GET.", false),
            (b"", false),
            (b".", false),
            (b"REST.GET-OBJECT", false),
            (b"REST.GET OBJECT", false),
            (b"S3.COMPUTE.OBJECT.CHECKSUM", true),
            (b"SOAP.PUT", true),
            (b"REST.COPY.OBJECT_GET", true),
            (b"REST", false),
            (b"REST..OBJECT", false),
            (b"REST.GET.object", false),
            (b".REST.GET", false),
            (b"Identity", false),
        ];
        for (token, expected) in cases {
            assert_eq!(
                is_operation(token),
                expected,
                "{}",
                String::from_utf8_lossy(token)
            );
        }
    }

    /// The start of a line up to its User-Agent, and a User-Agent's text between its quotes.
    const HEAD: &str = "owner bucket [08/Jul/2025:21:20:02 +0000] 192.0.2.25 1_root_accid 564950510 \
                        REST.GET.BUCKET - \"GET /bucket/ HTTP/1.1\" 200 - 189 - 2 2 \"-\" ";

    fn tail_of(line: &str) -> (Option<String>, Vec<Option<String>>) {
        let record = parse(line.as_bytes()).expect(line);
        let text = |bytes: Option<&[u8]>| bytes.map(|b| String::from_utf8_lossy(b).into_owned());
        (
            text(record.user_agent),
            record.tail.iter().map(|&field| text(field)).collect(),
        )
    }

    #[test]
    fn a_quoted_host_header_ends_the_user_agent_before_the_fields_it_follows() {
        let line = format!(
            "{HEAD}\"S3 Browser/12.2.9 (https://s3browser.com)\" - 192.0.2.20 SigV4 \
             TLS_AES_256_GCM_SHA384 AuthHeader \"192.0.2.20:9021\" TLSv1.3 - Yes"
        );
        let (user_agent, tail) = tail_of(&line);
        assert_eq!(
            user_agent.as_deref(),
            Some("S3 Browser/12.2.9 (https://s3browser.com)")
        );
        let expected = [
            None,
            Some("192.0.2.20"),
            Some("SigV4"),
            Some("TLS_AES_256_GCM_SHA384"),
            Some("AuthHeader"),
            Some("192.0.2.20:9021"),
            Some("TLSv1.3"),
            None,
            Some("Yes"),
            None,
        ];
        assert_eq!(tail, expected.map(|v| v.map(str::to_owned)));
        // Two more quotes taken off as delimiters, so the writer knows the values hold none.
        let mut record = LogRecord::default();
        let delimiters = parse_counting(line.as_bytes(), &LastTime::default(), &mut record).unwrap();
        assert_eq!(delimiters, 8);

        // After a bare User-Agent the quotes come off all the same.
        let bare = format!("{HEAD}- - 192.0.2.20 SigV4 - AuthHeader \"s3.example:9020\" - - Yes");
        assert_eq!(tail_of(&bare).1[5].as_deref(), Some("s3.example:9020"));
    }

    #[test]
    fn a_forged_tail_in_an_s3_user_agent_stays_in_the_user_agent() {
        // A client sending this User-Agent with SigV2 must not be read as SigV4: on S3's lines
        // the seven or more fields after the User-Agent follow its last quote.
        let forged = "curl\" - 192.0.2.20 SigV4 - AuthHeader \"bucket.s3.amazonaws.com";
        let line = format!(
            "{HEAD}\"{forged}\" - hostid= SigV2 ECDHE-RSA-AES128-GCM-SHA256 QueryString \
             bucket.s3.us-east-1.amazonaws.com TLSv1.2 - -"
        );
        let (user_agent, tail) = tail_of(&line);
        assert_eq!(user_agent.as_deref(), Some(forged));
        assert_eq!(tail[2].as_deref(), Some("SigV2"));
        assert_eq!(tail[5].as_deref(), Some("bucket.s3.us-east-1.amazonaws.com"));

        // Nor does a User-Agent whose last word is quoted, or that ends in a quote, lose any of it.
        for user_agent in ["Mozilla/5.0 \"quoted\"", "a \"b", "x\" - h SigV4 - Mystery \"y"] {
            let line = format!("{HEAD}\"{user_agent}\" - hostid= SigV4 - AuthHeader host TLSv1.2 - -");
            assert_eq!(tail_of(&line).0.as_deref(), Some(user_agent), "{line}");
        }
        // Five tokens before a quoted one that are not fields 18 to 22 leave the last quote as
        // the User-Agent's; this line's tail then has no shape, and it is quarantined.
        let unshaped = format!("{HEAD}\"S3 Browser\" - 192.0.2.20 SigV4 - Mystery \"h:1\" - - Yes");
        let error = parse(unshaped.as_bytes()).unwrap_err();
        assert_eq!(
            error,
            ParseError::new(Field::SignatureVersion, ErrorKind::UnexpectedValue)
        );
    }
}
