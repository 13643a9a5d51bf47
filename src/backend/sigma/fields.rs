//! Field names in Sigma rules: ECS names mapped onto the Sigma taxonomy where the mapping is
//! exact, as data (`data/sigma-field-map.yaml`, or a user's file of the same shape).

use std::collections::HashMap;

use serde::Deserialize;

const DEFAULT_MAP: &str = include_str!("../../../data/sigma-field-map.yaml");

/// One mapping of an ECS field, possibly limited to some logsource categories.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Target {
    sigma: String,
    #[serde(default)]
    categories: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Targets {
    Name(String),
    One(Target),
    Many(Vec<Target>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    fields: HashMap<String, Targets>,
}

/// How ECS field names are written in Sigma rules.
#[derive(Debug, Clone)]
pub struct FieldMap {
    fields: HashMap<String, Vec<Target>>,
}

impl FieldMap {
    /// Keep every ECS name as it is (`--field-mapping ecs`).
    pub fn ecs() -> FieldMap {
        FieldMap {
            fields: HashMap::new(),
        }
    }

    /// The embedded ECS → Sigma taxonomy mapping (`--field-mapping sigma`), parsed once.
    pub fn sigma() -> &'static FieldMap {
        static MAP: std::sync::OnceLock<FieldMap> = std::sync::OnceLock::new();
        // The embedded file is tested to load; were it broken, names would stay ECS names.
        MAP.get_or_init(|| FieldMap::from_yaml(DEFAULT_MAP).unwrap_or_else(|_| FieldMap::ecs()))
    }

    /// A mapping file: `fields:` from ECS name to a Sigma name, to `{sigma, categories}`, or
    /// to a list of those (the first whose categories include the rule's wins).
    pub fn from_yaml(text: &str) -> Result<FieldMap, String> {
        let file: MapFile = yaml_serde::from_str(text).map_err(|e| e.to_string())?;
        let fields = file
            .fields
            .into_iter()
            .map(|(ecs, targets)| {
                let targets = match targets {
                    Targets::Name(sigma) => vec![Target {
                        sigma,
                        categories: Vec::new(),
                    }],
                    Targets::One(t) => vec![t],
                    Targets::Many(ts) => ts,
                };
                (ecs, targets)
            })
            .collect();
        Ok(FieldMap { fields })
    }

    /// Every Sigma name ECS field `ecs` has, with the logsource categories it applies to
    /// (none: every category), in the mapping's order.
    pub fn targets(&self, ecs: &str) -> Vec<(&str, &[String])> {
        self.fields.get(ecs).map_or_else(Vec::new, |targets| {
            targets
                .iter()
                .map(|t| (t.sigma.as_str(), t.categories.as_slice()))
                .collect()
        })
    }

    /// The name of ECS field `ecs` in a rule of logsource `category`.
    pub fn name(&self, ecs: &str, category: Option<&str>) -> String {
        self.fields
            .get(ecs)
            .and_then(|targets| {
                targets.iter().find(|t| {
                    t.categories.is_empty()
                        || category.is_some_and(|c| t.categories.iter().any(|x| x == c))
                })
            })
            .map(|t| t.sigma.clone())
            .unwrap_or_else(|| ecs.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_apply_per_category_and_fall_back_to_ecs() {
        let map = FieldMap::from_yaml(
            "fields:\n  process.executable: Image\n  file.path:\n    - sigma: TargetFilename\n      categories: [file_event]\n    - sigma: ImageLoaded\n      categories: [image_load]\n",
        )
        .expect("valid map");
        assert_eq!(map.name("process.executable", None), "Image");
        assert_eq!(map.name("file.path", Some("file_event")), "TargetFilename");
        assert_eq!(map.name("file.path", Some("image_load")), "ImageLoaded");
        assert_eq!(map.name("file.path", Some("registry_set")), "file.path");
        assert_eq!(map.name("host.id", Some("file_event")), "host.id");
        assert_eq!(
            FieldMap::ecs().name("process.executable", None),
            "process.executable"
        );
    }

    #[test]
    fn bad_maps_are_errors() {
        assert!(FieldMap::from_yaml("nope: 1").is_err());
        assert!(FieldMap::from_yaml("fields:\n  a: {sigma: B, extra: 1}\n").is_err());
    }

    #[test]
    fn the_embedded_map_loads() {
        FieldMap::from_yaml(DEFAULT_MAP).expect("embedded map");
        let map = FieldMap::sigma();
        assert_eq!(
            map.name("process.command_line", Some("process_creation")),
            "CommandLine"
        );
    }
}
