//! Field types: what Elasticsearch's translation of a comparison depends on.
//!
//! A `term` on a `text` field must target its keyword sub-field, a CIDR needs an `ip` field, a
//! `wildcard` query fails on a `long`. The types come either from the Elastic Common Schema,
//! embedded from `data/ecs-field-types.tsv`, or from the user's index mapping (the JSON that
//! `GET <index>/_mapping` returns).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value as Json;

/// An Elasticsearch field type, as far as query translation cares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// `keyword`.
    Keyword,
    /// `constant_keyword`.
    ConstantKeyword,
    /// `wildcard`: a keyword-like type optimised for wildcard queries.
    Wildcard,
    /// `text`: analysed; exact matches need a keyword sub-field.
    Text,
    /// `match_only_text`: analysed, no positions; exact matches need a keyword sub-field.
    MatchOnlyText,
    /// A key inside a `flattened` field: indexed as keyword.
    FlattenedKey,
    /// `flattened` itself.
    Flattened,
    /// Integer types (`long`, `integer`, `short`, `byte`, `unsigned_long`).
    Integer(String),
    /// Floating-point types (`double`, `float`, `half_float`, `scaled_float`).
    Float(String),
    /// `date` or `date_nanos`.
    Date(String),
    /// `boolean`.
    Boolean,
    /// `ip`.
    Ip,
    /// `version`.
    Version,
    /// Anything else (`geo_point`, `object`, …), by its Elasticsearch name.
    Other(String),
}

impl FieldType {
    /// The type for an Elasticsearch type name.
    pub fn from_es_name(name: &str) -> FieldType {
        match name {
            "keyword" => FieldType::Keyword,
            "constant_keyword" => FieldType::ConstantKeyword,
            "wildcard" => FieldType::Wildcard,
            "text" => FieldType::Text,
            "match_only_text" => FieldType::MatchOnlyText,
            "flattened" => FieldType::Flattened,
            "long" | "integer" | "short" | "byte" | "unsigned_long" => {
                FieldType::Integer(name.to_string())
            }
            "double" | "float" | "half_float" | "scaled_float" => {
                FieldType::Float(name.to_string())
            }
            "date" | "date_nanos" => FieldType::Date(name.to_string()),
            "boolean" => FieldType::Boolean,
            "ip" => FieldType::Ip,
            "version" => FieldType::Version,
            other => FieldType::Other(other.to_string()),
        }
    }

    /// The Elasticsearch name of the type.
    pub fn es_name(&self) -> &str {
        match self {
            FieldType::Keyword => "keyword",
            FieldType::ConstantKeyword => "constant_keyword",
            FieldType::Wildcard => "wildcard",
            FieldType::Text => "text",
            FieldType::MatchOnlyText => "match_only_text",
            FieldType::FlattenedKey => "keyword (flattened key)",
            FieldType::Flattened => "flattened",
            FieldType::Integer(n) | FieldType::Float(n) | FieldType::Date(n) => n,
            FieldType::Boolean => "boolean",
            FieldType::Ip => "ip",
            FieldType::Version => "version",
            FieldType::Other(n) => n,
        }
    }

    /// Keyword-family types: exact string values that term, prefix, wildcard and regexp
    /// queries match as a whole (a `flattened` root matches any of its leaf values).
    pub fn is_exact_string(&self) -> bool {
        matches!(
            self,
            FieldType::Keyword
                | FieldType::ConstantKeyword
                | FieldType::Wildcard
                | FieldType::FlattenedKey
                | FieldType::Flattened
        )
    }

    /// Analysed text: exact matching needs a keyword sub-field.
    pub fn is_text(&self) -> bool {
        matches!(self, FieldType::Text | FieldType::MatchOnlyText)
    }

    /// Integer or floating-point.
    pub fn is_numeric(&self) -> bool {
        matches!(self, FieldType::Integer(_) | FieldType::Float(_))
    }
}

/// A field as the mapping describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedField {
    /// Its type (an alias has its target's type).
    pub ty: FieldType,
    /// For a text field: the full name of a keyword-family sub-field, used for exact matches
    /// (`hostname` → `hostname.keyword`).
    pub exact: Option<String>,
}

/// Where field types come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaOrigin {
    /// The embedded Elastic Common Schema: fields outside it are normal (integration fields).
    Ecs,
    /// A user's index mapping: a field outside it does not exist in the index.
    Mapping,
}

/// The types of all known fields.
#[derive(Debug, Clone)]
pub struct FieldTypes {
    fields: HashMap<String, MappedField>,
    flattened: Vec<String>,
    /// Prefixes (`name.`) of `nested` objects: EQL cannot query inside them.
    nested: Vec<String>,
    origin: SchemaOrigin,
}

/// A mapping file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MappingError(pub String);

const ECS_TABLE: &str = include_str!("../data/ecs-field-types.tsv");

/// Multi-field names preferred as a text field's exact counterpart, best first.
const EXACT_SUBFIELD_TYPES: [&str; 3] = ["keyword", "wildcard", "constant_keyword"];

impl FieldTypes {
    /// The Elastic Common Schema types, parsed once.
    pub fn ecs() -> &'static FieldTypes {
        static ECS: OnceLock<FieldTypes> = OnceLock::new();
        ECS.get_or_init(|| {
            let mut types = FieldTypes::empty(SchemaOrigin::Ecs);
            for line in ECS_TABLE.lines() {
                if line.starts_with('#') || line.is_empty() {
                    continue;
                }
                if let Some((name, ty)) = line.split_once('\t') {
                    types.insert(name, FieldType::from_es_name(ty));
                }
            }
            types.link_multi_fields();
            types
        })
    }

    fn empty(origin: SchemaOrigin) -> FieldTypes {
        FieldTypes {
            fields: HashMap::new(),
            flattened: Vec::new(),
            nested: Vec::new(),
            origin,
        }
    }

    fn insert(&mut self, name: &str, ty: FieldType) {
        if ty == FieldType::Flattened {
            self.flattened.push(format!("{name}."));
        }
        self.fields
            .entry(name.to_string())
            .or_insert(MappedField { ty, exact: None });
    }

    /// Give every text field whose sub-field `<name>.<sub>` is keyword-like that sub-field as
    /// its exact counterpart (the ECS table lists multi-fields as plain dotted names).
    fn link_multi_fields(&mut self) {
        let mut links = Vec::new();
        for (name, field) in &self.fields {
            if !field.ty.is_text() || field.exact.is_some() {
                continue;
            }
            let exact = EXACT_SUBFIELD_TYPES.iter().find_map(|sub| {
                let candidate = format!("{name}.{sub}");
                self.fields
                    .get(&candidate)
                    .filter(|f| f.ty.is_exact_string())
                    .map(|_| candidate)
            });
            if let Some(exact) = exact {
                links.push((name.clone(), exact));
            }
        }
        for (name, exact) in links {
            if let Some(field) = self.fields.get_mut(&name) {
                field.exact = Some(exact);
            }
        }
    }

    /// Types from an index mapping: `GET <index>/_mapping` output (one or more indices), or a
    /// bare `{"mappings": …}` / `{"properties": …}` object. With several indices the first
    /// definition of a field wins.
    pub fn from_mapping_json(text: &str) -> Result<FieldTypes, MappingError> {
        let json: Json =
            serde_json::from_str(text).map_err(|e| MappingError(format!("not valid JSON: {e}")))?;
        let mut roots = Vec::new();
        collect_mapping_roots(&json, &mut roots, 0);
        if roots.is_empty() {
            return Err(MappingError(
                "no `properties` found: expected the output of `GET <index>/_mapping`".into(),
            ));
        }
        let mut types = FieldTypes::empty(SchemaOrigin::Mapping);
        let mut aliases = Vec::new();
        for root in roots {
            if let Some(properties) = root.get("properties").and_then(Json::as_object) {
                types.add_properties("", properties, &mut aliases, 0)?;
            }
            if let Some(runtime) = root.get("runtime").and_then(Json::as_object) {
                for (name, def) in runtime {
                    let ty = def.get("type").and_then(Json::as_str).unwrap_or("keyword");
                    types.insert(name, FieldType::from_es_name(ty));
                }
            }
        }
        for (alias, path) in aliases {
            let target = types.fields.get(&path).cloned().ok_or_else(|| {
                MappingError(format!("alias `{alias}` points to unknown field `{path}`"))
            })?;
            types.fields.entry(alias).or_insert(target);
        }
        Ok(types)
    }

    fn add_properties(
        &mut self,
        prefix: &str,
        properties: &serde_json::Map<String, Json>,
        aliases: &mut Vec<(String, String)>,
        depth: usize,
    ) -> Result<(), MappingError> {
        // Elasticsearch's own limit on object depth is 20; anything past 100 is not a mapping.
        if depth > 100 {
            return Err(MappingError(
                "mapping nests objects more than 100 deep".into(),
            ));
        }
        for (key, def) in properties {
            let name = format!("{prefix}{key}");
            let ty = def.get("type").and_then(Json::as_str);
            match ty {
                Some("alias") => {
                    let path = def
                        .get("path")
                        .and_then(Json::as_str)
                        .ok_or_else(|| MappingError(format!("alias `{name}` has no `path`")))?;
                    aliases.push((name.clone(), path.to_string()));
                }
                Some("nested") => self.nested.push(format!("{name}.")),
                Some(ty) if ty != "object" => {
                    self.insert(&name, FieldType::from_es_name(ty));
                }
                _ => {}
            }
            if let Some(sub) = def.get("properties").and_then(Json::as_object) {
                self.add_properties(&format!("{name}."), sub, aliases, depth + 1)?;
            }
            if let Some(multi) = def.get("fields").and_then(Json::as_object) {
                let mut exact: Option<(usize, String)> = None;
                for (sub, sub_def) in multi {
                    let sub_ty = sub_def
                        .get("type")
                        .and_then(Json::as_str)
                        .unwrap_or("object");
                    let sub_name = format!("{name}.{sub}");
                    self.insert(&sub_name, FieldType::from_es_name(sub_ty));
                    if let Some(rank) = EXACT_SUBFIELD_TYPES.iter().position(|t| *t == sub_ty) {
                        if exact.as_ref().is_none_or(|(best, _)| rank < *best) {
                            exact = Some((rank, sub_name));
                        }
                    }
                }
                if let (Some(field), Some((_, exact))) = (self.fields.get_mut(&name), exact) {
                    if field.ty.is_text() {
                        field.exact = Some(exact);
                    }
                }
            }
        }
        Ok(())
    }

    /// The field's mapping, if known. Keys inside a `flattened` field are keyword.
    pub fn get(&self, name: &str) -> Option<MappedField> {
        if let Some(field) = self.fields.get(name) {
            return Some(field.clone());
        }
        self.flattened
            .iter()
            .any(|prefix| name.starts_with(prefix.as_str()))
            .then_some(MappedField {
                ty: FieldType::FlattenedKey,
                exact: None,
            })
    }

    /// Whether the field sits inside a `nested` object, where a plain query finds nothing.
    pub fn is_nested(&self, name: &str) -> bool {
        self.nested
            .iter()
            .any(|prefix| name.starts_with(prefix.as_str()))
    }

    /// Where these types come from.
    pub fn origin(&self) -> SchemaOrigin {
        self.origin
    }

    /// How many fields are known.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether no field is known.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Find the objects holding `properties`: the top level, `mappings`, each index's `mappings`,
/// or a legacy single mapping type under `mappings`.
fn collect_mapping_roots<'a>(json: &'a Json, roots: &mut Vec<&'a Json>, depth: usize) {
    let Some(object) = json.as_object() else {
        return;
    };
    if object.contains_key("properties") || object.contains_key("runtime") {
        roots.push(json);
        return;
    }
    if depth >= 3 {
        return;
    }
    if let Some(mappings) = object.get("mappings") {
        collect_mapping_roots(mappings, roots, depth + 1);
        return;
    }
    for value in object.values() {
        collect_mapping_roots(value, roots, depth + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecs_knows_common_fields() {
        let ecs = FieldTypes::ecs();
        assert_eq!(ecs.origin(), SchemaOrigin::Ecs);
        assert!(ecs.len() > 2000);
        assert_eq!(
            ecs.get("process.name").map(|f| f.ty),
            Some(FieldType::Keyword)
        );
        assert_eq!(ecs.get("source.ip").map(|f| f.ty), Some(FieldType::Ip));
        assert_eq!(
            ecs.get("process.command_line").map(|f| f.ty),
            Some(FieldType::Wildcard)
        );
        assert_eq!(
            ecs.get("process.pid").map(|f| f.ty),
            Some(FieldType::Integer("long".into()))
        );
        assert_eq!(
            ecs.get("message").map(|f| f.ty),
            Some(FieldType::MatchOnlyText)
        );
        assert_eq!(ecs.get("message").and_then(|f| f.exact), None);
        assert_eq!(ecs.get("winlog.event_data.Foo"), None);
    }

    #[test]
    fn flattened_keys_are_keywords() {
        let ecs = FieldTypes::ecs();
        assert_eq!(
            ecs.get("dll.pe.imports.name").map(|f| f.ty),
            Some(FieldType::FlattenedKey)
        );
    }

    #[test]
    fn index_mapping_with_multi_fields_and_aliases() {
        let mapping = r#"{"my-index": {"mappings": {"properties": {
            "hostname": {"type": "text", "fields": {"raw": {"type": "wildcard"}, "keyword": {"type": "keyword"}}},
            "event_type": {"type": "keyword"},
            "event": {"properties": {"category": {"type": "alias", "path": "event_type"}}},
            "source_address": {"type": "ip"},
            "pid": {"type": "long"},
            "hits": {"type": "nested", "properties": {"name": {"type": "keyword"}}}
        }, "runtime": {"day": {"type": "keyword"}}}}}"#;
        let types = FieldTypes::from_mapping_json(mapping).expect("valid mapping");
        assert_eq!(types.origin(), SchemaOrigin::Mapping);
        let hostname = types.get("hostname").expect("hostname");
        assert_eq!(hostname.ty, FieldType::Text);
        assert_eq!(hostname.exact.as_deref(), Some("hostname.keyword"));
        assert_eq!(
            types.get("hostname.raw").map(|f| f.ty),
            Some(FieldType::Wildcard)
        );
        assert_eq!(
            types.get("event.category").map(|f| f.ty),
            Some(FieldType::Keyword)
        );
        assert_eq!(
            types.get("source_address").map(|f| f.ty),
            Some(FieldType::Ip)
        );
        assert_eq!(types.get("day").map(|f| f.ty), Some(FieldType::Keyword));
        assert_eq!(types.get("nope"), None);
        assert!(types.is_nested("hits.name"));
        assert!(!types.is_nested("hostname"));
    }

    #[test]
    fn bare_properties_are_accepted() {
        let types = FieldTypes::from_mapping_json(r#"{"properties": {"a": {"type": "long"}}}"#)
            .expect("valid");
        assert_eq!(
            types.get("a").map(|f| f.ty),
            Some(FieldType::Integer("long".into()))
        );
    }

    #[test]
    fn bad_mappings_are_errors() {
        for (text, needle) in [
            ("{", "not valid JSON"),
            ("{\"a\": 1}", "no `properties`"),
            (
                r#"{"properties": {"a": {"type": "alias", "path": "b"}}}"#,
                "unknown field `b`",
            ),
            (r#"{"properties": {"a": {"type": "alias"}}}"#, "no `path`"),
        ] {
            let err = FieldTypes::from_mapping_json(text).expect_err(text);
            assert!(err.0.contains(needle), "{text}: {}", err.0);
        }
    }
}
