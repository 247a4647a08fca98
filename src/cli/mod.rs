//! The `botwright` command line: one function per subcommand.

pub mod chat;
pub mod check;
pub mod eval;
pub mod graph;
pub mod insights;
pub mod operators;
pub mod run;
pub mod send;
pub mod studio;
pub mod test;
pub mod texts;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Declarative Telegram bots: compile, test and run TOML bot files.
#[derive(Debug, Parser)]
#[command(name = "botwright", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile bot files and print every diagnostic.
    Check(check::Args),
    /// Print a bot's compiled state graph (Mermaid or DOT).
    Graph(graph::Args),
    /// List every built-in text key with its default and variables.
    Texts(texts::Args),
    /// Evaluate one expression and print its value as text.
    Eval(eval::Args),
    /// Talk to a bot in the terminal, offline.
    Chat(chat::Args),
    /// Replay `*.chat` transcripts against their bots.
    Test(test::Args),
    /// Serve every bot on Telegram, with state in a database.
    Run(run::Args),
    /// Queue a message (now or at a time) for `run` to send.
    Send(send::Args),
    /// Print what users did with a bot over a period (api.md, Insights).
    Insights(insights::Args),
    /// Add, list and remove the operators of the API and the console (api.md).
    Operators(operators::Args),
    /// Remove every bot's webhook (stopping `run` never does).
    Unhook(run::UnhookArgs),
    /// Print the JSON Schema of bot files (for editors' TOML language servers).
    Schema,
    /// Serve the analyst's studio: edit, check, chat with and test the bots of a directory.
    Studio(studio::Args),
}

/// Exit codes of cli.md.
pub const OK: u8 = 0;
pub const PROBLEMS: u8 = 1;
pub const USAGE: u8 = 2;

/// A multi-threaded tokio runtime (`workers` threads, or one per core), or the exit code
/// after saying why it could not start.
fn tokio_runtime(workers: Option<usize>) -> Result<tokio::runtime::Runtime, u8> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(n);
    }
    builder.enable_all().build().map_err(|e| {
        eprintln!("error: cannot start the async runtime: {e}");
        USAGE
    })
}

pub fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Check(a) => check::run(a),
        Command::Studio(a) => studio::run(a),
        Command::Schema => {
            print!("{}", crate::schema::bot_file_text());
            OK
        }
        Command::Graph(a) => graph::run(a),
        Command::Texts(a) => texts::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Chat(a) => chat::run(a),
        Command::Test(a) => test::run(a),
        Command::Run(a) => run::run(a),
        Command::Send(a) => send::run(a),
        Command::Insights(a) => insights::run(a),
        Command::Operators(a) => operators::run(a),
        Command::Unhook(a) => run::unhook(a),
    }
}

/// The bot files named by `paths`: files as given, directories by their `*.toml`, sorted.
pub fn bot_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    files_with_extension(paths, "toml", false)
}

/// Files named by `paths` (default `bots/`): files as given; directories by
/// their files with `extension`, sorted, and with `recursive` their subdirectories' too.
pub fn files_with_extension(paths: &[PathBuf], extension: &str, recursive: bool) -> std::io::Result<Vec<PathBuf>> {
    fn walk(dir: &std::path::Path, extension: &str, recursive: bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                if recursive {
                    walk(&p, extension, recursive, out)?;
                }
            } else if p.extension().is_some_and(|e| e == extension) {
                out.push(p);
            }
        }
        Ok(())
    }
    let default = [PathBuf::from("bots")];
    let paths = if paths.is_empty() { &default[..] } else { paths };
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, extension, recursive, &mut out)?;
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: no such file or directory", p.display()),
            ));
        }
    }
    Ok(out)
}

/// Whether to colour output on stdout: only on a terminal and never with NO_COLOR.
pub fn colour_choice(stream_is_terminal: bool) -> termcolor::ColorChoice {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    if stream_is_terminal && !no_color {
        termcolor::ColorChoice::Auto
    } else {
        termcolor::ColorChoice::Never
    }
}

/// Compiles one bot file for a command that needs it, printing diagnostics to stderr.
/// `None` (after printing) when it cannot be read or has errors.
pub fn load_bot(path: &std::path::Path) -> Option<crate::model::CompiledBot> {
    let mut found = Vec::new();
    match crate::validate::compile_path(path, &mut found) {
        Ok(bot) => {
            let errors: Vec<_> = found.into_iter().filter(|d| d.is_error()).collect();
            if !errors.is_empty() {
                let mut err = termcolor::StandardStream::stderr(termcolor::ColorChoice::Never);
                let _ = crate::diagnostics::render(&errors, crate::diagnostics::Format::Human, &mut err);
            }
            bot
        }
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            None
        }
    }
}
