//! Webhook mode: Telegram POSTs each bot's updates to `URL/ID`; every
//! instance behind one URL accepts any delivery.
//!
//! **Invariant:** a delivery is answered 2xx only after its update is
//! stored in the inbox; otherwise Telegram delivers it again (to any
//! instance). A delivery that comes twice is stored, and handled, once.

use super::{Arrived, Chats, ServedBot};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The secret token of a bot's webhook: derived from its token, so that every instance agrees.
pub fn secret_for(token: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"botwright-webhook:")
        .chain_update(token.as_bytes())
        .finalize();
    digest.iter().take(24).map(|b| format!("{b:02x}")).collect()
}

#[derive(Clone)]
struct WebhookState {
    chats: Arc<Chats>,
    bots: Arc<Vec<Arc<ServedBot>>>,
}

/// Routes `POST {base_path}/{bot}` for every served bot.
pub fn router(chats: Arc<Chats>, bots: Arc<Vec<Arc<ServedBot>>>, base_path: &str) -> Router {
    let base = base_path.trim_end_matches('/');
    Router::new()
        .route(&format!("{base}/{{bot}}"), axum::routing::post(receive))
        .with_state(WebhookState { chats, bots })
}

async fn receive(
    State(state): State<WebhookState>,
    Path(bot): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(served) = state.bots.iter().find(|b| b.id == bot).cloned() else {
        return StatusCode::NOT_FOUND;
    };
    let given = headers
        .get("x-telegram-bot-api-secret-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Compared in constant time: the time taken says nothing about how much of it matched.
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        given.as_bytes(),
        secret_for(&served.token).as_bytes(),
    )) {
        tracing::warn!(bot = %bot, "a webhook delivery with a wrong secret token was refused");
        return StatusCode::UNAUTHORIZED;
    }
    let update: teloxide::types::Update = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            // It can never be handled; answering an error would make Telegram repeat it forever.
            tracing::warn!(bot = %bot, error = %e, "a webhook delivery that is not an update was dropped");
            return StatusCode::OK;
        }
    };
    match state.chats.receive(&served, vec![Arrived::from_update(update)]).await {
        Ok(()) => StatusCode::OK,
        Err(e) => {
            tracing::error!(bot = %bot, error = %e, "an update could not be stored; Telegram will deliver it again");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}
