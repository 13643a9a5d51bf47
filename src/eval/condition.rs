//! Conditions compiled for evaluation over events, with Elasticsearch's semantics.
//!
//! What Elasticsearch answers with a term-level query is tested value by value: a field
//! condition holds when some value of the field satisfies it, a missing field satisfies
//! nothing, and `not` is plain negation (so `!=` holds where the field is missing, as
//! `bool.must_not` does). What it answers with a script (functions on fields, arithmetic,
//! comparisons of two fields) is computed in three-valued logic over every combination of the
//! fields' values, and its negation stays null where a field is missing.
//!
//! Comparisons of a field with constants follow the field's type, as Elasticsearch's queries
//! do: a `date` field compares instants and an `ip` field addresses (`condition/typed.rs`);
//! the types are resolved once, at compile time (the Elastic Common Schema's unless told
//! otherwise).

mod typed;

use std::cmp::Ordering;

use ipnet::IpNet;

pub use typed::{ip_bits, ip_text, DateResolution, DateSpan, IpBlock};

use super::document::{date_millis, Document, FieldRef, FieldValue};
use super::wildcard::Wildcard;
use crate::ir::functions::{self, fold};
use crate::ir::{
    ArithOp, Call, Case, Compare, CompareOp, Expr, Field, Function, Literal, Pattern, PatternPart,
    Value,
};
use crate::schema::{FieldType, FieldTypes};

/// A condition ready to run.
#[derive(Debug, Clone)]
pub enum Condition {
    /// Always the given answer.
    Constant(bool),
    /// Every operand holds.
    All(Vec<Condition>),
    /// Some operand holds.
    Any(Vec<Condition>),
    /// The operand does not hold (a missing field included).
    Not(Box<Condition>),
    /// Some value of the field passes the test.
    Field {
        /// The field.
        field: FieldRef,
        /// The test.
        test: FieldTest,
    },
    /// The field has no value.
    Missing(FieldRef),
    /// A computed condition, true when it is true for some combination of the values of
    /// `fields` (the fields it reads, found once at compile time).
    Computed {
        /// The condition.
        expr: Box<Expr>,
        /// The distinct fields it reads.
        fields: Vec<FieldRef>,
    },
}

/// A test of one field value.
#[derive(Debug, Clone)]
pub enum FieldTest {
    /// Compare with a constant.
    Compare(CompareOp, Literal, Case),
    /// Equal to one of the constants.
    OneOf(Vec<Literal>, Case),
    /// Equal to one of many constants, a text value looked up in a set.
    OneOfMany(Box<ConstantSet>),
    /// Matches one of the wildcard patterns.
    Like(Vec<Wildcard>),
    /// Matches one of the regular expressions (whole value).
    Regex(Vec<regex::Regex>),
    /// An address inside one of the networks.
    Cidr(Vec<IpNet>),
    /// The boolean `true`.
    IsTrue,
    /// A `date` field against constants, compared as instants: with `==` (and `in`) inside
    /// one of the spans, with an order against the single span ([`DateSpan::holds`]).
    Date(CompareOp, Vec<DateSpan>, DateResolution),
    /// An `ip` field equal to one of the addresses or inside one of the CIDR blocks.
    IpIn(Vec<IpBlock>),
    /// An `ip` field ordered against an address (16 bytes, IPv4 as IPv4-mapped IPv6).
    IpOrder(CompareOp, u128),
}

/// Many constants for `in`: the text forms a keyword value would be compared with (folded
/// when case-insensitive), and the constants themselves for values that are not text.
#[derive(Debug, Clone)]
pub struct ConstantSet {
    /// The constants, as written.
    pub literals: Vec<Literal>,
    case: Case,
    texts: std::collections::HashSet<Box<str>>,
}

/// Lists at least this long are looked up in a set rather than scanned.
const SET_LOOKUP_FROM: usize = 4;

/// The test of `in (literals)`.
fn one_of(literals: Vec<Literal>, case: Case) -> FieldTest {
    if literals.len() < SET_LOOKUP_FROM {
        return FieldTest::OneOf(literals, case);
    }
    // A text value equals a constant when it equals the constant's text (`compare`): strings,
    // whole numbers and booleans have one; other numbers never equal text.
    let texts = literals
        .iter()
        .filter_map(|l| match l {
            Literal::String(s) => Some(s.clone()),
            Literal::Integer(i) => Some(i.to_string()),
            Literal::Bool(b) => Some(b.to_string()),
            _ => None,
        })
        .map(|t| match case {
            Case::Insensitive => t.to_ascii_lowercase().into_boxed_str(),
            Case::Sensitive => t.into_boxed_str(),
        })
        .collect();
    FieldTest::OneOfMany(Box::new(ConstantSet {
        literals,
        case,
        texts,
    }))
}

impl ConstantSet {
    /// Whether text is compared ignoring ASCII case.
    pub fn case(&self) -> Case {
        self.case
    }

    fn contains(&self, value: &FieldValue<'_>) -> bool {
        match value {
            FieldValue::Text(s) => {
                if self.case == Case::Insensitive && s.bytes().any(|b| b.is_ascii_uppercase()) {
                    self.texts.contains(s.to_ascii_lowercase().as_str())
                } else {
                    self.texts.contains(*s)
                }
            }
            _ => self
                .literals
                .iter()
                .any(|l| compare(value, l, self.case) == Some(Ordering::Equal)),
        }
    }
}

/// A construct the evaluator cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError(pub String);

/// Compile an IR condition, with the Elastic Common Schema's field types (as the Query DSL
/// backend uses without a mapping).
pub fn compile(expr: &Expr) -> Result<Condition, CompileError> {
    compile_with(expr, FieldTypes::ecs())
}

/// Compile an IR condition with the given field types: comparisons of `date` and `ip` fields
/// with constants become typed tests, and a constant such a field cannot hold is an error
/// (Elasticsearch fails the search).
pub fn compile_with(expr: &Expr, types: &FieldTypes) -> Result<Condition, CompileError> {
    Compiler { types }.compile(expr)
}

struct Compiler<'a> {
    types: &'a FieldTypes,
}

impl Compiler<'_> {
    fn compile(&self, expr: &Expr) -> Result<Condition, CompileError> {
        Ok(match expr {
            Expr::Bool { value } => Condition::Constant(*value),
            Expr::And { operands } => Condition::All(
                operands
                    .iter()
                    .map(|o| self.compile(o))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or { operands } => Condition::Any(
                operands
                    .iter()
                    .map(|o| self.compile(o))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Not { operand } => match self.compile(operand)? {
                // Elasticsearch negates a script inside the script: null stays null.
                Condition::Computed { .. } => computed_condition(expr),
                _ if operand.compares_with_null() => computed_condition(expr),
                inner => Condition::Not(Box::new(inner)),
            },
            Expr::IsNull {
                value: Value::Field(f),
            } => Condition::Missing(FieldRef::new(&f.name)),
            Expr::Compare(c) => self.compare(expr, c)?,
            Expr::In(set) => match &set.value {
                Value::Field(f) => {
                    // A null in the list equals nothing.
                    let values: Vec<&Literal> =
                        set.values.iter().filter(|l| **l != Literal::Null).collect();
                    match self.typed_test(f, CompareOp::Eq, &values)? {
                        Some(test) => field(f, test),
                        None => field(f, one_of(set.values.clone(), set.case)),
                    }
                }
                _ => computed_condition(expr),
            },
            Expr::Like(like) => match &like.value {
                Value::Field(f) => field(
                    f,
                    FieldTest::Like(
                        like.patterns
                            .iter()
                            .map(|p| Wildcard::new(p, like.case))
                            .collect(),
                    ),
                ),
                _ => computed_condition(expr),
            },
            Expr::Regex(regex) => match &regex.value {
                Value::Field(f) => field(
                    f,
                    FieldTest::Regex(compile_regexes(&regex.patterns, regex.case)?),
                ),
                _ => {
                    // Checked now so that evaluation cannot meet a bad pattern.
                    compile_regexes(&regex.patterns, regex.case)?;
                    computed_condition(expr)
                }
            },
            Expr::Test {
                value: Value::Field(f),
            } => field(f, FieldTest::IsTrue),
            Expr::Test {
                value: Value::Call(call),
            } => match function_test(call)? {
                Some(c) => c,
                None => computed_condition(expr),
            },
            _ => computed_condition(expr),
        })
    }

    fn compare(&self, expr: &Expr, c: &Compare) -> Result<Condition, CompileError> {
        if c.right.as_literal() == Some(&Literal::Null) {
            // A comparison with null is null: never true.
            return Ok(Condition::Constant(false));
        }
        if let (Value::Call(call), Some(Literal::Bool(b)), CompareOp::Eq) =
            (&c.left, c.right.as_literal(), c.op)
        {
            if call.function.returns_boolean() {
                if let Some(test) = function_test(call)? {
                    return Ok(if *b {
                        test
                    } else {
                        Condition::Not(Box::new(test))
                    });
                }
            }
        }
        Ok(match (&c.left, c.right.as_literal()) {
            (Value::Field(f), Some(literal)) => match self.typed_test(f, c.op, &[literal])? {
                Some(test) => field(f, test),
                None => field(f, FieldTest::Compare(c.op, literal.clone(), c.case)),
            },
            _ => computed_condition(expr),
        })
    }

    /// The test of a `date` or `ip` field against non-null constants (one, unless `op` is
    /// `==`), as Elasticsearch's `term`, `terms` and `range` queries read them; `None` for
    /// other fields.
    fn typed_test(
        &self,
        f: &Field,
        op: CompareOp,
        literals: &[&Literal],
    ) -> Result<Option<FieldTest>, CompileError> {
        let Some(mapped) = self.types.get(&f.name) else {
            return Ok(None);
        };
        let refused = |literal: &Literal, what: &str| {
            CompileError(format!(
                "`{}` is a `{}` field and Elasticsearch cannot read {} as {what}: it fails \
                 the search",
                f.name,
                mapped.ty.es_name(),
                crate::ir::print::literal(literal)
            ))
        };
        Ok(Some(match &mapped.ty {
            FieldType::Date(name) => {
                let resolution = DateResolution::of_type(name);
                let spans = literals
                    .iter()
                    .map(|l| {
                        DateSpan::of_constant(l, resolution).ok_or_else(|| {
                            refused(
                                l,
                                "a date (strict_date_optional_time or epoch_millis; date \
                                 math is not evaluated)",
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?;
                FieldTest::Date(op, spans, resolution)
            }
            FieldType::Ip if op == CompareOp::Eq => FieldTest::IpIn(
                literals
                    .iter()
                    .map(|l| {
                        IpBlock::of_constant(l)
                            .ok_or_else(|| refused(l, "an IP address or CIDR block"))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            FieldType::Ip => {
                let [literal] = literals else {
                    return Ok(None);
                };
                let bits = match literal {
                    Literal::String(s) => typed::ip_bits(s),
                    _ => None,
                };
                FieldTest::IpOrder(op, bits.ok_or_else(|| refused(literal, "an IP address"))?)
            }
            _ => return Ok(None),
        }))
    }
}

fn computed_condition(expr: &Expr) -> Condition {
    Condition::Computed {
        fields: expr
            .fields()
            .iter()
            .map(|f| FieldRef::new(&f.name))
            .collect(),
        expr: Box::new(expr.clone()),
    }
}

fn field(f: &Field, test: FieldTest) -> Condition {
    Condition::Field {
        field: FieldRef::new(&f.name),
        test,
    }
}

/// A boolean function of a field and constants, as the query Elasticsearch uses for it.
fn function_test(call: &Call) -> Result<Option<Condition>, CompileError> {
    let Some(Value::Field(f)) = call.args.first() else {
        return Ok(None);
    };
    let Some(strings) = call.constant_strings(1) else {
        return Ok(None);
    };
    let wildcard = |parts: Vec<PatternPart>| {
        field(
            f,
            FieldTest::Like(vec![Wildcard::new(&Pattern { parts }, call.case)]),
        )
    };
    let needle =
        || PatternPart::Literal(strings.first().map(|s| s.to_string()).unwrap_or_default());
    Ok(Some(match call.function {
        Function::CidrMatch => {
            let nets = strings
                .iter()
                .map(|s| {
                    s.parse::<IpNet>()
                        .map_err(|_| CompileError(format!("`{s}` is not a CIDR block")))
                })
                .collect::<Result<_, _>>()?;
            field(f, FieldTest::Cidr(nets))
        }
        Function::StartsWith => wildcard(vec![needle(), PatternPart::AnyString]),
        Function::EndsWith => wildcard(vec![PatternPart::AnyString, needle()]),
        Function::StringContains => wildcard(vec![
            PatternPart::AnyString,
            needle(),
            PatternPart::AnyString,
        ]),
        _ => return Ok(None),
    }))
}

fn compile_regexes(patterns: &[String], case: Case) -> Result<Vec<regex::Regex>, CompileError> {
    patterns
        .iter()
        .map(|p| {
            // Whole-value matching; `.` matches line breaks, as in Lucene.
            regex::RegexBuilder::new(&format!("^(?:{p})$"))
                .dot_matches_new_line(true)
                .case_insensitive(case == Case::Insensitive)
                .size_limit(1 << 22)
                .build()
                .map_err(|e| CompileError(format!("regular expression `{p}`: {e}")))
        })
        .collect()
}

impl Condition {
    /// Add the fields the condition reads to `out`.
    pub fn collect_fields(&self, out: &mut Vec<FieldRef>) {
        match self {
            Condition::Constant(_) => {}
            Condition::All(cs) | Condition::Any(cs) => {
                cs.iter().for_each(|c| c.collect_fields(out))
            }
            Condition::Not(c) => c.collect_fields(out),
            Condition::Field { field, .. } | Condition::Missing(field) => out.push(field.clone()),
            Condition::Computed { fields, .. } => out.extend(fields.iter().cloned()),
        }
    }

    /// Whether the event matches.
    pub fn matches(&self, doc: &dyn Document) -> bool {
        match self {
            Condition::Constant(b) => *b,
            Condition::All(cs) => cs.iter().all(|c| c.matches(doc)),
            Condition::Any(cs) => cs.iter().any(|c| c.matches(doc)),
            Condition::Not(c) => !c.matches(doc),
            Condition::Missing(f) => doc.field_values(f).is_empty(),
            Condition::Field { field, test } => {
                doc.field_values(field).iter().any(|v| test.holds(v))
            }
            Condition::Computed { expr, fields } => computed(expr, fields, doc),
        }
    }
}

impl FieldTest {
    fn holds(&self, value: &FieldValue<'_>) -> bool {
        match self {
            // Equality of texts, the commonest test, without ordering them.
            FieldTest::Compare(CompareOp::Eq, literal @ Literal::String(t), case) => match value {
                FieldValue::Text(s) => match case {
                    Case::Sensitive => s == t,
                    Case::Insensitive => s.eq_ignore_ascii_case(t),
                },
                _ => compare(value, literal, *case) == Some(Ordering::Equal),
            },
            FieldTest::Compare(op, literal, case) => {
                compare(value, literal, *case).is_some_and(|ordering| op.holds(ordering))
            }
            FieldTest::OneOfMany(set) => set.contains(value),
            FieldTest::OneOf(literals, case) => literals
                .iter()
                .any(|l| compare(value, l, *case) == Some(Ordering::Equal)),
            FieldTest::Like(wildcards) => {
                let text = text_of(value);
                wildcards.iter().any(|w| w.matches(&text))
            }
            FieldTest::Regex(regexes) => {
                let text = text_of(value);
                regexes.iter().any(|r| r.is_match(&text))
            }
            FieldTest::Cidr(nets) => match value {
                FieldValue::Text(s) => s
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| nets.iter().any(|n| n.contains(&ip))),
                _ => false,
            },
            FieldTest::IsTrue => matches!(value, FieldValue::Bool(true)),
            FieldTest::Date(op, spans, resolution) => typed::date_value(value, *resolution)
                .is_some_and(|v| spans.iter().any(|span| span.holds(*op, v))),
            FieldTest::IpIn(blocks) => {
                typed::ip_value(value).is_some_and(|ip| blocks.iter().any(|b| b.contains(ip)))
            }
            FieldTest::IpOrder(op, bound) => {
                typed::ip_value(value).is_some_and(|ip| op.holds(ip.cmp(bound)))
            }
        }
    }
}

/// A value as the text a keyword field would index.
fn text_of<'a>(value: &FieldValue<'a>) -> std::borrow::Cow<'a, str> {
    match value {
        FieldValue::Text(s) => std::borrow::Cow::Borrowed(s),
        FieldValue::Integer(i) => std::borrow::Cow::Owned(i.to_string()),
        FieldValue::Float(f) => std::borrow::Cow::Owned(f.to_string()),
        FieldValue::Bool(b) => std::borrow::Cow::Owned(b.to_string()),
    }
}

/// Order a field value against a constant as Elasticsearch's queries do: numbers as numbers
/// (a numeric string constant against a number field is read as a number), strings by code
/// point (a number constant against a string value is compared as its text), booleans with
/// booleans or their text. `None` when they cannot be compared.
fn compare(value: &FieldValue<'_>, literal: &Literal, case: Case) -> Option<Ordering> {
    match (value, literal) {
        (FieldValue::Integer(a), Literal::Integer(b)) => Some(a.cmp(b)),
        (
            FieldValue::Integer(_) | FieldValue::Float(_),
            Literal::Integer(_) | Literal::Float(_),
        ) => number(value)?.partial_cmp(&functions::number(literal)?),
        (FieldValue::Integer(_) | FieldValue::Float(_), Literal::String(s)) => {
            // A number field against text: a number, or a date against epoch milliseconds.
            let bound = s.trim().parse::<f64>().ok().or_else(|| date_millis(s))?;
            number(value)?.partial_cmp(&bound)
        }
        (FieldValue::Text(s), Literal::String(t)) => Some(text_cmp(s, t, case)),
        (FieldValue::Text(s), Literal::Integer(i)) => Some(text_cmp(s, &i.to_string(), case)),
        (FieldValue::Text(s), Literal::Bool(b)) => Some(text_cmp(s, &b.to_string(), case)),
        (FieldValue::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
        (FieldValue::Bool(a), Literal::String(s)) => match s.as_str() {
            "true" => Some(a.cmp(&true)),
            "false" => Some(a.cmp(&false)),
            _ => None,
        },
        _ => None,
    }
}

fn text_cmp(a: &str, b: &str, case: Case) -> Ordering {
    match case {
        Case::Sensitive => a.cmp(b),
        Case::Insensitive => a
            .bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase())),
    }
}

fn number(value: &FieldValue<'_>) -> Option<f64> {
    match value {
        FieldValue::Integer(i) => Some(*i as f64),
        FieldValue::Float(f) => Some(*f),
        _ => None,
    }
}

/// A computed condition: true if it is true for some combination of its fields' values.
fn computed(expr: &Expr, fields: &[FieldRef], doc: &dyn Document) -> bool {
    let columns: Vec<Vec<Literal>> = fields
        .iter()
        .map(|field| {
            let values: Vec<Literal> = doc.field_values(field).iter().map(to_literal).collect();
            if values.is_empty() {
                vec![Literal::Null]
            } else {
                values
            }
        })
        .collect();
    // Odometer over the combinations; a field without values contributes one null.
    let mut index = vec![0usize; columns.len()];
    loop {
        let binding = |name: &str| -> Literal {
            fields
                .iter()
                .position(|f| f.name() == name)
                .map(|i| columns[i][index[i]].clone())
                .unwrap_or(Literal::Null)
        };
        if truth(expr, &binding) == Some(true) {
            return true;
        }
        let mut i = 0;
        loop {
            if i == index.len() {
                return false;
            }
            index[i] += 1;
            if index[i] < columns[i].len() {
                break;
            }
            index[i] = 0;
            i += 1;
        }
    }
}

/// Three-valued `and` (`decisive` false) or `or` (`decisive` true): the decisive answer wins,
/// else null if any operand is null.
fn kleene(operands: &[Expr], decisive: bool, binding: &dyn Fn(&str) -> Literal) -> Option<bool> {
    let mut unknown = false;
    for operand in operands {
        match truth(operand, binding) {
            Some(b) if b == decisive => return Some(decisive),
            None => unknown = true,
            Some(_) => {}
        }
    }
    if unknown {
        None
    } else {
        Some(!decisive)
    }
}

fn to_literal(value: &FieldValue<'_>) -> Literal {
    match value {
        FieldValue::Bool(b) => Literal::Bool(*b),
        FieldValue::Integer(i) => Literal::Integer(*i),
        FieldValue::Float(f) => Literal::Float(*f),
        FieldValue::Text(s) => Literal::String(s.to_string()),
    }
}

/// Three-valued truth of a condition under a binding of fields to single values.
fn truth(expr: &Expr, binding: &dyn Fn(&str) -> Literal) -> Option<bool> {
    match expr {
        Expr::Bool { value } => Some(*value),
        Expr::And { operands } => kleene(operands, false, binding),
        Expr::Or { operands } => kleene(operands, true, binding),
        Expr::Not { operand } => truth(operand, binding).map(|b| !b),
        Expr::Compare(c) => {
            let (a, b) = (value(&c.left, binding), value(&c.right, binding));
            functions::compare_constants(&a, &b, c.case).map(|o| c.op.holds(o))
        }
        Expr::IsNull { value: v } => Some(value(v, binding) == Literal::Null),
        Expr::In(set) => {
            let v = value(&set.value, binding);
            if v == Literal::Null {
                return None;
            }
            Some(
                set.values.iter().any(|l| {
                    functions::compare_constants(&v, l, set.case) == Some(Ordering::Equal)
                }),
            )
        }
        Expr::Like(like) => match value(&like.value, binding) {
            Literal::Null => None,
            Literal::String(s) => Some(
                like.patterns
                    .iter()
                    .any(|p| Wildcard::new(p, like.case).matches(&s)),
            ),
            _ => None,
        },
        Expr::Regex(regex) => match value(&regex.value, binding) {
            Literal::String(s) => compile_regexes(&regex.patterns, regex.case)
                .ok()
                .map(|rs| rs.iter().any(|r| r.is_match(&s))),
            _ => None,
        },
        Expr::Test { value: v } => match value(v, binding) {
            Literal::Bool(b) => Some(b),
            _ => None,
        },
    }
}

/// A value under a binding; errors (type mismatches, overflow, division by zero) are null.
fn value(v: &Value, binding: &dyn Fn(&str) -> Literal) -> Literal {
    match v {
        Value::Field(f) => binding(&f.name),
        Value::Literal { literal } => literal.clone(),
        Value::Negate { operand } => match value(operand, binding) {
            Literal::Integer(i) => i.checked_neg().map_or(Literal::Null, Literal::Integer),
            Literal::Float(f) => Literal::Float(-f),
            _ => Literal::Null,
        },
        Value::Arithmetic { op, left, right } => {
            arithmetic(*op, &value(left, binding), &value(right, binding))
        }
        Value::Condition { condition } => match truth(condition, binding) {
            Some(b) => Literal::Bool(b),
            None => Literal::Null,
        },
        Value::Call(call) => {
            let args: Vec<Literal> = call.args.iter().map(|a| value(a, binding)).collect();
            let arith = match call.function {
                Function::Add => Some(ArithOp::Add),
                Function::Subtract => Some(ArithOp::Sub),
                Function::Multiply => Some(ArithOp::Mul),
                Function::Divide => Some(ArithOp::Div),
                Function::Modulo => Some(ArithOp::Mod),
                _ => None,
            };
            if let (Some(op), [a, b]) = (arith, args.as_slice()) {
                return arithmetic(op, a, b);
            }
            if call.function == Function::CidrMatch {
                return cidr_match(&args);
            }
            match fold(call.function, &args, call.case) {
                Ok(Some(result)) => result,
                _ => Literal::Null,
            }
        }
    }
}

fn cidr_match(args: &[Literal]) -> Literal {
    let Some(Literal::String(address)) = args.first() else {
        return Literal::Null;
    };
    let Ok(ip) = address.parse::<std::net::IpAddr>() else {
        return Literal::Null;
    };
    let hit = args[1..].iter().any(|a| match a {
        Literal::String(c) => c.parse::<IpNet>().is_ok_and(|n| n.contains(&ip)),
        _ => false,
    });
    Literal::Bool(hit)
}

/// Arithmetic at run time: where constant folding reports an error, the value is null.
fn arithmetic(op: ArithOp, a: &Literal, b: &Literal) -> Literal {
    functions::arithmetic(op, a, b).unwrap_or(Literal::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::compile_query;
    use crate::eval::JsonDocument;
    use crate::ir::QueryBody;
    use serde_json::json;

    fn holds(condition: &str, event: serde_json::Value) -> bool {
        let query = compile_query(&format!("any where {condition}")).expect("compiles");
        let QueryBody::Event(e) = query.body else {
            panic!("event query")
        };
        compile(&e.condition)
            .expect("compiles")
            .matches(&JsonDocument(&event))
    }

    #[test]
    fn elasticsearch_null_and_negation_rules() {
        let ev = json!({"a": "x"});
        assert!(
            holds(r#"b != "y""#, ev.clone()),
            "!= holds where the field is missing"
        );
        assert!(!holds(r#"b == "y""#, ev.clone()));
        assert!(holds("b == null", ev.clone()));
        assert!(!holds("length(b) > 0", ev.clone()));
        assert!(
            !holds("not length(b) > 0", ev.clone()),
            "a scripted negation stays null"
        );
        assert!(!holds("a < null", ev.clone()));
        assert!(!holds("not a < null", ev));
    }

    #[test]
    fn case_arrays_numbers_and_cidrs() {
        let ev =
            json!({"p": {"name": "CMD.EXE", "args": ["/c", "whoami"], "pid": 4}, "ip": "10.1.2.3"});
        assert!(holds(r#"p.name : "cmd.exe""#, ev.clone()));
        assert!(!holds(r#"p.name == "cmd.exe""#, ev.clone()));
        assert!(holds(r#"p.args == "whoami""#, ev.clone()), "any element");
        assert!(holds(
            r#"p.args == "/c" and p.args == "whoami""#,
            ev.clone()
        ));
        assert!(holds("p.pid >= 4 and p.pid < 5", ev.clone()));
        assert!(
            holds(r#"p.pid == "4""#, ev.clone()),
            "a numeric string against a number"
        );
        assert!(holds(r#"cidrMatch(ip, "10.0.0.0/8")"#, ev.clone()));
        assert!(!holds(r#"cidrMatch(ip, "192.168.0.0/16")"#, ev.clone()));
        assert!(holds(r#"length(p.name) == 7"#, ev.clone()));
        assert!(holds(r#"p.name regex~ "cmd\\..*""#, ev));
        let ev = json!({"@timestamp": 1504126052000_i64});
        assert!(holds(r#"@timestamp == "2017-08-30T20:47:32Z""#, ev.clone()));
        assert!(holds(r#"@timestamp < "2017-08-31""#, ev));
    }

    fn event_condition(condition: &str) -> Expr {
        let query = compile_query(&format!("any where {condition}")).expect("compiles");
        let QueryBody::Event(e) = query.body else {
            panic!("event query")
        };
        e.condition
    }

    #[test]
    fn date_fields_compare_instants_as_range_queries_do() {
        let ev = json!({"@timestamp": "2024-01-01T01:00:04.500+01:00", "event": {"created": 1704067204000_i64}});
        // The stored value is 00:00:04.500Z; a bound without milliseconds spans its second.
        assert!(holds(r#"@timestamp == "2024-01-01T00:00:04Z""#, ev.clone()));
        assert!(holds(
            r#"@timestamp == "2024-01-01T00:00:04.5Z""#,
            ev.clone()
        ));
        assert!(holds("@timestamp == 1704067204500", ev.clone()));
        assert!(!holds(r#"@timestamp > "2024-01-01T00:00:04Z""#, ev.clone()));
        assert!(holds(
            r#"@timestamp > "2024-01-01T00:00:04.499Z""#,
            ev.clone()
        ));
        assert!(holds(r#"@timestamp <= "2024-01-01T00:00:04Z""#, ev.clone()));
        assert!(!holds(r#"@timestamp < "2024-01-01T00:00:04Z""#, ev.clone()));
        assert!(holds(r#"@timestamp >= "2024-01-01""#, ev.clone()));
        assert!(!holds(r#"@timestamp > "2024-01-01""#, ev.clone()));
        assert!(holds(
            r#"@timestamp in ("2023-12-31", "2024-01-01T00:00:04.5Z")"#,
            ev.clone()
        ));
        assert!(holds(r#"@timestamp != "2024-01-02""#, ev.clone()));
        assert!(holds(
            r#"event.created < "2024-01-01T00:00:04.001Z""#,
            ev.clone()
        ));
        assert!(holds(r#"event.created == "1704067204000""#, ev));
        // Constants Elasticsearch cannot read as dates fail the search: no rule.
        for bad in [
            r#"@timestamp > "now-1d""#,
            r#"@timestamp == "yesterday""#,
            "@timestamp == true",
        ] {
            assert!(compile(&event_condition(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn ip_fields_compare_addresses_and_blocks() {
        let ev = json!({"source": {"ip": "2001:db8::ff00:42:8329"}, "destination": {"ip": ["10.1.2.3", "::1"]}});
        assert!(holds(
            r#"source.ip == "2001:db8:0:0:0:ff00:42:8329""#,
            ev.clone()
        ));
        assert!(!holds(
            r#"source.ip != "2001:DB8:0000::ff00:42:8329""#,
            ev.clone()
        ));
        assert!(holds(r#"destination.ip == "::ffff:10.1.2.3""#, ev.clone()));
        assert!(holds(r#"destination.ip == "10.0.0.0/8""#, ev.clone()));
        assert!(holds(
            r#"destination.ip in (null, "192.168.0.0/16", "0:0::1")"#,
            ev.clone()
        ));
        assert!(holds(r#"source.ip > "255.255.255.255""#, ev.clone()));
        assert!(!holds(r#"destination.ip > "255.255.255.255""#, ev.clone()));
        assert!(holds(r#"destination.ip < "10.1.2.4""#, ev.clone()));
        // Text that is no address is not indexed: it equals nothing.
        assert!(!holds(
            r#"client.ip == "1.2.3.4""#,
            json!({"client": {"ip": "n/a"}})
        ));
        for bad in [
            r#"source.ip == "localhost""#,
            r#"source.ip in ("10.0.0.1", "10.0.0.0/33")"#,
            r#"source.ip > "10.0.0.0/8""#,
            "source.ip == 5",
        ] {
            assert!(compile(&event_condition(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn field_types_come_from_the_given_mapping() {
        let types = FieldTypes::from_mapping_json(
            r#"{"properties": {"@timestamp": {"type": "keyword"}, "seen": {"type": "date_nanos"}, "peer": {"type": "ip"}}}"#,
        )
        .expect("mapping");
        let run = |condition: &str, event: serde_json::Value| {
            compile_with(&event_condition(condition), &types)
                .expect("compiles")
                .matches(&JsonDocument(&event))
        };
        // A keyword @timestamp compares text.
        let ev = json!({"@timestamp": "2024-01-01T00:00:04.500Z"});
        assert!(!run(r#"@timestamp == "2024-01-01T00:00:04Z""#, ev.clone()));
        assert!(run(r#"@timestamp < "2024-01-01T00:00:04Z""#, ev));
        // date_nanos keeps nanoseconds.
        let ev = json!({"seen": "2024-01-01T00:00:00.000000500Z"});
        assert!(!run(r#"seen == "2024-01-01T00:00:00.000Z""#, ev.clone()));
        assert!(run(r#"seen == "2024-01-01T00:00:00Z""#, ev.clone()));
        assert!(run(r#"seen > "2024-01-01T00:00:00.000000499Z""#, ev));
        assert!(run(
            r#"peer == "::ffff:1.2.3.4""#,
            json!({"peer": "1.2.3.4"})
        ));
    }
}
