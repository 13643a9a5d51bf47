//! The sample matcher against the differential fixtures' `sample` rules
//! (`../shared/conformance/differential`, kind `Sample`): the samples must be exactly
//! `expected.txt`, compared as multisets (the oracle, Python eql, agrees with Elasticsearch on
//! these events: one sample per join key, every key field present). Skipped without `../shared`.

mod common;

use eqlc::driver::compile_query;
use eqlc::eval::sample::SampleMatcher;
use eqlc::eval::{Document, FieldValue, JsonDocument};
use eqlc::ir::QueryBody;

#[test]
fn differential_sample_rules() {
    let Some(fixtures) = common::differential_fixtures(&["Sample"]) else {
        return;
    };
    let mut checked = 0;
    for common::Fixture {
        rule_id,
        dir: fixture,
    } in &fixtures
    {
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
        let mut expected = common::expected_lines(fixture);
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "{rule_id}");
        checked += 1;
    }
    assert!(checked >= 1, "no sample fixture");
}
