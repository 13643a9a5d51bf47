//! Running compiled rules over a stream of NDJSON events.

use std::io::BufRead;

use serde_json::{json, Value as Json};

use super::condition::{compile, CompileError, Condition};
use super::document::{Document, FieldValue, JsonDocument};
use super::sequence::{in_category, SequenceMatcher};
use crate::document::Rule;
use crate::ir::{Category, Pipe, Query, QueryBody};

/// A rule ready to run over events.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// Rule id, when the document has one.
    pub rule_id: Option<String>,
    /// Rule name.
    pub name: Option<String>,
    /// Where the rule came from.
    pub path: String,
    kind: RuleKind,
    /// `| head N`: stop after N matches. `| tail N`: keep the last N.
    head: Option<u64>,
    tail: Option<u64>,
}

#[derive(Debug, Clone)]
enum RuleKind {
    Event {
        category: Category,
        condition: Condition,
    },
    Sequence(Box<SequenceMatcher<Json>>),
}

/// Compile one rule's query for evaluation.
pub fn compile_rule(path: &str, rule: &Rule, query: &Query) -> Result<CompiledRule, CompileError> {
    let kind = match &query.body {
        QueryBody::Event(event) => RuleKind::Event {
            category: event.category.clone(),
            condition: compile(&event.condition)?,
        },
        QueryBody::Sequence(sequence) => {
            RuleKind::Sequence(Box::new(SequenceMatcher::new(sequence)?))
        }
        QueryBody::Sample(_) => {
            return Err(CompileError("samples are not evaluated yet".into()));
        }
    };
    let mut head = None;
    let mut tail = None;
    for pipe in &query.pipes {
        match *pipe {
            Pipe::Head(n) if tail.is_none() => head = Some(head.map_or(n, |h: u64| h.min(n))),
            Pipe::Tail(n) if head.is_none() => tail = Some(tail.map_or(n, |t: u64| t.min(n))),
            _ => {
                return Err(CompileError(
                    "`head` and `tail` in one query are not evaluated yet".into(),
                ))
            }
        }
    }
    Ok(CompiledRule {
        rule_id: rule.rule_id.clone(),
        name: rule.name.clone(),
        path: path.to_string(),
        kind,
        head,
        tail,
    })
}

/// Where event fields are.
#[derive(Debug, Clone)]
pub struct EventFields {
    /// The event category field (`event.category`; an array in ECS).
    pub category: String,
    /// The timestamp field (ISO-8601 strings or epoch milliseconds), for `maxspan`.
    pub timestamp: String,
}

/// How often pending sequence matches are swept for expiry, in events.
const EXPIRY_INTERVAL: u64 = 10_000;

/// One match: the rule and the events (one for a single-event rule).
#[derive(Debug, Clone)]
pub struct Alert {
    /// Index of the rule in the list given to [`run`].
    pub rule: usize,
    /// The matched events, in order.
    pub events: Vec<Json>,
}

/// Counts over a run.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Events read.
    pub events: u64,
    /// Lines that were not JSON objects (reported, then skipped).
    pub bad_lines: u64,
    /// Alerts per rule, in rule order.
    pub alerts: Vec<u64>,
}

/// Run `rules` over the NDJSON events of `input` (in time order), calling `emit` for each
/// alert as it is found (rules with `tail` emit theirs at the end) and `warn` for each
/// unreadable line.
pub fn run(
    rules: &mut [CompiledRule],
    fields: &EventFields,
    input: impl BufRead,
    mut emit: impl FnMut(Alert) -> std::io::Result<()>,
    mut warn: impl FnMut(String),
) -> std::io::Result<RunSummary> {
    let mut summary = RunSummary {
        alerts: vec![0; rules.len()],
        ..RunSummary::default()
    };
    let mut tails: Vec<std::collections::VecDeque<Vec<Json>>> =
        vec![Default::default(); rules.len()];
    for (number, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let event: Json = match serde_json::from_str(&line) {
            Ok(e @ Json::Object(_)) => e,
            Ok(_) => {
                summary.bad_lines += 1;
                warn(format!("line {}: not a JSON object", number + 1));
                continue;
            }
            Err(e) => {
                summary.bad_lines += 1;
                warn(format!("line {}: {e}", number + 1));
                continue;
            }
        };
        summary.events += 1;
        let doc = JsonDocument(&event);
        // Read once per event, not once per rule.
        let time = doc
            .values(&fields.timestamp)
            .first()
            .and_then(FieldValue::as_millis)
            .unwrap_or(0.0);
        let categories = doc.values(&fields.category);
        let sweep = summary.events.is_multiple_of(EXPIRY_INTERVAL);
        for (i, rule) in rules.iter_mut().enumerate() {
            if rule.head.is_some_and(|h| summary.alerts[i] >= h) {
                continue;
            }
            let matches: Vec<Vec<Json>> = match &mut rule.kind {
                RuleKind::Event {
                    category,
                    condition,
                } => {
                    if in_category(category, &categories) && condition.matches(&doc) {
                        vec![vec![event.clone()]]
                    } else {
                        Vec::new()
                    }
                }
                RuleKind::Sequence(matcher) => {
                    let found = matcher.push(&event, time, &doc, &categories);
                    if sweep {
                        matcher.expire(time);
                    }
                    found
                }
            };
            for events in matches {
                match rule.tail {
                    Some(n) => {
                        let kept = &mut tails[i];
                        kept.push_back(events);
                        if kept.len() as u64 > n {
                            kept.pop_front();
                        }
                    }
                    None => {
                        if rule.head.is_some_and(|h| summary.alerts[i] >= h) {
                            break;
                        }
                        summary.alerts[i] += 1;
                        emit(Alert { rule: i, events })?;
                    }
                }
            }
        }
    }
    for (i, kept) in tails.into_iter().enumerate() {
        for events in kept {
            summary.alerts[i] += 1;
            emit(Alert { rule: i, events })?;
        }
    }
    Ok(summary)
}

/// An alert as one JSON line: `{"rule_id", "name", "events": [...]}`.
pub fn alert_json(rule_id: &Option<String>, name: &Option<String>, alert: &Alert) -> Json {
    json!({"rule_id": rule_id, "name": name, "events": alert.events})
}

/// An alert as the matched events' `id_field` values joined by commas (the format of Elastic's
/// Python eql oracle); a missing value is empty.
pub fn alert_ids(alert: &Alert, id_field: &str) -> String {
    alert
        .events
        .iter()
        .map(|e| match JsonDocument(e).values(id_field).first() {
            Some(FieldValue::Integer(i)) => i.to_string(),
            Some(FieldValue::Float(f)) => f.to_string(),
            Some(FieldValue::Text(s)) => s.to_string(),
            Some(FieldValue::Bool(b)) => b.to_string(),
            None => String::new(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::bare_eql;
    use crate::driver::compile_query;

    fn rule(eql: &str) -> CompiledRule {
        compile_rule(
            "<query>",
            &bare_eql(eql),
            &compile_query(eql).expect("compiles"),
        )
        .expect("evaluable")
    }

    const EVENTS: &str = r#"{"event": {"category": ["process"]}, "id": 1, "process": {"name": "a"}}
{"event": {"category": "file"}, "id": 2, "process": {"name": "a"}}
not json
{"event": {"category": "process"}, "id": 3, "process": {"name": "b"}}
{"event": {"category": "process"}, "id": 4, "process": {"name": "a"}}
"#;

    fn ids(rules: &mut [CompiledRule]) -> (Vec<String>, RunSummary, Vec<String>) {
        let fields = EventFields {
            category: "event.category".into(),
            timestamp: "@timestamp".into(),
        };
        let mut out = Vec::new();
        let mut warnings = Vec::new();
        let summary = run(
            rules,
            &fields,
            EVENTS.as_bytes(),
            |a| {
                out.push(format!("{}:{}", a.rule, alert_ids(&a, "id")));
                Ok(())
            },
            |w| warnings.push(w),
        )
        .expect("runs");
        (out, summary, warnings)
    }

    #[test]
    fn categories_arrays_pipes_and_bad_lines() {
        let mut rules = [
            rule(r#"process where process.name == "a""#),
            rule("any where true | head 2"),
            rule("process where true | tail 1"),
        ];
        let (out, summary, warnings) = ids(&mut rules);
        assert_eq!(out, ["0:1", "1:1", "1:2", "0:4", "2:4"]);
        assert_eq!(summary.events, 4);
        assert_eq!(summary.alerts, [2, 2, 1]);
        assert_eq!(summary.bad_lines, 1);
        assert!(warnings[0].starts_with("line 3:"), "{warnings:?}");
    }

    #[test]
    fn sequences_alert_with_their_events() {
        let mut rules = [rule(
            r#"sequence with maxspan=1h [process where process.name == "a"] [process where process.name == "b"]"#,
        )];
        let (out, summary, _) = ids(&mut rules);
        assert_eq!(out, ["0:1,3"]);
        assert_eq!(summary.alerts, [1]);
    }

    #[test]
    fn samples_are_refused_for_now() {
        let eql = "sample by h [process where true] [file where true]";
        let err = compile_rule(
            "<q>",
            &bare_eql(eql),
            &compile_query(eql).expect("compiles"),
        )
        .expect_err("not yet");
        assert!(err.0.contains("not evaluated yet"), "{}", err.0);
    }
}
