//! Sequences over events in Elasticsearch's order: per join key, at most one pending match per
//! stage (a newer one replaces an older one, as a later start can only help `maxspan`); an
//! event advances the match waiting at the previous stage, stages tried from last to first so
//! one event never fills two stages of one match; `until` drops a key's pending matches.
//!
//! The matcher never reads events itself: it is told which of its stages an event satisfies
//! and under which join keys ([`StageHits`]), so the caller decides how events are decoded and
//! which conditions are worth testing.

use std::collections::HashMap;

use super::condition::{compile, CompileError, Condition};
use super::document::{Document, FieldRef, FieldValue};
use crate::ir::{Category, Sequence, Stage};

/// One distinct stage of a sequence (a `runs=N` stage is one of these, used N times), or its
/// `until` condition.
#[derive(Debug, Clone)]
pub struct CompiledStage {
    /// The event category it is for.
    pub category: Category,
    /// What an event must satisfy.
    pub condition: Condition,
    /// Its join key fields (the sequence's `by` and the stage's own).
    pub keys: Vec<FieldRef>,
    /// For each key field, whether it is `?optional`: only then may it be null. An event
    /// missing a required key takes no part in the stage.
    pub optional_keys: Vec<bool>,
}

impl CompiledStage {
    /// Whether an event with these category values satisfies the stage.
    pub fn applies(&self, doc: &dyn Document, categories: &[FieldValue<'_>]) -> bool {
        in_category(&self.category, categories) && self.condition.matches(doc)
    }
}

/// A join key: one value per key field, each written with its type.
pub type JoinKey = Vec<String>;

/// What one event means to a sequence: the distinct stages it satisfies (by index into
/// [`SequenceMatcher::stages`]) with its join keys for each, and its join keys for `until`
/// when it satisfies that.
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

/// A match waiting for its next stage: its events and its start time.
type Partial<T> = (Vec<T>, f64);

/// A sequence query ready to run; `T` is what a match records of each event (an index, or
/// the event itself).
#[derive(Debug, Clone)]
pub struct SequenceMatcher<T> {
    stages: Vec<CompiledStage>,
    /// For each position of the sequence, the distinct stage it uses.
    positions: Vec<usize>,
    until: Option<CompiledStage>,
    maxspan: Option<f64>,
    /// Join key values → pending match per position.
    pending: HashMap<JoinKey, Vec<Option<Partial<T>>>>,
}

fn stage(s: &Stage, shared: &[crate::ir::Field]) -> Result<CompiledStage, CompileError> {
    if s.missing {
        return Err(CompileError(
            "missing-event stages are not evaluated yet".into(),
        ));
    }
    Ok(CompiledStage {
        category: s.event.category.clone(),
        condition: compile(&s.event.condition)?,
        keys: s.keys(shared).map(|f| FieldRef::new(&f.name)).collect(),
        optional_keys: s.keys(shared).map(|f| f.optional).collect(),
    })
}

impl<T: Clone> SequenceMatcher<T> {
    /// Compile a sequence.
    pub fn new(sequence: &Sequence) -> Result<SequenceMatcher<T>, CompileError> {
        let mut stages = Vec::new();
        let mut positions = Vec::new();
        for s in &sequence.stages {
            stages.push(stage(s, &sequence.by)?);
            for _ in 0..s.runs {
                positions.push(stages.len() - 1);
            }
        }
        let until = sequence
            .until
            .as_ref()
            .map(|u| stage(u, &sequence.by))
            .transpose()?;
        Ok(SequenceMatcher {
            stages,
            positions,
            until,
            maxspan: sequence.maxspan.map(|d| d.millis as f64),
            pending: HashMap::new(),
        })
    }

    /// The distinct stages.
    pub fn stages(&self) -> &[CompiledStage] {
        &self.stages
    }

    /// The `until` condition.
    pub fn until(&self) -> Option<&CompiledStage> {
        self.until.as_ref()
    }

    /// What an event means to this sequence, reading it directly.
    pub fn hits(&self, doc: &dyn Document, categories: &[FieldValue<'_>]) -> StageHits {
        StageHits {
            stages: self
                .stages
                .iter()
                .enumerate()
                .filter(|(_, s)| s.applies(doc, categories))
                .map(|(i, s)| (i, key_values(doc, &s.keys, &s.optional_keys)))
                .collect(),
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

    /// Feed the next event (`item` records it, cloned only where a match keeps it; `time` in
    /// milliseconds; `hits` what it satisfies); returns the matches it completes, their items
    /// in stage order.
    pub fn push_hits(&mut self, item: &T, time: f64, hits: &StageHits) -> Vec<Vec<T>> {
        if let Some(keys) = &hits.until {
            for key in keys {
                self.pending.remove(key);
            }
        }
        let n = self.positions.len();
        let mut completed = Vec::new();
        for p in (0..n).rev() {
            let Some((_, keys)) = hits.stages.iter().find(|(s, _)| *s == self.positions[p]) else {
                continue;
            };
            for key in keys {
                if p == 0 {
                    if n == 1 {
                        completed.push(vec![item.clone()]);
                    } else {
                        let slots = self
                            .pending
                            .entry(key.clone())
                            .or_insert_with(|| vec![None; n]);
                        slots[0] = Some((vec![item.clone()], time));
                    }
                    continue;
                }
                let Some(slots) = self.pending.get_mut(key) else {
                    continue;
                };
                let Some((mut events, start)) = slots[p - 1].take() else {
                    continue;
                };
                if self.maxspan.is_some_and(|span| time - start > span) {
                    continue;
                }
                events.push(item.clone());
                if p == n - 1 {
                    completed.push(events);
                } else {
                    slots[p] = Some((events, start));
                }
            }
        }
        completed
    }
}

impl<T> SequenceMatcher<T> {
    /// Drop pending matches that can no longer complete within `maxspan` of `now`, so state
    /// stays bounded on an endless stream. Returns how many keys still have pending matches.
    pub fn expire(&mut self, now: f64) -> usize {
        if let Some(span) = self.maxspan {
            self.pending.retain(|_, slots| {
                for slot in slots.iter_mut() {
                    if slot.as_ref().is_some_and(|(_, start)| now - start > span) {
                        *slot = None;
                    }
                }
                slots.iter().any(Option::is_some)
            });
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
                .map(|(_, start)| *start)
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
}

/// Whether an event whose category field holds `categories` is in `category`.
pub fn in_category(category: &Category, categories: &[FieldValue<'_>]) -> bool {
    match category {
        Category::Any => true,
        Category::Named(name) => categories.contains(&FieldValue::Text(name)),
    }
}

/// The join key tuples of an event: the cartesian product of its key fields' values. A
/// missing `?optional` field is the value null; a missing required one leaves no tuple.
pub fn key_values(doc: &dyn Document, fields: &[FieldRef], optional: &[bool]) -> Vec<JoinKey> {
    let mut tuples: Vec<JoinKey> = vec![Vec::new()];
    for (i, field) in fields.iter().enumerate() {
        let mut values: Vec<String> = doc
            .field_values(field)
            .iter()
            .map(|v| match v {
                FieldValue::Text(s) => format!("s:{s}"),
                FieldValue::Integer(i) => format!("n:{i}"),
                FieldValue::Float(f) => format!("n:{f}"),
                FieldValue::Bool(b) => format!("b:{b}"),
            })
            .collect();
        values.sort();
        values.dedup();
        if values.is_empty() {
            if !optional.get(i).copied().unwrap_or(false) {
                return Vec::new();
            }
            values.push("null".into());
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
