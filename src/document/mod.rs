//! Rule documents in, one [`Rule`] out.
//!
//! Detection engineers keep rules in several shapes: detection-rules TOML files, Elastic's
//! documentation pages (Markdown, asciidoc, or text flattened from the HTML site), and bare EQL.
//! The format is detected from the content, the file extension only breaking ties. Every reader
//! returns the same [`Rule`], whose query remembers where it sits in the document so that a
//! diagnostic points at the original file's line.

mod asciidoc;
mod detect;
mod flat_text;
mod markdown;
mod page;
mod toml_rule;

use serde::Serialize;

use crate::source::{OffsetMap, Span};

pub use detect::{detect_format, DocumentFormat};

/// One detection rule, whatever document it came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rule {
    /// Rule name (`name` in TOML, the page title in documentation).
    pub name: Option<String>,
    /// Stable rule identifier (`rule_id`); documentation pages do not carry one.
    pub rule_id: Option<String>,
    /// What the rule detects.
    pub description: Option<String>,
    /// Rule type as the detection engine names it: `eql`, `query`, `threshold`, `esql`, ….
    pub rule_type: Option<String>,
    /// Query language: `eql`, `kuery`, `esql`, `lucene`, ….
    pub language: Option<String>,
    /// Index patterns the rule searches.
    pub index: Vec<String>,
    /// `low`, `medium`, `high`, `critical`.
    pub severity: Option<String>,
    /// Risk score, 0–100.
    pub risk_score: Option<u32>,
    /// How often the rule runs (`interval`, "Runs every"), e.g. `5m`.
    pub interval: Option<String>,
    /// Start of the searched time range (`from`, "Searches indices from"), e.g. `now-9m`.
    pub from: Option<String>,
    /// Maximum alerts per execution (`max_signals`).
    pub max_signals: Option<u32>,
    /// Field the detection engine filters time on instead of `@timestamp`
    /// (`timestamp_override`, e.g. `event.ingested`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_override: Option<String>,
    /// Field holding the event category, when not `event.category` (`event_category_override`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_category_override: Option<String>,
    /// Field that orders events with equal timestamps (`tiebreaker_field`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tiebreaker_field: Option<String>,
    /// Tags, verbatim.
    pub tags: Vec<String>,
    /// Rule version, where the document gives one.
    pub version: Option<u32>,
    /// Rule authors.
    pub authors: Vec<String>,
    /// Licence the rule is published under.
    pub license: Option<String>,
    /// Reference URLs.
    pub references: Vec<String>,
    /// Notes on known false positives.
    pub false_positives: Vec<String>,
    /// The investigation guide (`note` in TOML), as written.
    pub investigation_guide: Option<String>,
    /// Setup instructions, where given.
    pub setup: Option<String>,
    /// Creation date (`creation_date`, as written: `2020/02/18`).
    pub created: Option<String>,
    /// Last update (`updated_date`).
    pub updated: Option<String>,
    /// `production`, `development`, `deprecated`, … (TOML `maturity`).
    pub maturity: Option<String>,
    /// MITRE ATT&CK mappings, one per tactic.
    pub threat: Vec<Threat>,
    /// The rule's query with its place in the document; `None` if the document has none.
    pub query: Option<RuleQuery>,
}

/// A rule's query text and where it sits in its document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleQuery {
    /// The query exactly as the rule engine receives it (escapes of the container decoded).
    pub text: String,
    /// Query offsets → document offsets.
    #[serde(skip)]
    pub map: OffsetMap,
}

/// One MITRE ATT&CK tactic with the techniques listed under it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Threat {
    /// Framework name, normally `MITRE ATT&CK`.
    pub framework: String,
    /// The tactic; absent when a document lists techniques only.
    pub tactic: Option<MitreEntry>,
    /// Techniques under the tactic.
    pub techniques: Vec<Technique>,
}

/// A MITRE ATT&CK technique and its sub-techniques.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Technique {
    /// The technique itself.
    #[serde(flatten)]
    pub entry: MitreEntry,
    /// Sub-techniques, e.g. `T1547.005`.
    pub subtechniques: Vec<MitreEntry>,
}

/// Identifier, name and URL of a tactic, technique or sub-technique.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MitreEntry {
    /// `TA0003`, `T1547`, `T1547.005`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// `https://attack.mitre.org/...`.
    pub reference: String,
}

impl Rule {
    /// Whether the rule's query is EQL (by rule type or language).
    pub fn is_eql(&self) -> bool {
        let eq = |v: &Option<String>| v.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("eql"));
        eq(&self.rule_type) || eq(&self.language)
    }

    /// A short description of what kind of rule this is, for reports (`eql`, `threshold`, …).
    pub fn kind_label(&self) -> String {
        self.rule_type
            .clone()
            .or_else(|| self.language.clone())
            .unwrap_or_else(|| "unknown".to_string())
    }
}

/// What reading a document produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    /// A rule (EQL or not; see [`Rule::is_eql`]).
    Rule(Box<Rule>),
    /// The file is not a rule document at all (e.g. a README found while walking a directory).
    NotARule {
        /// Why it was not taken for a rule.
        reason: String,
    },
}

/// A document that looks like a rule but cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DocumentError {
    /// What went wrong, and what was expected.
    pub message: String,
    /// Where, in document coordinates, when known.
    pub span: Option<Span>,
}

impl DocumentError {
    pub(crate) fn new(message: impl Into<String>, span: Option<Span>) -> Self {
        DocumentError {
            message: message.into(),
            span,
        }
    }
}

/// How a document reached eqlc, which decides what an unrecognised text is taken for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// Named by the user (a path argument, `-`, `--query`): text that is no known document
    /// format is read as a bare EQL query.
    Explicit,
    /// Found while walking a directory: only recognised rule documents and `.eql` files count.
    Discovered,
}

/// Read one rule document. `file_name` (may be empty) only breaks ties between formats.
pub fn read_document(
    text: &str,
    file_name: &str,
    provenance: Provenance,
) -> Result<Loaded, DocumentError> {
    let format = match detect_format(text, file_name) {
        Some(format) => format,
        None if provenance == Provenance::Explicit || has_extension(file_name, "eql") => {
            DocumentFormat::Eql
        }
        None => {
            return Ok(Loaded::NotARule {
                reason: "not a rule document (no rule metadata and not a .eql file)".into(),
            })
        }
    };
    match format {
        DocumentFormat::Toml => toml_rule::read(text),
        DocumentFormat::Markdown => markdown::read(text),
        DocumentFormat::Asciidoc => asciidoc::read(text),
        DocumentFormat::FlatText => flat_text::read(text),
        DocumentFormat::Eql => Ok(Loaded::Rule(Box::new(bare_eql(text)))),
    }
}

/// A rule made of nothing but a query (a `.eql` file, stdin, `--query`).
pub fn bare_eql(text: &str) -> Rule {
    Rule {
        rule_type: Some("eql".into()),
        language: Some("eql".into()),
        query: Some(RuleQuery {
            text: text.to_string(),
            map: OffsetMap::verbatim(0),
        }),
        ..Rule::default()
    }
}

pub(crate) fn has_extension(file_name: &str, ext: &str) -> bool {
    std::path::Path::new(file_name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}
