//! IR → canonical EQL.
//!
//! The output is Elasticsearch syntax that re-parses to the same IR, so printing is idempotent.
//! Single-event queries print on one line; sequences and samples put each stage on its own line.

use super::*;

/// Print a query as canonical EQL.
pub fn query(q: &Query) -> String {
    let mut out = match &q.body {
        QueryBody::Event(e) => event_query(e),
        QueryBody::Sequence(s) => sequence(s),
        QueryBody::Sample(s) => sample(s),
    };
    for pipe in &q.pipes {
        match pipe {
            Pipe::Head(n) => out.push_str(&format!(" | head {n}")),
            Pipe::Tail(n) => out.push_str(&format!(" | tail {n}")),
        }
    }
    out
}

/// Print `<category> where <condition>`.
pub fn event_query(e: &EventQuery) -> String {
    format!("{} where {}", category(&e.category), expr(&e.condition))
}

fn category(c: &Category) -> String {
    match c {
        Category::Any => "any".to_string(),
        Category::Named(name) if is_identifier(name) => name.clone(),
        Category::Named(name) => string_literal(name),
    }
}

fn keys(fields: &[Field]) -> String {
    fields.iter().map(field).collect::<Vec<_>>().join(", ")
}

fn stage(s: &Stage) -> String {
    let open = if s.missing { "![" } else { "[" };
    let mut out = format!("{open}{}]", event_query(&s.event));
    if !s.by.is_empty() {
        out.push_str(&format!(" by {}", keys(&s.by)));
    }
    if s.runs != 1 {
        out.push_str(&format!(" with runs={}", s.runs));
    }
    out
}

fn sequence(s: &Sequence) -> String {
    let mut out = "sequence".to_string();
    if !s.by.is_empty() {
        out.push_str(&format!(" by {}", keys(&s.by)));
    }
    if let Some(span) = s.maxspan {
        out.push_str(&format!(" with maxspan={span}"));
    }
    for st in &s.stages {
        out.push_str("\n  ");
        out.push_str(&stage(st));
    }
    if let Some(until) = &s.until {
        out.push_str("\nuntil ");
        out.push_str(&stage(until));
    }
    out
}

fn sample(s: &Sample) -> String {
    let mut out = "sample".to_string();
    if !s.by.is_empty() {
        out.push_str(&format!(" by {}", keys(&s.by)));
    }
    for st in &s.stages {
        out.push_str("\n  ");
        out.push_str(&stage(st));
    }
    out
}

/// Binding strength of conditions, loosest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Or,
    And,
    Not,
    Atom,
}

fn level(e: &Expr) -> Level {
    match e {
        Expr::Or { .. } => Level::Or,
        Expr::And { .. } => Level::And,
        Expr::Not { operand } if !has_negated_form(operand) => Level::Not,
        _ => Level::Atom,
    }
}

/// Negations printed with their own operator: `!=`, `!= null`, `not in`.
fn has_negated_form(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Compare(Compare {
            op: CompareOp::Eq,
            ..
        }) | Expr::IsNull { .. }
            | Expr::In(_)
    )
}

fn expr_at(e: &Expr, min: Level) -> String {
    let text = expr(e);
    if level(e) < min {
        format!("({text})")
    } else {
        text
    }
}

/// Print a condition.
pub fn expr(e: &Expr) -> String {
    match e {
        Expr::Bool { value } => value.to_string(),
        // Only the parentheses precedence needs: the printed query is never nested deeper than
        // its source, so it stays within the parser's depth limit.
        Expr::Or { operands } => join(operands, " or ", Level::And),
        Expr::And { operands } => join(operands, " and ", Level::Not),
        Expr::Not { operand } => match operand.as_ref() {
            Expr::Compare(c) if c.op == CompareOp::Eq => compare(c, "!="),
            Expr::IsNull { value } => format!("{} != null", operand_value(value)),
            Expr::In(set) => in_set(set, true),
            other => format!("not {}", expr_at(other, Level::Not)),
        },
        Expr::Compare(c) => compare(c, c.op.symbol()),
        Expr::IsNull { value } => format!("{} == null", operand_value(value)),
        Expr::In(set) => in_set(set, false),
        Expr::Like(like) => {
            let op = match like.case {
                Case::Insensitive => ":",
                Case::Sensitive => "like",
            };
            let patterns: Vec<String> = like
                .patterns
                .iter()
                .map(|p| string_literal(&p.to_eql()))
                .collect();
            format!(
                "{} {op} {}",
                predicate_subject(&like.value),
                list_or_single(&patterns)
            )
        }
        Expr::Regex(r) => {
            let op = match r.case {
                Case::Sensitive => "regex",
                Case::Insensitive => "regex~",
            };
            let patterns: Vec<String> = r.patterns.iter().map(|p| regex_literal(p)).collect();
            format!(
                "{} {op} {}",
                predicate_subject(&r.value),
                list_or_single(&patterns)
            )
        }
        Expr::Test { value: v } => value(v),
    }
}

fn join(operands: &[Expr], sep: &str, min: Level) -> String {
    operands
        .iter()
        .map(|o| expr_at(o, min))
        .collect::<Vec<_>>()
        .join(sep)
}

fn compare(c: &Compare, op: &str) -> String {
    // `:` is the only way to write a case-insensitive equality.
    let op = if c.case == Case::Insensitive && op == "==" {
        ":"
    } else {
        op
    };
    format!(
        "{} {op} {}",
        operand_value(&c.left),
        operand_value(&c.right)
    )
}

fn in_set(set: &InSet, negated: bool) -> String {
    let op = match (negated, set.case) {
        (false, Case::Sensitive) => "in",
        (false, Case::Insensitive) => "in~",
        (true, Case::Sensitive) => "not in",
        (true, Case::Insensitive) => "not in~",
    };
    let values: Vec<String> = set.values.iter().map(literal).collect();
    format!(
        "{} {op} ({})",
        predicate_subject(&set.value),
        values.join(", ")
    )
}

fn list_or_single(items: &[String]) -> String {
    match items {
        [one] => one.clone(),
        many => format!("({})", many.join(", ")),
    }
}

// ------------------------------------------------------------------ values

/// Binding strength of values, loosest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ValueLevel {
    Additive,
    Multiplicative,
    Unary,
    Primary,
}

fn value_level(v: &Value) -> ValueLevel {
    match v {
        Value::Arithmetic {
            op: ArithOp::Add | ArithOp::Sub,
            ..
        } => ValueLevel::Additive,
        Value::Arithmetic { .. } => ValueLevel::Multiplicative,
        Value::Negate { .. } => ValueLevel::Unary,
        Value::Literal {
            literal: Literal::Integer(i),
        } if *i < 0 => ValueLevel::Unary,
        Value::Literal {
            literal: Literal::Float(f),
        } if f.is_sign_negative() => ValueLevel::Unary,
        _ => ValueLevel::Primary,
    }
}

fn value_at(v: &Value, min: ValueLevel) -> String {
    let text = value(v);
    if value_level(v) < min {
        format!("({text})")
    } else {
        text
    }
}

/// An operand of a comparison: any arithmetic goes without parentheses.
fn operand_value(v: &Value) -> String {
    value(v)
}

/// The subject of `in`, `:`, `like`, `regex`: Elasticsearch binds these to a primary value,
/// so anything looser is parenthesised.
fn predicate_subject(v: &Value) -> String {
    value_at(v, ValueLevel::Primary)
}

/// Print a value.
pub fn value(v: &Value) -> String {
    match v {
        Value::Field(f) => field(f),
        Value::Literal { literal: l } => literal(l),
        Value::Call(c) => {
            let tilde = if c.case == Case::Insensitive { "~" } else { "" };
            let args: Vec<String> = c.args.iter().map(value).collect();
            format!("{}{tilde}({})", c.function.name(), args.join(", "))
        }
        Value::Arithmetic { op, left, right } => {
            let this = value_level(v);
            // Left-associative: the right operand of the same strength needs parentheses.
            let right_min = match this {
                ValueLevel::Additive => ValueLevel::Multiplicative,
                _ => ValueLevel::Unary,
            };
            format!(
                "{} {} {}",
                value_at(left, this),
                op.symbol(),
                value_at(right, right_min)
            )
        }
        // `--a`, not `-(-a)`: parentheses would count against the nesting limit on re-parsing.
        Value::Negate { operand } => format!("-{}", value_at(operand, ValueLevel::Unary)),
        Value::Condition { condition } => format!("({})", expr(condition)),
    }
}

/// Print a field reference, backtick-quoting segments that are not plain identifiers.
pub fn field(f: &Field) -> String {
    let mut out = String::new();
    if f.optional {
        out.push('?');
    }
    let segments: Vec<String> = f
        .name
        .split('.')
        .map(|s| {
            if is_identifier(s) {
                s.to_string()
            } else {
                format!("`{}`", s.replace('`', "``"))
            }
        })
        .collect();
    out.push_str(&segments.join("."));
    out
}

/// Print a literal.
pub fn literal(l: &Literal) -> String {
    match l {
        Literal::Null => "null".into(),
        Literal::Bool(b) => b.to_string(),
        // `-9223372036854775808` reads as minus a number too large for an integer, a decimal.
        Literal::Integer(i64::MIN) => format!("({} - 1)", i64::MIN + 1),
        Literal::Integer(i) => i.to_string(),
        Literal::Float(f) => {
            let text = f.to_string();
            // Keep a decimal point so the number re-parses as a decimal.
            if text.contains(['.', 'e', 'E']) {
                text
            } else {
                format!("{text}.0")
            }
        }
        Literal::String(s) => string_literal(s),
    }
}

const KEYWORDS: [&str; 19] = [
    "and", "any", "by", "false", "in", "join", "like", "maxspan", "not", "null", "of", "or",
    "regex", "sample", "sequence", "true", "until", "where", "with",
];

/// Whether `s` can be written bare as an identifier.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '@');
    starts_well
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@')
        && !KEYWORDS.contains(&s)
}

/// A double-quoted string with every character that needs it escaped.
pub fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_invisible_format_char(c) => {
                out.push_str(&format!("\\u{{{:04X}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Characters that change how text displays without being visible (e.g. U+202E, the
/// right-to-left override some rules hunt for): printed as escapes so the output is readable.
fn is_invisible_format_char(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Regular expressions read best without doubled backslashes: use `"""` when possible.
fn regex_literal(s: &str) -> String {
    let raw_ok = s.contains('\\')
        && !s.contains("\"\"\"")
        && !s.ends_with('"')
        && !s
            .chars()
            .any(|c| c.is_control() || is_invisible_format_char(c));
    if raw_ok {
        format!("\"\"\"{s}\"\"\"")
    } else {
        string_literal(s)
    }
}
