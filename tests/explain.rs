//! `eqlc explain`: reviewed snapshots of whole explanations (rules from `rules/`, and queries
//! made to trigger each warning), and the command's contract (blocks, colour, exit codes).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use eqlc::driver::InputSpec;
use eqlc::explain::{self, ExplainOptions, Outcome, Paint};

/// The plain explanation of one input, as `eqlc explain` prints it when piped.
fn explained(input: InputSpec) -> String {
    let outcomes = explain::explain_inputs(&[input], &ExplainOptions::default());
    let mut out = Vec::new();
    let mut err = Vec::new();
    let failed = explain::print(&outcomes, &mut out, &mut err, Paint { color: false }, false)
        .expect("printed");
    assert!(!failed, "{}", String::from_utf8_lossy(&err));
    String::from_utf8(out).expect("UTF-8")
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({
        snapshot_path => "../snapshots",
        prepend_module_to_snapshot => true,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

/// A single event rule, a sequence, a sequence with `until` and one with a missing-event stage
/// (both beyond Sigma), and a rule from a documentation page.
#[test]
fn rules_explained() {
    for name in [
        "000_710dc868e5306aaf.txt",
        "defense_evasion_execution_followed_by_self_deletion.toml",
        "credential_access_okta_mfa_bombing_via_push_notifications.toml",
        "defense_evasion_missing_events_after_alert.toml",
        "command_and_control_remote_file_copy_powershell.toml",
    ] {
        // Relative, so paths in the output are the same on every machine.
        let text = explained(InputSpec::Path(PathBuf::from("rules").join(name)));
        snapshot(&format!("rule__{name}"), &text);
    }
}

/// One query per warning, each named after what it shows.
#[test]
fn queries_explained() {
    let queries = [
        (
            "leading_wildcard",
            r#"process where process.command_line : ("*-enc*", "*-encodedcommand*") and process.args like~ "*""#,
        ),
        (
            "case_sensitive_equality",
            r#"process where event.type == "start" and process.name == "PowerShell.exe" and user.name != "SYSTEM""#,
        ),
        (
            "star_in_equality",
            r#"file where file.name == "*.ps1" and not file.extension in ("*", "exe")"#,
        ),
        (
            "sigma_field_mappings",
            r#"process where event.type == "start" and process.name : "cmd.exe" and process.args : "/c" and process.parent.executable : "C:\\Windows\\explorer.exe" and host.id == "h1" and process.interactive == true"#,
        ),
        (
            "sigma_cannot_express",
            r#"process where length(process.command_line) > 200 and process.pid > 4 and source.ip == "10.0.0.0/8" and @timestamp >= "2024-01-01""#,
        ),
        (
            "sample_and_sequence_stages",
            r#"sequence by host.id with maxspan=5s [process where process.name in~ ("a.exe", "b.exe", "c.exe", "d.exe", "e.exe", "f.exe", "g.exe", "h.exe")] by process.entity_id with runs=2 [network where cidrMatch(destination.ip, "10.0.0.0/8", "192.168.0.0/16")] by process.entity_id until [process where event.type == "end"] by process.entity_id"#,
        ),
        (
            "sample",
            r#"sample by host.id [process where process.name regex~ "ps.*"] [file where ?file.size > 100 and not file.path == null]"#,
        ),
    ];
    for (name, query) in queries {
        let text = explained(InputSpec::Inline(query.to_string()));
        snapshot(&format!("query__{name}"), &text);
    }
}

#[test]
fn a_rule_that_fails_to_parse_is_a_failure_with_its_diagnostic() {
    let outcomes = explain::explain_inputs(
        &[InputSpec::Inline("process where a = 1".into())],
        &ExplainOptions::default(),
    );
    assert!(matches!(outcomes.as_slice(), [Outcome::Failed(_)]));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let failed = explain::print(&outcomes, &mut out, &mut err, Paint { color: false }, false)
        .expect("printed");
    assert!(failed);
    assert!(out.is_empty());
    let err = String::from_utf8_lossy(&err);
    assert!(err.contains("<query>:1:17"), "{err}");
    assert!(err.contains('^'), "{err}");
}

fn eqlc(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eqlc"));
    command
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("eqlc runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const BLOCKS: [&str; 5] = [
    "── Canonical EQL ──",
    "── Query DSL ──",
    "── Sigma ──",
    "── Evaluator ──",
    "── Warnings (",
];

#[test]
fn cli_prints_labelled_blocks_and_places_warnings_in_the_document() {
    let o = eqlc(
        &[
            "explain",
            "rules/defense_evasion_execution_followed_by_self_deletion.toml",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    for block in BLOCKS {
        assert!(out.contains(block), "{block} missing:\n{out}");
    }
    assert!(!out.contains('\x1b'), "piped output is plain");
    // Line and column in the TOML file, not in the query.
    assert!(
        out.contains("rules/defense_evasion_execution_followed_by_self_deletion.toml:59:21"),
        "{out}"
    );
    assert!(out.contains("\"kind\": \"sequence\""), "pretty DSL JSON");
}

#[test]
fn cli_colour_follows_the_color_flag_and_no_color() {
    let query = r#"process where process.name == "CMD.EXE""#;
    let always = eqlc(&["--color", "always", "explain", "--query", query], &[]);
    assert!(always.status.success());
    assert!(
        text(&always.stdout).contains("\x1b["),
        "--color always colours"
    );
    for (args, env) in [
        (
            vec!["--color", "never", "explain", "--query", query],
            vec![],
        ),
        (vec!["explain", "--query", query], vec![("NO_COLOR", "1")]),
    ] {
        let o = eqlc(&args, &env);
        assert!(o.status.success());
        assert!(!text(&o.stdout).contains('\x1b'), "{args:?} {env:?}");
    }
}

#[test]
fn cli_exit_codes() {
    // A query that does not parse: its diagnostic on stderr, exit 1.
    let o = eqlc(&["explain", "--query", "process where a = 1"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(text(&o.stderr).contains("error: `=` is not an EQL operator"));
    // Not an EQL rule: nothing to explain, exit 1.
    let o = eqlc(&["explain", "rules/apm_403_response_to_a_post.toml"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("nothing to explain: not an EQL rule"));
    // A missing path is a usage error.
    let o = eqlc(&["explain", "rules/no-such-rule.toml"], &[]);
    assert_eq!(o.status.code(), Some(2));
    // Warnings and translations that refuse the rule are not failures.
    let o = eqlc(
        &[
            "explain",
            "--query",
            "process where length(process.name) > 3",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).contains("Sigma cannot express the function `length()`"));
}

#[test]
fn cli_explains_every_rule_of_a_directory_and_reads_stdin() {
    let o = eqlc(&["explain", "rules"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let titles = out.lines().filter(|l| l.starts_with("━━━ rules/")).count();
    assert_eq!(titles, 14, "every EQL document of rules/");
    assert!(text(&o.stderr).contains("apm_403_response_to_a_post.toml: nothing to explain"));

    let mut child = Command::new(env!("CARGO_BIN_EXE_eqlc"))
        .args(["explain", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"file where file.path : \"*\\\\evil.dll\"\n")
            .expect("write");
    }
    let o = child.wait_with_output().expect("wait");
    assert!(o.status.success());
    let out = text(&o.stdout);
    assert!(out.starts_with("━━━ -\n"), "{out}");
    assert!(out.contains("leading wildcard on `file.path`"), "{out}");
}
