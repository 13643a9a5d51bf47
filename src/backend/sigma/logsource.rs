//! A Sigma `logsource` from what the EQL rule says about its events: the event category and
//! the conditions every match must meet (`event.type`, `event.action`, `host.os.type`,
//! `data_stream.dataset`), then the rule's tags and index patterns.
//!
//! The logsource only describes; every condition stays in the detection, so the rule means
//! the same wherever its logsource is looked up.

use serde_json::{Map, Value as Json};

use crate::document::Rule;
use crate::ir::{Category, EventQuery, Expr, Literal, Value};

/// Sigma's `logsource`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Logsource {
    /// `category`: a Sigma taxonomy category where the events fit one, else the EQL category.
    pub category: Option<String>,
    /// `product`: the OS or the integration.
    pub product: Option<String>,
    /// `service`: the integration's data set.
    pub service: Option<String>,
    /// `definition`: said only when nothing else can be.
    pub definition: Option<String>,
}

impl Logsource {
    /// The `logsource:` mapping.
    pub fn to_json(&self) -> Json {
        let mut map = Map::new();
        for (key, value) in [
            ("category", &self.category),
            ("product", &self.product),
            ("service", &self.service),
            ("definition", &self.definition),
        ] {
            if let Some(v) = value {
                map.insert(key.into(), Json::String(v.clone()));
            }
        }
        Json::Object(map)
    }
}

/// The string values a top-level conjunct requires of `field` (`f == "a"`, `f : "a"`,
/// `f in ("a", "b")`), if any conjunct constrains it.
fn required_values(condition: &Expr, field: &str) -> Option<Vec<String>> {
    let conjuncts: &[Expr] = match condition {
        Expr::And { operands } => operands,
        other => std::slice::from_ref(other),
    };
    conjuncts.iter().find_map(|c| match c {
        Expr::Compare(cmp) => match (&cmp.left, cmp.right.as_literal()) {
            (Value::Field(f), Some(Literal::String(s))) if f.name == field => Some(vec![s.clone()]),
            _ => None,
        },
        Expr::In(set) => match &set.value {
            Value::Field(f) if f.name == field => Some(
                set.values
                    .iter()
                    .filter_map(|l| match l {
                        Literal::String(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => None,
        },
        Expr::Like(like) => match &like.value {
            Value::Field(f) if f.name == field => {
                like.patterns.iter().map(|p| p.as_literal()).collect()
            }
            _ => None,
        },
        _ => None,
    })
}

/// Whether a top-level conjunct positively tests a field starting with `prefix` (so every
/// match has such a field): `dns.question.name : "x"`, `dns.question.name != null`.
fn requires(condition: &Expr, prefix: &str) -> bool {
    let conjuncts: &[Expr] = match condition {
        Expr::And { operands } => operands,
        other => std::slice::from_ref(other),
    };
    let on_prefix = |v: &Value| matches!(v, Value::Field(f) if f.name.starts_with(prefix));
    conjuncts.iter().any(|c| match c {
        Expr::Compare(cmp) => on_prefix(&cmp.left),
        Expr::In(set) => on_prefix(&set.value),
        Expr::Like(like) => on_prefix(&like.value),
        Expr::Regex(regex) => on_prefix(&regex.value),
        Expr::Not { operand } => matches!(&**operand, Expr::IsNull { value } if on_prefix(value)),
        _ => false,
    })
}

fn only(values: Option<Vec<String>>) -> Option<String> {
    match values {
        Some(v) if v.len() == 1 => v.into_iter().next().map(|s| s.to_lowercase()),
        _ => None,
    }
}

fn all_in(values: &Option<Vec<String>>, allowed: &[&str]) -> bool {
    values.as_ref().is_some_and(|v| {
        !v.is_empty()
            && v.iter()
                .all(|x| allowed.contains(&x.to_lowercase().as_str()))
    })
}

/// The Sigma category of an event query.
fn category(event: &EventQuery) -> Option<String> {
    let Category::Named(name) = &event.category else {
        return None;
    };
    let condition = &event.condition;
    let types = required_values(condition, "event.type");
    let actions = required_values(condition, "event.action");
    // A taxonomy category only where every match is such an event; else the EQL category.
    let sigma = match name.as_str() {
        "process" if all_in(&types, &["start", "process_started"]) => "process_creation",
        "process" if all_in(&types, &["end"]) => "process_termination",
        "network" if requires(condition, "dns.") || all_in(&actions, &["lookup_requested"]) => {
            "dns_query"
        }
        "network"
            if all_in(&types, &["start", "connection"])
                || all_in(&actions, &["connection_attempted"]) =>
        {
            "network_connection"
        }
        "file" if all_in(&types, &["creation"]) => "file_event",
        "file" if all_in(&types, &["deletion"]) => "file_delete",
        "file" if all_in(&actions, &["rename"]) => "file_rename",
        "registry" if all_in(&types, &["change"]) || all_in(&actions, &["modification"]) => {
            "registry_set"
        }
        "registry" if all_in(&types, &["creation"]) => "registry_add",
        "registry" if all_in(&types, &["deletion"]) => "registry_delete",
        "registry" => "registry_event",
        "library" => "image_load",
        "driver" => "driver_load",
        other => other,
    };
    Some(sigma.to_string())
}

/// The OS a rule is about, from its conditions, then its `OS:` tags, then its indices.
fn operating_system(rule: &Rule, condition: &Expr) -> Option<String> {
    if let Some(os) = only(required_values(condition, "host.os.type")) {
        return Some(os);
    }
    let tagged: Vec<String> = rule
        .tags
        .iter()
        .filter_map(|t| t.strip_prefix("OS: "))
        .map(|os| os.to_lowercase())
        .collect();
    if let [os] = tagged.as_slice() {
        return Some(os.clone());
    }
    let windows = rule
        .index
        .iter()
        .all(|i| i.starts_with("winlogbeat-") || i.starts_with("logs-windows"));
    (!rule.index.is_empty() && windows).then(|| "windows".to_string())
}

/// The logsource of an event query (a whole rule or one stage).
pub fn infer(rule: &Rule, event: &EventQuery) -> Logsource {
    let condition = &event.condition;
    let mut logsource = Logsource {
        category: category(event),
        product: operating_system(rule, condition),
        ..Logsource::default()
    };
    if logsource.product.is_none() {
        // An integration's data set: `okta.system` is product okta, service system.
        let dataset = only(required_values(condition, "data_stream.dataset"))
            .or_else(|| only(required_values(condition, "event.dataset")));
        if let Some((product, service)) = dataset.as_deref().and_then(|d| d.split_once('.')) {
            if product != "endpoint" {
                logsource.product = Some(product.to_string());
                logsource.service = Some(service.to_string());
            }
        }
    }
    if logsource == Logsource::default() {
        // Sigma needs some logsource: these are events Elastic's agents and integrations index.
        logsource.product = Some("elastic".to_string());
        if !rule.index.is_empty() {
            logsource.definition = Some(format!("Elastic indices {}", rule.index.join(", ")));
        }
    }
    logsource
}
