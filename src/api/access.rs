//! Who may call the API, and the record of what they changed (api.md,
//! Operators and the console): a middleware on every route that is matched.
//!
//! 1. A request that changes something (not `GET`/`HEAD`) whose `Origin` is
//!    not the API's own address (`http://` or `https://` and the request's
//!    `Host`) gets 403 and changes nothing: no other site's page can act
//!    through an operator's browser.
//! 2. `Authorization: Bearer <token>`: `BOTWRIGHT_API_TOKEN` (the admin `api`,
//!    compared in constant time) or an operator's token, found by its SHA-256;
//!    anything else gets 401. Only hashes are stored.
//! 3. The route's right: `viewer` reads (every `GET` but the operators list),
//!    `operator` also changes users, requests and messages, `admin` also the
//!    operators. A call beyond the caller's role gets 403.
//! 4. A call that changed something (a 2xx answer to a method other than
//!    `GET`/`HEAD`) is written to the audit log with the caller's name, the
//!    route's verb and noun, its bot and object, and what the handler put in
//!    [`Audited`].
//!
//! **Invariant:** no handler runs before rules 1–3 pass; a handler finds the
//! caller in the request's extensions ([`Caller`]).

use super::{ApiError, ApiState};
use crate::studio::guard;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use sha2::Digest;

/// What a caller may do; each role may do what the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The name `BOTWRIGHT_API_TOKEN` goes by; no operator may take it.
pub const API_OPERATOR: &str = "api";

/// Who is calling: put in the request's extensions once the token is checked.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// What a handler tells the audit log about its change: the object it made or changed
/// (when the path does not name it) and a short description. Put in the answer's extensions.
#[derive(Debug, Clone, Default)]
pub struct Audited {
    pub object: Option<String>,
    pub detail: String,
}

/// The SHA-256 of a token, in hex: what the database keeps.
pub fn token_hash(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new operator token: 32 random bytes in hex (as the studio's access token).
pub use crate::studio::guard::new_token;

/// Whether the request only reads.
fn reads(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether `origin` is the API's own address: the request's `Host`, by `http` or `https`.
fn own_origin(origin: &str, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let origin = origin.trim().to_ascii_lowercase();
    let host = host.trim().to_ascii_lowercase();
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|rest| rest == host)
}

/// The role a route needs.
fn needed(method: &Method, route: &str) -> Role {
    if route.starts_with("/api/v1/operators") {
        Role::Admin
    } else if reads(method) {
        Role::Viewer
    } else {
        Role::Operator
    }
}

/// The audit log's name for a change: the route's verb and noun.
fn action(method: &Method, route: &str) -> String {
    let noun = route
        .split('/')
        .rev()
        .find(|s| !s.is_empty() && !s.starts_with('{') && !matches!(*s, "approve" | "reject"))
        .unwrap_or("");
    let noun = match noun {
        "messages" => "message",
        "broadcasts" => "broadcast",
        "users" => "user",
        "auth-requests" => "auth-request",
        "operators" => "operator",
        other => other,
    };
    let verb = if route.ends_with("/approve") {
        "approve"
    } else if route.ends_with("/reject") {
        "reject"
    } else {
        match (method.as_str(), noun) {
            ("POST", "message" | "broadcast") => "send",
            ("DELETE", "message" | "broadcast") => "cancel",
            ("PUT", "user") => "register",
            ("POST", "operator") => "add",
            ("DELETE", "operator") => "remove",
            ("DELETE", _) => "delete",
            ("PUT", _) => "change",
            _ => "post",
        }
    };
    format!("{verb} {noun}")
}

/// Finds the caller of a bearer token.
pub async fn authenticate(state: &ApiState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let unauthorized = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid `Authorization: Bearer <token>` header is required",
        )
    };
    let given = guard::bearer(headers);
    if given.is_empty() {
        return Err(unauthorized());
    }
    if guard::same_token(given, &state.token) {
        return Ok(Caller {
            name: API_OPERATOR.into(),
            role: Role::Admin,
        });
    }
    // A hash is looked up, never the token: equal hashes are equal tokens.
    match state.runtime.store.operator_by_token(&token_hash(given)).await {
        Ok(Some((name, role))) => Ok(Caller {
            name,
            role: Role::parse(&role)
                .ok_or_else(|| ApiError::internal(format!("operator with unknown role `{role}`")))?,
        }),
        Ok(None) => Err(unauthorized()),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// The rules above, for every matched route.
pub async fn access(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    use axum::response::IntoResponse;
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    if !(route.starts_with("/api/") || route == "/metrics") {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let changes = !reads(&method);
    if changes
        && let Some(origin) = request.headers().get(header::ORIGIN)
        && !own_origin(origin.to_str().unwrap_or("?"), request.headers())
    {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "changes are taken only from the API's own address (the Origin header names another site)",
        )
        .into_response();
    }
    let caller = match authenticate(&state, request.headers()).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let need = needed(&method, &route);
    if caller.role < need {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "operator `{}` is a {} and this needs the {} role",
                caller.name,
                caller.role.as_str(),
                need.as_str()
            ),
        )
        .into_response();
    }
    // The route's parameters as axum matched them (percent-decoded), for the audit log.
    let (mut parts, body) = request.into_parts();
    let found: Vec<(String, String)> = match RawPathParams::from_request_parts(&mut parts, &state).await {
        Ok(raw) => raw.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        Err(_) => Vec::new(),
    };
    let mut request = Request::from_parts(parts, body);
    request.extensions_mut().insert(caller.clone());
    let answer = next.run(request).await;
    if changes && answer.status().is_success() {
        let param = |name: &str| found.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let audited = answer.extensions().get::<Audited>().cloned().unwrap_or_default();
        let entry = crate::store::operators::AuditEntry {
            operator: caller.name,
            action: action(&method, &route),
            bot: param("bot"),
            object: audited
                .object
                .or_else(|| param("id"))
                .or_else(|| param("key"))
                .or_else(|| param("name")),
            detail: audited.detail,
        };
        let now = (state.runtime.clock)();
        if let Err(e) = state.runtime.store.audit(&entry, now).await {
            // The change is committed; its record is not. Said loudly, with what it was.
            tracing::error!(error = %e, operator = %entry.operator, action = %entry.action,
                bot = ?entry.bot, object = ?entry.object, "the audit log could not record a change");
        }
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_name_verb_and_noun() {
        let cases = [
            (Method::POST, "/api/v1/bots/{bot}/messages", "send message"),
            (Method::DELETE, "/api/v1/bots/{bot}/messages/{id}", "cancel message"),
            (Method::POST, "/api/v1/bots/{bot}/broadcasts", "send broadcast"),
            (Method::DELETE, "/api/v1/bots/{bot}/broadcasts/{id}", "cancel broadcast"),
            (Method::PUT, "/api/v1/bots/{bot}/users/{key}", "register user"),
            (Method::DELETE, "/api/v1/bots/{bot}/users/{key}", "delete user"),
            (
                Method::POST,
                "/api/v1/bots/{bot}/auth-requests/{id}/approve",
                "approve auth-request",
            ),
            (
                Method::POST,
                "/api/v1/bots/{bot}/auth-requests/{id}/reject",
                "reject auth-request",
            ),
            (Method::POST, "/api/v1/operators", "add operator"),
            (Method::DELETE, "/api/v1/operators/{name}", "remove operator"),
        ];
        for (method, route, want) in cases {
            assert_eq!(action(&method, route), want, "{method} {route}");
        }
    }

    #[test]
    fn rights_of_routes() {
        assert_eq!(needed(&Method::GET, "/api/v1/bots/{bot}/users"), Role::Viewer);
        assert_eq!(needed(&Method::GET, "/api/v1/audit"), Role::Viewer);
        assert_eq!(needed(&Method::GET, "/api/v1/operators"), Role::Admin);
        assert_eq!(needed(&Method::POST, "/api/v1/bots/{bot}/messages"), Role::Operator);
        assert_eq!(needed(&Method::DELETE, "/api/v1/operators/{name}"), Role::Admin);
    }

    #[test]
    fn origins() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "bots.example:8080".parse().unwrap());
        assert!(own_origin("http://bots.example:8080", &h));
        assert!(own_origin("https://BOTS.example:8080", &h));
        assert!(!own_origin("http://evil.example", &h));
        assert!(!own_origin("http://bots.example:8081", &h));
        assert!(!own_origin("null", &h));
    }
}
