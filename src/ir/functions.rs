//! The functions of Elasticsearch EQL: names, arities and which take a `~` variant.

use serde::Serialize;

/// An Elasticsearch EQL function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Function {
    /// `add(a, b)`
    Add,
    /// `between(source, left, right[, greedy])`
    Between,
    /// `cidrMatch(ip, cidr, ...)`
    CidrMatch,
    /// `concat(value, ...)`
    Concat,
    /// `divide(a, b)`
    Divide,
    /// `endsWith(source, suffix)`
    EndsWith,
    /// `indexOf(source, substring[, start])`
    IndexOf,
    /// `length(source)`
    Length,
    /// `modulo(a, b)`
    Modulo,
    /// `multiply(a, b)`
    Multiply,
    /// `number(source[, base])`
    Number,
    /// `startsWith(source, prefix)`
    StartsWith,
    /// `string(value)`
    String,
    /// `stringContains(source, substring)`
    StringContains,
    /// `substring(source, start[, end])`
    Substring,
    /// `subtract(a, b)`
    Subtract,
}

/// Every function, for listings in diagnostics.
pub const ALL_FUNCTIONS: [Function; 16] = [
    Function::Add,
    Function::Between,
    Function::CidrMatch,
    Function::Concat,
    Function::Divide,
    Function::EndsWith,
    Function::IndexOf,
    Function::Length,
    Function::Modulo,
    Function::Multiply,
    Function::Number,
    Function::StartsWith,
    Function::String,
    Function::StringContains,
    Function::Substring,
    Function::Subtract,
];

/// Functions Python eql has and Elasticsearch does not.
pub const PYTHON_EQL_ONLY: [&str; 6] = [
    "wildcard",
    "match",
    "matchlite",
    "arraycontains",
    "arraysearch",
    "arraycount",
];

impl Function {
    /// Look a function up by name; names are case-insensitive, as in Elasticsearch.
    pub fn from_name(name: &str) -> Option<Function> {
        ALL_FUNCTIONS
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// The canonical spelling.
    pub fn name(self) -> &'static str {
        match self {
            Function::Add => "add",
            Function::Between => "between",
            Function::CidrMatch => "cidrMatch",
            Function::Concat => "concat",
            Function::Divide => "divide",
            Function::EndsWith => "endsWith",
            Function::IndexOf => "indexOf",
            Function::Length => "length",
            Function::Modulo => "modulo",
            Function::Multiply => "multiply",
            Function::Number => "number",
            Function::StartsWith => "startsWith",
            Function::String => "string",
            Function::StringContains => "stringContains",
            Function::Substring => "substring",
            Function::Subtract => "subtract",
        }
    }

    /// Fewest and most arguments (`None`: unbounded).
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            Function::Length | Function::String => (1, Some(1)),
            Function::Add
            | Function::Divide
            | Function::Modulo
            | Function::Multiply
            | Function::Subtract
            | Function::EndsWith
            | Function::StartsWith
            | Function::StringContains => (2, Some(2)),
            Function::Number => (1, Some(2)),
            Function::IndexOf | Function::Substring => (2, Some(3)),
            Function::Between => (3, Some(4)),
            Function::CidrMatch => (2, None),
            Function::Concat => (1, None),
        }
    }

    /// Whether a `name~(...)` case-insensitive variant exists.
    pub fn has_insensitive_variant(self) -> bool {
        matches!(
            self,
            Function::Between
                | Function::EndsWith
                | Function::IndexOf
                | Function::StartsWith
                | Function::StringContains
        )
    }

    /// Whether the function yields a boolean, so that it can stand as a condition.
    pub fn returns_boolean(self) -> bool {
        matches!(
            self,
            Function::CidrMatch
                | Function::EndsWith
                | Function::StartsWith
                | Function::StringContains
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_canonical_names_round_trip() {
        assert_eq!(Function::from_name("cidrmatch"), Some(Function::CidrMatch));
        assert_eq!(
            Function::from_name("STRINGCONTAINS"),
            Some(Function::StringContains)
        );
        assert_eq!(Function::from_name("wildcard"), None);
        for f in ALL_FUNCTIONS {
            assert_eq!(Function::from_name(f.name()), Some(f));
        }
    }
}

/// Evaluate a function on constants, as Elasticsearch folds calls whose arguments are all
/// constants. `Ok(None)` means the call is left unfolded; `Err` explains an argument that can
/// never work (wrong type, bad number text).
///
/// Strings are indexed by character. Null arguments yield null, as in Elasticsearch.
pub fn fold(
    function: Function,
    args: &[super::Literal],
    case: super::Case,
) -> Result<Option<super::Literal>, String> {
    use super::{Case, Literal};
    let insensitive = case == Case::Insensitive;
    let lower = |s: &str| {
        if insensitive {
            s.to_lowercase()
        } else {
            s.to_string()
        }
    };
    if function == Function::CidrMatch {
        return Ok(None);
    }
    // `number(x, null)` reads x in base 10; every other null argument makes the result null.
    let null_allowed = |i: usize| function == Function::Number && i == 1;
    if args
        .iter()
        .enumerate()
        .any(|(i, a)| *a == Literal::Null && !null_allowed(i))
    {
        return Ok(Some(Literal::Null));
    }
    let text = |i: usize| -> Result<String, String> {
        match args.get(i) {
            Some(Literal::String(s)) => Ok(s.clone()),
            Some(other) if function == Function::Concat || function == Function::String => {
                Ok(literal_to_string(other))
            }
            Some(other) => Err(format!(
                "`{}` needs a string, found a {}",
                function.name(),
                other.type_name()
            )),
            None => Err(format!("`{}` is missing an argument", function.name())),
        }
    };
    let integer = |i: usize| -> Result<Option<i64>, String> {
        match args.get(i) {
            None => Ok(None),
            Some(Literal::Integer(n)) => Ok(Some(*n)),
            Some(other) => Err(format!(
                "`{}` needs a whole number, found a {}",
                function.name(),
                other.type_name()
            )),
        }
    };
    let folded = match function {
        Function::Add
        | Function::Subtract
        | Function::Multiply
        | Function::Divide
        | Function::Modulo => {
            return Ok(None);
        }
        Function::Length => Literal::Integer(text(0)?.chars().count() as i64),
        Function::String => Literal::String(text(0)?),
        Function::Concat => {
            let mut out = String::new();
            for i in 0..args.len() {
                out.push_str(&text(i)?);
            }
            Literal::String(out)
        }
        Function::StartsWith => Literal::Bool(lower(&text(0)?).starts_with(&lower(&text(1)?))),
        Function::EndsWith => Literal::Bool(lower(&text(0)?).ends_with(&lower(&text(1)?))),
        Function::StringContains => Literal::Bool(lower(&text(0)?).contains(&lower(&text(1)?))),
        Function::IndexOf => {
            let haystack: Vec<char> = lower(&text(0)?).chars().collect();
            let needle: Vec<char> = lower(&text(1)?).chars().collect();
            let start = integer(2)?.unwrap_or(0).max(0) as usize;
            match char_index_of(&haystack, &needle, start) {
                Some(i) => Literal::Integer(i as i64),
                None => Literal::Null,
            }
        }
        Function::Substring => {
            let chars: Vec<char> = text(0)?.chars().collect();
            let start = integer(1)?.unwrap_or(0);
            let end = integer(2)?;
            let (from, to) = slice_bounds(chars.len(), start, end);
            Literal::String(chars[from..to].iter().collect())
        }
        Function::Between => {
            let source = text(0)?;
            let greedy = matches!(args.get(3), Some(Literal::Bool(true)));
            match between(&source, &text(1)?, &text(2)?, greedy, insensitive) {
                Some(s) => Literal::String(s),
                None => {
                    return Err(
                        "`between`: with `greedy`, the last `right` starts before the end of \
                         the first `left`, where Elasticsearch fails (its `substring` is out of \
                         range)"
                            .into(),
                    )
                }
            }
        }
        Function::Number => {
            let source = text(0)?;
            // Elasticsearch's ToNumberFunctionProcessor: a leading `0x` (lower-case `x` only)
            // means base 16 when no base is given, and is skipped when the base is 16.
            let hex = source.starts_with("0x");
            let base = match args.get(1) {
                None | Some(Literal::Null) if hex => 16,
                None | Some(Literal::Null) => 10,
                Some(Literal::Integer(b)) if (2..=36).contains(b) => *b as u32,
                Some(other) => {
                    return Err(format!(
                        "`number` needs a base from 2 to 36, found `{}`",
                        literal_to_string(other)
                    ))
                }
            };
            let digits = if hex && base == 16 {
                &source[2..]
            } else {
                &source
            };
            match parse_number(digits, base) {
                Some(n) => n,
                None => return Err(format!("`number` cannot read `{source}` in base {base}")),
            }
        }
        Function::CidrMatch => return Ok(None),
    };
    Ok(Some(folded))
}

/// Arithmetic on two constants as Elasticsearch computes it: integer arithmetic on integers
/// (truncating division), floating point as soon as one side is a decimal, null absorbing.
/// `Err` says why there is no result (overflow, division by zero, not numbers, not finite).
pub fn arithmetic(
    op: super::ArithOp,
    a: &super::Literal,
    b: &super::Literal,
) -> Result<super::Literal, String> {
    use super::{ArithOp, Literal};
    match (a, b) {
        (Literal::Null, _) | (_, Literal::Null) => Ok(Literal::Null),
        (Literal::Integer(x), Literal::Integer(y)) => {
            let (x, y) = (*x, *y);
            if y == 0 && matches!(op, ArithOp::Div | ArithOp::Mod) {
                return Err("division by zero".into());
            }
            let result = match op {
                ArithOp::Add => x.checked_add(y),
                ArithOp::Sub => x.checked_sub(y),
                ArithOp::Mul => x.checked_mul(y),
                ArithOp::Div => x.checked_div(y),
                ArithOp::Mod => x.checked_rem(y),
            };
            result
                .map(Literal::Integer)
                .ok_or_else(|| "integer overflow".into())
        }
        (x, y) => match (number(x), number(y)) {
            (Some(x), Some(y)) => {
                let result = match op {
                    ArithOp::Add => x + y,
                    ArithOp::Sub => x - y,
                    ArithOp::Mul => x * y,
                    ArithOp::Div => x / y,
                    ArithOp::Mod => x % y,
                };
                if result.is_finite() {
                    Ok(Literal::Float(result))
                } else {
                    Err("arithmetic on constants does not yield a finite number".into())
                }
            }
            _ => Err(format!(
                "arithmetic needs numbers, found a {} and a {}",
                a.type_name(),
                b.type_name()
            )),
        },
    }
}

/// Order two constants: strings by code point (ASCII case folded when insensitive), booleans,
/// numbers as numbers. `None` when one is null or they do not compare.
pub fn compare_constants(
    a: &super::Literal,
    b: &super::Literal,
    case: super::Case,
) -> Option<std::cmp::Ordering> {
    use super::{Case, Literal};
    match (a, b) {
        (Literal::Null, _) | (_, Literal::Null) => None,
        (Literal::Integer(x), Literal::Integer(y)) => Some(x.cmp(y)),
        (Literal::String(x), Literal::String(y)) => Some(match case {
            Case::Sensitive => x.cmp(y),
            Case::Insensitive => x
                .bytes()
                .map(|c| c.to_ascii_lowercase())
                .cmp(y.bytes().map(|c| c.to_ascii_lowercase())),
        }),
        (Literal::Bool(x), Literal::Bool(y)) => Some(x.cmp(y)),
        (x, y) => number(x)?.partial_cmp(&number(y)?),
    }
}

/// A number constant as a double.
pub fn number(l: &super::Literal) -> Option<f64> {
    match l {
        super::Literal::Integer(i) => Some(*i as f64),
        super::Literal::Float(f) => Some(*f),
        _ => None,
    }
}

/// A literal as `string()` renders it.
fn literal_to_string(l: &super::Literal) -> String {
    use super::Literal;
    match l {
        Literal::Null => "null".into(),
        Literal::Bool(b) => b.to_string(),
        Literal::Integer(i) => i.to_string(),
        Literal::Float(f) => {
            let s = f.to_string();
            if s.contains('.') {
                s
            } else {
                format!("{s}.0")
            }
        }
        Literal::String(s) => s.clone(),
    }
}

fn char_index_of(haystack: &[char], needle: &[char], start: usize) -> Option<usize> {
    if start > haystack.len() {
        return None;
    }
    if needle.is_empty() {
        return Some(start);
    }
    haystack[start..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + start)
}

/// Python-style slice bounds: negative positions count from the end; out-of-range positions
/// are clamped.
pub fn slice_bounds(len: usize, start: i64, end: Option<i64>) -> (usize, usize) {
    let len_i = len as i64;
    let clamp = |p: i64| -> usize {
        let p = if p < 0 { p + len_i } else { p };
        p.clamp(0, len_i) as usize
    };
    let from = clamp(start);
    let to = end.map_or(len, clamp);
    (from, to.max(from))
}

/// Elasticsearch's `StringUtils.between`: the text after the first `left` and before the next
/// `right` (greedy: the last `right`), empty when either is missing. `None` where Elasticsearch
/// fails: greedy, with the last `right` starting before the end of the first `left` (Java's
/// `lastIndexOf` searches the whole string and `substring` then throws).
fn between(
    source: &str,
    left: &str,
    right: &str,
    greedy: bool,
    insensitive: bool,
) -> Option<String> {
    // `if (hasLength(string) == false || hasLength(left) == false || hasLength(right) == false)
    // return string;` comes before any search.
    if source.is_empty() || left.is_empty() || right.is_empty() {
        return Some(source.to_string());
    }
    let fold = |s: &str| -> Vec<char> {
        if insensitive {
            s.chars().flat_map(char::to_lowercase).collect()
        } else {
            s.chars().collect()
        }
    };
    let chars: Vec<char> = source.chars().collect();
    let (hay, l, r) = (fold(source), fold(left), fold(right));
    // Lower-casing may change lengths; then indexes would not line up with the source.
    if hay.len() != chars.len() {
        return Some(String::new());
    }
    let Some(li) = char_index_of(&hay, &l, 0) else {
        return Some(String::new());
    };
    let after = li + l.len();
    let ri = if greedy {
        let last = (0..=hay.len().saturating_sub(r.len()))
            .rev()
            .find(|&i| hay[i..].starts_with(&r));
        match last {
            Some(ri) if ri < after => return None,
            other => other,
        }
    } else {
        char_index_of(&hay, &r, after)
    };
    Some(match ri {
        Some(ri) => chars[after..ri].iter().collect(),
        None => String::new(),
    })
}

/// Read a number as Elasticsearch's `ToNumberFunctionProcessor` does (after it has dealt with
/// `0x`): base 10 is Java's `Long.valueOf`, else `Double.valueOf`; other bases are
/// `Long.parseLong(text, base)`. Where Java accepts more than ASCII digits and letters
/// (`Character.digit` reads other scripts' digits), hexadecimal floating point, `NaN` and
/// `Infinity`, this does not: non-finite values have no JSON form, and the rest are not seen
/// in event data.
fn parse_number(text: &str, base: u32) -> Option<super::Literal> {
    use super::Literal;
    if base != 10 {
        // Like `Long.parseLong`: one optional sign, then digits; no spaces, no overflow.
        return i64::from_str_radix(text, base).ok().map(Literal::Integer);
    }
    if let Ok(i) = text.parse::<i64>() {
        return Some(Literal::Integer(i));
    }
    java_double(text).map(Literal::Float)
}

/// Java's `Double.valueOf` on decimal text: control characters and spaces trimmed from both
/// ends, an optional sign, digits with an optional point, an optional exponent and an optional
/// `f`/`F`/`d`/`D` suffix. `None` for anything else and for non-finite results.
fn java_double(text: &str) -> Option<f64> {
    let t = text.trim_matches(|c: char| c <= ' ');
    let (negative, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let t = t.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(t);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !digits(whole) || !digits(fraction) {
        return None;
    }
    let exponent = match exponent {
        None => "0",
        Some(e) => {
            let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
            if unsigned.is_empty() || !digits(unsigned) {
                return None;
            }
            e
        }
    };
    // Written out in full so that Rust's parser (correctly rounded, as Java's is) reads it.
    let magnitude = format!("0{whole}.{fraction}0e{exponent}")
        .parse::<f64>()
        .ok()?;
    let value = if negative { -magnitude } else { magnitude };
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod fold_tests {
    use super::super::{Case, Literal};
    use super::*;

    fn s(v: &str) -> Literal {
        Literal::String(v.into())
    }

    fn call(f: Function, args: &[Literal]) -> Option<Literal> {
        fold(f, args, Case::Sensitive).expect("folds")
    }

    #[test]
    fn string_functions_fold_with_elasticsearch_null_and_case_rules() {
        assert_eq!(
            call(Function::Length, &[s("héllo")]),
            Some(Literal::Integer(5))
        );
        assert_eq!(
            call(Function::Concat, &[s("a"), Literal::Integer(1)]),
            Some(s("a1"))
        );
        assert_eq!(
            call(Function::Concat, &[s("a"), Literal::Null]),
            Some(Literal::Null)
        );
        assert_eq!(
            call(Function::StartsWith, &[s("Cmd.exe"), s("cmd")]),
            Some(Literal::Bool(false))
        );
        assert_eq!(
            fold(
                Function::StartsWith,
                &[s("Cmd.exe"), s("cmd")],
                Case::Insensitive
            )
            .expect("folds"),
            Some(Literal::Bool(true))
        );
        assert_eq!(
            call(
                Function::IndexOf,
                &[s("abcabc"), s("c"), Literal::Integer(3)]
            ),
            Some(Literal::Integer(5))
        );
        assert_eq!(
            call(Function::IndexOf, &[s("abc"), s("z")]),
            Some(Literal::Null)
        );
        assert_eq!(
            call(Function::Substring, &[s("hello.exe"), Literal::Integer(-4)]),
            Some(s(".exe"))
        );
        assert_eq!(
            call(
                Function::Substring,
                &[s("hello"), Literal::Integer(1), Literal::Integer(-1)]
            ),
            Some(s("ell"))
        );
        assert_eq!(
            call(Function::Between, &[s("a[x]b[y]"), s("["), s("]")]),
            Some(s("x"))
        );
        assert_eq!(
            call(
                Function::Between,
                &[s("a[x]b[y]"), s("["), s("]"), Literal::Bool(true)]
            ),
            Some(s("x]b[y"))
        );
    }

    #[test]
    fn number_reads_bases_and_decimals() {
        assert_eq!(
            call(Function::Number, &[s("31"), Literal::Integer(13)]),
            Some(Literal::Integer(40))
        );
        assert_eq!(
            call(Function::Number, &[s("0x1F"), Literal::Integer(16)]),
            Some(Literal::Integer(31))
        );
        assert_eq!(
            call(Function::Number, &[s("1.5")]),
            Some(Literal::Float(1.5))
        );
        assert_eq!(
            call(Function::Number, &[s("17"), Literal::Null]),
            Some(Literal::Integer(17))
        );
        assert!(fold(Function::Number, &[s("zz")], Case::Sensitive).is_err());
    }

    #[test]
    fn number_detects_hex_and_reads_like_java() {
        let fails = |args: &[Literal]| fold(Function::Number, args, Case::Sensitive).is_err();
        // No base (or a null one): `0x` means hexadecimal.
        assert_eq!(
            call(Function::Number, &[s("0x1F")]),
            Some(Literal::Integer(31))
        );
        assert_eq!(
            call(Function::Number, &[s("0xdeadbeef"), Literal::Null]),
            Some(Literal::Integer(3_735_928_559))
        );
        assert_eq!(
            call(Function::Number, &[s("0x-1f")]),
            Some(Literal::Integer(-31))
        );
        // Only a lower-case `0x` at the very start, and only skipped in base 16.
        assert!(fails(&[s("0X1F")]));
        assert!(fails(&[s("-0x1f")]));
        assert!(fails(&[s("-0x1f"), Literal::Integer(16)]));
        assert!(fails(&[s("0x1F"), Literal::Integer(10)]));
        assert!(fails(&[s("0x")]));
        assert_eq!(
            call(Function::Number, &[s("0x1f"), Literal::Integer(36)]),
            Some(Literal::Integer(42_819))
        );
        // Base 10: `Long.valueOf`, else `Double.valueOf` (which trims and takes suffixes).
        assert_eq!(
            call(Function::Number, &[s("+7")]),
            Some(Literal::Integer(7))
        );
        assert_eq!(
            call(Function::Number, &[s(" 31 ")]),
            Some(Literal::Float(31.0))
        );
        assert_eq!(
            call(Function::Number, &[s("1.5f")]),
            Some(Literal::Float(1.5))
        );
        assert_eq!(
            call(Function::Number, &[s(".5")]),
            Some(Literal::Float(0.5))
        );
        assert_eq!(
            call(Function::Number, &[s("-2.5e3")]),
            Some(Literal::Float(-2500.0))
        );
        assert_eq!(
            call(Function::Number, &[s("9223372036854775808")]),
            Some(Literal::Float(9.223_372_036_854_776e18))
        );
        assert!(fails(&[s("\u{a0}5")]));
        assert!(fails(&[s("1e400")]));
        assert!(fails(&[s("1_000")]));
        assert!(fails(&[s(" 5"), Literal::Integer(16)]));
        assert_eq!(
            call(
                Function::Number,
                &[s("-8000000000000000"), Literal::Integer(16)]
            ),
            Some(Literal::Integer(i64::MIN))
        );
    }

    #[test]
    fn between_follows_elasticsearch_string_utils() {
        // An empty source, left or right gives the source back, case and all.
        assert_eq!(
            call(Function::Between, &[s("cmd.exe"), s(""), s(".exe")]),
            Some(s("cmd.exe"))
        );
        assert_eq!(
            call(Function::Between, &[s("cmd.exe"), s("c"), s("")]),
            Some(s("cmd.exe"))
        );
        assert_eq!(
            call(Function::Between, &[s(""), s("a"), s("b")]),
            Some(s(""))
        );
        assert_eq!(
            fold(
                Function::Between,
                &[s("CMD.exe"), s(""), s("x")],
                Case::Insensitive
            )
            .expect("folds"),
            Some(s("CMD.exe"))
        );
        // Missing bounds give the empty string.
        assert_eq!(
            call(Function::Between, &[s("abc"), s("z"), s("c")]),
            Some(s(""))
        );
        // Greedy: Java's `lastIndexOf` searches the whole string; a last `right` before the
        // end of `left` makes `substring` throw.
        assert!(fold(
            Function::Between,
            &[s("[x]y[z]"), s("z"), s("["), Literal::Bool(true)],
            Case::Sensitive
        )
        .is_err());
        assert_eq!(
            call(
                Function::Between,
                &[s("[x]y[z]"), s("z"), s("["), Literal::Bool(false)]
            ),
            Some(s(""))
        );
    }
}
