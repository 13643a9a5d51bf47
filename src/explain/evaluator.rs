//! What the native evaluator compiles a rule to, in words: per condition the matcher chosen
//! (set lookup, wildcard shape, typed date/ip test, script-like computed condition), sequence
//! and sample stages with their join keys, and the keys the engine's field index selects each
//! condition by (see [`crate::eval::prefilter`]).

use std::fmt::Write as _;

use super::paint::Paint;
use crate::eval::condition::{ip_text, Condition, DateResolution, DateSpan, FieldTest};
use crate::eval::prefilter::{requirement, FieldKey, Place};
use crate::eval::run::{CompiledRule, RuleKind};
use crate::eval::sequence::CompiledStage;
use crate::eval::Wildcard;
use crate::ir::{self, print, Case, Category, CompareOp, Literal, Pipe, Query, QueryBody};

/// Long lists are cut to this many items; the canonical EQL above has them all.
const LIST_PREVIEW: usize = 6;

/// The evaluator block of `eqlc explain` for a compiled rule and its IR.
pub fn describe(rule: &CompiledRule, query: &Query, paint: Paint) -> String {
    let mut out = String::new();
    match (&rule.kind, &query.body) {
        (
            RuleKind::Event {
                category,
                condition,
            },
            _,
        ) => {
            let _ = writeln!(
                out,
                "{} {}",
                paint.label("single-event query:"),
                category_name(category)
            );
            unit(&mut out, category, condition, 0, paint);
        }
        (RuleKind::Sequence(matcher), QueryBody::Sequence(sequence)) => {
            let mut head = format!("sequence of {}, in order", stages(sequence.stages.len()));
            if !sequence.by.is_empty() {
                let _ = write!(head, "; shared join keys {}", key_list(&sequence.by));
            }
            match sequence.maxspan {
                Some(span) => {
                    let _ = write!(head, "; maxspan {span} (inclusive)");
                }
                None => head.push_str("; no maxspan"),
            }
            let _ = writeln!(out, "{}", paint.label(&head));
            for (i, (compiled, stage)) in matcher.stages().iter().zip(&sequence.stages).enumerate()
            {
                let mut title = format!("stage {}", i + 1);
                if stage.missing {
                    title.push_str(" (missing event: a match needs no such event here)");
                }
                if stage.runs > 1 {
                    let _ = write!(title, " (runs={}: {0} events in a row)", stage.runs);
                }
                staged(&mut out, &title, compiled, paint);
            }
            if let Some(until) = matcher.until() {
                staged(
                    &mut out,
                    "until (a match ends pending sequences of its keys)",
                    until,
                    paint,
                );
            }
        }
        (RuleKind::Sample(matcher), QueryBody::Sample(sample)) => {
            let mut head = format!(
                "sample of {}, in any order, drawn at the end of input; a missing key joins \
                 as null",
                stages(sample.stages.len())
            );
            if !sample.by.is_empty() {
                let _ = write!(head, "; shared join keys {}", key_list(&sample.by));
            }
            let _ = writeln!(out, "{}", paint.label(&head));
            for (i, compiled) in matcher.stages().iter().enumerate() {
                // A sample reads every key itself, null included, whatever was written.
                let plain = CompiledStage {
                    optional_keys: vec![false; compiled.keys.len()],
                    ..compiled.clone()
                };
                staged(&mut out, &format!("stage {}", i + 1), &plain, paint);
            }
        }
        // `compile_rule` builds the kind from the body, so they always agree.
        _ => out.push_str("(the compiled rule does not match its query)\n"),
    }
    let pipes: Vec<String> = query
        .pipes
        .iter()
        .map(|p| match p {
            Pipe::Head(n) => format!("head {n} (stop after {n} matches)"),
            Pipe::Tail(n) => format!("tail {n} (keep the last {n} matches)"),
        })
        .collect();
    if !pipes.is_empty() {
        let _ = writeln!(out, "{} {}", paint.label("pipes:"), pipes.join(", "));
    }
    out
}

fn stages(n: usize) -> String {
    if n == 1 {
        "1 stage".to_string()
    } else {
        format!("{n} stages")
    }
}

fn key_list(fields: &[ir::Field]) -> String {
    fields
        .iter()
        .map(print::field)
        .collect::<Vec<_>>()
        .join(", ")
}

fn category_name(category: &Category) -> String {
    match category {
        Category::Any => "any category".to_string(),
        Category::Named(name) => format!("category {name}"),
    }
}

/// One stage of a sequence or sample: its title, category, keys, condition and index keys.
fn staged(out: &mut String, title: &str, stage: &CompiledStage, paint: Paint) {
    let _ = writeln!(
        out,
        "{} {}",
        paint.label(&format!("{title}:")),
        category_name(&stage.category)
    );
    if !stage.keys.is_empty() {
        let keys: Vec<String> = stage
            .keys
            .iter()
            .zip(&stage.optional_keys)
            .map(|(k, optional)| {
                if *optional {
                    format!("?{}", k.name())
                } else {
                    k.name().to_string()
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "  {} {}",
            paint.label("join keys:"),
            paint.field(&keys.join(", "))
        );
    }
    unit(out, &stage.category, &stage.condition, 2, paint);
}

/// A condition tested per event: the matcher tree, then its index keys.
fn unit(out: &mut String, category: &Category, condition: &Condition, indent: usize, paint: Paint) {
    let pad = " ".repeat(indent);
    let _ = writeln!(out, "{pad}{}", paint.label("condition:"));
    tree(out, condition, indent + 2, paint);
    let _ = writeln!(out, "{pad}{}", index_keys(category, condition, paint));
    for line in needle_lines(condition) {
        let _ = writeln!(out, "{pad}  {line}");
    }
}

/// The matcher tree of a condition, one test per line.
fn tree(out: &mut String, condition: &Condition, indent: usize, paint: Paint) {
    let pad = " ".repeat(indent);
    match condition {
        Condition::All(operands) | Condition::Any(operands) => {
            let word = if matches!(condition, Condition::All(_)) {
                "all of:"
            } else {
                "any of:"
            };
            let _ = writeln!(out, "{pad}{word}");
            for operand in operands {
                tree(out, operand, indent + 2, paint);
            }
        }
        Condition::Not(operand) => match leaf(operand, paint) {
            Some(line) => {
                let _ = writeln!(out, "{pad}not ({line})");
            }
            None => {
                let _ = writeln!(out, "{pad}not:");
                tree(out, operand, indent + 2, paint);
            }
        },
        other => {
            let line = leaf(other, paint).unwrap_or_default();
            let _ = writeln!(out, "{pad}{line}");
        }
    }
}

/// A condition that fits on one line, described; `None` for `and`/`or`/`not`.
fn leaf(condition: &Condition, paint: Paint) -> Option<String> {
    Some(match condition {
        Condition::Constant(true) => "always true".to_string(),
        Condition::Constant(false) => "never true".to_string(),
        Condition::Field { field, test } => {
            format!("{}: {}", paint.field(field.name()), test_of(test))
        }
        Condition::Missing(field) => format!("{}: missing or null", paint.field(field.name())),
        Condition::Computed { expr, .. } => format!(
            "computed: {} (script-like, 3-valued: null where a field is missing)",
            print::expr(expr)
        ),
        Condition::All(_) | Condition::Any(_) | Condition::Not(_) => return None,
    })
}

fn case_word(case: Case) -> &'static str {
    match case {
        Case::Sensitive => "case-sensitive",
        Case::Insensitive => "case-insensitive",
    }
}

/// A list of items, cut after [`LIST_PREVIEW`] with a count of the rest.
fn preview(items: impl IntoIterator<Item = String>) -> String {
    preview_joined(items, ", ")
}

/// [`preview`] with the items joined by `separator`.
fn preview_joined(items: impl IntoIterator<Item = String>, separator: &str) -> String {
    let items: Vec<String> = items.into_iter().collect();
    let shown = items.len().min(LIST_PREVIEW);
    let mut text = items[..shown].join(separator);
    if items.len() > shown {
        let _ = write!(text, "{separator}… {} more", items.len() - shown);
    }
    text
}

/// What one field test is, as the evaluator runs it.
fn test_of(test: &FieldTest) -> String {
    let has_text = |literals: &[Literal]| literals.iter().any(|l| matches!(l, Literal::String(_)));
    match test {
        FieldTest::Compare(CompareOp::Eq, literal @ Literal::String(_), case) => {
            format!("equals {} ({})", print::literal(literal), case_word(*case))
        }
        FieldTest::Compare(op, literal @ Literal::String(_), case) => format!(
            "{} {} (text order, {})",
            op.symbol(),
            print::literal(literal),
            case_word(*case)
        ),
        FieldTest::Compare(op, literal, _) => {
            format!("{} {}", op.symbol(), print::literal(literal))
        }
        FieldTest::OneOf(literals, case) => {
            let values = preview(literals.iter().map(print::literal));
            let case = if has_text(literals) {
                format!(", {}", case_word(*case))
            } else {
                String::new()
            };
            match literals.len() {
                1 => format!("equals {values} (in a list{case})"),
                n => format!("one of {n} values (list scan{case}): {values}"),
            }
        }
        FieldTest::OneOfMany(set) => format!(
            "one of {} texts (hash set, {})",
            set.literals.len(),
            case_word(set.case())
        ),
        FieldTest::Like(wildcards) => {
            let case = wildcards.first().map_or(Case::Sensitive, |w| {
                if w.case_insensitive() {
                    Case::Insensitive
                } else {
                    Case::Sensitive
                }
            });
            match wildcards.as_slice() {
                [one] => format!("wildcard {} ({})", shape(one), case_word(case)),
                many => format!(
                    "any of {} wildcards ({}): {}",
                    many.len(),
                    case_word(case),
                    preview(many.iter().map(shape))
                ),
            }
        }
        FieldTest::Regex(regexes) => {
            let shown = preview(regexes.iter().map(|r| format!("/{}/", r.as_str())));
            match regexes.len() {
                1 => format!("regex {shown} (whole value)"),
                n => format!("any of {n} regexes (whole value): {shown}"),
            }
        }
        FieldTest::Cidr(nets) => {
            format!("address in {}", preview(nets.iter().map(|n| n.to_string())))
        }
        FieldTest::IsTrue => "is true".to_string(),
        FieldTest::Date(op, spans, resolution) => {
            let unit = match resolution {
                DateResolution::Millis => "millisecond",
                DateResolution::Nanos => "nanosecond",
            };
            // An order compares with one end of the constant's span, as the range query does.
            let what = match (op, spans.as_slice()) {
                (CompareOp::Lt | CompareOp::Ge, [span]) => {
                    format!("date {} {}", op.symbol(), instant(span.first))
                }
                (CompareOp::Le | CompareOp::Gt, [span]) => {
                    format!("date {} {}", op.symbol(), instant(span.last))
                }
                _ => format!("date within {}", preview(spans.iter().map(date_span))),
            };
            format!("{what} (as instants, {unit} resolution)")
        }
        FieldTest::IpIn(blocks) => format!(
            "address equal to or in {} (as addresses)",
            preview(blocks.iter().map(|b| b.to_string()))
        ),
        FieldTest::IpOrder(op, bits) => {
            format!("address {} {} (as addresses)", op.symbol(), ip_text(*bits))
        }
    }
}

/// The test a wildcard compiled to: `exact "x"`, `prefix "x"`, `suffix "x"`, `contains "x"`,
/// `pattern "a*b?c"` for the general matcher, or `any value` for `*` (literals as compared, so
/// lower-cased when case-insensitive).
fn shape(wildcard: &Wildcard) -> String {
    let (verb, text) = wildcard.test();
    let literal = print::string_literal(&text);
    match verb {
        "equals" => format!("exact {literal}"),
        "starts with" if text.is_empty() => "any value".to_string(),
        "starts with" => format!("prefix {literal}"),
        "ends with" => format!("suffix {literal}"),
        "contains" => format!("contains {literal}"),
        _ => format!("pattern {literal}"),
    }
}

/// An instant (nanoseconds since the epoch) in RFC 3339.
fn instant(nanos: i128) -> String {
    jiff::Timestamp::from_nanosecond(nanos)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("{nanos} ns since the epoch"))
}

/// A date span as `first..last`, or one instant when they agree.
fn date_span(span: &DateSpan) -> String {
    if span.first == span.last {
        instant(span.first)
    } else {
        format!("{}..{}", instant(span.first), instant(span.last))
    }
}

/// The headline of a condition's index keys.
fn index_keys(category: &Category, condition: &Condition, paint: Paint) -> String {
    let label = paint.label("index keys:");
    let scope = match category {
        Category::Any => "any category".to_string(),
        Category::Named(name) => format!("category {name}"),
    };
    let clauses = requirement(condition).keys;
    if clauses.is_empty() {
        let every = match category {
            Category::Any => "every event".to_string(),
            Category::Named(name) => format!("every {name} event"),
        };
        return format!("{label} {scope}; no literal requirement, so {every} is tested");
    }
    if clauses.iter().any(Vec::is_empty) {
        return format!("{label} {scope}; the condition can never hold, so no event is tested");
    }
    format!("{label} {scope}; tested only on events where (ignoring case):")
}

/// One line per clause of the field index's requirement (every clause is required; any one
/// key of a clause satisfies it).
fn needle_lines(condition: &Condition) -> Vec<String> {
    let clauses = requirement(condition).keys;
    if clauses.iter().any(Vec::is_empty) {
        return Vec::new();
    }
    clauses
        .iter()
        .enumerate()
        .map(|(i, clause)| {
            let text = preview_keys(clause);
            if i == 0 {
                text
            } else {
                format!("and {text}")
            }
        })
        .collect()
}

/// A clause's keys in words: `process.name` is "a" or "b", or `x` contains "c".
fn preview_keys(clause: &[FieldKey]) -> String {
    // Keys of one field and place read as one phrase with their texts joined by "or".
    let mut phrases: Vec<(String, Vec<String>)> = Vec::new();
    for key in clause {
        let head = match key.place {
            Place::Present => format!("`{}` has a value", key.field.name()),
            Place::Whole => format!("`{}` is", key.field.name()),
            Place::Start => format!("`{}` starts with", key.field.name()),
            Place::End => format!("`{}` ends with", key.field.name()),
            Place::Anywhere => format!("`{}` contains", key.field.name()),
        };
        let text = (key.place != Place::Present)
            .then(|| print::literal(&Literal::String(key.text.clone())));
        match phrases.last_mut() {
            Some((last, texts)) if *last == head => texts.extend(text),
            _ => phrases.push((head, text.into_iter().collect())),
        }
    }
    let phrases = phrases.into_iter().map(|(head, texts)| {
        if texts.is_empty() {
            head
        } else {
            format!("{head} {}", preview_joined(texts, " or "))
        }
    });
    preview_joined(phrases, ", or ")
}
