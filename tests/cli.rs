//! The `eqlc` binary: the contract later issues and CI rely on (outputs, JSON shape, exit codes).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn eqlc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eqlc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("eqlc runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eqlc-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn parse_prints_canonical_eql_for_an_inline_query() {
    let o = eqlc(&[
        "parse",
        "--query",
        "process where not user.name in (\"SYSTEM\") and process.name : \"cmd.exe\"",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "process where user.name not in (\"SYSTEM\") and process.name : \"cmd.exe\"\n"
    );
}

#[test]
fn parse_reads_stdin() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eqlc"))
        .args(["parse", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"file where  file.name == \"a\"\n")
            .expect("write");
    }
    let o = child.wait_with_output().expect("wait");
    assert!(o.status.success());
    assert_eq!(stdout(&o), "file where file.name == \"a\"\n");
}

#[test]
fn parse_emits_ast_and_ir_as_json() {
    let o = eqlc(&["parse", "--ast", "json", "--query", "process where a == 1"]);
    assert!(o.status.success());
    let doc: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("json");
    assert_eq!(doc["ast"]["query"]["kind"], "event");
    assert_eq!(doc["ast"]["query"]["condition"]["expr"], "compare");

    let o = eqlc(&["parse", "--ir", "json", "--query", "process where a != 1"]);
    let doc: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("json");
    assert_eq!(doc["ir"]["body"]["condition"]["op"], "not");
    assert_eq!(doc["ir"]["body"]["condition"]["operand"]["op"], "eq");
}

#[test]
fn a_syntax_error_is_shown_with_file_line_column_and_caret() {
    let o = eqlc(&[
        "parse",
        "--color",
        "never",
        "--query",
        "process wher x == 1",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("error: expected `where` after event category `process`"),
        "{err}"
    );
    assert!(err.contains("<query>:1:9"), "{err}");
    assert!(err.contains("1 | process wher x == 1"), "{err}");
    assert!(err.contains("^^^^"), "{err}");
    // No colour codes when asked (and when not on a terminal).
    assert!(!err.contains('\u{1b}'), "{err}");
}

/// The report entry of the document whose path ends with `suffix`.
fn listed<'a>(rules: &'a [serde_json::Value], suffix: &str) -> &'a serde_json::Value {
    rules
        .iter()
        .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with(suffix)))
        .unwrap_or_else(|| panic!("{suffix} is not in the report"))
}

#[test]
fn check_reports_json_with_statuses_and_a_summary() {
    // Sigma cannot express some of rules/ (until, missing events): checked separately below.
    let o = eqlc(&[
        "check", "--format", "json", "--target", "eql", "--target", "dsl", "rules",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let rules = doc["rules"].as_array().expect("rules");
    let summary = &doc["summary"];
    assert_eq!(summary["total"].as_u64(), Some(rules.len() as u64));
    assert_eq!(summary["error"], 0);
    assert!(
        summary["skipped"].as_u64() >= Some(2),
        "a KQL rule and an ES|QL page are skipped"
    );
    for r in rules {
        for key in [
            "path",
            "rule_id",
            "name",
            "rule_type",
            "status",
            "diagnostics",
            "targets",
        ] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
    }
    let kql = listed(rules, "apm_403_response_to_a_post.toml");
    assert_eq!(kql["status"], "skipped");
    assert_eq!(kql["rule_type"], "query");
    let seed = listed(rules, "000_710dc868e5306aaf.txt");
    assert_eq!(seed["status"], "ok");
    assert_eq!(seed["targets"]["eql"], "ok");
    assert_eq!(seed["name"], "Installation of Security Support Provider");
}

#[test]
fn a_batch_reports_every_bad_rule_and_still_converts_the_good_ones() {
    let dir = temp_dir("batch");
    std::fs::write(dir.join("good.eql"), "process where a == 1\n").expect("write");
    std::fs::write(dir.join("bad1.eql"), "process where a = 1\n").expect("write");
    std::fs::write(dir.join("bad2.eql"), "join [a where true] [b where true]\n").expect("write");
    std::fs::write(dir.join("README.md"), "# notes\nnot a rule\n").expect("write");
    let d = dir.to_string_lossy().into_owned();

    let o = eqlc(&["check", &d]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.contains("bad1.eql:1:17: error: `=` is not an EQL operator"),
        "{text}"
    );
    assert!(
        text.contains("bad2.eql:1:1: error: `join` is not supported by Elasticsearch EQL"),
        "{text}"
    );
    assert!(
        text.ends_with("4 documents: 1 ok, 1 skipped, 2 failed\n"),
        "{text}"
    );

    let out = dir.join("out");
    let o = eqlc(&[
        "convert",
        "--target",
        "eql",
        &d,
        "--out",
        &out.to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(out.join("good.eql")).expect("good converted"),
        "process where a == 1\n"
    );
    assert!(!out.join("bad1.eql").exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn check_names_what_sigma_cannot_express_and_fails() {
    let o = eqlc(&["check", "--target", "sigma", "rules"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let text = stdout(&o);
    assert!(
        text.contains(
            "credential_access_okta_mfa_bombing_via_push_notifications.toml: error: cannot convert to Sigma: `until`"
        ),
        "{text}"
    );
    assert!(text.contains("a missing-event stage"), "{text}");
}

#[test]
fn convert_sigma_with_a_field_mapping_file() {
    let dir = temp_dir("sigma-map");
    let map = dir.join("map.yml");
    std::fs::write(&map, "fields:\n  process.name: ProcessName\n").expect("write");
    let o = eqlc(&[
        "convert",
        "--target",
        "sigma",
        "--field-mapping",
        &map.to_string_lossy(),
        "--query",
        "process where process.name : \"cmd.exe\"",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("ProcessName: 'cmd.exe'"),
        "{}",
        stdout(&o)
    );
    let o = eqlc(&[
        "convert",
        "--target",
        "sigma",
        "--field-mapping",
        "ecs",
        "--query",
        "process where process.executable : \"x\"",
    ]);
    assert!(
        stdout(&o).contains("process.executable: 'x'"),
        "{}",
        stdout(&o)
    );
    let o = eqlc(&[
        "convert",
        "--target",
        "sigma",
        "--field-mapping",
        "no/such.yml",
        "--query",
        "process where true",
    ]);
    assert_eq!(o.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn eval_prints_alerts_and_a_summary() {
    let dir = temp_dir("eval");
    let events = dir.join("events.ndjson");
    std::fs::write(
        &events,
        "{\"event\": {\"category\": \"process\"}, \"process\": {\"name\": \"CMD.exe\"}, \"id\": 7}\n\
         {\"event\": {\"category\": \"process\"}, \"process\": {\"name\": \"x\"}, \"id\": 8}\n",
    )
    .expect("write");
    let events = events.to_string_lossy().into_owned();
    let query = "process where process.name : \"cmd.exe\"";
    let o = eqlc(&[
        "eval",
        "--query",
        query,
        "--events",
        &events,
        "--format",
        "ids",
        "--id-field",
        "id",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "7\n");
    assert!(
        stderr(&o).contains("2 events, 1 rules, 1 alerts"),
        "{}",
        stderr(&o)
    );
    let o = eqlc(&["eval", "--query", query, "--events", &events]);
    let alert: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("json alert");
    assert_eq!(alert["events"][0]["id"], 7);
    // A line that is not JSON is reported with its number, the rest still runs, exit 1.
    let bad = dir.join("bad.ndjson");
    std::fs::write(
        &bad,
        "{\"event\": {\"category\": \"process\"}, \"process\": {\"name\": \"cmd.exe\"}, \"id\": 1}\n\
         {\"event\": {\"category\": \"process\"}, \"process\": {\"name\": \"cmd.exe\"\n",
    )
    .expect("write");
    let bad = bad.to_string_lossy().into_owned();
    let o = eqlc(&[
        "eval",
        "--query",
        query,
        "--events",
        &bad,
        "--format",
        "ids",
        "--id-field",
        "id",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stdout(&o), "1\n");
    assert!(
        stderr(&o).contains("bad.ndjson: warning: line 2:"),
        "{}",
        stderr(&o)
    );
    // An unreadable events file is an error (exit 2) that names it.
    let o = eqlc(&[
        "eval",
        "--query",
        query,
        "--events",
        "no-such-events.ndjson",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no-such-events.ndjson"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn conformance_runs_suites_and_counts() {
    let o = eqlc(&["conformance", "tests/suites/semantics/suite.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).ends_with("11 passed, 0 failed\n"),
        "{}",
        stdout(&o)
    );
    let dir = temp_dir("conformance");
    for f in ["suite.toml", "events.ndjson"] {
        std::fs::copy(Path::new("tests/suites/semantics").join(f), dir.join(f)).expect("copy");
    }
    std::fs::write(
        dir.join("queries.toml"),
        "[[queries]]\nname = \"wrong\"\nquery = 'process where true'\nexpected_event_ids = [9]\n",
    )
    .expect("write");
    let o = eqlc(&["conformance", &dir.join("suite.toml").to_string_lossy()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("FAIL eqlc-semantics / wrong"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("expected: [9]"), "{}", stdout(&o));
    assert!(
        stdout(&o).ends_with("0 passed, 1 failed\n"),
        "{}",
        stdout(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn convert_out_mirrors_the_input_tree() {
    let dir = temp_dir("mirror");
    let nested = dir.join("windows").join("persistence");
    std::fs::create_dir_all(&nested).expect("mkdir");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/persistence_time_provider_mod.toml"),
        nested.join("time_provider.toml"),
    )
    .expect("copy");
    let out = dir.join("out");
    let o = eqlc(&[
        "convert",
        "--target",
        "eql",
        &dir.join("windows").to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let written = std::fs::read_to_string(out.join("persistence").join("time_provider.eql"))
        .expect("mirrored");
    assert!(written.starts_with("registry where "), "{written}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn convert_dsl_prints_ndjson_and_writes_dsl_json_files() {
    let o = eqlc(&["convert", "--target", "dsl", "rules"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 14, "one artifact per EQL document in rules/");
    let sample = lines
        .iter()
        .find(|a| a["kind"] == "sample")
        .expect("the sample rule");
    assert!(sample["stages"].as_array().is_some_and(|s| s.len() == 5));

    let dir = temp_dir("dsl");
    let out = dir.join("out");
    let o = eqlc(&[
        "convert",
        "--target",
        "dsl",
        "--pretty",
        "rules/persistence_time_provider_mod.toml",
        "--out",
        &out.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let written = std::fs::read_to_string(out.join("persistence_time_provider_mod.dsl.json"))
        .expect("written");
    assert!(written.starts_with("{\n  \"path\""), "{written}");
    let artifact: serde_json::Value = serde_json::from_str(&written).expect("JSON");
    assert_eq!(artifact["rule_id"], "14ed1aa9-ebfd-4cf9-a463-0ac59ec55204");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn convert_out_never_overwrites_one_artifact_with_another() {
    let dir = temp_dir("collide");
    for sub in ["a", "b"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
        std::fs::write(
            dir.join(sub).join("r.eql"),
            format!("process where x == \"{sub}\""),
        )
        .expect("write");
    }
    let out = dir.join("out");
    let o = eqlc(&[
        "convert",
        "--target",
        "dsl",
        &dir.join("a").to_string_lossy(),
        &dir.join("b").to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("both convert to"), "{}", stderr(&o));
    let kept = std::fs::read_to_string(out.join("r.dsl.json")).expect("first kept");
    assert!(kept.contains("\"a\""), "{kept}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn mapping_problems_are_usage_errors() {
    let dir = temp_dir("mapping");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{").expect("write");
    let o = eqlc(&["check", "--mapping", &bad.to_string_lossy(), "rules"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not valid JSON"), "{}", stderr(&o));
    let o = eqlc(&["check", "--mapping", "no/such/mapping.json", "rules"]);
    assert_eq!(o.status.code(), Some(2));
    // A good mapping: a field outside it is reported with its position, and the rule converts.
    let good = dir.join("mapping.json");
    std::fs::write(
        &good,
        r#"{"logs": {"mappings": {"properties": {"a": {"type": "keyword"}}}}}"#,
    )
    .expect("write");
    let o = eqlc(&[
        "check",
        "--mapping",
        &good.to_string_lossy(),
        "--query",
        "any where a == \"x\" and b == 1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("<query>:1:24: warning: field `b` is not in the mapping"),
        "{}",
        stdout(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn usage_errors_exit_with_2() {
    assert_eq!(eqlc(&["check", "no/such/path"]).status.code(), Some(2));
    assert_eq!(
        eqlc(&["check", "--format", "yaml", "rules"]).status.code(),
        Some(2)
    );
    assert_eq!(eqlc(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn help_shows_examples() {
    let o = eqlc(&["--help"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("Examples:"));
    let o = eqlc(&["check", "--help"]);
    assert!(stdout(&o).contains("eqlc check --format json"));
}
