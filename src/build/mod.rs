//! `eqlc build`: a whole rules repository compiled into artifacts a CI pipeline commits,
//! publishes, or checks on every pull request.
//!
//! One build is: collect the rule documents under `RULES_DIR` (the walk of `eqlc convert`),
//! run every document through [`driver::process_with`] for every target on all cores, lay the
//! artifacts out as `OUT/<target>/<mirrored path>/<stem>.<ext>` (each `OUT/<target>` tree holds
//! the files `eqlc convert --target <target> --out OUT/<target>` writes, byte for byte when
//! `convert` runs inside `RULES_DIR` on its subdirectories, since the DSL artifact records the
//! rule's path), describe everything in `OUT/manifest.json`, then compare that wanted state
//! with the disk. [`Mode::Write`] writes only the files whose bytes differ and removes the
//! files the previous manifest owned that are no longer produced; [`Mode::Check`] writes
//! nothing and reports those same differences as stale files.
//!
//! Paths in artifacts, in the manifest and in reports are relative to `RULES_DIR` (and to
//! `OUT`) with `/` separators, so a build gives the same bytes wherever the repository is
//! checked out and from whichever directory eqlc is run: otherwise `--check` would fail on a
//! CI runner for artifacts built on a laptop.
//!
//! Ownership: eqlc removes only files that the previous `manifest.json` lists as outputs and
//! that look like something eqlc writes (`<target>/…/<name>.<target extension>`, no `..`).
//! Anything else under `OUT` (a README, files of other tools) is never touched, and a
//! manifest that cannot be read owns nothing.

pub mod cli;
pub mod manifest;
pub mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::backend::sigma::CasePolicy;
use crate::diagnostic::{Diagnostic, Located};
use crate::driver::{self, InputSpec, Options, RuleReport, SourceDoc, Status, Target};

pub use manifest::Manifest;

/// The manifest's file name inside the output directory.
pub const MANIFEST: &str = "manifest.json";

/// What a build does with its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Bring the output directory up to date.
    Write,
    /// Touch nothing; report what is out of date (`--check`).
    Check,
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildConfig {
    /// The rules repository (searched recursively, as `eqlc convert` searches a directory).
    pub rules_dir: PathBuf,
    /// Where artifacts and `manifest.json` go.
    pub out_dir: PathBuf,
    /// Targets to produce, in any order (duplicates are ignored).
    pub targets: Vec<Target>,
    /// How the artifacts are made, recorded in the manifest.
    pub settings: Settings,
    /// Write, or only check.
    pub mode: Mode,
    /// A target that cannot express a rule fails the build, instead of being recorded as
    /// unsupported for that rule.
    pub strict: bool,
}

/// The options that shape artifacts, as the manifest records them: a reader of the manifest
/// can tell how the artifacts were made, and a change of options makes `--check` fail.
/// Files are recorded by content hash, not path, so the manifest stays machine-independent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// JSON artifacts indented.
    pub pretty: bool,
    /// DSL field types: `ecs` or `sha256:<hex>` of the index mapping file.
    pub mapping: String,
    /// Sigma field names: `sigma`, `ecs`, or `sha256:<hex>` of the mapping file.
    pub field_mapping: String,
    /// Sigma case-sensitive comparisons: `regex` or `cased`.
    pub case_sensitive: String,
}

impl Settings {
    /// Describe the options as the CLI received them: `mapping` is the text of the
    /// `--mapping` file if any, `field_mapping` is `sigma`, `ecs` or a file path, and
    /// `field_mapping_text` that file's text. Files are recorded by the hash of their text.
    pub fn describe(
        pretty: bool,
        mapping: Option<&str>,
        field_mapping: &str,
        field_mapping_text: Option<&str>,
        case_sensitive: CasePolicy,
    ) -> Settings {
        let text_hash = |text: &str| format!("sha256:{}", sha256_hex(text.as_bytes()));
        let mapping = mapping.map_or_else(|| "ecs".to_string(), text_hash);
        let field_mapping = match field_mapping_text {
            Some(text) => text_hash(text),
            None => field_mapping.to_string(),
        };
        let case_sensitive = match case_sensitive {
            CasePolicy::Regex => "regex",
            CasePolicy::Cased => "cased",
        }
        .to_string();
        Settings {
            pretty,
            mapping,
            field_mapping,
            case_sensitive,
        }
    }
}

impl Default for Settings {
    /// The defaults of the CLI: compact JSON, ECS types, Sigma taxonomy, regexes.
    fn default() -> Self {
        Settings {
            pretty: false,
            mapping: "ecs".into(),
            field_mapping: "sigma".into(),
            case_sensitive: "regex".into(),
        }
    }
}

/// Why a build could not run at all (as opposed to rules that fail, which are results).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// `RULES_DIR` is missing or a file.
    #[error("{0}: not a directory")]
    NotADirectory(PathBuf),
    /// `--out` names the rules directory itself: artifacts would be read back as rules.
    #[error("--out {0} is the rules directory itself; choose a directory of its own (it may be inside the rules directory)")]
    OutIsRulesDir(PathBuf),
    /// `--out` is an empty path.
    #[error("--out needs a directory, not an empty path")]
    EmptyOut,
    /// `--out` exists but is a file.
    #[error("--out {0} exists and is not a directory")]
    OutNotADirectory(PathBuf),
    /// Reading or writing a file failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`read`, `write`, `remove`, …).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// Told how a build advances, e.g. to draw a progress bar. Called from several threads.
pub trait Observer: Sync {
    /// `total` rule documents were found and are about to be compiled.
    fn compiling(&self, _total: u64) {}
    /// One more document compiled.
    fn compiled(&self) {}
}

/// An observer that ignores everything.
pub struct Silent;

impl Observer for Silent {}

/// How one target went for one rule document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetStatus {
    /// The artifact was produced.
    Ok,
    /// Not an EQL rule: no target applies.
    Skipped,
    /// A valid rule the target cannot express (Sigma has no `until`, say); a warning says
    /// why. Not a failure unless the build is strict: the rule is fine, and no edit of the
    /// rules repository could make the artifact exist.
    Unsupported,
    /// The rule is broken (unreadable, invalid EQL), two rules claim one artifact path, or
    /// eqlc failed.
    Error,
}

/// One rule document of a build.
#[derive(Debug, Clone)]
pub struct BuiltRule {
    /// Path relative to `RULES_DIR`, `/`-separated: how the manifest and reports name it.
    pub source: String,
    /// Path for people at a terminal: `RULES_DIR` joined with `source`.
    pub display: String,
    /// SHA-256 of the document's bytes (`None` when it could not be read).
    pub sha256: Option<String>,
    /// What the pipeline said, with the artifacts; its diagnostics name `source`, and its
    /// `status` is the build's verdict (a rule whose only problems are unsupported targets is
    /// `ok`).
    pub report: RuleReport,
    /// Each requested target's status.
    pub targets: BTreeMap<Target, TargetStatus>,
    /// The artifact of each target that produced one, relative to `OUT`, `/`-separated.
    pub outputs: BTreeMap<Target, String>,
}

/// What became (or, checking, would become) of one file under `OUT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileState {
    /// Already had the wanted bytes.
    Unchanged,
    /// Written (it was missing or different).
    Written,
    /// Removed: the previous manifest owned it and nothing produces it any more.
    Removed,
    /// Checking: should exist and does not.
    Missing,
    /// Checking: exists with other bytes.
    Different,
    /// Checking: owned by the previous manifest, no longer produced, still present.
    Orphaned,
}

impl FileState {
    /// Whether `--check` counts this file as out of date.
    pub fn is_stale(self) -> bool {
        matches!(
            self,
            FileState::Missing | FileState::Different | FileState::Orphaned
        )
    }
}

/// One file under `OUT` and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    /// Path relative to `OUT`, `/`-separated.
    pub path: String,
    /// What happened to it.
    pub state: FileState,
}

/// Counts over a build.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BuildSummary {
    /// Rule documents found.
    pub rules: usize,
    /// Documents that produced every target.
    pub ok: usize,
    /// Documents that are not EQL rules.
    pub skipped: usize,
    /// Documents with an error in some target.
    pub failed: usize,
    /// Rule and target pairs the target cannot express.
    pub unsupported: usize,
    /// Artifacts written (the manifest not counted).
    pub written: usize,
    /// Artifacts that already had the wanted bytes.
    pub unchanged: usize,
    /// Artifacts removed.
    pub removed: usize,
    /// Checking: files out of date, the manifest included.
    pub stale: usize,
}

/// Everything a build did or found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Written or checked.
    pub mode: Mode,
    /// The targets built, sorted.
    pub targets: Vec<Target>,
    /// The output directory, as given.
    pub out_dir: PathBuf,
    /// Every rule document, sorted by `source`.
    pub rules: Vec<BuiltRule>,
    /// Every artifact (unchanged ones included), then removed or orphaned files, then the
    /// manifest.
    pub files: Vec<FileChange>,
    /// Things worth saying that are no failure (e.g. a manifest entry eqlc refuses to own).
    pub warnings: Vec<String>,
}

impl Outcome {
    /// Tally the outcome.
    pub fn summary(&self) -> BuildSummary {
        let mut s = BuildSummary {
            rules: self.rules.len(),
            ..BuildSummary::default()
        };
        for r in &self.rules {
            match r.report.status {
                Status::Ok => s.ok += 1,
                Status::Skipped => s.skipped += 1,
                Status::Error => s.failed += 1,
            }
            s.unsupported += r
                .targets
                .values()
                .filter(|t| **t == TargetStatus::Unsupported)
                .count();
        }
        for f in &self.files {
            let artifact = f.path != MANIFEST;
            match f.state {
                FileState::Written if artifact => s.written += 1,
                FileState::Unchanged if artifact => s.unchanged += 1,
                FileState::Removed => s.removed += 1,
                state if state.is_stale() => s.stale += 1,
                _ => {}
            }
        }
        s
    }

    /// No rule failed and, checking, nothing is stale.
    pub fn passed(&self) -> bool {
        let s = self.summary();
        s.failed == 0 && s.stale == 0
    }

    /// The state of one file, if the outcome lists it.
    pub fn file_state(&self, path: &str) -> Option<FileState> {
        self.files.iter().find(|f| f.path == path).map(|f| f.state)
    }
}

/// SHA-256 of `bytes` as lowercase hex, as `sha256sum` prints it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest.iter() {
        // Writing into a String cannot fail.
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// `path`'s components joined with `/`, whatever the platform's separator.
fn slash_path(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts.join("/")
}

/// Run a build: compile, compare with `OUT`, and (in [`Mode::Write`]) bring `OUT` up to date.
pub fn run(
    config: &BuildConfig,
    options: &Options<'_>,
    observer: &dyn Observer,
) -> Result<Outcome, BuildError> {
    if !config.rules_dir.is_dir() {
        return Err(BuildError::NotADirectory(config.rules_dir.clone()));
    }
    if config.out_dir.as_os_str().is_empty() {
        return Err(BuildError::EmptyOut);
    }
    if config.out_dir.exists() && !config.out_dir.is_dir() {
        return Err(BuildError::OutNotADirectory(config.out_dir.clone()));
    }
    let mut targets = config.targets.clone();
    targets.sort();
    targets.dedup();
    let rules = compile(config, &targets, options, observer)?;
    let wanted = wanted_files(&rules);
    let manifest = Manifest::new(&targets, &config.settings, &rules);
    let manifest_bytes = manifest.to_bytes();

    let mut warnings = Vec::new();
    let previous = manifest::owned_outputs(&config.out_dir.join(MANIFEST), &mut warnings);

    // Compare every wanted artifact with the disk, on all cores (reading is most of the work
    // of a no-op build).
    let mut files: Vec<FileChange> = wanted
        .par_iter()
        .map(|(path, bytes)| {
            compare(&config.out_dir.join(path), bytes).map(|state| FileChange {
                path: path.clone(),
                state,
            })
        })
        .collect::<Result<_, _>>()?;
    let mut orphans = Vec::new();
    for path in previous.difference(&wanted.keys().cloned().collect::<BTreeSet<_>>()) {
        let full = config.out_dir.join(path);
        // A symlink is not followed: only a regular file at the owned path is eqlc's.
        if std::fs::symlink_metadata(&full).is_ok_and(|m| m.is_file()) {
            orphans.push(path.clone());
        }
    }
    let manifest_state = compare(&config.out_dir.join(MANIFEST), &manifest_bytes)?;

    if config.mode == Mode::Write {
        write_changes(&config.out_dir, &wanted, &mut files)?;
        for path in &orphans {
            remove_owned(&config.out_dir, path)?;
        }
        if manifest_state != FileState::Unchanged {
            write_file(&config.out_dir.join(MANIFEST), &manifest_bytes)?;
        }
    }
    let (orphan_state, manifest_state) = match config.mode {
        Mode::Write => (
            FileState::Removed,
            match manifest_state {
                FileState::Unchanged => FileState::Unchanged,
                _ => FileState::Written,
            },
        ),
        Mode::Check => (FileState::Orphaned, manifest_state),
    };
    files.extend(orphans.into_iter().map(|path| FileChange {
        path,
        state: orphan_state,
    }));
    files.push(FileChange {
        path: MANIFEST.into(),
        state: manifest_state,
    });
    Ok(Outcome {
        mode: config.mode,
        targets,
        out_dir: config.out_dir.clone(),
        rules,
        files,
        warnings,
    })
}

/// Collect and compile every document under `RULES_DIR` (except those under `OUT`), in
/// parallel; give each artifact its path, refusing a path two documents would share.
fn compile(
    config: &BuildConfig,
    targets: &[Target],
    options: &Options<'_>,
    observer: &dyn Observer,
) -> Result<Vec<BuiltRule>, BuildError> {
    let (docs, unreadable) = driver::collect(&[InputSpec::Path(config.rules_dir.clone())]);
    // An output directory inside the rules directory must not be read back as rules (its
    // `.eql` artifacts would be).
    let out_inside = out_relative_to_rules(config)?;
    let inside_out = |relative: &Path| out_inside.as_ref().is_some_and(|o| relative.starts_with(o));
    let docs: Vec<SourceDoc> = docs
        .into_iter()
        .filter(|d| !inside_out(&d.relative))
        .collect();
    observer.compiling(docs.len() as u64);
    let mut rules: Vec<BuiltRule> = docs
        .par_iter()
        .map(|doc| {
            let source = slash_path(&doc.relative);
            let sha256 = Some(sha256_hex(doc.text.as_bytes()));
            let doc = SourceDoc {
                display: source.clone(),
                ..doc.clone()
            };
            let mut report = driver::process_with(&doc, targets, true, options);
            if !config.strict {
                accept_inexpressible(&mut report);
            }
            observer.compiled();
            BuiltRule {
                display: config.rules_dir.join(&doc.relative).display().to_string(),
                source,
                sha256,
                report,
                targets: BTreeMap::new(),
                outputs: BTreeMap::new(),
            }
        })
        .collect();
    for u in unreadable {
        let relative = Path::new(&u.display)
            .strip_prefix(&config.rules_dir)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| PathBuf::from(&u.display));
        if inside_out(&relative) {
            continue;
        }
        let source = slash_path(&relative);
        let mut report = RuleReport::unreadable(&driver::Unreadable {
            display: source.clone(),
            reason: u.reason.clone(),
        });
        report.relative = relative;
        for t in targets {
            report.targets.insert(t.name(), Status::Error);
        }
        rules.push(BuiltRule {
            display: u.display,
            source,
            sha256: None,
            report,
            targets: BTreeMap::new(),
            outputs: BTreeMap::new(),
        });
    }
    rules.sort_by(|a, b| a.source.cmp(&b.source));

    // Artifact paths, in rule order so the first of two colliding documents keeps its path.
    let mut claimed: BTreeMap<String, String> = BTreeMap::new();
    for rule in &mut rules {
        let produced: Vec<Target> = rule.report.outputs.keys().copied().collect();
        for target in produced {
            let relative = Path::new(&rule.report.relative);
            let path = slash_path(&driver::output_path(
                Path::new(target.name()),
                relative,
                target,
            ));
            if let Some(first) = claimed.get(&path) {
                let message = format!("{first} and {} both convert to {path}", rule.source);
                let located = Diagnostic::error_unplaced(message).locate(&rule.source, "");
                fail_target(&mut rule.report, target, located);
                continue;
            }
            claimed.insert(path.clone(), rule.source.clone());
            rule.outputs.insert(target, path);
        }
        rule.targets = targets
            .iter()
            .map(|&t| (t, target_status(&rule.report, t)))
            .collect();
    }
    Ok(rules)
}

/// Record the targets that cannot express a valid rule as unsupported (their diagnostics
/// become warnings) and settle the rule's status on what remains.
fn accept_inexpressible(report: &mut RuleReport) {
    for target in report.inexpressible.clone() {
        if let Some(range) = report.target_diagnostics.get(&target).cloned() {
            for d in &mut report.diagnostics[range] {
                d.diagnostic.severity = crate::diagnostic::Severity::Warning;
            }
        }
        report.targets.insert(target.name(), Status::Skipped);
    }
    if report.status == Status::Error && !report.diagnostics.iter().any(|d| d.diagnostic.is_error())
    {
        report.status = Status::Ok;
    }
}

/// A target's status, from the driver's per-target status (where [`accept_inexpressible`]
/// left `skipped` for unsupported) or, for a document that never reached the targets, the
/// document's.
fn target_status(report: &RuleReport, target: Target) -> TargetStatus {
    match report.targets.get(target.name()) {
        Some(Status::Ok) => TargetStatus::Ok,
        Some(Status::Skipped) => TargetStatus::Unsupported,
        Some(Status::Error) => TargetStatus::Error,
        None => match report.status {
            Status::Skipped => TargetStatus::Skipped,
            Status::Ok | Status::Error => TargetStatus::Error,
        },
    }
}

/// Where `OUT` sits inside `RULES_DIR`, if it does (compared as canonical paths, so `./out`
/// and `rules/../out` agree). `OUT` equal to `RULES_DIR` is refused.
fn out_relative_to_rules(config: &BuildConfig) -> Result<Option<PathBuf>, BuildError> {
    let canonical = |p: &Path| {
        p.canonicalize().map_err(|source| BuildError::Io {
            action: "resolve",
            path: p.to_path_buf(),
            source,
        })
    };
    let rules = canonical(&config.rules_dir)?;
    // `OUT` may not exist yet: resolve its deepest existing ancestor and re-append the rest.
    let mut existing = config.out_dir.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
            }
            _ => return Ok(None),
        }
    }
    let mut out = canonical(existing)?;
    for name in rest.into_iter().rev() {
        out.push(name);
    }
    if out == rules {
        return Err(BuildError::OutIsRulesDir(config.out_dir.clone()));
    }
    Ok(out.strip_prefix(&rules).ok().map(Path::to_path_buf))
}

/// Mark `target` of a rule failed with `located`, keeping the diagnostic among the target's
/// own so reports attribute it to that target alone.
fn fail_target(report: &mut RuleReport, target: Target, located: Located) {
    let at = report
        .target_diagnostics
        .get(&target)
        .map_or(report.diagnostics.len(), |r| r.end);
    report.diagnostics.insert(at, located);
    for (t, range) in report.target_diagnostics.iter_mut() {
        if *t == target {
            range.end += 1;
        } else if range.start >= at {
            range.start += 1;
            range.end += 1;
        }
    }
    report
        .target_diagnostics
        .entry(target)
        .or_insert(at..at + 1);
    report.outputs.remove(&target);
    report.targets.insert(target.name(), Status::Error);
    report.status = Status::Error;
}

/// The artifact files a build wants, by path relative to `OUT`.
fn wanted_files(rules: &[BuiltRule]) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for rule in rules {
        for (target, path) in &rule.outputs {
            if let Some(text) = rule.report.outputs.get(target) {
                files.insert(path.clone(), driver::artifact_file(text));
            }
        }
    }
    files
}

/// How the file at `path` compares with `wanted`: unchanged, missing or different.
fn compare(path: &Path, wanted: &[u8]) -> Result<FileState, BuildError> {
    match std::fs::read(path) {
        Ok(bytes) if bytes == wanted => Ok(FileState::Unchanged),
        Ok(_) => Ok(FileState::Different),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileState::Missing),
        // A directory where an artifact should be reads as "different": writing will report
        // the real problem.
        Err(_) if path.is_dir() => Ok(FileState::Different),
        Err(source) => Err(BuildError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Write every missing or different artifact (in parallel) and record it as written.
fn write_changes(
    out_dir: &Path,
    wanted: &BTreeMap<String, Vec<u8>>,
    files: &mut [FileChange],
) -> Result<(), BuildError> {
    files
        .par_iter_mut()
        .filter(|f| f.state != FileState::Unchanged)
        .try_for_each(|f| {
            let bytes = wanted.get(&f.path).map(Vec::as_slice).unwrap_or_default();
            write_file(&out_dir.join(&f.path), bytes)?;
            f.state = FileState::Written;
            Ok(())
        })
}

/// Write `bytes` to `path` through a temporary file renamed into place, so an interrupted
/// build never leaves a half-written artifact that a later `--check` would have to explain.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    let io = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Io {
            action,
            path,
            source,
        }
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io("create directory", parent))?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Hidden, so a rules walk over a directory holding `OUT` never picks it up.
    let temp = path.with_file_name(format!(".{name}.eqlc-{}.tmp", std::process::id()));
    std::fs::write(&temp, bytes).map_err(io("write", &temp))?;
    std::fs::rename(&temp, path).map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        BuildError::Io {
            action: "write",
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Remove an owned file, then the directories it leaves empty (up to, not including, `OUT`).
fn remove_owned(out_dir: &Path, relative: &str) -> Result<(), BuildError> {
    let path = out_dir.join(relative);
    std::fs::remove_file(&path).map_err(|source| BuildError::Io {
        action: "remove",
        path: path.clone(),
        source,
    })?;
    let mut dir = path.parent();
    while let Some(d) = dir {
        // `remove_dir` refuses a non-empty directory: nothing but emptiness is removed.
        if d == out_dir || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Provenance;

    #[test]
    fn sha256_matches_the_published_test_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn slash_paths_drop_dots_and_use_forward_slashes() {
        assert_eq!(
            slash_path(Path::new("./rules/win/x.toml")),
            "rules/win/x.toml"
        );
    }

    #[test]
    fn a_failed_target_keeps_its_diagnostic_apart_from_the_other_targets() {
        let doc = SourceDoc {
            display: "r.eql".into(),
            relative: "r.eql".into(),
            text: "process where process.name : \"a\"".into(),
            provenance: Provenance::Explicit,
        };
        let mut report = driver::process(&doc, &[Target::Dsl, Target::Eql], true);
        assert_eq!(report.status, Status::Ok);
        let located = Diagnostic::error_unplaced("collision").locate("r.eql", "");
        fail_target(&mut report, Target::Dsl, located);
        assert_eq!(report.status, Status::Error);
        assert!(!report.outputs.contains_key(&Target::Dsl));
        assert_eq!(report.diagnostics_for(Target::Dsl).count(), 1);
        assert_eq!(report.diagnostics_for(Target::Eql).count(), 0);
    }
}
