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

/// What must appear in the text of a matching event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// Nothing known: every event is a candidate.
    Anything,
    /// One of these (JSON-escaped) strings; none means the condition can never hold.
    OneOf(Vec<String>),
}

/// The requirement of a condition.
pub fn requirement(condition: &Condition) -> Requirement {
    match needles(condition) {
        Some((mut needles, _)) => {
            needles.sort();
            needles.dedup();
            Requirement::OneOf(needles)
        }
        None => Requirement::Anything,
    }
}

/// Needles below this length hit nearly every line and only cost time.
const MIN_NEEDLE: usize = 3;

/// Fields whose values are a few words shared by most events (ECS enumerations, agent and
/// data stream names): their needles select little, so another conjunct is preferred.
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

/// A condition's needles, and whether they come from fields with common values.
fn needles(condition: &Condition) -> Option<(Vec<String>, bool)> {
    match condition {
        Condition::Constant(false) => Some((Vec::new(), false)),
        Condition::All(operands) => operands
            .iter()
            .filter_map(needles)
            // The most selective conjunct: not from a common-value field, then with the
            // longest weakest needle, then with fewest needles.
            .max_by_key(|(n, common)| {
                (
                    !common,
                    n.iter().map(String::len).min().unwrap_or(usize::MAX),
                    usize::MAX - n.len(),
                )
            }),
        Condition::Any(operands) => {
            let mut all = Vec::new();
            let mut any_common = false;
            for operand in operands {
                let (needles, common) = needles(operand)?;
                all.extend(needles);
                any_common |= common;
            }
            Some((all, any_common))
        }
        Condition::Field { field, test } => {
            let common = COMMON_VALUE_FIELDS
                .iter()
                .any(|prefix| field.name().starts_with(prefix));
            field_needles(test).map(|n| (n, common))
        }
        Condition::Constant(true)
        | Condition::Not(_)
        | Condition::Missing(_)
        | Condition::Computed { .. } => None,
    }
}

fn field_needles(test: &FieldTest) -> Option<Vec<String>> {
    let needles: Vec<String> = match test {
        FieldTest::Compare(CompareOp::Eq, literal, _) => vec![plain_string(literal)?],
        FieldTest::OneOf(literals, _) => {
            literals.iter().map(plain_string).collect::<Option<_>>()?
        }
        FieldTest::Like(wildcards) => wildcards
            .iter()
            .map(|w| w.longest_literal().filter(|l| !could_be_in_a_number(l)))
            .collect::<Option<_>>()?,
        _ => return None,
    };
    let escaped: Vec<String> = needles.iter().map(|n| json_escaped(n)).collect();
    escaped
        .iter()
        .all(|n| n.len() >= MIN_NEEDLE)
        .then_some(escaped)
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

/// `text` as it appears inside a JSON string written without optional escapes.
fn json_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
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
    /// For each needle, the conditions (by index) that it admits.
    admits: Vec<Vec<u32>>,
    /// Conditions with no requirement: always candidates.
    always: Vec<u32>,
    conditions: usize,
}

impl Prefilter {
    /// A prefilter over `requirements` (one per condition, by index).
    pub fn new(requirements: &[Requirement]) -> Prefilter {
        let mut needles: Vec<String> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        let mut admits: Vec<Vec<u32>> = Vec::new();
        let mut always = Vec::new();
        for (i, requirement) in requirements.iter().enumerate() {
            match requirement {
                Requirement::Anything => always.push(i as u32),
                Requirement::OneOf(list) => {
                    for needle in list {
                        // Case is ignored, so needles differing only in case are one.
                        let key = needle.to_ascii_lowercase();
                        let id = *index.entry(key.clone()).or_insert_with(|| {
                            needles.push(key);
                            admits.push(Vec::new());
                            needles.len() - 1
                        });
                        if admits[id].last() != Some(&(i as u32)) {
                            admits[id].push(i as u32);
                        }
                    }
                }
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
            admits.clear();
        }
        Prefilter {
            automaton,
            admits,
            always,
            conditions: requirements.len(),
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
        for found in automaton.find_overlapping_iter(&lower) {
            scan.hits
                .push((line_of(found.start()), found.pattern().as_u32()));
        }
        for finder in [&*ESCAPED_U, &*ESCAPED_SLASH] {
            for at in finder.find_iter(text) {
                scan.maybe_opaque.push(line_of(at));
            }
        }
        scan.hits.sort_unstable();
        scan.maybe_opaque.sort_unstable();
        scan.maybe_opaque.dedup();
        scan
    }

    /// Mark in `candidates` (one flag per condition, cleared first) the conditions that line
    /// number `line` (its text `text`) of a [`Scan`] may satisfy; returns whether there is
    /// any. Lines must be asked for in order; `cursor` carries the place in the scan.
    pub fn candidates(
        &self,
        scan: &Scan,
        cursor: &mut ScanCursor,
        line: u32,
        text: &[u8],
        candidates: &mut Vec<bool>,
    ) -> bool {
        candidates.clear();
        candidates.resize(self.conditions, false);
        let mut any = false;
        for &i in &self.always {
            candidates[i as usize] = true;
            any = true;
        }
        while scan
            .maybe_opaque
            .get(cursor.opaque)
            .is_some_and(|&l| l < line)
        {
            cursor.opaque += 1;
        }
        if scan.maybe_opaque.get(cursor.opaque) == Some(&line) && has_opaque_escapes(text) {
            candidates.iter_mut().for_each(|c| *c = true);
            return self.conditions > 0;
        }
        while let Some(&(l, pattern)) = scan.hits.get(cursor.hit) {
            if l > line {
                break;
            }
            cursor.hit += 1;
            if l < line {
                continue;
            }
            for &i in &self.admits[pattern as usize] {
                candidates[i as usize] = true;
                any = true;
            }
        }
        any
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

/// A place in a [`Scan`], for asking about its lines in order.
#[derive(Debug, Clone, Default)]
pub struct ScanCursor {
    hit: usize,
    opaque: usize,
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
        Requirement::OneOf(needles.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn requirements_follow_the_logic() {
        assert_eq!(
            requirement_of(
                r#"host.os.type == "windows" and process.name : ("cmd.exe", "pwsh.exe")"#
            ),
            one_of(&["cmd.exe", "pwsh.exe"]),
            "the conjunct with the longest weakest needle"
        );
        assert_eq!(
            requirement_of(r#"a == "alpha" or b like~ "*beta*gam?a*""#),
            one_of(&["alpha", "beta"])
        );
        assert_eq!(
            requirement_of(r#"a == "alpha" or not b == "beta""#),
            Requirement::Anything
        );
        assert_eq!(
            requirement_of(r#"p.path : "C:\\Windows\\*""#),
            one_of(&["c:\\\\windows\\\\"]),
            "backslashes as JSON writes them"
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
        ] {
            assert_eq!(
                requirement_of(no_needle),
                Requirement::Anything,
                "{no_needle}"
            );
        }
    }

    #[test]
    fn candidates_and_opaque_escapes() {
        let prefilter = Prefilter::new(&[
            one_of(&["cmd.exe"]),
            Requirement::Anything,
            one_of(&["a\\\\b"]),
            Requirement::OneOf(Vec::new()),
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
        let mut c = Vec::new();
        let mut ask = |i: usize, c: &mut Vec<bool>| {
            prefilter.candidates(&scan, &mut cursor, i as u32, lines[i].as_bytes(), c)
        };
        assert!(ask(0, &mut c));
        assert_eq!(c, [true, true, false, false]);
        assert!(ask(1, &mut c));
        assert_eq!(c, [false, true, true, false]);
        assert!(ask(2, &mut c));
        assert_eq!(c, [true, true, true, true], "an escape could hide a needle");
        assert!(ask(3, &mut c));
        assert_eq!(
            c,
            [false, true, false, false],
            "an escaped backslash before u"
        );
        assert!(has_opaque_escapes(br#""a\/b""#));
        assert!(!has_opaque_escapes(br#""C:\\users""#));
    }
}
