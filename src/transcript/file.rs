//! One transcript file replayed against its bot, as `botwright test`, the
//! studio and the tests run it: the `@bot ID` line names the bot, whose file
//! is found by [`BotFiles`], compiled once per run ([`Bots`]), and its
//! diagnostics are kept for the failure that reports a bot with errors.

use super::{Line, parse, replay};
use crate::diagnostics::Diagnostic;
use crate::model::CompiledBot;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Reads a file `name` directly inside a directory (the studio reads without following
/// symbolic links).
pub type ReadInside<'a> = &'a dyn Fn(&Path, &str) -> std::io::Result<String>;

/// Where a transcript's `@bot ID` is looked for.
#[derive(Clone, Copy)]
pub enum BotFiles<'a> {
    /// `ID.toml` in this directory (`--bots`), else next to the transcript; `ID` may be a
    /// relative path (`botwright test`).
    Relative(Option<&'a Path>),
    /// Only a bot of this directory (the studio): `ID` is a plain id (letters, digits, `_`
    /// and `-`), and the transcript and the bot's file are read by `read`.
    Inside { dir: &'a Path, read: ReadInside<'a> },
}

/// The bots compiled so far in a run, by file: each with its diagnostics.
pub type Bots = HashMap<PathBuf, (Option<CompiledBot>, Vec<Diagnostic>)>;

/// Why a transcript failed: its line (0 when it could not be read), the message, and the
/// bot's diagnostics when the bot has errors.
#[derive(Debug)]
pub struct RunFailure {
    pub line: usize,
    pub message: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl RunFailure {
    fn at(line: usize, message: impl Into<String>) -> RunFailure {
        RunFailure {
            line,
            message: message.into(),
            diagnostics: Vec::new(),
        }
    }
}

/// Letters, digits, `_` and `-`: a bot's id as the studio names bots.
pub fn is_plain_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Replays the transcript `chat` against its bot.
pub fn run_file(chat: &Path, files: BotFiles<'_>, bots: &mut Bots) -> Result<(), RunFailure> {
    let text = match files {
        BotFiles::Relative(_) => std::fs::read_to_string(chat),
        BotFiles::Inside { dir, read } => read(dir, chat.file_name().and_then(|n| n.to_str()).unwrap_or("")),
    }
    .map_err(|e| RunFailure::at(0, format!("cannot read: {e}")))?;
    let lines = parse(&text).map_err(|f| RunFailure::at(f.line, f.message))?;
    let Some((bot_line, bot_id)) = lines.iter().find_map(|(n, l)| match l {
        Line::Bot(id) => Some((*n, id.clone())),
        _ => None,
    }) else {
        return Err(RunFailure::at(1, "the transcript has no `@bot ID` line"));
    };
    let path = match files {
        BotFiles::Relative(dir) => dir
            .map(Path::to_path_buf)
            .unwrap_or_else(|| chat.parent().unwrap_or(Path::new(".")).to_path_buf())
            .join(format!("{bot_id}.toml")),
        BotFiles::Inside { dir, .. } => {
            if !is_plain_id(&bot_id) {
                return Err(RunFailure::at(
                    bot_line,
                    format!(
                        "`@bot {bot_id}` is not a bot of {}: here `@bot` names a bot of the directory by its id (letters, digits, `_` and `-`), not a path",
                        dir.display()
                    ),
                ));
            }
            dir.join(format!("{bot_id}.toml"))
        }
    };
    if !bots.contains_key(&path) {
        let mut diagnostics = Vec::new();
        let bot = match files {
            BotFiles::Relative(_) => crate::validate::compile_path(&path, &mut diagnostics)
                .map_err(|e| RunFailure::at(bot_line, format!("the bot {} cannot be read: {e}", path.display())))?,
            BotFiles::Inside { dir, read } => {
                let name = format!("{bot_id}.toml");
                let text = read(dir, &name)
                    .map_err(|e| RunFailure::at(bot_line, format!("the bot {name} cannot be read: {e}")))?;
                let file = crate::diagnostics::SourceFile::new(path.display().to_string(), text);
                crate::validate::compile(&bot_id, &file, &mut diagnostics)
            }
        };
        bots.insert(path.clone(), (bot, diagnostics));
    }
    let (bot, diagnostics) = &bots[&path];
    let Some(bot) = bot else {
        return Err(RunFailure {
            line: bot_line,
            message: format!(
                "the bot {} has errors (run `botwright check {}`)",
                path.display(),
                path.display()
            ),
            diagnostics: diagnostics.iter().filter(|d| d.is_error()).cloned().collect(),
        });
    };
    replay(bot, &lines).map_err(|f| RunFailure::at(f.line, f.message))
}
