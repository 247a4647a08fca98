//! The teloxide adapter: long polling, turning updates into engine events,
//! committing each update with its state change, and sending the outbox
//! within Telegram's limits.
//!
//! **Invariant:** an update's offset is confirmed to Telegram only after its
//! state change, its outgoing messages and its update id are committed in
//! one transaction; a redelivered update is recognised by its id and not
//! handled twice. **Invariant:** no token appears in any log line: every
//! error text from the Bot API client passes through [`redact`].

mod chats;
mod queues;
mod sender;
mod upkeep;
pub mod webhook;

pub use chats::{Arrived, Chats};
pub use sender::run_sender;
pub use upkeep::run_upkeep;

use crate::engine::{self, Event, Outgoing, User};
use crate::model::CompiledBot;
use crate::runtime::{Runtime, ServedBot};
use crate::texts::Text;
use chrono::{DateTime, FixedOffset};
use std::sync::Arc;
use std::time::Duration;
use teloxide::prelude::*;
use teloxide::types::{AllowedUpdate, MaybeInaccessibleMessage, UpdateKind};
use tokio::sync::watch;

/// Hides a bot token (and anything shaped like one) in a text that may carry a request URL.
pub fn redact(text: &str, token: &str) -> String {
    let text = if token.is_empty() {
        text.to_string()
    } else {
        text.replace(token, "<token>")
    };
    crate::algorithms::redact_url(&text)
}

/// Long polling for one bot until shutdown. Each batch of updates is stored in the
/// inbox first; only then does the offset move past it (Telegram forgets them), and
/// then they go to their chats' queues.
pub async fn run_poller(runtime: Arc<Runtime>, chats: Arc<Chats>, bot: Arc<ServedBot>, poll_timeout: u32) {
    let mut offset: i32 = 0;
    let mut backoff = Duration::from_millis(500);
    let mut shutdown = runtime.shutdown.clone();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let request = bot
            .api
            .get_updates()
            .offset(offset)
            .timeout(poll_timeout)
            .allowed_updates(vec![AllowedUpdate::Message, AllowedUpdate::CallbackQuery]);
        let result = tokio::select! {
            r = request.send() => r,
            _ = shutdown.changed() => break,
        };
        let updates = match result {
            Ok(u) => {
                backoff = Duration::from_millis(500);
                u
            }
            Err(teloxide::RequestError::RetryAfter(s)) => {
                tracing::warn!(bot = %bot.id, seconds = s.seconds(), "getUpdates: Telegram asks to retry later");
                sleep_or_shutdown(s.duration(), &mut shutdown).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(bot = %bot.id, error = %redact(&e.to_string(), &bot.token), retry_in_ms = backoff.as_millis() as u64, "getUpdates failed");
                sleep_or_shutdown(backoff, &mut shutdown).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        let Some(last) = updates.iter().map(|u| u.id.0).max() else {
            continue;
        };
        let items: Vec<Arrived> = updates.into_iter().map(Arrived::from_update).collect();
        match chats.receive(&bot, items).await {
            Ok(()) => offset = last as i32 + 1,
            Err(e) => {
                // Not confirmed: Telegram gives the same updates again.
                tracing::error!(bot = %bot.id, error = %e, "cannot store received updates; they will be fetched again");
                sleep_or_shutdown(backoff, &mut shutdown).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
    tracing::info!(bot = %bot.id, "polling stopped");
}

async fn sleep_or_shutdown(d: Duration, shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = shutdown.changed() => {}
    }
}

/// The chat an update belongs to (0 for kinds without one).
pub fn chat_of(u: &Update) -> i64 {
    match &u.kind {
        UpdateKind::Message(m) => m.chat.id.0,
        UpdateKind::CallbackQuery(q) => q.message.as_ref().map(|m| m.chat().id.0).unwrap_or(q.from.id.0 as i64),
        _ => 0,
    }
}

/// An update as the engine sees it.
pub struct Incoming {
    pub update_id: u32,
    pub user: User,
    pub event: Event,
    pub callback: Option<String>,
}

/// Turns a Telegram update into an engine event; `None` for kinds the bots do not handle.
pub fn incoming(u: &Update) -> Option<Incoming> {
    let to_user = |from: &teloxide::types::User, chat: i64| User {
        id: from.id.0 as i64,
        chat,
        name: from.full_name(),
        username: from.username.clone(),
    };
    match &u.kind {
        UpdateKind::Message(m) => {
            let from = m.from.as_ref()?;
            let event = match m.text() {
                Some(t) => Event::Text(t.to_string()),
                None => attachment_of(m).map(Event::Attachment).unwrap_or(Event::Unsupported),
            };
            Some(Incoming {
                update_id: u.id.0,
                user: to_user(from, m.chat.id.0),
                event,
                callback: None,
            })
        }
        UpdateKind::CallbackQuery(q) => {
            let chat = match &q.message {
                Some(MaybeInaccessibleMessage::Regular(m)) => m.chat.id.0,
                Some(MaybeInaccessibleMessage::Inaccessible(m)) => m.chat.id.0,
                None => q.from.id.0 as i64,
            };
            Some(Incoming {
                update_id: u.id.0,
                user: to_user(&q.from, chat),
                event: Event::Button(q.data.clone().unwrap_or_default()),
                callback: Some(q.id.0.clone()),
            })
        }
        _ => None,
    }
}

/// A document, the largest size of a photo, a contact or a location, as an `input` takes it.
fn attachment_of(m: &teloxide::types::Message) -> Option<engine::Attachment> {
    if let Some(d) = m.document() {
        return Some(engine::Attachment::Document {
            file_id: d.file.id.0.clone(),
            name: d.file_name.clone().unwrap_or_default(),
            mime: d
                .mime_type
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_else(|| "application/octet-stream".into()),
            size: u64::from(d.file.size),
        });
    }
    if let Some(largest) = m
        .photo()
        .and_then(|sizes| sizes.iter().max_by_key(|p| p.width * p.height))
    {
        return Some(engine::Attachment::Photo {
            file_id: largest.file.id.0.clone(),
            width: largest.width,
            height: largest.height,
        });
    }
    if let Some(c) = m.contact() {
        return Some(engine::Attachment::Contact {
            phone: c.phone_number.clone(),
            first_name: c.first_name.clone(),
            user_id: c.user_id.map(|u| u.0 as i64),
        });
    }
    m.location().map(|l| engine::Attachment::Location {
        latitude: l.latitude,
        longitude: l.longitude,
    })
}

pub(crate) fn too_many_requests(bot: &CompiledBot, user: &User, now: DateTime<FixedOffset>) -> Outgoing {
    let vars = indexmap::IndexMap::new();
    let ctx = crate::expr::Context {
        vars: &vars,
        now,
        tz: bot.timezone,
    };
    let text = crate::expr::render(bot.text(Text::TooManyRequests), &ctx, true).unwrap_or_default();
    Outgoing::text(user.chat, text, engine::Keyboard::None)
}
