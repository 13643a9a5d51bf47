//! The evaluator's driver: many rules over one stream of NDJSON events.
//!
//! Each rule contributes *units*, the conditions tested per event: a single-event rule one,
//! a sequence one per distinct stage plus its `until`. Events are read in blocks. Within a
//! block, every core takes a share of the lines and, per line, skips it when no unit's literal
//! needles are in its text ([`Prefilter`], while that pays: [`RawScan`]), decodes only the
//! fields the rules read ([`FieldTrie`]), picks the units whose keys the decoded values show
//! ([`CategoryIndex`]), and tests those units. Only events that satisfy some unit leave the
//! parallel part. They then pass, one at a time and in Elasticsearch's order (timestamp,
//! tiebreaker, arrival), through a reorder buffer into the per-rule state: alert counts,
//! `head`/`tail`, and sequence matchers.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::document::{Document, FieldRef, FieldValue, JsonDocument};
use super::extract::{DecodedEvent, FieldTrie};
use super::prefilter::{
    requirement, CategoryIndex, Counts, IndexScratch, Prefilter, Requirement, ScanCursor,
};
use super::run::{CompiledRule, RuleKind};
use super::sequence::{CompiledStage, KeySpan, KeyStore, StageHits};
use crate::ir::Category;

/// Where event fields are.
#[derive(Debug, Clone)]
pub struct EventFields {
    /// The event category field (`event.category`; an array in ECS).
    pub category: String,
    /// The timestamp field (ISO-8601 strings or epoch milliseconds).
    pub timestamp: String,
    /// The field that orders events with equal timestamps, if any.
    pub tiebreaker: Option<String>,
}

impl Default for EventFields {
    fn default() -> Self {
        EventFields {
            category: "event.category".into(),
            timestamp: "@timestamp".into(),
            tiebreaker: None,
        }
    }
}

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Where event fields are.
    pub fields: EventFields,
    /// How many events (by arrival) a matching event may wait to be put in order; `None`
    /// buffers the whole input and sorts it, as Elasticsearch does.
    pub reorder_window: Option<u64>,
    /// At most this many alerts per rule (Elasticsearch's `size`).
    pub size: Option<u64>,
    /// At most this many join keys with pending matches per sequence; past it the oldest
    /// pending matches are dropped, with a warning.
    pub max_pending_keys: usize,
    /// Decode every event fully and test every rule: the plain reading of the semantics that
    /// the fast path is checked against.
    pub reference: bool,
    /// When the raw-text prefilter runs before decoding.
    pub raw_scan: RawScan,
}

/// When the raw-text prefilter ([`Prefilter`]) runs. It saves decoding lines no rule can
/// match, at the price of a pass over every byte; the index over decoded values
/// ([`FieldIndex`]) always runs. The results are the same either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RawScan {
    /// While it saves more decoding time than it costs, measured block by block.
    #[default]
    Adaptive,
    /// On every block.
    Always,
    /// Never: every line is decoded.
    Never,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            fields: EventFields::default(),
            reorder_window: Some(DEFAULT_REORDER_WINDOW),
            size: None,
            max_pending_keys: DEFAULT_MAX_PENDING_KEYS,
            reference: false,
            raw_scan: RawScan::default(),
        }
    }
}

/// Events that arrive at most this many events late are still put in order.
pub const DEFAULT_REORDER_WINDOW: u64 = 100_000;

/// The default cap on join keys with pending matches, per sequence.
pub const DEFAULT_MAX_PENDING_KEYS: usize = 1_000_000;

/// One match: the rule and the events (one for a single-event rule).
#[derive(Debug, Clone)]
pub struct Alert {
    /// Index of the rule in the list given to [`Engine::new`].
    pub rule: usize,
    /// The matched events as their JSON lines, in order.
    pub events: Vec<Arc<str>>,
}

/// Counts over a run.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Events read.
    pub events: u64,
    /// Lines that were not JSON objects (reported, then skipped).
    pub bad_lines: u64,
    /// Matching events that arrived after a later event had already been processed.
    pub out_of_order: u64,
    /// Alerts per rule, in rule order.
    pub alerts: Vec<u64>,
}

/// What a run reports as it goes.
pub trait Observer {
    /// An alert, as soon as it is final.
    fn alert(&mut self, rule: &CompiledRule, alert: &Alert) -> std::io::Result<()>;
    /// Something worth a warning (a bad line, a key cap reached).
    fn warn(&mut self, message: String);
    /// Progress: input bytes and events read so far.
    fn progress(&mut self, _bytes: u64, _events: u64) {}
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Event,
    Stage(usize),
    Until,
}

/// A condition tested per event.
#[derive(Debug, Clone)]
struct Unit {
    rule: u32,
    role: Role,
    stage: CompiledStage,
}

/// What one event satisfied: a unit of `rule`, with the event's join key tuples for it
/// (in its share's [`KeyStore`]).
#[derive(Debug, Clone, Copy)]
struct Hit {
    rule: u32,
    role: Role,
    keys: KeySpan,
}

/// The hits of one share's events and their join keys. Every matched event of the share
/// refers to it until the event is processed, so it lives as one allocation for the share
/// rather than several per event (which, made on a worker and freed on the ordering thread
/// a reorder window later, were most of the cost of a busy missing-event stage).
#[derive(Debug, Default)]
struct ShareHits {
    hits: Vec<Hit>,
    keys: KeyStore,
}

/// Where an event goes in Elasticsearch's order.
#[derive(Debug, Clone, PartialEq)]
enum Tiebreaker {
    None,
    Number(f64),
    Text(String),
}

impl Tiebreaker {
    fn cmp(&self, other: &Tiebreaker) -> Ordering {
        use Tiebreaker::*;
        match (self, other) {
            (None, None) => Ordering::Equal,
            (None, _) => Ordering::Less,
            (_, None) => Ordering::Greater,
            (Number(a), Number(b)) => a.total_cmp(b),
            (Number(_), Text(_)) => Ordering::Less,
            (Text(_), Number(_)) => Ordering::Greater,
            (Text(a), Text(b)) => a.cmp(b),
        }
    }
}

/// What testing one event found.
struct Tested {
    time: Option<f64>,
    tiebreaker: Tiebreaker,
    /// Its hits, in the share's [`ShareHits`].
    hits: std::ops::Range<u32>,
    /// Some hit may put the event in an alert.
    shown: bool,
}

/// An event that satisfied some unit, waiting to be put in order.
#[derive(Debug)]
struct Matched {
    time: Option<f64>,
    tiebreaker: Tiebreaker,
    arrival: u64,
    line: Arc<str>,
    /// Its hits, in its share's [`ShareHits`].
    hits: std::ops::Range<u32>,
}

/// A matched event with its time settled, ordered for the reorder buffer (a min-heap).
#[derive(Debug)]
struct Queued {
    time: f64,
    event: Matched,
    share: Arc<ShareHits>,
}

impl Queued {
    fn order(&self, other: &Queued) -> Ordering {
        self.time
            .total_cmp(&other.time)
            .then_with(|| self.event.tiebreaker.cmp(&other.event.tiebreaker))
            .then_with(|| self.event.arrival.cmp(&other.event.arrival))
    }
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.order(other) == Ordering::Equal
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: `BinaryHeap` pops its greatest.
        other.order(self)
    }
}

/// The reorder buffer: matched events waiting to be processed, smallest [`Queued::order`]
/// first. Input is usually already in order, so events that sort after the last one of
/// `run` are appended there (a sorted run, cheap to fill and drain); only late ones pay for
/// the heap. The smaller of the two fronts is next, so the release order is the heap's alone.
#[derive(Default)]
struct Reorder {
    run: VecDeque<Queued>,
    late: BinaryHeap<Queued>,
}

impl Reorder {
    fn push(&mut self, queued: Queued) {
        if self
            .run
            .back()
            .is_none_or(|last| last.order(&queued) == Ordering::Less)
        {
            self.run.push_back(queued);
        } else {
            self.late.push(queued);
        }
    }

    /// Whether the next event comes from `run`; `None` when both are empty.
    fn next_in_run(&self) -> Option<bool> {
        match (self.run.front(), self.late.peek()) {
            (Some(a), Some(b)) => Some(a.order(b) == Ordering::Less),
            (Some(_), None) => Some(true),
            (None, Some(_)) => Some(false),
            (None, None) => None,
        }
    }

    fn peek(&self) -> Option<&Queued> {
        match self.next_in_run()? {
            true => self.run.front(),
            false => self.late.peek(),
        }
    }

    fn pop(&mut self) -> Option<Queued> {
        match self.next_in_run()? {
            true => self.run.pop_front(),
            false => self.late.pop(),
        }
    }
}

/// The read-only part of a run, shared by the cores.
struct Plan {
    units: Vec<Unit>,
    prefilter: Prefilter,
    index: CategoryIndex,
    trie: FieldTrie,
    category: FieldRef,
    timestamp: FieldRef,
    tiebreaker: Option<FieldRef>,
    reference: bool,
    /// Index scratch (with its memo of recent values) handed from share to share, so the
    /// memo outlives a share.
    scratches: std::sync::Mutex<Vec<IndexScratch>>,
}

/// What one share of a block found.
#[derive(Default)]
struct ShareResult {
    lines: u64,
    events: u64,
    matched: Vec<(u64, Matched)>,
    hits: ShareHits,
    bad: Vec<(u64, String)>,
    /// How long examining the share took.
    time: Duration,
}

/// How long examining some lines took, and whether the raw-text prefilter ran.
#[derive(Debug, Default, Clone, Copy)]
struct ScanCost {
    scanned: bool,
    time: Duration,
    lines: u64,
}

/// Decides, block by block, whether the raw-text prefilter runs ([`RawScan::Adaptive`]):
/// whichever way examined a line faster when last measured. The way not taken is tried
/// again now and then, as the events may have changed: after [`PROBE_EVERY`] blocks, and
/// twice as long after each probe that changed nothing.
struct ScanPolicy {
    mode: RawScan,
    /// Time per line with the scan and without, as last measured.
    with_scan: Option<f64>,
    without: Option<f64>,
    /// Blocks between probes, and blocks since the last.
    interval: u32,
    since_probe: u32,
    /// The last block was a probe, taken while the scan was (not) the faster way.
    probed: Option<bool>,
}

const PROBE_EVERY: u32 = 16;

/// Probes are at least this rare once they keep confirming the choice.
const PROBE_AT_MOST_EVERY: u32 = 256;

impl ScanPolicy {
    fn new(mode: RawScan) -> ScanPolicy {
        ScanPolicy {
            mode,
            with_scan: None,
            without: None,
            interval: PROBE_EVERY,
            since_probe: 0,
            probed: None,
        }
    }

    /// Whether the scan is the faster way, once both are measured.
    fn scan_is_faster(&self) -> Option<bool> {
        Some(self.with_scan? <= self.without?)
    }

    /// Whether the next block is scanned.
    fn next(&mut self) -> bool {
        self.probed = None;
        match self.mode {
            RawScan::Always => true,
            RawScan::Never => false,
            RawScan::Adaptive => match (self.with_scan, self.scan_is_faster()) {
                (None, _) => true,
                (Some(_), None) => false,
                (_, Some(faster)) => {
                    self.since_probe += 1;
                    if self.since_probe >= self.interval {
                        self.since_probe = 0;
                        self.probed = Some(faster);
                        !faster
                    } else {
                        faster
                    }
                }
            },
        }
    }

    /// What the last block cost.
    fn record(&mut self, cost: &ScanCost) {
        // A small block (the end of the input) says little.
        if cost.lines < 1000 {
            return;
        }
        let per_line = Some(cost.time.as_secs_f64() / cost.lines as f64);
        if cost.scanned {
            self.with_scan = per_line;
        } else {
            self.without = per_line;
        }
        if let Some(before) = self.probed {
            self.interval = if self.scan_is_faster() == Some(before) {
                (self.interval * 2).min(PROBE_AT_MOST_EVERY)
            } else {
                PROBE_EVERY
            };
        }
    }
}

/// Rules compiled for one run over events.
pub struct Engine {
    rules: Vec<CompiledRule>,
    plan: Plan,
    options: EngineOptions,
}

/// Lines per block read before the cores share them out.
const BLOCK_BYTES: usize = 4 << 20;

impl Engine {
    /// Prepare `rules` for a run.
    pub fn new(rules: Vec<CompiledRule>, options: EngineOptions) -> Engine {
        let mut units = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let rule_index = i as u32;
            match &rule.kind {
                RuleKind::Event {
                    category,
                    condition,
                } => units.push(Unit {
                    rule: rule_index,
                    role: Role::Event,
                    stage: CompiledStage {
                        category: category.clone(),
                        condition: condition.clone(),
                        keys: Vec::new(),
                        optional_keys: Vec::new(),
                        missing: false,
                    },
                }),
                RuleKind::Sample(matcher) => {
                    for (s, stage) in matcher.stages().iter().enumerate() {
                        units.push(Unit {
                            rule: rule_index,
                            role: Role::Stage(s),
                            stage: stage.clone(),
                        });
                    }
                }
                RuleKind::Sequence(matcher) => {
                    for (s, stage) in matcher.stages().iter().enumerate() {
                        units.push(Unit {
                            rule: rule_index,
                            role: Role::Stage(s),
                            stage: stage.clone(),
                        });
                    }
                    if let Some(until) = matcher.until() {
                        units.push(Unit {
                            rule: rule_index,
                            role: Role::Until,
                            stage: until.clone(),
                        });
                    }
                }
            }
        }
        let requirements: Vec<Requirement> = units
            .par_iter()
            .map(|u| {
                if options.reference {
                    Requirement::anything()
                } else {
                    requirement(&u.stage.condition)
                }
            })
            .collect();
        let unit_categories: Vec<Option<&str>> = units
            .iter()
            .map(|u| match &u.stage.category {
                Category::Any => None,
                Category::Named(name) => Some(name.as_str()),
            })
            .collect();
        // Both are built once per run, and independent: on two cores at once.
        let (prefilter, index) = rayon::join(
            || Prefilter::new(&requirements),
            || CategoryIndex::new(&requirements, &unit_categories),
        );
        let category = FieldRef::new(&options.fields.category);
        let timestamp = FieldRef::new(&options.fields.timestamp);
        let tiebreaker = options.fields.tiebreaker.as_deref().map(FieldRef::new);
        let mut fields = vec![category.clone(), timestamp.clone()];
        fields.extend(tiebreaker.clone());
        for unit in &units {
            unit.stage.condition.collect_fields(&mut fields);
            fields.extend(unit.stage.keys.iter().cloned());
        }
        Engine {
            plan: Plan {
                prefilter,
                index,
                trie: FieldTrie::new(&fields),
                units,
                category,
                timestamp,
                tiebreaker,
                reference: options.reference,
                scratches: Default::default(),
            },
            rules,
            options,
        }
    }

    /// The rules, in the order alerts refer to them.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// How many conditions are tested per event, and how many of them every event meets
    /// (no literal prefilter applies).
    pub fn conditions(&self) -> (usize, usize) {
        (self.plan.units.len(), self.plan.prefilter.unfiltered())
    }

    /// Run the rules over the NDJSON events of `input`.
    pub fn run(
        &mut self,
        input: impl Read + Send,
        observer: &mut dyn Observer,
    ) -> std::io::Result<RunSummary> {
        let Engine {
            rules,
            plan,
            options,
        } = self;
        let mut state = RunState::new(rules, options);
        let mut policy = ScanPolicy::new(if plan.reference {
            // The reference path has no index: the prefilter passes every line.
            RawScan::Always
        } else {
            options.raw_scan
        });
        let (sender, receiver) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(2);
        // Examined blocks go back to the reader to be filled again: a fresh 4 MB buffer per
        // block costs its page faults every time.
        let (spare_sender, spare_receiver) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::scope(|scope| {
            // Reading overlaps with matching: one block is read while the last is examined.
            scope.spawn(move || read_blocks(input, sender, spare_receiver));
            let mut bytes = 0u64;
            let mut first_line = 1u64;
            let mut examined: Option<Vec<ShareResult>> = None;
            for block in receiver {
                let block = block?;
                bytes += block.len() as u64;
                // The cores examine this block while this thread puts the last one's matches
                // in order.
                let plan = &*plan;
                let scan = policy.next();
                let next = std::thread::scope(|inner| {
                    let worker = inner.spawn(|| plan.examine_block(&block, scan));
                    if let Some(results) = examined.take() {
                        state.take_block(results, &mut first_line, rules, options, observer)?;
                    }
                    worker
                        .join()
                        .map_err(|_| std::io::Error::other("an evaluation thread failed"))
                })?;
                policy.record(&ScanCost {
                    scanned: scan,
                    time: next.iter().map(|share| share.time).sum(),
                    lines: next.iter().map(|share| share.lines).sum(),
                });
                examined = Some(next);
                // The reader may have finished; then the buffer is simply dropped.
                let _ = spare_sender.send(block);
                observer.progress(bytes, state.summary.events);
            }
            if let Some(results) = examined.take() {
                state.take_block(results, &mut first_line, rules, options, observer)?;
            }
            state.release(rules, Some(0), u64::MAX, observer)?;
            state.settle(rules, observer)?;
            state.finish(rules, observer)
        })
    }
}

impl Plan {
    /// Split a block into one share per core (several, so a slow share does not hold the
    /// rest up) and examine the shares in parallel; results in input order.
    fn examine_block(&self, block: &[u8], scan: bool) -> Vec<ShareResult> {
        let shares = rayon::current_num_threads().max(1) * 4;
        let target = block.len() / shares + 1;
        let mut bounds = Vec::with_capacity(shares + 1);
        bounds.push(0);
        let mut at = 0;
        while at < block.len() {
            let end = (at + target).min(block.len());
            let end = match memchr::memchr(b'\n', &block[end.saturating_sub(1)..]) {
                Some(offset) => end.saturating_sub(1) + offset + 1,
                None => block.len(),
            };
            bounds.push(end);
            at = end;
        }
        bounds
            .par_windows(2)
            .map(|w| self.examine_share(&block[w[0]..w[1]], scan))
            .collect()
    }

    fn examine_share(&self, share: &[u8], scan: bool) -> ShareResult {
        let plan = self;
        let mut result = ShareResult::default();
        let mut candidates = Vec::new();
        let mut counts = Counts::default();
        let mut scratch = match plan.scratches.lock() {
            Ok(mut pool) => pool.pop().unwrap_or_default(),
            Err(_) => IndexScratch::default(),
        };
        // Unescaped strings of this share's events.
        let arena = bumpalo::Bump::new();
        let mut decoded = DecodedEvent::new();
        // The text kept for events no alert will show (one allocation per share, not per event).
        let unshown: Arc<str> = Arc::from("");
        let line_ends: Vec<usize> = memchr::memchr_iter(b'\n', share)
            .chain(std::iter::once(share.len()))
            .collect();
        let started = Instant::now();
        let scanned = scan.then(|| plan.prefilter.scan(share, &line_ends));
        let mut cursor = ScanCursor::default();
        let mut start = 0;
        for (index, &end) in line_ends.iter().enumerate() {
            let raw = share[start..end].trim_ascii();
            start = (end + 1).min(share.len());
            let any = match &scanned {
                Some(found) => plan.prefilter.candidates(
                    found,
                    &mut cursor,
                    index as u32,
                    raw,
                    &mut candidates,
                ),
                None => true,
            };
            let index = index as u64;
            if raw.is_empty() {
                continue;
            }
            let Ok(line) = std::str::from_utf8(raw) else {
                result.bad.push((index, "not UTF-8".into()));
                continue;
            };
            // A line no condition can match is not decoded, so it is only checked to look
            // like an object; a line that might match must be JSON.
            if !any {
                if line.starts_with('{') && line.ends_with('}') {
                    result.events += 1;
                } else {
                    result.bad.push((index, "not a JSON object".into()));
                }
                continue;
            }
            let outcome = if plan.reference {
                match serde_json::from_str::<serde_json::Value>(line) {
                    Ok(json @ serde_json::Value::Object(_)) => {
                        let doc = JsonDocument(&json);
                        let categories = doc.field_values(&plan.category);
                        Ok(plan.test(&doc, &categories, &candidates, &mut result.hits))
                    }
                    Ok(_) => Err("not a JSON object".to_string()),
                    Err(e) => Err(e.to_string()),
                }
            } else {
                match plan.trie.decode(line, &arena, &mut decoded) {
                    Ok(()) => {
                        let view = decoded.view();
                        // Exact about fields, so usually far fewer than the raw scan's.
                        let categories = view.field_values(&plan.category);
                        let index = plan.index.for_event(&categories);
                        if index.candidates(&view, &mut counts, &mut scratch, &mut candidates) {
                            Ok(plan.test(&view, &categories, &candidates, &mut result.hits))
                        } else {
                            Ok(None)
                        }
                    }
                    Err(e) => Err(e.to_string()),
                }
            };
            if outcome.is_ok() {
                result.events += 1;
            }
            match outcome {
                Ok(Some(tested)) => result.matched.push((
                    index,
                    Matched {
                        time: tested.time,
                        tiebreaker: tested.tiebreaker,
                        arrival: 0,
                        line: if tested.shown {
                            Arc::from(line)
                        } else {
                            unshown.clone()
                        },
                        hits: tested.hits,
                    },
                )),
                Ok(None) => {}
                Err(message) => result.bad.push((index, message)),
            }
        }
        result.time = started.elapsed();
        if let Ok(mut pool) = plan.scratches.lock() {
            pool.push(scratch);
        }
        // A share ends with its line's newline, so its last (empty) piece is not a line.
        result.lines = line_ends.len() as u64 - u64::from(share.ends_with(b"\n"));
        result
    }
}

impl Plan {
    /// Test the candidate units on one event: its time, tiebreaker and hits, if any, and
    /// whether some hit may put the event in an alert (hits of `until` and missing-event
    /// stages only rule matches out, so such an event's text need not be kept).
    /// `categories` are the event's values of the category field.
    fn test(
        &self,
        doc: &dyn Document,
        categories: &[FieldValue<'_>],
        candidates: &[u32],
        share: &mut ShareHits,
    ) -> Option<Tested> {
        let first = share.hits.len() as u32;
        let mut shown = false;
        for unit in candidates.iter().map(|&u| &self.units[u as usize]) {
            if !unit.stage.applies(doc, categories) {
                continue;
            }
            shown |= match unit.role {
                Role::Event => true,
                Role::Stage(_) => !unit.stage.missing,
                Role::Until => false,
            };
            let keys = match unit.role {
                Role::Event => KeySpan::default(),
                Role::Stage(_) | Role::Until => {
                    share
                        .keys
                        .push(doc, &unit.stage.keys, &unit.stage.optional_keys)
                }
            };
            share.hits.push(Hit {
                rule: unit.rule,
                role: unit.role,
                keys,
            });
        }
        let hits = first..share.hits.len() as u32;
        if hits.is_empty() {
            return None;
        }
        let time = doc
            .field_values(&self.timestamp)
            .first()
            .and_then(FieldValue::as_millis);
        let tiebreaker = match &self.tiebreaker {
            Some(field) => match doc.field_values(field).first() {
                Some(FieldValue::Integer(i)) => Tiebreaker::Number(*i as f64),
                Some(FieldValue::Float(f)) => Tiebreaker::Number(*f),
                Some(FieldValue::Text(s)) => Tiebreaker::Text(s.to_string()),
                Some(FieldValue::Bool(b)) => Tiebreaker::Number(f64::from(u8::from(*b))),
                None => Tiebreaker::None,
            },
            None => Tiebreaker::None,
        };
        Some(Tested {
            time,
            tiebreaker,
            hits,
            shown,
        })
    }
}

/// One rule's hits from one event as the stage hits its matcher takes, in `stage_hits`
/// (reused across events to spare an allocation per event).
fn gather(hits: &[Hit], keys: &KeyStore, stage_hits: &mut StageHits) {
    stage_hits.stages.clear();
    stage_hits.until = None;
    for hit in hits {
        match hit.role {
            Role::Stage(stage) => stage_hits
                .stages
                .push((stage, keys.tuples(hit.keys).collect())),
            Role::Until => stage_hits.until = Some(keys.tuples(hit.keys).collect()),
            Role::Event => {}
        }
    }
}

/// Read `input` in blocks that end at a line break (gzip is recognised by its magic bytes).
fn read_blocks(
    input: impl Read,
    sender: std::sync::mpsc::SyncSender<std::io::Result<Vec<u8>>>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
) {
    let mut input = std::io::BufReader::with_capacity(1 << 16, input);
    let mut carry: Vec<u8> = Vec::new();
    let gzip = match std::io::BufRead::fill_buf(&mut input) {
        Ok(head) => head.starts_with(&[0x1f, 0x8b]),
        Err(e) => {
            let _ = sender.send(Err(e));
            return;
        }
    };
    let mut reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(input))
    } else {
        Box::new(input)
    };
    loop {
        let mut block = match spare.try_recv() {
            Ok(mut reused) => {
                reused.clear();
                reused.append(&mut carry);
                reused
            }
            Err(_) => std::mem::take(&mut carry),
        };
        let wanted = BLOCK_BYTES.saturating_sub(block.len()).max(1 << 16);
        block.reserve(wanted);
        // `take` + `read_to_end` fills spare capacity without zeroing it first.
        let eof = match (&mut reader).take(wanted as u64).read_to_end(&mut block) {
            Ok(n) => n < wanted,
            Err(e) => {
                let _ = sender.send(Err(e));
                return;
            }
        };
        if !eof {
            // Keep the unfinished last line for the next block; a block with no line
            // break at all grows until it has one.
            match memchr::memrchr(b'\n', &block) {
                Some(last) => carry = block.split_off(last + 1),
                None => {
                    carry = block;
                    continue;
                }
            }
        }
        if !block.is_empty() && sender.send(Ok(block)).is_err() {
            return;
        }
        if eof {
            return;
        }
    }
}

/// Per-rule state and the reorder buffer.
struct RunState {
    summary: RunSummary,
    queue: Reorder,
    /// The latest time seen in arrival order, standing in for events without one.
    latest_arrived: f64,
    /// The time of the last event released.
    latest_released: f64,
    tails: Vec<VecDeque<Vec<Arc<str>>>>,
    caps: Vec<Option<u64>>,
    key_warned: Vec<bool>,
    max_pending_keys: usize,
    released: u64,
    /// Scratch for [`gather`].
    stage_hits: StageHits,
}

/// How often (in released events) sequences drop pending matches past `maxspan`.
const EXPIRY_INTERVAL: u64 = 10_000;

impl RunState {
    fn new(rules: &[CompiledRule], options: &EngineOptions) -> RunState {
        RunState {
            summary: RunSummary {
                alerts: vec![0; rules.len()],
                ..RunSummary::default()
            },
            queue: Reorder::default(),
            latest_arrived: f64::NEG_INFINITY,
            latest_released: f64::NEG_INFINITY,
            tails: vec![VecDeque::new(); rules.len()],
            caps: rules
                .iter()
                .map(|r| match (r.head, options.size) {
                    (Some(h), Some(s)) => Some(h.min(s)),
                    (h, s) => h.or(s),
                })
                .collect(),
            key_warned: vec![false; rules.len()],
            max_pending_keys: options.max_pending_keys.max(1),
            released: 0,
            stage_hits: StageHits::default(),
        }
    }

    fn arrive(&mut self, arrival: u64, mut event: Matched, share: &Arc<ShareHits>) {
        event.arrival = arrival;
        let time = event.time.unwrap_or(self.latest_arrived);
        self.latest_arrived = self.latest_arrived.max(time);
        self.queue.push(Queued {
            time,
            event,
            share: share.clone(),
        });
    }

    /// Take one examined block's results, in input order.
    fn take_block(
        &mut self,
        results: Vec<ShareResult>,
        first_line: &mut u64,
        rules: &mut [CompiledRule],
        options: &EngineOptions,
        observer: &mut dyn Observer,
    ) -> std::io::Result<()> {
        let window = options.reorder_window;
        for share in results {
            for (line, message) in share.bad {
                self.summary.bad_lines += 1;
                observer.warn(format!("line {}: {message}", *first_line + line));
            }
            let hits = Arc::new(share.hits);
            for (line, matched) in share.matched {
                let arrival = *first_line + line;
                self.arrive(arrival, matched, &hits);
                self.release(rules, window, arrival, observer)?;
            }
            self.summary.events += share.events;
            *first_line += share.lines;
            self.release(rules, window, *first_line, observer)?;
        }
        Ok(())
    }

    /// Process queued events that arrived more than `window` lines before `now`.
    fn release(
        &mut self,
        rules: &mut [CompiledRule],
        window: Option<u64>,
        now: u64,
        observer: &mut dyn Observer,
    ) -> std::io::Result<()> {
        let Some(window) = window else {
            return Ok(());
        };
        while let Some(next) = self.queue.peek() {
            if now != u64::MAX && next.event.arrival.saturating_add(window) > now {
                break;
            }
            let Some(Queued { time, event, share }) = self.queue.pop() else {
                break;
            };
            if time < self.latest_released {
                self.summary.out_of_order += 1;
            }
            self.latest_released = self.latest_released.max(time);
            self.process(rules, time, event, &share, observer)?;
        }
        Ok(())
    }

    fn process(
        &mut self,
        rules: &mut [CompiledRule],
        time: f64,
        event: Matched,
        share: &ShareHits,
        observer: &mut dyn Observer,
    ) -> std::io::Result<()> {
        self.released += 1;
        let sweep = self.released.is_multiple_of(EXPIRY_INTERVAL);
        let mut stage_hits = std::mem::take(&mut self.stage_hits);
        let mut hits = &share.hits[event.hits.start as usize..event.hits.end as usize];
        while let Some(first) = hits.first() {
            // A rule's hits are adjacent, since units are laid out rule by rule.
            let index = first.rule as usize;
            let count = hits.iter().take_while(|h| h.rule == first.rule).count();
            let (own, rest) = hits.split_at(count);
            hits = rest;
            let mut found: Vec<Vec<Arc<str>>> = Vec::new();
            match &mut rules[index].kind {
                RuleKind::Event { .. } => found.push(vec![event.line.clone()]),
                RuleKind::Sample(matcher) => {
                    gather(own, &share.keys, &mut stage_hits);
                    matcher.push_hits(&event.line, &stage_hits);
                }
                RuleKind::Sequence(matcher) => {
                    // Most events a busy missing-event stage or `until` hits find nothing
                    // waiting on them: then their join keys are not even read back.
                    let ignored = own.iter().all(|hit| match hit.role {
                        Role::Stage(stage) => matcher.ignores(Some(stage)),
                        Role::Until => matcher.ignores(None),
                        Role::Event => false,
                    });
                    if !ignored {
                        gather(own, &share.keys, &mut stage_hits);
                        found = matcher.push_hits(&event.line, time, &stage_hits);
                    }
                    if sweep {
                        matcher.expire(self.latest_released);
                    }
                    if matcher.pending_keys() > self.max_pending_keys {
                        matcher.expire(self.latest_released);
                        if matcher.pending_keys() > self.max_pending_keys {
                            matcher.drop_oldest(self.max_pending_keys / 2);
                            if !self.key_warned[index] {
                                self.key_warned[index] = true;
                                observer.warn(format!(
                                    "{}: more than {} join keys with pending sequences; \
                                     the oldest were dropped (raise --max-pending-keys, or \
                                     give the sequence a maxspan)",
                                    rules[index].label(),
                                    self.max_pending_keys
                                ));
                            }
                        }
                    }
                }
            }
            for events in found {
                self.found(rules, index, events, observer)?;
            }
        }
        stage_hits.stages.clear();
        stage_hits.until = None;
        self.stage_hits = stage_hits;
        Ok(())
    }

    /// The end of the input: sequences waiting on trailing missing stages stand, and
    /// samples are drawn.
    fn settle(
        &mut self,
        rules: &mut [CompiledRule],
        observer: &mut dyn Observer,
    ) -> std::io::Result<()> {
        for index in 0..rules.len() {
            let found: Vec<Vec<Arc<str>>> = match &mut rules[index].kind {
                RuleKind::Event { .. } => continue,
                RuleKind::Sequence(matcher) => {
                    matcher.finish().into_iter().map(|m| m.present()).collect()
                }
                RuleKind::Sample(matcher) => {
                    matcher.finish().into_iter().map(|m| m.events).collect()
                }
            };
            for events in found {
                self.found(rules, index, events, observer)?;
            }
        }
        Ok(())
    }

    fn found(
        &mut self,
        rules: &[CompiledRule],
        rule: usize,
        events: Vec<Arc<str>>,
        observer: &mut dyn Observer,
    ) -> std::io::Result<()> {
        if let Some(n) = rules[rule].tail {
            let kept = &mut self.tails[rule];
            kept.push_back(events);
            if kept.len() as u64 > n {
                kept.pop_front();
            }
            return Ok(());
        }
        if self.caps[rule].is_some_and(|cap| self.summary.alerts[rule] >= cap) {
            return Ok(());
        }
        self.summary.alerts[rule] += 1;
        observer.alert(&rules[rule], &Alert { rule, events })
    }

    fn finish(
        mut self,
        rules: &[CompiledRule],
        observer: &mut dyn Observer,
    ) -> std::io::Result<RunSummary> {
        let tails = std::mem::take(&mut self.tails);
        for (rule, kept) in tails.into_iter().enumerate() {
            for events in kept {
                if self.caps[rule].is_some_and(|cap| self.summary.alerts[rule] >= cap) {
                    break;
                }
                self.summary.alerts[rule] += 1;
                observer.alert(&rules[rule], &Alert { rule, events })?;
            }
        }
        Ok(self.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::bare_eql;
    use crate::driver::compile_query;
    use crate::eval::run::{alert_ids, compile_rule};

    fn rule(eql: &str) -> CompiledRule {
        compile_rule(
            "<query>",
            &bare_eql(eql),
            &compile_query(eql).expect("compiles"),
        )
        .expect("evaluable")
    }

    #[derive(Default)]
    struct Collect {
        alerts: Vec<String>,
        warnings: Vec<String>,
    }

    impl Observer for Collect {
        fn alert(&mut self, _: &CompiledRule, alert: &Alert) -> std::io::Result<()> {
            self.alerts
                .push(format!("{}:{}", alert.rule, alert_ids(alert, "id")));
            Ok(())
        }
        fn warn(&mut self, message: String) {
            self.warnings.push(message);
        }
    }

    const EVENTS: &str = r#"{"event": {"category": ["process"]}, "id": 1, "process": {"name": "alpha"}}
{"event": {"category": "file"}, "id": 2, "process": {"name": "alpha"}}
not json
{"event": {"category": "process"}, "id": 3, "process": {"name": "beta"}}

{"event": {"category": "process"}, "id": 4, "process": {"name": "alpha"}}
{"event": {"category": "process"}, "id": 5, "process": {"name": "alpha"
"#;

    fn run_all(
        rules: Vec<CompiledRule>,
        options: EngineOptions,
        input: &str,
    ) -> (Collect, RunSummary) {
        let mut engine = Engine::new(rules, options);
        let mut seen = Collect::default();
        let summary = engine.run(input.as_bytes(), &mut seen).expect("runs");
        (seen, summary)
    }

    #[test]
    fn categories_arrays_pipes_and_bad_lines() {
        for reference in [false, true] {
            let rules = vec![
                rule(r#"process where process.name == "alpha""#),
                rule("any where true | head 2"),
                rule("process where true | tail 1"),
            ];
            let options = EngineOptions {
                reference,
                ..EngineOptions::default()
            };
            let (seen, summary) = run_all(rules, options, EVENTS);
            assert_eq!(seen.alerts, ["0:1", "1:1", "1:2", "0:4", "2:4"]);
            assert_eq!(summary.events, 4);
            assert_eq!(summary.alerts, [2, 2, 1]);
            assert_eq!(summary.bad_lines, 2);
            assert!(
                seen.warnings[0].starts_with("line 3:"),
                "{:?}",
                seen.warnings
            );
            assert!(
                seen.warnings[1].starts_with("line 7:"),
                "{:?}",
                seen.warnings
            );
        }
    }

    #[test]
    fn sequences_alert_with_their_events() {
        let rules = vec![rule(
            r#"sequence with maxspan=1h [process where process.name == "alpha"] [process where process.name == "beta"]"#,
        )];
        let (seen, summary) = run_all(rules, EngineOptions::default(), EVENTS);
        assert_eq!(seen.alerts, ["0:1,3"]);
        assert_eq!(summary.alerts, [1]);
    }

    #[test]
    fn events_are_put_in_timestamp_then_tiebreaker_order() {
        let events = r#"{"@timestamp": 30, "id": 1, "n": "b"}
{"@timestamp": 10, "id": 2, "n": "a"}
{"@timestamp": 20, "id": 4, "n": "a"}
{"@timestamp": 20, "id": 3, "n": "a"}
"#;
        let sequence = || rule(r#"sequence [any where n == "a"] [any where n == "b"]"#);
        let fields = EventFields {
            tiebreaker: Some("id".into()),
            ..EventFields::default()
        };
        let ordered = EngineOptions {
            fields: fields.clone(),
            ..EngineOptions::default()
        };
        let (seen, summary) = run_all(
            vec![rule(r#"any where n == "a""#), sequence()],
            ordered,
            events,
        );
        assert_eq!(seen.alerts, ["0:2", "0:3", "0:4", "1:4,1"]);
        assert_eq!(summary.out_of_order, 0);

        // Without a window, events are taken as they come and late ones are counted.
        let unordered = EngineOptions {
            fields,
            reorder_window: Some(0),
            ..EngineOptions::default()
        };
        let (seen, summary) = run_all(vec![sequence()], unordered, events);
        assert_eq!(seen.alerts, Vec::<String>::new());
        assert_eq!(summary.out_of_order, 3);
    }

    #[test]
    fn the_reorder_buffer_releases_in_heap_order() {
        let queued = |time: f64, tiebreaker: Tiebreaker, arrival: u64| Queued {
            time,
            event: Matched {
                time: Some(time),
                tiebreaker,
                arrival,
                line: Arc::from(""),
                hits: 0..0,
            },
            share: Arc::default(),
        };
        let times = [5.0, 5.0, 7.0, 3.0, 7.0, 9.0, 1.0, 9.0, 8.0, 8.0, 2.0, 10.0];
        let tiebreakers = [2.0, 1.0, 0.0, 4.0, 0.0, 3.0, 0.0, 1.0, 0.5, 0.5, 0.0, 0.0];
        let mut reorder = Reorder::default();
        let mut heap = BinaryHeap::new();
        let mut released = Vec::new();
        let mut expected = Vec::new();
        for (arrival, (&t, &b)) in times.iter().zip(&tiebreakers).enumerate() {
            reorder.push(queued(t, Tiebreaker::Number(b), arrival as u64));
            heap.push(queued(t, Tiebreaker::Number(b), arrival as u64));
            // Release some as they come, to mix the run and the heap.
            if arrival % 3 == 2 {
                released.extend(reorder.pop().map(|q| q.event.arrival));
                expected.extend(heap.pop().map(|q| q.event.arrival));
            }
        }
        assert!(!reorder.late.is_empty() && !reorder.run.is_empty());
        while let Some(q) = reorder.peek() {
            let arrival = q.event.arrival;
            assert_eq!(reorder.pop().map(|q| q.event.arrival), Some(arrival));
            released.push(arrival);
        }
        expected.extend(std::iter::from_fn(|| heap.pop().map(|q| q.event.arrival)));
        assert_eq!(released, expected);
    }

    #[test]
    fn size_caps_alerts_and_gzip_is_read() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(EVENTS.as_bytes()).expect("compress");
        let compressed = gz.finish().expect("compress");
        let mut engine = Engine::new(
            vec![rule("process where true")],
            EngineOptions {
                size: Some(1),
                ..EngineOptions::default()
            },
        );
        let mut seen = Collect::default();
        let summary = engine.run(compressed.as_slice(), &mut seen).expect("runs");
        assert_eq!(seen.alerts, ["0:1"]);
        assert_eq!(summary.events, 4);
    }

    #[test]
    fn samples_and_missing_event_stages_run() {
        let events = r#"{"@timestamp": 1, "id": 1, "h": "x", "n": "a"}
{"@timestamp": 2, "id": 2, "h": "y", "n": "a"}
{"@timestamp": 3, "id": 3, "h": "y", "n": "c"}
{"@timestamp": 4, "id": 4, "h": "x", "n": "b"}
{"@timestamp": 5, "id": 5, "h": "y", "n": "b"}
"#;
        let (seen, _) = run_all(
            vec![
                rule(r#"sample by h [any where n == "a"] [any where n == "b"]"#),
                rule(
                    r#"sequence by h with maxspan=1h [any where n == "a"] ![any where n == "c"] [any where n == "b"]"#,
                ),
            ],
            EngineOptions::default(),
            events,
        );
        // The sequence on `y` has a `c` between its stages; samples come out at the end.
        assert_eq!(seen.alerts, ["1:1,4", "0:1,4", "0:2,5"]);
    }

    #[test]
    fn the_raw_scan_runs_while_it_pays_and_is_probed_ever_less_often() {
        let mut policy = ScanPolicy::new(RawScan::Adaptive);
        let mut scanned = Vec::new();
        for block in 0..300 {
            let scan = policy.next();
            if scan {
                scanned.push(block);
            }
            // Scanning costs 3 µs a line and not scanning 2 µs, until the events change
            // at block 100 and scanning costs 1 µs.
            let micros = match (scan, block < 100) {
                (false, _) => 2,
                (true, true) => 3,
                (true, false) => 1,
            };
            policy.record(&ScanCost {
                scanned: scan,
                time: Duration::from_micros(micros * 10_000),
                lines: 10_000,
            });
        }
        let probes_then_scans: Vec<usize> = (114..300)
            .filter(|b| ![129, 161, 225].contains(b))
            .collect();
        assert_eq!(
            scanned[..4],
            [0, 17, 49, 113],
            "probes at 16, 32, 64 blocks"
        );
        assert_eq!(
            scanned[4..],
            probes_then_scans[..],
            "once scanning pays it runs, probed without it after 16, 32, 64 blocks"
        );
        for mode in [RawScan::Always, RawScan::Never] {
            let mut fixed = ScanPolicy::new(mode);
            assert!((0..40).all(|_| fixed.next() == (mode == RawScan::Always)));
        }
    }

    #[test]
    fn a_key_explosion_is_capped_with_a_warning() {
        let events: String = (0..100)
            .map(|i| format!("{{\"@timestamp\": {i}, \"id\": {i}, \"k\": {i}}}\n"))
            .collect();
        let (seen, _) = run_all(
            vec![rule("sequence by k [any where true] [any where false]")],
            EngineOptions {
                max_pending_keys: 10,
                ..EngineOptions::default()
            },
            &events,
        );
        assert_eq!(seen.warnings.len(), 1, "{:?}", seen.warnings);
        assert!(seen.warnings[0].contains("join keys"));
    }
}
