//! What the native evaluator compiles a rule to, described for the preview page: the rule's
//! shape, and for each condition tested per event its matchers, the fields it reads and the
//! literal requirement the prefilter derives from it.

use serde::Serialize;

use crate::eval::condition::{Condition, FieldTest};
use crate::eval::document::FieldRef;
use crate::eval::prefilter::requirement;
use crate::eval::run::{CompiledRule, RuleKind};
use crate::eval::sequence::CompiledStage;
use crate::ir::{self, print, Case, Category, Query, QueryBody};

/// The evaluator's view of a rule.
#[derive(Debug, Clone, Serialize)]
pub struct EvaluatorView {
    /// Whether the evaluator can run the rule.
    pub evaluable: bool,
    /// `event`, `sequence` or `sample`; absent when the query did not compile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// Why the rule cannot be evaluated, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `| head N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<u64>,
    /// `| tail N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail: Option<u64>,
    /// A sequence's `maxspan`, as written canonically (`5m`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxspan: Option<String>,
    /// The conditions tested per event: one for an event rule, one per stage (and `until`)
    /// for sequences and samples.
    pub units: Vec<UnitView>,
}

/// One condition the engine tests per event.
#[derive(Debug, Clone, Serialize)]
pub struct UnitView {
    /// `event`, `stage 1`, …, or `until`.
    pub role: String,
    /// The event category it selects (`any` for none).
    pub category: String,
    /// Join keys, optional ones with a leading `?`.
    pub keys: Vec<String>,
    /// `with runs=N` (1 when not written).
    pub runs: u64,
    /// A missing-event stage (`![...]`).
    pub missing: bool,
    /// The matchers, one per line, indented under `all of` / `any of` / `not`.
    pub matcher: String,
    /// The fields the condition reads (the only ones decoded from each event).
    pub fields: Vec<String>,
    /// The prefilter's requirement: every clause must have one of its needles in the raw
    /// event line, or the condition is not tested. Empty: tested on every event.
    pub prefilter: Vec<Vec<String>>,
}

impl EvaluatorView {
    /// The rule could not be compiled for evaluation.
    pub fn not_evaluable(reason: impl Into<String>) -> Self {
        EvaluatorView {
            evaluable: false,
            kind: None,
            reason: Some(reason.into()),
            head: None,
            tail: None,
            maxspan: None,
            units: Vec::new(),
        }
    }

    /// Describe `rule`, compiled from `query`.
    pub fn of(rule: &CompiledRule, query: &Query) -> Self {
        let mut view = EvaluatorView {
            evaluable: true,
            kind: None,
            reason: None,
            head: rule.head,
            tail: rule.tail,
            maxspan: None,
            units: Vec::new(),
        };
        match (&rule.kind, &query.body) {
            (
                RuleKind::Event {
                    condition,
                    category,
                },
                _,
            ) => {
                view.kind = Some("event");
                view.units
                    .push(unit("event", category, condition, &[], &[], 1, false));
            }
            (RuleKind::Sequence(matcher), QueryBody::Sequence(sequence)) => {
                view.kind = Some("sequence");
                view.maxspan = sequence.maxspan.map(|d| d.to_string());
                stage_units(&mut view.units, matcher.stages(), &sequence.stages);
                if let Some(until) = matcher.until() {
                    view.units.push(stage_unit("until".into(), until, 1));
                }
            }
            (RuleKind::Sample(matcher), QueryBody::Sample(sample)) => {
                view.kind = Some("sample");
                stage_units(&mut view.units, matcher.stages(), &sample.stages);
            }
            // The compiled rule always has the query's shape; say so rather than guess.
            _ => return EvaluatorView::not_evaluable("internal error: rule and query disagree"),
        }
        view
    }
}

/// One unit per compiled stage; the matchers compile one stage per stage of the query.
fn stage_units(out: &mut Vec<UnitView>, compiled: &[CompiledStage], stages: &[ir::Stage]) {
    for (i, stage) in compiled.iter().enumerate() {
        let runs = stages.get(i).map_or(1, |s| s.runs);
        out.push(stage_unit(format!("stage {}", i + 1), stage, runs));
    }
}

fn stage_unit(role: String, stage: &CompiledStage, runs: u64) -> UnitView {
    unit(
        &role,
        &stage.category,
        &stage.condition,
        &stage.keys,
        &stage.optional_keys,
        runs,
        stage.missing,
    )
}

fn unit(
    role: &str,
    category: &Category,
    condition: &Condition,
    keys: &[FieldRef],
    optional: &[bool],
    runs: u64,
    missing: bool,
) -> UnitView {
    let mut fields = Vec::new();
    condition.collect_fields(&mut fields);
    let mut fields: Vec<String> = fields.iter().map(|f| f.name().to_string()).collect();
    fields.sort();
    fields.dedup();
    let mut matcher = String::new();
    describe(condition, 0, &mut matcher);
    UnitView {
        role: role.to_string(),
        category: match category {
            Category::Any => "any".into(),
            Category::Named(name) => name.clone(),
        },
        keys: keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let mark = if optional.get(i).copied().unwrap_or(false) {
                    "?"
                } else {
                    ""
                };
                format!("{mark}{}", k.name())
            })
            .collect(),
        runs,
        missing,
        matcher: matcher.trim_end().to_string(),
        fields,
        prefilter: requirement(condition).clauses,
    }
}

/// Append `condition` as indented lines.
fn describe(condition: &Condition, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    let mut line = |text: String| {
        out.push_str(&indent);
        out.push_str(&text);
        out.push('\n');
    };
    match condition {
        Condition::Constant(b) => line(format!("always {b}")),
        Condition::All(items) | Condition::Any(items) => {
            let word = if matches!(condition, Condition::All(_)) {
                "all of"
            } else {
                "any of"
            };
            line(word.to_string());
            for item in items {
                describe(item, depth + 1, out);
            }
        }
        Condition::Not(inner) => {
            line("not".to_string());
            describe(inner, depth + 1, out);
        }
        Condition::Field { field, test } => line(format!("{} {}", field.name(), test_text(test))),
        Condition::Missing(field) => line(format!("{} is missing or null", field.name())),
        Condition::Computed { expr, fields } => {
            let names: Vec<&str> = fields.iter().map(FieldRef::name).collect();
            line(format!(
                "computed {} (over the values of {})",
                print::expr(expr),
                names.join(", ")
            ));
        }
    }
}

fn case_text(case: Case) -> &'static str {
    match case {
        Case::Sensitive => "",
        Case::Insensitive => " (ASCII case folded)",
    }
}

fn test_text(test: &FieldTest) -> String {
    let list = |items: Vec<String>| items.join(", ");
    match test {
        FieldTest::Compare(op, literal, case) => {
            format!(
                "{} {}{}",
                op.symbol(),
                print::literal(literal),
                case_text(*case)
            )
        }
        FieldTest::OneOf(literals, case) => format!(
            "one of {}{}",
            list(literals.iter().map(print::literal).collect()),
            case_text(*case)
        ),
        FieldTest::Like(patterns) => {
            // Patterns grouped by the test chosen: `equals "a", "b"; starts with "c"`.
            let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
            for (verb, text) in patterns.iter().map(|w| w.test()) {
                let text = print::string_literal(&text);
                match groups.iter_mut().find(|g| g.0 == verb) {
                    Some(group) => group.1.push(text),
                    None => groups.push((verb, vec![text])),
                }
            }
            let tests: Vec<String> = groups
                .into_iter()
                .map(|(verb, texts)| match texts.len() {
                    1 => format!("{verb} {}", list(texts)),
                    _ => format!("{verb} one of {}", list(texts)),
                })
                .collect();
            let folded = patterns.first().is_some_and(|w| w.case_insensitive());
            let case = if folded {
                Case::Insensitive
            } else {
                Case::Sensitive
            };
            format!("{}{}", tests.join("; "), case_text(case))
        }
        FieldTest::Regex(regexes) => format!(
            "matches regex {}",
            list(
                regexes
                    .iter()
                    .map(|r| print::string_literal(r.as_str()))
                    .collect()
            )
        ),
        FieldTest::Cidr(networks) => format!(
            "in network {}",
            list(networks.iter().map(|n| n.to_string()).collect())
        ),
        FieldTest::IsTrue => "is true".into(),
        FieldTest::OneOfMany(set) => format!(
            "one of {} constants, looked up in a set{}",
            set.literals.len(),
            case_text(set.case())
        ),
        FieldTest::Date(op, spans, _) => format!(
            "date {} {} (as instants, epoch {})",
            op.symbol(),
            list(
                spans
                    .iter()
                    .map(|s| if s.first == s.last {
                        s.first.to_string()
                    } else {
                        format!("{}..{}", s.first, s.last)
                    })
                    .collect()
            ),
            "units of the field's resolution"
        ),
        FieldTest::IpIn(blocks) => {
            format!("ip address in one of {} addresses or blocks", blocks.len())
        }
        FieldTest::IpOrder(op, _) => format!("ip address {} a bound (16-byte order)", op.symbol()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::bare_eql;
    use crate::driver::compile_query;
    use crate::eval::run::compile_rule;

    fn view(eql: &str) -> EvaluatorView {
        let query = compile_query(eql).expect("compiles");
        let rule = compile_rule("<q>", &bare_eql(eql), &query).expect("evaluable");
        EvaluatorView::of(&rule, &query)
    }

    #[test]
    fn event_rule_lists_its_matchers_and_prefilter() {
        let v = view(r#"process where process.name : "cmd.exe" and user.name != "SYSTEM""#);
        assert_eq!(v.kind, Some("event"));
        assert_eq!(v.units.len(), 1);
        let unit = &v.units[0];
        assert_eq!(unit.category, "process");
        assert!(unit.matcher.starts_with("all of\n"), "{}", unit.matcher);
        assert!(
            unit.matcher
                .contains("process.name equals \"cmd.exe\" (ASCII case folded)"),
            "{}",
            unit.matcher
        );
        assert_eq!(unit.fields, vec!["process.name", "user.name"]);
        assert!(unit
            .prefilter
            .iter()
            .any(|c| c.iter().any(|n| n.contains("cmd.exe"))));
    }

    #[test]
    fn sequence_lists_stages_keys_and_maxspan() {
        let v = view(
            "sequence by host.id with maxspan=1m [process where true] [network where true] until [process where event.type == \"end\"]",
        );
        assert_eq!(v.kind, Some("sequence"));
        assert_eq!(v.maxspan.as_deref(), Some("1m"));
        let roles: Vec<&str> = v.units.iter().map(|u| u.role.as_str()).collect();
        assert_eq!(roles, ["stage 1", "stage 2", "until"]);
        assert_eq!(v.units[1].keys, vec!["host.id"]);
        assert!(v.units[0].prefilter.is_empty());
    }
}
