//! Elastic's documentation pages in Markdown (`docs/reference/prebuilt-rules/*.md`).
//!
//! `# Title [anchor]`, `**Key**: value` metadata with `* item` lists, `## Section [anchor]`
//! headings, the query in a fenced block under `## Rule query`, and the MITRE list as nested
//! `* Tactic:` / `    * Name: …` items. Everything else is shared with the other page formats.

use std::ops::Range;

use super::page::{self, Line, Markup, SrcLine};
use super::{DocumentError, Loaded};

struct Markdown;

/// Read a Markdown documentation page.
pub(super) fn read(text: &str) -> Result<Loaded, DocumentError> {
    page::read_page(text, &page::split_lines(text), &Markdown)
}

/// `Heading text [anchor]` → `Heading text`.
fn strip_anchor(heading: &str) -> &str {
    let heading = heading.trim();
    match heading.rfind(" [") {
        Some(at) if heading.ends_with(']') => heading.get(..at).unwrap_or(heading).trim(),
        _ => heading,
    }
}

/// The fence that opens a code block (```` ``` ````, `~~~`, or longer), if `line` is one.
fn fence(line: &str) -> Option<&str> {
    let line = line.trim_start();
    ['`', '~'].into_iter().find_map(|c| {
        let run = line.len() - line.trim_start_matches(c).len();
        (run >= 3).then(|| line.get(..run)).flatten()
    })
}

/// Whether `line` closes a block opened by `marker`: the same fence character, at least as
/// many times, and nothing else.
fn closes(line: &str, marker: &str) -> bool {
    let line = line.trim();
    fence(line).is_some_and(|f| f.len() == line.len() && f.len() >= marker.len())
        && line.chars().next() == marker.chars().next()
}

impl Markup for Markdown {
    fn body_start(&self, lines: &[SrcLine<'_>]) -> usize {
        // YAML front matter: `---` … `---`.
        if lines.first().is_some_and(|l| l.text.trim_end() == "---") {
            if let Some(end) = lines
                .iter()
                .skip(1)
                .position(|l| l.text.trim_end() == "---")
            {
                return end + 2;
            }
        }
        0
    }

    fn title<'a>(&self, line: &'a str) -> Option<&'a str> {
        line.strip_prefix("# ").map(strip_anchor)
    }

    fn heading<'a>(&self, line: &'a str) -> Option<&'a str> {
        line.strip_prefix("## ").map(strip_anchor)
    }

    fn classify<'a>(&self, line: &'a str) -> Line<'a> {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return Line::Blank;
        }
        if let Some(rest) = trimmed.strip_prefix("**") {
            if let Some((key, value)) = rest.split_once("**:") {
                return Line::Field {
                    key: key.trim(),
                    value: value.trim(),
                };
            }
        }
        if trimmed == "*" || trimmed == "-" {
            return Line::Item("");
        }
        match trimmed
            .strip_prefix("* ")
            .or_else(|| trimmed.strip_prefix("- "))
        {
            Some(item) => Line::Item(item.trim()),
            None => Line::Text(trimmed),
        }
    }

    fn query_block(&self, section: &[SrcLine<'_>]) -> Option<Range<usize>> {
        let open = section.iter().position(|l| fence(l.text).is_some())?;
        let marker = section.get(open).and_then(|l| fence(l.text))?;
        let content = open + 1;
        let close = section
            .iter()
            .skip(content)
            .position(|l| closes(l.text, marker))
            .map_or(section.len(), |n| content + n);
        Some(content..close)
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

    const PAGE: &str = "---
mapped_pages:
  - https://example/x.html
---

# Some Rule [some-rule]

First paragraph
of the description.

Second paragraph.

**Rule type**: eql

**Rule indices**:

* logs-*

**Runs every**: None

**Searches indices from**: now-9m ({{ref}}/x.html#date-math[Date Math format], see also [`Additional look-back time`](docs-content://y.md#rule-schedule))

**References**: None

**version**: 6

## Investigation guide [_investigation_guide_1]

## Triage and analysis

[TBC: QUOTE]
* !{osquery{\"label\":\"x\",\"query\":\"SELECT 1\"}}

## Setup [_setup_1]

```
not the query
```

## Rule query [_rule_query_1]

```js
/* comment */
sequence
  [process where true]
  [file where true]
```

**Framework**: MITRE ATT&CKTM

* Tactic:

    * Name: Persistence
    * ID: TA0003
    * Reference URL: [https://attack.mitre.org/tactics/TA0003/](https://attack.mitre.org/tactics/TA0003/)
";

    #[test]
    fn reads_a_page() {
        let rule = rule(PAGE);
        assert_eq!(rule.name.as_deref(), Some("Some Rule"));
        assert_eq!(rule.rule_id, None);
        assert_eq!(
            rule.description.as_deref(),
            Some("First paragraph\nof the description.")
        );
        assert_eq!(rule.language.as_deref(), Some("eql"));
        assert_eq!(rule.index, vec!["logs-*"]);
        assert_eq!(rule.interval, None);
        assert_eq!(rule.from.as_deref(), Some("now-9m"));
        assert!(rule.references.is_empty());
        assert_eq!(rule.version, Some(6));
        let guide = rule.investigation_guide.unwrap();
        assert!(guide.starts_with("## Triage and analysis"), "{guide}");
        assert!(guide.ends_with("}}"), "{guide}");
        assert_eq!(rule.setup.as_deref(), Some("```\nnot the query\n```"));
        let query = rule.query.unwrap();
        assert_eq!(
            query.text,
            "/* comment */\nsequence\n  [process where true]\n  [file where true]"
        );
        assert!(PAGE[query.map.to_document(0)..].starts_with("/* comment */\nsequence"));
        let tactic = rule.threat[0].tactic.as_ref().unwrap();
        assert_eq!(tactic.reference, "https://attack.mitre.org/tactics/TA0003/");
    }

    #[test]
    fn longer_fence_holds_shorter_ones() {
        let section = page::split_lines("````js\nany where x\n```\n````\nafter\n");
        assert_eq!(Markdown.query_block(&section), Some(1..3));
    }

    #[test]
    fn eql_page_without_query_is_an_error() {
        let err = read("# R [r]\n\n**Rule type**: eql\n").unwrap_err();
        assert!(err.message.contains("no query"), "{}", err.message);
    }

    #[test]
    fn non_eql_page_keeps_its_type_and_no_language_is_invented() {
        let rule = rule("# R [r]\n\n**Rule type**: threshold\n\n## Rule query [_q]\n\n```js\nevent.category:x\n```\n");
        assert_eq!(rule.rule_type.as_deref(), Some("threshold"));
        assert_eq!(rule.language, None);
        assert!(!rule.is_eql());
        assert_eq!(rule.query.unwrap().text, "event.category:x");
    }
}
