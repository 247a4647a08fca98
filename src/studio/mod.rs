//! `botwright studio`: a local web page where an analyst edits, checks,
//! chats with and tests the bots of one directory. The page and its script
//! are inside the binary (`index.html`); the server is axum on loopback.
//!
//! **Invariant:** the studio reads and writes files only inside `--bots DIR`:
//! a name with a separator, `..`, or another extension is refused before any
//! file is touched.
//! **Invariant:** no second implementation: diagnostics come from
//! `validate`, chats from `engine::handle` (through [`conversation`]),
//! transcript runs from `cli::test::run_one`, graphs from `graph`.

pub mod conversation;
pub mod picture;

use crate::diagnostics::{self, Format, SourceFile};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use conversation::{Act, Conversation};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const PAGE: &str = include_str!("index.html");

#[derive(Clone)]
pub struct Studio {
    /// The bots directory, canonical.
    pub dir: PathBuf,
    chats: Arc<Mutex<HashMap<u64, Conversation>>>,
    next: Arc<AtomicU64>,
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

impl Studio {
    pub fn new(dir: &std::path::Path) -> std::io::Result<Studio> {
        Ok(Studio {
            dir: dir.canonicalize()?,
            chats: Arc::default(),
            next: Arc::new(AtomicU64::new(1)),
        })
    }

    /// The path of `name` inside the directory: a plain file name ending in `.toml` or `.chat`.
    pub fn path_of(&self, name: &str) -> Result<PathBuf, Problem> {
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && !name.contains(['/', '\\', '\0'])
            && name != ".."
            && (name.ends_with(".toml") || name.ends_with(".chat"));
        if !plain {
            return Err(Problem(
                StatusCode::FORBIDDEN,
                format!(
                    "`{name}` is not a bot file or transcript of {}: the studio reads and writes only `*.toml` and `*.chat` files directly inside it",
                    self.dir.display()
                ),
            ));
        }
        let path = self.dir.join(name);
        // A symbolic link that leads out of the directory is refused too.
        if let Ok(real) = path.canonicalize()
            && !real.starts_with(&self.dir)
        {
            return Err(Problem(
                StatusCode::FORBIDDEN,
                format!("`{name}` leads out of {}", self.dir.display()),
            ));
        }
        Ok(path)
    }

    fn read(&self, name: &str) -> Result<String, Problem> {
        let path = self.path_of(name)?;
        std::fs::read_to_string(&path).map_err(|e| Problem(StatusCode::NOT_FOUND, format!("cannot read {name}: {e}")))
    }

    fn files(&self, extension: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(extension) && !n.starts_with('.'))
            .collect();
        names.sort();
        names
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

pub fn router(studio: Studio) -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/api/bots", get(bots))
        .route("/api/files/{name}", get(read_file).put(write_file))
        .route("/api/check", post(check))
        .route("/api/chats", post(start_chat))
        .route("/api/chats/{id}", post(act))
        .route("/api/chats/{id}/save", post(save_chat))
        .route("/api/transcripts", get(run_transcripts))
        .route("/api/graph/{bot}", get(graph))
        .route("/api/texts/{bot}", get(texts))
        .with_state(studio)
}

/// The diagnostics as JSON objects (`check --format json`'s items).
fn diagnostics_json(found: &[diagnostics::Diagnostic]) -> Value {
    let mut out = termcolor::NoColor::new(Vec::new());
    let _ = diagnostics::render(found, Format::Json, &mut out);
    serde_json::from_slice(&out.into_inner()).unwrap_or(Value::Array(Vec::new()))
}

async fn bots(State(s): State<Studio>) -> Json<Value> {
    let list: Vec<Value> = s
        .files(".toml")
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(s.dir.join(&file)).unwrap_or_default();
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
    let path = s.path_of(&name)?;
    std::fs::write(&path, &body.text)
        .map_err(|e| Problem(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot write {name}: {e}")))?;
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
    s.path_of(&body.name)?;
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
    let conversation = Conversation::new(bot, now);
    let user = json!({"id": conversation.user().id, "name": conversation.user().name});
    s.chats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, conversation);
    Ok(Json(json!({"id": id, "user": user, "now": now.to_rfc3339()})))
}

async fn act(State(s): State<Studio>, Path(id): Path<u64>, Json(act): Json<Act>) -> Result<Json<Value>, Problem> {
    let mut chats = s.chats.lock().unwrap_or_else(|e| e.into_inner());
    let c = chats
        .get_mut(&id)
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
    let path = s.path_of(&name)?;
    let text = {
        let chats = s.chats.lock().unwrap_or_else(|e| e.into_inner());
        chats
            .get(&id)
            .ok_or_else(|| Problem(StatusCode::NOT_FOUND, format!("no conversation {id}")))?
            .transcript()
    };
    std::fs::write(&path, &text)
        .map_err(|e| Problem(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot write {name}: {e}")))?;
    Ok(Json(json!({"saved": name, "transcript": text})))
}

async fn run_transcripts(State(s): State<Studio>) -> Json<Value> {
    let dir = s.dir.clone();
    let results = tokio::task::spawn_blocking(move || {
        let mut bots = HashMap::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "chat"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| {
                let file = f
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                match crate::cli::test::run_one(f, None, &mut bots) {
                    Ok(()) => json!({"file": file, "ok": true}),
                    Err((line, message)) => json!({"file": file, "ok": false, "line": line, "message": message}),
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

async fn texts(State(s): State<Studio>, Path(bot): Path<String>) -> Result<Json<Value>, Problem> {
    let name = format!("{bot}.toml");
    let text = s.read(&name)?;
    let table: toml::Table = toml::from_str(&text).unwrap_or_default();
    let mut overrides = table
        .get("texts")
        .and_then(toml::Value::as_table)
        .cloned()
        .unwrap_or_default();
    // The shorthands: `[bot] unknown` and `[auth] request` (bot-format.md).
    for (section, key, text) in [("bot", "unknown", "unknown"), ("auth", "request", "auth_request")] {
        if let Some(v) = table.get(section).and_then(|t| t.get(key)) {
            overrides.entry(text.to_string()).or_insert(v.clone());
        }
    }
    let english = table
        .get("bot")
        .and_then(|b| b.get("language"))
        .and_then(toml::Value::as_str)
        == Some("en");
    let rows: Vec<Value> = crate::texts::TEXTS
        .iter()
        .map(|t| {
            json!({
                "key": t.key,
                "about": t.about,
                "default": if english { t.en } else { t.ru },
                "override": overrides.get(t.key).and_then(toml::Value::as_str),
            })
        })
        .collect();
    Ok(Json(json!({"texts": rows})))
}
