//! Batches: find the rule documents under the paths a user names, run each through the
//! pipeline for the requested targets, and report every rule's outcome.
//!
//! A bad rule never stops a batch: it becomes a report with diagnostics and the rest go on.
//! The CLI only turns arguments into calls here and prints what comes back.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::iter::Either;
use rayon::prelude::*;
use serde::Serialize;

use crate::backend::dsl;
use crate::backend::sigma::{self, CasePolicy, FieldMap, SigmaOptions};
use crate::diagnostic::{self, Diagnostic, Located};
use crate::document::{self, Loaded, Provenance, Rule};
use crate::ir::{self, Query};
use crate::schema::FieldTypes;
use crate::source::Span;
use crate::syntax;

/// A rule document's text and where it came from.
#[derive(Debug, Clone)]
pub struct SourceDoc {
    /// Path as shown to the user (`-` for stdin, `<query>` for `--query`).
    pub display: String,
    /// Path relative to the argument it was found under, for mirroring trees in `--out`.
    pub relative: PathBuf,
    /// The text.
    pub text: String,
    /// Named explicitly, or found in a directory walk.
    pub provenance: Provenance,
}

/// A path that could not be read at all.
#[derive(Debug, Clone)]
pub struct Unreadable {
    /// The path.
    pub display: String,
    /// Why.
    pub reason: String,
}

/// File extensions considered when walking a directory.
const RULE_EXTENSIONS: [&str; 7] = ["toml", "eql", "md", "markdown", "txt", "asciidoc", "adoc"];

/// Where a batch reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSpec {
    /// A file or directory.
    Path(PathBuf),
    /// Standard input (`-`).
    Stdin,
    /// A query given on the command line.
    Inline(String),
}

/// Check that every named path exists: a missing one is a usage error, reported before any work.
pub fn missing_paths(inputs: &[InputSpec]) -> Vec<String> {
    inputs
        .iter()
        .filter_map(|i| match i {
            InputSpec::Path(p) if !p.exists() => Some(p.display().to_string()),
            _ => None,
        })
        .collect()
}

/// Gather documents: files as named, directories recursively (sorted, so output is stable).
pub fn collect(inputs: &[InputSpec]) -> (Vec<SourceDoc>, Vec<Unreadable>) {
    // The walk decides what to read, in order; the files are then read on every core.
    let mut found: Vec<Found> = Vec::new();
    for input in inputs {
        match input {
            InputSpec::Inline(text) => found.push(Found::Doc(SourceDoc {
                display: "<query>".into(),
                relative: PathBuf::from("query.eql"),
                text: text.clone(),
                provenance: Provenance::Explicit,
            })),
            InputSpec::Stdin => {
                let mut text = String::new();
                found.push(match std::io::stdin().read_to_string(&mut text) {
                    Ok(_) => Found::Doc(SourceDoc {
                        display: "-".into(),
                        relative: PathBuf::from("stdin.eql"),
                        text,
                        provenance: Provenance::Explicit,
                    }),
                    Err(e) => Found::Unreadable(Unreadable {
                        display: "-".into(),
                        reason: e.to_string(),
                    }),
                })
            }
            InputSpec::Path(path) if path.is_dir() => {
                let walker = walkdir::WalkDir::new(path).sort_by_file_name();
                for entry in walker {
                    let entry = match entry {
                        Ok(e) => e,
                        Err(e) => {
                            found.push(Found::Unreadable(Unreadable {
                                display: e.path().map_or_else(
                                    || path.display().to_string(),
                                    |p| p.display().to_string(),
                                ),
                                reason: e.to_string(),
                            }));
                            continue;
                        }
                    };
                    let p = entry.path();
                    let hidden = entry.depth() > 0
                        && entry
                            .file_name()
                            .to_str()
                            .is_some_and(|n| n.starts_with('.'));
                    if hidden || !entry.file_type().is_file() || !has_rule_extension(p) {
                        continue;
                    }
                    let relative = p.strip_prefix(path).unwrap_or(p).to_path_buf();
                    found.push(Found::File(
                        p.to_path_buf(),
                        relative,
                        Provenance::Discovered,
                    ));
                }
            }
            InputSpec::Path(path) => {
                let relative = PathBuf::from(path.file_name().unwrap_or(path.as_os_str()));
                found.push(Found::File(path.clone(), relative, Provenance::Explicit));
            }
        }
    }
    // `partition_map` keeps each side in input order.
    found.into_par_iter().partition_map(|f| match f {
        Found::Doc(doc) => Either::Left(doc),
        Found::Unreadable(u) => Either::Right(u),
        Found::File(path, relative, provenance) => match read_file(&path, relative, provenance) {
            Ok(doc) => Either::Left(doc),
            Err(u) => Either::Right(u),
        },
    })
}

/// What the walk found, before any file is read.
enum Found {
    /// A document already in hand (inline query, stdin).
    Doc(SourceDoc),
    /// A file to read: its path, its path relative to its argument, how it was named.
    File(PathBuf, PathBuf, Provenance),
    /// A walk error, or stdin that could not be read.
    Unreadable(Unreadable),
}

fn has_rule_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| RULE_EXTENSIONS.iter().any(|r| r.eq_ignore_ascii_case(e)))
}

fn read_file(
    path: &Path,
    relative: PathBuf,
    provenance: Provenance,
) -> Result<SourceDoc, Unreadable> {
    let display = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Ok(SourceDoc {
                display,
                relative,
                text,
                provenance,
            }),
            Err(e) => Err(Unreadable {
                display,
                reason: format!(
                    "not UTF-8 text (invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                ),
            }),
        },
        Err(e) => Err(Unreadable {
            display,
            reason: e.to_string(),
        }),
    }
}

/// Parse and lower a query text: the front end in one call.
pub fn compile_query(text: &str) -> Result<Query, Diagnostic> {
    let ast = syntax::parse(text)?;
    ir::lower(&ast)
}

/// The outputs eqlc can produce or check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Canonical EQL: printed, re-parsed and compared with the original IR.
    Eql,
    /// Elasticsearch Query DSL: `_eql/search` and `_search` bodies, per-stage queries.
    Dsl,
    /// Sigma rules (a correlation rule plus stage rules for sequences and samples).
    Sigma,
}

impl Target {
    /// Every target, the default for `check`.
    pub const ALL: [Target; 3] = [Target::Eql, Target::Dsl, Target::Sigma];

    /// The target's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Target::Eql => "eql",
            Target::Dsl => "dsl",
            Target::Sigma => "sigma",
        }
    }

    /// File extension of this target's artifacts.
    pub fn extension(self) -> &'static str {
        match self {
            Target::Eql => "eql",
            Target::Dsl => "dsl.json",
            Target::Sigma => "yml",
        }
    }
}

/// How targets are produced.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// Field types the DSL target translates against.
    pub field_types: &'a FieldTypes,
    /// Pretty-print JSON artifacts.
    pub pretty: bool,
    /// Field names in Sigma rules.
    pub field_map: &'a FieldMap,
    /// How Sigma rules write case-sensitive comparisons.
    pub case_policy: CasePolicy,
}

impl Default for Options<'static> {
    /// Elastic Common Schema types, compact JSON, the Sigma taxonomy, anchored regexes for
    /// case-sensitive comparisons.
    fn default() -> Self {
        Options {
            field_types: FieldTypes::ecs(),
            pretty: false,
            field_map: FieldMap::sigma(),
            case_policy: CasePolicy::Regex,
        }
    }
}

/// A rule's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything requested worked.
    Ok,
    /// Not an EQL rule (or not a rule at all): nothing to do.
    Skipped,
    /// Something failed; see the diagnostics.
    Error,
}

/// Everything a batch learned about one document.
#[derive(Debug, Clone, Serialize)]
pub struct RuleReport {
    /// The document's path.
    pub path: String,
    /// Rule id, where the document has one.
    pub rule_id: Option<String>,
    /// Rule name.
    pub name: Option<String>,
    /// Rule type (`eql`, `query`, `threshold`, …); `null` for non-rule documents.
    pub rule_type: Option<String>,
    /// The worst status over all targets.
    pub status: Status,
    /// Why the rule was skipped, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// Status per requested target.
    pub targets: BTreeMap<&'static str, Status>,
    /// Problems and warnings, located in the document.
    pub diagnostics: Vec<Located>,
    /// Which of `diagnostics` each target raised (index ranges); the others concern the rule
    /// as a whole (reading it, parsing its query), so every target.
    #[serde(skip)]
    pub target_diagnostics: BTreeMap<Target, std::ops::Range<usize>>,
    /// Targets that failed only because they cannot express this (valid) rule — Sigma has no
    /// `until`, say — as opposed to a broken rule or an internal error.
    #[serde(skip)]
    pub inexpressible: std::collections::BTreeSet<Target>,
    /// Artifacts per target (only kept when the caller asks for them).
    #[serde(skip)]
    pub outputs: BTreeMap<Target, String>,
    /// Where the document sits relative to the argument it came from.
    #[serde(skip)]
    pub relative: PathBuf,
    /// The document text, for rendering diagnostics.
    #[serde(skip)]
    pub text: String,
    /// The rule, when the document could be read.
    #[serde(skip)]
    pub rule: Option<Rule>,
    /// The IR, when the query compiled.
    #[serde(skip)]
    pub query: Option<Query>,
}

impl RuleReport {
    fn new(doc: &SourceDoc) -> Self {
        RuleReport {
            path: doc.display.clone(),
            rule_id: None,
            name: None,
            rule_type: None,
            status: Status::Ok,
            skip_reason: None,
            targets: BTreeMap::new(),
            diagnostics: Vec::new(),
            target_diagnostics: BTreeMap::new(),
            inexpressible: std::collections::BTreeSet::new(),
            outputs: BTreeMap::new(),
            relative: doc.relative.clone(),
            text: String::new(),
            rule: None,
            query: None,
        }
    }

    /// The report of a path that could not be read: an error, with the reason.
    pub fn unreadable(u: &Unreadable) -> Self {
        let doc = SourceDoc {
            display: u.display.clone(),
            relative: PathBuf::new(),
            text: String::new(),
            provenance: Provenance::Explicit,
        };
        let mut report = RuleReport::new(&doc);
        report.status = Status::Error;
        report.diagnostics.push(
            Diagnostic::error_unplaced(format!("cannot read: {}", u.reason)).locate(&u.display, ""),
        );
        report
    }

    /// The diagnostics that concern `target`: its own and those about the whole rule.
    pub fn diagnostics_for(&self, target: Target) -> impl Iterator<Item = &Located> {
        let own = self
            .target_diagnostics
            .get(&target)
            .cloned()
            .unwrap_or(0..0);
        let others: Vec<std::ops::Range<usize>> = self
            .target_diagnostics
            .iter()
            .filter(|(t, _)| **t != target)
            .map(|(_, r)| r.clone())
            .collect();
        self.diagnostics
            .iter()
            .enumerate()
            .filter(move |(i, _)| own.contains(i) || !others.iter().any(|r| r.contains(i)))
            .map(|(_, d)| d)
    }

    /// Render every diagnostic rustc-style (file, line, column, caret).
    pub fn render_diagnostics(&self, color: bool) -> Vec<String> {
        self.diagnostics
            .iter()
            .map(|d| diagnostic::render(&d.diagnostic, &self.path, &self.text, color))
            .collect()
    }
}

/// Counts over a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Documents looked at.
    pub total: usize,
    /// Rules that passed every target.
    pub ok: usize,
    /// Non-EQL rules and non-rule documents.
    pub skipped: usize,
    /// Rules with at least one error.
    pub error: usize,
}

impl Summary {
    /// Tally reports.
    pub fn of(reports: &[RuleReport]) -> Self {
        let mut s = Summary {
            total: reports.len(),
            ..Summary::default()
        };
        for r in reports {
            match r.status {
                Status::Ok => s.ok += 1,
                Status::Skipped => s.skipped += 1,
                Status::Error => s.error += 1,
            }
        }
        s
    }
}

/// Run one document through the pipeline for `targets` with default options.
/// `keep_outputs` keeps the artifacts.
pub fn process(doc: &SourceDoc, targets: &[Target], keep_outputs: bool) -> RuleReport {
    process_with(doc, targets, keep_outputs, &Options::default())
}

/// Run one document through the pipeline for `targets`. `keep_outputs` keeps the artifacts.
pub fn process_with(
    doc: &SourceDoc,
    targets: &[Target],
    keep_outputs: bool,
    options: &Options<'_>,
) -> RuleReport {
    let mut report = RuleReport::new(doc);
    report.text = doc.text.clone();
    let file_name = doc.relative.to_string_lossy();
    let rule = match document::read_document(&doc.text, &file_name, doc.provenance) {
        Ok(Loaded::Rule(rule)) => *rule,
        Ok(Loaded::NotARule { reason }) => {
            report.status = Status::Skipped;
            report.skip_reason = Some(reason);
            return report;
        }
        Err(e) => {
            let d = match e.span {
                Some(span) => Diagnostic::error(e.message, span),
                None => Diagnostic::error_unplaced(e.message),
            };
            report.diagnostics.push(d.locate(&doc.display, &doc.text));
            report.status = Status::Error;
            return report;
        }
    };
    report.rule_id = rule.rule_id.clone();
    report.name = rule.name.clone();
    report.rule_type = Some(rule.kind_label());
    if !rule.is_eql() {
        report.status = Status::Skipped;
        report.skip_reason = Some(format!(
            "not an EQL rule (rule type `{}`)",
            rule.kind_label()
        ));
        report.rule = Some(rule);
        return report;
    }
    let Some(query_text) = rule.query.as_ref() else {
        report.diagnostics.push(
            Diagnostic::error_unplaced("EQL rule has no query").locate(&doc.display, &doc.text),
        );
        report.status = Status::Error;
        report.rule = Some(rule);
        return report;
    };
    let compiled = compile_query(&query_text.text);
    match compiled {
        Err(d) => {
            report
                .diagnostics
                .push(d.mapped(&query_text.map).locate(&doc.display, &doc.text));
            for t in targets {
                report.targets.insert(t.name(), Status::Error);
            }
        }
        Ok(query) => {
            for &target in targets {
                let first = report.diagnostics.len();
                let outcome = produce(target, &doc.display, &rule, &query, options);
                let status = match outcome {
                    Ok(output) => {
                        for warning in output.warnings {
                            report.diagnostics.push(
                                warning
                                    .mapped(&query_text.map)
                                    .locate(&doc.display, &doc.text),
                            );
                        }
                        if keep_outputs {
                            report.outputs.insert(target, output.text);
                        }
                        Status::Ok
                    }
                    Err(failure) => {
                        if failure.inexpressible {
                            report.inexpressible.insert(target);
                        }
                        report.diagnostics.push(
                            failure
                                .diagnostic
                                .mapped(&query_text.map)
                                .locate(&doc.display, &doc.text),
                        );
                        Status::Error
                    }
                };
                report.targets.insert(target.name(), status);
                report
                    .target_diagnostics
                    .insert(target, first..report.diagnostics.len());
            }
            report.query = Some(query);
        }
    }
    report.status = if report.diagnostics.iter().any(|d| d.diagnostic.is_error()) {
        Status::Error
    } else {
        report.targets.values().copied().max().unwrap_or(Status::Ok)
    };
    report.rule = Some(rule);
    report
}

/// One target's artifact and the warnings producing it raised.
#[derive(Debug, Clone)]
pub struct TargetOutput {
    /// The artifact text.
    pub text: String,
    /// Warnings, placed in the query where possible.
    pub warnings: Vec<Diagnostic>,
}

/// Produce one target's artifact for a compiled query of `rule`, read from `path`.
pub fn run_target(
    target: Target,
    path: &str,
    rule: &Rule,
    query: &Query,
    options: &Options<'_>,
) -> Result<TargetOutput, Diagnostic> {
    produce(target, path, rule, query, options).map_err(|f| f.diagnostic)
}

/// Why a target produced no artifact.
struct TargetFailure {
    diagnostic: Diagnostic,
    /// The target cannot express the rule (the backend's own refusal), rather than an
    /// internal error.
    inexpressible: bool,
}

impl From<Diagnostic> for TargetFailure {
    fn from(diagnostic: Diagnostic) -> Self {
        TargetFailure {
            diagnostic,
            inexpressible: false,
        }
    }
}

fn inexpressible(message: String) -> TargetFailure {
    TargetFailure {
        diagnostic: Diagnostic::error_unplaced(message),
        inexpressible: true,
    }
}

/// [`run_target`], telling a target's refusal apart from an internal error.
fn produce(
    target: Target,
    path: &str,
    rule: &Rule,
    query: &Query,
    options: &Options<'_>,
) -> Result<TargetOutput, TargetFailure> {
    let query_text = rule.query.as_ref().map(|q| q.text.as_str()).unwrap_or("");
    match target {
        Target::Eql => canonical_eql(query)
            .map(|text| TargetOutput {
                text,
                warnings: Vec::new(),
            })
            .map_err(TargetFailure::from),
        Target::Dsl => {
            let artifact = dsl::artifact(rule, query, options.field_types).map_err(|u| {
                inexpressible(format!("cannot convert to Query DSL: {}", u.message))
            })?;
            // The document's path leads, so NDJSON lines say where each rule came from.
            let mut json = serde_json::Map::new();
            json.insert("path".into(), serde_json::Value::String(path.to_string()));
            if let serde_json::Value::Object(fields) = artifact.json {
                json.extend(fields);
            }
            let json = serde_json::Value::Object(json);
            let text = if options.pretty {
                serde_json::to_string_pretty(&json)
            } else {
                serde_json::to_string(&json)
            }
            .map_err(|e| {
                TargetFailure::from(Diagnostic::error_unplaced(format!("internal error: {e}")))
            })?;
            let warnings = artifact
                .warnings
                .into_iter()
                .map(|w| match field_span(query_text, &w.field) {
                    Some(span) => Diagnostic::warning(w.message, span),
                    None => Diagnostic::warning_unplaced(w.message),
                })
                .collect();
            Ok(TargetOutput { text, warnings })
        }
        Target::Sigma => {
            let sigma_options = SigmaOptions {
                field_map: options.field_map,
                case_policy: options.case_policy,
            };
            sigma::convert(rule, query, &sigma_options)
                .map(|text| TargetOutput {
                    text,
                    warnings: Vec::new(),
                })
                .map_err(|e| inexpressible(format!("cannot convert to Sigma: {}", e.construct)))
        }
    }
}

/// Where a field is first named in the query text, to place a warning about it.
fn field_span(query_text: &str, field: &str) -> Option<Span> {
    let bytes = query_text.as_bytes();
    let is_name_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'@';
    query_text.match_indices(field).find_map(|(start, _)| {
        let end = start + field.len();
        let before = start.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(end).copied();
        let whole = !before.is_some_and(is_name_byte) && !after.is_some_and(is_name_byte);
        whole.then(|| Span::new(start, end))
    })
}

/// Canonical EQL, checked to re-parse to the same IR.
fn canonical_eql(query: &Query) -> Result<String, Diagnostic> {
    let printed = ir::print::query(query);
    // The canonical form must mean the same query: re-parse and compare.
    let again = compile_query(&printed).map_err(|d| {
        Diagnostic::error_unplaced(format!(
            "internal error: canonical EQL does not re-parse: {}",
            d.message
        ))
    })?;
    if &again != query {
        return Err(Diagnostic::error_unplaced(
            "internal error: canonical EQL re-parses to a different query",
        ));
    }
    Ok(printed)
}

/// The rules of a batch ready to evaluate, and for each that is not, its path and why.
pub fn evaluable_rules(
    reports: &[RuleReport],
) -> (Vec<crate::eval::run::CompiledRule>, Vec<(String, String)>) {
    // Rules compile independently, so on every core; collected in input order. Field slot
    // numbers then depend on thread timing, but a slot only identifies a field within this
    // process, so nothing observable changes.
    reports
        .par_iter()
        .filter_map(|report| Some((report, report.rule.as_ref()?, report.query.as_ref()?)))
        .partition_map(|(report, rule, query)| {
            match crate::eval::run::compile_rule(&report.path, rule, query) {
                Ok(compiled) => Either::Left(compiled),
                Err(e) => Either::Right((report.path.clone(), e.0)),
            }
        })
}

/// Process a whole batch with default options, unreadable inputs included.
pub fn run_batch(inputs: &[InputSpec], targets: &[Target], keep_outputs: bool) -> Vec<RuleReport> {
    run_batch_with(inputs, targets, keep_outputs, &Options::default())
}

/// Process a whole batch, unreadable inputs included.
pub fn run_batch_with(
    inputs: &[InputSpec],
    targets: &[Target],
    keep_outputs: bool,
    options: &Options<'_>,
) -> Vec<RuleReport> {
    let (docs, unreadable) = collect(inputs);
    // Documents are independent, so they are processed on every core; an indexed parallel
    // collect keeps the reports in input order.
    let mut reports: Vec<RuleReport> = docs
        .par_iter()
        .map(|d| process_with(d, targets, keep_outputs, options))
        .collect();
    for u in unreadable {
        reports.push(RuleReport::unreadable(&u));
    }
    reports
}

/// The JSON document `eqlc check --format json` prints.
#[derive(Debug, Serialize)]
pub struct CheckReport<'a> {
    /// One entry per document.
    pub rules: &'a [RuleReport],
    /// Counts.
    pub summary: Summary,
}

/// The bytes of an artifact file: the artifact and a final line break. `convert --out` and
/// `build` both write this, so their files are identical.
pub fn artifact_file(artifact: &str) -> Vec<u8> {
    format!("{artifact}\n").into_bytes()
}

/// Where `--out DIR` writes a rule's artifact: the input tree mirrored, named after the stem.
pub fn output_path(out_dir: &Path, relative: &Path, target: Target) -> PathBuf {
    let stem = relative
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "rule".into());
    let parent = relative.parent().unwrap_or(Path::new(""));
    out_dir
        .join(parent)
        .join(format!("{stem}.{}", target.extension()))
}
