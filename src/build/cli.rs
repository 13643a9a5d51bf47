//! `eqlc build` at a terminal or in a CI log: runs [`super::run`], shows progress, prints what
//! happened and writes the requested report.
//!
//! Standard output carries only the report (`--report` without `--report-file`), so it can be
//! piped; everything for people goes to standard error: a progress bar on a terminal only,
//! then plain lines that do not change shape from run to run (diagnostics, `stale: PATH
//! (state)` lines, `warning:` lines, one summary line).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use super::report::{self, ReportFormat};
use super::{BuildConfig, FileState, Mode, Observer, Outcome};
use crate::diagnostic::{self, Severity};
use crate::driver::Options;

/// How the command presents its result.
#[derive(Debug, Clone, Default)]
pub struct Presentation {
    /// Report to produce, if any.
    pub report: Option<ReportFormat>,
    /// Where the report goes; standard output when `None`.
    pub report_file: Option<PathBuf>,
    /// No progress bar and no summary; problems are still printed.
    pub quiet: bool,
    /// ANSI colours in diagnostics.
    pub color: bool,
}

/// Exit status: everything built (or up to date).
pub const EXIT_OK: u8 = 0;
/// Exit status: some rule failed, or (checking) some file is stale.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: the build could not run (bad directory, unwritable file, …).
pub const EXIT_USAGE: u8 = 2;

struct Bar(indicatif::ProgressBar);

impl Observer for Bar {
    fn compiling(&self, total: u64) {
        self.0.set_length(total);
    }

    fn compiled(&self) {
        self.0.inc(1);
    }
}

fn progress_bar() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let style =
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} rules ({per_sec}, {eta})")
            .ok()?;
    let bar = indicatif::ProgressBar::new(0).with_style(style);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(10));
    Some(bar)
}

/// Run `eqlc build` and return its exit status.
pub fn run(config: &BuildConfig, options: &Options<'_>, presentation: &Presentation) -> u8 {
    let started = std::time::Instant::now();
    let bar = if presentation.quiet {
        None
    } else {
        progress_bar()
    };
    let result = match &bar {
        Some(bar) => super::run(config, options, &Bar(bar.clone())),
        None => super::run(config, options, &super::Silent),
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("eqlc: {e}");
            return EXIT_USAGE;
        }
    };
    let mut err = std::io::stderr().lock();
    // A closed standard error (`2>&-`) must not turn into a panic; the exit status still tells.
    let _ = print_outcome(&mut err, &outcome, presentation, started.elapsed());
    if let Some(format) = presentation.report {
        let text = report::render(&outcome, format);
        let written = match &presentation.report_file {
            Some(path) => std::fs::write(path, text)
                .map_err(|e| format!("cannot write report {}: {e}", path.display())),
            None => std::io::stdout()
                .lock()
                .write_all(text.as_bytes())
                .map_err(|e| format!("cannot write report: {e}")),
        };
        if let Err(message) = written {
            let _ = writeln!(err, "eqlc: {message}");
            return EXIT_USAGE;
        }
    }
    if outcome.passed() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

fn print_outcome(
    err: &mut impl Write,
    outcome: &Outcome,
    presentation: &Presentation,
    elapsed: std::time::Duration,
) -> std::io::Result<()> {
    for rule in &outcome.rules {
        for d in &rule.report.diagnostics {
            // Warnings on one line each (a large repository has many), errors in full.
            match d.diagnostic.severity {
                Severity::Error => {
                    let text = diagnostic::render(
                        &d.diagnostic,
                        &rule.display,
                        &rule.report.text,
                        presentation.color,
                    );
                    writeln!(err, "{text}\n")?;
                }
                Severity::Warning if !presentation.quiet => {
                    let mut line = d.clone();
                    line.path.clone_from(&rule.display);
                    writeln!(err, "{}", line.one_line())?;
                }
                Severity::Warning => {}
            }
        }
    }
    for warning in &outcome.warnings {
        writeln!(err, "warning: {warning}")?;
    }
    let stale: Vec<_> = outcome
        .files
        .iter()
        .filter(|f| f.state.is_stale())
        .collect();
    for f in &stale {
        let state = match f.state {
            FileState::Missing => "missing",
            FileState::Different => "different",
            _ => "orphaned: no rule produces it any more",
        };
        writeln!(
            err,
            "stale: {} ({state})",
            outcome.out_dir.join(&f.path).display()
        )?;
    }
    let s = outcome.summary();
    let failed_rules: Vec<&str> = outcome
        .rules
        .iter()
        .filter(|r| r.report.status == crate::driver::Status::Error)
        .map(|r| r.display.as_str())
        .collect();
    if outcome.mode == Mode::Check {
        for path in &failed_rules {
            writeln!(err, "failed: {path}")?;
        }
    }
    if presentation.quiet {
        return Ok(());
    }
    let targets: Vec<&str> = outcome.targets.iter().map(|t| t.name()).collect();
    let unsupported = match s.unsupported {
        0 => String::new(),
        1 => "; 1 artifact its target cannot express".into(),
        n => format!("; {n} artifacts their targets cannot express"),
    };
    let rules = format!(
        "{} documents ({} ok, {} skipped, {} failed{unsupported}) for {}",
        s.rules,
        s.ok,
        s.skipped,
        s.failed,
        targets.join(", ")
    );
    let seconds = elapsed.as_secs_f64();
    match outcome.mode {
        Mode::Write => {
            let manifest = match outcome.file_state(super::MANIFEST) {
                Some(FileState::Written) => "written",
                _ => "unchanged",
            };
            writeln!(
                err,
                "built {rules}: {} artifacts written, {} unchanged, {} removed; manifest {manifest} ({seconds:.2} s)",
                s.written, s.unchanged, s.removed
            )?;
        }
        Mode::Check if outcome.passed() => {
            writeln!(
                err,
                "checked {rules}: {} up to date ({seconds:.2} s)",
                outcome.out_dir.display()
            )?;
        }
        Mode::Check => {
            writeln!(
                err,
                "checked {rules}: {} stale files, {} failed rules; run `eqlc build` with the same \
                 options (without --check) and commit the result ({seconds:.2} s)",
                s.stale, s.failed
            )?;
        }
    }
    Ok(())
}
