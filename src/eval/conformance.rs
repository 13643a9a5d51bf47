//! Conformance suites in the format of Elasticsearch's EQL QA: a `suite.toml` naming the data
//! (NDJSON), the query files (`[[queries]]` with `name`, `query`, `expected_event_ids`) and the
//! timestamp, category and tiebreaker fields; each query must return exactly the expected
//! events, in Elasticsearch's order.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value as Json;

use super::condition::compile;
use super::document::{Document, FieldValue, JsonDocument};
use super::sequence::{in_category, SequenceMatcher};
use crate::driver::compile_query;
use crate::ir::{Pipe, QueryBody};

#[derive(Debug, Deserialize)]
struct SuiteFile {
    name: Option<String>,
    data: DataFiles,
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

/// One data file or several (indices searched together).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DataFiles {
    One(String),
    Many(Vec<String>),
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
    /// The expected ids (alternatives joined by `or`).
    pub expected: String,
    /// The ids returned, or why the query did not run.
    pub got: Result<Vec<i64>, String>,
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

/// Run every query of the suite described by `suite_toml`.
pub fn run_suite(suite_toml: &Path) -> Result<SuiteResult, String> {
    let dir = suite_toml
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let suite: SuiteFile = toml::from_str(&read(suite_toml)?)
        .map_err(|e| format!("{}: {}", suite_toml.display(), e.message()))?;
    let files = match &suite.data {
        DataFiles::One(f) => vec![f.clone()],
        DataFiles::Many(fs) => fs.clone(),
    };
    let mut events = Vec::new();
    for file in files {
        let data_path: PathBuf = dir.join(file);
        for (n, line) in read(&data_path)?.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let event: Json = serde_json::from_str(line)
                .map_err(|e| format!("{}:{}: {e}", data_path.display(), n + 1))?;
            events.push(event);
        }
    }
    // Elasticsearch's order: timestamp, then tiebreaker, then arrival (a stable sort).
    let key = |e: &Json| {
        let doc = JsonDocument(e);
        let tiebreaker = suite
            .tiebreaker_field
            .as_deref()
            .map(|f| order_value(&doc, f));
        (order_value(&doc, &suite.timestamp_field), tiebreaker)
    };
    events.sort_by(|a, b| {
        key(a)
            .partial_cmp(&key(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });

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
            let got = run_query(&spec.query, &events, &suite, &id_field);
            match &got {
                Ok(ids) if spec.expected_event_ids.accepts(ids) => result.passed.push(spec.name),
                _ => result.failed.push(Failure {
                    name: spec.name,
                    query: spec.query.trim().to_string(),
                    expected: spec.expected_event_ids.describe(),
                    got,
                }),
            }
        }
    }
    Ok(result)
}

/// A field's first value as a time (or number) for ordering; missing sorts first.
fn order_value(doc: &JsonDocument<'_>, field: &str) -> Option<f64> {
    doc.values(field).first()?.as_millis()
}

fn run_query(
    eql: &str,
    events: &[Json],
    suite: &SuiteFile,
    id_field: &str,
) -> Result<Vec<i64>, String> {
    let query = compile_query(eql).map_err(|d| d.message)?;
    let id_of = |doc: &JsonDocument<'_>| match doc.values(id_field).first() {
        Some(FieldValue::Integer(i)) => *i,
        _ => -1,
    };
    if let QueryBody::Sequence(sequence) = &query.body {
        let mut matcher = SequenceMatcher::new(sequence).map_err(|e| e.0)?;
        let mut found: Vec<Vec<usize>> = Vec::new();
        for (i, event) in events.iter().enumerate() {
            let doc = JsonDocument(event);
            let time = order_value(&doc, &suite.timestamp_field).unwrap_or(0.0);
            let categories = doc.values(&suite.event_category_field);
            found.extend(matcher.push(&i, time, &doc, &categories));
        }
        // Results in the order they complete (their last event), as Elasticsearch returns them.
        found.sort_by_key(|seq| (seq.last().copied(), seq.first().copied()));
        apply_pipes(&mut found, &query.pipes);
        found.truncate(suite.size);
        return Ok(found
            .iter()
            .flatten()
            .map(|&i| id_of(&JsonDocument(&events[i])))
            .collect());
    }
    let QueryBody::Event(event) = &query.body else {
        return Err("samples are not evaluated yet".into());
    };
    let condition = compile(&event.condition).map_err(|e| e.0)?;
    let mut ids: Vec<i64> = events
        .iter()
        .map(JsonDocument)
        .filter(|doc| in_category(&event.category, &doc.values(&suite.event_category_field)))
        .filter(|doc| condition.matches(doc))
        .map(|doc| id_of(&doc))
        .collect();
    apply_pipes(&mut ids, &query.pipes);
    ids.truncate(suite.size);
    Ok(ids)
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
