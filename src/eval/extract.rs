//! Decoding only what the rules read: an event line is parsed once, and the values of the
//! fields some rule needs are kept (borrowed from the line where the JSON has no escapes),
//! while everything else is skipped without being built.
//!
//! Field names resolve as in [`super::document`]: a dotted name goes through nested objects
//! and literal dotted keys alike, arrays contribute every element, and `null` is missing.

use std::borrow::Cow;
use std::fmt;

use bumpalo::Bump;

use super::document::{Document, FieldRef, FieldValue};

/// The fields to keep, as a tree of name segments.
#[derive(Debug, Clone)]
pub struct FieldTrie {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    children: Children,
    slot: Option<u32>,
}

const ROOT: u32 = 0;

/// A node's children by name segment. Every key of every event is looked up here, so the
/// lookup is one cheap hash (of the name's length and three of its bytes, seeded until no two
/// children share a slot) and one comparison. Names no seed separates keep a hash map.
#[derive(Debug, Clone, Default)]
struct Children {
    // foldhash: several times faster than SipHash on short keys, and the names come from
    // trusted rules, not from events.
    map: foldhash::HashMap<Box<str>, u32>,
    /// One slot per hash value: the name there and its node; empty when `map` is used.
    table: Vec<(Box<str>, u32)>,
    seed: u64,
}

/// The slot hash of [`Children`].
fn slot_hash(name: &[u8], seed: u64) -> u64 {
    let sampled = match name {
        [] => 0,
        [first, ..] => {
            u64::from(*first)
                | u64::from(name[name.len() / 2]) << 8
                | u64::from(name[name.len() - 1]) << 16
        }
    };
    ((sampled << 16 | name.len() as u64) ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40
}

impl Children {
    fn insert(&mut self, name: &str, next: u32) -> u32 {
        *self.map.entry(name.into()).or_insert(next)
    }

    /// Lay the table out once every child is known.
    fn seal(&mut self) {
        self.table.clear();
        if self.map.is_empty() {
            return;
        }
        let mut size = (self.map.len() * 2).next_power_of_two();
        while size <= self.map.len() * 16 {
            for seed in 0..64u64 {
                let mut table = vec![(Box::<str>::default(), NO_NODE); size];
                let separated = self.map.iter().all(|(name, &node)| {
                    let slot = &mut table[slot_hash(name.as_bytes(), seed) as usize & (size - 1)];
                    let free = slot.1 == NO_NODE;
                    *slot = (name.clone(), node);
                    free
                });
                if separated {
                    self.table = table;
                    self.seed = seed;
                    return;
                }
            }
            size *= 2;
        }
    }

    fn get(&self, name: &str) -> Option<u32> {
        if self.table.is_empty() {
            return match self.map.is_empty() {
                true => None,
                false => self.map.get(name).copied(),
            };
        }
        let slot = slot_hash(name.as_bytes(), self.seed) as usize & (self.table.len() - 1);
        let (held, node) = &self.table[slot];
        (*node != NO_NODE && same_bytes(held.as_bytes(), name.as_bytes())).then_some(*node)
    }
}

/// `a == b` for short names without a call to `memcmp`, which costs more than the comparison
/// itself at these lengths (most keys are under 16 bytes).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| s.get(at..at + 8).and_then(|w| <[u8; 8]>::try_from(w).ok());
    match n {
        0..8 => a.iter().zip(b).all(|(x, y)| x == y),
        // Two overlapping words cover 8 to 16 bytes.
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// An empty slot of [`Children::table`].
const NO_NODE: u32 = u32::MAX;

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
                let child = trie.nodes[node].children.insert(segment, next);
                if child == next {
                    trie.nodes.push(Node::default());
                }
                node = child as usize;
            }
            trie.nodes[node].slot = Some(field.slot() as u32);
        }
        for node in &mut trie.nodes {
            node.children.seal();
        }
        trie
    }

    /// The node a (possibly dotted) key leads to from `node`.
    fn step(&self, node: u32, key: &str) -> Option<u32> {
        // Names in the trie have no dots, so most keys take one lookup, and only a key that
        // fails it is looked for a dot.
        let children = &self.nodes[node as usize].children;
        if let Some(child) = children.get(key) {
            return Some(child);
        }
        memchr::memchr(b'.', key.as_bytes())?;
        let mut at = node;
        for segment in key.split('.') {
            at = self.nodes[at as usize].children.get(segment)?;
        }
        Some(at)
    }

    /// Decode `line` (one JSON object) into `event`, replacing what it held. Strings with
    /// escapes are unescaped into `arena`, which must outlive the event's use. The whole
    /// line is checked to be JSON, the fields no rule reads included.
    pub fn decode<'l>(
        &self,
        line: &'l str,
        arena: &'l Bump,
        event: &mut DecodedEvent<'l>,
    ) -> Result<(), DecodeError> {
        event.entries.clear();
        event.slots.clear();
        event.values.clear();
        let mut reader = Reader {
            text: line,
            bytes: line.as_bytes(),
            at: 0,
            trie: self,
            arena,
            entries: &mut event.entries,
            scratch: &mut event.scratch,
        };
        if let Err(e) = reader.root() {
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
    /// An escaped string being unescaped.
    scratch: String,
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

/// Why a line is not a JSON object, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    message: &'static str,
    /// 1-based, in bytes.
    column: usize,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} at column {}", self.message, self.column)
    }
}

impl std::error::Error for DecodeError {}

/// How deeply arrays and objects may nest (as serde_json allows): deeper lines are an
/// error, not a stack overflow.
const MAX_DEPTH: usize = 128;

/// Bytes that end the plain run of a JSON string: the closing quote, a backslash, and the
/// control characters JSON forbids inside strings.
static STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// A JSON reader over one line that keeps the values of the trie's fields and only checks
/// the rest. Hand-written rather than serde's visitors: decoding is the largest part of the
/// evaluator's work per event, and this reads each byte once with no dispatch per value.
struct Reader<'l, 'r> {
    text: &'l str,
    bytes: &'l [u8],
    at: usize,
    trie: &'r FieldTrie,
    arena: &'l Bump,
    entries: &'r mut Vec<(u32, FieldValue<'l>)>,
    /// An escaped string, unescaped (the event's buffer, reused from line to line).
    scratch: &'r mut String,
}

/// Where [`Reader::text`] left a string.
enum Text<'l> {
    Borrowed(&'l str),
    /// In the reader's `scratch`.
    Unescaped,
}

impl<'l> Reader<'l, '_> {
    fn error<T>(&self, message: &'static str) -> Result<T, DecodeError> {
        Err(DecodeError {
            message,
            column: self.at + 1,
        })
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.at).copied()
    }

    fn root(&mut self) -> Result<(), DecodeError> {
        match self.peek() {
            Some(b'{') => self.object(Some(ROOT), 1)?,
            _ => return self.error("not a JSON object"),
        }
        match self.peek() {
            None => Ok(()),
            Some(_) => self.error("trailing characters"),
        }
    }

    /// A value at `node` of the trie (`None`: no rule reads it, so it is only checked).
    fn value(&mut self, node: Option<u32>, depth: usize) -> Result<(), DecodeError> {
        let slot = node.and_then(|n| self.trie.nodes[n as usize].slot);
        let kept = match self.peek() {
            Some(b'"') => {
                if slot.is_none() {
                    return self.skip_string();
                }
                FieldValue::Text(self.string()?)
            }
            Some(b'{') => return self.object(node, depth + 1),
            Some(b'[') => return self.array(node, depth + 1),
            Some(b't') => {
                self.literal(b"true")?;
                FieldValue::Bool(true)
            }
            Some(b'f') => {
                self.literal(b"false")?;
                FieldValue::Bool(false)
            }
            Some(b'n') => return self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => return self.error("expected a value"),
            None => return self.error("unexpected end of line"),
        };
        if let Some(slot) = slot {
            self.entries.push((slot, kept));
        }
        Ok(())
    }

    fn object(&mut self, node: Option<u32>, depth: usize) -> Result<(), DecodeError> {
        self.members(b'}', depth, |reader| {
            if reader.peek() != Some(b'"') {
                return reader.error("expected a key");
            }
            let child = match node {
                Some(node) => {
                    let trie = reader.trie;
                    trie.step(node, reader.key()?)
                }
                None => {
                    reader.skip_string()?;
                    None
                }
            };
            if reader.peek() != Some(b':') {
                return reader.error("expected `:`");
            }
            reader.at += 1;
            reader.value(child, depth)
        })
    }

    /// Arrays contribute every element to their field, nested arrays included.
    fn array(&mut self, node: Option<u32>, depth: usize) -> Result<(), DecodeError> {
        self.members(b']', depth, |reader| reader.value(node, depth))
    }

    /// The members of an object or array (`at` on its opening bracket), each read by
    /// `member`, separated by commas up to `close`.
    fn members(
        &mut self,
        close: u8,
        depth: usize,
        mut member: impl FnMut(&mut Self) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return self.error("nested too deeply");
        }
        self.at += 1;
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(());
        }
        loop {
            member(self)?;
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(next) if next == close => {
                    self.at += 1;
                    return Ok(());
                }
                _ if close == b'}' => return self.error("expected `,` or `}`"),
                _ => return self.error("expected `,` or `]`"),
            }
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), DecodeError> {
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            self.error("expected a value")
        }
    }

    /// A number, checked against JSON's grammar, with its value as serde_json gives it: an
    /// integer when it is one and fits 64 bits, a float otherwise; a float past f64's range
    /// is an error, as there.
    fn number(&mut self) -> Result<FieldValue<'static>, DecodeError> {
        let start = self.at;
        let digits = |reader: &mut Self| {
            let from = reader.at;
            while reader.bytes.get(reader.at).is_some_and(u8::is_ascii_digit) {
                reader.at += 1;
            }
            reader.at - from
        };
        if self.bytes[self.at] == b'-' {
            self.at += 1;
        }
        match self.bytes.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return self.error("expected a digit"),
        }
        let mut integer = true;
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            integer = false;
            if digits(self) == 0 {
                return self.error("expected a digit");
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
            integer = false;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return self.error("expected a digit");
            }
        }
        let text = &self.text[start..self.at];
        if integer {
            match text.parse::<i64>() {
                // serde_json reads `-0` as the float -0.0.
                Ok(0) if text.starts_with('-') => return Ok(FieldValue::Float(-0.0)),
                Ok(i) => return Ok(FieldValue::Integer(i)),
                Err(_) => {}
            }
            if let Ok(u) = text.parse::<u64>() {
                return Ok(FieldValue::Float(u as f64));
            }
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(FieldValue::Float(f)),
            _ => {
                self.at = start;
                self.error("number out of range")
            }
        }
    }

    /// The end of the plain run of a string from `at`: a quote, a backslash or a control
    /// character.
    fn plain_run(&self, from: usize) -> usize {
        let rest = &self.bytes[from..];
        from + rest
            .iter()
            .position(|&b| STRING_STOP[usize::from(b)])
            .unwrap_or(rest.len())
    }

    /// A string (`at` on its opening quote): borrowed from the line when it has no
    /// escapes, else unescaped into `scratch`.
    fn text(&mut self) -> Result<Text<'l>, DecodeError> {
        let start = self.at + 1;
        let end = self.plain_run(start);
        if self.bytes.get(end) == Some(&b'"') {
            self.at = end + 1;
            return Ok(Text::Borrowed(&self.text[start..end]));
        }
        // Taken out for the call, which borrows the reader too.
        let mut scratch = std::mem::take(self.scratch);
        scratch.clear();
        let unescaped = self.unescape(start, &mut scratch);
        *self.scratch = scratch;
        unescaped.map(|()| Text::Unescaped)
    }

    /// A string value, unescaped into the arena when it must be.
    fn string(&mut self) -> Result<&'l str, DecodeError> {
        Ok(match self.text()? {
            Text::Borrowed(text) => text,
            Text::Unescaped => self.arena.alloc_str(self.scratch),
        })
    }

    /// A key, looked up at once (so an unescaped one may stay in `scratch`).
    fn key(&mut self) -> Result<&str, DecodeError> {
        Ok(match self.text()? {
            Text::Borrowed(text) => text,
            Text::Unescaped => self.scratch,
        })
    }

    /// Check a string (`at` on its opening quote) and move past it.
    fn skip_string(&mut self) -> Result<(), DecodeError> {
        self.string_from(self.at + 1, None)
    }

    /// The string from `from` (after its opening quote) to its closing quote, unescaped
    /// into `out`.
    fn unescape(&mut self, from: usize, out: &mut String) -> Result<(), DecodeError> {
        self.string_from(from, Some(out))
    }

    /// Read on from `from` inside a string to past its closing quote, unescaping into `out`
    /// when given.
    fn string_from(
        &mut self,
        from: usize,
        mut out: Option<&mut String>,
    ) -> Result<(), DecodeError> {
        let mut at = from;
        loop {
            let end = self.plain_run(at);
            if let Some(out) = out.as_deref_mut() {
                out.push_str(&self.text[at..end]);
            }
            self.at = end;
            match self.bytes.get(end) {
                Some(b'"') => {
                    self.at = end + 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.escape(out.as_deref_mut())?;
                    at = self.at;
                }
                Some(_) => return self.error("control character in a string"),
                None => return self.error("unterminated string"),
            }
        }
    }

    /// One escape (`at` on its backslash), written to `out` when given.
    fn escape(&mut self, out: Option<&mut String>) -> Result<(), DecodeError> {
        let c = match self.bytes.get(self.at + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.at += 2;
                let first = self.hex4()?;
                let c = match first {
                    0xD800..=0xDBFF => {
                        // A leading surrogate: its trailing half must follow.
                        if !self.bytes[self.at..].starts_with(b"\\u") {
                            return self.error("lone surrogate in a \\u escape");
                        }
                        self.at += 2;
                        let second = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return self.error("lone surrogate in a \\u escape");
                        }
                        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                        char::from_u32(code)
                    }
                    0xDC00..=0xDFFF => None,
                    _ => char::from_u32(first),
                };
                let Some(c) = c else {
                    return self.error("lone surrogate in a \\u escape");
                };
                if let Some(out) = out {
                    out.push(c);
                }
                return Ok(());
            }
            _ => {
                self.at += 1;
                return self.error("invalid escape");
            }
        };
        self.at += 2;
        if let Some(out) = out {
            out.push(c);
        }
        Ok(())
    }

    /// Four hex digits.
    fn hex4(&mut self) -> Result<u32, DecodeError> {
        let Some(digits) = self.bytes.get(self.at..self.at + 4) else {
            return self.error("expected four hex digits");
        };
        let mut code = 0;
        for &d in digits {
            let Some(v) = char::from(d).to_digit(16) else {
                return self.error("expected four hex digits");
            };
            code = code * 16 + v;
        }
        self.at += 4;
        Ok(code)
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
    fn names_the_slot_hash_cannot_separate_fall_back_to_the_map() {
        // Same length, first, middle and last byte: the same slot under every seed.
        let names = ["r.axbxc", "r.aybyc", "r.q", "s"];
        let trie = FieldTrie::new(&fields(&names));
        let r = trie.nodes[0].children.get("r").expect("r");
        assert!(trie.nodes[r as usize].children.table.is_empty());
        assert!(!trie.nodes[0].children.table.is_empty());
        let line = r#"{"r": {"axbxc": 1, "aybyc": 2, "q": 3, "azbzc": 4}, "s": 5, "t": 6}"#;
        let arena = Bump::new();
        let mut event = DecodedEvent::new();
        trie.decode(line, &arena, &mut event).expect("decodes");
        let view = event.view();
        for (name, value) in names.iter().zip([1, 2, 3, 5]) {
            assert_eq!(
                view.values(name),
                vec![FieldValue::Integer(value)],
                "{name}"
            );
        }
    }

    #[test]
    fn same_bytes_is_equality() {
        let texts = [
            "",
            "a",
            "ab",
            "abcdefg",
            "abcdefgh",
            "abcdefgi",
            "bbcdefgh",
            "abcdefghijklmnop",
            "abcdefghijklmnoq",
            "xbcdefghijklmnop",
            "abcdefghijklmnopq",
            "abcdefghijklmnopr",
        ];
        for a in texts {
            for b in texts {
                assert_eq!(same_bytes(a.as_bytes(), b.as_bytes()), a == b, "{a} {b}");
            }
        }
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
