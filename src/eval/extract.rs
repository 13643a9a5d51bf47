//! Decoding only what the rules read: an event line is parsed once, and the values of the
//! fields some rule needs are kept (borrowed from the line where the JSON has no escapes),
//! while everything else is skipped without being built.
//!
//! Field names resolve as in [`super::document`]: a dotted name goes through nested objects
//! and literal dotted keys alike, arrays contribute every element, and `null` is missing.

use std::borrow::Cow;
use std::fmt;

use bumpalo::Bump;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::document::{Document, FieldRef, FieldValue};

/// The fields to keep, as a tree of name segments.
#[derive(Debug, Clone)]
pub struct FieldTrie {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    // Every key of every event is looked up here: foldhash is several times faster than the
    // default SipHash on short keys, and keys come from trusted rules, not from events.
    children: foldhash::HashMap<Box<str>, u32>,
    slot: Option<u32>,
}

const ROOT: u32 = 0;

impl FieldTrie {
    /// A trie of `fields`.
    pub fn new<'f>(fields: impl IntoIterator<Item = &'f FieldRef>) -> FieldTrie {
        let mut trie = FieldTrie {
            nodes: vec![Node::default()],
        };
        for field in fields {
            let mut node = ROOT as usize;
            for segment in field.name().split('.') {
                let next = trie.nodes.len() as u32;
                let child = *trie.nodes[node]
                    .children
                    .entry(segment.into())
                    .or_insert(next);
                if child == next {
                    trie.nodes.push(Node::default());
                }
                node = child as usize;
            }
            trie.nodes[node].slot = Some(field.slot() as u32);
        }
        trie
    }

    /// The node a (possibly dotted) key leads to from `node`.
    fn step(&self, node: u32, key: &str) -> Option<u32> {
        // Most keys are one segment: one lookup, no splitting.
        if memchr::memchr(b'.', key.as_bytes()).is_none() {
            return self.nodes[node as usize].children.get(key).copied();
        }
        let mut at = node;
        for segment in key.split('.') {
            at = *self.nodes[at as usize].children.get(segment)?;
        }
        Some(at)
    }

    /// Decode `line` (one JSON object) into `event`, replacing what it held. Strings with
    /// escapes are unescaped into `arena`, which must outlive the event's use.
    pub fn decode<'l>(
        &self,
        line: &'l str,
        arena: &'l Bump,
        event: &mut DecodedEvent<'l>,
    ) -> Result<(), serde_json::Error> {
        event.entries.clear();
        event.slots.clear();
        event.values.clear();
        let mut deserializer = serde_json::Deserializer::from_str(line);
        let result = RootSeed {
            trie: self,
            event: &mut *event,
            arena,
        }
        .deserialize(&mut deserializer);
        if let Err(e) = result.and_then(|()| deserializer.end()) {
            event.entries.clear();
            return Err(e);
        }
        // Stable, so a field's values keep their order in the event.
        event.entries.sort_by_key(|&(slot, _)| slot);
        event
            .slots
            .extend(event.entries.iter().map(|&(slot, _)| slot));
        event
            .values
            .extend(event.entries.iter().map(|&(_, value)| value));
        Ok(())
    }
}

/// The needed fields of one event line, by slot; its buffers are reused across the lines
/// of one share.
#[derive(Debug, Default)]
pub struct DecodedEvent<'l> {
    entries: Vec<(u32, FieldValue<'l>)>,
    slots: Vec<u32>,
    values: Vec<FieldValue<'l>>,
}

impl<'l> DecodedEvent<'l> {
    /// An empty event, to decode into.
    pub fn new() -> DecodedEvent<'l> {
        DecodedEvent::default()
    }

    /// A readable view of the last event decoded without error.
    pub fn view(&self) -> EventView<'_> {
        EventView {
            slots: &self.slots,
            values: &self.values,
        }
    }
}

/// The needed fields of one event, by slot.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    slots: &'a [u32],
    values: &'a [FieldValue<'a>],
}

impl<'a> EventView<'a> {
    /// Every kept value with its field's slot, in slot order.
    pub fn entries(&self) -> impl Iterator<Item = (u32, &FieldValue<'a>)> + '_ {
        self.slots.iter().copied().zip(self.values)
    }
}

impl Document for EventView<'_> {
    fn field_values(&self, field: &FieldRef) -> Cow<'_, [FieldValue<'_>]> {
        let slot = field.slot() as u32;
        let start = self.slots.partition_point(|&s| s < slot);
        let end = start + self.slots[start..].partition_point(|&s| s == slot);
        Cow::Borrowed(&self.values[start..end])
    }
}

struct RootSeed<'t, 'e, 'l> {
    trie: &'t FieldTrie,
    event: &'e mut DecodedEvent<'l>,
    arena: &'l Bump,
}

impl<'de> DeserializeSeed<'de> for RootSeed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(ValueVisitor {
            trie: self.trie,
            node: ROOT,
            event: self.event,
            arena: self.arena,
            root: true,
        })
    }
}

struct ValueSeed<'t, 'e, 'l> {
    trie: &'t FieldTrie,
    node: u32,
    event: &'e mut DecodedEvent<'l>,
    arena: &'l Bump,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(ValueVisitor {
            trie: self.trie,
            node: self.node,
            event: self.event,
            arena: self.arena,
            root: false,
        })
    }
}

struct ValueVisitor<'t, 'e, 'l> {
    trie: &'t FieldTrie,
    node: u32,
    event: &'e mut DecodedEvent<'l>,
    arena: &'l Bump,
    root: bool,
}

impl<'l> ValueVisitor<'_, '_, 'l> {
    fn keep<E: de::Error>(self, value: FieldValue<'l>) -> Result<(), E> {
        if self.root {
            return Err(E::custom("not a JSON object"));
        }
        if let Some(slot) = self.trie.nodes[self.node as usize].slot {
            self.event.entries.push((slot, value));
        }
        Ok(())
    }
}

impl<'de> Visitor<'de> for ValueVisitor<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.keep(FieldValue::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.keep(FieldValue::Integer(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.keep(match i64::try_from(v) {
            Ok(i) => FieldValue::Integer(i),
            Err(_) => FieldValue::Float(v as f64),
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.keep(FieldValue::Float(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        self.keep(FieldValue::Text(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if self.root {
            return Err(E::custom("not a JSON object"));
        }
        if self.trie.nodes[self.node as usize].slot.is_none() {
            return Ok(());
        }
        // An escaped string: the unescaped text lives in the arena.
        let text: &'de str = self.arena.alloc_str(v);
        self.keep(FieldValue::Text(text))
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        if self.root {
            return Err(E::custom("not a JSON object"));
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.root {
            return Err(de::Error::custom("not a JSON object"));
        }
        let ValueVisitor {
            trie,
            node,
            event,
            arena,
            ..
        } = self;
        while seq
            .next_element_seed(ValueSeed {
                trie,
                node,
                event: &mut *event,
                arena,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ValueVisitor {
            trie,
            node,
            event,
            arena,
            ..
        } = self;
        while let Some(target) = map.next_key_seed(KeySeed { trie, node })? {
            match target {
                Some(child) => map.next_value_seed(ValueSeed {
                    trie,
                    node: child,
                    event: &mut *event,
                    arena,
                })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Reads an object key as the trie node it leads to, if any, without allocating.
struct KeySeed<'t> {
    trie: &'t FieldTrie,
    node: u32,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<u32>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<u32>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<u32>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<u32>, E> {
        Ok(self.trie.step(self.node, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::JsonDocument;

    fn fields(names: &[&str]) -> Vec<FieldRef> {
        names.iter().map(|n| FieldRef::new(n)).collect()
    }

    #[test]
    fn keeps_the_same_values_as_a_full_parse() {
        let names = [
            "process.name",
            "process.args",
            "process.parent.pid",
            "file.path",
            "host.os.type",
            "dll.name",
            "user.name",
            "tags",
            "process",
            "big",
            "neg",
            "flag",
        ];
        let line = r#"{"process": {"name": "cmd.exe", "args": ["/c", "who\"ami"], "parent": {"pid": 4}},
            "file.path": "C:\\x", "host": {"os.type": "windows"}, "dll": [{"name": "a.dll"}, {"name": "b.dll"}],
            "user": {"name": null}, "tags": [], "big": 18446744073709551615, "neg": -1.5, "flag": true,
            "skipped": {"deep": [1, {"x": "y"}]}}"#;
        let trie = FieldTrie::new(&fields(&names));
        let arena = Bump::new();
        let mut event = DecodedEvent::new();
        trie.decode(line, &arena, &mut event).expect("decodes");
        let view = event.view();
        let json: serde_json::Value = serde_json::from_str(line).expect("json");
        for name in names {
            assert_eq!(
                view.values(name),
                JsonDocument(&json).values(name),
                "{name}"
            );
        }
        assert_eq!(
            view.values("file.path"),
            vec![FieldValue::Text("C:\\x")],
            "escaped strings are unescaped"
        );
        assert!(view.values("skipped.deep.x").is_empty(), "not asked for");
    }

    #[test]
    fn rejects_what_is_not_an_object() {
        let trie = FieldTrie::new(&fields(&["a"]));
        let arena = Bump::new();
        let mut event = DecodedEvent::new();
        for bad in ["[1]", "\"a\"", "1", "null", "{\"a\": ", "{} x", "not json"] {
            assert!(trie.decode(bad, &arena, &mut event).is_err(), "{bad}");
            assert!(event.view().values("a").is_empty());
        }
    }

    #[test]
    fn hostile_depth_is_an_error_not_a_crash() {
        let line = format!("{}1{}", "{\"a\":".repeat(5000), "}".repeat(5000));
        let trie = FieldTrie::new(&fields(&[&vec!["a"; 5000].join(".")]));
        let arena = Bump::new();
        let mut event = DecodedEvent::new();
        assert!(trie.decode(&line, &arena, &mut event).is_err());
    }
}
