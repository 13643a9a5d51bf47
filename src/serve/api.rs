//! The JSON API behind the preview page: translate one rule document into every target, and
//! run it over pasted events. Pure functions of their requests, so they are tested without a
//! server.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::describe::EvaluatorView;
use crate::diagnostic::{Located, Severity};
use crate::document::{detect_format, DocumentFormat, Provenance};
use crate::driver::{self, Options, SourceDoc, Status, Target};
use crate::eval::engine::{Alert, Engine, EngineOptions, EventFields, Observer};
use crate::eval::run::{compile_rule, CompiledRule};

/// How diagnostics and artifacts name the editor's text.
pub const SOURCE_NAME: &str = "<editor>";

/// Alerts listed in one `/api/eval` answer; the count covers them all.
pub const MAX_ALERTS: usize = 500;

/// Warnings listed in one `/api/eval` answer.
const MAX_WARNINGS: usize = 100;

/// `POST /api/translate`.
#[derive(Debug, Clone, Deserialize)]
pub struct TranslateRequest {
    /// A rule document (detection-rules TOML, a documentation page) or a bare EQL query.
    pub text: String,
}

/// What `/api/translate` answers.
#[derive(Debug, Clone, Serialize)]
pub struct TranslateResponse {
    /// `ok`, `skipped` (not an EQL rule) or `error`.
    pub status: Status,
    /// The detected document format: `toml`, `markdown`, `asciidoc`, `flattext` or `eql`.
    pub format: DocumentFormat,
    /// The rule's name, id and type, where the document gives them.
    pub rule: RuleInfo,
    /// Why nothing was translated, for a skipped document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// Canonical EQL.
    pub eql: Pane,
    /// The Query DSL artifact (`eqlc convert --target dsl --pretty`).
    pub dsl: Pane,
    /// The Sigma rule (YAML).
    pub sigma: Pane,
    /// What the native evaluator compiles the rule to.
    pub evaluator: EvaluatorView,
    /// Errors and warnings, placed in the editor's text.
    pub diagnostics: Vec<DiagnosticView>,
}

/// A rule's identity.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleInfo {
    /// Rule name.
    pub name: Option<String>,
    /// Rule id.
    pub rule_id: Option<String>,
    /// Rule type (`eql`, `query`, …).
    pub rule_type: Option<String>,
}

/// One target's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Pane {
    /// `ok` (see `text`), `error` (see `message`) or `unavailable` (the query did not
    /// compile, or the document is not an EQL rule).
    pub status: PaneStatus,
    /// The artifact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Why there is no artifact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Whether a pane has its artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PaneStatus {
    /// The artifact is there.
    Ok,
    /// The target cannot express the rule.
    Error,
    /// Nothing to translate.
    Unavailable,
}

impl Pane {
    fn ok(text: String) -> Self {
        Pane {
            status: PaneStatus::Ok,
            text: Some(text),
            message: None,
        }
    }

    fn error(message: String) -> Self {
        Pane {
            status: PaneStatus::Error,
            text: None,
            message: Some(message),
        }
    }

    fn unavailable(message: &str) -> Self {
        Pane {
            status: PaneStatus::Unavailable,
            text: None,
            message: Some(message.to_string()),
        }
    }
}

/// A diagnostic as the page shows it: 1-based line and column (in characters) for people,
/// and offsets in UTF-16 code units (JavaScript's string indices) to highlight the span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiagnosticView {
    /// `error` or `warning`.
    pub severity: Severity,
    /// The headline.
    pub message: String,
    /// The label under the caret, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Further explanation, one line each.
    pub notes: Vec<String>,
    /// Line of the first offending character; absent for problems with the whole document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Column of the first offending character.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// Line just past the offending text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_line: Option<usize>,
    /// Column just past the offending text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_column: Option<usize>,
    /// Start of the span in UTF-16 code units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<usize>,
    /// End of the span in UTF-16 code units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<usize>,
}

impl DiagnosticView {
    /// Place `located` (a diagnostic in document coordinates) in `text`.
    pub fn of(located: &Located, text: &str) -> Self {
        let d = &located.diagnostic;
        let span = d.span.map(|s| {
            (
                utf16_offset(text, s.start),
                utf16_offset(text, s.end.max(s.start)),
            )
        });
        DiagnosticView {
            severity: d.severity,
            message: d.message.clone(),
            label: d.label.clone(),
            notes: d.notes.clone(),
            line: located.position.map(|p| p.line),
            column: located.position.map(|p| p.column),
            end_line: located.position.map(|p| p.end_line),
            end_column: located.position.map(|p| p.end_column),
            start: span.map(|s| s.0),
            end: span.map(|s| s.1),
        }
    }
}

/// The UTF-16 offset of byte `offset` of `text` (a span inside a character counts from the
/// character's start; past the end, the end).
fn utf16_offset(text: &str, offset: usize) -> usize {
    let mut at = offset.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text[..at].encode_utf16().count()
}

/// Run the document in `text` through the pipeline for every target.
pub fn translate(request: &TranslateRequest) -> TranslateResponse {
    let text = &request.text;
    let doc = SourceDoc {
        display: SOURCE_NAME.to_string(),
        // No extension: the content alone decides the format, and text that is no known
        // document format is read as a bare query.
        relative: PathBuf::from("editor"),
        text: text.clone(),
        provenance: Provenance::Explicit,
    };
    let options = Options {
        pretty: true,
        ..Options::default()
    };
    let mut report = driver::process_with(&doc, &[Target::Eql], true, &options);
    let format = detect_format(text, "").unwrap_or(DocumentFormat::Eql);
    let why = match (&report.rule, report.status) {
        (_, Status::Skipped) => report.skip_reason.as_deref().unwrap_or("not an EQL rule"),
        (None, _) => "the document could not be read",
        (Some(_), _) => "the query did not compile",
    };
    let mut response = TranslateResponse {
        status: report.status,
        format,
        rule: RuleInfo {
            name: report.name.clone(),
            rule_id: report.rule_id.clone(),
            rule_type: report.rule_type.clone(),
        },
        skip_reason: report.skip_reason.clone(),
        eql: Pane::unavailable(why),
        dsl: Pane::unavailable(why),
        sigma: Pane::unavailable(why),
        evaluator: EvaluatorView::not_evaluable(why),
        diagnostics: Vec::new(),
    };
    if let (Some(rule), Some(query)) = (&report.rule, &report.query) {
        response.eql = match report.outputs.remove(&Target::Eql) {
            Some(eql) => Pane::ok(eql),
            None => Pane::error("canonical EQL failed; see the diagnostics".into()),
        };
        // The same calls `process_with` makes per target, kept apart so each pane gets its
        // own artifact or error.
        let map = rule.query.as_ref().map(|q| q.map.clone());
        for target in [Target::Dsl, Target::Sigma] {
            let pane = match driver::run_target(target, SOURCE_NAME, rule, query, &options) {
                Ok(output) => {
                    for warning in output.warnings {
                        let warning = match &map {
                            Some(map) => warning.mapped(map),
                            None => warning,
                        };
                        report.diagnostics.push(warning.locate(SOURCE_NAME, text));
                    }
                    Pane::ok(output.text)
                }
                Err(d) => Pane::error(d.message),
            };
            match target {
                Target::Dsl => response.dsl = pane,
                _ => response.sigma = pane,
            }
        }
        response.evaluator = match compile_rule(SOURCE_NAME, rule, query) {
            Ok(compiled) => EvaluatorView::of(&compiled, query),
            Err(e) => EvaluatorView::not_evaluable(e.0),
        };
    }
    response.diagnostics = report
        .diagnostics
        .iter()
        .map(|d| DiagnosticView::of(d, text))
        .collect();
    let failed = [&response.eql, &response.dsl, &response.sigma]
        .iter()
        .any(|p| p.status == PaneStatus::Error);
    if failed && response.status == Status::Ok {
        response.status = Status::Error;
    }
    response
}

/// `POST /api/eval`.
#[derive(Debug, Clone, Deserialize)]
pub struct EvalRequest {
    /// The rule document or query, as for `/api/translate`.
    pub text: String,
    /// NDJSON events, one JSON object a line.
    pub events: String,
    /// The timestamp field (default `@timestamp`).
    #[serde(default)]
    pub timestamp_field: Option<String>,
    /// The event category field (default `event.category`).
    #[serde(default)]
    pub category_field: Option<String>,
    /// The field that orders events with equal timestamps (default none).
    #[serde(default)]
    pub tiebreaker_field: Option<String>,
}

/// What `/api/eval` answers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EvalResponse {
    /// `ok`, or `error` when the rule cannot be run (see `message`).
    pub status: &'static str,
    /// Why the rule was not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Events read.
    pub events: u64,
    /// Lines that were not JSON objects.
    pub bad_lines: u64,
    /// Alerts raised, listed or not.
    pub alert_count: u64,
    /// The first [`MAX_ALERTS`] alerts.
    pub alerts: Vec<AlertView>,
    /// Every line number (1-based) that is part of some listed alert, ascending.
    pub matched_lines: Vec<usize>,
    /// Warnings from the run (bad lines, caps reached).
    pub warnings: Vec<String>,
}

/// One alert: the events it is made of.
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    /// Each event's line in the pasted text (1-based; the first line with that text).
    pub lines: Vec<usize>,
    /// The events as pasted.
    pub events: Vec<String>,
}

/// Collects a run's alerts and warnings, bounded.
#[derive(Default)]
struct Collector {
    alerts: Vec<Alert>,
    count: u64,
    warnings: Vec<String>,
}

impl Observer for Collector {
    fn alert(&mut self, _rule: &CompiledRule, alert: &Alert) -> std::io::Result<()> {
        self.count += 1;
        if self.alerts.len() < MAX_ALERTS {
            self.alerts.push(alert.clone());
        }
        Ok(())
    }

    fn warn(&mut self, message: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(message);
        }
    }
}

/// Run the rule in `request.text` over `request.events` with Elasticsearch's semantics.
pub fn evaluate(request: &EvalRequest) -> EvalResponse {
    let error = |message: String| EvalResponse {
        status: "error",
        message: Some(message),
        ..EvalResponse::default()
    };
    let doc = SourceDoc {
        display: SOURCE_NAME.to_string(),
        relative: PathBuf::from("editor"),
        text: request.text.clone(),
        provenance: Provenance::Explicit,
    };
    let report = driver::process(&doc, &[], false);
    let (Some(rule), Some(query)) = (&report.rule, &report.query) else {
        return error(match report.status {
            Status::Skipped => report
                .skip_reason
                .unwrap_or_else(|| "not an EQL rule".into()),
            _ => "the rule has errors (see the diagnostics)".into(),
        });
    };
    let compiled = match compile_rule(SOURCE_NAME, rule, query) {
        Ok(compiled) => compiled,
        Err(e) => return error(format!("the evaluator cannot run this rule: {}", e.0)),
    };
    let field = |given: &Option<String>, default: &str| {
        given
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .unwrap_or(default)
            .to_string()
    };
    let defaults = EventFields::default();
    let options = EngineOptions {
        fields: EventFields {
            category: field(&request.category_field, &defaults.category),
            timestamp: field(&request.timestamp_field, &defaults.timestamp),
            tiebreaker: Some(field(&request.tiebreaker_field, "")).filter(|f| !f.is_empty()),
        },
        // A pasted sample is small: sort all of it, as Elasticsearch does.
        reorder_window: None,
        ..EngineOptions::default()
    };
    let mut engine = Engine::new(vec![compiled], options);
    let mut collector = Collector::default();
    let summary = match engine.run(request.events.as_bytes(), &mut collector) {
        Ok(summary) => summary,
        Err(e) => return error(format!("cannot read the events: {e}")),
    };
    // Alerts carry events as their (trimmed) lines; find each line's number by its text.
    let mut line_numbers: HashMap<&str, usize> = HashMap::new();
    for (i, line) in request.events.lines().enumerate() {
        line_numbers.entry(line.trim()).or_insert(i + 1);
    }
    let line_of = |event: &Arc<str>| line_numbers.get(event.trim()).copied().unwrap_or(0);
    let alerts: Vec<AlertView> = collector
        .alerts
        .iter()
        .map(|a| AlertView {
            lines: a.events.iter().map(line_of).collect(),
            events: a.events.iter().map(|e| e.to_string()).collect(),
        })
        .collect();
    let mut matched_lines: Vec<usize> = alerts
        .iter()
        .flat_map(|a| a.lines.iter().copied())
        .filter(|&n| n > 0)
        .collect();
    matched_lines.sort_unstable();
    matched_lines.dedup();
    EvalResponse {
        status: "ok",
        message: None,
        events: summary.events,
        bad_lines: summary.bad_lines,
        alert_count: collector.count,
        alerts,
        matched_lines,
        warnings: collector.warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_offsets_count_code_units() {
        let text = "a😀b";
        assert_eq!(utf16_offset(text, 0), 0);
        assert_eq!(utf16_offset(text, 1), 1);
        // Inside the emoji: counted from its start.
        assert_eq!(utf16_offset(text, 3), 1);
        assert_eq!(utf16_offset(text, 5), 3);
        assert_eq!(utf16_offset(text, 99), 4);
    }
}
