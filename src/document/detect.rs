//! Which kind of rule document a text is.
//!
//! Content decides: every format carries the rule type in its own markup, so one marker line is
//! enough. The file extension only breaks ties (a TOML rule whose investigation guide quotes a
//! Markdown page) and recognises a `.toml` file without a `[rule]` table, which the TOML reader
//! then reports as not a rule.

use serde::Serialize;

use super::has_extension;

/// The document formats eqlc reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentFormat {
    /// A detection-rules TOML file (`[rule]` table).
    Toml,
    /// An Elastic documentation page in Markdown (`**Rule type**: eql`).
    Markdown,
    /// An Elastic documentation page in asciidoc (`*Rule type*: eql`).
    Asciidoc,
    /// Text flattened from the HTML documentation site (`Rule type: eql`).
    FlatText,
    /// A bare EQL query.
    Eql,
}

/// The format of `text`, judged by its content; `file_name` (may be empty) only breaks ties.
///
/// Returns `None` when the text carries none of the formats' markers: whether that makes it a
/// bare EQL query is the caller's decision.
pub fn detect_format(text: &str, file_name: &str) -> Option<DocumentFormat> {
    let mut found = Vec::new();
    let mut add = |format| {
        if !found.contains(&format) {
            found.push(format);
        }
    };
    for line in text.lines() {
        let line = line.trim_start();
        // Every marker has its own first character, so most lines are settled by one byte
        // (every document is scanned whole, and whole documents are long).
        match line.as_bytes().first() {
            Some(b'[') if is_rule_table_header(line.trim_end()) => add(DocumentFormat::Toml),
            Some(b'*') if starts_with_ignore_case(line, "**Rule type**:") => {
                add(DocumentFormat::Markdown)
            }
            Some(b'*') if starts_with_ignore_case(line, "*Rule type*:") => {
                add(DocumentFormat::Asciidoc)
            }
            Some(b'R' | b'r') if starts_with_ignore_case(line, "Rule type:") => {
                add(DocumentFormat::FlatText)
            }
            _ => {}
        }
    }
    let by_extension = extension_format(file_name);
    match found.as_slice() {
        [] => by_extension.filter(|f| *f == DocumentFormat::Toml),
        [only] => Some(*only),
        // Several markers: trust the extension if it names one of them, else the most specific
        // marker wins (`found` is in order of first appearance, so rank explicitly).
        several => by_extension
            .filter(|f| several.contains(f))
            .or_else(|| several.iter().copied().min_by_key(|f| specificity(*f))),
    }
}

/// `[rule]` (spaces allowed inside the brackets, as TOML allows).
fn is_rule_table_header(line: &str) -> bool {
    line.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .is_some_and(|inner| inner.trim() == "rule")
}

fn starts_with_ignore_case(line: &str, prefix: &str) -> bool {
    line.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// Lower is more specific: a `[rule]` header is unmistakable, `Rule type:` is plain prose.
fn specificity(format: DocumentFormat) -> u8 {
    match format {
        DocumentFormat::Toml => 0,
        DocumentFormat::Markdown => 1,
        DocumentFormat::Asciidoc => 2,
        DocumentFormat::FlatText => 3,
        DocumentFormat::Eql => 4,
    }
}

fn extension_format(file_name: &str) -> Option<DocumentFormat> {
    let table: [(&[&str], DocumentFormat); 5] = [
        (&["toml"], DocumentFormat::Toml),
        (&["md", "markdown"], DocumentFormat::Markdown),
        (&["asciidoc", "adoc"], DocumentFormat::Asciidoc),
        (&["txt", "text"], DocumentFormat::FlatText),
        (&["eql"], DocumentFormat::Eql),
    ];
    table
        .iter()
        .find(|(exts, _)| exts.iter().any(|ext| has_extension(file_name, ext)))
        .map(|(_, format)| *format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format_by_content() {
        assert_eq!(
            detect_format("[metadata]\n[rule]\ntype = \"eql\"\n", ""),
            Some(DocumentFormat::Toml)
        );
        assert_eq!(
            detect_format("# T\n\n**Rule type**: eql\n", "x.txt"),
            Some(DocumentFormat::Markdown)
        );
        assert_eq!(
            detect_format("=== T\n\n*Rule type*: eql\n", ""),
            Some(DocumentFormat::Asciidoc)
        );
        assert_eq!(
            detect_format("T\nRule type: eql\n", "x.md"),
            Some(DocumentFormat::FlatText)
        );
    }

    #[test]
    fn bare_queries_are_left_to_the_caller() {
        assert_eq!(detect_format("process where true", "q.eql"), None);
        // A query stage that starts with `[` is not a table header.
        assert_eq!(
            detect_format("sequence\n[process where true]\n[rule where x]", ""),
            None
        );
    }

    #[test]
    fn toml_extension_without_rule_table_is_toml() {
        assert_eq!(
            detect_format("[package]\nname = \"x\"\n", "Cargo.toml"),
            Some(DocumentFormat::Toml)
        );
    }

    #[test]
    fn ties_prefer_extension_then_specificity() {
        let text = "[rule]\nnote = \"\"\"\n**Rule type**: eql\n\"\"\"\n";
        assert_eq!(detect_format(text, "a.toml"), Some(DocumentFormat::Toml));
        assert_eq!(detect_format(text, "a.md"), Some(DocumentFormat::Markdown));
        assert_eq!(detect_format(text, ""), Some(DocumentFormat::Toml));
    }
}
