//! Sends the outbox of one bot: in order per chat, within Telegram's limits
//! (per bot and per chat), waiting out `retry_after`, backing off on network
//! errors and server failures.

use super::queues::Queues;
use super::redact;
use crate::engine::Keyboard;
use crate::runtime::{Runtime, ServedBot};
use crate::store::types::{Delivery, OutboxMessage};
use chrono::{DateTime, FixedOffset};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use teloxide::prelude::*;
use teloxide::types::{
    ButtonRequest, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, KeyboardButton, KeyboardMarkup,
    KeyboardRemove, ParseMode, ReplyMarkup,
};
use teloxide::{ApiError, RequestError};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How many times a message is tried before it is `failed` (a 429 is not a try).
pub const MAX_ATTEMPTS: i64 = 5;
/// Sends in flight at once per bot (each to another chat).
const IN_FLIGHT: usize = 64;
/// How often the sender claims messages nobody sends (scheduled ones, retries, leftovers)
/// when nothing wakes it earlier.
const CLAIM_EVERY: Duration = Duration::from_secs(1);
/// How often a sender looks again whether the lease holds, while it does not.
const LEASE_CHECK: Duration = Duration::from_millis(50);

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
    /// A part with nothing to send (the empty text of a message of files alone).
    Skipped,
    RetryAfter(Duration),
    Transient(String),
    Permanent(String),
    Blocked(String),
    BadMarkup,
}

/// Sends one bot's messages until shutdown: what this instance committed (from memory),
/// and what it claims from the outbox. Each outcome is recorded (in batches) before the
/// chat's next message goes, so that a crash resends at most one message per chat.
///
/// `stop` is separate from the runtime's shutdown: at a graceful stop the senders go on
/// until the updates already received are handled, so that their replies go out.
pub async fn run_sender(runtime: Arc<Runtime>, bot: Arc<ServedBot>, mut shutdown: watch::Receiver<bool>) {
    let Some(mut committed) = bot.to_send_rx.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return;
    };
    let limits = runtime.limits;
    let mut per_bot = Bucket::new(limits.per_bot.max(1.0), limits.per_bot);
    let mut per_chat: HashMap<i64, Bucket> = HashMap::new();
    let mut queues = Queues::default();
    let mut in_flight: JoinSet<i64> = JoinSet::new();
    let mut claim_at = Instant::now();
    let mut claim_now = true;
    loop {
        let stopping = *shutdown.borrow();
        if stopping {
            break;
        }
        // A new lease term: what was taken in an earlier one may be another instance's now.
        let term = runtime.lease.term();
        if term != queues.term {
            let stale = queues.new_term(term);
            claim_now |= hand_back(&runtime, stale).await;
        }
        if claim_now || Instant::now() >= claim_at {
            claim_now = false;
            claim_at = Instant::now() + CLAIM_EVERY;
            match runtime
                .store
                .claim(&bot.id, &runtime.instance, (runtime.clock)(), 200)
                .await
            {
                Ok(claimed) => claimed.into_iter().for_each(|mut m| {
                    m.term = term;
                    queues.claimed.insert(m.chat);
                    queues.push(m)
                }),
                Err(e) => tracing::error!(bot = %bot.id, error = %e, "cannot claim from the outbox"),
            }
        }
        // Chats whose rate limit has passed may send again.
        let now = Instant::now();
        let mut due = Vec::new();
        queues.waiting.retain(|(until, chat)| {
            if *until <= now {
                due.push(*chat);
                false
            } else {
                true
            }
        });
        due.into_iter().for_each(|chat| queues.make_ready(chat));
        let mut wake = claim_at;
        // Nothing is sent while the lease may have run out (see `runtime::Lease`).
        let holds = runtime.lease.holds();
        if !holds {
            wake = wake.min(now + LEASE_CHECK);
        }
        while holds && in_flight.len() < IN_FLIGHT {
            let Some(chat) = queues.next_ready() else {
                break;
            };
            if queues.busy.contains(&chat) || queues.chats.get(&chat).is_none_or(VecDeque::is_empty) {
                continue;
            }
            let bucket = per_chat
                .entry(chat)
                .or_insert_with(|| Bucket::new(limits.chat_burst, limits.per_chat));
            if let Err(wait) = bucket.take() {
                queues.waiting.push((now + wait, chat));
                continue;
            }
            if let Err(wait) = per_bot.take() {
                queues.put_back(chat);
                wake = wake.min(now + wait);
                break;
            }
            let m = queues
                .chats
                .get_mut(&chat)
                .and_then(VecDeque::pop_front)
                .expect("checked above");
            queues.busy.insert(chat);
            let runtime = runtime.clone();
            let bot = bot.clone();
            in_flight.spawn(async move {
                let outcome = deliver(&runtime, &bot, &m).await;
                if let Some(delivery) = outcome {
                    runtime.deliveries.submit(delivery).await;
                }
                m.chat
            });
        }
        if let Some(until) = queues.waiting.iter().map(|(until, _)| *until).min() {
            wake = wake.min(until);
        }
        if per_chat.len() > 100_000 {
            per_chat.retain(|chat, _| queues.chats.contains_key(chat));
        }
        tokio::select! {
            m = committed.recv() => match m {
                Some(m) => {
                    let mut stale = queues.arrive(m);
                    while let Ok(m) = committed.try_recv() {
                        stale.extend(queues.arrive(m));
                    }
                    claim_now |= hand_back(&runtime, stale).await;
                }
                None => break,
            },
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                match done {
                    Ok(chat) => {
                        claim_now |= queues.claimed.remove(&chat);
                        queues.done(chat)
                    }
                    Err(e) => tracing::error!(bot = %bot.id, error = %e, "a send task failed"),
                }
            }
            _ = bot.outbox.notified() => claim_now = true,
            _ = tokio::time::sleep_until(wake.into()) => {}
            _ = shutdown.changed() => {}
        }
    }
    // Stopping: what is in flight finishes and is recorded; what waits goes back to the
    // outbox for the next instance (or the next start).
    while in_flight.join_next().await.is_some() {}
    while let Ok(m) = committed.try_recv() {
        queues.push(m);
    }
    if !queues.is_empty() {
        for m in queues.chats.into_values().flatten() {
            runtime.deliveries.submit(Delivery::Released { id: m.id }).await;
        }
    }
    tracing::info!(bot = %bot.id, "sender stopped");
}

/// Hands messages back to the outbox (see [`Queues::arrive`]); whether there were any, so
/// that the sender claims them again at once. A message another instance took over
/// meanwhile stays its own: `Released` applies only to this instance's messages.
async fn hand_back(runtime: &Runtime, messages: Vec<OutboxMessage>) -> bool {
    let any = !messages.is_empty();
    for m in messages {
        runtime.deliveries.submit(Delivery::Released { id: m.id }).await;
    }
    any
}

/// Sends one message (its text, then its attachments, resuming after the parts already
/// acknowledged); gives the outcome to record.
async fn deliver(runtime: &Runtime, bot: &ServedBot, m: &OutboxMessage) -> Option<Delivery> {
    let mut text = m.text.clone();
    let mut part = m.parts_sent;
    let parts = 1 + m.attachments.len() as i64;
    let mut telegram_id = None;
    while part < parts {
        let outcome = if part == 0 && text.is_empty() && !m.attachments.is_empty() {
            // Files alone (an algorithm result with only `attachments`): no text to send.
            Sent::Skipped
        } else if part == 0 {
            send(bot, m.chat, &text, &m.keyboard).await
        } else {
            send_file(bot, m.chat, &m.attachments[(part - 1) as usize]).await
        };
        let now: DateTime<FixedOffset> = (runtime.clock)();
        match outcome {
            Sent::Ok(_) | Sent::Skipped => {
                if let Sent::Ok(id) = outcome
                    && telegram_id.is_none()
                {
                    telegram_id = Some(id);
                }
                part += 1;
                if part < parts {
                    // Recorded before the next part, so that a retry resumes here.
                    runtime
                        .deliveries
                        .submit(Delivery::PartSent {
                            id: m.id,
                            parts: part,
                            telegram_id,
                        })
                        .await;
                }
            }
            Sent::RetryAfter(d) => {
                tracing::warn!(bot = %bot.id, seconds = d.as_secs(), "Telegram asks to slow down");
                tokio::time::sleep(d).await;
            }
            Sent::BadMarkup if part == 0 && text == m.text => {
                // Telegram rejected the HTML: send the same text escaped.
                text = crate::expr::escape_html(&m.text);
                runtime
                    .deliveries
                    .submit(Delivery::TextReplaced {
                        id: m.id,
                        text: text.clone(),
                    })
                    .await;
            }
            Sent::BadMarkup => {
                return Some(Delivery::Failed {
                    id: m.id,
                    attempts: m.attempts + 1,
                    error: "Telegram rejected the message's markup".into(),
                    at: now,
                });
            }
            Sent::Blocked(e) => {
                tracing::info!(bot = %bot.id, chat = m.chat, error = %e, "the user blocked the bot");
                return Some(Delivery::Blocked {
                    id: m.id,
                    error: e,
                    at: now,
                });
            }
            Sent::Permanent(e) => {
                crate::metrics::send_failed(&bot.id);
                tracing::warn!(bot = %bot.id, chat = m.chat, error = %e, "message failed");
                return Some(Delivery::Failed {
                    id: m.id,
                    attempts: m.attempts + 1,
                    error: e,
                    at: now,
                });
            }
            Sent::Transient(e) => {
                crate::metrics::send_failed(&bot.id);
                let attempts = m.attempts + 1;
                if attempts >= MAX_ATTEMPTS {
                    tracing::warn!(bot = %bot.id, chat = m.chat, error = %e, attempts, "message failed after retries");
                    return Some(Delivery::Failed {
                        id: m.id,
                        attempts,
                        error: e,
                        at: now,
                    });
                }
                let delay = chrono::Duration::milliseconds(500 * (1 << attempts));
                tracing::info!(bot = %bot.id, chat = m.chat, error = %e, attempts, "sending failed; retrying later");
                // Part progress is kept by PartSent; the retry resumes after it.
                return Some(Delivery::Retry {
                    id: m.id,
                    attempts,
                    due: now + delay,
                    error: e,
                });
            }
        }
    }
    crate::metrics::sent(&bot.id);
    Some(Delivery::Sent {
        id: m.id,
        telegram_id,
        parts,
        at: (runtime.clock)(),
    })
}

/// Sends a file: a photo by its name (`File::is_photo`), else a document.
async fn send_file(bot: &ServedBot, chat: i64, a: &crate::engine::File) -> Sent {
    use base64::Engine;
    let file = match (&a.content_base64, &a.url, &a.file_id) {
        (Some(content), _, _) => match base64::engine::general_purpose::STANDARD.decode(content) {
            Ok(bytes) => InputFile::memory(bytes).file_name(a.name.clone()),
            Err(e) => return Sent::Permanent(format!("attachment {} is not base64: {e}", a.name)),
        },
        (None, Some(url), _) => match url::Url::parse(url) {
            Ok(u) => InputFile::url(u).file_name(a.name.clone()),
            Err(e) => return Sent::Permanent(format!("attachment {} has a bad URL: {e}", a.name)),
        },
        (None, None, Some(id)) => InputFile::file_id(teloxide::types::FileId(id.clone())),
        (None, None, None) => return Sent::Permanent(format!("attachment {} has no content", a.name)),
    };
    let sent = if a.is_photo() {
        bot.api.send_photo(ChatId(chat), file).await
    } else {
        bot.api.send_document(ChatId(chat), file).await
    };
    match sent {
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
        Keyboard::Contact(label) => Some(ReplyMarkup::Keyboard(
            KeyboardMarkup::new([[KeyboardButton::new(label.clone()).request(ButtonRequest::Contact)]])
                .resize_keyboard()
                .one_time_keyboard(),
        )),
        Keyboard::Links(rows) => Some(ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new(rows.iter().map(
            |r| {
                r.iter()
                    .filter_map(|b| match &b.data {
                        Some(data) => Some(InlineKeyboardButton::callback(b.text.clone(), data.clone())),
                        None => url::Url::parse(&b.url)
                            .ok()
                            .map(|u| InlineKeyboardButton::url(b.text.clone(), u)),
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
        RequestError::Api(
            blocked @ (ApiError::BotBlocked
            | ApiError::UserDeactivated
            | ApiError::BotKicked
            | ApiError::CantInitiateConversation),
        ) => Sent::Blocked(redact(&blocked.to_string(), token)),
        RequestError::Api(ApiError::CantParseEntities(_)) => Sent::BadMarkup,
        // Unknown API answers include Telegram's own 5xx failures: worth another try.
        RequestError::Api(ApiError::Unknown(d)) => Sent::Transient(redact(&d, token)),
        RequestError::Api(other) => Sent::Permanent(redact(&other.to_string(), token)),
        other => Sent::Transient(redact(&other.to_string(), token)),
    }
}
