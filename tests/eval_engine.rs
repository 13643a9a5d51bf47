//! The evaluator's fast path (literal prefilter, partial decoding, parallel blocks, reorder
//! buffer) against its reference path (every event decoded in full, every rule tested) and
//! against the differential fixtures' expectations (`../shared/conformance/differential`),
//! with each fixture's rule run as `eqlc eval` runs rules. Skipped without `../shared`.

mod common;

use eqlc::document::bare_eql;
use eqlc::driver::compile_query;
use eqlc::eval::engine::{Alert, Engine, EngineOptions, EventFields, Observer, RawScan};
use eqlc::eval::run::{alert_ids, compile_rule, CompiledRule};

/// Fixtures whose alerts, run through the engine, equal `expected.txt` as multisets. The
/// reasons for the few that do not are in `eval_differential.rs` (oracle defects).
const AGREEING_AT_LEAST: usize = 698;

struct Ids(Vec<String>);

impl Observer for Ids {
    fn alert(&mut self, _: &CompiledRule, alert: &Alert) -> std::io::Result<()> {
        self.0.push(alert_ids(alert, "serial_event_id"));
        Ok(())
    }
    fn warn(&mut self, _: String) {}
}

fn run(rule: CompiledRule, events: &[u8], reference: bool, raw_scan: RawScan) -> Vec<String> {
    let options = EngineOptions {
        fields: EventFields {
            category: "event.category".into(),
            timestamp: "@timestamp".into(),
            tiebreaker: None,
        },
        reference,
        raw_scan,
        ..EngineOptions::default()
    };
    let mut engine = Engine::new(vec![rule], options);
    let mut ids = Ids(Vec::new());
    engine.run(events, &mut ids).expect("runs");
    ids.0
}

#[test]
fn fast_path_equals_reference_path_and_fixtures() {
    let Some(fixtures) = common::differential_fixtures(&[]) else {
        return;
    };
    let mut compared = 0;
    let mut agreeing = 0;
    let mut differences = Vec::new();
    for common::Fixture {
        rule_id,
        dir: fixture,
    } in &fixtures
    {
        let Ok(eql) = std::fs::read_to_string(fixture.join("query.eql")) else {
            continue;
        };
        let Ok(query) = compile_query(&eql) else {
            continue;
        };
        let Ok(rule) = compile_rule(rule_id, &bare_eql(&eql), &query) else {
            continue;
        };
        let events = std::fs::read(fixture.join("events.ndjson")).expect("events");
        // The fast path with the raw-text prefilter and without it (decoded-value index only).
        let fast = run(rule.clone(), &events, false, RawScan::Always);
        let unscanned = run(rule.clone(), &events, false, RawScan::Never);
        let reference = run(rule, &events, true, RawScan::Always);
        compared += 1;
        if fast != reference {
            differences.push(format!("{rule_id}: fast {fast:?}, reference {reference:?}"));
        }
        if unscanned != reference {
            differences.push(format!(
                "{rule_id}: without the raw scan {unscanned:?}, reference {reference:?}"
            ));
        }
        let mut expected = common::expected_lines(fixture);
        let mut got = fast;
        got.sort();
        expected.sort();
        agreeing += usize::from(got == expected);
    }
    eprintln!("{compared} fixtures compared, {agreeing} agree with expected.txt");
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    assert!(
        agreeing >= AGREEING_AT_LEAST,
        "{agreeing} agree, fewer than {AGREEING_AT_LEAST}"
    );
}
