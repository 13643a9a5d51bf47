//! Literal prefilters: for each condition, a set of strings at least one of which must appear
//! in the raw text of any event it matches. All of them are searched in one Aho-Corasick pass
//! over each event line, so an event is decoded and tested only against the conditions whose
//! literals it contains.
//!
//! Soundness rests on how a value appears in JSON text. A needle is written as a JSON string
//! body would carry it (`\` as `\\`, `"` as `\"`), and a line with a `\u` or `\/` escape,
//! which could spell a needle differently, skips the prefilter. Needles come only from string
//! constants that no number, boolean or date could equal, and wildcard literals that a
//! number's text could not contain. Matching ignores ASCII case, which is at least as loose as
//! any comparison the evaluator makes.

use aho_corasick::automaton::Automaton;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Anchored, MatchKind};
use rayon::prelude::*;

use super::condition::{Condition, FieldTest};
use super::document::{date_millis, FieldRef, FieldValue};
use super::extract::EventView;
use crate::ir::{CompareOp, Literal};

/// What must appear in the text of a matching event: every clause, each satisfied by any
/// one of its (JSON-escaped) strings. No clauses means nothing is known (every event is a
/// candidate); an empty clause means the condition can never hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The clauses, all required.
    pub clauses: Vec<Vec<String>>,
    /// The same clauses as what the decoded values of one field must show: the needles
    /// before they were written as JSON text, each tied to its field.
    pub keys: Vec<Vec<FieldKey>>,
}

impl Requirement {
    /// The requirement that every event meets.
    pub fn anything() -> Requirement {
        Requirement {
            clauses: Vec::new(),
            keys: Vec::new(),
        }
    }
}

/// What one decoded value of a field must show for a clause to be satisfied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldKey {
    /// The field.
    pub field: FieldRef,
    /// Where the text must be in the value.
    pub place: Place,
    /// The text, unescaped (compared ignoring ASCII case); empty for [`Place::Anywhere`]
    /// with no text, which is the field merely having a value.
    pub text: String,
}

/// Where a [`FieldKey`]'s text must be in a text value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    /// The field has a value (of any type); the text is empty.
    Present,
    /// The whole value.
    Whole,
    /// At its start.
    Start,
    /// At its end.
    End,
    /// Anywhere in it.
    Anywhere,
}

impl FieldKey {
    /// The needle a JSON line holding this value must contain.
    fn needle(&self) -> String {
        if self.place == Place::Present {
            // The field's last name segment closing a key, nested or dotted.
            let last = self.field.name().rsplit('.').next().unwrap_or_default();
            return json_string(last)[1..].to_string();
        }
        // A string value is written whole between quotes, so a needle that must begin or
        // end the value carries the quote there: far fewer places in a line spell it.
        let json = json_string(&self.text);
        let start = matches!(self.place, Place::Whole | Place::Start);
        let end = matches!(self.place, Place::Whole | Place::End);
        let (from, to) = (usize::from(!start), json.len() - usize::from(!end));
        json[from..to].to_string()
    }

    fn order(&self, other: &FieldKey) -> std::cmp::Ordering {
        (self.field.name(), self.place, &self.text).cmp(&(
            other.field.name(),
            other.place,
            &other.text,
        ))
    }
}

/// The requirement of a condition.
pub fn requirement(condition: &Condition) -> Requirement {
    let keys = select(needles(condition, Search::RawText));
    Requirement {
        clauses: keys
            .iter()
            .map(|c| {
                let mut needles: Vec<String> = c.iter().map(FieldKey::needle).collect();
                needles.sort();
                needles.dedup();
                needles
            })
            .collect(),
        keys: select(needles(condition, Search::DecodedValues)),
    }
}

/// The clauses worth searching for, out of all a condition has.
fn select(clauses: Option<Vec<Clause>>) -> Vec<Vec<FieldKey>> {
    let mut clauses = clauses.unwrap_or_default();
    // The most selective clauses first: not from common-value fields, then longest weakest
    // needle. A few are enough, and each costs bookkeeping per line.
    clauses.sort_by_cached_key(|c| (c.common, std::cmp::Reverse(c.weakest())));
    clauses.truncate(MAX_CLAUSES);
    // A common-value clause next to a selective one excludes almost nothing more, while its
    // needles hit nearly every line and cost bookkeeping on each.
    if clauses.first().is_some_and(|c| !c.common) {
        clauses.retain(|c| !c.common);
    }
    clauses
        .into_iter()
        .map(|c| {
            let mut keys = c.keys;
            keys.sort_by(FieldKey::order);
            keys.dedup();
            keys
        })
        .collect()
}

/// Where keys are searched for, which decides which are worth it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Search {
    /// Raw event lines, by one automaton over every byte: a short needle hits nearly every
    /// line and only costs time.
    RawText,
    /// Decoded values of the key's own field: whole values are hash lookups at any length,
    /// and a field merely having a value is exact.
    DecodedValues,
}

impl Search {
    fn worth_it(self, key: &FieldKey) -> bool {
        match self {
            Search::RawText => key.needle().len() >= MIN_NEEDLE,
            Search::DecodedValues => key.place == Place::Present || !key.text.is_empty(),
        }
    }
}

/// Needles below this length (quotes included) hit nearly every line and only cost time.
const MIN_NEEDLE: usize = 5;

/// Clauses kept per condition.
const MAX_CLAUSES: usize = 3;

/// Fields whose values are a few words shared by most events (ECS enumerations, agent and
/// data stream names): their needles select little, so other clauses are preferred.
const COMMON_VALUE_FIELDS: &[&str] = &[
    "event.",
    "host.os.",
    "os.",
    "data_stream.",
    "agent.",
    "ecs.",
    "network.",
    "cloud.provider",
];

/// One clause while requirements are worked out.
#[derive(Debug, Clone)]
struct Clause {
    keys: Vec<FieldKey>,
    /// From a field with common values.
    common: bool,
}

impl Clause {
    fn weakest(&self) -> usize {
        self.keys
            .iter()
            .map(|k| k.needle().len())
            .min()
            .unwrap_or(usize::MAX)
    }
}

/// A condition's clauses (all required), or `None` when nothing is known.
fn needles(condition: &Condition, search: Search) -> Option<Vec<Clause>> {
    match condition {
        Condition::Constant(false) => Some(vec![Clause {
            keys: Vec::new(),
            common: false,
        }]),
        Condition::All(operands) => {
            let clauses: Vec<Clause> = operands
                .iter()
                .filter_map(|o| needles(o, search))
                .flatten()
                .collect();
            (!clauses.is_empty()).then_some(clauses)
        }
        Condition::Any(operands) => {
            // One clause: for each operand, its best clause; any of their needles will do.
            let mut union = Clause {
                keys: Vec::new(),
                common: false,
            };
            for operand in operands {
                let best = needles(operand, search)?
                    .into_iter()
                    .min_by_key(|c| (c.common, std::cmp::Reverse(c.weakest())))?;
                union.keys.extend(best.keys);
                union.common |= best.common;
            }
            Some(vec![union])
        }
        Condition::Field { field, test } => {
            let common = COMMON_VALUE_FIELDS
                .iter()
                .any(|prefix| field.name().starts_with(prefix));
            match field_keys(field, test, search) {
                Some(keys) => Some(vec![Clause { keys, common }]),
                // The field must be there, so its last name segment is, as a key (nested or
                // dotted) just before a quote: weak, so ranked with common values.
                None => {
                    let present = FieldKey {
                        field: field.clone(),
                        place: Place::Present,
                        text: String::new(),
                    };
                    search.worth_it(&present).then(|| {
                        vec![Clause {
                            keys: vec![present],
                            common: true,
                        }]
                    })
                }
            }
        }
        Condition::Constant(true)
        | Condition::Not(_)
        | Condition::Missing(_)
        | Condition::Computed { .. } => None,
    }
}

fn field_keys(field: &FieldRef, test: &FieldTest, search: Search) -> Option<Vec<FieldKey>> {
    let key = |text: String, start: bool, end: bool| FieldKey {
        field: field.clone(),
        place: match (start, end) {
            (true, true) => Place::Whole,
            (true, false) => Place::Start,
            (false, true) => Place::End,
            (false, false) => Place::Anywhere,
        },
        text,
    };
    let whole_values = |literals: &[Literal]| -> Option<Vec<FieldKey>> {
        literals
            .iter()
            .map(|l| plain_string(l).map(|s| key(s, true, true)))
            .collect()
    };
    let keys: Vec<FieldKey> = match test {
        FieldTest::Compare(CompareOp::Eq, literal, _) => {
            vec![key(plain_string(literal)?, true, true)]
        }
        FieldTest::OneOf(literals, _) => whole_values(literals)?,
        FieldTest::OneOfMany(set) => whole_values(&set.literals)?,
        FieldTest::Like(wildcards) => wildcards
            .iter()
            .map(|w| {
                let (text, start, end) = w.longest_literal()?;
                // A number's text could match the pattern, and numbers have no quotes.
                (!could_be_in_a_number(&text)).then(|| key(text, start, end))
            })
            .collect::<Option<_>>()?,
        _ => return None,
    };
    keys.iter().all(|k| search.worth_it(k)).then_some(keys)
}

/// A string constant only a string value can equal.
fn plain_string(literal: &Literal) -> Option<String> {
    let Literal::String(s) = literal else {
        return None;
    };
    let numeric = s.trim().parse::<f64>().is_ok();
    let boolean = s == "true" || s == "false";
    (!numeric && !boolean && date_millis(s).is_none()).then(|| s.clone())
}

/// Whether `text` could be part of how the evaluator writes a number (digits, sign, point,
/// `inf`, `NaN`).
fn could_be_in_a_number(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_digit() || "-+.eEinfaINFA".contains(c))
}

/// `text` as a JSON string, quotes included, written as encoders write it: only the
/// escapes JSON requires (serde_json's compact form).
fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Whether a line spells characters with escapes a needle would not match (`\uXXXX`, `\/`).
pub fn has_opaque_escapes(line: &[u8]) -> bool {
    // Most lines have neither `\u` nor `\/` anywhere; only those that do need the exact scan,
    // which tells `\\u` (an escaped backslash before a `u`) from `\u`.
    if memchr::memmem::find(line, b"\\u").is_none() && memchr::memmem::find(line, b"\\/").is_none()
    {
        return false;
    }
    let mut at = 0;
    while let Some(offset) = memchr::memchr(b'\\', &line[at..]) {
        let escape = at + offset + 1;
        match line.get(escape) {
            Some(b'u' | b'/') => return true,
            Some(_) => at = escape + 1,
            None => return false,
        }
    }
    false
}

/// Which conditions a set of satisfied (condition, clause) pairs makes candidates: the
/// bookkeeping shared by the raw-text [`Prefilter`] and the decoded-value [`FieldIndex`].
#[derive(Debug, Clone, Default)]
struct Admission {
    /// For each key (needle), the (condition, clause) pairs it satisfies.
    admits: Vec<Vec<(u32, u32)>>,
    /// For each condition, how many clauses it requires (0: always a candidate).
    required: Vec<u32>,
    /// Conditions with no requirement: always candidates.
    always: Vec<u32>,
    clauses: usize,
}

impl Admission {
    /// The bookkeeping for `requirements`, with `key_of` numbering each clause's items.
    fn new<K>(
        requirements: &[Requirement],
        clauses_of: impl Fn(&Requirement) -> &[Vec<K>],
        mut key_of: impl FnMut(&K) -> usize,
    ) -> Admission {
        let mut admission = Admission::default();
        let mut clauses = 0u32;
        for (i, requirement) in requirements.iter().enumerate() {
            let own = clauses_of(requirement);
            admission.required.push(own.len() as u32);
            if own.is_empty() {
                admission.always.push(i as u32);
            }
            for clause in own {
                // A condition with one clause needs no count: any of its keys admits it.
                let numbered = if own.len() == 1 { ONLY_CLAUSE } else { clauses };
                for item in clause {
                    let id = key_of(item);
                    if admission.admits.len() <= id {
                        admission.admits.resize(id + 1, Vec::new());
                    }
                    let admits = &mut admission.admits[id];
                    if admits.last() != Some(&(i as u32, numbered)) {
                        admits.push((i as u32, numbered));
                    }
                }
                if own.len() > 1 {
                    clauses += 1;
                }
            }
        }
        admission.clauses = clauses as usize;
        admission
    }

    /// Every condition a candidate, none excluded.
    fn everything(conditions: usize) -> Admission {
        Admission {
            admits: Vec::new(),
            required: vec![0; conditions],
            always: (0..conditions as u32).collect(),
            clauses: 0,
        }
    }

    /// Start a line: the unconditional conditions are chosen.
    fn begin(&self, counts: &mut Counts) {
        counts.chosen.resize(self.required.len().div_ceil(64), 0);
        for &condition in &self.always {
            choose(&mut counts.chosen, condition);
        }
        // Stamps instead of clearing: a clause or count belongs to this line only if it
        // carries this line's stamp.
        counts.stamp = counts.stamp.wrapping_add(1);
        if counts.stamp == 0 {
            counts.clause_stamps.clear();
            counts.conditions.clear();
            counts.stamp = 1;
        }
        counts.clause_stamps.resize(self.clauses, 0);
        counts.conditions.resize(self.required.len(), (0, 0));
    }

    /// Key `key` is on the line: conditions whose last missing clause it satisfies are
    /// chosen.
    fn admit(&self, counts: &mut Counts, key: usize) {
        let stamp = counts.stamp;
        for &(condition, clause) in &self.admits[key] {
            if clause == ONLY_CLAUSE {
                choose(&mut counts.chosen, condition);
                continue;
            }
            let seen = &mut counts.clause_stamps[clause as usize];
            if *seen == stamp {
                continue;
            }
            *seen = stamp;
            let count = &mut counts.conditions[condition as usize];
            if count.0 != stamp {
                *count = (stamp, 0);
            }
            count.1 += 1;
            if count.1 == self.required[condition as usize] {
                choose(&mut counts.chosen, condition);
            }
        }
    }
}

impl Admission {
    /// End a line: the chosen conditions into `candidates` (cleared first), in order, each
    /// once; whether there is any. The choice is cleared for the next line.
    fn end(counts: &mut Counts, candidates: &mut Vec<u32>) -> bool {
        candidates.clear();
        for (i, word) in counts.chosen.iter_mut().enumerate() {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                candidates.push(i as u32 * 64 + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
        !candidates.is_empty()
    }
}

/// Mark `condition` chosen: a bit set instead of a list, so a condition admitted twice is
/// listed once and the list comes out sorted without a sort.
fn choose(chosen: &mut [u64], condition: u32) {
    chosen[condition as usize / 64] |= 1 << (condition % 64);
}

/// The clause number of a condition's only clause, which is not counted.
const ONLY_CLAUSE: u32 = u32::MAX;

/// Per-line counts of satisfied clauses, reused from line to line.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    stamp: u32,
    /// Per clause: the stamp of the last line that satisfied it.
    clause_stamps: Vec<u32>,
    /// Per condition: (stamp, clauses satisfied on that line).
    conditions: Vec<(u32, u32)>,
    /// The conditions chosen on this line, one bit each (all clear between lines).
    chosen: Vec<u64>,
}

/// The needles of many conditions, searched together in raw event lines.
#[derive(Debug, Clone)]
pub struct Prefilter {
    automaton: Option<AhoCorasick>,
    admission: Admission,
}

impl Prefilter {
    /// A prefilter over `requirements` (one per condition, by index).
    pub fn new(requirements: &[Requirement]) -> Prefilter {
        let mut needles: Vec<String> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        let admission = Admission::new(
            requirements,
            |r| &r.clauses,
            |needle: &String| {
                // Case is ignored, so needles differing only in case are one.
                let key = needle.to_ascii_lowercase();
                *index.entry(key.clone()).or_insert_with(|| {
                    needles.push(key);
                    needles.len() - 1
                })
            },
        );
        let automaton = (!needles.is_empty())
            .then(|| {
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                    .build(&needles)
                    .or_else(|_| {
                        // Too many needles for a DFA's size limit: the slower automaton.
                        AhoCorasickBuilder::new()
                            .match_kind(MatchKind::Standard)
                            .build(&needles)
                    })
                    .ok()
            })
            .flatten();
        Prefilter {
            admission: match automaton {
                Some(_) => admission,
                // Without an automaton nothing can be excluded.
                None => Admission::everything(requirements.len()),
            },
            automaton,
        }
    }

    /// How many conditions have no requirement.
    pub fn unfiltered(&self) -> usize {
        self.admission.always.len()
    }

    /// Find the needles in `text`, a run of lines ending at `line_ends` (byte offsets of each
    /// line's end, in order): one pass over all the lines at once.
    pub fn scan(&self, text: &[u8], line_ends: &[usize]) -> Scan {
        let mut scan = Scan::default();
        let Some(automaton) = &self.automaton else {
            return scan;
        };
        let line_of = |at: usize| line_ends.partition_point(|&end| end <= at) as u32;
        // Needles are lower-case, so the text is too: then the automaton can use its fast
        // literal searchers, which do not fold case.
        let lower = text.to_ascii_lowercase();
        // Matches come in order of their end, and none spans a line break, so their lines
        // come in order too.
        let mut line = 0usize;
        for found in automaton.find_overlapping_iter(&lower) {
            while line_ends.get(line).is_some_and(|&end| end <= found.start()) {
                line += 1;
            }
            scan.hits.push((line as u32, found.pattern().as_u32()));
        }
        for finder in [&*ESCAPED_U, &*ESCAPED_SLASH] {
            for at in finder.find_iter(text) {
                scan.maybe_opaque.push(line_of(at));
            }
        }
        scan.maybe_opaque.sort_unstable();
        scan.maybe_opaque.dedup();
        scan
    }

    /// Put in `candidates` (cleared first, sorted after) the conditions that line number
    /// `line` (its text `text`) of a [`Scan`] may satisfy; returns whether there is any.
    /// Lines must be asked for in order; `cursor` carries the place in the scan.
    pub fn candidates(
        &self,
        scan: &Scan,
        cursor: &mut ScanCursor,
        line: u32,
        text: &[u8],
        candidates: &mut Vec<u32>,
    ) -> bool {
        let conditions = self.admission.required.len();
        while scan
            .maybe_opaque
            .get(cursor.opaque)
            .is_some_and(|&l| l < line)
        {
            cursor.opaque += 1;
        }
        if scan.maybe_opaque.get(cursor.opaque) == Some(&line) && has_opaque_escapes(text) {
            candidates.clear();
            candidates.extend(0..conditions as u32);
            return conditions > 0;
        }
        self.admission.begin(&mut cursor.counts);
        while let Some(&(l, pattern)) = scan.hits.get(cursor.hit) {
            if l > line {
                break;
            }
            cursor.hit += 1;
            if l == line {
                self.admission.admit(&mut cursor.counts, pattern as usize);
            }
        }
        Admission::end(&mut cursor.counts, candidates)
    }
}

/// The keys of many conditions, looked up in the decoded values of an event: whole values
/// by hash, parts of values by one small automaton per field. Unlike the raw-text
/// [`Prefilter`], it is exact about which field holds a needle and needs no care for
/// escapes, but the event must be decoded first.
#[derive(Debug, Clone)]
pub struct FieldIndex {
    /// Per field slot: its entry in `fields`, if any key reads it.
    by_slot: Vec<u32>,
    fields: Vec<FieldKeys>,
    admission: Admission,
    /// The memo number of its first field (see [`IndexScratch`]): indexes used with one
    /// scratch must number their fields apart.
    memo_base: usize,
}

/// The keys on one field.
#[derive(Debug, Clone, Default)]
struct FieldKeys {
    present: Option<u32>,
    /// ASCII-lower-cased whole values.
    whole: foldhash::HashMap<Box<str>, u32>,
    /// Texts at the start, anchored there, so a search reads no further than the longest.
    starts: Option<Parts>,
    /// Texts at the end, reversed: an anchored search of the reversed value.
    ends: Option<Parts>,
    /// Texts anywhere.
    anywhere: Option<Parts>,
}

/// An automaton over some texts of one field, and each pattern's key.
#[derive(Debug, Clone)]
struct Parts {
    automaton: Box<aho_corasick::nfa::contiguous::NFA>,
    /// Whether texts are searched for at the value's start only.
    anchored: Anchored,
    keys: Vec<u32>,
    /// For an anchored search, the bytes some text begins with: a value beginning with any
    /// other byte has none of the texts, and is not searched (a cache miss in the automaton
    /// saved, most of the time).
    first_bytes: [bool; 256],
    /// The shortest text's length: a shorter value has none.
    shortest: usize,
}

/// Step `automaton` over `value` by hand, reporting the pattern of every match (overlapping
/// ones included). Anchored, it stops at the first byte no text continues with; the
/// library's overlapping iterators would not search anchored at all.
#[inline]
fn each_match<A: Automaton>(
    automaton: &A,
    anchored: Anchored,
    value: &[u8],
    mut found: impl FnMut(usize),
) {
    let Ok(mut state) = automaton.start_state(anchored) else {
        return;
    };
    for &byte in value {
        state = automaton.next_state(anchored, state, byte);
        if !automaton.is_special(state) {
            continue;
        }
        if automaton.is_dead(state) {
            break;
        }
        if automaton.is_match(state) {
            for i in 0..automaton.match_len(state) {
                found(automaton.match_pattern(state, i).as_usize());
            }
        }
    }
}

impl Parts {
    /// `None` when the automaton cannot be built; `Some(None)` when there are no texts.
    fn new(texts: Vec<(String, u32)>, anchored: bool) -> Option<Option<Parts>> {
        if texts.is_empty() {
            return Some(None);
        }
        let mut first_bytes = [!anchored; 256];
        for (text, _) in &texts {
            if let Some(&first) = text.as_bytes().first() {
                first_bytes[usize::from(first)] = true;
            }
        }
        let shortest = texts.iter().map(|(text, _)| text.len()).min().unwrap_or(0);
        let patterns = texts.iter().map(|(text, _)| text);
        // A contiguous NFA, not a DFA: a DFA is faster per byte only while its tables stay
        // in cache, and the corpus's would not (tens of MB over all fields and categories,
        // against a few for the NFAs), while building them was a fifth of start-up.
        let automaton = aho_corasick::nfa::contiguous::NFA::builder()
            .match_kind(MatchKind::Standard)
            .build(patterns)
            .ok()?;
        Some(Some(Parts {
            automaton: Box::new(automaton),
            anchored: if anchored {
                Anchored::Yes
            } else {
                Anchored::No
            },
            keys: texts.into_iter().map(|(_, key)| key).collect(),
            first_bytes,
            shortest,
        }))
    }

    /// The keys of the texts in `value` (at its start when anchored).
    fn search(&self, value: &[u8], mut found: impl FnMut(u32)) {
        match value.first() {
            Some(&first)
                if self.first_bytes[usize::from(first)] && value.len() >= self.shortest => {}
            _ => return,
        }
        each_match(&*self.automaton, self.anchored, value, |pattern| {
            found(self.keys[pattern])
        });
    }
}

const NO_FIELD: u32 = u32::MAX;

/// What [`FieldIndex::candidates`] keeps from event to event: buffers for a value
/// lower-cased and reversed, and the keys recent values had. Keep one per worker, across
/// blocks, so the memo stays warm.
#[derive(Debug, Default)]
pub struct IndexScratch {
    lower: String,
    reversed: Vec<u8>,
    memo: ValueMemo,
    /// The keys of the value being looked up, for the memo.
    found: Vec<u32>,
}

/// The keys each recent value of a field had, so a value seen again (the same executable,
/// the same parent process: most values of most fields in real event streams) is not
/// searched again. Per field: one map from value to its keys, bounded, and used only while
/// it answers often enough to pay for itself.
#[derive(Debug, Default)]
struct ValueMemo {
    /// Per field (by [`FieldIndex`]'s memo number): value → range of `keys`. The values come
    /// from events; the maps are seeded per process and bounded, so hostile values can do
    /// no more than empty them.
    maps: Vec<foldhash::HashMap<Box<str>, (u32, u32)>>,
    keys: Vec<u32>,
    /// Per field: whether its memo is used, and how well it does.
    stats: Vec<MemoStats>,
    entries: usize,
}

#[derive(Debug, Default, Clone, Copy)]
struct MemoStats {
    /// Lookups and hits since the last review.
    lookups: u32,
    hits: u32,
    /// Reviews left before the memo is tried again (0: in use).
    off: u8,
}

/// Values remembered, over all fields, before the memo starts afresh.
const MEMO_ENTRIES: usize = 1 << 14;
/// Lookups on a field between reviews of whether its memo pays: it is switched off for
/// [`MEMO_OFF`] periods when fewer than one value in four was known.
const MEMO_REVIEW: u32 = 2048;
const MEMO_OFF: u8 = 8;

/// What the memo says of a value.
enum Memo {
    /// Its keys, in [`ValueMemo::keys`].
    Known(u32, u32),
    /// Not remembered: look it up, then [`ValueMemo::remember`] it.
    Unknown,
    /// The field's values rarely repeat: look it up, and do not remember it.
    Off,
}

impl ValueMemo {
    fn recall(&mut self, field: usize, value: &str) -> Memo {
        if self.stats.len() <= field {
            self.stats.resize(field + 1, MemoStats::default());
            self.maps.resize_with(field + 1, Default::default);
        }
        let stats = &mut self.stats[field];
        stats.lookups += 1;
        if stats.lookups >= MEMO_REVIEW {
            stats.off = match stats.off {
                0 if stats.hits < MEMO_REVIEW / 4 => MEMO_OFF,
                0 => 0,
                n => n - 1,
            };
            stats.lookups = 0;
            stats.hits = 0;
            if stats.off > 0 {
                self.maps[field] = Default::default();
            }
        }
        if stats.off > 0 {
            return Memo::Off;
        }
        match self.maps[field].get(value) {
            Some(&(start, end)) => {
                stats.hits += 1;
                Memo::Known(start, end)
            }
            None => Memo::Unknown,
        }
    }

    fn remember(&mut self, field: usize, value: &str, keys: &[u32]) {
        if self.entries >= MEMO_ENTRIES {
            self.entries = 0;
            self.keys.clear();
            for map in &mut self.maps {
                map.clear();
            }
        }
        let start = self.keys.len() as u32;
        self.keys.extend_from_slice(keys);
        self.maps[field].insert(value.into(), (start, self.keys.len() as u32));
        self.entries += 1;
    }
}

impl FieldIndex {
    /// An index over `requirements` (one per condition, by index).
    pub fn new(requirements: &[Requirement]) -> FieldIndex {
        let mut by_slot: Vec<u32> = Vec::new();
        let mut fields: Vec<FieldKeys> = Vec::new();
        // Per field: its texts at the start, at the end (reversed) and anywhere.
        let mut parts: Vec<[Vec<(String, u32)>; 3]> = Vec::new();
        let mut ids: std::collections::HashMap<(u32, Place, String), usize> = Default::default();
        let admission = Admission::new(
            requirements,
            |r| &r.keys,
            |key: &FieldKey| {
                let slot = key.field.slot();
                if by_slot.len() <= slot {
                    by_slot.resize(slot + 1, NO_FIELD);
                }
                if by_slot[slot] == NO_FIELD {
                    by_slot[slot] = fields.len() as u32;
                    fields.push(FieldKeys::default());
                    parts.push(Default::default());
                }
                let entry = by_slot[slot] as usize;
                let text = key.text.to_ascii_lowercase();
                let next = ids.len();
                let id = *ids
                    .entry((slot as u32, key.place, text.clone()))
                    .or_insert(next);
                if id == next {
                    let keys = &mut fields[entry];
                    match key.place {
                        Place::Present => keys.present = Some(id as u32),
                        Place::Whole => {
                            keys.whole.insert(text.into(), id as u32);
                        }
                        Place::Start => parts[entry][0].push((text, id as u32)),
                        Place::End => {
                            let reversed: String = text.chars().rev().collect();
                            parts[entry][1].push((reversed, id as u32))
                        }
                        Place::Anywhere => parts[entry][2].push((text, id as u32)),
                    }
                }
                id
            },
        );
        for (keys, [starts, ends, anywhere]) in fields.iter_mut().zip(parts) {
            let built = (|| {
                keys.starts = Parts::new(starts, true)?;
                keys.ends = Parts::new(ends, true)?;
                keys.anywhere = Parts::new(anywhere, false)?;
                Some(())
            })();
            if built.is_none() {
                // Without an automaton nothing can be excluded.
                return FieldIndex::everything(requirements.len());
            }
        }
        FieldIndex {
            by_slot,
            fields,
            admission,
            memo_base: 0,
        }
    }

    fn everything(conditions: usize) -> FieldIndex {
        FieldIndex {
            by_slot: Vec::new(),
            fields: Vec::new(),
            admission: Admission::everything(conditions),
            memo_base: 0,
        }
    }

    /// Put in `candidates` (cleared first, sorted after) the conditions `event` may
    /// satisfy; returns whether there is any. `scratch` is reused from event to event.
    pub fn candidates(
        &self,
        event: &EventView<'_>,
        counts: &mut Counts,
        scratch: &mut IndexScratch,
        candidates: &mut Vec<u32>,
    ) -> bool {
        let IndexScratch {
            lower,
            reversed,
            memo,
            found,
        } = scratch;
        self.admission.begin(counts);
        for (slot, value) in event.entries() {
            let Some(&entry) = self.by_slot.get(slot as usize) else {
                continue;
            };
            if entry == NO_FIELD {
                continue;
            }
            let keys = &self.fields[entry as usize];
            if let Some(key) = keys.present {
                self.admission.admit(counts, key as usize);
            }
            let FieldValue::Text(text) = value else {
                continue;
            };
            if keys.whole.is_empty()
                && keys.starts.is_none()
                && keys.ends.is_none()
                && keys.anywhere.is_none()
            {
                continue;
            }
            // Whole values are one hash lookup already; values searched by automata are
            // worth remembering.
            let searched = keys.starts.is_some() || keys.ends.is_some() || keys.anywhere.is_some();
            let memo_field = self.memo_base + entry as usize;
            let recalled = match searched {
                true => memo.recall(memo_field, text),
                false => Memo::Off,
            };
            if let Memo::Known(start, end) = recalled {
                for &key in &memo.keys[start as usize..end as usize] {
                    self.admission.admit(counts, key as usize);
                }
                continue;
            }
            let original = *text;
            let text: &str = if text.bytes().any(|b| b.is_ascii_uppercase()) {
                lower.clear();
                lower.push_str(text);
                lower.make_ascii_lowercase();
                lower
            } else {
                text
            };
            found.clear();
            let mut admit = |key: u32| {
                found.push(key);
                self.admission.admit(counts, key as usize)
            };
            if let Some(&key) = keys.whole.get(text) {
                admit(key);
            }
            if let Some(parts) = &keys.starts {
                parts.search(text.as_bytes(), &mut admit);
            }
            if let Some(parts) = &keys.anywhere {
                parts.search(text.as_bytes(), &mut admit);
            }
            if let Some(parts) = &keys.ends {
                reversed.clear();
                reversed.extend(text.bytes().rev());
                parts.search(reversed, &mut admit);
            }
            if let Memo::Unknown = recalled {
                memo.remember(memo_field, original, found);
            }
        }
        Admission::end(counts, candidates)
    }
}

/// One [`FieldIndex`] per event category: an event meets only the keys of conditions for
/// its category (or for any), so a file event spends nothing on the many process rules'
/// keys on fields it shares with process events.
#[derive(Debug, Clone)]
pub struct CategoryIndex {
    /// Conditions for one named category, and those for any: by category.
    named: foldhash::HashMap<String, FieldIndex>,
    /// Conditions for any category: for events with no category a condition names.
    any: FieldIndex,
    /// Every condition: for events with several categories.
    all: FieldIndex,
}

impl CategoryIndex {
    /// An index over `requirements`, each of a condition for `categories[i]` (`None`: any).
    pub fn new(requirements: &[Requirement], categories: &[Option<&str>]) -> CategoryIndex {
        let impossible = Requirement {
            clauses: Vec::new(),
            keys: vec![Vec::new()],
        };
        let only = |category: Option<&str>| -> Vec<Requirement> {
            requirements
                .iter()
                .zip(categories)
                .map(|(r, c)| match c {
                    Some(_) if c != &category => impossible.clone(),
                    _ => r.clone(),
                })
                .collect()
        };
        let mut names: Vec<&str> = categories.iter().flatten().copied().collect();
        names.sort_unstable();
        names.dedup();
        let (named, (any, all)) = rayon::join(
            || {
                names
                    .par_iter()
                    .map(|&name| (name.to_string(), FieldIndex::new(&only(Some(name)))))
                    .collect()
            },
            || {
                rayon::join(
                    || FieldIndex::new(&only(None)),
                    || FieldIndex::new(requirements),
                )
            },
        );
        let mut index = CategoryIndex { named, any, all };
        let mut base = 0;
        let CategoryIndex { named, any, all } = &mut index;
        for field_index in named.values_mut().chain([any, all]) {
            field_index.memo_base = base;
            base += field_index.fields.len();
        }
        index
    }

    /// The index for an event with these category values.
    pub fn for_event(&self, categories: &[FieldValue<'_>]) -> &FieldIndex {
        match categories {
            [] => &self.any,
            [FieldValue::Text(name)] => self.named.get(*name).unwrap_or(&self.any),
            // A category that is not text is no category a condition names.
            [_] => &self.any,
            _ => &self.all,
        }
    }
}

static ESCAPED_U: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\\u"));
static ESCAPED_SLASH: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\\/"));

/// Where the needles are in a run of lines.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// (line, needle), sorted.
    hits: Vec<(u32, u32)>,
    /// Lines with a `\u` or `\/` somewhere, sorted.
    maybe_opaque: Vec<u32>,
}

/// A place in a [`Scan`], for asking about its lines in order, with the per-line counts.
#[derive(Debug, Clone, Default)]
pub struct ScanCursor {
    hit: usize,
    opaque: usize,
    counts: Counts,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::compile_query;
    use crate::eval::condition::compile;
    use crate::ir::QueryBody;

    fn requirement_of(condition: &str) -> Requirement {
        let query = compile_query(&format!("any where {condition}")).expect("compiles");
        let QueryBody::Event(e) = query.body else {
            panic!("event query")
        };
        // The needles only: the field keys are what `field_index_is_exact_about_fields`
        // checks.
        Requirement {
            keys: Vec::new(),
            ..requirement(&compile(&e.condition).expect("compiles"))
        }
    }

    /// A field index over `conditions` (of `any where`), and the trie that decodes their
    /// fields.
    fn index_and_trie(conditions: &[&str]) -> (FieldIndex, crate::eval::extract::FieldTrie) {
        let compiled: Vec<Condition> = conditions
            .iter()
            .map(|c| {
                let query = compile_query(&format!("any where {c}")).expect("compiles");
                let QueryBody::Event(e) = query.body else {
                    panic!("event query")
                };
                compile(&e.condition).expect("compiles")
            })
            .collect();
        let requirements: Vec<Requirement> = compiled.iter().map(requirement).collect();
        let mut fields = Vec::new();
        compiled.iter().for_each(|c| c.collect_fields(&mut fields));
        (
            FieldIndex::new(&requirements),
            crate::eval::extract::FieldTrie::new(&fields),
        )
    }

    fn one_of(needles: &[&str]) -> Requirement {
        all_of(&[needles])
    }

    fn all_of(clauses: &[&[&str]]) -> Requirement {
        Requirement {
            clauses: clauses
                .iter()
                .map(|c| c.iter().map(|s| s.to_string()).collect())
                .collect(),
            keys: Vec::new(),
        }
    }

    #[test]
    fn requirements_follow_the_logic() {
        assert_eq!(
            requirement_of(
                r#"host.os.type == "windows" and process.name : ("cmd.exe", "pwsh.exe")"#
            ),
            one_of(&["\"cmd.exe\"", "\"pwsh.exe\""]),
            "whole values quoted; common-value fields only where nothing else is known"
        );
        assert_eq!(
            requirement_of(
                r#"a == "alpha" and b == "gamma-ray" and c == "delta" and d == "epsilon""#
            ),
            all_of(&[&["\"gamma-ray\""], &["\"epsilon\""], &["\"alpha\""]]),
            "at most three clauses, the longest needles first"
        );
        assert_eq!(
            requirement_of(r#"a == "alpha" or b like~ "*bravo*gam?a*" or c : "charlie*""#),
            one_of(&["\"alpha\"", "\"charlie", "bravo"])
        );
        assert_eq!(
            requirement_of(r#"a == "alpha" or not b == "beta""#),
            Requirement::anything()
        );
        assert_eq!(
            requirement_of(r#"p.path : "C:\\Windows\\*""#),
            one_of(&["\"c:\\\\windows\\\\"]),
            "backslashes as JSON writes them"
        );
        assert_eq!(
            requirement_of(r#"problemchild.prediction == 1 and user.id != "S-1""#),
            one_of(&["prediction\""]),
            "a field that must have a value: its key"
        );
        for no_needle in [
            r#"a == "12""#,
            r#"a == "2024-01-01""#,
            r#"a == "true""#,
            r#"a like "1*""#,
            "a == 5",
            r#"a != "alpha""#,
            r#"a == "ab""#,
            r#"a regex "alpha.*""#,
            r#"a.b == "12" or c != "x""#,
        ] {
            assert_eq!(
                requirement_of(no_needle),
                Requirement::anything(),
                "{no_needle}"
            );
        }
    }

    #[test]
    fn candidates_and_opaque_escapes() {
        let prefilter = Prefilter::new(&[
            one_of(&["cmd.exe"]),
            Requirement::anything(),
            one_of(&["a\\\\b"]),
            all_of(&[&[]]),
        ]);
        let lines = [
            r#"{"p": "CMD.EXE"}"#,
            r#"{"p": "x\\y", "q": "a\\b"}"#,
            r#"{"p": "\u0063md.exe"}"#,
            r#"{"p": "C:\\users"}"#,
        ];
        let text = lines.join("\n");
        let mut ends = Vec::new();
        let mut at = 0;
        for line in &lines {
            at += line.len();
            ends.push(at);
            at += 1;
        }
        let scan = prefilter.scan(text.as_bytes(), &ends);
        let mut cursor = ScanCursor::default();
        let mut c: Vec<u32> = Vec::new();
        let mut ask = |i: usize, c: &mut Vec<u32>| {
            prefilter.candidates(&scan, &mut cursor, i as u32, lines[i].as_bytes(), c)
        };
        assert!(ask(0, &mut c));
        assert_eq!(c, [0, 1]);
        assert!(ask(1, &mut c));
        assert_eq!(c, [1, 2]);
        assert!(ask(2, &mut c));
        assert_eq!(c, [0, 1, 2, 3], "an escape could hide a needle");
        assert!(ask(3, &mut c));
        assert_eq!(c, [1], "an escaped backslash before u");
        let both = Prefilter::new(&[all_of(&[&["alpha"], &["beta", "gamma"]])]);
        let lines = ["alpha gamma", "alpha", "beta gamma", "gamma beta alpha"];
        let text = lines.join("\n");
        let ends: Vec<usize> = [11, 17, 28, 45].to_vec();
        let scan = both.scan(text.as_bytes(), &ends);
        let mut cursor = ScanCursor::default();
        let found: Vec<bool> = (0..4)
            .map(|i| both.candidates(&scan, &mut cursor, i, lines[i as usize].as_bytes(), &mut c))
            .collect();
        assert_eq!(
            found,
            [true, false, false, true],
            "every clause is required"
        );
        assert!(has_opaque_escapes(br#""a\/b""#));
        assert!(!has_opaque_escapes(br#""C:\\users""#));
    }

    #[test]
    fn field_index_is_exact_about_fields() {
        use crate::eval::extract::DecodedEvent;
        let conditions = [
            r#"process.name : ("cmd.exe", "pwsh.exe")"#,
            r#"process.command_line : "*-EncodedCommand*" and process.parent.name == "winword.exe""#,
            r#"file.path : "C:\\Windows\\*" or file.name : "*.lnk""#,
            r#"problemchild.prediction == 1"#,
            r#"process.name != "cmd.exe""#,
            r#"process.name == "sh""#,
        ];
        let (index, trie) = index_and_trie(&conditions);
        let arena = bumpalo::Bump::new();
        let candidates_of = |line: &str| {
            let mut event = DecodedEvent::new();
            trie.decode(line, &arena, &mut event).expect("decodes");
            let (mut counts, mut scratch, mut found) = Default::default();
            index.candidates(&event.view(), &mut counts, &mut scratch, &mut found);
            found
        };
        assert_eq!(
            candidates_of(r#"{"process": {"name": "CMD.EXE", "args": ["pwsh.exe"]}}"#),
            [0, 4],
            "whole values ignore case; the same text in another field is no key"
        );
        assert_eq!(
            candidates_of(
                r#"{"process": {"command_line": "x -encodedcommand y", "parent": {"name": "WINWORD.EXE"}}}"#
            ),
            [1, 4],
            "every clause is required, each in its own field"
        );
        assert_eq!(
            candidates_of(r#"{"process": {"command_line": "x -encodedcommand y"}}"#),
            [4]
        );
        assert_eq!(
            candidates_of(r#"{"file": {"path": "c:\\windows\\x.txt"}}"#),
            [2, 4],
            "a prefix at the start, unescaped"
        );
        assert_eq!(
            candidates_of(r#"{"file": {"path": "d:\\c:\\windows\\", "name": "a.lnk.txt"}}"#),
            [4],
            "a prefix not at the start, a suffix not at the end"
        );
        assert_eq!(
            candidates_of(r#"{"file.name": "A.LNK", "problemchild": {"prediction": 0}}"#),
            [2, 3, 4],
            "a suffix; a field with a value of any type"
        );
        assert_eq!(
            candidates_of(r#"{"process": {"name": "sh"}}"#),
            [4, 5],
            "a value too short for the raw scan is still a whole-value key"
        );
        assert_eq!(candidates_of(r#"{"process": {"name": "bash"}}"#), [4]);
    }

    #[test]
    fn the_value_memo_changes_no_candidate() {
        use crate::eval::extract::DecodedEvent;
        let conditions = [
            r#"process.executable : ("C:\\Windows\\*", "*\\cmd.exe")"#,
            r#"process.command_line : "*-enc*""#,
            r#"process.executable : "*Temp*" and process.command_line : "*x*""#,
            r#"process.name == "a.exe""#,
        ];
        let (index, trie) = index_and_trie(&conditions);
        let executables = [
            r"C:\\Windows\\System32\\cmd.exe",
            r"C:\\Users\\x\\AppData\\Local\\Temp\\a.exe",
            r"D:\\tools\\CMD.EXE",
            r"C:\\Program Files\\b.exe",
        ];
        // Executables repeat (the memo answers); command lines are all different (it is
        // switched off and on again); enough events to fill and empty it.
        let mut kept = IndexScratch::default();
        let mut seen = std::collections::HashSet::new();
        let mut switched_off = false;
        for i in 0..(MEMO_ENTRIES + 10 * MEMO_REVIEW as usize) {
            let line = format!(
                r#"{{"process": {{"executable": "{}", "command_line": "run {i} -{}", "name": "a.exe"}}}}"#,
                executables[i % executables.len()],
                ["enc", "x", "q"][i % 3]
            );
            let arena = bumpalo::Bump::new();
            let mut event = DecodedEvent::new();
            trie.decode(&line, &arena, &mut event).expect("decodes");
            let (mut counts, mut fresh_counts, mut fresh) = Default::default();
            let mut with_memo = Vec::new();
            let mut without = Vec::new();
            index.candidates(&event.view(), &mut counts, &mut kept, &mut with_memo);
            index.candidates(&event.view(), &mut fresh_counts, &mut fresh, &mut without);
            assert_eq!(with_memo, without, "{line}");
            seen.insert(with_memo);
            switched_off |= kept.memo.stats.iter().any(|s| s.off > 0);
        }
        assert!(
            seen.len() >= 4,
            "the events should meet different conditions: {seen:?}"
        );
        assert!(
            switched_off,
            "command lines never repeat: their memo should go off"
        );
    }

    #[test]
    fn an_event_meets_only_the_keys_of_its_category() {
        use crate::eval::document::Document;
        use crate::eval::extract::{DecodedEvent, FieldTrie};
        let present = |name: &str| Requirement {
            clauses: Vec::new(),
            keys: vec![vec![FieldKey {
                field: FieldRef::new(name),
                place: Place::Present,
                text: String::new(),
            }]],
        };
        let index = CategoryIndex::new(
            &[present("a"), present("a"), present("a"), present("b")],
            &[Some("process"), Some("file"), None, Some("process")],
        );
        let fields = [FieldRef::new("a"), FieldRef::new("event.category")];
        let trie = FieldTrie::new(&fields);
        let arena = bumpalo::Bump::new();
        let candidates_of = |line: &str| {
            let mut event = DecodedEvent::new();
            trie.decode(line, &arena, &mut event).expect("decodes");
            let view = event.view();
            let (mut counts, mut scratch, mut found) = Default::default();
            index.for_event(&view.field_values(&fields[1])).candidates(
                &view,
                &mut counts,
                &mut scratch,
                &mut found,
            );
            found
        };
        assert_eq!(
            candidates_of(r#"{"a": 1, "event": {"category": "file"}}"#),
            [1, 2]
        );
        assert_eq!(
            candidates_of(r#"{"a": 1, "event": {"category": ["process"]}}"#),
            [0, 2]
        );
        assert_eq!(
            candidates_of(r#"{"a": 1}"#),
            [2],
            "no category: conditions for any"
        );
        assert_eq!(
            candidates_of(r#"{"a": 1, "event": {"category": "dns"}}"#),
            [2]
        );
        assert_eq!(
            candidates_of(r#"{"a": 1, "event": {"category": ["process", "file"]}}"#),
            [0, 1, 2],
            "several categories: every condition"
        );
    }
}
