//! Values of `date` and `ip` fields as Elasticsearch indexes and queries them: a date is an
//! instant read with the default date format `strict_date_optional_time||epoch_millis`, an
//! address is 16 bytes (IPv4 as IPv4-mapped IPv6), and a constant is read the way a `term` or
//! `range` query on such a field reads it.

use std::net::IpAddr;

use super::super::document::FieldValue;
use crate::ir::{CompareOp, Literal};

/// Nanoseconds in a millisecond.
const MILLI: i128 = 1_000_000;

/// How finely a date field stores instants: `date` keeps milliseconds, `date_nanos`
/// nanoseconds. Instants are truncated (floored) to it, as `Resolution.convert` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateResolution {
    /// `date`.
    Millis,
    /// `date_nanos`.
    Nanos,
}

impl DateResolution {
    /// The resolution of an Elasticsearch date type name.
    pub fn of_type(name: &str) -> DateResolution {
        if name == "date_nanos" {
            DateResolution::Nanos
        } else {
            DateResolution::Millis
        }
    }

    fn truncate(self, nanos: i128) -> i128 {
        match self {
            DateResolution::Millis => nanos.div_euclid(MILLI) * MILLI,
            DateResolution::Nanos => nanos,
        }
    }
}

/// The instants a constant stands for on a date field, in nanoseconds since the epoch at the
/// field's resolution: a query fills the components a date leaves out with their smallest
/// values for `first` and, as `range` bounds that round up do, with `MONTH_OF_YEAR` 1,
/// `DAY_OF_MONTH` 1, 23:59:59.999999999 for `last`. So `== "2024-01-01T00:00:04Z"` is the
/// whole second and `> "2024-01-01"` starts the next day
/// (<https://www.elastic.co/guide/en/elasticsearch/reference/current/query-dsl-range-query.html#missing-date-components>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateSpan {
    /// The first instant.
    pub first: i128,
    /// The last instant.
    pub last: i128,
}

impl DateSpan {
    /// The span of a query constant, as `DateFieldType.rangeQuery` parses it: a number is epoch
    /// milliseconds, a string is read with the default format. `None` where Elasticsearch fails
    /// the search (the constant is not a date, or is date math, which the evaluator has no
    /// clock for).
    pub fn of_constant(literal: &Literal, resolution: DateResolution) -> Option<DateSpan> {
        let (first, last) = match literal {
            Literal::Integer(i) => {
                let ms = i128::from(*i) * MILLI;
                (ms, ms + MILLI - 1)
            }
            // A double reaches the parser as Java prints it, which epoch_millis reads only in
            // plain notation with at most six decimals.
            Literal::Float(f) if *f == 0.0 || (1e-3..1e7).contains(&f.abs()) => {
                let text = f.to_string();
                (epoch_millis(&text, false)?, epoch_millis(&text, true)?)
            }
            Literal::String(s) => (es_date(s, false)?, es_date(s, true)?),
            _ => return None,
        };
        Some(DateSpan {
            first: resolution.truncate(first),
            last: resolution.truncate(last),
        })
    }

    /// Whether the instant `value` is `op` this span, as the range query Elasticsearch builds
    /// for `op`: `<` before the first instant, `<=` up to the last, `>` after the last, `>=`
    /// from the first, `==` inside.
    pub fn holds(&self, op: CompareOp, value: i128) -> bool {
        match op {
            CompareOp::Eq => self.first <= value && value <= self.last,
            CompareOp::Lt => value < self.first,
            CompareOp::Le => value <= self.last,
            CompareOp::Gt => value > self.last,
            CompareOp::Ge => value >= self.first,
        }
    }
}

/// A stored value of a date field as the instant Elasticsearch indexes: a number is epoch
/// milliseconds (a fraction up to nanoseconds), a string is read with the default format.
/// `None` for a value Elasticsearch would refuse to index.
pub fn date_value(value: &FieldValue<'_>, resolution: DateResolution) -> Option<i128> {
    let nanos = match value {
        FieldValue::Integer(i) => i128::from(*i) * MILLI,
        // Elasticsearch prints the number with at most six decimals before reading it.
        FieldValue::Float(f) if f.is_finite() && f.abs() < 1e18 => (f * 1e6).round() as i128,
        FieldValue::Text(s) => es_date(s, false)?,
        _ => return None,
    };
    Some(resolution.truncate(nanos))
}

/// `strict_date_optional_time||epoch_millis`, in nanoseconds since the epoch; `round_up` fills
/// missing components with their largest values, as the rounding-up parser does.
fn es_date(text: &str, round_up: bool) -> Option<i128> {
    iso8601(text, round_up).or_else(|| epoch_millis(text, round_up))
}

/// `epoch_millis`: an optional `-`, 1 to 19 digits, then optionally `.` and up to six digits
/// (nanoseconds of the millisecond; rounding up fills them with 999999).
fn epoch_millis(text: &str, round_up: bool) -> Option<i128> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = match rest.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (rest, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 19 || !digits(whole) {
        return None;
    }
    let millis: i128 = whole.parse().ok()?;
    if millis > i128::from(i64::MAX) {
        return None;
    }
    let sub = match fraction {
        // A trailing `.` is allowed (EpochTime's second formatter).
        None | Some("") if round_up => MILLI - 1,
        None | Some("") => 0,
        Some(f) if f.len() <= 6 && digits(f) => {
            f.parse::<i128>().ok()? * 10i128.pow(6 - f.len() as u32)
        }
        Some(_) => return None,
    };
    let magnitude = millis * MILLI + sub;
    Some(if negative { -magnitude } else { magnitude })
}

/// Elasticsearch's `Iso8601Parser` as `strict_date_optional_time` configures it: `yyyy`,
/// `-MM`, `-dd`, `T`, `HH`, `:mm`, `:ss`, a `.` or `,` fraction of up to nine digits, each part
/// optional after the year, and after the hour, minute, second or fraction an optional zone
/// (`Z`, `±HH`, `±HH:MM`, `±HHMM`, `±HH:MM:SS`, or a zone id). UTC otherwise.
fn iso8601(text: &str, round_up: bool) -> Option<i128> {
    let (year_sign, s) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest.as_bytes()),
        None => (1, text.as_bytes()),
    };
    let number = |from: usize, to: usize| -> Option<u32> {
        let part = s.get(from..to)?;
        part.iter().try_fold(0u32, |n, b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    let pick = |up: u32, down: u32| if round_up { up } else { down };
    let mut t = Parsed {
        year: year_sign * i64::from(number(0, 4)?),
        month: 1,
        day: 1,
        hour: pick(23, 0),
        minute: pick(59, 0),
        second: pick(59, 0),
        nano: pick(999_999_999, 0),
    };
    let len = s.len();
    if len == 4 {
        return t.instant(Zone::Offset(0));
    }
    if s[4] != b'-' {
        return None;
    }
    t.month = number(5, 7).filter(|m| *m <= 12)?;
    if len == 7 {
        return t.instant(Zone::Offset(0));
    }
    if s[7] != b'-' {
        return None;
    }
    t.day = number(8, 10).filter(|d| *d <= 31)?;
    if len == 10 {
        return t.instant(Zone::Offset(0));
    }
    if s[10] != b'T' {
        return None;
    }
    if len == 11 {
        return t.instant(Zone::Offset(0));
    }
    t.hour = number(11, 13).filter(|h| *h <= 23)?;
    // Each later part: the end, a zone, or the separator of the next part.
    let zone_or_end = |pos: usize| -> Option<Option<Zone>> {
        if len == pos {
            Some(Some(Zone::Offset(0)))
        } else if s[pos] == b'+' || s[pos] == b'-' || s[pos].is_ascii_alphabetic() {
            Some(Some(zone(&text[text.len() - (len - pos)..])?))
        } else {
            Some(None)
        }
    };
    if let Some(zone) = zone_or_end(13)? {
        return t.instant(zone);
    }
    if s[13] != b':' {
        return None;
    }
    t.minute = number(14, 16).filter(|m| *m <= 59)?;
    if let Some(zone) = zone_or_end(16)? {
        return t.instant(zone);
    }
    if s[16] != b':' {
        return None;
    }
    t.second = number(17, 19).filter(|m| *m <= 59)?;
    if let Some(zone) = zone_or_end(19)? {
        return t.instant(zone);
    }
    if s[19] != b'.' && s[19] != b',' {
        return None;
    }
    let mut pos = 20;
    let mut nano = 0u32;
    while pos < len && pos < 29 && s[pos].is_ascii_digit() {
        nano = nano * 10 + u32::from(s[pos] - b'0');
        pos += 1;
    }
    if pos == 20 {
        return None;
    }
    t.nano = nano * 10u32.pow((29 - pos) as u32);
    match zone_or_end(pos)? {
        Some(zone) => t.instant(zone),
        None => None,
    }
}

/// A time zone: a fixed offset in seconds, or a region.
enum Zone {
    Offset(i64),
    Region(jiff::tz::TimeZone),
}

/// A zone as `Iso8601Parser.parseZoneId` reads it: `Z` alone, a numeric offset, else
/// whatever Java's `ZoneId.of` accepts (region ids, `UTC`/`GMT`/`UT` with or without an offset).
fn zone(text: &str) -> Option<Zone> {
    if text == "Z" {
        return Some(Zone::Offset(0));
    }
    if let Some(sign) = text.chars().next().filter(|c| *c == '+' || *c == '-') {
        return iso_offset(&text[1..]).map(|s| Zone::Offset(if sign == '-' { -s } else { s }));
    }
    for prefix in ["UTC", "GMT", "UT"] {
        if let Some(rest) = text.strip_prefix(prefix) {
            if rest.is_empty() {
                return Some(Zone::Offset(0));
            }
            if rest.starts_with(['+', '-']) {
                return zone_offset_of(rest).map(Zone::Offset);
            }
        }
    }
    let valid_id = text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text.len() > 1
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "~/._+-".contains(c));
    if !valid_id {
        return None;
    }
    jiff::tz::TimeZone::get(text).ok().map(Zone::Region)
}

/// `HH`, `HH:MM`, `HHMM`, `HH:MM:SS` or `HHMMSS` (colons all or none), in seconds.
fn iso_offset(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let two = |i: usize, max: i64| -> Option<i64> {
        let part = b.get(i..i + 2)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(i64::from(part[0] - b'0') * 10 + i64::from(part[1] - b'0')).filter(|v| *v <= max)
    };
    let hours = two(0, 23)?;
    if b.len() == 2 {
        return Some(hours * 3600);
    }
    let colon = b[2] == b':';
    let at = if colon { 3 } else { 2 };
    let minutes = two(at, 59)?;
    if b.len() == at + 2 {
        return Some(hours * 3600 + minutes * 60);
    }
    if (b[at + 2] == b':') != colon {
        return None;
    }
    let at = at + 2 + usize::from(colon);
    let seconds = two(at, 59)?;
    (b.len() == at + 2).then_some(hours * 3600 + minutes * 60 + seconds)
}

/// Java's `ZoneOffset.of` after `UTC`/`GMT`/`UT`: `±H`, `±HH`, `±HH:MM`, `±HHMM`,
/// `±HH:MM:SS`, `±HHMMSS`, at most 18 hours.
fn zone_offset_of(text: &str) -> Option<i64> {
    let negative = text.starts_with('-');
    let body = &text[1..];
    // Beyond ISO's forms, Java also takes a single-digit hour.
    let seconds = match body.as_bytes() {
        [digit] if digit.is_ascii_digit() => i64::from(digit - b'0') * 3600,
        _ => iso_offset(body)?,
    };
    if seconds > 18 * 3600 {
        return None;
    }
    Some(if negative { -seconds } else { seconds })
}

/// A date and time read from text, before its zone is applied.
struct Parsed {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nano: u32,
}

impl Parsed {
    /// The instant, in nanoseconds since the epoch; `None` for a day the month does not have.
    fn instant(&self, zone: Zone) -> Option<i128> {
        if self.month == 0 || self.day == 0 || self.day > days_in_month(self.year, self.month) {
            return None;
        }
        let offset = match zone {
            Zone::Offset(seconds) => seconds,
            Zone::Region(tz) => {
                let civil = jiff::civil::DateTime::new(
                    i16::try_from(self.year).ok()?,
                    i8::try_from(self.month).ok()?,
                    i8::try_from(self.day).ok()?,
                    i8::try_from(self.hour).ok()?,
                    i8::try_from(self.minute).ok()?,
                    i8::try_from(self.second).ok()?,
                    0,
                )
                .ok()?;
                // A gap moves forward and an overlap takes the earlier offset, as
                // `ZonedDateTime.of` does.
                let ts = civil.to_zoned(tz).ok()?.timestamp();
                return Some(i128::from(ts.as_second()) * 1_000_000_000 + i128::from(self.nano));
            }
        };
        let days = days_from_civil(self.year, self.month, self.day);
        let seconds = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - offset;
        Some(i128::from(seconds) * 1_000_000_000 + i128::from(self.nano))
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An address or CIDR block of an `ip` field: the top `prefix` bits of `bits` (IPv4 as
/// IPv4-mapped IPv6, a `/n` block as `/96+n`, as Elasticsearch encodes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpBlock {
    bits: u128,
    prefix: u32,
}

impl IpBlock {
    /// A constant compared with an `ip` field by `==` or `in`, as `IpFieldType.termQuery`
    /// reads it: text with a `/` is a CIDR block (`InetAddresses.parseCidr`), other text an
    /// address. `None` where Elasticsearch fails the search.
    pub fn of_constant(literal: &Literal) -> Option<IpBlock> {
        let Literal::String(text) = literal else {
            return None;
        };
        let Some((address, prefix)) = text.split_once('/') else {
            return ip_bits(text).map(|bits| IpBlock { bits, prefix: 128 });
        };
        let ip: IpAddr = address.parse().ok()?;
        // Java reads an IPv4-mapped IPv6 address as IPv4, and then refuses a prefix that could
        // be meant either way.
        let v4 = match ip {
            IpAddr::V4(_) => true,
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => return None,
            IpAddr::V6(_) => false,
        };
        // `Integer.parseInt`: an optional sign, then digits (of a negative, only `-0` passes
        // the range check).
        let digits = prefix.strip_prefix(['+', '-']).unwrap_or(prefix);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let length: u32 = digits.parse().ok()?;
        if prefix.starts_with('-') && length != 0 {
            return None;
        }
        let length = match (v4, length) {
            (true, 0..=32) => 96 + length,
            (false, 0..=128) => length,
            _ => return None,
        };
        Some(IpBlock {
            bits: ip_bits(address)?,
            prefix: length,
        })
    }

    /// Whether the address is in the block.
    pub fn contains(&self, address: u128) -> bool {
        self.prefix == 0 || (self.bits ^ address) >> (128 - self.prefix) == 0
    }
}

impl std::fmt::Display for IpBlock {
    /// The block as an author would write it: `10.0.0.0/8`, `::1`, an IPv4 address (or an
    /// IPv4 block of at least /96) in dotted form.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", ip_text(self.bits))?;
        let v4 = std::net::Ipv6Addr::from(self.bits)
            .to_ipv4_mapped()
            .is_some();
        match (v4 && self.prefix >= 96, self.prefix) {
            (_, 128) => Ok(()),
            (true, p) => write!(f, "/{}", p - 96),
            (false, p) => write!(f, "/{p}"),
        }
    }
}

/// The address of 16 bytes as text, IPv4-mapped addresses in dotted form.
pub fn ip_text(bits: u128) -> String {
    let v6 = std::net::Ipv6Addr::from(bits);
    match v6.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => v6.to_string(),
    }
}

/// An address as the 16 bytes an `ip` field indexes, as a number (so addresses order as
/// Elasticsearch orders them).
pub fn ip_bits(text: &str) -> Option<u128> {
    Some(match text.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    })
}

/// A stored value of an `ip` field as an address; `None` for what Elasticsearch would refuse to
/// index.
pub fn ip_value(value: &FieldValue<'_>) -> Option<u128> {
    match value {
        FieldValue::Text(s) => ip_bits(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i128 = 1_000_000_000;
    /// 2024-01-01T00:00:00Z.
    const NEW_YEAR: i128 = 1_704_067_200 * SECOND;

    fn span(text: &str) -> (i128, i128) {
        let s = DateSpan::of_constant(&Literal::String(text.into()), DateResolution::Millis)
            .unwrap_or_else(|| panic!("{text} is a date"));
        (s.first, s.last)
    }

    #[test]
    fn iso_dates_with_missing_components_span_what_they_leave_out() {
        let last_ms = 999 * MILLI;
        assert_eq!(
            span("2024-01-01T00:00:04Z"),
            (NEW_YEAR + 4 * SECOND, NEW_YEAR + 4 * SECOND + last_ms)
        );
        assert_eq!(
            span("2024-01-01T00:00:04.5Z"),
            (
                NEW_YEAR + 4 * SECOND + 500 * MILLI,
                NEW_YEAR + 4 * SECOND + 500 * MILLI
            )
        );
        // A date alone rounds up to the end of its day; a year or month to the end of the
        // first day (MONTH_OF_YEAR and DAY_OF_MONTH default to 1).
        let end_of_day = NEW_YEAR + 86_399 * SECOND + last_ms;
        assert_eq!(span("2024-01-01"), (NEW_YEAR, end_of_day));
        assert_eq!(span("2024"), (NEW_YEAR, end_of_day));
        assert_eq!(span("2024-01"), (NEW_YEAR, end_of_day));
        assert_eq!(span("2024-01-01T"), (NEW_YEAR, end_of_day));
        assert_eq!(
            span("2024-01-01T10"),
            (
                NEW_YEAR + 36_000 * SECOND,
                NEW_YEAR + 39_599 * SECOND + last_ms
            )
        );
        // Offsets and zones.
        assert_eq!(span("2024-01-01T01:00:03+01:00").0, NEW_YEAR + 3 * SECOND);
        assert_eq!(span("2024-01-01T01:00:03+0100").0, NEW_YEAR + 3 * SECOND);
        assert_eq!(span("2024-01-01T01+01").0, NEW_YEAR);
        assert_eq!(span("2023-12-31T19:00-05:00").0, NEW_YEAR);
        assert_eq!(span("2024-01-01T00:00:00,25Z").0, NEW_YEAR + 250 * MILLI);
        assert_eq!(span("2024-01-01T00:00:00UTC").0, NEW_YEAR);
        assert_eq!(span("2024-01-01T01:00:00GMT+01:00").0, NEW_YEAR);
        // Nanoseconds are truncated to the `date` type's milliseconds.
        assert_eq!(
            span("2024-01-01T00:00:00.123456789Z"),
            (NEW_YEAR + 123 * MILLI, NEW_YEAR + 123 * MILLI)
        );
        // epoch_millis, as text or as a number.
        assert_eq!(span("1704067200000"), (NEW_YEAR, NEW_YEAR));
        assert_eq!(
            DateSpan::of_constant(&Literal::Integer(1_704_067_200_000), DateResolution::Millis),
            Some(DateSpan {
                first: NEW_YEAR,
                last: NEW_YEAR
            })
        );
        for bad in [
            "2024-1-1",
            "2024-02-30",
            "2024-01-01 00:00:00",
            "2024-01-01Z",
            "2024-01-01T24",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00.1234567891Z",
            "2024-01-01T00:00:00+1",
            "2024-01-01T00:00:00+01:0030",
            "now-1d",
            "",
            "yesterday",
        ] {
            assert_eq!(
                DateSpan::of_constant(&Literal::String(bad.into()), DateResolution::Millis),
                None,
                "{bad}"
            );
        }
        assert_eq!(
            DateSpan::of_constant(&Literal::Bool(true), DateResolution::Millis),
            None
        );
    }

    #[test]
    fn stored_dates_are_instants_at_the_field_resolution() {
        let ms = DateResolution::Millis;
        assert_eq!(
            date_value(&FieldValue::Text("2024-01-01T00:00:00.0009Z"), ms),
            Some(NEW_YEAR)
        );
        assert_eq!(
            date_value(&FieldValue::Integer(1_704_067_200_001), ms),
            Some(NEW_YEAR + MILLI)
        );
        assert_eq!(
            date_value(&FieldValue::Text("1704067200000.5"), DateResolution::Nanos),
            Some(NEW_YEAR + MILLI / 2)
        );
        assert_eq!(date_value(&FieldValue::Text("soon"), ms), None);
        assert_eq!(date_value(&FieldValue::Bool(true), ms), None);
        let (first, last) = span("2024-01-01T00:00:04Z");
        let s = DateSpan { first, last };
        let at = |t: &str| date_value(&FieldValue::Text(t), ms).expect("date");
        assert!(s.holds(CompareOp::Eq, at("2024-01-01T00:00:04.999Z")));
        assert!(!s.holds(CompareOp::Gt, at("2024-01-01T00:00:04.999Z")));
        assert!(s.holds(CompareOp::Gt, at("2024-01-01T00:00:05Z")));
        assert!(s.holds(CompareOp::Lt, at("2024-01-01T00:00:03.999Z")));
        assert!(!s.holds(CompareOp::Lt, at("2024-01-01T00:00:04Z")));
        assert!(s.holds(CompareOp::Le, at("2024-01-01T00:00:04.5Z")));
        assert!(s.holds(CompareOp::Ge, at("2024-01-01T00:00:04Z")));
    }

    #[test]
    fn ip_constants_are_addresses_or_blocks() {
        let block = |t: &str| IpBlock::of_constant(&Literal::String(t.into()));
        let ip = |t: &str| ip_bits(t).expect("address");
        let one = block("2001:db8:0:0:0:ff00:42:8329").expect("address");
        assert!(one.contains(ip("2001:db8::ff00:42:8329")));
        assert!(!one.contains(ip("2001:db8::ff00:42:8328")));
        assert!(block("10.1.2.3")
            .expect("v4")
            .contains(ip("::ffff:10.1.2.3")));
        let net = block("10.0.0.0/8").expect("block");
        assert!(net.contains(ip("10.200.0.1")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(block("10.1.2.3/8")
            .expect("host bits")
            .contains(ip("10.9.9.9")));
        // An IPv6 block can hold IPv4 addresses (their ::ffff: form); an IPv4-mapped block
        // is ambiguous and refused.
        assert!(block("::/80").expect("v6").contains(ip("1.2.3.4")));
        assert_eq!(block("::ffff:0:0/96"), None);
        assert!(block("0.0.0.0/0").expect("all v4").contains(ip("1.2.3.4")));
        assert!(!block("0.0.0.0/0").expect("all v4").contains(ip("::1")));
        assert!(block("::/0").expect("all").contains(ip("::1")));
        for bad in [
            "foo",
            "10.0.0.0/33",
            "::ffff:10.0.0.0/104",
            "10.0.0.0/",
            "1.2.3",
        ] {
            assert_eq!(block(bad), None, "{bad}");
        }
        assert_eq!(IpBlock::of_constant(&Literal::Integer(5)), None);
        assert!(ip("10.0.0.2") > ip("10.0.0.1"));
        assert!(ip("::1") < ip("0.0.0.0"), "IPv4 sorts as ::ffff:a.b.c.d");
    }
}
