//! EQL regular expressions (Java-style, matched against the whole value) rewritten in the
//! syntax of Lucene's `regexp` query.

use crate::ir::Case;

/// What a `regexp` query needs for a set of EQL patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LuceneRegex {
    /// The patterns match exactly one string: a `term` query on it says the same.
    Literal(String),
    /// A Lucene regular expression (all patterns joined with `|`).
    Pattern(String),
}

/// Why a pattern cannot be expressed in Lucene's syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexError {
    /// Which of the patterns.
    pub pattern_index: usize,
    /// What cannot be expressed, e.g. "a look-ahead `(?=`".
    pub message: String,
}

/// Rewrite EQL `regex`/`regex~` patterns (any may match) for a Lucene `regexp` query.
pub fn translate(patterns: &[String], case: Case) -> Result<LuceneRegex, RegexError> {
    let _ = (patterns, case);
    Err(RegexError {
        pattern_index: 0,
        message: "regular expressions are not lowered yet".into(),
    })
}
