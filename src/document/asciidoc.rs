//! Elastic's older documentation pages in asciidoc (`prebuilt-rule-*.asciidoc`).
//!
//! `[[anchor]]` then `=== Title`, `*Key*: value` metadata with `* item` lists, `==== Section`
//! headings, the query in a `[source, js]` + `----` block under `==== Rule query`, and the MITRE
//! list as `* Tactic:` with nested `** Name: …` items.

use std::ops::Range;

use super::page::{self, Line, Markup, SrcLine};
use super::{DocumentError, Loaded};

struct Asciidoc;

/// Read an asciidoc documentation page.
pub(super) fn read(text: &str) -> Result<Loaded, DocumentError> {
    page::read_page(text, &page::split_lines(text), &Asciidoc)
}

/// `==== Name` → (4, `Name`).
fn section_title(line: &str) -> Option<(usize, &str)> {
    let level = line.len() - line.trim_start_matches('=').len();
    let rest = line.get(level..)?.strip_prefix(' ')?;
    (level > 0).then(|| (level, rest.trim()))
}

/// A delimited block's delimiter line (`----`, `....`, four characters or more).
fn is_delimiter(line: &str) -> bool {
    let line = line.trim_end();
    line.len() >= 4 && (line.bytes().all(|b| b == b'-') || line.bytes().all(|b| b == b'.'))
}

impl Markup for Asciidoc {
    fn title<'a>(&self, line: &'a str) -> Option<&'a str> {
        section_title(line)
            .filter(|(level, _)| *level <= 3)
            .map(|(_, t)| t)
    }

    fn heading<'a>(&self, line: &'a str) -> Option<&'a str> {
        section_title(line)
            .filter(|(level, _)| *level >= 4)
            .map(|(_, t)| t)
    }

    fn classify<'a>(&self, line: &'a str) -> Line<'a> {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return Line::Blank;
        }
        // `*Key*: value` — a single star glued to the key (a list item has a space after
        // its stars).
        if let Some(rest) = trimmed.strip_prefix('*') {
            if !rest.starts_with(['*', ' ']) {
                if let Some((key, value)) = rest.split_once("*:") {
                    return Line::Field {
                        key: key.trim(),
                        value: value.trim(),
                    };
                }
            }
        }
        for marker in ['*', '-'] {
            let item = trimmed.trim_start_matches(marker);
            if item.len() < trimmed.len() && (item.is_empty() || item.starts_with(' ')) {
                return Line::Item(item.trim());
            }
        }
        Line::Text(trimmed)
    }

    fn query_block(&self, section: &[SrcLine<'_>]) -> Option<Range<usize>> {
        // The block after `[source, js]`, or the first delimited block if there is no
        // attribute line.
        let open = section
            .iter()
            .position(|l| l.text.trim_start().starts_with("[source"))
            .and_then(|s| {
                section
                    .iter()
                    .skip(s + 1)
                    .position(|l| is_delimiter(l.text))
                    .map(|n| s + 1 + n)
            })
            .or_else(|| section.iter().position(|l| is_delimiter(l.text)))?;
        let delimiter = section.get(open)?.text.trim_end();
        let content = open + 1;
        let close = section
            .iter()
            .skip(content)
            .position(|l| l.text.trim_end() == delimiter)
            .map_or(section.len(), |n| content + n);
        Some(content..close)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "[[prebuilt-rule-x]]
=== Some Rule

Does things.

*Rule type*: eql

*Rule indices*: 

* logs-endpoint.events.*

*Tags*: 

* Domain: Endpoint

*version*: 3

==== Investigation guide


*Triage*

- !{osquery{\"label\":\"x\"}}

==== Rule query


[source, js]
----------------------------------
sequence by host.id with maxspan=5s
   [process where true] by process.executable

----------------------------------

*Framework*: MITRE ATT&CK^TM^

* Tactic:
** Name: Defense Evasion
** ID: TA0005
** Reference URL: https://attack.mitre.org/tactics/TA0005/
* Technique:
** Name: Masquerading
** ID: T1036
** Reference URL: https://attack.mitre.org/techniques/T1036/
";

    #[test]
    fn reads_a_page() {
        let rule = match read(PAGE) {
            Ok(Loaded::Rule(rule)) => *rule,
            other => panic!("{other:?}"),
        };
        let expected_query =
            "sequence by host.id with maxspan=5s\n   [process where true] by process.executable";
        assert_eq!(rule.name.as_deref(), Some("Some Rule"));
        assert_eq!(rule.description.as_deref(), Some("Does things."));
        assert_eq!(rule.index, vec!["logs-endpoint.events.*"]);
        assert_eq!(rule.tags, vec!["Domain: Endpoint"]);
        assert_eq!(rule.version, Some(3));
        assert_eq!(
            rule.investigation_guide.as_deref(),
            Some("*Triage*\n\n- !{osquery{\"label\":\"x\"}}")
        );
        let query = rule.query.as_ref().unwrap();
        assert_eq!(query.text, expected_query);
        assert!(PAGE[query.map.to_document(0)..].starts_with(expected_query));
        let threat = &rule.threat[0];
        assert_eq!(threat.framework, "MITRE ATT&CK");
        assert_eq!(threat.tactic.as_ref().unwrap().id, "TA0005");
        assert_eq!(threat.techniques[0].entry.name, "Masquerading");
    }

    #[test]
    fn classifies_fields_and_nested_items() {
        assert_eq!(
            Asciidoc.classify("*Rule type*: eql"),
            Line::Field {
                key: "Rule type",
                value: "eql"
            }
        );
        assert_eq!(Asciidoc.classify("** Name: X"), Line::Item("Name: X"));
        assert_eq!(Asciidoc.classify("* Tactic:"), Line::Item("Tactic:"));
        assert_eq!(Asciidoc.classify("*Triage*"), Line::Text("*Triage*"));
    }
}
