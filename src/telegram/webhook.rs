//! Webhook mode: Telegram POSTs each bot's updates to `URL/ID`; every
//! instance behind one URL accepts any delivery.
//!
//! **Invariant:** a delivery is answered 2xx only after its update is
//! stored in the inbox; otherwise Telegram delivers it again (to any
//! instance). A delivery that comes twice is stored, and handled, once.
//!
//! **Invariant:** the bot and the secret token are checked before any of the
//! body is read, and a bot that is not served is refused exactly as a wrong
//! secret is (cli.md). While the instance stops, deliveries are answered
//! 503 (Telegram repeats them), so that stopping ends.

use super::{Arrived, Chats, ServedBot};
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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

/// The largest delivery read, in bytes: an update is a few kilobytes at most.
pub const MAX_DELIVERY: usize = 2 * 1024 * 1024;

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

/// The answer to a delivery that is not from Telegram: the same for a bot that is not
/// served as for a wrong secret, so that it says nothing about which bots exist.
fn refused() -> Response {
    StatusCode::UNAUTHORIZED.into_response()
}

async fn receive(State(state): State<WebhookState>, Path(bot): Path<String>, request: Request) -> Response {
    if state.chats.stopping() {
        // Telegram delivers it again, to another instance behind the same URL or to this
        // one when it is back; meanwhile what was received is handled before the exit.
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let (parts, body) = request.into_parts();
    let served = state.bots.iter().find(|b| b.id == bot).cloned();
    let given = parts
        .headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.as_bytes())
        .unwrap_or(b"");
    // Checked before the body is read. Compared in constant time: the time taken says
    // nothing about how much of it matched; a bot that is not served is compared too.
    let expected = secret_for(served.as_ref().map_or("", |b| b.token.as_str()));
    let matches = bool::from(subtle::ConstantTimeEq::ct_eq(given, expected.as_bytes()));
    let Some(served) = served.filter(|_| matches) else {
        tracing::warn!(bot = %bot, "a webhook delivery with a wrong secret token, or for no served bot, was refused");
        return refused();
    };
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_DELIVERY as u64) {
        tracing::warn!(bot = %bot, "a webhook delivery over {MAX_DELIVERY} bytes was refused");
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    let body = match axum::body::to_bytes(body, MAX_DELIVERY).await {
        Ok(b) => b,
        Err(e) => {
            // Too large, cut off or too slow: Telegram delivers it again.
            tracing::warn!(bot = %bot, error = %e, "a webhook delivery could not be read");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    let update: teloxide::types::Update = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            // It can never be handled; answering an error would make Telegram repeat it forever.
            tracing::warn!(bot = %bot, error = %e, "a webhook delivery that is not an update was dropped");
            return StatusCode::OK.into_response();
        }
    };
    match state.chats.receive(&served, vec![Arrived::from_update(update)]).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => {
            tracing::error!(bot = %bot, error = %e, "an update could not be stored; Telegram will deliver it again");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
