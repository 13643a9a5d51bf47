//! Rule documents in every format read into `Rule`: snapshots of the sample documents in
//! `rules/`, and a sweep over the real corpus in `../shared` when it is present.

use std::path::{Path, PathBuf};

use eqlc::document::{
    detect_format, read_document, DocumentFormat, Loaded, Provenance, Rule, RuleQuery,
};
use eqlc::source::LineIndex;
use serde::Serialize;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_rule(path: &Path) -> (String, Rule) {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    match read_document(&text, &name, Provenance::Discovered) {
        Ok(Loaded::Rule(rule)) => (text, *rule),
        Ok(Loaded::NotARule { reason }) => panic!("{}: not a rule: {reason}", path.display()),
        Err(err) => panic!("{}: {err} at {:?}", path.display(), err.span),
    }
}

/// `line:column` of the query's first byte in its document.
fn query_position(text: &str, query: &RuleQuery) -> String {
    let at = LineIndex::new(text).line_col(text, query.map.to_document(0));
    format!("{}:{}", at.line, at.column)
}

/// Checks that query bytes map back onto the same bytes of a verbatim (unescaped) document,
/// at a sample of character positions.
fn assert_round_trip(path: &Path, text: &str, query: &RuleQuery) {
    let positions: Vec<(usize, char)> = query.text.char_indices().collect();
    let step = (positions.len() / 64).max(1);
    for &(i, c) in positions.iter().step_by(step).chain(positions.last()) {
        let at = query.map.to_document(i);
        assert!(
            text.get(at..).is_some_and(|rest| rest.starts_with(c)),
            "{}: query offset {i} ({c:?}) maps to document offset {at}",
            path.display()
        );
    }
}

#[derive(Serialize)]
struct Snapshot<'a> {
    format: Option<DocumentFormat>,
    is_eql: bool,
    /// Where the query starts in the original document (`line:column`).
    query_line: Option<String>,
    rule: &'a Rule,
}

#[test]
fn sample_documents_snapshot() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(manifest_dir().join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    assert!(paths.len() >= 16, "rules/ holds {} files", paths.len());
    for path in paths {
        let (text, rule) = read_rule(&path);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(query) = &rule.query {
            assert_round_trip(&path, &text, query);
        }
        let snapshot = Snapshot {
            format: detect_format(&text, &name),
            is_eql: rule.is_eql(),
            query_line: rule.query.as_ref().map(|q| query_position(&text, q)),
            rule: &rule,
        };
        insta::with_settings!({
            snapshot_path => "../snapshots",
            prepend_module_to_snapshot => true,
            omit_expression => true,
        }, {
            insta::assert_yaml_snapshot!(name, snapshot);
        });
    }
}

/// `../shared/corpus`, or `None` (with a note) when this clone does not have it.
fn corpus() -> Option<PathBuf> {
    let dir = manifest_dir().join("../shared/corpus");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("note: {} is absent; corpus test skipped", dir.display());
        None
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_detection_rules_read() {
    let Some(corpus) = corpus() else { return };
    let files = files_under(&corpus.join("detection-rules"));
    assert_eq!(files.len(), 1557);
    let mut eql = 0;
    for path in &files {
        let (text, rule) = read_rule(path);
        assert!(rule.rule_type.is_some(), "{}: no rule type", path.display());
        if rule.is_eql() {
            eql += 1;
            let query = rule.query.as_ref().unwrap();
            assert!(!query.text.trim().is_empty(), "{}", path.display());
            assert_round_trip(path, &text, query);
        } else {
            assert_ne!(rule.rule_type.as_deref(), Some("eql"), "{}", path.display());
        }
    }
    assert_eq!(eql, 754);
}

#[test]
fn corpus_docs_pages_read() {
    let Some(corpus) = corpus() else { return };
    let files = files_under(&corpus.join("docs-pages"));
    assert!(!files.is_empty());
    for path in &files {
        let (text, rule) = read_rule(path);
        let not_eql = path.parent().unwrap().ends_with("not-eql");
        assert_eq!(rule.is_eql(), !not_eql, "{}", path.display());
        assert!(rule.rule_type.is_some(), "{}: no rule type", path.display());
        assert!(rule.name.is_some(), "{}: no title", path.display());
        assert!(
            rule.rule_id.is_none(),
            "{}: pages have no rule id",
            path.display()
        );
        if let Some(query) = &rule.query {
            assert_round_trip(path, &text, query);
        }
        if !not_eql {
            let query = rule.query.as_ref().unwrap();
            assert!(!query.text.trim().is_empty(), "{}", path.display());
            assert!(!rule.threat.is_empty(), "{}: no MITRE", path.display());
        }
    }
}

#[test]
fn non_rule_documents_are_not_rules() {
    let readme = "# A project\n\nSome prose.\n";
    assert!(matches!(
        read_document(readme, "README.md", Provenance::Discovered),
        Ok(Loaded::NotARule { .. })
    ));
    assert!(matches!(
        read_document(
            "[package]\nname = \"x\"\n",
            "Cargo.toml",
            Provenance::Discovered
        ),
        Ok(Loaded::NotARule { .. })
    ));
    // Named by the user, unrecognised text is a bare query.
    match read_document("process where true", "", Provenance::Explicit) {
        Ok(Loaded::Rule(rule)) => assert_eq!(rule.query.unwrap().text, "process where true"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn toml_syntax_error_points_into_the_file() {
    let text = "[rule]\ntype = \"eql\"\nquery = '''\nprocess where true\n";
    let err = read_document(text, "broken.toml", Provenance::Explicit).unwrap_err();
    let span = err.span.expect("span");
    assert!(span.start <= text.len(), "{span:?}");
}
