//! `…/broadcasts`: a message to many users (a kind, principals, keys or everyone), read and
//! cancelled.

use super::*;

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
pub(super) async fn post_broadcast(
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
            Audience::Kind(_) | Audience::All(_) => {
                let who = match &to {
                    Audience::Kind(kind) => queries::Registered::Kind(kind),
                    _ => queries::Registered::All,
                };
                let (tx, handle) = world.parts();
                let registered = queries::registered_chats(tx, &bot_id, who, private_only);
                chats.extend(handle.block_on(registered).map_err(ApiError::internal)?);
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
                unknown: serde_json::from_str(&unknown).map_err(|e| {
                    ApiError::from(crate::store::types::StoreError::corrupt(
                        "broadcasts",
                        existing,
                        format!("unknown: {e}"),
                    ))
                })?,
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
pub(super) async fn get_broadcast(State(state): State<ApiState>, path: BotPath) -> Result<Response, ApiError> {
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
pub(super) async fn cancel_broadcast(State(state): State<ApiState>, path: BotPath) -> Result<Response, ApiError> {
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
