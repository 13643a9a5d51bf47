//! Source text and positions: where a piece of a query came from in the file a user wrote.
//!
//! A query is usually a slice of a larger document (a TOML string, a Markdown fence). The
//! parser works on the query text alone; an [`OffsetMap`] carries each query offset back to the
//! document, so a diagnostic names the line and column of the original file.

use serde::Serialize;

/// A byte range `start..end` in some text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    /// First byte of the range.
    pub start: usize,
    /// One past the last byte of the range.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (bytes).
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A 1-based line and column (column counted in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineCol {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// Start offsets of every line of a text, for offset → line/column lookups in O(log n).
#[derive(Debug, Clone)]
pub struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    /// Index the lines of `text`.
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { line_starts }
    }

    /// Line and column of byte `offset` in `text` (the text this index was built from).
    pub fn line_col(&self, text: &str, offset: usize) -> LineCol {
        let offset = offset.min(text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let column = text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start)
            + 1;
        LineCol {
            line: line + 1,
            column,
        }
    }
}

/// Maps byte offsets in an extracted query back to byte offsets in its document.
///
/// Stored as sorted anchor pairs `(query_offset, document_offset)`; between anchors the two
/// advance together. A verbatim extraction needs one anchor; each escape sequence decoded from a
/// quoted TOML string adds one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OffsetMap {
    anchors: Vec<(usize, usize)>,
}

impl OffsetMap {
    /// A query copied verbatim from the document, starting at `document_offset`.
    pub fn verbatim(document_offset: usize) -> Self {
        OffsetMap {
            anchors: vec![(0, document_offset)],
        }
    }

    /// A map from explicit anchors; they must be sorted by query offset.
    pub fn from_anchors(mut anchors: Vec<(usize, usize)>) -> Self {
        if anchors.is_empty() {
            anchors.push((0, 0));
        }
        anchors.sort_by_key(|a| a.0);
        OffsetMap { anchors }
    }

    /// The document offset of query byte `query_offset`.
    pub fn to_document(&self, query_offset: usize) -> usize {
        let i = match self.anchors.binary_search_by_key(&query_offset, |a| a.0) {
            Ok(i) => i,
            Err(0) => 0,
            Err(i) => i - 1,
        };
        let (q, d) = self.anchors[i];
        d + query_offset.saturating_sub(q)
    }

    /// A query span as a document span.
    pub fn span_to_document(&self, span: Span) -> Span {
        let start = self.to_document(span.start);
        let end = self.to_document(span.end).max(start);
        Span::new(start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let text = "ab\nçd\nx";
        let index = LineIndex::new(text);
        assert_eq!(index.line_col(text, 0), LineCol { line: 1, column: 1 });
        assert_eq!(index.line_col(text, 3), LineCol { line: 2, column: 1 });
        // 'd' follows the two-byte 'ç'.
        assert_eq!(index.line_col(text, 5), LineCol { line: 2, column: 2 });
        assert_eq!(index.line_col(text, 7), LineCol { line: 3, column: 1 });
    }

    #[test]
    fn offset_map_follows_anchors() {
        let map = OffsetMap::from_anchors(vec![(0, 10), (5, 17)]);
        assert_eq!(map.to_document(0), 10);
        assert_eq!(map.to_document(4), 14);
        assert_eq!(map.to_document(5), 17);
        assert_eq!(map.to_document(9), 21);
        assert_eq!(map.span_to_document(Span::new(3, 6)), Span::new(13, 18));
    }
}
