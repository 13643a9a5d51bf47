//! The Query DSL subset eqlc emits, and its JSON form.
//!
//! A typed tree rather than raw JSON so that lowering can inspect what it built (does it need
//! a script? can two `bool`s merge?) and so that every query prints in one stable key order.

use serde_json::{json, Map, Value as Json};

use super::painless::Script;

/// One Query DSL query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// `match_all`.
    MatchAll,
    /// `match_none`.
    MatchNone,
    /// `term`: the field holds exactly this value.
    Term {
        /// Field to search.
        field: String,
        /// The value (string, number or boolean).
        value: Json,
        /// ASCII case folding (keyword-family fields only).
        case_insensitive: bool,
    },
    /// `terms`: the field holds one of these values (case-sensitive).
    Terms {
        /// Field to search.
        field: String,
        /// The values.
        values: Vec<Json>,
    },
    /// `prefix`.
    Prefix {
        /// Field to search.
        field: String,
        /// The prefix.
        value: String,
        /// ASCII case folding.
        case_insensitive: bool,
    },
    /// `wildcard`, with `*`, `?` and `\` escapes.
    Wildcard {
        /// Field to search.
        field: String,
        /// The wildcard pattern, escaped.
        pattern: String,
        /// ASCII case folding.
        case_insensitive: bool,
    },
    /// `regexp`, in Lucene syntax with every operator enabled.
    Regexp {
        /// Field to search.
        field: String,
        /// The Lucene regular expression.
        pattern: String,
        /// ASCII case folding.
        case_insensitive: bool,
    },
    /// `range` with one bound.
    Range {
        /// Field to search.
        field: String,
        /// `gt`, `gte`, `lt` or `lte`.
        bound: &'static str,
        /// The bound.
        value: Json,
    },
    /// `exists`: the field has an indexed value.
    Exists {
        /// The field.
        field: String,
    },
    /// `bool`.
    Bool(BoolQuery),
    /// `script`, in Painless.
    Script(Script),
}

/// The clauses of a `bool` query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoolQuery {
    /// Every one must match.
    pub must: Vec<Query>,
    /// Every one must match, without scoring.
    pub filter: Vec<Query>,
    /// At least one must match (there is never a `must`/`filter` beside them, so the default
    /// `minimum_should_match` of 1 applies).
    pub should: Vec<Query>,
    /// None may match (missing fields do not match, so `must_not` keeps their documents).
    pub must_not: Vec<Query>,
}

impl Query {
    /// Whether a `script` query occurs anywhere inside.
    pub fn has_script(&self) -> bool {
        match self {
            Query::Script(_) => true,
            Query::Bool(b) => b
                .must
                .iter()
                .chain(&b.filter)
                .chain(&b.should)
                .chain(&b.must_not)
                .any(Query::has_script),
            _ => false,
        }
    }

    /// The JSON Elasticsearch accepts, keys in a fixed order.
    pub fn to_json(&self) -> Json {
        match self {
            Query::MatchAll => json!({"match_all": {}}),
            Query::MatchNone => json!({"match_none": {}}),
            Query::Term {
                field,
                value,
                case_insensitive,
            } => {
                let mut body = Map::new();
                body.insert("value".into(), value.clone());
                if *case_insensitive {
                    body.insert("case_insensitive".into(), Json::Bool(true));
                }
                keyed("term", field, Json::Object(body))
            }
            Query::Terms { field, values } => keyed("terms", field, Json::Array(values.clone())),
            Query::Prefix {
                field,
                value,
                case_insensitive,
            } => keyed(
                "prefix",
                field,
                string_body("value", value, *case_insensitive),
            ),
            Query::Wildcard {
                field,
                pattern,
                case_insensitive,
            } => keyed(
                "wildcard",
                field,
                string_body("wildcard", pattern, *case_insensitive),
            ),
            Query::Regexp {
                field,
                pattern,
                case_insensitive,
            } => {
                let mut body = Map::new();
                body.insert("value".into(), Json::String(pattern.clone()));
                // Every Lucene operator is enabled, as Elasticsearch's EQL translator does
                // (it writes `flags_value: 255`, which the API specification does not list);
                // the pattern escapes the operators it means literally.
                body.insert("flags".into(), json!("ALL"));
                if *case_insensitive {
                    body.insert("case_insensitive".into(), Json::Bool(true));
                }
                keyed("regexp", field, Json::Object(body))
            }
            Query::Range {
                field,
                bound,
                value,
            } => {
                let mut body = Map::new();
                body.insert((*bound).into(), value.clone());
                keyed("range", field, Json::Object(body))
            }
            Query::Exists { field } => json!({"exists": {"field": field}}),
            Query::Bool(b) => {
                let mut body = Map::new();
                for (name, clauses) in [
                    ("must", &b.must),
                    ("filter", &b.filter),
                    ("should", &b.should),
                    ("must_not", &b.must_not),
                ] {
                    if !clauses.is_empty() {
                        body.insert(
                            name.into(),
                            Json::Array(clauses.iter().map(Query::to_json).collect()),
                        );
                    }
                }
                json!({ "bool": body })
            }
            Query::Script(script) => json!({
                "script": {
                    "script": {
                        "source": script.source,
                        "lang": "painless",
                        "params": script.params,
                    }
                }
            }),
        }
    }
}

fn keyed(kind: &str, field: &str, body: Json) -> Json {
    let mut inner = Map::new();
    inner.insert(field.to_string(), body);
    let mut outer = Map::new();
    outer.insert(kind.to_string(), Json::Object(inner));
    Json::Object(outer)
}

fn string_body(key: &str, value: &str, case_insensitive: bool) -> Json {
    let mut body = Map::new();
    body.insert(key.into(), Json::String(value.to_string()));
    if case_insensitive {
        body.insert("case_insensitive".into(), Json::Bool(true));
    }
    Json::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bool_prints_only_non_empty_clauses_in_order() {
        let q = Query::Bool(BoolQuery {
            must_not: vec![Query::Exists { field: "a".into() }],
            must: vec![Query::MatchAll],
            ..BoolQuery::default()
        });
        assert_eq!(
            q.to_json().to_string(),
            r#"{"bool":{"must":[{"match_all":{}}],"must_not":[{"exists":{"field":"a"}}]}}"#
        );
        assert!(!q.has_script());
    }

    #[test]
    fn case_insensitive_appears_only_when_set() {
        let sensitive = Query::Term {
            field: "f".into(),
            value: json!("x"),
            case_insensitive: false,
        };
        assert_eq!(
            sensitive.to_json().to_string(),
            r#"{"term":{"f":{"value":"x"}}}"#
        );
        let insensitive = Query::Wildcard {
            field: "f".into(),
            pattern: "a*".into(),
            case_insensitive: true,
        };
        assert_eq!(
            insensitive.to_json().to_string(),
            r#"{"wildcard":{"f":{"wildcard":"a*","case_insensitive":true}}}"#
        );
    }
}
