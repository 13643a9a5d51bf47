//! Shell completions and man pages, generated from the CLI's clap definition so they list
//! exactly the commands and options the binary accepts.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The completion script of `shell` for `command` (the whole `eqlc` CLI).
pub fn completion_script(mut command: clap::Command, shell: clap_complete::Shell) -> Vec<u8> {
    let name = command.get_name().to_string();
    // Generated into memory: clap_complete panics when its writer fails (a closed pipe),
    // a buffer cannot.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    script
}

/// `eqlc completions SHELL`: the script on standard output.
pub fn print_completions(
    command: clap::Command,
    shell: clap_complete::Shell,
) -> std::io::Result<()> {
    std::io::stdout()
        .lock()
        .write_all(&completion_script(command, shell))
}

/// The man page (roff) of `command` itself; its subcommands are listed in it.
pub fn man_page(command: clap::Command) -> std::io::Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page)?;
    Ok(page)
}

/// Write one man page per command into `dir` (`eqlc.1`, `eqlc-build.1`, …; the directory is
/// created if need be) and return the files written, sorted.
pub fn man_pages(command: clap::Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let in_dir = |e: std::io::Error| {
        std::io::Error::new(
            e.kind(),
            format!("cannot write man pages to {}: {e}", dir.display()),
        )
    };
    std::fs::create_dir_all(dir).map_err(in_dir)?;
    let mut command = command.disable_help_subcommand(true);
    command.build();
    let mut written = Vec::new();
    write_pages(&command, dir, &mut written).map_err(in_dir)?;
    written.sort();
    Ok(written)
}

fn write_pages(
    command: &clap::Command,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    written.push(clap_mangen::Man::new(command.clone()).generate_to(dir)?);
    Ok(())
}

/// `eqlc man`: the main page on standard output, or every page into `out_dir` (each file
/// written is named on standard output).
pub fn man(command: clap::Command, out_dir: Option<&Path>) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match out_dir {
        None => stdout.write_all(&man_page(command)?),
        Some(dir) => {
            for file in man_pages(command, dir)? {
                writeln!(stdout, "{}", file.display())?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> clap::Command {
        clap::Command::new("demo")
            .subcommand(clap::Command::new("run").arg(clap::Arg::new("fast").long("fast")))
    }

    #[test]
    fn scripts_and_pages_name_the_subcommands_and_options() {
        let bash = String::from_utf8(completion_script(demo(), clap_complete::Shell::Bash))
            .expect("UTF-8");
        assert!(bash.contains("run") && bash.contains("--fast"), "{bash}");
        let page = String::from_utf8(man_page(demo()).expect("render")).expect("UTF-8");
        assert!(
            page.starts_with(".ie") || page.contains(".TH demo 1"),
            "{page}"
        );
    }
}
