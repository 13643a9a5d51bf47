//! Sigma YAML, written by hand in the Sigma convention: 4-space indents, every string value
//! quoted.
//!
//! A general YAML serialiser writes `on`, `yes` or `no` unquoted, which is right for YAML 1.2
//! but which pySigma (a YAML 1.1 reader) takes for booleans. The documents here are only
//! maps, lists and scalars, so quoting every string is simple and exact.

use std::fmt::Write as _;

use serde_json::Value as Json;

const INDENT: usize = 4;

/// One YAML document (no `---`), ending with a newline.
pub fn document(value: &Json) -> String {
    let mut out = String::new();
    match value {
        Json::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Json>, indent: usize) {
    for (key, value) in map {
        pad(out, indent);
        out.push_str(&key_text(key));
        out.push(':');
        write_value(out, value, indent);
    }
}

/// After `key:` or `-`: a scalar on the same line, a collection on the following ones.
fn write_value(out: &mut String, value: &Json, indent: usize) {
    match value {
        Json::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, indent + INDENT);
        }
        Json::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_list(out, items, indent + INDENT);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn write_list(out: &mut String, items: &[Json], indent: usize) {
    for item in items {
        pad(out, indent);
        out.push('-');
        match item {
            // `- key: value` with the map's other keys aligned under the first.
            Json::Object(map) if !map.is_empty() => {
                let mut first = true;
                for (key, value) in map {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        pad(out, indent + 2);
                    }
                    out.push_str(&key_text(key));
                    out.push(':');
                    write_value(out, value, indent + 2);
                }
            }
            other => write_value(out, other, indent),
        }
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// Words a YAML 1.1 reader (PyYAML, and so pySigma) takes for booleans or null.
const YAML_1_1_WORDS: [&str; 23] = [
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
    "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null",
];

/// Keys such as `process.args|re` stay plain; anything else (or a YAML 1.1 word) is quoted.
fn key_text(key: &str) -> String {
    let mut chars = key.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '|' | '-'))
        && !YAML_1_1_WORDS.contains(&key)
        && !matches!(key, "Null" | "NULL");
    if plain {
        key.to_string()
    } else {
        quote(key)
    }
}

fn scalar(value: &Json) -> String {
    match value {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            // YAML 1.1 reads a float only with a `.` (and never `1e20`): Display never
            // writes an exponent, and `.0` is added where it has no point.
            (None, None, Some(f)) => {
                let text = f.to_string();
                if text.contains('.') || !f.is_finite() {
                    text
                } else {
                    format!("{text}.0")
                }
            }
            _ => n.to_string(),
        },
        Json::String(s) => quote(s),
        Json::Array(_) => "[]".into(),
        Json::Object(_) => "{}".into(),
    }
}

/// Whether YAML can hold `c` as it is inside single quotes (YAML's printable set, without
/// line breaks, which single quotes would fold).
fn single_quotable(c: char) -> bool {
    matches!(c, '\t' | '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{2027}' | '\u{202A}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Single quotes (only `'` needs escaping) for plain text; double quotes with escapes for
/// text with line breaks or characters YAML cannot carry raw.
fn quote(text: &str) -> String {
    if text.chars().all(single_quotable) {
        return format!("'{}'", text.replace('\'', "''"));
    }
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if single_quotable(c) => out.push(c),
            c if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_quoted_so_yaml_1_1_readers_keep_them_strings() {
        let doc = json!({"detection": {"selection": {"process.args|all": ["-setremotelogin", "on"], "a": null}, "condition": "selection"}});
        assert_eq!(
            document(&doc),
            "detection:\n    selection:\n        process.args|all:\n            - '-setremotelogin'\n            - 'on'\n        a: null\n    condition: 'selection'\n"
        );
    }

    #[test]
    fn keys_floats_and_line_separators_survive_yaml_1_1() {
        let doc = json!({"on": 1.0e20, "a|re": 0.5, "b": "x\u{2028}y\u{FFFF}"});
        assert_eq!(
            document(&doc),
            "'on': 100000000000000000000.0\na|re: 0.5\nb: \"x\\u2028y\\uffff\"\n"
        );
    }

    #[test]
    fn lists_of_maps_and_awkward_text() {
        let doc = json!({"s": [{"a|re": "it's", "b": 2}], "d": "line 1\nline \"2\" \\"});
        assert_eq!(
            document(&doc),
            "s:\n    - a|re: 'it''s'\n      b: 2\nd: \"line 1\\nline \\\"2\\\" \\\\\"\n"
        );
    }
}
