//! EQL wildcard patterns compiled for matching: `*` any run, `?` one character, backslashes
//! literal (so Windows paths need no escaping, which glob crates get wrong).
//!
//! Case-insensitive matching folds ASCII letters only, as Elasticsearch's case-insensitive
//! `term` and `wildcard` queries do. The common shapes (`x`, `x*`, `*x`, `*x*`) get direct
//! string tests; anything else runs a linear-time matcher that backtracks only to the last `*`.

use crate::ir::{Case, Pattern, PatternPart};

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wildcard {
    shape: Shape,
    insensitive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    /// Anything else: the pattern's pieces (literals lower-cased when insensitive).
    General(Vec<Piece>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(Vec<char>),
    AnyChar,
    AnyString,
}

impl Wildcard {
    /// Compile `pattern`; `Case::Insensitive` folds ASCII letters.
    pub fn new(pattern: &Pattern, case: Case) -> Wildcard {
        let insensitive = case == Case::Insensitive;
        let fold = |s: &str| {
            if insensitive {
                s.to_ascii_lowercase()
            } else {
                s.to_string()
            }
        };
        use PatternPart::{AnyString, Literal};
        let shape = match pattern.parts.as_slice() {
            [] => Shape::Exact(String::new()),
            [Literal(s)] => Shape::Exact(fold(s)),
            [Literal(s), AnyString] => Shape::Prefix(fold(s)),
            [AnyString, Literal(s)] => Shape::Suffix(fold(s)),
            [AnyString, Literal(s), AnyString] => Shape::Contains(fold(s)),
            [AnyString] => Shape::Prefix(String::new()),
            parts => Shape::General(
                parts
                    .iter()
                    .map(|p| match p {
                        Literal(s) => Piece::Text(fold(s).chars().collect()),
                        PatternPart::AnyChar => Piece::AnyChar,
                        AnyString => Piece::AnyString,
                    })
                    .collect(),
            ),
        };
        Wildcard { shape, insensitive }
    }

    /// The longest literal run every match must contain (ASCII-folded when the pattern is
    /// case-insensitive), if the pattern has one, and whether it must begin and end the
    /// matched text.
    pub fn longest_literal(&self) -> Option<(String, bool, bool)> {
        let found = match &self.shape {
            Shape::Exact(s) => (s.clone(), true, true),
            Shape::Prefix(s) => (s.clone(), true, false),
            Shape::Suffix(s) => (s.clone(), false, true),
            Shape::Contains(s) => (s.clone(), false, false),
            Shape::General(pieces) => {
                let (at, text) = pieces
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| match p {
                        Piece::Text(chars) => Some((i, chars.iter().collect::<String>())),
                        _ => None,
                    })
                    .max_by_key(|(_, t)| t.len())?;
                (text, at == 0, at + 1 == pieces.len())
            }
        };
        (!found.0.is_empty()).then_some(found)
    }

    /// The test chosen for the pattern, for people: `("starts with", "cmd")`; the verb is one
    /// of `equals`, `starts with`, `ends with`, `contains` or `matches` (a general pattern,
    /// `*` and `?` as written), the text as compared (lower-cased when case-insensitive).
    pub fn test(&self) -> (&'static str, String) {
        match &self.shape {
            Shape::Exact(s) => ("equals", s.clone()),
            Shape::Prefix(s) => ("starts with", s.clone()),
            Shape::Suffix(s) => ("ends with", s.clone()),
            Shape::Contains(s) => ("contains", s.clone()),
            Shape::General(pieces) => {
                let text = pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Text(chars) => chars.iter().collect(),
                        Piece::AnyChar => "?".to_string(),
                        Piece::AnyString => "*".to_string(),
                    })
                    .collect();
                ("matches", text)
            }
        }
    }

    /// Whether the pattern folds ASCII case.
    pub fn case_insensitive(&self) -> bool {
        self.insensitive
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        let insensitive = self.insensitive;
        match &self.shape {
            Shape::Exact(s) => eq(text, s, insensitive),
            Shape::Prefix(s) => {
                text.len() >= s.len()
                    && text.is_char_boundary(s.len())
                    && eq(&text[..s.len()], s, insensitive)
            }
            Shape::Suffix(s) => {
                let start = text.len().wrapping_sub(s.len());
                text.len() >= s.len()
                    && text.is_char_boundary(start)
                    && eq(&text[start..], s, insensitive)
            }
            Shape::Contains(s) => contains(text, s, insensitive),
            Shape::General(pieces) => general(text, pieces, insensitive),
        }
    }
}

/// `a == b`, folding ASCII case when asked (`b` is already folded).
fn eq(a: &str, b: &str, insensitive: bool) -> bool {
    if insensitive {
        a.len() == b.len()
            && a.bytes()
                .zip(b.bytes())
                .all(|(x, y)| x.to_ascii_lowercase() == y)
    } else {
        a == b
    }
}

fn contains(text: &str, needle: &str, insensitive: bool) -> bool {
    if !insensitive {
        return text.contains(needle);
    }
    let (t, n) = (text.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return true;
    }
    // ASCII folding never changes byte lengths, and a folded needle cannot start mid-character
    // (UTF-8 continuation bytes are never ASCII), so a byte search is exact.
    t.windows(n.len())
        .any(|w| w.iter().zip(n).all(|(x, y)| x.to_ascii_lowercase() == *y))
}

/// The general matcher over characters: on a mismatch, retry from the last `*`, letting it
/// absorb one more character. Each step advances the text or the last-star restart point, so
/// the work is bounded by text length × pattern length.
fn general(text: &str, pieces: &[Piece], insensitive: bool) -> bool {
    // Flatten into single-character tokens: Some(c) a literal, None `?`; stars separately.
    #[derive(Clone, Copy)]
    enum Token {
        Char(char),
        Any,
        Star,
    }
    let tokens: Vec<Token> = pieces
        .iter()
        .flat_map(|p| match p {
            Piece::Text(chars) => chars.iter().map(|c| Token::Char(*c)).collect::<Vec<_>>(),
            Piece::AnyChar => vec![Token::Any],
            Piece::AnyString => vec![Token::Star],
        })
        .collect();
    let chars: Vec<char> = text.chars().collect();
    let same = |a: char, b: char| {
        if insensitive {
            a.to_ascii_lowercase() == b
        } else {
            a == b
        }
    };
    let (mut t, mut p) = (0usize, 0usize);
    let mut restart: Option<(usize, usize)> = None;
    while t < chars.len() {
        match tokens.get(p) {
            Some(Token::Star) => {
                restart = Some((p, t));
                p += 1;
            }
            Some(Token::Any) => {
                t += 1;
                p += 1;
            }
            Some(Token::Char(c)) if same(chars[t], *c) => {
                t += 1;
                p += 1;
            }
            _ => match restart {
                Some((star, from)) => {
                    p = star + 1;
                    t = from + 1;
                    restart = Some((star, from + 1));
                }
                None => return false,
            },
        }
    }
    tokens[p..].iter().all(|t| matches!(t, Token::Star))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(pattern: &str, case: Case, text: &str) -> bool {
        Wildcard::new(&Pattern::parse(pattern), case).matches(text)
    }

    #[test]
    fn shapes_and_backslashes() {
        use Case::*;
        assert!(m(
            r"C:\Windows\*.exe",
            Insensitive,
            r"c:\windows\system32\CMD.EXE"
        ));
        assert!(!m(
            r"C:\Windows\*.exe",
            Sensitive,
            r"c:\windows\system32\cmd.exe"
        ));
        assert!(m("cmd.exe", Insensitive, "CMD.EXE"));
        assert!(m("*powershell*", Insensitive, "C:\\x\\PowerShell.exe"));
        assert!(m("net?.exe", Sensitive, "net1.exe"));
        assert!(!m("net?.exe", Sensitive, "net.exe"));
        assert!(m("a*b*c", Sensitive, "aXXbYYc"));
        assert!(!m("a*b*c", Sensitive, "aXXbYY"));
        assert!(m("*", Sensitive, ""));
        assert!(m("", Sensitive, ""));
        assert!(!m("", Sensitive, "x"));
        // `?` is one character, not one byte.
        assert!(m("?", Sensitive, "é"));
        // ASCII folding only, as Elasticsearch's case-insensitive queries.
        assert!(!m("é", Insensitive, "É"));
        assert!(m("*É*", Insensitive, "xÉx"));
    }

    /// Straightforward recursive definition, for comparison.
    fn reference(pattern: &[char], text: &[char], insensitive: bool) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('*', rest)) => (0..=text.len()).any(|i| reference(rest, &text[i..], insensitive)),
            Some(('?', rest)) => !text.is_empty() && reference(rest, &text[1..], insensitive),
            Some((c, rest)) => match text.split_first() {
                Some((t, tail)) => {
                    let same = if insensitive {
                        t.eq_ignore_ascii_case(c)
                    } else {
                        t == c
                    };
                    same && reference(rest, tail, insensitive)
                }
                None => false,
            },
        }
    }

    proptest! {
        #[test]
        fn agrees_with_the_recursive_definition(
            pattern in "[ab*?A\\\\é]{0,8}",
            text in "[abAB\\\\é]{0,10}",
            insensitive in any::<bool>(),
        ) {
            let case = if insensitive { Case::Insensitive } else { Case::Sensitive };
            let p: Vec<char> = pattern.chars().collect();
            let t: Vec<char> = text.chars().collect();
            prop_assert_eq!(m(&pattern, case, &text), reference(&p, &t, insensitive));
        }
    }
}
