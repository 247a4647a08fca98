//! `…/users`: registered users listed, registered or changed, and removed; and the bot's
//! insights.

use super::*;

pub(super) fn principal_out(p: &Principal) -> PrincipalOut {
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
pub(super) async fn get_insights(
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
pub(super) async fn list_users(
    State(state): State<ApiState>,
    path: BotPath,
    q: ListQuery,
) -> Result<Response, ApiError> {
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

pub(super) fn key_of(path: &BotPath) -> Result<i64, ApiError> {
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
pub(super) async fn put_user(
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
pub(super) async fn delete_user(State(state): State<ApiState>, path: BotPath) -> Result<Response, ApiError> {
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
