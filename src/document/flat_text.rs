//! Documentation pages flattened to text from the HTML site (copied from a browser).
//!
//! No markup survives: metadata is `Key: value` lines with `- item` lists, section headings
//! are bare lines (`Rule query`), and the site's "edit" links are glued to the start of the line
//! after a heading (`editregistry where …`) and of the title repeat and description. Newer pages
//! put the query right after the metadata with no heading; it runs until the `Framework:` line.
//! A banner ("This documentation contains work-in-progress…") may precede the title and an
//! "applies to" badge line ("Elastic Stack Serverless Security") may follow it.

use std::ops::Range;

use super::page::{self, Line, Markup, SrcLine};
use super::{DocumentError, Loaded};

struct FlatText;

/// The prefix the HTML site's "edit" links leave glued to a line.
const EDIT: &str = "edit";

/// Read a page flattened to text.
pub(super) fn read(text: &str) -> Result<Loaded, DocumentError> {
    let lines = strip_edit_links(page::split_lines(text));
    page::read_page(text, &lines, &FlatText)
}

/// Remove the glued `edit` prefix from lines before the metadata (title repeat, description)
/// and from the first line after each section heading.
fn strip_edit_links(mut lines: Vec<SrcLine<'_>>) -> Vec<SrcLine<'_>> {
    let mut in_preamble = true;
    let mut after_heading = false;
    for line in &mut lines {
        if let Line::Field { key, .. } = FlatText.classify(line.text) {
            in_preamble &= !page::is_metadata_key(key);
        }
        let glued = line.text.len() > EDIT.len() && line.text.starts_with(EDIT);
        if glued && (in_preamble || after_heading) {
            if let Some(stripped) = line.skip(EDIT.len()) {
                *line = stripped;
            }
        }
        after_heading = page::section(&FlatText, line.text).is_some();
    }
    lines
}

/// A line before the title that is site chrome, not content.
fn is_banner(line: &str) -> bool {
    line.starts_with("This documentation contains")
}

/// The "applies to" badge line under the title: only deployment and product names.
fn is_badge(line: &str) -> bool {
    const WORDS: &[&str] = &[
        "Elastic",
        "Stack",
        "Serverless",
        "Security",
        "Observability",
        "Search",
        "Cloud",
        "Enterprise",
        "Self-managed",
        "ECH",
        "ECE",
        "ECK",
    ];
    let mut words = line.split_whitespace().peekable();
    words.peek().is_some() && words.all(|w| WORDS.contains(&w))
}

/// Whether `key` reads like a metadata label (`Rule type`, `Reference URL`, `Sub-technique`)
/// rather than the start of a query line (`registry.path : (`).
fn is_label(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_uppercase())
        && key.len() <= 40
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '&'))
}

impl Markup for FlatText {
    fn title<'a>(&self, line: &'a str) -> Option<&'a str> {
        let line = line.trim();
        (!line.is_empty() && !is_banner(line)).then_some(line)
    }

    fn description_line<'a>(&self, line: &'a str, title: &str) -> Option<&'a str> {
        let line = line.trim();
        (line != title && !is_badge(line)).then_some(line)
    }

    fn heading<'a>(&self, line: &'a str) -> Option<&'a str> {
        Some(line.trim())
    }

    fn classify<'a>(&self, line: &'a str) -> Line<'a> {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return Line::Blank;
        }
        if trimmed == "-" {
            return Line::Item("");
        }
        if let Some(item) = trimmed.strip_prefix("- ") {
            return Line::Item(item.trim());
        }
        match page::split_field(trimmed) {
            Some((key, value)) if is_label(key) => Line::Field { key, value },
            _ => Line::Text(trimmed),
        }
    }

    fn query_block(&self, section: &[SrcLine<'_>]) -> Option<Range<usize>> {
        // No fence: the whole section is the query.
        Some(0..section.len())
    }

    fn unheaded_query(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Rule;

    fn rule(text: &str) -> Rule {
        match read(text) {
            Ok(Loaded::Rule(rule)) => *rule,
            other => panic!("expected a rule, got {other:?}"),
        }
    }

    #[test]
    fn headed_query_after_edit_prefix() {
        let text = "This documentation contains work-in-progress information.\n\
                    Some Rule\n\
                    editSome Rule\n\
                    editDoes things.\n\
                    Rule type: eql\n\
                    Searches indices from: now-9m (Date Math format, see also Additional look-back time\n\
                    )\n\
                    Runs every: None\n\
                    References: None\n\
                    Rule query\n\
                    editregistry where true\n\
                    Framework: MITRE ATT&CKTM\n\
                    -\n\
                    Tactic:\n\
                    - Name: Persistence\n\
                    - ID: TA0003\n";
        let rule = rule(text);
        assert_eq!(rule.name.as_deref(), Some("Some Rule"));
        assert_eq!(rule.description.as_deref(), Some("Does things."));
        assert_eq!(rule.from.as_deref(), Some("now-9m"));
        assert_eq!(rule.interval, None);
        assert!(rule.references.is_empty());
        let query = rule.query.unwrap();
        assert_eq!(query.text, "registry where true");
        assert!(text[query.map.to_document(0)..].starts_with("registry where true\n"));
        assert_eq!(rule.threat[0].tactic.as_ref().unwrap().id, "TA0003");
    }

    #[test]
    fn unheaded_query_runs_to_framework() {
        let text = "Some Rule\n\
                    Elastic Stack Serverless Security\n\
                    Does things.\n\
                    Rule type: eql\n\
                    References:\n\
                    Tags:\n\
                    - Elastic\n\
                    Rule license: Elastic License v2\n\
                    registry where\n\
                    registry.path : (\n\
                    \"HKLM\\\\x\"\n\
                    )\n\
                    Framework: MITRE ATT&CKTM\n\
                    Tactic:\n\
                    - ID: TA0003\n\
                    Technique:\n\
                    - ID: T1547\n";
        let rule = rule(text);
        assert_eq!(rule.description.as_deref(), Some("Does things."));
        assert_eq!(rule.tags, vec!["Elastic"]);
        assert_eq!(rule.license.as_deref(), Some("Elastic License v2"));
        let query = rule.query.unwrap();
        assert_eq!(
            query.text,
            "registry where\nregistry.path : (\n\"HKLM\\\\x\"\n)"
        );
        assert!(text[query.map.to_document(0)..].starts_with("registry where\n"));
        assert_eq!(rule.threat[0].techniques[0].entry.id, "T1547");
    }

    #[test]
    fn unclosed_parenthesis_does_not_swallow_the_next_field() {
        let text = "R\nRule type: query\nSearches indices from: now-9m (unclosed\n\
                    Rule license: Elastic License v2\n";
        let rule = rule(text);
        assert_eq!(rule.from.as_deref(), Some("now-9m"));
        assert_eq!(rule.license.as_deref(), Some("Elastic License v2"));
    }

    #[test]
    fn badges_and_labels() {
        assert!(is_badge("Elastic Stack Serverless Security"));
        assert!(!is_badge("Identifies use of Security tools"));
        assert!(is_label("Reference URL"));
        assert!(is_label("Sub-technique"));
        assert!(!is_label("registry.path"));
        assert!(!is_label("any where process.name"));
    }
}
