//! pest errors → diagnostics that say what was expected in the words of EQL, not of the grammar.

use pest::error::{Error, ErrorVariant, InputLocation};

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::source::Span;

/// How a grammar rule is named to a user; `None` for rules that never explain an error alone.
fn describe(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::kw_where => "`where`",
        Rule::kw_by => "`by`",
        Rule::kw_with => "`with`",
        Rule::kw_maxspan => "`maxspan`",
        Rule::kw_until => "`until`",
        Rule::kw_and => "`and`",
        Rule::kw_or => "`or`",
        Rule::kw_in | Rule::kw_in_insensitive => "`in`",
        Rule::kw_any | Rule::event_category | Rule::identifier => "an event category",
        Rule::kw_sequence | Rule::kw_sample | Rule::kw_join => "a query",
        Rule::subquery | Rule::sequence_term | Rule::join_term | Rule::missing_open => {
            "a bracketed stage `[category where ...]`"
        }
        Rule::expr
        | Rule::or_expr
        | Rule::and_expr
        | Rule::not_expr
        | Rule::kw_not
        | Rule::comparison
        | Rule::arith
        | Rule::term
        | Rule::unary
        | Rule::sign
        | Rule::postfix
        | Rule::primary
        | Rule::paren
        | Rule::function_call
        | Rule::function_name
        | Rule::field
        | Rule::relationship => "an expression",
        Rule::constant | Rule::constant_list | Rule::kw_null | Rule::kw_true | Rule::kw_false => {
            "a constant"
        }
        Rule::number => "a number",
        Rule::string => "a string",
        Rule::time_span => "a time span such as `30s`",
        Rule::compare_op | Rule::legacy_assign => "a comparison operator",
        Rule::add_op | Rule::mul_op => "an arithmetic operator",
        Rule::predicate | Rule::in_predicate | Rule::match_predicate | Rule::match_op => {
            "an operator"
        }
        Rule::kw_like | Rule::kw_like_insensitive | Rule::kw_regex | Rule::kw_regex_insensitive => {
            "an operator"
        }
        Rule::pipe => "`|`",
        Rule::pipe_name => "a pipe name",
        Rule::stage_option => "`with runs=N`",
        Rule::EOI => "end of query",
        _ => return None,
    })
}

/// Translate a pest error into a diagnostic on `text`.
pub(super) fn translate(error: &Error<Rule>, text: &str) -> Diagnostic {
    let at = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let found = found_token(text, at);
    let span = Span::new(
        at,
        at + found.len().max(if at < text.len() { 1 } else { 0 }),
    );
    let found_desc = if found.is_empty() {
        "the end of the query".to_string()
    } else {
        format!("`{found}`")
    };
    let expected: Vec<&str> = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<&str> = positives.iter().filter_map(|r| describe(*r)).collect();
            names.sort_unstable();
            names.dedup();
            names
        }
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let previous = previous_word(text, at);
    let message = if expected == ["`where`"] {
        match previous {
            Some(word) => format!("expected `where` after event category `{word}`"),
            None => "expected `where` after the event category".to_string(),
        }
    } else if expected.is_empty() {
        format!("unexpected {found_desc}")
    } else {
        format!(
            "expected {}, found {found_desc}",
            join_alternatives(&expected)
        )
    };
    let mut diagnostic = Diagnostic::error(message, span);
    if expected.contains(&"`where`") && found == "=" {
        diagnostic = diagnostic.with_note("`=` is not an EQL operator: use `==` or `:`");
    }
    diagnostic
}

fn join_alternatives(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The token starting at `at`: a word, or a single character; empty at the end of the text.
fn found_token(text: &str, at: usize) -> &str {
    let rest = text.get(at..).unwrap_or("");
    let word_len = rest
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '@' || *c == '.'))
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    let operator_len = rest
        .find(|c: char| !matches!(c, '=' | '!' | '<' | '>' | ':' | '~'))
        .unwrap_or(rest.len());
    if word_len > 0 {
        &rest[..word_len]
    } else if operator_len > 0 {
        &rest[..operator_len]
    } else {
        rest.chars().next().map_or("", |c| &rest[..c.len_utf8()])
    }
}

/// The word just before `at`, skipping whitespace, if there is one.
fn previous_word(text: &str, at: usize) -> Option<&str> {
    let before = text.get(..at)?.trim_end();
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '@' || *c == '"'))
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    let word = &before[start..];
    (!word.is_empty()).then_some(word)
}
