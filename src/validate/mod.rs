//! Raw model → compiled bot: every compile-time check of bot-format.md.
//! All problems of a file are reported at once; a bot with errors is not built.

mod actions;
mod fingerprint;
mod graph_checks;
mod ids;
mod keywords;
mod sections;
mod templates;
mod urls;

pub use templates::{MAX_MESSAGE, check_html};
pub use urls::{env_prefix, forbidden_url_variable, url_variables};

use crate::Language;
use crate::diagnostics::{Code, Diagnostic, SourceFile, suggest};
use crate::expr::Template;
use crate::model::{
    Action, Algorithm, AlgorithmKind, AnswerType, Auth, CompiledBot, InputKind, Notification, Record, normalize,
};
use crate::syntax::{self, RawBot, RawKeyword, Sp};
use crate::texts::{self, COMMON_VARS};
use rustc_hash::FxHashMap as HashMap;
use sha2::{Digest, Sha256};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;
use templates::TextChecker;

/// Telegram's limit for a button label, in bytes.
pub use crate::limits::MAX_LABEL;
/// The most options one choice may offer.
pub use crate::limits::MAX_OPTIONS;

/// Compiles one bot file's text. Diagnostics (warnings included) go to `diagnostics`;
/// the bot is returned only when there are no errors.
pub fn compile(id: &str, file: &Arc<SourceFile>, diagnostics: &mut Vec<Diagnostic>) -> Option<CompiledBot> {
    compile_with(id, file, &Neighbours::default(), diagnostics)
}

/// The bot files compiled together (a directory in `check`, `run`, the studio): their ids
/// and the environment variables they name in `token_env`. An `http` URL may name none of
/// those variables, nor one that belongs to another bot (bot-format.md, `[algorithms]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Neighbours {
    pub ids: Vec<String>,
    pub tokens: Vec<String>,
}

impl Neighbours {
    /// The ids (file stems) and `token_env` names of bot files; unreadable files are skipped
    /// (compiling them reports why).
    pub fn of_paths(paths: &[std::path::PathBuf]) -> Neighbours {
        let mut out = Neighbours::default();
        for path in paths {
            out.ids.push(bot_id_of(path));
            if let Some(token) = std::fs::read_to_string(path).ok().and_then(|t| token_env_of(&t)) {
                out.tokens.push(token);
            }
        }
        out
    }
}

/// The `token_env` a bot file's text names, if it parses that far.
pub fn token_env_of(text: &str) -> Option<String> {
    let v: toml::Table = toml::from_str(text).ok()?;
    v.get("bot")?.get("token_env")?.as_str().map(str::to_string)
}

/// A bot file's id: its file stem.
pub fn bot_id_of(path: &std::path::Path) -> String {
    path.file_stem().and_then(|s| s.to_str()).unwrap_or("bot").to_string()
}

/// [`compile`] beside the other bots compiled together with this one.
pub fn compile_with(
    id: &str,
    file: &Arc<SourceFile>,
    neighbours: &Neighbours,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<CompiledBot> {
    let before = diagnostics.len();
    let raw = syntax::parse(file, diagnostics)?;
    let bot = Validator {
        file,
        diagnostics,
        neighbours,
    }
    .bot(id, raw);
    if diagnostics[before..].iter().any(Diagnostic::is_error) {
        None
    } else {
        bot
    }
}

/// Reads and compiles a bot file from disk; its id is the file stem.
pub fn compile_path(path: &std::path::Path, diagnostics: &mut Vec<Diagnostic>) -> std::io::Result<Option<CompiledBot>> {
    compile_path_with(path, &Neighbours::default(), diagnostics)
}

/// [`compile_path`] beside the other bots compiled together with this one.
pub fn compile_path_with(
    path: &std::path::Path,
    neighbours: &Neighbours,
    diagnostics: &mut Vec<Diagnostic>,
) -> std::io::Result<Option<CompiledBot>> {
    let text = std::fs::read_to_string(path)?;
    let id = bot_id_of(path);
    let file = SourceFile::new(path.display().to_string(), text);
    Ok(compile_with(&id, &file, neighbours, diagnostics))
}

/// Compiles bot files served together: each is checked against the others' ids and `token_env`.
pub fn compile_paths(
    paths: &[std::path::PathBuf],
    diagnostics: &mut Vec<Diagnostic>,
) -> std::io::Result<Vec<Option<CompiledBot>>> {
    let neighbours = Neighbours::of_paths(paths);
    paths
        .iter()
        .map(|p| compile_path_with(p, &neighbours, diagnostics))
        .collect()
}

/// The bot's own texts, by key: `[texts]`, then the shorthands `[bot] unknown` and `[auth]
/// request`, which win over `[texts]` (bot-format.md). Unknown keys are left out (the compiler
/// reports them). The compiler and the studio's texts table both read overrides through this.
pub fn text_overrides(raw: &RawBot) -> indexmap::IndexMap<&'static str, &Sp<String>> {
    text_sources(raw).into_iter().collect()
}

/// Every value of the bot that sets a text, in the order in which a later one wins.
fn text_sources(raw: &RawBot) -> Vec<(&'static str, &Sp<String>)> {
    let mut out = Vec::new();
    for (key, value) in &raw.texts {
        if let Some(t) = texts::find(&key.value) {
            out.push((t.key, value));
        }
    }
    if let Some(u) = &raw.bot.unknown {
        out.push(("unknown", u));
    }
    if let Some(r) = raw.auth.as_ref().and_then(|a| a.request.as_ref()) {
        out.push(("auth_request", r));
    }
    out
}

struct Validator<'a> {
    file: &'a Arc<SourceFile>,
    diagnostics: &'a mut Vec<Diagnostic>,
    neighbours: &'a Neighbours,
}

/// What is known of one keyword record while checking.
struct Entry<'r> {
    raw: &'r RawKeyword,
    id: String,
    parent: Option<usize>,
    disabled: bool,
}

impl Validator<'_> {
    fn push(&mut self, span: Range<usize>, code: Code, message: impl Into<String>) -> &mut Diagnostic {
        self.diagnostics.push(Diagnostic::new(self.file, span, code, message));
        self.diagnostics.last_mut().expect("just pushed")
    }

    fn texts(&mut self) -> TextChecker<'_> {
        TextChecker {
            file: self.file,
            diagnostics: self.diagnostics,
        }
    }

    fn bot(&mut self, id: &str, raw: RawBot) -> Option<CompiledBot> {
        let section = &raw.bot;
        let header = if section.present { section.span.clone() } else { 0..0 };
        let name = self.required(&section.name, "name", &header, &section.mistyped);
        let token_env = self.required(&section.token_env, "token_env", &header, &section.mistyped);
        let language = match &section.language {
            None => Language::Ru,
            Some(l) if l.value == "ru" => Language::Ru,
            Some(l) if l.value == "en" => Language::En,
            Some(l) => {
                self.push(
                    l.span.clone(),
                    Code::BadValue,
                    format!("unknown language `{}`", l.value),
                )
                .help = Some("use \"ru\" or \"en\"".into());
                Language::Ru
            }
        };
        let timezone = section
            .timezone
            .as_ref()
            .and_then(|tz| match tz.value.parse::<chrono_tz::Tz>() {
                Ok(z) => Some(z),
                Err(_) => {
                    let d = self.push(
                        tz.span.clone(),
                        Code::BadValue,
                        format!("unknown time zone `{}`", tz.value),
                    );
                    d.help = Some("use an IANA name such as \"Europe/Moscow\"".into());
                    None
                }
            });
        let start = self.word_list(&section.start, &["/start", "Старт"]);
        let cancel = self.word_list(&section.cancel, &["/cancel", "Отмена"]);
        let algorithms = self.algorithms(id, &raw);
        let texts = self.bot_texts(&raw, language);
        let auth = self.auth(&raw, &algorithms);
        let notifications = self.notifications(&raw);
        let (records, records_ok, top) = self.keywords(&raw, &algorithms, &start, &cancel);
        // Records with errors stay as placeholders, so the buttons that name them are checked too.
        self.action_targets(&raw, &records);
        let mut code_names = HashMap::default();
        for a in algorithms.values().filter(|a| a.exposed) {
            code_names.insert(normalize(&a.name), a.name.clone());
            if let Some(title) = &a.title {
                code_names.insert(normalize(title), a.name.clone());
            }
        }
        let hash = definition_hash(id, &raw.content_hash);
        Some(CompiledBot {
            id: id.to_string(),
            name: name?,
            description: section
                .description
                .as_ref()
                .map(|d| d.value.clone())
                .unwrap_or_default(),
            token_env: token_env?,
            language,
            start,
            cancel,
            timezone,
            allow_code: section.allow_code.as_ref().is_some_and(|a| a.value),
            log_texts: section.log_texts.as_ref().is_none_or(|a| a.value),
            texts: texts?,
            records: records_ok.then_some(records)?,
            top,
            algorithms,
            code_names,
            auth,
            notifications,
            hash,
            neighbours: Arc::new(self.neighbours.clone()),
        })
    }

    fn required(
        &mut self,
        value: &Option<Sp<String>>,
        key: &str,
        header: &Range<usize>,
        mistyped: &[&str],
    ) -> Option<String> {
        match value {
            Some(v) if !v.value.trim().is_empty() => Some(v.value.clone()),
            Some(v) => {
                self.push(v.span.clone(), Code::BadValue, format!("`{key}` must not be empty"));
                None
            }
            // Written with the wrong type: E005 already says so.
            None if mistyped.contains(&key) => None,
            None => {
                let d = self.push(header.clone(), Code::MissingKey, format!("[bot] has no `{key}`"));
                d.help = Some(match key {
                    "token_env" => {
                        "add `token_env = \"MY_BOT_TOKEN\"`: the environment variable that holds the token".into()
                    }
                    _ => format!("add `{key} = \"...\"` to [bot]"),
                });
                None
            }
        }
    }

    fn word_list(&mut self, words: &Option<syntax::Words>, default: &[&str]) -> Vec<String> {
        match words {
            None => default.iter().map(|w| normalize(w)).collect(),
            Some(w) => w
                .value
                .iter()
                .map(|w| normalize(&w.value))
                .filter(|w| !w.is_empty())
                .collect(),
        }
    }
}

/// Parses `500ms`, `5s`, `2m`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = number.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" | "min" => Some(Duration::from_secs(n * 60)),
        _ => None,
    }
}

/// A hash of the definition: the bot id and the file's value tree (comments and layout
/// do not count). It says whether a reload changed anything at all; what a reload keeps of
/// a conversation is decided per record, by [`fingerprint`]s.
fn definition_hash(id: &str, content: &[u8; 32]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(id.as_bytes());
    hasher.update([0]);
    hasher.update(content);
    hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}
