//! The functions of Elasticsearch EQL: names, arities and which take a `~` variant.

use serde::Serialize;

/// An Elasticsearch EQL function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Function {
    /// `add(a, b)`
    Add,
    /// `between(source, left, right[, greedy])`
    Between,
    /// `cidrMatch(ip, cidr, ...)`
    CidrMatch,
    /// `concat(value, ...)`
    Concat,
    /// `divide(a, b)`
    Divide,
    /// `endsWith(source, suffix)`
    EndsWith,
    /// `indexOf(source, substring[, start])`
    IndexOf,
    /// `length(source)`
    Length,
    /// `modulo(a, b)`
    Modulo,
    /// `multiply(a, b)`
    Multiply,
    /// `number(source[, base])`
    Number,
    /// `startsWith(source, prefix)`
    StartsWith,
    /// `string(value)`
    String,
    /// `stringContains(source, substring)`
    StringContains,
    /// `substring(source, start[, end])`
    Substring,
    /// `subtract(a, b)`
    Subtract,
}

/// Every function, for listings in diagnostics.
pub const ALL_FUNCTIONS: [Function; 16] = [
    Function::Add,
    Function::Between,
    Function::CidrMatch,
    Function::Concat,
    Function::Divide,
    Function::EndsWith,
    Function::IndexOf,
    Function::Length,
    Function::Modulo,
    Function::Multiply,
    Function::Number,
    Function::StartsWith,
    Function::String,
    Function::StringContains,
    Function::Substring,
    Function::Subtract,
];

/// Functions Python eql has and Elasticsearch does not.
pub const PYTHON_EQL_ONLY: [&str; 6] = [
    "wildcard",
    "match",
    "matchlite",
    "arraycontains",
    "arraysearch",
    "arraycount",
];

impl Function {
    /// Look a function up by name; names are case-insensitive, as in Elasticsearch.
    pub fn from_name(name: &str) -> Option<Function> {
        ALL_FUNCTIONS
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// The canonical spelling.
    pub fn name(self) -> &'static str {
        match self {
            Function::Add => "add",
            Function::Between => "between",
            Function::CidrMatch => "cidrMatch",
            Function::Concat => "concat",
            Function::Divide => "divide",
            Function::EndsWith => "endsWith",
            Function::IndexOf => "indexOf",
            Function::Length => "length",
            Function::Modulo => "modulo",
            Function::Multiply => "multiply",
            Function::Number => "number",
            Function::StartsWith => "startsWith",
            Function::String => "string",
            Function::StringContains => "stringContains",
            Function::Substring => "substring",
            Function::Subtract => "subtract",
        }
    }

    /// Fewest and most arguments (`None`: unbounded).
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            Function::Length | Function::String => (1, Some(1)),
            Function::Add
            | Function::Divide
            | Function::Modulo
            | Function::Multiply
            | Function::Subtract
            | Function::EndsWith
            | Function::StartsWith
            | Function::StringContains => (2, Some(2)),
            Function::Number => (1, Some(2)),
            Function::IndexOf | Function::Substring => (2, Some(3)),
            Function::Between => (3, Some(4)),
            Function::CidrMatch => (2, None),
            Function::Concat => (1, None),
        }
    }

    /// Whether a `name~(...)` case-insensitive variant exists.
    pub fn has_insensitive_variant(self) -> bool {
        matches!(
            self,
            Function::Between
                | Function::EndsWith
                | Function::IndexOf
                | Function::StartsWith
                | Function::StringContains
        )
    }

    /// Whether the function yields a boolean, so that it can stand as a condition.
    pub fn returns_boolean(self) -> bool {
        matches!(
            self,
            Function::CidrMatch | Function::EndsWith | Function::StartsWith | Function::StringContains
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_canonical_names_round_trip() {
        assert_eq!(Function::from_name("cidrmatch"), Some(Function::CidrMatch));
        assert_eq!(Function::from_name("STRINGCONTAINS"), Some(Function::StringContains));
        assert_eq!(Function::from_name("wildcard"), None);
        for f in ALL_FUNCTIONS {
            assert_eq!(Function::from_name(f.name()), Some(f));
        }
    }
}
