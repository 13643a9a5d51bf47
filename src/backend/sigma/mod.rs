//! Sigma: each EQL rule as a Sigma rule (specification v2), sequences and samples as a
//! correlation rule plus one rule per stage, in one multi-document YAML file.

pub mod detection;
pub mod fields;
pub mod logsource;
mod yaml;

use serde_json::{json, Map, Value as Json};
use uuid::Uuid;

use crate::document::Rule;
use crate::ir::{self, Field, QueryBody, Stage};

pub use detection::{CasePolicy, Inexpressible};
pub use fields::FieldMap;

/// Title of a rule without a name (a bare query).
const UNTITLED: &str = "EQL query";

/// eqlc's namespace for deterministic (version 5) rule ids: the same rule id gives the same
/// Sigma id on every run and machine.
const ID_NAMESPACE: Uuid = Uuid::from_u128(0x5f0e_2a8c_6d41_4f7a_9b3e_1c2d_4e5f_6a7b);

/// How Sigma rules are written.
#[derive(Debug, Clone, Copy)]
pub struct SigmaOptions<'a> {
    /// ECS → Sigma field names.
    pub field_map: &'a FieldMap,
    /// How case-sensitive comparisons are written.
    pub case_policy: CasePolicy,
}

/// `rule` (whose compiled query is `query`) as Sigma YAML: one document, or for a sequence
/// or sample a correlation rule followed by its stage rules.
pub fn convert(
    rule: &Rule,
    query: &ir::Query,
    options: &SigmaOptions<'_>,
) -> Result<String, Inexpressible> {
    if let Some(pipe) = query.pipes.first() {
        let name = match pipe {
            ir::Pipe::Head(_) => "head",
            ir::Pipe::Tail(_) => "tail",
        };
        return Err(Inexpressible {
            construct: format!("the pipe `| {name}`"),
        });
    }
    let base = base_id(rule, query);
    let documents = match &query.body {
        QueryBody::Event(event) => {
            let mut doc = metadata(rule, &base, None);
            body(&mut doc, rule, event, options)?;
            closing(&mut doc, rule);
            vec![doc]
        }
        QueryBody::Sequence(sequence) => {
            if sequence.until.is_some() {
                return Err(Inexpressible {
                    construct: "`until` (Sigma correlations cannot end a sequence early)".into(),
                });
            }
            // Without `maxspan` a sequence is bounded by the detection engine's search window,
            // the rule's look-back, as a sample is.
            let timespan = match sequence.maxspan {
                Some(maxspan) => timespan(maxspan.millis).ok_or_else(|| Inexpressible {
                    construct: format!("`maxspan={maxspan}` (Sigma timespans are whole seconds)"),
                })?,
                None => search_window(rule).ok_or_else(|| Inexpressible {
                    construct: "a sequence with neither `maxspan` nor a rule look-back (`from`) \
                                to bound its timespan"
                        .into(),
                })?,
            };
            correlation(
                rule,
                &base,
                "temporal_ordered",
                &sequence.by,
                &sequence.stages,
                timespan,
                options,
            )?
        }
        QueryBody::Sample(sample) => {
            // A sample looks at the events of one search window: the rule's look-back.
            let window = search_window(rule).ok_or_else(|| Inexpressible {
                construct: "a sample without a rule look-back (`from`) to bound its timespan"
                    .into(),
            })?;
            correlation(
                rule,
                &base,
                "temporal",
                &sample.by,
                &sample.stages,
                window,
                options,
            )?
        }
    };
    let mut out = String::new();
    for (i, doc) in documents.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&yaml::document(&Json::Object(doc.clone())));
    }
    Ok(out)
}

/// What the rule's deterministic ids derive from.
fn base_id(rule: &Rule, query: &ir::Query) -> String {
    match &rule.rule_id {
        Some(id) => id.clone(),
        None => format!("eql:{}", ir::print::query(query)),
    }
}

fn uuid(seed: &str) -> String {
    Uuid::new_v5(&ID_NAMESPACE, seed.as_bytes()).to_string()
}

/// title, id, status, description, references, author, dates, tags.
fn metadata(rule: &Rule, base: &str, stage: Option<usize>) -> Map<String, Json> {
    let mut doc = Map::new();
    let title = rule.name.clone().unwrap_or_else(|| UNTITLED.to_string());
    match stage {
        None => {
            doc.insert("title".into(), json!(truncate(&title, 256)));
            doc.insert("id".into(), json!(uuid(base)));
        }
        Some(n) => {
            doc.insert(
                "title".into(),
                json!(truncate(&format!("{title} (stage {n})"), 256)),
            );
            doc.insert("id".into(), json!(uuid(&format!("{base}/stage/{n}"))));
            doc.insert("name".into(), json!(stage_name(&title, base, n)));
        }
    }
    let status = match rule.maturity.as_deref() {
        Some("production") => "stable",
        Some("deprecated") => "deprecated",
        _ => "experimental",
    };
    doc.insert("status".into(), json!(status));
    if let Some(description) = &rule.description {
        doc.insert("description".into(), json!(description.trim()));
    }
    if !rule.references.is_empty() {
        doc.insert("references".into(), json!(rule.references));
    }
    if !rule.authors.is_empty() {
        doc.insert("author".into(), json!(rule.authors.join(", ")));
    }
    if let Some(date) = rule.created.as_deref().and_then(iso_date) {
        doc.insert("date".into(), json!(date));
    }
    if let Some(date) = rule.updated.as_deref().and_then(iso_date) {
        doc.insert("modified".into(), json!(date));
    }
    let tags = attack_tags(rule);
    if !tags.is_empty() {
        doc.insert("tags".into(), json!(tags));
    }
    doc
}

/// falsepositives and level.
fn closing(doc: &mut Map<String, Json>, rule: &Rule) {
    if !rule.false_positives.is_empty() {
        doc.insert("falsepositives".into(), json!(rule.false_positives));
    }
    if let Some(level) = rule.severity.as_deref().map(str::to_lowercase) {
        if ["informational", "low", "medium", "high", "critical"].contains(&level.as_str()) {
            doc.insert("level".into(), json!(level));
        }
    }
}

/// logsource and detection of one event query.
fn body(
    doc: &mut Map<String, Json>,
    rule: &Rule,
    event: &ir::EventQuery,
    options: &SigmaOptions<'_>,
) -> Result<(), Inexpressible> {
    let logsource = logsource::infer(rule, event);
    let category = logsource.category.clone();
    let map = options.field_map;
    let field_name = |ecs: &str| map.name(ecs, category.as_deref());
    let builder = detection::DetectionBuilder {
        case_policy: options.case_policy,
        field_name: &field_name,
    };
    let category_field = rule
        .event_category_override
        .as_deref()
        .unwrap_or("event.category");
    let category = match &event.category {
        ir::Category::Named(name) => Some((category_field, name.as_str())),
        ir::Category::Any => None,
    };
    let detection = builder.detection(&event.condition, category)?;
    doc.insert("logsource".into(), logsource.to_json());
    doc.insert("detection".into(), detection.to_json());
    Ok(())
}

/// A correlation rule over one rule per stage.
fn correlation(
    rule: &Rule,
    base: &str,
    kind: &str,
    shared: &[Field],
    stages: &[Stage],
    timespan: String,
    options: &SigmaOptions<'_>,
) -> Result<Vec<Map<String, Json>>, Inexpressible> {
    let title = rule.name.clone().unwrap_or_else(|| UNTITLED.to_string());
    let map = options.field_map;
    let mut stage_docs = Vec::new();
    let mut names = Vec::new();
    // Per stage rule: its join keys, shared ones first, as that rule names them.
    let mut stage_keys: Vec<Vec<String>> = Vec::new();
    for stage in stages {
        if stage.missing {
            return Err(Inexpressible {
                construct: "a missing-event stage `![...]` (Sigma correlates events that occur)"
                    .into(),
            });
        }
        let category = logsource::infer(rule, &stage.event).category;
        let keys: Vec<String> = stage
            .keys(shared)
            .map(|f| map.name(&f.name, category.as_deref()))
            .collect();
        // `with runs=N` is N consecutive matches: the same stage N times.
        for _ in 0..stage.runs {
            let n = stage_docs.len() + 1;
            let mut doc = metadata(rule, base, Some(n));
            body(&mut doc, rule, &stage.event, options)?;
            names.push(stage_name(&title, base, n));
            stage_keys.push(keys.clone());
            stage_docs.push(doc);
        }
    }
    let mut group_by = Vec::new();
    let mut aliases = Map::new();
    let key_count = stage_keys.first().map_or(0, Vec::len);
    let mut seen: Vec<Vec<&String>> = Vec::new();
    for k in 0..key_count {
        // A key position that repeats an earlier one (`sequence by a [..] by a`) adds nothing.
        let column: Vec<&String> = stage_keys.iter().map(|keys| &keys[k]).collect();
        if seen.contains(&column) {
            continue;
        }
        seen.push(column);
        // A key every stage rule names alike needs no alias.
        let first = &stage_keys[0][k];
        if stage_keys.iter().all(|keys| &keys[k] == first) {
            group_by.push(first.clone());
            continue;
        }
        // An alias name no stage uses as a field, so it cannot hide one.
        let mut alias = format!("key_{}", k + 1);
        while stage_keys.iter().flatten().any(|name| *name == alias) {
            alias.push('_');
        }
        let mut per_rule = Map::new();
        for (name, keys) in names.iter().zip(&stage_keys) {
            per_rule.insert(name.clone(), json!(keys[k]));
        }
        aliases.insert(alias.clone(), Json::Object(per_rule));
        group_by.push(alias);
    }
    if group_by.is_empty() {
        return Err(Inexpressible {
            construct: "a sequence without join keys (a Sigma correlation needs `group-by`)".into(),
        });
    }
    let mut doc = metadata(rule, base, None);
    let mut correlation = Map::new();
    correlation.insert("type".into(), json!(kind));
    correlation.insert("rules".into(), json!(names));
    correlation.insert("group-by".into(), json!(group_by));
    if !aliases.is_empty() {
        correlation.insert("aliases".into(), Json::Object(aliases));
    }
    correlation.insert("timespan".into(), json!(timespan));
    doc.insert("correlation".into(), Json::Object(correlation));
    closing(&mut doc, rule);
    let mut documents = vec![doc];
    documents.extend(stage_docs);
    Ok(documents)
}

/// A stage rule's `name`: unique per rule and stage, `[a-z0-9_]`.
fn stage_name(title: &str, base: &str, n: usize) -> String {
    let mut slug: String = title
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    while slug.contains("__") {
        slug = slug.replace("__", "_");
    }
    let slug = slug.trim_matches('_');
    let slug: String = slug.chars().take(48).collect();
    // Part of the id keeps names unique between rules with the same title.
    let short = &uuid(base)[..8];
    format!("{slug}_{short}_stage_{n}")
}

/// Milliseconds as a Sigma timespan (`30s`, `5m`, `1h`, `2d`), when whole seconds.
fn timespan(millis: u64) -> Option<String> {
    if millis == 0 || !millis.is_multiple_of(1000) {
        return None;
    }
    let seconds = millis / 1000;
    Some(if seconds.is_multiple_of(86_400) {
        format!("{}d", seconds / 86_400)
    } else if seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    })
}

/// The detection engine's search window for a rule: its `from` (default `now-6m` for a
/// rule with an id), as a timespan. A bare query has none.
fn search_window(rule: &Rule) -> Option<String> {
    let from = match (&rule.from, &rule.rule_id) {
        (Some(from), _) => from.as_str(),
        (None, Some(_)) => "now-6m",
        (None, None) => return None,
    };
    lookback_millis(from).and_then(timespan)
}

/// `now-9m` → 540000.
fn lookback_millis(from: &str) -> Option<u64> {
    let span = from.trim().strip_prefix("now-")?;
    let digits: String = span.chars().take_while(char::is_ascii_digit).collect();
    let amount: u64 = digits.parse().ok()?;
    let unit = match &span[digits.len()..] {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    amount.checked_mul(unit)
}

/// `2020/11/23` or `2020-11-23` → `2020-11-23`.
fn iso_date(date: &str) -> Option<String> {
    let parts: Vec<&str> = date.trim().split(['/', '-']).collect();
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            let all_digits = parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()));
            all_digits.then(|| format!("{y}-{m}-{d}"))
        }
        _ => None,
    }
}

/// MITRE ATT&CK tags: `attack.<tactic>`, `attack.tNNNN`, `attack.tNNNN.NNN`.
fn attack_tags(rule: &Rule) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    let mut push = |tag: String| {
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    };
    for threat in &rule.threat {
        if !threat.framework.contains("ATT&CK") {
            continue;
        }
        if let Some(tactic) = &threat.tactic {
            let name: String = tactic
                .name
                .to_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            push(format!("attack.{name}"));
        }
        for technique in &threat.techniques {
            push(format!("attack.{}", technique.entry.id.to_lowercase()));
            for sub in &technique.subtechniques {
                push(format!("attack.{}", sub.id.to_lowercase()));
            }
        }
    }
    tags
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespans_are_whole_seconds_in_the_largest_unit() {
        assert_eq!(timespan(30_000).as_deref(), Some("30s"));
        assert_eq!(timespan(300_000).as_deref(), Some("5m"));
        assert_eq!(timespan(7_200_000).as_deref(), Some("2h"));
        assert_eq!(timespan(1_500), None);
        assert_eq!(lookback_millis("now-9m"), Some(540_000));
        assert_eq!(lookback_millis("now-1d"), Some(86_400_000));
        assert_eq!(lookback_millis("2020-01-01"), None);
    }

    #[test]
    fn ids_are_deterministic_uuids() {
        assert_eq!(uuid("abc"), uuid("abc"));
        assert_ne!(uuid("abc"), uuid("abd"));
        assert!(Uuid::parse_str(&uuid("abc")).is_ok());
    }

    #[test]
    fn dates_become_iso() {
        assert_eq!(iso_date("2020/11/23").as_deref(), Some("2020-11-23"));
        assert_eq!(iso_date("2020-11-23").as_deref(), Some("2020-11-23"));
        assert_eq!(iso_date("Nov 23"), None);
    }
}
