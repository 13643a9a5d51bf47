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
///
/// Every key of every event is looked up here, so the tree is flat: all edges live in one
/// table, grouped by parent and, within a parent, by key length; a per-node index by length
/// narrows a lookup to the few edges of the key's length, which are told apart by their
/// first eight bytes in one comparison (no hashing, no pointer chasing per key).
#[derive(Debug, Clone)]
pub struct FieldTrie {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    /// Per node, `lens + 1` edge offsets from `Node::by_len`: the edges of key length `l`
    /// are `by_len[b + l]..by_len[b + l + 1]`.
    by_len: Vec<u32>,
    /// The bytes of each edge's key past its first eight.
    tails: Vec<u8>,
    /// One more than the largest slot kept (the size of a per-slot index).
    slot_count: usize,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    by_len: u32,
    /// One more than the longest key of an edge out of this node; 0 if there is none.
    lens: u32,
    slot: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Edge {
    /// The key's first eight bytes, zero-padded (keys of one length compare equal here
    /// exactly when their first eight bytes do).
    head: u64,
    /// Where the key's bytes past the eighth start in `tails`.
    tail: u32,
    child: u32,
}

const ROOT: u32 = 0;

fn head(key: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = key.len().min(8);
    bytes[..n].copy_from_slice(&key[..n]);
    u64::from_le_bytes(bytes)
}

impl FieldTrie {
    /// A trie of `fields`.
    pub fn new<'f>(fields: impl IntoIterator<Item = &'f FieldRef>) -> FieldTrie {
        // Built as a tree of sorted maps, then flattened.
        let mut children: Vec<std::collections::BTreeMap<(usize, Box<str>), u32>> =
            vec![Default::default()];
        let mut slots: Vec<Option<u32>> = vec![None];
        for field in fields {
            let mut node = ROOT as usize;
            for segment in field.name().split('.') {
                let next = children.len() as u32;
                let child = *children[node]
                    .entry((segment.len(), segment.into()))
                    .or_insert(next);
                if child == next {
                    children.push(Default::default());
                    slots.push(None);
                }
                node = child as usize;
            }
            slots[node] = Some(field.slot() as u32);
        }
        let mut trie = FieldTrie {
            nodes: Vec::with_capacity(children.len()),
            edges: Vec::new(),
            by_len: Vec::new(),
            tails: Vec::new(),
            slot_count: slots
                .iter()
                .flatten()
                .map(|&s| s as usize + 1)
                .max()
                .unwrap_or(0),
        };
        for (map, slot) in children.iter().zip(slots) {
            let lens = map.keys().map(|(len, _)| len + 1).max().unwrap_or(0);
            let by_len = trie.by_len.len() as u32;
            let mut keys = map.iter().peekable();
            for len in 0..=lens {
                trie.by_len.push(trie.edges.len() as u32);
                while let Some(((_, key), &child)) = keys.next_if(|((l, _), _)| *l == len) {
                    let key = key.as_bytes();
                    trie.edges.push(Edge {
                        head: head(key),
                        tail: trie.tails.len() as u32,
                        child,
                    });
                    trie.tails
                        .extend_from_slice(key.get(8..).unwrap_or_default());
                }
            }
            trie.nodes.push(Node {
                by_len,
                lens: lens as u32,
                slot,
            });
        }
        trie
    }

    /// The child of `node` whose key is one segment `key`.
    #[inline]
    fn child(&self, node: u32, key: &[u8]) -> Option<u32> {
        let node = &self.nodes[node as usize];
        let len = key.len();
        if len >= node.lens as usize {
            return None;
        }
        let at = node.by_len as usize + len;
        let (lo, hi) = (self.by_len[at] as usize, self.by_len[at + 1] as usize);
        if lo == hi {
            return None;
        }
        let head = head(key);
        self.edges[lo..hi]
            .iter()
            .find(|e| {
                e.head == head
                    && (len <= 8 || {
                        let tail = e.tail as usize;
                        self.tails[tail..tail + len - 8] == key[8..]
                    })
            })
            .map(|e| e.child)
    }

    /// The node a (possibly dotted) key leads to from `node`.
    fn step(&self, node: u32, key: &str) -> Option<u32> {
        // No edge's key has a dot, so a hit is a one-segment key: most keys, found without
        // scanning for dots first.
        let found = self.child(node, key.as_bytes());
        if found.is_some() || memchr::memchr(b'.', key.as_bytes()).is_none() {
            return found;
        }
        let mut at = node;
        for segment in key.split('.') {
            at = self.child(at, segment.as_bytes())?;
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
        event.begin(self.slot_count);
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
        event.finish();
        Ok(())
    }
}

/// Where one slot's values are in a decoded event; current only if `stamp` is the event's.
#[derive(Debug, Clone, Copy, Default)]
struct SlotRange {
    stamp: u32,
    start: u32,
    end: u32,
}

/// The needed fields of one event line, by slot; its buffers are reused across the lines
/// of one share.
#[derive(Debug, Default)]
pub struct DecodedEvent<'l> {
    /// The kept values in event order, as decoded.
    entries: Vec<(u32, FieldValue<'l>)>,
    /// The same, ordered by slot (stably).
    slots: Vec<u32>,
    values: Vec<FieldValue<'l>>,
    /// By slot, where its values are: a lookup without searching. Stamped rather than
    /// cleared, so starting an event costs nothing per slot.
    index: Vec<SlotRange>,
    stamp: u32,
    /// The slots present, to order them.
    present: Vec<u32>,
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
            index: &self.index,
            stamp: self.stamp,
        }
    }

    /// Forget the last event (the view is empty until `finish`).
    fn begin(&mut self, slot_count: usize) {
        self.entries.clear();
        self.slots.clear();
        self.values.clear();
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            // Wrapped: old stamps could come back to life.
            self.index.fill(SlotRange::default());
            self.stamp = 1;
        }
        if self.index.len() < slot_count {
            self.index.resize(slot_count, SlotRange::default());
        }
    }

    /// Order the entries by slot (a counting sort: stable, and cheaper than moving the
    /// entries through a comparison sort) and index them.
    fn finish(&mut self) {
        let stamp = self.stamp;
        self.present.clear();
        for &(slot, _) in &self.entries {
            let range = &mut self.index[slot as usize];
            if range.stamp != stamp {
                *range = SlotRange {
                    stamp,
                    start: 0,
                    end: 0,
                };
                self.present.push(slot);
            }
            range.end += 1;
        }
        self.present.sort_unstable();
        let mut at = 0;
        for &slot in &self.present {
            let range = &mut self.index[slot as usize];
            let count = range.end;
            // `end` is the fill cursor until the scatter below is done.
            range.start = at;
            range.end = at;
            at += count;
        }
        self.slots.resize(self.entries.len(), 0);
        self.values
            .resize(self.entries.len(), FieldValue::Bool(false));
        for &(slot, value) in &self.entries {
            let range = &mut self.index[slot as usize];
            let i = range.end as usize;
            self.slots[i] = slot;
            self.values[i] = value;
            range.end += 1;
        }
    }
}

/// The needed fields of one event, by slot.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    slots: &'a [u32],
    values: &'a [FieldValue<'a>],
    index: &'a [SlotRange],
    stamp: u32,
}

impl<'a> EventView<'a> {
    /// Every kept value with its field's slot, in slot order.
    pub fn entries(&self) -> impl Iterator<Item = (u32, &FieldValue<'a>)> + '_ {
        self.slots.iter().copied().zip(self.values)
    }
}

impl Document for EventView<'_> {
    fn field_values(&self, field: &FieldRef) -> Cow<'_, [FieldValue<'_>]> {
        match self.index.get(field.slot()) {
            Some(range) if range.stamp == self.stamp => {
                Cow::Borrowed(&self.values[range.start as usize..range.end as usize])
            }
            _ => Cow::Borrowed(&[]),
        }
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
