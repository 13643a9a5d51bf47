//! `eqlc build`: the CI workflow end to end on copies of `rules/` in temporary directories —
//! build, `--check`, a rule edited or removed, the reports, completions and man pages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn eqlc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eqlc"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("eqlc runs")
}

fn eqlc(args: &[&str]) -> Output {
    eqlc_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eqlc-build-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn repo_rule(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("rules")
        .join(name)
}

/// A small rules repository: two EQL rules in a subdirectory, one at the top, one KQL rule.
fn rules_repo(dir: &Path) -> PathBuf {
    let rules = dir.join("repo");
    for (from, to) in [
        (
            "persistence_time_provider_mod.toml",
            "windows/time_provider.toml",
        ),
        (
            "execution_shell_via_meterpreter_linux.toml",
            "linux/meterpreter.toml",
        ),
        ("000_710dc868e5306aaf.txt", "ssp.txt"),
        ("apm_403_response_to_a_post.toml", "apm.toml"),
    ] {
        let target = rules.join(to);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(repo_rule(from), &target).expect("copy rule");
    }
    rules
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

fn sha256_of(path: &Path) -> String {
    eqlc::build::sha256_hex(&std::fs::read(path).expect("read"))
}

fn manifest(out: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("manifest.json")).expect("manifest");
    serde_json::from_str(&text).expect("manifest is JSON")
}

#[cfg(unix)]
fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).expect("metadata").ino()
}

#[test]
fn build_then_check_passes_and_a_changed_rule_makes_check_fail_listing_its_files() {
    let dir = temp_dir("check");
    let rules = rules_repo(&dir);
    let out = dir.join("artifacts");

    let o = eqlc(&["build", s(&rules), "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("9 artifacts written, 0 unchanged, 0 removed; manifest written"),
        "{}",
        stderr(&o)
    );
    // One tree per target, mirroring the rules repository.
    for path in [
        "eql/windows/time_provider.eql",
        "dsl/windows/time_provider.dsl.json",
        "sigma/windows/time_provider.yml",
        "dsl/linux/meterpreter.dsl.json",
        "eql/ssp.eql",
    ] {
        assert!(out.join(path).is_file(), "{path} missing");
    }
    assert!(
        !out.join("eql/apm.eql").exists(),
        "a KQL rule has no artifacts"
    );

    // The manifest: every document, its hash, its outputs with theirs.
    let m = manifest(&out);
    assert_eq!(m["eqlc_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(m["targets"], serde_json::json!(["eql", "dsl", "sigma"]));
    let entries = m["rules"].as_array().expect("rules");
    let sources: Vec<&str> = entries
        .iter()
        .map(|r| r["source"].as_str().expect("source"))
        .collect();
    assert_eq!(
        sources,
        [
            "apm.toml",
            "linux/meterpreter.toml",
            "ssp.txt",
            "windows/time_provider.toml"
        ]
    );
    let time = &entries[3];
    assert_eq!(time["status"], "ok");
    assert_eq!(
        time["sha256"],
        sha256_of(&rules.join("windows/time_provider.toml"))
    );
    let outputs = time["outputs"].as_array().expect("outputs");
    assert_eq!(outputs.len(), 3);
    for output in outputs {
        let path = output["path"].as_str().expect("path");
        assert_eq!(output["sha256"], sha256_of(&out.join(path)), "{path}");
    }
    assert_eq!(entries[0]["status"], "skipped");
    assert_eq!(entries[0]["targets"]["dsl"], "skipped");

    let o = eqlc(&["build", s(&rules), "--out", s(&out), "--check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("up to date"), "{}", stderr(&o));

    // A no-op build rewrites nothing (a rewrite would replace the file, and its inode).
    let artifact = out.join("dsl/windows/time_provider.dsl.json");
    #[cfg(unix)]
    let before = inode(&artifact);
    let o = eqlc(&["build", s(&rules), "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("0 artifacts written, 9 unchanged, 0 removed; manifest unchanged"),
        "{}",
        stderr(&o)
    );
    #[cfg(unix)]
    assert_eq!(inode(&artifact), before);

    // Edit one rule: --check fails, names its three artifacts and the manifest, writes nothing.
    let edited = rules.join("windows/time_provider.toml");
    let text = std::fs::read_to_string(&edited).expect("read");
    std::fs::write(
        &edited,
        text.replace("event.type == \"change\"", "event.type == \"creation\""),
    )
    .expect("edit");
    let committed = std::fs::read(&artifact).expect("read");
    let o = eqlc(&["build", s(&rules), "--out", s(&out), "--check"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let stale: Vec<&str> = err.lines().filter(|l| l.starts_with("stale: ")).collect();
    let expected: Vec<String> = [
        "dsl/windows/time_provider.dsl.json",
        "eql/windows/time_provider.eql",
        "sigma/windows/time_provider.yml",
        "manifest.json",
    ]
    .iter()
    .map(|p| format!("stale: {} (different)", out.join(p).display()))
    .collect();
    assert_eq!(stale, expected, "{err}");
    assert!(err.contains("4 stale files, 0 failed rules"), "{err}");
    assert_eq!(std::fs::read(&artifact).expect("read"), committed);

    // Building again brings exactly those files up to date; then --check passes.
    let o = eqlc(&["build", s(&rules), "--out", s(&out)]);
    assert!(
        stderr(&o).contains("3 artifacts written, 6 unchanged, 0 removed; manifest written"),
        "{}",
        stderr(&o)
    );
    assert!(String::from_utf8_lossy(&std::fs::read(&artifact).expect("read")).contains("creation"));
    let o = eqlc(&["build", s(&rules), "--out", s(&out), "--check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn artifacts_of_a_removed_rule_are_removed_and_files_eqlc_does_not_own_are_kept() {
    let dir = temp_dir("remove");
    let rules = rules_repo(&dir);
    let out = dir.join("artifacts");
    assert!(eqlc(&["build", s(&rules), "--out", s(&out)])
        .status
        .success());
    std::fs::write(out.join("README.md"), "published by CI\n").expect("write");
    std::fs::write(out.join("dsl/linux/notes.dsl.json"), "{}\n").expect("write");

    std::fs::remove_file(rules.join("windows/time_provider.toml")).expect("remove rule");
    let o = eqlc(&["build", s(&rules), "--out", s(&out), "--check"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    for path in [
        "dsl/windows/time_provider.dsl.json",
        "eql/windows/time_provider.eql",
        "sigma/windows/time_provider.yml",
    ] {
        let line = format!(
            "stale: {} (orphaned: no rule produces it any more)",
            out.join(path).display()
        );
        assert!(err.contains(&line), "{line}\n{err}");
    }
    assert!(
        !err.contains("notes.dsl.json") && !err.contains("README"),
        "{err}"
    );

    let o = eqlc(&["build", s(&rules), "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("0 artifacts written, 6 unchanged, 3 removed"),
        "{}",
        stderr(&o)
    );
    assert!(
        !out.join("dsl/windows").exists(),
        "emptied directory left behind"
    );
    assert!(out.join("README.md").is_file());
    assert!(out.join("dsl/linux/notes.dsl.json").is_file());

    // Fewer targets: the others' artifacts are owned, so removed; their trees go too.
    let o = eqlc(&["build", s(&rules), "--out", s(&out), "--targets", "dsl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("4 removed"), "{}", stderr(&o));
    assert!(!out.join("eql").exists() && !out.join("sigma").exists());
    assert_eq!(manifest(&out)["targets"], serde_json::json!(["dsl"]));

    // A manifest eqlc cannot read owns nothing: nothing is removed on its word.
    std::fs::write(out.join("manifest.json"), "not json").expect("write");
    std::fs::remove_file(rules.join("ssp.txt")).expect("remove rule");
    let o = eqlc(&["build", s(&rules), "--out", s(&out), "--targets", "dsl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no stale artifacts removed"),
        "{}",
        stderr(&o)
    );
    assert!(out.join("dsl/ssp.dsl.json").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn artifacts_are_what_convert_writes_run_in_the_rules_directory() {
    let dir = temp_dir("convert");
    let rules = rules_repo(&dir);
    let out = dir.join("artifacts");
    assert!(eqlc(&["build", s(&rules), "--out", s(&out)])
        .status
        .success());
    for target in ["eql", "dsl", "sigma"] {
        let converted = dir.join("converted").join(target);
        let o = eqlc_in(
            &rules,
            &[
                "convert",
                "--target",
                target,
                "windows",
                "--out",
                s(&converted.join("windows")),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let name = match target {
            "eql" => "time_provider.eql",
            "dsl" => "time_provider.dsl.json",
            _ => "time_provider.yml",
        };
        let built = std::fs::read(out.join(target).join("windows").join(name)).expect("built");
        let converted = std::fs::read(converted.join("windows").join(name)).expect("converted");
        assert_eq!(built, converted, "{target}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_output_directory_inside_the_rules_directory_is_not_read_back_as_rules() {
    let dir = temp_dir("inside");
    let rules = rules_repo(&dir);
    let out = rules.join("build");
    for _ in 0..2 {
        let o = eqlc_in(&rules, &["build", ".", "--out", "build"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("built 4 documents"), "{}", stderr(&o));
    }
    assert!(out.join("eql/ssp.eql").is_file());
    let o = eqlc_in(&rules, &["build", ".", "--out", "."]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is the rules directory itself"),
        "{}",
        stderr(&o)
    );
    let o = eqlc(&["build", s(&dir.join("nowhere")), "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a directory"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A repository with what reports must show: a broken rule whose text needs XML escaping, a
/// rule Sigma cannot express, and a KQL rule.
fn report_repo(dir: &Path) -> PathBuf {
    let rules = rules_repo(dir);
    std::fs::write(
        rules.join("broken.eql"),
        "process where process.name == \"a<b>&'c\" and and\n",
    )
    .expect("write");
    std::fs::copy(
        repo_rule("credential_access_okta_mfa_bombing_via_push_notifications.toml"),
        rules.join("okta.toml"),
    )
    .expect("copy");
    rules
}

/// The child of `suite` named `name`.
fn case<'a, 'i>(suite: &roxmltree::Node<'a, 'i>, name: &str) -> roxmltree::Node<'a, 'i> {
    suite
        .children()
        .find(|c| c.attribute("name") == Some(name))
        .unwrap_or_else(|| panic!("no case {name}"))
}

#[test]
fn junit_report_has_a_case_per_rule_and_target_with_failures_and_skips() {
    let dir = temp_dir("junit");
    let rules = report_repo(&dir);
    let out = dir.join("artifacts");
    let o = eqlc(&["build", s(&rules), "--out", s(&out), "--report", "junit"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let xml = stdout(&o);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    // 6 documents × 3 targets; building writes, so no `files` suite.
    assert_eq!(root.attribute("tests"), Some("18"));
    assert_eq!(root.attribute("failures"), Some("3"));
    let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    let names: Vec<_> = suites.iter().filter_map(|s| s.attribute("name")).collect();
    assert_eq!(
        names,
        ["eqlc build: eql", "eqlc build: dsl", "eqlc build: sigma"]
    );
    for suite in &suites {
        assert_eq!(suite.attribute("tests"), Some("6"));
        let broken = case(suite, "broken.eql");
        let failure = broken
            .children()
            .find(|c| c.has_tag_name("failure"))
            .expect("failure");
        // The diagnostic in full, with the offending line: escaped on the way out, intact here.
        let body = failure.text().expect("failure text");
        assert!(
            body.contains("process.name == \"a<b>&'c\" and and"),
            "{body}"
        );
        assert!(body.contains("broken.eql:1:"), "{body}");
        assert!(failure.attribute("message").is_some_and(|m| !m.is_empty()));
        let kql = case(suite, "apm.toml");
        let skipped = kql
            .children()
            .find(|c| c.has_tag_name("skipped"))
            .expect("KQL rule skipped");
        assert!(skipped
            .attribute("message")
            .is_some_and(|m| m.contains("not an EQL rule")));
        assert!(case(suite, "ssp.txt").children().all(|c| !c.is_element()));
    }
    // Sigma cannot express `until`: skipped with the reason, not failed.
    let okta = case(&suites[2], "okta.toml");
    let why = okta
        .children()
        .find(|c| c.has_tag_name("skipped"))
        .and_then(|c| c.attribute("message"))
        .expect("skipped");
    assert!(why.contains("`until`"), "{why}");
    assert!(case(&suites[1], "okta.toml")
        .children()
        .all(|c| !c.is_element()));

    // Checking: a `files` suite, and a stale artifact fails its rule's case.
    std::fs::write(out.join("eql/ssp.eql"), "tampered\n").expect("write");
    let report = dir.join("junit.xml");
    let o = eqlc(&[
        "build",
        s(&rules),
        "--out",
        s(&out),
        "--check",
        "--report",
        "junit",
        "--report-file",
        s(&report),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).is_empty(), "the report went to the file");
    let xml = std::fs::read_to_string(&report).expect("report file");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let eql = doc
        .root_element()
        .children()
        .find(|n| n.attribute("name") == Some("eqlc build: eql"))
        .expect("eql suite");
    let stale = case(&eql, "ssp.txt")
        .children()
        .find(|c| c.has_tag_name("failure"))
        .and_then(|c| c.attribute("message"))
        .expect("stale artifact fails");
    assert!(stale.contains("eql/ssp.eql differs"), "{stale}");
    let files = doc
        .root_element()
        .children()
        .find(|n| n.attribute("name") == Some("eqlc build: files"))
        .expect("files suite");
    assert!(case(&files, "manifest.json")
        .children()
        .all(|c| !c.is_element()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_report_has_summary_rules_and_changed_files() {
    let dir = temp_dir("json");
    let rules = report_repo(&dir);
    let out = dir.join("artifacts");
    let o = eqlc(&["build", s(&rules), "--out", s(&out), "--report", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    assert_eq!(report["mode"], "write");
    assert_eq!(report["passed"], false);
    let summary = &report["summary"];
    assert_eq!(summary["rules"], 6);
    assert_eq!(summary["ok"], 4);
    assert_eq!(summary["skipped"], 1);
    assert_eq!(summary["failed"], 1);
    assert_eq!(summary["unsupported"], 1);
    assert_eq!(summary["written"], 11);
    let rule = |source: &str| {
        report["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .find(|r| r["source"] == source)
            .cloned()
            .unwrap_or_else(|| panic!("no {source}"))
    };
    let broken = rule("broken.eql");
    assert_eq!(broken["status"], "error");
    assert_eq!(broken["targets"]["dsl"], "error");
    assert_eq!(broken["diagnostics"][0]["severity"], "error");
    assert_eq!(broken["diagnostics"][0]["line"], 1);
    let okta = rule("okta.toml");
    assert_eq!(okta["status"], "ok");
    assert_eq!(okta["targets"]["sigma"], "unsupported");
    assert_eq!(okta["diagnostics"][0]["severity"], "warning");
    assert_eq!(okta["outputs"]["dsl"], "dsl/okta.dsl.json");
    assert!(okta["outputs"].get("sigma").is_none());
    let files = report["files"].as_array().expect("files");
    assert_eq!(files.len(), 12, "11 artifacts and the manifest");
    assert!(files.iter().all(|f| f["state"] == "written"));

    // Strict: a target that cannot express a rule fails it.
    let o = eqlc(&[
        "build",
        s(&rules),
        "--out",
        s(&out),
        "--strict",
        "--report",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    assert_eq!(report["summary"]["failed"], 2);
    assert_eq!(report["summary"]["unsupported"], 0);
    assert_eq!(report["summary"]["written"], 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn completions_and_man_pages_come_from_the_cli_definition() {
    let o = eqlc(&["completions", "bash"]);
    assert!(o.status.success());
    let script = stdout(&o);
    assert!(
        script.contains("complete -F") && script.contains("--report-file"),
        "{script}"
    );
    let o = eqlc(&["completions", "zsh"]);
    assert!(stdout(&o).starts_with("#compdef eqlc"));

    let o = eqlc(&["man"]);
    assert!(o.status.success());
    let page = stdout(&o);
    assert!(page.contains(".TH eqlc 1"), "{page}");
    assert!(page.contains("build"), "subcommands listed");

    let dir = temp_dir("man");
    let o = eqlc(&["man", "--out", s(&dir)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let build = std::fs::read_to_string(dir.join("eqlc-build.1")).expect("eqlc-build.1");
    assert!(build.contains("\\-\\-check"), "{build}");
    assert!(stdout(&o).lines().any(|l| l.ends_with("eqlc.1")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_documents_that_would_write_one_artifact_fail_the_second() {
    let dir = temp_dir("collide");
    let rules = dir.join("repo");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::copy(
        repo_rule("persistence_time_provider_mod.toml"),
        rules.join("x.toml"),
    )
    .expect("copy");
    std::fs::write(rules.join("x.eql"), "process where process.name : \"a\"\n").expect("write");
    let out = dir.join("artifacts");
    let o = eqlc(&["build", s(&rules), "--out", s(&out), "--targets", "eql"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("x.eql and x.toml both convert to eql/x.eql"),
        "{}",
        stderr(&o)
    );
    // The first in path order keeps the file.
    assert_eq!(
        std::fs::read_to_string(out.join("eql/x.eql")).expect("artifact"),
        "process where process.name : \"a\"\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
