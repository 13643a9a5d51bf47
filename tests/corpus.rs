//! Every real rule document in `../shared/corpus` (skipped when `../shared` is absent): EQL rules
//! compile and their canonical EQL is a fixed point; every other rule is skipped, none fails.

use std::path::PathBuf;

use eqlc::driver::{self, compile_query, InputSpec, Status, Target};
use eqlc::ir::print;

fn corpus() -> Option<PathBuf> {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus"));
    if path.is_dir() {
        Some(path)
    } else {
        eprintln!("../shared/corpus is absent: corpus test skipped");
        None
    }
}

#[test]
fn every_corpus_document_is_ok_or_skipped_and_canonical_eql_is_idempotent() {
    let Some(corpus) = corpus() else { return };
    let reports = driver::run_batch(&[InputSpec::Path(corpus)], &[Target::Eql], true);
    let failures: Vec<String> = reports
        .iter()
        .filter(|r| r.status == Status::Error)
        .map(|r| {
            format!(
                "{}: {:?}",
                r.path,
                r.diagnostics.first().map(|d| d.one_line())
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );

    let eql_rules = reports
        .iter()
        .filter(|r| r.path.contains("detection-rules") && r.status == Status::Ok)
        .count();
    assert_eq!(eql_rules, 754, "every EQL rule of detection-rules converts");
    let skipped_rules = reports
        .iter()
        .filter(|r| r.path.contains("detection-rules") && r.status == Status::Skipped)
        .count();
    assert_eq!(skipped_rules, 1557 - 754, "every other rule is skipped");

    for r in reports.iter().filter(|r| r.path.contains("docs-pages")) {
        let expected = if r.path.contains("not-eql") {
            Status::Skipped
        } else {
            Status::Ok
        };
        assert_eq!(r.status, expected, "{}", r.path);
    }

    for r in reports.iter().filter(|r| r.status == Status::Ok) {
        let printed = r.outputs.get(&Target::Eql).expect("canonical EQL");
        let again = compile_query(printed).unwrap_or_else(|d| panic!("{}: {}", r.path, d.message));
        assert_eq!(
            Some(&again),
            r.query.as_ref(),
            "{}: re-parse differs",
            r.path
        );
        assert_eq!(
            &print::query(&again),
            printed,
            "{}: printing is not idempotent",
            r.path
        );
    }
}
