//! The runtime's HTTP API (../shared/spec/api.md) on axum: notifications
//! through the outbox, registered users, authorization requests, health,
//! metrics and the OpenAPI description.
//!
//! **Invariant:** a message is answered `202` only after it is committed to
//! the outbox; from then on it survives crashes and restarts.

mod error;

pub use error::ApiError;

use crate::engine::{self, Keyboard, LinkButton, Principal, User, World};
use crate::expr::Value;
use crate::runtime::{Runtime, ServedBot};
use crate::store::queries::{self, NotCancelled, StoredMessage};
use crate::store::sql::{self, Attachment, NewMessage, TxWorld};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The largest attachment accepted, in bytes (Telegram's limit for bots is 50 MB).
pub const MAX_ATTACHMENT: usize = 20 * 1024 * 1024;

#[derive(Clone)]
pub struct ApiState {
    pub runtime: Arc<Runtime>,
    pub bots: Arc<Vec<Arc<ServedBot>>>,
    pub token: Arc<String>,
    /// Set once every bot is serving.
    pub ready: Arc<AtomicBool>,
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/bots/{bot}/messages", post(post_message).get(list_messages))
        .route(
            "/api/v1/bots/{bot}/messages/{id}",
            get(get_message).delete(cancel_message),
        )
        .route("/api/v1/bots/{bot}/users", get(list_users))
        .route("/api/v1/bots/{bot}/users/{key}", put(put_user).delete(delete_user))
        .route("/api/v1/bots/{bot}/auth-requests", get(list_auth_requests))
        .route("/api/v1/bots/{bot}/auth-requests/{id}/approve", post(approve))
        .route("/api/v1/bots/{bot}/auth-requests/{id}/reject", post(reject))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .with_state(state)
}

impl ApiState {
    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let given = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match given {
            Some(t) if constant_time_eq(t.trim().as_bytes(), self.token.as_bytes()) => Ok(()),
            _ => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid `Authorization: Bearer <token>` header is required",
            )),
        }
    }

    fn bot(&self, id: &str) -> Result<Arc<ServedBot>, ApiError> {
        self.bots
            .iter()
            .find(|b| b.id == id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no bot `{id}`")))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(a, b))
}

fn parse_body(body: &Bytes) -> Result<Json, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    let v: Json =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(None, format!("the body is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::bad_request(None, "the body must be a JSON object"));
    }
    Ok(v)
}

async fn healthz(State(state): State<ApiState>) -> Response {
    if state.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "starting"})),
        )
            .into_response()
    }
}

async fn metrics(State(state): State<ApiState>, headers: HeaderMap) -> Result<Response, ApiError> {
    state.authorize(&headers)?;
    let depth = state.runtime.store.queue_depth().await.map_err(ApiError::internal)?;
    Ok((
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        crate::metrics::render(depth),
    )
        .into_response())
}

async fn openapi(State(state): State<ApiState>, headers: HeaderMap) -> Result<Response, ApiError> {
    state.authorize(&headers)?;
    Ok(([("content-type", "application/json")], include_str!("openapi.json")).into_response())
}

/// Runs engine code against the database in one transaction, off the async threads.
async fn in_transaction<T: Send + 'static>(
    state: &ApiState,
    bot: &str,
    f: impl FnOnce(&mut TxWorld) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let runtime = state.runtime.clone();
    let bot = bot.to_string();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let tx = handle.block_on(runtime.store.begin()).map_err(ApiError::internal)?;
        let mut world = TxWorld {
            tx: Some(tx),
            bot,
            handle: handle.clone(),
            builtins: &runtime.builtins,
            error: None,
        };
        let result = f(&mut world);
        let tx = world.tx.take().expect("transaction");
        if let Some(e) = world.error.take() {
            let _ = handle.block_on(tx.rollback());
            return Err(ApiError::internal(e));
        }
        match result {
            Ok(v) => {
                handle.block_on(tx.commit()).map_err(ApiError::internal)?;
                // The step may have changed sessions or registrations behind the runtime's cache.
                if let Some(cache) = &runtime.cache {
                    cache.invalidate(&world.bot);
                }
                Ok(v)
            }
            Err(e) => {
                let _ = handle.block_on(tx.rollback());
                Err(e)
            }
        }
    })
    .await
    .map_err(|e| ApiError::internal(format!("the request handler failed: {e}")))?
}

/// Reads `{"kind", "id"[, "name"]}`.
fn principal_field(v: &Json, field: &str, name_required: bool) -> Result<Principal, ApiError> {
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::bad_request(Some(field), "must be an object with `kind`, `id` and `name`"))?;
    let text = |k: &str, required: bool| -> Result<String, ApiError> {
        match obj.get(k) {
            Some(Json::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(Json::Number(n)) => Ok(n.to_string()),
            None if !required => Ok(String::new()),
            _ => Err(ApiError::bad_request(
                Some(&format!("{field}.{k}")),
                "must be a non-empty string",
            )),
        }
    };
    Ok(Principal {
        kind: text("kind", true)?,
        id: text("id", true)?,
        name: text("name", name_required)?,
    })
}

fn chat_key(state: &ApiState, bot: &str, chat: i64, world: &mut TxWorld) -> Result<User, ApiError> {
    let _ = state;
    let tx = world.tx.as_mut().expect("transaction");
    let name: Option<String> = world
        .handle
        .block_on(queries::chat_name(tx, bot, chat))
        .map_err(ApiError::internal)?;
    match name {
        Some(name) => Ok(User {
            id: chat,
            chat,
            name,
            username: None,
        }),
        None => Err(ApiError::unprocessable(
            Some("to.key"),
            format!("chat {chat} has never talked to the bot"),
        )),
    }
}

async fn post_message(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(bot_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    state.authorize(&headers)?;
    let served = state.bot(&bot_id)?;
    let body = parse_body(&body)?;
    let definition = served.current();
    let now = (state.runtime.clock)();

    // Validate everything before touching the database.
    enum To {
        Key(i64),
        Principal(String, String),
    }
    let to = match body.get("to") {
        Some(Json::Object(o)) if o.contains_key("key") => match o["key"].as_i64() {
            Some(k) => To::Key(k),
            None => return Err(ApiError::bad_request(Some("to.key"), "must be a chat id (an integer)")),
        },
        Some(Json::Object(o)) if o.contains_key("principal") => {
            let p = principal_field(&o["principal"], "to.principal", false)?;
            To::Principal(p.kind, p.id)
        }
        _ => {
            return Err(ApiError::bad_request(
                Some("to"),
                "must be {\"key\": CHAT_ID} or {\"principal\": {\"kind\", \"id\"}}",
            ));
        }
    };
    let template = match (body.get("text"), body.get("template")) {
        (Some(Json::String(t)), None) => Err(t.clone()),
        (None, Some(Json::String(name))) => match definition.notifications.get(name) {
            Some(_) => Ok(name.clone()),
            None => {
                return Err(ApiError::unprocessable(
                    Some("template"),
                    format!("the bot has no notification template `{name}`"),
                ));
            }
        },
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                Some("text"),
                "give either `text` or `template`, not both",
            ));
        }
        (Some(_), None) => return Err(ApiError::bad_request(Some("text"), "must be a string")),
        (None, Some(_)) => return Err(ApiError::bad_request(Some("template"), "must be a string")),
        (None, None) => {
            return Err(ApiError::bad_request(
                Some("text"),
                "give `text`, or `template` with `data`",
            ));
        }
    };
    if let Err(text) = &template
        && text.trim().is_empty()
    {
        return Err(ApiError::bad_request(Some("text"), "must not be empty"));
    }
    let data = Value::from_json(body.get("data").unwrap_or(&Json::Null))
        .map_err(|e| ApiError::bad_request(Some("data"), e))?;
    let mut keyboard = Keyboard::None;
    if let Some(buttons) = body.get("buttons") {
        let rows = buttons
            .as_array()
            .ok_or_else(|| ApiError::bad_request(Some("buttons"), "must be an array of rows"))?;
        let mut out = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let row = row.as_array().ok_or_else(|| {
                ApiError::bad_request(
                    Some(&format!("buttons[{i}]")),
                    "must be an array of {text, url} buttons",
                )
            })?;
            let mut out_row = Vec::new();
            for (j, b) in row.iter().enumerate() {
                let field = format!("buttons[{i}][{j}]");
                let (Some(text), Some(url)) = (
                    b.get("text").and_then(Json::as_str),
                    b.get("url").and_then(Json::as_str),
                ) else {
                    return Err(ApiError::bad_request(Some(&field), "a button needs `text` and `url`"));
                };
                if url::Url::parse(url).is_err() {
                    return Err(ApiError::bad_request(Some(&format!("{field}.url")), "is not a URL"));
                }
                if text.len() > 64 {
                    return Err(ApiError::bad_request(
                        Some(&format!("{field}.text")),
                        "is longer than Telegram's 64 bytes",
                    ));
                }
                out_row.push(LinkButton {
                    text: text.to_string(),
                    url: url.to_string(),
                });
            }
            out.push(out_row);
        }
        keyboard = Keyboard::Links(out);
    }
    let mut attachments: Vec<Attachment> = Vec::new();
    if let Some(list) = body.get("attachments") {
        let list = list
            .as_array()
            .ok_or_else(|| ApiError::bad_request(Some("attachments"), "must be an array"))?;
        for (i, a) in list.iter().enumerate() {
            let field = format!("attachments[{i}]");
            let attachment: Attachment = serde_json::from_value(a.clone())
                .map_err(|_| ApiError::bad_request(Some(&field), "must be {name, content_base64} or {name, url}"))?;
            match (&attachment.content_base64, &attachment.url) {
                (Some(content), None) => {
                    use base64::Engine;
                    let bytes = base64::engine::general_purpose::STANDARD.decode(content).map_err(|e| {
                        ApiError::bad_request(Some(&format!("{field}.content_base64")), format!("is not base64: {e}"))
                    })?;
                    if bytes.len() > MAX_ATTACHMENT {
                        return Err(ApiError::bad_request(
                            Some(&field),
                            format!("is larger than {MAX_ATTACHMENT} bytes"),
                        ));
                    }
                }
                (None, Some(url)) if url::Url::parse(url).is_ok() => {}
                (None, Some(_)) => return Err(ApiError::bad_request(Some(&format!("{field}.url")), "is not a URL")),
                _ => {
                    return Err(ApiError::bad_request(
                        Some(&field),
                        "needs exactly one of `content_base64` and `url`",
                    ));
                }
            }
            if attachment.name.trim().is_empty() {
                return Err(ApiError::bad_request(
                    Some(&format!("{field}.name")),
                    "must not be empty",
                ));
            }
            attachments.push(attachment);
        }
    }
    let due = match body.get("send_at") {
        None | Some(Json::Null) => now,
        Some(Json::String(t)) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| ApiError::bad_request(Some("send_at"), format!("is not an RFC 3339 time: {e}")))?,
        Some(_) => return Err(ApiError::bad_request(Some("send_at"), "must be an RFC 3339 time")),
    };
    let idempotency_key = match body.get("idempotency_key") {
        None | Some(Json::Null) => None,
        Some(Json::String(k)) if !k.is_empty() && k.len() <= 200 => Some(k.clone()),
        Some(_) => {
            return Err(ApiError::bad_request(
                Some("idempotency_key"),
                "must be a non-empty string of at most 200 characters",
            ));
        }
    };

    let st = state.clone();
    let bot = bot_id.clone();
    // A closed bot's principals are reached only in private chats (bot-format.md, "Chats and users").
    let private_only = definition.auth.as_ref().is_some_and(|a| a.required);
    let (id, status) = in_transaction(&state, &bot_id, move |world| {
        let chat = match to {
            To::Key(k) => k,
            To::Principal(kind, pid) => {
                let tx = world.tx.as_mut().expect("transaction");
                let found: Option<i64> = world
                    .handle
                    .block_on(queries::chat_of_principal(tx, &bot, &kind, &pid, private_only))
                    .map_err(ApiError::internal)?;
                found.ok_or_else(|| {
                    ApiError::unprocessable(Some("to.principal"), format!("no user is registered as {kind} {pid}"))
                })?
            }
        };
        let user = chat_key(&st, &bot, chat, world)?;
        let (text, keyboard, attachments) = match &template {
            Err(text) => (text.clone(), keyboard, attachments),
            Ok(name) => {
                let n = &definition.notifications[name];
                let message = engine::message_for(&definition, world, &user, &n.text, &[("data", data)], now)
                    .map_err(ApiError::internal)?;
                let keyboard = if n.buttons.is_empty() {
                    keyboard
                } else {
                    Keyboard::Links(
                        n.buttons
                            .iter()
                            .map(|r| {
                                r.iter()
                                    .map(|(t, u)| LinkButton {
                                        text: t.clone(),
                                        url: u.clone(),
                                    })
                                    .collect()
                            })
                            .collect(),
                    )
                };
                (
                    message.text,
                    keyboard,
                    if n.attachments { attachments } else { Vec::new() },
                )
            }
        };
        if text.chars().count() > crate::limits::MAX_MESSAGE {
            return Err(ApiError::bad_request(
                Some("text"),
                format!("is longer than Telegram's {} characters", crate::limits::MAX_MESSAGE),
            ));
        }
        let tx = world.tx.as_mut().expect("transaction");
        let message = NewMessage {
            bot: &bot,
            chat,
            text: &text,
            keyboard: &keyboard,
            attachments: &attachments,
            due,
            now,
            idempotency_key: idempotency_key.as_deref(),
        };
        world
            .handle
            .block_on(sql::insert_message(tx, &message))
            .map_err(ApiError::internal)
    })
    .await?;
    served.outbox.notify_one();
    Ok((StatusCode::ACCEPTED, axum::Json(json!({"id": id, "status": status}))).into_response())
}

fn message_json(m: &StoredMessage, now: chrono::DateTime<chrono::FixedOffset>) -> Json {
    let mut out = json!({
        "id": m.id,
        "to": {"key": m.chat},
        "text": m.text,
        "status": sql::shown_status(&m.status, &m.due_at, now),
        "send_at": sql::parse_stored_time(&m.due_at).to_rfc3339(),
        "created_at": sql::parse_stored_time(&m.created_at).to_rfc3339(),
        "attempts": m.attempts,
    });
    if let Some(sent) = &m.sent_at {
        out["sent_at"] = json!(sql::parse_stored_time(sent).to_rfc3339());
    }
    if let Some(id) = m.telegram_message_id {
        out["telegram_message_id"] = json!(id);
    }
    if let Some(e) = &m.last_error {
        out["last_error"] = json!(e);
    }
    out
}

fn message_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::not_found(format!("no message `{id}`")))
}

async fn get_message(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path((bot, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    state.authorize(&headers)?;
    state.bot(&bot)?;
    let id = message_id(&id)?;
    let row = state
        .runtime
        .store
        .message(&bot, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no message {id}")))?;
    Ok(axum::Json(message_json(&row, (state.runtime.clock)())).into_response())
}

const STATUSES: &[&str] = &["scheduled", "queued", "sent", "failed", "cancelled"];

async fn list_messages(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(bot): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    state.authorize(&headers)?;
    state.bot(&bot)?;
    let now = (state.runtime.clock)();
    let rows = state.runtime.store.messages(&bot).await.map_err(ApiError::internal)?;
    let wanted = match q.get("status") {
        Some(s) if STATUSES.contains(&s.as_str()) => Some(s.clone()),
        Some(s) => {
            return Err(ApiError::bad_request(
                Some("status"),
                format!("`{s}` is not one of {}", STATUSES.join(", ")),
            ));
        }
        None => None,
    };
    let items: Vec<Json> = rows
        .iter()
        .map(|r| message_json(r, now))
        .filter(|m| wanted.as_ref().is_none_or(|w| m["status"] == **w))
        .collect();
    Ok(axum::Json(Json::Array(items)).into_response())
}

async fn cancel_message(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path((bot, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    state.authorize(&headers)?;
    state.bot(&bot)?;
    let id = message_id(&id)?;
    let cancelled = state
        .runtime
        .store
        .cancel_message(&bot, id, (state.runtime.clock)())
        .await
        .map_err(ApiError::internal)?;
    match cancelled {
        Ok(()) => Ok(axum::Json(json!({"id": id, "status": "cancelled"})).into_response()),
        Err(NotCancelled::NotFound) => Err(ApiError::not_found(format!("no message {id}"))),
        Err(NotCancelled::Status(s)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("message {id} is {s} and can no longer be cancelled"),
        )),
    }
}

async fn list_users(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(bot): Path<String>,
) -> Result<Response, ApiError> {
    state.authorize(&headers)?;
    state.bot(&bot)?;
    let users = state
        .runtime
        .store
        .registrations(&bot)
        .await
        .map_err(|e| ApiError::internal(e.0))?;
    let items: Vec<Json> = users
        .into_iter()
        .map(|(key, p, name, at)| json!({"key": key, "name": name, "principal": p, "registered_at": sql::parse_stored_time(&at).to_rfc3339()}))
        .collect();
    Ok(axum::Json(Json::Array(items)).into_response())
}

fn key_of(key: &str) -> Result<i64, ApiError> {
    key.parse()
        .map_err(|_| ApiError::bad_request(Some("key"), "must be a chat id (an integer)"))
}

async fn put_user(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path((bot, key)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    state.authorize(&headers)?;
    let served = state.bot(&bot)?;
    let key = key_of(&key)?;
    let body = parse_body(&body)?;
    let principal = principal_field(body.get("principal").unwrap_or(&Json::Null), "principal", true)?;
    let definition = served.current();
    let now = (state.runtime.clock)();
    let st = state.clone();
    let b = bot.clone();
    let p = principal.clone();
    in_transaction(&state, &bot, move |world| {
        let user = chat_key(&st, &b, key, world)?;
        world.register(key, &p, &user.name, now).map_err(ApiError::internal)?;
        let message = engine::message_for(&definition, world, &user, definition.text("auth_success"), &[], now)
            .map_err(ApiError::internal)?;
        let tx = world.tx.as_mut().expect("transaction");
        world
            .handle
            .block_on(sql::enqueue(tx, &b, &[message], now))
            .map_err(ApiError::internal)
    })
    .await?;
    served.outbox.notify_one();
    Ok(axum::Json(json!({"key": key, "principal": principal})).into_response())
}

async fn delete_user(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path((bot, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    state.authorize(&headers)?;
    state.bot(&bot)?;
    let key = key_of(&key)?;
    let had = state
        .runtime
        .store
        .unregister(&bot, key)
        .await
        .map_err(ApiError::internal)?;
    if let Some(cache) = &state.runtime.cache {
        cache.invalidate(&bot);
    }
    if !had {
        return Err(ApiError::not_found(format!("no user {key} is registered")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_auth_requests(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(bot): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    state.authorize(&headers)?;
    state.bot(&bot)?;
    let status = match q.get("status").map(String::as_str) {
        None => None,
        Some(s @ ("pending" | "approved" | "rejected")) => Some(s.to_string()),
        Some(s) => {
            return Err(ApiError::bad_request(
                Some("status"),
                format!("`{s}` is not one of pending, approved, rejected"),
            ));
        }
    };
    let rows = state
        .runtime
        .store
        .auth_requests(&bot)
        .await
        .map_err(ApiError::internal)?;
    let items: Vec<Json> = rows
        .iter()
        .filter(|r| status.as_ref().is_none_or(|s| r.status == *s))
        .map(|r| {
            json!({
                "id": r.id, "key": r.key, "name": r.name, "data": r.data,
                "created_at": sql::parse_stored_time(&r.created_at).to_rfc3339(), "status": r.status,
            })
        })
        .collect();
    Ok(axum::Json(Json::Array(items)).into_response())
}

async fn decide(
    state: ApiState,
    headers: HeaderMap,
    bot: String,
    id: String,
    body: Bytes,
    approve: bool,
) -> Result<Response, ApiError> {
    state.authorize(&headers)?;
    let served = state.bot(&bot)?;
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("no authorization request `{id}`")))?;
    let body = parse_body(&body)?;
    let definition = served.current();
    let now = (state.runtime.clock)();
    enum Decision {
        Approve(Option<Json>),
        Reject(String),
    }
    let decision = if approve {
        Decision::Approve(body.get("principal").cloned())
    } else {
        match body.get("reason") {
            Some(Json::String(r)) if !r.trim().is_empty() => Decision::Reject(r.clone()),
            _ => {
                return Err(ApiError::bad_request(
                    Some("reason"),
                    "give the reason as a non-empty string",
                ));
            }
        }
    };
    let (status, messages) = in_transaction(&state, &bot, move |world| {
        let request = world
            .auth_request(id)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(format!("no authorization request {id}")))?;
        let result = match decision {
            Decision::Approve(p) => {
                // Missing parts of the principal default as an operator's would: the first kind, the key, the data.
                let p = p.unwrap_or(json!({}));
                let obj = p
                    .as_object()
                    .ok_or_else(|| ApiError::bad_request(Some("principal"), "must be an object"))?;
                let field = |k: &str| {
                    obj.get(k).and_then(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .or_else(|| v.as_i64().map(|n| n.to_string()))
                    })
                };
                let kind = field("kind")
                    .or_else(|| definition.auth.as_ref().and_then(|a| a.kinds.first().cloned()))
                    .unwrap_or_else(|| "user".into());
                let principal = Principal {
                    kind,
                    id: field("id").unwrap_or_else(|| request.key.to_string()),
                    name: field("name").unwrap_or_else(|| request.data.clone()),
                };
                engine::approve_request(&definition, world, id, &principal, now).map(|m| ("approved", m))
            }
            Decision::Reject(reason) => {
                engine::reject_request(&definition, world, id, &reason, now).map(|m| ("rejected", m))
            }
        };
        let (status, messages) = result.map_err(|e| match e {
            engine::DecisionError::NotFound => ApiError::not_found(format!("no authorization request {id}")),
            engine::DecisionError::AlreadyDecided => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("authorization request {id} is already decided"),
            ),
            engine::DecisionError::World(e) => ApiError::internal(e),
        })?;
        let tx = world.tx.as_mut().expect("transaction");
        world
            .handle
            .block_on(sql::enqueue(tx, &world.bot.clone(), &messages, now))
            .map_err(ApiError::internal)?;
        Ok((status, messages.len()))
    })
    .await?;
    if messages > 0 {
        served.outbox.notify_one();
    }
    Ok(axum::Json(json!({"id": id, "status": status})).into_response())
}

async fn approve(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path((bot, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    decide(state, headers, bot, id, body, true).await
}

async fn reject(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path((bot, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    decide(state, headers, bot, id, body, false).await
}
