//! Sequences over events in Elasticsearch's order: per join key, at most one pending match per
//! stage (a newer one replaces an older one, as a later start can only help `maxspan`); an
//! event advances the match waiting at the previous stage, stages tried from last to first so
//! one event never fills two stages of one match; `until` drops a key's pending matches.

use std::collections::HashMap;

use super::condition::{compile, CompileError, Condition};
use super::document::{Document, FieldValue};
use crate::ir::{Category, Sequence, Stage};

/// One stage, compiled (a `runs=N` stage is N of these).
#[derive(Debug, Clone)]
struct CompiledStage {
    category: Category,
    condition: Condition,
    keys: Vec<String>,
}

/// A match waiting for its next stage: its events and its start time.
type Partial<T> = (Vec<T>, f64);

/// A sequence query ready to run; `T` is what a match records of each event (an index, or
/// the event itself).
#[derive(Debug, Clone)]
pub struct SequenceMatcher<T> {
    stages: Vec<CompiledStage>,
    until: Option<CompiledStage>,
    maxspan: Option<f64>,
    /// Join key values → pending match per stage.
    pending: HashMap<Vec<String>, Vec<Option<Partial<T>>>>,
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
        keys: s.keys(shared).map(|f| f.name.clone()).collect(),
    })
}

impl<T: Clone> SequenceMatcher<T> {
    /// Compile a sequence.
    pub fn new(sequence: &Sequence) -> Result<SequenceMatcher<T>, CompileError> {
        let mut stages = Vec::new();
        for s in &sequence.stages {
            let compiled = stage(s, &sequence.by)?;
            for _ in 0..s.runs {
                stages.push(compiled.clone());
            }
        }
        let until = sequence
            .until
            .as_ref()
            .map(|u| stage(u, &sequence.by))
            .transpose()?;
        Ok(SequenceMatcher {
            stages,
            until,
            maxspan: sequence.maxspan.map(|d| d.millis as f64),
            pending: HashMap::new(),
        })
    }

    /// Feed the next event (`item` records it, cloned only where a match keeps it; `time` in
    /// milliseconds; `categories` the values of its category field); returns the matches it
    /// completes, their items in stage order.
    pub fn push(
        &mut self,
        item: &T,
        time: f64,
        doc: &dyn Document,
        categories: &[FieldValue<'_>],
    ) -> Vec<Vec<T>> {
        let applies =
            |s: &CompiledStage| in_category(&s.category, categories) && s.condition.matches(doc);
        if let Some(until) = &self.until {
            if applies(until) {
                for key in key_values(doc, &until.keys) {
                    self.pending.remove(&key);
                }
            }
        }
        let n = self.stages.len();
        let mut completed = Vec::new();
        for s in (0..n).rev() {
            if !applies(&self.stages[s]) {
                continue;
            }
            for key in key_values(doc, &self.stages[s].keys) {
                let slots = self.pending.entry(key).or_insert_with(|| vec![None; n]);
                if s == 0 {
                    if n == 1 {
                        completed.push(vec![item.clone()]);
                    } else {
                        slots[0] = Some((vec![item.clone()], time));
                    }
                    continue;
                }
                let Some((mut events, start)) = slots[s - 1].take() else {
                    continue;
                };
                if self.maxspan.is_some_and(|span| time - start > span) {
                    continue;
                }
                events.push(item.clone());
                if s == n - 1 {
                    completed.push(events);
                } else {
                    slots[s] = Some((events, start));
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
}

/// Whether an event whose category field holds `categories` is in `category`.
pub fn in_category(category: &Category, categories: &[FieldValue<'_>]) -> bool {
    match category {
        Category::Any => true,
        Category::Named(name) => categories.contains(&FieldValue::Text(name)),
    }
}

/// The join key tuples of an event: the cartesian product of its key fields' values (a
/// missing field is the value null).
fn key_values(doc: &dyn Document, fields: &[String]) -> Vec<Vec<String>> {
    let mut tuples: Vec<Vec<String>> = vec![Vec::new()];
    for field in fields {
        let mut values: Vec<String> = doc
            .values(field)
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
