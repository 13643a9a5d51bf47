//! The sample matcher against the differential fixtures' `sample` rules
//! (`../shared/conformance/differential`, kind `Sample`): the samples must be exactly
//! `expected.txt`, compared as multisets (the oracle, Python eql, agrees with Elasticsearch on
//! these events: one sample per join key, every key field present). Skipped without `../shared`.

use std::path::Path;

use eqlc::driver::compile_query;
use eqlc::eval::sample::SampleMatcher;
use eqlc::eval::{Document, FieldValue, JsonDocument};
use eqlc::ir::QueryBody;

#[test]
fn differential_sample_rules() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/differential");
    let Ok(summary) = std::fs::read_to_string(dir.join("SUMMARY.tsv")) else {
        eprintln!("skipped: ../shared/conformance/differential is not here");
        return;
    };
    let mut checked = 0;
    for line in summary.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [rule_id, "ok", "Sample", ..] = cols.as_slice() else {
            continue;
        };
        let fixture = dir.join(rule_id);
        let eql = std::fs::read_to_string(fixture.join("query.eql")).expect("query");
        let query = compile_query(&eql).expect("compiles");
        let QueryBody::Sample(sample) = &query.body else {
            panic!("{rule_id}: not a sample")
        };
        let mut matcher = SampleMatcher::<i64>::new(sample).expect("evaluable");
        let events = std::fs::read_to_string(fixture.join("events.ndjson")).expect("events");
        for line in events.lines().filter(|l| !l.trim().is_empty()) {
            let event: serde_json::Value = serde_json::from_str(line).expect("json");
            let doc = JsonDocument(&event);
            let id = match doc.values("serial_event_id").first() {
                Some(FieldValue::Integer(i)) => *i,
                _ => -1,
            };
            matcher.push(&id, &doc, &doc.values("event.category"));
        }
        let mut got: Vec<String> = matcher
            .finish()
            .iter()
            .map(|s| {
                s.events
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        let mut expected: Vec<String> = std::fs::read_to_string(fixture.join("expected.txt"))
            .expect("expected")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "{rule_id}");
        checked += 1;
    }
    assert!(checked >= 1, "no sample fixture");
}
