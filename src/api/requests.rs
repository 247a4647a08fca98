//! `…/auth-requests`: authorization requests listed, approved and rejected.

use super::*;

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
pub(super) async fn list_auth_requests(
    State(state): State<ApiState>,
    path: BotPath,
    q: ListQuery,
) -> Result<Response, ApiError> {
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
pub(super) async fn approve(
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
pub(super) async fn reject(
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
