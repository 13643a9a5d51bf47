//! Syntax: EQL text → [`ast::Statement`], via the pest grammar in `grammar/eql.pest`.
//!
//! Rejections Elasticsearch makes at parse time (legacy pipes, `join`, `=`, single quotes, …)
//! happen here with messages that name the construct; everything else is left to lowering.

pub mod ast;
mod build;
mod errors;
pub mod lexical;

use pest::Parser;

use crate::diagnostic::Diagnostic;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/eql.pest"]
pub(crate) struct EqlParser;

/// Deepest expression nesting accepted (parentheses, `not`, signs and chained arithmetic all
/// count), so that no later recursive pass can overflow the stack.
pub const MAX_EXPRESSION_DEPTH: usize = 200;

/// Parse one EQL statement.
pub fn parse(text: &str) -> Result<ast::Statement, Diagnostic> {
    lexical::check(text)?;
    let mut pairs =
        EqlParser::parse(Rule::statement, text).map_err(|e| errors::translate(&e, text))?;
    let statement = pairs
        .next()
        .ok_or_else(|| Diagnostic::error_unplaced("empty parse result"))?;
    build::statement(statement)
}
