//! Helpers shared by the test files that read `../shared/conformance/differential`.

use std::path::{Path, PathBuf};

/// A differential fixture whose `SUMMARY.tsv` status is `ok`.
pub struct Fixture {
    pub rule_id: String,
    /// The fixture's directory (`query.eql`, `events.ndjson`, `expected.txt`).
    pub dir: PathBuf,
}

/// The differential fixtures with status `ok` whose rule kind is one of `kinds` (all kinds
/// when empty), or `None` (said on stderr) when `../shared` is not here.
pub fn differential_fixtures(kinds: &[&str]) -> Option<Vec<Fixture>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/differential");
    let Ok(summary) = std::fs::read_to_string(dir.join("SUMMARY.tsv")) else {
        eprintln!("skipped: ../shared/conformance/differential is not here");
        return None;
    };
    let fixtures = summary
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let [rule_id, "ok", kind, ..] = cols.as_slice() else {
                return None;
            };
            (kinds.is_empty() || kinds.contains(kind)).then(|| Fixture {
                rule_id: rule_id.to_string(),
                dir: dir.join(rule_id),
            })
        })
        .collect();
    Some(fixtures)
}

/// A fixture's expected matches, one per non-empty line of `expected.txt`.
pub fn expected_lines(fixture: &Path) -> Vec<String> {
    std::fs::read_to_string(fixture.join("expected.txt"))
        .expect("expected")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}
