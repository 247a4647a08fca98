use crate::diagnostics::{self, Format};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use termcolor::StandardStream;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bot files, or directories of them (default: bots/).
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Treat warnings as errors (exit 1).
    #[arg(long)]
    pub deny_warnings: bool,
}

pub fn run(args: Args) -> u8 {
    let files = match super::bot_files(&args.paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return super::USAGE;
        }
    };
    let mut found = Vec::new();
    if let Err(e) = crate::validate::compile_paths(&files, &mut found) {
        eprintln!("error: cannot read a bot file: {e}");
        return super::USAGE;
    }
    diagnostics::sort(&mut found);
    let mut out = StandardStream::stdout(super::colour_choice(std::io::stdout().is_terminal()));
    if diagnostics::render(&found, args.format, &mut out).is_err() {
        return super::USAGE;
    }
    let summary = diagnostics::summary(files.len(), &found);
    if args.format == Format::Human {
        let _ = writeln!(out, "{summary}");
    } else {
        eprintln!("{summary}");
    }
    let errors = found.iter().any(|d| d.is_error());
    let warnings = found.iter().any(|d| !d.is_error());
    if errors || (args.deny_warnings && warnings) {
        super::PROBLEMS
    } else {
        super::OK
    }
}
