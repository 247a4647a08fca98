//! `botwright test`: replays transcripts and reports `N passed, N failed`.

use crate::transcript::{BotFiles, Bots, run_file};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Transcripts, or directories searched for `*.chat` (default: bots/).
    pub paths: Vec<PathBuf>,
    /// Where bot files are, when not next to the transcripts.
    #[arg(long)]
    pub bots: Option<PathBuf>,
}

pub fn run(args: Args) -> u8 {
    let chats = match crate::cli::files_with_extension(&args.paths, "chat", true) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return super::super::cli::USAGE;
        }
    };
    let mut bots = Bots::new();
    let (mut passed, mut failed) = (0, 0);
    for chat in &chats {
        match run_file(chat, BotFiles::Relative(args.bots.as_deref()), &mut bots) {
            Ok(()) => {
                passed += 1;
                println!("ok     {}", chat.display());
            }
            Err(f) => {
                failed += 1;
                println!("FAILED {}", chat.display());
                println!("{}:{}: {}", chat.display(), f.line, f.message);
                // The bot's errors, as `check` prints them (on stderr: stdout keeps its lines).
                if !f.diagnostics.is_empty() {
                    let mut out = termcolor::NoColor::new(std::io::stderr());
                    let _ = crate::diagnostics::render(&f.diagnostics, crate::diagnostics::Format::Human, &mut out);
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        super::super::cli::PROBLEMS
    } else {
        super::super::cli::OK
    }
}
