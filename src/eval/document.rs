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
