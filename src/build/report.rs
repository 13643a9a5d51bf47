//! Reports of a build for CI systems: JSON for scripts, JUnit XML for the test views of
//! GitHub (e.g. test-reporter actions) and GitLab (`artifacts:reports:junit`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::{
    BuildSummary, BuiltRule, FileChange, FileState, Mode, Outcome, TargetStatus, MANIFEST,
};
use crate::diagnostic::{self, Located, Severity};
use crate::driver::{Status, Target};

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// One JSON document: summary, every rule, every file that changed or is stale.
    Json,
    /// JUnit XML: one test suite per target, one test case per rule.
    Junit,
}

/// Render `outcome` in `format`.
pub fn render(outcome: &Outcome, format: ReportFormat) -> String {
    match format {
        ReportFormat::Json => json(outcome),
        ReportFormat::Junit => junit(outcome),
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    eqlc_version: &'static str,
    mode: Mode,
    passed: bool,
    targets: Vec<&'static str>,
    summary: BuildSummary,
    rules: Vec<JsonRule<'a>>,
    /// Files other than unchanged ones: a no-op build lists nothing.
    files: Vec<&'a FileChange>,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct JsonRule<'a> {
    source: &'a str,
    rule_id: Option<&'a str>,
    name: Option<&'a str>,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    skip_reason: Option<&'a str>,
    targets: BTreeMap<&'static str, TargetStatus>,
    outputs: BTreeMap<&'static str, &'a str>,
    diagnostics: &'a [Located],
}

/// The JSON report (a single document, indented, with a final line break).
pub fn json(outcome: &Outcome) -> String {
    let report = JsonReport {
        eqlc_version: env!("CARGO_PKG_VERSION"),
        mode: outcome.mode,
        passed: outcome.passed(),
        targets: outcome.targets.iter().map(|t| t.name()).collect(),
        summary: outcome.summary(),
        rules: outcome
            .rules
            .iter()
            .map(|r| JsonRule {
                source: &r.source,
                rule_id: r.report.rule_id.as_deref(),
                name: r.report.name.as_deref(),
                status: r.report.status,
                skip_reason: r.report.skip_reason.as_deref(),
                targets: r.targets.iter().map(|(t, s)| (t.name(), *s)).collect(),
                outputs: r
                    .outputs
                    .iter()
                    .map(|(t, p)| (t.name(), p.as_str()))
                    .collect(),
                diagnostics: &r.report.diagnostics,
            })
            .collect(),
        files: outcome
            .files
            .iter()
            .filter(|f| f.state != FileState::Unchanged)
            .collect(),
        warnings: &outcome.warnings,
    };
    // Strings, numbers and maps with string keys always serialise.
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

/// One JUnit test case.
struct Case {
    name: String,
    classname: String,
    file: Option<String>,
    result: CaseResult,
    /// Warnings worth showing even when the case passes.
    output: String,
}

enum CaseResult {
    Passed,
    Skipped(String),
    Failed { message: String, body: String },
}

/// The JUnit XML report: a suite per target with a case per rule (failures carry the
/// rendered diagnostics; non-EQL documents are skipped cases), and when checking a `files`
/// suite for the manifest and for orphaned artifacts.
pub fn junit(outcome: &Outcome) -> String {
    let stale: BTreeMap<&str, FileState> = outcome
        .files
        .iter()
        .filter(|f| f.state.is_stale())
        .map(|f| (f.path.as_str(), f.state))
        .collect();
    let mut suites: Vec<(String, Vec<Case>)> = Vec::new();
    for &target in &outcome.targets {
        let cases = outcome
            .rules
            .iter()
            .map(|rule| rule_case(rule, target, &stale))
            .collect();
        suites.push((format!("eqlc build: {}", target.name()), cases));
    }
    if outcome.mode == Mode::Check {
        let owned_by_rules: std::collections::BTreeSet<&str> = outcome
            .rules
            .iter()
            .flat_map(|r| r.outputs.values().map(String::as_str))
            .collect();
        let cases = outcome
            .files
            .iter()
            .filter(|f| f.path == MANIFEST || !owned_by_rules.contains(f.path.as_str()))
            .filter(|f| f.path == MANIFEST || f.state.is_stale())
            .map(|f| Case {
                name: f.path.clone(),
                classname: "files".into(),
                file: None,
                result: if f.state.is_stale() {
                    let message = stale_message(&f.path, f.state);
                    CaseResult::Failed {
                        body: message.clone(),
                        message,
                    }
                } else {
                    CaseResult::Passed
                },
                output: String::new(),
            })
            .collect();
        suites.push(("eqlc build: files".into(), cases));
    }

    let count = |cases: &[Case], pick: fn(&CaseResult) -> bool| {
        cases.iter().filter(|c| pick(&c.result)).count()
    };
    let failed = |r: &CaseResult| matches!(r, CaseResult::Failed { .. });
    let skipped = |r: &CaseResult| matches!(r, CaseResult::Skipped(_));
    let all: Vec<&Case> = suites.iter().flat_map(|(_, c)| c).collect();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // Writing into a String cannot fail, hence the ignored results below.
    let _ = writeln!(
        xml,
        "<testsuites name=\"eqlc build\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">",
        all.len(),
        all.iter().filter(|c| failed(&c.result)).count(),
        all.iter().filter(|c| skipped(&c.result)).count(),
    );
    for (name, cases) in &suites {
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">",
            escape_attribute(name),
            cases.len(),
            count(cases, failed),
            count(cases, skipped),
        );
        for case in cases {
            write_case(&mut xml, case);
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn write_case(xml: &mut String, case: &Case) {
    let file = case
        .file
        .as_deref()
        .map(|f| format!(" file=\"{}\"", escape_attribute(f)))
        .unwrap_or_default();
    let _ = write!(
        xml,
        "    <testcase name=\"{}\" classname=\"{}\"{file}",
        escape_attribute(&case.name),
        escape_attribute(&case.classname),
    );
    if matches!(case.result, CaseResult::Passed) && case.output.is_empty() {
        xml.push_str("/>\n");
        return;
    }
    xml.push_str(">\n");
    match &case.result {
        CaseResult::Passed => {}
        CaseResult::Skipped(why) => {
            let _ = writeln!(
                xml,
                "      <skipped message=\"{}\"/>",
                escape_attribute(why)
            );
        }
        CaseResult::Failed { message, body } => {
            let _ = writeln!(
                xml,
                "      <failure type=\"error\" message=\"{}\">{}</failure>",
                escape_attribute(message),
                escape_text(body)
            );
        }
    }
    if !case.output.is_empty() {
        let _ = writeln!(
            xml,
            "      <system-out>{}</system-out>",
            escape_text(&case.output)
        );
    }
    xml.push_str("    </testcase>\n");
}

/// The case of one rule for one target: its errors for that target, and when checking, its
/// artifact if stale.
fn rule_case(rule: &BuiltRule, target: Target, stale: &BTreeMap<&str, FileState>) -> Case {
    let status = rule
        .targets
        .get(&target)
        .copied()
        .unwrap_or(TargetStatus::Error);
    let diagnostics: Vec<&Located> = rule.report.diagnostics_for(target).collect();
    let render = |severity: Severity| {
        diagnostics
            .iter()
            .filter(|d| d.diagnostic.severity == severity)
            .map(|d| diagnostic::render(&d.diagnostic, &rule.source, &rule.report.text, false))
            .collect::<Vec<_>>()
            .join("\n\n")
    };
    let stale_artifact = rule
        .outputs
        .get(&target)
        .and_then(|path| stale.get(path.as_str()).map(|state| (path, *state)));
    let result = match status {
        TargetStatus::Skipped => CaseResult::Skipped(
            rule.report
                .skip_reason
                .clone()
                .unwrap_or_else(|| "skipped".into()),
        ),
        // The target's refusal, now a warning, says why.
        TargetStatus::Unsupported => CaseResult::Skipped(
            diagnostics
                .iter()
                .map(|d| d.diagnostic.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        TargetStatus::Error => CaseResult::Failed {
            message: diagnostics
                .iter()
                .find(|d| d.diagnostic.is_error())
                .map_or_else(|| "failed".into(), |d| d.diagnostic.message.clone()),
            body: render(Severity::Error),
        },
        TargetStatus::Ok => match stale_artifact {
            Some((path, state)) => {
                let message = stale_message(path, state);
                CaseResult::Failed {
                    body: message.clone(),
                    message,
                }
            }
            None => CaseResult::Passed,
        },
    };
    Case {
        name: rule.source.clone(),
        classname: target.name().into(),
        file: Some(rule.source.clone()),
        // A skipped case's message already says why; other cases carry their warnings.
        output: match result {
            CaseResult::Skipped(_) => String::new(),
            _ => render(Severity::Warning),
        },
        result,
    }
}

fn stale_message(path: &str, state: FileState) -> String {
    let what = match state {
        FileState::Missing => "is missing",
        FileState::Different => "differs from what the rules build",
        FileState::Orphaned => "is no longer produced by any rule",
        _ => "is up to date",
    };
    format!("{path} {what}: run `eqlc build` and commit the result")
}

/// Characters XML 1.0 cannot carry at all (most C0 controls); written as visible `\u{..}`.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// Escape text content.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if is_xml_char(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    out
}

/// Escape an attribute value (double-quoted). Line breaks and tabs become character
/// references, which XML's attribute normalisation would otherwise turn into spaces.
pub fn escape_attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push_str(&escape_text(c.encode_utf8(&mut [0; 4]))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escaping_covers_markup_quotes_breaks_and_forbidden_controls() {
        assert_eq!(
            escape_text("a < b && c > \"d\"\n"),
            "a &lt; b &amp;&amp; c &gt; \"d\"\n"
        );
        assert_eq!(
            escape_attribute("x=\"1\" & 'y'\n<z>\t"),
            "x=&quot;1&quot; &amp; &apos;y&apos;&#10;&lt;z&gt;&#9;"
        );
        assert_eq!(escape_text("a\u{1}b\u{1b}"), "a\\u{1}b\\u{1b}");
        assert_eq!(escape_text("]]>"), "]]&gt;");
        assert_eq!(escape_text("é\u{202e}"), "é\u{202e}");
    }
}
