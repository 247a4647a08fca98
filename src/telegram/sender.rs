//! Sends the outbox of one bot: in order per chat, within Telegram's limits
//! (per bot and per chat), waiting out `retry_after`, backing off on network
//! errors and server failures.

use super::{Runtime, ServedBot, redact};
use crate::engine::Keyboard;
use crate::store::sql::OutboxMessage;
use chrono::{DateTime, FixedOffset};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use teloxide::prelude::*;
use teloxide::types::{
    InlineKeyboardButton, InlineKeyboardMarkup, InputFile, KeyboardButton, KeyboardMarkup, KeyboardRemove, ParseMode,
    ReplyMarkup,
};
use teloxide::{ApiError, RequestError};

/// How many times a message is tried before it is `failed` (a 429 is not a try).
pub const MAX_ATTEMPTS: i64 = 5;
/// Sending limits: a token bucket per bot and one per chat.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Messages a second per bot (Telegram allows about 30).
    pub per_bot: f64,
    /// Messages a second to one chat, after a short burst.
    pub per_chat: f64,
    pub chat_burst: f64,
    /// After this long a message claimed by another instance is taken over (it died sending).
    pub stale_claim: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            per_bot: 30.0,
            per_chat: 1.0,
            chat_burst: 5.0,
            stale_claim: crate::store::sql::STALE_CLAIM,
        }
    }
}

/// A token bucket: `capacity` tokens, refilled at `rate` per second.
struct Bucket {
    tokens: f64,
    capacity: f64,
    rate: f64,
    at: Instant,
}

impl Bucket {
    fn new(capacity: f64, rate: f64) -> Bucket {
        Bucket {
            tokens: capacity,
            capacity,
            rate,
            at: Instant::now(),
        }
    }

    /// Takes a token, or says how long until one is available.
    fn take(&mut self) -> Result<(), Duration> {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.capacity);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// What happened to one send.
enum Sent {
    Ok(i64),
    RetryAfter(Duration),
    Transient(String),
    Permanent(String),
    BadMarkup,
}

pub async fn run_sender(runtime: Arc<Runtime>, bot: Arc<ServedBot>) {
    let mut shutdown = runtime.shutdown.clone();
    let limits = runtime.limits;
    let mut per_bot = Bucket::new(limits.per_bot.max(1.0), limits.per_bot);
    let mut per_chat: HashMap<i64, Bucket> = HashMap::new();
    loop {
        let now = (runtime.clock)();
        // Claimed: one message per chat at a time, never the same message by two instances.
        let batch = match runtime.store.claim_due(&bot.id, now, 100, limits.stale_claim).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(bot = %bot.id, error = %e, "cannot read the outbox");
                Vec::new()
            }
        };
        let mut sent_any = false;
        let mut next_wake = Duration::from_millis(500);
        for m in batch {
            // A chat at its limit waits without holding up the other chats; so does everything at shutdown.
            let chat_bucket = per_chat
                .entry(m.chat)
                .or_insert_with(|| Bucket::new(limits.chat_burst, limits.per_chat));
            let ready = if *shutdown.borrow() {
                Err(Duration::ZERO)
            } else {
                chat_bucket.take()
            };
            if let Err(wait) = ready {
                if let Err(e) = runtime.store.release(m.id).await {
                    tracing::error!(bot = %bot.id, error = %e, "cannot release a message");
                }
                next_wake = next_wake.min(wait.max(Duration::from_millis(10)));
                continue;
            }
            while let Err(wait) = per_bot.take() {
                tokio::time::sleep(wait).await;
            }
            sent_any = true;
            deliver(&runtime, &bot, &m).await;
        }
        if *shutdown.borrow() {
            break;
        }
        if !sent_any {
            tokio::select! {
                _ = bot.outbox.notified() => {}
                _ = tokio::time::sleep(next_wake) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
    tracing::info!(bot = %bot.id, "sender stopped");
}

/// Sends one message (its text, then its attachments, resuming after the
/// parts already acknowledged) and records the outcome.
async fn deliver(runtime: &Runtime, bot: &ServedBot, m: &OutboxMessage) {
    let mut text = m.text.clone();
    let mut part = m.parts_sent;
    let parts = 1 + m.attachments.len() as i64;
    let mut claim = m.claimed_at.clone();
    while part < parts {
        // A message whose claim was taken over (this sender was too slow) is the other sender's now.
        match runtime.store.renew_claim(m.id, &claim, (runtime.clock)()).await {
            Ok(Some(renewed)) => claim = renewed,
            Ok(None) => {
                tracing::warn!(bot = %bot.id, message = m.id, "another sender took this message over");
                return;
            }
            Err(e) => {
                tracing::error!(bot = %bot.id, error = %e, "cannot renew a claim");
                return;
            }
        }
        let outcome = if part == 0 {
            send(bot, m.chat, &text, &m.keyboard).await
        } else {
            send_document(bot, m.chat, &m.attachments[(part - 1) as usize]).await
        };
        let now: DateTime<FixedOffset> = (runtime.clock)();
        let stored = match outcome {
            Sent::Ok(id) => {
                part += 1;
                let telegram_id = (part == 1).then_some(id);
                if let Err(e) = runtime.store.mark_part_sent(m.id, part, telegram_id).await {
                    tracing::error!(bot = %bot.id, error = %e, "cannot record a sent part");
                }
                continue;
            }
            Sent::RetryAfter(d) => {
                tracing::warn!(bot = %bot.id, seconds = d.as_secs(), "Telegram asks to slow down");
                tokio::time::sleep(d).await;
                continue;
            }
            Sent::BadMarkup if part == 0 && text == m.text => {
                // Telegram rejected the HTML: send the same text escaped.
                text = crate::expr::escape_html(&m.text);
                let _ = runtime.store.replace_text(m.id, &text).await;
                continue;
            }
            Sent::BadMarkup => {
                runtime
                    .store
                    .mark_failed(m.id, m.attempts + 1, "Telegram rejected the message's markup")
                    .await
            }
            Sent::Permanent(e) => {
                crate::metrics::SEND_FAILURES.inc();
                tracing::warn!(bot = %bot.id, chat = m.chat, error = %e, "message failed");
                runtime.store.mark_failed(m.id, m.attempts + 1, &e).await
            }
            Sent::Transient(e) => {
                crate::metrics::SEND_FAILURES.inc();
                let attempts = m.attempts + 1;
                if attempts >= MAX_ATTEMPTS {
                    tracing::warn!(bot = %bot.id, chat = m.chat, error = %e, attempts, "message failed after retries");
                    runtime.store.mark_failed(m.id, attempts, &e).await
                } else {
                    let delay = chrono::Duration::milliseconds(500 * (1 << attempts));
                    tracing::info!(bot = %bot.id, chat = m.chat, error = %e, attempts, "sending failed; retrying later");
                    let _ = runtime.store.mark_retry(m.id, attempts, now + delay, &e).await;
                    return;
                }
            }
        };
        if let Err(e) = stored {
            tracing::error!(bot = %bot.id, error = %e, "cannot record a message's status");
        }
        return;
    }
    crate::metrics::MESSAGES_SENT.inc();
    if let Err(e) = runtime.store.mark_sent(m.id, (runtime.clock)()).await {
        tracing::error!(bot = %bot.id, error = %e, "cannot record a message's status");
    }
}

async fn send_document(bot: &ServedBot, chat: i64, a: &crate::store::sql::Attachment) -> Sent {
    use base64::Engine;
    let file = match (&a.content_base64, &a.url) {
        (Some(content), _) => match base64::engine::general_purpose::STANDARD.decode(content) {
            Ok(bytes) => InputFile::memory(bytes).file_name(a.name.clone()),
            Err(e) => return Sent::Permanent(format!("attachment {} is not base64: {e}", a.name)),
        },
        (None, Some(url)) => match url::Url::parse(url) {
            Ok(u) => InputFile::url(u).file_name(a.name.clone()),
            Err(e) => return Sent::Permanent(format!("attachment {} has a bad URL: {e}", a.name)),
        },
        (None, None) => return Sent::Permanent(format!("attachment {} has no content", a.name)),
    };
    match bot.api.send_document(ChatId(chat), file).await {
        Ok(message) => Sent::Ok(message.id.0 as i64),
        Err(e) => classify(e, &bot.token),
    }
}

fn markup(keyboard: &Keyboard) -> Option<ReplyMarkup> {
    match keyboard {
        Keyboard::None => None,
        Keyboard::Inline(rows) => Some(ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new(rows.iter().map(
            |r| {
                r.iter()
                    .map(|b| InlineKeyboardButton::callback(b.label.clone(), b.data.clone()))
                    .collect::<Vec<_>>()
            },
        )))),
        Keyboard::Menu(rows) => Some(ReplyMarkup::Keyboard(
            KeyboardMarkup::new(
                rows.iter()
                    .map(|r| r.iter().map(|b| KeyboardButton::new(b.clone())).collect::<Vec<_>>()),
            )
            .resize_keyboard(),
        )),
        Keyboard::RemoveMenu => Some(ReplyMarkup::KeyboardRemove(KeyboardRemove::new())),
        Keyboard::Links(rows) => Some(ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new(rows.iter().map(
            |r| {
                r.iter()
                    .filter_map(|b| {
                        url::Url::parse(&b.url)
                            .ok()
                            .map(|u| InlineKeyboardButton::url(b.text.clone(), u))
                    })
                    .collect::<Vec<_>>()
            },
        )))),
    }
}

async fn send(bot: &ServedBot, chat: i64, text: &str, keyboard: &Keyboard) -> Sent {
    let mut request = bot.api.send_message(ChatId(chat), text).parse_mode(ParseMode::Html);
    if let Some(m) = markup(keyboard) {
        request = request.reply_markup(m);
    }
    match request.await {
        Ok(message) => Sent::Ok(message.id.0 as i64),
        Err(e) => classify(e, &bot.token),
    }
}

fn classify(e: RequestError, token: &str) -> Sent {
    match e {
        RequestError::RetryAfter(s) => Sent::RetryAfter(s.duration()),
        RequestError::Api(ApiError::CantParseEntities(_)) => Sent::BadMarkup,
        // Unknown API answers include Telegram's own 5xx failures: worth another try.
        RequestError::Api(ApiError::Unknown(d)) => Sent::Transient(redact(&d, token)),
        RequestError::Api(other) => Sent::Permanent(redact(&other.to_string(), token)),
        other => Sent::Transient(redact(&other.to_string(), token)),
    }
}
