//! The syntax tree: what the author wrote, with positions, before any normalisation.
//!
//! Everything Elasticsearch's parser would reject has already been rejected when an AST exists;
//! semantic checks (function arity, field-to-field comparisons, join key counts) and
//! normalisation happen when lowering to the IR.

use serde::Serialize;

use crate::source::Span;

/// A whole EQL statement: a query and its pipes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    /// The query before the first `|`.
    pub query: Query,
    /// `| head N`, `| tail N`.
    pub pipes: Vec<Pipe>,
    /// The whole statement.
    pub span: Span,
}

/// The three query shapes of Elasticsearch EQL.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Query {
    /// `<category> where <condition>`.
    Event(EventFilter),
    /// `sequence [by ...] [with maxspan=...] [...] [...] [until [...]]`.
    Sequence(Sequence),
    /// `sample [by ...] [...] [...]`.
    Sample(Sample),
}

/// `<category> where <condition>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventFilter {
    /// The event category; `None` for `any`.
    pub category: Option<String>,
    /// Position of the category.
    pub category_span: Span,
    /// The condition after `where`.
    pub condition: Expr,
    /// The whole filter.
    pub span: Span,
}

/// A `sequence` query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sequence {
    /// Join keys shared by every stage (`sequence by a, b`).
    pub by: Vec<Expr>,
    /// `with maxspan=...`.
    pub maxspan: Option<TimeSpan>,
    /// The stages, in order.
    pub stages: Vec<Stage>,
    /// `until [...]`.
    pub until: Option<Stage>,
}

/// A `sample` query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Join keys shared by every stage.
    pub by: Vec<Expr>,
    /// The stages (unordered in meaning).
    pub stages: Vec<Stage>,
}

/// One bracketed stage of a sequence or sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    /// The stage's event filter.
    pub filter: EventFilter,
    /// `![...]`: the event must be absent.
    pub missing: bool,
    /// The stage's own join keys (`[...] by x`).
    pub by: Vec<Expr>,
    /// `with runs=N`.
    pub runs: Option<u64>,
    /// The whole stage, keys and options included.
    pub span: Span,
}

/// A time span as written: `5s`, `500ms`, `2h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimeSpan {
    /// The amount.
    pub value: u64,
    /// The unit.
    pub unit: TimeUnit,
    /// Where it was written.
    pub span: Span,
}

/// Units Elasticsearch accepts for `maxspan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// `ms`
    Milliseconds,
    /// `s`
    Seconds,
    /// `m`
    Minutes,
    /// `h`
    Hours,
    /// `d`
    Days,
}

impl TimeUnit {
    /// Milliseconds in one unit.
    pub fn millis(self) -> u64 {
        match self {
            TimeUnit::Milliseconds => 1,
            TimeUnit::Seconds => 1_000,
            TimeUnit::Minutes => 60_000,
            TimeUnit::Hours => 3_600_000,
            TimeUnit::Days => 86_400_000,
        }
    }
}

/// `| head N` or `| tail N`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pipe {
    /// Which pipe.
    pub kind: PipeKind,
    /// How many results.
    pub count: u64,
    /// The whole pipe.
    pub span: Span,
}

/// The pipes Elasticsearch supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PipeKind {
    /// First N results.
    Head,
    /// Last N results.
    Tail,
}

/// An expression with its position.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expr {
    /// What kind of expression.
    #[serde(flatten)]
    pub kind: ExprKind,
    /// Where it was written.
    pub span: Span,
}

/// Expressions as written.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "expr", rename_all = "snake_case")]
pub enum ExprKind {
    /// `a or b or ...` (two or more operands).
    Or {
        /// The operands.
        operands: Vec<Expr>,
    },
    /// `a and b and ...` (two or more operands).
    And {
        /// The operands.
        operands: Vec<Expr>,
    },
    /// `not a`.
    Not {
        /// The negated expression.
        operand: Box<Expr>,
    },
    /// `a <op> b` for `==`, `!=`, `<`, `<=`, `>`, `>=`.
    Compare {
        /// The operator.
        op: CompareOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `a + b`, `a - b`, `a * b`, `a / b`, `a % b`.
    Arithmetic {
        /// The operator.
        op: ArithOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `-a`.
    Negate {
        /// The negated value.
        operand: Box<Expr>,
    },
    /// `a in (...)`, `a in~ (...)`, `a not in (...)`.
    In {
        /// The tested value.
        value: Box<Expr>,
        /// The candidates.
        list: Vec<Expr>,
        /// `not in`.
        negated: bool,
        /// `in~`.
        case_insensitive: bool,
    },
    /// `a : ...`, `a like ...`, `a like~ ...`, `a regex ...`, `a regex~ ...`.
    Match {
        /// The operator.
        op: MatchOp,
        /// The tested value.
        value: Box<Expr>,
        /// The constants after the operator (one, or a parenthesised list).
        patterns: Vec<Expr>,
    },
    /// `name(args)` or `name~(args)`.
    Call {
        /// Function name as written (without `~`).
        name: String,
        /// Written with `~`.
        case_insensitive: bool,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// A field reference.
    Field(FieldRef),
    /// A literal.
    Literal(Literal),
}

/// A field reference: dotted segments, possibly backtick-quoted, possibly `?optional`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldRef {
    /// The segments, unquoted.
    pub segments: Vec<String>,
    /// Written as `?field`.
    pub optional: bool,
}

impl FieldRef {
    /// The field's full name, segments joined by `.` as Elasticsearch joins them.
    pub fn name(&self) -> String {
        self.segments.join(".")
    }
}

/// Literal values.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Literal {
    /// `null`.
    Null,
    /// `true`, `false`.
    Bool(bool),
    /// An integer literal (non-negative as written; signs are operators).
    Integer(i64),
    /// A decimal literal.
    Float(f64),
    /// A string, escapes decoded.
    String(String),
}

impl Literal {
    /// A short description of the literal's type, for diagnostics.
    pub fn type_name(&self) -> &'static str {
        match self {
            Literal::Null => "null",
            Literal::Bool(_) => "boolean",
            Literal::Integer(_) | Literal::Float(_) => "number",
            Literal::String(_) => "string",
        }
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CompareOp {
    /// `==`
    #[serde(rename = "==")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    NotEq,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ArithOp {
    /// `+`
    #[serde(rename = "+")]
    Add,
    /// `-`
    #[serde(rename = "-")]
    Sub,
    /// `*`
    #[serde(rename = "*")]
    Mul,
    /// `/`
    #[serde(rename = "/")]
    Div,
    /// `%`
    #[serde(rename = "%")]
    Mod,
}

impl ArithOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
        }
    }
}

/// String-matching operators that take constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MatchOp {
    /// `:` — case-insensitive equality with wildcards.
    #[serde(rename = ":")]
    Colon,
    /// `like`
    #[serde(rename = "like")]
    Like,
    /// `like~`
    #[serde(rename = "like~")]
    LikeInsensitive,
    /// `regex`
    #[serde(rename = "regex")]
    Regex,
    /// `regex~`
    #[serde(rename = "regex~")]
    RegexInsensitive,
}
