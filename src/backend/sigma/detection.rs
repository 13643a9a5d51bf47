//! IR conditions → Sigma detections: field items with modifiers, grouped into named
//! selections, and a condition over them.
//!
//! Sigma compares strings case-insensitively unless told otherwise, so every case-sensitive EQL
//! comparison whose value has letters says so explicitly (see [`CasePolicy`]); what Sigma cannot
//! express is an error naming the construct.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value as Json};

use crate::ir::{
    print, Call, Case, Compare, CompareOp, Expr, Field, Function, InSet, Like, Literal, Pattern,
    PatternPart, RegexMatch, Value,
};

/// How a case-sensitive comparison is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CasePolicy {
    /// An anchored regular expression (`|re`, case-sensitive in Sigma): every Sigma backend
    /// converts it, Elasticsearch's Lucene backend included.
    Regex,
    /// The `|cased` modifier: the plainest Sigma, which some backends (Lucene) cannot convert.
    Cased,
}

/// ECS fields whose values ECS defines in lowercase (its allowed or expected values, or a
/// lowercase normalisation): a case-sensitive comparison with a lowercase constant means the
/// same as Sigma's default case-insensitive one on ECS data.
const ECS_LOWERCASE_FIELDS: [&str; 9] = [
    "event.kind",
    "event.category",
    "event.type",
    "event.outcome",
    "host.os.type",
    "network.direction",
    "network.transport",
    "network.type",
    "network.protocol",
];

/// A construct Sigma cannot express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inexpressible {
    /// The construct, e.g. "the function `length()`".
    pub construct: String,
}

fn inexpressible<T>(construct: impl Into<String>) -> Result<T, Inexpressible> {
    Err(Inexpressible {
        construct: construct.into(),
    })
}

/// A Sigma value, strings already in Sigma's escaped form.
#[derive(Debug, Clone, PartialEq)]
enum SigmaValue {
    Text(String),
    Integer(i64),
    Float(f64),
    Null,
}

impl SigmaValue {
    fn to_json(&self) -> Json {
        match self {
            SigmaValue::Text(s) => Json::String(s.clone()),
            SigmaValue::Integer(i) => json!(i),
            SigmaValue::Float(f) => json!(f),
            SigmaValue::Null => Json::Null,
        }
    }
}

/// One detection item: `field|modifiers: values` (any value may match, or all with `|all`).
#[derive(Debug, Clone, PartialEq)]
struct Item {
    field: String,
    modifiers: Vec<&'static str>,
    values: Vec<SigmaValue>,
}

impl Item {
    fn key(&self) -> String {
        let mut key = self.field.clone();
        for m in &self.modifiers {
            key.push('|');
            key.push_str(m);
        }
        key
    }
}

/// A detection before it is cut into named selections.
#[derive(Debug, Clone, PartialEq)]
enum SigmaExpr {
    Item(Item),
    And(Vec<SigmaExpr>),
    Or(Vec<SigmaExpr>),
    Not(Box<SigmaExpr>),
}

/// A rendered detection: named selections in order, and the condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// `name → selection`, in order of first use.
    pub selections: Vec<(String, Json)>,
    /// The condition over them.
    pub condition: String,
}

impl Detection {
    /// The `detection:` mapping.
    pub fn to_json(&self) -> Json {
        let mut map = Map::new();
        for (name, selection) in &self.selections {
            map.insert(name.clone(), selection.clone());
        }
        map.insert("condition".into(), Json::String(self.condition.clone()));
        Json::Object(map)
    }
}

/// Builds Sigma items from IR conditions.
pub struct DetectionBuilder<'a> {
    /// How case-sensitive comparisons are written.
    pub case_policy: CasePolicy,
    /// ECS name → name in the rule (the field mapping for this rule's logsource).
    pub field_name: &'a dyn Fn(&str) -> String,
}

impl DetectionBuilder<'_> {
    /// The detection of `category where condition`: the event category (`category_field ==
    /// name`, case-sensitive as in Elasticsearch) and the condition. A logsource alone would
    /// not filter: Sigma's Elasticsearch pipelines ignore it.
    pub fn detection(
        &self,
        condition: &Expr,
        category: Option<(&str, &str)>,
    ) -> Result<Detection, Inexpressible> {
        // Sigma reads `|` in a key as the start of a modifier.
        if let Some(name) = condition
            .fields()
            .into_iter()
            .map(|f| &f.name)
            .find(|n| n.contains('|'))
        {
            return inexpressible(format!(
                "the field name `{name}` (Sigma reads `|` as a modifier)"
            ));
        }
        let category = category.map(|(field, name)| {
            let field = Field {
                name: field.to_string(),
                optional: false,
            };
            self.text_equals(&field, &[name.to_string()], Case::Sensitive)
        });
        let expr = match (condition, category) {
            (Expr::Bool { value: false }, _) => {
                return inexpressible("a condition that matches no event")
            }
            (Expr::Bool { value: true }, Some(category)) => category,
            (Expr::Bool { value: true }, None) => {
                return inexpressible("a condition that matches every event")
            }
            (other, Some(category)) => SigmaExpr::And(vec![category, self.expr(other)?]),
            (other, None) => self.expr(other)?,
        };
        Ok(render(expr))
    }

    fn expr(&self, expr: &Expr) -> Result<SigmaExpr, Inexpressible> {
        match expr {
            Expr::Bool { .. } => inexpressible("a constant inside a condition"),
            Expr::And { operands } => Ok(SigmaExpr::And(
                operands
                    .iter()
                    .map(|o| self.expr(o))
                    .collect::<Result<_, _>>()?,
            )),
            Expr::Or { operands } => Ok(SigmaExpr::Or(
                operands
                    .iter()
                    .map(|o| self.expr(o))
                    .collect::<Result<_, _>>()?,
            )),
            Expr::Not { operand } => Ok(SigmaExpr::Not(Box::new(self.expr(operand)?))),
            Expr::Compare(c) => self.compare(c),
            Expr::IsNull { value } => {
                let field = self.field(value)?;
                Ok(self.item(field, vec![], vec![SigmaValue::Null]))
            }
            Expr::In(set) => self.in_set(set),
            Expr::Like(like) => self.like(like),
            Expr::Regex(regex) => self.regex(regex),
            Expr::Test {
                value: Value::Field(f),
            } => Ok(self.item(f, vec![], vec![scalar(&Literal::Bool(true))])),
            Expr::Test {
                value: Value::Call(call),
            } => self.function(call),
            Expr::Test { value } => inexpressible(describe(value)),
        }
    }

    fn item(
        &self,
        field: &Field,
        modifiers: Vec<&'static str>,
        values: Vec<SigmaValue>,
    ) -> SigmaExpr {
        SigmaExpr::Item(Item {
            field: (self.field_name)(&field.name),
            modifiers,
            values,
        })
    }

    fn field<'v>(&self, value: &'v Value) -> Result<&'v Field, Inexpressible> {
        match value {
            Value::Field(f) => Ok(f),
            other => inexpressible(describe(other)),
        }
    }

    fn compare(&self, c: &Compare) -> Result<SigmaExpr, Inexpressible> {
        if let (Value::Call(call), Some(Literal::Bool(b)), CompareOp::Eq) =
            (&c.left, c.right.as_literal(), c.op)
        {
            if call.function.returns_boolean() {
                let test = self.function(call)?;
                return Ok(if *b {
                    test
                } else {
                    SigmaExpr::Not(Box::new(test))
                });
            }
        }
        let field = self.field(&c.left)?;
        let Some(literal) = c.right.as_literal() else {
            return inexpressible(format!(
                "the comparison of two values `{}`",
                print::expr(&Expr::Compare(c.clone()))
            ));
        };
        match (c.op, literal) {
            (_, Literal::Null) => inexpressible("a comparison with `null` other than `==`"),
            (CompareOp::Eq, Literal::String(s)) => {
                Ok(self.text_equals(field, std::slice::from_ref(s), c.case))
            }
            (CompareOp::Eq, Literal::Integer(_) | Literal::Float(_)) => {
                Ok(self.number_equals(field, &[scalar(literal)]))
            }
            (CompareOp::Eq, other) => Ok(self.item(field, vec![], vec![scalar(other)])),
            (op, Literal::Integer(_) | Literal::Float(_)) => {
                let modifier = match op {
                    CompareOp::Lt => "lt",
                    CompareOp::Le => "lte",
                    CompareOp::Gt => "gt",
                    _ => "gte",
                };
                Ok(self.item(field, vec![modifier], vec![scalar(literal)]))
            }
            (op, other) => inexpressible(format!(
                "`{}` with a {} (Sigma orders numbers only)",
                op.symbol(),
                other.type_name()
            )),
        }
    }

    /// `field == n` as `n <= field <= n`: the same numbers, in a form Sigma's Elasticsearch
    /// backends render as valid EQL (they write plain numeric equality with `:`, which EQL
    /// reserves for strings).
    fn number_equals(&self, field: &Field, numbers: &[SigmaValue]) -> SigmaExpr {
        let mut alternatives: Vec<SigmaExpr> = numbers
            .iter()
            .map(|n| {
                SigmaExpr::And(vec![
                    self.item(field, vec!["gte"], vec![n.clone()]),
                    self.item(field, vec!["lte"], vec![n.clone()]),
                ])
            })
            .collect();
        if alternatives.len() == 1 {
            alternatives.remove(0)
        } else {
            SigmaExpr::Or(alternatives)
        }
    }

    /// `field == one of strings`, honouring case.
    fn text_equals(&self, field: &Field, strings: &[String], case: Case) -> SigmaExpr {
        if case == Case::Insensitive || strings.iter().all(|s| case_is_immaterial(field, s)) {
            let values = strings
                .iter()
                .map(|s| SigmaValue::Text(escape_value(s)))
                .collect();
            return self.item(field, vec![], values);
        }
        match self.case_policy {
            CasePolicy::Cased => {
                let values = strings
                    .iter()
                    .map(|s| SigmaValue::Text(escape_value(s)))
                    .collect();
                self.item(field, vec!["cased"], values)
            }
            CasePolicy::Regex => {
                let patterns: Vec<Pattern> = strings
                    .iter()
                    .map(|s| Pattern {
                        parts: vec![PatternPart::Literal(s.clone())],
                    })
                    .collect();
                self.case_sensitive_patterns(field, &patterns)
            }
        }
    }

    /// Case-sensitive wildcard patterns as anchored regexes (any may match). A `/` or `"` is
    /// written `\x2F` / `\x22`: Sigma's Elasticsearch backends write a regex into an EQL string
    /// escaping `/` as `\/` (which EQL rejects) and leaving `"` bare.
    fn case_sensitive_patterns(&self, field: &Field, patterns: &[Pattern]) -> SigmaExpr {
        let values = patterns
            .iter()
            .map(|p| SigmaValue::Text(format!("^{}$", hex_escape_awkward(&pattern_regex(p)))))
            .collect();
        self.item(field, vec!["re"], values)
    }

    fn in_set(&self, set: &InSet) -> Result<SigmaExpr, Inexpressible> {
        let field = self.field(&set.value)?;
        let mut strings = Vec::new();
        let mut others = Vec::new();
        for literal in &set.values {
            match literal {
                // A null element never equals anything.
                Literal::Null => {}
                Literal::String(s) => strings.push(s.clone()),
                other => others.push(scalar(other)),
            }
        }
        let mut alternatives = Vec::new();
        if !strings.is_empty() {
            alternatives.push(self.text_equals(field, &strings, set.case));
        }
        let (numbers, others): (Vec<SigmaValue>, Vec<SigmaValue>) = others
            .into_iter()
            .partition(|v| matches!(v, SigmaValue::Integer(_) | SigmaValue::Float(_)));
        if !numbers.is_empty() {
            alternatives.push(self.number_equals(field, &numbers));
        }
        if !others.is_empty() {
            alternatives.push(self.item(field, vec![], others));
        }
        match alternatives.len() {
            0 => inexpressible("an `in` list of nulls, which matches nothing"),
            1 => Ok(alternatives.remove(0)),
            _ => Ok(SigmaExpr::Or(alternatives)),
        }
    }

    fn like(&self, like: &Like) -> Result<SigmaExpr, Inexpressible> {
        let field = self.field(&like.value)?;
        let insensitive = like.case == Case::Insensitive
            || like
                .patterns
                .iter()
                .all(|p| case_is_immaterial(field, &p.to_eql()));
        if !insensitive && self.case_policy == CasePolicy::Regex {
            return Ok(self.case_sensitive_patterns(field, &like.patterns));
        }
        // Group the patterns by the modifier that states them most plainly.
        let mut groups: Vec<(Vec<&'static str>, Vec<SigmaValue>)> = Vec::new();
        for pattern in &like.patterns {
            let (mut modifiers, value) = wildcard_item(pattern);
            if !insensitive {
                modifiers.push("cased");
            }
            match groups.iter_mut().find(|(m, _)| *m == modifiers) {
                Some((_, values)) => values.push(value),
                None => groups.push((modifiers, vec![value])),
            }
        }
        let mut items: Vec<SigmaExpr> = groups
            .into_iter()
            .map(|(modifiers, values)| self.item(field, modifiers, values))
            .collect();
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            SigmaExpr::Or(items)
        })
    }

    fn regex(&self, regex: &RegexMatch) -> Result<SigmaExpr, Inexpressible> {
        let field = self.field(&regex.value)?;
        for pattern in &regex.patterns {
            check_sigma_regex(pattern)?;
        }
        let modifiers = match regex.case {
            Case::Sensitive => vec!["re"],
            Case::Insensitive => vec!["re", "i"],
        };
        // EQL matches the whole value; anchors say so to every Sigma backend.
        let values = regex
            .patterns
            .iter()
            .map(|p| SigmaValue::Text(format!("^({})$", hex_escape_awkward(p))))
            .collect();
        Ok(self.item(field, modifiers, values))
    }

    fn function(&self, call: &Call) -> Result<SigmaExpr, Inexpressible> {
        let name = call.function.name();
        let Some(Value::Field(field)) = call.args.first() else {
            return inexpressible(format!("`{name}()` on a computed value"));
        };
        let Some(constants) = call.constant_strings(1) else {
            return inexpressible(format!("`{name}()` with a computed or non-string argument"));
        };
        match call.function {
            Function::CidrMatch => {
                let values = constants
                    .iter()
                    .map(|c| SigmaValue::Text(escape_value(c)))
                    .collect();
                Ok(self.item(field, vec!["cidr"], values))
            }
            Function::StartsWith | Function::EndsWith | Function::StringContains => {
                let needle = constants.first().map(|s| s.as_str()).unwrap_or_default();
                let literal = PatternPart::Literal(needle.to_string());
                let parts = match call.function {
                    Function::StartsWith => vec![literal, PatternPart::AnyString],
                    Function::EndsWith => vec![PatternPart::AnyString, literal],
                    _ => vec![PatternPart::AnyString, literal, PatternPart::AnyString],
                };
                self.like(&Like {
                    value: Value::Field(field.clone()),
                    patterns: vec![Pattern { parts }],
                    case: call.case,
                })
            }
            _ => inexpressible(format!("the function `{name}()`")),
        }
    }
}

/// A regex with `/` and `"` written `\x2F` and `\x22`: the same characters, in a form Sigma's
/// Elasticsearch backends carry into valid EQL (they escape `/` as `\/`, which EQL strings
/// reject, and leave `"` bare).
fn hex_escape_awkward(regex: &str) -> String {
    let mut out = String::with_capacity(regex.len());
    let mut chars = regex.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('/') => out.push_str(r"\x2F"),
                Some('"') => out.push_str(r"\x22"),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '/' => out.push_str(r"\x2F"),
            '"' => out.push_str(r"\x22"),
            c => out.push(c),
        }
    }
    out
}

/// Refuse a regex whose meaning PCRE (Sigma's flavour) would read differently, or that
/// pySigma cannot load: Java's class intersections, Unicode classes, quoting, inline flags,
/// look-around and word boundaries.
fn check_sigma_regex(pattern: &str) -> Result<(), Inexpressible> {
    use regex_syntax::ast::{self, Ast};
    let refuse = |what: &str| {
        inexpressible(format!(
            "the regular expression `{pattern}`: {what} has no equivalent in Sigma's regex subset"
        ))
    };
    let parsed = match ast::parse::ParserBuilder::new()
        .nest_limit(100)
        .build()
        .parse(pattern)
    {
        Ok(ast) => ast,
        Err(e) => return refuse(&format!("`{}`", e.kind())),
    };
    let mut stack = vec![&parsed];
    while let Some(node) = stack.pop() {
        match node {
            Ast::ClassUnicode(_) => return refuse("a Unicode class"),
            Ast::Flags(_) => return refuse("an inline flag"),
            Ast::Assertion(a) => match a.kind {
                ast::AssertionKind::StartLine | ast::AssertionKind::EndLine => {}
                _ => return refuse("an assertion"),
            },
            Ast::ClassBracketed(class) => {
                if matches!(class.kind, ast::ClassSet::BinaryOp(_)) {
                    return refuse("a class intersection or difference");
                }
                if has_nested_class(&class.kind) {
                    return refuse("a nested class");
                }
            }
            Ast::Repetition(r) => stack.push(&r.ast),
            Ast::Group(g) => {
                if matches!(g.kind, ast::GroupKind::NonCapturing(ref flags) if !flags.items.is_empty())
                {
                    return refuse("an inline flag");
                }
                stack.push(&g.ast);
            }
            Ast::Alternation(alt) => stack.extend(alt.asts.iter()),
            Ast::Concat(concat) => stack.extend(concat.asts.iter()),
            _ => {}
        }
    }
    Ok(())
}

fn has_nested_class(set: &regex_syntax::ast::ClassSet) -> bool {
    use regex_syntax::ast::{ClassSet, ClassSetItem};
    match set {
        ClassSet::Item(ClassSetItem::Bracketed(_)) => true,
        ClassSet::Item(ClassSetItem::Union(union)) => union
            .items
            .iter()
            .any(|i| matches!(i, ClassSetItem::Bracketed(_) | ClassSetItem::Unicode(_))),
        ClassSet::Item(ClassSetItem::Unicode(_)) => true,
        ClassSet::BinaryOp(_) => true,
        _ => false,
    }
}

/// What a computed value is, for errors.
fn describe(value: &Value) -> String {
    match value {
        Value::Call(call) => format!("the function `{}()`", call.function.name()),
        Value::Arithmetic { .. } | Value::Negate { .. } => "arithmetic".into(),
        Value::Condition { .. } => "a condition used as a value".into(),
        Value::Literal { .. } => "a constant where a field is expected".into(),
        Value::Field(f) => format!("the field `{}` used as a condition", f.name),
    }
}

fn scalar(literal: &Literal) -> SigmaValue {
    match literal {
        Literal::Null => SigmaValue::Null,
        // Sigma's Elasticsearch backends write a YAML boolean as `field:true`, which EQL
        // rejects (`:` compares strings); the string form converts everywhere.
        Literal::Bool(b) => SigmaValue::Text(b.to_string()),
        Literal::Integer(i) => SigmaValue::Integer(*i),
        Literal::Float(f) => SigmaValue::Float(*f),
        Literal::String(s) => SigmaValue::Text(escape_value(s)),
    }
}

/// Whether comparing `text` with or without regard to case is the same: it has no letter
/// with case, or the field holds lowercase values by ECS's definition and `text` is lowercase.
fn case_is_immaterial(field: &Field, text: &str) -> bool {
    let caseless = text
        .chars()
        .all(|c| !(c.is_lowercase() || c.is_uppercase()));
    caseless || (ECS_LOWERCASE_FIELDS.contains(&field.name.as_str()) && text == text.to_lowercase())
}

/// A Sigma string value matching `text` literally: `*` and `?` are escaped, and a backslash
/// is doubled where Sigma would otherwise read it as an escape (before `*`, `?`, `\` or at
/// the end).
pub fn escape_value(text: &str) -> String {
    escape_parts(&[PatternPart::Literal(text.to_string())])
}

fn escape_parts(parts: &[PatternPart]) -> String {
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        match part {
            PatternPart::AnyString => out.push('*'),
            PatternPart::AnyChar => out.push('?'),
            PatternPart::Literal(text) => {
                let next_is_wildcard = parts.get(i + 1).is_some();
                let chars: Vec<char> = text.chars().collect();
                for (j, c) in chars.iter().enumerate() {
                    match c {
                        '*' | '?' => {
                            out.push('\\');
                            out.push(*c);
                        }
                        '\\' => {
                            let next = chars.get(j + 1);
                            let special_follows = match next {
                                Some(n) => matches!(n, '*' | '?' | '\\'),
                                None => next_is_wildcard || i + 1 == parts.len(),
                            };
                            out.push_str(if special_follows { "\\\\" } else { "\\" });
                        }
                        c => out.push(*c),
                    }
                }
            }
        }
    }
    out
}

/// `*x*` → `contains`, `x*` → `startswith`, `*x` → `endswith`, else wildcards in the value.
fn wildcard_item(pattern: &Pattern) -> (Vec<&'static str>, SigmaValue) {
    use PatternPart::{AnyString, Literal as Lit};
    let (modifier, parts): (Option<&'static str>, &[PatternPart]) = match pattern.parts.as_slice() {
        [AnyString, inner @ .., AnyString]
            if !inner.is_empty() && inner.iter().all(|p| matches!(p, Lit(_))) =>
        {
            (Some("contains"), inner)
        }
        [Lit(_), AnyString] => (Some("startswith"), &pattern.parts[..1]),
        [AnyString, Lit(_)] => (Some("endswith"), &pattern.parts[1..]),
        parts => (None, parts),
    };
    (
        modifier.into_iter().collect(),
        SigmaValue::Text(escape_parts(parts)),
    )
}

/// Escape regex metacharacters so `text` matches itself.
fn escape_regex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '.' | '^' | '$' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '\\'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A wildcard pattern as a regular expression body (anchors added by the caller).
fn pattern_regex(pattern: &Pattern) -> String {
    pattern
        .parts
        .iter()
        .map(|part| match part {
            PatternPart::Literal(text) => escape_regex(text),
            // EQL's wildcards match line breaks too, which `.` does not (and the `s` flag is
            // not carried through every backend).
            PatternPart::AnyString => r"[\s\S]*".into(),
            PatternPart::AnyChar => r"[\s\S]".into(),
        })
        .collect()
}

/// Cut a detection into named selections and a condition.
fn render(expr: SigmaExpr) -> Detection {
    let mut renderer = Renderer::default();
    let condition = renderer.condition(simplify(expr), false);
    let mut selections = renderer.selections;
    // A lone selection is simply `selection`.
    if selections.len() == 1 {
        let old = selections[0].0.clone();
        selections[0].0 = "selection".into();
        return Detection {
            condition: condition.replace(&old, "selection"),
            selections,
        };
    }
    Detection {
        selections,
        condition,
    }
}

/// Merge what Sigma says in one item: an `or` of items on one key is one value list; an
/// `and` of single-valued items on one key is `|all`. Null values never merge (Sigma wants
/// `null` alone). Keys are looked up in a map, so long lists stay linear.
fn simplify(expr: SigmaExpr) -> SigmaExpr {
    match expr {
        SigmaExpr::Or(children) => {
            let children = flatten(children.into_iter().map(simplify).collect(), true);
            let mut merged: Vec<SigmaExpr> = Vec::new();
            let mut by_key: HashMap<String, usize> = HashMap::new();
            for child in children {
                if let SigmaExpr::Item(item) = &child {
                    let mergeable = !item.modifiers.contains(&"all")
                        && !item.values.contains(&SigmaValue::Null);
                    if mergeable {
                        if let Some(&at) = by_key.get(&item.key()) {
                            if let SigmaExpr::Item(existing) = &mut merged[at] {
                                existing.values.extend(item.values.iter().cloned());
                                continue;
                            }
                        }
                        by_key.insert(item.key(), merged.len());
                    }
                }
                merged.push(child);
            }
            single_or(merged, SigmaExpr::Or)
        }
        SigmaExpr::And(children) => {
            let children = flatten(children.into_iter().map(simplify).collect(), false);
            let mut merged: Vec<SigmaExpr> = Vec::new();
            // Base key (without `|all`) → position of a single-valued or `|all` item.
            let mut by_key: HashMap<String, usize> = HashMap::new();
            for child in children {
                if let SigmaExpr::Item(item) = &child {
                    if item.values.len() == 1 && item.values[0] != SigmaValue::Null {
                        let key = item.key();
                        if let Some(&at) = by_key.get(&key) {
                            if let SigmaExpr::Item(existing) = &mut merged[at] {
                                if !existing.modifiers.contains(&"all") {
                                    existing.modifiers.push("all");
                                }
                                existing.values.extend(item.values.iter().cloned());
                                continue;
                            }
                        }
                        by_key.insert(key, merged.len());
                    }
                }
                merged.push(child);
            }
            single_or(merged, SigmaExpr::And)
        }
        SigmaExpr::Not(inner) => SigmaExpr::Not(Box::new(simplify(*inner))),
        item => item,
    }
}

/// The one element, or the list under `wrap`.
fn single_or(mut list: Vec<SigmaExpr>, wrap: fn(Vec<SigmaExpr>) -> SigmaExpr) -> SigmaExpr {
    if list.len() == 1 {
        list.remove(0)
    } else {
        wrap(list)
    }
}

fn flatten(children: Vec<SigmaExpr>, is_or: bool) -> Vec<SigmaExpr> {
    let mut out = Vec::with_capacity(children.len());
    for child in children {
        match child {
            SigmaExpr::Or(inner) if is_or => out.extend(inner),
            SigmaExpr::And(inner) if !is_or => out.extend(inner),
            other => out.push(other),
        }
    }
    out
}

#[derive(Default)]
struct Renderer {
    selections: Vec<(String, Json)>,
    selection_count: usize,
    filter_count: usize,
}

impl Renderer {
    fn add(&mut self, selection: Json, negated: bool) -> String {
        let name = if negated {
            self.filter_count += 1;
            format!("filter_{}", self.filter_count)
        } else {
            self.selection_count += 1;
            format!("selection_{}", self.selection_count)
        };
        self.selections.push((name.clone(), selection));
        name
    }

    /// The condition text of `expr`; `negated` names its selections as filters.
    fn condition(&mut self, expr: SigmaExpr, negated: bool) -> String {
        self.ranked(expr, negated).0
    }

    /// Condition text and its precedence (1 `or`, 2 `and`, 3 `not` or a name), so a parent
    /// wraps exactly the children that bind more loosely than it does.
    fn ranked(&mut self, expr: SigmaExpr, negated: bool) -> (String, u8) {
        fn wrap((text, rank): (String, u8), at_least: u8) -> String {
            if rank < at_least {
                format!("({text})")
            } else {
                text
            }
        }
        match expr {
            SigmaExpr::Item(item) => (self.add(Json::Object(map_of(&[item])), negated), 3),
            SigmaExpr::Not(inner) => {
                let inner = self.ranked(*inner, !negated);
                (format!("not {}", wrap(inner, 3)), 3)
            }
            SigmaExpr::And(children) => {
                // Items on distinct keys share one selection map.
                let mut items = Vec::new();
                let mut keys = HashSet::new();
                let mut rest = Vec::new();
                for child in children {
                    match child {
                        SigmaExpr::Item(item) if !keys.contains(&item.key()) => {
                            keys.insert(item.key());
                            items.push(item)
                        }
                        other => rest.push(other),
                    }
                }
                let mut parts = Vec::new();
                if !items.is_empty() {
                    parts.push(self.add(Json::Object(map_of(&items)), negated));
                }
                for child in rest {
                    let ranked = self.ranked(child, negated);
                    parts.push(wrap(ranked, 2));
                }
                let rank = if parts.len() == 1 { 3 } else { 2 };
                (parts.join(" and "), rank)
            }
            SigmaExpr::Or(children) => {
                // Items alone: one selection as a list of maps (any may match).
                if children.iter().all(|c| matches!(c, SigmaExpr::Item(_))) {
                    let maps: Vec<Json> = children
                        .into_iter()
                        .filter_map(|c| match c {
                            SigmaExpr::Item(item) => Some(Json::Object(map_of(&[item]))),
                            _ => None,
                        })
                        .collect();
                    return (self.add(Json::Array(maps), negated), 3);
                }
                let parts: Vec<String> = children
                    .into_iter()
                    .map(|child| {
                        let ranked = self.ranked(child, negated);
                        wrap(ranked, 1)
                    })
                    .collect();
                (parts.join(" or "), 1)
            }
        }
    }
}

fn map_of(items: &[Item]) -> Map<String, Json> {
    let mut map = Map::new();
    for item in items {
        let value = match item.values.as_slice() {
            [one] => one.to_json(),
            many => Json::Array(many.iter().map(SigmaValue::to_json).collect()),
        };
        map.insert(item.key(), value);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_literals_literal_and_backslashes_readable() {
        assert_eq!(
            escape_value(r"C:\Windows\System32\cmd.exe"),
            r"C:\Windows\System32\cmd.exe"
        );
        assert_eq!(escape_value(r"a*b?c"), r"a\*b\?c");
        assert_eq!(escape_value(r"\\server\share"), r"\\\server\share");
        assert_eq!(escape_value(r"dir\"), r"dir\\");
        let p = Pattern::parse(r"?:\Users\*\AppData\*");
        assert_eq!(escape_parts(&p.parts), r"?:\Users\\*\AppData\\*");
    }

    #[test]
    fn slashes_and_quotes_in_regexes_become_hex_escapes() {
        assert_eq!(
            hex_escape_awkward(r#"https?:\/\/[^"]+"#),
            r"https?:\x2F\x2F[^\x22]+"
        );
        assert_eq!(hex_escape_awkward(r"a\\/b"), r"a\\\x2Fb");
        assert_eq!(hex_escape_awkward(r"\.exe"), r"\.exe");
    }

    #[test]
    fn wildcard_patterns_become_modifiers_where_plain() {
        let item = |text: &str| wildcard_item(&Pattern::parse(text));
        assert_eq!(
            item("*foo*"),
            (vec!["contains"], SigmaValue::Text("foo".into()))
        );
        assert_eq!(
            item("foo*"),
            (vec!["startswith"], SigmaValue::Text("foo".into()))
        );
        assert_eq!(
            item(r"*\foo"),
            (vec!["endswith"], SigmaValue::Text(r"\foo".into()))
        );
        assert_eq!(item("f*o?"), (vec![], SigmaValue::Text("f*o?".into())));
    }
}
