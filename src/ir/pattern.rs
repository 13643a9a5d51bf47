//! Wildcard patterns, parsed once: literal runs, `*` (any string), `?` (any one character).
//!
//! Elasticsearch EQL has no escape inside wildcard patterns: a backslash is a literal
//! character (Windows paths depend on it), so `*` and `?` are always wildcards in `:`/`like`.

use serde::Serialize;

/// One piece of a wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternPart {
    /// Characters matched as they are.
    Literal(String),
    /// `*`: any run of characters, possibly empty.
    AnyString,
    /// `?`: exactly one character.
    AnyChar,
}

/// A wildcard pattern as used by `:`, `like` and `like~`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Pattern {
    /// The pieces, with adjacent literals merged and runs of `*` collapsed.
    pub parts: Vec<PatternPart>,
}

impl Pattern {
    /// Parse EQL wildcard text.
    pub fn parse(text: &str) -> Self {
        let mut parts: Vec<PatternPart> = Vec::new();
        let mut literal = String::new();
        for c in text.chars() {
            let wildcard = match c {
                '*' => PatternPart::AnyString,
                '?' => PatternPart::AnyChar,
                _ => {
                    literal.push(c);
                    continue;
                }
            };
            if !literal.is_empty() {
                parts.push(PatternPart::Literal(std::mem::take(&mut literal)));
            }
            // `**` means the same as `*`.
            if !(wildcard == PatternPart::AnyString
                && parts.last() == Some(&PatternPart::AnyString))
            {
                parts.push(wildcard);
            }
        }
        if !literal.is_empty() {
            parts.push(PatternPart::Literal(literal));
        }
        Pattern { parts }
    }

    /// Whether the pattern has no wildcard at all.
    pub fn is_literal(&self) -> bool {
        self.parts
            .iter()
            .all(|p| matches!(p, PatternPart::Literal(_)))
    }

    /// The text this pattern matches exactly, if it has no wildcard.
    pub fn as_literal(&self) -> Option<String> {
        self.is_literal().then(|| self.to_eql())
    }

    /// The pattern written back as EQL wildcard text.
    pub fn to_eql(&self) -> String {
        self.render(|literal| literal.to_string())
    }

    /// The pattern as `*`/`?` wildcard text, each literal run written by `literal` (a target
    /// that escapes `*`, `?` or `\\` does it there).
    pub fn render(&self, literal: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                PatternPart::Literal(s) => out.push_str(&literal(s)),
                PatternPart::AnyString => out.push('*'),
                PatternPart::AnyChar => out.push('?'),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PatternPart::*;

    #[test]
    fn parses_literal_runs_and_wildcards() {
        let p = Pattern::parse("C:\\*\\cmd?.exe");
        assert_eq!(
            p.parts,
            vec![
                Literal("C:\\".into()),
                AnyString,
                Literal("\\cmd".into()),
                AnyChar,
                Literal(".exe".into())
            ]
        );
        assert_eq!(p.to_eql(), "C:\\*\\cmd?.exe");
        assert!(!p.is_literal());
    }

    #[test]
    fn collapses_star_runs_and_keeps_backslashes_literal() {
        assert_eq!(Pattern::parse("a**b").to_eql(), "a*b");
        assert_eq!(
            Pattern::parse("a\\*").parts,
            vec![Literal("a\\".into()), AnyString]
        );
        assert_eq!(Pattern::parse("abc").as_literal().as_deref(), Some("abc"));
        assert_eq!(Pattern::parse("").parts, vec![]);
    }
}
