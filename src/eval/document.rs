//! Field access on events, as Elasticsearch resolves field names: a dotted name goes through
//! nested objects and literal dotted keys alike, arrays contribute every element, and `null`
//! or `[]` count as missing.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value as Json;

/// One value of a field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// `true` / `false`.
    Bool(bool),
    /// A whole number.
    Integer(i64),
    /// Any other number.
    Float(f64),
    /// A string.
    Text(&'a str),
}

/// A field name with a process-wide slot number, so that an event decoded for a set of rules
/// can answer by index instead of by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldRef {
    name: Arc<str>,
    slot: u32,
}

impl FieldRef {
    /// The field called `name` (the same slot every time in this process).
    pub fn new(name: &str) -> FieldRef {
        static SLOTS: OnceLock<Mutex<HashMap<Arc<str>, u32>>> = OnceLock::new();
        let mut slots = SLOTS
            .get_or_init(Default::default)
            .lock()
            // The map stays consistent even if a holder panicked: inserts are atomic.
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((name, slot)) = slots.get_key_value(name) {
            return FieldRef {
                name: name.clone(),
                slot: *slot,
            };
        }
        let slot = u32::try_from(slots.len()).unwrap_or(u32::MAX);
        let name: Arc<str> = Arc::from(name);
        slots.insert(name.clone(), slot);
        FieldRef { name, slot }
    }

    /// The dotted name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The slot number.
    pub fn slot(&self) -> usize {
        self.slot as usize
    }
}

/// An event whose fields can be read.
pub trait Document {
    /// Every value of `field` (empty when it is missing or null).
    fn field_values(&self, field: &FieldRef) -> Cow<'_, [FieldValue<'_>]>;

    /// Every value of the field called `name`.
    fn values(&self, name: &str) -> Vec<FieldValue<'_>> {
        self.field_values(&FieldRef::new(name)).into_owned()
    }
}

/// A parsed JSON event.
#[derive(Debug, Clone, Copy)]
pub struct JsonDocument<'a>(pub &'a Json);

impl Document for JsonDocument<'_> {
    fn field_values(&self, field: &FieldRef) -> Cow<'_, [FieldValue<'_>]> {
        Cow::Owned(self.values(field.name()))
    }

    fn values(&self, name: &str) -> Vec<FieldValue<'_>> {
        let mut out = Vec::new();
        collect(self.0, name, &mut out, 0);
        out
    }
}

/// Objects deeper than this are not searched: no real event nests so far, and it bounds the
/// recursion on hostile input.
const MAX_DEPTH: usize = 64;

fn collect<'a>(value: &'a Json, path: &str, out: &mut Vec<FieldValue<'a>>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Json::Array(items) => {
            for item in items {
                collect(item, path, out, depth + 1);
            }
        }
        Json::Object(map) if !path.is_empty() => {
            // The whole remaining name as one key, then every shorter dotted prefix.
            if let Some(v) = map.get(path) {
                collect(v, "", out, depth + 1);
            }
            for (i, _) in path.match_indices('.') {
                if let Some(v) = map.get(&path[..i]) {
                    collect(v, &path[i + 1..], out, depth + 1);
                }
            }
        }
        Json::Object(_) => {}
        leaf if path.is_empty() => {
            if let Some(v) = scalar(leaf) {
                out.push(v);
            }
        }
        _ => {}
    }
}

impl FieldValue<'_> {
    /// The value as a point in time, in epoch milliseconds: a number as it is, an ISO-8601
    /// date or date-time parsed (UTC unless it says otherwise).
    pub fn as_millis(&self) -> Option<f64> {
        match self {
            FieldValue::Integer(i) => Some(*i as f64),
            FieldValue::Float(f) => Some(*f),
            FieldValue::Text(s) => date_millis(s),
            FieldValue::Bool(_) => None,
        }
    }
}

/// An ISO-8601 date or date-time (UTC unless it says otherwise) as epoch milliseconds.
pub fn date_millis(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Some(millis) = utc_millis(text.as_bytes()) {
        return Some(millis as f64);
    }
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(ts.as_millisecond() as f64);
    }
    let civil = text
        .parse::<jiff::civil::DateTime>()
        .or_else(|_| {
            text.parse::<jiff::civil::Date>()
                .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        })
        .ok()?;
    let ts = civil.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    Some(ts.as_millisecond() as f64)
}

/// The usual `@timestamp` (`2024-01-01T00:00:00.123Z`: UTC, at most nine fraction digits,
/// years 1970 to 9998) as epoch milliseconds, without a general parser; `None` for any other form,
/// which [`date_millis`] then hands to jiff. Every matched event's time is read, so this is
/// on the evaluator's hot path.
fn utc_millis(text: &[u8]) -> Option<i64> {
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = text.get(range)?;
        digits.iter().try_fold(0i64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })
    };
    let (head, rest) = text.split_at_checked(19)?;
    if head[4] != b'-'
        || head[7] != b'-'
        || head[10] != b'T'
        || head[13] != b':'
        || head[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let millis = match rest {
        [b'Z'] => 0,
        [b'.', fraction @ .., b'Z'] if (1..=9).contains(&fraction.len()) => {
            let mut millis = 0;
            for (i, &d) in fraction.iter().enumerate() {
                if !d.is_ascii_digit() {
                    return None;
                }
                if i < 3 {
                    millis = millis * 10 + i64::from(d - b'0');
                }
            }
            millis * 10i64.pow(3u32.saturating_sub(fraction.len() as u32))
        }
        _ => return None,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    // jiff's timestamps end late in 9999.
    if !(1970..=9998).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > month_days[month as usize - 1]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // Days from the civil date (Howard Hinnant's days_from_civil).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

fn scalar(value: &Json) -> Option<FieldValue<'_>> {
    match value {
        Json::Bool(b) => Some(FieldValue::Bool(*b)),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Some(FieldValue::Integer(i)),
            None => n.as_f64().map(FieldValue::Float),
        },
        Json::String(s) => Some(FieldValue::Text(s)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_usual_timestamps_read_as_jiff_reads_them() {
        let jiff_millis = |text: &str| {
            text.parse::<jiff::Timestamp>()
                .ok()
                .map(|ts| ts.as_millisecond())
        };
        let mut texts: Vec<String> = [
            "1970-01-01T00:00:00Z",
            "2024-01-01T00:00:00.002Z",
            "2024-02-29T23:59:59.999999999Z",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2000-02-29T12:00:00.5Z",
            "2100-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-12-31T24:00:00Z",
            "2024-12-31T23:60:00Z",
            "2024-12-31T23:59:60Z",
            "1969-12-31T23:59:59.999Z",
            "9999-12-31T23:59:59.12Z",
            "9998-12-31T23:59:59.12Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00.1234567890Z",
            "2024-01-01t00:00:00z",
            "2024-01-01T00:00:00+01:00",
            "2024-01-01 00:00:00Z",
            "2024-1-01T00:00:00Z",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // And a spread of ordinary ones, every month and many days.
        let mut state = 1u64;
        for _ in 0..5000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let pick = |n: u64, shift: u32| (state >> shift) % n;
            texts.push(format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:0width$}Z",
                1970 + pick(130, 5),
                1 + pick(12, 13),
                1 + pick(31, 19),
                pick(24, 25),
                pick(60, 31),
                pick(60, 37),
                pick(1000, 43),
                width = 1 + pick(6, 53) as usize,
            ));
        }
        for text in &texts {
            let fast = utc_millis(text.as_bytes());
            // Where the shortcut answers, jiff agrees; where it does not, jiff decides.
            if let Some(millis) = fast {
                assert_eq!(Some(millis), jiff_millis(text), "{text}");
            }
        }
        assert!(
            texts
                .iter()
                .filter(|t| utc_millis(t.as_bytes()).is_some())
                .count()
                > 3000
        );
    }

    #[test]
    fn dotted_names_resolve_through_objects_and_dotted_keys() {
        let event = json!({
            "process": {"name": "cmd.exe", "args": ["/c", "whoami"], "parent": {"pid": 4}},
            "file.path": "C:\\x",
            "host": {"os.type": "windows"},
            "dll": [{"name": "a.dll"}, {"name": "b.dll"}],
            "user": {"name": null},
            "tags": []
        });
        let doc = JsonDocument(&event);
        assert_eq!(
            doc.values("process.name"),
            vec![FieldValue::Text("cmd.exe")]
        );
        assert_eq!(
            doc.values("process.args"),
            vec![FieldValue::Text("/c"), FieldValue::Text("whoami")]
        );
        assert_eq!(
            doc.values("process.parent.pid"),
            vec![FieldValue::Integer(4)]
        );
        assert_eq!(doc.values("file.path"), vec![FieldValue::Text("C:\\x")]);
        assert_eq!(
            doc.values("host.os.type"),
            vec![FieldValue::Text("windows")]
        );
        assert_eq!(
            doc.values("dll.name"),
            vec![FieldValue::Text("a.dll"), FieldValue::Text("b.dll")]
        );
        assert!(doc.values("user.name").is_empty());
        assert!(doc.values("tags").is_empty());
        assert!(doc.values("process").is_empty(), "an object is not a value");
        assert!(doc.values("nope.nothing").is_empty());
    }

    #[test]
    fn hostile_depth_is_bounded() {
        let mut event = json!("leaf");
        for _ in 0..1000 {
            event = json!({ "a": event });
        }
        let path = vec!["a"; 1000].join(".");
        assert!(JsonDocument(&event).values(&path).is_empty());
    }
}
