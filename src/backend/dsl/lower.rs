//! IR conditions → Query DSL, as Elasticsearch's EQL translator lowers them.
//!
//! Field comparisons become term-level queries on the field (or a text field's keyword
//! sub-field); `not` becomes `bool.must_not`, so a missing field matches as it does in
//! Elasticsearch; whatever has no query of its own becomes a Painless `script`.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value as Json;

use super::lucene_regex::{self, LuceneRegex};
use super::painless;
use super::query::{BoolQuery, Query};
use crate::ir::{
    Call, Case, Category, Compare, CompareOp, EventQuery, Expr, Field, Function, InSet, Like,
    Literal, Pattern, RegexMatch, Value,
};
use crate::schema::{FieldType, FieldTypes, MappedField, SchemaOrigin};

/// A construct that cannot be lowered faithfully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// What it is and why, e.g. "`regex` on a computed value: …".
    pub message: String,
}

/// A lowering that worked but deserves a look: a comparison the field's type cannot support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeWarning {
    /// The field concerned.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Lowers conditions against one set of field types, collecting warnings.
pub struct Lowerer<'a> {
    types: &'a FieldTypes,
    /// The field that holds the event category.
    pub category_field: String,
    /// Warnings so far, without duplicates, in the order found.
    pub warnings: Vec<TypeWarning>,
    /// (field, kind of problem) pairs already warned about: one warning each, however many
    /// values a list compares.
    warned: HashSet<(String, &'static str)>,
}

/// The most distinct fields one script may read: it loops over every combination of their
/// values, and Painless stops a script after 1,000,000 loop iterations.
const MAX_SCRIPT_FIELDS: usize = 16;

type Lowered = Result<Query, Unsupported>;

impl<'a> Lowerer<'a> {
    /// A lowerer using `types`, filtering categories on `category_field`.
    pub fn new(types: &'a FieldTypes, category_field: impl Into<String>) -> Self {
        Lowerer {
            types,
            category_field: category_field.into(),
            warnings: Vec::new(),
            warned: HashSet::new(),
        }
    }

    /// An event query: its category filter and its condition.
    pub fn event(&mut self, event: &EventQuery) -> Lowered {
        let condition = self.condition(&event.condition)?;
        let category = match &event.category {
            Category::Any => return Ok(condition),
            Category::Named(name) => {
                let field = Field {
                    name: self.category_field.clone(),
                    optional: false,
                };
                Query::Term {
                    field: self.name(&field),
                    value: Json::String(name.clone()),
                    case_insensitive: false,
                }
            }
        };
        Ok(match condition {
            Query::MatchAll => category,
            Query::Bool(mut b) if b.should.is_empty() && b.filter.is_empty() => {
                b.must.insert(0, category);
                Query::Bool(b)
            }
            other => Query::Bool(BoolQuery {
                must: vec![category, other],
                ..BoolQuery::default()
            }),
        })
    }

    /// A condition.
    pub fn condition(&mut self, expr: &Expr) -> Lowered {
        // A `?field` the user's mapping lacks is null in Elasticsearch: a test of it is null,
        // which never holds (`?field == null` is an `IsNull`, handled below, and holds).
        if self.tests_absent_optional(expr) {
            return Ok(Query::MatchNone);
        }
        match expr {
            Expr::Bool { value: true } => Ok(Query::MatchAll),
            Expr::Bool { value: false } => Ok(Query::MatchNone),
            Expr::And { operands } => {
                // `a and not b` is one bool: must [a], must_not [b].
                let mut b = BoolQuery::default();
                for operand in operands {
                    // A negation comes back as `bool.must_not` and merges here; a negated
                    // script stays a script in `must`.
                    match self.condition(operand)? {
                        Query::Bool(inner) if inner.should.is_empty() => {
                            b.must.extend(inner.must);
                            b.filter.extend(inner.filter);
                            b.must_not.extend(inner.must_not);
                        }
                        q => b.must.push(q),
                    }
                }
                Ok(Query::Bool(b))
            }
            Expr::Or { operands } => {
                let mut b = BoolQuery::default();
                for operand in operands {
                    match self.condition(operand)? {
                        Query::Bool(inner)
                            if !inner.should.is_empty()
                                && inner.must.is_empty()
                                && inner.filter.is_empty()
                                && inner.must_not.is_empty() =>
                        {
                            b.should.extend(inner.should)
                        }
                        q => b.should.push(q),
                    }
                }
                Ok(Query::Bool(b))
            }
            Expr::Not { operand } => self.negation(operand),
            Expr::Compare(c) => self.compare(expr, c),
            Expr::IsNull {
                value: Value::Field(f),
            } => Ok(Query::Bool(BoolQuery {
                must_not: vec![Query::Exists {
                    field: self.name(f),
                }],
                ..BoolQuery::default()
            })),
            Expr::In(set) => self.in_set(expr, set),
            Expr::Like(like) => self.like(expr, like),
            Expr::Regex(regex) => self.regex(expr, regex),
            Expr::Test {
                value: Value::Field(f),
            } => Ok(self.term(f, &Literal::Bool(true), Case::Sensitive)),
            Expr::Test {
                value: Value::Call(call),
            } => match self.function(call)? {
                Some(query) => Ok(query),
                None => self.script(expr),
            },
            _ => self.script(expr),
        }
    }

    fn negation(&mut self, operand: &Expr) -> Lowered {
        // `x != null` asks for an indexed value.
        if let Expr::IsNull {
            value: Value::Field(f),
        } = operand
        {
            return Ok(Query::Exists {
                field: self.name(f),
            });
        }
        // A comparison with null is null, and so is its negation: no `must_not` can say that,
        // the script's three-valued logic can (an absent `?field` reads as null there too).
        if operand.compares_with_null() || self.mentions_absent_optional(operand) {
            return self.script(&Expr::Not {
                operand: Box::new(operand.clone()),
            });
        }
        Ok(match self.condition(operand)? {
            Query::MatchAll => Query::MatchNone,
            Query::MatchNone => Query::MatchAll,
            // As Elasticsearch does: a negated script is a script of the negation, so a null
            // operand (a missing field) stays null instead of matching.
            Query::Script(_) => self.script(&Expr::Not {
                operand: Box::new(operand.clone()),
            })?,
            q => Query::Bool(BoolQuery {
                must_not: vec![q],
                ..BoolQuery::default()
            }),
        })
    }

    fn compare(&mut self, expr: &Expr, c: &Compare) -> Lowered {
        // A comparison with null is null: it never holds.
        if c.right.as_literal() == Some(&Literal::Null) {
            return Ok(Query::MatchNone);
        }
        let (Value::Field(f), Some(literal)) = (&c.left, c.right.as_literal()) else {
            // `f(...) == true/false` says the same as `f(...)` / `not f(...)`, when `f` has a
            // query of its own; otherwise the whole comparison is scripted.
            if let (Value::Call(call), Some(Literal::Bool(b)), CompareOp::Eq) =
                (&c.left, c.right.as_literal(), c.op)
            {
                if call.function.returns_boolean() {
                    if let Some(test) = self.function(call)? {
                        return Ok(if *b {
                            test
                        } else {
                            Query::Bool(BoolQuery {
                                must_not: vec![test],
                                ..BoolQuery::default()
                            })
                        });
                    }
                }
            }
            return self.script(expr);
        };
        self.check_scalar(f, literal, c.op == CompareOp::Eq);
        if c.op == CompareOp::Eq {
            return Ok(self.term(f, literal, c.case));
        }
        let bound = match c.op {
            CompareOp::Lt => "lt",
            CompareOp::Le => "lte",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "gte",
            CompareOp::Eq => unreachable!("handled above"),
        };
        Ok(Query::Range {
            field: self.name(f),
            bound,
            value: json_literal(literal),
        })
    }

    fn in_set(&mut self, expr: &Expr, set: &InSet) -> Lowered {
        let Value::Field(f) = &set.value else {
            return self.script(expr);
        };
        // `x in (null, …)`: a null element never equals anything (the comparison is null).
        let values: Vec<&Literal> = set.values.iter().filter(|l| **l != Literal::Null).collect();
        for literal in &values {
            self.check_scalar(f, literal, true);
        }
        let insensitive = set.case == Case::Insensitive && self.folds_case(f);
        Ok(match values.as_slice() {
            [] => Query::MatchNone,
            [one] => self.term(f, one, set.case),
            _ if insensitive => {
                let should = values.iter().map(|l| self.term(f, l, set.case)).collect();
                Query::Bool(BoolQuery {
                    should,
                    ..BoolQuery::default()
                })
            }
            _ => Query::Terms {
                field: self.name(f),
                values: values.iter().map(|l| json_literal(l)).collect(),
            },
        })
    }

    fn like(&mut self, expr: &Expr, like: &Like) -> Lowered {
        let Value::Field(f) = &like.value else {
            return self.script(expr);
        };
        self.require_string(f, "a wildcard match");
        let case_insensitive = like.case == Case::Insensitive && self.folds_case(f);
        let field = self.name(f);
        let queries: Vec<Query> = like
            .patterns
            .iter()
            .map(|p| match p.as_literal() {
                Some(text) => Query::Term {
                    field: field.clone(),
                    value: Json::String(text),
                    case_insensitive,
                },
                None => Query::Wildcard {
                    field: field.clone(),
                    pattern: wildcard_pattern(p),
                    case_insensitive,
                },
            })
            .collect();
        Ok(any_of(queries))
    }

    fn regex(&mut self, expr: &Expr, regex: &RegexMatch) -> Lowered {
        let Value::Field(f) = &regex.value else {
            return self.script(expr);
        };
        self.require_string(f, "a regular expression");
        let translated = lucene_regex::translate(&regex.patterns, regex.case).map_err(|e| {
            let pattern = regex
                .patterns
                .get(e.pattern_index)
                .map(|p| format!(" `{p}`"))
                .unwrap_or_default();
            Unsupported {
                message: format!(
                    "the regular expression{pattern} cannot be run by Elasticsearch's \
                     regexp query: {}",
                    e.message
                ),
            }
        })?;
        let case_insensitive = regex.case == Case::Insensitive;
        Ok(match translated {
            LuceneRegex::Literal(text) => Query::Term {
                field: self.name(f),
                value: Json::String(text),
                case_insensitive,
            },
            LuceneRegex::Pattern(pattern) => Query::Regexp {
                field: self.name(f),
                pattern,
                case_insensitive,
            },
        })
    }

    /// The query of a boolean function on a field and constants, or `None` when it has none
    /// (the caller then scripts the condition it stands in).
    fn function(&mut self, call: &Call) -> Result<Option<Query>, Unsupported> {
        let field = match call.args.first() {
            Some(Value::Field(f)) => f,
            _ => return Ok(None),
        };
        let rest: Option<Vec<&Literal>> = call.args[1..].iter().map(Value::as_literal).collect();
        let Some(rest) = rest else {
            return Ok(None);
        };
        let insensitive = call.case == Case::Insensitive && self.folds_case(field);
        let text = |i: usize| match rest.get(i) {
            Some(Literal::String(s)) => Some(s.clone()),
            _ => None,
        };
        match call.function {
            Function::CidrMatch => {
                let cidrs: Option<Vec<Json>> = rest
                    .iter()
                    .map(|l| match l {
                        Literal::String(s) => Some(Json::String(s.clone())),
                        _ => None,
                    })
                    .collect();
                let Some(cidrs) = cidrs else {
                    return Ok(None);
                };
                if let Some(mapped) = self.lookup(field) {
                    if mapped.ty != FieldType::Ip {
                        self.warn(
                            field,
                            "cidr",
                            format!(
                                "`cidrMatch` needs an `ip` field, but `{}` is `{}`: \
                                 Elasticsearch compares the CIDR text with the value instead",
                                field.name,
                                mapped.ty.es_name()
                            ),
                        );
                    }
                }
                Ok(Some(Query::Terms {
                    field: self.name(field),
                    values: cidrs,
                }))
            }
            Function::StartsWith | Function::EndsWith | Function::StringContains => {
                let Some(needle) = text(0) else {
                    return Ok(None);
                };
                self.require_string(field, &format!("`{}`", call.function.name()));
                let name = self.name(field);
                let escaped = escape_wildcard(&needle);
                Ok(Some(match call.function {
                    Function::StartsWith => Query::Prefix {
                        field: name,
                        value: needle,
                        case_insensitive: insensitive,
                    },
                    Function::EndsWith => Query::Wildcard {
                        field: name,
                        pattern: format!("*{escaped}"),
                        case_insensitive: insensitive,
                    },
                    _ => Query::Wildcard {
                        field: name,
                        pattern: format!("*{escaped}*"),
                        case_insensitive: insensitive,
                    },
                }))
            }
            _ => Ok(None),
        }
    }

    fn script(&mut self, expr: &Expr) -> Lowered {
        let fields = expr.fields();
        if fields.len() > MAX_SCRIPT_FIELDS {
            return Err(Unsupported {
                message: format!(
                    "a condition computed from {} fields (a script may read at most \
                     {MAX_SCRIPT_FIELDS}: it loops over every combination of their values)",
                    fields.len()
                ),
            });
        }
        // The names scripts read doc values from, with the same checks and warnings as
        // queries get (a text field without a keyword sub-field has no doc values at all).
        let mut doc_names = BTreeMap::new();
        for field in fields {
            let name = self.name(field);
            doc_names.insert(field.name.clone(), name);
        }
        let doc_field = |f: &Field| doc_names.get(&f.name).cloned().unwrap_or(f.name.clone());
        painless::condition_script(expr, &doc_field)
            .map(Query::Script)
            .map_err(|u| Unsupported {
                message: format!("{} cannot be expressed in Query DSL", u.construct),
            })
    }

    /// `field == literal` (or `:` when insensitive) as a `term`.
    fn term(&mut self, f: &Field, literal: &Literal, case: Case) -> Query {
        let case_insensitive = case == Case::Insensitive
            && matches!(literal, Literal::String(_))
            && self.folds_case(f);
        Query::Term {
            field: self.name(f),
            value: json_literal(literal),
            case_insensitive,
        }
    }

    fn lookup(&mut self, f: &Field) -> Option<MappedField> {
        if self.types.is_nested(&f.name) {
            self.warn(
                f,
                "nested",
                format!(
                    "`{}` is inside a `nested` object: EQL cannot query nested fields, so this \
                     matches nothing",
                    f.name
                ),
            );
        }
        let mapped = self.types.get(&f.name);
        if mapped.is_none() && !f.optional && self.types.origin() == SchemaOrigin::Mapping {
            self.warn(
                f,
                "unmapped",
                format!(
                    "field `{}` is not in the mapping: Elasticsearch rejects the query \
                     (write `?{}` if the field may be absent)",
                    f.name, f.name
                ),
            );
        }
        mapped
    }

    /// The name to query: a text field's keyword sub-field, else the field itself.
    fn name(&mut self, f: &Field) -> String {
        match self.lookup(f) {
            Some(MappedField { ty, exact: None }) if ty.is_text() => {
                self.warn(
                    f,
                    "text",
                    format!(
                        "`{}` is `{}` with no keyword sub-field: exact matches on it search \
                         analysed tokens",
                        f.name,
                        ty.es_name()
                    ),
                );
                f.name.clone()
            }
            Some(MappedField {
                exact: Some(exact), ..
            }) => exact,
            _ => f.name.clone(),
        }
    }

    /// Whether `f` is a `?field` that the user's mapping shows does not exist.
    fn is_absent_optional(&self, f: &Field) -> bool {
        f.optional
            && self.types.origin() == SchemaOrigin::Mapping
            && self.types.get(&f.name).is_none()
            && !self.types.is_nested(&f.name)
    }

    /// A field-level test (not `IsNull`) of an absent `?field`.
    fn tests_absent_optional(&self, expr: &Expr) -> bool {
        let tested = match expr {
            Expr::Compare(c) => &c.left,
            Expr::In(set) => &set.value,
            Expr::Like(like) => &like.value,
            Expr::Regex(regex) => &regex.value,
            Expr::Test { value } => value,
            _ => return false,
        };
        matches!(tested, Value::Field(f) if self.is_absent_optional(f))
    }

    /// Whether a field-level test of an absent `?field` occurs under `and`/`or`/`not`.
    fn mentions_absent_optional(&self, expr: &Expr) -> bool {
        match expr {
            Expr::And { operands } | Expr::Or { operands } => {
                operands.iter().any(|o| self.mentions_absent_optional(o))
            }
            Expr::Not { operand } => self.mentions_absent_optional(operand),
            other => self.tests_absent_optional(other),
        }
    }

    /// Whether `case_insensitive` may be set: only keyword-family fields accept it.
    fn folds_case(&self, f: &Field) -> bool {
        match self.types.get(&f.name) {
            None => true,
            Some(m) => m.ty.is_exact_string() || m.ty.is_text(),
        }
    }

    fn require_string(&mut self, f: &Field, what: &str) {
        if let Some(mapped) = self.lookup(f) {
            if !(mapped.ty.is_exact_string() || mapped.ty.is_text()) {
                self.warn(
                    f,
                    "string",
                    format!(
                        "{what} needs a string field, but `{}` is `{}`: Elasticsearch rejects \
                         the query",
                        f.name,
                        mapped.ty.es_name()
                    ),
                );
            }
        }
    }

    /// Warn when a literal cannot be compared with the field's type (`equality`: by `==` or
    /// `in`, where an `ip` field also takes CIDR blocks).
    fn check_scalar(&mut self, f: &Field, literal: &Literal, equality: bool) {
        let Some(mapped) = self.lookup(f) else {
            return;
        };
        let fits = match (&mapped.ty, literal) {
            (_, Literal::Null) => true,
            (ty, Literal::String(s)) if ty.is_numeric() => s.trim().parse::<f64>().is_ok(),
            (FieldType::Boolean, Literal::String(s)) => s == "true" || s == "false",
            (FieldType::Boolean, Literal::Integer(_) | Literal::Float(_)) => false,
            // A `term` query on an `ip` field reads text with a `/` as a CIDR block.
            (FieldType::Ip, Literal::String(_)) if equality => {
                crate::eval::condition::IpBlock::of_constant(literal).is_some()
            }
            (FieldType::Ip, Literal::String(s)) => s.parse::<std::net::IpAddr>().is_ok(),
            (FieldType::Ip, _) => false,
            (ty, Literal::Bool(_)) => ty.is_exact_string() || *ty == FieldType::Boolean,
            _ => true,
        };
        if !fits {
            self.warn(
                f,
                "scalar",
                format!(
                    "`{}` is `{}`, which cannot hold the {} {}",
                    f.name,
                    mapped.ty.es_name(),
                    literal.type_name(),
                    crate::ir::print::literal(literal)
                ),
            );
        }
    }

    /// Warn about `f`, once per kind of problem.
    fn warn(&mut self, f: &Field, kind: &'static str, message: String) {
        if self.warned.insert((f.name.clone(), kind)) {
            self.warnings.push(TypeWarning {
                field: f.name.clone(),
                message,
            });
        }
    }
}

/// One query, or a `bool.should` of several.
fn any_of(mut queries: Vec<Query>) -> Query {
    match queries.len() {
        0 => Query::MatchNone,
        1 => queries.remove(0),
        _ => Query::Bool(BoolQuery {
            should: queries,
            ..BoolQuery::default()
        }),
    }
}

/// A literal as a JSON value.
fn json_literal(literal: &Literal) -> Json {
    match literal {
        Literal::Null => Json::Null,
        Literal::Bool(b) => Json::Bool(*b),
        Literal::Integer(i) => Json::from(*i),
        Literal::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        Literal::String(s) => Json::String(s.clone()),
    }
}

/// Escape the characters a `wildcard` query treats specially, so they match themselves.
pub fn escape_wildcard(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An EQL wildcard pattern in `wildcard` query syntax (backslashes are literal in EQL).
pub fn wildcard_pattern(pattern: &Pattern) -> String {
    pattern.render(escape_wildcard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_escapes_keep_literals_literal() {
        assert_eq!(escape_wildcard(r"a*b?c\d"), r"a\*b\?c\\d");
        let p = Pattern::parse(r"C:\Windows\*.exe");
        assert_eq!(wildcard_pattern(&p), r"C:\\Windows\\*.exe");
    }
}
