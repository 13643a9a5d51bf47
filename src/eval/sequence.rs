//! Sequences over events in Elasticsearch's order: per join key, at most one pending match per
//! stage (a newer one replaces an older one, as a later start can only help `maxspan`); an
//! event advances the match waiting at the previous stage, stages tried from last to first so
//! one event never fills two stages of one match; `until` drops a key's pending matches.
//!
//! The matcher never reads events itself: it is told which of its stages an event satisfies
//! and under which join keys ([`StageHits`]), so the caller decides how events are decoded and
//! which conditions are worth testing.
//!
//! Missing-event stages `![...]` follow Elasticsearch (`TumblingWindow.checkMissingEvents`,
//! 8.9+): matches are built from the positive stages alone; a completed match is then kept
//! only if, for the missing stages (matched on their own join key fields with the match's key
//! values, timestamps compared strictly):
//! - between two positive stages: no event of the missing stage lies between them;
//! - before the first positive stage (leading): the latest such event before the match is more
//!   than `maxspan` before its last positive event (or there is none);
//! - after the last positive stage (trailing): the first such event after the match is more
//!   than `maxspan` after its first positive event (or there is none);
//! - leading and trailing both: the latest leading and the first trailing event are more than
//!   `maxspan` apart (or either is absent).
//!
//! A match rejected for an event between its stages still consumed the events it took, as in
//! Elasticsearch, which checks only completed matches. A match with trailing missing stages is
//! held until that check can be decided: a trailing event arrives, time passes beyond
//! `maxspan`, or the input ends ([`SequenceMatcher::finish`]).

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

use super::condition::{compile, CompileError, Condition};
use super::document::{Document, FieldRef, FieldValue};
use crate::ir::{Category, Sequence, Stage};

/// One distinct stage of a sequence or sample (a `runs=N` stage is one of these, used N
/// times), or a sequence's `until` condition.
#[derive(Debug, Clone)]
pub struct CompiledStage {
    /// The event category it is for.
    pub category: Category,
    /// What an event must satisfy.
    pub condition: Condition,
    /// Its join key fields (the shared `by` ones, then the stage's own).
    pub keys: Vec<FieldRef>,
    /// For each key field, whether it is `?optional`: only then may it be null. An event
    /// missing a required key takes no part in the stage.
    pub optional_keys: Vec<bool>,
    /// A missing-event stage `![...]`: its hits are events whose presence rejects a match.
    pub missing: bool,
}

impl CompiledStage {
    /// Compile a stage of a sequence or sample whose shared join keys are `shared`.
    pub fn new(stage: &Stage, shared: &[crate::ir::Field]) -> Result<CompiledStage, CompileError> {
        Ok(CompiledStage {
            category: stage.event.category.clone(),
            condition: compile(&stage.event.condition)?,
            keys: stage.keys(shared).map(|f| FieldRef::new(&f.name)).collect(),
            optional_keys: stage.keys(shared).map(|f| f.optional).collect(),
            missing: stage.missing,
        })
    }

    /// Whether an event with these category values satisfies the stage.
    pub fn applies(&self, doc: &dyn Document, categories: &[FieldValue<'_>]) -> bool {
        in_category(&self.category, categories) && self.condition.matches(doc)
    }
}

/// A join key: one value per key field, each written with its type (see [`key_values`]).
pub type JoinKey = Vec<String>;

/// What one event means to a sequence or sample: the distinct stages it satisfies (by index
/// into the matcher's `stages()`, missing-event stages included) with its join keys for each,
/// and its join keys for `until` when it satisfies that.
#[derive(Debug, Clone, Default)]
pub struct StageHits {
    /// Stage index and the event's join keys for it.
    pub stages: Vec<(usize, Vec<JoinKey>)>,
    /// The event's join keys for `until`, when it satisfies `until`.
    pub until: Option<Vec<JoinKey>>,
}

impl StageHits {
    /// Whether the event means nothing to the sequence.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty() && self.until.is_none()
    }
}

/// A completed sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceMatch<T> {
    /// The join key values its events share (as [`key_values`] writes them).
    pub key: JoinKey,
    /// One entry per position of the sequence (`runs=N` gives N): the event's item, or `None`
    /// for a missing-event stage (Elasticsearch returns a placeholder with no `_source`).
    pub events: Vec<Option<T>>,
}

impl<T> SequenceMatch<T> {
    /// The items of its positive stages, in order.
    pub fn present(self) -> Vec<T> {
        self.events.into_iter().flatten().collect()
    }
}

/// A match waiting for its next positive stage.
#[derive(Debug, Clone)]
struct Partial<T> {
    events: Vec<T>,
    start: f64,
    last: f64,
    /// The latest leading missing-stage event before `start`.
    leading: Option<f64>,
    /// The first missing-stage event after `last`, in the gap before the next positive stage.
    gap_hit: Option<f64>,
    /// A missing-stage event lay between two of its positive stages: it will be dropped when
    /// complete, but keeps consuming events until then as Elasticsearch's does.
    rejected: bool,
}

/// A complete match waiting for its trailing missing stages to be decided.
#[derive(Debug, Clone)]
struct Awaiting<T> {
    key: JoinKey,
    events: Vec<T>,
    end: f64,
    /// The time a trailing event must be more than `maxspan` after for the match to stand.
    base: f64,
}

/// Where a position of the sequence sits relative to its positive stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Positive,
    Leading,
    /// Between the positive position given and the next one.
    Gap(usize),
    Trailing,
}

/// A time that orders totally, for the deadline heap.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Time(f64);

impl Eq for Time {}

impl PartialOrd for Time {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Time {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A sequence query ready to run; `T` is what a match records of each event (an index, or
/// the event itself).
#[derive(Debug, Clone)]
pub struct SequenceMatcher<T> {
    stages: Vec<CompiledStage>,
    /// For each position of the sequence, the distinct stage it uses.
    positions: Vec<usize>,
    roles: Vec<Role>,
    /// For each positive position, the previous positive position.
    previous: Vec<Option<usize>>,
    first_positive: usize,
    last_positive: usize,
    until: Option<CompiledStage>,
    maxspan: Option<f64>,
    /// Join key values → pending match per position (positive positions only).
    pending: HashMap<JoinKey, Vec<Option<Partial<T>>>>,
    /// Join key values → the latest leading missing-stage event time, and the latest one
    /// before that (a match starting at the latest one's time needs an earlier one).
    leading: HashMap<JoinKey, (f64, Option<f64>)>,
    /// Matches waiting on trailing missing stages, by arrival number.
    awaiting: HashMap<u64, Awaiting<T>>,
    awaiting_by_key: HashMap<JoinKey, Vec<u64>>,
    /// When each waiting match stands for sure (`base + maxspan`), earliest first.
    deadlines: BinaryHeap<Reverse<(Time, u64)>>,
    next_awaiting: u64,
}

impl<T: Clone> SequenceMatcher<T> {
    /// Compile a sequence.
    pub fn new(sequence: &Sequence) -> Result<SequenceMatcher<T>, CompileError> {
        let mut stages = Vec::new();
        let mut positions = Vec::new();
        for s in &sequence.stages {
            stages.push(CompiledStage::new(s, &sequence.by)?);
            for _ in 0..s.runs {
                positions.push(stages.len() - 1);
            }
        }
        let until = sequence
            .until
            .as_ref()
            .map(|u| CompiledStage::new(u, &sequence.by))
            .transpose()?;
        let positive: Vec<usize> = (0..positions.len())
            .filter(|&p| !stages[positions[p]].missing)
            .collect();
        let (Some(&first_positive), Some(&last_positive)) = (positive.first(), positive.last())
        else {
            return Err(CompileError(
                "a sequence needs at least one stage that is not a missing-event stage".into(),
            ));
        };
        let mut roles = Vec::with_capacity(positions.len());
        let mut previous = Vec::with_capacity(positions.len());
        let mut last_seen = None;
        for p in 0..positions.len() {
            if stages[positions[p]].missing {
                roles.push(match last_seen {
                    None => Role::Leading,
                    Some(_) if p > last_positive => Role::Trailing,
                    Some(prev) => Role::Gap(prev),
                });
                previous.push(None);
            } else {
                roles.push(Role::Positive);
                previous.push(last_seen);
                last_seen = Some(p);
            }
        }
        Ok(SequenceMatcher {
            stages,
            positions,
            roles,
            previous,
            first_positive,
            last_positive,
            until,
            maxspan: sequence.maxspan.map(|d| d.millis as f64),
            pending: HashMap::new(),
            leading: HashMap::new(),
            awaiting: HashMap::new(),
            awaiting_by_key: HashMap::new(),
            deadlines: BinaryHeap::new(),
            next_awaiting: 0,
        })
    }

    /// The distinct stages, missing-event stages included (see [`CompiledStage::missing`]):
    /// every condition a caller must test to build [`StageHits`].
    pub fn stages(&self) -> &[CompiledStage] {
        &self.stages
    }

    /// For each position of the sequence (`runs=N` expanded), the index of its distinct stage
    /// in [`SequenceMatcher::stages`].
    #[cfg(test)]
    fn positions(&self) -> &[usize] {
        &self.positions
    }

    /// The `until` condition.
    pub fn until(&self) -> Option<&CompiledStage> {
        self.until.as_ref()
    }

    /// What an event means to this sequence, reading it directly.
    pub fn hits(&self, doc: &dyn Document, categories: &[FieldValue<'_>]) -> StageHits {
        StageHits {
            stages: stage_hits(&self.stages, doc, categories),
            until: self
                .until
                .as_ref()
                .filter(|u| u.applies(doc, categories))
                .map(|u| key_values(doc, &u.keys, &u.optional_keys)),
        }
    }

    /// Feed the next event, reading it directly (see [`SequenceMatcher::push_hits`]).
    pub fn push(
        &mut self,
        item: &T,
        time: f64,
        doc: &dyn Document,
        categories: &[FieldValue<'_>],
    ) -> Vec<Vec<T>> {
        let hits = self.hits(doc, categories);
        self.push_hits(item, time, &hits)
    }

    /// Whether a hit of stage `stage` (`None`: of `until`) would change nothing now, so the
    /// caller may leave it out: a missing-event stage between positive ones while no match
    /// is pending, or a trailing one while none waits on it (a leading one is recorded
    /// whatever the state), and `until` while no match is pending. An event with only such
    /// hits need not be fed at all: with nothing waiting there is nothing to release either.
    pub fn ignores(&self, stage: Option<usize>) -> bool {
        let Some(stage) = stage else {
            return self.pending.is_empty();
        };
        (0..self.positions.len())
            .filter(|&p| self.positions[p] == stage)
            .all(|p| match self.roles[p] {
                Role::Positive | Role::Leading => false,
                Role::Gap(_) => self.pending.is_empty(),
                Role::Trailing => self.awaiting.is_empty(),
            })
    }

    /// Feed the next event (`item` records it, cloned only where a match keeps it; `time` in
    /// milliseconds, never less than an earlier event's; `hits` what it satisfies); returns
    /// the matches it decides, the items of their positive stages in stage order. Use
    /// [`SequenceMatcher::push_matches`] for join keys and missing-stage placeholders.
    pub fn push_hits(&mut self, item: &T, time: f64, hits: &StageHits) -> Vec<Vec<T>> {
        self.push_matches(item, time, hits)
            .into_iter()
            .map(SequenceMatch::present)
            .collect()
    }

    /// Feed the next event (as [`SequenceMatcher::push_hits`]); returns the matches it
    /// decides: those it completes and, with trailing missing stages, earlier ones whose
    /// check it settles (oldest first).
    pub fn push_matches(&mut self, item: &T, time: f64, hits: &StageHits) -> Vec<SequenceMatch<T>> {
        if let Some(keys) = &hits.until {
            for key in keys {
                self.pending.remove(key);
            }
        }
        let mut decided = Vec::new();
        for (stage, keys) in &hits.stages {
            if self.stages.get(*stage).is_some_and(|s| s.missing) {
                self.missing_hit(*stage, keys, time, &mut decided);
            }
        }
        decided.extend(self.release(time));
        let n = self.positions.len();
        for p in (0..n).rev() {
            if self.roles[p] != Role::Positive {
                continue;
            }
            let Some((_, keys)) = hits.stages.iter().find(|(s, _)| *s == self.positions[p]) else {
                continue;
            };
            for key in keys {
                let Some(prev) = self.previous[p] else {
                    // The first positive stage starts a match.
                    let partial = Partial {
                        events: vec![item.clone()],
                        start: time,
                        last: time,
                        leading: self.leading_before(key, time),
                        gap_hit: None,
                        rejected: false,
                    };
                    if p == self.last_positive {
                        self.complete(key, partial, &mut decided);
                    } else {
                        // Looked up before inserting: most keys are already there, and
                        // `entry` would clone the key every time.
                        match self.pending.get_mut(key) {
                            Some(slots) => slots[p] = Some(partial),
                            None => {
                                let mut slots = vec![None; n];
                                slots[p] = Some(partial);
                                self.pending.insert(key.clone(), slots);
                            }
                        }
                    }
                    continue;
                };
                let Some(slots) = self.pending.get_mut(key) else {
                    continue;
                };
                let Some(mut partial) = slots[prev].take() else {
                    continue;
                };
                if self.maxspan.is_some_and(|span| time - partial.start > span) {
                    continue;
                }
                // Strictly between the two positive events' timestamps, as Elasticsearch's
                // range query for the gap.
                if partial.gap_hit.is_some_and(|h| h < time) {
                    partial.rejected = true;
                }
                partial.gap_hit = None;
                partial.last = time;
                partial.events.push(item.clone());
                if p == self.last_positive {
                    self.complete(key, partial, &mut decided);
                } else {
                    slots[p] = Some(partial);
                }
            }
        }
        decided
    }

    /// Settle, as of `now` (no later event will be earlier), the matches whose trailing
    /// missing stages can no longer reject them; returns them, oldest first. Called by
    /// [`SequenceMatcher::push_matches`]; useful alone when a stream idles.
    pub fn release(&mut self, now: f64) -> Vec<SequenceMatch<T>> {
        let mut out = Vec::new();
        while let Some(Reverse((Time(deadline), id))) = self.deadlines.peek().copied() {
            // Any trailing event from now on is more than `maxspan` after the base.
            if deadline >= now {
                break;
            }
            self.deadlines.pop();
            if let Some(waiting) = self.take_awaiting(id) {
                out.push(self.finished(waiting.key, waiting.events));
            }
        }
        out
    }

    /// The end of the input: the matches still waiting on trailing missing stages stand (no
    /// such event followed them), oldest first.
    pub fn finish(&mut self) -> Vec<SequenceMatch<T>> {
        let mut ids: Vec<u64> = self.awaiting.keys().copied().collect();
        ids.sort_unstable();
        self.deadlines.clear();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(waiting) = self.take_awaiting(id) {
                out.push(self.finished(waiting.key, waiting.events));
            }
        }
        out
    }

    /// Record an event of missing-event stage `stage`.
    fn missing_hit(
        &mut self,
        stage: usize,
        keys: &[JoinKey],
        time: f64,
        decided: &mut Vec<SequenceMatch<T>>,
    ) {
        let mut trailing = false;
        for p in 0..self.positions.len() {
            if self.positions[p] != stage {
                continue;
            }
            match self.roles[p] {
                Role::Positive => {}
                Role::Leading => {
                    for key in keys {
                        let Some(record) = self.leading.get_mut(key) else {
                            self.leading.insert(key.clone(), (time, None));
                            continue;
                        };
                        if time > record.0 {
                            *record = (time, Some(record.0));
                        } else if time < record.0 && record.1.is_none_or(|b| time > b) {
                            record.1 = Some(time);
                        }
                    }
                }
                Role::Gap(prev) => {
                    for key in keys {
                        let partial = self
                            .pending
                            .get_mut(key)
                            .and_then(|slots| slots[prev].as_mut());
                        if let Some(partial) = partial {
                            if partial.last < time && partial.gap_hit.is_none() {
                                partial.gap_hit = Some(time);
                            }
                        }
                    }
                }
                Role::Trailing => trailing = true,
            }
        }
        if !trailing {
            return;
        }
        for key in keys {
            let Some(ids) = self.awaiting_by_key.get(key) else {
                continue;
            };
            let hit: Vec<u64> = ids
                .iter()
                .copied()
                .filter(|id| self.awaiting.get(id).is_some_and(|w| w.end < time))
                .collect();
            for id in hit {
                let Some(waiting) = self.take_awaiting(id) else {
                    continue;
                };
                // The first trailing event decides.
                if self.exceeds(waiting.base, time) {
                    decided.push(self.finished(waiting.key, waiting.events));
                }
            }
        }
    }

    /// The latest leading missing-stage event of `key` strictly before `start`.
    fn leading_before(&self, key: &JoinKey, start: f64) -> Option<f64> {
        let &(latest, before) = self.leading.get(key)?;
        [Some(latest), before]
            .into_iter()
            .flatten()
            .find(|t| *t < start)
    }

    /// Whether `to` is more than `maxspan` after `from` (never, without a `maxspan`).
    fn exceeds(&self, from: f64, to: f64) -> bool {
        self.maxspan.is_some_and(|span| to - from > span)
    }

    /// A match has its last positive event: keep it, drop it, or wait on trailing stages.
    fn complete(
        &mut self,
        key: &JoinKey,
        partial: Partial<T>,
        decided: &mut Vec<SequenceMatch<T>>,
    ) {
        if partial.rejected {
            return;
        }
        let has_leading = self.first_positive > 0;
        let has_trailing = self.last_positive + 1 < self.positions.len();
        if !has_trailing {
            if has_leading
                && partial
                    .leading
                    .is_some_and(|l| !self.exceeds(l, partial.last))
            {
                return;
            }
            decided.push(self.finished(key.clone(), partial.events));
            return;
        }
        let base = if has_leading {
            match partial.leading {
                // No leading event: a `maxspan` window can end before any trailing one.
                None => {
                    decided.push(self.finished(key.clone(), partial.events));
                    return;
                }
                Some(l) => l,
            }
        } else {
            partial.start
        };
        let id = self.next_awaiting;
        self.next_awaiting += 1;
        if let Some(span) = self.maxspan {
            self.deadlines.push(Reverse((Time(base + span), id)));
        }
        self.awaiting_by_key
            .entry(key.clone())
            .or_default()
            .push(id);
        self.awaiting.insert(
            id,
            Awaiting {
                key: key.clone(),
                events: partial.events,
                end: partial.last,
                base,
            },
        );
    }

    fn take_awaiting(&mut self, id: u64) -> Option<Awaiting<T>> {
        let waiting = self.awaiting.remove(&id)?;
        if let Some(ids) = self.awaiting_by_key.get_mut(&waiting.key) {
            ids.retain(|i| *i != id);
            if ids.is_empty() {
                self.awaiting_by_key.remove(&waiting.key);
            }
        }
        Some(waiting)
    }

    /// A kept match with placeholders at its missing-event positions.
    fn finished(&self, key: JoinKey, events: Vec<T>) -> SequenceMatch<T> {
        let mut present = events.into_iter();
        SequenceMatch {
            key,
            events: self
                .roles
                .iter()
                .map(|role| match role {
                    Role::Positive => present.next(),
                    _ => None,
                })
                .collect(),
        }
    }
}

impl<T> SequenceMatcher<T> {
    /// Drop pending matches that can no longer complete within `maxspan` of `now`, and
    /// leading missing-stage events too old to matter, so state stays bounded on an endless
    /// stream. Returns how many keys still have pending matches.
    pub fn expire(&mut self, now: f64) -> usize {
        if let Some(span) = self.maxspan {
            self.pending.retain(|_, slots| {
                for slot in slots.iter_mut() {
                    if slot.as_ref().is_some_and(|p| now - p.start > span) {
                        *slot = None;
                    }
                }
                slots.iter().any(Option::is_some)
            });
            // A leading event more than `maxspan` before every later match's end rejects none.
            self.leading.retain(|_, (latest, _)| now - *latest <= span);
        }
        self.pending.len()
    }

    /// Keep only the `keep` join keys whose pending matches started last: the bound on
    /// memory when keys explode faster than `maxspan` retires them.
    pub fn drop_oldest(&mut self, keep: usize) {
        if self.pending.len() <= keep {
            return;
        }
        let latest = |slots: &Vec<Option<Partial<T>>>| {
            slots
                .iter()
                .flatten()
                .map(|partial| partial.start)
                .fold(f64::NEG_INFINITY, f64::max)
        };
        let mut starts: Vec<f64> = self.pending.values().map(latest).collect();
        let cut = starts.len() - keep;
        starts.select_nth_unstable_by(cut, f64::total_cmp);
        let threshold = starts[cut];
        let mut kept = 0;
        self.pending.retain(|_, slots| {
            let keep_it = latest(slots) >= threshold && kept < keep;
            kept += usize::from(keep_it);
            keep_it
        });
    }

    /// How many join keys have pending matches.
    pub fn pending_keys(&self) -> usize {
        self.pending.len()
    }

    /// How many complete matches wait on trailing missing-event stages.
    #[cfg(test)]
    fn awaiting(&self) -> usize {
        self.awaiting.len()
    }
}

/// The stages (by index) an event satisfies, with its join keys for each.
pub fn stage_hits(
    stages: &[CompiledStage],
    doc: &dyn Document,
    categories: &[FieldValue<'_>],
) -> Vec<(usize, Vec<JoinKey>)> {
    stages
        .iter()
        .enumerate()
        .filter(|(_, s)| s.applies(doc, categories))
        .map(|(i, s)| (i, key_values(doc, &s.keys, &s.optional_keys)))
        .collect()
}

/// Whether an event whose category field holds `categories` is in `category`.
pub fn in_category(category: &Category, categories: &[FieldValue<'_>]) -> bool {
    match category {
        Category::Any => true,
        Category::Named(name) => categories.contains(&FieldValue::Text(name)),
    }
}

/// The join key value of a missing field (or a null).
pub const NULL_KEY: &str = "null";

/// A join key value as Elasticsearch shows it in `join_keys` (its text, without the type
/// [`key_values`] records): `doom`, `1234`, `true`, `null`.
pub fn join_key_text(value: &str) -> &str {
    value
        .strip_prefix("s:")
        .or_else(|| value.strip_prefix("n:"))
        .or_else(|| value.strip_prefix("b:"))
        .unwrap_or(value)
}

/// Order two join key values as a composite aggregation orders buckets: null first, then
/// booleans (`false` first), numbers by value, strings by their UTF-8 bytes.
pub fn compare_key_values(a: &str, b: &str) -> Ordering {
    fn rank(v: &str) -> u8 {
        match v.get(..2) {
            _ if v == NULL_KEY => 0,
            Some("b:") => 1,
            Some("n:") => 2,
            _ => 3,
        }
    }
    match (rank(a), rank(b)) {
        (2, 2) => {
            let number = |v: &str| v[2..].parse::<f64>().unwrap_or(f64::NAN);
            number(a).total_cmp(&number(b))
        }
        (x, y) if x != y => x.cmp(&y),
        _ => a.as_bytes().cmp(b.as_bytes()),
    }
}

/// The join key tuples of an event: the cartesian product of its key fields' values. A
/// missing `?optional` field is the value null; a missing required one leaves no tuple.
pub fn key_values(doc: &dyn Document, fields: &[FieldRef], optional: &[bool]) -> Vec<JoinKey> {
    let mut store = KeyStore::default();
    let span = store.push(doc, fields, optional);
    store.tuples(span).collect()
}

/// Join key tuples of many events, flat: one buffer for every value's text instead of a
/// string per value. The evaluator's workers fill one per share of events, and the ordering
/// thread reads the tuples back long after, so the per-event allocations it spares would
/// otherwise live (and be freed) far from where they were made.
#[derive(Debug, Default)]
pub struct KeyStore {
    text: String,
    /// Each value's byte range in `text`.
    values: Vec<(u32, u32)>,
}

/// The tuples [`KeyStore::push`] stored for one event.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeySpan {
    first: u32,
    tuples: u32,
    arity: u32,
}

impl KeyStore {
    /// Store the join key tuples of `doc` (as [`key_values`] computes them).
    pub fn push(&mut self, doc: &dyn Document, fields: &[FieldRef], optional: &[bool]) -> KeySpan {
        let first = self.values.len() as u32;
        let arity = fields.len() as u32;
        // Runs on every hit of a keyed stage: the usual case, one value per field, is
        // written as its single tuple directly, without the product's temporaries.
        for (i, field) in fields.iter().enumerate() {
            let start = self.text.len() as u32;
            match doc.field_values(field).as_ref() {
                [value] => push_key_text(value, &mut self.text),
                [] if optional.get(i).copied().unwrap_or(false) => self.text.push_str(NULL_KEY),
                [] => {
                    self.forget_from(first);
                    return KeySpan {
                        first,
                        tuples: 0,
                        arity,
                    };
                }
                _ => {
                    let tuples = key_product(doc, fields, optional);
                    self.forget_from(first);
                    for value in tuples.iter().flatten() {
                        self.push_value(value);
                    }
                    return KeySpan {
                        first,
                        tuples: tuples.len() as u32,
                        arity,
                    };
                }
            }
            self.values.push((start, self.text.len() as u32));
        }
        KeySpan {
            first,
            tuples: 1,
            arity,
        }
    }

    fn push_value(&mut self, value: &str) {
        let start = self.text.len() as u32;
        self.text.push_str(value);
        self.values.push((start, self.text.len() as u32));
    }

    /// Forget the values from `first` on (an event's unfinished tuple).
    fn forget_from(&mut self, first: u32) {
        if let Some(&(start, _)) = self.values.get(first as usize) {
            self.text.truncate(start as usize);
        }
        self.values.truncate(first as usize);
    }

    /// The tuples of `span`.
    pub fn tuples(&self, span: KeySpan) -> impl Iterator<Item = JoinKey> + '_ {
        (0..span.tuples).map(move |t| {
            let first = (span.first + t * span.arity) as usize;
            self.values[first..first + span.arity as usize]
                .iter()
                .map(|&(start, end)| self.text[start as usize..end as usize].to_string())
                .collect()
        })
    }
}

/// [`key_values`] when some field has several values.
fn key_product(doc: &dyn Document, fields: &[FieldRef], optional: &[bool]) -> Vec<JoinKey> {
    let mut tuples: Vec<JoinKey> = vec![Vec::new()];
    for (i, field) in fields.iter().enumerate() {
        let mut values: Vec<String> = doc.field_values(field).iter().map(key_text).collect();
        values.sort();
        values.dedup();
        if values.is_empty() {
            if !optional.get(i).copied().unwrap_or(false) {
                return Vec::new();
            }
            values.push(NULL_KEY.into());
        }
        tuples = tuples
            .into_iter()
            .flat_map(|t| {
                values.iter().map(move |v| {
                    let mut t = t.clone();
                    t.push(v.clone());
                    t
                })
            })
            .collect();
    }
    tuples
}

/// One join key value, written with its type.
fn key_text(value: &FieldValue<'_>) -> String {
    let mut text = String::new();
    push_key_text(value, &mut text);
    text
}

/// [`key_text`], appended to `text`.
fn push_key_text(value: &FieldValue<'_>, text: &mut String) {
    use std::fmt::Write;
    // Writing to a String cannot fail.
    let _ = match value {
        FieldValue::Text(s) => {
            text.push_str("s:");
            text.push_str(s);
            Ok(())
        }
        FieldValue::Integer(i) => write!(text, "n:{i}"),
        FieldValue::Float(f) => write!(text, "n:{f}"),
        FieldValue::Bool(b) => write!(text, "b:{b}"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::compile_query;
    use crate::eval::JsonDocument;
    use crate::ir::QueryBody;
    use serde_json::json;

    fn matcher(eql: &str, edit: impl FnOnce(&mut Sequence)) -> SequenceMatcher<i64> {
        let query = compile_query(eql).expect("compiles");
        let QueryBody::Sequence(mut sequence) = query.body else {
            panic!("a sequence")
        };
        edit(&mut sequence);
        SequenceMatcher::new(&sequence).expect("evaluable")
    }

    /// Feed `(id, time, category, key)` events; each decided match as its ids, `-1` for a
    /// missing stage.
    fn feed(m: &mut SequenceMatcher<i64>, events: &[(i64, f64, &str, &str)]) -> Vec<Vec<i64>> {
        let mut out = Vec::new();
        for &(id, time, category, key) in events {
            let event = json!({"c": category, "k": key});
            let doc = JsonDocument(&event);
            let hits = m.hits(&doc, &doc.values("c"));
            out.extend(m.push_matches(&id, time, &hits));
        }
        out.extend(m.finish());
        out.into_iter()
            .map(|s| s.events.into_iter().map(|e| e.unwrap_or(-1)).collect())
            .collect()
    }

    #[test]
    fn leaving_out_ignored_hits_changes_no_match() {
        // The engine leaves out events whose hits the matcher `ignores`; over a pseudo-random
        // stream, a matcher fed that way must decide exactly what one fed everything does.
        for eql in [
            "sequence by k with maxspan=3s [a where true] ![m where true]",
            "sequence by k with maxspan=3s [a where true] ![m where true] [b where true]",
            "sequence by k with maxspan=3s ![m where true] [a where true] [b where true]",
            "sequence by k [a where true] [b where true] until [m where true]",
            "sequence by k with maxspan=2s [a where true] [b where true] ![m where true]",
        ] {
            let mut all = matcher(eql, |_| {});
            let mut some = matcher(eql, |_| {});
            let (mut fed_all, mut fed_some) = (Vec::new(), Vec::new());
            let mut skipped = 0;
            let mut state = 7u32;
            for id in 0..400i64 {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let category = ["a", "b", "m", "m", "m", "x"][(state >> 16) as usize % 6];
                let key = ["p", "q"][(state >> 8) as usize % 2];
                let event = json!({"c": category, "k": key});
                let doc = JsonDocument(&event);
                let hits = all.hits(&doc, &doc.values("c"));
                let time = id as f64 * 500.0;
                if id % 20 == 0 {
                    // As the engine sweeps: so pending matches lapse and the state empties.
                    all.expire(time);
                    some.expire(time);
                }
                fed_all.extend(all.push_matches(&id, time, &hits));
                let ignored = hits
                    .stages
                    .iter()
                    .all(|(stage, _)| some.ignores(Some(*stage)))
                    && (hits.until.is_none() || some.ignores(None));
                if ignored && !hits.is_empty() {
                    skipped += 1;
                    continue;
                }
                fed_some.extend(some.push_matches(&id, time, &hits));
            }
            fed_all.extend(all.finish());
            fed_some.extend(some.finish());
            assert_eq!(fed_all, fed_some, "{eql}");
            assert!(!fed_all.is_empty(), "{eql}: the stream should match");
            // A leading missing stage is recorded whatever the state; the others are left
            // out while nothing waits on them.
            let leading = eql.contains("![m where true] [a");
            assert_eq!(skipped == 0, leading, "{eql}: {skipped} events left out");
        }
    }

    #[test]
    fn missing_stages_are_listed_with_the_others() {
        let m = matcher(
            "sequence by k with maxspan=1s [a where true] ![m where true] [a where true]",
            |_| {},
        );
        assert_eq!(m.stages().len(), 3);
        assert!(m.stages()[1].missing);
        assert_eq!(m.positions(), [0, 1, 2]);
    }

    #[test]
    fn a_missing_stage_with_runs_gives_one_placeholder_per_run() {
        // Elasticsearch accepts `with runs` on a missing stage (its QA suite's
        // withByKey_runsOnMissing); the front end does not yet, so the IR is edited.
        let mut m = matcher(
            "sequence by k with maxspan=1s [a where true] ![m where true] [a where true]",
            |s| s.stages[1].runs = 2,
        );
        let events = [
            (1, 0.0, "a", "x"),
            (2, 1.0, "a", "x"),
            (3, 2.0, "m", "x"),
            (4, 3.0, "a", "x"),
        ];
        assert_eq!(feed(&mut m, &events), [vec![1, -1, -1, 2]]);
    }

    #[test]
    fn trailing_stages_are_settled_by_time_or_at_the_end() {
        let mut m = matcher(
            "sequence by k with maxspan=10ms [a where true] ![b where true]",
            |_| {},
        );
        let hits = |m: &SequenceMatcher<i64>, category: &str| {
            let event = json!({"c": category, "k": "x"});
            let doc = JsonDocument(&event);
            m.hits(&doc, &doc.values("c"))
        };
        let a = hits(&m, "a");
        let other = hits(&m, "z");
        assert!(m.push_matches(&1, 0.0, &a).is_empty());
        assert_eq!(m.awaiting(), 1);
        assert!(
            m.push_matches(&2, 10.0, &other).is_empty(),
            "a b at 10ms could still come"
        );
        let settled = m.push_matches(&3, 10.5, &other);
        assert_eq!(settled.len(), 1);
        assert_eq!(settled[0].events, [Some(1), None]);
        assert_eq!(settled[0].key, ["s:x"]);
        assert!(m.push_matches(&4, 20.0, &a).is_empty());
        assert_eq!(m.release(30.0).len(), 0, "not strictly past 20 + 10 yet");
        assert_eq!(m.finish().len(), 1);
        assert_eq!(m.awaiting(), 0);
    }

    #[test]
    fn old_leading_events_expire_without_changing_results() {
        let eql = "sequence by k with maxspan=10ms ![b where true] [a where true]";
        let events = [(1, 0.0, "b", "x"), (2, 5.0, "a", "x"), (3, 50.0, "a", "x")];
        let mut kept = matcher(eql, |_| {});
        assert_eq!(feed(&mut kept, &events), [vec![-1, 3]]);
        let mut swept = matcher(eql, |_| {});
        let mut out = feed(&mut swept, &events[..2]);
        swept.expire(40.0);
        out.extend(feed(&mut swept, &events[2..]));
        assert_eq!(out, [vec![-1, 3]]);
    }

    #[test]
    fn key_values_single_valued_fast_path_agrees_with_the_product() {
        let fields: Vec<FieldRef> = ["a", "b"].iter().map(|f| FieldRef::new(f)).collect();
        // One store for every event, read back only at the end: an event that leaves no
        // tuple (or a product) must not disturb the tuples stored before or after it.
        let mut store = KeyStore::default();
        let mut stored = Vec::new();
        for event in [
            json!({"a": "x", "b": 1}),
            json!({"a": ["x"], "b": 1.5}),
            json!({"a": "x", "b": ["y", "x", "y"]}),
            json!({"a": ["x", "y"], "b": true}),
            json!({"a": "x"}),
            json!({"b": "x"}),
            json!({"a": [], "b": null}),
        ] {
            let doc = JsonDocument(&event);
            for optional in [[false, false], [false, true], [true, true]] {
                let expected = key_product(&doc, &fields, &optional);
                assert_eq!(
                    key_values(&doc, &fields, &optional),
                    expected,
                    "{event} {optional:?}"
                );
                stored.push((store.push(&doc, &fields, &optional), expected));
            }
        }
        for (span, expected) in stored {
            assert_eq!(store.tuples(span).collect::<Vec<_>>(), expected);
        }
        let event = json!({"a": "x", "b": 1});
        assert_eq!(
            key_values(&JsonDocument(&event), &fields, &[false, false]),
            [["s:x", "n:1"]]
        );
    }

    #[test]
    fn join_key_text_and_order() {
        assert_eq!(join_key_text("s:doom"), "doom");
        assert_eq!(join_key_text("n:1671235200000"), "1671235200000");
        assert_eq!(join_key_text("b:true"), "true");
        assert_eq!(join_key_text(NULL_KEY), "null");
        assert_eq!(compare_key_values("n:9", "n:10"), Ordering::Less);
        assert_eq!(compare_key_values(NULL_KEY, "b:false"), Ordering::Less);
        assert_eq!(compare_key_values("b:false", "b:true"), Ordering::Less);
        assert_eq!(compare_key_values("s:Z", "s:a"), Ordering::Less);
    }
}
