//! Fuzzing the front end: parse, lower and canonical printing must never panic, must report
//! errors inside the text, and whatever compiles must survive a print → compile round trip.
//!
//! Properties (proptest):
//! 1. arbitrary unicode text, control characters included;
//! 2. token soup: random EQL tokens joined by random whitespace and comments;
//! 3. generated *valid* queries (event queries, sequences, samples), which must compile, must
//!    compile to the same IR whatever the whitespace and comments between tokens, and must
//!    round-trip;
//! 4. byte-level mutations of real rule queries (`rules/*.toml`, plus the detection-rules corpus
//!    in `../shared/corpus` when this clone has it).
//!
//! Plain tests then check the limits that keep the recursive parser off the end of the stack,
//! and that megabyte-sized queries compile quickly, on the default 2 MB test-thread stack.
//!
//! Case counts are small by default so the file runs in seconds in a debug `cargo test`.
//! `EQLC_FUZZ_CASES=N` runs N cases per property, e.g.
//! `EQLC_FUZZ_CASES=200000 cargo test --release --test fuzz`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use eqlc::diagnostic::Diagnostic;
use eqlc::driver::compile_query;
use eqlc::ir::{print, Query};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence, Index};
use proptest::test_runner::TestCaseError;

mod fuzz_config;
use fuzz_config::config;

// ------------------------------------------------------------------ harness

/// A diagnostic's span must lie inside the text, on character boundaries.
fn check_span(text: &str, d: &Diagnostic) -> Result<(), TestCaseError> {
    if let Some(span) = d.span {
        prop_assert!(
            span.start <= span.end && span.end <= text.len(),
            "span {:?} of {:?} outside the text ({} bytes)",
            span,
            d.message,
            text.len()
        );
        prop_assert!(
            text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
            "span {:?} of {:?} splits a character",
            span,
            d.message
        );
    }
    Ok(())
}

/// The canonical form compiles to the same IR, and printing that IR gives the same text.
fn check_round_trip(text: &str, query: &Query) -> Result<(), TestCaseError> {
    let printed = print::query(query);
    let again = compile_query(&printed).map_err(|d| {
        TestCaseError::fail(format!(
            "canonical form does not compile: {} at {:?}\n  input:     {text:?}\n  canonical: {printed:?}",
            d.message, d.span
        ))
    })?;
    prop_assert_eq!(
        &again,
        query,
        "canonical form compiles to a different query\n  input:     {:?}\n  canonical: {:?}",
        text,
        printed
    );
    let printed_again = print::query(&again);
    prop_assert_eq!(
        &printed_again,
        &printed,
        "printing is not idempotent for {:?}",
        text
    );
    Ok(())
}

/// Compile any text: an error must be well placed, a success must round-trip.
fn check(text: &str) -> Result<Option<Query>, TestCaseError> {
    match compile_query(text) {
        Err(d) => {
            check_span(text, &d)?;
            Ok(None)
        }
        Ok(q) => {
            check_round_trip(text, &q)?;
            Ok(Some(q))
        }
    }
}

/// `check` for plain tests.
fn assert_checks(text: &str) -> Option<Query> {
    match check(text) {
        Ok(q) => q,
        Err(e) => panic!("{e}"),
    }
}

type Toks = Vec<String>;

fn toks(parts: &[&str]) -> Toks {
    parts.iter().map(|s| s.to_string()).collect()
}

fn cat(groups: Vec<Toks>) -> Toks {
    groups.into_iter().flatten().collect()
}

// ------------------------------------------------------------------ 1. arbitrary text

/// Characters that matter to EQL, to make random text reach past the first token now and then.
const EQL_CHARS: &str = "abcxyz_@.?`\"'\\()[]!=<>:+-*/%,|~ \t\n\r0123456789eE";

fn arbitrary_text() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        3 => any::<char>(),
        4 => select(EQL_CHARS.chars().collect::<Vec<_>>()),
        1 => select(vec![
            '\0', '\r', '\n', '\t', '\u{b}', '\u{c}', '\u{7f}', '\u{85}', '\u{a0}', '\u{2028}',
            '\u{202e}', '\u{feff}', '\u{fffd}', 'é', '😀', 'ß', 'İ',
        ]),
    ];
    let chars = vec(ch, 0..160).prop_map(|v| v.into_iter().collect::<String>());
    prop_oneof![
        2 => any::<String>(),
        3 => chars.clone(),
        3 => (select(PREFIXES), chars).prop_map(|(p, s)| format!("{p}{s}")),
    ]
}

// ------------------------------------------------------------------ 2. token soup

const KEYWORDS: &[&str] = &[
    "where",
    "and",
    "or",
    "not",
    "in",
    "in~",
    "like",
    "like~",
    "regex",
    "regex~",
    "sequence",
    "sample",
    "by",
    "with",
    "maxspan",
    "runs",
    "until",
    "any",
    "true",
    "false",
    "null",
    "join",
    "of",
    "descendant",
    "head",
    "tail",
    "process",
    "file",
];

const OPERATORS: &[&str] = &[
    "==", "!=", "<", "<=", ">", ">=", ":", "+", "-", "*", "/", "%", "(", ")", "[", "]", "![", ",",
    "|", ".", "=", "?", "~", "!", "`", "\"", "'", "\"\"\"", "{", "}",
];

const FUNCTIONS: &[&str] = &[
    "add",
    "between",
    "cidrMatch",
    "concat",
    "divide",
    "endsWith",
    "indexOf",
    "length",
    "modulo",
    "multiply",
    "number",
    "startsWith",
    "string",
    "stringContains",
    "substring",
    "subtract",
    "CIDRMATCH",
    "Length",
    "wildcard",
    "arrayContains",
    "foo",
];

const COMMENTS: &[&str] = &["/* c */", "/**/", "/* ( [ \" */", "// c\n", "//\n", "/* x"];

const ODD_STRINGS: &[&str] = &[
    r#""\q""#,
    r#""\u{110000}""#,
    r#""\u{D800}""#,
    r#""\u{1}""#,
    r#""\u{123456789}""#,
    r#""\u{zz}""#,
    r#""\u""#,
    r#""\u{41""#,
    r#""\""#,
    r#""a\"#,
    "\"unterminated",
    "'single'",
    r#"?"raw""#,
    r#"?"""raw""""#,
    r#""""a""""#,
    r#""""a"""""#,
    r#""""a""""""#,
    r#""""""""#,
    "\"\"\"\n\"\"\"",
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "007",
    "1.5",
    ".5",
    "2.",
    "1e3",
    "1E-3",
    "1e400",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "0.0",
    "1.7976931348623157e308",
    "4.9e-324",
];

/// Texts for `number()`: signs, prefixes and the edges of 64-bit integers.
const NUMBER_TEXTS: &[&str] = &[
    "12",
    " 42 ",
    "-7",
    "+7",
    "-+7",
    "--7",
    "0x1F",
    "-0x1F",
    "0x-1F",
    "ff",
    "1.5",
    "1e3",
    "-1e400",
    "NaN",
    "inf",
    "",
    "-",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "7fffffffffffffff",
    "8000000000000000",
    "-8000000000000000",
    "--8000000000000000",
    "-0x8000000000000000",
    "1y2p0ij32e8e7",
    "-1y2p0ij32e8e8",
];

const PREFIXES: &[&str] = &[
    "process where ",
    "any where ",
    "\"my category\" where ",
    "sequence ",
    "sequence by a with maxspan=5m [process where ",
    "sample by a [file where ",
    "process where a == ",
    "process where a : ",
    "process where length(",
];

/// Whitespace and comments between tokens (the empty one glues tokens together).
const SOUP_SEPARATORS: &[&str] = &[
    "",
    " ",
    " ",
    " ",
    "  ",
    "\n",
    "\t",
    "\r\n",
    "\r",
    " /* c */ ",
    " // c\n",
    "\u{c}",
    "\u{a0}",
];

fn identifier() -> impl Strategy<Value = String> {
    "[a-zA-Z_@][a-zA-Z0-9_@]{0,6}"
}

fn backtick(content: &str) -> String {
    format!("`{}`", content.replace('`', "``"))
}

fn soup_string() -> impl Strategy<Value = String> {
    (any::<String>(), any::<u8>()).prop_map(|(s, style)| quote(&s, style))
}

fn token() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(KEYWORDS).prop_map(str::to_string),
        5 => select(OPERATORS).prop_map(str::to_string),
        3 => identifier(),
        2 => "[a-z]{1,5}(\\.[a-z@_]{1,5}){1,3}",
        1 => "\\?[a-z]{1,5}(\\.[a-z]{1,4})?",
        1 => "[^`]{0,6}".prop_map(|s| backtick(&s)),
        2 => soup_string(),
        1 => select(ODD_STRINGS).prop_map(str::to_string),
        2 => select(NUMBERS).prop_map(str::to_string),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        3 => (select(FUNCTIONS), any::<bool>(), any::<bool>()).prop_map(|(f, tilde, open)| {
            format!(
                "{f}{}{}",
                if tilde { "~" } else { "" },
                if open { "(" } else { "" }
            )
        }),
        1 => select(COMMENTS).prop_map(str::to_string),
        1 => (select(NUMBER_TEXTS), select(&["", ", 2", ", 10", ", 16", ", 36", ", null", ", 1", ", 37"][..]))
            .prop_map(|(n, base)| format!("number(\"{n}\"{base})")),
        1 => "[0-9]{1,3} ?(ms|s|m|h|d|y)?",
        1 => select(&["runs=2", "maxspan=10s", "with runs=0", "| head 5", "| tail", "| count"][..])
            .prop_map(str::to_string),
    ]
    .boxed()
}

fn token_soup() -> impl Strategy<Value = String> {
    let pure = (
        prop::option::of(select(PREFIXES)),
        vec((token(), select(SOUP_SEPARATORS)), 1..40),
    )
        .prop_map(|(prefix, parts)| {
            let mut out = prefix.unwrap_or("").to_string();
            for (token, sep) in parts {
                out.push_str(&token);
                out.push_str(sep);
            }
            out
        });
    // A valid query with tokens inserted, deleted or replaced: mostly errors, many near misses.
    let edited = (
        valid_query(),
        vec(
            (any::<Index>(), prop::option::of(token()), any::<bool>()),
            1..4,
        ),
        vec(select(SOUP_SEPARATORS), 1..8),
    )
        .prop_map(|(mut tokens, edits, separators)| {
            for (at, token, replace) in edits {
                let at = at.index(tokens.len() + 1);
                match token {
                    Some(t) if replace && at < tokens.len() => tokens[at] = t,
                    Some(t) => tokens.insert(at, t),
                    None if at < tokens.len() => {
                        tokens.remove(at);
                    }
                    None => {}
                }
            }
            join(&tokens, &separators)
        });
    prop_oneof![1 => pure, 2 => edited]
}

// ------------------------------------------------------------------ 3. valid queries

/// An EQL string literal with value `s`; `style`'s bits choose among equivalent spellings.
fn quote(s: &str, style: u8) -> String {
    let raw_ok = !s.contains(['\n', '\r']) && !s.contains("\"\"\"") && !s.ends_with('"');
    if style.is_multiple_of(4) && raw_ok {
        return format!("\"\"\"{s}\"\"\"");
    }
    let mut out = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' if style & 4 != 0 => out.push_str("\\t"),
            '\u{8}' if style & 4 != 0 => out.push_str("\\b"),
            '\u{c}' if style & 4 != 0 => out.push_str("\\f"),
            '\'' if style & 16 != 0 => out.push_str("\\'"),
            c if style & 8 != 0 && (i + style as usize).is_multiple_of(3) => {
                out.push_str(&format!("\\u{{{:02x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// String values: wildcards, quotes, backslashes, control and invisible characters, unicode.
fn string_value() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => select("abcXYZ019 .-_:/".chars().collect::<Vec<_>>()),
        2 => select("*?\\\"'`()[]{}%$".chars().collect::<Vec<_>>()),
        1 => select(vec![
            '\0', '\t', '\n', '\r', '\u{8}', '\u{c}', '\u{1b}', '\u{7f}', '\u{85}', '\u{200b}',
            '\u{202e}', '\u{feff}', 'é', 'İ', 'ß', '😀', '\u{10ffff}',
        ]),
        1 => any::<char>(),
    ];
    prop_oneof![
        1 => Just(String::new()),
        8 => vec(ch, 1..12).prop_map(|v| v.into_iter().collect()),
    ]
}

fn string_literal() -> impl Strategy<Value = String> {
    (string_value(), any::<u8>()).prop_map(|(s, style)| quote(&s, style))
}

/// The words that cannot start a field name.
const RESERVED: &[&str] = &[
    "and", "any", "by", "false", "in", "join", "like", "maxspan", "not", "null", "of", "or",
    "regex", "sample", "sequence", "true", "until", "where", "with",
];

/// Field names: dotted, `@`, backtick-quoted (keywords, spaces, backticks, empty), optional.
fn field() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        6 => select(&[
            "a", "b", "x1", "_", "@timestamp", "process.name", "file.path", "event.type",
            "host.os.type", "process.parent.args_count", "user_name", "e5", "length", "string",
            "android", "nothing", "orange", "inx", "x.any", "sequence_id",
        ][..])
        .prop_map(str::to_string),
        1 => select(&[
            "`and`", "`in`", "`a b`", "`a``b`", "``", "a.`b.c`", "`x`.y", "a.``", "`日本`",
            "`line\nbreak`", "`1st`",
        ][..])
        .prop_map(str::to_string),
        1 => "[a-z]{1,4}(\\.[a-z_]{1,4}){0,2}".prop_map(|n| {
            // A keyword cannot start a field name unquoted.
            match n.split_once('.') {
                Some((first, rest)) if RESERVED.contains(&first) => format!("`{first}`.{rest}"),
                None if RESERVED.contains(&n.as_str()) => format!("`{n}`"),
                _ => n,
            }
        }),
    ];
    (name, prop::bool::weighted(0.15))
        .prop_map(|(n, optional)| if optional { format!("?{n}") } else { n })
}

/// A function name as written: canonical or another letter case.
fn spell(name: &str, variant: u8) -> String {
    match variant % 6 {
        0 => name.to_ascii_uppercase(),
        1 => name.to_ascii_lowercase(),
        _ => name.to_string(),
    }
}

fn call(name: &str, variant: u8, tilde: bool, args: Vec<Toks>) -> Toks {
    let mut out = vec![format!(
        "{}{}",
        spell(name, variant),
        if tilde { "~" } else { "" }
    )];
    out.push("(".into());
    for (i, a) in args.into_iter().enumerate() {
        if i > 0 {
            out.push(",".into());
        }
        out.extend(a);
    }
    out.push(")".into());
    out
}

fn int_toks(n: i64) -> Toks {
    if n < 0 {
        vec!["-".into(), n.unsigned_abs().to_string()]
    } else {
        vec![n.to_string()]
    }
}

/// Any constant, as an operand (negative numbers are a sign and a number).
fn literal() -> BoxedStrategy<Toks> {
    prop_oneof![
        4 => string_literal().prop_map(|s| vec![s]),
        3 => (-1000i64..1000).prop_map(int_toks),
        1 => select(&["1.5", ".25", "2.", "1e3", "1E-3", "0.0", "9223372036854775807"][..])
            .prop_map(|s| vec![s.to_string()]),
        1 => select(&["-0.0", "-1.5", "-9223372036854775807", "-9223372036854775808"][..])
            .prop_map(|s| vec!["-".to_string(), s[1..].to_string()]),
        1 => select(&["true", "false", "null"][..]).prop_map(|s| vec![s.to_string()]),
    ]
    .boxed()
}

/// A constant as `:`/`like`/`regex` accept it (no sign).
fn pattern_constant(op: &str) -> BoxedStrategy<String> {
    match op {
        ":" => prop_oneof![8 => string_literal(), 1 => Just("null".to_string())].boxed(),
        "like" | "like~" => prop_oneof![
            8 => string_literal(),
            1 => (0u32..20).prop_map(|n| n.to_string()),
            1 => select(&["true", "false"][..]).prop_map(str::to_string),
        ]
        .boxed(),
        _ => string_literal().boxed(),
    }
}

/// Calls with a field first, so they are not folded, returning a value.
fn value_call() -> BoxedStrategy<Toks> {
    let f = || field().prop_map(|f| vec![f]);
    let s = || string_literal().prop_map(|s| vec![s]);
    let v = any::<u8>;
    prop_oneof![
        (select(&["length", "string", "number"][..]), v(), f()).prop_map(|(n, v, a)| call(
            n,
            v,
            false,
            vec![a]
        )),
        (
            v(),
            f(),
            prop_oneof![(2i64..=36).prop_map(int_toks), Just(toks(&["null"]))]
        )
            .prop_map(|(v, a, b)| call("number", v, false, vec![a, b])),
        (v(), f(), vec(prop_oneof![literal(), f()], 0..3)).prop_map(|(v, a, rest)| {
            call("concat", v, false, std::iter::once(a).chain(rest).collect())
        }),
        (v(), f(), -5i64..5, prop::option::of(-5i64..5)).prop_map(|(v, a, b, c)| {
            let mut args = vec![a, int_toks(b)];
            args.extend(c.map(int_toks));
            call("substring", v, false, args)
        }),
        (v(), any::<bool>(), f(), s(), prop::option::of(0i64..5)).prop_map(|(v, t, a, b, c)| {
            let mut args = vec![a, b];
            args.extend(c.map(int_toks));
            call("indexOf", v, t, args)
        }),
        (
            v(),
            any::<bool>(),
            f(),
            s(),
            s(),
            prop::option::of(any::<bool>())
        )
            .prop_map(|(v, t, a, l, r, g)| {
                let mut args = vec![a, l, r];
                args.extend(g.map(|g| vec![g.to_string()]));
                call("between", v, t, args)
            }),
        (
            select(&["add", "subtract", "multiply", "divide", "modulo"][..]),
            v(),
            f(),
            prop_oneof![f(), (0i64..10).prop_map(int_toks)]
        )
            .prop_map(|(n, v, a, b)| call(n, v, false, vec![a, b])),
    ]
    .boxed()
}

/// Calls on constants that fold to a string (or null).
fn folded_string_call() -> BoxedStrategy<Toks> {
    let s = || string_literal().prop_map(|s| vec![s]);
    let v = any::<u8>;
    prop_oneof![
        (v(), vec(literal(), 1..4)).prop_map(|(v, args)| call("concat", v, false, args)),
        (v(), s(), -5i64..5, -5i64..5).prop_map(|(v, a, b, c)| call(
            "substring",
            v,
            false,
            vec![a, int_toks(b), int_toks(c)]
        )),
        (v(), any::<bool>(), s(), s(), s(), any::<bool>()).prop_map(|(v, t, a, l, r, g)| {
            call("between", v, t, vec![a, l, r, vec![g.to_string()]])
        }),
        (v(), literal()).prop_map(|(v, a)| call("string", v, false, vec![a])),
    ]
    .boxed()
}

/// Calls on constants that fold to a number (or null).
fn folded_number_call() -> BoxedStrategy<Toks> {
    let s = || string_literal().prop_map(|s| vec![s]);
    let v = any::<u8>;
    prop_oneof![
        (v(), s()).prop_map(|(v, a)| call("length", v, false, vec![a])),
        (v(), any::<bool>(), s(), s(), 0i64..4).prop_map(|(v, t, a, b, c)| call(
            "indexOf",
            v,
            t,
            vec![a, b, int_toks(c)]
        )),
        (v(), select(&["12", "-7", "1.5", " 42 ", "1e3"][..])).prop_map(|(v, n)| call(
            "number",
            v,
            false,
            vec![vec![format!("\"{n}\"")]]
        )),
        (
            v(),
            select(&[("ff", 16), ("0x-1F", 16), ("101", 2), ("zz", 36)][..])
        )
            .prop_map(|(v, (n, b))| call(
                "number",
                v,
                false,
                vec![vec![format!("\"{n}\"")], int_toks(b)]
            )),
    ]
    .boxed()
}

/// Calls that yield a boolean and stand as conditions.
fn boolean_call() -> BoxedStrategy<Toks> {
    let f = || field().prop_map(|f| vec![f]);
    let s = || string_literal().prop_map(|s| vec![s]);
    let cidr = select(
        &[
            "10.0.0.0/8",
            "192.168.1.1",
            "::1",
            "2001:db8::/32",
            "0.0.0.0/0",
            "fe80::1/128",
        ][..],
    )
    .prop_map(|c| vec![format!("\"{c}\"")]);
    prop_oneof![
        4 => (
            select(&["startsWith", "endsWith", "stringContains"][..]),
            any::<u8>(),
            any::<bool>(),
            f(),
            s()
        )
            .prop_map(|(n, v, t, a, b)| call(n, v, t, vec![a, b])),
        2 => (any::<u8>(), f(), vec(cidr, 1..4))
            .prop_map(|(v, a, rest)| call("cidrMatch", v, false, std::iter::once(a).chain(rest).collect())),
        1 => (
            select(&["startsWith", "endsWith", "stringContains"][..]),
            any::<u8>(),
            any::<bool>(),
            s(),
            s()
        )
            .prop_map(|(n, v, t, a, b)| call(n, v, t, vec![a, b])),
    ]
    .boxed()
}

fn maybe_paren(t: Toks, paren: bool) -> Toks {
    if paren {
        cat(vec![toks(&["("]), t, toks(&[")"])])
    } else {
        t
    }
}

/// Arithmetic over `leaf`; divisors are non-zero leaves, so constant parts never divide by
/// zero, and small leaves keep constant parts from overflowing.
fn arithmetic(leaf: BoxedStrategy<Toks>, divisor: BoxedStrategy<Toks>) -> BoxedStrategy<Toks> {
    leaf.prop_recursive(3, 12, 2, move |inner| {
        prop_oneof![
            (
                inner.clone(),
                select(&["+", "-", "*"][..]),
                inner.clone(),
                any::<bool>(),
                any::<bool>()
            )
                .prop_map(|(l, op, r, pl, pr)| cat(vec![
                    maybe_paren(l, pl),
                    toks(&[op]),
                    maybe_paren(r, pr)
                ])),
            (
                inner.clone(),
                select(&["/", "%"][..]),
                divisor.clone(),
                any::<bool>()
            )
                .prop_map(|(l, op, d, pl)| cat(vec![
                    maybe_paren(l, pl),
                    toks(&[op]),
                    d
                ])),
            inner
                .clone()
                .prop_map(|v| cat(vec![toks(&["-", "("]), v, toks(&[")"])])),
            inner.prop_map(|v| maybe_paren(v, true)),
        ]
    })
    .boxed()
}

fn small_number() -> BoxedStrategy<Toks> {
    prop_oneof![
        4 => (0i64..10).prop_map(|n| vec![n.to_string()]),
        1 => select(&["0.5", "1.5", "2.25", "10.0", ".5", "3.", "1e2", "2E-1"][..])
            .prop_map(|s| vec![s.to_string()]),
        1 => Just(toks(&["null"])),
        1 => folded_number_call(),
    ]
    .boxed()
}

fn nonzero_number() -> BoxedStrategy<Toks> {
    prop_oneof![
        4 => (1i64..10).prop_map(|n| vec![n.to_string()]),
        1 => select(&["0.5", "1.5", "3.", "1e2"][..]).prop_map(|s| vec![s.to_string()]),
        1 => Just(toks(&["null"])),
    ]
    .boxed()
}

/// A value that may involve fields: fields, calls, constants and arithmetic on them.
fn value() -> BoxedStrategy<Toks> {
    let leaf = prop_oneof![
        4 => field().prop_map(|f| vec![f]),
        3 => small_number(),
        2 => value_call(),
    ]
    .boxed();
    let divisor = prop_oneof![
        2 => field().prop_map(|f| vec![f]),
        3 => nonzero_number(),
        1 => value_call(),
    ]
    .boxed();
    arithmetic(leaf, divisor)
}

/// A value that folds to a constant.
fn constant_value() -> BoxedStrategy<Toks> {
    prop_oneof![
        6 => literal(),
        2 => arithmetic(small_number(), nonzero_number()),
        1 => folded_string_call(),
        1 => Just(toks(&["-", "9223372036854775807", "-", "1"])),
    ]
    .boxed()
}

/// A primary that is not a constant: what `in` may test.
fn subject() -> BoxedStrategy<Toks> {
    prop_oneof![
        6 => field().prop_map(|f| vec![f]),
        2 => value_call(),
        1 => (field(), select(&["+", "-", "*", "/", "%"][..]), small_number())
            .prop_map(|(f, op, n)| cat(vec![toks(&["(", &f, op]), n, toks(&[")"])])),
    ]
    .boxed()
}

fn comma_list(items: Vec<Toks>) -> Toks {
    let mut out = toks(&["("]);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(",".into());
        }
        out.extend(item);
    }
    out.push(")".into());
    out
}

const COMPARE_OPS: &[&str] = &["==", "!=", "<", "<=", ">", ">="];
const MATCH_OPS: &[&str] = &[":", "like", "like~", "regex", "regex~"];

/// `subject <match-op> pattern` or `subject <match-op> (p1, p2, ...)`.
fn match_predicate() -> BoxedStrategy<Toks> {
    let subject = prop_oneof![
        6 => subject(),
        1 => string_literal().prop_map(|s| vec![s]),
        1 => folded_string_call(),
    ];
    (subject, select(MATCH_OPS))
        .prop_flat_map(|(s, op)| {
            (
                Just(s),
                Just(op),
                vec(pattern_constant(op), 1..5),
                any::<bool>(),
            )
        })
        .prop_map(|(s, op, patterns, list)| {
            let rhs = if list || patterns.len() > 1 {
                comma_list(patterns.into_iter().map(|p| vec![p]).collect())
            } else {
                patterns
            };
            cat(vec![s, toks(&[op]), rhs])
        })
        .boxed()
}

/// The leaves of conditions.
fn condition_leaf() -> BoxedStrategy<Toks> {
    prop_oneof![
        2 => field().prop_map(|f| vec![f]),
        1 => select(&["true", "false"][..]).prop_map(|s| vec![s.to_string()]),
        6 => (value(), select(COMPARE_OPS), constant_value(), any::<bool>()).prop_map(
            |(v, op, c, swap)| if swap {
                cat(vec![c, toks(&[op]), v])
            } else {
                cat(vec![v, toks(&[op]), c])
            }
        ),
        // Elasticsearch lets an optional field face any value.
        1 => (select(&["?a", "?x.y", "?`in`", "?process.pid"][..]), select(COMPARE_OPS), value())
            .prop_map(|(f, op, v)| cat(vec![toks(&[f, op]), v])),
        5 => match_predicate(),
        4 => (
            subject(),
            select(&["in", "in~", "not in", "not in~"][..]),
            vec(constant_value(), 1..6)
        )
            .prop_map(|(s, op, items)| {
                cat(vec![s, op.split(' ').map(String::from).collect(), comma_list(items)])
            }),
        2 => boolean_call(),
        // A condition used as a value.
        1 => (
            prop_oneof![match_predicate(), boolean_call(), field().prop_map(|f| vec![f])],
            select(&["==", "!="][..]),
            select(&["null", "true", "false"][..])
        )
            .prop_map(|(c, op, l)| cat(vec![maybe_paren(c, true), toks(&[op, l])])),
    ]
    .boxed()
}

fn condition(depth: u32) -> BoxedStrategy<Toks> {
    condition_leaf()
        .prop_recursive(depth, 24, 4, |inner| {
            prop_oneof![
                3 => (vec((inner.clone(), any::<bool>()), 2..5), any::<u8>()).prop_map(
                    |(operands, ors)| {
                        let mut out = Vec::new();
                        for (i, (o, paren)) in operands.into_iter().enumerate() {
                            if i > 0 {
                                out.push(if ors >> (i % 8) & 1 == 1 { "or" } else { "and" }.into());
                            }
                            out.extend(maybe_paren(o, paren));
                        }
                        out
                    }
                ),
                2 => (1usize..3, inner.clone()).prop_map(|(n, c)| {
                    let mut out = vec!["not".to_string(); n];
                    out.extend(c);
                    out
                }),
                1 => inner.prop_map(|c| maybe_paren(c, true)),
            ]
        })
        .boxed()
}

fn category() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => select(&["process", "file", "network", "registry", "any", "_x", "@cat", "iam"][..])
            .prop_map(str::to_string),
        1 => (string_value(), any::<u8>()).prop_map(|(s, style)| quote(&s, style)),
    ]
}

fn pipes() -> impl Strategy<Value = Toks> {
    vec((select(&["head", "tail"][..]), 0u64..10_000), 0..3).prop_map(|ps| {
        ps.into_iter()
            .flat_map(|(p, n)| [String::from("|"), p.to_string(), n.to_string()])
            .collect()
    })
}

fn event_query() -> impl Strategy<Value = Toks> {
    (category(), condition(4), pipes())
        .prop_map(|(c, cond, pipes)| cat(vec![vec![c, "where".into()], cond, pipes]))
}

fn by_keys(keys: Vec<String>) -> Toks {
    let mut out = Vec::new();
    for (i, k) in keys.into_iter().enumerate() {
        out.push(if i == 0 { "by" } else { "," }.to_string());
        out.push(k);
    }
    out
}

fn bracketed(open: &str, category: String, cond: Toks) -> Toks {
    cat(vec![
        vec![open.to_string(), category, "where".into()],
        cond,
        toks(&["]"]),
    ])
}

/// `sequence [by ...] [with maxspan=...] [...]... [until [...]]`, within Elasticsearch's limits.
fn sequence_query() -> impl Strategy<Value = Toks> {
    let stage = (
        category(),
        condition(2),
        prop::option::of(1u64..6),
        prop::bool::weighted(0.2),
        vec(field(), 3),
    );
    (
        vec(field(), 0..3),
        prop::option::of((
            1u64..1000,
            select(&["ms", "s", "m", "h", "d"][..]),
            any::<bool>(),
        )),
        0usize..3,
        vec(stage, 1..5),
        prop::option::of((category(), condition(2), vec(field(), 3))),
        pipes(),
    )
        .prop_map(|(by, maxspan, k, stages, until, pipes)| {
            let mut out = vec!["sequence".to_string()];
            out.extend(by_keys(by));
            if let Some((n, unit, space)) = maxspan {
                out.extend(toks(&["with", "maxspan", "="]));
                out.push(if space {
                    format!("{n} {unit}")
                } else {
                    format!("{n}{unit}")
                });
            }
            let single = stages.len() == 1;
            for (i, (c, cond, runs, missing, keys)) in stages.into_iter().enumerate() {
                // A missing-event stage needs maxspan, cannot repeat, and cannot be alone.
                let missing = missing && maxspan.is_some() && runs.is_none() && i > 0;
                let runs = if single {
                    Some(runs.unwrap_or(2).max(2))
                } else {
                    runs
                };
                out.extend(bracketed(if missing { "![" } else { "[" }, c, cond));
                out.extend(by_keys(keys[..k].to_vec()));
                if let Some(r) = runs {
                    out.extend(toks(&["with", "runs", "=", &r.to_string()]));
                }
            }
            if let Some((c, cond, keys)) = until {
                out.push("until".into());
                out.extend(bracketed("[", c, cond));
                out.extend(by_keys(keys[..k].to_vec()));
            }
            out.extend(pipes);
            out
        })
}

/// `sample [by ...] [...] [...]`: 2 to 5 stages, join keys everywhere, none used twice.
fn sample_query() -> impl Strategy<Value = Toks> {
    const SHARED: &[&str] = &["host.id", "user.name", "?process.entity_id", "`a b`"];
    const OWN: &[&str] = &["source.ip", "destination.ip", "?event.id", "x", "`y`"];
    (subsequence(SHARED, 0..=3), 0usize..3)
        .prop_flat_map(|(shared, k)| {
            let k = if shared.is_empty() { k.max(1) } else { k };
            (
                Just(shared),
                vec((category(), condition(2), subsequence(OWN, k..=k)), 2..=5),
            )
        })
        .prop_map(|(shared, stages)| {
            let mut out = vec!["sample".to_string()];
            out.extend(by_keys(shared.iter().map(|s| s.to_string()).collect()));
            for (c, cond, keys) in stages {
                out.extend(bracketed("[", c, cond));
                out.extend(by_keys(keys.iter().map(|s| s.to_string()).collect()));
            }
            out
        })
}

fn valid_query() -> impl Strategy<Value = Toks> {
    prop_oneof![
        4 => event_query(),
        2 => sequence_query(),
        1 => sample_query(),
    ]
}

/// Whitespace and comments that may separate any two tokens of a valid query (a comment
/// starts after a space, so that it cannot merge with a `/` or `*` before it).
const SEPARATORS: &[&str] = &[
    " ",
    " ",
    " ",
    "  ",
    "\n",
    "\n    ",
    "\t",
    "\r\n",
    "\u{c}",
    " /* comment */ ",
    " /**/",
    " /* ( [ \" ` */ ",
    " // comment\n",
    " //\r\n",
];

fn join(tokens: &[String], separators: &[&str]) -> String {
    let mut out = String::new();
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 {
            out.push_str(separators[i % separators.len()]);
        }
        out.push_str(t);
    }
    out
}

// ------------------------------------------------------------------ 4. mutations of real rules

fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            toml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

/// `rule.query` of an EQL rule document.
fn eql_query(text: &str) -> Option<String> {
    let table: toml::Table = text.parse().ok()?;
    let rule = table.get("rule")?.as_table()?;
    if rule.get("type")?.as_str()? != "eql" {
        return None;
    }
    Some(rule.get("query")?.as_str()?.to_string())
}

/// The queries of the EQL rules in `rules/`, then those of the shared corpus when present.
fn seed_queries() -> &'static [String] {
    static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        toml_files(&root.join("rules"), &mut files);
        let local = files.len();
        toml_files(&root.join("../shared/corpus/detection-rules"), &mut files);
        files[local..].sort();
        let seeds: Vec<String> = files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .filter_map(|t| eql_query(&t))
            .collect();
        assert!(seeds.len() >= 5, "expected EQL rules under rules/");
        seeds
    })
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(Index, usize),
    Insert(Index, String),
    Duplicate(Index, usize, Index),
    Swap(Index, Index),
    Replace(Index, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<Index>(), prop_oneof![3 => 0usize..8, 1 => 0usize..200])
            .prop_map(|(i, n)| Edit::Delete(i, n)),
        3 => (any::<Index>(), prop_oneof![4 => token(), 1 => any::<char>().prop_map(String::from)])
            .prop_map(|(i, t)| Edit::Insert(i, t)),
        1 => (any::<Index>(), 0usize..40, any::<Index>()).prop_map(|(i, n, at)| Edit::Duplicate(i, n, at)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Swap(a, b)),
        1 => (any::<Index>(), any::<char>()).prop_map(|(i, c)| Edit::Replace(i, c)),
    ]
}

fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn position(s: &str, i: &Index) -> usize {
    floor_boundary(s, i.index(s.len() + 1))
}

fn apply(text: &mut String, edit: &Edit) {
    match edit {
        Edit::Delete(at, n) => {
            let start = position(text, at);
            let end = floor_boundary(text, start + n);
            text.replace_range(start..end, "");
        }
        Edit::Insert(at, token) => {
            let at = position(text, at);
            text.insert_str(at, token);
        }
        Edit::Duplicate(from, n, at) => {
            let start = position(text, from);
            let end = floor_boundary(text, start + n);
            let copy = text[start..end].to_string();
            let at = position(text, at);
            text.insert_str(at, &copy);
        }
        Edit::Swap(a, b) => {
            let (a, b) = (position(text, a), position(text, b));
            let (a, b) = (a.min(b), a.max(b));
            let (Some(ca), Some(cb)) = (text[a..].chars().next(), text[b..].chars().next()) else {
                return;
            };
            if a == b {
                return;
            }
            let mut out = String::with_capacity(text.len());
            out.push_str(&text[..a]);
            out.push(cb);
            out.push_str(&text[a + ca.len_utf8()..b]);
            out.push(ca);
            out.push_str(&text[b + cb.len_utf8()..]);
            *text = out;
        }
        Edit::Replace(at, c) => {
            let at = position(text, at);
            if let Some(old) = text[at..].chars().next() {
                text.replace_range(at..at + old.len_utf8(), &c.to_string());
            }
        }
    }
}

// ------------------------------------------------------------------ the properties

proptest! {
    #![proptest_config(config(1_000))]

    /// 1. Any text ends in a query or a well-placed error.
    #[test]
    fn arbitrary_text_never_panics(text in arbitrary_text()) {
        check(&text)?;
    }
}

proptest! {
    #![proptest_config(config(500))]

    /// 2. Random token sequences: no panic; what compiles round-trips.
    #[test]
    fn token_soup_never_panics_and_round_trips(text in token_soup()) {
        check(&text)?;
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// 3. Valid queries compile, whatever separates their tokens, and round-trip.
    #[test]
    fn valid_queries_compile_and_round_trip(
        tokens in valid_query(),
        separators in vec(select(SEPARATORS), 1..16),
    ) {
        let plain = tokens.join(" ");
        let query = compile_query(&plain).map_err(|d| {
            TestCaseError::fail(format!(
                "valid query rejected: {} at {:?}\n  query: {plain:?}",
                d.message, d.span
            ))
        })?;
        check_round_trip(&plain, &query)?;
        let spaced = join(&tokens, &separators);
        match compile_query(&spaced) {
            Ok(q) => prop_assert_eq!(
                q,
                query,
                "whitespace and comments change the query\n  {:?}\n  {:?}",
                plain,
                spaced
            ),
            Err(d) => prop_assert!(
                false,
                "valid query rejected once spaced out: {} at {:?}\n  {:?}",
                d.message,
                d.span,
                spaced
            ),
        }
    }
}

proptest! {
    #![proptest_config(config(500))]

    /// 4. Real rule queries with a few byte-level edits.
    #[test]
    fn mutated_rules_never_panic(seed in any::<Index>(), edits in vec(edit(), 1..5)) {
        let seeds = seed_queries();
        let mut text = seeds[seed.index(seeds.len())].clone();
        for e in &edits {
            apply(&mut text, e);
        }
        check(&text)?;
    }
}

// ------------------------------------------------------------------ 5. limits and large inputs
//
// These run on the default 2 MB test-thread stack on purpose: a query must not need more.

/// How long compiling a megabyte-sized query may take. pest is slow in an unoptimised build
/// (about 5 s per MB on a busy machine), and the tests of this file run side by side.
const LARGE_QUERY_BUDGET: Duration = if cfg!(debug_assertions) {
    Duration::from_secs(30)
} else {
    Duration::from_secs(3)
};

fn timed<T>(what: &str, budget: Duration, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(took <= budget, "{what} took {took:?} (budget {budget:?})");
    out
}

fn expect_error(text: &str, needle: &str) -> Diagnostic {
    match compile_query(text) {
        Ok(_) => panic!("expected an error containing {needle:?}"),
        Err(d) => {
            assert!(
                d.message.contains(needle),
                "expected {needle:?}, got {:?}",
                d.message
            );
            if let Err(e) = check_span(text, &d) {
                panic!("{e}");
            }
            d
        }
    }
}

#[test]
fn ten_thousand_nested_brackets_are_refused_quickly() {
    let n = 10_000;
    let text = format!("process where {}true{}", "(".repeat(n), ")".repeat(n));
    timed("10,000 parentheses", Duration::from_secs(2), || {
        expect_error(&text, "nested too deeply")
    });
    for open in ["length(", "a in (", "[", "![", "a of ["] {
        let text = format!("process where {}", open.repeat(n));
        timed(open, Duration::from_secs(2), || {
            expect_error(&text, "nested too deeply")
        });
    }
}

#[test]
fn ten_thousand_nots_and_signs_do_not_overflow() {
    let text = format!("process where {}a == 1", "not ".repeat(10_000));
    timed("10,000 `not`", Duration::from_secs(5), || {
        expect_error(&text, "nested too deeply")
    });
    let text = format!("process where a == {}1", "- ".repeat(10_000));
    timed("10,000 signs", Duration::from_secs(5), || {
        expect_error(&text, "nested too deeply")
    });
}

#[test]
fn a_hundred_thousand_chained_additions_hit_the_depth_limit() {
    let text = format!("process where a{} == 2", " + 1".repeat(100_000));
    timed("100,000 additions", Duration::from_secs(15), || {
        expect_error(&text, "nested too deeply")
    });
}

/// Every nesting depth the bracket limit lets through, in every bracketed form, either compiles
/// (and round-trips) or is refused by the expression depth limit: no stack overflow.
#[test]
fn every_accepted_bracket_depth_fits_on_the_default_stack() {
    let max = eqlc::syntax::lexical::MAX_BRACKET_DEPTH;
    let forms = [
        ("(", ")"),
        ("length(", ")"),
        ("a in (", ")"),
        ("concat(a, ", ")"),
        ("between(a, \"x\", ", ")"),
        ("(not ", ")"),
        ("-(", ")"),
        ("a + (", ")"),
        ("(a == 1 or ", ")"),
        ("(a in (1) and ", ")"),
        ("descendant of [any where ", "]"),
    ];
    let mut deepest_accepted = 0;
    for (open, close) in forms {
        let depths = (1..=30).chain([40, 50, max - 1, max]);
        for depth in depths {
            let text = format!(
                "process where {}a{} == 1",
                open.repeat(depth),
                close.repeat(depth)
            );
            if assert_checks(&text).is_some() {
                deepest_accepted = deepest_accepted.max(depth);
            }
        }
    }
    assert!(
        deepest_accepted >= 20,
        "only {deepest_accepted} levels accepted"
    );
    let text = format!(
        "sequence [process where {}a{}] [file where true]",
        "(".repeat(max - 1),
        ")".repeat(max - 1)
    );
    assert_checks(&text);
}

/// The longest operator chains the depth limit accepts: lowering, printing, comparing and
/// dropping them recurse once per operator.
#[test]
fn the_longest_accepted_operator_chains_fit_on_the_default_stack() {
    let mut accepted = 0;
    for n in [50, 100, 150, 190, 195, 199, 200, 201, 250] {
        for text in [
            format!("process where a{} == 2", " + 1".repeat(n)),
            format!("process where a{} == 2", " * b".repeat(n)),
            format!("process where x == {}a", "- ".repeat(n)),
            format!("process where {}a", "not ".repeat(n)),
            format!("process where {}a == 1", "- ".repeat(n)),
        ] {
            if assert_checks(&text).is_some() {
                accepted += 1;
            }
        }
    }
    assert!(accepted > 0);
}

fn megabyte(head: &str, item: impl Fn(usize) -> String, sep: &str, tail: &str) -> String {
    let mut text = head.to_string();
    let mut i = 0;
    while text.len() < 1 << 20 {
        if i > 0 {
            text.push_str(sep);
        }
        text.push_str(&item(i));
        i += 1;
    }
    text.push_str(tail);
    text
}

/// Compile a huge query within the budget, then check the round trip. A text already in
/// canonical form proves it without compiling a second megabyte: print(compile(text)) == text.
fn assert_large_query_compiles(what: &str, text: &str) -> Query {
    let query = timed(what, LARGE_QUERY_BUDGET, || compile_query(text))
        .unwrap_or_else(|d| panic!("{what} does not compile: {} at {:?}", d.message, d.span));
    if print::query(&query) != text {
        if let Err(e) = check_round_trip(what, &query) {
            panic!("{e}");
        }
    }
    query
}

#[test]
fn a_megabyte_of_or_compiles_and_round_trips() {
    let text = megabyte("process where ", |i| format!("a == {i}"), " or ", "");
    assert_large_query_compiles("1 MB of `or`", &text);
}

#[test]
fn a_megabyte_of_and_compiles_and_round_trips() {
    let text = megabyte("process where ", |i| format!("f{i} != {i}"), " and ", "");
    assert_large_query_compiles("1 MB of `and`", &text);
}

#[test]
fn a_megabyte_in_list_compiles_and_round_trips() {
    let text = megabyte("process where a in (", |i| i.to_string(), ", ", ")");
    assert_large_query_compiles("1 MB `in` list", &text);
}

#[test]
fn a_megabyte_pattern_list_compiles_and_round_trips() {
    let text = megabyte("process where a : (", |i| format!("\"*x{i}*\""), ", ", ")");
    assert_large_query_compiles("1 MB `:` list", &text);
}

#[test]
fn a_megabyte_string_compiles_and_round_trips() {
    let body = megabyte(
        "",
        |i| format!("ab\\\"c\\\\d\\u{{{:x}}}é*\\t", 0x41 + i % 26),
        "",
        "",
    );
    let text = format!("process where a : \"{body}\"");
    assert_large_query_compiles("1 MB string", &text);
    let text = format!(
        "process where b regex \"\"\"{}\"\"\"",
        "x\\d".repeat(1 << 18)
    );
    assert_large_query_compiles("1 MB raw string", &text);
}

// ------------------------------------------------------------------ regressions found by fuzzing

fn compiled(text: &str) -> Query {
    assert_checks(text).unwrap_or_else(|| panic!("{text:?} does not compile"))
}

/// `i64::MIN` printed as `-9223372036854775808` re-read as minus a too-large number: a decimal.
#[test]
fn the_smallest_integer_round_trips() {
    for text in [
        "process where a == -9223372036854775807 - 1",
        "process where a in (-9223372036854775807 - 1, 1)",
        "process where a == number(\"-9223372036854775808\")",
        "process where length(a) + (-9223372036854775807 - 1) == 0",
    ] {
        compiled(text);
    }
    // A number too large for an integer is still a decimal.
    compiled("process where a == -9223372036854775808");
}

/// `like (1, "1")` and `like ("a**", "a*")` are one pattern each, before and after printing.
#[test]
fn equivalent_like_patterns_are_merged() {
    let q = compiled("process where a like (1, \"1\", true, \"true\", \"x**\", \"x*\")");
    let printed = print::query(&q);
    assert_eq!(printed, "process where a like (\"1\", \"true\", \"x*\")");
    compiled("process where a like~ (false, false)");
}

/// `"abc" : null` folds as `"abc" == null` does (the printed form of one is the other).
#[test]
fn a_constant_matched_with_null_folds() {
    let q = compiled("process where \"abc\" : (\"a*\", null)");
    assert_eq!(print::query(&q), "process where \"abc\" : \"a*\"");
    let q = compiled("process where \"abc\" : null or a");
    assert_eq!(print::query(&q), "process where a");
}

/// A comment after a pipe's count was read as part of the number.
#[test]
fn comments_after_a_pipe_count_are_ignored() {
    let q = compiled("process where true | head 5 // five\n| tail 2 /* two */");
    assert_eq!(print::query(&q), "process where true | head 5 | tail 2");
    let text = "process where true | head 5 + 1 // c";
    let d = expect_error(text, "non-negative");
    let span = d.span.expect("placed");
    assert_eq!(&text[span.start..span.end], "5 + 1");
}

/// A `//` comment ends at `\r` in the grammar and in Elasticsearch; the lexical pre-pass used to
/// run it on to `\n`, misreading what followed.
#[test]
fn line_comments_end_at_a_carriage_return() {
    let q = compiled("process where // comment\r`x\ny` == 1");
    assert_eq!(print::query(&q), "process where `x\ny` == 1");
    let text = "process where a // c\r== \"abc";
    let d = expect_error(text, "unterminated string");
    assert_eq!(d.span.map(|s| (s.start, s.end)), Some((24, 25)));
}

/// `number("--8000000000000000", 16)` negated `i64::MIN`: a panic in a debug build.
#[test]
fn number_with_two_minus_signs_is_an_error_not_a_panic() {
    for text in [
        "process where number(a) == number(\"--8000000000000000\", 16)",
        "process where number(a) == number(\"-0x-8000000000000000\", 16)",
    ] {
        expect_error(text, "cannot read");
    }
    compiled("process where number(a) == number(\"-7fffffffffffffff\", 16) - 1");
}
