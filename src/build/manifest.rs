//! `manifest.json`: what a build produced from what, and the list of files eqlc owns in `OUT`.
//!
//! The manifest is itself an artifact: deterministic (rules sorted by path, keys in a fixed
//! order, no timestamps, no absolute paths), so an unchanged repository builds the same bytes
//! and `--check` can compare it like any other file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

use super::{BuiltRule, Settings, TargetStatus};
use crate::diagnostic::Located;
use crate::driver::{Status, Target};

/// The manifest as written.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// The eqlc that built the artifacts: a new version may write other bytes, so it is part
    /// of what `--check` compares.
    pub eqlc_version: &'static str,
    /// Targets built.
    pub targets: Vec<&'static str>,
    /// Options that shape the artifacts.
    pub settings: Settings,
    /// One entry per rule document, sorted by source path.
    pub rules: Vec<ManifestRule>,
}

/// One rule document in the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestRule {
    /// Path relative to `RULES_DIR`, `/`-separated.
    pub source: String,
    /// SHA-256 of the document's bytes; `null` when it could not be read.
    pub sha256: Option<String>,
    /// The rule's id, where it has one.
    pub rule_id: Option<String>,
    /// The rule's name.
    pub name: Option<String>,
    /// `ok`, `skipped` or `error`.
    pub status: Status,
    /// Per target: `ok`, `skipped`, `unsupported` or `error`.
    pub targets: BTreeMap<&'static str, TargetStatus>,
    /// Why the document was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// Artifacts produced, one per target that succeeded.
    pub outputs: Vec<ManifestOutput>,
    /// Errors and warnings, located in the document.
    pub diagnostics: Vec<Located>,
}

/// One artifact in the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestOutput {
    /// `eql`, `dsl` or `sigma`.
    pub target: &'static str,
    /// Path relative to `OUT`, `/`-separated.
    pub path: String,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
}

impl Manifest {
    /// Describe a build's rules and artifacts.
    pub fn new(targets: &[Target], settings: &Settings, rules: &[BuiltRule]) -> Manifest {
        let rules = rules
            .iter()
            .map(|rule| ManifestRule {
                source: rule.source.clone(),
                sha256: rule.sha256.clone(),
                rule_id: rule.report.rule_id.clone(),
                name: rule.report.name.clone(),
                status: rule.report.status,
                targets: rule.targets.iter().map(|(t, s)| (t.name(), *s)).collect(),
                skip_reason: rule.report.skip_reason.clone(),
                outputs: rule
                    .outputs
                    .iter()
                    .filter_map(|(target, path)| {
                        let text = rule.report.outputs.get(target)?;
                        Some(ManifestOutput {
                            target: target.name(),
                            path: path.clone(),
                            sha256: super::sha256_hex(&crate::driver::artifact_file(text)),
                        })
                    })
                    .collect(),
                diagnostics: rule.report.diagnostics.clone(),
            })
            .collect();
        Manifest {
            eqlc_version: env!("CARGO_PKG_VERSION"),
            targets: targets.iter().map(|t| t.name()).collect(),
            settings: settings.clone(),
            rules,
        }
    }

    /// The file's bytes: indented JSON (so it diffs line by line in review) and a line break.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain strings, numbers and maps cannot fail; an empty object would
        // only make `--check` report the manifest as different.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into());
        text.push('\n');
        text.into_bytes()
    }
}

/// The part of a previous manifest a build reads back: which files it owns.
#[derive(Debug, Deserialize)]
struct Previous {
    rules: Vec<PreviousRule>,
}

#[derive(Debug, Deserialize)]
struct PreviousRule {
    #[serde(default)]
    outputs: Vec<PreviousOutput>,
}

#[derive(Debug, Deserialize)]
struct PreviousOutput {
    path: String,
}

/// The artifact paths the manifest at `path` owns; none when there is no manifest.
///
/// A manifest that cannot be read or parsed owns nothing (said in `warnings`): removing files
/// on the word of a damaged manifest is how a tool deletes what is not its own. For the same
/// reason an entry is owned only if it has the shape of a path eqlc writes.
pub fn owned_outputs(path: &Path, warnings: &mut Vec<String>) -> BTreeSet<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return BTreeSet::new(),
        Err(e) => {
            warnings.push(format!(
                "cannot read {}: {e}; no stale artifacts removed",
                path.display()
            ));
            return BTreeSet::new();
        }
    };
    let previous: Previous = match serde_json::from_str(&text) {
        Ok(p) => p,
        Err(e) => {
            warnings.push(format!(
                "{} is not a manifest eqlc can read ({e}); no stale artifacts removed",
                path.display()
            ));
            return BTreeSet::new();
        }
    };
    let mut owned = BTreeSet::new();
    for output in previous.rules.into_iter().flat_map(|r| r.outputs) {
        if is_artifact_path(&output.path) {
            owned.insert(output.path);
        } else {
            warnings.push(format!(
                "{} lists `{}`, which is no path eqlc writes; left alone",
                path.display(),
                output.path
            ));
        }
    }
    owned
}

/// Whether `path` (relative to `OUT`) has the shape of an artifact: `<target>/…/<name>.<ext>`
/// with the target's own extension, plain components only (no `..`, no root, no `.`).
pub fn is_artifact_path(path: &str) -> bool {
    let p = Path::new(path);
    let plain = p.components().all(|c| matches!(c, Component::Normal(_)));
    let mut parts = path.split('/');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let Some(target) = Target::ALL.into_iter().find(|t| t.name() == first) else {
        return false;
    };
    let ext = format!(".{}", target.extension());
    plain
        && !path.contains('\\')
        && rest
            .iter()
            .all(|c| !c.is_empty() && *c != "." && *c != "..")
        && rest
            .last()
            .is_some_and(|name| name.len() > ext.len() && name.ends_with(&ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_eqlc_writes_are_owned() {
        assert!(is_artifact_path("dsl/rules/x.dsl.json"));
        assert!(is_artifact_path("sigma/x.yml"));
        assert!(is_artifact_path("eql/a/b/c.eql"));
        for foreign in [
            "../x.eql",
            "eql/../../etc/passwd.eql",
            "/etc/x.eql",
            "dsl/x.eql",
            "README.md",
            "eql/.eql",
            "eql/x.eql/",
            "eql//x.eql",
            "eql/./x.eql",
            "manifest.json",
            "eql",
        ] {
            assert!(!is_artifact_path(foreign), "{foreign}");
        }
    }

    #[test]
    fn a_damaged_manifest_owns_nothing() {
        let dir = std::env::temp_dir().join(format!("eqlc-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("manifest.json");
        std::fs::write(&path, "{ not json").expect("write");
        let mut warnings = Vec::new();
        assert!(owned_outputs(&path, &mut warnings).is_empty());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        std::fs::write(
            &path,
            r#"{"rules": [{"outputs": [{"path": "eql/a.eql"}, {"path": "../b.eql"}]}]}"#,
        )
        .expect("write");
        let mut warnings = Vec::new();
        let owned = owned_outputs(&path, &mut warnings);
        assert_eq!(owned.into_iter().collect::<Vec<_>>(), ["eql/a.eql"]);
        assert!(warnings[0].contains("../b.eql"), "{warnings:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
