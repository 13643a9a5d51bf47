//! The `eqlc` command line. Arguments in, calls into the library, results out; nothing else.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use eqlc::backend::sigma::{CasePolicy, FieldMap};
use eqlc::driver::{self, CheckReport, InputSpec, Options, RuleReport, Status, Summary, Target};
use eqlc::schema::FieldTypes;

const EXAMPLES: &str = "\
Examples:
  eqlc check rules/                          check every rule document under rules/
  eqlc check --format json ../rules > report.json
  eqlc parse rules/persistence.toml          print the rule's query as canonical EQL
  eqlc parse --ir json rules/seed.md         print the IR as JSON
  eqlc parse --query 'process where process.name : \"cmd.exe\"'
  cat rule.eql | eqlc parse -                read a query from stdin
  eqlc convert --target eql rules/ --out out/
  eqlc convert --target dsl rules/ > dsl.ndjson     one JSON artifact per rule
  eqlc convert --target dsl --mapping mapping.json --pretty rules/rule.toml
  eqlc convert --target sigma rules/ --out sigma/    one .yml file per rule
  eqlc convert --target sigma --field-mapping ecs --case-sensitive cased rules/rule.toml";

/// eqlc: a compiler for Elastic EQL detection rules.
#[derive(Parser)]
#[command(name = "eqlc", version, about, after_help = EXAMPLES)]
struct Cli {
    /// When to colour diagnostics.
    #[arg(long, value_enum, global = true, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether a stream gets colour: `auto` only on a terminal, and never with `NO_COLOR`.
    fn enabled(self, terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal && std::env::var_os("NO_COLOR").is_none(),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Parse rules and print each query as canonical EQL (or its AST / IR as JSON).
    #[command(
        after_help = "Examples:\n  eqlc parse rules/\n  eqlc parse --ast json --query 'any where true'"
    )]
    Parse {
        #[command(flatten)]
        input: InputArgs,
        /// Print the syntax tree instead of EQL.
        #[arg(long, value_enum, conflicts_with = "ir")]
        ast: Option<TreeFormat>,
        /// Print the IR instead of EQL.
        #[arg(long, value_enum)]
        ir: Option<TreeFormat>,
        /// Pretty-print JSON.
        #[arg(long)]
        pretty: bool,
    },
    /// Check that rules parse and convert; report every problem, then a summary.
    #[command(
        after_help = "Exit status: 0 nothing failed, 1 some rule failed, 2 usage error.\n\nExamples:\n  eqlc check rules/\n  eqlc check --format json --target eql ../shared/corpus"
    )]
    Check {
        #[command(flatten)]
        input: InputArgs,
        /// Report format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// Targets to check (repeatable; default: all).
        #[arg(long = "target", value_enum)]
        targets: Vec<Target>,
        /// Also list skipped documents in text output.
        #[arg(long, short)]
        verbose: bool,
        #[command(flatten)]
        types: TypeArgs,
        #[command(flatten)]
        sigma: SigmaArgs,
    },
    /// Convert rules to a target format, to stdout or to files mirroring the input tree.
    #[command(
        after_help = "Output: `eql` prints canonical EQL; `dsl` prints one JSON artifact per rule \
(NDJSON), or writes `<stem>.dsl.json` files with --out.\n\nExamples:\n  eqlc convert --target eql rules/\n  eqlc convert --target eql rules/ --out build/\n  eqlc convert --target dsl --mapping mapping.json rules/ --out build/"
    )]
    Convert {
        #[command(flatten)]
        input: InputArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Target::Eql)]
        target: Target,
        /// Write one file per rule under DIR instead of printing.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Pretty-print JSON artifacts.
        #[arg(long)]
        pretty: bool,
        #[command(flatten)]
        types: TypeArgs,
        #[command(flatten)]
        sigma: SigmaArgs,
    },
    /// Show one rule's translations (EQL, Query DSL, Sigma, evaluator) and warnings for its author.
    #[command(
        after_help = "Every rule a path holds is explained in turn. Exit status: 0 explained (warnings \
included), 1 a rule failed to parse or nothing was explained, 2 usage error.\n\nExamples:\n  eqlc explain rules/persistence.toml\n  eqlc explain --query 'process where process.name == \"CMD.EXE\"'"
    )]
    Explain {
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        types: TypeArgs,
        #[command(flatten)]
        sigma: SigmaArgs,
    },
    /// Run conformance suites (Elasticsearch's EQL QA format); exit 1 if any query fails.
    #[command(after_help = "Example:\n  eqlc conformance ../shared/conformance/es-qa/suite.toml")]
    Conformance {
        /// `suite.toml` files.
        #[arg(value_name = "SUITE", required = true)]
        suites: Vec<PathBuf>,
    },
    /// Run rules over NDJSON events (in time order) with Elasticsearch's semantics.
    #[command(
        after_help = "Examples:\n  eqlc eval rules/ --events events.ndjson\n  eqlc eval --query 'process where process.name : \"cmd.exe\"' --events - --format ids --id-field event.id"
    )]
    Eval {
        #[command(flatten)]
        input: InputArgs,
        /// NDJSON events, one JSON object a line; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        events: String,
        /// How alerts are printed.
        #[arg(long, value_enum, default_value_t = AlertFormat::Json)]
        format: AlertFormat,
        /// The field `--format ids` prints.
        #[arg(long, value_name = "FIELD", default_value = "serial_event_id")]
        id_field: String,
        /// The event category field (an array in ECS).
        #[arg(long, value_name = "FIELD", default_value = "event.category")]
        category_field: String,
        /// The timestamp field (ISO-8601 or epoch milliseconds): events are taken in its
        /// order, and sequences' `maxspan` measures it.
        #[arg(long, value_name = "FIELD", default_value = "@timestamp")]
        timestamp_field: String,
        /// The field that orders events with equal timestamps.
        #[arg(long, value_name = "FIELD")]
        tiebreaker_field: Option<String>,
        /// At most this many alerts per rule.
        #[arg(long, value_name = "N")]
        size: Option<u64>,
        /// How late (in events) a matching event may arrive and still be put in timestamp
        /// order; `all` reads the whole input before matching sequences.
        #[arg(long, value_name = "N|all", default_value = "100000", value_parser = parse_window)]
        reorder_window: Window,
        /// Per sequence, at most this many join keys with partial matches; past it the
        /// oldest partial matches are dropped with a warning, so memory stays bounded.
        #[arg(long, value_name = "N", default_value_t = eqlc::eval::engine::DEFAULT_MAX_PENDING_KEYS)]
        max_pending_keys: usize,
        /// Decode every event in full and test every rule on it: slower, for checking the
        /// fast path.
        #[arg(long)]
        reference: bool,
        /// When raw event lines are searched for the rules' literals before decoding, to
        /// skip lines no rule can match: `auto` while that is measured to pay off, block by
        /// block. The alerts are the same either way.
        #[arg(long, value_enum, value_name = "WHEN", default_value_t = RawScanChoice::Auto)]
        raw_scan: RawScanChoice,
        /// No progress bar, even on a terminal.
        #[arg(long)]
        quiet: bool,
    },
    /// Build a rules repository's artifacts for CI: all targets in parallel, a manifest, only
    /// changed files rewritten; `--check` verifies committed artifacts instead.
    #[command(after_help = BUILD_HELP)]
    Build(BuildArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Examples:\n  eqlc completions bash > /etc/bash_completion.d/eqlc\n  eqlc completions zsh > \"${fpath[1]}/_eqlc\"\n  eqlc completions fish > ~/.config/fish/completions/eqlc.fish"
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page eqlc(1) as roff, or write a page per command into a directory.
    #[command(
        after_help = "Examples:\n  eqlc man | man -l -\n  eqlc man --out /usr/local/share/man/man1"
    )]
    Man {
        /// Write eqlc.1, eqlc-build.1, ... into DIR instead of printing eqlc.1.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Serve a local preview page: paste a rule, see its translations and matches as you type.
    #[command(
        after_help = "Example:\n  eqlc serve --port 8080    then open http://127.0.0.1:8080/"
    )]
    Serve {
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Address to bind; anything but loopback lets other machines use the page.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
    },
}

const BUILD_HELP: &str = "\
Artifacts go to OUT/<target>/<path of the rule in RULES_DIR>/<stem>.<eql|dsl.json|yml> (the
files `eqlc convert --target T --out OUT/T` writes, with paths relative to RULES_DIR), described
in OUT/manifest.json. Only files whose bytes change are written; artifacts the previous manifest
lists that nothing produces any more are removed; no other file in OUT is touched.

Exit status: 0 built (or, with --check, up to date), 1 a rule failed or (with --check) some file
is stale, 2 usage or I/O error.

Examples:
  eqlc build rules/ --out artifacts/
  eqlc build rules/ --out artifacts/ --check --report junit --report-file junit.xml
  eqlc build . --out build/ --targets dsl,sigma --report json > build-report.json";

#[derive(Args)]
struct BuildArgs {
    /// The rules repository, searched recursively as `convert` searches a directory.
    #[arg(value_name = "RULES_DIR")]
    rules_dir: PathBuf,
    /// Where the artifacts and manifest.json go (may be inside RULES_DIR, not RULES_DIR itself).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Targets to build, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "eql,dsl,sigma"
    )]
    targets: Vec<Target>,
    /// Write nothing; exit 1 listing stale files (missing, different, orphaned) and failing
    /// rules.
    #[arg(long)]
    check: bool,
    /// Also produce a report for CI: JSON, or JUnit XML (a test case per rule and target).
    #[arg(long, value_enum, value_name = "FORMAT")]
    report: Option<eqlc::build::report::ReportFormat>,
    /// Write the report to FILE instead of standard output.
    #[arg(long, value_name = "FILE", requires = "report")]
    report_file: Option<PathBuf>,
    /// Fail when a target cannot express a rule (e.g. Sigma and `until`); by default that
    /// target is recorded as unsupported for the rule, with a warning, and the build passes.
    #[arg(long)]
    strict: bool,
    /// No progress bar and no summary line; problems are still printed.
    #[arg(long)]
    quiet: bool,
    /// Pretty-print JSON artifacts.
    #[arg(long)]
    pretty: bool,
    #[command(flatten)]
    types: TypeArgs,
    #[command(flatten)]
    sigma: SigmaArgs,
}

/// `--reorder-window`: a number of events, or `None` for the whole input.
#[derive(Clone, Copy, Debug)]
struct Window(Option<u64>);

fn parse_window(text: &str) -> Result<Window, String> {
    if text == "all" {
        return Ok(Window(None));
    }
    text.parse::<u64>()
        .map(|n| Window(Some(n)))
        .map_err(|_| format!("expected a number of events or `all`, not `{text}`"))
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RawScanChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AlertFormat {
    /// One JSON object per alert: `{"rule_id", "name", "events": [...]}`.
    Json,
    /// One line per alert: the matched events' `--id-field` values joined by commas.
    Ids,
}

#[derive(Args)]
struct SigmaArgs {
    /// Sigma field names: `sigma` (the Sigma taxonomy where the mapping from ECS is exact,
    /// ECS names elsewhere), `ecs` (ECS names everywhere), or a YAML mapping file.
    #[arg(long, value_name = "sigma|ecs|FILE", default_value = "sigma")]
    field_mapping: String,
    /// How Sigma rules write EQL's case-sensitive comparisons: `regex` (an anchored `|re`,
    /// which every backend converts) or `cased` (the `|cased` modifier).
    #[arg(long, value_enum, default_value_t = CasePolicy::Regex)]
    case_sensitive: CasePolicy,
}

impl SigmaArgs {
    /// The user's field mapping file, if one was named.
    fn load(&self) -> Result<Option<FieldMap>, String> {
        self.parse(self.read()?.as_deref())
    }

    /// The text of the field mapping file, if one is given.
    fn read(&self) -> Result<Option<String>, String> {
        match self.field_mapping.as_str() {
            "sigma" | "ecs" => Ok(None),
            path => std::fs::read_to_string(path)
                .map(Some)
                .map_err(|e| format!("cannot read field mapping {path}: {e}")),
        }
    }

    /// The field map a file's text (from [`SigmaArgs::read`]) gives.
    fn parse(&self, text: Option<&str>) -> Result<Option<FieldMap>, String> {
        let Some(text) = text else {
            return Ok(None);
        };
        FieldMap::from_yaml(text)
            .map(Some)
            .map_err(|e| format!("field mapping {}: {e}", self.field_mapping))
    }

    /// The field map to use: the loaded file, ECS names, or the embedded Sigma taxonomy.
    fn choose<'a>(&self, file: Option<&'a FieldMap>, ecs: &'a FieldMap) -> &'a FieldMap {
        match (file, self.field_mapping.as_str()) {
            (Some(file), _) => file,
            (None, "ecs") => ecs,
            _ => FieldMap::sigma(),
        }
    }
}

/// Report the inputs that do not exist; true if there were any (exit 2).
fn report_missing(specs: &[InputSpec]) -> bool {
    let missing = driver::missing_paths(specs);
    for m in &missing {
        eprintln!("eqlc: no such file or directory: {m}");
    }
    !missing.is_empty()
}

#[derive(Args)]
struct TypeArgs {
    /// Field types from an index mapping (the JSON of `GET <index>/_mapping`) instead of the
    /// Elastic Common Schema.
    #[arg(long, value_name = "FILE")]
    mapping: Option<PathBuf>,
}

impl TypeArgs {
    /// The user's mapping, if one was given; `None` means the embedded ECS types.
    fn load(&self) -> Result<Option<FieldTypes>, String> {
        self.parse(self.read()?.as_deref())
    }

    /// The text of the `--mapping` file, if one is given.
    fn read(&self) -> Result<Option<String>, String> {
        let Some(path) = &self.mapping else {
            return Ok(None);
        };
        std::fs::read_to_string(path)
            .map(Some)
            .map_err(|e| format!("cannot read mapping {}: {e}", path.display()))
    }

    /// The field types a mapping's text (from [`TypeArgs::read`]) gives.
    fn parse(&self, text: Option<&str>) -> Result<Option<FieldTypes>, String> {
        let (Some(text), Some(path)) = (text, &self.mapping) else {
            return Ok(None);
        };
        FieldTypes::from_mapping_json(text)
            .map(Some)
            .map_err(|e| format!("mapping {}: {e}", path.display()))
    }
}

#[derive(Args)]
struct InputArgs {
    /// Rule files or directories (searched recursively); `-` reads standard input.
    #[arg(value_name = "PATH", required_unless_present = "query")]
    paths: Vec<String>,
    /// An EQL query given inline instead of (or besides) files.
    #[arg(long, short = 'q', value_name = "EQL")]
    query: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum TreeFormat {
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    Text,
    Json,
}

impl InputArgs {
    fn specs(&self) -> Vec<InputSpec> {
        let mut specs: Vec<InputSpec> = self
            .paths
            .iter()
            .map(|p| {
                if p == "-" {
                    InputSpec::Stdin
                } else {
                    InputSpec::Path(PathBuf::from(p))
                }
            })
            .collect();
        if let Some(q) = &self.query {
            specs.push(InputSpec::Inline(q.clone()));
        }
        specs
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = cli.color.enabled(std::io::stderr().is_terminal());
    let input = match &cli.command {
        Command::Parse { input, .. }
        | Command::Check { input, .. }
        | Command::Convert { input, .. }
        | Command::Eval { input, .. } => input,
        Command::Conformance { suites } => return conformance(suites),
        Command::Build(args) => return build(args, color),
        Command::Completions { shell } => {
            return exit_on(eqlc::cli_docs::print_completions(Cli::command(), *shell))
        }
        Command::Man { out } => {
            return exit_on(eqlc::cli_docs::man(Cli::command(), out.as_deref()))
        }
        Command::Serve { host, port } => return serve(host, *port),
        Command::Explain {
            input,
            types,
            sigma,
        } => return explain(input, types, sigma, cli.color),
    };
    let specs = input.specs();
    if report_missing(&specs) {
        return ExitCode::from(2);
    }
    let mapping = match &cli.command {
        Command::Check { types, .. } | Command::Convert { types, .. } => types.load(),
        _ => Ok(None),
    };
    let mapping = match mapping {
        Ok(m) => m,
        Err(message) => {
            eprintln!("eqlc: {message}");
            return ExitCode::from(2);
        }
    };
    let sigma_args = match &cli.command {
        Command::Check { sigma, .. } | Command::Convert { sigma, .. } => Some(sigma),
        _ => None,
    };
    let field_map_file = match sigma_args.map(SigmaArgs::load).transpose() {
        Ok(m) => m.flatten(),
        Err(message) => {
            eprintln!("eqlc: {message}");
            return ExitCode::from(2);
        }
    };
    let ecs_names = FieldMap::ecs();
    let field_map = match sigma_args {
        Some(args) => args.choose(field_map_file.as_ref(), &ecs_names),
        None => FieldMap::sigma(),
    };
    let mut options = Options {
        field_types: mapping.as_ref().unwrap_or_else(|| FieldTypes::ecs()),
        pretty: false,
        field_map,
        case_policy: sigma_args.map_or(CasePolicy::Regex, |a| a.case_sensitive),
    };
    let result = match cli.command {
        Command::Parse {
            ast, ir, pretty, ..
        } => parse(&specs, ast.is_some(), ir.is_some(), pretty, color),
        Command::Check {
            format,
            targets,
            verbose,
            ..
        } => check(&specs, format, targets, verbose, &options),
        Command::Convert {
            target,
            out,
            pretty,
            ..
        } => {
            options.pretty = pretty;
            convert(&specs, target, out, color, &options)
        }
        Command::Eval {
            events,
            format,
            id_field,
            category_field,
            timestamp_field,
            tiebreaker_field,
            size,
            reorder_window,
            max_pending_keys,
            reference,
            raw_scan,
            quiet,
            ..
        } => {
            let options = eqlc::eval::engine::EngineOptions {
                fields: eqlc::eval::engine::EventFields {
                    category: category_field,
                    timestamp: timestamp_field,
                    tiebreaker: tiebreaker_field,
                },
                reorder_window: reorder_window.0,
                size,
                max_pending_keys,
                reference,
                raw_scan: match raw_scan {
                    RawScanChoice::Auto => eqlc::eval::engine::RawScan::Adaptive,
                    RawScanChoice::Always => eqlc::eval::engine::RawScan::Always,
                    RawScanChoice::Never => eqlc::eval::engine::RawScan::Never,
                },
            };
            let output = AlertOutput { format, id_field };
            evaluate(&specs, &events, &output, options, quiet, color)
        }
        Command::Conformance { .. }
        | Command::Build(_)
        | Command::Completions { .. }
        | Command::Man { .. }
        | Command::Serve { .. }
        | Command::Explain { .. } => Ok(false),
    };
    exit_with(result)
}

/// Print each failed rule's diagnostics in full to stderr; true if any rule failed.
fn report_failures(reports: &[RuleReport], color: bool) -> bool {
    let mut failed = false;
    for r in reports {
        if r.status == Status::Error {
            failed = true;
        }
        for rendered in r.render_diagnostics(color) {
            eprintln!("{rendered}\n");
        }
    }
    failed
}

fn parse(
    specs: &[InputSpec],
    ast: bool,
    ir: bool,
    pretty: bool,
    color: bool,
) -> std::io::Result<bool> {
    let reports = driver::run_batch(specs, &[Target::Eql], true);
    let mut out = std::io::stdout().lock();
    let many = reports.len() > 1;
    for r in &reports {
        if r.status != Status::Ok {
            continue;
        }
        if ast || ir {
            let tree = if ast {
                let text = r
                    .rule
                    .as_ref()
                    .and_then(|rule| rule.query.as_ref())
                    .map(|q| q.text.as_str());
                text.and_then(|t| eqlc::syntax::parse(t).ok())
                    .map(|a| serde_json::to_value(a).unwrap_or_default())
            } else {
                r.query
                    .as_ref()
                    .map(|q| serde_json::to_value(q).unwrap_or_default())
            };
            let doc = serde_json::json!({ "path": r.path, "name": r.name, if ast { "ast" } else { "ir" }: tree });
            let text = if pretty {
                serde_json::to_string_pretty(&doc)
            } else {
                serde_json::to_string(&doc)
            }
            .map_err(std::io::Error::other)?;
            writeln!(out, "{text}")?;
        } else if let Some(eql) = r.outputs.get(&Target::Eql) {
            write_eql(&mut out, &r.path, eql, many)?;
        }
    }
    Ok(report_failures(&reports, color))
}

fn check(
    specs: &[InputSpec],
    format: ReportFormat,
    targets: Vec<Target>,
    verbose: bool,
    options: &Options<'_>,
) -> std::io::Result<bool> {
    let mut targets = if targets.is_empty() {
        Target::ALL.to_vec()
    } else {
        targets
    };
    targets.sort();
    targets.dedup();
    let reports = driver::run_batch_with(specs, &targets, false, options);
    let summary = Summary::of(&reports);
    let mut out = std::io::stdout().lock();
    match format {
        ReportFormat::Json => {
            let doc = CheckReport {
                rules: &reports,
                summary,
            };
            let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
            writeln!(out, "{text}")?;
        }
        ReportFormat::Text => {
            for r in &reports {
                for d in &r.diagnostics {
                    writeln!(out, "{}", d.one_line())?;
                }
                if verbose && r.status == Status::Skipped {
                    let why = r.skip_reason.as_deref().unwrap_or("skipped");
                    writeln!(out, "{}: skipped: {why}", r.path)?;
                }
            }
            writeln!(
                out,
                "{} documents: {} ok, {} skipped, {} failed",
                summary.total, summary.ok, summary.skipped, summary.error
            )?;
        }
    }
    Ok(summary.error > 0)
}

fn convert(
    specs: &[InputSpec],
    target: Target,
    out_dir: Option<PathBuf>,
    color: bool,
    options: &Options<'_>,
) -> std::io::Result<bool> {
    let reports = driver::run_batch_with(specs, &[target], true, options);
    let mut out = std::io::stdout().lock();
    let many = reports.iter().filter(|r| r.status == Status::Ok).count() > 1;
    let mut written = std::collections::HashMap::new();
    let mut collided = false;
    for r in &reports {
        let Some(artifact) = r.outputs.get(&target) else {
            continue;
        };
        match &out_dir {
            Some(dir) => {
                let path = driver::output_path(dir, &r.relative, target);
                // Two inputs with one output name (`a/r.toml` and `b/r.toml` named together,
                // or `r.toml` beside `r.md`) would overwrite each other's artifact.
                if let Some(first) = written.get(&path) {
                    eprintln!(
                        "eqlc: {first} and {} both convert to {}; not overwriting",
                        r.path,
                        path.display()
                    );
                    collided = true;
                    continue;
                }
                written.insert(path.clone(), r.path.clone());
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&path, driver::artifact_file(artifact))?;
            }
            None if target == Target::Eql => write_eql(&mut out, &r.path, artifact, many)?,
            // YAML documents in one stream; a comment says which rule each came from.
            None if target == Target::Sigma => {
                if many {
                    writeln!(out, "---\n# {}", r.path)?;
                }
                write!(out, "{artifact}")?;
            }
            None => writeln!(out, "{artifact}")?,
        }
    }
    Ok(report_failures(&reports, color) | collided)
}

/// `eqlc build`: the options from the arguments; the library does the rest.
fn build(args: &BuildArgs, color: bool) -> ExitCode {
    // Each file is read once: parsed, and hashed into the manifest's settings.
    let loaded = (|| -> Result<_, String> {
        let mapping = args.types.read()?;
        let types = args.types.parse(mapping.as_deref())?;
        let field_mapping = args.sigma.read()?;
        let field_map = args.sigma.parse(field_mapping.as_deref())?;
        let settings = eqlc::build::Settings::describe(
            args.pretty,
            mapping.as_deref(),
            &args.sigma.field_mapping,
            field_mapping.as_deref(),
            args.sigma.case_sensitive,
        );
        Ok((types, field_map, settings))
    })();
    let (types, field_map_file, settings) = match loaded {
        Ok(loaded) => loaded,
        Err(message) => {
            eprintln!("eqlc: {message}");
            return ExitCode::from(2);
        }
    };
    let ecs_names = FieldMap::ecs();
    let field_map = args.sigma.choose(field_map_file.as_ref(), &ecs_names);
    let options = Options {
        field_types: types.as_ref().unwrap_or_else(|| FieldTypes::ecs()),
        pretty: args.pretty,
        field_map,
        case_policy: args.sigma.case_sensitive,
    };
    let config = eqlc::build::BuildConfig {
        rules_dir: args.rules_dir.clone(),
        out_dir: args.out.clone(),
        targets: args.targets.clone(),
        settings,
        mode: if args.check {
            eqlc::build::Mode::Check
        } else {
            eqlc::build::Mode::Write
        },
        strict: args.strict,
    };
    let presentation = eqlc::build::cli::Presentation {
        report: args.report,
        report_file: args.report_file.clone(),
        quiet: args.quiet,
        color,
    };
    ExitCode::from(eqlc::build::cli::run(&config, &options, &presentation))
}

/// Exit 0, or report the error and exit 2.
fn exit_on(result: std::io::Result<()>) -> ExitCode {
    exit_with(result.map(|()| false))
}

/// Exit 1 when something failed, 0 otherwise; on an error, report it and exit 2.
fn exit_with(result: std::io::Result<bool>) -> ExitCode {
    match result {
        Ok(failed) => ExitCode::from(u8::from(failed)),
        // The reader went away (`eqlc parse ... | head`): nothing more to say.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eqlc: {e}");
            ExitCode::from(2)
        }
    }
}

/// Run each suite, print every failing query, end with `N passed, N failed`.
fn conformance(suites: &[PathBuf]) -> ExitCode {
    let (mut passed, mut failed) = (0, 0);
    for suite in suites {
        match eqlc::eval::conformance::run_suite(suite) {
            Ok(result) => {
                passed += result.passed.len();
                failed += result.failed.len();
                for f in &result.failed {
                    let got = match &f.got {
                        Ok(ids) => format!("{ids:?}"),
                        Err(why) => format!("not run: {why}"),
                    };
                    println!(
                        "FAIL {} / {}\n  query:    {}\n  expected: {}\n  got:      {got}",
                        result.name,
                        f.name,
                        f.query.replace('\n', "\n            "),
                        f.expected
                    );
                }
            }
            Err(e) => {
                eprintln!("eqlc: {e}");
                return ExitCode::from(2);
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    ExitCode::from(u8::from(failed > 0))
}

/// Bind, say where, answer requests until interrupted.
fn serve(host: &str, port: u16) -> ExitCode {
    match eqlc::serve::Server::bind(host, port) {
        Ok(server) => {
            // Scripts starting `--port 0` read the URL from this line.
            println!("eqlc serve: {}", server.url());
            let _ = std::io::stdout().flush();
            if !server.addr().ip().is_loopback() {
                eprintln!("eqlc: warning: not on loopback: anyone who reaches this address can use the page");
            }
            server.run();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("eqlc: cannot listen on {host}:{port}: {e}");
            ExitCode::from(2)
        }
    }
}

/// `eqlc explain`: the library explains, this prints; colour only where the stream is a
/// terminal (or `--color always`), and never with `NO_COLOR`.
fn explain(input: &InputArgs, types: &TypeArgs, sigma: &SigmaArgs, color: ColorChoice) -> ExitCode {
    let specs = input.specs();
    if report_missing(&specs) {
        return ExitCode::from(2);
    }
    let (mapping, field_map_file) = match (types.load(), sigma.load()) {
        (Ok(m), Ok(f)) => (m, f),
        (Err(message), _) | (_, Err(message)) => {
            eprintln!("eqlc: {message}");
            return ExitCode::from(2);
        }
    };
    let ecs_names = FieldMap::ecs();
    let field_map = sigma.choose(field_map_file.as_ref(), &ecs_names);
    let options = eqlc::explain::ExplainOptions {
        targets: Options {
            field_types: mapping.as_ref().unwrap_or_else(|| FieldTypes::ecs()),
            pretty: true,
            field_map,
            case_policy: sigma.case_sensitive,
        },
        sigma_taxonomy: sigma.field_mapping != "ecs",
        tables: eqlc::explain::FieldTables::embedded(),
    };
    let paint = eqlc::explain::Paint {
        color: color.enabled(std::io::stdout().is_terminal()),
    };
    let outcomes = eqlc::explain::explain_inputs(&specs, &options);
    let printed = eqlc::explain::print(
        &outcomes,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
        paint,
        color.enabled(std::io::stderr().is_terminal()),
    );
    exit_with(printed)
}

/// How `eqlc eval` prints alerts.
struct AlertOutput {
    format: AlertFormat,
    id_field: String,
}

/// Prints alerts to standard output, warnings to standard error, and progress on a terminal.
struct EvalPrinter<'a, W: Write> {
    out: W,
    output: &'a AlertOutput,
    events: &'a str,
    bar: Option<indicatif::ProgressBar>,
}

impl<W: Write> eqlc::eval::engine::Observer for EvalPrinter<'_, W> {
    fn alert(
        &mut self,
        rule: &eqlc::eval::run::CompiledRule,
        alert: &eqlc::eval::engine::Alert,
    ) -> std::io::Result<()> {
        use eqlc::eval::run::{alert_ids, alert_json};
        match self.output.format {
            AlertFormat::Json => writeln!(self.out, "{}", alert_json(rule, alert)),
            AlertFormat::Ids => writeln!(self.out, "{}", alert_ids(alert, &self.output.id_field)),
        }
    }

    fn warn(&mut self, message: String) {
        let line = format!("{}: warning: {message}", self.events);
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    fn progress(&mut self, bytes: u64, events: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
            bar.set_message(format!("{events} events"));
        }
    }
}

fn progress_bar(events: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let size = (events != "-")
        .then(|| std::fs::metadata(events).ok().map(|m| m.len()))
        .flatten();
    let bar = match size {
        Some(total) => indicatif::ProgressBar::new(total).with_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {binary_bytes}/{binary_total_bytes} {msg} ({binary_bytes_per_sec}, {eta})",
            )
            .ok()?,
        ),
        None => indicatif::ProgressBar::new_spinner().with_style(
            indicatif::ProgressStyle::with_template("{spinner} {binary_bytes} {msg} ({binary_bytes_per_sec})")
                .ok()?,
        ),
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
    Some(bar)
}

fn evaluate(
    specs: &[InputSpec],
    events: &str,
    output: &AlertOutput,
    options: eqlc::eval::engine::EngineOptions,
    quiet: bool,
    color: bool,
) -> std::io::Result<bool> {
    // The front end alone: evaluating needs the IR, not the canonical EQL target (whose
    // print-and-reparse check would double the parsing).
    let reports = driver::run_batch(specs, &[], false);
    let mut failed = report_failures(&reports, color);
    let (rules, problems) = driver::evaluable_rules(&reports);
    for (path, why) in &problems {
        eprintln!("{path}: error: cannot evaluate: {why}");
        failed = true;
    }
    let input: Box<dyn std::io::Read + Send> = if events == "-" {
        Box::new(std::io::stdin())
    } else {
        let file = std::fs::File::open(events)
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot read {events}: {e}")))?;
        Box::new(file)
    };
    let started = std::time::Instant::now();
    let mut engine = eqlc::eval::engine::Engine::new(rules, options);
    let (conditions, unfiltered) = engine.conditions();
    if !quiet {
        eprintln!(
            "{} rules: {conditions} conditions, {unfiltered} tested on every event",
            engine.rules().len()
        );
    }
    let mut printer = EvalPrinter {
        out: std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock()),
        output,
        events,
        bar: if quiet { None } else { progress_bar(events) },
    };
    let summary = engine.run(input, &mut printer)?;
    printer.out.flush()?;
    if let Some(bar) = &printer.bar {
        bar.finish_and_clear();
    }
    let seconds = started.elapsed().as_secs_f64();
    let total: u64 = summary.alerts.iter().sum();
    let rules = engine.rules();
    eprintln!(
        "{} events, {} rules, {total} alerts in {seconds:.2} s ({:.0} events/s)",
        summary.events,
        rules.len(),
        summary.events as f64 / seconds.max(1e-9)
    );
    if summary.out_of_order > 0 {
        eprintln!(
            "{events}: warning: {} matching events arrived later than the reorder window \
             allows and were taken out of timestamp order (sort the input, or raise \
             --reorder-window)",
            summary.out_of_order
        );
    }
    for (rule, count) in rules.iter().zip(&summary.alerts) {
        if *count > 0 {
            eprintln!("  {count:>8}  {}", rule.label());
        }
    }
    Ok(failed || summary.bad_lines > 0)
}

/// Print one rule's EQL; with several rules, each is headed by a `// path` comment (valid EQL)
/// and followed by a blank line.
fn write_eql(out: &mut impl Write, path: &str, eql: &str, many: bool) -> std::io::Result<()> {
    if many {
        writeln!(out, "// {path}")?;
    }
    writeln!(out, "{eql}")?;
    if many {
        writeln!(out)?;
    }
    Ok(())
}
