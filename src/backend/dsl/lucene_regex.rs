//! EQL regular expressions (Java-style, matched against the whole value) rewritten in the
//! syntax of Lucene's `regexp` query.
//!
//! Each pattern is parsed with `regex_syntax` (whose syntax is close to Java's) and the tree is
//! printed back in Lucene's syntax; a pattern is never passed through as text. Where the two
//! dialects mean different things the Java meaning wins:
//!
//! * `\d \s \w` (and negations) are Java's ASCII classes; `\s` is `[\t\n\x0B\f\r ]`, wider than
//!   Lucene's own `\s`, so every class is printed as explicit ranges.
//! * `\v` is Java 8's vertical-whitespace class, not Rust's vertical tab.
//! * `\<` and `\>` are the literal characters, not Rust's word boundaries.
//! * Case-insensitive matching folds ASCII only, as Java's `CASE_INSENSITIVE` does.
//!
//! One deliberate exception: `.` stays Lucene's `.`, which matches line terminators too. Java's
//! `.` does not, but Elasticsearch itself sends EQL regexes to Lucene, so `.` matching
//! everything is what Elasticsearch users observe.

use regex_syntax::ast::{
    parse::ParserBuilder, Assertion, AssertionKind, Ast, ClassBracketed, ClassPerl, ClassPerlKind,
    ClassSet, ClassSetBinaryOpKind, ClassSetItem, ErrorKind, Flag, FlagsItemKind, GroupKind,
    Literal, LiteralKind, RepetitionKind, RepetitionRange, Span, SpecialLiteralKind,
};

use crate::ir::Case;

/// What a `regexp` query needs for a set of EQL patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LuceneRegex {
    /// The patterns match exactly one string: a `term` query on it says the same.
    Literal(String),
    /// A Lucene regular expression (all patterns joined with `|`).
    Pattern(String),
}

/// Why a pattern cannot be expressed in Lucene's syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexError {
    /// Which of the patterns.
    pub pattern_index: usize,
    /// What Lucene cannot run, e.g. "the look-ahead `(?=`", or "invalid syntax: …". It does not
    /// quote the pattern: the caller does, with `pattern_index`.
    pub message: String,
}

/// Deeper nesting is rejected: the printer recurses once per level.
const NEST_LIMIT: u32 = 100;

/// Rewrite EQL `regex`/`regex~` patterns (any may match) for a Lucene `regexp` query.
///
/// A single pattern that matches one string only becomes [`LuceneRegex::Literal`]; otherwise the
/// translations are joined with `|`. `^`/`$` are dropped where they are no-ops under full-match
/// semantics, lazy quantifiers become greedy ones (same set of full matches) and a leading `(?i)`
/// makes the pattern case-insensitive. Everything Lucene cannot say exactly is an error.
pub fn translate(patterns: &[String], case: Case) -> Result<LuceneRegex, RegexError> {
    if patterns.is_empty() {
        return Err(RegexError {
            pattern_index: 0,
            message: "a regex comparison needs at least one pattern".into(),
        });
    }
    let mut alternatives: Vec<String> = Vec::new();
    for (index, pattern) in patterns.iter().enumerate() {
        let (lucene, literal) = translate_one(pattern, case).map_err(|fail| RegexError {
            pattern_index: index,
            message: match fail {
                Fail::Invalid(what) => format!("invalid syntax: {what}"),
                Fail::Unsupported(what) => what,
            },
        })?;
        if patterns.len() == 1 {
            if let Some(text) = literal {
                return Ok(LuceneRegex::Literal(text));
            }
        }
        // `|` binds loosest in Lucene too (`&` is never emitted), so no alternative needs parens.
        if !alternatives.contains(&lucene) {
            alternatives.push(lucene);
        }
    }
    Ok(LuceneRegex::Pattern(alternatives.join("|")))
}

enum Fail {
    /// Not a regular expression at all (unbalanced group, bad escape, ...).
    Invalid(String),
    /// A valid regular expression with a construct Lucene has no equivalent for.
    Unsupported(String),
}

type Out = Result<String, Fail>;

/// One pattern: its Lucene form, and the string it matches if it matches only one.
fn translate_one(pattern: &str, case: Case) -> Result<(String, Option<String>), Fail> {
    let ast = ParserBuilder::new()
        .nest_limit(NEST_LIMIT)
        .build()
        .parse(pattern)
        .map_err(|e| parse_failure(pattern, e.kind(), e.span()))?;
    let leading_flags = leading_case_flag(&ast);
    let insensitive = case == Case::Insensitive || leading_flags.is_some();
    let printer = Printer {
        pattern,
        leading_flags,
        fold_classes: insensitive,
        fold_literals: insensitive && case == Case::Sensitive,
    };
    let lucene = printer.node(&ast, WHOLE)?;
    let literal = printer
        .plain_text(&ast)
        .filter(|t| !(printer.fold_literals && t.chars().any(|c| c.is_ascii_alphabetic())));
    // Lucene reads an empty pattern as the empty string, but `()` is safe inside `a|b` as well.
    Ok((
        if lucene.is_empty() {
            "()".into()
        } else {
            lucene
        },
        literal,
    ))
}

/// The text of `span` in `pattern`.
fn text<'p>(pattern: &'p str, span: &Span) -> &'p str {
    pattern
        .get(span.start.offset..span.end.offset)
        .unwrap_or("")
}

fn parse_failure(pattern: &str, kind: &ErrorKind, span: &Span) -> Fail {
    let at = text(pattern, span);
    Fail::Unsupported(match kind {
        ErrorKind::UnsupportedLookAround => {
            let what = if at.starts_with("(?<=") {
                "the look-behind `(?<=`"
            } else if at.starts_with("(?<!") {
                "the negative look-behind `(?<!`"
            } else if at.starts_with("(?!") {
                "the negative look-ahead `(?!`"
            } else {
                "the look-ahead `(?=`"
            };
            what.into()
        }
        // Java reads `\0` as the start of an octal escape.
        ErrorKind::UnsupportedBackreference if at.starts_with("\\0") => {
            format!("the octal escape `{at}`")
        }
        ErrorKind::UnsupportedBackreference => format!("the backreference `{at}`"),
        ErrorKind::NestLimitExceeded(limit) => {
            format!("groups, classes or repetitions nested more than {limit} deep")
        }
        ErrorKind::EscapeUnrecognized => format!("the escape `{at}`"),
        ErrorKind::FlagUnrecognized if at == ">" => "the atomic group `(?>`".into(),
        ErrorKind::FlagUnrecognized => format!("the inline flag `{at}`"),
        _ => return Fail::Invalid(format!("{kind} at character {}", span.start.column)),
    })
}

/// The span of a `(?i)` at the very start of the pattern (after any `^`), if there is one.
/// Java's inline flags apply up to the end of the enclosing group, so this one covers every
/// top-level alternative.
fn leading_case_flag(ast: &Ast) -> Option<Span> {
    let first = match ast {
        Ast::Alternation(alt) => alt.asts.first(),
        other => Some(other),
    };
    let items: &[Ast] = match first {
        Some(Ast::Concat(concat)) => &concat.asts,
        Some(other) => std::slice::from_ref(other),
        None => &[],
    };
    for item in items {
        match item {
            Ast::Assertion(a) if is_start_anchor(a) => continue,
            Ast::Flags(set) => {
                let only_i = matches!(
                    set.flags.items.as_slice(),
                    [item] if item.kind == FlagsItemKind::Flag(Flag::CaseInsensitive)
                );
                return only_i.then_some(set.span);
            }
            _ => return None,
        }
    }
    None
}

fn is_start_anchor(a: &Assertion) -> bool {
    matches!(a.kind, AssertionKind::StartLine | AssertionKind::StartText)
}

fn is_end_anchor(a: &Assertion) -> bool {
    matches!(a.kind, AssertionKind::EndLine | AssertionKind::EndText)
}

/// Whether a node can only be reached at the start (end) of the value, where `^` (`$`) are no-ops.
#[derive(Clone, Copy)]
struct Edges {
    start: bool,
    end: bool,
}

const WHOLE: Edges = Edges {
    start: true,
    end: true,
};

const INSIDE: Edges = Edges {
    start: false,
    end: false,
};

struct Printer<'p> {
    pattern: &'p str,
    /// The `(?i)` this printer honours (and drops).
    leading_flags: Option<Span>,
    /// Classes must list both cases: Lucene's `case_insensitive` does not fold ranges.
    fold_classes: bool,
    /// Letters must list both cases: the query itself is case-sensitive but `(?i)` is not.
    fold_literals: bool,
}

impl Printer<'_> {
    fn node(&self, ast: &Ast, edges: Edges) -> Out {
        match ast {
            // Callers turn an empty result into `()` where Lucene needs something.
            Ast::Empty(_) => Ok(String::new()),
            Ast::Flags(set) if Some(set.span) == self.leading_flags => Ok(String::new()),
            Ast::Flags(set) => Err(Fail::Unsupported(format!(
                "the inline flags `{}` (only `(?i)` at the very start is supported)",
                text(self.pattern, &set.span)
            ))),
            Ast::Literal(lit) => self.literal(lit),
            Ast::Dot(_) => Ok(".".into()),
            Ast::Assertion(a) => self.assertion(a, edges),
            Ast::ClassUnicode(c) => Err(Fail::Unsupported(format!(
                "the Unicode class `{}`",
                text(self.pattern, &c.span)
            ))),
            Ast::ClassPerl(c) => Ok(self.class(perl_class(c), false)),
            Ast::ClassBracketed(c) => self.bracketed(c),
            Ast::Repetition(rep) => {
                if let Ast::Repetition(inner) = rep.ast.as_ref() {
                    let span = Span::new(inner.op.span.start, rep.op.span.end);
                    let what = if rep.op.kind == RepetitionKind::OneOrMore && rep.greedy {
                        "the possessive quantifier"
                    } else {
                        "the repeated quantifier"
                    };
                    return Err(Fail::Unsupported(format!(
                        "{what} `{}`",
                        text(self.pattern, &span)
                    )));
                }
                // A repeated `^` could be reached after the start, so nothing inside is at an edge.
                let operand = self.node(&rep.ast, INSIDE)?;
                // Lazy and greedy quantifiers accept the same whole strings.
                let op = match &rep.op.kind {
                    RepetitionKind::ZeroOrOne => "?".into(),
                    RepetitionKind::ZeroOrMore => "*".into(),
                    RepetitionKind::OneOrMore => "+".into(),
                    RepetitionKind::Range(RepetitionRange::Exactly(n)) => format!("{{{n}}}"),
                    RepetitionKind::Range(RepetitionRange::AtLeast(n)) => format!("{{{n},}}"),
                    RepetitionKind::Range(RepetitionRange::Bounded(n, m)) => format!("{{{n},{m}}}"),
                };
                Ok(operand + &op)
            }
            Ast::Group(group) => {
                if let GroupKind::NonCapturing(flags) = &group.kind {
                    if !flags.items.is_empty() {
                        return Err(Fail::Unsupported(format!(
                            "the inline flags `(?{}:` (only `(?i)` at the very start is supported)",
                            text(self.pattern, &flags.span)
                        )));
                    }
                }
                Ok(format!("({})", self.node(&group.ast, edges)?))
            }
            Ast::Alternation(alt) => {
                let mut parts = Vec::with_capacity(alt.asts.len());
                for branch in &alt.asts {
                    let printed = self.node(branch, edges)?;
                    // Lucene needs something on each side of `|`.
                    parts.push(if printed.is_empty() {
                        "()".into()
                    } else {
                        printed
                    });
                }
                Ok(parts.join("|"))
            }
            Ast::Concat(concat) => {
                let items = &concat.asts;
                let mut out = String::new();
                for (i, item) in items.iter().enumerate() {
                    let edges = Edges {
                        start: edges.start && items[..i].iter().all(|a| self.zero_width_start(a)),
                        end: edges.end && items[i + 1..].iter().all(zero_width_end),
                    };
                    out += &self.node(item, edges)?;
                }
                Ok(out)
            }
        }
    }

    /// `^`, `\A` or the honoured `(?i)`: nothing consumed, so what follows is still at the start.
    fn zero_width_start(&self, ast: &Ast) -> bool {
        match ast {
            Ast::Assertion(a) => is_start_anchor(a),
            Ast::Flags(set) => Some(set.span) == self.leading_flags,
            _ => false,
        }
    }

    fn assertion(&self, a: &Assertion, edges: Edges) -> Out {
        let at = text(self.pattern, &a.span);
        match a.kind {
            AssertionKind::StartLine | AssertionKind::StartText if edges.start => Ok(String::new()),
            AssertionKind::EndLine | AssertionKind::EndText if edges.end => Ok(String::new()),
            AssertionKind::StartLine
            | AssertionKind::StartText
            | AssertionKind::EndLine
            | AssertionKind::EndText => Err(Fail::Unsupported(format!(
                "`{at}` in the middle of a pattern"
            ))),
            // Java reads `\<` and `\>` as the escaped characters.
            AssertionKind::WordBoundaryStartAngle => Ok(escape('<')),
            AssertionKind::WordBoundaryEndAngle => Ok(escape('>')),
            AssertionKind::NotWordBoundary => {
                Err(Fail::Unsupported(format!("the non-word-boundary `{at}`")))
            }
            _ => Err(Fail::Unsupported(format!("the word boundary `{at}`"))),
        }
    }

    fn literal(&self, lit: &Literal) -> Out {
        if is_java_vertical_space(lit) {
            return Ok(self.class(java_vertical_space(), false));
        }
        let c = lit.c;
        if self.fold_literals && c.is_ascii_alphabetic() {
            return Ok(format!(
                "[{}{}]",
                c.to_ascii_uppercase(),
                c.to_ascii_lowercase()
            ));
        }
        Ok(escape(c))
    }

    fn bracketed(&self, class: &ClassBracketed) -> Out {
        let set = self.class_set(&class.kind)?;
        Ok(self.class(set, class.negated))
    }

    fn class_set(&self, set: &ClassSet) -> Result<Ranges, Fail> {
        match set {
            ClassSet::Item(item) => self.class_item(item),
            ClassSet::BinaryOp(op) => {
                // Java's `&&` differs from Rust's in precedence and nesting; reject all set algebra.
                let what = match op.kind {
                    ClassSetBinaryOpKind::Intersection => "the class intersection `&&`",
                    ClassSetBinaryOpKind::Difference => "the class difference `--`",
                    ClassSetBinaryOpKind::SymmetricDifference => {
                        "the class symmetric difference `~~`"
                    }
                };
                Err(Fail::Unsupported(what.into()))
            }
        }
    }

    fn class_item(&self, item: &ClassSetItem) -> Result<Ranges, Fail> {
        let unsupported = |what: &str, span: &Span| {
            Err(Fail::Unsupported(format!(
                "{what} `{}`",
                text(self.pattern, span)
            )))
        };
        match item {
            ClassSetItem::Empty(_) => Ok(Vec::new()),
            ClassSetItem::Literal(lit) if is_java_vertical_space(lit) => Ok(java_vertical_space()),
            ClassSetItem::Literal(lit) => Ok(vec![(lit.c as u32, lit.c as u32)]),
            ClassSetItem::Range(r) => {
                if is_java_vertical_space(&r.start) || is_java_vertical_space(&r.end) {
                    return unsupported("the class range", &r.span);
                }
                Ok(vec![(r.start.c as u32, r.end.c as u32)])
            }
            ClassSetItem::Perl(c) => Ok(perl_class(c)),
            ClassSetItem::Ascii(c) => unsupported("the POSIX class", &c.span),
            ClassSetItem::Unicode(c) => unsupported("the Unicode class", &c.span),
            ClassSetItem::Bracketed(c) => unsupported("the nested class", &c.span),
            ClassSetItem::Union(u) => {
                let mut all = Vec::new();
                for item in &u.items {
                    all.extend(self.class_item(item)?);
                }
                Ok(all)
            }
        }
    }

    /// A character class in Lucene's syntax, both cases listed when matching ignores case.
    fn class(&self, mut set: Ranges, negated: bool) -> String {
        normalize(&mut set);
        if self.fold_classes {
            fold_ascii(&mut set);
        }
        let positive = if negated { complement(set) } else { set };
        if positive == FULL {
            return ".".into();
        }
        if let [(lo, hi)] = positive.as_slice() {
            if lo == hi {
                return escape(to_char(*lo));
            }
        }
        // Print whichever side has fewer ranges (`[\W]` as `[^0-9A-Z_a-z]`, `[^\W\d]` as
        // `[A-Z_a-z]`), keeping the side the pattern used on a tie.
        let other = complement(positive.clone());
        // Lucene has no `[]`: an empty class is "not anything".
        let negated = positive.is_empty()
            || other.len() < positive.len()
            || (other.len() == positive.len() && negated);
        let set = if negated { other } else { positive };
        let mut out = String::from(if negated { "[^" } else { "[" });
        for &(lo, hi) in &set {
            let mut lo = lo;
            // A range start must be written bare (an escaped character is taken as a single one),
            // and bare these would read as an escape, the end of the class, a negation or a
            // second dash: list them singly instead.
            while lo < hi && matches!(to_char(lo), '\\' | ']' | '[' | '^' | '-') {
                out += &escape_in_class(to_char(lo));
                lo += 1;
            }
            if hi > lo + 1 {
                out.push(to_char(lo));
                out.push('-');
            } else if hi == lo + 1 {
                out += &escape_in_class(to_char(lo));
            }
            out += &escape_in_class(to_char(hi));
        }
        out.push(']');
        out
    }

    /// The one string a pattern matches when it is a plain run of characters (anchors and the
    /// honoured `(?i)` included, since the printer already placed them).
    fn plain_text(&self, ast: &Ast) -> Option<String> {
        match ast {
            Ast::Empty(_) | Ast::Flags(_) => Some(String::new()),
            Ast::Literal(lit) if !is_java_vertical_space(lit) => Some(lit.c.to_string()),
            Ast::Assertion(a) => match a.kind {
                AssertionKind::WordBoundaryStartAngle => Some("<".into()),
                AssertionKind::WordBoundaryEndAngle => Some(">".into()),
                _ if is_start_anchor(a) || is_end_anchor(a) => Some(String::new()),
                _ => None,
            },
            Ast::Group(group) => self.plain_text(&group.ast),
            Ast::Concat(concat) => concat.asts.iter().map(|a| self.plain_text(a)).collect(),
            _ => None,
        }
    }
}

fn zero_width_end(ast: &Ast) -> bool {
    matches!(ast, Ast::Assertion(a) if is_end_anchor(a))
}

/// Sorted, non-overlapping inclusive code point ranges.
type Ranges = Vec<(u32, u32)>;

/// Every scalar value: surrogates never occur in indexed values (Lucene stores UTF-8).
const FULL: &[(u32, u32)] = &[(0, 0xD7FF), (0xE000, 0x10FFFF)];

fn to_char(cp: u32) -> char {
    // `normalize` removed the surrogates, so this never falls back.
    char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// Sort, merge, and cut out the surrogate block.
fn normalize(set: &mut Ranges) {
    let mut split = Vec::with_capacity(set.len() + 1);
    for &(lo, hi) in set.iter() {
        if lo < 0xD800 {
            split.push((lo, hi.min(0xD7FF)));
        }
        if hi > 0xDFFF {
            split.push((lo.max(0xE000), hi));
        }
    }
    split.sort_unstable();
    set.clear();
    for (lo, hi) in split {
        match set.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => set.push((lo, hi)),
        }
    }
}

/// Add the other ASCII case of every ASCII letter in the set (Java's `CASE_INSENSITIVE`).
fn fold_ascii(set: &mut Ranges) {
    let mut extra = Vec::new();
    for &(lo, hi) in set.iter() {
        for (from, to) in [(b'A', b'a'), (b'a', b'A')] {
            let (a, z) = (u32::from(from), u32::from(from) + 25);
            let (l, h) = (lo.max(a), hi.min(z));
            if l <= h {
                let shift = |c: u32| c - a + u32::from(to);
                extra.push((shift(l), shift(h)));
            }
        }
    }
    set.extend(extra);
    normalize(set);
}

fn complement(mut set: Ranges) -> Ranges {
    normalize(&mut set);
    let mut out = Vec::new();
    let mut next = 0u32;
    for (lo, hi) in set {
        if lo > next {
            out.push((next, lo - 1));
        }
        next = hi + 1;
    }
    if next <= 0x10FFFF {
        out.push((next, 0x10FFFF));
    }
    normalize(&mut out);
    out
}

/// Java's (ASCII) `\d`, `\s`, `\w` and their negations.
fn perl_class(class: &ClassPerl) -> Ranges {
    let set = match class.kind {
        ClassPerlKind::Digit => vec![(0x30, 0x39)],
        // \t \n \x0B \f \r and space
        ClassPerlKind::Space => vec![(0x09, 0x0D), (0x20, 0x20)],
        ClassPerlKind::Word => vec![(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
    };
    if class.negated {
        complement(set)
    } else {
        set
    }
}

/// Rust reads `\v` as the vertical tab; Java 8+ as the class of vertical whitespace.
fn is_java_vertical_space(lit: &Literal) -> bool {
    lit.kind == LiteralKind::Special(SpecialLiteralKind::VerticalTab)
}

fn java_vertical_space() -> Ranges {
    vec![(0x0A, 0x0D), (0x85, 0x85), (0x2028, 0x2029)]
}

/// A literal character outside a class: backslash-escape Lucene's operators (flags 255).
fn escape(c: char) -> String {
    if ".?+*|{}[]()\"\\@#&~<>".contains(c) {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

/// A literal character inside a class. Lucene gives no class meaning to `& ~ " @ # < > . |`; `\`
/// escapes, `]` ends the class, `^` negates it at the start and `-` makes a range. `[` is
/// escaped too, in case a later Lucene grows nested classes.
fn escape_in_class(c: char) -> String {
    if matches!(c, '\\' | ']' | '[' | '^' | '-') {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(patterns: &[&str], case: Case) -> Result<LuceneRegex, RegexError> {
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        translate(&patterns, case)
    }

    /// The Lucene pattern for a case-sensitive (`s`) or insensitive (`i`) `regex`.
    fn pattern(p: &str, case: Case) -> String {
        match run(&[p], case) {
            Ok(LuceneRegex::Pattern(out)) => out,
            other => panic!("{p:?}: expected a pattern, got {other:?}"),
        }
    }

    fn s(p: &str) -> String {
        pattern(p, Case::Sensitive)
    }

    fn i(p: &str) -> String {
        pattern(p, Case::Insensitive)
    }

    fn literal(p: &str, case: Case) -> String {
        match run(&[p], case) {
            Ok(LuceneRegex::Literal(out)) => out,
            other => panic!("{p:?}: expected a literal, got {other:?}"),
        }
    }

    fn error(p: &str) -> String {
        match run(&[p], Case::Sensitive) {
            Err(e) => {
                assert_eq!(e.pattern_index, 0);
                e.message
            }
            Ok(other) => panic!("{p:?}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn detection_rule_patterns() {
        assert_eq!(s(r".*\.(top|buzz|xyz)"), r".*\.(top|buzz|xyz)");
        assert_eq!(s(r"[24][0-9]{3}"), r"[24][0-9]{3}");
        // `\s` is Java's: tab, LF, VT, FF, CR and space.
        assert_eq!(
            s(r"/[a-z0-9\s_\-\\./]+\s"),
            "/[\t-\r \\-.-9\\\\_a-z]+[\t-\r ]"
        );
        assert_eq!(
            s(r"\.[a-z0-9_\-][a-z0-9_\-\.]{1,254}"),
            r"\.[\-0-9_a-z][\-.0-9_a-z]{1,254}"
        );
        assert_eq!(s(r"php?[0-9]?\.?[0-9]{0,2}"), r"php?[0-9]?\.?[0-9]{0,2}");
        assert_eq!(
            s(r".*[0-9]{1,3}\.[0-9]{1,3}(:[0-9]{1,5})?\/[^ ]+.*"),
            r".*[0-9]{1,3}\.[0-9]{1,3}(:[0-9]{1,5})?/[^ ]+.*"
        );
        assert_eq!(
            s(r"arn:aws:s3:::[^/]+/.*?(how|decrypt|ransom).*"),
            r"arn:aws:s3:::[^/]+/.*(how|decrypt|ransom).*"
        );
        assert_eq!(
            s(r"(azure|sharp|blood)(hound)/.*"),
            r"(azure|sharp|blood)(hound)/.*"
        );
        assert_eq!(s(r#"\".*\.exe[^\"].*"#), r#"\".*\.exe[^"].*"#);
        assert_eq!(s(r"[0-9]{15}([1-9a-f]).*"), r"[0-9]{15}([1-9a-f]).*");
        assert_eq!(s(r".*[ʰ-˿ᴬ-ᶻ]+.*"), r".*[ʰ-˿ᴬ-ᶻ]+.*");
        assert_eq!(
            s(r"%systemroot%\\[a-z0-9]+\.exe"),
            r"%systemroot%\\[0-9a-z]+\.exe"
        );
        assert_eq!(
            s(r"C:\\Program Files( \(x86\))?\\ThinKiosk\\thinkiosk\.exe"),
            r"C:\\Program Files( \(x86\))?\\ThinKiosk\\thinkiosk\.exe"
        );
        assert_eq!(
            s(r"https?:\/\/[0-9]{1,3}(:[0-9]{1,5})?\/.*"),
            r"https?://[0-9]{1,3}(:[0-9]{1,5})?/.*"
        );
        assert_eq!(s(r".+\.(wll|xll|ppa)"), r".+\.(wll|xll|ppa)");
    }

    #[test]
    fn elasticsearch_translator_pairs() {
        assert_eq!(i(r"^.*?net.exe"), r".*net.exe");
        assert_eq!(literal(r"net\.exe", Case::Insensitive), "net.exe");
        assert_eq!(
            run(&[r"^.*?net.exe", r"net\.exe"], Case::Insensitive),
            Ok(LuceneRegex::Pattern(r".*net.exe|net\.exe".into()))
        );
    }

    #[test]
    fn literals() {
        assert_eq!(
            literal(r"C:\\Windows\\x\.exe", Case::Sensitive),
            r"C:\Windows\x.exe"
        );
        assert_eq!(literal(r"^abc$", Case::Sensitive), "abc");
        assert_eq!(literal(r"\Aabc\z", Case::Sensitive), "abc");
        assert_eq!(literal(r"(?:ab)c", Case::Sensitive), "abc");
        assert_eq!(literal(r"", Case::Sensitive), "");
        assert_eq!(literal(r"^$", Case::Sensitive), "");
        assert_eq!(
            literal(r"\t\x41\u0042\x{43}\u{1F600}", Case::Sensitive),
            "\tABC😀"
        );
        assert_eq!(literal(r#"@#&~"\<\>"#, Case::Sensitive), r#"@#&~"<>"#);
        // `(?i)` needs both cases of letters, which a case-sensitive term cannot say.
        assert_eq!(literal(r"(?i)\.exe", Case::Insensitive), ".exe");
        assert_eq!(literal(r"(?i)\.123", Case::Sensitive), ".123");
        assert_eq!(s(r"(?i)\.exe"), r"\.[Ee][Xx][Ee]");
        // Several patterns are always one alternation.
        assert_eq!(
            run(&["a", "b"], Case::Sensitive),
            Ok(LuceneRegex::Pattern("a|b".into()))
        );
    }

    #[test]
    fn operators_are_escaped() {
        assert_eq!(
            s(r#"\.\?\+\*\|\{\}\[\]\(\)\"\\@#&~<>x+"#),
            r#"\.\?\+\*\|\{\}\[\]\(\)\"\\\@\#\&\~\<\>x+"#
        );
        // `^` and `$` are ordinary characters in Lucene.
        assert_eq!(s(r"\^\$+"), r"^$+");
        assert_eq!(s("\\n\\r\\f+"), "\n\r\u{c}+");
        assert_eq!(s(r"\<a\>+"), r"\<a\>+");
    }

    #[test]
    fn anchors() {
        assert_eq!(s(r"^a+$"), "a+");
        assert_eq!(s(r"^a|^b+$|c$"), "a|b+|c");
        assert_eq!(s(r"(^a|^b)(c$|d+$)"), "(a|b)(c|d+)");
        assert_eq!(s(r"^^a+$$"), "a+");
        assert_eq!(literal(r"^", Case::Sensitive), "");
        assert_eq!(
            run(&["^", "a"], Case::Sensitive),
            Ok(LuceneRegex::Pattern("()|a".into()))
        );
        assert!(error(r"a^b").ends_with("`^` in the middle of a pattern"));
        assert!(error(r"a$b").ends_with("`$` in the middle of a pattern"));
        assert!(error(r"(^a)*").ends_with("`^` in the middle of a pattern"));
        assert!(error(r"a+(b$)?c").ends_with("`$` in the middle of a pattern"));
        assert!(error(r"a\Ab").ends_with("`\\A` in the middle of a pattern"));
    }

    #[test]
    fn quantifiers_and_groups() {
        assert_eq!(s(r"a*?b+?c??d{2}?e{2,}?f{2,5}?"), "a*b+c?d{2}e{2,}f{2,5}");
        assert_eq!(s(r"(?:ab)+(?P<n>c)(?<m>d)?"), "(ab)+(c)(d)?");
        assert_eq!(s(r"a|"), "a|()");
        assert_eq!(s(r"(a|)b"), "(a|())b");
        assert_eq!(s(r"x()y*"), "x()y*");
        assert_eq!(s(r"((a)b)*"), "((a)b)*");
    }

    #[test]
    fn classes() {
        assert_eq!(s(r"[abc]+"), "[a-c]+");
        assert_eq!(s(r"[.]"), r"\.");
        assert_eq!(s(r"[^a-z]"), "[^a-z]");
        // Range starts Lucene would misread are listed singly.
        assert_eq!(s(r"[\\-z]"), r"[\\\]\^_-z]");
        assert_eq!(s(r"[\--/]"), r"[\-./]");
        assert_eq!(s(r"[\[-\]]"), r"[\[\\\]]");
        assert_eq!(s(r"[-a]"), r"[\-a]");
        assert_eq!(s(r"[\^]+"), r"^+");
        assert_eq!(s(r"[\^a]"), r"[\^a]");
        assert_eq!(s(r"[!-~]"), "[!-~]");
        assert_eq!(s(r"[&~@#<>|.]+"), "[#&.<>@|~]+");
        // Java's ASCII Perl classes, printed from whichever side is shorter.
        assert_eq!(s(r"\d\D"), "[0-9][^0-9]");
        assert_eq!(s(r"\s\S"), "[\t-\r ][^\t-\r ]");
        assert_eq!(s(r"\w\W"), "[0-9A-Z_a-z][^0-9A-Z_a-z]");
        assert_eq!(s(r"[^\W\d]"), "[A-Z_a-z]");
        assert_eq!(s(r"[\s\S]"), ".");
        assert_eq!(s(r"[\x00-\x{10FFFF}]"), ".");
        // Java 8's `\v` is vertical whitespace.
        assert_eq!(s(r"a\v"), "a[\n-\r\u{85}\u{2028}\u{2029}]");
        // A class matching nothing.
        assert_eq!(s(r"[^\s\S]"), "[^\0-\u{D7FF}\u{E000}-\u{10FFFF}]");
    }

    #[test]
    fn case_insensitive_classes_list_both_cases() {
        assert_eq!(i(r"[a-f]+"), "[A-Fa-f]+");
        assert_eq!(i(r"[Z-c]"), "[A-CZ-cz]");
        assert_eq!(i(r"[^a-z]"), "[^A-Za-z]");
        assert_eq!(i(r"[^k]"), "[^Kk]");
        assert_eq!(i(r"[à-ÿ]"), "[à-ÿ]");
        // Single letters are left to Lucene's own folding.
        assert_eq!(i(r"ab+"), "ab+");
        assert_eq!(s(r"(?i)ab+[c-d]"), "[Aa][Bb]+[CDcd]");
        assert_eq!(s(r"^(?i)a|b"), "[Aa]|[Bb]");
        assert_eq!(
            run(&["(?i)ab", "cd"], Case::Sensitive),
            Ok(LuceneRegex::Pattern("[Aa][Bb]|cd".into()))
        );
    }

    #[test]
    fn unsupported_constructs_are_named() {
        let cases = [
            (r"a(?=b)", "the look-ahead `(?=`"),
            (r"a(?!b)", "the negative look-ahead `(?!`"),
            (r"(?<=a)b", "the look-behind `(?<=`"),
            (r"(?<!a)b", "the negative look-behind `(?<!`"),
            (r"(a)\1", "the backreference `\\1`"),
            (r"\bfoo", "the word boundary `\\b`"),
            (r"a\B", "the non-word-boundary `\\B`"),
            (r"\b{start}a", "the word boundary `\\b{start}`"),
            (r"\pL", "the Unicode class `\\pL`"),
            (r"[\p{Greek}a]", "the Unicode class `\\p{Greek}`"),
            (r"[[:alpha:]]", "the POSIX class `[:alpha:]`"),
            (r"[a-z&&[^q]]", "the class intersection `&&`"),
            (r"[a-z--q]", "the class difference `--`"),
            (r"[a[b]]", "the nested class `[b]`"),
            (r"a*+", "the possessive quantifier `*+`"),
            (r"a{2}*", "the repeated quantifier `{2}*`"),
            (r"\Qa\E", "the escape `\\Q`"),
            (r"\0", "the octal escape `\\0`"),
            (r"(?>a)", "the atomic group `(?>`"),
            (
                r"(?s).*",
                "the inline flags `(?s)` (only `(?i)` at the very start is supported)",
            ),
            (
                r"a(?i)b",
                "the inline flags `(?i)` (only `(?i)` at the very start is supported)",
            ),
            (
                r"(?-i)b",
                "the inline flags `(?-i)` (only `(?i)` at the very start is supported)",
            ),
            (
                r"(?i:a)",
                "the inline flags `(?i:` (only `(?i)` at the very start is supported)",
            ),
        ];
        for (p, what) in cases {
            assert_eq!(error(p), what, "{p}");
        }
    }

    #[test]
    fn invalid_patterns() {
        assert_eq!(
            error("a(b"),
            "invalid syntax: unclosed group at character 2"
        );
        assert!(error("[a").starts_with("invalid syntax: "));
        assert!(error("a{3,1}").starts_with("invalid syntax: "));
        assert!(error("*a").starts_with("invalid syntax: "));
        let e = run(&["a", "b(?=c)"], Case::Insensitive).unwrap_err();
        assert_eq!(e.pattern_index, 1);
        assert!(run(&[], Case::Sensitive).is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let nest = |n: usize, open: &str, close: &str| open.repeat(n) + "a+" + &close.repeat(n);
        // The deepest accepted (a group and a repetition are a level each), on a test thread's
        // small stack.
        assert_eq!(s(&nest(99, "(", ")")), nest(99, "(", ")"));
        assert_eq!(s(&nest(49, "(?:", ")?")), nest(49, "(", ")?"));
        for p in [
            nest(5000, "(", ")"),
            nest(5000, "(?:", ")*"),
            nest(5000, "[", "]"),
        ] {
            let e = error(&p);
            assert_eq!(
                e,
                "groups, classes or repetitions nested more than 100 deep"
            );
        }
    }

    #[test]
    fn short_inputs_never_panic() {
        let alphabet: Vec<char> = r"\()[]{}^$|*+?.-&~aZ0,:<>=!PpiEQbdwsv".chars().collect();
        let mut buf = String::new();
        for a in &alphabet {
            for b in &alphabet {
                for c in &alphabet {
                    buf.clear();
                    buf.extend([*a, *b, *c]);
                    for case in [Case::Sensitive, Case::Insensitive] {
                        let _ = translate(std::slice::from_ref(&buf), case);
                    }
                }
            }
        }
    }
}
