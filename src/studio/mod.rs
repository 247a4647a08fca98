//! `botwright studio`: a local web page where an analyst edits, checks,
//! chats with and tests the bots of one directory. The page and its script
//! are inside the binary (`crate::web`); the server is axum, on loopback
//! unless `--allow-remote` is given.
//!
//! **Invariant:** the studio reads and writes only files directly inside
//! `--bots DIR` whose names match `^[A-Za-z0-9_-]+\.(toml|chat)$`, never through
//! a symbolic link ([`files`]); a transcript it runs names its bot by id, a bot
//! of that directory (`transcript::BotFiles::Inside`).
//! **Invariant:** every request passes [`guard`] first: another `Host` than this
//! machine's (unless `--allow-remote`) or a change from another `Origin` is
//! refused with 403, and with `--allow-remote` the API needs the printed token.
//! **Invariant:** the page builds every element from server data as DOM nodes
//! (`textContent`, `createElement`), never as HTML text; bot messages go through
//! a whitelist of Telegram's tags.
//! **Invariant:** memory is bounded: at most [`MAX_CHATS`] live conversations
//! (the least recently used goes), each keeping at most
//! [`conversation::MAX_KEPT`] messages.
//! **Invariant:** no second implementation: diagnostics come from
//! `validate`, chats from `engine::handle` (through [`conversation`]),
//! transcript runs from `transcript::run_file`, graphs from `graph`.

pub mod conversation;
pub mod files;
pub mod guard;
pub mod picture;

use crate::diagnostics::{self, Format, SourceFile};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use conversation::{Act, Conversation};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The most conversations the studio keeps; starting one more forgets the least recently used.
pub const MAX_CHATS: usize = 100;

#[derive(Clone)]
pub struct Studio {
    /// The bots directory, canonical.
    pub dir: PathBuf,
    chats: Arc<Mutex<Chats>>,
    next: Arc<AtomicU64>,
}

/// The live conversations, each with when it was last used (a counter).
#[derive(Default)]
struct Chats {
    live: HashMap<u64, (Conversation, u64)>,
    clock: u64,
}

impl Chats {
    fn insert(&mut self, id: u64, conversation: Conversation) {
        while self.live.len() >= MAX_CHATS {
            let Some(oldest) = self.live.iter().min_by_key(|(_, (_, used))| *used).map(|(id, _)| *id) else {
                break;
            };
            self.live.remove(&oldest);
        }
        self.clock += 1;
        self.live.insert(id, (conversation, self.clock));
    }

    /// The conversation `id`, marked as just used.
    fn get(&mut self, id: u64) -> Option<&mut Conversation> {
        self.clock += 1;
        let clock = self.clock;
        self.live.get_mut(&id).map(|(c, used)| {
            *used = clock;
            c
        })
    }
}

/// A refusal: a status and a message, as `{"error": message}`.
pub struct Problem(StatusCode, String);

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

fn bad(message: impl Into<String>) -> Problem {
    Problem(StatusCode::BAD_REQUEST, message.into())
}

/// A failed read or write of `name`: a link or another kind of file is refused (403),
/// a missing file is 404, anything else 500.
fn io_problem(doing: &str, name: &str, e: &std::io::Error) -> Problem {
    let status = match e.kind() {
        std::io::ErrorKind::NotFound => StatusCode::NOT_FOUND,
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::InvalidInput => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    Problem(status, format!("cannot {doing} {name}: {e}"))
}

impl Studio {
    pub fn new(dir: &std::path::Path) -> std::io::Result<Studio> {
        Ok(Studio {
            dir: dir.canonicalize()?,
            chats: Arc::default(),
            next: Arc::new(AtomicU64::new(1)),
        })
    }

    /// Refuses a name that is not a bot file or transcript directly inside the directory.
    pub fn check_name(&self, name: &str) -> Result<(), Problem> {
        if files::is_name(name) {
            Ok(())
        } else {
            Err(Problem(
                StatusCode::FORBIDDEN,
                format!("`{name}` is refused: {} ({})", files::name_rule(), self.dir.display()),
            ))
        }
    }

    fn read(&self, name: &str) -> Result<String, Problem> {
        self.check_name(name)?;
        files::read(&self.dir, name).map_err(|e| io_problem("read", name, &e))
    }

    fn write(&self, name: &str, text: &str) -> Result<(), Problem> {
        self.check_name(name)?;
        files::write(&self.dir, name, text).map_err(|e| io_problem("write", name, &e))
    }

    /// The directory's bot files or transcripts (`extension` without the dot).
    fn files(&self, extension: &str) -> Vec<String> {
        files::list(&self.dir, extension)
    }

    /// Compiles a bot file's text as the CLI does, beside the directory's other bot files
    /// (as `check` and `run` compile them); the bot's id is the file stem.
    fn compile(&self, name: &str, text: &str) -> (Option<crate::model::CompiledBot>, Vec<diagnostics::Diagnostic>) {
        let id = name.trim_end_matches(".toml");
        let others: Vec<PathBuf> = self
            .files(".toml")
            .into_iter()
            .filter(|f| f != name)
            .map(|f| self.dir.join(f))
            .collect();
        let mut neighbours = crate::validate::Neighbours::of_paths(&others);
        neighbours.ids.push(id.to_string());
        let mut found = Vec::new();
        let file = SourceFile::new(name.to_string(), text.to_string());
        let bot = crate::validate::compile_with(id, &file, &neighbours, &mut found);
        diagnostics::sort(&mut found);
        (bot, found)
    }
}

async fn page() -> Response {
    crate::web::page("studio.html", crate::web::STUDIO_PAGE)
}

/// Every answer: not to be sniffed as another type, and no script runs in a document the
/// API serves (the graph's SVG opened on its own).
async fn api_headers(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let mut answer = next.run(request).await;
    let headers = answer.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if api {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    answer
}

/// The studio's routes behind [`guard::guard`] with `access`.
pub fn router(studio: Studio, access: guard::Access) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/assets/{*name}", get(crate::web::asset))
        .route("/api/bots", get(bots))
        .route("/api/files/{name}", get(read_file).put(write_file))
        .route("/api/check", post(check))
        .route("/api/chats", post(start_chat))
        .route("/api/chats/{id}", post(act))
        .route("/api/chats/{id}/save", post(save_chat))
        .route("/api/transcripts", get(run_transcripts))
        .route("/api/graph/{bot}", get(graph))
        .route("/api/texts/{bot}", get(texts))
        .route("/api/schema", get(schema))
        .with_state(studio)
        .layer(axum::middleware::from_fn(api_headers))
        .layer(axum::middleware::from_fn_with_state(Arc::new(access), guard::guard))
}

/// The diagnostics as JSON objects (`check --format json`'s items).
fn diagnostics_json(found: &[diagnostics::Diagnostic]) -> Value {
    let mut out = termcolor::NoColor::new(Vec::new());
    let _ = diagnostics::render(found, Format::Json, &mut out);
    serde_json::from_slice(&out.into_inner()).unwrap_or(Value::Array(Vec::new()))
}

async fn bots(State(s): State<Studio>) -> Json<Value> {
    let list: Vec<Value> = s
        .files("toml")
        .into_iter()
        .map(|file| {
            let text = files::read(&s.dir, &file).unwrap_or_default();
            let (bot, found) = s.compile(&file, &text);
            let name = toml::from_str::<toml::Table>(&text)
                .ok()
                .and_then(|t| t.get("bot")?.get("name")?.as_str().map(str::to_string))
                .unwrap_or_default();
            json!({
                "id": file.trim_end_matches(".toml"),
                "file": file,
                "name": name,
                "ok": bot.is_some(),
                "errors": found.iter().filter(|d| d.is_error()).count(),
                "notifications": notifications(bot.as_ref()),
            })
        })
        .collect();
    Json(json!({"dir": s.dir.display().to_string(), "bots": list}))
}

async fn read_file(State(s): State<Studio>, Path(name): Path<String>) -> Result<Json<Value>, Problem> {
    let text = s.read(&name)?;
    Ok(Json(json!({"name": name, "text": text})))
}

#[derive(Deserialize)]
struct Text {
    text: String,
}

async fn write_file(
    State(s): State<Studio>,
    Path(name): Path<String>,
    Json(body): Json<Text>,
) -> Result<Json<Value>, Problem> {
    s.write(&name, &body.text)?;
    let found = if name.ends_with(".toml") {
        s.compile(&name, &body.text).1
    } else {
        Vec::new()
    };
    Ok(Json(json!({"saved": name, "diagnostics": diagnostics_json(&found)})))
}

#[derive(Deserialize)]
struct CheckBody {
    name: String,
    text: String,
}

async fn check(State(s): State<Studio>, Json(body): Json<CheckBody>) -> Result<Json<Value>, Problem> {
    s.check_name(&body.name)?;
    let (bot, found) = s.compile(&body.name, &body.text);
    Ok(Json(
        json!({"ok": bot.is_some(), "diagnostics": diagnostics_json(&found)}),
    ))
}

#[derive(Deserialize)]
struct StartBody {
    bot: String,
}

async fn start_chat(State(s): State<Studio>, Json(body): Json<StartBody>) -> Result<Json<Value>, Problem> {
    let name = format!("{}.toml", body.bot);
    s.check_name(&name)?;
    let text = s.read(&name)?;
    let (bot, found) = s.compile(&name, &text);
    let Some(bot) = bot else {
        return Err(Problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "{name} has {} errors: fix them to chat",
                found.iter().filter(|d| d.is_error()).count()
            ),
        ));
    };
    // A frozen clock: the conversation, and the transcript it becomes, always see this minute.
    let now = chrono::Local::now().fixed_offset();
    let now = now
        - chrono::Duration::seconds(i64::from(chrono::Timelike::second(&now)))
        - chrono::Duration::nanoseconds(i64::from(chrono::Timelike::nanosecond(&now)));
    let id = s.next.fetch_add(1, Ordering::SeqCst);
    let notifications = notifications(Some(&bot));
    let conversation = Conversation::new(bot, now);
    let user = json!({"id": conversation.user().id, "name": conversation.user().name});
    s.chats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, conversation);
    Ok(Json(
        json!({"id": id, "user": user, "now": now.to_rfc3339(), "notifications": notifications}),
    ))
}

/// A bot's notifications in the file's order, each with the `data` fields it uses (what the
/// chat's `@notify` form offers).
fn notifications(bot: Option<&crate::model::CompiledBot>) -> Vec<Value> {
    let Some(bot) = bot else { return Vec::new() };
    bot.notifications
        .keys()
        .map(|name| json!({"name": name, "fields": crate::notification::data_fields(bot, name)}))
        .collect()
}

async fn act(State(s): State<Studio>, Path(id): Path<u64>, Json(act): Json<Act>) -> Result<Json<Value>, Problem> {
    let mut chats = s.chats.lock().unwrap_or_else(|e| e.into_inner());
    let c = chats
        .get(id)
        .ok_or_else(|| Problem(StatusCode::NOT_FOUND, format!("no conversation {id}: start a new one")))?;
    let messages = c.act(act).map_err(bad)?;
    Ok(Json(json!({
        "messages": messages,
        "user": {"id": c.user().id, "name": c.user().name},
        "transcript": c.transcript(),
    })))
}

#[derive(Deserialize)]
struct SaveBody {
    name: String,
}

async fn save_chat(
    State(s): State<Studio>,
    Path(id): Path<u64>,
    Json(body): Json<SaveBody>,
) -> Result<Json<Value>, Problem> {
    let name = if body.name.ends_with(".chat") {
        body.name.clone()
    } else {
        format!("{}.chat", body.name)
    };
    s.check_name(&name)?;
    let text = {
        let mut chats = s.chats.lock().unwrap_or_else(|e| e.into_inner());
        chats
            .get(id)
            .ok_or_else(|| Problem(StatusCode::NOT_FOUND, format!("no conversation {id}")))?
            .transcript()
    };
    s.write(&name, &text)?;
    Ok(Json(json!({"saved": name, "transcript": text})))
}

async fn run_transcripts(State(s): State<Studio>) -> Json<Value> {
    let dir = s.dir.clone();
    let names = s.files("chat");
    let results = tokio::task::spawn_blocking(move || {
        let mut bots = crate::transcript::Bots::new();
        let read = |dir: &std::path::Path, name: &str| files::read(dir, name);
        names
            .iter()
            .map(|file| {
                let inside = crate::transcript::BotFiles::Inside { dir: &dir, read: &read };
                match crate::transcript::run_file(&dir.join(file), inside, &mut bots) {
                    Ok(()) => json!({"file": file, "ok": true}),
                    Err(f) => json!({
                        "file": file,
                        "ok": false,
                        "line": f.line,
                        "message": f.message,
                        "diagnostics": diagnostics_json(&f.diagnostics),
                    }),
                }
            })
            .collect::<Vec<Value>>()
    })
    .await
    .unwrap_or_default();
    let passed = results.iter().filter(|r| r["ok"] == true).count();
    Json(json!({"passed": passed, "failed": results.len() - passed, "results": results}))
}

fn compiled(s: &Studio, bot: &str) -> Result<crate::model::CompiledBot, Problem> {
    let name = format!("{bot}.toml");
    let text = s.read(&name)?;
    s.compile(&name, &text)
        .0
        .ok_or_else(|| Problem(StatusCode::UNPROCESSABLE_ENTITY, format!("{name} has errors")))
}

async fn graph(State(s): State<Studio>, Path(bot): Path<String>) -> Result<Response, Problem> {
    let bot = compiled(&s, &bot)?;
    let svg = picture::svg(&crate::graph::build(&bot));
    Ok(([("content-type", "image/svg+xml")], svg).into_response())
}

/// The bot file's JSON Schema (`botwright schema`), for the editor's completion.
async fn schema() -> Json<Value> {
    Json(crate::schema::bot_file())
}

async fn texts(State(s): State<Studio>, Path(bot): Path<String>) -> Result<Json<Value>, Problem> {
    let name = format!("{bot}.toml");
    let text = s.read(&name)?;
    // The compiler's reading of the file and its rule for the shorthands (`[bot] unknown`,
    // `[auth] request` win over `[texts]`); a file that is not TOML has no overrides.
    let file = SourceFile::new(name.clone(), text);
    let raw = crate::syntax::parse(&file, &mut Vec::new()).unwrap_or_default();
    let overrides: HashMap<&str, &str> = crate::validate::text_overrides(&raw)
        .into_iter()
        .map(|(key, value)| (key, value.value.as_str()))
        .collect();
    let english = raw.bot.language.as_ref().is_some_and(|l| l.value == "en");
    let rows: Vec<Value> = crate::texts::TEXTS
        .iter()
        .map(|t| {
            json!({
                "key": t.key,
                "about": t.about,
                "default": if english { t.en } else { t.ru },
                "override": overrides.get(t.key),
            })
        })
        .collect();
    Ok(Json(json!({"texts": rows})))
}
