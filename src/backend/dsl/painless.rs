//! Conditions Query DSL has no query for, as a `script` query in standard Painless.

use crate::ir::{Expr, Field};

/// A Painless script: source plus every user value in `params`.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// Painless source; never contains a user-supplied string.
    pub source: String,
    /// Named parameters (`params.x` in the source), in insertion order.
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// A construct no script can express faithfully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// What, e.g. "`regex` on a computed value".
    pub construct: String,
}

/// How a field is read from doc values: the name to read (a text field's keyword sub-field).
pub type DocField<'a> = &'a dyn Fn(&Field) -> String;

/// A script query body that holds when `condition` holds for some combination of the
/// values of its fields (Elasticsearch's multi-value semantics), with null-safe functions.
pub fn condition_script(condition: &Expr, doc_field: DocField<'_>) -> Result<Script, Unsupported> {
    let _ = (condition, doc_field);
    Err(Unsupported {
        construct: "script conditions are not lowered yet".into(),
    })
}
