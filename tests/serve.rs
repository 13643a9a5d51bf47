//! `eqlc serve` without a browser: the routes and the JSON API (request → JSON), and the
//! server itself over a socket for what only it does (body limits).
//! The page in a real Chromium is `scripts/serve_browser_test.py`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use eqlc::serve::{handle, Request, Response, Server, MAX_BODY};
use proptest::prelude::*;
use serde_json::{json, Value};

const RULE: &str = r#"[metadata]
creation_date = "2024/01/15"

[rule]
description = "A shell from Office — with a non-ASCII dash 😀."
from = "now-9m"
index = ["logs-endpoint.events.process-*"]
language = "eql"
name = "Shell From Office"
risk_score = 47
rule_id = "2b1d3c4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"
severity = "medium"
type = "eql"
query = '''
process where event.type == "start" and
  process.parent.name : ("winword.exe", "excel.exe") and
  process.name : ("cmd.exe", "powershell.exe")
'''
"#;

const EVENTS: &str = r#"{"@timestamp": "2024-01-15T10:00:00Z", "event": {"category": ["process"], "type": ["start"]}, "process": {"name": "cmd.exe", "parent": {"name": "WINWORD.EXE"}}}
{"@timestamp": "2024-01-15T10:00:01Z", "event": {"category": ["process"], "type": ["start"]}, "process": {"name": "cmd.exe", "parent": {"name": "explorer.exe"}}}
{"@timestamp": "2024-01-15T10:00:02Z", "event": {"category": ["process"], "type": ["start"]}, "process": {"name": "PowerShell.exe", "parent": {"name": "excel.exe"}}}
not json
{"@timestamp": "2024-01-15T10:00:03Z", "event": {"category": ["network"]}, "process": {"name": "cmd.exe", "parent": {"name": "winword.exe"}}}"#;

fn request<'a>(method: &'a str, path: &'a str, body: &'a [u8]) -> Request<'a> {
    Request {
        method,
        path,
        content_type: Some("application/json"),
        body,
    }
}

fn post(path: &str, body: Value) -> (u16, Value) {
    let bytes = body.to_string().into_bytes();
    let response = handle(&request("POST", path, &bytes));
    let json = serde_json::from_slice(&response.body).expect("the API answers JSON");
    (response.status, json)
}

fn translate(text: &str) -> Value {
    let (status, json) = post("/api/translate", json!({ "text": text }));
    assert_eq!(status, 200, "{json}");
    json
}

fn evaluate(text: &str, events: &str) -> Value {
    let (status, json) = post("/api/eval", json!({ "text": text, "events": events }));
    assert_eq!(status, 200, "{json}");
    json
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// The substring of `text` between two UTF-16 offsets, as JavaScript's `slice` would give.
fn js_slice(text: &str, start: u64, end: u64) -> String {
    let units: Vec<u16> = text.encode_utf16().collect();
    String::from_utf16_lossy(&units[start as usize..end as usize])
}

#[test]
fn page_and_assets_are_served_from_the_binary() {
    let page = handle(&request("GET", "/", b""));
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.text().contains("<textarea id=\"source\""));
    let policy = header(&page, "Content-Security-Policy").expect("the page has a CSP");
    assert!(policy.contains("default-src 'none'") && policy.contains("connect-src 'self'"));
    // Everything the page loads is local.
    for asset in ["/assets/app.js", "/assets/style.css", "/assets/favicon.svg"] {
        assert!(page.text().contains(asset), "{asset} linked");
        let response = handle(&request("GET", asset, b""));
        assert_eq!(response.status, 200, "{asset}");
        // No address anywhere but the SVG namespace, which names and fetches nothing.
        let text = response
            .text()
            .replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{asset}"
        );
    }
    assert_eq!(
        handle(&request("GET", "/assets/app.js?v=1", b"")).content_type,
        "text/javascript; charset=utf-8"
    );
}

#[test]
fn only_the_four_routes_exist() {
    assert_eq!(handle(&request("GET", "/etc/passwd", b"")).status, 404);
    assert_eq!(
        handle(&request("GET", "/assets/../Cargo.toml", b"")).status,
        404
    );
    assert_eq!(handle(&request("GET", "/api/other", b"")).status, 404);
    let wrong = handle(&request("POST", "/", b"{}"));
    assert_eq!((wrong.status, header(&wrong, "Allow")), (405, Some("GET")));
    let wrong = handle(&request("GET", "/api/translate", b""));
    assert_eq!((wrong.status, header(&wrong, "Allow")), (405, Some("POST")));
    assert_eq!(handle(&request("DELETE", "/api/eval", b"")).status, 405);
}

#[test]
fn api_requires_json_bodies() {
    let plain = Request {
        content_type: Some("text/plain"),
        ..request("POST", "/api/translate", br#"{"text": "any where true"}"#)
    };
    assert_eq!(handle(&plain).status, 415);
    let none = Request {
        content_type: None,
        ..plain
    };
    assert_eq!(handle(&none).status, 415);
    let with_charset = Request {
        content_type: Some("application/json; charset=utf-8"),
        ..plain
    };
    assert_eq!(handle(&with_charset).status, 200);
    for body in [
        &b"not json"[..],
        b"{}",
        b"{\"text\": 5}",
        b"\xff\xfe",
        b"[]",
    ] {
        let response = handle(&request("POST", "/api/translate", body));
        assert_eq!(response.status, 400, "{}", response.text());
        let error: Value = serde_json::from_slice(&response.body).expect("JSON error");
        assert!(error["error"]
            .as_str()
            .is_some_and(|e| e.contains("expected")));
    }
    let response = handle(&request(
        "POST",
        "/api/eval",
        br#"{"text": "any where true"}"#,
    ));
    assert_eq!(response.status, 400, "events are required");
}

#[test]
fn oversized_bodies_are_refused() {
    let body = vec![b' '; MAX_BODY + 1];
    assert_eq!(
        handle(&request("POST", "/api/translate", &body)).status,
        413
    );
}

#[test]
fn translate_a_toml_rule_into_every_target() {
    let json = translate(RULE);
    assert_eq!(json["status"], "ok", "{json}");
    assert_eq!(json["format"], "toml");
    assert_eq!(json["rule"]["name"], "Shell From Office");
    assert_eq!(
        json["eql"]["text"],
        "process where event.type == \"start\" and process.parent.name : (\"winword.exe\", \"excel.exe\") and process.name : (\"cmd.exe\", \"powershell.exe\")"
    );
    let dsl: Value = serde_json::from_str(json["dsl"]["text"].as_str().expect("DSL text"))
        .expect("the DSL pane holds the JSON artifact");
    assert_eq!(dsl["kind"], "event");
    assert_eq!(dsl["index"], json!(["logs-endpoint.events.process-*"]));
    assert!(dsl["search"].to_string().contains("process.parent.name"));
    assert!(
        json["dsl"]["text"]
            .as_str()
            .unwrap_or("")
            .contains("\n  \"kind\""),
        "pretty-printed"
    );
    let sigma = json["sigma"]["text"].as_str().expect("Sigma text");
    assert!(sigma.contains("title: 'Shell From Office'") && sigma.contains("detection:"));
    let evaluator = &json["evaluator"];
    assert_eq!(evaluator["evaluable"], true);
    assert_eq!(evaluator["kind"], "event");
    let unit = &evaluator["units"][0];
    assert_eq!(unit["category"], "process");
    assert!(unit["matcher"]
        .as_str()
        .is_some_and(|m| m.contains("process.name equals one of \"cmd.exe\", \"powershell.exe\"")));
    assert!(!unit["prefilter"].as_array().expect("clauses").is_empty());
    assert_eq!(json["diagnostics"], json!([]));
}

#[test]
fn a_syntax_error_points_into_the_document() {
    let broken = RULE.replace("process where event", "process wher event");
    let json = translate(&broken);
    assert_eq!(json["status"], "error");
    let d = &json["diagnostics"][0];
    assert_eq!(d["severity"], "error");
    assert_eq!(
        d["message"],
        "expected `where` after event category `process`"
    );
    let line = broken
        .lines()
        .position(|l| l.starts_with("process wher"))
        .expect("query line")
        + 1;
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(line as u64), Some(9))
    );
    // The span is in UTF-16 code units: the emoji earlier in the text counts as two.
    let (start, end) = (
        d["start"].as_u64().expect("start"),
        d["end"].as_u64().expect("end"),
    );
    assert_eq!(js_slice(&broken, start, end), "wher");
    for pane in ["eql", "dsl", "sigma"] {
        assert_eq!(json[pane]["status"], "unavailable", "{pane}");
    }
    assert_eq!(json["evaluator"]["evaluable"], false);
}

#[test]
fn bare_queries_and_documents_are_told_apart() {
    let json = translate(
        "sequence by host.id with maxspan=1m\n  [process where true]\n  [network where true]",
    );
    assert_eq!(json["format"], "eql");
    assert_eq!(json["evaluator"]["kind"], "sequence");
    assert_eq!(json["evaluator"]["maxspan"], "1m");
    assert_eq!(json["evaluator"]["units"][1]["keys"], json!(["host.id"]));
    let markdown = "# Rule [r]\n\n**Rule type**: eql\n\n## Rule query [_q]\n\n```js\nprocess where process.name == \"x\"\n```\n";
    let json = translate(markdown);
    assert_eq!(json["format"], "markdown");
    assert_eq!(json["status"], "ok", "{json}");
}

#[test]
fn non_eql_rules_are_skipped() {
    let kql = "[rule]\nname = \"K\"\ntype = \"query\"\nlanguage = \"kuery\"\nquery = \"a:b\"\n";
    let json = translate(kql);
    assert_eq!(json["status"], "skipped");
    assert!(json["skip_reason"]
        .as_str()
        .is_some_and(|r| r.contains("query")));
    assert_eq!(json["dsl"]["status"], "unavailable");
    let (_, eval) = post("/api/eval", json!({ "text": kql, "events": "{}" }));
    assert_eq!(eval["status"], "error");
}

#[test]
fn a_target_that_cannot_express_the_rule_fails_alone() {
    let json = translate("process where length(process.name) > 3");
    assert_eq!(json["status"], "error");
    assert_eq!(json["eql"]["status"], "ok");
    assert_eq!(json["dsl"]["status"], "ok");
    assert_eq!(json["sigma"]["status"], "error");
    assert!(json["sigma"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("length()")));
    assert_eq!(json["evaluator"]["evaluable"], true);

    let json = translate("process where true | head 2 | tail 1");
    assert_eq!(json["evaluator"]["evaluable"], false);
    assert!(json["evaluator"]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("head")));
    assert_eq!(json["dsl"]["status"], "error");
}

#[test]
fn a_document_that_cannot_be_read_says_so() {
    let json = translate("[rule]\ntype = \"eql\"\nquery = '''unterminated\n");
    assert_eq!(json["status"], "error");
    assert_eq!(json["eql"]["status"], "unavailable");
    assert!(json["diagnostics"][0]["message"].as_str().is_some());
}

#[test]
fn eval_reports_which_events_match() {
    let json = evaluate(RULE, EVENTS);
    assert_eq!(json["status"], "ok", "{json}");
    assert_eq!(json["events"], 4);
    assert_eq!(json["bad_lines"], 1);
    assert_eq!(json["alert_count"], 2);
    assert_eq!(json["matched_lines"], json!([1, 3]));
    assert_eq!(json["alerts"][1]["lines"], json!([3]));
    assert!(json["alerts"][1]["events"][0]
        .as_str()
        .is_some_and(|e| e.contains("PowerShell.exe")));
    assert_eq!(json["warnings"], json!(["line 4: not a JSON object"]));
}

#[test]
fn eval_runs_sequences_in_timestamp_order_with_chosen_fields() {
    let query = "sequence by h [process where n == \"a\"] [process where n == \"b\"]";
    // Out of order on purpose: the whole sample is sorted by the timestamp field.
    let events = "{\"t\": 2, \"cat\": \"process\", \"h\": \"x\", \"n\": \"b\"}\n\
                  {\"t\": 1, \"cat\": \"process\", \"h\": \"x\", \"n\": \"a\"}\n\
                  {\"t\": 3, \"cat\": \"process\", \"h\": \"y\", \"n\": \"b\"}";
    let (status, json) = post(
        "/api/eval",
        json!({ "text": query, "events": events, "timestamp_field": "t", "category_field": "cat", "tiebreaker_field": "" }),
    );
    assert_eq!(status, 200);
    assert_eq!(json["alert_count"], 1, "{json}");
    assert_eq!(json["alerts"][0]["lines"], json!([2, 1]));
}

#[test]
fn eval_of_a_broken_rule_says_why() {
    let json = evaluate("process wher x", EVENTS);
    assert_eq!(json["status"], "error");
    assert!(json["message"]
        .as_str()
        .is_some_and(|m| m.contains("errors")));
    let json = evaluate("process where true | head 2 | tail 1", EVENTS);
    assert_eq!(json["status"], "error");
    let json = evaluate("any where true", "");
    assert_eq!(
        (json["status"].as_str(), json["events"].as_u64()),
        (Some("ok"), Some(0))
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever is typed or pasted, the API answers (no panic, which would be a 500).
    #[test]
    fn any_text_gets_an_answer(text in "\\PC{0,120}", events in "[{}\":a-z0-9 \\n,\\[\\]]{0,80}") {
        let (status, _) = post("/api/translate", json!({ "text": text }));
        prop_assert_eq!(status, 200);
        let (status, _) = post("/api/eval", json!({ "text": text, "events": events }));
        prop_assert_eq!(status, 200);
    }
}

/// A server on a free port, answering on its own threads for the rest of the test run.
fn server() -> std::net::SocketAddr {
    let server = Server::bind("127.0.0.1", 0).expect("binds a free port");
    let addr = server.addr();
    assert!(server.url().starts_with("http://127.0.0.1:"));
    std::thread::spawn(move || server.run());
    addr
}

/// Send raw request bytes, read the whole answer (the server closes or a timeout ends it).
fn exchange(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(head.as_bytes()).expect("writes the head");
    // The server may answer and close before reading all of a refused body.
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer_complete(&answer) {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

fn answer_complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_string())
        })
        .and_then(|v| v.parse::<usize>().ok());
    length.is_some_and(|n| body.len() >= n)
}

#[test]
fn the_server_answers_over_http() {
    let addr = server();
    let body = json!({ "text": "process where process.name : \"cmd.exe\"" }).to_string();
    let head = format!(
        "POST /api/translate HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let answer = exchange(addr, &head, body.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"status\":\"ok\""), "{answer}");
    assert!(answer
        .to_ascii_lowercase()
        .contains("x-content-type-options: nosniff"));

    let answer = exchange(
        addr,
        &format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
        b"",
    );
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("eqlc preview"));
}

#[test]
fn the_server_refuses_a_declared_large_body_unread() {
    let addr = server();
    // Only the head is sent: the answer must come from the declared length alone.
    let head = format!(
        "POST /api/translate HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        MAX_BODY * 4
    );
    let answer = exchange(addr, &head, b"");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[test]
fn the_server_refuses_a_large_chunked_body() {
    let addr = server();
    let chunk = vec![b'x'; 64 * 1024];
    let mut body = Vec::new();
    for _ in 0..(MAX_BODY / chunk.len() + 2) {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST /api/eval HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let answer = exchange(addr, &head, &body);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}
