//! Conditions Query DSL has no query for, as a `script` query in standard Painless.
//!
//! # Shape of a script
//!
//! ```text
//! <helper functions the condition uses, in a fixed order>
//! List l0 = vals(doc, params.f0);          // one list per distinct doc-values field
//! for (def a0 : l0) {                      // every combination of the fields' values
//! if (<condition> > 0) {
//! return true;
//! }
//! }
//! return false;
//! ```
//!
//! # Semantics
//!
//! - **Three-valued logic.** A condition evaluates to an `int`: `1` true, `0` null (unknown),
//!   `-1` false. Then `and` is `Integer.min`, `or` is `Integer.max` and `not` is negation, which
//!   is exactly SQL's three-valued logic; the event matches only when the result is `1`.
//! - **Values** are `def`: `null`, `String`, `Long` (or `Integer`, which is how Elasticsearch
//!   parses small JSON numbers in `params`), `Double`, `Boolean` or `ZonedDateTime` (a date's
//!   doc value). Every helper checks types with `instanceof` before it casts, and yields `null`
//!   for a null operand or a type it cannot handle, where Elasticsearch's verifier would have
//!   rejected the query or its runtime would have failed the search. Values are never compared
//!   with `==` (Painless's `==` on `def` calls `equals`): only `== null`.
//! - **Multi-valued fields.** The condition holds if it is true for some combination of the
//!   values of the fields it reads; a missing, unmapped or empty field contributes one `null`.
//!   The same field read twice takes the same value in one combination. The loops are written
//!   once, around the whole condition, so the source stays linear in the size of the condition
//!   (the running time is the product of the fields' value counts).
//! - **Functions** compute what [`crate::ir::functions::fold`] computes on constants: strings
//!   are indexed by code point, a null argument gives null (`number`'s base excepted), a
//!   substring takes Python-style negative bounds, `number` reads what Java's parsers read
//!   (ASCII only), `between` returns its source when the source, left or right is empty.
//!   Integer arithmetic that overflows, integer division or modulo by zero, and floating-point
//!   results that are not finite give null: those are the cases where folding constants
//!   refuses the query, and a null makes the clause not match instead of failing the search.
//! - **Case.** `fn~()` lower-cases both sides with `toLowerCase(Locale.ROOT)`, as `fold` (Rust's
//!   full Unicode `to_lowercase`) and Elasticsearch's function processors do; `between~` does
//!   it one code point at a time, as `fold`'s `between` does. `:`, `like~`,
//!   `in~` and case-insensitive comparisons use Java's `equalsIgnoreCase` rule (each character
//!   compared through its upper- and lower-case forms: `regionMatches(true, ...)`,
//!   `compareToIgnoreCase`), the per-character folding Lucene's case-insensitive term and
//!   wildcard queries use.
//! - **Wildcards** (`like` on a computed value) are matched by a helper: `*` any run, `?` one
//!   code point, everything else literal. Each pattern is a list in `params`: strings are
//!   literal runs, `0` is `*`, `1` is `?`.
//!
//! # Where this differs from Elasticsearch's own EQL scripts
//!
//! - Elasticsearch's EQL scripts read only the first doc value of a field
//!   (`InternalQlScriptUtils.docValue`); this module tries every combination, so on a
//!   multi-valued field a script here can match where Elasticsearch's would not (and, under
//!   `not`, the other way round).
//! - Strings are indexed by code point, as `fold` does; Java (and so Elasticsearch) indexes
//!   UTF-16 units. They differ only on characters outside the Basic Multilingual Plane.
//! - String order is Java's `compareTo` (UTF-16 units) where `fold` orders by code point, and
//!   two integers compare exactly where `fold` compares them as doubles: both differ only at
//!   the edges (surrogates against U+E000–U+FFFF; integers beyond 2^53).
//! - A type error, overflow or division by zero is null here; Elasticsearch fails the search
//!   (or, for doubles, yields an infinity).
//! - Dates are recognised as `ZonedDateTime`, the doc value of a date field since
//!   Elasticsearch 8.
//!
//! # What is rejected
//!
//! `regex` (Painless compiles only regexes written as literals in the source, which would put
//! user text there), `cidrMatch`, a non-finite decimal constant (JSON cannot carry it), a
//! call with an arity no function has, and conditions nested deeper than [`MAX_DEPTH`].
//!
//! # Source hygiene
//!
//! Every field name and every constant is a parameter (`params.f0`, `params.v0`, numbered in
//! first-use order); the source holds only code written here, plus `null` and the structural
//! flags this module chooses (operator codes, case flags, absent-argument defaults). So the
//! source depends only on the shape of the condition, and Elasticsearch's compiled-script cache
//! serves every rule of the same shape.

use crate::ir::{ArithOp, Case, CompareOp, Expr, Field, Function, Literal, PatternPart, Value};
use serde_json::{Map, Value as Json};

/// A Painless script: source plus every user value in `params`.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// Painless source; never contains a user-supplied string.
    pub source: String,
    /// Named parameters (`params.x` in the source), in insertion order.
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// A construct no script can express faithfully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// What, e.g. "`regex` on a computed value".
    pub construct: String,
}

impl Unsupported {
    fn new(construct: impl Into<String>) -> Self {
        Unsupported {
            construct: construct.into(),
        }
    }
}

/// How a field is read from doc values: the name to read (a text field's keyword sub-field).
pub type DocField<'a> = &'a dyn Fn(&Field) -> String;

/// How deeply conditions and values may nest. Real rules nest fewer than 10 levels; the guard
/// keeps this generator's recursion (and Painless's parser) far from their stack limits.
pub const MAX_DEPTH: usize = 200;

/// A script query body that holds when `condition` holds for some combination of the
/// values of its fields (Elasticsearch's multi-value semantics), with null-safe functions.
pub fn condition_script(condition: &Expr, doc_field: DocField<'_>) -> Result<Script, Unsupported> {
    let mut gen = Generator {
        doc_field,
        fields: Vec::new(),
        values: Vec::new(),
        helpers: [false; HELPER_COUNT],
    };
    let test = gen.expr(condition, 0)?;

    let mut source = String::new();
    for helper in ALL_HELPERS {
        if gen.helpers[helper as usize] {
            source.push_str(helper.source());
        }
    }
    if gen.fields.is_empty() {
        source.push_str(&format!("return {test} > 0;\n"));
    } else {
        for i in 0..gen.fields.len() {
            source.push_str(&format!("List l{i} = vals(doc, params.f{i});\n"));
        }
        for i in 0..gen.fields.len() {
            source.push_str(&format!("for (def a{i} : l{i}) {{\n"));
        }
        source.push_str(&format!("if ({test} > 0) {{\nreturn true;\n}}\n"));
        for _ in 0..gen.fields.len() {
            source.push_str("}\n");
        }
        source.push_str("return false;\n");
    }

    let mut params = Map::new();
    for (i, name) in gen.fields.into_iter().enumerate() {
        params.insert(format!("f{i}"), Json::String(name));
    }
    for (i, value) in gen.values.into_iter().enumerate() {
        params.insert(format!("v{i}"), value);
    }
    Ok(Script { source, params })
}

struct Generator<'a> {
    doc_field: DocField<'a>,
    /// Distinct doc-values field names, in first-use order: `params.f<i>`, loop variable `a<i>`.
    fields: Vec<String>,
    /// Constants, in first-use order: `params.v<i>`.
    values: Vec<Json>,
    helpers: [bool; HELPER_COUNT],
}

impl Generator<'_> {
    fn use_helper(&mut self, helper: Helper) {
        self.helpers[helper as usize] = true;
        for &dep in helper.dependencies() {
            self.use_helper(dep);
        }
    }

    /// A parameter holding `value`; its reference in the source.
    fn param(&mut self, value: Json) -> String {
        self.values.push(value);
        format!("params.v{}", self.values.len() - 1)
    }

    /// The loop variable holding the current value of `field`.
    fn field(&mut self, field: &Field) -> String {
        self.use_helper(Helper::Vals);
        let name = (self.doc_field)(field);
        let index = match self.fields.iter().position(|f| *f == name) {
            Some(i) => i,
            None => {
                self.fields.push(name);
                self.fields.len() - 1
            }
        };
        format!("a{index}")
    }

    /// An `int` expression: `1` true, `0` null, `-1` false.
    fn expr(&mut self, e: &Expr, depth: usize) -> Result<String, Unsupported> {
        let depth = check_depth(depth)?;
        Ok(match e {
            Expr::Bool { value } => if *value { "1" } else { "-1" }.to_string(),
            Expr::And { operands } => {
                let parts = self.exprs(operands, depth)?;
                balanced("Integer.min", parts, "1")
            }
            Expr::Or { operands } => {
                let parts = self.exprs(operands, depth)?;
                balanced("Integer.max", parts, "-1")
            }
            Expr::Not { operand } => format!("-({})", self.expr(operand, depth)?),
            Expr::Compare(c) => {
                self.use_helper(Helper::Cmp);
                let left = self.value(&c.left, depth)?;
                let right = self.value(&c.right, depth)?;
                format!(
                    "cmp({left}, {right}, {}, {})",
                    compare_code(c.op),
                    insensitive(c.case)
                )
            }
            Expr::IsNull { value } => format!("({} == null ? 1 : -1)", self.value(value, depth)?),
            Expr::In(set) => {
                self.use_helper(Helper::Member);
                let value = self.value(&set.value, depth)?;
                let list: Vec<Json> = set
                    .values
                    .iter()
                    .map(literal_json)
                    .collect::<Result<_, _>>()?;
                let list = self.param(Json::Array(list));
                format!("member({value}, {list}, {})", insensitive(set.case))
            }
            Expr::Like(like) => {
                self.use_helper(Helper::Like);
                let value = self.value(&like.value, depth)?;
                let patterns = like
                    .patterns
                    .iter()
                    .map(|p| Json::Array(p.parts.iter().map(pattern_part_json).collect()))
                    .collect();
                let patterns = self.param(Json::Array(patterns));
                format!("like({value}, {patterns}, {})", insensitive(like.case))
            }
            Expr::Regex(r) => {
                return Err(Unsupported::new(match r.value {
                    Value::Field(_) => "`regex` inside a script condition",
                    _ => "`regex` on a computed value",
                }))
            }
            Expr::Test { value } => {
                self.use_helper(Helper::Tri);
                format!("tri({})", self.value(value, depth)?)
            }
        })
    }

    fn exprs(&mut self, operands: &[Expr], depth: usize) -> Result<Vec<String>, Unsupported> {
        operands.iter().map(|o| self.expr(o, depth)).collect()
    }

    /// A `def` expression: the value, or `null`.
    fn value(&mut self, v: &Value, depth: usize) -> Result<String, Unsupported> {
        let depth = check_depth(depth)?;
        Ok(match v {
            Value::Field(f) => self.field(f),
            Value::Literal { literal } => match literal {
                Literal::Null => "null".to_string(),
                other => {
                    let json = literal_json(other)?;
                    self.param(json)
                }
            },
            Value::Call(call) => self.call(call.function, &call.args, call.case, depth)?,
            Value::Arithmetic { op, left, right } => {
                self.use_helper(Helper::Arith);
                let left = self.value(left, depth)?;
                let right = self.value(right, depth)?;
                format!("arith({left}, {right}, {})", arith_code(*op))
            }
            Value::Negate { operand } => {
                self.use_helper(Helper::Neg);
                format!("neg({})", self.value(operand, depth)?)
            }
            Value::Condition { condition } => {
                self.use_helper(Helper::TVal);
                format!("tval({})", self.expr(condition, depth)?)
            }
        })
    }

    fn call(
        &mut self,
        function: Function,
        args: &[Value],
        case: Case,
        depth: usize,
    ) -> Result<String, Unsupported> {
        let (min, max) = function.arity();
        if args.len() < min || max.is_some_and(|m| args.len() > m) {
            return Err(Unsupported::new(format!(
                "`{}` with {} arguments",
                function.name(),
                args.len()
            )));
        }
        if function == Function::CidrMatch {
            return Err(cidr_unsupported(args));
        }
        let mut a = Vec::with_capacity(args.len());
        for arg in args {
            a.push(self.value(arg, depth)?);
        }
        // Absent optional arguments become the value that means the same to the helper.
        let arg_or = |i: usize, default: &str| a.get(i).map_or(default.to_string(), Clone::clone);
        let ci = insensitive(case);
        let (helper, text) = match function {
            Function::Add
            | Function::Subtract
            | Function::Multiply
            | Function::Divide
            | Function::Modulo => {
                let op = match function {
                    Function::Add => ArithOp::Add,
                    Function::Subtract => ArithOp::Sub,
                    Function::Multiply => ArithOp::Mul,
                    Function::Divide => ArithOp::Div,
                    _ => ArithOp::Mod,
                };
                let code = arith_code(op);
                (Helper::Arith, format!("arith({}, {}, {code})", a[0], a[1]))
            }
            Function::Length => (Helper::Len, format!("len({})", a[0])),
            Function::String => (Helper::Str, format!("str({})", a[0])),
            Function::Concat => (Helper::Concat, format!("concat([{}])", a.join(", "))),
            Function::StartsWith | Function::EndsWith | Function::StringContains => {
                let op = match function {
                    Function::StartsWith => 0,
                    Function::EndsWith => 1,
                    _ => 2,
                };
                (
                    Helper::Affix,
                    format!("affix({}, {}, {op}, {ci})", a[0], a[1]),
                )
            }
            // An absent start is 0.
            Function::IndexOf => (
                Helper::Idx,
                format!("idx({}, {}, {}, {ci})", a[0], a[1], arg_or(2, "0L")),
            ),
            // An absent end is the end of the string: any bound past it clamps there.
            Function::Substring => (
                Helper::Sub,
                format!("sub({}, {}, {})", a[0], a[1], arg_or(2, "Long.MAX_VALUE")),
            ),
            // Not greedy unless told.
            Function::Between => (
                Helper::Between,
                format!(
                    "between({}, {}, {}, {}, {ci})",
                    a[0],
                    a[1],
                    a[2],
                    arg_or(3, "false")
                ),
            ),
            // An absent base is base 10, as a null base is.
            Function::Number => (Helper::Num, format!("num({}, {})", a[0], arg_or(1, "null"))),
            Function::CidrMatch => return Err(cidr_unsupported(args)),
        };
        self.use_helper(helper);
        Ok(text)
    }
}

/// `cidrMatch` would need IPv4 and IPv6 parsing written out in Painless; a `cidrMatch` on a
/// plain field is a `term` query, which the caller builds.
fn cidr_unsupported(args: &[Value]) -> Unsupported {
    Unsupported::new(match args.first() {
        Some(Value::Field(_)) => "`cidrMatch` inside a script condition",
        _ => "`cidrMatch` on a computed value",
    })
}

fn check_depth(depth: usize) -> Result<usize, Unsupported> {
    if depth >= MAX_DEPTH {
        Err(Unsupported::new(format!(
            "a condition nested more than {MAX_DEPTH} levels deep"
        )))
    } else {
        Ok(depth + 1)
    }
}

/// `f(f(a, b), f(c, d))`: nesting grows with the logarithm of the operand count, so a long
/// `or` does not become a deep expression.
fn balanced(function: &str, mut parts: Vec<String>, empty: &str) -> String {
    if parts.is_empty() {
        return empty.to_string();
    }
    while parts.len() > 1 {
        let mut next = Vec::with_capacity(parts.len().div_ceil(2));
        let mut iter = parts.into_iter();
        while let Some(a) = iter.next() {
            match iter.next() {
                Some(b) => next.push(format!("{function}({a}, {b})")),
                None => next.push(a),
            }
        }
        parts = next;
    }
    parts.pop().unwrap_or_default()
}

fn insensitive(case: Case) -> &'static str {
    match case {
        Case::Sensitive => "false",
        Case::Insensitive => "true",
    }
}

/// Operator codes of the `cmp` helper.
fn compare_code(op: CompareOp) -> u8 {
    match op {
        CompareOp::Eq => 0,
        CompareOp::Lt => 1,
        CompareOp::Le => 2,
        CompareOp::Gt => 3,
        CompareOp::Ge => 4,
    }
}

/// Operator codes of the `arith` helper.
fn arith_code(op: ArithOp) -> u8 {
    match op {
        ArithOp::Add => 0,
        ArithOp::Sub => 1,
        ArithOp::Mul => 2,
        ArithOp::Div => 3,
        ArithOp::Mod => 4,
    }
}

fn literal_json(literal: &Literal) -> Result<Json, Unsupported> {
    Ok(match literal {
        Literal::Null => Json::Null,
        Literal::Bool(b) => Json::Bool(*b),
        Literal::Integer(i) => Json::from(*i),
        Literal::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .ok_or_else(|| Unsupported::new("a number that is not finite"))?,
        Literal::String(s) => Json::String(s.clone()),
    })
}

/// A literal run as a string, `*` as `0`, `?` as `1`: no escaping, no ambiguity.
fn pattern_part_json(part: &PatternPart) -> Json {
    match part {
        PatternPart::Literal(s) => Json::String(s.clone()),
        PatternPart::AnyString => Json::from(0),
        PatternPart::AnyChar => Json::from(1),
    }
}

// ------------------------------------------------------------------ helpers

/// The Painless helper functions, in the order they are emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Helper {
    Vals,
    Cmp,
    Tri,
    TVal,
    Member,
    Wild,
    Like,
    Arith,
    Neg,
    Len,
    Clamp,
    Sub,
    Idx,
    Affix,
    Str,
    Concat,
    Low,
    Between,
    Num,
}

const HELPER_COUNT: usize = 19;

const ALL_HELPERS: [Helper; HELPER_COUNT] = [
    Helper::Vals,
    Helper::Cmp,
    Helper::Tri,
    Helper::TVal,
    Helper::Member,
    Helper::Wild,
    Helper::Like,
    Helper::Arith,
    Helper::Neg,
    Helper::Len,
    Helper::Clamp,
    Helper::Sub,
    Helper::Idx,
    Helper::Affix,
    Helper::Str,
    Helper::Concat,
    Helper::Low,
    Helper::Between,
    Helper::Num,
];

impl Helper {
    fn dependencies(self) -> &'static [Helper] {
        match self {
            Helper::Member => &[Helper::Cmp],
            Helper::Like => &[Helper::Wild],
            Helper::Sub => &[Helper::Clamp],
            Helper::Concat => &[Helper::Str],
            Helper::Between => &[Helper::Low],
            _ => &[],
        }
    }

    fn source(self) -> &'static str {
        match self {
            Helper::Vals => VALS,
            Helper::Cmp => CMP,
            Helper::Tri => TRI,
            Helper::TVal => TVAL,
            Helper::Member => MEMBER,
            Helper::Wild => WILD,
            Helper::Like => LIKE,
            Helper::Arith => ARITH,
            Helper::Neg => NEG,
            Helper::Len => LEN,
            Helper::Clamp => CLAMP,
            Helper::Sub => SUB,
            Helper::Idx => IDX,
            Helper::Affix => AFFIX,
            Helper::Str => STR,
            Helper::Concat => CONCAT,
            Helper::Low => LOW,
            Helper::Between => BETWEEN,
            Helper::Num => NUM,
        }
    }
}

// Painless notes for the helpers below: `def` converts implicitly to and from primitives, but
// boxed types do not unbox implicitly, hence `.booleanValue()` and `((Number) x).longValue()`;
// a statement after one that always returns is a compile error, so no helper has one; `def`
// values are compared only with `null`.

/// The values of doc-values field `n`; a single `null` when it is unmapped or empty.
const VALS: &str = "\
List vals(def d, String n) {
List r = new ArrayList();
if (d.containsKey(n)) {
for (def x : d[n]) {
r.add(x);
}
}
if (r.isEmpty()) {
r.add(null);
}
return r;
}
";

/// Compare `a` and `b` with operator `op` (0 `==`, 1 `<`, 2 `<=`, 3 `>`, 4 `>=`): 1, 0 or -1.
/// As in Elasticsearch, operands of different types (or a null) compare to null; integers
/// compare exactly, other numbers as doubles (NaN compares to null, as in `fold`).
const CMP: &str = "\
int cmp(def a, def b, int op, boolean ci) {
int c = 0;
if (a instanceof String && b instanceof String) {
if (ci) {
c = ((String) a).compareToIgnoreCase((String) b);
} else {
c = ((String) a).compareTo((String) b);
}
} else if ((a instanceof Long || a instanceof Integer) && (b instanceof Long || b instanceof Integer)) {
c = Long.compare(((Number) a).longValue(), ((Number) b).longValue());
} else if (a instanceof Number && b instanceof Number) {
double x = ((Number) a).doubleValue();
double y = ((Number) b).doubleValue();
if (x < y) {
c = -1;
} else if (x > y) {
c = 1;
} else if (x != y) {
return 0;
}
} else if (a instanceof Boolean && b instanceof Boolean) {
c = Boolean.compare(((Boolean) a).booleanValue(), ((Boolean) b).booleanValue());
} else if (a instanceof ZonedDateTime && b instanceof ZonedDateTime) {
c = ((ZonedDateTime) a).toInstant().compareTo(((ZonedDateTime) b).toInstant());
} else {
return 0;
}
boolean r = c == 0;
if (op == 1) {
r = c < 0;
} else if (op == 2) {
r = c <= 0;
} else if (op == 3) {
r = c > 0;
} else if (op == 4) {
r = c >= 0;
}
return r ? 1 : -1;
}
";

/// A value standing as a condition: only a boolean is true or false.
const TRI: &str = "\
int tri(def v) {
if (v instanceof Boolean) {
return ((Boolean) v).booleanValue() ? 1 : -1;
}
return 0;
}
";

/// A condition used as a value.
const TVAL: &str = "\
def tval(int t) {
if (t == 0) {
return null;
}
return t > 0;
}
";

/// `v in xs`: true on a match, else null if some comparison was null, else false.
const MEMBER: &str = "\
int member(def v, List xs, boolean ci) {
int r = -1;
for (def x : xs) {
int c = cmp(v, x, 0, ci);
if (c > 0) {
return 1;
}
if (c == 0) {
r = 0;
}
}
return r;
}
";

/// Whether `s` matches pattern `p` (strings literal, 0 `*`, 1 `?`), backtracking only to the
/// last `*`: O(length × parts).
const WILD: &str = "\
boolean wild(String s, List p, boolean ci) {
int n = s.length();
int m = p.size();
int i = 0;
int j = 0;
int si = 0;
int sj = -1;
while (i < n || j < m) {
boolean ok = false;
if (j < m) {
def q = p.get(j);
if (q instanceof String) {
String t = (String) q;
ok = s.regionMatches(ci, i, t, 0, t.length());
if (ok) {
i += t.length();
}
} else if (((Number) q).intValue() == 1) {
ok = i < n;
if (ok) {
i += Character.charCount(s.codePointAt(i));
}
} else {
ok = true;
sj = j;
si = i;
}
}
if (ok) {
j += 1;
} else {
if (sj < 0 || si >= n) {
return false;
}
si += Character.charCount(s.codePointAt(si));
i = si;
j = sj + 1;
}
}
return true;
}
";

/// `v like ps`: true if any pattern matches, null for a non-string.
const LIKE: &str = "\
int like(def v, List ps, boolean ci) {
if (!(v instanceof String)) {
return 0;
}
for (def p : ps) {
if (wild((String) v, (List) p, ci)) {
return 1;
}
}
return -1;
}
";

/// `a op b` (0 `+`, 1 `-`, 2 `*`, 3 `/`, 4 `%`): integer arithmetic on two integers, double
/// otherwise; null where folding constants fails (overflow, division by zero, not finite).
const ARITH: &str = "\
def arith(def a, def b, int op) {
if (!(a instanceof Number) || !(b instanceof Number)) {
return null;
}
if ((a instanceof Long || a instanceof Integer) && (b instanceof Long || b instanceof Integer)) {
long x = ((Number) a).longValue();
long y = ((Number) b).longValue();
long r = 0;
if (op == 0) {
r = x + y;
if (((x ^ r) & (y ^ r)) < 0) {
return null;
}
} else if (op == 1) {
r = x - y;
if (((x ^ y) & (x ^ r)) < 0) {
return null;
}
} else if (op == 2) {
r = x * y;
if (y != 0 && (r / y != x || (x == Long.MIN_VALUE && y == -1))) {
return null;
}
} else {
if (y == 0 || (x == Long.MIN_VALUE && y == -1)) {
return null;
}
if (op == 3) {
r = x / y;
} else {
r = x % y;
}
}
return r;
}
double p = ((Number) a).doubleValue();
double q = ((Number) b).doubleValue();
double d = p % q;
if (op == 0) {
d = p + q;
} else if (op == 1) {
d = p - q;
} else if (op == 2) {
d = p * q;
} else if (op == 3) {
d = p / q;
}
if (Double.isFinite(d)) {
return d;
}
return null;
}
";

/// `-a`; null for the one integer without a negation.
const NEG: &str = "\
def neg(def a) {
if (a instanceof Long || a instanceof Integer) {
long x = ((Number) a).longValue();
if (x == Long.MIN_VALUE) {
return null;
}
return -x;
}
if (a instanceof Number) {
return -((Number) a).doubleValue();
}
return null;
}
";

/// `length(s)`, in code points.
const LEN: &str = "\
def len(def s) {
if (s instanceof String) {
String t = (String) s;
return (long) t.codePointCount(0, t.length());
}
return null;
}
";

/// A Python-style slice bound: negative counts from the end, then clamped to [0, n].
const CLAMP: &str = "\
long clamp(long p, long n) {
long q = p;
if (q < 0) {
q += n;
}
if (q < 0) {
return 0;
}
if (q > n) {
return n;
}
return q;
}
";

/// `substring(a, b, c)`, in code points.
const SUB: &str = "\
def sub(def a, def b, def c) {
if (!(a instanceof String) || !(b instanceof Long || b instanceof Integer) || !(c instanceof Long || c instanceof Integer)) {
return null;
}
String x = (String) a;
long n = x.codePointCount(0, x.length());
long f = clamp(((Number) b).longValue(), n);
long t = clamp(((Number) c).longValue(), n);
if (t < f) {
t = f;
}
return x.substring(x.offsetByCodePoints(0, (int) f), x.offsetByCodePoints(0, (int) t));
}
";

/// `indexOf(a, b, c)`, in code points; null when not found.
const IDX: &str = "\
def idx(def a, def b, def c, boolean ci) {
if (!(a instanceof String) || !(b instanceof String) || !(c instanceof Long || c instanceof Integer)) {
return null;
}
String x = (String) a;
String y = (String) b;
if (ci) {
x = x.toLowerCase(Locale.ROOT);
y = y.toLowerCase(Locale.ROOT);
}
long s = ((Number) c).longValue();
if (s < 0) {
s = 0;
}
if (s > x.codePointCount(0, x.length())) {
return null;
}
int r = x.indexOf(y, x.offsetByCodePoints(0, (int) s));
if (r < 0) {
return null;
}
return (long) x.codePointCount(0, r);
}
";

/// `startsWith` (0), `endsWith` (1), `stringContains` (2).
const AFFIX: &str = "\
def affix(def a, def b, int op, boolean ci) {
if (!(a instanceof String) || !(b instanceof String)) {
return null;
}
String x = (String) a;
String y = (String) b;
if (ci) {
x = x.toLowerCase(Locale.ROOT);
y = y.toLowerCase(Locale.ROOT);
}
if (op == 0) {
return x.startsWith(y);
}
if (op == 1) {
return x.endsWith(y);
}
return x.contains(y);
}
";

/// `string(v)`: Java's `toString` for numbers and booleans, as Elasticsearch prints them;
/// dates as Elasticsearch's ISO format with at least millisecond precision.
const STR: &str = "\
def str(def v) {
if (v == null) {
return null;
}
if (v instanceof ZonedDateTime) {
return ((ZonedDateTime) v).format(new DateTimeFormatterBuilder().append(DateTimeFormatter.ISO_LOCAL_DATE).appendLiteral('T').appendValue(ChronoField.HOUR_OF_DAY, 2).appendLiteral(':').appendValue(ChronoField.MINUTE_OF_HOUR, 2).appendLiteral(':').appendValue(ChronoField.SECOND_OF_MINUTE, 2).appendFraction(ChronoField.NANO_OF_SECOND, 3, 9, true).appendOffsetId().toFormatter(Locale.ROOT));
}
return String.valueOf(v);
}
";

/// `concat(xs...)`: null if any part is null.
const CONCAT: &str = "\
def concat(List xs) {
StringBuilder b = new StringBuilder();
for (def x : xs) {
def s = str(x);
if (s == null) {
return null;
}
b.append(s);
}
return b.toString();
}
";

/// Lower case, one code point at a time and without context, as `fold`'s `between` does
/// (a whole-string `toLowerCase` makes a final `Σ` a `ς`).
const LOW: &str = "\
String low(String s) {
StringBuilder b = new StringBuilder();
int i = 0;
while (i < s.length()) {
int n = Character.charCount(s.codePointAt(i));
b.append(s.substring(i, i + n).toLowerCase(Locale.ROOT));
i += n;
}
return b.toString();
}
";

/// `between(a, l, r, g)`: the text after the first `l` and before the next (or, greedy, the
/// last) `r`; empty when either is missing or when lower-casing changed the length; the source
/// itself when it, `l` or `r` is empty; null where Elasticsearch fails (greedy, with the last
/// `r` starting before the end of the first `l`).
const BETWEEN: &str = "\
def between(def a, def l, def r, def g, boolean ci) {
if (!(a instanceof String) || !(l instanceof String) || !(r instanceof String) || !(g instanceof Boolean)) {
return null;
}
String s = (String) a;
String h = s;
String x = (String) l;
String y = (String) r;
if (s.isEmpty() || x.isEmpty() || y.isEmpty()) {
return s;
}
if (ci) {
h = low(s);
x = low(x);
y = low(y);
}
if (h.length() != s.length()) {
return '';
}
int i = h.indexOf(x);
if (i < 0) {
return '';
}
int f = i + x.length();
int j = h.indexOf(y, f);
if (((Boolean) g).booleanValue()) {
j = h.lastIndexOf(y);
if (j >= 0 && j < f) {
return null;
}
}
if (j < f) {
return '';
}
return s.substring(f, j);
}
";

/// `number(a, b)`, as Elasticsearch's `ToNumberFunctionProcessor`: a leading `0x` means base
/// 16 when no base is given and is skipped in base 16; base 10 tries `Long.parseLong`, then a
/// finite `Double.parseDouble`; other bases `Long.parseLong(t, base)`. Only ASCII signs,
/// digits, letters and (base 10) `.`, exponents, `f`/`d` suffixes and the control characters
/// and spaces `parseDouble` trims are let through to Java's parsers, which read more than
/// `fold` does (other scripts' digits, `NaN`, `Infinity`, hexadecimal floating point).
const NUM: &str = "\
def num(def a, def b) {
if (!(a instanceof String)) {
return null;
}
String t = (String) a;
boolean hex = t.startsWith('0x');
int base = 10;
if (hex) {
base = 16;
}
if (b != null) {
if (!(b instanceof Long || b instanceof Integer)) {
return null;
}
long k = ((Number) b).longValue();
if (k < 2 || k > 36) {
return null;
}
base = (int) k;
}
if (hex && base == 16) {
t = t.substring(2);
}
for (int p = 0; p < t.length(); p += 1) {
int c = t.charAt(p);
boolean ok = c == 43 || c == 45 || (c >= 48 && c <= 57);
if (base == 10) {
ok = ok || c <= 32 || c == 46 || c == 68 || c == 69 || c == 70 || c == 100 || c == 101 || c == 102;
} else {
ok = ok || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
if (!ok) {
return null;
}
}
if (base == 10) {
try {
return Long.parseLong(t);
} catch (NumberFormatException e) {
try {
double d = Double.parseDouble(t);
if (Double.isFinite(d)) {
return d;
}
return null;
} catch (NumberFormatException f) {
return null;
}
}
}
try {
return Long.parseLong(t, base);
} catch (NumberFormatException e) {
return null;
}
}
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Call, EventQuery, QueryBody};

    fn condition(eql: &str) -> Expr {
        match crate::driver::compile_query(eql) {
            Ok(q) => match q.body {
                QueryBody::Event(EventQuery { condition, .. }) => condition,
                other => panic!("not an event query: {other:?}"),
            },
            Err(d) => panic!("{eql}: {d:?}"),
        }
    }

    /// Text fields read their keyword sub-field, as the caller's mapping would say.
    fn doc_field(f: &Field) -> String {
        if f.name.ends_with("name") {
            format!("{}.keyword", f.name)
        } else {
            f.name.clone()
        }
    }

    fn script(eql: &str) -> Script {
        condition_script(&condition(eql), &doc_field).expect("supported")
    }

    fn unsupported(eql: &str) -> String {
        match condition_script(&condition(eql), &doc_field) {
            Ok(s) => panic!("{eql} gave a script:\n{}", s.source),
            Err(u) => u.construct,
        }
    }

    fn params(s: &Script) -> String {
        serde_json::to_string(&s.params).expect("serialises")
    }

    /// The statements after the helpers.
    fn body(s: &Script) -> &str {
        let mut rest = s.source.as_str();
        for h in ALL_HELPERS {
            rest = rest.strip_prefix(h.source()).unwrap_or(rest);
        }
        rest
    }

    fn helpers(s: &Script) -> Vec<Helper> {
        ALL_HELPERS
            .into_iter()
            .filter(|h| s.source.contains(h.source()))
            .collect()
    }

    #[test]
    fn length_comparison_full_script() {
        let s = script("process where length(file_name) > 0");
        let expected = [VALS, CMP, LEN].concat()
            + "List l0 = vals(doc, params.f0);\n\
               for (def a0 : l0) {\n\
               if (cmp(len(a0), params.v0, 3, false) > 0) {\n\
               return true;\n\
               }\n\
               }\n\
               return false;\n";
        assert_eq!(s.source, expected);
        assert_eq!(params(&s), r#"{"f0":"file_name.keyword","v0":0}"#);
    }

    #[test]
    fn two_fields_loop_over_every_combination_once() {
        let s = script(
            "process where substring(file.name, -4) : \".exe\" and not (length(process.args) > 3)",
        );
        assert_eq!(
            body(&s),
            "List l0 = vals(doc, params.f0);\n\
             List l1 = vals(doc, params.f1);\n\
             for (def a0 : l0) {\n\
             for (def a1 : l1) {\n\
             if (Integer.min(like(sub(a0, params.v0, Long.MAX_VALUE), params.v1, true), \
             -(cmp(len(a1), params.v2, 3, false))) > 0) {\n\
             return true;\n\
             }\n\
             }\n\
             }\n\
             return false;\n"
        );
        assert_eq!(
            params(&s),
            r#"{"f0":"file.name.keyword","f1":"process.args","v0":-4,"v1":[[".exe"]],"v2":3}"#
        );
        assert_eq!(
            helpers(&s),
            [
                Helper::Vals,
                Helper::Cmp,
                Helper::Wild,
                Helper::Like,
                Helper::Len,
                Helper::Clamp,
                Helper::Sub
            ]
        );
    }

    #[test]
    fn a_field_read_twice_is_one_loop_variable() {
        let s = script("process where length(a) > 1 and startsWith~(a, \"x\") and ?a != null");
        assert_eq!(s.params.keys().filter(|k| k.starts_with('f')).count(), 1);
        assert_eq!(body(&s).matches("for (").count(), 1);
        assert!(body(&s).contains("tri(affix(a0, params.v1, 0, true))"));
        assert!(body(&s).contains("-((a0 == null ? 1 : -1))"));
    }

    #[test]
    fn condition_without_fields_returns_directly() {
        let c = Expr::Compare(crate::ir::Compare {
            op: CompareOp::Eq,
            left: Value::Call(Call {
                function: Function::Length,
                args: vec![Value::literal(Literal::String("abc".into()))],
                case: Case::Sensitive,
            }),
            right: Value::literal(Literal::Integer(3)),
            case: Case::Sensitive,
        });
        let s = condition_script(&c, &doc_field).expect("supported");
        assert_eq!(
            body(&s),
            "return cmp(len(params.v0), params.v1, 0, false) > 0;\n"
        );
        assert!(!s.source.contains("vals("));
        assert_eq!(params(&s), r#"{"v0":"abc","v1":3}"#);
    }

    #[test]
    fn wildcard_patterns_are_parts_lists() {
        let s = script(r#"process where concat(a, "\\") like~ ("C:\\*\\cmd?.exe", "x*", "lit")"#);
        assert_eq!(
            s.params["v1"],
            serde_json::json!([["C:\\", 0, "\\cmd", 1, ".exe"], ["x", 0], ["lit"]])
        );
        assert!(body(&s).contains("like(concat([a0, params.v0]), params.v1, true)"));
        let sensitive = script(r#"process where concat(a, "b") like "x*""#);
        assert!(body(&sensitive).contains("params.v1, false)"));
    }

    #[test]
    fn in_lists_keep_types_and_nulls() {
        let s = script("process where length(a) in (1, 2.5, \"3\", null, true)");
        assert_eq!(s.params["v0"], serde_json::json!([1, 2.5, "3", null, true]));
        assert!(body(&s).contains("member(len(a0), params.v0, false)"));
        let ci = script("process where concat(a, \"b\") in~ (\"X\")");
        assert!(body(&ci).contains("member(concat([a0, params.v0]), params.v1, true)"));
        assert!(helpers(&ci).contains(&Helper::Cmp));
    }

    #[test]
    fn absent_optional_arguments_get_their_meaning() {
        let s = script(
            "process where indexOf(a, \"x\") == 1 and substring(a, 1) == \"b\" and \
             between(a, \"[\", \"]\") == \"c\" and number(a) == 2",
        );
        let b = body(&s);
        assert!(b.contains("idx(a0, params.v0, 0L, false)"), "{b}");
        assert!(b.contains("sub(a0, params.v2, Long.MAX_VALUE)"), "{b}");
        assert!(
            b.contains("between(a0, params.v4, params.v5, false, false)"),
            "{b}"
        );
        assert!(b.contains("num(a0, null)"), "{b}");
        let full = script(
            "process where indexOf~(a, \"x\", 2) == 1 and substring(a, 1, -1) == \"b\" and \
             between~(a, \"[\", \"]\", true) == \"c\" and number(a, 16) == 2",
        );
        let b = body(&full);
        assert!(b.contains("idx(a0, params.v0, params.v1, true)"), "{b}");
        assert!(b.contains("sub(a0, params.v3, params.v4)"), "{b}");
        assert!(
            b.contains("between(a0, params.v6, params.v7, params.v8, true)"),
            "{b}"
        );
        assert!(b.contains("num(a0, params.v10)"), "{b}");
        assert_eq!(full.params["v8"], serde_json::json!(true));
    }

    #[test]
    fn arithmetic_negation_and_conditions_as_values() {
        let s =
            script("process where a + 1 > ?b and -c * 2 < 5 and (d > 1) == null and e % 2 == 0");
        let b = body(&s);
        assert!(
            b.contains("cmp(arith(a0, params.v0, 0), a1, 3, false)"),
            "{b}"
        );
        assert!(
            b.contains("cmp(arith(neg(a2), params.v1, 2), params.v2, 1, false)"),
            "{b}"
        );
        assert!(
            b.contains("(tval(cmp(a3, params.v3, 3, false)) == null ? 1 : -1)"),
            "{b}"
        );
        assert!(b.contains("arith(a4, params.v4, 4)"), "{b}");
        assert!(helpers(&s).contains(&Helper::TVal));
        // `add(a, b)` is `a + b` in the IR; a decimal stays a JSON decimal.
        let f = script("process where add(a, 1.5) == 4.0 and divide(b, 2) - 1 == 0");
        assert_eq!(
            body(&f).lines().find(|l| l.starts_with("if (")),
            Some(
                "if (Integer.min(cmp(arith(a0, params.v0, 0), params.v1, 0, false), \
                 cmp(arith(arith(a1, params.v2, 3), params.v3, 1), params.v4, 0, false)) > 0) {"
            )
        );
        assert_eq!(
            params(&f),
            r#"{"f0":"a","f1":"b","v0":1.5,"v1":4.0,"v2":2,"v3":1,"v4":0}"#
        );
    }

    #[test]
    fn and_or_nest_logarithmically() {
        let terms: Vec<String> = (0..9).map(|i| format!("length(f{i}) > {i}")).collect();
        let s = script(&format!("process where {}", terms.join(" or ")));
        let b = body(&s);
        let test = b
            .lines()
            .find(|l| l.starts_with("if ("))
            .expect("a test line");
        assert_eq!(test.matches("Integer.max(").count(), 8);
        // 9 operands: a tree of depth 4, not a chain of depth 8.
        let deepest = test
            .chars()
            .scan(0i32, |d, c| {
                *d += i32::from(c == '(') - i32::from(c == ')');
                Some(*d)
            })
            .max();
        assert!(deepest <= Some(4 + 3 + 1), "{test}");
        assert_eq!(balanced("f", vec![], "e"), "e");
        assert_eq!(balanced("f", vec!["a".into()], "e"), "a");
        assert_eq!(
            balanced("f", vec!["a".into(), "b".into(), "c".into()], "e"),
            "f(f(a, b), c)"
        );
    }

    #[test]
    fn boolean_fields_and_functions_as_conditions() {
        let s =
            script("process where flag and endsWith(a, \"z\") and not stringContains~(b, \"q\")");
        let b = body(&s);
        assert!(b.contains("tri(a0)"), "{b}");
        assert!(b.contains("tri(affix(a1, params.v0, 1, false))"), "{b}");
        assert!(b.contains("-(tri(affix(a2, params.v1, 2, true)))"), "{b}");
    }

    #[test]
    fn constant_conditions() {
        let t = condition_script(&Expr::bool(true), &doc_field).expect("supported");
        assert_eq!(t.source, "return 1 > 0;\n");
        assert!(t.params.is_empty());
        let f = condition_script(&Expr::bool(false), &doc_field).expect("supported");
        assert_eq!(f.source, "return -1 > 0;\n");
    }

    #[test]
    fn rejects_what_painless_cannot_say() {
        assert_eq!(
            unsupported("process where concat(a, \"b\") regex \"a.*\""),
            "`regex` on a computed value"
        );
        assert_eq!(
            unsupported("process where a regex \"a.*\" and length(b) > 1"),
            "`regex` inside a script condition"
        );
        assert_eq!(
            unsupported("process where cidrMatch(string(a), \"10.0.0.0/8\")"),
            "`cidrMatch` on a computed value"
        );
        assert_eq!(
            unsupported("process where cidrMatch(a, \"10.0.0.0/8\") or length(b) > 1"),
            "`cidrMatch` inside a script condition"
        );
        let nan = Expr::Compare(crate::ir::Compare {
            op: CompareOp::Eq,
            left: Value::Field(Field {
                name: "a".into(),
                optional: false,
            }),
            right: Value::literal(Literal::Float(f64::NAN)),
            case: Case::Sensitive,
        });
        assert_eq!(
            condition_script(&nan, &doc_field),
            Err(Unsupported::new("a number that is not finite"))
        );
        let bad_arity = Expr::Test {
            value: Value::Call(Call {
                function: Function::StartsWith,
                args: vec![],
                case: Case::Sensitive,
            }),
        };
        assert_eq!(
            condition_script(&bad_arity, &doc_field),
            Err(Unsupported::new("`startsWith` with 0 arguments"))
        );
    }

    #[test]
    fn deep_conditions_are_refused_not_overflowed() {
        let mut value = Value::Field(Field {
            name: "a".into(),
            optional: false,
        });
        for _ in 0..100_000 {
            value = Value::Negate {
                operand: Box::new(value),
            };
        }
        let e = Expr::IsNull { value };
        let result = condition_script(&e, &doc_field);
        assert_eq!(
            result,
            Err(Unsupported::new(
                "a condition nested more than 200 levels deep"
            ))
        );
        // Iterative drop: a 100,000-deep Box chain would overflow the drop glue's stack.
        let Expr::IsNull { mut value } = e else {
            unreachable!()
        };
        while let Value::Negate { operand } = value {
            value = *operand;
        }

        let mut ok = Value::Field(Field {
            name: "a".into(),
            optional: false,
        });
        for _ in 0..150 {
            ok = Value::Negate {
                operand: Box::new(ok),
            };
        }
        assert!(condition_script(&Expr::IsNull { value: ok }, &doc_field).is_ok());
    }

    #[test]
    fn helper_table_is_in_emission_order() {
        for (i, h) in ALL_HELPERS.into_iter().enumerate() {
            assert_eq!(h as usize, i);
            for dep in h.dependencies() {
                assert_ne!(*dep, h);
            }
        }
    }

    /// Rule text never reaches the source, whatever it holds: field names, strings, patterns,
    /// numbers.
    #[test]
    fn no_rule_text_in_the_source() {
        let queries = [
            r#"process where length(zqfieldone) > 987654 and zqfieldtwo.zqsub : "zqneedle*""#,
            r#"process where concat(zqx, "zq\"quote'single", zqy) == "zq';return true;//""#,
            r#"process where substring(zqpath, -77777, 55555) like~ ("zq*zqwild?zqcard", "zq\\back")"#,
            r#"process where between(zqa, "zqleft", "zqright", true) in ("zqin1", "zqin2")"#,
            r#"process where number(zqnum, 29) == 1234567 or indexOf~(zqhay, "zqneedle2", 4242) == 3131"#,
            r#"process where zqbool and stringContains(`zq weird name`, "zq}{") and ?zqopt != null"#,
            r#"process where zqm * 1.25e7 < ?zqn or zqk - 4.75 > 3.125 or (zqc > 6666) == null"#,
        ];
        for q in queries {
            let s = script(q);
            for token in s.params.values().flat_map(strings_in).chain(numbers_in(q)) {
                assert!(
                    !s.source.contains(&token),
                    "`{token}` from {q} is in the source:\n{}",
                    s.source
                );
            }
            assert!(!s.source.contains("zq"), "{}", s.source);
        }
    }

    fn strings_in(v: &Json) -> Vec<String> {
        match v {
            Json::String(s) => vec![s.clone()],
            Json::Array(items) => items.iter().flat_map(strings_in).collect(),
            _ => vec![],
        }
    }

    /// Numbers of three digits or more (shorter ones are operator codes in the source).
    fn numbers_in(q: &str) -> Vec<String> {
        q.split(|c: char| !c.is_ascii_digit())
            .filter(|t| t.len() >= 3)
            .map(String::from)
            .collect()
    }

    #[test]
    fn deterministic_and_shape_only() {
        let q = "process where length(a) > 3 and b : (\"x*\", \"y\") or number(c) in (1, 2)";
        let first = script(q);
        for _ in 0..5 {
            assert_eq!(script(q), first);
        }
        // Same shape, other constants and fields: the same source, so one compiled script.
        let other = script(
            "process where length(zz) > 99 and yy : (\"q*\", \"w\") or number(xx) in (7, 8, 9)",
        );
        assert_eq!(other.source, first.source);
        assert_ne!(other.params, first.params);
    }

    /// Every helper that can be emitted is used by some condition, and the source of a
    /// condition that uses them all stays far below Elasticsearch's 65,535-byte limit.
    #[test]
    fn every_helper_is_reachable_and_the_script_stays_small() {
        let s = script(
            "process where length(a) > 1 and b : \"x*\" and c in (1) and d and (e > 1) == null \
             and f + 1 > 2 and -g > 1 and substring(h, 1) == \"x\" and indexOf(i, \"x\") == 1 \
             and startsWith(j, \"x\") and concat(k, 1) == \"x\" and between(l, \"a\", \"b\") == \"x\" \
             and number(m) == 1 and string(n) == \"x\"",
        );
        assert_eq!(helpers(&s), ALL_HELPERS);
        assert!(s.source.len() < 10_000, "{}", s.source.len());
    }

    /// The helpers and generated conditions run as Java (`java` runs a source file directly),
    /// checked against `fold`, the lowering's constant folding and hand-worked expectations.
    ///
    /// The Painless written here is Java but for `def`, single-quoted strings, list literals and
    /// `d[n]` (only in `vals`, which the harness replaces); the test rewrites those, so what
    /// runs is the helpers' own logic. It cannot check what only Painless checks (the API
    /// whitelist, its casting rules): that stays a matter of review. Skipped without `java`.
    mod java {
        use super::*;
        use std::fmt::Write as _;

        /// A helper as a static Java method.
        fn helper(source: &str) -> String {
            format!(
                "static {}",
                source.replace("def ", "Object ").replace('\'', "\"")
            )
        }

        /// Generated statements or expressions as Java: `params.x` becomes `P(params, "x")`,
        /// whose type Java infers from where it is used, as Painless casts `def` implicitly.
        fn code(painless: &str) -> String {
            let mut text = String::new();
            for c in painless.replace("def ", "Object ").chars() {
                match c {
                    '[' => text.push_str("list(new Object[]{"),
                    ']' => text.push_str("})"),
                    c => text.push(c),
                }
            }
            let mut out = String::new();
            let mut rest = text.as_str();
            while let Some(i) = rest.find("params.") {
                out.push_str(&rest[..i]);
                let after = &rest[i + "params.".len()..];
                let end = after
                    .find(|c: char| !c.is_ascii_alphanumeric())
                    .unwrap_or(after.len());
                let _ = write!(out, "P(params, \"{}\")", &after[..end]);
                rest = &after[end..];
            }
            out.push_str(rest);
            out
        }

        /// A Java string literal; `\u` escapes only above ASCII, where they cannot end the
        /// literal or the line.
        fn string(s: &str) -> String {
            let mut out = String::from("\"");
            for unit in s.encode_utf16() {
                match unit {
                    0x22 => out.push_str("\\\""),
                    0x5c => out.push_str("\\\\"),
                    0x20..=0x7e => out.push(char::from(unit as u8)),
                    0..=0x7f => {
                        let _ = write!(out, "\\{unit:03o}");
                    }
                    _ => {
                        let _ = write!(out, "\\u{unit:04x}");
                    }
                }
            }
            out.push('"');
            out
        }

        /// A parameter as Elasticsearch hands it to Painless: JSON integers that fit are
        /// `Integer`s.
        fn json(v: &Json) -> String {
            match v {
                Json::Null => "null".into(),
                Json::Bool(b) => format!("Boolean.valueOf({b})"),
                Json::Number(n) => match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) if i32::try_from(i).is_ok() => format!("Integer.valueOf({i})"),
                    (Some(i), _) => format!("Long.valueOf({i}L)"),
                    (None, Some(f)) => double(f),
                    _ => "null".into(),
                },
                Json::String(s) => string(s),
                Json::Array(items) => format!(
                    "list(new Object[]{{{}}})",
                    items.iter().map(json).collect::<Vec<_>>().join(", ")
                ),
                Json::Object(_) => "null".into(),
            }
        }

        fn double(f: f64) -> String {
            format!(
                "Double.valueOf(Double.longBitsToDouble({}L))",
                f.to_bits() as i64
            )
        }

        fn params_map(params: &Map<String, Json>) -> String {
            let entries: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{}, {}", string(k), json(v)))
                .collect();
            format!("map(new Object[]{{{}}})", entries.join(", "))
        }

        /// How the Java side prints a value, and how a literal is expected to print.
        fn show(l: &Literal) -> String {
            match l {
                Literal::Null => "N".into(),
                Literal::Bool(b) => format!("B:{b}"),
                Literal::Integer(i) => format!("L:{i}"),
                Literal::Float(f) => format!("D:{}", f.to_bits() as i64),
                Literal::String(s) => {
                    let mut out = String::from("S:");
                    for unit in s.encode_utf16() {
                        let _ = write!(out, "{unit:04x}");
                    }
                    out
                }
            }
        }

        const PRELUDE: &str = r#"
import java.util.*;
import java.time.*;
import java.time.format.*;
import java.time.temporal.*;

@SuppressWarnings({"unchecked", "rawtypes"})
public class PainlessCheck {
static <T> T P(Map m, String k) {
return (T) m.get(k);
}
static List list(Object[] xs) {
return new ArrayList(Arrays.asList(xs));
}
static Map map(Object[] kv) {
Map m = new HashMap();
for (int i = 0; i < kv.length; i += 2) {
m.put(kv[i], kv[i + 1]);
}
return m;
}
static List vals(Object d, String n) {
List r = new ArrayList();
Map m = (Map) d;
if (m.containsKey(n)) {
for (Object x : (List) m.get(n)) {
r.add(x);
}
}
if (r.isEmpty()) {
r.add(null);
}
return r;
}
static String show(Object v) {
if (v == null) {
return "N";
}
if (v instanceof String) {
StringBuilder b = new StringBuilder("S:");
for (char c : ((String) v).toCharArray()) {
b.append(String.format("%04x", (int) c));
}
return b.toString();
}
if (v instanceof Long || v instanceof Integer) {
return "L:" + ((Number) v).longValue();
}
if (v instanceof Double) {
return "D:" + Double.doubleToLongBits((Double) v);
}
return "B:" + v;
}
"#;

        /// One program: every helper, then one method per check; prints `id result` lines.
        struct Program {
            methods: String,
            /// Generated code → its method: checks of one shape share one method.
            shapes: std::collections::HashMap<String, String>,
            calls: Vec<String>,
            expected: Vec<(String, String)>,
        }

        impl Program {
            fn new() -> Self {
                Program {
                    methods: String::new(),
                    shapes: std::collections::HashMap::new(),
                    calls: Vec::new(),
                    expected: Vec::new(),
                }
            }

            /// `expected` is what the Java prints: `true`/`false` for a condition.
            fn condition(&mut self, eql: &str, doc: &[(&str, Vec<String>)], expected: bool) {
                let s = condition_script(&condition(eql), &|f: &Field| f.name.clone())
                    .expect("supported");
                let id = format!("c{}:{eql} {doc:?}", self.expected.len());
                let method = self.method("boolean", "Map doc, Map params", code(body(&s)));
                let fields: Vec<String> = doc
                    .iter()
                    .map(|(name, values)| {
                        format!(
                            "{}, list(new Object[]{{{}}})",
                            string(name),
                            values.join(", ")
                        )
                    })
                    .collect();
                self.calls.push(format!(
                    "{method}(map(new Object[]{{{}}}), {})",
                    fields.join(", "),
                    params_map(&s.params)
                ));
                self.expected.push((id, expected.to_string()));
            }

            /// The method running `body`, written once per distinct body.
            fn method(&mut self, returns: &str, parameters: &str, body: String) -> String {
                let next = format!("m{}", self.shapes.len());
                let name = self.shapes.entry(body.clone()).or_insert(next).clone();
                if !self.methods.contains(&format!(" {name}(")) {
                    let _ = write!(
                        self.methods,
                        "static {returns} {name}({parameters}) {{\n{body}}}\n"
                    );
                }
                name
            }

            /// Generated code for something without fields, and its parameters.
            fn generate(
                emit: impl FnOnce(&mut Generator<'_>) -> Result<String, Unsupported>,
            ) -> (String, Map<String, Json>) {
                let mut gen = Generator {
                    doc_field: &|f: &Field| f.name.clone(),
                    fields: Vec::new(),
                    values: Vec::new(),
                    helpers: [false; HELPER_COUNT],
                };
                let text = emit(&mut gen).expect("supported");
                let mut params = Map::new();
                for (i, value) in gen.values.into_iter().enumerate() {
                    params.insert(format!("v{i}"), value);
                }
                (text, params)
            }

            /// A value generated from `v` (no fields), printed with `show`.
            fn value(&mut self, label: String, v: &Value, expected: String) {
                let (text, params) = Self::generate(|gen| gen.value(v, 0));
                let n = self.expected.len();
                let method =
                    self.method("Object", "Map params", format!("return {};\n", code(&text)));
                self.calls
                    .push(format!("show({method}({}))", params_map(&params)));
                self.expected.push((format!("v{n}:{label}"), expected));
            }

            /// A condition generated from `e` (no fields): `true` when it holds.
            fn test(&mut self, label: String, e: &Expr, expected: bool) {
                let (text, params) = Self::generate(|gen| gen.expr(e, 0));
                let n = self.expected.len();
                let method = self.method(
                    "boolean",
                    "Map params",
                    format!("return {} > 0;\n", code(&text)),
                );
                self.calls
                    .push(format!("{method}({})", params_map(&params)));
                self.expected
                    .push((format!("t{n}:{label}"), expected.to_string()));
            }

            /// Run under `java`; `None` when there is none. Returns the mismatches.
            fn run(&self) -> Option<Vec<String>> {
                let mut source = String::from(PRELUDE);
                for h in ALL_HELPERS {
                    if h != Helper::Vals {
                        source.push_str(&helper(h.source()));
                    }
                }
                source.push_str(&self.methods);
                // Small run methods: the JVM limits a method to 64 KiB of bytecode.
                for (chunk, calls) in self.calls.chunks(100).enumerate() {
                    let _ = writeln!(source, "static void run{chunk}() {{");
                    for (i, call) in calls.iter().enumerate() {
                        let _ = writeln!(
                            source,
                            "System.out.println({} + \" \" + {call});",
                            chunk * 100 + i
                        );
                    }
                    source.push_str("}\n");
                }
                source.push_str("public static void main(String[] args) {\n");
                for chunk in 0..self.calls.len().div_ceil(100) {
                    let _ = writeln!(source, "run{chunk}();");
                }
                source.push_str("}\n}\n");

                let dir =
                    std::env::temp_dir().join(format!("eqlc-painless-{}", std::process::id()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                let file = dir.join("PainlessCheck.java");
                std::fs::write(&file, &source).expect("write java");
                let output = match std::process::Command::new("java")
                    .arg("-Dfile.encoding=UTF-8")
                    .arg(&file)
                    .output()
                {
                    Ok(o) => o,
                    Err(_) => return None,
                };
                if std::env::var_os("EQLC_KEEP_JAVA").is_none() {
                    let _ = std::fs::remove_dir_all(&dir);
                }
                assert!(
                    output.status.success(),
                    "java failed:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                );
                let stdout = String::from_utf8_lossy(&output.stdout);
                let mut got = vec![String::new(); self.expected.len()];
                for line in stdout.lines() {
                    if let Some((i, result)) = line.split_once(' ') {
                        if let Some(slot) = i.parse::<usize>().ok().and_then(|i| got.get_mut(i)) {
                            *slot = result.to_string();
                        }
                    }
                }
                Some(
                    self.expected
                        .iter()
                        .zip(got)
                        .filter(|((_, want), got)| want != got)
                        .map(|((id, want), got)| format!("{id}: want {want}, got {got}"))
                        .collect(),
                )
            }
        }

        fn s(v: &str) -> String {
            string(v)
        }
        fn l(v: i64) -> String {
            format!("Long.valueOf({v}L)")
        }
        fn b(v: bool) -> String {
            format!("Boolean.valueOf({v})")
        }
        fn date(iso: &str) -> String {
            format!("ZonedDateTime.parse({})", string(iso))
        }

        fn str_lit(v: &str) -> Literal {
            Literal::String(v.into())
        }

        #[test]
        fn helpers_agree_with_fold_and_conditions_with_elasticsearch() {
            let mut p = Program::new();
            conditions(&mut p);
            functions(&mut p);
            arithmetic_and_comparisons(&mut p);
            let Some(mismatches) = p.run() else {
                eprintln!("no `java` on this machine: the Java cross-check was skipped");
                return;
            };
            assert!(
                mismatches.is_empty(),
                "{} of {} checks differ:\n{}",
                mismatches.len(),
                p.expected.len(),
                mismatches.join("\n")
            );
        }

        /// Whole conditions over documents: three-valued logic, multi-valued and missing
        /// fields, and each construct on a computed value.
        fn conditions(p: &mut Program) {
            let missing: &[(&str, Vec<String>)] = &[];
            // Any value of a multi-valued field; missing, unmapped and empty are null.
            p.condition("any where length(a) > 2", &[("a", vec![s("abcd")])], true);
            p.condition("any where length(a) > 2", &[("a", vec![s("ab")])], false);
            p.condition("any where length(a) > 2", missing, false);
            p.condition("any where length(a) > 2", &[("a", vec![])], false);
            p.condition(
                "any where length(a) > 2",
                &[("a", vec![s("ab"), s("abc")])],
                true,
            );
            // `not` of null is null; of false is true.
            p.condition("any where not (length(a) > 2)", missing, false);
            p.condition(
                "any where not (length(a) > 2)",
                &[("a", vec![s("ab")])],
                true,
            );
            p.condition(
                "any where not (length(a) > 2)",
                &[("a", vec![s("abc"), s("ab")])],
                true,
            );
            // SQL three-valued `and`/`or`.
            let ab = "any where not (length(a) > 2 and length(b) > 2)";
            p.condition(ab, &[("a", vec![s("abc")])], false);
            p.condition(ab, &[("a", vec![s("ab")])], true);
            let or = "any where length(a) > 2 or length(b) > 2";
            p.condition(or, &[("a", vec![s("abc")])], true);
            p.condition(
                "any where not (length(a) > 2 or length(b) > 2)",
                &[("a", vec![s("ab")])],
                false,
            );
            p.condition("any where length(a) > 2 or b == null", missing, true);
            p.condition("any where b != null", missing, false);
            p.condition("any where b != null", &[("b", vec![s("")])], true);
            // One value per field per combination; combinations across fields.
            let same = "any where startsWith(a, \"x\") and endsWith(a, \"y\")";
            p.condition(same, &[("a", vec![s("xa"), s("by")])], false);
            p.condition(same, &[("a", vec![s("xa"), s("xay")])], true);
            let cross = "any where substring(a, 0, 1) == ?b";
            p.condition(
                cross,
                &[("a", vec![s("x"), s("y")]), ("b", vec![s("z"), s("y")])],
                true,
            );
            p.condition(cross, &[("a", vec![s("x")]), ("b", vec![s("y")])], false);
            // Wildcards: `?` is one code point, backslashes are literal, case per operator.
            let like =
                |pattern: &str, op: &str| format!("any where concat(a, \"\") {op} \"{pattern}\"");
            for (pattern, value, expected) in [
                ("AB*", "abc", true),
                ("a?c", "a\u{1F600}c", true),
                ("a?c", "ac", false),
                ("a*", "a", true),
                ("*", "", true),
                ("?", "", false),
                ("*b*c", "xbxbyc", true),
                ("*.exe", "x.exe.txt", false),
                ("*.exe", "X.EXE", true),
                ("C:\\\\*\\\\cmd.exe", "c:\\windows\\cmd.exe", true),
                ("C:\\\\*\\\\cmd.exe", "c:\\cmd.exe", false),
                ("a*b*c*d", "aXbYbZcWd", true),
                ("a*b*c*d", "aXbYcZ", false),
                ("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaa", false),
                ("x?y", "x\u{e9}y", true),
            ] {
                p.condition(&like(pattern, ":"), &[("a", vec![s(value)])], expected);
            }
            p.condition(&like("AB*", "like"), &[("a", vec![s("abc")])], false);
            p.condition(&like("ab*", "like"), &[("a", vec![s("abc")])], true);
            p.condition(&like("AB*", "like~"), &[("a", vec![s("abc")])], true);
            p.condition(
                "any where concat(a, \"\") : (\"x\", \"y*\")",
                &[("a", vec![s("yz")])],
                true,
            );
            p.condition("any where not concat(a) : \"x\"", missing, false);
            // `in`: a null candidate makes a miss null.
            p.condition(
                "any where length(a) in (1, 3)",
                &[("a", vec![s("abc")])],
                true,
            );
            p.condition(
                "any where length(a) in (1, null)",
                &[("a", vec![s("abc")])],
                false,
            );
            p.condition(
                "any where length(a) not in (1, null)",
                &[("a", vec![s("abc")])],
                false,
            );
            p.condition(
                "any where length(a) not in (1, 2)",
                &[("a", vec![s("abc")])],
                true,
            );
            p.condition("any where length(a) not in (1, 2)", missing, false);
            p.condition(
                "any where concat(a) in~ (\"ABC\")",
                &[("a", vec![s("abc")])],
                true,
            );
            p.condition(
                "any where concat(a) in (\"ABC\")",
                &[("a", vec![s("abc")])],
                false,
            );
            p.condition(
                "any where length(a) in (3.0)",
                &[("a", vec![s("abc")])],
                true,
            );
            // Boolean fields as conditions.
            p.condition("any where flag", &[("flag", vec![b(true)])], true);
            p.condition("any where flag", &[("flag", vec![b(false)])], false);
            p.condition("any where not flag", &[("flag", vec![b(false)])], true);
            p.condition("any where not flag", missing, false);
            p.condition("any where not flag", &[("flag", vec![s("true")])], false);
            // `number`.
            p.condition("any where number(a) == 31", &[("a", vec![s(" 31 ")])], true);
            p.condition(
                "any where number(a, 16) == 31",
                &[("a", vec![s("0x1F")])],
                true,
            );
            p.condition("any where number(a) == 1.5", &[("a", vec![s("1.5")])], true);
            p.condition("any where number(a) == 3", &[("a", vec![s("zz")])], false);
            p.condition("any where number(a) == null", &[("a", vec![s("zz")])], true);
            // Arithmetic: integer division, null on overflow and division by zero.
            p.condition("any where a + 1 == 3", &[("a", vec![l(2)])], true);
            p.condition("any where a / 2 == 1", &[("a", vec![l(3)])], true);
            p.condition(
                "any where a / 2 == 1.5",
                &[("a", vec![format!("Double.valueOf(3.0)")])],
                true,
            );
            p.condition("any where a / 0 == null", &[("a", vec![l(3)])], true);
            p.condition("any where a * 2 > 0", &[("a", vec![l(i64::MAX)])], false);
            p.condition("any where a * 2 == null", &[("a", vec![l(i64::MAX)])], true);
            p.condition("any where -a == -3", &[("a", vec![l(3)])], true);
            p.condition("any where a % 2 == 1", &[("a", vec![l(-3)])], false);
            p.condition("any where a % 2 == -1", &[("a", vec![l(-3)])], true);
            p.condition("any where a + 1 > 1", &[("a", vec![s("1")])], false);
            // Comparisons across types are null.
            p.condition("any where a == 1", &[("a", vec![s("1")])], false);
            p.condition("any where a != 1", &[("a", vec![s("1")])], false);
            p.condition("any where length(a) > 1.5", &[("a", vec![s("ab")])], true);
            // `string` prints as Java does, dates as Elasticsearch does.
            p.condition(
                "any where string(a) == \"1.0E10\"",
                &[("a", vec![format!("Double.valueOf(1.0E10)")])],
                true,
            );
            p.condition("any where string(a) == \"5\"", &[("a", vec![l(5)])], true);
            p.condition(
                "any where string(a) == \"true\"",
                &[("a", vec![b(true)])],
                true,
            );
            p.condition(
                "any where string(ts) == \"2020-01-02T03:04:05.000Z\"",
                &[("ts", vec![date("2020-01-02T03:04:05Z")])],
                true,
            );
            p.condition(
                "any where string(ts) == \"2020-01-02T03:04:05.1234Z\"",
                &[("ts", vec![date("2020-01-02T03:04:05.123400Z")])],
                true,
            );
            p.condition(
                "any where ?ts < ?ts2",
                &[
                    ("ts", vec![date("2020-01-02T03:04:05Z")]),
                    ("ts2", vec![date("2020-01-02T04:04:05+01:00")]),
                ],
                false,
            );
            p.condition(
                "any where ?ts == ?ts2",
                &[
                    ("ts", vec![date("2020-01-02T03:04:05Z")]),
                    ("ts2", vec![date("2020-01-02T04:04:05+01:00")]),
                ],
                true,
            );
            // A condition used as a value.
            p.condition("any where (length(a) > 1) == null", missing, true);
            p.condition(
                "any where (length(a) > 1) == null",
                &[("a", vec![s("ab")])],
                false,
            );
            p.condition(
                "any where (length(a) > 1) == true",
                &[("a", vec![s("ab")])],
                true,
            );
            // The other functions on fields.
            p.condition(
                "any where between(a, \"[\", \"]\") == \"x\"",
                &[("a", vec![s("a[x]b[y]")])],
                true,
            );
            p.condition(
                "any where between(a, \"[\", \"]\", true) == \"x]b[y\"",
                &[("a", vec![s("a[x]b[y]")])],
                true,
            );
            p.condition(
                "any where between~(a, \"A\", \"B\") == \"x\"",
                &[("a", vec![s("axb")])],
                true,
            );
            p.condition(
                "any where indexOf(a, \"c\") == 2",
                &[("a", vec![s("abc")])],
                true,
            );
            p.condition(
                "any where indexOf(a, \"z\") == null",
                &[("a", vec![s("abc")])],
                true,
            );
            p.condition(
                "any where concat(a, ?b) == null",
                &[("a", vec![s("x")])],
                true,
            );
            p.condition(
                "any where concat(a, 1, true) == \"x1true\"",
                &[("a", vec![s("x")])],
                true,
            );
            p.condition(
                "any where stringContains~(a, \"B\")",
                &[("a", vec![s("abc")])],
                true,
            );
            p.condition(
                "any where stringContains(a, \"B\")",
                &[("a", vec![s("abc")])],
                false,
            );
        }

        /// Every string function on constants, against `fold`.
        fn functions(p: &mut Program) {
            use Literal::{Bool, Float, Integer, Null};
            let strings = [
                "",
                "a",
                "abc",
                "Hello.EXE",
                "h\u{e9}llo",
                "a\u{1F600}b\u{1F600}c",
                "\u{3a3}\u{391}\u{3a3}",
                "[x]y[z]",
                "  42 ",
                "0x1F",
                "-0x1f",
                "1.5",
                "-2.5e3",
                "1e400",
                "--5",
                "+7",
                "12abc",
                "zz",
                "\u{a0}5\u{3000}",
                "\u{1}5",
                "9223372036854775808",
                "-8000000000000000",
                "111",
                "1_000",
                "\u{661}\u{662}",
                "NaN",
                "1.5f",
                "0X1F",
                "0x",
                "0x-1f",
                "0x 1f",
                "0x1p3",
                "1e5f",
                ".5",
                "5.",
                "+.5e-3",
                " \t7\n",
                "1e",
                "e5",
                "-",
                "Infinity",
                "1.5dd",
            ];
            let mut text_args: Vec<Literal> = strings.iter().map(|v| str_lit(v)).collect();
            text_args.push(Null);
            // Strings for the functions with several arguments: case, code points, brackets.
            let core: Vec<Literal> = [
                "",
                "a",
                "abc",
                "Hello.EXE",
                "h\u{e9}llo",
                "a\u{1F600}b\u{1F600}c",
                "\u{3a3}\u{391}\u{3a3}",
                "[x]y[z]",
                "\u{130}x[A]",
            ]
            .iter()
            .map(|v| str_lit(v))
            .chain([Null, Integer(1)])
            .collect();
            let starts: Vec<Literal> = [0i64, 1, -1, 2, -4, 100, i64::MAX, i64::MIN]
                .iter()
                .map(|&i| Integer(i))
                .chain([Null, Float(1.5), str_lit("1")])
                .collect();
            let needles: Vec<Literal> = ["", "a", "A", "]", "\u{1F600}", "x]"]
                .iter()
                .map(|v| str_lit(v))
                .chain([Null, Integer(1)])
                .collect();

            let check = |p: &mut Program, function: Function, args: Vec<Literal>, case: Case| {
                let expected = match crate::ir::functions::fold(function, &args, case) {
                    Ok(Some(l)) => show(&l),
                    Ok(None) => return,
                    Err(_) => "N".into(),
                };
                let call = Value::Call(Call {
                    function,
                    args: args.iter().cloned().map(Value::literal).collect(),
                    case,
                });
                p.value(crate::ir::print::value(&call), &call, expected);
            };
            let cases = [Case::Sensitive, Case::Insensitive];
            for a in &text_args {
                check(p, Function::Length, vec![a.clone()], Case::Sensitive);
                for base in [
                    None,
                    Some(Null),
                    Some(Integer(10)),
                    Some(Integer(16)),
                    Some(Integer(2)),
                    Some(Integer(36)),
                    Some(Integer(1)),
                    Some(Float(10.0)),
                ] {
                    let mut args = vec![a.clone()];
                    args.extend(base);
                    check(p, Function::Number, args, Case::Sensitive);
                }
            }
            for a in &core {
                for start in &starts {
                    check(
                        p,
                        Function::Substring,
                        vec![a.clone(), start.clone()],
                        Case::Sensitive,
                    );
                    for end in [Integer(-1), Integer(2), Integer(-100), Null] {
                        let args = vec![a.clone(), start.clone(), end];
                        check(p, Function::Substring, args, Case::Sensitive);
                    }
                }
                for needle in &needles {
                    for case in cases {
                        for f in [
                            Function::StartsWith,
                            Function::EndsWith,
                            Function::StringContains,
                        ] {
                            check(p, f, vec![a.clone(), needle.clone()], case);
                        }
                        check(p, Function::IndexOf, vec![a.clone(), needle.clone()], case);
                        for start in [Integer(1), Integer(-3), Integer(100), Null] {
                            let args = vec![a.clone(), needle.clone(), start];
                            check(p, Function::IndexOf, args, case);
                        }
                    }
                }
                for (left, right) in [
                    ("[", "]"),
                    ("", ""),
                    ("x", ""),
                    ("", "z"),
                    ("A", "C"),
                    ("\u{3c3}", "\u{3c3}"),
                    ("i", "["),
                    ("z", "["),
                    ("y", "x"),
                ] {
                    for greedy in [None, Some(Bool(true)), Some(Null)] {
                        for case in cases {
                            let mut args = vec![a.clone(), str_lit(left), str_lit(right)];
                            args.extend(greedy.clone());
                            check(p, Function::Between, args, case);
                        }
                    }
                }
            }
            let printable = [
                str_lit("x"),
                Integer(-5),
                Float(1.5),
                Bool(true),
                Null,
                str_lit("\u{1F600}"),
            ];
            for a in &printable {
                check(p, Function::String, vec![a.clone()], Case::Sensitive);
                for b in &printable {
                    check(
                        p,
                        Function::Concat,
                        vec![a.clone(), b.clone()],
                        Case::Sensitive,
                    );
                }
            }
            check(p, Function::Concat, vec![str_lit("x")], Case::Sensitive);
            check(p, Function::Length, vec![Integer(5)], Case::Sensitive);
        }

        /// Arithmetic and comparisons on constants, against the lowering's folding (which
        /// refuses what the runtime makes null).
        fn arithmetic_and_comparisons(p: &mut Program) {
            let numbers = [
                "0",
                "1",
                "-1",
                "7",
                "-7",
                "2",
                "9223372036854775807",
                "-9223372036854775807",
                "1.5",
                "-0.5",
                "0.0",
                "1e308",
                "4611686018427387904",
            ];
            for a in numbers {
                for bn in numbers {
                    for (sym, op) in [
                        ("+", ArithOp::Add),
                        ("-", ArithOp::Sub),
                        ("*", ArithOp::Mul),
                        ("/", ArithOp::Div),
                        ("%", ArithOp::Mod),
                    ] {
                        let folded =
                            crate::driver::compile_query(&format!("any where x == {a} {sym} {bn}"));
                        let expected = match folded.map(|q| q.body) {
                            Ok(QueryBody::Event(EventQuery {
                                condition: Expr::Compare(c),
                                ..
                            })) => match c.right {
                                Value::Literal { literal } => show(&literal),
                                _ => continue,
                            },
                            Ok(QueryBody::Event(EventQuery {
                                condition: Expr::IsNull { .. },
                                ..
                            })) => "N".into(),
                            Ok(_) => continue,
                            Err(_) => "N".into(),
                        };
                        let (Some(x), Some(y)) = (number_literal(a), number_literal(bn)) else {
                            continue;
                        };
                        let v = Value::Arithmetic {
                            op,
                            left: Box::new(Value::literal(x)),
                            right: Box::new(Value::literal(y)),
                        };
                        p.value(format!("{a} {sym} {bn}"), &v, expected);
                    }
                }
                let neg = Value::Negate {
                    operand: Box::new(Value::literal(number_literal(a).unwrap_or(Literal::Null))),
                };
                let expected = match crate::driver::compile_query(&format!("any where x == -({a})"))
                    .map(|q| q.body)
                {
                    Ok(QueryBody::Event(EventQuery {
                        condition: Expr::Compare(c),
                        ..
                    })) => match c.right {
                        Value::Literal { literal } => show(&literal),
                        _ => continue,
                    },
                    _ => "N".into(),
                };
                p.value(format!("-({a})"), &neg, expected);
            }
            // Comparisons: the lowering folds `A op B` to true or false (false for null).
            let constants = [
                "1",
                "2",
                "1.0",
                "1.5",
                "\"a\"",
                "\"b\"",
                "\"B\"",
                "\"\"",
                "true",
                "false",
                "null",
                "\"1\"",
                "\"\u{e9}\"",
                "\"z\"",
            ];
            for a in constants {
                for bc in constants {
                    for (sym, op) in [
                        ("==", CompareOp::Eq),
                        ("<", CompareOp::Lt),
                        ("<=", CompareOp::Le),
                        (">", CompareOp::Gt),
                        (">=", CompareOp::Ge),
                    ] {
                        let Ok(q) =
                            crate::driver::compile_query(&format!("any where {a} {sym} {bc}"))
                        else {
                            continue;
                        };
                        let QueryBody::Event(EventQuery {
                            condition: Expr::Bool { value },
                            ..
                        }) = q.body
                        else {
                            continue;
                        };
                        let (Some(x), Some(y)) = (constant_literal(a), constant_literal(bc)) else {
                            continue;
                        };
                        let e = Expr::Compare(crate::ir::Compare {
                            op,
                            left: Value::literal(x),
                            right: Value::literal(y),
                            case: Case::Sensitive,
                        });
                        p.test(format!("{a} {sym} {bc}"), &e, value);
                    }
                }
            }
        }

        fn number_literal(text: &str) -> Option<Literal> {
            match text.parse::<i64>() {
                Ok(i) => Some(Literal::Integer(i)),
                Err(_) => text.parse::<f64>().ok().map(Literal::Float),
            }
        }

        fn constant_literal(text: &str) -> Option<Literal> {
            Some(match text {
                "true" => Literal::Bool(true),
                "false" => Literal::Bool(false),
                "null" => Literal::Null,
                t if t.starts_with('"') => str_lit(t.trim_matches('"')),
                t => number_literal(t)?,
            })
        }
    }
}
