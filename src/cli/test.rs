//! `botwright test`: replays transcripts and reports `N passed, N failed`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
    let mut bots: HashMap<PathBuf, Option<crate::model::CompiledBot>> = HashMap::new();
    let (mut passed, mut failed) = (0, 0);
    for chat in &chats {
        match run_one(chat, args.bots.as_deref(), &mut bots) {
            Ok(()) => {
                passed += 1;
                println!("ok     {}", chat.display());
            }
            Err((line, message)) => {
                failed += 1;
                println!("FAILED {}", chat.display());
                println!("{}:{line}: {message}", chat.display());
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

pub fn run_one(
    chat: &Path,
    bots_dir: Option<&Path>,
    bots: &mut HashMap<PathBuf, Option<crate::model::CompiledBot>>,
) -> Result<(), (usize, String)> {
    let text = std::fs::read_to_string(chat).map_err(|e| (0, format!("cannot read: {e}")))?;
    let lines = crate::transcript::parse(&text).map_err(|f| (f.line, f.message))?;
    let Some((bot_line, bot_id)) = lines.iter().find_map(|(n, l)| match l {
        crate::transcript::Line::Bot(id) => Some((*n, id.clone())),
        _ => None,
    }) else {
        return Err((1, "the transcript has no `@bot ID` line".into()));
    };
    let dir = bots_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| chat.parent().unwrap_or(Path::new(".")).to_path_buf());
    let path = dir.join(format!("{bot_id}.toml"));
    let bot = bots.entry(path.clone()).or_insert_with(|| {
        let mut diagnostics = Vec::new();
        crate::validate::compile_path(&path, &mut diagnostics).ok().flatten()
    });
    let Some(bot) = bot else {
        return Err((
            bot_line,
            format!(
                "the bot {} cannot be read or has errors (run `botwright check {}`)",
                path.display(),
                path.display()
            ),
        ));
    };
    crate::transcript::replay(bot, &lines).map_err(|f| (f.line, f.message))
}
