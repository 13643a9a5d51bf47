//! Diagnostics: what went wrong, where, and what was expected.
//!
//! Stages report [`Diagnostic`]s with spans in the coordinates of the text they worked on (the
//! query). [`Diagnostic::locate`] moves them into document coordinates; [`render`] prints them
//! rustc-style with the offending line and a caret, and [`Located`] serialises for JSON reports.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use crate::source::{LineIndex, OffsetMap, Span};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look; the rule still converts.
    Warning,
    /// The rule cannot be converted.
    Error,
}

/// One problem found in a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The headline, e.g. "expected `where` after event category `process`".
    pub message: String,
    /// The offending text, in the coordinates of the text that was analysed.
    pub span: Option<Span>,
    /// A short label printed under the caret.
    pub label: Option<String>,
    /// Further explanation or hints, one line each.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span: Some(span),
            label: None,
            notes: Vec::new(),
        }
    }

    /// An error about the whole document, with no position.
    pub fn error_unplaced(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span: None,
            label: None,
            notes: Vec::new(),
        }
    }

    /// A warning at `span`.
    pub fn warning(message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message, span)
        }
    }

    /// A warning with no place in the source.
    pub fn warning_unplaced(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error_unplaced(message)
        }
    }

    /// The same diagnostic with a label under the caret.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// The same diagnostic with one more note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Whether this is an error (as opposed to a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Move the span from query coordinates into document coordinates.
    pub fn mapped(mut self, map: &OffsetMap) -> Self {
        self.span = self.span.map(|s| map.span_to_document(s));
        self
    }

    /// Attach file name and line/column, given the document text the span points into.
    pub fn locate(&self, path: &str, document: &str) -> Located {
        let index = LineIndex::new(document);
        let position = self.span.map(|s| {
            let start = index.line_col(document, s.start);
            let end = index.line_col(document, s.end);
            Position {
                line: start.line,
                column: start.column,
                end_line: end.line,
                end_column: end.column,
            }
        });
        Located {
            path: path.to_string(),
            position,
            diagnostic: self.clone(),
        }
    }
}

/// Line and column range of a diagnostic in its file (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    /// Line of the first offending character.
    pub line: usize,
    /// Column of the first offending character.
    pub column: usize,
    /// Line just past the offending text.
    pub end_line: usize,
    /// Column just past the offending text.
    pub end_column: usize,
}

/// A diagnostic with its file and line/column, as JSON reports carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located {
    /// File the rule came from (`-` for stdin, `<query>` for `--query`).
    pub path: String,
    /// Where in the file; `None` for problems with the document as a whole.
    #[serde(flatten)]
    pub position: Option<Position>,
    /// The diagnostic itself.
    #[serde(flatten)]
    pub diagnostic: Diagnostic,
}

impl Located {
    /// One line: `path:line:col: error: message`.
    pub fn one_line(&self) -> String {
        let severity = match self.diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match self.position {
            Some(p) => format!(
                "{}:{}:{}: {severity}: {}",
                self.path, p.line, p.column, self.diagnostic.message
            ),
            None => format!("{}: {severity}: {}", self.path, self.diagnostic.message),
        }
    }
}

/// Render a diagnostic rustc-style: headline, `--> path:line:col`, the line, a caret.
///
/// `document` is the text the (document-coordinate) span points into; `color` turns on ANSI
/// styling for terminals.
pub fn render(diagnostic: &Diagnostic, path: &str, document: &str, color: bool) -> String {
    let level = match diagnostic.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let title = level.primary_title(diagnostic.message.as_str());
    let mut group = match diagnostic.span {
        Some(span) => {
            let start = floor_char_boundary(document, span.start);
            let mut end = floor_char_boundary(document, span.end.max(start));
            if end == start && end < document.len() {
                // An empty span still deserves a visible caret: widen to the next character.
                end = next_char_boundary(document, start);
            }
            let annotation = AnnotationKind::Primary
                .span(start..end)
                .label(diagnostic.label.as_deref());
            title.element(
                Snippet::source(document)
                    .path(path)
                    .fold(true)
                    .annotation(annotation),
            )
        }
        None => Group::with_title(title),
    };
    if diagnostic.span.is_none() {
        group = group.element(Level::NOTE.message(format!("in {path}")));
    }
    for note in &diagnostic.notes {
        group = group.element(Level::NOTE.message(note.as_str()));
    }
    renderer.render(&[group])
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut i = offset.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn next_char_boundary(text: &str, offset: usize) -> usize {
    let mut i = offset + 1;
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i.min(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_names_file_line_column_and_puts_a_caret_under_the_text() {
        let doc = "line one\nprocess wher x\n";
        let d = Diagnostic::error("expected `where`", Span::new(17, 21)).with_label("here");
        let out = render(&d, "rules/x.toml", doc, false);
        assert!(out.contains("error: expected `where`"), "{out}");
        assert!(out.contains("rules/x.toml:2:9"), "{out}");
        assert!(out.contains("process wher x"), "{out}");
        assert!(out.contains("^^^^ here"), "{out}");
    }

    #[test]
    fn locate_reports_one_based_positions() {
        let doc = "ab\ncd";
        let located = Diagnostic::error("bad", Span::new(4, 5)).locate("f", doc);
        let p = located.position.expect("placed");
        assert_eq!((p.line, p.column, p.end_line, p.end_column), (2, 2, 2, 3));
        assert_eq!(located.one_line(), "f:2:2: error: bad");
    }
}
