//! The runtime's HTTP API (../shared/spec/api.md) on axum: notifications and
//! broadcasts through the outbox, registered users, authorization requests,
//! health, metrics and the OpenAPI description.
//!
//! Requests and responses are the serde types of [`types`]; the OpenAPI
//! document is generated from them and from the handlers' annotations
//! (utoipa), never written by hand. The extractors here turn every
//! malformed request (a bad token, path, query or body, a body over 30 MB)
//! into the error shape of api.md.
//!
//! **Invariant:** a message is answered `202` only after it is committed to
//! the outbox; from then on it survives crashes and restarts.

pub mod access;
pub mod compose;
mod console;
mod error;
pub mod types;

pub use console::check_operator_name as console_name_rule;
pub use error::ApiError;

use crate::engine::{self, Principal, World};
use crate::runtime::{Runtime, ServedBot};
use crate::store::queries::{self, NotCancelled, StoredMessage};
use crate::store::tx_world::TxWorld;
use crate::texts::Text;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use types::*;
use utoipa::OpenApi;

/// The largest attachment accepted, in bytes.
pub const MAX_ATTACHMENT: usize = engine::MAX_FILE;
/// The largest request body accepted, in bytes (api.md).
pub const MAX_BODY: usize = 30 * 1024 * 1024;

/// How long `/healthz` waits for the database before calling it unreachable.
pub const HEALTH_DB_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Clone)]
pub struct ApiState {
    pub runtime: Arc<Runtime>,
    pub bots: Arc<Vec<Arc<ServedBot>>>,
    pub token: Arc<String>,
    /// Whether every bot is served: `/healthz`.
    pub ready: Arc<Readiness>,
}

/// Where `botwright run` is in its life, as `/healthz` tells it: starting until every bot
/// is served (pollers or webhooks set up, the store open), then serving, then stopping
/// from the moment it is asked to stop until it exits.
#[derive(Debug, Default)]
pub struct Readiness(AtomicU8);

const STARTING: u8 = 0;
const SERVING: u8 = 1;
const STOPPING: u8 = 2;

impl Readiness {
    /// Every bot is served.
    pub fn serving(&self) {
        // Never back from stopping.
        let _ = self
            .0
            .compare_exchange(STARTING, SERVING, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Asked to stop: not ready any more, until the process exits.
    pub fn stopping(&self) {
        self.0.store(STOPPING, Ordering::SeqCst);
    }

    fn phase(&self) -> u8 {
        self.0.load(Ordering::SeqCst)
    }
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
        .route(
            "/api/v1/bots/{bot}/broadcasts/{id}",
            get(get_broadcast).delete(cancel_broadcast),
        )
        .route("/api/v1/bots/{bot}/users", get(list_users))
        .route("/api/v1/bots/{bot}/users/{key}", put(put_user).delete(delete_user))
        .route("/api/v1/bots/{bot}/auth-requests", get(list_auth_requests))
        .route("/api/v1/bots/{bot}/insights", get(get_insights))
        .route("/api/v1/bots/{bot}/auth-requests/{id}/approve", post(approve))
        .route("/api/v1/bots/{bot}/auth-requests/{id}/reject", post(reject))
        .route("/api/v1/bots", get(console::list_bots))
        .route("/api/v1/bots/{bot}/overview", get(console::overview))
        .route(
            "/api/v1/bots/{bot}/broadcasts",
            get(console::list_broadcasts).post(post_broadcast),
        )
        .route("/api/v1/me", get(console::me))
        .route("/api/v1/audit", get(console::audit))
        .route(
            "/api/v1/operators",
            get(console::list_operators).post(console::add_operator),
        )
        .route(
            "/api/v1/operators/{name}",
            axum::routing::delete(console::remove_operator),
        )
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), access::access))
        .route(
            "/console",
            get(|| async { axum::response::Redirect::permanent("/console/") }),
        )
        .route("/console/", get(console::page))
        .route("/console/assets/{*name}", get(crate::web::asset))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// The OpenAPI document, generated from the handlers and the types of [`types`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "botwright API",
        version = "1",
        description = "Notify users, broadcast, register users and finish authorizations (api.md)."
    ),
    paths(
        healthz,
        post_message,
        list_messages,
        get_message,
        cancel_message,
        post_broadcast,
        get_broadcast,
        cancel_broadcast,
        list_users,
        put_user,
        delete_user,
        list_auth_requests,
        approve,
        reject,
        get_insights,
        console::list_bots,
        console::overview,
        console::list_broadcasts,
        console::me,
        console::audit,
        console::list_operators,
        console::add_operator,
        console::remove_operator
    ),
    modifiers(&Bearer),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as served at `/api/openapi.json`: the generated one, with the `{bot}`
/// parameter limited to the bots this process serves.
pub fn openapi_json(bots: &[String]) -> String {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serializes");
    if let Some(paths) = doc.get_mut("paths").and_then(serde_json::Value::as_object_mut) {
        for operation in paths.values_mut().filter_map(serde_json::Value::as_object_mut) {
            for op in operation.values_mut() {
                let Some(params) = op.get_mut("parameters").and_then(serde_json::Value::as_array_mut) else {
                    continue;
                };
                for p in params.iter_mut().filter(|p| p["name"] == "bot" && p["in"] == "path") {
                    p["schema"] = serde_json::json!({"type": "string", "enum": bots});
                }
            }
        }
    }
    serde_json::to_string_pretty(&doc).expect("JSON values serialize")
}

// ----- extractors -----

/// A request whose bearer was checked by [`access::access`]: its caller.
pub struct Authorized(pub access::Caller);

impl FromRequestParts<ApiState> for Authorized {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &ApiState) -> Result<Authorized, ApiError> {
        parts
            .extensions
            .get::<access::Caller>()
            .cloned()
            .map(Authorized)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "a valid `Authorization: Bearer <token>` header is required",
                )
            })
    }
}

/// The path's parameters, after the bearer is checked: `{bot}` is a served bot (else
/// 404), and the others are given as written.
pub struct BotPath {
    pub bot: Arc<ServedBot>,
    params: HashMap<String, String>,
}

impl BotPath {
    fn id(&self) -> &str {
        &self.bot.id
    }

    /// A numeric path parameter; anything else names nothing (404).
    fn number(&self, name: &str, what: &str) -> Result<i64, ApiError> {
        let raw = self.params.get(name).map(String::as_str).unwrap_or("");
        raw.parse()
            .map_err(|_| ApiError::not_found(format!("no {what} `{raw}`")))
    }
}

impl FromRequestParts<ApiState> for BotPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<BotPath, ApiError> {
        Authorized::from_request_parts(parts, state).await?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::not_found(format!("the path is not understood: {e}")))?;
        let id = params.get("bot").cloned().unwrap_or_default();
        let bot = state
            .bots
            .iter()
            .find(|b| b.id == id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no bot `{id}`")))?;
        Ok(BotPath { bot, params })
    }
}

/// A JSON body read into `T`: an empty body reads as `{}`; a body that is not a JSON object,
/// or does not fit `T`, is 400 naming the field; one over 30 MB is 413.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<JsonBody<T>, ApiError> {
        let too_large = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the body is larger than {MAX_BODY} bytes"),
            )
        };
        // A declared length over the limit is refused before the body is read (a client that
        // sent `Expect: 100-continue` then never sends it).
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY as u64) {
            return Err(too_large());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else if let Some(t) = caused_by::<crate::runtime::listener::BodyTimedOut>(&e) {
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    format!("the body could not be read: {t}"),
                )
            } else {
                ApiError::bad_request(None, format!("the body could not be read: {e}"))
            }
        })?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::bad_request(None, "the body must be a JSON object"));
        }
        let mut de = serde_json::Deserializer::from_slice(text);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let field = (path != ".").then_some(path);
            ApiError::bad_request(field.as_deref(), e.into_inner().to_string())
        })?;
        de.end()
            .map_err(|e| ApiError::bad_request(None, format!("the body is not JSON: {e}")))?;
        Ok(JsonBody(value))
    }
}

/// The first error of type `E` in `error`'s chain of causes.
fn caused_by<'a, E: std::error::Error + 'static>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// `?limit=` (default 100, at most 1000), `&after=ID` and `&status=`; for the console also
/// `&order=newest` with `&before=ID` (the newest first), `&q=` (a search) and `&to=KEY`.
pub struct ListQuery {
    pub limit: i64,
    pub after: i64,
    pub status: Option<String>,
    pub newest: bool,
    pub before: Option<i64>,
    pub search: Option<String>,
    pub to: Option<i64>,
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<ListQuery, ApiError> {
        let Query(q) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(None, format!("the query is not understood: {e}")))?;
        let limit = match q.get("limit") {
            None => 100,
            Some(l) => match l.parse::<i64>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => return Err(ApiError::bad_request(Some("limit"), "must be a number from 1 to 1000")),
            },
        };
        let after = match q.get("after") {
            None => 0,
            Some(a) => a
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request(Some("after"), "must be an id (an integer)"))?,
        };
        let newest = match q.get("order").map(String::as_str) {
            None | Some("oldest") => false,
            Some("newest") => true,
            Some(_) => return Err(ApiError::bad_request(Some("order"), "must be `oldest` or `newest`")),
        };
        let number = |name: &'static str, what: &str| -> Result<Option<i64>, ApiError> {
            q.get(name)
                .map(|v| v.parse::<i64>())
                .transpose()
                .map_err(|_| ApiError::bad_request(Some(name), format!("must be {what} (an integer)")))
        };
        Ok(ListQuery {
            limit,
            after,
            status: q.get("status").cloned(),
            newest,
            before: number("before", "an id")?,
            search: q.get("q").cloned(),
            to: number("to", "a chat id")?,
        })
    }
}

impl ListQuery {
    /// The page asked for.
    pub fn page(&self) -> crate::store::operators::Page {
        use crate::store::operators::Page;
        if self.newest {
            Page::Newest {
                before: self.before,
                limit: self.limit,
            }
        } else {
            Page::Oldest {
                after: self.after,
                limit: self.limit,
            }
        }
    }

    /// The status filter, if one of `allowed`.
    fn status_in(&self, allowed: &[&str]) -> Result<Option<&str>, ApiError> {
        match self.status.as_deref() {
            None => Ok(None),
            Some(s) if allowed.contains(&s) => Ok(Some(s)),
            Some(s) => Err(ApiError::bad_request(
                Some("status"),
                format!("`{s}` is not one of {}", allowed.join(", ")),
            )),
        }
    }
}

/// `answer` with what the audit log should say of its change.
fn audited(mut answer: Response, object: Option<String>, detail: String) -> Response {
    answer.extensions_mut().insert(access::Audited { object, detail });
    answer
}

/// A recipient as the audit log says it.
fn recipient_words(to: &Recipient) -> String {
    match to {
        Recipient::Key(k) => format!("to key {k}"),
        Recipient::Principal(p) => format!("to {}:{}", p.kind, p.id),
    }
}

/// What a message says, as the audit log keeps it: the template's name or the text's
/// first 200 characters.
fn content_words(content: &types::Content) -> String {
    match (&content.template, &content.text) {
        (Some(t), _) => format!("template {t}"),
        (None, Some(text)) => {
            let cut: String = text.chars().take(200).collect();
            format!("text {cut:?}")
        }
        _ => String::new(),
    }
}

// ----- health, metrics, the document -----

#[utoipa::path(get, path = "/healthz", security(()), responses(
    (status = 200, description = "Every bot is served and the database answers", body = Health),
    (status = 503, description = "Starting, stopping, or the database does not answer", body = Health),
))]
async fn healthz(State(state): State<ApiState>) -> Response {
    let unavailable = |status: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(Health { status: status.into() }),
        )
            .into_response()
    };
    match state.ready.phase() {
        STARTING => return unavailable("starting"),
        SERVING => {}
        _ => return unavailable("stopping"),
    }
    match tokio::time::timeout(HEALTH_DB_TIMEOUT, state.runtime.store.ping()).await {
        Ok(Ok(())) => axum::Json(Health { status: "ok".into() }).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health: the database does not answer");
            unavailable("database_unreachable")
        }
        Err(_) => {
            tracing::warn!(
                seconds = HEALTH_DB_TIMEOUT.as_secs(),
                "health: the database did not answer in time"
            );
            unavailable("database_unreachable")
        }
    }
}

async fn metrics(State(state): State<ApiState>, _: Authorized) -> Result<Response, ApiError> {
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

async fn openapi(State(state): State<ApiState>, _: Authorized) -> Response {
    let bots: Vec<String> = state.bots.iter().map(|b| b.id.clone()).collect();
    ([("content-type", "application/json")], openapi_json(&bots)).into_response()
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
        let mut world = TxWorld::new(tx, runtime.store.dialect, &bot, handle.clone());
        match f(&mut world) {
            Ok(v) => {
                world.commit().map_err(ApiError::internal)?;
                // The step may have changed sessions or registrations behind the runtime's cache.
                if let Some(cache) = &runtime.cache {
                    cache.invalidate(&bot);
                }
                Ok(v)
            }
            Err(e) => {
                world.rollback();
                Err(e)
            }
        }
    })
    .await
    .map_err(|e| ApiError::internal(format!("the request handler failed: {e}")))?
}

// ----- messages -----

#[utoipa::path(post, path = "/api/v1/bots/{bot}/messages",
    params(("bot" = String, Path, description = "The bot's id (its file name)")),
    request_body = MessageIn,
    responses(
        (status = 202, description = "Stored; it will be sent", body = MessageAccepted),
        Malformed,
        Refused,
        TooLarge,
        (status = 422, description = "An unknown recipient, template or action", body = ErrorBody),
    ))]
async fn post_message(
    State(state): State<ApiState>,
    path: BotPath,
    JsonBody(request): JsonBody<MessageIn>,
) -> Result<Response, ApiError> {
    let definition = path.bot.current();
    let now = (state.runtime.clock)();
    let (to, content) = request.split();
    let detail = format!("{} {}", recipient_words(&to), content_words(&content));
    let message = compose::check(content, &definition, now)?;
    let stored = in_transaction(&state, path.id(), move |world| {
        // A repeated key gets the first request's answer, even if its recipient is gone.
        if let Some(key) = &message.idempotency_key
            && let Some(found) = compose::existing(world, key, now)?
        {
            return Ok(found);
        }
        let chats = compose::chats_of(world, &definition, &to)?;
        compose::store(world, &definition, &chats, &message, None, now)
    })
    .await?;
    path.bot.outbox.notify_one();
    let object = Some(stored.ids[0].to_string());
    Ok(audited(
        (
            StatusCode::ACCEPTED,
            axum::Json(MessageAccepted {
                id: stored.ids[0],
                ids: stored.ids,
                status: stored.status,
            }),
        )
            .into_response(),
        object,
        detail,
    ))
}

fn message_out(m: &StoredMessage, now: chrono::DateTime<chrono::FixedOffset>) -> Result<MessageOut, ApiError> {
    Ok(MessageOut {
        id: m.id,
        to: KeyOut { key: m.chat },
        text: m.text.clone(),
        status: queries::shown_status(m.id, &m.status, &m.due_at, now)?,
        send_at: queries::shown_time("outbox", m.id, &m.due_at)?,
        created_at: queries::shown_time("outbox", m.id, &m.created_at)?,
        attempts: m.attempts,
        sent_at: m
            .sent_at
            .as_deref()
            .map(|t| queries::shown_time("outbox", m.id, t))
            .transpose()?,
        telegram_message_id: m.telegram_message_id,
        last_error: m.last_error.clone(),
        broadcast: m.broadcast,
    })
}

#[utoipa::path(get, path = "/api/v1/bots/{bot}/messages/{id}",
    params(("bot" = String, Path), ("id" = i64, Path)),
    responses(
        (status = 200, body = MessageOut),
        Refused,
    ))]
async fn get_message(State(state): State<ApiState>, path: BotPath) -> Result<Response, ApiError> {
    let id = path.number("id", "message")?;
    let row = state
        .runtime
        .store
        .message(path.id(), id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no message {id}")))?;
    Ok(axum::Json(message_out(&row, (state.runtime.clock)())?).into_response())
}

const MESSAGE_STATUSES: &[&str] = &["scheduled", "queued", "sent", "blocked", "failed", "cancelled"];

#[utoipa::path(get, path = "/api/v1/bots/{bot}/messages",
    params(
        ("bot" = String, Path),
        ("status" = Option<String>, Query, description = "scheduled, queued, sent, blocked, failed or cancelled"),
        ("limit" = Option<i64>, Query, description = "At most 1000 (default 100)"),
        ("after" = Option<i64>, Query, description = "Only messages with a greater id"),
        ("to" = Option<i64>, Query, description = "Only messages to this chat"),
        ("order" = Option<String>, Query, description = "`oldest` (default) or `newest` first"),
        ("before" = Option<i64>, Query, description = "With `order=newest`: only messages with a smaller id"),
    ),
    responses(
        (status = 200, description = "The oldest first", body = Vec<MessageOut>),
        Malformed,
        Refused,
    ))]
async fn list_messages(State(state): State<ApiState>, path: BotPath, q: ListQuery) -> Result<Response, ApiError> {
    let status = q.status_in(MESSAGE_STATUSES)?;
    let now = (state.runtime.clock)();
    let rows = state
        .runtime
        .store
        .messages_list(path.id(), status, q.to, now, q.page())
        .await
        .map_err(ApiError::internal)?;
    let items: Vec<MessageOut> = rows.iter().map(|r| message_out(r, now)).collect::<Result<_, _>>()?;
    Ok(axum::Json(items).into_response())
}

#[utoipa::path(delete, path = "/api/v1/bots/{bot}/messages/{id}",
    params(("bot" = String, Path), ("id" = i64, Path)),
    responses(
        (status = 200, description = "Cancelled", body = StatusOut),
        Refused,
        (status = 409, description = "Already being sent, sent or finished", body = ErrorBody),
    ))]
async fn cancel_message(State(state): State<ApiState>, path: BotPath) -> Result<Response, ApiError> {
    let id = path.number("id", "message")?;
    let cancelled = state
        .runtime
        .store
        .cancel_message(path.id(), id, (state.runtime.clock)())
        .await
        .map_err(ApiError::internal)?;
    match cancelled {
        Ok(()) => Ok(axum::Json(StatusOut {
            id,
            status: "cancelled".into(),
        })
        .into_response()),
        Err(NotCancelled::NotFound) => Err(ApiError::not_found(format!("no message {id}"))),
        Err(NotCancelled::Status(s)) => Err(ApiError::conflict(format!(
            "message {id} is {s} and can no longer be cancelled"
        ))),
    }
}

// ----- broadcasts -----

#[utoipa::path(post, path = "/api/v1/bots/{bot}/broadcasts",
    params(("bot" = String, Path)),
    request_body = BroadcastIn,
    responses(
        (status = 202, description = "Every recipient's message is stored", body = BroadcastAccepted),
        Malformed,
        Refused,
        TooLarge,
        (status = 422, description = "Nothing resolves to a chat, or an unknown template or action", body = ErrorBody),
    ))]
async fn post_broadcast(
    State(state): State<ApiState>,
    path: BotPath,
    JsonBody(request): JsonBody<BroadcastIn>,
) -> Result<Response, ApiError> {
    let definition = path.bot.current();
    let now = (state.runtime.clock)();
    let (to, content) = request.split();
    let detail = format!(
        "to {} {}",
        match &to {
            Audience::Kind(k) => format!("kind {k}"),
            Audience::Principals(p) => format!("{} principals", p.len()),
            Audience::Keys(k) => format!("{} keys", k.len()),
            Audience::All(_) => "all".into(),
        },
        content_words(&content)
    );
    let message = compose::check(content, &definition, now)?;
    if let Audience::All(false) = to {
        return Err(ApiError::bad_request(Some("to.all"), "must be true"));
    }
    let accepted = in_transaction(&state, path.id(), move |world| {
        let private_only = definition.auth.as_ref().is_some_and(|a| a.required);
        let bot_id = world.bot.clone();
        let mut chats: indexmap::IndexSet<i64> = indexmap::IndexSet::new();
        let mut unknown = Vec::new();
        match &to {
            Audience::Kind(kind) => {
                let (tx, handle) = world.parts();
                chats.extend(
                    handle
                        .block_on(queries::registered_chats(
                            tx,
                            &bot_id,
                            queries::Registered::Kind(kind),
                            private_only,
                        ))
                        .map_err(ApiError::internal)?,
                );
            }
            Audience::All(_) => {
                let (tx, handle) = world.parts();
                chats.extend(
                    handle
                        .block_on(queries::registered_chats(
                            tx,
                            &bot_id,
                            queries::Registered::All,
                            private_only,
                        ))
                        .map_err(ApiError::internal)?,
                );
            }
            Audience::Principals(list) => {
                for p in list {
                    let found = compose::principal_chats(world, &definition, &p.kind, &p.id)?;
                    if found.is_empty() {
                        unknown.push(serde_json::json!({"kind": p.kind, "id": p.id}));
                    }
                    chats.extend(found);
                }
            }
            Audience::Keys(keys) => {
                for &k in keys {
                    // On a closed bot a user's key is their private chat.
                    if (!private_only || k > 0) && compose::known_chat(world, k)? {
                        chats.insert(k);
                    } else {
                        unknown.push(serde_json::json!(k));
                    }
                }
            }
        }
        if chats.is_empty() {
            return Err(ApiError::unprocessable(Some("to"), "no recipient resolves to a chat"));
        }
        let chats: Vec<i64> = chats.into_iter().collect();
        let unknown_text = serde_json::to_string(&unknown).expect("JSON values serialize");
        let (tx, handle) = world.parts();
        let inserted = handle
            .block_on(queries::insert_broadcast(
                tx,
                &bot_id,
                chats.len() as i64,
                &unknown_text,
                message.idempotency_key.as_deref(),
                now,
            ))
            .map_err(ApiError::internal)?;
        let id = match inserted {
            Ok(id) => id,
            // The same key again: the first broadcast, as it was accepted.
            Err(existing) => return Ok(Err(existing)),
        };
        compose::store(world, &definition, &chats, &message, Some(id), now)?;
        Ok(Ok(BroadcastAccepted {
            id,
            recipients: chats.len() as i64,
            unknown,
        }))
    })
    .await?;
    let accepted = match accepted {
        Ok(a) => a,
        Err(existing) => {
            let (recipients, unknown) = state
                .runtime
                .store
                .broadcast(path.id(), existing)
                .await
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::internal("a broadcast's idempotency key named no broadcast"))?;
            BroadcastAccepted {
                id: existing,
                recipients,
                unknown: serde_json::from_str(&unknown).unwrap_or_default(),
            }
        }
    };
    path.bot.outbox.notify_one();
    let object = Some(accepted.id.to_string());
    Ok(audited(
        (StatusCode::ACCEPTED, axum::Json(accepted)).into_response(),
        object,
        detail,
    ))
}

#[utoipa::path(get, path = "/api/v1/bots/{bot}/broadcasts/{id}",
    params(("bot" = String, Path), ("id" = i64, Path)),
    responses(
        (status = 200, body = BroadcastOut),
        Refused,
    ))]
async fn get_broadcast(State(state): State<ApiState>, path: BotPath) -> Result<Response, ApiError> {
    let id = path.number("id", "broadcast")?;
    let store = &state.runtime.store;
    let (recipients, _) = store
        .broadcast(path.id(), id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no broadcast {id}")))?;
    let mut counts = Counts::default();
    for (status, n) in store
        .broadcast_counts(path.id(), id, (state.runtime.clock)())
        .await
        .map_err(ApiError::internal)?
    {
        counts.add(&status, n);
    }
    Ok(axum::Json(BroadcastOut { id, recipients, counts }).into_response())
}

#[utoipa::path(delete, path = "/api/v1/bots/{bot}/broadcasts/{id}",
    params(("bot" = String, Path), ("id" = i64, Path)),
    responses(
        (status = 200, description = "What was not taken for sending yet is cancelled", body = BroadcastCancelled),
        Refused,
    ))]
async fn cancel_broadcast(State(state): State<ApiState>, path: BotPath) -> Result<Response, ApiError> {
    let id = path.number("id", "broadcast")?;
    let store = &state.runtime.store;
    if store
        .broadcast(path.id(), id)
        .await
        .map_err(ApiError::internal)?
        .is_none()
    {
        return Err(ApiError::not_found(format!("no broadcast {id}")));
    }
    let n = store
        .cancel_broadcast(path.id(), id, (state.runtime.clock)())
        .await
        .map_err(ApiError::internal)?;
    Ok(axum::Json(BroadcastCancelled {
        id,
        cancelled: n as i64,
    })
    .into_response())
}

// ----- users -----

fn principal_out(p: &Principal) -> PrincipalOut {
    PrincipalOut {
        kind: p.kind.clone(),
        id: p.id.clone(),
        name: p.name.clone(),
    }
}

#[utoipa::path(get, path = "/api/v1/bots/{bot}/insights",
    params(
        ("bot" = String, Path),
        ("from" = Option<String>, Query, description = "RFC 3339, included; default: 7 days before `to`"),
        ("to" = Option<String>, Query, description = "RFC 3339, excluded; default: now"),
    ),
    responses(
        (status = 200, description = "What users did in the period (api.md, Insights)", body = Insights),
        Malformed,
        Refused,
    ))]
async fn get_insights(
    State(state): State<ApiState>,
    path: BotPath,
    uri: axum::http::Uri,
) -> Result<Response, ApiError> {
    let Query(q) = Query::<HashMap<String, String>>::try_from_uri(&uri)
        .map_err(|e| ApiError::bad_request(None, format!("the query is not understood: {e}")))?;
    let now = (state.runtime.clock)();
    let (from, to) =
        crate::store::insights::period(q.get("from").map(String::as_str), q.get("to").map(String::as_str), now)
            .map_err(|(field, why)| ApiError::bad_request(Some(field), why))?;
    let bot = path.bot.current();
    let insights = state
        .runtime
        .store
        .insights(&bot, from, to)
        .await
        .map_err(ApiError::internal)?;
    Ok(axum::Json(insights).into_response())
}

#[utoipa::path(get, path = "/api/v1/bots/{bot}/users",
    params(
        ("bot" = String, Path),
        ("limit" = Option<i64>, Query, description = "At most 1000 (default 100)"),
        ("after" = Option<i64>, Query, description = "Only users with a greater key"),
        ("q" = Option<String>, Query, description = "Only users whose key, name or principal contains this (any case)"),
    ),
    responses(
        (status = 200, description = "By key", body = Vec<UserOut>),
        Malformed,
        Refused,
    ))]
async fn list_users(State(state): State<ApiState>, path: BotPath, q: ListQuery) -> Result<Response, ApiError> {
    let users = state
        .runtime
        .store
        .users_list(path.id(), q.search.as_deref(), q.after, q.limit)
        .await
        .map_err(ApiError::internal)?;
    let items: Vec<UserOut> = users
        .into_iter()
        .map(|(key, p, name, at)| {
            Ok(UserOut {
                key,
                name,
                principal: principal_out(&p),
                registered_at: queries::shown_time("registrations", key, &at)?,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(axum::Json(items).into_response())
}

fn key_of(path: &BotPath) -> Result<i64, ApiError> {
    let raw = path.params.get("key").map(String::as_str).unwrap_or("");
    raw.parse()
        .map_err(|_| ApiError::bad_request(Some("key"), "must be a chat id (an integer)"))
}

#[utoipa::path(put, path = "/api/v1/bots/{bot}/users/{key}",
    params(("bot" = String, Path), ("key" = i64, Path, description = "The user's chat id")),
    request_body = UserIn,
    responses(
        (status = 200, description = "Registered; the user is sent `auth_success`", body = UserRegistered),
        Malformed,
        Refused,
        TooLarge,
        (status = 422, description = "The chat has never talked to the bot", body = ErrorBody),
    ))]
async fn put_user(
    State(state): State<ApiState>,
    path: BotPath,
    JsonBody(request): JsonBody<UserIn>,
) -> Result<Response, ApiError> {
    let key = key_of(&path)?;
    let p = request.principal;
    for (field, value) in [
        ("principal.kind", &p.kind),
        ("principal.id", &p.id),
        ("principal.name", &p.name),
    ] {
        if value.trim().is_empty() {
            return Err(ApiError::bad_request(Some(field), "must be a non-empty string"));
        }
    }
    let principal = Principal {
        kind: p.kind,
        id: p.id,
        name: p.name,
    };
    let definition = path.bot.current();
    let now = (state.runtime.clock)();
    let p = principal.clone();
    in_transaction(&state, path.id(), move |world| {
        if definition.auth.as_ref().is_some_and(|a| a.required) && key < 0 {
            return Err(ApiError::unprocessable(
                Some("key"),
                "a closed bot registers users in private chats only",
            ));
        }
        let name = match compose::known_chat(world, key)? {
            true => {
                let bot = world.bot.clone();
                let (tx, handle) = world.parts();
                handle
                    .block_on(queries::chat_name(tx, &bot, key))
                    .map_err(ApiError::internal)?
                    .unwrap_or_default()
            }
            false => {
                return Err(ApiError::unprocessable(
                    Some("key"),
                    format!("chat {key} has never talked to the bot"),
                ));
            }
        };
        let user = engine::User {
            id: key,
            chat: key,
            name,
            username: None,
        };
        world.register(key, &p, &user.name, now).map_err(ApiError::internal)?;
        let message = engine::message_for(&definition, world, &user, definition.text(Text::AuthSuccess), &[], now)
            .map_err(ApiError::internal)?;
        let bot = world.bot.clone();
        let (tx, handle) = world.parts();
        handle
            .block_on(queries::enqueue(tx, &bot, &[message], now))
            .map_err(ApiError::internal)
    })
    .await?;
    path.bot.outbox.notify_one();
    let detail = format!("as {}:{} ({})", principal.kind, principal.id, principal.name);
    Ok(audited(
        axum::Json(UserRegistered {
            key,
            principal: principal_out(&principal),
        })
        .into_response(),
        None,
        detail,
    ))
}

#[utoipa::path(delete, path = "/api/v1/bots/{bot}/users/{key}",
    params(("bot" = String, Path), ("key" = i64, Path)),
    responses(
        (status = 204, description = "Unregistered"),
        Malformed,
        Refused,
    ))]
async fn delete_user(State(state): State<ApiState>, path: BotPath) -> Result<Response, ApiError> {
    let key = key_of(&path)?;
    let had = state
        .runtime
        .store
        .unregister(path.id(), key)
        .await
        .map_err(ApiError::internal)?;
    if let Some(cache) = &state.runtime.cache {
        cache.invalidate(path.id());
    }
    if !had {
        return Err(ApiError::not_found(format!("no user {key} is registered")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ----- authorization requests -----

#[utoipa::path(get, path = "/api/v1/bots/{bot}/auth-requests",
    params(
        ("bot" = String, Path),
        ("status" = Option<String>, Query, description = "pending, approved or rejected"),
        ("limit" = Option<i64>, Query, description = "At most 1000 (default 100)"),
        ("after" = Option<i64>, Query, description = "Only requests with a greater id"),
    ),
    responses(
        (status = 200, description = "The oldest first", body = Vec<AuthRequestOut>),
        Malformed,
        Refused,
    ))]
async fn list_auth_requests(State(state): State<ApiState>, path: BotPath, q: ListQuery) -> Result<Response, ApiError> {
    let status = q.status_in(&["pending", "approved", "rejected"])?;
    let rows = state
        .runtime
        .store
        .auth_requests_page(path.id(), status, q.after, q.limit)
        .await
        .map_err(ApiError::internal)?;
    let items: Vec<AuthRequestOut> = rows
        .into_iter()
        .map(|r| {
            Ok(AuthRequestOut {
                created_at: queries::shown_time("auth_requests", r.id, &r.created_at)?,
                id: r.id,
                key: r.key,
                name: r.name,
                data: r.data,
                status: r.status,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(axum::Json(items).into_response())
}

enum Decision {
    Approve(PrincipalPartial),
    Reject(String),
}

async fn decide(state: ApiState, path: BotPath, decision: Decision) -> Result<Response, ApiError> {
    let id = path.number("id", "authorization request")?;
    let id = u64::try_from(id).map_err(|_| ApiError::not_found(format!("no authorization request {id}")))?;
    let definition = path.bot.current();
    let now = (state.runtime.clock)();
    let detail = match &decision {
        Decision::Approve(p) => {
            let part = |v: &Option<String>| v.clone().unwrap_or_else(|| "(default)".into());
            format!("as {}:{} ({})", part(&p.kind), part(&p.id), part(&p.name))
        }
        Decision::Reject(reason) => format!("reason {reason:?}"),
    };
    let (status, messages) = in_transaction(&state, path.id(), move |world| {
        let request = world
            .auth_request(id)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(format!("no authorization request {id}")))?;
        let result = match decision {
            Decision::Approve(p) => {
                // Missing parts default as an operator's would: the first kind, the key, the data.
                let principal = Principal {
                    kind: p
                        .kind
                        .filter(|k| !k.is_empty())
                        .or_else(|| definition.auth.as_ref().and_then(|a| a.kinds.first().cloned()))
                        .unwrap_or_else(|| "user".into()),
                    id: p
                        .id
                        .filter(|i| !i.is_empty())
                        .unwrap_or_else(|| request.key.to_string()),
                    name: p.name.filter(|n| !n.is_empty()).unwrap_or_else(|| request.data.clone()),
                };
                engine::approve_request(&definition, world, id, &principal, now).map(|m| ("approved", m))
            }
            Decision::Reject(reason) => {
                engine::reject_request(&definition, world, id, &reason, now).map(|m| ("rejected", m))
            }
        };
        let (status, messages) = result.map_err(|e| match e {
            engine::DecisionError::NotFound => ApiError::not_found(format!("no authorization request {id}")),
            engine::DecisionError::AlreadyDecided => {
                ApiError::conflict(format!("authorization request {id} is already decided"))
            }
            engine::DecisionError::World(e) => ApiError::from(e),
        })?;
        let bot = world.bot.clone();
        let (tx, handle) = world.parts();
        handle
            .block_on(queries::enqueue(tx, &bot, &messages, now))
            .map_err(ApiError::internal)?;
        Ok((status, messages.len()))
    })
    .await?;
    if messages > 0 {
        path.bot.outbox.notify_one();
    }
    Ok(audited(
        axum::Json(StatusOut {
            id: id as i64,
            status: status.into(),
        })
        .into_response(),
        None,
        detail,
    ))
}

#[utoipa::path(post, path = "/api/v1/bots/{bot}/auth-requests/{id}/approve",
    params(("bot" = String, Path), ("id" = i64, Path)),
    request_body = ApproveIn,
    responses(
        (status = 200, description = "Approved; the user is registered and told", body = StatusOut),
        Malformed,
        Refused,
        TooLarge,
        (status = 409, description = "Already decided", body = ErrorBody),
    ))]
async fn approve(
    State(state): State<ApiState>,
    path: BotPath,
    JsonBody(body): JsonBody<ApproveIn>,
) -> Result<Response, ApiError> {
    decide(state, path, Decision::Approve(body.principal.unwrap_or_default())).await
}

#[utoipa::path(post, path = "/api/v1/bots/{bot}/auth-requests/{id}/reject",
    params(("bot" = String, Path), ("id" = i64, Path)),
    request_body = RejectIn,
    responses(
        (status = 200, description = "Rejected; the user is told the reason", body = StatusOut),
        Malformed,
        Refused,
        TooLarge,
        (status = 409, description = "Already decided", body = ErrorBody),
    ))]
async fn reject(
    State(state): State<ApiState>,
    path: BotPath,
    JsonBody(body): JsonBody<RejectIn>,
) -> Result<Response, ApiError> {
    if body.reason.trim().is_empty() {
        return Err(ApiError::bad_request(
            Some("reason"),
            "give the reason as a non-empty string",
        ));
    }
    decide(state, path, Decision::Reject(body.reason)).await
}
