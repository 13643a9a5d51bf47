//! Conformance suites (Elasticsearch's EQL QA format) run by the native evaluator: the
//! project's own suites under `tests/suites/` and Elasticsearch's QA suite
//! (`../shared/conformance/es-qa`, 198 queries, sequences included; skipped when absent) must
//! pass entirely. Samples are not evaluated yet.

use std::path::Path;

use eqlc::eval::conformance::run_suite;

/// Every es-qa query.
const ES_QA_PASSING_AT_LEAST: usize = 198;

#[test]
fn own_suites_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suites");
    let mut suites = 0;
    for entry in std::fs::read_dir(&dir).expect("tests/suites") {
        let suite = entry.expect("entry").path().join("suite.toml");
        if !suite.exists() {
            continue;
        }
        suites += 1;
        let result = run_suite(&suite).expect("suite runs");
        let failures: Vec<String> = result
            .failed
            .iter()
            .map(|f| format!("{}: expected {}, got {:?}", f.name, f.expected, f.got))
            .collect();
        assert!(
            failures.is_empty(),
            "{}:\n{}",
            result.name,
            failures.join("\n")
        );
        assert!(!result.passed.is_empty());
    }
    assert!(suites >= 1);
}

#[test]
fn es_qa_suite() {
    let suite =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/es-qa/suite.toml");
    if !suite.exists() {
        eprintln!("skipped: ../shared/conformance/es-qa is not here");
        return;
    }
    let result = run_suite(&suite).expect("suite runs");
    let unexpected: Vec<String> = result
        .failed
        .iter()
        .map(|f| {
            format!(
                "{}: {}\n  expected {}\n  got {:?}",
                f.name, f.query, f.expected, f.got
            )
        })
        .collect();
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n"));
    assert!(
        result.passed.len() >= ES_QA_PASSING_AT_LEAST,
        "{} passed, fewer than {ES_QA_PASSING_AT_LEAST}",
        result.passed.len()
    );
}
