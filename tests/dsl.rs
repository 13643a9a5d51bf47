//! The Query DSL target: artifacts of `rules/` (snapshots), validity against the official
//! Elasticsearch API schemas (here and over the whole corpus), exact escaping, type warnings
//! and refusals.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use eqlc::backend::dsl::{self, Lowerer};
use eqlc::document::bare_eql;
use eqlc::driver::{self, compile_query, InputSpec, Options, Status, Target};
use eqlc::ir::QueryBody;
use eqlc::schema::FieldTypes;
use serde_json::{json, Value as Json};

struct Validators {
    eql: jsonschema::Validator,
    search: jsonschema::Validator,
    query: jsonschema::Validator,
}

/// The strict schemas generated from elastic/elasticsearch-specification (see
/// `tests/schemas/SPEC_VERSION.txt`), compiled once.
fn validators() -> &'static Validators {
    static VALIDATORS: OnceLock<Validators> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        let load = |name: &str| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/schemas")
                .join(format!("{name}.strict.schema.json"));
            let text = std::fs::read_to_string(&path).expect("schema file");
            let schema: Json = serde_json::from_str(&text).expect("schema JSON");
            jsonschema::draft202012::new(&schema).expect("schema compiles")
        };
        Validators {
            eql: load("eql_search_body"),
            search: load("search_body"),
            query: load("query_dsl"),
        }
    })
}

/// Every schema violation of every body in one artifact, as readable lines.
fn violations(name: &str, artifact: &Json) -> Vec<String> {
    let v = validators();
    let mut bodies = vec![("eql_search".to_string(), &v.eql, &artifact["eql_search"])];
    if let Some(search) = artifact.get("search") {
        bodies.push(("search".into(), &v.search, search));
    }
    if let Some(stages) = artifact["stages"].as_array() {
        for (i, stage) in stages.iter().enumerate() {
            bodies.push((format!("stages[{i}]"), &v.query, &stage["query"]));
        }
    }
    if let Some(until) = artifact.get("until").filter(|u| !u.is_null()) {
        bodies.push(("until".into(), &v.query, &until["query"]));
    }
    let mut problems = Vec::new();
    for (where_, validator, body) in bodies {
        for error in validator.iter_errors(body) {
            problems.push(format!(
                "{name} {where_} at {}: {error}",
                error.instance_path()
            ));
        }
    }
    problems
}

fn convert(paths: &[PathBuf]) -> Vec<driver::RuleReport> {
    let inputs: Vec<InputSpec> = paths.iter().cloned().map(InputSpec::Path).collect();
    driver::run_batch_with(&inputs, &[Target::Dsl], true, &Options::default())
}

/// `rules/`, relative (tests run in the crate's directory) so artifact paths are the same on
/// every machine.
fn rules_dir() -> PathBuf {
    PathBuf::from("rules")
}

/// The DSL artifact of every document in `rules/`, reviewed and kept as snapshots.
#[test]
fn rules_directory_dsl_snapshots_and_schemas() {
    let reports = convert(&[rules_dir()]);
    let mut converted = 0;
    for report in &reports {
        let name = report.relative.to_string_lossy().into_owned();
        assert_ne!(
            report.status,
            Status::Error,
            "{name}: {:?}",
            report.diagnostics
        );
        let Some(text) = report.outputs.get(&Target::Dsl) else {
            continue;
        };
        converted += 1;
        let artifact: Json = serde_json::from_str(text).expect("artifact JSON");
        assert_eq!(violations(&name, &artifact), Vec::<String>::new());
        insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => true}, {
            insta::assert_json_snapshot!(format!("artifact__{name}"), artifact);
        });
    }
    assert!(
        converted >= 14,
        "rules/ holds 14 EQL documents, got {converted}"
    );
}

/// All EQL rules of the shared corpus convert and every body they produce is valid.
#[test]
fn corpus_converts_and_validates() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if !corpus.exists() {
        eprintln!("skipped: ../shared/corpus is not here");
        return;
    }
    let reports = convert(&[corpus]);
    let mut problems = Vec::new();
    let mut converted = 0;
    for report in &reports {
        if report.status == Status::Error {
            problems.push(format!("{}: {:?}", report.path, report.diagnostics));
        }
        if let Some(text) = report.outputs.get(&Target::Dsl) {
            converted += 1;
            let artifact: Json = serde_json::from_str(text).expect("artifact JSON");
            problems.extend(violations(&report.path, &artifact));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(
        converted, 764,
        "754 detection-rules EQL rules and 10 EQL pages"
    );
}

/// The schemas are strict enough to catch a malformed body, so passing them means something.
#[test]
fn schemas_reject_malformed_bodies() {
    let v = validators();
    assert!(v.query.is_valid(&json!({"term": {"f": {"value": "x"}}})));
    assert!(!v
        .query
        .is_valid(&json!({"term": {"f": {"value": "x", "wildcard": "y"}}})));
    assert!(!v.query.is_valid(&json!({"bool": {"must": {"nope": {}}}})));
    assert!(!v
        .search
        .is_valid(&json!({"query": {"match_all": {}}, "size": "ten"})));
    assert!(
        !v.eql.is_valid(&json!({"size": 10})),
        "an EQL body needs its query"
    );
}

fn event_dsl(eql: &str, types: &FieldTypes) -> (Json, Vec<String>) {
    let query = compile_query(eql).unwrap_or_else(|d| panic!("{eql}: {}", d.message));
    let QueryBody::Event(event) = &query.body else {
        panic!("{eql}: not an event query");
    };
    let mut lowerer = Lowerer::new(types, "event.category");
    let lowered = lowerer
        .condition(&event.condition)
        .unwrap_or_else(|u| panic!("{eql}: {}", u.message));
    let warnings = lowerer.warnings.iter().map(|w| w.message.clone()).collect();
    (lowered.to_json(), warnings)
}

fn ecs_dsl(eql: &str) -> Json {
    let (dsl, warnings) = event_dsl(eql, FieldTypes::ecs());
    assert!(warnings.is_empty(), "{eql}: {warnings:?}");
    dsl
}

#[test]
fn literal_wildcard_characters_stay_literal() {
    // `==` compares verbatim: a `term`, never a `wildcard`.
    assert_eq!(
        ecs_dsl(r#"any where file.name == "a*b?.exe""#),
        json!({"term": {"file.name": {"value": "a*b?.exe"}}})
    );
    // A `*` inside a function's argument is a character, escaped in the wildcard query.
    assert_eq!(
        ecs_dsl(r#"any where endsWith(file.path, "\\*?.exe")"#),
        json!({"wildcard": {"file.path": {"wildcard": r"*\\\*\?.exe"}}})
    );
    assert_eq!(
        ecs_dsl(r#"any where stringContains~(file.path, "a*")"#),
        json!({"wildcard": {"file.path": {"wildcard": r"*a\**", "case_insensitive": true}}})
    );
    // A prefix query has no wildcards: the value goes through as it is.
    assert_eq!(
        ecs_dsl(r#"any where startsWith(file.path, "C:\\*")"#),
        json!({"prefix": {"file.path": {"value": r"C:\*"}}})
    );
    // A regex's literal `*` and Lucene-only operators stay literal.
    assert_eq!(
        ecs_dsl(r#"any where file.name regex "a\\*.*@x""#),
        json!({"regexp": {"file.name": {"value": r"a\*.*\@x", "flags": "ALL"}}})
    );
}

#[test]
fn ecs_types_choose_the_query() {
    // `ip` fields take CIDRs; `wildcard` fields take `case_insensitive`.
    assert_eq!(
        ecs_dsl(r#"network where cidrMatch(source.ip, "10.0.0.0/8")"#),
        json!({"terms": {"source.ip": ["10.0.0.0/8"]}})
    );
    assert_eq!(
        ecs_dsl(r#"process where process.command_line : "*whoami*""#),
        json!({"wildcard": {"process.command_line": {"wildcard": "*whoami*", "case_insensitive": true}}})
    );
    // Case has no meaning for numbers: `in~` on a long is plain `terms`.
    assert_eq!(
        ecs_dsl("process where process.pid in~ (4, 8)"),
        json!({"terms": {"process.pid": [4, 8]}})
    );
    // `!= null` is `exists`; `== null` its negation.
    assert_eq!(
        ecs_dsl("any where process.name != null and user.name == null"),
        json!({"bool": {
            "must": [{"exists": {"field": "process.name"}}],
            "must_not": [{"exists": {"field": "user.name"}}]
        }})
    );
}

#[test]
fn comparisons_a_type_cannot_support_warn() {
    let ecs = FieldTypes::ecs();
    let (_, warnings) = event_dsl(r#"any where cidrMatch(host.name, "10.0.0.0/8")"#, ecs);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("needs an `ip` field"), "{warnings:?}");
    let (_, warnings) = event_dsl(r#"any where process.pid : "4*""#, ecs);
    assert!(warnings[0].contains("needs a string field"), "{warnings:?}");
    let (_, warnings) = event_dsl(r#"any where source.ip == "not an address""#, ecs);
    assert!(
        warnings[0].contains("cannot hold the string"),
        "{warnings:?}"
    );
    let (dsl, warnings) = event_dsl(r#"any where message : "error""#, ecs);
    assert!(warnings[0].contains("no keyword sub-field"), "{warnings:?}");
    assert_eq!(
        dsl,
        json!({"term": {"message": {"value": "error", "case_insensitive": true}}})
    );
    // With a user's mapping, a field it lacks does not exist in the index (unless `?field`).
    let mapping = FieldTypes::from_mapping_json(r#"{"properties": {"a": {"type": "keyword"}}}"#)
        .expect("mapping");
    let (_, warnings) = event_dsl(r#"any where b == "x" and ?c == "y""#, &mapping);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("`b` is not in the mapping"),
        "{warnings:?}"
    );
}

#[test]
fn what_cannot_be_lowered_is_refused_by_name() {
    for (eql, needle) in [
        (
            r#"any where substring(process.name, 1) regex "a.*""#,
            "`regex` on a computed value",
        ),
        (r#"any where process.name regex "(?=a)b""#, "look-ahead"),
        (
            r#"any where string(cidrMatch(source.ip, "10.0.0.0/8")) : "true""#,
            "cidrMatch",
        ),
    ] {
        let query = compile_query(eql).expect("compiles");
        let err = dsl::artifact(&bare_eql(eql), &query, FieldTypes::ecs())
            .expect_err("cannot be lowered");
        assert!(err.message.contains(needle), "{eql}: {}", err.message);
    }
}

#[test]
fn rule_metadata_shapes_the_requests() {
    let toml = r#"
[rule]
rule_id = "r1"
name = "n"
type = "eql"
language = "eql"
index = ["logs-*"]
from = "now-9m"
max_signals = 7
timestamp_override = "event.ingested"
tiebreaker_field = "event.sequence"
query = 'sequence by host.id with maxspan=30s [process where true] [network where true] until [process where event.type == "end"]'
"#;
    let dir = std::env::temp_dir().join(format!("eqlc-dsl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("rule.toml");
    std::fs::write(&path, toml).expect("write");
    let reports = convert(std::slice::from_ref(&path));
    std::fs::remove_dir_all(&dir).ok();
    let artifact: Json =
        serde_json::from_str(reports[0].outputs.get(&Target::Dsl).expect("converted"))
            .expect("JSON");
    assert_eq!(violations("rule.toml", &artifact), Vec::<String>::new());
    assert_eq!(artifact["rule_id"], "r1");
    assert_eq!(artifact["index"], json!(["logs-*"]));
    assert_eq!(artifact["kind"], "sequence");
    assert!(
        artifact.get("search").is_none(),
        "no _search body for a sequence"
    );
    let eql = &artifact["eql_search"];
    assert_eq!(eql["size"], 7);
    assert_eq!(eql["tiebreaker_field"], "event.sequence");
    // The override is searched first, `@timestamp` only where it is missing.
    let range = &eql["filter"]["bool"]["filter"][0]["bool"]["should"];
    assert_eq!(range[0]["range"]["event.ingested"]["gte"], "now-9m");
    assert_eq!(
        range[1]["bool"]["filter"][0]["range"]["@timestamp"]["lte"],
        "now"
    );
    assert_eq!(artifact["maxspan"], "30s");
    assert_eq!(artifact["stages"][0]["keys"], json!(["host.id"]));
    assert_eq!(
        artifact["stages"][1]["query"],
        json!({"term": {"event.category": {"value": "network"}}})
    );
    assert_eq!(artifact["until"]["keys"], json!(["host.id"]));
    assert_eq!(
        artifact["until"]["query"],
        json!({"bool": {"must": [
            {"term": {"event.category": {"value": "process"}}},
            {"term": {"event.type": {"value": "end"}}}
        ]}})
    );
}

fn ecs_artifact(eql: &str) -> Result<Json, String> {
    let query = compile_query(eql).unwrap_or_else(|d| panic!("{eql}: {}", d.message));
    dsl::artifact(&bare_eql(eql), &query, FieldTypes::ecs())
        .map(|a| a.json)
        .map_err(|u| u.message)
}

/// Where Elasticsearch scripts a negation, so a missing field stays null and does not match,
/// eqlc does too; `must_not` is for term-level queries only.
#[test]
fn negated_scripts_are_scripts_of_the_negation() {
    for eql in [
        r#"process where startsWith(substring(process.name, 1), "a") == false"#,
        "process where length(process.name) != 3",
        "process where not (length(process.name) > 3)",
    ] {
        let dsl = ecs_dsl(eql);
        assert!(dsl.get("script").is_some(), "{eql}: {dsl}");
    }
    // A function with a query of its own keeps `must_not`, as Elasticsearch does.
    assert_eq!(
        ecs_dsl(r#"process where startsWith(process.name, "a") == false"#),
        json!({"bool": {"must_not": [{"prefix": {"process.name": {"value": "a"}}}]}})
    );
}

#[test]
fn comparisons_with_null_never_hold() {
    assert_eq!(
        ecs_dsl("process where process.pid < null"),
        json!({"match_none": {}})
    );
    // Nor does their negation: `not null` is null.
    let dsl = ecs_dsl("process where not (process.pid < null)");
    assert!(dsl.get("script").is_some(), "{dsl}");
}

#[test]
fn head_and_tail_together_are_refused() {
    let err = ecs_artifact("process where true | head 5 | tail 2").expect_err("refused");
    assert!(err.contains("`head` and `tail`"), "{err}");
    let ok = ecs_artifact("process where true | head 5 | head 2").expect("two heads");
    assert_eq!(ok["search"]["size"], 2);
}

#[test]
fn flattened_fields_fold_case_like_keywords() {
    assert_eq!(
        ecs_dsl(r#"library where dll.pe.imports : "KERNEL32*""#),
        json!({"wildcard": {"dll.pe.imports": {"wildcard": "KERNEL32*", "case_insensitive": true}}})
    );
}

#[test]
fn mapping_details_are_respected() {
    let mapping = FieldTypes::from_mapping_json(
        r#"{"properties": {
            "cat": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
            "hits": {"type": "nested", "properties": {"name": {"type": "keyword"}}},
            "pid": {"type": "long"}
        }}"#,
    )
    .expect("mapping");
    // The category field is queried like any other: a text field through its keyword.
    let query = compile_query("process where pid == 1").expect("compiles");
    let QueryBody::Event(event) = &query.body else {
        panic!("event query");
    };
    let lowered = Lowerer::new(&mapping, "cat").event(event).expect("lowers");
    assert_eq!(
        lowered.to_json()["bool"]["must"][0],
        json!({"term": {"cat.keyword": {"value": "process"}}})
    );
    let (_, warnings) = event_dsl(r#"any where hits.name == "x""#, &mapping);
    assert!(
        warnings[0].contains("inside a `nested` object"),
        "{warnings:?}"
    );
}

#[test]
fn one_warning_per_field_and_problem_however_long_the_list() {
    let values: Vec<String> = (0..10_000).map(|i| format!("\"a{i}\"")).collect();
    let eql = format!("process where process.pid in ({})", values.join(", "));
    let (_, warnings) = event_dsl(&eql, FieldTypes::ecs());
    assert_eq!(
        warnings.len(),
        1,
        "{:?}",
        &warnings[..warnings.len().min(3)]
    );
}

#[test]
fn scripts_read_doc_values_of_checked_fields() {
    let (dsl, warnings) = event_dsl("any where length(message) > 5", FieldTypes::ecs());
    assert!(dsl.get("script").is_some(), "{dsl}");
    assert!(warnings[0].contains("no keyword sub-field"), "{warnings:?}");
    // A script reading too many fields is refused rather than left to time out.
    let fields: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
    let eql = format!("any where concat({}) == \"x\"", fields.join(", "));
    let err = ecs_artifact(&eql).expect_err("too many fields");
    assert!(err.contains("20 fields"), "{err}");
}

/// Inside `and`, a negated script or null comparison stays a script (in `must`), so an event
/// missing the field does not match: `x and not null` is null.
#[test]
fn negations_inside_and_keep_their_null_semantics() {
    for eql in [
        r#"any where process.name == "x" and not endsWith(string(source.ip), string(host.ip))"#,
        r#"any where process.name == "x" and not (length(process.parent.name) > 3)"#,
        r#"any where process.name == "x" and not (process.pid > null)"#,
    ] {
        let dsl = ecs_dsl(eql);
        let must = dsl["bool"]["must"].as_array().expect("must");
        assert!(
            must.iter().any(|q| q.get("script").is_some()),
            "{eql}: {dsl}"
        );
        assert!(dsl["bool"].get("must_not").is_none(), "{eql}: {dsl}");
    }
    // A plain negation still merges into the same bool.
    assert_eq!(
        ecs_dsl(r#"any where process.name == "x" and not user.name == "y""#),
        json!({"bool": {
            "must": [{"term": {"process.name": {"value": "x"}}}],
            "must_not": [{"term": {"user.name": {"value": "y"}}}]
        }})
    );
}

/// With a user's mapping, a `?field` it lacks is null, as Elasticsearch resolves it: tests of
/// it never hold, nor do their negations; `?field == null` holds.
#[test]
fn absent_optional_fields_are_null() {
    let mapping = FieldTypes::from_mapping_json(r#"{"properties": {"a": {"type": "keyword"}}}"#)
        .expect("mapping");
    let (dsl, warnings) = event_dsl(r#"any where ?gone == "x" or a == "y""#, &mapping);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        dsl,
        json!({"bool": {"should": [{"match_none": {}}, {"term": {"a": {"value": "y"}}}]}})
    );
    let (dsl, _) = event_dsl(r#"any where not (?gone == "x" or a == "y")"#, &mapping);
    assert!(dsl.get("script").is_some(), "{dsl}");
    let (dsl, _) = event_dsl("any where ?gone == null", &mapping);
    assert_eq!(
        dsl,
        json!({"bool": {"must_not": [{"exists": {"field": "gone"}}]}})
    );
}
