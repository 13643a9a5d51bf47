//! Elasticsearch Query DSL: the IR lowered as Elasticsearch's own EQL translator lowers it,
//! packaged as the requests a detection engine (or a user) sends.
//!
//! One artifact per rule: the `_eql/search` body, a `_search` body for single-event rules,
//! and for sequences and samples the per-stage queries Elasticsearch's sequence engine runs.

pub mod lower;
pub mod lucene_regex;
pub mod painless;
pub mod query;

use serde_json::{json, Map, Value as Json};

use crate::document::Rule;
use crate::ir::{self, Pipe, QueryBody, Stage};
use crate::schema::FieldTypes;

pub use lower::{Lowerer, TypeWarning, Unsupported};
pub use query::{BoolQuery, Query};

/// The detection engine's defaults for rules that leave these out.
const DEFAULT_FROM: &str = "now-6m";
const DEFAULT_MAX_SIGNALS: u32 = 100;
const DEFAULT_TIMESTAMP_FIELD: &str = "@timestamp";
const DEFAULT_CATEGORY_FIELD: &str = "event.category";

/// A rule lowered to Query DSL.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The artifact document (see the README for its fields).
    pub json: Json,
    /// Comparisons the fields' types cannot support.
    pub warnings: Vec<TypeWarning>,
    /// Whether some query needed a Painless script.
    pub uses_script: bool,
}

/// Lower `query` (the compiled query of `rule`) to its artifact, with field types from `types`.
pub fn artifact(
    rule: &Rule,
    query: &ir::Query,
    types: &FieldTypes,
) -> Result<Artifact, Unsupported> {
    let category_field = rule
        .event_category_override
        .clone()
        .unwrap_or_else(|| DEFAULT_CATEGORY_FIELD.to_string());
    let mut lowerer = Lowerer::new(types, category_field.clone());
    let size = rule.max_signals.unwrap_or(DEFAULT_MAX_SIGNALS);
    let time_filter = time_filter(rule);

    let mut doc = Map::new();
    doc.insert("rule_id".into(), json!(rule.rule_id));
    doc.insert("name".into(), json!(rule.name));
    doc.insert("index".into(), json!(rule.index));
    let kind = match &query.body {
        QueryBody::Event(_) => "event",
        QueryBody::Sequence(_) => "sequence",
        QueryBody::Sample(_) => "sample",
    };
    doc.insert("kind".into(), json!(kind));
    doc.insert(
        "eql_search".into(),
        eql_search(rule, query, size, &time_filter, &category_field),
    );

    let mut uses_script = false;
    match &query.body {
        QueryBody::Event(event) => {
            let lowered = lowerer.event(event)?;
            uses_script |= lowered.has_script();
            doc.insert(
                "search".into(),
                search_body(lowered, &query.pipes, size, time_filter)?,
            );
        }
        QueryBody::Sequence(sequence) => {
            let stages = stage_entries(&mut lowerer, &sequence.stages, &sequence.by)?;
            uses_script |= stages.1;
            doc.insert("stages".into(), stages.0);
            if let Some(until) = &sequence.until {
                let (entry, script) = stage_entry(&mut lowerer, until, &sequence.by)?;
                uses_script |= script;
                doc.insert("until".into(), entry);
            }
            doc.insert(
                "maxspan".into(),
                json!(sequence.maxspan.map(|d| d.to_string())),
            );
        }
        QueryBody::Sample(sample) => {
            let stages = stage_entries(&mut lowerer, &sample.stages, &sample.by)?;
            uses_script |= stages.1;
            doc.insert("stages".into(), stages.0);
        }
    }
    doc.insert("uses_script".into(), json!(uses_script));
    doc.insert(
        "warnings".into(),
        json!(lowerer
            .warnings
            .iter()
            .map(|w| w.message.clone())
            .collect::<Vec<_>>()),
    );
    Ok(Artifact {
        json: Json::Object(doc),
        warnings: lowerer.warnings,
        uses_script,
    })
}

/// The detection engine's time range: `from` (default `now-6m`) to `now` on `@timestamp`, or
/// on `timestamp_override` with `@timestamp` as the fallback for events without it. A bare
/// query (no rule metadata) has none.
fn time_filter(rule: &Rule) -> Option<Json> {
    if rule.rule_id.is_none() && rule.from.is_none() {
        return None;
    }
    let from = rule.from.as_deref().unwrap_or(DEFAULT_FROM);
    let range = |field: &str| json!({"range": {field: {"gte": from, "lte": "now", "format": "strict_date_optional_time"}}});
    Some(match rule.timestamp_override.as_deref() {
        None => range(DEFAULT_TIMESTAMP_FIELD),
        Some(primary) => json!({"bool": {
            "should": [
                range(primary),
                {"bool": {"filter": [
                    range(DEFAULT_TIMESTAMP_FIELD),
                    {"bool": {"must_not": [{"exists": {"field": primary}}]}}
                ]}}
            ],
            "minimum_should_match": 1
        }}),
    })
}

/// The `_eql/search` body the detection engine sends for this rule.
fn eql_search(
    rule: &Rule,
    query: &ir::Query,
    size: u32,
    time_filter: &Option<Json>,
    category_field: &str,
) -> Json {
    let mut body = Map::new();
    body.insert("query".into(), json!(ir::print::query(query)));
    if let Some(filter) = time_filter {
        body.insert("filter".into(), json!({"bool": {"filter": [filter]}}));
    }
    body.insert("size".into(), json!(size));
    body.insert("timestamp_field".into(), json!(DEFAULT_TIMESTAMP_FIELD));
    body.insert("event_category_field".into(), json!(category_field));
    if let Some(tiebreaker) = &rule.tiebreaker_field {
        body.insert("tiebreaker_field".into(), json!(tiebreaker));
    }
    let mut fields = vec![json!({"field": "*", "include_unmapped": true})];
    let mut timestamps = vec![DEFAULT_TIMESTAMP_FIELD];
    if let Some(primary) = rule.timestamp_override.as_deref() {
        timestamps.insert(0, primary);
    }
    for field in timestamps {
        fields.push(json!({"field": field, "format": "strict_date_optional_time"}));
    }
    body.insert("fields".into(), Json::Array(fields));
    Json::Object(body)
}

/// A `_search` body for a single-event rule: the rule inside `bool.filter` with the time
/// range, in timestamp order, as many hits as the rule (and its `head`/`tail`) asks for.
fn search_body(
    lowered: Query,
    pipes: &[Pipe],
    size: u32,
    time_filter: Option<Json>,
) -> Result<Json, Unsupported> {
    let mut filter: Vec<Json> = time_filter.into_iter().collect();
    filter.push(lowered.to_json());
    let mut size = u64::from(size);
    let heads = pipes.iter().filter(|p| matches!(p, Pipe::Head(_))).count();
    let descending = heads < pipes.len();
    if descending && heads > 0 {
        // `head 5 | tail 2` is events 4–5: no single size and sort order says that.
        return Err(Unsupported {
            message: "`head` and `tail` in one query cannot be one `_search` request".into(),
        });
    }
    for pipe in pipes {
        let (Pipe::Head(n) | Pipe::Tail(n)) = *pipe;
        size = size.min(n);
    }
    let order = if descending { "desc" } else { "asc" };
    Ok(json!({
        "query": {"bool": {"filter": filter}},
        "size": size,
        // `unmapped_type` keeps an index without the field from failing the search, as the
        // detection engine's own query rules do.
        "sort": [{DEFAULT_TIMESTAMP_FIELD: {"order": order, "unmapped_type": "date"}}]
    }))
}

/// Every stage's entry, and whether any needed a script.
fn stage_entries(
    lowerer: &mut Lowerer<'_>,
    stages: &[Stage],
    shared_keys: &[ir::Field],
) -> Result<(Json, bool), Unsupported> {
    let mut entries = Vec::with_capacity(stages.len());
    let mut uses_script = false;
    for stage in stages {
        let (entry, script) = stage_entry(lowerer, stage, shared_keys)?;
        uses_script |= script;
        entries.push(entry);
    }
    Ok((Json::Array(entries), uses_script))
}

/// One stage: its query, join keys, runs and whether it is a missing-event stage.
fn stage_entry(
    lowerer: &mut Lowerer<'_>,
    stage: &Stage,
    shared_keys: &[ir::Field],
) -> Result<(Json, bool), Unsupported> {
    let lowered = lowerer.event(&stage.event)?;
    let script = lowered.has_script();
    let keys: Vec<String> = stage.keys(shared_keys).map(ir::print::field).collect();
    Ok((
        json!({
            "query": lowered.to_json(),
            "keys": keys,
            "runs": stage.runs,
            "missing": stage.missing,
        }),
        script,
    ))
}
