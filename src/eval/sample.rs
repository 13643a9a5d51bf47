//! `sample by` queries, computed as Elasticsearch computes them (`SampleIterator` and
//! `SampleQueryRequest`, 8.6+), over the whole input:
//!
//! 1. The first stage's events give the candidate join keys: every combination of their key
//!    fields' values (a composite aggregation). An event missing a key field gives no key,
//!    unless that field is optional (`?field`), whose absence is the key value null.
//! 2. Each further stage keeps the keys of its events that match a key of the previous stage:
//!    equal values, or both absent for an optional field. A null from the previous stage puts
//!    no condition on a field that is not optional in this stage (Elasticsearch adds no term
//!    for it). An event that matches contributes all its keys (multi-valued fields included).
//! 3. For each key of the last stage, in ascending key order (null first), each stage takes its
//!    first `stages + max_samples_per_key - 1` events with that key, in input order (what an
//!    unsorted search returns). A sample takes one event per stage, all different, chosen
//!    depth-first in that order; at most `max_samples_per_key` samples per key (default 1).
//!
//! Like the sequence matcher, this one never reads events itself: the caller gives it the
//! stages each event satisfies and its join keys ([`StageHits`]); [`SampleMatcher::finish`]
//! then computes the samples. The caller applies the query's `size`, which keeps the first
//! samples in this order (Elasticsearch stops there).

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use super::condition::CompileError;
use super::document::{Document, FieldValue};
use super::sequence::{
    compare_key_values, stage_hits, CompiledStage, JoinKey, StageHits, NULL_KEY,
};
use crate::ir::Sample;

/// One sample: its join key and one item per stage, in stage order.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleMatch<T> {
    /// The join key values (as [`key_values`] writes them).
    pub key: JoinKey,
    /// The items, one per stage.
    pub events: Vec<T>,
}

/// What one stage has seen.
#[derive(Debug, Clone)]
struct StageEvents<T> {
    /// Every join key of the stage's events → its first events (arrival number, item), as many
    /// as a sample can need.
    by_key: HashMap<JoinKey, Vec<(u64, T)>>,
    /// The join keys of each event that has several (multi-valued key fields): when one of
    /// them matches the previous stage, all of them are the stage's keys.
    multi: HashSet<Vec<JoinKey>>,
}

impl<T> Default for StageEvents<T> {
    fn default() -> Self {
        StageEvents {
            by_key: HashMap::new(),
            multi: HashSet::new(),
        }
    }
}

/// A sample query ready to run; `T` is what a sample records of each event (an index, or the
/// event itself).
#[derive(Debug, Clone)]
pub struct SampleMatcher<T> {
    stages: Vec<CompiledStage>,
    /// For each stage, whether each join key field is optional (`?field`).
    optional: Vec<Vec<bool>>,
    max_samples_per_key: usize,
    seen: Vec<StageEvents<T>>,
    arrivals: u64,
}

impl<T: Clone> SampleMatcher<T> {
    /// Compile a sample, with Elasticsearch's default of one sample per join key.
    pub fn new(sample: &Sample) -> Result<SampleMatcher<T>, CompileError> {
        let (stages, optional): (Vec<CompiledStage>, Vec<Vec<bool>>) = sample
            .stages
            .iter()
            .map(|s| {
                let mut stage = CompiledStage::new(s, &sample.by)?;
                // A sample reads null keys itself (`optional`), so every key is read.
                let optional =
                    std::mem::replace(&mut stage.optional_keys, vec![true; stage.keys.len()]);
                Ok((stage, optional))
            })
            .collect::<Result<Vec<_>, CompileError>>()?
            .into_iter()
            .unzip();
        if stages.iter().any(|s| s.missing) {
            return Err(CompileError(
                "missing-event stages `![...]` are supported only in sequences".into(),
            ));
        }
        Ok(SampleMatcher {
            seen: (0..stages.len()).map(|_| StageEvents::default()).collect(),
            stages,
            optional,
            max_samples_per_key: 1,
            arrivals: 0,
        })
    }

    /// Allow up to `n` samples per join key (the request's `max_samples_per_key`; at least 1).
    pub fn with_max_samples_per_key(mut self, n: usize) -> SampleMatcher<T> {
        self.max_samples_per_key = n.max(1);
        self
    }

    /// The stages: every condition a caller must test to build [`StageHits`].
    pub fn stages(&self) -> &[CompiledStage] {
        &self.stages
    }

    /// For stage `stage`, whether each of its join key fields is optional (`?field`).
    pub fn optional_keys(&self, stage: usize) -> &[bool] {
        self.optional.get(stage).map_or(&[], Vec::as_slice)
    }

    /// What an event means to this sample, reading it directly.
    pub fn hits(&self, doc: &dyn Document, categories: &[FieldValue<'_>]) -> StageHits {
        StageHits {
            stages: stage_hits(&self.stages, doc, categories),
            until: None,
        }
    }

    /// Feed the next event, reading it directly.
    pub fn push(&mut self, item: &T, doc: &dyn Document, categories: &[FieldValue<'_>]) {
        let hits = self.hits(doc, categories);
        self.push_hits(item, &hits);
    }

    /// Feed the next event in input order (`item` records it, cloned only where a sample may
    /// need it; `hits` what it satisfies).
    pub fn push_hits(&mut self, item: &T, hits: &StageHits) {
        let arrival = self.arrivals;
        self.arrivals += 1;
        let cap = self.per_stage();
        for (stage, keys) in &hits.stages {
            let Some(seen) = self.seen.get_mut(*stage) else {
                continue;
            };
            for key in keys {
                // Looked up before inserting, so a known key is not cloned.
                match seen.by_key.get_mut(key) {
                    Some(events) => {
                        if events.len() < cap {
                            events.push((arrival, item.clone()));
                        }
                    }
                    None => {
                        let mut events = Vec::new();
                        if cap > 0 {
                            events.push((arrival, item.clone()));
                        }
                        seen.by_key.insert(key.clone(), events);
                    }
                }
            }
            if keys.len() > 1 {
                let mut keys = keys.clone();
                keys.sort();
                keys.dedup();
                seen.multi.insert(keys);
            }
        }
    }

    /// The samples, in ascending join key order (see [`compare_join_keys`]).
    pub fn finish(&self) -> Vec<SampleMatch<T>> {
        self.finish_sorted_by(compare_join_keys)
    }

    /// The samples, join keys ordered by `order` (for callers that know the key fields' types,
    /// such as IP addresses or versions, which Elasticsearch orders by value).
    pub fn finish_sorted_by(
        &self,
        mut order: impl FnMut(&JoinKey, &JoinKey) -> Ordering,
    ) -> Vec<SampleMatch<T>> {
        let mut keys: Vec<JoinKey> = self.candidate_keys().into_iter().collect();
        keys.sort_by(&mut order);
        let mut samples = Vec::new();
        for key in keys {
            let lists: Vec<Vec<(u64, &T)>> = (0..self.stages.len())
                .map(|s| self.stage_events(s, &key))
                .collect();
            if lists.iter().any(Vec::is_empty) {
                continue;
            }
            let mut found = Vec::new();
            choose(
                &lists,
                &mut Vec::new(),
                &mut found,
                self.max_samples_per_key,
            );
            samples.extend(found.into_iter().map(|events| SampleMatch {
                key: key.clone(),
                events: events.into_iter().cloned().collect(),
            }));
        }
        samples
    }

    /// How many events per stage and key a sample can need.
    fn per_stage(&self) -> usize {
        self.stages.len() + self.max_samples_per_key - 1
    }

    /// Whether `key` can be a composite-aggregation key of stage `stage`: a null only for an
    /// optional field (a `missing_bucket`).
    fn valid(&self, stage: usize, key: &JoinKey) -> bool {
        let optional = self.optional_keys(stage);
        key.len() == optional.len()
            && key
                .iter()
                .zip(optional)
                .all(|(value, optional)| !unconstrained(value, *optional))
    }

    /// The keys of the last stage, found stage after stage.
    fn candidate_keys(&self) -> HashSet<JoinKey> {
        let Some(first) = self.seen.first() else {
            return HashSet::new();
        };
        let mut keys: HashSet<JoinKey> = first
            .by_key
            .keys()
            .filter(|k| self.valid(0, k))
            .cloned()
            .collect();
        for (stage, seen) in self.seen.iter().enumerate().skip(1) {
            if keys.is_empty() {
                break;
            }
            let filter = KeyFilter::new(&keys, self.optional_keys(stage));
            let mut next: HashSet<JoinKey> = seen
                .by_key
                .keys()
                .filter(|k| self.valid(stage, k) && filter.matches(k))
                .cloned()
                .collect();
            for event_keys in &seen.multi {
                if event_keys.iter().any(|k| filter.matches(k)) {
                    next.extend(event_keys.iter().filter(|k| self.valid(stage, k)).cloned());
                }
            }
            keys = next;
        }
        keys
    }

    /// The first events of stage `stage` with join key `key`, in input order: a null puts no
    /// condition on a field that is not optional in this stage.
    fn stage_events(&self, stage: usize, key: &JoinKey) -> Vec<(u64, &T)> {
        let Some(seen) = self.seen.get(stage) else {
            return Vec::new();
        };
        let optional = self.optional_keys(stage);
        let free: Vec<bool> = key
            .iter()
            .zip(optional)
            .map(|(value, optional)| unconstrained(value, *optional))
            .collect();
        if !free.contains(&true) {
            return seen
                .by_key
                .get(key)
                .map(|events| events.iter().map(|(n, t)| (*n, t)).collect())
                .unwrap_or_default();
        }
        let mut events: Vec<(u64, &T)> = seen
            .by_key
            .iter()
            .filter(|(k, _)| {
                k.len() == key.len()
                    && k.iter()
                        .zip(key)
                        .zip(&free)
                        .all(|((a, b), free)| *free || a == b)
            })
            .flat_map(|(_, events)| events.iter().map(|(n, t)| (*n, t)))
            .collect();
        events.sort_by_key(|(n, _)| *n);
        events.dedup_by_key(|(n, _)| *n);
        events.truncate(self.per_stage());
        events
    }
}

/// Whether a key value puts no condition on its field: a null of a field that is not optional
/// (an optional one's null is a `missing_bucket`, a value of its own).
fn unconstrained(value: &str, optional: bool) -> bool {
    value == NULL_KEY && !optional
}

/// Which keys of a stage match the previous stage's keys, as the terms Elasticsearch adds to
/// the stage's query: one `should` per previous key, a `term` per non-null value, a
/// `must_not exists` per null of an optional field, nothing for a null of another field.
struct KeyFilter<'a> {
    /// Previous keys that constrain every field.
    exact: HashSet<&'a JoinKey>,
    /// Previous keys that leave some fields free (but not all).
    partial: Vec<&'a JoinKey>,
    /// Every previous key leaves every field free: the query has no key condition at all.
    everything: bool,
    optional: &'a [bool],
}

impl<'a> KeyFilter<'a> {
    fn new(previous: &'a HashSet<JoinKey>, optional: &'a [bool]) -> KeyFilter<'a> {
        let free = |key: &JoinKey, j: usize| {
            unconstrained(&key[j], optional.get(j).copied().unwrap_or(false))
        };
        let mut exact = HashSet::new();
        let mut partial = Vec::new();
        let mut unconstrained = 0;
        for key in previous {
            let free_fields = (0..key.len()).filter(|&j| free(key, j)).count();
            if free_fields == 0 {
                exact.insert(key);
            } else if free_fields < key.len() {
                partial.push(key);
            } else {
                // Elasticsearch adds no `should` for it.
                unconstrained += 1;
            }
        }
        KeyFilter {
            exact,
            partial,
            everything: unconstrained > 0 && unconstrained == previous.len(),
            optional,
        }
    }

    fn matches(&self, key: &JoinKey) -> bool {
        self.everything
            || self.exact.contains(key)
            || self.partial.iter().any(|previous| {
                previous.len() == key.len()
                    && previous.iter().zip(key).enumerate().all(|(j, (p, k))| {
                        p == k || unconstrained(p, self.optional.get(j).copied().unwrap_or(false))
                    })
            })
    }
}

/// Elasticsearch's backtracking (`SampleIterator.matchSamples`): one event per stage, all
/// different, depth-first in list order, until `limit` combinations are found.
fn choose<'a, T>(
    lists: &[Vec<(u64, &'a T)>],
    partial: &mut Vec<(u64, &'a T)>,
    found: &mut Vec<Vec<&'a T>>,
    limit: usize,
) {
    let stage = partial.len();
    let Some(list) = lists.get(stage) else {
        return;
    };
    for &(arrival, item) in list {
        if partial.iter().any(|(n, _)| *n == arrival) {
            continue;
        }
        partial.push((arrival, item));
        if stage + 1 == lists.len() {
            found.push(partial.iter().map(|(_, t)| *t).collect());
        } else {
            choose(lists, partial, found, limit);
        }
        partial.pop();
        if found.len() >= limit {
            return;
        }
    }
}

/// Elasticsearch's composite-aggregation order of join keys: field by field, null first, then
/// booleans (`false` first), numbers by value, strings by their UTF-8 bytes.
pub fn compare_join_keys(a: &JoinKey, b: &JoinKey) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| compare_key_values(x, y))
        .find(|o| o.is_ne())
        .unwrap_or_else(|| a.len().cmp(&b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::compile_query;
    use crate::eval::sequence::join_key_text;
    use crate::eval::JsonDocument;
    use crate::ir::QueryBody;
    use serde_json::{json, Value as Json};

    /// Run a sample over events (category field `cat`); each sample as `key: ids`.
    fn run(eql: &str, per_key: usize, events: &[Json]) -> Vec<String> {
        let query = compile_query(eql).expect("compiles");
        let QueryBody::Sample(sample) = &query.body else {
            panic!("a sample")
        };
        let mut matcher = SampleMatcher::new(sample)
            .expect("evaluable")
            .with_max_samples_per_key(per_key);
        for event in events {
            let doc = JsonDocument(event);
            let categories = doc.values("cat");
            matcher.push(&event["id"].as_i64().unwrap_or(-1), &doc, &categories);
        }
        matcher
            .finish()
            .iter()
            .map(|s| {
                let key: Vec<&str> = s.key.iter().map(|v| join_key_text(v)).collect();
                let ids: Vec<String> = s.events.iter().map(i64::to_string).collect();
                format!("{}: {}", key.join(","), ids.join(","))
            })
            .collect()
    }

    #[test]
    fn one_sample_per_key_in_key_order_with_distinct_events() {
        let events = [
            json!({"id": 1, "cat": "a", "host": "x"}),
            json!({"id": 2, "cat": "a", "host": "B"}),
            json!({"id": 3, "cat": "b", "host": "x"}),
            json!({"id": 4, "cat": "b", "host": "B"}),
            json!({"id": 5, "cat": "a", "host": "y"}),
            json!({"id": 6, "cat": "a", "host": "x"}),
        ];
        // Byte order puts "B" before "x"; "y" has no `b` event; order in the input does not
        // matter, one event per stage does.
        assert_eq!(
            run("sample by host [b where true] [a where true]", 1, &events),
            ["B: 4,2", "x: 3,1"]
        );
        assert_eq!(
            run(
                "sample by host [any where true] [any where true]",
                1,
                &events
            ),
            ["B: 2,4", "x: 1,3"]
        );
    }

    #[test]
    fn backtracking_and_samples_per_key() {
        // Event 1 satisfies both stages; the second stage must then take event 2.
        let events = [
            json!({"id": 1, "cat": "a", "h": 1, "k": true}),
            json!({"id": 2, "cat": "a", "h": 1, "k": false}),
            json!({"id": 3, "cat": "a", "h": 1, "k": true}),
        ];
        let eql = "sample by h [a where k == true] [a where true]";
        assert_eq!(run(eql, 1, &events), ["1: 1,2"]);
        // Depth-first: (1,2), (1,3), (3,1), (3,2).
        assert_eq!(run(eql, 3, &events), ["1: 1,2", "1: 1,3", "1: 3,1"]);
        // Each stage takes only its first `stages + per_key - 1` events.
        assert_eq!(run(eql, 10, &events).len(), 4);
        assert!(run(
            "sample by h [a where k == true and id == 1] [a where id == 1]",
            1,
            &events
        )
        .is_empty());
    }

    #[test]
    fn nulls_are_keys_only_for_optional_fields() {
        let events = [
            json!({"id": 1, "cat": "a", "host": "x"}),
            json!({"id": 2, "cat": "b", "host": "x", "os": "linux"}),
            json!({"id": 3, "cat": "b", "host": "x"}),
            json!({"id": 4, "cat": "a", "host": "x", "os": "linux"}),
        ];
        assert_eq!(
            run(
                "sample by host, os [a where true] [b where true]",
                1,
                &events
            ),
            ["x,linux: 4,2"]
        );
        assert_eq!(
            run(
                "sample by host, ?os [a where true] [b where true]",
                1,
                &events
            ),
            ["x,null: 1,3", "x,linux: 4,2"]
        );
    }

    #[test]
    fn different_key_fields_per_stage_and_multi_values() {
        let events = [
            json!({"id": 1, "cat": "a", "src": "10.0.0.1"}),
            json!({"id": 2, "cat": "b", "dst": ["10.0.0.9", "10.0.0.1"]}),
            json!({"id": 3, "cat": "b", "dst": "10.0.0.9"}),
        ];
        // Event 2 joins on 10.0.0.1 and also brings the key 10.0.0.9, which stage `a` lacks.
        assert_eq!(
            run(
                "sample [a where true] by src [b where true] by dst",
                1,
                &events
            ),
            ["10.0.0.1: 1,2"]
        );
    }

    #[test]
    fn a_null_of_an_optional_field_leaves_a_required_field_free() {
        // Stage `a` keys on ?x (absent: null); stage `b` requires y, so the null puts no
        // condition on it and every `b` event's y becomes a key.
        let events = [
            json!({"id": 1, "cat": "a"}),
            json!({"id": 2, "cat": "b", "y": "v"}),
        ];
        // Elasticsearch adds no key condition at all when every key leaves every field free;
        // the last stage's key `v` then finds no `a` event with x == "v".
        assert!(run(
            "sample [a where true] by ?x [b where true] by y",
            1,
            &events
        )
        .is_empty());
    }

    #[test]
    fn key_order() {
        let key = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<JoinKey>();
        let mut keys = vec![
            key(&["s:b", "n:10"]),
            key(&["s:b", "n:9"]),
            key(&["s:B", "null"]),
            key(&["null", "b:true"]),
            key(&["s:b", "null"]),
        ];
        keys.sort_by(compare_join_keys);
        assert_eq!(
            keys,
            [
                key(&["null", "b:true"]),
                key(&["s:B", "null"]),
                key(&["s:b", "null"]),
                key(&["s:b", "n:9"]),
                key(&["s:b", "n:10"]),
            ]
        );
    }
}
