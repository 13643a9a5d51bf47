//! Rules compiled for evaluation, and how their alerts are written.

use std::sync::Arc;

use serde_json::Value as Json;

use super::condition::{compile, CompileError, Condition};
use super::document::{Document, FieldValue, JsonDocument};
use super::engine::Alert;
use super::sample::SampleMatcher;
use super::sequence::SequenceMatcher;
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
    pub(crate) kind: RuleKind,
    /// `| head N`: stop after N matches. `| tail N`: keep the last N.
    pub(crate) head: Option<u64>,
    pub(crate) tail: Option<u64>,
}

#[derive(Debug, Clone)]
pub(crate) enum RuleKind {
    Event {
        category: Category,
        condition: Condition,
    },
    Sequence(Box<SequenceMatcher<Arc<str>>>),
    Sample(Box<SampleMatcher<Arc<str>>>),
}

impl CompiledRule {
    /// How messages name the rule: its name, else its path.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.path)
    }
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
        QueryBody::Sample(sample) => RuleKind::Sample(Box::new(SampleMatcher::new(sample)?)),
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

/// An alert as one JSON line: `{"rule_id", "name", "events": [...]}`, the events as they
/// were read.
pub fn alert_json(rule: &CompiledRule, alert: &Alert) -> String {
    let mut out = String::from("{\"rule_id\":");
    out.push_str(&Json::from(rule.rule_id.clone()).to_string());
    out.push_str(",\"name\":");
    out.push_str(&Json::from(rule.name.clone()).to_string());
    out.push_str(",\"events\":[");
    for (i, event) in alert.events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Each event was decoded as a JSON object before it could match.
        out.push_str(event);
    }
    out.push_str("]}");
    out
}

/// An alert as the matched events' `id_field` values joined by commas (the format of Elastic's
/// Python eql oracle); a missing value is empty.
pub fn alert_ids(alert: &Alert, id_field: &str) -> String {
    alert
        .events
        .iter()
        .map(|line| {
            let event: Json = serde_json::from_str(line).unwrap_or(Json::Null);
            match JsonDocument(&event).values(id_field).first() {
                Some(FieldValue::Integer(i)) => i.to_string(),
                Some(FieldValue::Float(f)) => f.to_string(),
                Some(FieldValue::Text(s)) => s.to_string(),
                Some(FieldValue::Bool(b)) => b.to_string(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::bare_eql;
    use crate::driver::compile_query;

    #[test]
    fn alerts_carry_events_verbatim() {
        let eql = "any where true";
        let rule = compile_rule(
            "<q>",
            &bare_eql(eql),
            &compile_query(eql).expect("compiles"),
        )
        .expect("evaluable");
        let alert = Alert {
            rule: 0,
            events: vec![Arc::from(r#"{"id": 7, "x": "a\"b"}"#)],
        };
        let line = alert_json(&rule, &alert);
        let parsed: Json = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(parsed["events"][0]["x"], "a\"b");
        assert_eq!(parsed["rule_id"], Json::Null);
        assert_eq!(alert_ids(&alert, "id"), "7");
    }
}
