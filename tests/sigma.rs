//! The Sigma target: rules of `rules/` (snapshots, checked against the Sigma JSON schemas),
//! escaping, case handling, correlations, and refusals that name the construct.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use eqlc::backend::sigma::{self, CasePolicy, FieldMap, SigmaOptions};
use eqlc::document::bare_eql;
use eqlc::driver::{self, compile_query, InputSpec, Options, Status, Target};
use serde_json::Value as Json;

struct Schemas {
    detection: jsonschema::Validator,
    correlation: jsonschema::Validator,
}

/// The Sigma specification's JSON schemas (v2.1), compiled once.
fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let load = |name: &str| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/schemas")
                .join(format!("sigma-{name}-rule.schema.json"));
            let schema: Json =
                serde_json::from_str(&std::fs::read_to_string(path).expect("schema file"))
                    .expect("schema JSON");
            jsonschema::options()
                .should_validate_formats(true)
                .build(&schema)
                .expect("schema compiles")
        };
        Schemas {
            detection: load("detection"),
            correlation: load("correlation"),
        }
    })
}

/// Every document of a (possibly multi-document) Sigma YAML file, as JSON.
fn documents(yaml: &str) -> Vec<Json> {
    yaml.split("\n---\n")
        .map(|doc| yaml_serde::from_str::<Json>(doc).expect("valid YAML"))
        .collect()
}

fn schema_problems(name: &str, yaml: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for doc in documents(yaml) {
        let validator = if doc.get("correlation").is_some() {
            &schemas().correlation
        } else {
            &schemas().detection
        };
        for error in validator.iter_errors(&doc) {
            problems.push(format!("{name} at {}: {error}", error.instance_path()));
        }
    }
    problems
}

fn convert(eql: &str, policy: CasePolicy) -> Result<String, String> {
    let query = compile_query(eql).unwrap_or_else(|d| panic!("{eql}: {}", d.message));
    let options = SigmaOptions {
        field_map: &FieldMap::ecs(),
        case_policy: policy,
    };
    sigma::convert(&bare_eql(eql), &query, &options).map_err(|e| e.construct)
}

/// The `detection:` of a single rule.
fn detection(eql: &str, policy: CasePolicy) -> Json {
    let yaml = convert(eql, policy).unwrap_or_else(|e| panic!("{eql}: {e}"));
    assert_eq!(schema_problems(eql, &yaml), Vec::<String>::new());
    documents(&yaml)[0]["detection"].clone()
}

#[test]
fn rules_directory_sigma_snapshots_and_schemas() {
    let reports = driver::run_batch_with(
        &[InputSpec::Path(PathBuf::from("rules"))],
        &[Target::Sigma],
        true,
        &Options::default(),
    );
    let mut converted = 0;
    for report in &reports {
        let name = report.relative.to_string_lossy().into_owned();
        let Some(yaml) = report.outputs.get(&Target::Sigma) else {
            continue;
        };
        assert_eq!(report.status, Status::Ok, "{name}");
        converted += 1;
        assert_eq!(schema_problems(&name, yaml), Vec::<String>::new());
        insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => true}, {
            insta::assert_snapshot!(format!("rule__{name}"), yaml);
        });
    }
    assert!(
        converted >= 10,
        "rules/ has 10 rules Sigma can express, got {converted}"
    );
}

#[test]
fn literal_wildcards_and_backslashes_stay_literal() {
    // A backslash the modifier's wildcard will follow is doubled in Sigma.
    let d = detection(r#"file where file.name : "a\\*""#, CasePolicy::Regex);
    assert_eq!(d["selection"]["file.name|startswith"], r"a\\");
    // `?` stays a one-character wildcard.
    let d = detection(r#"file where file.name : "a?c.*x""#, CasePolicy::Regex);
    assert_eq!(d["selection"]["file.name"], "a?c.*x");
    let d = detection(r#"file where file.name == "x*y""#, CasePolicy::Cased);
    assert_eq!(d["selection"]["file.name|cased"], r"x\*y");
    let d = detection(
        r#"file where file.path : "C:\\Windows\\*""#,
        CasePolicy::Regex,
    );
    assert_eq!(d["selection"]["file.path|startswith"], r"C:\Windows\\");
}

#[test]
fn case_sensitive_comparisons_say_so() {
    // Regex policy: anchored, escaped regular expressions.
    let d = detection(
        r#"process where process.name == "Cmd.exe""#,
        CasePolicy::Regex,
    );
    assert_eq!(d["selection"]["process.name|re"], r"^Cmd\.exe$");
    // The event category is part of the detection (pipelines ignore the logsource).
    assert_eq!(d["selection"]["event.category"], "process");
    // Cased policy: the `cased` modifier.
    let d = detection(
        r#"process where process.name == "Cmd.exe""#,
        CasePolicy::Cased,
    );
    assert_eq!(d["selection"]["process.name|cased"], "Cmd.exe");
    // Case cannot matter: digits, or an ECS field whose values are lowercase by definition.
    let d = detection(
        r#"process where event.code == "4688" and event.type == "start""#,
        CasePolicy::Regex,
    );
    assert_eq!(d["selection"]["event.code"], "4688");
    assert_eq!(d["selection"]["event.type"], "start");
    // `:` is Sigma's default.
    let d = detection(
        r#"process where process.name : "cmd.exe""#,
        CasePolicy::Regex,
    );
    assert_eq!(d["selection"]["process.name"], "cmd.exe");
}

#[test]
fn slashes_and_quotes_in_case_sensitive_values_are_hex_escaped() {
    // pySigma would write `/` as `\/` into an EQL string (which EQL rejects) and `"` bare.
    let d = detection(
        r#"process where process.executable like "/bin/S*\"""#,
        CasePolicy::Regex,
    );
    assert_eq!(
        d["selection"]["process.executable|re"],
        r"^\x2Fbin\x2FS[\s\S]*\x22$"
    );
}

#[test]
fn conditions_keep_precedence_and_negations() {
    let d = detection(
        r#"process where process.name : "a" and (process.pid > 4 or process.args : "x" and user.id : "y") and not user.name : "root""#,
        CasePolicy::Regex,
    );
    assert_eq!(
        d["condition"],
        "selection_1 and (selection_2 or selection_3) and not filter_1"
    );
    assert_eq!(d["selection_2"]["process.pid|gt"], 4);
    // An `or` of plain items is one selection: a list of maps.
    let d = detection(
        r#"any where process.pid > 4 or process.args : "x""#,
        CasePolicy::Regex,
    );
    assert_eq!(d["condition"], "selection");
    assert_eq!(d["selection"][1]["process.args"], "x");
    // Numeric equality is a closed range (renders as valid EQL through pySigma).
    let d = detection("process where process.pid == 4", CasePolicy::Regex);
    assert_eq!(d["selection"]["process.pid|gte"], 4);
    assert_eq!(d["selection"]["process.pid|lte"], 4);
}

#[test]
fn sequences_become_temporal_ordered_correlations() {
    let yaml = convert(
        r#"sequence by host.id with maxspan=5m [process where process.name : "a"] by process.pid [network where true] by source.port"#,
        CasePolicy::Regex,
    )
    .expect("converts");
    assert_eq!(schema_problems("sequence", &yaml), Vec::<String>::new());
    let docs = documents(&yaml);
    assert_eq!(docs.len(), 3, "correlation + 2 stages");
    let correlation = &docs[0]["correlation"];
    assert_eq!(correlation["type"], "temporal_ordered");
    assert_eq!(correlation["timespan"], "5m");
    assert_eq!(
        correlation["group-by"],
        serde_json::json!(["host.id", "key_2"])
    );
    let stage_names: Vec<&str> = docs[1..]
        .iter()
        .map(|d| d["name"].as_str().expect("name"))
        .collect();
    assert_eq!(correlation["rules"], serde_json::json!(stage_names));
    assert_eq!(
        correlation["aliases"]["key_2"][stage_names[0]],
        "process.pid"
    );
    assert_eq!(
        correlation["aliases"]["key_2"][stage_names[1]],
        "source.port"
    );
    // `[network where true]` still selects its category.
    assert_eq!(
        docs[2]["detection"]["selection"]["event.category"],
        "network"
    );
}

#[test]
fn what_sigma_cannot_express_is_named() {
    for (eql, needle) in [
        ("process where length(process.name) > 3", "`length()`"),
        (
            "sequence by host.id with maxspan=1m [process where true] [file where true] until [process where true]",
            "`until`",
        ),
        (
            "sequence by host.id with maxspan=1m [process where true] ![file where true]",
            "missing-event stage",
        ),
        ("sequence by host.id with maxspan=1500ms [process where true] [file where true]", "whole seconds"),
        ("process where true | head 3", "`| head`"),
        (r#"process where process.name >= "a""#, "orders numbers only"),
        ("process where ?process.pid == ?process.parent.pid", "two values"),
    ] {
        let err = convert(eql, CasePolicy::Regex).expect_err(eql);
        assert!(err.contains(needle), "{eql}: {err}");
    }
}

#[test]
fn ids_are_stable_uuids() {
    let a = convert(r#"process where process.name : "a""#, CasePolicy::Regex).expect("a");
    let b = convert(r#"process where process.name : "a""#, CasePolicy::Regex).expect("b");
    assert_eq!(a, b);
    let id = documents(&a)[0]["id"].as_str().expect("id").to_string();
    assert_eq!(id.len(), 36);
}

/// Every Sigma rule eqlc writes for the shared corpus fits the Sigma JSON schemas.
#[test]
fn corpus_sigma_fits_the_schemas() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if !corpus.exists() {
        eprintln!("skipped: ../shared/corpus is not here");
        return;
    }
    let reports = driver::run_batch_with(
        &[InputSpec::Path(corpus)],
        &[Target::Sigma],
        true,
        &Options::default(),
    );
    let mut problems = Vec::new();
    let mut converted = 0;
    for report in &reports {
        if let Some(yaml) = report.outputs.get(&Target::Sigma) {
            converted += 1;
            problems.extend(schema_problems(&report.path, yaml));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(converted >= 730, "{converted} rules converted");
}
