//! The case count the property tests share.

use proptest::test_runner::Config as ProptestConfig;

/// Cases per property: `EQLC_FUZZ_CASES`, or `default` for an ordinary `cargo test`.
pub fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("EQLC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        // Failures found here become named regression tests, not files next to the tests.
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases)
    }
}
