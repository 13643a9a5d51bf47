//! Decoding only what the rules read: an event line is parsed once, and the values of the
//! fields some rule needs are kept (borrowed from the line where the JSON has no escapes),
//! while everything else is skipped without being built.
//!
//! Field names resolve as in [`super::document`]: a dotted name goes through nested objects
//! and literal dotted keys alike, arrays contribute every element, and `null` is missing.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::document::{Document, FieldRef, FieldValue};

/// The fields to keep, as a tree of name segments.
#[derive(Debug, Clone)]
pub struct FieldTrie {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    children: HashMap<Box<str>, u32>,
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
        let mut at = node;
        for segment in key.split('.') {
            at = *self.nodes[at as usize].children.get(segment)?;
        }
        Some(at)
    }

    /// Decode `line` (one JSON object) into `event`, replacing what it held.
    pub fn decode<'l>(
        &self,
        line: &'l str,
        event: &mut DecodedEvent<'l>,
    ) -> Result<(), serde_json::Error> {
        event.entries.clear();
        event.arena.clear();
        event.ready = false;
        let mut deserializer = serde_json::Deserializer::from_str(line);
        let result = RootSeed { trie: self, event }.deserialize(&mut deserializer);
        result.and_then(|()| deserializer.end())?;
        event.ready = true;
        Ok(())
    }
}

/// A value as decoded, before the event's strings are final.
#[derive(Debug, Clone, Copy)]
enum Stored<'l> {
    Bool(bool),
    Integer(i64),
    Float(f64),
    /// Borrowed from the line.
    Line(&'l str),
    /// Unescaped into the event's arena: byte range.
    Arena(u32, u32),
}

/// The needed fields of one event line; reusable across the lines of one buffer.
#[derive(Debug, Default)]
pub struct DecodedEvent<'l> {
    entries: Vec<(u32, Stored<'l>)>,
    arena: String,
    ready: bool,
}

impl<'l> DecodedEvent<'l> {
    /// An empty event, to decode into.
    pub fn new() -> DecodedEvent<'l> {
        DecodedEvent::default()
    }

    /// A readable view of the last decoded event.
    pub fn view(&self) -> EventView<'_> {
        let mut entries: Vec<(u32, FieldValue<'_>)> = if self.ready {
            self.entries
                .iter()
                .map(|&(slot, stored)| {
                    let value = match stored {
                        Stored::Bool(b) => FieldValue::Bool(b),
                        Stored::Integer(i) => FieldValue::Integer(i),
                        Stored::Float(f) => FieldValue::Float(f),
                        Stored::Line(s) => FieldValue::Text(s),
                        Stored::Arena(start, end) => {
                            FieldValue::Text(&self.arena[start as usize..end as usize])
                        }
                    };
                    (slot, value)
                })
                .collect()
        } else {
            Vec::new()
        };
        // Stable, so a field's values keep their order in the event.
        entries.sort_by_key(|&(slot, _)| slot);
        let (slots, values) = entries.into_iter().unzip();
        EventView { slots, values }
    }
}

/// The needed fields of one event, by slot.
#[derive(Debug, Clone, Default)]
pub struct EventView<'a> {
    slots: Vec<u32>,
    values: Vec<FieldValue<'a>>,
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
}

impl<'de> DeserializeSeed<'de> for RootSeed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(ValueVisitor {
            trie: self.trie,
            node: ROOT,
            event: self.event,
            root: true,
        })
    }
}

struct ValueSeed<'t, 'e, 'l> {
    trie: &'t FieldTrie,
    node: u32,
    event: &'e mut DecodedEvent<'l>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(ValueVisitor {
            trie: self.trie,
            node: self.node,
            event: self.event,
            root: false,
        })
    }
}

struct ValueVisitor<'t, 'e, 'l> {
    trie: &'t FieldTrie,
    node: u32,
    event: &'e mut DecodedEvent<'l>,
    root: bool,
}

impl<'l> ValueVisitor<'_, '_, 'l> {
    fn keep<E: de::Error>(self, value: Stored<'l>) -> Result<(), E> {
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
        self.keep(Stored::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.keep(Stored::Integer(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.keep(match i64::try_from(v) {
            Ok(i) => Stored::Integer(i),
            Err(_) => Stored::Float(v as f64),
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.keep(Stored::Float(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        self.keep(Stored::Line(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if self.root {
            return Err(E::custom("not a JSON object"));
        }
        if self.trie.nodes[self.node as usize].slot.is_none() {
            return Ok(());
        }
        // An escaped string: unescaped text lives in the event's arena.
        let start = self.event.arena.len();
        self.event.arena.push_str(v);
        let end = self.event.arena.len();
        match (u32::try_from(start), u32::try_from(end)) {
            (Ok(start), Ok(end)) => self.keep(Stored::Arena(start, end)),
            _ => Err(E::custom("event too large")),
        }
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
            trie, node, event, ..
        } = self;
        while seq
            .next_element_seed(ValueSeed {
                trie,
                node,
                event: &mut *event,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ValueVisitor {
            trie, node, event, ..
        } = self;
        while let Some(target) = map.next_key_seed(KeySeed { trie, node })? {
            match target {
                Some(child) => map.next_value_seed(ValueSeed {
                    trie,
                    node: child,
                    event: &mut *event,
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
        let mut event = DecodedEvent::new();
        trie.decode(line, &mut event).expect("decodes");
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
        let mut event = DecodedEvent::new();
        for bad in ["[1]", "\"a\"", "1", "null", "{\"a\": ", "{} x", "not json"] {
            assert!(trie.decode(bad, &mut event).is_err(), "{bad}");
            assert!(event.view().values("a").is_empty());
        }
    }

    #[test]
    fn hostile_depth_is_an_error_not_a_crash() {
        let line = format!("{}1{}", "{\"a\":".repeat(5000), "}".repeat(5000));
        let trie = FieldTrie::new(&fields(&[&vec!["a"; 5000].join(".")]));
        let mut event = DecodedEvent::new();
        assert!(trie.decode(&line, &mut event).is_err());
    }
}
