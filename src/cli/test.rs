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
        match run_one(chat, BotFiles::Relative(args.bots.as_deref()), &mut bots) {
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

/// Where a transcript's `@bot ID` is looked for.
#[derive(Debug, Clone, Copy)]
pub enum BotFiles<'a> {
    /// `ID.toml` in this directory (`--bots`), else next to the transcript; `ID` may be a
    /// relative path (`botwright test`).
    Relative(Option<&'a Path>),
    /// Only a bot of this directory (the studio): `ID` is a plain id (letters, digits, `_`
    /// and `-`), and neither its file nor the transcript is read through a symbolic link.
    Inside(&'a Path),
}

/// Replays one transcript: `Err((line, message))` says where and why it failed.
pub fn run_one(
    chat: &Path,
    bot_files: BotFiles<'_>,
    bots: &mut HashMap<PathBuf, Option<crate::model::CompiledBot>>,
) -> Result<(), (usize, String)> {
    let text = match bot_files {
        BotFiles::Relative(_) => std::fs::read_to_string(chat),
        BotFiles::Inside(dir) => {
            let name = chat.file_name().and_then(|n| n.to_str()).unwrap_or("");
            crate::studio::files::read(dir, name)
        }
    }
    .map_err(|e| (0, format!("cannot read: {e}")))?;
    let lines = crate::transcript::parse(&text).map_err(|f| (f.line, f.message))?;
    let Some((bot_line, bot_id)) = lines.iter().find_map(|(n, l)| match l {
        crate::transcript::Line::Bot(id) => Some((*n, id.clone())),
        _ => None,
    }) else {
        return Err((1, "the transcript has no `@bot ID` line".into()));
    };
    let (path, bot) = match bot_files {
        BotFiles::Relative(bots_dir) => {
            let dir = bots_dir
                .map(Path::to_path_buf)
                .unwrap_or_else(|| chat.parent().unwrap_or(Path::new(".")).to_path_buf());
            let path = dir.join(format!("{bot_id}.toml"));
            let bot = bots.entry(path.clone()).or_insert_with(|| {
                let mut diagnostics = Vec::new();
                crate::validate::compile_path(&path, &mut diagnostics).ok().flatten()
            });
            (path, bot)
        }
        BotFiles::Inside(dir) => {
            if !crate::studio::files::is_id(&bot_id) {
                return Err((
                    bot_line,
                    format!(
                        "`@bot {bot_id}` is not a bot of {}: here `@bot` names a bot of the directory by its id (letters, digits, `_` and `-`), not a path",
                        dir.display()
                    ),
                ));
            }
            let name = format!("{bot_id}.toml");
            let path = dir.join(&name);
            let bot = match bots.entry(path.clone()) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let text = crate::studio::files::read(dir, &name)
                        .map_err(|err| (bot_line, format!("the bot {name} cannot be read: {err}")))?;
                    let file = crate::diagnostics::SourceFile::new(path.display().to_string(), text);
                    e.insert(crate::validate::compile(&bot_id, &file, &mut Vec::new()))
                }
            };
            (path, bot)
        }
    };
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
