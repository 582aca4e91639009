//! The Time field: `[06/Feb/2019:00:00:38 +0000]`, i.e. strftime `[%d/%b/%Y:%H:%M:%S %z]`.
//!
//! Real logs are always `+0000`, but the format carries an offset and published fixtures use
//! others, so the offset is honoured and the record carries UTC. Date arithmetic is done here
//! (days-from-civil) because it is a few lines and keeps the parser free of a date crate.

use crate::error::ErrorKind;

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Where the text [`LogTime::parse`] reads holds digits: day, year, hour, minute, second and
/// offset.
const LOG_FORM_DIGITS: [usize; 16] = [0, 1, 7, 8, 9, 10, 12, 13, 15, 16, 18, 19, 22, 23, 24, 25];

/// A request time as logged: local date and time plus the UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogTime {
    /// Four-digit year.
    pub year: u16,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
    /// 0 to 59.
    pub second: u8,
    /// Offset east of UTC in minutes, from `+hhmm` / `-hhmm`.
    pub offset_minutes: i16,
}

impl LogTime {
    /// The length of the text [`LogTime::parse`] reads.
    pub const TEXT_LEN: usize = 26;

    /// Parses the text between the brackets: `06/Feb/2019:00:00:38 +0000`.
    ///
    /// The month name is read in any letter case (`feb`, `FEB`), as `strptime`'s `%b` and Go's
    /// `time.Parse` read it: the name means the same month, and quarantining the line would
    /// only hide a sound record. A leap second, `:60` in the last UTC minute of a month, is read
    /// as second 59 of that minute: `timestamp` columns (Athena's, Parquet's) cannot hold a
    /// 61st second, and 59 keeps the record in its own hour, day and year, as Java's
    /// `Instant` parsing does. A `:60` anywhere else is a damaged time.
    ///
    /// A time whose UTC form falls outside years 1 to 9999 is rejected: the record's
    /// `Timestamp` must stay a four-digit `YYYY-MM-DD HH:MM:SS` that Athena can read, and only a
    /// corrupted line gets there (`[01/Jan/0001:00:30:00 +0100]`, `[31/Dec/9999:23:30:00 -0100]`).
    pub fn parse(text: &[u8]) -> Result<LogTime, ErrorKind> {
        let t: &[u8; LogTime::TEXT_LEN] = text.try_into().map_err(|_| ErrorKind::BadTime)?;
        let separators = [
            (2, b'/'),
            (6, b'/'),
            (11, b':'),
            (14, b':'),
            (17, b':'),
            (20, b' '),
        ];
        // Every separator and digit is checked in one go, with no branch for each; the values
        // are then read without checks.
        let shaped = separators
            .iter()
            .fold(true, |ok, &(at, byte)| ok & (t[at] == byte))
            & LOG_FORM_DIGITS
                .iter()
                .fold(true, |ok, &at| ok & t[at].is_ascii_digit());
        if !shaped {
            return Err(ErrorKind::BadTime);
        }
        let value = |from: usize, to: usize| {
            t[from..to]
                .iter()
                .fold(0u16, |value, &b| value * 10 + u16::from(b - b'0'))
        };
        let month = month_number([t[3], t[4], t[5]]).ok_or(ErrorKind::BadTime)?;
        let sign: i16 = match t[21] {
            b'+' => 1,
            b'-' => -1,
            _ => return Err(ErrorKind::BadTime),
        };
        let time = LogTime {
            year: value(7, 11),
            month,
            day: value(0, 2) as u8,
            hour: value(12, 14) as u8,
            minute: value(15, 17) as u8,
            second: value(18, 20) as u8,
            offset_minutes: sign * (value(22, 24) as i16 * 60 + value(24, 26) as i16),
        };
        let offset_ok = t[24..26] < b"60"[..] && time.offset_minutes.abs() < 24 * 60;
        let valid = (1..=days_in_month(time.year, time.month)).contains(&time.day)
            && time.hour < 24
            && time.minute < 60
            && (time.second < 60 || time.is_leap_second())
            && offset_ok
            && (1..=9999).contains(&time.to_utc().year);
        if !valid {
            return Err(ErrorKind::BadTime);
        }
        Ok(LogTime {
            second: time.second.min(59),
            ..time
        })
    }

    /// Whether this is `:60` in 23:59 UTC on the last day of a month, the only minute a leap
    /// second can be added to (in practice at the end of June or December).
    fn is_leap_second(self) -> bool {
        if self.second != 60 {
            return false;
        }
        // Second 59 of the same minute: second 60 would count as the next minute's first.
        let utc = LogTime { second: 59, ..self }.to_utc();
        utc.hour == 23 && utc.minute == 59 && utc.day == days_in_month(utc.year, utc.month)
    }

    /// The UTC time `seconds` after the Unix epoch, for callers that need "now" in the same
    /// form as a record's `Timestamp`.
    pub fn from_unix_seconds(seconds: u64) -> LogTime {
        utc_from_epoch_seconds(i64::try_from(seconds).unwrap_or(i64::MAX))
    }

    /// The UTC time `seconds` after the Unix epoch, or before it when negative: columnar
    /// files store request times as epoch milliseconds, and a damaged line may carry any year.
    pub fn from_epoch_seconds(seconds: i64) -> LogTime {
        utc_from_epoch_seconds(seconds)
    }

    /// Parses the record's `Timestamp` form, `YYYY-MM-DD HH:MM:SS` in UTC (what
    /// [`LogTime::write_utc`] writes), for readers that turn records back into rows.
    pub fn parse_utc(text: &[u8]) -> Result<LogTime, ErrorKind> {
        let t: &[u8; 19] = text.try_into().map_err(|_| ErrorKind::BadTime)?;
        let separators = [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')];
        if separators.iter().any(|&(at, byte)| t[at] != byte) {
            return Err(ErrorKind::BadTime);
        }
        let time = LogTime {
            year: digits(&t[0..4])?,
            month: digits(&t[5..7])? as u8,
            day: digits(&t[8..10])? as u8,
            hour: digits(&t[11..13])? as u8,
            minute: digits(&t[14..16])? as u8,
            second: digits(&t[17..19])? as u8,
            offset_minutes: 0,
        };
        let valid = time.year >= 1
            && (1..=days_in_month(time.year, time.month)).contains(&time.day)
            && time.hour < 24
            && time.minute < 60
            && time.second < 60;
        if !valid {
            return Err(ErrorKind::BadTime);
        }
        Ok(time)
    }

    /// Seconds since the Unix epoch of this instant (negative before 1970), offset applied.
    pub fn unix_seconds(self) -> i64 {
        let local = days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour) * 3_600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        local - i64::from(self.offset_minutes) * 60
    }

    /// The same instant in UTC (offset zero).
    pub fn to_utc(self) -> LogTime {
        if self.offset_minutes == 0 {
            return self;
        }
        utc_from_epoch_seconds(self.unix_seconds())
    }

    /// Writes the UTC time as `YYYY-MM-DD HH:MM:SS`, the text form Athena reads as a `timestamp`.
    pub fn write_utc(self, out: &mut Vec<u8>) {
        let t = self.to_utc();
        // Every record has a time: all of it is filled into one fixed-size copy. Only a year
        // built by hand past 9999 (the parser accepts none) writes its leading digits first.
        let year = if t.year > 9999 {
            write_padded(out, u32::from(t.year / 10_000), 1);
            t.year % 10_000
        } else {
            t.year
        };
        let mut text = *b"0000-00-00 00:00:00";
        for (at, digit) in [year / 1000, year / 100 % 10, year / 10 % 10, year % 10]
            .into_iter()
            .enumerate()
        {
            text[at] = b'0' + digit as u8;
        }
        for (at, value) in [
            (5, t.month),
            (8, t.day),
            (11, t.hour),
            (14, t.minute),
            (17, t.second),
        ] {
            text[at] = b'0' + value / 10;
            text[at + 1] = b'0' + value % 10;
        }
        out.extend_from_slice(&text);
    }

    /// Writes the time as S3 logs it, brackets included.
    pub fn write_log_form(self, out: &mut Vec<u8>) {
        out.push(b'[');
        write_padded(out, u32::from(self.day), 2);
        out.push(b'/');
        out.extend_from_slice(MONTHS[usize::from(self.month - 1)]);
        out.push(b'/');
        write_padded(out, u32::from(self.year), 4);
        out.push(b':');
        write_padded(out, u32::from(self.hour), 2);
        out.push(b':');
        write_padded(out, u32::from(self.minute), 2);
        out.push(b':');
        write_padded(out, u32::from(self.second), 2);
        out.push(b' ');
        out.push(if self.offset_minutes < 0 { b'-' } else { b'+' });
        let offset = self.offset_minutes.unsigned_abs();
        write_padded(out, u32::from(offset / 60), 2);
        write_padded(out, u32::from(offset % 60), 2);
        out.push(b']');
    }
}

/// The UTC time `seconds` after the Unix epoch (negative before it).
fn utc_from_epoch_seconds(seconds: i64) -> LogTime {
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let in_day = seconds.rem_euclid(86_400);
    LogTime {
        year,
        month,
        day,
        hour: (in_day / 3_600) as u8,
        minute: (in_day / 60 % 60) as u8,
        second: (in_day % 60) as u8,
        offset_minutes: 0,
    }
}

/// Number of days in `month` of `year` (Gregorian).
pub fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        _ => 0,
    }
}

fn digits(text: &[u8]) -> Result<u16, ErrorKind> {
    text.iter().try_fold(0u16, |acc, &b| {
        if b.is_ascii_digit() {
            Ok(acc * 10 + u16::from(b - b'0'))
        } else {
            Err(ErrorKind::BadTime)
        }
    })
}

fn write_padded(out: &mut Vec<u8>, value: u32, width: usize) {
    let mut buffer = itoa::Buffer::new();
    let text = buffer.format(value);
    out.extend(std::iter::repeat_n(b'0', width.saturating_sub(text.len())));
    out.extend_from_slice(text.as_bytes());
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: u16, month: u8, day: u8) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`]. Years stay within `u16` because inputs are four-digit years
/// shifted by less than a day.
fn civil_from_days(days: i64) -> (u16, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year.clamp(0, i64::from(u16::MAX)) as u16, month, day)
}

/// 1 to 12 for a month name (`Feb`), read in any letter case; `None` for anything else.
fn month_number(name: [u8; 3]) -> Option<u8> {
    let number = |name: [u8; 3]| MONTHS.iter().position(|month| name == **month);
    // S3 writes `Feb`: only another case pays for folding. Clearing bit 5 upper-cases a
    // lower-case letter and setting it lower-cases an upper-case one, and neither turns any
    // other byte into a letter.
    let [first, second, third] = name;
    let index = number(name).or_else(|| number([first & !0x20, second | 0x20, third | 0x20]))?;
    Some(index as u8 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> String {
        let mut out = Vec::new();
        LogTime::parse(text.as_bytes())
            .map(|t| t.write_utc(&mut out))
            .map(|()| String::from_utf8(out).unwrap_or_default())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn converts_to_utc() {
        let cases = [
            ("06/Feb/2019:00:00:38 +0000", "2019-02-06 00:00:38"),
            ("10/Feb/2012:16:42:07 -0500", "2012-02-10 21:42:07"),
            ("31/Dec/2019:23:30:00 -0100", "2020-01-01 00:30:00"),
            ("01/Mar/2020:00:10:00 +0100", "2020-02-29 23:10:00"),
            ("01/Mar/2019:05:00:00 +0530", "2019-02-28 23:30:00"),
            ("29/Feb/2000:12:00:00 +0000", "2000-02-29 12:00:00"),
        ];
        for (input, expected) in cases {
            assert_eq!(utc(input), expected, "{input}");
        }
    }

    /// Every month, in the three cases a producer could write it.
    #[test]
    fn reads_month_names_in_any_case() {
        for (index, name) in MONTHS.iter().enumerate() {
            let name = std::str::from_utf8(&name[..]).unwrap_or_default();
            let expected = format!("2019-{:02}-01 00:00:38", index + 1);
            for written in [name.to_owned(), name.to_lowercase(), name.to_uppercase()] {
                let input = format!("01/{written}/2019:00:00:38 +0000");
                assert_eq!(utc(&input), expected, "{input}");
            }
        }
    }

    /// A leap second is the last second of its UTC minute, wherever the offset puts it locally.
    #[test]
    fn reads_a_leap_second_as_the_last_second_of_its_minute() {
        let cases = [
            ("31/Dec/2016:23:59:60 +0000", "2016-12-31 23:59:59"),
            ("30/Jun/2015:23:59:60 +0000", "2015-06-30 23:59:59"),
            ("01/Jul/2015:01:59:60 +0200", "2015-06-30 23:59:59"),
            ("30/Jun/2015:18:29:60 -0530", "2015-06-30 23:59:59"),
        ];
        for (input, expected) in cases {
            assert_eq!(utc(input), expected, "{input}");
        }
    }

    /// Years are written with four digits, zero-padded, and whole past 9999 (a time built by
    /// hand: the parser accepts none).
    #[test]
    fn writes_every_year_whole() {
        let cases = [
            (1, "0001-02-03 04:05:06"),
            (999, "0999-02-03 04:05:06"),
            (2019, "2019-02-03 04:05:06"),
            (9999, "9999-02-03 04:05:06"),
            (10_000, "10000-02-03 04:05:06"),
            (u16::MAX, "65535-02-03 04:05:06"),
        ];
        for (year, expected) in cases {
            let time = LogTime {
                year,
                month: 2,
                day: 3,
                hour: 4,
                minute: 5,
                second: 6,
                offset_minutes: 0,
            };
            let mut out = b"x".to_vec();
            time.write_utc(&mut out);
            assert_eq!(out, [b"x", expected.as_bytes()].concat(), "{year}");
        }
    }

    #[test]
    fn rejects_malformed_times() {
        let cases = [
            "06/Feb/2019:00:00:38",
            "06/Feb/2019 00:00:38 +0000",
            "06/Fbe/2019:00:00:38 +0000",
            "06/F@b/2019:00:00:38 +0000",
            "06/Feb/2019:23:59:60 +0000",
            "31/Dec/2016:23:59:60 +0100",
            "31/Dec/2016:23:59:61 +0000",
            "30/Feb/2019:00:00:38 +0000",
            "29/Feb/1900:00:00:38 +0000",
            "06/Feb/2019:24:00:38 +0000",
            "06/Feb/2019:00:60:38 +0000",
            "06/Feb/2019:00:00:60 +0000",
            "06/Feb/2019:00:00:38 +0060",
            "06/Feb/2019:00:00:38 *0000",
            "0a/Feb/2019:00:00:38 +0000",
            "06/Feb/2019:00:00:38 +0000 ",
            "01/Jan/0001:00:30:00 +0100",
            "31/Dec/9999:23:30:00 -0100",
            "15/Jun/0000:12:00:00 +0000",
        ];
        for input in cases {
            assert_eq!(
                LogTime::parse(input.as_bytes()),
                Err(ErrorKind::BadTime),
                "{input}"
            );
        }
    }

    #[test]
    fn converts_unix_seconds() {
        for (seconds, expected) in [
            (0, "1970-01-01 00:00:00"),
            (951_782_400, "2000-02-29 00:00:00"),
            (1_795_439_701, "2026-11-23 13:15:01"),
        ] {
            let mut out = Vec::new();
            LogTime::from_unix_seconds(seconds).write_utc(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{seconds}");
        }
    }

    #[test]
    fn utc_form_round_trips_through_epoch_seconds() {
        for (text, seconds) in [
            ("1970-01-01 00:00:00", 0),
            ("2019-02-06 00:00:38", 1_549_411_238),
            ("2000-02-29 23:59:59", 951_868_799),
            ("1900-03-01 00:00:00", -2_203_891_200),
            ("0001-01-01 00:00:00", -62_135_596_800),
            ("9999-12-31 23:59:59", 253_402_300_799),
        ] {
            let time = LogTime::parse_utc(text.as_bytes()).unwrap();
            assert_eq!(time.unix_seconds(), seconds, "{text}");
            let mut out = Vec::new();
            LogTime::from_epoch_seconds(seconds).write_utc(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), text, "{seconds}");
        }
    }

    #[test]
    fn unix_seconds_apply_the_offset() {
        let local = LogTime::parse(b"10/Feb/2012:16:42:07 -0500").unwrap();
        let utc = LogTime::parse_utc(b"2012-02-10 21:42:07").unwrap();
        assert_eq!(local.unix_seconds(), utc.unix_seconds());
    }

    #[test]
    fn rejects_malformed_utc_times() {
        for input in [
            "2019-02-06T00:00:38",
            "2019-02-06 00:00:38Z",
            "2019-02-30 00:00:38",
            "2019-13-01 00:00:38",
            "2019-02-06 24:00:00",
            "2019-02-06 00:60:00",
            "2019-02-06 00:00:60",
            "0000-01-01 00:00:00",
            "2019-02-06 0:00:38",
            "2019-0a-06 00:00:38",
        ] {
            assert_eq!(
                LogTime::parse_utc(input.as_bytes()),
                Err(ErrorKind::BadTime),
                "{input}"
            );
        }
    }

    #[test]
    fn log_form_round_trips() {
        for input in [
            "06/Feb/2019:00:00:38 +0000",
            "10/Feb/2012:16:42:07 -0500",
            "01/Mar/2019:05:00:00 +0530",
        ] {
            let mut out = Vec::new();
            LogTime::parse(input.as_bytes())
                .map(|t| t.write_log_form(&mut out))
                .ok();
            assert_eq!(out, format!("[{input}]").into_bytes());
        }
    }
}
