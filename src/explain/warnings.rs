//! Warnings worth a rule author's attention, placed in the query text (query coordinates; the
//! caller maps them into the document):
//! - a pattern starting with a wildcard on a field with long, mostly unique values;
//! - `==`/`!=` with a literal that has letters, on a field whose data varies in case;
//! - a `*` in `==`/`!=`/`in`, which those operators compare literally;
//! - ECS fields that have only an approximate Sigma field, or none;
//! - where in the query the construct Sigma cannot express stands.
//!
//! The field lists are data (`data/explain-fields.yaml`), so they grow without code changes.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::backend::sigma::{logsource, FieldMap};
use crate::diagnostic::Diagnostic;
use crate::document::Rule;
use crate::ir::{self, QueryBody};
use crate::source::Span;
use crate::syntax::ast::{
    CompareOp, EventFilter, Expr, ExprKind, FieldRef, Literal, MatchOp, Query, Statement,
};

const TABLES: &str = include_str!("../../data/explain-fields.yaml");

/// The field tables behind the warnings. A name ending in `.` covers every field under it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldTables {
    /// Fields where a leading wildcard makes Elasticsearch walk (nearly) one term per event.
    pub large_text_fields: Vec<String>,
    /// Fields whose data varies in case, where `==` probably should be `:`.
    pub case_varying_fields: Vec<String>,
    /// ECS fields with only an approximate Sigma field.
    pub sigma_approximate: BTreeMap<String, Approximate>,
    /// Fields a Sigma rule expresses through its logsource: no mapping warning.
    pub sigma_logsource_fields: Vec<String>,
}

/// The Sigma field an ECS field corresponds to only approximately, and why.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approximate {
    /// What a Sigma author would write.
    pub sigma: String,
    /// Why it is not the same.
    pub why: String,
}

impl FieldTables {
    /// Tables from YAML of the shape of `data/explain-fields.yaml`.
    pub fn from_yaml(text: &str) -> Result<FieldTables, String> {
        yaml_serde::from_str(text).map_err(|e| e.to_string())
    }

    /// The embedded tables, parsed once.
    pub fn embedded() -> &'static FieldTables {
        static TABLES_ONCE: std::sync::OnceLock<FieldTables> = std::sync::OnceLock::new();
        // The embedded file is tested to load; were it broken, no field would be listed.
        TABLES_ONCE.get_or_init(|| FieldTables::from_yaml(TABLES).unwrap_or_default())
    }

    fn approximate(&self, field: &str) -> Option<&Approximate> {
        self.sigma_approximate
            .iter()
            .find(|(name, _)| covers(name, field))
            .map(|(_, a)| a)
    }
}

/// Whether table entry `entry` names `field` (exactly, or as a prefix ending in `.`).
fn covers(entry: &str, field: &str) -> bool {
    entry == field || (entry.ends_with('.') && field.starts_with(entry))
}

fn listed(list: &[String], field: &str) -> bool {
    list.iter().any(|entry| covers(entry, field))
}

/// Every expression node of the query, in source order, with the event filter it sits in
/// (`None` for join keys).
fn nodes(statement: &Statement) -> Vec<(&Expr, Option<&EventFilter>)> {
    fn walk<'a>(
        e: &'a Expr,
        filter: Option<&'a EventFilter>,
        out: &mut Vec<(&'a Expr, Option<&'a EventFilter>)>,
    ) {
        out.push((e, filter));
        match &e.kind {
            ExprKind::Or { operands } | ExprKind::And { operands } => {
                operands.iter().for_each(|o| walk(o, filter, out))
            }
            ExprKind::Not { operand } | ExprKind::Negate { operand } => walk(operand, filter, out),
            ExprKind::Compare { left, right, .. } | ExprKind::Arithmetic { left, right, .. } => {
                walk(left, filter, out);
                walk(right, filter, out);
            }
            ExprKind::In { value, list, .. } => {
                walk(value, filter, out);
                list.iter().for_each(|l| walk(l, filter, out));
            }
            ExprKind::Match {
                value, patterns, ..
            } => {
                walk(value, filter, out);
                patterns.iter().for_each(|p| walk(p, filter, out));
            }
            ExprKind::Call { args, .. } => args.iter().for_each(|a| walk(a, filter, out)),
            ExprKind::Field(_) | ExprKind::Literal(_) => {}
        }
    }
    let mut out = Vec::new();
    match &statement.query {
        Query::Event(filter) => walk(&filter.condition, Some(filter), &mut out),
        Query::Sequence(sequence) => {
            sequence.by.iter().for_each(|k| walk(k, None, &mut out));
            for stage in sequence.stages.iter().chain(&sequence.until) {
                walk(&stage.filter.condition, Some(&stage.filter), &mut out);
                stage.by.iter().for_each(|k| walk(k, None, &mut out));
            }
        }
        Query::Sample(sample) => {
            sample.by.iter().for_each(|k| walk(k, None, &mut out));
            for stage in &sample.stages {
                walk(&stage.filter.condition, Some(&stage.filter), &mut out);
                stage.by.iter().for_each(|k| walk(k, None, &mut out));
            }
        }
    }
    out
}

fn field_of(e: &Expr) -> Option<&FieldRef> {
    match &e.kind {
        ExprKind::Field(f) => Some(f),
        _ => None,
    }
}

fn string_of(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Literal(Literal::String(s)) => Some(s),
        _ => None,
    }
}

/// The author warnings of a query (`text` is the query the AST was parsed from).
///
/// `rule` gives the platform: on a rule for Linux or macOS hosts only (a filter requires
/// `host.os.type` to be one of them, or its tags name only those systems) names keep their
/// case, so `==` is no slip there.
pub fn author_warnings(
    statement: &Statement,
    text: &str,
    tables: &FieldTables,
    rule: &Rule,
) -> Vec<Diagnostic> {
    let mut warnings = Vec::new();
    let all = nodes(statement);
    let cased_names = all
        .iter()
        .filter_map(|(_, filter)| *filter)
        .any(case_sensitive_platform)
        || tagged_for_cased_systems(rule);
    for (node, _) in all {
        match &node.kind {
            ExprKind::Match {
                op: MatchOp::Colon | MatchOp::Like | MatchOp::LikeInsensitive,
                value,
                patterns,
            } => {
                if let Some(w) = leading_wildcard(value, patterns, tables) {
                    warnings.push(w);
                }
            }
            ExprKind::Call { name, args, .. } => {
                if let Some(w) = leading_wildcard_call(name, args, tables) {
                    warnings.push(w);
                }
            }
            ExprKind::Compare {
                op: op @ (CompareOp::Eq | CompareOp::NotEq),
                left,
                right,
            } => {
                let (field, literal) = match (field_of(left), field_of(right)) {
                    (Some(f), None) => (f, right.as_ref()),
                    (None, Some(f)) => (f, left.as_ref()),
                    _ => continue,
                };
                let Some(value) = string_of(literal) else {
                    continue;
                };
                let symbol = if *op == CompareOp::Eq { "==" } else { "!=" };
                if value.contains('*') {
                    warnings.push(star_in_equality(symbol, field, value, literal.span));
                } else if value.chars().any(char::is_alphabetic)
                    && listed(&tables.case_varying_fields, &field.name())
                    && !cased_names
                {
                    let at =
                        operator_span(text, left.span, right.span, symbol).unwrap_or(node.span);
                    warnings.push(case_sensitive_equality(symbol, field, value, at));
                }
            }
            ExprKind::In {
                value,
                list,
                negated,
                case_insensitive,
            } => {
                if let Some(star) = list
                    .iter()
                    .find(|l| string_of(l).is_some_and(|s| s.contains('*')))
                {
                    let named = field_of(value).map(FieldRef::name);
                    let field = named.clone().unwrap_or_else(|| "value".into());
                    let list_of = match &named {
                        Some(name) => format!("a list for `{name}`"),
                        None => "a list".to_string(),
                    };
                    let op = match (negated, case_insensitive) {
                        (false, false) => "in",
                        (false, true) => "in~",
                        (true, false) => "not in",
                        (true, true) => "not in~",
                    };
                    let suggestion = if *negated {
                        format!("`not {field} : (...)`")
                    } else {
                        format!("`{field} : (...)` or `{field} like (...)`")
                    };
                    warnings.push(
                        Diagnostic::warning(
                            format!("`{op}` does not expand wildcards: `*` in {list_of} matches only a literal asterisk"),
                            star.span,
                        )
                        .with_label("compared literally")
                        .with_note(format!("to match patterns, write {suggestion}"))
                        .with_note(LITERAL_STAR),
                    );
                }
            }
            _ => {}
        }
    }
    warnings
}

/// A `:`/`like`/`like~` on a large field with a pattern that begins with a wildcard.
fn leading_wildcard(value: &Expr, patterns: &[Expr], tables: &FieldTables) -> Option<Diagnostic> {
    let field = field_of(value)?.name();
    if !listed(&tables.large_text_fields, &field) {
        return None;
    }
    let leading: Vec<&Expr> = patterns
        .iter()
        .filter(|p| string_of(p).is_some_and(|s| s.starts_with(['*', '?'])))
        .collect();
    let first = leading.first()?;
    let mut warning = Diagnostic::warning(
        format!("leading wildcard on `{field}`: Elasticsearch must scan every term of the field"),
        first.span,
    )
    .with_label("starts with a wildcard")
    .with_note(format!(
        "`{field}` holds long, mostly unique values, so it has about one term per event"
    ));
    match leading.len() {
        1 => {}
        2 => warning = warning.with_note("1 more pattern here starts with a wildcard"),
        n => {
            warning = warning.with_note(format!(
                "{} more patterns here start with a wildcard",
                n - 1
            ))
        }
    }
    if string_of(first) == Some("*") {
        warning = warning.with_note(format!(
            "to test that the field exists, write `{field} != null`"
        ));
    } else {
        warning = warning.with_note(
            "anchor the pattern at its start, or match a field with fewer distinct values \
             (process.name, file.name)",
        );
    }
    Some(warning)
}

/// `endsWith`/`stringContains` on a large field: Elasticsearch runs them as `*x` / `*x*`.
fn leading_wildcard_call(name: &str, args: &[Expr], tables: &FieldTables) -> Option<Diagnostic> {
    let shape = match name.to_ascii_lowercase().as_str() {
        "endswith" => "*x",
        "stringcontains" => "*x*",
        _ => return None,
    };
    let field = field_of(args.first()?)?.name();
    if !listed(&tables.large_text_fields, &field) {
        return None;
    }
    let needle = args.get(1)?;
    string_of(needle).filter(|s| !s.is_empty())?;
    Some(
        Diagnostic::warning(
            format!(
                "leading wildcard on `{field}`: Elasticsearch must scan every term of the field"
            ),
            needle.span,
        )
        .with_label(format!("`{name}` runs as the wildcard `{shape}`"))
        .with_note(format!(
            "`{field}` holds long, mostly unique values, so it has about one term per event"
        )),
    )
}

/// Whether the rule's tags (`OS: Linux`, `OS: macOS`, `OS: Windows`, or in older rules the
/// bare names) name only systems whose names keep their case.
fn tagged_for_cased_systems(rule: &Rule) -> bool {
    let systems: Vec<String> = rule
        .tags
        .iter()
        .map(|t| {
            t.strip_prefix("OS:")
                .unwrap_or(t)
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|t| ["linux", "macos", "windows"].contains(&t.as_str()))
        .collect();
    !systems.is_empty() && systems.iter().all(|s| s == "linux" || s == "macos")
}

/// Whether a filter's condition requires a Linux or macOS host, where names keep their case.
fn case_sensitive_platform(filter: &EventFilter) -> bool {
    let conjuncts: Vec<&Expr> = match &filter.condition.kind {
        ExprKind::And { operands } => operands.iter().collect(),
        _ => vec![&filter.condition],
    };
    conjuncts.iter().any(|c| {
        let (field, values): (Option<&FieldRef>, Vec<&Expr>) = match &c.kind {
            ExprKind::Compare {
                op: CompareOp::Eq,
                left,
                right,
            } => (field_of(left), vec![right.as_ref()]),
            ExprKind::Match {
                op: MatchOp::Colon,
                value,
                patterns,
            } => (field_of(value), patterns.iter().collect()),
            ExprKind::In {
                value,
                list,
                negated: false,
                ..
            } => (field_of(value), list.iter().collect()),
            _ => (None, Vec::new()),
        };
        field.is_some_and(|f| f.name() == "host.os.type" || f.name() == "os.type")
            && !values.is_empty()
            && values.iter().all(|v| {
                string_of(v).is_some_and(|s| {
                    s.eq_ignore_ascii_case("linux") || s.eq_ignore_ascii_case("macos")
                })
            })
    })
}

/// The span of `symbol` between the two operands of a comparison.
fn operator_span(text: &str, left: Span, right: Span, symbol: &str) -> Option<Span> {
    let (from, to) = if left.end <= right.start {
        (left.end, right.start)
    } else {
        (right.end, left.start)
    };
    let between = text.get(from..to)?;
    let at = from + between.find(symbol)?;
    Some(Span::new(at, at + symbol.len()))
}

fn star_in_equality(symbol: &str, field: &FieldRef, value: &str, span: Span) -> Diagnostic {
    let field = field.name();
    let literal = ir::print::string_literal(value);
    let (like, colon) = if symbol == "==" {
        (
            format!("`{field} like {literal}`"),
            format!("`{field} : {literal}`"),
        )
    } else {
        (
            format!("`not {field} like {literal}`"),
            format!("`not {field} : {literal}`"),
        )
    };
    Diagnostic::warning(
        format!("`{symbol}` does not expand wildcards: `*` in {literal} matches only a literal asterisk"),
        span,
    )
    .with_label("compared literally")
    .with_note(format!(
        "to match a pattern, write {like} (case-sensitive) or {colon} (case-insensitive)"
    ))
    .with_note(LITERAL_STAR)
}

fn case_sensitive_equality(symbol: &str, field: &FieldRef, value: &str, span: Span) -> Diagnostic {
    let field = field.name();
    let literal = ir::print::string_literal(value);
    // Another spelling the data may well have, to make the miss concrete.
    let other = if value.chars().any(char::is_lowercase) {
        value.to_uppercase()
    } else {
        value.to_lowercase()
    };
    let suggestion = if symbol == "==" {
        format!("`{field} : {literal}`")
    } else {
        format!("`not {field} : {literal}`")
    };
    Diagnostic::warning(
        format!(
            "`{symbol}` compares `{field}` with case: {literal} misses {}",
            ir::print::string_literal(&other)
        ),
        span,
    )
    .with_label("case-sensitive")
    .with_note(format!(
        "`{field}` varies in case in real data (Windows ignores case in names and paths)"
    ))
    .with_note(format!("`:` compares without case: {suggestion}"))
}

/// "logsource category `a`" or "logsource categories `a`, `b`".
fn categories(list: &str, count: usize) -> String {
    if count == 1 {
        format!("logsource category {list}")
    } else {
        format!("logsource categories {list}")
    }
}

/// Some data does hold asterisks (Windows share names such as `\\*\ADMIN$`).
const LITERAL_STAR: &str = "if the data really holds a `*` (as Windows share names like \
                            `\\\\*\\ADMIN$` do), this is as meant";

/// How a part of a rule without a logsource category is named in messages.
const NO_CATEGORY: &str = "(no category)";

/// How one ECS field fares in a rule's Sigma translation.
#[derive(Debug, Default)]
struct SigmaUse {
    /// Logsource categories (of the parts using it) where it has no exact Sigma name.
    unmapped: Vec<String>,
    /// (category, Sigma name) where it has one.
    mapped: Vec<(String, String)>,
}

/// Warnings for the ECS fields a rule uses that the Sigma rule cannot name exactly: one per
/// field with only an approximate Sigma field, and one for all the fields with none (they are
/// kept under their ECS names). Each is placed at the (first) field's first use.
pub fn sigma_field_warnings(
    rule: &Rule,
    query: &ir::Query,
    statement: &Statement,
    map: &FieldMap,
    tables: &FieldTables,
) -> Vec<Diagnostic> {
    // (event query, its join keys) for every part of the rule that becomes a Sigma rule.
    let mut parts: Vec<(&ir::EventQuery, Vec<&ir::Field>)> = Vec::new();
    match &query.body {
        QueryBody::Event(event) => parts.push((event, Vec::new())),
        QueryBody::Sequence(ir::Sequence { by, stages, .. })
        | QueryBody::Sample(ir::Sample { by, stages }) => {
            for stage in stages {
                parts.push((&stage.event, stage.keys(by).collect()));
            }
        }
    }
    // In order of first use.
    let mut uses: Vec<(String, SigmaUse)> = Vec::new();
    for (event, keys) in parts {
        let category = logsource::infer(rule, event).category;
        let label = category.clone().unwrap_or_else(|| NO_CATEGORY.into());
        let mut fields: Vec<&ir::Field> = event.condition.fields();
        fields.extend(keys);
        for field in fields {
            let name = &field.name;
            if listed(&tables.sigma_logsource_fields, name) {
                continue;
            }
            let index = match uses.iter().position(|(f, _)| f == name) {
                Some(i) => i,
                None => {
                    uses.push((name.clone(), SigmaUse::default()));
                    uses.len() - 1
                }
            };
            let entry = &mut uses[index].1;
            let sigma_name = map.name(name, category.as_deref());
            if sigma_name != *name {
                if !entry.mapped.iter().any(|(c, _)| *c == label) {
                    entry.mapped.push((label.clone(), sigma_name));
                }
            } else if !entry.unmapped.contains(&label) {
                entry.unmapped.push(label.clone());
            }
        }
    }
    let first_use = field_spans(statement);
    let span_of = |field: &str| {
        first_use
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, span)| *span)
    };
    let quoted = |items: &[String]| {
        items
            .iter()
            .map(|c| {
                if c == NO_CATEGORY {
                    c.clone()
                } else {
                    format!("`{c}`")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let placed = |message: String, field: &str, label: &str| match span_of(field) {
        Some(span) => Diagnostic::warning(message, span).with_label(label),
        None => Diagnostic::warning_unplaced(message),
    };
    let mut warnings = Vec::new();
    let mut without: Vec<(&String, &SigmaUse)> = Vec::new();
    for (field, usage) in uses.iter().filter(|(_, u)| !u.unmapped.is_empty()) {
        let Some(approximate) = tables.approximate(field) else {
            without.push((field, usage));
            continue;
        };
        warnings.push(
            placed(
                format!(
                    "`{field}` maps to a Sigma field only approximately ({}); the Sigma rule \
                     keeps the ECS name",
                    approximate.sigma
                ),
                field,
                "approximate in Sigma",
            )
            .with_note(format!("not exact because {}", approximate.why))
            .with_note(format!(
                "in {}",
                categories(&quoted(&usage.unmapped), usage.unmapped.len())
            )),
        );
    }
    if let Some((first, _)) = without.first() {
        let names: Vec<String> = without.iter().map(|(f, _)| (*f).clone()).collect();
        let message = match names.as_slice() {
            [one] => format!(
                "`{one}` has no Sigma taxonomy field for this rule's logsource; the Sigma rule \
                 keeps the ECS name"
            ),
            many => format!(
                "{} fields have no Sigma taxonomy field for this rule's logsource; the Sigma \
                 rule keeps their ECS names: {}",
                many.len(),
                quoted(many)
            ),
        };
        let mut d = placed(message, first, "no Sigma field");
        for (field, usage) in &without {
            // A field named in Sigma in one part of the rule and not in another makes the
            // parts disagree (a correlation's group-by needs aliases).
            for (category, sigma_name) in &usage.mapped {
                d = d.with_note(format!(
                    "`{field}` is `{sigma_name}` in logsource category `{category}` but has no \
                     Sigma field in {}",
                    categories(&quoted(&usage.unmapped), usage.unmapped.len())
                ));
            }
            // A field the taxonomy has in other categories: the rule's logsource is the miss
            // (say, a process rule without `event.type == "start"` is not process_creation).
            if usage.mapped.is_empty() {
                for (sigma_name, names) in map.targets(field) {
                    let shown: Vec<String> = names.iter().take(3).cloned().collect();
                    let more = names.len() - shown.len();
                    let mut list = quoted(&shown);
                    if more > 0 {
                        list.push_str(&format!(" and {more} more"));
                    }
                    d = d.with_note(format!(
                        "`{field}` is `{sigma_name}` in {}",
                        categories(&list, names.len())
                    ));
                }
            }
        }
        let unmapped_in: Vec<String> = without
            .iter()
            .flat_map(|(_, u)| u.unmapped.iter().cloned())
            .fold(Vec::new(), |mut all, c| {
                if !all.contains(&c) {
                    all.push(c);
                }
                all
            });
        warnings.push(
            d.with_note(format!(
                "the Sigma taxonomy has no such field in {}",
                categories(&quoted(&unmapped_in), unmapped_in.len())
            ))
            .with_note("only Sigma pipelines for ECS data (such as pySigma's `ecs_windows`) read ECS names"),
        );
    }
    warnings
}

/// Every field reference with its span, in source order.
fn field_spans(statement: &Statement) -> Vec<(String, Span)> {
    nodes(statement)
        .into_iter()
        .filter_map(|(e, _)| field_of(e).map(|f| (f.name(), e.span)))
        .collect()
}

/// Where the construct a Sigma refusal names stands in the query, if it can be found. The
/// Sigma backend words its refusals in a few fixed shapes; each is matched to the syntax
/// node it came from.
pub fn refusal_span(construct: &str, statement: &Statement, text: &str) -> Option<Span> {
    // Stage spans take in the whitespace after them; the caret should not.
    construct_span(construct, statement, text).map(|span| {
        let trailing = text
            .get(span.start..span.end)
            .map_or(0, |t| t.len() - t.trim_end().len());
        Span::new(span.start, span.end - trailing)
    })
}

fn construct_span(construct: &str, statement: &Statement, text: &str) -> Option<Span> {
    let all = nodes(statement);
    let first =
        |pred: &dyn Fn(&Expr) -> bool| all.iter().find(|(e, _)| pred(e)).map(|(e, _)| e.span);
    let backticked = construct.split('`').nth(1).unwrap_or("");
    let stages: Vec<&crate::syntax::ast::Stage> = match &statement.query {
        Query::Sequence(s) => s.stages.iter().chain(&s.until).collect(),
        Query::Sample(s) => s.stages.iter().collect(),
        Query::Event(_) => Vec::new(),
    };
    if construct.starts_with("the pipe") {
        return statement.pipes.first().map(|p| p.span);
    }
    if construct.starts_with("`until`") {
        if let Query::Sequence(s) = &statement.query {
            return s.until.as_ref().map(|u| u.span);
        }
    }
    if construct.starts_with("`maxspan=") {
        if let Query::Sequence(s) = &statement.query {
            return s.maxspan.map(|m| m.span);
        }
    }
    if construct.starts_with("a missing-event stage") {
        return stages.iter().find(|s| s.missing).map(|s| s.span);
    }
    if construct.starts_with("a sequence") || construct.starts_with("a sample") {
        let keyword = if construct.starts_with("a sequence") {
            "sequence"
        } else {
            "sample"
        };
        let start = statement.span.start + text.get(statement.span.start..)?.find(keyword)?;
        return Some(Span::new(start, start + keyword.len()));
    }
    if let Some(function) = backticked.strip_suffix("()") {
        if construct.contains("function") || construct.starts_with('`') {
            return first(
                &|e| matches!(&e.kind, ExprKind::Call { name, .. } if name.eq_ignore_ascii_case(function)),
            );
        }
    }
    if construct.starts_with("the regular expression") {
        return all.iter().find_map(|(e, _)| match &e.kind {
            ExprKind::Match {
                op: MatchOp::Regex | MatchOp::RegexInsensitive,
                patterns,
                ..
            } => patterns
                .iter()
                .find(|p| string_of(p) == Some(backticked))
                .map(|p| p.span),
            _ => None,
        });
    }
    if construct.starts_with("the field name") || construct.starts_with("the field `") {
        return first(&|e| field_of(e).is_some_and(|f| f.name() == backticked));
    }
    if construct.starts_with("the comparison of two values") {
        return first(&|e| match &e.kind {
            ExprKind::Compare { left, right, .. } => {
                !matches!(left.kind, ExprKind::Literal(_))
                    && !matches!(right.kind, ExprKind::Literal(_))
            }
            _ => false,
        });
    }
    if construct.starts_with("a comparison with `null`") {
        return first(&|e| match &e.kind {
            ExprKind::Compare { left, right, .. } => [left, right]
                .iter()
                .any(|s| matches!(s.kind, ExprKind::Literal(Literal::Null))),
            _ => false,
        });
    }
    if construct.contains("(Sigma orders numbers only)") {
        return first(&|e| match &e.kind {
            ExprKind::Compare { op, left, right } => {
                !matches!(op, CompareOp::Eq | CompareOp::NotEq)
                    && [left, right].iter().any(|s| {
                        matches!(
                            s.kind,
                            ExprKind::Literal(Literal::String(_) | Literal::Bool(_))
                        )
                    })
            }
            _ => false,
        });
    }
    if construct.starts_with("a condition used as a value") {
        let is_condition = |e: &Expr| {
            matches!(
                e.kind,
                ExprKind::Compare { .. }
                    | ExprKind::In { .. }
                    | ExprKind::Match { .. }
                    | ExprKind::And { .. }
                    | ExprKind::Or { .. }
                    | ExprKind::Not { .. }
            )
        };
        return first(&|e| match &e.kind {
            ExprKind::Compare { left, right, .. } => is_condition(left) || is_condition(right),
            _ => false,
        });
    }
    if construct == "arithmetic" {
        return first(&|e| {
            matches!(
                e.kind,
                ExprKind::Arithmetic { .. } | ExprKind::Negate { .. }
            )
        });
    }
    if construct.starts_with("an `in` list of nulls") {
        return first(&|e| match &e.kind {
            ExprKind::In { list, .. } => list
                .iter()
                .all(|l| matches!(l.kind, ExprKind::Literal(Literal::Null))),
            _ => false,
        });
    }
    if construct.starts_with("a condition that matches") || construct.starts_with("a constant") {
        return match &statement.query {
            Query::Event(filter) => Some(filter.condition.span),
            _ => stages.first().map(|s| s.filter.condition.span),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sigma::{self, CasePolicy, SigmaOptions};
    use crate::document::bare_eql;
    use crate::driver::compile_query;
    use crate::syntax;

    #[test]
    fn the_embedded_tables_load() {
        let tables = FieldTables::from_yaml(TABLES).expect("embedded tables");
        assert!(listed(&tables.large_text_fields, "process.command_line"));
        assert!(listed(&tables.case_varying_fields, "process.name"));
        assert!(listed(&tables.sigma_logsource_fields, "host.os.type"));
        assert!(
            tables.approximate("process.hash.sha256").is_some(),
            "prefix entries"
        );
        assert!(tables.approximate("process.command_line").is_none());
        assert!(FieldTables::from_yaml("large_text_fields: []\nextra: 1\n").is_err());
    }

    /// The warnings of `query`, as (message, the text under the caret).
    fn warned(query: &str) -> Vec<(String, String)> {
        let statement = syntax::parse(query).expect("parses");
        author_warnings(&statement, query, FieldTables::embedded(), &bare_eql(query))
            .into_iter()
            .map(|d| {
                let span = d.span.expect("placed");
                (d.message, query[span.start..span.end].to_string())
            })
            .collect()
    }

    #[test]
    fn leading_wildcards_on_large_fields() {
        let w = warned(
            r#"process where process.command_line : ("*-enc*", "*-e *") and process.name : "*.exe""#,
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].0.contains("`process.command_line`"), "{w:?}");
        assert_eq!(w[0].1, r#""*-enc*""#);
        let w = warned(r#"file where endsWith(file.path, "\\x.dll") and file.path like "C:*""#);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].1, r#""\\x.dll""#);
        assert!(warned(r#"process where message like~ "?abc""#).len() == 1);
    }

    #[test]
    fn case_sensitive_equality_on_case_varying_fields() {
        let w = warned(r#"process where process.name == "cmd.exe" and "X" != user.name"#);
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(w[0].1, "==");
        assert!(w[0].0.contains(r#""cmd.exe" misses "CMD.EXE""#), "{w:?}");
        assert_eq!(w[1].1, "!=");
        // No letters, a field whose values keep one case, or a Linux host: nothing to say.
        assert!(
            warned(r#"process where process.name == "123" and event.type == "start""#).is_empty()
        );
        assert!(
            warned(r#"file where host.os.type == "linux" and file.name == "passwd""#).is_empty()
        );
    }

    #[test]
    fn stars_compared_literally() {
        let w = warned(r#"process where process.name == "*.exe" or process.pid in ("1", "*2")"#);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].0.starts_with("`==` does not expand wildcards"),
            "{w:?}"
        );
        assert_eq!(w[0].1, r#""*.exe""#);
        assert!(
            w[1].0.starts_with("`in` does not expand wildcards"),
            "{w:?}"
        );
        assert_eq!(w[1].1, r#""*2""#);
    }

    #[test]
    fn sigma_refusals_are_placed_at_their_construct() {
        let cases = [
            ("process where length(process.name) > 3", "length(process.name)"),
            (r#"process where process.name < "x""#, r#"process.name < "x""#),
            ("process where process.pid + 1 > 2", "process.pid + 1"),
            ("any where true", "true"),
            ("process where `a|b` == 1", "`a|b`"),
            (r#"process where a regex "(?i)ab""#, r#""(?i)ab""#),
            (r#"process where startsWith(concat(a, b), "x")"#, r#"startsWith(concat(a, b), "x")"#),
            ("process where (a > 1) == true", "(a > 1) == true"),
            ("process where a in (null)", "a in (null)"),
            ("process where a != null and a < true", "a < true"),
            ("process where stringContains(a, b)", "stringContains(a, b)"),
            ("  sequence [process where true] [file where true]", "sequence"),
            ("sequence with maxspan=1s [process where true] [file where true]", "sequence"),
            ("sequence by a with maxspan=1500ms [process where true] [file where true]", "1500ms"),
            (
                "sequence by a with maxspan=1s [process where true] ![file where true] [file where true]",
                "![file where true]",
            ),
            (
                "sequence by a with maxspan=1s [process where true] [file where true] until [file where a == 1]",
                "[file where a == 1]",
            ),
            ("sample by a [process where true] [file where true]", "sample"),
            ("process where true | head 3", "| head 3"),
        ];
        for (query, expected) in cases {
            let ir = compile_query(query).expect("compiles");
            let options = SigmaOptions {
                field_map: FieldMap::sigma(),
                case_policy: CasePolicy::Regex,
            };
            let refusal = sigma::convert(&bare_eql(query), &ir, &options).expect_err(query);
            let statement = syntax::parse(query).expect("parses");
            let span = refusal_span(&refusal.construct, &statement, query)
                .unwrap_or_else(|| panic!("{query}: `{}` not placed", refusal.construct));
            assert_eq!(&query[span.start..span.end], expected, "{query}");
        }
    }
}
