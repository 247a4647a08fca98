//! The console's page and the API routes it adds: who the caller is, the
//! operators, the audit log, the bots with their notifications, a bot's
//! overview and its broadcasts.

use super::access::{self, Audited, Role};
use super::types::*;
use super::{ApiError, ApiState, Authorized, BotPath, JsonBody, ListQuery};
use crate::store::operators::AddOperator;
use crate::store::queries;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, TimeZone, Utc};

/// `GET /console/`: the page (`crate::web`); it needs no token, its API calls do.
pub async fn page() -> Response {
    crate::web::page("console.html", crate::web::CONSOLE_PAGE)
}

#[utoipa::path(get, path = "/api/v1/me",
    responses((status = 200, description = "The token's operator", body = MeOut), Refused))]
pub async fn me(Authorized(caller): Authorized) -> axum::Json<MeOut> {
    axum::Json(MeOut {
        name: caller.name,
        role: caller.role.as_str().into(),
    })
}

#[utoipa::path(get, path = "/api/v1/operators",
    responses((status = 200, description = "Every operator, by name (admins only)", body = Vec<OperatorOut>), Refused,
        (status = 403, description = "Not an admin", body = ErrorBody)))]
pub async fn list_operators(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let rows = state.runtime.store.operators().await.map_err(ApiError::internal)?;
    let list: Vec<OperatorOut> = rows
        .into_iter()
        .map(|r| {
            Ok(OperatorOut {
                created_at: queries::shown_time("operators", &r.name, &r.created_at)?,
                name: r.name,
                role: r.role,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(axum::Json(list).into_response())
}

/// The rule for an operator's name: what the CLI and the API accept.
/// (`api`, BOTWRIGHT_API_TOKEN's name, is taken: [`access::API_OPERATOR`].)
pub fn check_operator_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err("must be 1 to 64 letters, digits, `_`, `-` or `.`".into())
    }
}

#[utoipa::path(post, path = "/api/v1/operators",
    request_body = OperatorIn,
    responses(
        (status = 201, description = "Added; the token is shown this once", body = OperatorAdded),
        Malformed, Refused,
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
    ))]
pub async fn add_operator(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<OperatorIn>,
) -> Result<Response, ApiError> {
    check_operator_name(&body.name).map_err(|why| ApiError::bad_request(Some("name"), why))?;
    if body.name == access::API_OPERATOR {
        return Err(ApiError::conflict("operator `api` exists: it is BOTWRIGHT_API_TOKEN"));
    }
    let role = Role::parse(&body.role)
        .ok_or_else(|| ApiError::bad_request(Some("role"), "must be viewer, operator or admin"))?;
    let token = access::new_token().map_err(|e| ApiError::internal(format!("cannot make a token: {e}")))?;
    let now = (state.runtime.clock)();
    match state
        .runtime
        .store
        .add_operator(&body.name, role.as_str(), &access::token_hash(&token), now)
        .await
        .map_err(ApiError::internal)?
    {
        AddOperator::Exists => Err(ApiError::conflict(format!("operator `{}` exists", body.name))),
        AddOperator::Added => {
            let mut answer = (
                StatusCode::CREATED,
                axum::Json(OperatorAdded {
                    name: body.name.clone(),
                    role: role.as_str().into(),
                    token,
                }),
            )
                .into_response();
            answer.extensions_mut().insert(Audited {
                object: Some(body.name),
                detail: format!("role {}", role.as_str()),
            });
            Ok(answer)
        }
    }
}

#[utoipa::path(delete, path = "/api/v1/operators/{name}",
    params(("name" = String, Path)),
    responses(
        (status = 204, description = "Removed; their token stops working at once"),
        Refused,
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
pub async fn remove_operator(State(state): State<ApiState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    if state
        .runtime
        .store
        .remove_operator(&name)
        .await
        .map_err(ApiError::internal)?
    {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("no operator `{name}`")))
    }
}

#[utoipa::path(get, path = "/api/v1/audit",
    params(
        ("limit" = Option<i64>, Query, description = "At most 1000 (default 100)"),
        ("after" = Option<i64>, Query, description = "Only entries with a greater id"),
        ("order" = Option<String>, Query, description = "`oldest` (default) or `newest` first"),
        ("before" = Option<i64>, Query, description = "With `order=newest`: only entries with a smaller id"),
    ),
    responses((status = 200, description = "Every change, oldest first", body = Vec<AuditOut>), Malformed, Refused))]
pub async fn audit(State(state): State<ApiState>, q: ListQuery) -> Result<Response, ApiError> {
    let rows = state
        .runtime
        .store
        .audit_page(q.page())
        .await
        .map_err(ApiError::internal)?;
    let list: Vec<AuditOut> = rows
        .into_iter()
        .map(|r| {
            Ok(AuditOut {
                id: r.id,
                at: queries::shown_time("audit", r.id, &r.at)?,
                operator: r.operator,
                action: r.action,
                bot: r.bot,
                object: r.object,
                detail: r.detail,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(axum::Json(list).into_response())
}

#[utoipa::path(get, path = "/api/v1/bots",
    responses((status = 200, description = "The bots this process serves", body = Vec<BotOut>), Refused))]
pub async fn list_bots(State(state): State<ApiState>) -> axum::Json<Vec<BotOut>> {
    let list = state
        .bots
        .iter()
        .map(|served| {
            let bot = served.current();
            BotOut {
                id: bot.id.clone(),
                name: bot.name.clone(),
                kinds: bot.auth.as_ref().map(|a| a.kinds.clone()).unwrap_or_default(),
                notifications: bot
                    .notifications
                    .iter()
                    .map(|(name, n)| NotificationOut {
                        name: name.clone(),
                        fields: crate::notification::data_fields(&bot, name),
                        buttons: !n.buttons.is_empty(),
                        attachments: n.attachments,
                    })
                    .collect(),
            }
        })
        .collect();
    axum::Json(list)
}

/// The start of `now`'s day in `tz`.
fn start_of_day(now: DateTime<FixedOffset>, tz: Option<chrono_tz::Tz>) -> DateTime<FixedOffset> {
    let tz = tz.unwrap_or(chrono_tz::UTC);
    let local = now.with_timezone(&tz);
    let midnight = local.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.fixed_offset())
        .unwrap_or_else(|| now.with_timezone(&Utc).fixed_offset())
}

#[utoipa::path(get, path = "/api/v1/bots/{bot}/overview",
    params(("bot" = String, Path)),
    responses((status = 200, description = "Today and the last 24 hours", body = OverviewOut), Refused))]
pub async fn overview(State(state): State<ApiState>, path: BotPath) -> Result<Response, ApiError> {
    let now = (state.runtime.clock)();
    let bot = path.bot.current();
    let since = start_of_day(now, bot.timezone);
    let hours_from = now - chrono::Duration::hours(23);
    // From the start of the hour 23 hours ago: 24 hours, this one included.
    let hours_from = hours_from
        .with_timezone(&Utc)
        .date_naive()
        .and_hms_opt(chrono::Timelike::hour(&hours_from.with_timezone(&Utc)), 0, 0)
        .map(|t| Utc.from_utc_datetime(&t).fixed_offset())
        .unwrap_or(hours_from);
    let o = state
        .runtime
        .store
        .overview(path.bot.id.as_str(), since, hours_from, now)
        .await
        .map_err(ApiError::internal)?;
    Ok(axum::Json(OverviewOut {
        bot: bot.id.clone(),
        today: TodayOut {
            updates: o.updates,
            users: o.users,
            algorithm_failures: o.algorithm_failures,
        },
        messages: WaitingOut {
            scheduled: o.scheduled,
            queued: o.queued,
            failed: o.failed,
        },
        hourly: o.hourly,
    })
    .into_response())
}

#[utoipa::path(get, path = "/api/v1/bots/{bot}/broadcasts",
    params(
        ("bot" = String, Path),
        ("limit" = Option<i64>, Query, description = "At most 1000 (default 100)"),
        ("after" = Option<i64>, Query, description = "Only broadcasts with a greater id"),
        ("order" = Option<String>, Query, description = "`oldest` (default) or `newest` first"),
        ("before" = Option<i64>, Query, description = "With `order=newest`: only broadcasts with a smaller id"),
    ),
    responses((status = 200, description = "The bot's broadcasts with their counts", body = Vec<BroadcastRowOut>), Malformed, Refused))]
pub async fn list_broadcasts(State(state): State<ApiState>, path: BotPath, q: ListQuery) -> Result<Response, ApiError> {
    let store = &state.runtime.store;
    let now = (state.runtime.clock)();
    let rows = store
        .broadcasts_list(path.bot.id.as_str(), q.page())
        .await
        .map_err(ApiError::internal)?;
    // Every row's counts in one statement.
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut counts_of = store
        .broadcasts_counts(path.bot.id.as_str(), &ids, now)
        .await
        .map_err(ApiError::internal)?;
    let list: Vec<BroadcastRowOut> = rows
        .into_iter()
        .map(|r| {
            let mut counts = Counts::default();
            for (status, n) in counts_of.remove(&r.id).unwrap_or_default() {
                counts.add(&status, n);
            }
            Ok(BroadcastRowOut {
                id: r.id,
                created_at: queries::shown_time("broadcasts", r.id, &r.created_at)?,
                recipients: r.recipients,
                counts,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(axum::Json(list).into_response())
}
