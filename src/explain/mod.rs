//! `eqlc explain`: one rule, every translation of it side by side, and what deserves the
//! author's attention.
//!
//! For each EQL rule it prints labelled blocks — the canonical EQL, the Query DSL artifact
//! (pretty JSON), the Sigma YAML (or why Sigma cannot express the rule), and what the native
//! evaluator compiles it to (matchers per condition, stages and join keys, the literal index
//! keys) — followed by warnings placed in the rule with a caret: leading wildcards on large
//! fields, case-sensitive `==` on fields whose data varies in case, `*` in `==`, approximate
//! Sigma field mappings, constructs Sigma cannot express (see [`warnings`]), plus the Query DSL
//! backend's own warnings.
//!
//! Every rule a path holds is explained in turn, each under a title naming it. A document that
//! fails to parse is reported with its diagnostic instead (and the command exits 1); a
//! translation that refuses a rule is not a failure, its block says why.

mod evaluator;
mod paint;
pub mod warnings;

use std::io::Write;

use rayon::prelude::*;

pub use paint::Paint;
pub use warnings::FieldTables;

use crate::backend::sigma::{self, SigmaOptions};
use crate::diagnostic::{self, Diagnostic, Located};
use crate::driver::{self, InputSpec, Options, RuleReport, SourceDoc, Status, Target};
use crate::eval::run::{compile_rule, CompiledRule};
use crate::ir::Query;
use crate::syntax;

/// How rules are explained.
#[derive(Debug, Clone, Copy)]
pub struct ExplainOptions<'a> {
    /// Field types, Sigma field names and case policy, as for `convert`.
    pub targets: Options<'a>,
    /// Whether Sigma field names come from a taxonomy mapping (`sigma` or a file) rather than
    /// staying ECS names (`ecs`): only then do approximate mappings deserve a warning.
    pub sigma_taxonomy: bool,
    /// The tables the author warnings look fields up in.
    pub tables: &'a FieldTables,
}

impl Default for ExplainOptions<'static> {
    /// The defaults of `convert` and the embedded field tables.
    fn default() -> Self {
        ExplainOptions {
            targets: Options::default(),
            sigma_taxonomy: true,
            tables: FieldTables::embedded(),
        }
    }
}

/// What became of one document.
#[derive(Debug)]
pub enum Outcome {
    /// The rule, explained.
    Explained(Box<Explanation>),
    /// Not an EQL rule: nothing to explain.
    Skipped {
        /// The document's path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The document is not a valid rule or its query does not compile; the report carries
    /// the diagnostics.
    Failed(Box<RuleReport>),
    /// The path could not be read.
    Unreadable {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

/// One rule explained: each translation (or why there is none) and the warnings.
#[derive(Debug)]
pub struct Explanation {
    /// The document's path (`<query>` for `--query`).
    pub path: String,
    /// Rule name.
    pub name: Option<String>,
    /// Rule id.
    pub rule_id: Option<String>,
    /// Canonical EQL, or why there is none.
    pub eql: Result<String, String>,
    /// The Query DSL artifact as pretty JSON, or why there is none.
    pub dsl: Result<String, String>,
    /// Sigma YAML, or the construct Sigma cannot express.
    pub sigma: Result<String, String>,
    /// Warnings, in document coordinates, in the order they occur in the document.
    pub warnings: Vec<Diagnostic>,
    /// The evaluator's compiled rule, or why it cannot run the rule.
    evaluator: Result<CompiledRule, String>,
    query: Query,
    /// The document text, which the warnings point into.
    text: String,
}

/// Explain every document the inputs name, in order.
pub fn explain_inputs(inputs: &[InputSpec], options: &ExplainOptions<'_>) -> Vec<Outcome> {
    let (docs, unreadable) = driver::collect(inputs);
    // Documents are independent: explained on every core, collected in input order.
    let mut outcomes: Vec<Outcome> = docs
        .par_iter()
        .map(|d| explain_document(d, options))
        .collect();
    outcomes.extend(unreadable.into_iter().map(|u| Outcome::Unreadable {
        path: u.display,
        reason: u.reason,
    }));
    outcomes
}

/// Explain one document.
pub fn explain_document(doc: &SourceDoc, options: &ExplainOptions<'_>) -> Outcome {
    let pretty = Options {
        pretty: true,
        ..options.targets
    };
    // The front end alone: read the document and compile its query.
    let report = driver::process_with(doc, &[], false, &pretty);
    if report.status == Status::Skipped {
        return Outcome::Skipped {
            path: report.path,
            reason: report
                .skip_reason
                .unwrap_or_else(|| "not an EQL rule".into()),
        };
    }
    let (Some(rule), Some(query)) = (&report.rule, &report.query) else {
        return Outcome::Failed(Box::new(report));
    };
    let Some(query_text) = &rule.query else {
        return Outcome::Failed(Box::new(report));
    };
    let statement = match syntax::parse(&query_text.text) {
        Ok(statement) => statement,
        // The query compiled a moment ago; a parse error now would be a bug, shown as such.
        Err(d) => {
            let located = d.mapped(&query_text.map).locate(&doc.display, &doc.text);
            let mut report = report;
            report.diagnostics.push(located);
            report.status = Status::Error;
            return Outcome::Failed(Box::new(report));
        }
    };
    let path = report.path.clone();
    // Warnings in query coordinates, mapped into the document at the end.
    let mut warnings =
        warnings::author_warnings(&statement, &query_text.text, options.tables, rule);
    let mut target = |t: Target| match driver::run_target(t, &path, rule, query, &pretty) {
        Ok(output) => {
            warnings.extend(output.warnings);
            Ok(output.text)
        }
        // A translation that refuses the rule is worth the author's attention, not a failure.
        Err(d) => {
            warnings.push(Diagnostic {
                severity: diagnostic::Severity::Warning,
                ..d.clone()
            });
            Err(d.message)
        }
    };
    let eql = target(Target::Eql);
    let dsl = target(Target::Dsl);
    let sigma_options = SigmaOptions {
        field_map: options.targets.field_map,
        case_policy: options.targets.case_policy,
    };
    let sigma = match sigma::convert(rule, query, &sigma_options) {
        Ok(yaml) => {
            if options.sigma_taxonomy {
                warnings.extend(warnings::sigma_field_warnings(
                    rule,
                    query,
                    &statement,
                    options.targets.field_map,
                    options.tables,
                ));
            }
            Ok(yaml)
        }
        Err(refusal) => {
            let message = format!("Sigma cannot express {}", refusal.construct);
            let note = "`eqlc explain` shows the other translations; `convert --target sigma` \
                        fails on this rule";
            warnings.push(
                match warnings::refusal_span(&refusal.construct, &statement, &query_text.text) {
                    Some(span) => Diagnostic::warning(message.clone(), span)
                        .with_label("not expressible in Sigma"),
                    None => Diagnostic::warning_unplaced(message.clone()),
                }
                .with_note(note),
            );
            Err(message)
        }
    };
    let evaluator = compile_rule(&path, rule, query).map_err(|e| e.0);
    if let Err(why) = &evaluator {
        warnings.push(Diagnostic::warning_unplaced(format!(
            "the evaluator cannot run this rule: {why}"
        )));
    }
    let mut warnings: Vec<Diagnostic> = warnings
        .into_iter()
        .map(|w| w.mapped(&query_text.map))
        .collect();
    // In document order; unplaced ones last.
    warnings.sort_by_key(|w| w.span.map_or(usize::MAX, |s| s.start));
    Outcome::Explained(Box::new(Explanation {
        path,
        name: rule.name.clone(),
        rule_id: rule.rule_id.clone(),
        eql,
        dsl,
        sigma,
        warnings,
        evaluator,
        query: query.clone(),
        text: doc.text.clone(),
    }))
}

impl Explanation {
    /// The warnings with file, line and column, as JSON reports carry them.
    pub fn located_warnings(&self) -> Vec<Located> {
        self.warnings
            .iter()
            .map(|w| w.locate(&self.path, &self.text))
            .collect()
    }

    /// The evaluator block's text.
    pub fn evaluator(&self, paint: Paint) -> String {
        match &self.evaluator {
            Ok(compiled) => evaluator::describe(compiled, &self.query, paint),
            Err(why) => format!("{}\n", paint.remark(&format!("not evaluable: {why}"))),
        }
    }

    /// The whole explanation: a title, then the labelled blocks.
    pub fn render(&self, paint: Paint) -> String {
        let mut out = String::new();
        let mut title = self.path.clone();
        if let Some(name) = &self.name {
            title.push_str(&format!(": {name}"));
        }
        if let Some(id) = &self.rule_id {
            title.push_str(&format!(" ({id})"));
        }
        out.push_str(&paint.header(&format!("━━━ {title}")));
        out.push('\n');
        let block = |out: &mut String, label: &str, body: &str| {
            out.push('\n');
            out.push_str(&paint.header(&format!("── {label} ──")));
            out.push('\n');
            out.push_str(body);
            if !body.ends_with('\n') {
                out.push('\n');
            }
        };
        let or_remark = |r: &Result<String, String>| match r {
            Ok(text) => text.clone(),
            Err(why) => paint.remark(why),
        };
        block(&mut out, "Canonical EQL", &or_remark(&self.eql));
        block(&mut out, "Query DSL", &or_remark(&self.dsl));
        block(&mut out, "Sigma", &or_remark(&self.sigma));
        block(&mut out, "Evaluator", &self.evaluator(paint));
        let warnings = if self.warnings.is_empty() {
            paint.remark("none")
        } else {
            self.warnings
                .iter()
                .map(|w| diagnostic::render(w, &self.path, &self.text, paint.color))
                .collect::<Vec<_>>()
                .join("\n\n")
        };
        block(
            &mut out,
            &format!("Warnings ({})", self.warnings.len()),
            &warnings,
        );
        out
    }
}

/// Print outcomes as `eqlc explain` does: explanations to `out` (separated by a blank line),
/// failures' diagnostics and skipped documents to `err`. Returns whether the command failed:
/// some document failed, or nothing was explained.
pub fn print(
    outcomes: &[Outcome],
    out: &mut impl Write,
    err: &mut impl Write,
    out_paint: Paint,
    err_color: bool,
) -> std::io::Result<bool> {
    let mut explained = 0;
    let mut failed = false;
    for outcome in outcomes {
        match outcome {
            Outcome::Explained(explanation) => {
                if explained > 0 {
                    writeln!(out)?;
                }
                write!(out, "{}", explanation.render(out_paint))?;
                explained += 1;
            }
            Outcome::Skipped { path, reason } => {
                writeln!(err, "{path}: nothing to explain: {reason}")?;
            }
            Outcome::Unreadable { path, reason } => {
                failed = true;
                writeln!(err, "{path}: error: cannot read: {reason}")?;
            }
            Outcome::Failed(report) => {
                failed = true;
                for rendered in report.render_diagnostics(err_color) {
                    writeln!(err, "{rendered}\n")?;
                }
            }
        }
    }
    Ok(failed || explained == 0)
}
