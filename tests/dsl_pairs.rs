//! The 35 EQL → Query DSL pairs of Elasticsearch's own translator tests
//! (`querytranslator_tests.txt`, excerpted in `../shared/reference/es-querytranslator-pairs.md`).
//!
//! Each test compiles the EQL, lowers it against the field types of Elasticsearch's test
//! mapping and compares the condition's DSL with what Elasticsearch produces. Two notational
//! differences are normalised on the expected side, each meaning the same query: eqlc leaves
//! out `"boost": 1.0` (the default), writes `range` bounds as `gt`/`lt` instead of the legacy
//! `from`/`to`/`include_lower`/`include_upper`, and enables every regexp operator with
//! `"flags": "ALL"` instead of `"flags_value": 255` (which the API specification lacks).

use eqlc::backend::dsl::{self, Lowerer};
use eqlc::document::bare_eql;
use eqlc::driver::compile_query;
use eqlc::ir::QueryBody;
use eqlc::schema::FieldTypes;
use serde_json::{json, Value as Json};

/// The field types of Elasticsearch's `mapping-default.json` that the pairs touch.
fn test_mapping() -> FieldTypes {
    FieldTypes::from_mapping_json(
        r#"{"properties": {
            "serial_event_id": {"type": "long"},
            "opcode": {"type": "long"},
            "exit_code": {"type": "long"},
            "process_name": {"type": "keyword"},
            "process_path": {"type": "keyword"},
            "user_name": {"type": "keyword"},
            "command_line": {"type": "keyword"},
            "bool": {"type": "boolean"},
            "source_address": {"type": "ip"},
            "hostname": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
            "file_name": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
            "event": {"properties": {"category": {"type": "keyword"}}}
        }}"#,
    )
    .expect("test mapping")
}

/// The DSL of `process where <condition>`'s condition alone (the category filter is
/// checked separately).
fn condition_dsl(condition: &str) -> Json {
    let query = compile_query(&format!("process where {condition}"))
        .unwrap_or_else(|d| panic!("{condition}: {}", d.message));
    let QueryBody::Event(event) = &query.body else {
        panic!("{condition}: not an event query");
    };
    let types = test_mapping();
    let mut lowerer = Lowerer::new(&types, "event.category");
    let lowered = lowerer
        .condition(&event.condition)
        .unwrap_or_else(|u| panic!("{condition}: {}", u.message));
    assert!(
        lowerer.warnings.is_empty(),
        "{condition}: {:?}",
        lowerer.warnings
    );
    lowered.to_json()
}

fn pair(condition: &str, expected: Json) {
    assert_eq!(condition_dsl(condition), expected, "{condition}");
}

#[test]
fn category_filter_is_a_case_sensitive_term_beside_the_condition() {
    let query = compile_query("process where serial_event_id == 1").expect("compiles");
    let QueryBody::Event(event) = &query.body else {
        panic!("not an event query");
    };
    let types = test_mapping();
    let lowered = Lowerer::new(&types, "event.category")
        .event(event)
        .expect("lowers");
    assert_eq!(
        lowered.to_json(),
        json!({"bool": {"must": [
            {"term": {"event.category": {"value": "process"}}},
            {"term": {"serial_event_id": {"value": 1}}}
        ]}})
    );
    // `any` has no category filter.
    let query = compile_query("any where serial_event_id == 1").expect("compiles");
    let QueryBody::Event(event) = &query.body else {
        panic!("not an event query");
    };
    let lowered = Lowerer::new(&types, "event.category")
        .event(event)
        .expect("lowers");
    assert_eq!(
        lowered.to_json(),
        json!({"term": {"serial_event_id": {"value": 1}}})
    );
}

#[test]
fn equality_and_ranges() {
    pair(
        "serial_event_id == 1",
        json!({"term": {"serial_event_id": {"value": 1}}}),
    );
    pair(
        "serial_event_id < 4",
        json!({"range": {"serial_event_id": {"lt": 4}}}),
    );
    // Constants fold before lowering, as in Elasticsearch.
    pair(
        r#"serial_event_id == number("0x32", 16)"#,
        json!({"term": {"serial_event_id": {"value": 50}}}),
    );
}

#[test]
fn colon_is_a_case_insensitive_term_or_wildcard() {
    pair(
        r#"process_name : "test""#,
        json!({"term": {"process_name": {"value": "test", "case_insensitive": true}}}),
    );
    pair(
        r#"process_name : "test*""#,
        json!({"wildcard": {"process_name": {"wildcard": "test*", "case_insensitive": true}}}),
    );
    pair(
        r#"process_name : ("test*", "best")"#,
        json!({"bool": {"should": [
            {"wildcard": {"process_name": {"wildcard": "test*", "case_insensitive": true}}},
            {"term": {"process_name": {"value": "best", "case_insensitive": true}}}
        ]}}),
    );
    // Backslashes are literal in EQL patterns and escaped in the wildcard query.
    pair(
        r#"process_path : "*\\red_ttp\\wininit.*" and opcode in (0,1,2,3)"#,
        json!({"bool": {"must": [
            {"wildcard": {"process_path": {"wildcard": r"*\\red_ttp\\wininit.*", "case_insensitive": true}}},
            {"terms": {"opcode": [0, 1, 2, 3]}}
        ]}}),
    );
}

#[test]
fn in_is_terms_and_in_insensitive_is_a_should_of_terms() {
    pair(
        r#"process_name in ("python.exe", "SMSS.exe", "explorer.exe")"#,
        json!({"terms": {"process_name": ["python.exe", "SMSS.exe", "explorer.exe"]}}),
    );
    pair(
        r#"process_name in~ ("test", "best")"#,
        json!({"bool": {"should": [
            {"term": {"process_name": {"value": "test", "case_insensitive": true}}},
            {"term": {"process_name": {"value": "best", "case_insensitive": true}}}
        ]}}),
    );
    // `in~` compares verbatim: `*` is no wildcard there.
    pair(
        r#"process_name in~ ("test*", "best")"#,
        json!({"bool": {"should": [
            {"term": {"process_name": {"value": "test*", "case_insensitive": true}}},
            {"term": {"process_name": {"value": "best", "case_insensitive": true}}}
        ]}}),
    );
}

#[test]
fn not_is_must_not() {
    pair(
        "not (exit_code > -1)",
        json!({"bool": {"must_not": [{"range": {"exit_code": {"gt": -1}}}]}}),
    );
    pair(
        r#"not (exit_code > 1 and user_name == "root")"#,
        json!({"bool": {"must_not": [{"bool": {"must": [
            {"range": {"exit_code": {"gt": 1}}},
            {"term": {"user_name": {"value": "root"}}}
        ]}}]}}),
    );
    pair(
        "bool != true",
        json!({"bool": {"must_not": [{"term": {"bool": {"value": true}}}]}}),
    );
    pair("bool", json!({"term": {"bool": {"value": true}}}));
}

#[test]
fn string_functions_are_prefix_and_wildcard_queries() {
    pair(
        r#"endsWith(user_name, "c")"#,
        json!({"wildcard": {"user_name": {"wildcard": "*c"}}}),
    );
    pair(
        r#"endsWith~(user_name, "c")"#,
        json!({"wildcard": {"user_name": {"wildcard": "*c", "case_insensitive": true}}}),
    );
    // A text field is queried through its keyword sub-field.
    pair(
        r#"endsWith(hostname, "c")"#,
        json!({"wildcard": {"hostname.keyword": {"wildcard": "*c"}}}),
    );
    pair(
        r#"startsWith(user_name, "A")"#,
        json!({"prefix": {"user_name": {"value": "A"}}}),
    );
    pair(
        r#"startswith~(user_name, "A")"#,
        json!({"prefix": {"user_name": {"value": "A", "case_insensitive": true}}}),
    );
    pair(
        r#"stringContains(process_name, "foo")"#,
        json!({"wildcard": {"process_name": {"wildcard": "*foo*"}}}),
    );
    pair(
        r#"stringContains~(process_name, "foo")"#,
        json!({"wildcard": {"process_name": {"wildcard": "*foo*", "case_insensitive": true}}}),
    );
}

#[test]
fn cidr_match_is_terms_on_an_ip_field() {
    pair(
        r#"cidrMatch(source_address, "10.0.0.0/8", "192.168.0.0/16")"#,
        json!({"terms": {"source_address": ["10.0.0.0/8", "192.168.0.0/16"]}}),
    );
    pair(
        r#"cidrMatch(source_address, "10.0.0.0/8") == false"#,
        json!({"bool": {"must_not": [{"terms": {"source_address": ["10.0.0.0/8"]}}]}}),
    );
}

#[test]
fn like_is_term_or_wildcard_and_regex_is_term_or_regexp() {
    pair(
        r#"command_line like "net.exe""#,
        json!({"term": {"command_line": {"value": "net.exe"}}}),
    );
    pair(
        r#"command_line like~ "n*t.exe""#,
        json!({"wildcard": {"command_line": {"wildcard": "n*t.exe", "case_insensitive": true}}}),
    );
    pair(
        r#"command_line like ("n?t.e?e", "net.*")"#,
        json!({"bool": {"should": [
            {"wildcard": {"command_line": {"wildcard": "n?t.e?e"}}},
            {"wildcard": {"command_line": {"wildcard": "net.*"}}}
        ]}}),
    );
    // A regex without metacharacters is a term.
    pair(
        r#"command_line regex "net\\.exe""#,
        json!({"term": {"command_line": {"value": "net.exe"}}}),
    );
}

/// Elasticsearch passes `^.*?net.exe` to Lucene as it is, where `^` is a literal character
/// and `*?` is not an operator; eqlc rewrites the pattern so Lucene matches what the regular
/// expression means (anchors are implicit, lazy and greedy match the same whole values).
#[test]
fn regexes_are_rewritten_for_lucene() {
    pair(
        r#"command_line regex~ "^.*?net.exe""#,
        json!({"regexp": {"command_line": {"value": ".*net.exe", "flags": "ALL", "case_insensitive": true}}}),
    );
    pair(
        r#"command_line regex ("^.*?net.exe", "net\\.exe")"#,
        json!({"regexp": {"command_line": {"value": r".*net.exe|net\.exe", "flags": "ALL"}}}),
    );
}

/// Script parameters of a `script` query, checking that no user value is in its source.
fn script_params(condition: &str, user_values: &[&str]) -> Json {
    let dsl = condition_dsl(condition);
    let script = &dsl["script"]["script"];
    assert_eq!(script["lang"], "painless", "{condition}: {dsl}");
    let source = script["source"].as_str().expect("source");
    for value in user_values {
        assert!(
            !source.contains(value),
            "{condition}: `{value}` is in the script source"
        );
    }
    assert!(!source.contains("InternalEqlScriptUtils"), "{source}");
    script["params"].clone()
}

fn param_values(params: &Json) -> Vec<Json> {
    params
        .as_object()
        .expect("params object")
        .values()
        .cloned()
        .collect()
}

#[test]
fn functions_without_a_query_become_painless_with_params() {
    let params = script_params("length(file_name) > 0", &["file_name"]);
    let values = param_values(&params);
    assert!(values.contains(&json!("file_name.keyword")), "{params}");
    assert!(values.contains(&json!(0)), "{params}");

    let params = script_params(
        r#"substring(file_name, -4) : ".exe""#,
        &["file_name", ".exe"],
    );
    let values = param_values(&params);
    assert!(values.contains(&json!("file_name.keyword")), "{params}");
    assert!(values.contains(&json!(-4)), "{params}");

    let params = script_params(
        r#"substring(command_line, 5) like ("net.e*", "net.e?e")"#,
        &["command_line", "net.e"],
    );
    let text = params.to_string();
    assert!(text.contains("command_line"), "{params}");
    assert!(text.contains("net.e"), "{params}");
}

/// `wildcard()` is gone from Elasticsearch EQL (it exists in Python eql); eqlc rejects it
/// and points at `like`, which lowers to exactly the DSL the old function produced.
#[test]
fn wildcard_function_is_rejected_and_like_says_the_same() {
    let err = compile_query(
        r#"process where wildcard(process_path, "*\\red_ttp\\wininit.*", "*\\abc\\*")"#,
    )
    .expect_err("wildcard() is not Elasticsearch EQL");
    assert!(
        err.message.contains("`wildcard` is not supported"),
        "{}",
        err.message
    );
    pair(
        r#"process_path like ("*\\red_ttp\\wininit.*", "*\\abc\\*")"#,
        json!({"bool": {"should": [
            {"wildcard": {"process_path": {"wildcard": r"*\\red_ttp\\wininit.*"}}},
            {"wildcard": {"process_path": {"wildcard": r"*\\abc\\*"}}}
        ]}}),
    );
}

fn search_body(eql: &str) -> Json {
    let query = compile_query(eql).expect("compiles");
    let rule = bare_eql(eql);
    let artifact = dsl::artifact(&rule, &query, &test_mapping()).expect("lowers");
    artifact.json["search"].clone()
}

#[test]
fn head_and_tail_set_size_and_order() {
    let head = search_body("process where true | head 5");
    assert_eq!(head["size"], 5);
    assert_eq!(
        head["sort"],
        json!([{"@timestamp": {"order": "asc", "unmapped_type": "date"}}])
    );
    let tail = search_body("process where true | tail 3");
    assert_eq!(tail["size"], 3);
    assert_eq!(
        tail["sort"],
        json!([{"@timestamp": {"order": "desc", "unmapped_type": "date"}}])
    );
    // No pipe: the detection engine's default of 100 alerts.
    assert_eq!(search_body("process where true")["size"], 100);
    // `process where true` is the category filter alone.
    assert_eq!(
        head["query"],
        json!({"bool": {"filter": [{"term": {"event.category": {"value": "process"}}}]}})
    );
}

/// Every pair's whole event query (category filter included), kept as one reviewed snapshot
/// so a change to any of them shows up in review even where the assertions above are looser
/// (the script pairs).
#[test]
fn pairs_snapshot() {
    const PAIRS: [&str; 35] = [
        "serial_event_id == 1",
        "serial_event_id < 4",
        r#"process_name : "test""#,
        r#"process_name : "test*""#,
        r#"process_name : ("test*", "best")"#,
        r#"process_path : "*\\red_ttp\\wininit.*" and opcode in (0,1,2,3)"#,
        r#"process_name in ("python.exe", "SMSS.exe", "explorer.exe")"#,
        r#"process_name in~ ("test", "best")"#,
        r#"process_name in~ ("test*", "best")"#,
        "not (exit_code > -1)",
        r#"not (exit_code > 1 and user_name == "root")"#,
        "bool != true",
        "bool",
        r#"endsWith(user_name, "c")"#,
        r#"endsWith~(user_name, "c")"#,
        r#"endsWith(hostname, "c")"#,
        r#"startsWith(user_name, "A")"#,
        r#"startswith~(user_name, "A")"#,
        r#"stringContains(process_name, "foo")"#,
        r#"stringContains~(process_name, "foo")"#,
        r#"cidrMatch(source_address, "10.0.0.0/8", "192.168.0.0/16")"#,
        r#"cidrMatch(source_address, "10.0.0.0/8") == false"#,
        "length(file_name) > 0",
        r#"substring(file_name, -4) : ".exe""#,
        r#"process_path like ("*\\red_ttp\\wininit.*", "*\\abc\\*")"#,
        r#"command_line like "net.exe""#,
        r#"command_line like~ "n*t.exe""#,
        r#"command_line like ("n?t.e?e", "net.*")"#,
        r#"command_line regex "net\\.exe""#,
        r#"command_line regex~ "^.*?net.exe""#,
        r#"command_line regex ("^.*?net.exe", "net\\.exe")"#,
        r#"substring(command_line, 5) like ("net.e*", "net.e?e")"#,
        "true | head 5",
        "true | tail 5",
        r#"serial_event_id == number("0x32", 16)"#,
    ];
    let types = test_mapping();
    let mut all = serde_json::Map::new();
    for condition in PAIRS {
        let eql = format!("process where {condition}");
        let query = compile_query(&eql).unwrap_or_else(|d| panic!("{eql}: {}", d.message));
        let artifact = dsl::artifact(&bare_eql(&eql), &query, &types)
            .unwrap_or_else(|u| panic!("{eql}: {}", u.message));
        assert_eq!(artifact.json["warnings"], json!([]), "{eql}");
        let mut entry = serde_json::Map::new();
        entry.insert(
            "query".into(),
            artifact.json["search"]["query"]["bool"]["filter"][0].clone(),
        );
        entry.insert("size".into(), artifact.json["search"]["size"].clone());
        entry.insert("sort".into(), artifact.json["search"]["sort"].clone());
        all.insert(eql, Json::Object(entry));
    }
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => true}, {
        insta::assert_json_snapshot!("translator_pairs", all);
    });
}
