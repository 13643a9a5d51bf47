//! detection-rules TOML files: `[metadata]`, `[rule]` and `[[rule.threat]]`.
//!
//! The query is a TOML string; its span in the file gives the [`OffsetMap`] so that a query
//! diagnostic lands on the right line of the `.toml` file. Literal strings (`'''`, `'`) map
//! verbatim; basic strings (`"""`, `"`) are decoded here, one anchor per escape.

use serde::Deserialize;

use super::{DocumentError, Loaded, MitreEntry, Rule, RuleQuery, Technique, Threat};
use crate::source::{OffsetMap, Span};

/// The parts of a detection-rules file eqlc uses; everything else is ignored.
#[derive(Deserialize)]
struct RawDocument {
    rule: Option<RawRule>,
    #[serde(default)]
    metadata: RawMetadata,
}

#[derive(Deserialize, Default)]
struct RawMetadata {
    creation_date: Option<String>,
    updated_date: Option<String>,
    maturity: Option<String>,
}

#[derive(Deserialize)]
struct RawRule {
    name: Option<String>,
    rule_id: Option<String>,
    description: Option<String>,
    #[serde(rename = "type")]
    rule_type: Option<String>,
    language: Option<String>,
    #[serde(default)]
    index: Vec<String>,
    severity: Option<String>,
    risk_score: Option<u32>,
    interval: Option<String>,
    from: Option<String>,
    max_signals: Option<u32>,
    timestamp_override: Option<String>,
    event_category_override: Option<String>,
    tiebreaker_field: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    version: Option<u32>,
    #[serde(default)]
    author: Vec<String>,
    license: Option<String>,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    false_positives: Vec<String>,
    note: Option<String>,
    setup: Option<String>,
    #[serde(default)]
    threat: Vec<RawThreat>,
    query: Option<toml::Spanned<String>>,
}

#[derive(Deserialize)]
struct RawThreat {
    framework: Option<String>,
    tactic: Option<RawEntry>,
    #[serde(default)]
    technique: Vec<RawTechnique>,
}

#[derive(Deserialize)]
struct RawTechnique {
    #[serde(flatten)]
    entry: RawEntry,
    #[serde(default)]
    subtechnique: Vec<RawEntry>,
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    reference: String,
}

impl From<RawEntry> for MitreEntry {
    fn from(raw: RawEntry) -> Self {
        MitreEntry {
            id: raw.id,
            name: raw.name,
            reference: raw.reference,
        }
    }
}

/// Read a detection-rules TOML document.
pub(super) fn read(text: &str) -> Result<Loaded, DocumentError> {
    let doc: RawDocument = toml::from_str(text).map_err(|e| {
        DocumentError::new(
            format!("invalid TOML: {}", e.message()),
            e.span().map(|r| Span::new(r.start, r.end)),
        )
    })?;
    let Some(raw) = doc.rule else {
        return Ok(Loaded::NotARule {
            reason: "TOML file without a `[rule]` table".into(),
        });
    };
    let query = raw.query.as_ref().map(|q| query_with_map(text, q));
    let rule = Rule {
        name: raw.name,
        rule_id: raw.rule_id,
        description: raw.description,
        rule_type: raw.rule_type,
        language: raw.language,
        index: raw.index,
        severity: raw.severity,
        risk_score: raw.risk_score,
        interval: raw.interval,
        from: raw.from,
        max_signals: raw.max_signals,
        timestamp_override: raw.timestamp_override,
        event_category_override: raw.event_category_override,
        tiebreaker_field: raw.tiebreaker_field,
        tags: raw.tags,
        version: raw.version,
        authors: raw.author,
        license: raw.license,
        references: raw.references,
        false_positives: raw.false_positives,
        investigation_guide: raw.note,
        setup: raw.setup,
        created: doc.metadata.creation_date,
        updated: doc.metadata.updated_date,
        maturity: doc.metadata.maturity,
        threat: raw.threat.into_iter().map(threat).collect(),
        query,
    };
    if rule.is_eql() && rule.query.is_none() {
        return Err(DocumentError::new("EQL rule has no `query`", None));
    }
    Ok(Loaded::Rule(Box::new(rule)))
}

fn threat(raw: RawThreat) -> Threat {
    Threat {
        framework: raw.framework.unwrap_or_default(),
        tactic: raw.tactic.map(MitreEntry::from),
        techniques: raw
            .technique
            .into_iter()
            .map(|t| Technique {
                entry: t.entry.into(),
                subtechniques: t.subtechnique.into_iter().map(MitreEntry::from).collect(),
            })
            .collect(),
    }
}

/// The query text as toml decoded it, with a map back into `text`.
fn query_with_map(text: &str, query: &toml::Spanned<String>) -> RuleQuery {
    let span = query.span();
    let value = query.get_ref();
    let map = text
        .get(span.clone())
        .and_then(|raw| string_anchors(raw, span.start))
        .filter(|(decoded, _)| decoded == value)
        .map(|(_, anchors)| OffsetMap::from_anchors(anchors))
        // Our decoding disagrees with toml's (an escape we do not know): positions are then
        // only approximate, anchored at the string's opening delimiter.
        .unwrap_or_else(|| OffsetMap::verbatim(span.start));
    RuleQuery {
        text: value.clone(),
        map,
    }
}

/// Decode the TOML string literal `raw` (delimiters included) that starts at document offset
/// `start`, returning the value and its `(value offset, document offset)` anchors.
///
/// `None` if `raw` is not a string literal or holds an escape this decoder does not know.
fn string_anchors(raw: &str, start: usize) -> Option<(String, Vec<(usize, usize)>)> {
    let (delimiter, literal) = if raw.starts_with("'''") {
        ("'''", true)
    } else if raw.starts_with("\"\"\"") {
        ("\"\"\"", false)
    } else if raw.starts_with('\'') {
        ("'", true)
    } else if raw.starts_with('"') {
        ("\"", false)
    } else {
        return None;
    };
    let mut body = raw.strip_prefix(delimiter)?.strip_suffix(delimiter)?;
    let mut body_start = start + delimiter.len();
    if delimiter.len() == 3 {
        // A newline right after the opening delimiter is not part of the value.
        for newline in ["\r\n", "\n"] {
            if let Some(rest) = body.strip_prefix(newline) {
                body = rest;
                body_start += newline.len();
                break;
            }
        }
    }
    if literal {
        Some((body.to_string(), vec![(0, body_start)]))
    } else {
        decode_basic(body, body_start, delimiter.len() == 3)
    }
}

/// Decode the escapes of a basic string's body, recording one anchor after each escape.
fn decode_basic(
    body: &str,
    body_start: usize,
    multiline: bool,
) -> Option<(String, Vec<(usize, usize)>)> {
    let mut out = String::with_capacity(body.len());
    let mut anchors = vec![(0, body_start)];
    let mut rest = body;
    while let Some((plain, after)) = rest.split_once('\\') {
        out.push_str(plain);
        let (decoded, used) = decode_escape(after, multiline)?;
        out.extend(decoded);
        rest = after.get(used..)?;
        let anchor = (out.len(), body_start + (body.len() - rest.len()));
        // Two escapes in a row where the second decodes to nothing (`\n\` + newline) share a
        // query offset: keep only the later anchor so lookups stay unambiguous.
        match anchors.last_mut() {
            Some(last) if last.0 == anchor.0 => *last = anchor,
            _ => anchors.push(anchor),
        }
    }
    out.push_str(rest);
    Some((out, anchors))
}

/// One escape after its backslash: the character it stands for (none for a line-ending
/// backslash) and how many bytes of `after` it used.
fn decode_escape(after: &str, multiline: bool) -> Option<(Option<char>, usize)> {
    let first = after.chars().next()?;
    let simple = match first {
        'b' => Some('\u{8}'),
        't' => Some('\t'),
        'n' => Some('\n'),
        'f' => Some('\u{c}'),
        'r' => Some('\r'),
        'e' => Some('\u{1b}'),
        '"' => Some('"'),
        '\\' => Some('\\'),
        _ => None,
    };
    if let Some(c) = simple {
        return Some((Some(c), 1));
    }
    let hex_digits = match first {
        'x' => 2,
        'u' => 4,
        'U' => 8,
        _ => 0,
    };
    if hex_digits > 0 {
        let hex = after.get(1..1 + hex_digits)?;
        let code = u32::from_str_radix(hex, 16).ok()?;
        return Some((Some(char::from_u32(code)?), 1 + hex_digits));
    }
    // Line-ending backslash: it and all whitespace up to the next visible character vanish.
    let trimmed = after.trim_start_matches([' ', '\t']);
    if multiline && (trimmed.starts_with('\n') || trimmed.starts_with("\r\n")) {
        let rest = after.trim_start_matches([' ', '\t', '\r', '\n']);
        return Some((None, after.len() - rest.len()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> Rule {
        match read(text) {
            Ok(Loaded::Rule(rule)) => *rule,
            other => panic!("expected a rule, got {other:?}"),
        }
    }

    /// Every query byte maps to the document byte it was decoded from (or, for an escape, the
    /// first byte of the escape).
    fn assert_maps(text: &str, query: &RuleQuery, expected: &[(usize, &str)]) {
        for (i, doc_prefix) in expected {
            let at = query.map.to_document(*i);
            assert!(
                text[at..].starts_with(doc_prefix),
                "query offset {i} → document {at}: {:?} does not start with {doc_prefix:?}",
                &text[at..]
            );
        }
    }

    #[test]
    fn literal_multiline_query_maps_verbatim() {
        let text = "[rule]\ntype = \"eql\"\nquery = '''\nprocess where\n  true\n'''\n";
        let rule = rule(text);
        let query = rule.query.unwrap();
        assert_eq!(query.text, "process where\n  true\n");
        assert_maps(text, &query, &[(0, "process"), (16, "true")]);
    }

    #[test]
    fn basic_string_escapes_get_anchors() {
        let text = "[rule]\ntype = \"eql\"\nquery = \"a : \\\"C:\\\\\\\\x\\\" and \\u00e9 == b\"\n";
        let rule = rule(text);
        let query = rule.query.unwrap();
        assert_eq!(query.text, "a : \"C:\\\\x\" and é == b");
        let at = |q| query.map.to_document(q);
        // The quote after `: ` comes from `\"`.
        assert_eq!(&text[at(4)..at(4) + 2], "\\\"");
        // `x` sits after two decoded backslashes (four in the file).
        assert!(text[at(9)..].starts_with("x\\\""));
        assert!(text[at(16)..].starts_with("\\u00e9"));
        assert!(text[at(19)..].starts_with("== b"));
    }

    #[test]
    fn multiline_basic_string_trims_first_newline_and_line_continuations() {
        let text = "[rule]\ntype = \"eql\"\nquery = \"\"\"\r\nany where \\\n     a\\tb\n\"\"\"\n";
        let query = rule(text).query.unwrap();
        assert_eq!(query.text, "any where a\tb\n");
        assert_maps(
            text,
            &query,
            &[(0, "any where"), (10, "a\\tb"), (12, "b\n")],
        );
    }

    #[test]
    fn unknown_escape_falls_back_to_string_start() {
        // toml rejects `\q`, so exercise the fallback through the decoder directly.
        assert_eq!(string_anchors("\"a\\qb\"", 0), None);
        assert_eq!(
            string_anchors("'''\nx'''", 10),
            Some(("x".to_string(), vec![(0, 14)]))
        );
    }

    #[test]
    fn reads_metadata_and_threat() {
        let text = r#"
[metadata]
creation_date = "2020/02/18"
maturity = "production"
updated_date = "2024/01/01"

[rule]
author = ["Elastic"]
name = "N"
rule_id = "id-1"
type = "query"
language = "kuery"
risk_score = 21
query = 'process.name : "x"'

[[rule.threat]]
framework = "MITRE ATT&CK"
[[rule.threat.technique]]
id = "T1"
name = "Tech"
reference = "https://t"
[[rule.threat.technique.subtechnique]]
id = "T1.001"
name = "Sub"
reference = "https://s"

[rule.threat.tactic]
id = "TA1"
name = "Tac"
reference = "https://ta"
"#;
        let rule = rule(text);
        assert!(!rule.is_eql());
        assert_eq!(rule.created.as_deref(), Some("2020/02/18"));
        assert_eq!(rule.authors, vec!["Elastic"]);
        let threat = &rule.threat[0];
        assert_eq!(threat.tactic.as_ref().unwrap().id, "TA1");
        assert_eq!(threat.techniques[0].subtechniques[0].id, "T1.001");
        let query = rule.query.unwrap();
        assert_maps(text, &query, &[(0, "process.name"), (15, "\"x\"'")]);
    }

    #[test]
    fn syntax_error_carries_span() {
        let err = read("[rule]\nname = 'unterminated\n").unwrap_err();
        assert!(err.message.starts_with("invalid TOML"), "{}", err.message);
        assert!(err.span.is_some());
    }

    #[test]
    fn toml_without_rule_table_is_not_a_rule() {
        assert!(matches!(
            read("[package]\nname = \"x\"\n"),
            Ok(Loaded::NotARule { .. })
        ));
    }

    #[test]
    fn eql_rule_without_query_is_an_error() {
        let err = read("[rule]\ntype = \"eql\"\n").unwrap_err();
        assert_eq!(err.message, "EQL rule has no `query`");
    }
}
