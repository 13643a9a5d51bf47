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

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::condition::{Condition, FieldTest};
use super::document::date_millis;
use crate::ir::{CompareOp, Literal};

/// What must appear in the text of a matching event: every clause, each satisfied by any
/// one of its (JSON-escaped) strings. No clauses means nothing is known (every event is a
/// candidate); an empty clause means the condition can never hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The clauses, all required.
    pub clauses: Vec<Vec<String>>,
}

impl Requirement {
    /// The requirement that every event meets.
    pub fn anything() -> Requirement {
        Requirement {
            clauses: Vec::new(),
        }
    }
}

/// The requirement of a condition.
pub fn requirement(condition: &Condition) -> Requirement {
    let mut clauses = needles(condition).unwrap_or_default();
    // The most selective clauses first: not from common-value fields, then longest weakest
    // needle. A few are enough, and each costs bookkeeping per line.
    clauses.sort_by_key(|c| (c.common, std::cmp::Reverse(c.weakest())));
    clauses.truncate(MAX_CLAUSES);
    // A common-value clause next to a selective one excludes almost nothing more, while its
    // needles hit nearly every line and cost bookkeeping on each.
    if clauses.first().is_some_and(|c| !c.common) {
        clauses.retain(|c| !c.common);
    }
    Requirement {
        clauses: clauses
            .into_iter()
            .map(|c| {
                let mut needles = c.needles;
                needles.sort();
                needles.dedup();
                needles
            })
            .collect(),
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
    needles: Vec<String>,
    /// From a field with common values.
    common: bool,
}

impl Clause {
    fn weakest(&self) -> usize {
        self.needles
            .iter()
            .map(String::len)
            .min()
            .unwrap_or(usize::MAX)
    }
}

/// A condition's clauses (all required), or `None` when nothing is known.
fn needles(condition: &Condition) -> Option<Vec<Clause>> {
    match condition {
        Condition::Constant(false) => Some(vec![Clause {
            needles: Vec::new(),
            common: false,
        }]),
        Condition::All(operands) => {
            let clauses: Vec<Clause> = operands.iter().filter_map(needles).flatten().collect();
            (!clauses.is_empty()).then_some(clauses)
        }
        Condition::Any(operands) => {
            // One clause: for each operand, its best clause; any of their needles will do.
            let mut union = Clause {
                needles: Vec::new(),
                common: false,
            };
            for operand in operands {
                let best = needles(operand)?
                    .into_iter()
                    .min_by_key(|c| (c.common, std::cmp::Reverse(c.weakest())))?;
                union.needles.extend(best.needles);
                union.common |= best.common;
            }
            Some(vec![union])
        }
        Condition::Field { field, test } => {
            let common = COMMON_VALUE_FIELDS
                .iter()
                .any(|prefix| field.name().starts_with(prefix));
            match field_needles(test) {
                Some(needles) => Some(vec![Clause { needles, common }]),
                // The field must be there, so its last name segment is, as a key (nested or
                // dotted) just before a quote: weak, so ranked with common values.
                None => key_needle(field.name()).map(|needle| {
                    vec![Clause {
                        needles: vec![needle],
                        common: true,
                    }]
                }),
            }
        }
        Condition::Constant(true)
        | Condition::Not(_)
        | Condition::Missing(_)
        | Condition::Computed { .. } => None,
    }
}

fn field_needles(test: &FieldTest) -> Option<Vec<String>> {
    // A string value is written whole between quotes, so a needle that must begin or end the
    // value carries the quote there: far fewer places in a line spell it.
    let quoted = |text: &str, start: bool, end: bool| {
        let json = json_string(text);
        let (from, to) = (usize::from(!start), json.len() - usize::from(!end));
        json[from..to].to_string()
    };
    let whole_values = |literals: &[Literal]| -> Option<Vec<String>> {
        literals
            .iter()
            .map(|l| plain_string(l).map(|s| quoted(&s, true, true)))
            .collect()
    };
    let needles: Vec<String> = match test {
        FieldTest::Compare(CompareOp::Eq, literal, _) => {
            vec![quoted(&plain_string(literal)?, true, true)]
        }
        FieldTest::OneOf(literals, _) => whole_values(literals)?,
        FieldTest::OneOfMany(set) => whole_values(&set.literals)?,
        FieldTest::Like(wildcards) => wildcards
            .iter()
            .map(|w| {
                let (text, start, end) = w.longest_literal()?;
                // A number's text could match the pattern, and numbers have no quotes.
                (!could_be_in_a_number(&text)).then(|| quoted(&text, start, end))
            })
            .collect::<Option<_>>()?,
        _ => return None,
    };
    needles
        .iter()
        .all(|n| n.len() >= MIN_NEEDLE)
        .then_some(needles)
}

/// The text every event with a value for `field` contains: its last name segment closing a
/// key. A key spelt with escapes skips the prefilter like any escaped line.
fn key_needle(field: &str) -> Option<String> {
    let last = field.rsplit('.').next()?;
    let json = json_string(last);
    let needle = json[1..].to_string();
    (needle.len() >= MIN_NEEDLE).then_some(needle)
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

/// The needles of many conditions, searched together.
#[derive(Debug, Clone)]
pub struct Prefilter {
    automaton: Option<AhoCorasick>,
    /// For each needle, the (condition, clause) pairs it satisfies.
    admits: Vec<Vec<(u32, u32)>>,
    /// For each condition, how many clauses it requires (0: always a candidate).
    required: Vec<u32>,
    /// Conditions with no requirement: always candidates.
    always: Vec<u32>,
    clauses: usize,
}

impl Prefilter {
    /// A prefilter over `requirements` (one per condition, by index).
    pub fn new(requirements: &[Requirement]) -> Prefilter {
        let mut needles: Vec<String> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        let mut admits: Vec<Vec<(u32, u32)>> = Vec::new();
        let mut always = Vec::new();
        let mut required = Vec::new();
        let mut clauses = 0u32;
        for (i, requirement) in requirements.iter().enumerate() {
            required.push(requirement.clauses.len() as u32);
            if requirement.clauses.is_empty() {
                always.push(i as u32);
            }
            for clause in &requirement.clauses {
                for needle in clause {
                    // Case is ignored, so needles differing only in case are one.
                    let key = needle.to_ascii_lowercase();
                    let id = *index.entry(key.clone()).or_insert_with(|| {
                        needles.push(key);
                        admits.push(Vec::new());
                        needles.len() - 1
                    });
                    if admits[id].last() != Some(&(i as u32, clauses)) {
                        admits[id].push((i as u32, clauses));
                    }
                }
                clauses += 1;
            }
        }
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
        if automaton.is_none() {
            // Without an automaton nothing can be excluded.
            always = (0..requirements.len() as u32).collect();
            required.iter_mut().for_each(|r| *r = 0);
            admits.clear();
        }
        Prefilter {
            automaton,
            admits,
            required,
            always,
            clauses: clauses as usize,
        }
    }

    /// How many conditions have no requirement.
    pub fn unfiltered(&self) -> usize {
        self.always.len()
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
        let conditions = self.required.len();
        candidates.clear();
        candidates.extend_from_slice(&self.always);
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
        // Stamps instead of clearing: a clause or count belongs to this line only if it
        // carries this line's stamp.
        cursor.stamp = cursor.stamp.wrapping_add(1);
        if cursor.stamp == 0 {
            cursor.clause_stamps.clear();
            cursor.counts.clear();
            cursor.stamp = 1;
        }
        let stamp = cursor.stamp;
        cursor.clause_stamps.resize(self.clauses, 0);
        cursor.counts.resize(conditions, (0, 0));
        while let Some(&(l, pattern)) = scan.hits.get(cursor.hit) {
            if l > line {
                break;
            }
            cursor.hit += 1;
            if l < line {
                continue;
            }
            for &(condition, clause) in &self.admits[pattern as usize] {
                let seen = &mut cursor.clause_stamps[clause as usize];
                if *seen == stamp {
                    continue;
                }
                *seen = stamp;
                let count = &mut cursor.counts[condition as usize];
                if count.0 != stamp {
                    *count = (stamp, 0);
                }
                count.1 += 1;
                if count.1 == self.required[condition as usize] {
                    candidates.push(condition);
                }
            }
        }
        candidates.sort_unstable();
        !candidates.is_empty()
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
    stamp: u32,
    /// Per clause: the stamp of the last line that satisfied it.
    clause_stamps: Vec<u32>,
    /// Per condition: (stamp, clauses satisfied on that line).
    counts: Vec<(u32, u32)>,
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
        requirement(&compile(&e.condition).expect("compiles"))
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
}
