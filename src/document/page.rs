//! What Elastic's documentation pages share, whatever their markup.
//!
//! Every page has the same shape: a title, a description paragraph, `Key: value` metadata
//! (some keys followed by list items), sections (Investigation guide, Setup, Rule query) and a
//! MITRE ATT&CK list after a `Framework:` line. Markdown, asciidoc and flattened text differ only
//! in how a line is marked up, so each implements [`Markup`] to recognise its own lines and
//! [`read_page`] does the rest.

use std::ops::Range;

use super::{DocumentError, Loaded, MitreEntry, Rule, RuleQuery, Technique, Threat};
use crate::source::OffsetMap;

/// One line of the document: its text without the line break, and where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SrcLine<'a> {
    /// Byte offset of `text` in the document.
    pub start: usize,
    /// The line, without `\n` or `\r\n`.
    pub text: &'a str,
}

impl<'a> SrcLine<'a> {
    /// The line without its first `n` bytes (a prefix glued on by flattening), if `n` is a
    /// character boundary.
    pub fn skip(self, n: usize) -> Option<SrcLine<'a>> {
        Some(SrcLine {
            start: self.start + n,
            text: self.text.get(n..)?,
        })
    }
}

/// Split `text` into lines with their offsets.
pub(super) fn split_lines(text: &str) -> Vec<SrcLine<'_>> {
    let mut lines = Vec::new();
    let mut start = 0;
    for raw in text.split_inclusive('\n') {
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let line = line.strip_suffix('\r').unwrap_or(line);
        lines.push(SrcLine { start, text: line });
        start += raw.len();
    }
    lines
}

/// A line with its format's markup removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Line<'a> {
    /// Nothing but whitespace.
    Blank,
    /// `Key: value` (the value may be empty: `Tags:` introduces a list).
    Field { key: &'a str, value: &'a str },
    /// A list item, marker removed (may be empty: a lone `-` separates groups).
    Item(&'a str),
    /// Anything else.
    Text(&'a str),
}

/// How one page format marks up titles, headings, metadata and code.
pub(super) trait Markup {
    /// Index of the first line after any preamble the format has (YAML front matter).
    fn body_start(&self, _lines: &[SrcLine<'_>]) -> usize {
        0
    }
    /// The page title, if `line` is the title line.
    fn title<'a>(&self, line: &'a str) -> Option<&'a str>;
    /// A line of the description as it should be kept; `None` drops it (banners).
    fn description_line<'a>(&self, line: &'a str, _title: &str) -> Option<&'a str> {
        Some(line.trim())
    }
    /// The name of the section `line` heads, if it is a heading.
    fn heading<'a>(&self, line: &'a str) -> Option<&'a str>;
    /// The line with its markup removed.
    fn classify<'a>(&self, line: &'a str) -> Line<'a>;
    /// Which lines of the Rule query section hold the query (the code block's content).
    fn query_block(&self, section: &[SrcLine<'_>]) -> Option<Range<usize>>;
    /// Whether text right after the metadata, under no heading, is the query (flattened pages).
    fn unheaded_query(&self) -> bool {
        false
    }
}

/// The page sections eqlc reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    /// "Investigation guide".
    Guide,
    /// "Setup".
    Setup,
    /// "Rule query".
    Query,
}

/// The known section `line` heads, if any.
pub(super) fn section(markup: &impl Markup, line: &str) -> Option<Section> {
    let name = markup.heading(line)?.trim();
    [
        ("Investigation guide", Section::Guide),
        ("Setup", Section::Setup),
        ("Rule query", Section::Query),
    ]
    .into_iter()
    .find(|(known, _)| name.eq_ignore_ascii_case(known))
    .map(|(_, section)| section)
}

/// Metadata keys pages use, lowercased; others are skipped.
const METADATA_KEYS: &[&str] = &[
    "rule type",
    "rule indices",
    "severity",
    "risk score",
    "runs every",
    "searches indices from",
    "maximum alerts per execution",
    "references",
    "tags",
    "version",
    "rule authors",
    "rule license",
    "false positive examples",
];

/// Whether `key` is one of the metadata keys pages use (case-insensitive).
pub(super) fn is_metadata_key(key: &str) -> bool {
    METADATA_KEYS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(key.trim()))
}

fn is_framework(markup: &impl Markup, line: &str) -> Option<String> {
    match markup.classify(line) {
        Line::Field { key, value } if key.trim().eq_ignore_ascii_case("Framework") => {
            Some(value.to_string())
        }
        _ => None,
    }
}

/// How many lines a metadata value's open parenthesis may run on for.
const MAX_CONTINUATION_LINES: usize = 3;

/// A metadata entry: its inline value and the list items under it.
#[derive(Debug, Default)]
struct Field {
    key: String,
    value: String,
    items: Vec<String>,
}

/// Split `Key: value` or `Key:` (empty value) at the first colon followed by a space or the
/// end of the line. `None` if there is no such colon or the key is empty.
pub(super) fn split_field(text: &str) -> Option<(&str, &str)> {
    let text = text.trim();
    if let Some(key) = text.strip_suffix(':') {
        if !key.is_empty() && !key.contains(": ") {
            return Some((key.trim(), ""));
        }
    }
    let (key, value) = text.split_once(": ")?;
    (!key.trim().is_empty()).then(|| (key.trim(), value.trim()))
}

/// Read a documentation page whose lines are `lines` (offsets into `text`).
pub(super) fn read_page(
    text: &str,
    lines: &[SrcLine<'_>],
    markup: &impl Markup,
) -> Result<Loaded, DocumentError> {
    let mut page = PageReader {
        lines,
        markup,
        at: markup.body_start(lines),
    };
    let title = page.title();
    let description = page.description(title.as_deref().unwrap_or(""));
    let (fields, unheaded_start) = page.metadata();
    let layout = page.sections();

    let section_lines = |wanted: Section| {
        layout
            .sections
            .iter()
            .find(|(s, _)| *s == wanted)
            .and_then(|(_, range)| lines.get(range.clone()))
    };
    let query = match section_lines(Section::Query) {
        Some(section) => markup
            .query_block(section)
            .and_then(|block| section.get(block))
            .and_then(|block| query_from_lines(text, block)),
        None => unheaded_start
            .and_then(|start| lines.get(start..layout.unheaded_end))
            .and_then(|block| query_from_lines(text, block)),
    };
    let mitre_pairs: Vec<(&str, &str)> = lines
        .get(layout.mitre_start..)
        .unwrap_or_default()
        .iter()
        .filter_map(|line| match markup.classify(line.text) {
            Line::Field { key, value } => Some((key, value)),
            Line::Item(t) | Line::Text(t) => split_field(t),
            Line::Blank => None,
        })
        .collect();

    let mut rule = Rule {
        name: title,
        description,
        investigation_guide: section_lines(Section::Guide).and_then(|l| section_text(text, l)),
        setup: section_lines(Section::Setup).and_then(|l| section_text(text, l)),
        threat: layout
            .framework
            .map(|fw| threats(&fw, &mitre_pairs))
            .unwrap_or_default(),
        query,
        ..Rule::default()
    };
    for field in &fields {
        apply_field(&mut rule, field);
    }
    if rule.is_eql() && rule.query.is_none() {
        return Err(DocumentError::new(
            "EQL rule has no query (no code block under a `Rule query` heading)",
            None,
        ));
    }
    Ok(Loaded::Rule(Box::new(rule)))
}

/// Where a page's sections and MITRE list are.
struct Layout {
    /// Known sections with their content lines.
    sections: Vec<(Section, Range<usize>)>,
    /// Where text after the metadata that sits under no heading ends.
    unheaded_end: usize,
    /// The `Framework:` value, if the page has a MITRE list.
    framework: Option<String>,
    /// First line of the MITRE list.
    mitre_start: usize,
}

/// Walks a page top to bottom, one part after the other.
struct PageReader<'p, 'a, M> {
    lines: &'p [SrcLine<'a>],
    markup: &'p M,
    /// The next line to look at.
    at: usize,
}

impl<M: Markup> PageReader<'_, '_, M> {
    fn is_metadata_line(&self, line: &str) -> bool {
        match self.markup.classify(line) {
            Line::Field { key, .. } => is_metadata_key(key),
            _ => false,
        }
    }

    /// The first title line before the metadata.
    fn title(&mut self) -> Option<String> {
        while let Some(line) = self.lines.get(self.at) {
            if self.is_metadata_line(line.text) {
                return None;
            }
            self.at += 1;
            if let Some(title) = self.markup.title(line.text) {
                return Some(title.trim().to_string()).filter(|t| !t.is_empty());
            }
        }
        None
    }

    /// The first paragraph after the title.
    fn description(&mut self, title: &str) -> Option<String> {
        let mut description: Vec<&str> = Vec::new();
        let mut paragraph_done = false;
        while let Some(line) = self.lines.get(self.at) {
            if self.is_metadata_line(line.text) || section(self.markup, line.text).is_some() {
                break;
            }
            if line.text.trim().is_empty() {
                paragraph_done |= !description.is_empty();
            } else if !paragraph_done {
                let kept = self.markup.description_line(line.text, title);
                description.extend(kept.filter(|d| !d.is_empty()));
            }
            self.at += 1;
        }
        (!description.is_empty()).then(|| description.join("\n"))
    }

    /// Metadata fields and their list items, up to the first section or the MITRE list; and,
    /// for formats that allow it, the line where an unheaded query starts.
    fn metadata(&mut self) -> (Vec<Field>, Option<usize>) {
        let mut fields: Vec<Field> = Vec::new();
        while let Some(line) = self.lines.get(self.at) {
            if section(self.markup, line.text).is_some()
                || is_framework(self.markup, line.text).is_some()
            {
                break;
            }
            match self.markup.classify(line.text) {
                Line::Field { key, value } => {
                    let value = self.continued(value);
                    fields.push(Field {
                        key: key.trim().to_string(),
                        value,
                        items: Vec::new(),
                    });
                }
                Line::Item(item) => {
                    if let Some(field) = fields.last_mut() {
                        field.items.push(item.trim().to_string());
                    }
                }
                Line::Blank => {}
                Line::Text(_) if self.markup.unheaded_query() && !fields.is_empty() => {
                    return (fields, Some(self.at));
                }
                Line::Text(_) => {}
            }
            self.at += 1;
        }
        (fields, None)
    }

    /// A field's value with the lines its open parenthesis runs on: "Searches indices from:
    /// now-9m (Date Math format, …" may close on a later line. Bounded, so that an unclosed
    /// parenthesis cannot swallow the page.
    fn continued(&mut self, value: &str) -> String {
        let mut value = value.to_string();
        for _ in 0..MAX_CONTINUATION_LINES {
            if value.matches('(').count() <= value.matches(')').count() {
                break;
            }
            let Some(next) = self.lines.get(self.at + 1) else {
                break;
            };
            if self.is_metadata_line(next.text) || section(self.markup, next.text).is_some() {
                break;
            }
            value.push(' ');
            value.push_str(next.text.trim());
            self.at += 1;
        }
        value
    }

    /// The known sections up to the `Framework:` line, and where the MITRE list starts.
    fn sections(&mut self) -> Layout {
        let mut layout = Layout {
            sections: Vec::new(),
            unheaded_end: self.lines.len(),
            framework: None,
            mitre_start: self.lines.len(),
        };
        let mut open: Option<(Section, usize)> = None;
        while let Some(line) = self.lines.get(self.at) {
            let heading = section(self.markup, line.text);
            let framework = is_framework(self.markup, line.text);
            if heading.is_some() || framework.is_some() {
                layout.unheaded_end = layout.unheaded_end.min(self.at);
                if let Some((s, start)) = open.take() {
                    layout.sections.push((s, start..self.at));
                }
            }
            if framework.is_some() {
                layout.framework = framework;
                layout.mitre_start = self.at + 1;
                return layout;
            }
            if let Some(s) = heading {
                open = Some((s, self.at + 1));
            }
            self.at += 1;
        }
        if let Some((s, start)) = open {
            layout.sections.push((s, start..self.lines.len()));
        }
        layout
    }
}

/// The document slice spanning `block`'s non-blank lines, trailing whitespace trimmed.
fn block_span(text: &str, block: &[SrcLine<'_>]) -> Option<(usize, usize)> {
    let first = block.iter().find(|l| !l.text.trim().is_empty())?;
    let last = block.iter().rev().find(|l| !l.text.trim().is_empty())?;
    let end = last.start + last.text.len();
    let slice = text.get(first.start..end)?;
    Some((first.start, first.start + slice.trim_end().len()))
}

/// A query copied verbatim from `block` (leading blank lines skipped, trailing whitespace cut).
fn query_from_lines(text: &str, block: &[SrcLine<'_>]) -> Option<RuleQuery> {
    let (start, end) = block_span(text, block)?;
    Some(RuleQuery {
        text: text.get(start..end)?.to_string(),
        map: OffsetMap::verbatim(start),
    })
}

/// A section's text as written, trimmed; `None` if empty.
fn section_text(text: &str, block: &[SrcLine<'_>]) -> Option<String> {
    let (start, end) = block_span(text, block)?;
    let section = text.get(start..end)?.trim();
    (!section.is_empty()).then(|| section.to_string())
}

/// A scalar metadata value; `None` (as pages print it) and empty mean absent.
fn scalar(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty() && !value.eq_ignore_ascii_case("none")).then(|| value.to_string())
}

/// `[text](url)` → `url`; anything else unchanged.
fn unlink(item: &str) -> &str {
    item.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|rest| rest.split_once("]("))
        .map_or(item, |(_, url)| url)
}

/// A list field's values: an inline value (unless `None`) then its items.
fn list(field: &Field) -> Vec<String> {
    std::iter::once(field.value.as_str())
        .chain(field.items.iter().map(String::as_str))
        .filter_map(|item| scalar(unlink(item.trim())))
        .collect()
}

fn apply_field(rule: &mut Rule, field: &Field) {
    let number = || scalar(&field.value).and_then(|v| v.parse::<u32>().ok());
    match field.key.to_ascii_lowercase().as_str() {
        "rule type" => {
            rule.rule_type = scalar(&field.value);
            // The page names the query language only through the rule type; do not guess
            // for types whose language varies (a `query` rule may be KQL or Lucene).
            rule.language = rule
                .rule_type
                .as_deref()
                .map(str::to_ascii_lowercase)
                .filter(|t| t == "eql" || t == "esql");
        }
        "rule indices" => rule.index = list(field),
        "severity" => rule.severity = scalar(&field.value),
        "risk score" => rule.risk_score = number(),
        "runs every" => rule.interval = scalar(&field.value),
        "searches indices from" => {
            // Cut the "(Date Math format, see also …)" explanation after the value.
            let value = field.value.split('(').next().unwrap_or_default();
            rule.from = scalar(value);
        }
        "maximum alerts per execution" => rule.max_signals = number(),
        "references" => rule.references = list(field),
        "tags" => rule.tags = list(field),
        "version" => rule.version = number(),
        "rule authors" => rule.authors = list(field),
        "rule license" => rule.license = scalar(&field.value),
        "false positive examples" => rule.false_positives = list(field),
        _ => {}
    }
}

/// Which entry a MITRE `Name`/`ID`/`Reference URL` line fills.
#[derive(Clone, Copy)]
enum Level {
    Tactic,
    Technique,
    Subtechnique,
}

/// Build the MITRE mappings from `Key: value` pairs: each `Tactic` starts a new threat, a
/// `Technique` joins the current threat, a `Sub-technique` the current technique.
fn threats(framework: &str, pairs: &[(&str, &str)]) -> Vec<Threat> {
    // Pages print `MITRE ATT&CKTM` / `MITRE ATT&CK^TM^`: the trademark sign is typography.
    let framework = if framework.trim().starts_with("MITRE ATT&CK") {
        "MITRE ATT&CK".to_string()
    } else {
        framework.trim().to_string()
    };
    let new_threat = |tactic| Threat {
        framework: framework.clone(),
        tactic,
        techniques: Vec::new(),
    };
    let mut threats: Vec<Threat> = Vec::new();
    let mut level = None;
    for (key, value) in pairs {
        match key.to_ascii_lowercase().as_str() {
            "tactic" => {
                threats.push(new_threat(Some(MitreEntry::default())));
                level = Some(Level::Tactic);
            }
            "technique" => {
                if threats.is_empty() {
                    threats.push(new_threat(None));
                }
                if let Some(threat) = threats.last_mut() {
                    threat.techniques.push(Technique::default());
                }
                level = Some(Level::Technique);
            }
            "sub-technique" | "subtechnique" => {
                let technique = threats.last_mut().and_then(|t| t.techniques.last_mut());
                level = technique.map(|t| {
                    t.subtechniques.push(MitreEntry::default());
                    Level::Subtechnique
                });
            }
            other => {
                let Some(entry) = level.and_then(|l| current_entry(&mut threats, l)) else {
                    continue;
                };
                let value = unlink(value.trim()).to_string();
                match other {
                    "name" => entry.name = value,
                    "id" => entry.id = value,
                    "reference url" | "reference" => entry.reference = value,
                    _ => {}
                }
            }
        }
    }
    threats
}

fn current_entry(threats: &mut [Threat], level: Level) -> Option<&mut MitreEntry> {
    let threat = threats.last_mut()?;
    match level {
        Level::Tactic => threat.tactic.as_mut(),
        Level::Technique => threat.techniques.last_mut().map(|t| &mut t.entry),
        Level::Subtechnique => threat
            .techniques
            .last_mut()
            .and_then(|t| t.subtechniques.last_mut()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_lines_keeps_offsets_and_drops_crlf() {
        let lines = split_lines("a\r\nbc\n\nd");
        let got: Vec<_> = lines.iter().map(|l| (l.start, l.text)).collect();
        assert_eq!(got, vec![(0, "a"), (3, "bc"), (6, ""), (7, "d")]);
    }

    #[test]
    fn split_field_forms() {
        assert_eq!(split_field("Tags:"), Some(("Tags", "")));
        assert_eq!(
            split_field("Name: Persistence"),
            Some(("Name", "Persistence"))
        );
        assert_eq!(
            split_field("Reference URL: https://attack.mitre.org/x/"),
            Some(("Reference URL", "https://attack.mitre.org/x/"))
        );
        assert_eq!(split_field("no colon here"), None);
        assert_eq!(split_field(": x"), None);
    }

    #[test]
    fn none_and_links() {
        assert_eq!(scalar(" None "), None);
        assert_eq!(scalar(""), None);
        assert_eq!(unlink("[https://a/](https://a/)"), "https://a/");
        assert_eq!(unlink("plain"), "plain");
        let field = Field {
            key: "References".into(),
            value: "None".into(),
            items: vec![],
        };
        assert!(list(&field).is_empty());
    }

    #[test]
    fn searches_from_drops_the_explanation() {
        let mut rule = Rule::default();
        let field = Field {
            key: "Searches indices from".into(),
            value: "now-9m (Date Math format, see also Additional look-back time )".into(),
            items: vec![],
        };
        apply_field(&mut rule, &field);
        assert_eq!(rule.from.as_deref(), Some("now-9m"));
    }

    #[test]
    fn mitre_groups_by_tactic() {
        let pairs = [
            ("Tactic", ""),
            ("Name", "Persistence"),
            ("ID", "TA0003"),
            ("Technique", ""),
            ("ID", "T1547"),
            ("Sub-technique", ""),
            ("ID", "T1547.001"),
            ("Reference URL", "[u](https://u/)"),
            ("Technique", ""),
            ("ID", "T1543"),
            ("Tactic", ""),
            ("ID", "TA0002"),
            ("Technique", ""),
            ("ID", "T1047"),
        ];
        let threats = threats("MITRE ATT&CKTM", &pairs);
        assert_eq!(threats.len(), 2);
        assert_eq!(threats[0].framework, "MITRE ATT&CK");
        assert_eq!(threats[0].tactic.as_ref().unwrap().name, "Persistence");
        assert_eq!(threats[0].techniques.len(), 2);
        let sub = &threats[0].techniques[0].subtechniques[0];
        assert_eq!(
            (sub.id.as_str(), sub.reference.as_str()),
            ("T1547.001", "https://u/")
        );
        assert_eq!(threats[1].techniques[0].entry.id, "T1047");
    }

    #[test]
    fn technique_without_tactic_gets_a_tacticless_threat() {
        let threats = threats("MITRE ATT&CK", &[("Technique", ""), ("ID", "T1")]);
        assert_eq!(threats.len(), 1);
        assert!(threats[0].tactic.is_none());
        assert_eq!(threats[0].techniques[0].entry.id, "T1");
    }
}
