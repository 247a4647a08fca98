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
mod broadcasts;
pub mod compose;
mod console;
mod error;
mod extract;
mod messages;
mod requests;
pub mod types;
mod users;

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
use broadcasts::*;
pub use extract::{Authorized, BotPath, JsonBody, ListQuery};
use messages::*;
use requests::*;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use types::*;
use users::*;
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
        messages::post_message,
        messages::list_messages,
        messages::get_message,
        messages::cancel_message,
        broadcasts::post_broadcast,
        broadcasts::get_broadcast,
        broadcasts::cancel_broadcast,
        users::list_users,
        users::put_user,
        users::delete_user,
        requests::list_auth_requests,
        requests::approve,
        requests::reject,
        users::get_insights,
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
