//! A linear pre-pass over the query text, run before the pest parser.
//!
//! pest parses by recursive descent, so 10,000 nested parentheses would overflow the stack.
//! This scanner bounds bracket nesting first, and reports unterminated strings and comments at
//! their opening (pest would report them at the end of the query, far from the cause).

use crate::diagnostic::Diagnostic;
use crate::source::Span;

/// Deepest bracket nesting accepted. Real rules nest at most 8 deep; Elasticsearch itself
/// refuses overly deep queries too.
pub const MAX_BRACKET_DEPTH: usize = 100;

/// Check the lexical structure that the grammar cannot check cheaply.
pub fn check(text: &str) -> Result<(), Diagnostic> {
    let bytes = text.as_bytes();
    // Offsets of the brackets still open.
    let mut open: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                let body = i + 3;
                let line_end = text[body..]
                    .find(['\n', '\r'])
                    .map_or(text.len(), |e| body + e);
                match text[body..line_end].find("\"\"\"") {
                    Some(end) => {
                        i = body + end + 3;
                        // `"""a""""` ends with the value `a"`: extra closing quotes belong to it.
                        let extra = bytes[i..]
                            .iter()
                            .take(2)
                            .take_while(|&&b| b == b'"')
                            .count();
                        i += extra;
                    }
                    None => return Err(unterminated("string", i, 3)),
                }
            }
            quote @ (b'"' | b'\'' | b'`') => {
                i = skip_quoted(bytes, i, quote).ok_or_else(|| {
                    let what = if quote == b'`' {
                        "quoted field name"
                    } else {
                        "string"
                    };
                    unterminated(what, i, 1)
                })?;
            }
            // A line comment ends at `\r` too, as in the grammar and in Elasticsearch.
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i += bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n' || b == b'\r')
                    .unwrap_or(bytes.len() - i);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => match text[i + 2..].find("*/") {
                Some(end) => i = i + 2 + end + 2,
                None => {
                    return Err(
                        Diagnostic::error("unterminated comment", Span::new(i, i + 2))
                            .with_label("this `/*` is never closed")
                            .with_note("expected `*/` before the end of the query"),
                    )
                }
            },
            b'(' | b'[' => {
                open.push(i);
                if open.len() > MAX_BRACKET_DEPTH {
                    return Err(Diagnostic::error(
                        format!("query nested too deeply (more than {MAX_BRACKET_DEPTH} levels of brackets)"),
                        Span::new(i, i + 1),
                    )
                    .with_label("nesting limit exceeded here"));
                }
                i += 1;
            }
            b')' | b']' => {
                open.pop();
                i += 1;
            }
            _ => i += 1,
        }
    }
    match open.last() {
        Some(&at) => {
            let (bracket, closer) = if bytes[at] == b'(' {
                ("(", ")")
            } else {
                ("[", "]")
            };
            Err(
                Diagnostic::error(format!("unclosed `{bracket}`"), Span::new(at, at + 1))
                    .with_label(format!("this `{bracket}` is never closed"))
                    .with_note(format!("expected `{closer}` before the end of the query")),
            )
        }
        None => Ok(()),
    }
}

/// Index just past the closing quote, honouring backslash escapes (doubled backticks for
/// quoted field names); `None` if the quote is never closed.
fn skip_quoted(bytes: &[u8], open: usize, quote: u8) -> Option<usize> {
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            // Strings end at the end of their line (quoted field names may span lines).
            b'\n' | b'\r' if quote != b'`' => return None,
            b'\\' if quote != b'`' => i += 2,
            b'`' if quote == b'`' && bytes.get(i + 1) == Some(&b'`') => i += 2,
            b if b == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn unterminated(what: &str, at: usize, width: usize) -> Diagnostic {
    Diagnostic::error(format!("unterminated {what}"), Span::new(at, at + width))
        .with_label("opened here and not closed on the same line")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_inside_strings_and_comments_do_not_count() {
        let deep = "(".repeat(MAX_BRACKET_DEPTH + 5);
        assert!(check(&format!("a where x == \"{deep}\"")).is_ok());
        assert!(check(&format!("a where /* {deep} */ x")).is_ok());
        assert!(check(&format!("a where x // {deep}")).is_ok());
    }

    #[test]
    fn an_unclosed_bracket_is_reported_at_its_opening() {
        let err = check("a where (x == 1 and (y == 2)").expect_err("unclosed");
        assert_eq!(err.span, Some(Span::new(8, 9)));
        assert!(check("a where (x == \"(\")").is_ok());
    }

    #[test]
    fn too_deep_nesting_is_reported_at_the_offending_bracket() {
        let text = format!("a where {}", "(".repeat(MAX_BRACKET_DEPTH + 1));
        let err = check(&text).expect_err("too deep");
        assert_eq!(err.span, Some(Span::new(text.len() - 1, text.len())));
    }

    #[test]
    fn unterminated_strings_and_comments_point_at_their_opening() {
        let err = check("a where x == \"abc").expect_err("open string");
        assert_eq!(err.span, Some(Span::new(13, 14)));
        let err = check("a where x == \"\"\"abc\"").expect_err("open raw string");
        assert_eq!(err.span, Some(Span::new(13, 16)));
        let err = check("a where /* x").expect_err("open comment");
        assert_eq!(err.span, Some(Span::new(8, 10)));
        assert!(check("a where x == \"a\\\"b\"").is_ok());
        let err = check("a where x == \"ab\ncd\"").expect_err("string across lines");
        assert_eq!(err.span, Some(Span::new(13, 14)));
    }
}
