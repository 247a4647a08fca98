//! Raw model → compiled bot: every compile-time check of bot-format.md.
//! All problems of a file are reported at once; a bot with errors is not built.

mod fingerprint;
mod graph_checks;
mod templates;

pub use templates::{MAX_MESSAGE, check_html};

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

/// The `${NAME}` variables of a URL with their byte ranges in it.
pub fn url_variables(url: &str) -> Vec<(String, Range<usize>)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(start) = url[from..].find("${").map(|i| i + from) {
        let Some(end) = url[start..].find('}').map(|i| i + start) else {
            out.push((String::new(), start..url.len()));
            break;
        };
        out.push((url[start + 2..end].to_string(), start..end + 1));
        from = end + 1;
    }
    out
}

/// A bot's own environment-variable prefix, without its `_`: the id in upper case, characters
/// other than letters and digits as `_` (bot-format.md).
pub fn env_prefix(bot_id: &str) -> String {
    bot_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Why a bot may not read `name` in an `http` URL, if it may not (bot-format.md): only
/// `<ID>_…` names in which `URL` is one of the `_`-separated words after the id, of this
/// bot and of no bot with a longer id that prefixes the name too, or `BOTWRIGHT_URL_…`;
/// never a token or a secret.
pub fn forbidden_url_variable(
    bot_id: &str,
    own_token: Option<&str>,
    neighbours: &Neighbours,
    name: &str,
) -> Option<String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some(format!("`${{{name}}}` is not a variable name"));
    }
    if name == "BOTWRIGHT_API_TOKEN" || name == "BOTWRIGHT_ALGORITHM_SECRET" || Some(name) == own_token {
        return Some(format!(
            "`{name}` holds a secret, and a URL would send it to whoever serves it"
        ));
    }
    if neighbours.tokens.iter().any(|t| t == name) {
        return Some(format!(
            "`{name}` is the token of a bot, and a URL would send it to whoever serves it"
        ));
    }
    if name.strip_prefix("BOTWRIGHT_URL_").is_some_and(|rest| !rest.is_empty()) {
        return None;
    }
    let prefix = env_prefix(bot_id) + "_";
    let Some(rest) = name.strip_prefix(&prefix) else {
        return Some(format!("`{name}` is not named `{prefix}…URL…` or `BOTWRIGHT_URL_…`"));
    };
    if !rest.split('_').any(|word| word == "URL") {
        return Some(format!(
            "`{name}` has no word `URL` after `{prefix}`, so it may hold a secret rather than an address"
        ));
    }
    // The variable belongs to the bot with the longest id that prefixes it.
    if let Some(owner) = neighbours
        .ids
        .iter()
        .filter(|other| {
            let theirs = env_prefix(other) + "_";
            theirs.len() > prefix.len() && name.starts_with(&theirs)
        })
        .max_by_key(|other| env_prefix(other).len())
    {
        return Some(format!(
            "`{name}` belongs to bot `{owner}`, whose id prefixes it more closely than `{bot_id}`"
        ));
    }
    None
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

    /// Only this bot's `<ID>_…URL…` and `BOTWRIGHT_URL_…` variables, never a token or a secret.
    fn check_url(&mut self, id: &str, own_token: Option<&str>, url: &Sp<String>) {
        let neighbours = self.neighbours;
        for (name, range) in url_variables(&url.value) {
            let Some(why) = forbidden_url_variable(id, own_token, neighbours, &name) else {
                continue;
            };
            // The value's span includes its opening quote; without escapes the offsets match.
            let start = (url.span.start + 1 + range.start).min(url.span.end);
            let end = (url.span.start + 1 + range.end).min(url.span.end);
            let prefix = env_prefix(id);
            self.push(start..end, Code::UrlVariable, why).help = Some(format!(
                "use this bot's own `{prefix}_…` variable with `URL` as one of its `_`-separated words (such as `{prefix}_API_URL`), or `BOTWRIGHT_URL_…`; bot files cannot read tokens or secrets"
            ));
        }
    }

    fn algorithms(&mut self, id: &str, raw: &RawBot) -> indexmap::IndexMap<String, Algorithm> {
        let mut out = indexmap::IndexMap::new();
        for a in &raw.algorithms {
            let kinds: Vec<(&str, &Sp<String>)> = [("expr", &a.expr), ("http", &a.http), ("builtin", &a.builtin)]
                .into_iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
                .collect();
            let kind = match kinds.as_slice() {
                [("expr", e)] => self.texts().expression(e, COMMON_VARS).map(AlgorithmKind::Expr),
                [("http", url)] => {
                    self.check_url(id, raw.bot.token_env.as_ref().map(|t| t.value.as_str()), url);
                    Some(AlgorithmKind::Http(url.value.clone()))
                }
                [(_, name)] => Some(AlgorithmKind::Builtin(name.value.clone())),
                [] => {
                    self.push(
                        a.name.span.clone(),
                        Code::AlgorithmKind,
                        format!("algorithm `{}` has none of `expr`, `http`, `builtin`", a.name.value),
                    )
                    .help = Some("give it exactly one of them".into());
                    None
                }
                [_, (second, v), ..] => {
                    self.push(
                        v.span.clone(),
                        Code::AlgorithmKind,
                        format!(
                            "algorithm `{}` has more than one of `expr`, `http`, `builtin` (also `{second}`)",
                            a.name.value
                        ),
                    )
                    .help = Some("give it exactly one of them".into());
                    None
                }
            };
            let default_timeout = Duration::from_secs(10);
            let timeout = match &a.timeout {
                None => default_timeout,
                Some(t) => parse_duration(&t.value).unwrap_or_else(|| {
                    self.push(
                        t.span.clone(),
                        Code::BadValue,
                        format!("`{}` is not a duration", t.value),
                    )
                    .help = Some("write a number with `ms`, `s` or `m`, such as \"5s\"".into());
                    default_timeout
                }),
            };
            // A kind that failed to compile is still registered (as a builtin placeholder
            // that never runs: the bot has errors) so references to it are not reported twice.
            out.insert(
                a.name.value.clone(),
                Algorithm {
                    name: a.name.value.clone(),
                    kind: kind.unwrap_or(AlgorithmKind::Builtin(String::new())),
                    timeout,
                    exposed: a.exposed.as_ref().is_some_and(|e| e.value),
                    title: a.title.as_ref().map(|t| t.value.clone()),
                },
            );
        }
        out
    }

    fn bot_texts(&mut self, raw: &RawBot, language: Language) -> Option<HashMap<&'static str, Template>> {
        for (key, _) in &raw.texts {
            match texts::find(&key.value) {
                Some(_) => {}
                None => {
                    let d = self.push(
                        key.span.clone(),
                        Code::UnknownText,
                        format!("unknown text key `{}`", key.value),
                    );
                    d.help = Some(match suggest(&key.value, texts::TEXTS.iter().map(|t| t.key)) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "`botwright texts` lists every text key".into(),
                    });
                }
            }
        }
        let mut out = HashMap::default();
        let mut ok = true;
        for t in texts::TEXTS {
            let default = crate::expr::parse_template(t.default_for(language)).expect("built-in texts parse");
            out.insert(t.key, default);
        }
        // Every value is checked, also one that a shorthand overrides; the table takes the winners.
        let winners = text_overrides(raw);
        for (key, value) in text_sources(raw) {
            let t = texts::find(key).expect("known key");
            let known: Vec<&str> = COMMON_VARS.iter().chain(t.extra_vars).copied().collect();
            match self.texts().template(value, &known) {
                Some(template) => {
                    if matches!(
                        key,
                        "yes" | "no" | "auth_button" | "auth_approve_button" | "auth_reject_button"
                    ) {
                        self.label(&value.value, &value.span);
                    }
                    if winners.get(key).is_some_and(|w| std::ptr::eq(*w, value)) {
                        out.insert(t.key, template);
                    }
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn label(&mut self, label: &str, span: &Range<usize>) {
        if label.len() > MAX_LABEL {
            self.push(
                span.clone(),
                Code::LabelTooLong,
                format!(
                    "the button label `{label}` is {} bytes; Telegram allows {MAX_LABEL}",
                    label.len()
                ),
            )
            .help = Some("shorten it; Cyrillic letters take two bytes each".into());
        }
    }

    fn algorithm_ref(&mut self, name: &Sp<String>, algorithms: &indexmap::IndexMap<String, Algorithm>) {
        if !algorithms.contains_key(&name.value) {
            let d = self.push(
                name.span.clone(),
                Code::UnknownAlgorithm,
                format!("unknown algorithm `{}`", name.value),
            );
            d.help = Some(match suggest(&name.value, algorithms.keys().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("define it in [algorithms.{}]", name.value),
            });
        }
    }

    fn auth(&mut self, raw: &RawBot, algorithms: &indexmap::IndexMap<String, Algorithm>) -> Option<Auth> {
        let a = raw.auth.as_ref()?;
        for name in [&a.algorithm, &a.scenario, &a.lookup].into_iter().flatten() {
            self.algorithm_ref(name, algorithms);
        }
        let required = a.required.as_ref().is_some_and(|r| r.value);
        let responsible: Vec<i64> = a
            .responsible
            .as_ref()
            .map(|r| r.value.iter().map(|i| i.value).collect())
            .unwrap_or_default();
        if required && a.algorithm.is_none() && a.scenario.is_none() && responsible.is_empty() {
            let span = a.required.as_ref().map(|r| r.span.clone()).unwrap_or(a.span.clone());
            self.push(
                span,
                Code::AuthWithoutFallback,
                "authorization is required but there is no way to register",
            )
            .help = Some("set at least one of `algorithm`, `scenario` or `responsible` in [auth]".into());
        }
        let kinds = match &a.principal_kinds {
            Some(k) => {
                for w in &k.value {
                    self.label(&w.value, &w.span);
                }
                if k.value.is_empty() {
                    self.push(
                        k.span.clone(),
                        Code::BadValue,
                        "`principal_kinds` must name at least one kind",
                    );
                }
                k.value.iter().map(|w| w.value.clone()).collect()
            }
            None => vec!["user".into(), "partner".into(), "counterparty".into()],
        };
        Some(Auth {
            required,
            confirm: a.confirm.as_ref().is_none_or(|c| c.value),
            algorithm: a.algorithm.as_ref().map(|n| n.value.clone()),
            scenario: a.scenario.as_ref().map(|n| n.value.clone()),
            responsible,
            kinds,
            lookup: a.lookup.as_ref().map(|n| n.value.clone()),
            contact: a.contact.as_ref().is_some_and(|c| c.value),
        })
    }

    /// Notification action buttons name records marked `action = true`.
    fn action_targets(&mut self, raw: &RawBot, records: &[Record]) {
        for n in &raw.notifications {
            for b in n.buttons.iter().flat_map(|b| &b.value).flatten() {
                let Some(action) = &b.action else { continue };
                match records.iter().find(|r| r.id == action.value) {
                    None => {
                        self.push(
                            action.span.clone(),
                            Code::UnknownRecord,
                            format!("`action` names no record: `{}`", action.value),
                        )
                        .help = Some("name the `id` of a record marked `action = true`".into());
                    }
                    Some(r) if !r.action_target => {
                        self.push(
                            action.span.clone(),
                            Code::BadValue,
                            format!("record `{}` is not marked `action = true`", action.value),
                        )
                        .help = Some("add `action = true` to that record: only such records run from buttons".into());
                    }
                    Some(_) => {}
                }
            }
        }
    }

    fn notifications(&mut self, raw: &RawBot) -> indexmap::IndexMap<String, Notification> {
        let mut out = indexmap::IndexMap::new();
        let known: Vec<&str> = COMMON_VARS.iter().copied().chain(["data"]).collect();
        for n in &raw.notifications {
            // The buttons are checked even when the text has a problem: every error at once.
            let template = match &n.text {
                None => {
                    self.push(
                        n.name.span.clone(),
                        Code::UnknownNotification,
                        format!("notification `{}` has no `text`", n.name.value),
                    );
                    None
                }
                Some(text) => self.texts().template(text, &known),
            };
            let mut buttons = Vec::new();
            for row in n.buttons.iter().flat_map(|b| &b.value) {
                let mut out_row = Vec::new();
                for b in row {
                    if !b.text.value.contains("{{") {
                        self.label(&b.text.value, &b.text.span);
                    }
                    let text = self.texts().template(&b.text, &known);
                    let value = b.value.as_ref().and_then(|v| self.texts().template(v, &known));
                    let Some(text) = text else {
                        continue;
                    };
                    match (&b.url, &b.action, value) {
                        (Some(url), _, _) => out_row.push(crate::model::NotificationButton::Link {
                            text,
                            url: url.value.clone(),
                        }),
                        (None, Some(action), Some(value)) => {
                            out_row.push(crate::model::NotificationButton::Action {
                                text,
                                action: action.value.clone(),
                                value,
                            });
                        }
                        _ => {}
                    }
                }
                buttons.push(out_row);
            }
            let Some(template) = template else {
                continue;
            };
            out.insert(
                n.name.value.clone(),
                Notification {
                    name: n.name.value.clone(),
                    text: template,
                    buttons,
                    attachments: n.attachments.as_ref().is_none_or(|a| a.value),
                },
            );
        }
        out
    }

    #[allow(clippy::type_complexity)]
    fn keywords(
        &mut self,
        raw: &RawBot,
        algorithms: &indexmap::IndexMap<String, Algorithm>,
        start: &[String],
        cancel: &[String],
    ) -> (Vec<Record>, bool, HashMap<String, usize>) {
        let keywords = &raw.keywords;
        // Ids: explicit ones checked and unique; the others derived from the words, below.
        let mut by_id: HashMap<String, usize> = HashMap::default();
        let mut entries: Vec<Entry> = Vec::with_capacity(keywords.len());
        for (i, k) in keywords.iter().enumerate() {
            let id = match &k.id {
                Some(id) => {
                    if id.value.is_empty()
                        || !id
                            .value
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    {
                        self.push(
                            id.span.clone(),
                            Code::BadId,
                            format!("`{}` is not a valid id", id.value),
                        )
                        .help = Some("ids are lowercase Latin letters, digits and `_`".into());
                    }
                    if by_id.contains_key(&id.value) {
                        self.push(
                            id.span.clone(),
                            Code::DuplicateId,
                            format!("another record already has the id `{}`", id.value),
                        )
                        .help = Some("ids must be unique in the bot".into());
                    } else {
                        by_id.insert(id.value.clone(), i);
                    }
                    id.value.clone()
                }
                None => String::new(),
            };
            entries.push(Entry {
                raw: k,
                id,
                parent: None,
                disabled: k.disabled.as_ref().is_some_and(|d| d.value),
            });
        }
        // Parents, then disabled-ness inherited down the parent chain.
        for e in entries.iter_mut() {
            if let Some(p) = &e.raw.parent {
                e.parent = by_id.get(&p.value).copied();
            }
        }
        for i in 0..entries.len() {
            let mut at = entries[i].parent;
            let mut steps = 0;
            while let Some(p) = at {
                if entries[p].disabled || steps > entries.len() {
                    entries[i].disabled = true;
                    break;
                }
                at = entries[p].parent;
                steps += 1;
            }
        }
        derive_ids(&mut entries);
        // Enabled records get their compiled index.
        let mut index: Vec<Option<usize>> = vec![None; entries.len()];
        let mut next = 0;
        for (i, e) in entries.iter().enumerate() {
            if !e.disabled {
                index[i] = Some(next);
                next += 1;
            }
        }
        let resolve = |this: &mut Self, name: &Sp<String>, what: &str| -> Option<usize> {
            match by_id.get(&name.value) {
                None => {
                    let d = this.push(
                        name.span.clone(),
                        Code::UnknownRecord,
                        format!("`{what}` names no record: `{}`", name.value),
                    );
                    d.help = Some(match suggest(&name.value, by_id.keys().map(String::as_str)) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "give the record you mean an `id`".into(),
                    });
                    None
                }
                Some(&target) if entries[target].disabled => {
                    this.push(
                        name.span.clone(),
                        Code::DisabledRecord,
                        format!("`{what}` names the disabled record `{}`", name.value),
                    )
                    .help = Some("enable that record or point elsewhere".into());
                    None
                }
                Some(&target) => index[target],
            }
        };
        let mut records: Vec<Record> = Vec::with_capacity(next);
        let mut ok = true;
        for (i, e) in entries.iter().enumerate() {
            if e.disabled {
                continue;
            }
            let k = e.raw;
            let parent = match &k.parent {
                Some(p) => {
                    let r = resolve(self, p, "parent");
                    ok &= r.is_some();
                    r
                }
                None => None,
            };
            let then = match &k.then {
                Some(t) => {
                    let r = resolve(self, t, "then");
                    ok &= r.is_some();
                    r
                }
                None => None,
            };
            let action = self.action(k, i, algorithms, &|this: &mut Self, name: &Sp<String>| {
                resolve(this, name, "alias")
            });
            let words: Vec<String> = k
                .r#match
                .as_ref()
                .map(|m| m.value.iter().map(|w| w.value.clone()).collect())
                .unwrap_or_default();
            if let Some(m) = &k.r#match
                && m.value.is_empty()
            {
                self.push(m.span.clone(), Code::BadValue, "`match` has no words").help =
                    Some("write the words that trigger this record, separated by commas".into());
            }
            let is_star = words.iter().any(|w| w == "*");
            if is_star && k.parent.is_none() {
                self.push(
                    k.r#match.as_ref().expect("words come from match").span.clone(),
                    Code::StarOutsideOption,
                    "`*` matches anything only in an option",
                )
                .help = Some("give this record a `parent`, or match real words".into());
            }
            if let Some(parent) = &k.parent
                && words.is_empty()
            {
                let span = parent.span.clone();
                self.push(
                    span,
                    Code::OptionWithoutMatch,
                    "an option needs `match`: its first word is the button label",
                );
            }
            if let Some(first) = words.first().filter(|w| *w != "*")
                && k.parent.is_some()
            {
                self.label(first, &k.r#match.as_ref().expect("words come from match").span);
            }
            if let Some(menu) = &k.menu {
                for b in menu.value.iter().flatten() {
                    self.label(&b.value, &b.span);
                }
            }
            let action_target = k.action.as_ref().is_some_and(|a| a.value);
            if let Some(a) = k.action.as_ref().filter(|a| a.value)
                && k.id.is_none()
            {
                self.push(
                    a.span.clone(),
                    Code::MisplacedKey,
                    "an `action` record needs an explicit `id`",
                )
                .help = Some("give it an `id`: action buttons name the record by it, so it must not change".into());
            }
            if action.is_none() {
                ok = false;
            }
            // A record whose action has errors stays as a placeholder, so that the
            // checks below still see every record and report all problems at once.
            let action = action.unwrap_or(Action::Reply(Template::plain("")));
            {
                records.push(Record {
                    id: e.id.clone(),
                    // Computed once every record and its options are known, below.
                    fingerprint: String::new(),
                    words,
                    is_star,
                    parent,
                    action,
                    then,
                    menu: k.menu.as_ref().map(|m| {
                        m.value
                            .iter()
                            .map(|r| r.iter().map(|b| b.value.clone()).collect())
                            .collect()
                    }),
                    hide_menu: k.hide_menu.as_ref().is_some_and(|h| h.value),
                    options: Vec::new(),
                    option_index: HashMap::default(),
                    star_option: None,
                    public: false,
                    action_target,
                });
            }
        }
        // Word indexes per scope, options per parent.
        let spans: Vec<&RawKeyword> = entries.iter().filter(|e| !e.disabled).map(|e| e.raw).collect();
        let mut top = HashMap::default();
        for r in 0..records.len() {
            if let Some(p) = records[r].parent {
                records[p].options.push(r);
            }
        }
        // The word index of each scope (top level, each record's options) is also where collisions show.
        for r in 0..records.len() {
            let scope = records[r].parent;
            let words = std::mem::take(&mut records[r].words);
            for (wi, w) in words.iter().enumerate() {
                if w == "*" {
                    continue;
                }
                let n = normalize(w);
                let index = match scope {
                    None => &mut top,
                    Some(p) => &mut records[p].option_index,
                };
                match index.get(&n) {
                    // The same record repeating a word is harmless.
                    Some(&other) if other == r => {}
                    Some(&other) => {
                        let where_ = match scope {
                            None => "at the top level".to_string(),
                            Some(p) => format!("among the options of `{}`", records[p].label()),
                        };
                        let message = format!(
                            "the word `{w}` is already matched by record `{}` {where_}",
                            records[other].id
                        );
                        self.push(word_span(spans[r], wi), Code::DuplicateWord, message).help =
                            Some("matching ignores case and spaces; remove one of them".into());
                    }
                    None => {
                        index.insert(n, r);
                    }
                }
            }
            records[r].words = words;
        }
        for r in 0..records.len() {
            let options = records[r].options.clone();
            if let Some(&star) = options.iter().find(|&&o| records[o].is_star) {
                records[r].star_option = Some(star);
                let after: Vec<usize> = options.iter().copied().skip_while(|&o| o != star).skip(1).collect();
                for o in after {
                    self.push(
                        spans[o].span.clone(),
                        Code::ShadowedOption,
                        format!(
                            "option `{}` can never be chosen by typing: the earlier `*` option takes everything",
                            records[o].label()
                        ),
                    )
                    .help = Some("move the `*` option last".into());
                }
            }
            let raw = spans[r];
            match &records[r].action {
                Action::Choice { options_from, .. } => {
                    let static_options = options.iter().filter(|&&o| !records[o].is_star).count();
                    if options.is_empty() && options_from.is_none() {
                        let span = raw.choice.as_ref().map(|c| c.span.clone()).unwrap_or(raw.span.clone());
                        self.push(
                            span,
                            Code::ChoiceWithoutOptions,
                            format!("the choice `{}` has no options", records[r].id),
                        )
                        .help = Some(match &raw.id {
                            Some(id) => format!("add records with `parent = \"{}\"`, or set `options_from`", id.value),
                            // A derived id cannot be named: `parent` needs an explicit one.
                            None => "give it an `id` and add records with `parent` set to it, or set `options_from`"
                                .to_string(),
                        });
                    }
                    if static_options > MAX_OPTIONS {
                        let span = raw.choice.as_ref().map(|c| c.span.clone()).unwrap_or(raw.span.clone());
                        self.push(
                            span,
                            Code::TooManyOptions,
                            format!(
                                "the choice `{}` has {static_options} options; Telegram shows at most {MAX_OPTIONS}",
                                records[r].id
                            ),
                        )
                        .help = Some("split it into nested choices".into());
                    }
                }
                Action::Run(_) => {}
                _ if !options.is_empty() => {
                    for &o in &options {
                        let span = spans[o]
                            .parent
                            .as_ref()
                            .map(|p| p.span.clone())
                            .unwrap_or(spans[o].span.clone());
                        self.push(
                            span,
                            Code::ParentNotChoice,
                            format!(
                                "the parent `{}` is a `{}` record, not a `choice` or `run`",
                                records[r].id,
                                records[r].action.kind()
                            ),
                        )
                        .help = Some(
                            "options belong to a record with `choice` (or `run` of an algorithm that returns options)"
                                .into(),
                        );
                    }
                }
                _ => {}
            }
            if records[r].menu.is_some() && matches!(records[r].action, Action::Choice { .. }) {
                self.push(
                    spans[r]
                        .menu
                        .as_ref()
                        .map(|m| m.span.clone())
                        .unwrap_or(raw.span.clone()),
                    Code::MenuWithButtons,
                    "a choice message carries inline buttons, so its menu goes on a message of its own",
                )
                .help = Some("put the menu on a `reply` record that leads to the choice with `then`".into());
            }
        }
        self.public_subtrees(&mut records, &spans, start, cancel);
        graph_checks::check(self.file, self.diagnostics, &records, &spans);
        for r in 0..records.len() {
            records[r].fingerprint = fingerprint::fingerprint(&records, r, spans[r]);
        }
        (records, ok, top)
    }

    /// Marks the subtrees of `public` top-level records, and checks that `public` is on a
    /// top-level record, that its words are not `start` or `cancel` words, and that no
    /// `alias` or `then` inside leads out.
    fn public_subtrees(&mut self, records: &mut [Record], spans: &[&RawKeyword], start: &[String], cancel: &[String]) {
        for r in 0..records.len() {
            let Some(public) = spans[r].public.as_ref().filter(|p| p.value) else {
                continue;
            };
            if records[r].parent.is_some() {
                self.push(
                    public.span.clone(),
                    Code::MisplacedKey,
                    "`public` applies to top-level records only",
                )
                .help = Some("mark the top-level record above it: what lies below a public record is public".into());
                continue;
            }
            records[r].public = true;
            for (wi, w) in records[r].words.iter().enumerate() {
                let n = normalize(w);
                if start.contains(&n) || cancel.contains(&n) {
                    self.push(
                        word_span(spans[r], wi),
                        Code::PublicStartWord,
                        format!("the public word `{w}` is also a `start` or `cancel` word"),
                    )
                    .help = Some("start and cancel words work for everyone already; choose another word".into());
                }
            }
        }
        // A record is public when it or one of its parents is.
        let in_public: Vec<bool> = (0..records.len())
            .map(|r| {
                let mut at = Some(r);
                let mut hops = 0;
                while let Some(i) = at {
                    if records[i].public {
                        return true;
                    }
                    hops += 1;
                    if hops > records.len() {
                        return false;
                    }
                    at = records[i].parent;
                }
                false
            })
            .collect();
        for r in 0..records.len() {
            records[r].public = in_public[r];
            if !in_public[r] {
                continue;
            }
            let mut leaves = Vec::new();
            if let Action::Alias(target) = records[r].action
                && !in_public[target]
            {
                leaves.push(("alias", target, spans[r].alias.as_ref().map(|a| a.span.clone())));
            }
            if let Some(target) = records[r].then
                && !in_public[target]
            {
                leaves.push(("then", target, spans[r].then.as_ref().map(|t| t.span.clone())));
            }
            for (key, target, span) in leaves {
                self.push(
                    span.unwrap_or(spans[r].span.clone()),
                    Code::LeavesPublic,
                    format!(
                        "`{key}` leads from the public record `{}` to `{}`, which strangers may not reach",
                        records[r].id, records[target].id
                    ),
                )
                .help = Some(format!(
                    "make `{}` part of a public subtree, or lead elsewhere",
                    records[target].id
                ));
            }
        }
    }

    /// The one action of a record, checking the keys that go with it.
    fn action(
        &mut self,
        k: &RawKeyword,
        _position: usize,
        algorithms: &indexmap::IndexMap<String, Algorithm>,
        resolve_alias: &dyn Fn(&mut Self, &Sp<String>) -> Option<usize>,
    ) -> Option<Action> {
        let present: Vec<(&str, &Range<usize>)> = [
            ("reply", k.reply.as_ref().map(|v| &v.span)),
            ("run", k.run.as_ref().map(|v| &v.span)),
            ("choice", k.choice.as_ref().map(|v| &v.span)),
            ("alias", k.alias.as_ref().map(|v| &v.span)),
            ("input", k.input.as_ref().map(|v| &v.span)),
        ]
        .into_iter()
        .filter_map(|(n, s)| s.map(|s| (n, s)))
        .collect();
        let misplaced = |this: &mut Self, key: &str, span: Option<&Range<usize>>, allowed: &[&str], kind: &str| {
            if let Some(span) = span
                && !allowed.contains(&kind)
            {
                this.push(
                    span.clone(),
                    Code::MisplacedKey,
                    format!("`{key}` does not apply to a `{kind}` record"),
                )
                .help = Some(format!("`{key}` goes with {}", allowed.join(" or ")));
            }
        };
        let kind = match present.as_slice() {
            [] => {
                self.push(k.span.clone(), Code::NoAction, "this record does nothing")
                    .help = Some("give it one of `reply`, `run`, `choice`, `alias`, `input`".into());
                return None;
            }
            [(kind, _)] => *kind,
            [(first, _), (second, span), ..] => {
                self.push(
                    (*span).clone(),
                    Code::SeveralActions,
                    format!("this record has both `{first}` and `{second}`"),
                )
                .help = Some("a record does exactly one thing; split it into two records".into());
                return None;
            }
        };
        misplaced(
            self,
            "options_from",
            k.options_from.as_ref().map(|v| &v.span),
            &["choice"],
            kind,
        );
        misplaced(self, "confirm", k.confirm.as_ref().map(|v| &v.span), &["choice"], kind);
        misplaced(self, "columns", k.columns.as_ref().map(|v| &v.span), &["choice"], kind);
        misplaced(self, "save_as", k.save_as.as_ref().map(|v| &v.span), &["input"], kind);
        misplaced(self, "accept", k.accept.as_ref().map(|v| &v.span), &["input"], kind);
        misplaced(self, "type", k.r#type.as_ref().map(|v| &v.span), &["input"], kind);
        misplaced(self, "check", k.check.as_ref().map(|v| &v.span), &["input"], kind);
        misplaced(self, "invalid", k.invalid.as_ref().map(|v| &v.span), &["input"], kind);
        misplaced(self, "attempts", k.attempts.as_ref().map(|v| &v.span), &["input"], kind);
        misplaced(
            self,
            "then",
            k.then.as_ref().map(|v| &v.span),
            &["input", "reply", "run"],
            kind,
        );
        let known = COMMON_VARS;
        Some(match kind {
            "reply" => Action::Reply(self.texts().template(k.reply.as_ref()?, known)?),
            "run" => {
                let name = k.run.as_ref()?;
                self.algorithm_ref(name, algorithms);
                Action::Run(name.value.clone())
            }
            "choice" => {
                if let Some(f) = &k.options_from {
                    self.algorithm_ref(f, algorithms);
                }
                let columns = match &k.columns {
                    None => 1,
                    Some(c) if (1..=8).contains(&c.value) => c.value as usize,
                    Some(c) => {
                        self.push(c.span.clone(), Code::BadValue, "`columns` must be from 1 to 8")
                            .help = Some("Telegram shows at most 8 buttons in a row".into());
                        1
                    }
                };
                Action::Choice {
                    title: self.texts().template(k.choice.as_ref()?, known)?,
                    options_from: k.options_from.as_ref().map(|f| f.value.clone()),
                    confirm: k.confirm.as_ref().is_some_and(|c| c.value),
                    columns,
                }
            }
            "alias" => Action::Alias(resolve_alias(self, k.alias.as_ref()?)?),
            _ => {
                if k.then.is_none() {
                    self.push(
                        k.input.as_ref()?.span.clone(),
                        Code::InputWithoutThen,
                        "an `input` step needs `then`",
                    )
                    .help = Some("name the record that handles the answer: `then = \"its_id\"`".into());
                }
                if let Some(s) = &k.save_as
                    && (s.value.is_empty() || !s.value.chars().all(|c| c.is_alphanumeric() || c == '_'))
                {
                    self.push(
                        s.span.clone(),
                        Code::BadValue,
                        format!("`{}` is not a variable name", s.value),
                    )
                    .help = Some("use letters, digits and `_`, so that templates can write `vars.NAME`".into());
                }
                let mut accept = Vec::new();
                match &k.accept {
                    None => accept.push(crate::model::InputKind::Text),
                    Some(kinds) => {
                        for w in &kinds.value {
                            match crate::model::InputKind::parse(&w.value) {
                                Some(kind) => accept.push(kind),
                                None => {
                                    self.push(
                                        w.span.clone(),
                                        Code::BadValue,
                                        format!("`{}` is not a kind of message an input takes", w.value),
                                    )
                                    .help = Some("use text, document, photo, contact or location".into());
                                }
                            }
                        }
                        if kinds.value.is_empty() {
                            self.push(
                                kinds.span.clone(),
                                Code::BadValue,
                                "`accept` must name at least one kind",
                            )
                            .help = Some("use text, document, photo, contact or location".into());
                        }
                    }
                }
                let answer_type = k.r#type.as_ref().and_then(|t| self.answer_type(t, &accept));
                let check = k.check.as_ref().and_then(|c| self.texts().expression(c, known));
                let invalid = k.invalid.as_ref().and_then(|i| self.texts().template(i, known));
                let attempts = k.attempts.as_ref().and_then(|a| {
                    if a.value < 1 {
                        self.push(
                            a.span.clone(),
                            Code::BadValue,
                            format!("`attempts` must be at least 1, not {}", a.value),
                        )
                        .help = Some("leave `attempts` out for no limit".into());
                        return None;
                    }
                    // More than anyone will ever type is no limit at all.
                    Some(u32::try_from(a.value).unwrap_or(u32::MAX))
                });
                // A key with an error was reported above, and the file is not built.
                let question = self.texts().template(k.input.as_ref()?, known)?;
                Action::Input {
                    question,
                    save_as: k.save_as.as_ref().map(|s| s.value.clone()),
                    accept,
                    answer_type,
                    check,
                    invalid,
                    attempts,
                }
            }
        })
    }
}

impl Validator<'_> {
    /// An `input`'s `type`: a known one, on a step that takes text.
    fn answer_type(&mut self, t: &Sp<String>, accept: &[InputKind]) -> Option<AnswerType> {
        let Some(answer_type) = AnswerType::parse(&t.value) else {
            let names: Vec<&str> = AnswerType::ALL.iter().map(|(n, _)| *n).collect();
            let d = self.push(
                t.span.clone(),
                Code::UnknownAnswerType,
                format!("`{}` is not a type of answer", t.value),
            );
            d.help = Some(match suggest(&t.value, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("use one of: {}", names.join(", ")),
            });
            return None;
        };
        if !accept.contains(&InputKind::Text) {
            self.push(
                t.span.clone(),
                Code::TypeWithoutText,
                format!("`type = \"{}\"` reads text, but this step's `accept` takes no text", t.value),
            )
            .help = Some(
                "add \"text\" to `accept`, or remove `type`: files, photos, contacts and locations are taken as they are"
                    .into(),
            );
            return None;
        }
        Some(answer_type)
    }
}

/// Gives every enabled record without an `id` one derived from its words (bot-format.md,
/// `id`): its first `match` word normalized, after the `parent` as written and `/` for an
/// option (`choice/вариант№1`). Adding, removing or moving other records changes none of
/// them, so conversations standing on them survive such edits.
///
/// Two enabled records must not share an id. An explicit id keeps its own; a derived id
/// that another enabled record already has (an explicit one, or an earlier derived one;
/// only possible when words collide, which is an error itself, or for words that look
/// like ids or contain `/`) gets `~2`, `~3`… in file order. A record with neither `match`
/// nor `id`, which nothing can reach (`alias` and `then` need an explicit id), is `#N`,
/// N its position among the file's keywords.
fn derive_ids(entries: &mut [Entry]) {
    let mut taken: std::collections::HashSet<String> = entries
        .iter()
        .filter(|e| !e.disabled && e.raw.id.is_some())
        .map(|e| e.id.clone())
        .collect();
    for (i, e) in entries.iter_mut().enumerate() {
        if e.raw.id.is_some() {
            continue;
        }
        let word = e
            .raw
            .r#match
            .as_ref()
            .and_then(|m| m.value.first())
            .map(|w| normalize(&w.value))
            .filter(|w| !w.is_empty());
        let Some(word) = word else {
            e.id = format!("#{}", i + 1);
            continue;
        };
        let derived = match &e.raw.parent {
            Some(parent) => format!("{}/{word}", parent.value),
            None => word,
        };
        if e.disabled {
            e.id = derived;
            continue;
        }
        let mut id = derived.clone();
        let mut n = 1;
        while taken.contains(&id) {
            n += 1;
            id = format!("{derived}~{n}");
        }
        taken.insert(id.clone());
        e.id = id;
    }
}

/// The span of the `n`th word of a record's `match`.
fn word_span(k: &RawKeyword, n: usize) -> Range<usize> {
    k.r#match
        .as_ref()
        .and_then(|m| m.value.get(n))
        .map(|w| w.span.clone())
        .unwrap_or(k.span.clone())
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

#[cfg(test)]
mod tests {
    use super::{Neighbours, forbidden_url_variable};

    fn allowed(bot: &str, ids: &[&str], name: &str) -> bool {
        let neighbours = Neighbours {
            ids: ids.iter().map(|s| s.to_string()).collect(),
            tokens: vec!["SHOP_TOKEN".into(), "SIGNAL_URL_TOKEN".into()],
        };
        forbidden_url_variable(bot, Some("OWN_TOKEN"), &neighbours, name).is_none()
    }

    #[test]
    fn only_the_bots_own_url_variables_and_botwright_url_ones() {
        for name in [
            "SIGNAL_BS_URL",
            "SIGNAL_URL_TASKS",
            "SIGNAL_URL",
            "SIGNAL_A_URL_B",
            "BOTWRIGHT_URL_BS",
        ] {
            assert!(allowed("signal", &[], name), "{name}");
        }
        for name in [
            "SIGNAL_CURL",
            "SIGNAL_URLS",
            "SIGNAL_BS_url",
            "SIGNAL_",
            "SIGNAL",
            "SIGNALURL",
            "SIGNAL_SECRET",
            "SIGNAL_URL_TOKEN",
            "SHOP_TOKEN",
            "OWN_TOKEN",
            "BOTWRIGHT_URL_",
            "BOTWRIGHT_API_TOKEN",
            "BOTWRIGHT_ALGORITHM_SECRET",
            "OTHER_URL",
            "SIGNAL-URL",
            "",
        ] {
            assert!(!allowed("signal", &[], name), "{name}");
        }
    }

    #[test]
    fn the_prefix_alone_is_not_enough() {
        assert!(!allowed("aws", &[], "AWS_SECRET_ACCESS_KEY"));
        assert!(!allowed("database", &[], "DATABASE_PASSWORD"));
        // bot-format.md's rule: the name after the id is `URL`, one word that is `URL`.
        assert!(allowed("database", &[], "DATABASE_URL"));
        assert!(!allowed("shop", &[], "SHOP_ADMIN_SIGNING_KEY"));
        assert!(allowed("shop-admin", &[], "SHOP_ADMIN_URL"));
    }

    #[test]
    fn a_variable_belongs_to_the_bot_with_the_longest_id_that_prefixes_it() {
        let ids = ["shop", "shop_admin"];
        assert!(!allowed("shop", &ids, "SHOP_ADMIN_URL"));
        assert!(!allowed("shop", &ids, "SHOP_ADMIN_API_URL"));
        assert!(allowed("shop", &ids, "SHOP_URL"));
        assert!(allowed("shop", &ids, "SHOP_ADMINS_URL"));
        assert!(allowed("shop_admin", &ids, "SHOP_ADMIN_URL"));
        // Alone, `shop` may name it: nobody else claims it.
        assert!(allowed("shop", &["shop"], "SHOP_ADMIN_URL"));
        let why = forbidden_url_variable(
            "shop",
            None,
            &Neighbours {
                ids: vec!["shop".into(), "shop_admin".into(), "shop-admin-eu".into()],
                tokens: vec![],
            },
            "SHOP_ADMIN_EU_URL",
        )
        .expect("forbidden");
        assert!(why.contains("`shop-admin-eu`"), "{why}");
    }
}
