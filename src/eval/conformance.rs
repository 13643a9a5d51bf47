//! Conformance suites in the format of Elasticsearch's EQL QA: a `suite.toml` naming the data
//! (NDJSON, one file per index), the indices' mappings, the query files (`[[queries]]` with
//! `name`, `query`, `expected_event_ids`, optionally `join_keys`, `size` and
//! `max_samples_per_key`) and the timestamp, category and tiebreaker fields; each query must
//! return exactly the expected events, in Elasticsearch's order.
//!
//! Mappings matter where Elasticsearch's results depend on them: field values are read as
//! their mapped type (dates in their format as epoch milliseconds, IP addresses in canonical
//! form, booleans, numbers and keywords), aliases and multi-fields read their target field, an
//! optional field `?f` that no index has is null (folded as Elasticsearch folds it), and sample
//! keys of IP and version fields order by value.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value as Json;

use super::condition::{compile, ip_bits};
use super::document::{date_millis, Document, FieldValue, JsonDocument};
use super::sample::SampleMatcher;
use super::sequence::{
    compare_key_values, in_category, join_key_text, JoinKey, SequenceMatch, SequenceMatcher,
    NULL_KEY,
};
use crate::driver::compile_query;
use crate::ir::fold::{walk_expr, walk_value, Fold};
use crate::ir::{CompareOp, Expr, Field, Literal, Pipe, QueryBody, Value};

#[derive(Debug, Deserialize)]
struct SuiteFile {
    name: Option<String>,
    data: Files,
    /// Index mappings: one for every data file (in the same order), or one for all.
    mappings: Option<Files>,
    /// The field whose values `expected_event_ids` lists (default: the tiebreaker).
    id_field: Option<String>,
    queries: Vec<String>,
    #[serde(default = "default_timestamp")]
    timestamp_field: String,
    #[serde(default = "default_category")]
    event_category_field: String,
    tiebreaker_field: Option<String>,
    #[serde(default = "default_size")]
    size: usize,
}

/// One file or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Files {
    One(String),
    Many(Vec<String>),
}

impl Files {
    fn list(&self) -> Vec<String> {
        match self {
            Files::One(f) => vec![f.clone()],
            Files::Many(fs) => fs.clone(),
        }
    }
}

fn default_timestamp() -> String {
    "@timestamp".into()
}
fn default_category() -> String {
    "event.category".into()
}
fn default_size() -> usize {
    10
}

#[derive(Debug, Deserialize)]
struct QueryFile {
    #[serde(default)]
    queries: Vec<QuerySpec>,
}

#[derive(Debug, Deserialize)]
struct QuerySpec {
    name: String,
    query: String,
    expected_event_ids: Expected,
    /// The flattened join keys of the results; checked when present and not empty, as
    /// Elasticsearch's runner does.
    join_keys: Option<Vec<String>>,
    /// The request's `size` (default: the suite's).
    size: Option<usize>,
    /// The request's `max_samples_per_key` (sent only when positive; default 1).
    max_samples_per_key: Option<usize>,
}

/// One list of ids, or alternatives (any of which passes).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Expected {
    One(Vec<i64>),
    Alternatives(Vec<Vec<i64>>),
}

impl Expected {
    fn accepts(&self, got: &[i64]) -> bool {
        match self {
            Expected::One(ids) => ids == got,
            Expected::Alternatives(options) => options.iter().any(|ids| ids == got),
        }
    }

    fn describe(&self) -> String {
        match self {
            Expected::One(ids) => format!("{ids:?}"),
            Expected::Alternatives(options) => options
                .iter()
                .map(|ids| format!("{ids:?}"))
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }
}

/// A query that did not return what its suite expects.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The query's name.
    pub name: String,
    /// The EQL.
    pub query: String,
    /// The expected ids (alternatives joined by `or`), and join keys when they are checked.
    pub expected: String,
    /// The ids returned, or why the query did not run.
    pub got: Result<Vec<i64>, String>,
    /// The join keys returned, when they differ from the expected ones.
    pub got_join_keys: Option<Vec<String>>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}\n  expected {}\n  got ",
            self.name, self.query, self.expected
        )?;
        match &self.got {
            Ok(ids) => write!(f, "{ids:?}")?,
            Err(why) => write!(f, "an error: {why}")?,
        }
        if let Some(keys) = &self.got_join_keys {
            write!(f, " with join keys {keys:?}")?;
        }
        Ok(())
    }
}

/// The outcome of one suite.
#[derive(Debug, Clone)]
pub struct SuiteResult {
    /// The suite's name.
    pub name: String,
    /// Names of the queries that passed.
    pub passed: Vec<String>,
    /// The queries that failed.
    pub failed: Vec<Failure>,
}

/// What a query returned: ids (sequences and samples flattened, `-1` for a missing event) and
/// join keys (flattened likewise, as Elasticsearch prints them).
struct Outcome {
    ids: Vec<i64>,
    join_keys: Vec<String>,
}

/// The loaded data of a suite.
struct Data {
    /// Events in index order (data files in order, lines in order).
    events: Vec<Json>,
    /// Event indices in Elasticsearch's search order: timestamp, then tiebreaker, then index
    /// order.
    by_time: Vec<usize>,
    schema: Schema,
}

/// Run every query of the suite described by `suite_toml`.
pub fn run_suite(suite_toml: &Path) -> Result<SuiteResult, String> {
    let dir = suite_toml
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let suite: SuiteFile = toml::from_str(&read(suite_toml)?)
        .map_err(|e| format!("{}: {}", suite_toml.display(), e.message()))?;
    let data = load(&dir, &suite)?;
    let id_field = suite
        .id_field
        .clone()
        .or_else(|| suite.tiebreaker_field.clone())
        .unwrap_or_default();
    let mut result = SuiteResult {
        name: suite
            .name
            .clone()
            .unwrap_or_else(|| suite_toml.display().to_string()),
        passed: Vec::new(),
        failed: Vec::new(),
    };
    for file in &suite.queries {
        let path = dir.join(file);
        let queries: QueryFile = toml::from_str(&read(&path)?)
            .map_err(|e| format!("{}: {}", path.display(), e.message()))?;
        for spec in queries.queries {
            let outcome = run_query(&spec, &data, &suite, &id_field);
            let check_keys = spec.join_keys.as_ref().filter(|k| !k.is_empty());
            let failure = match &outcome {
                Ok(o) if !spec.expected_event_ids.accepts(&o.ids) => Some(None),
                Ok(o) if check_keys.is_some_and(|k| *k != o.join_keys) => {
                    Some(Some(o.join_keys.clone()))
                }
                Ok(_) => None,
                Err(_) => Some(None),
            };
            match failure {
                None => result.passed.push(spec.name),
                Some(got_join_keys) => {
                    let mut expected = spec.expected_event_ids.describe();
                    if let Some(keys) = check_keys {
                        expected.push_str(&format!(" with join keys {keys:?}"));
                    }
                    result.failed.push(Failure {
                        name: spec.name,
                        query: spec.query.trim().to_string(),
                        expected,
                        got: outcome.map(|o| o.ids),
                        got_join_keys,
                    });
                }
            }
        }
    }
    Ok(result)
}

fn read(p: &Path) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
}

/// Read the data files, each through its index's mapping.
fn load(dir: &Path, suite: &SuiteFile) -> Result<Data, String> {
    let files = suite.data.list();
    let mapping_files = suite.mappings.as_ref().map(Files::list).unwrap_or_default();
    let mut mappings = Vec::new();
    for file in &mapping_files {
        let path = dir.join(file);
        mappings
            .push(parse_mapping(&read(&path)?).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    if mappings.len() > 1 && mappings.len() != files.len() {
        return Err(format!(
            "{} mappings for {} data files: give one, or one per data file",
            mappings.len(),
            files.len()
        ));
    }
    let mut events = Vec::new();
    let mut schema = Schema::default();
    for (f, file) in files.iter().enumerate() {
        let mapping = mappings.get(f).or(mappings.first());
        let data_path: PathBuf = dir.join(file);
        for (n, line) in read(&data_path)?.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mut event: Json = serde_json::from_str(line)
                .map_err(|e| format!("{}:{}: {e}", data_path.display(), n + 1))?;
            if let Some(mapping) = mapping {
                apply_mapping(&mut event, "", mapping);
            }
            schema.learn(&event, "");
            events.push(event);
        }
    }
    for mapping in &mappings {
        schema.add_mapping(mapping);
    }
    // Elasticsearch's order: timestamp, then tiebreaker, then index order (a stable sort).
    let key = |e: &Json| {
        let doc = JsonDocument(e);
        let tiebreaker = suite
            .tiebreaker_field
            .as_deref()
            .map(|f| order_value(&doc, f));
        (order_value(&doc, &suite.timestamp_field), tiebreaker)
    };
    let mut by_time: Vec<usize> = (0..events.len()).collect();
    by_time.sort_by(|&a, &b| {
        key(&events[a])
            .partial_cmp(&key(&events[b]))
            .unwrap_or(Ordering::Equal)
    });
    Ok(Data {
        events,
        by_time,
        schema,
    })
}

/// A field's first value as a time (or number) for ordering; missing sorts first.
fn order_value(doc: &JsonDocument<'_>, field: &str) -> Option<f64> {
    doc.values(field).first()?.as_millis()
}

fn run_query(
    spec: &QuerySpec,
    data: &Data,
    suite: &SuiteFile,
    id_field: &str,
) -> Result<Outcome, String> {
    let query = compile_query(&spec.query).map_err(|d| d.message)?;
    let query = Resolve {
        schema: &data.schema,
    }
    .fold_query(query);
    let size = spec.size.unwrap_or(suite.size);
    let events = &data.events;
    let id_of = |i: usize| match JsonDocument(&events[i]).values(id_field).first() {
        Some(FieldValue::Integer(i)) => *i,
        _ => -1,
    };
    let category_field = suite.event_category_field.as_str();
    match &query.body {
        QueryBody::Sequence(sequence) => {
            let mut matcher = SequenceMatcher::<usize>::new(sequence).map_err(|e| e.0)?;
            let mut found: Vec<SequenceMatch<usize>> = Vec::new();
            for &i in &data.by_time {
                let doc = JsonDocument(&events[i]);
                let time = order_value(&doc, &suite.timestamp_field).unwrap_or(0.0);
                let hits = matcher.hits(&doc, &doc.values(category_field));
                found.extend(matcher.push_matches(&i, time, &hits));
            }
            found.extend(matcher.finish());
            // Results in the order they complete (their last event), as Elasticsearch returns
            // them.
            let mut rank = vec![0; events.len()];
            for (r, &i) in data.by_time.iter().enumerate() {
                rank[i] = r;
            }
            let order = |m: &SequenceMatch<usize>| {
                let mut present = m.events.iter().flatten().map(|&i| rank[i]);
                let first = present.next();
                (present.next_back().or(first), first)
            };
            found.sort_by_key(order);
            apply_pipes(&mut found, &query.pipes);
            found.truncate(size);
            Ok(Outcome {
                ids: found
                    .iter()
                    .flat_map(|m| m.events.iter().map(|e| e.map_or(-1, id_of)))
                    .collect(),
                join_keys: found
                    .iter()
                    .flat_map(|m| m.key.iter().map(|v| join_key_text(v).to_string()))
                    .collect(),
            })
        }
        QueryBody::Sample(sample) => {
            let mut matcher = SampleMatcher::<usize>::new(sample)
                .map_err(|e| e.0)?
                .with_max_samples_per_key(spec.max_samples_per_key.unwrap_or(1));
            // Samples read the indices unsorted: in index order.
            for (i, event) in events.iter().enumerate() {
                let doc = JsonDocument(event);
                let hits = matcher.hits(&doc, &doc.values(category_field));
                matcher.push_hits(&i, &hits);
            }
            let types: Vec<Option<FieldType>> = sample
                .stages
                .last()
                .map(|s| {
                    s.keys(&sample.by)
                        .map(|f| data.schema.type_of(&f.name))
                        .collect()
                })
                .unwrap_or_default();
            let mut samples = matcher.finish_sorted_by(|a, b| compare_typed_keys(a, b, &types));
            samples.truncate(size);
            Ok(Outcome {
                ids: samples
                    .iter()
                    .flat_map(|s| s.events.iter().map(|&i| id_of(i)))
                    .collect(),
                join_keys: samples
                    .iter()
                    .flat_map(|s| s.key.iter().map(|v| join_key_text(v).to_string()))
                    .collect(),
            })
        }
        QueryBody::Event(event) => {
            let condition = compile(&event.condition).map_err(|e| e.0)?;
            let mut ids: Vec<i64> = data
                .by_time
                .iter()
                .copied()
                .filter(|&i| {
                    let doc = JsonDocument(&events[i]);
                    in_category(&event.category, &doc.values(category_field))
                        && condition.matches(&doc)
                })
                .map(id_of)
                .collect();
            apply_pipes(&mut ids, &query.pipes);
            ids.truncate(size);
            Ok(Outcome {
                ids,
                join_keys: Vec::new(),
            })
        }
    }
}

/// `| head N` keeps the first N results, `| tail N` the last N (still in order).
fn apply_pipes<T>(results: &mut Vec<T>, pipes: &[Pipe]) {
    for pipe in pipes {
        match *pipe {
            Pipe::Head(n) => results.truncate(usize::try_from(n).unwrap_or(usize::MAX)),
            Pipe::Tail(n) => {
                let keep = usize::try_from(n).unwrap_or(usize::MAX);
                let skip = results.len().saturating_sub(keep);
                results.drain(..skip);
            }
        }
    }
}

// ------------------------------------------------------------------ mappings

/// A field's type in an index mapping, as far as results depend on it.
#[derive(Debug, Clone, PartialEq)]
enum FieldType {
    /// `keyword`, `wildcard`, `text` and the like: values are strings.
    Keyword,
    /// Whole numbers.
    Long,
    /// Other numbers.
    Double,
    Boolean,
    /// A date in one of these formats (`||`-separated in the mapping).
    Date(Vec<String>),
    Ip,
    Version,
    /// An alias, or a multi-field, reads this field.
    Alias(String),
    /// Anything else: values as they are.
    Other,
}

/// Field paths → types.
type Mapping = HashMap<String, FieldType>;

/// Parse an index mapping as Elasticsearch's QA loader does: lines starting with `#` are
/// comments and `[runtime_random_keyword_type]` is one of the keyword types.
fn parse_mapping(text: &str) -> Result<Mapping, String> {
    let cleaned = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("[runtime_random_keyword_type]", "keyword");
    let json: Json = serde_json::from_str(&cleaned).map_err(|e| e.to_string())?;
    let root = json.get("mappings").unwrap_or(&json);
    let mut mapping = Mapping::new();
    if let Some(properties) = root.get("properties") {
        collect_properties(properties, "", &mut mapping);
    }
    Ok(mapping)
}

fn collect_properties(properties: &Json, prefix: &str, out: &mut Mapping) {
    let Some(fields) = properties.as_object() else {
        return;
    };
    for (name, definition) in fields {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let kind = definition.get("type").and_then(Json::as_str);
        let field_type = match kind {
            None | Some("object") | Some("nested") => None,
            Some("keyword" | "wildcard" | "constant_keyword" | "text" | "match_only_text") => {
                Some(FieldType::Keyword)
            }
            Some("long" | "integer" | "short" | "byte" | "unsigned_long") => Some(FieldType::Long),
            Some("double" | "float" | "half_float" | "scaled_float") => Some(FieldType::Double),
            Some("boolean") => Some(FieldType::Boolean),
            Some("date" | "date_nanos") => Some(FieldType::Date(
                definition
                    .get("format")
                    .and_then(Json::as_str)
                    .unwrap_or("strict_date_optional_time||epoch_millis")
                    .split("||")
                    .map(str::to_string)
                    .collect(),
            )),
            Some("ip") => Some(FieldType::Ip),
            Some("version") => Some(FieldType::Version),
            Some("alias") => definition
                .get("path")
                .and_then(Json::as_str)
                .map(|p| FieldType::Alias(p.to_string())),
            Some(_) => Some(FieldType::Other),
        };
        if let Some(field_type) = field_type {
            out.insert(path.clone(), field_type);
        }
        // Multi-fields index the parent's value.
        if let Some(subfields) = definition.get("fields").and_then(Json::as_object) {
            for sub in subfields.keys() {
                out.insert(format!("{path}.{sub}"), FieldType::Alias(path.clone()));
            }
        }
        if let Some(properties) = definition.get("properties") {
            collect_properties(properties, &path, out);
        }
    }
}

/// Rewrite an event's values as their mapped types read them.
fn apply_mapping(value: &mut Json, path: &str, mapping: &Mapping) {
    match value {
        Json::Object(fields) => {
            for (name, child) in fields.iter_mut() {
                let child_path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                apply_mapping(child, &child_path, mapping);
            }
        }
        Json::Array(items) => items
            .iter_mut()
            .for_each(|item| apply_mapping(item, path, mapping)),
        Json::Null => {}
        leaf => {
            if let Some(converted) = mapping.get(path).and_then(|t| convert(leaf, t)) {
                *leaf = converted;
            }
        }
    }
}

/// A scalar as a field of this type reads it; `None` to keep it as it is (including values
/// Elasticsearch would have refused).
fn convert(value: &Json, field_type: &FieldType) -> Option<Json> {
    match (field_type, value) {
        (FieldType::Keyword | FieldType::Version, Json::Number(n)) => {
            Some(Json::String(n.to_string()))
        }
        (FieldType::Keyword | FieldType::Version, Json::Bool(b)) => {
            Some(Json::String(b.to_string()))
        }
        (FieldType::Long, Json::String(s)) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().map(|f| f.trunc() as i64))
                .map(Json::from)
        }
        (FieldType::Double, Json::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Json::Number),
        (FieldType::Boolean, Json::String(s)) => match s.as_str() {
            "true" => Some(Json::Bool(true)),
            "false" => Some(Json::Bool(false)),
            _ => None,
        },
        (FieldType::Ip, Json::String(s)) => s
            .trim()
            .parse::<IpAddr>()
            .ok()
            .map(|ip| Json::String(ip.to_string())),
        (FieldType::Date(formats), Json::String(s)) => formats
            .iter()
            .find_map(|f| parse_date(s, f))
            .map(Json::from),
        (FieldType::Date(formats), Json::Number(n)) => {
            let number = n.as_f64()?;
            if formats.iter().any(|f| f == "epoch_millis") {
                None
            } else if formats.iter().any(|f| f == "epoch_second") {
                Some(Json::from((number * 1000.0) as i64))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// A date in one Elasticsearch date format, as epoch milliseconds: `epoch_millis`,
/// `epoch_second`, a named ISO format, or a pattern of `yyyy`/`uuuu`, `MM`, `dd`, `HH`, `mm`,
/// `ss`, `SSS` and literal characters.
fn parse_date(text: &str, format: &str) -> Option<i64> {
    let text = text.trim();
    match format {
        "epoch_millis" => text
            .parse::<i64>()
            .ok()
            .or_else(|| text.parse::<f64>().ok().map(|f| f as i64)),
        "epoch_second" => text.parse::<f64>().ok().map(|s| (s * 1000.0) as i64),
        named if named.bytes().all(|c| c.is_ascii_lowercase() || c == b'_') => {
            date_millis(text).map(|ms| ms as i64)
        }
        pattern => parse_date_pattern(text, pattern),
    }
}

fn parse_date_pattern(text: &str, pattern: &str) -> Option<i64> {
    let (mut year, mut month, mut day, mut hour, mut minute, mut second, mut milli) =
        (1970i16, 1i8, 1i8, 0i8, 0i8, 0i8, 0i32);
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    while p < pattern.len() {
        let c = pattern[p];
        if c == '\'' {
            // A quoted literal.
            p += 1;
            while p < pattern.len() && pattern[p] != '\'' {
                if text.get(t) != Some(&pattern[p]) {
                    return None;
                }
                p += 1;
                t += 1;
            }
            p += 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            if text.get(t) != Some(&c) {
                return None;
            }
            p += 1;
            t += 1;
            continue;
        }
        let run = pattern[p..].iter().take_while(|&&x| x == c).count();
        p += run;
        let width = if matches!(c, 'y' | 'u') && run != 2 {
            // Years take as many digits as there are.
            text[t..].iter().take_while(|x| x.is_ascii_digit()).count()
        } else {
            run
        };
        let digits: String = text.get(t..t + width)?.iter().collect();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t += width;
        let n: i32 = digits.parse().ok()?;
        match c {
            'y' | 'u' if run == 2 => year = i16::try_from(2000 + n).ok()?,
            'y' | 'u' => year = i16::try_from(n).ok()?,
            'M' => month = i8::try_from(n).ok()?,
            'd' => day = i8::try_from(n).ok()?,
            'H' => hour = i8::try_from(n).ok()?,
            'm' => minute = i8::try_from(n).ok()?,
            's' => second = i8::try_from(n).ok()?,
            'S' => {
                // A fraction of a second, to milliseconds.
                let run = u32::try_from(run).ok()?;
                milli = if run <= 3 {
                    n * 10i32.pow(3 - run)
                } else {
                    n / 10i32.checked_pow(run - 3)?
                };
            }
            _ => return None,
        }
    }
    if t != text.len() {
        return None;
    }
    let date = jiff::civil::Date::new(year, month, day).ok()?;
    let time =
        jiff::civil::Time::new(hour, minute, second, milli.saturating_mul(1_000_000)).ok()?;
    let ts = date
        .to_datetime(time)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()?
        .timestamp();
    Some(ts.as_millisecond())
}

/// What the indices know about fields: the merged mappings and the fields in the data (which
/// Elasticsearch maps dynamically).
#[derive(Debug, Default)]
struct Schema {
    types: HashMap<String, FieldType>,
    known: HashSet<String>,
}

impl Schema {
    fn learn(&mut self, value: &Json, path: &str) {
        if let Json::Object(fields) = value {
            for (name, child) in fields {
                let child_path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                self.learn(child, &child_path);
                self.known.insert(child_path);
            }
        } else if let Json::Array(items) = value {
            items.iter().for_each(|item| self.learn(item, path));
        }
    }

    fn add_mapping(&mut self, mapping: &Mapping) {
        for (path, field_type) in mapping {
            self.known.insert(path.clone());
            // The first index that maps a field decides its type here.
            self.types
                .entry(path.clone())
                .or_insert_with(|| field_type.clone());
        }
    }

    /// The field an alias or multi-field reads (itself otherwise).
    fn target<'a>(&'a self, name: &'a str) -> &'a str {
        let mut name = name;
        // Bounded: an alias cannot point at an alias, but a bad mapping must not loop.
        for _ in 0..8 {
            match self.types.get(name) {
                Some(FieldType::Alias(target)) => name = target,
                _ => break,
            }
        }
        name
    }

    fn type_of(&self, name: &str) -> Option<FieldType> {
        self.types.get(self.target(name)).cloned()
    }
}

/// Resolve field names against the indices: aliases and multi-fields read their target, and
/// an optional field no index has is null, folded as Elasticsearch's optimizer folds it
/// (`x == null` is `x` is null, so `?a == ?b` holds when neither exists).
struct Resolve<'a> {
    schema: &'a Schema,
}

impl Fold for Resolve<'_> {
    fn fold_field(&mut self, f: Field) -> Field {
        Field {
            name: self.schema.target(&f.name).to_string(),
            optional: f.optional,
        }
    }

    fn fold_value(&mut self, v: Value) -> Value {
        match v {
            Value::Field(f) if f.optional && !self.schema.known.contains(&f.name) => {
                Value::Literal {
                    literal: Literal::Null,
                }
            }
            other => walk_value(self, other),
        }
    }

    fn fold_expr(&mut self, e: Expr) -> Expr {
        let null = |v: &Value| v.as_literal() == Some(&Literal::Null);
        let is_null = |value: Value| match value {
            Value::Literal { literal } => Expr::bool(literal == Literal::Null),
            value => Expr::IsNull { value },
        };
        match walk_expr(self, e) {
            Expr::Compare(c) if c.op == CompareOp::Eq && null(&c.right) => is_null(c.left),
            Expr::Compare(c) if c.op == CompareOp::Eq && null(&c.left) => is_null(c.right),
            Expr::IsNull { value } => is_null(value),
            other => other,
        }
    }
}

// ------------------------------------------------------------------ sample key order

/// Order sample keys as Elasticsearch's composite aggregation does, knowing the key fields'
/// types: IP addresses and versions by value, the rest as [`compare_key_values`].
fn compare_typed_keys(a: &JoinKey, b: &JoinKey, types: &[Option<FieldType>]) -> Ordering {
    for (j, (x, y)) in a.iter().zip(b).enumerate() {
        let ordering = match types.get(j).cloned().flatten() {
            _ if x == NULL_KEY || y == NULL_KEY => compare_key_values(x, y),
            Some(FieldType::Ip) => {
                let ip = |v: &str| ip_bits(join_key_text(v));
                match (ip(x), ip(y)) {
                    (Some(p), Some(q)) => p.cmp(&q),
                    _ => compare_key_values(x, y),
                }
            }
            Some(FieldType::Version) => compare_versions(join_key_text(x), join_key_text(y)),
            _ => compare_key_values(x, y),
        };
        if ordering.is_ne() {
            return ordering;
        }
    }
    a.len().cmp(&b.len())
}

/// Semantic-version precedence, as a `version` field orders: numeric parts by value, a
/// pre-release before its release; values that are not versions after all versions, by text.
fn compare_versions(a: &str, b: &str) -> Ordering {
    fn parse(v: &str) -> Option<(Vec<u64>, Option<&str>)> {
        let v = v.split('+').next().unwrap_or(v);
        let (main, pre) = match v.split_once('-') {
            Some((m, p)) => (m, Some(p)),
            None => (v, None),
        };
        let parts = main
            .split('.')
            .map(|p| p.parse::<u64>().ok())
            .collect::<Option<Vec<_>>>()?;
        Some((parts, pre))
    }
    match (parse(a), parse(b)) {
        (Some((pa, ra)), Some((pb, rb))) => pa.cmp(&pb).then_with(|| match (ra, rb) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => {
                let ids = |s: &str| -> Vec<(bool, u64, String)> {
                    s.split('.')
                        .map(|i| match i.parse::<u64>() {
                            Ok(n) => (false, n, String::new()),
                            Err(_) => (true, 0, i.to_string()),
                        })
                        .collect()
                };
                ids(x).cmp(&ids(y))
            }
        }),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_formats() {
        assert_eq!(
            parse_date("17-12-2022", "dd-MM-yyyy"),
            Some(1_671_235_200_000)
        );
        assert_eq!(
            parse_date("2022-12-17", "yyyy-MM-dd"),
            Some(1_671_235_200_000)
        );
        assert_eq!(
            parse_date("1671235200000", "epoch_millis"),
            Some(1_671_235_200_000)
        );
        assert_eq!(
            parse_date("2022-12-17T00:00:01Z", "strict_date_optional_time"),
            Some(1_671_235_201_000)
        );
        assert_eq!(
            parse_date("2022-12-17 10:11:12.5", "yyyy-MM-dd HH:mm:ss.S"),
            Some(1_671_271_872_500)
        );
        assert_eq!(parse_date("2022-12-17", "dd-MM-yyyy"), None);
        assert_eq!(parse_date("17-12-2022x", "dd-MM-yyyy"), None);
    }

    #[test]
    fn mapped_values() {
        let mapping = parse_mapping(
            r#"# comment
            {"properties": {"d": {"type": "date", "format": "dd-MM-yyyy"}, "ip": {"type": "ip"},
             "b": {"type": "boolean"}, "k": {"type": "[runtime_random_keyword_type]"},
             "e": {"properties": {"category": {"type": "alias", "path": "t"}}},
             "h": {"type": "text", "fields": {"keyword": {"type": "keyword"}}}}}"#,
        )
        .expect("parses");
        let mut event = serde_json::json!(
            {"d": "17-12-2022", "ip": "::ffff:10.0.0.1", "b": "true", "k": [1, true], "h": "x"}
        );
        apply_mapping(&mut event, "", &mapping);
        assert_eq!(
            event,
            serde_json::json!({"d": 1_671_235_200_000_i64, "ip": "::ffff:10.0.0.1", "b": true,
                "k": ["1", "true"], "h": "x"})
        );
        let mut schema = Schema::default();
        schema.add_mapping(&mapping);
        assert_eq!(schema.target("e.category"), "t");
        assert_eq!(schema.target("h.keyword"), "h");
    }

    #[test]
    fn unmapped_optional_fields_are_null() {
        let mut schema = Schema::default();
        schema.learn(&serde_json::json!({"a": 1}), "");
        let folded = |eql: &str| {
            let q = compile_query(eql).expect("compiles");
            match (Resolve { schema: &schema }).fold_query(q).body {
                QueryBody::Event(e) => crate::ir::print::expr(&e.condition),
                _ => unreachable!("an event query"),
            }
        };
        assert_eq!(folded("any where ?x == ?y"), "true");
        assert_eq!(folded("any where ?x != ?y"), "false");
        assert_eq!(folded("any where ?a == ?y"), "?a == null");
        assert_eq!(folded("any where ?x == null and a == 1"), "a == 1");
    }

    #[test]
    fn typed_key_order() {
        let key = |v: &str| vec![v.to_string()];
        let ip = [Some(FieldType::Ip)];
        assert_eq!(
            compare_typed_keys(&key("s:10.0.0.9"), &key("s:10.0.0.10"), &ip),
            Ordering::Less
        );
        assert_eq!(
            compare_typed_keys(&key("null"), &key("s:10.0.0.1"), &ip),
            Ordering::Less
        );
        assert_eq!(compare_versions("1.10.0", "1.9.0"), Ordering::Greater);
        assert_eq!(compare_versions("1.0.0-alpha", "1.0.0"), Ordering::Less);
        assert_eq!(
            compare_versions("1.0.0-alpha.2", "1.0.0-alpha.10"),
            Ordering::Less
        );
        assert_eq!(compare_versions("abc", "2.0.0"), Ordering::Greater);
    }
}
