//! pest pairs → AST, rejecting what Elasticsearch's parser rejects.

use pest::iterators::Pair;

use super::ast::*;
use super::{Rule, MAX_EXPRESSION_DEPTH};
use crate::diagnostic::Diagnostic;
use crate::source::Span;

type Result<T> = std::result::Result<T, Diagnostic>;

fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

/// "`X` is not supported by Elasticsearch EQL", the message for every legacy construct.
fn unsupported(what: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("{what} is not supported by Elasticsearch EQL"),
        span,
    )
}

/// A pair the grammar guarantees; its absence is an internal error, reported, not panicked on.
fn expect_next<'i>(
    inner: &mut impl Iterator<Item = Pair<'i, Rule>>,
    what: &str,
    span: Span,
) -> Result<Pair<'i, Rule>> {
    inner
        .next()
        .ok_or_else(|| Diagnostic::error(format!("internal error: missing {what}"), span))
}

pub(super) fn statement(pair: Pair<'_, Rule>) -> Result<Statement> {
    let span = span_of(&pair);
    let mut query = None;
    let mut pipes = Vec::new();
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::event_query => {
                let filter = p.into_inner().next();
                let filter = filter.ok_or_else(|| Diagnostic::error("internal error", span))?;
                query = Some(Query::Event(event_filter(filter)?));
            }
            Rule::sequence => query = Some(Query::Sequence(sequence(p)?)),
            Rule::sample => query = Some(Query::Sample(sample(p)?)),
            Rule::join => {
                let kw = span_of(&p);
                let kw = Span::new(kw.start, kw.start + 4);
                return Err(unsupported("`join`", kw)
                    .with_note("write the query as a `sequence`, which Elasticsearch supports"));
            }
            Rule::pipe => pipes.push(pipe(p)?),
            _ => {}
        }
    }
    let query = query.ok_or_else(|| Diagnostic::error("expected a query", span))?;
    Ok(Statement { query, pipes, span })
}

fn event_filter(pair: Pair<'_, Rule>) -> Result<EventFilter> {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let category_pair = expect_next(&mut inner, "event category", span)?;
    let category_span = span_of(&category_pair);
    let category = match category_pair.into_inner().next() {
        Some(p) if p.as_rule() == Rule::kw_any => None,
        Some(p) if p.as_rule() == Rule::string => Some(string(p)?),
        Some(p) => Some(p.as_str().to_string()),
        None => {
            return Err(Diagnostic::error(
                "expected an event category",
                category_span,
            ))
        }
    };
    let _where = expect_next(&mut inner, "`where`", span)?;
    let condition = expr(expect_next(&mut inner, "condition", span)?, 0)?;
    Ok(EventFilter {
        category,
        category_span,
        condition,
        span,
    })
}

fn sequence(pair: Pair<'_, Rule>) -> Result<Sequence> {
    let mut seq = Sequence {
        by: Vec::new(),
        maxspan: None,
        stages: Vec::new(),
        until: None,
    };
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::join_keys => seq.by = join_keys(p)?,
            Rule::sequence_params => {
                let span = span_of(&p);
                let ts = p.into_inner().find(|p| p.as_rule() == Rule::time_span);
                let ts = ts.ok_or_else(|| Diagnostic::error("expected a time span", span))?;
                seq.maxspan = Some(time_span(ts)?);
            }
            Rule::misplaced_by => {
                return Err(Diagnostic::error(
                    "`by` must come before `with maxspan`, not after",
                    span_of(&p),
                )
                .with_note("write `sequence by <keys> with maxspan=<span>`"))
            }
            Rule::sequence_term => seq.stages.push(stage(p)?),
            Rule::until_clause => {
                let span = span_of(&p);
                let term = p.into_inner().find(|p| p.as_rule() == Rule::sequence_term);
                let term = term.ok_or_else(|| Diagnostic::error("expected a stage", span))?;
                seq.until = Some(stage(term)?);
            }
            _ => {}
        }
    }
    Ok(seq)
}

fn sample(pair: Pair<'_, Rule>) -> Result<Sample> {
    let mut sample = Sample {
        by: Vec::new(),
        stages: Vec::new(),
    };
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::join_keys => sample.by = join_keys(p)?,
            Rule::join_term => sample.stages.push(stage(p)?),
            _ => {}
        }
    }
    Ok(sample)
}

/// A `sequence_term` or `join_term`.
fn stage(pair: Pair<'_, Rule>) -> Result<Stage> {
    let span = span_of(&pair);
    let mut stage = None;
    let mut by = Vec::new();
    let mut runs = None;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::subquery => {
                let sub_span = span_of(&p);
                let mut missing = false;
                let mut filter = None;
                for q in p.into_inner() {
                    match q.as_rule() {
                        Rule::missing_open => missing = true,
                        Rule::event_filter => filter = Some(event_filter(q)?),
                        _ => {}
                    }
                }
                let filter = filter
                    .ok_or_else(|| Diagnostic::error("expected an event filter", sub_span))?;
                stage = Some((filter, missing));
            }
            Rule::join_keys => by = join_keys(p)?,
            Rule::stage_option => {
                let opt_span = span_of(&p);
                let mut inner = p.into_inner();
                let _with = expect_next(&mut inner, "`with`", opt_span)?;
                let key = expect_next(&mut inner, "option name", opt_span)?;
                let value = expect_next(&mut inner, "option value", opt_span)?;
                if key.as_str() != "runs" {
                    return Err(Diagnostic::error(
                        format!("unknown stage option `{}`, expected `runs`", key.as_str()),
                        span_of(&key),
                    ));
                }
                runs = Some(positive_integer(&value, "`runs`")?);
            }
            _ => {}
        }
    }
    let (filter, missing) = stage.ok_or_else(|| Diagnostic::error("expected a stage", span))?;
    Ok(Stage {
        filter,
        missing,
        by,
        runs,
        span,
    })
}

fn join_keys(pair: Pair<'_, Rule>) -> Result<Vec<Expr>> {
    pair.into_inner()
        .filter(|p| p.as_rule() == Rule::expr)
        .map(|p| expr(p, 0))
        .collect()
}

fn time_span(pair: Pair<'_, Rule>) -> Result<TimeSpan> {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let number = expect_next(&mut inner, "number", span)?;
    let value = positive_integer(&number, "`maxspan`")?;
    let unit = match inner.next() {
        None => {
            return Err(Diagnostic::error("`maxspan` needs a time unit", span)
                .with_note("expected one of `ms`, `s`, `m`, `h`, `d`, e.g. `maxspan=30s`"))
        }
        Some(u) => match u.as_str() {
            "ms" => TimeUnit::Milliseconds,
            "s" => TimeUnit::Seconds,
            "m" => TimeUnit::Minutes,
            "h" => TimeUnit::Hours,
            "d" => TimeUnit::Days,
            other => {
                return Err(
                    Diagnostic::error(format!("unknown time unit `{other}`"), span_of(&u))
                        .with_note("expected one of `ms`, `s`, `m`, `h`, `d`"),
                )
            }
        },
    };
    if value.checked_mul(unit.millis()).is_none() {
        return Err(Diagnostic::error("`maxspan` is too large", span));
    }
    Ok(TimeSpan { value, unit, span })
}

fn positive_integer(pair: &Pair<'_, Rule>, what: &str) -> Result<u64> {
    let text = pair.as_str();
    match text.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(Diagnostic::error(
            format!("{what} must be a positive whole number, found `{text}`"),
            span_of(pair),
        )),
    }
}

fn pipe(pair: Pair<'_, Rule>) -> Result<Pipe> {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let name = expect_next(&mut inner, "pipe name", span)?;
    let kind = match name.as_str() {
        "head" => PipeKind::Head,
        "tail" => PipeKind::Tail,
        other => {
            return Err(unsupported(&format!("the `{other}` pipe"), span_of(&name))
                .with_note("Elasticsearch EQL supports only `| head N` and `| tail N`"))
        }
    };
    let args: Vec<Pair<'_, Rule>> = inner
        .next()
        .map(|a| a.into_inner().collect())
        .unwrap_or_default();
    let count = match args.as_slice() {
        [arg] => match expr(arg.clone(), 0)? {
            Expr {
                kind: ExprKind::Literal(Literal::Integer(n)),
                ..
            } => n.unsigned_abs(),
            other => {
                return Err(Diagnostic::error(
                    format!("`{}` needs a non-negative whole number", name.as_str()),
                    other.span,
                ))
            }
        },
        _ => {
            return Err(Diagnostic::error(
                format!("`{}` takes exactly one number", name.as_str()),
                span,
            ))
        }
    };
    Ok(Pipe { kind, count, span })
}

// ------------------------------------------------------------------ expressions

fn too_deep(span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("expression nested too deeply (more than {MAX_EXPRESSION_DEPTH} levels)"),
        span,
    )
}

fn check_depth(depth: usize, span: Span) -> Result<()> {
    if depth > MAX_EXPRESSION_DEPTH {
        Err(too_deep(span))
    } else {
        Ok(())
    }
}

/// Any expression rule; `depth` is the nesting so far.
fn expr(pair: Pair<'_, Rule>, depth: usize) -> Result<Expr> {
    // A level with a single operand and no operator (a parenthesised operand goes through eleven
    // of them) is descended in this loop, not by recursion: the stack then grows with brackets,
    // not with grammar levels. Recursing through each made 14 nested parentheses overflow a 2 MB
    // thread stack in a debug build. Depths count as if each level recursed.
    let (mut pair, mut depth) = (pair, depth);
    loop {
        check_depth(depth, span_of(&pair))?;
        let step = match pair.as_rule() {
            Rule::expr
            | Rule::paren
            | Rule::or_expr
            | Rule::and_expr
            | Rule::comparison
            | Rule::arith
            | Rule::term
            | Rule::postfix => 1,
            Rule::not_expr | Rule::unary | Rule::primary => 0,
            _ => break,
        };
        let mut inner = pair.clone().into_inner();
        match (inner.next(), inner.next()) {
            (Some(only), None) if only.as_rule() != Rule::relationship => {
                pair = only;
                depth += step;
            }
            _ => break,
        }
    }
    let span = span_of(&pair);
    match pair.as_rule() {
        Rule::expr | Rule::paren => {
            let inner = expect_next(&mut pair.into_inner(), "expression", span)?;
            expr(inner, depth + 1)
        }
        Rule::or_expr | Rule::and_expr => {
            let is_or = pair.as_rule() == Rule::or_expr;
            let operands: Vec<Expr> = pair
                .into_inner()
                .filter(|p| !matches!(p.as_rule(), Rule::kw_or | Rule::kw_and))
                .map(|p| expr(p, depth + 1))
                .collect::<Result<_>>()?;
            Ok(flatten_logic(operands, is_or, span))
        }
        Rule::not_expr => {
            let mut nots = Vec::new();
            let mut operand = None;
            for p in pair.into_inner() {
                match p.as_rule() {
                    Rule::kw_not => nots.push(span_of(&p)),
                    Rule::relationship => {
                        let name = p.as_str().split_whitespace().next().unwrap_or("");
                        return Err(unsupported(&format!("`{name} of`"), span_of(&p))
                            .with_note("relationship queries (`descendant of`, `child of`, `event of`) are Python eql only"));
                    }
                    _ => operand = Some(p),
                }
            }
            check_depth(depth + nots.len(), span)?;
            let operand =
                operand.ok_or_else(|| Diagnostic::error("expected an expression", span))?;
            let mut e = expr(operand, depth + nots.len())?;
            for not_span in nots.into_iter().rev() {
                let span = not_span.to(e.span);
                e = Expr {
                    kind: ExprKind::Not {
                        operand: Box::new(e),
                    },
                    span,
                };
            }
            Ok(e)
        }
        Rule::comparison => comparison(pair, depth),
        Rule::arith | Rule::term => {
            let mut inner = pair.into_inner();
            let first = expect_next(&mut inner, "operand", span)?;
            let mut left = expr(first, depth + 1)?;
            let mut level = depth;
            while let Some(op) = inner.next() {
                level += 1;
                check_depth(level, span_of(&op))?;
                let op = match op.as_str() {
                    "+" => ArithOp::Add,
                    "-" => ArithOp::Sub,
                    "*" => ArithOp::Mul,
                    "/" => ArithOp::Div,
                    _ => ArithOp::Mod,
                };
                let right = expr(expect_next(&mut inner, "operand", span)?, depth + 1)?;
                let span = left.span.to(right.span);
                left = Expr {
                    kind: ExprKind::Arithmetic {
                        op,
                        left: Box::new(left),
                        right: Box::new(right),
                    },
                    span,
                };
            }
            Ok(left)
        }
        Rule::unary => {
            let mut signs = Vec::new();
            let mut operand = None;
            for p in pair.into_inner() {
                match p.as_rule() {
                    Rule::sign => signs.push((p.as_str() == "-", span_of(&p))),
                    _ => operand = Some(p),
                }
            }
            check_depth(depth + signs.len(), span)?;
            let operand = operand.ok_or_else(|| Diagnostic::error("expected a value", span))?;
            let mut e = expr(operand, depth + signs.len())?;
            for (negative, sign_span) in signs.into_iter().rev() {
                if negative {
                    let span = sign_span.to(e.span);
                    e = Expr {
                        kind: ExprKind::Negate {
                            operand: Box::new(e),
                        },
                        span,
                    };
                }
            }
            Ok(e)
        }
        Rule::postfix => postfix(pair, depth),
        Rule::primary => {
            let inner = expect_next(&mut pair.into_inner(), "value", span)?;
            expr(inner, depth)
        }
        Rule::constant => constant(pair),
        Rule::function_call => call(pair, depth),
        Rule::field => field(pair),
        other => Err(Diagnostic::error(
            format!("internal error: unexpected {other:?}"),
            span,
        )),
    }
}

fn flatten_logic(operands: Vec<Expr>, is_or: bool, span: Span) -> Expr {
    let mut operands = operands;
    if operands.len() == 1 {
        return operands.remove(0);
    }
    let kind = if is_or {
        ExprKind::Or { operands }
    } else {
        ExprKind::And { operands }
    };
    Expr { kind, span }
}

fn comparison(pair: Pair<'_, Rule>, depth: usize) -> Result<Expr> {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let left = expr(expect_next(&mut inner, "operand", span)?, depth + 1)?;
    let Some(op) = inner.next() else {
        return Ok(left);
    };
    let op_span = span_of(&op);
    let op = match op.as_str() {
        "==" => CompareOp::Eq,
        "!=" => CompareOp::NotEq,
        "<" => CompareOp::Lt,
        "<=" => CompareOp::Le,
        ">" => CompareOp::Gt,
        ">=" => CompareOp::Ge,
        _ => {
            return Err(Diagnostic::error("`=` is not an EQL operator", op_span)
                .with_label("use `==` (or `:` for case-insensitive matching)"))
        }
    };
    let right = expr(expect_next(&mut inner, "operand", span)?, depth + 1)?;
    Ok(Expr {
        kind: ExprKind::Compare {
            op,
            left: Box::new(left),
            right: Box::new(right),
        },
        span,
    })
}

fn postfix(pair: Pair<'_, Rule>, depth: usize) -> Result<Expr> {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let value = expr(expect_next(&mut inner, "value", span)?, depth + 1)?;
    let Some(predicate) = inner.next() else {
        return Ok(value);
    };
    let predicate = expect_next(&mut predicate.into_inner(), "predicate", span)?;
    match predicate.as_rule() {
        Rule::in_predicate => {
            let mut negated = false;
            let mut case_insensitive = false;
            let mut list = Vec::new();
            for p in predicate.into_inner() {
                match p.as_rule() {
                    Rule::kw_not => negated = true,
                    Rule::kw_in_insensitive => case_insensitive = true,
                    Rule::kw_in => {}
                    _ => list.push(expr(p, depth + 1)?),
                }
            }
            Ok(Expr {
                kind: ExprKind::In {
                    value: Box::new(value),
                    list,
                    negated,
                    case_insensitive,
                },
                span,
            })
        }
        _ => {
            let mut inner = predicate.into_inner();
            let op_pair = expect_next(&mut inner, "operator", span)?;
            let op = match op_pair.as_str() {
                ":" => MatchOp::Colon,
                "like" => MatchOp::Like,
                "like~" => MatchOp::LikeInsensitive,
                "regex" => MatchOp::Regex,
                _ => MatchOp::RegexInsensitive,
            };
            let rhs = expect_next(&mut inner, "pattern", span)?;
            let patterns = match rhs.as_rule() {
                Rule::constant_list => {
                    rhs.into_inner().map(constant).collect::<Result<Vec<_>>>()?
                }
                Rule::constant => vec![constant(rhs)?],
                _ => {
                    let rhs_span = span_of(&rhs);
                    let what = op_pair.as_str();
                    return Err(Diagnostic::error(
                        format!("`{what}` must be followed by a constant or a parenthesised list of constants"),
                        rhs_span,
                    )
                    .with_label("not a constant")
                    .with_note("comparing a field with another field or expression is not supported by Elasticsearch EQL"));
                }
            };
            Ok(Expr {
                kind: ExprKind::Match {
                    op,
                    value: Box::new(value),
                    patterns,
                },
                span,
            })
        }
    }
}

fn call(pair: Pair<'_, Rule>, depth: usize) -> Result<Expr> {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let name = expect_next(&mut inner, "function name", span)?.as_str();
    let (name, case_insensitive) = match name.strip_suffix('~') {
        Some(n) => (n.to_string(), true),
        None => (name.to_string(), false),
    };
    let args = inner
        .map(|p| expr(p, depth + 1))
        .collect::<Result<Vec<_>>>()?;
    Ok(Expr {
        kind: ExprKind::Call {
            name,
            case_insensitive,
            args,
        },
        span,
    })
}

fn field(pair: Pair<'_, Rule>) -> Result<Expr> {
    let span = span_of(&pair);
    let mut segments = Vec::new();
    let mut optional = false;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::optional_marker => optional = true,
            Rule::plain_segment => segments.push(p.as_str().to_string()),
            Rule::quoted_identifier => {
                let raw = p.as_str();
                let body = raw.get(1..raw.len().saturating_sub(1)).unwrap_or("");
                segments.push(body.replace("``", "`"));
            }
            Rule::array_index => {
                return Err(unsupported("array indexing", span_of(&p)).with_note(
                    "a condition on an array field already holds if any element satisfies it",
                ))
            }
            Rule::method_call => {
                let method = p.as_str().trim_start_matches(':');
                let method = method.split('(').next().unwrap_or(method);
                return Err(unsupported("method syntax `field:function()`", span_of(&p))
                    .with_note(format!("call the function instead: `{method}(...)`")));
            }
            _ => {}
        }
    }
    Ok(Expr {
        kind: ExprKind::Field(FieldRef { segments, optional }),
        span,
    })
}

fn constant(pair: Pair<'_, Rule>) -> Result<Expr> {
    let span = span_of(&pair);
    let inner = expect_next(&mut pair.into_inner(), "constant", span)?;
    let literal = match inner.as_rule() {
        Rule::kw_null => Literal::Null,
        Rule::kw_true => Literal::Bool(true),
        Rule::kw_false => Literal::Bool(false),
        Rule::number => number(&inner)?,
        Rule::string => Literal::String(string(inner)?),
        other => {
            return Err(Diagnostic::error(
                format!("internal error: unexpected {other:?}"),
                span,
            ))
        }
    };
    Ok(Expr {
        kind: ExprKind::Literal(literal),
        span,
    })
}

fn number(pair: &Pair<'_, Rule>) -> Result<Literal> {
    let text = pair.as_str();
    let is_integer = text.bytes().all(|b| b.is_ascii_digit());
    if is_integer {
        if let Ok(n) = text.parse::<i64>() {
            return Ok(Literal::Integer(n));
        }
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Literal::Float(f)),
        _ => Err(Diagnostic::error(
            format!("number `{text}` is too large"),
            span_of(pair),
        )),
    }
}

/// Decode a `string` pair into its value.
fn string(pair: Pair<'_, Rule>) -> Result<String> {
    let span = span_of(&pair);
    let inner = expect_next(&mut pair.into_inner(), "string", span)?;
    match inner.as_rule() {
        Rule::triple_string => {
            let body = expect_next(&mut inner.into_inner(), "string body", span)?;
            Ok(body.as_str().to_string())
        }
        Rule::double_string => {
            let body = expect_next(&mut inner.into_inner(), "string body", span)?;
            unescape(body.as_str(), span_of(&body).start)
        }
        Rule::single_string => Err(Diagnostic::error(
            "single-quoted strings are not supported by Elasticsearch EQL",
            span,
        )
        .with_label("use double quotes: \"...\"")),
        _ => Err(Diagnostic::error(
            "`?\"...\"` raw strings are not supported by Elasticsearch EQL",
            span,
        )
        .with_label("use triple double quotes for unescaped text: \"\"\"...\"\"\"")),
    }
}

/// Decode the escapes Elasticsearch accepts in double-quoted strings.
fn unescape(body: &str, offset: usize) -> Result<String> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else {
            return Err(Diagnostic::error(
                "string ends with a lone backslash",
                Span::new(offset + i, offset + i + 1),
            ));
        };
        match e {
            't' => out.push('\t'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            '\\' => out.push('\\'),
            'u' => {
                let start = offset + i;
                let bad = |end: usize| {
                    Diagnostic::error("invalid unicode escape", Span::new(start, end))
                        .with_label("expected `\\u{` then 2 to 8 hex digits then `}`")
                };
                if chars.next().map(|(_, c)| c) != Some('{') {
                    return Err(bad(start + 2));
                }
                let mut hex = String::new();
                let mut closed = false;
                for (_, h) in chars.by_ref() {
                    if h == '}' {
                        closed = true;
                        break;
                    }
                    hex.push(h);
                    if hex.len() > 8 {
                        break;
                    }
                }
                let end = start + 3 + hex.len() + usize::from(closed);
                if !closed || hex.len() < 2 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                    return Err(bad(end));
                }
                let code = u32::from_str_radix(&hex, 16).map_err(|_| bad(end))?;
                let ch = char::from_u32(code).ok_or_else(|| {
                    Diagnostic::error(
                        format!("`\\u{{{hex}}}` is not a valid unicode character"),
                        Span::new(start, end),
                    )
                })?;
                out.push(ch);
            }
            other => {
                let start = offset + i;
                return Err(Diagnostic::error(
                    format!("invalid escape sequence `\\{other}`"),
                    Span::new(start, start + 1 + other.len_utf8()),
                )
                .with_note(
                    "valid escapes: \\t \\n \\r \\b \\f \\\" \\' \\\\ \\u{XXXX}; use \"\"\"...\"\"\" for text with literal backslashes",
                ));
            }
        }
    }
    Ok(out)
}
