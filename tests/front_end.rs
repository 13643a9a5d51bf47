//! The front end end to end: grammar features, normalisation, diagnostics, and the IR of every
//! document in `rules/` (snapshots).

use eqlc::diagnostic::render;
use eqlc::driver::{self, compile_query, InputSpec, Status, Target};
use eqlc::ir::{self, Case, Expr, QueryBody};

fn canonical(text: &str) -> String {
    match compile_query(text) {
        Ok(q) => ir::print::query(&q),
        Err(d) => panic!("{text:?} failed: {} at {:?}", d.message, d.span),
    }
}

fn error_of(text: &str) -> String {
    match compile_query(text) {
        Ok(q) => panic!("{text:?} should fail, got {}", ir::print::query(&q)),
        Err(d) => d.message,
    }
}

/// Every grammar feature, with the canonical form it normalises to.
#[test]
fn grammar_features_parse_to_their_canonical_form() {
    let cases = [
        // Event queries, categories.
        ("process where true", "process where true"),
        ("any where false", "any where false"),
        ("\"process\" where true", "process where true"),
        ("\"my-category\" where true", "\"my-category\" where true"),
        // Comparison operators.
        ("process where a == 1 and b != 2 and c < 3 and d <= 4 and e > 5 and f >= 6",
         "process where a == 1 and b != 2 and c < 3 and d <= 4 and e > 5 and f >= 6"),
        // `:` single and list, like/like~, regex/regex~.
        ("process where a : \"x*\"", "process where a : \"x*\""),
        ("process where a :(\"x\", \"y?\")", "process where a : (\"x\", \"y?\")"),
        ("process where a like~ \"X\"", "process where a : \"X\""),
        ("process where a like (\"X*\", \"y\")", "process where a like (\"X*\", \"y\")"),
        ("process where a regex \"\"\"\\d+\"\"\"", "process where a regex \"\"\"\\d+\"\"\""),
        ("process where a regex~ (\"a.*\", \"b\")", "process where a regex~ (\"a.*\", \"b\")"),
        // in / in~ / not in / not in~ (duplicates dropped, as Elasticsearch does).
        ("process where a in (\"x\", \"y\", \"x\")", "process where a in (\"x\", \"y\")"),
        ("process where a in~ (\"X\")", "process where a in~ (\"X\")"),
        ("process where a not in (1, 2)", "process where a not in (1, 2)"),
        ("process where not a in~ (\"X\")", "process where a not in~ (\"X\")"),
        // Null checks.
        ("process where a == null and null != b", "process where a == null and b != null"),
        // Arithmetic, precedence, folding, literals on the right.
        ("process where a + 2 * 3 == 7", "process where a + 6 == 7"),
        ("process where (a + 2) * 3 == 9", "process where (a + 2) * 3 == 9"),
        ("process where a - (b - 1) > 0", "process where a - (b - 1) > 0"),
        ("process where a % 2 == 1 and b / 4 < -1.5", "process where a % 2 == 1 and b / 4 < -1.5"),
        ("process where 5 < a", "process where a > 5"),
        ("process where -a == - -3", "process where -a == 3"),
        // Functions: names case-insensitive, `~` variants, folding of constant calls.
        ("process where cidrmatch(ip, \"10.0.0.0/8\", \"::1\")",
         "process where cidrMatch(ip, \"10.0.0.0/8\", \"::1/128\")"),
        ("process where STARTSWITH~(a, \"x\") and endswith(a, \"y\") and stringcontains~(a, \"z\")",
         "process where startsWith~(a, \"x\") and endsWith(a, \"y\") and stringContains~(a, \"z\")"),
        ("process where length(a) > length(\"abc\")", "process where length(a) > 3"),
        ("process where substring(a, 0, -1) == concat(\"x\", 1)", "process where substring(a, 0, -1) == \"x1\""),
        ("process where indexOf~(a, \"x\", 2) == 0 and between(a, \"[\", \"]\", true) == \"v\"",
         "process where indexOf~(a, \"x\", 2) == 0 and between(a, \"[\", \"]\", true) == \"v\""),
        ("process where number(a, 16) == add(1, 2)", "process where number(a, 16) == 3"),
        ("process where add(a, 1) == subtract(9, multiply(2, divide(8, modulo(7, 3))))",
         "process where a + 1 == -7"),
        ("process where string(a) : \"1*\"", "process where string(a) : \"1*\""),
        // Strings: escapes, raw strings, unicode.
        ("process where a == \"t\\tn\\nr\\r q\\\" b\\\\ u\\u{41}\"",
         "process where a == \"t\\tn\\nr\\r q\\\" b\\\\ uA\""),
        ("process where a : \"\"\"C:\\Temp\\*\"\"\"", "process where a : \"C:\\\\Temp\\\\*\""),
        ("process where a : \"*\\u{202E}*\"", "process where a : \"*\\u{202E}*\""),
        // Numbers.
        ("process where a == 1.0 and b == .5 and c == 1e3", "process where a == 1.0 and b == 0.5 and c == 1000.0"),
        // Fields: optional, backticks, keywords as later segments.
        ("process where ?a.b == 1 and x.`0`.y == 2 and `k8s.io/decision` == \"allow\"",
         "process where ?a.b == 1 and x.`0`.y == 2 and k8s.`io/decision` == \"allow\""),
        // Boolean logic: flattening, double negation, constants.
        ("process where (a == 1 and (b == 2 and c == 3)) or (d == 4 or e == 5)",
         "process where a == 1 and b == 2 and c == 3 or d == 4 or e == 5"),
        ("process where not not a == 1", "process where a == 1"),
        ("process where not (a == 1 or b == 2)", "process where not (a == 1 or b == 2)"),
        ("process where true and a == 1", "process where a == 1"),
        ("process where false or 1 == 1", "process where true"),
        // A condition used as a value.
        ("process where null == (a > -1)", "process where (a > -1) == null"),
        // Comments anywhere.
        ("/* c */ process // x\n where /* y */ a == 1 // z", "process where a == 1"),
        // Pipes.
        ("process where true | head 5 | tail 2", "process where true | head 5 | tail 2"),
        // Sequences: keys, maxspan units, per-stage keys, runs, until, missing events.
        ("sequence by host.id with maxspan=60s [process where true] by a [file where true] by b",
         "sequence by host.id with maxspan=1m\n  [process where true] by a\n  [file where true] by b"),
        ("sequence with maxspan=1500ms [process where true] [file where true]",
         "sequence with maxspan=1500ms\n  [process where true]\n  [file where true]"),
        ("sequence by u [any where true] with runs=5 until [any where x == 1]",
         "sequence by u\n  [any where true] with runs=5\nuntil [any where x == 1]"),
        ("sequence by h with maxspan=2h [any where a] ![any where b]",
         "sequence by h with maxspan=2h\n  [any where a]\n  ![any where b]"),
        ("sample by host [a where true] [b where true]", "sample by host\n  [a where true]\n  [b where true]"),
    ];
    for (input, expected) in cases {
        assert_eq!(canonical(input), expected, "input: {input}");
        // And the canonical form is a fixed point.
        assert_eq!(canonical(expected), expected, "not idempotent: {expected}");
    }
}

#[test]
fn case_sensitivity_is_explicit_per_operator() {
    let q = compile_query("process where a == \"X\" and b : \"X\" and c like \"X\" and d in~ (\"X\") and e regex~ \"X\"")
        .expect("compiles");
    let QueryBody::Event(event) = q.body else {
        panic!("event query expected")
    };
    let Expr::And { operands } = event.condition else {
        panic!("and expected")
    };
    let cases: Vec<Case> = operands
        .iter()
        .map(|o| match o {
            Expr::Compare(c) => c.case,
            Expr::Like(l) => l.case,
            Expr::In(i) => i.case,
            Expr::Regex(r) => r.case,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    use Case::*;
    assert_eq!(
        cases,
        [Sensitive, Insensitive, Sensitive, Insensitive, Insensitive]
    );
}

#[test]
fn wildcards_are_parsed_once_and_backslashes_stay_literal() {
    let q = compile_query(r#"process where a : "C:\\*\\x?.exe""#).expect("compiles");
    let QueryBody::Event(event) = q.body else {
        panic!("event query expected")
    };
    let Expr::Like(like) = event.condition else {
        panic!("like expected")
    };
    use ir::PatternPart::*;
    assert_eq!(
        like.patterns[0].parts,
        [
            Literal("C:\\".into()),
            AnyString,
            Literal("\\x".into()),
            AnyChar,
            Literal(".exe".into())
        ]
    );
}

/// What Elasticsearch rejects is rejected with a message that names the construct.
#[test]
fn unsupported_constructs_say_so() {
    let cases = [
        (
            "join by a [process where true] [file where true]",
            "`join` is not supported by Elasticsearch EQL",
        ),
        (
            "process where descendant of [process where true]",
            "`descendant of` is not supported by Elasticsearch EQL",
        ),
        (
            "process where true | unique a",
            "the `unique` pipe is not supported by Elasticsearch EQL",
        ),
        (
            "process where true | count",
            "the `count` pipe is not supported by Elasticsearch EQL",
        ),
        (
            "process where a == b",
            "comparing a field with another field is not supported by Elasticsearch EQL",
        ),
        (
            "process where a in (\"x\", b)",
            "comparing a field with another field is not supported by Elasticsearch EQL",
        ),
        ("process where a = 1", "`=` is not an EQL operator"),
        (
            "process where a == 'x'",
            "single-quoted strings are not supported by Elasticsearch EQL",
        ),
        (
            "process where a == ?\"x\"",
            "`?\"...\"` raw strings are not supported by Elasticsearch EQL",
        ),
        (
            "process where a[0] == 1",
            "array indexing is not supported by Elasticsearch EQL",
        ),
        (
            "process where a:length() == 1",
            "method syntax `field:function()` is not supported by Elasticsearch EQL",
        ),
        (
            "process where wildcard(a, \"x*\")",
            "function `wildcard` is not supported by Elasticsearch EQL",
        ),
        (
            "process where length~(a) == 1",
            "`length` has no case-insensitive `~` variant",
        ),
        ("process where foo(a)", "unknown function `foo`"),
        (
            "process where length(a, b) == 1",
            "`length` takes 1 argument, found 2",
        ),
        (
            "process where cidrMatch(a, \"10.0.0.0/33\")",
            "`10.0.0.0/33` is not an IP address or CIDR block",
        ),
        (
            "process where a : 1",
            "`:` compares strings, found a number",
        ),
        (
            "process where a == \"\\w\"",
            "invalid escape sequence `\\w`",
        ),
        ("process where a == \"\\u{1}\"", "invalid unicode escape"),
        ("process where a == 1 / 0", "division by zero"),
        ("process where 1", "expected a condition"),
        (
            "sequence [process where true]",
            "a sequence needs at least two stages",
        ),
        (
            "sequence with maxspan=30 [a where true] [b where true]",
            "`maxspan` needs a time unit",
        ),
        (
            "sequence with maxspan=5y [a where true] [b where true]",
            "unknown time unit `y`",
        ),
        (
            "sequence with maxspan=1.5s [a where true] [b where true]",
            "`maxspan` must be a positive whole number",
        ),
        (
            "sequence with maxspan=5s by a [a where true] [b where true]",
            "`by` must come before `with maxspan`",
        ),
        (
            "sequence [a where true] with runs=0 [b where true]",
            "`runs` must be a positive whole number",
        ),
        (
            "sequence [a where true] with runs=101",
            "`runs` can be at most 100",
        ),
        (
            "sequence [a where true] with repeat=2",
            "unknown stage option `repeat`",
        ),
        (
            "sequence [a where true] by x [b where true]",
            "inconsistent number of join keys",
        ),
        (
            "sequence [a where true] ![b where true]",
            "needs `with maxspan`",
        ),
        (
            "sequence with maxspan=1s ![a where true] ![b where true]",
            "at least one stage that is not a missing-event stage",
        ),
        (
            "sequence by x [a where true] [b where true] until ![c where true]",
            "`until` cannot be a missing-event stage",
        ),
        (
            "sample by x [a where true]",
            "a sample needs at least two stages",
        ),
        (
            "sample [a where true] [b where true]",
            "a sample needs join keys",
        ),
        (
            "sample by x [a where true] [b where true] | head 1",
            "pipes are not supported after `sample`",
        ),
        (
            "sample by x [a where true] ![b where true]",
            "supported only in sequences",
        ),
        (
            "sequence by x [a where true] by length(y) [b where true] by z",
            "join keys must be field names",
        ),
    ];
    for (input, expected) in cases {
        let message = error_of(input);
        assert!(
            message.contains(expected),
            "{input}\n  expected: {expected}\n  got: {message}"
        );
    }
}

/// Rendered diagnostics name the place, show the line and put a caret under the offending text.
#[test]
fn diagnostics_render_with_position_line_and_caret() {
    let bad = [
        "process wher x == 1",
        "process where",
        "process where a == 1 and",
        "process where a == (1",
        "process where a == \"unterminated",
        "process where a == 1 /* never closed",
        "sequence by a [process where true] [file where]",
        "process where a == b",
        "process where a : (\"x\", b)",
        "process where a == 1 == 2",
        "process where a in ()",
        "sequence with maxspan=5s [a where true] with runs=1000",
    ];
    let mut rendered = String::new();
    for text in bad {
        let d = compile_query(text).expect_err("must fail");
        rendered.push_str(&render(&d, "<query>", text, false));
        rendered.push_str("\n\n");
    }
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => true}, {
        insta::assert_snapshot!("diagnostics", rendered);
    });
}

#[test]
fn query_diagnostics_point_at_the_line_of_the_original_document() {
    let toml = "[metadata]\nmaturity = \"production\"\n\n[rule]\nname = \"x\"\ntype = \"eql\"\nlanguage = \"eql\"\nquery = '''\nprocess where\n  a == 1 and b = 2\n'''\n";
    let dir = std::env::temp_dir().join(format!("eqlc-front-end-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("rule.toml");
    std::fs::write(&path, toml).expect("write");
    let reports = driver::run_batch(&[InputSpec::Path(path)], &[Target::Eql], false);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].status, Status::Error);
    let position = reports[0].diagnostics[0].position.expect("placed");
    // `=` sits on line 10, column 16 of the TOML file.
    assert_eq!((position.line, position.column), (10, 16));
    let rendered = reports[0].render_diagnostics(false).join("\n");
    assert!(rendered.contains("rule.toml:10:16"), "{rendered}");
    assert!(rendered.contains("  a == 1 and b = 2"), "{rendered}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The IR and canonical EQL of every document in `rules/`, reviewed and kept as snapshots.
#[test]
fn rules_directory_ir_snapshots() {
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
    let reports = driver::run_batch(&[InputSpec::Path(rules.into())], &[Target::Eql], true);
    assert!(reports.len() >= 16, "rules/ holds the seeds and samples");
    for report in reports {
        let name = report.relative.to_string_lossy().into_owned();
        assert_ne!(
            report.status,
            Status::Error,
            "{name}: {:?}",
            report.diagnostics
        );
        let snapshot = serde_json::json!({
            "status": report.status,
            "canonical": report.outputs.get(&Target::Eql),
            "ir": report.query,
        });
        insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => true}, {
            insta::assert_yaml_snapshot!(format!("ir__{name}"), snapshot);
        });
    }
}

/// Whatever compiles, its canonical form compiles too: printing never nests deeper than the
/// source, so it never crosses the parser's depth limit.
#[test]
fn canonical_form_stays_within_the_depth_limit() {
    for n in 1..=40 {
        let text = format!(
            "process where {}a == 1{}",
            "a or b and (".repeat(n),
            ")".repeat(n)
        );
        let Ok(query) = compile_query(&text) else {
            continue;
        };
        let printed = ir::print::query(&query);
        let again = compile_query(&printed)
            .unwrap_or_else(|d| panic!("depth {n}: canonical form refused: {}", d.message));
        assert_eq!(again, query, "depth {n}");
    }
}
