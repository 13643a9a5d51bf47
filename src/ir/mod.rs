//! The IR: one typed, normalised form of an EQL query that every backend consumes.
//!
//! Normal forms, established by [`lower`] and kept by the smart constructors below:
//! - `and`/`or` are flat n-ary nodes with at least two operands and no boolean constants;
//! - `not not x` is `x`, `not true` is `false`;
//! - `!=` is `Not(Compare(==))`, `x == null` is [`Expr::IsNull`], `not in` is `Not(In)`;
//! - `:`, `like` and `like~` are [`Expr::Like`] with parsed [`Pattern`]s and an explicit [`Case`];
//! - constants are folded as Elasticsearch folds them (arithmetic, comparisons of literals,
//!   negative numbers), and a literal compared with a value sits on the right;
//! - sequences and samples are lists of [`Stage`]s with their keys, runs and flags.
//!
//! [`print`] turns IR back into canonical EQL; [`fold`] lets a pass rewrite only what it touches.

pub mod fold;
pub mod functions;
mod lower;
pub mod pattern;
pub mod print;

use serde::Serialize;

pub use functions::Function;
pub use lower::lower;
pub use pattern::{Pattern, PatternPart};

/// A whole query: what it selects, then its pipes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Query {
    /// The event query, sequence or sample.
    pub body: QueryBody,
    /// `| head N` / `| tail N`, in order.
    pub pipes: Vec<Pipe>,
}

/// The three query shapes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueryBody {
    /// A single-event query.
    Event(EventQuery),
    /// An ordered sequence of events.
    Sequence(Sequence),
    /// An unordered sample of events sharing keys.
    Sample(Sample),
}

/// `<category> where <condition>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventQuery {
    /// The event category filter.
    pub category: Category,
    /// The condition.
    pub condition: Expr,
}

/// The event category a query or stage selects.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// `any`: no category filter.
    Any,
    /// A named category (`process`, `file`, …).
    Named(String),
}

/// `sequence by ... with maxspan=... [..] [..] until [..]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sequence {
    /// Join keys every stage shares (written after `sequence by`).
    pub by: Vec<Field>,
    /// Maximum time between the first and last event.
    pub maxspan: Option<Duration>,
    /// The ordered stages.
    pub stages: Vec<Stage>,
    /// A stage whose match ends pending sequences.
    pub until: Option<Stage>,
}

/// `sample by ... [..] [..]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Join keys every stage shares.
    pub by: Vec<Field>,
    /// The stages.
    pub stages: Vec<Stage>,
}

/// One stage of a sequence or sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    /// The stage's event filter.
    pub event: EventQuery,
    /// The stage's own join keys, after the shared ones.
    pub by: Vec<Field>,
    /// `with runs=N`: the stage matches N consecutive events (1 when not written).
    pub runs: u64,
    /// `![...]`: the stage matches the absence of such an event.
    pub missing: bool,
}

impl Stage {
    /// All join keys of this stage: the shared ones, then its own.
    pub fn keys<'a>(&'a self, shared: &'a [Field]) -> impl Iterator<Item = &'a Field> {
        shared.iter().chain(self.by.iter())
    }
}

/// A time span, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Duration {
    /// Length in milliseconds.
    pub millis: u64,
}

impl std::fmt::Display for Duration {
    /// The largest unit that expresses the span exactly: `90s`, `5m`, `500ms`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const UNITS: [(u64, &str); 4] = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1_000, "s"),
        ];
        for (size, unit) in UNITS {
            if self.millis > 0 && self.millis.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.millis / size);
            }
        }
        write!(f, "{}ms", self.millis)
    }
}

/// `| head N` or `| tail N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pipe {
    /// The first N results.
    Head(u64),
    /// The last N results.
    Tail(u64),
}

/// Whether a string comparison distinguishes case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Case {
    /// `==`, `in`, `like`, `regex`, plain functions.
    Sensitive,
    /// `:`, `in~`, `like~`, `regex~`, `fn~()`.
    Insensitive,
}

/// A condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Expr {
    /// A constant condition (only ever a whole condition: constants never sit inside and/or).
    Bool {
        /// The value.
        value: bool,
    },
    /// All operands hold (two or more).
    And {
        /// The operands.
        operands: Vec<Expr>,
    },
    /// At least one operand holds (two or more).
    Or {
        /// The operands.
        operands: Vec<Expr>,
    },
    /// The operand does not hold. As in Elasticsearch, this matches events where the operand's
    /// field is missing.
    Not {
        /// The negated condition.
        operand: Box<Expr>,
    },
    /// `left <op> right` (`!=` is `Not` of `==`).
    Compare(Compare),
    /// `value == null`: the value is missing or null.
    IsNull {
        /// The tested value.
        value: Value,
    },
    /// `value in (...)` / `value in~ (...)`.
    In(InSet),
    /// `value : patterns`, `value like patterns`, `value like~ patterns`.
    Like(Like),
    /// `value regex patterns`, `value regex~ patterns`.
    Regex(RegexMatch),
    /// A boolean-valued field or function standing as a condition.
    Test {
        /// The value that must be `true`.
        value: Value,
    },
}

/// Comparison operators (after normalisation: `!=` is expressed with [`Expr::Not`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareOp {
    /// `==`
    Eq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CompareOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }

    /// Whether `left <op> right` holds when `left` orders `ordering` against `right`.
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            CompareOp::Eq => ordering == Equal,
            CompareOp::Lt => ordering == Less,
            CompareOp::Le => ordering != Greater,
            CompareOp::Gt => ordering == Greater,
            CompareOp::Ge => ordering != Less,
        }
    }

    /// The operator with its operands swapped (`a < b` ⇔ `b > a`).
    pub fn flipped(self) -> CompareOp {
        match self {
            CompareOp::Eq => CompareOp::Eq,
            CompareOp::Lt => CompareOp::Gt,
            CompareOp::Le => CompareOp::Ge,
            CompareOp::Gt => CompareOp::Lt,
            CompareOp::Ge => CompareOp::Le,
        }
    }
}

/// `left <op> right`; `right` is a literal unless both sides are computed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Compare {
    /// The operator.
    pub op: CompareOp,
    /// Left operand (the field or computed value).
    pub left: Value,
    /// Right operand (normally a literal).
    pub right: Value,
    /// How strings compare (`==` is case-sensitive).
    pub case: Case,
}

/// `value in (values)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InSet {
    /// The tested value.
    pub value: Value,
    /// The candidate constants.
    pub values: Vec<Literal>,
    /// `in` is case-sensitive, `in~` is not.
    pub case: Case,
}

/// Wildcard matching against one or more patterns (any may match).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Like {
    /// The tested value.
    pub value: Value,
    /// The patterns.
    pub patterns: Vec<Pattern>,
    /// `like` is case-sensitive; `:` and `like~` are not.
    pub case: Case,
}

/// Regular-expression matching against one or more patterns (any may match).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegexMatch {
    /// The tested value.
    pub value: Value,
    /// The regular expressions, as written (anchored at both ends when evaluated).
    pub patterns: Vec<String>,
    /// `regex` is case-sensitive, `regex~` is not.
    pub case: Case,
}

/// A value: field, literal, function call or arithmetic.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "value", rename_all = "snake_case")]
pub enum Value {
    /// A field of the event.
    Field(Field),
    /// A constant.
    Literal {
        /// The constant.
        literal: Literal,
    },
    /// A function call.
    Call(Call),
    /// Binary arithmetic.
    Arithmetic {
        /// The operator.
        op: ArithOp,
        /// Left operand.
        left: Box<Value>,
        /// Right operand.
        right: Box<Value>,
    },
    /// Unary minus on a computed value (minus on a literal is folded).
    Negate {
        /// The negated value.
        operand: Box<Value>,
    },
    /// A condition used as a boolean value, e.g. `(exit_code > -1) == null`: true, false, or
    /// null when its operands are null.
    Condition {
        /// The condition.
        condition: Box<Expr>,
    },
}

/// Constants and arithmetic operators are the same in the syntax tree and the IR.
pub use crate::syntax::ast::{ArithOp, Literal};

/// A field reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Field {
    /// The full dotted name (`process.parent.name`).
    pub name: String,
    /// `?field`: the field may be absent from the mapping.
    pub optional: bool,
}

/// A function call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    /// Which function.
    pub function: Function,
    /// Arguments.
    pub args: Vec<Value>,
    /// `fn~(...)` is case-insensitive; plain calls are case-sensitive.
    pub case: Case,
}

impl Value {
    /// A literal value.
    pub fn literal(literal: Literal) -> Value {
        Value::Literal { literal }
    }

    /// The literal, if this value is one.
    pub fn as_literal(&self) -> Option<&Literal> {
        match self {
            Value::Literal { literal } => Some(literal),
            _ => None,
        }
    }

    /// Whether this value is a `?field` reference.
    pub fn is_optional_field(&self) -> bool {
        matches!(self, Value::Field(Field { optional: true, .. }))
    }
}

impl Call {
    /// The arguments from position `from` on, when every one is a string constant.
    pub fn constant_strings(&self, from: usize) -> Option<Vec<&String>> {
        self.args
            .get(from..)?
            .iter()
            .map(|a| match a.as_literal() {
                Some(Literal::String(s)) => Some(s),
                _ => None,
            })
            .collect()
    }
}

impl Expr {
    /// Whether a comparison with a `null` constant stands here, under `and`/`or`/`not` only:
    /// such a comparison is null, and so is its negation, which `must_not`-style negation
    /// cannot express.
    pub fn compares_with_null(&self) -> bool {
        match self {
            Expr::Compare(c) => c.right.as_literal() == Some(&Literal::Null),
            Expr::And { operands } | Expr::Or { operands } => {
                operands.iter().any(Expr::compares_with_null)
            }
            Expr::Not { operand } => operand.compares_with_null(),
            _ => false,
        }
    }

    /// The distinct fields the condition reads (by name, in order of first use).
    pub fn fields(&self) -> Vec<&Field> {
        struct Collector<'a>(Vec<&'a Field>);
        impl<'a> Collector<'a> {
            fn expr(&mut self, e: &'a Expr) {
                match e {
                    Expr::Bool { .. } => {}
                    Expr::And { operands } | Expr::Or { operands } => {
                        operands.iter().for_each(|o| self.expr(o))
                    }
                    Expr::Not { operand } => self.expr(operand),
                    Expr::Compare(c) => {
                        self.value(&c.left);
                        self.value(&c.right);
                    }
                    Expr::IsNull { value } | Expr::Test { value } => self.value(value),
                    Expr::In(set) => self.value(&set.value),
                    Expr::Like(like) => self.value(&like.value),
                    Expr::Regex(regex) => self.value(&regex.value),
                }
            }
            fn value(&mut self, v: &'a Value) {
                match v {
                    Value::Field(f) => {
                        if !self.0.iter().any(|seen| seen.name == f.name) {
                            self.0.push(f);
                        }
                    }
                    Value::Literal { .. } => {}
                    Value::Call(call) => call.args.iter().for_each(|a| self.value(a)),
                    Value::Arithmetic { left, right, .. } => {
                        self.value(left);
                        self.value(right);
                    }
                    Value::Negate { operand } => self.value(operand),
                    Value::Condition { condition } => self.expr(condition),
                }
            }
        }
        let mut collector = Collector(Vec::new());
        collector.expr(self);
        collector.0
    }

    /// A constant condition.
    pub fn bool(value: bool) -> Expr {
        Expr::Bool { value }
    }

    /// Conjunction, normalised: flattened, `true` dropped, `false` absorbing.
    pub fn and(operands: Vec<Expr>) -> Expr {
        Expr::junction(operands, false)
    }

    /// Disjunction, normalised: flattened, `false` dropped, `true` absorbing.
    pub fn or(operands: Vec<Expr>) -> Expr {
        Expr::junction(operands, true)
    }

    fn junction(operands: Vec<Expr>, is_or: bool) -> Expr {
        let mut flat = Vec::with_capacity(operands.len());
        for operand in operands {
            match operand {
                // The identity element disappears; the absorbing one decides.
                Expr::Bool { value } if value != is_or => {}
                Expr::Bool { value } => return Expr::bool(value),
                Expr::Or { operands } if is_or => flat.extend(operands),
                Expr::And { operands } if !is_or => flat.extend(operands),
                other => flat.push(other),
            }
        }
        match flat.len() {
            0 => Expr::bool(!is_or),
            1 => flat.remove(0),
            _ if is_or => Expr::Or { operands: flat },
            _ => Expr::And { operands: flat },
        }
    }

    /// Negation, normalised: `not true` is `false`, `not not x` is `x`.
    #[allow(clippy::should_implement_trait)]
    pub fn not(operand: Expr) -> Expr {
        match operand {
            Expr::Bool { value } => Expr::bool(!value),
            Expr::Not { operand } => *operand,
            other => Expr::Not {
                operand: Box::new(other),
            },
        }
    }
}
