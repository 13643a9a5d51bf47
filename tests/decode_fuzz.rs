//! The evaluator's event decoder against serde_json, the reference parser.
//!
//! Properties (proptest):
//! 1. generated JSON objects (nested objects and arrays, dotted keys, escapes, astral
//!    characters, numbers of every kind): the decoder keeps, for every field asked for,
//!    exactly the values a full `serde_json::Value` parse gives (in any order);
//! 2. byte-level mutations of such objects and of real generated events: the decoder accepts
//!    a line exactly when serde_json parses it as an object.
//!
//! `EQLC_FUZZ_CASES=N` runs N cases per property (default: a few hundred).

use bumpalo::Bump;
use eqlc::eval::document::FieldRef;
use eqlc::eval::extract::{DecodedEvent, FieldTrie};
use eqlc::eval::{Document, JsonDocument};
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

mod fuzz_config;
use fuzz_config::config;

/// Keys drawn from a small set, so generated objects nest into the fields asked for.
const KEYS: &[&str] = &["a", "b", "c", "a.b", "b.c", "é", "\"q\"", "\\"];

/// The fields asked for: every path of up to three keys (dotted keys included).
fn fields() -> Vec<FieldRef> {
    let segments = ["a", "b", "c", "é", "\"q\"", "\\"];
    let mut names = Vec::new();
    for x in segments {
        names.push(x.to_string());
        for y in segments {
            names.push(format!("{x}.{y}"));
            for z in ["a", "b", "c"] {
                names.push(format!("{x}.{y}.{z}"));
            }
        }
    }
    names.iter().map(|n| FieldRef::new(n)).collect()
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-c]{0,3}",
        // Quotes, backslashes, control characters, non-ASCII and astral characters: every
        // kind of escape serde_json writes.
        "[\"\\\\\u{0}-\u{1f}/é€😀a]{0,6}",
        any::<String>(),
    ]
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::from),
        any::<u64>().prop_map(Number::from),
        any::<f64>().prop_filter_map("finite", Number::from_f64),
        (-1000i32..1000).prop_map(|i| Number::from_f64(f64::from(i) / 8.0).expect("finite")),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number().prop_map(Value::Number),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn object() -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(KEYS), json()), 0..8).prop_map(|pairs| {
        Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<Map<_, _>>(),
        )
    })
}

/// Whether serde_json reads `line` as one JSON object.
fn serde_accepts(line: &str) -> bool {
    matches!(serde_json::from_str::<Value>(line), Ok(Value::Object(_)))
}

fn decoder_accepts(trie: &FieldTrie, line: &str) -> bool {
    kept_values(trie, line).is_some()
}

/// A mutation of `line`: a byte removed, or a JSON-significant byte put in or over one.
fn mutate(line: &str, at: usize, kind: u8, byte: u8) -> String {
    let mut bytes = line.as_bytes().to_vec();
    let at = if bytes.is_empty() {
        0
    } else {
        at % bytes.len()
    };
    let significant = b"{}[]:,\"\\ 0-.eE+tfnu1\t\n\x01";
    let byte = significant[usize::from(byte) % significant.len()];
    match kind % 3 {
        0 if !bytes.is_empty() => {
            bytes.remove(at);
        }
        1 => bytes.insert(at, byte),
        _ if !bytes.is_empty() => bytes[at] = byte,
        _ => bytes.push(byte),
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Real events from the benchmark's generator (`gen_events.py --count 40 --seed 7`).
fn event_lines() -> Vec<String> {
    let sample = include_str!("fixtures/events-sample.ndjson");
    sample.lines().map(str::to_string).collect()
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn keeps_what_serde_json_reads(value in object()) {
        let trie = FieldTrie::new(&fields());
        for line in [value.to_string(), serde_json::to_string_pretty(&value).expect("json")] {
            let arena = Bump::new();
            let mut event = DecodedEvent::new();
            trie.decode(&line, &arena, &mut event).map_err(|e| {
                TestCaseError::fail(format!("rejected {line}: {e}"))
            })?;
            let view = event.view();
            let reference = JsonDocument(&value);
            // Compared as multisets: when an object spells one field both nested and dotted
            // (`{"a": {"b": 0}, "a.b": 1}`), the decoder lists the values in line order.
            for field in fields() {
                let kept = shown(view.field_values(&field).into_owned());
                let expected = shown(reference.field_values(&field).into_owned());
                prop_assert_eq!(kept, expected, "{} in {}", field.name(), line);
            }
        }
    }

    #[test]
    fn accepts_exactly_what_serde_json_accepts(
        value in object(),
        at in any::<usize>(),
        kind in any::<u8>(),
        byte in any::<u8>(),
        real in any::<prop::sample::Index>(),
    ) {
        let trie = FieldTrie::new(&fields());
        let events = event_lines();
        for line in [value.to_string(), real.get(&events).clone()] {
            let mutated = mutate(&line, at, kind, byte);
            prop_assert_eq!(
                decoder_accepts(&trie, &mutated),
                serde_accepts(&mutated),
                "{}", mutated
            );
        }
    }
}

/// The values the decoder keeps for every field, as multisets (see `keeps_what_serde_json_reads`).
fn kept_values(trie: &FieldTrie, line: &str) -> Option<Vec<Vec<String>>> {
    let arena = Bump::new();
    let mut event = DecodedEvent::new();
    trie.decode(line, &arena, &mut event).ok()?;
    let view = event.view();
    Some(
        fields()
            .iter()
            .map(|f| shown(view.field_values(f).into_owned()))
            .collect(),
    )
}

fn shown(values: Vec<eqlc::eval::FieldValue<'_>>) -> Vec<String> {
    let mut shown: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    shown.sort();
    shown
}

#[test]
fn edge_cases_agree_with_serde_json() {
    let trie = FieldTrie::new(&fields());
    for line in [
        "{}",
        " { } ",
        "{\"a\":1e400}",
        "{\"a\":-1e400}",
        "{\"a\":18446744073709551616}",
        "{\"a\":9223372036854775808}",
        "{\"a\":-9223372036854775808}",
        "{\"a\":-0}",
        "{\"a\":1E+2}",
        "{\"a\":1.5e-7}",
        "{\"a\":01}",
        "{\"a\":-}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        r#"{"a":"x\/y"}"#,
        r#"{"a":"\b\f\n\r\t\"\\"}"#,
        r#"{"a":"\u00e9\u20AC"}"#,
        r#"{"\u0061":{"b":1}}"#,
        r#"{"a.b":1,"a":{"b":2}}"#,
        r#"{"a":[[1,[2]],{"b":3}],"b":[]}"#,
        "{\"a\":\"\\ud83d\\ude00\"}",
        "{\"a\":\"\\ud83d\"}",
        "{\"a\":\"\\ude00\"}",
        "{\"a\":\"\\ud83dx\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\t\"}",
        "{\"a\":\"\u{7f}\"}",
        "{\"a\":[1,]}",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{\"a\":tru}",
        "{\"a\":nul}",
        "{\"a\":true}x",
        "{\"a\":{}}}",
        "[]",
        "\"a\"",
        "",
    ] {
        let expected = match serde_json::from_str::<Value>(line) {
            Ok(value @ Value::Object(_)) => Some(
                fields()
                    .iter()
                    .map(|f| shown(JsonDocument(&value).field_values(f).into_owned()))
                    .collect(),
            ),
            _ => None,
        };
        assert_eq!(kept_values(&trie, line), expected, "{line:?}");
    }
}
