//! AST → IR: semantic checks Elasticsearch's verifier makes, normalisation and constant folding.

use super::*;
use crate::diagnostic::Diagnostic;
use crate::source::Span;
use crate::syntax::ast::{self, ExprKind, MatchOp};

type Result<T> = std::result::Result<T, Diagnostic>;

/// Elasticsearch's limits: `runs` per stage, queries per sequence after expanding runs, and
/// stages per sample.
const MAX_RUNS: u64 = 100;
const MAX_SEQUENCE_QUERIES: u64 = 256;
const MAX_SAMPLE_STAGES: usize = 5;

/// Lower a parsed statement into the IR.
pub fn lower(statement: &ast::Statement) -> Result<Query> {
    let body = match &statement.query {
        ast::Query::Event(filter) => QueryBody::Event(event_query(filter)?),
        ast::Query::Sequence(seq) => QueryBody::Sequence(sequence(seq, statement.span)?),
        ast::Query::Sample(sample) => {
            if let Some(pipe) = statement.pipes.first() {
                return Err(Diagnostic::error(
                    "pipes are not supported after `sample` by Elasticsearch EQL",
                    pipe.span,
                ));
            }
            QueryBody::Sample(self::sample(sample, statement.span)?)
        }
    };
    let pipes = statement
        .pipes
        .iter()
        .map(|p| match p.kind {
            ast::PipeKind::Head => Pipe::Head(p.count),
            ast::PipeKind::Tail => Pipe::Tail(p.count),
        })
        .collect();
    Ok(Query { body, pipes })
}

fn event_query(filter: &ast::EventFilter) -> Result<EventQuery> {
    let category = match &filter.category {
        None => Category::Any,
        Some(name) => Category::Named(name.clone()),
    };
    Ok(EventQuery {
        category,
        condition: condition(&filter.condition)?,
    })
}

fn sequence(seq: &ast::Sequence, span: Span) -> Result<Sequence> {
    let by = join_keys(&seq.by)?;
    let stages = seq.stages.iter().map(stage).collect::<Result<Vec<_>>>()?;
    let until = seq.until.as_ref().map(stage).transpose()?;
    for (stage, ast_stage) in stages.iter().zip(&seq.stages) {
        if stage.runs > MAX_RUNS {
            return Err(Diagnostic::error(
                format!("`runs` can be at most {MAX_RUNS}, found {}", stage.runs),
                ast_stage.span,
            ));
        }
        if stage.missing && stage.runs > 1 {
            return Err(Diagnostic::error(
                "a missing-event stage `![...]` cannot have `with runs`",
                ast_stage.span,
            ));
        }
        if stage.missing && seq.maxspan.is_none() {
            return Err(Diagnostic::error(
                "a sequence with a missing-event stage `![...]` needs `with maxspan`",
                ast_stage.span,
            ));
        }
    }
    let expanded: u64 = stages.iter().map(|s| s.runs).sum();
    if expanded < 2 {
        return Err(Diagnostic::error(
            "a sequence needs at least two stages (or one stage `with runs=N`, N ≥ 2) besides `until`",
            span,
        ));
    }
    if expanded > MAX_SEQUENCE_QUERIES {
        return Err(Diagnostic::error(
            format!("a sequence can have at most {MAX_SEQUENCE_QUERIES} stages once `runs` are expanded, found {expanded}"),
            span,
        ));
    }
    if stages.iter().all(|s| s.missing) {
        return Err(Diagnostic::error(
            "a sequence needs at least one stage that is not a missing-event stage `![...]`",
            span,
        ));
    }
    if let Some(until) = seq.until.as_ref().filter(|u| u.missing) {
        return Err(Diagnostic::error(
            "`until` cannot be a missing-event stage `![...]`",
            until.span,
        ));
    }
    check_key_counts(&seq.stages, seq.until.as_ref())?;
    Ok(Sequence {
        by,
        maxspan: seq.maxspan.map(|t| Duration {
            millis: t.value.saturating_mul(t.unit.millis()),
        }),
        stages,
        until,
    })
}

fn sample(sample: &ast::Sample, span: Span) -> Result<Sample> {
    let by = join_keys(&sample.by)?;
    let stages = sample
        .stages
        .iter()
        .map(stage)
        .collect::<Result<Vec<_>>>()?;
    if stages.len() < 2 {
        return Err(Diagnostic::error(
            "a sample needs at least two stages",
            span,
        ));
    }
    if stages.len() > MAX_SAMPLE_STAGES {
        return Err(Diagnostic::error(
            format!(
                "a sample can have at most {MAX_SAMPLE_STAGES} stages, found {}",
                stages.len()
            ),
            span,
        ));
    }
    for (stage, ast_stage) in stages.iter().zip(&sample.stages) {
        if stage.missing {
            return Err(Diagnostic::error(
                "missing-event stages `![...]` are supported only in sequences",
                ast_stage.span,
            ));
        }
        let keys: Vec<&str> = stage.keys(&by).map(|k| k.name.as_str()).collect();
        if let Some((_, dup)) = keys
            .iter()
            .enumerate()
            .find(|(i, k)| keys[..*i].contains(k))
        {
            return Err(Diagnostic::error(
                format!("join key `{dup}` is used twice in one stage"),
                ast_stage.span,
            ));
        }
    }
    check_key_counts(&sample.stages, None)?;
    if by.is_empty() && stages.iter().all(|s| s.by.is_empty()) {
        return Err(Diagnostic::error(
            "a sample needs join keys (`sample by <field>` or `[...] by <field>`)",
            span,
        ));
    }
    Ok(Sample { by, stages })
}

/// Every stage must join on the same number of keys, as Elasticsearch's verifier requires.
fn check_key_counts(stages: &[ast::Stage], until: Option<&ast::Stage>) -> Result<()> {
    let mut all = stages.iter().chain(until);
    let Some(first) = all.next() else {
        return Ok(());
    };
    let expected = first.by.len();
    for stage in all {
        if stage.by.len() != expected {
            let span = stage.by.first().map_or(stage.span, |k| k.span);
            return Err(Diagnostic::error(
                format!(
                    "inconsistent number of join keys: expected {expected} (as in the first stage) but found {}",
                    stage.by.len()
                ),
                span,
            ));
        }
    }
    Ok(())
}

fn stage(stage: &ast::Stage) -> Result<Stage> {
    Ok(Stage {
        event: event_query(&stage.filter)?,
        by: join_keys(&stage.by)?,
        runs: stage.runs.unwrap_or(1),
        missing: stage.missing,
    })
}

fn join_keys(keys: &[ast::Expr]) -> Result<Vec<Field>> {
    keys.iter()
        .map(|k| match &k.kind {
            ExprKind::Field(f) => Ok(field(f)),
            _ => Err(Diagnostic::error("join keys must be field names", k.span)),
        })
        .collect()
}

fn field(f: &ast::FieldRef) -> Field {
    Field {
        name: f.name(),
        optional: f.optional,
    }
}

// ------------------------------------------------------------------ conditions

/// Lower an expression that must be a condition.
fn condition(e: &ast::Expr) -> Result<Expr> {
    Ok(match &e.kind {
        ExprKind::Or { operands } => {
            Expr::or(operands.iter().map(condition).collect::<Result<_>>()?)
        }
        ExprKind::And { operands } => {
            Expr::and(operands.iter().map(condition).collect::<Result<_>>()?)
        }
        ExprKind::Not { operand } => Expr::not(condition(operand)?),
        ExprKind::Compare { op, left, right } => compare(*op, left, right)?,
        ExprKind::In {
            value: v,
            list,
            negated,
            case_insensitive,
        } => {
            let membership = in_set(v, list, *case_insensitive)?;
            if *negated {
                Expr::not(membership)
            } else {
                membership
            }
        }
        ExprKind::Match {
            op,
            value: v,
            patterns,
        } => match_expr(*op, v, patterns)?,
        ExprKind::Literal(Literal::Bool(b)) => Expr::bool(*b),
        ExprKind::Field(f) => Expr::Test {
            value: Value::Field(field(f)),
        },
        ExprKind::Call { .. } => {
            let v = value(e)?;
            match &v {
                Value::Call(c) if c.function.returns_boolean() => Expr::Test { value: v },
                Value::Call(c) => {
                    return Err(not_a_condition(
                        e.span,
                        &format!("`{}` returns a value, not a boolean", c.function.name()),
                    ))
                }
                // A call on constants folded to a constant.
                Value::Literal {
                    literal: Literal::Bool(b),
                } => Expr::bool(*b),
                _ => {
                    return Err(not_a_condition(
                        e.span,
                        "this call does not yield a boolean",
                    ))
                }
            }
        }
        ExprKind::Literal(l) => {
            return Err(not_a_condition(
                e.span,
                &format!("a {} literal is not a condition", l.type_name()),
            ))
        }
        ExprKind::Arithmetic { .. } | ExprKind::Negate { .. } => {
            return Err(not_a_condition(
                e.span,
                "arithmetic yields a number, not a boolean",
            ))
        }
    })
}

fn not_a_condition(span: Span, why: &str) -> Diagnostic {
    Diagnostic::error("expected a condition", span).with_label(why.to_string())
}

fn field_comparison(span: Span) -> Diagnostic {
    Diagnostic::error(
        "comparing a field with another field is not supported by Elasticsearch EQL",
        span,
    )
    .with_label("the other side must be a constant")
}

fn compare(op: ast::CompareOp, left: &ast::Expr, right: &ast::Expr) -> Result<Expr> {
    let mut l = value(left)?;
    let mut r = value(right)?;
    let (op, negated) = match op {
        ast::CompareOp::Eq => (CompareOp::Eq, false),
        ast::CompareOp::NotEq => (CompareOp::Eq, true),
        ast::CompareOp::Lt => (CompareOp::Lt, false),
        ast::CompareOp::Le => (CompareOp::Le, false),
        ast::CompareOp::Gt => (CompareOp::Gt, false),
        ast::CompareOp::Ge => (CompareOp::Ge, false),
    };
    let mut op = op;
    if l.as_literal().is_some() && r.as_literal().is_none() {
        std::mem::swap(&mut l, &mut r);
        op = op.flipped();
    }
    let positive = match (l.as_literal(), r.as_literal()) {
        (Some(a), Some(b)) => Expr::bool(fold_compare(op, a, b).unwrap_or(false)),
        (None, Some(Literal::Null)) if op == CompareOp::Eq => Expr::IsNull { value: l },
        (None, Some(_)) => Expr::Compare(Compare {
            op,
            left: l,
            right: r,
            case: Case::Sensitive,
        }),
        // Both sides computed. Elasticsearch resolves an unmapped `?field` to null before it
        // checks for field-to-field comparisons, so such a comparison is accepted.
        _ if l.is_optional_field() || r.is_optional_field() => Expr::Compare(Compare {
            op,
            left: l,
            right: r,
            case: Case::Sensitive,
        }),
        _ => return Err(field_comparison(right.span)),
    };
    Ok(if negated {
        Expr::not(positive)
    } else {
        positive
    })
}

/// Compare two constants; `None` when the comparison yields null (a null operand, or types
/// that do not compare).
fn fold_compare(op: CompareOp, a: &Literal, b: &Literal) -> Option<bool> {
    functions::compare_constants(a, b, Case::Sensitive).map(|o| op.holds(o))
}

fn in_set(v: &ast::Expr, list: &[ast::Expr], case_insensitive: bool) -> Result<Expr> {
    let tested = value(v)?;
    let mut values = Vec::with_capacity(list.len());
    // Keyed by canonical text, which tells `1`, `1.0` and `"1"` apart; a hash set keeps a
    // huge list linear.
    let mut seen = std::collections::HashSet::new();
    for item in list {
        match value(item)? {
            // Elasticsearch de-duplicates the list, keeping the first occurrence.
            Value::Literal { literal } => {
                if seen.insert(super::print::literal(&literal)) {
                    values.push(literal)
                }
            }
            _ => return Err(field_comparison(item.span)),
        }
    }
    let case = if case_insensitive {
        Case::Insensitive
    } else {
        Case::Sensitive
    };
    if tested.as_literal().is_some() {
        return Err(Diagnostic::error(
            "the left side of `in` must be a field or a computed value, not a constant",
            v.span,
        ));
    }
    Ok(Expr::In(InSet {
        value: tested,
        values,
        case,
    }))
}

fn match_expr(op: MatchOp, v: &ast::Expr, patterns: &[ast::Expr]) -> Result<Expr> {
    let tested = value(v)?;
    let mut strings = Vec::with_capacity(patterns.len());
    let mut seen = std::collections::HashSet::new();
    let mut others = Vec::new();
    for p in patterns {
        match &p.kind {
            ExprKind::Literal(Literal::String(s)) => {
                if seen.insert(s.as_str()) {
                    strings.push(s.clone());
                }
            }
            ExprKind::Literal(Literal::Null) if op == MatchOp::Colon => others.push(Literal::Null),
            ExprKind::Literal(other) if op == MatchOp::Colon => {
                return Err(Diagnostic::error(
                    format!("`:` compares strings, found a {}", other.type_name()),
                    p.span,
                )
                .with_label("consider using `==` instead"))
            }
            // Elasticsearch reads a number or boolean pattern as its text.
            ExprKind::Literal(Literal::Integer(i))
                if matches!(op, MatchOp::Like | MatchOp::LikeInsensitive) =>
            {
                strings.push(i.to_string())
            }
            ExprKind::Literal(Literal::Bool(b))
                if matches!(op, MatchOp::Like | MatchOp::LikeInsensitive) =>
            {
                strings.push(b.to_string())
            }
            _ => {
                let op_text = match op {
                    MatchOp::Colon => ":",
                    MatchOp::Like => "like",
                    MatchOp::LikeInsensitive => "like~",
                    MatchOp::Regex => "regex",
                    MatchOp::RegexInsensitive => "regex~",
                };
                return Err(Diagnostic::error(
                    format!("`{op_text}` needs string patterns"),
                    p.span,
                ));
            }
        }
    }
    let mut alternatives = Vec::new();
    if !strings.is_empty() {
        alternatives.push(match op {
            MatchOp::Colon | MatchOp::LikeInsensitive => Expr::Like(Like {
                value: tested.clone(),
                patterns: unique_patterns(&strings),
                case: Case::Insensitive,
            }),
            MatchOp::Like => Expr::Like(Like {
                value: tested.clone(),
                patterns: unique_patterns(&strings),
                case: Case::Sensitive,
            }),
            MatchOp::Regex | MatchOp::RegexInsensitive => Expr::Regex(RegexMatch {
                value: tested.clone(),
                patterns: strings,
                case: if op == MatchOp::Regex {
                    Case::Sensitive
                } else {
                    Case::Insensitive
                },
            }),
        });
    }
    // `:` against a non-string constant is plain equality (case has no meaning there).
    for literal in others {
        alternatives.push(match literal {
            // A constant against null folds, as `"abc" == null` does.
            Literal::Null if tested.as_literal().is_some() => Expr::bool(false),
            Literal::Null => Expr::IsNull {
                value: tested.clone(),
            },
            other => Expr::Compare(Compare {
                op: CompareOp::Eq,
                left: tested.clone(),
                right: Value::literal(other),
                case: Case::Sensitive,
            }),
        });
    }
    Ok(Expr::or(alternatives))
}

/// The distinct patterns, in order: `1` and `"1"`, or `a**` and `a*`, are one pattern.
fn unique_patterns(strings: &[String]) -> Vec<Pattern> {
    let mut seen = std::collections::HashSet::new();
    strings
        .iter()
        .map(|s| Pattern::parse(s))
        .filter(|p| seen.insert(p.clone()))
        .collect()
}

// ------------------------------------------------------------------ values

/// Lower an expression that must be a value.
fn value(e: &ast::Expr) -> Result<Value> {
    match &e.kind {
        ExprKind::Field(f) => Ok(Value::Field(field(f))),
        ExprKind::Literal(l) => Ok(Value::literal(l.clone())),
        ExprKind::Negate { operand } => {
            let v = value(operand)?;
            match v {
                Value::Literal { literal } => Ok(Value::literal(negate_literal(literal, e.span)?)),
                other => Ok(Value::Negate {
                    operand: Box::new(other),
                }),
            }
        }
        ExprKind::Arithmetic { op, left, right } => {
            let l = value(left)?;
            let r = value(right)?;
            arithmetic(*op, l, r, e.span)
        }
        ExprKind::Call {
            name,
            case_insensitive,
            args,
        } => call(name, *case_insensitive, args, e.span),
        // A condition in a value position, e.g. `(exit_code > -1) == null`.
        _ => match condition(e)? {
            Expr::Bool { value } => Ok(Value::literal(Literal::Bool(value))),
            // `(not not a) == 1` is `a == 1`: a tested value is the value itself.
            Expr::Test { value } => Ok(value),
            other => Ok(Value::Condition {
                condition: Box::new(other),
            }),
        },
    }
}

fn negate_literal(literal: Literal, span: Span) -> Result<Literal> {
    match literal {
        Literal::Integer(i) => i
            .checked_neg()
            .map(Literal::Integer)
            .ok_or_else(|| Diagnostic::error("integer overflow", span)),
        Literal::Float(f) => Ok(Literal::Float(-f)),
        Literal::Null => Ok(Literal::Null),
        other => Err(Diagnostic::error(
            format!("cannot negate a {}", other.type_name()),
            span,
        )),
    }
}

fn arithmetic(op: ArithOp, l: Value, r: Value, span: Span) -> Result<Value> {
    if let (Some(a), Some(b)) = (l.as_literal(), r.as_literal()) {
        return fold_arithmetic(op, a, b, span).map(Value::literal);
    }
    for side in [&l, &r] {
        if let Some(lit @ (Literal::String(_) | Literal::Bool(_))) = side.as_literal() {
            return Err(Diagnostic::error(
                format!("arithmetic needs numbers, found a {}", lit.type_name()),
                span,
            ));
        }
    }
    Ok(Value::Arithmetic {
        op,
        left: Box::new(l),
        right: Box::new(r),
    })
}

/// Fold arithmetic on two constants as Elasticsearch does (see [`functions::arithmetic`]).
fn fold_arithmetic(op: ArithOp, a: &Literal, b: &Literal, span: Span) -> Result<Literal> {
    functions::arithmetic(op, a, b).map_err(|why| Diagnostic::error(why, span))
}

fn call(name: &str, case_insensitive: bool, args: &[ast::Expr], span: Span) -> Result<Value> {
    let Some(function) = Function::from_name(name) else {
        let lower = name.to_ascii_lowercase();
        if functions::PYTHON_EQL_ONLY.contains(&lower.as_str()) {
            return Err(Diagnostic::error(
                format!("function `{name}` is not supported by Elasticsearch EQL"),
                span,
            )
            .with_note(
                "it exists only in Python eql; use `:`, `like` or `regex` for pattern matching",
            ));
        }
        let known: Vec<&str> = functions::ALL_FUNCTIONS.iter().map(|f| f.name()).collect();
        return Err(
            Diagnostic::error(format!("unknown function `{name}`"), span)
                .with_note(format!("Elasticsearch EQL functions: {}", known.join(", "))),
        );
    };
    if case_insensitive && !function.has_insensitive_variant() {
        return Err(Diagnostic::error(
            format!("`{}` has no case-insensitive `~` variant", function.name()),
            span,
        ));
    }
    let (min, max) = function.arity();
    if args.len() < min || max.is_some_and(|m| args.len() > m) {
        let expected = match max {
            Some(m) if m == min => format!("{min}"),
            Some(m) => format!("{min} to {m}"),
            None => format!("at least {min}"),
        };
        return Err(Diagnostic::error(
            format!(
                "`{}` takes {expected} argument{}, found {}",
                function.name(),
                if expected == "1" { "" } else { "s" },
                args.len()
            ),
            span,
        ));
    }
    let mut values = args.iter().map(value).collect::<Result<Vec<_>>>()?;
    match function {
        Function::CidrMatch => {
            for (arg, v) in args.iter().zip(values.iter_mut()).skip(1) {
                match v.as_literal() {
                    Some(Literal::String(cidr)) if canonical_cidr(cidr).is_some() => {
                        // A bare address means its host block; writing the prefix keeps the
                        // canonical form acceptable to parsers that insist on one.
                        if let Some(block) = canonical_cidr(cidr) {
                            *v = Value::literal(Literal::String(block));
                        }
                    }
                    Some(Literal::String(cidr)) => {
                        return Err(Diagnostic::error(
                            format!("`{cidr}` is not an IP address or CIDR block"),
                            arg.span,
                        ))
                    }
                    _ => {
                        return Err(Diagnostic::error(
                            "`cidrMatch` takes CIDR blocks as string constants",
                            arg.span,
                        ))
                    }
                }
            }
        }
        Function::Between => {
            if let (Some(arg), Some(v)) = (args.get(3), values.get(3)) {
                if !matches!(v.as_literal(), Some(Literal::Bool(_))) {
                    return Err(Diagnostic::error(
                        "the `greedy` argument of `between` must be `true` or `false`",
                        arg.span,
                    ));
                }
            }
        }
        _ => {}
    }
    let case = if case_insensitive {
        Case::Insensitive
    } else {
        Case::Sensitive
    };
    let literals: Option<Vec<Literal>> = values.iter().map(|v| v.as_literal().cloned()).collect();
    if let Some(literals) = literals {
        if let Some(op) = arithmetic_function(function) {
            return fold_arithmetic(op, &literals[0], &literals[1], span).map(Value::literal);
        }
        match functions::fold(function, &literals, case) {
            Ok(Some(folded)) => return Ok(Value::literal(folded)),
            Ok(None) => {}
            Err(message) => return Err(Diagnostic::error(message, span)),
        }
    }
    if let Some(op) = arithmetic_function(function) {
        // `add(a, b)` means `a + b`: one form in the IR.
        let [l, r]: [Value; 2] = values
            .try_into()
            .map_err(|_| Diagnostic::error("internal error: arity", span))?;
        return arithmetic(op, l, r, span);
    }
    Ok(Value::Call(Call {
        function,
        args: values,
        case,
    }))
}

fn arithmetic_function(function: Function) -> Option<ArithOp> {
    Some(match function {
        Function::Add => ArithOp::Add,
        Function::Subtract => ArithOp::Sub,
        Function::Multiply => ArithOp::Mul,
        Function::Divide => ArithOp::Div,
        Function::Modulo => ArithOp::Mod,
        _ => return None,
    })
}

/// An IPv4/IPv6 CIDR block as `address/prefix`, a bare address becoming its host block
/// (`/32` or `/128`); `None` if the text is neither.
fn canonical_cidr(text: &str) -> Option<String> {
    let (address, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let ip = address.parse::<std::net::IpAddr>().ok()?;
    let bits = if ip.is_ipv4() { 32 } else { 128 };
    match prefix {
        None => Some(format!("{address}/{bits}")),
        Some(p) if p.parse::<u8>().is_ok_and(|n| n <= bits) => Some(text.to_string()),
        Some(_) => None,
    }
}
