//! `…/messages`: a message (a text or a notification) to users, read, listed and cancelled.

use super::*;

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
pub(super) async fn post_message(
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

pub(super) fn message_out(
    m: &StoredMessage,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Result<MessageOut, ApiError> {
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
pub(super) async fn get_message(State(state): State<ApiState>, path: BotPath) -> Result<Response, ApiError> {
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
pub(super) async fn list_messages(
    State(state): State<ApiState>,
    path: BotPath,
    q: ListQuery,
) -> Result<Response, ApiError> {
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
pub(super) async fn cancel_message(State(state): State<ApiState>, path: BotPath) -> Result<Response, ApiError> {
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
