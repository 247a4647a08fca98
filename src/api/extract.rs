//! The API's extractors: every malformed request (a bad token, path, query or
//! body, a body over 30 MB) becomes the error shape of api.md before a handler runs.

use super::*;

/// A request whose bearer was checked by [`access::access`]: its caller.
pub struct Authorized(pub access::Caller);

impl FromRequestParts<ApiState> for Authorized {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &ApiState) -> Result<Authorized, ApiError> {
        parts
            .extensions
            .get::<access::Caller>()
            .cloned()
            .map(Authorized)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "a valid `Authorization: Bearer <token>` header is required",
                )
            })
    }
}

/// The path's parameters, after the bearer is checked: `{bot}` is a served bot (else
/// 404), and the others are given as written.
pub struct BotPath {
    pub bot: Arc<ServedBot>,
    pub(super) params: HashMap<String, String>,
}

impl BotPath {
    pub(super) fn id(&self) -> &str {
        &self.bot.id
    }

    /// A numeric path parameter; anything else names nothing (404).
    pub(super) fn number(&self, name: &str, what: &str) -> Result<i64, ApiError> {
        let raw = self.params.get(name).map(String::as_str).unwrap_or("");
        raw.parse()
            .map_err(|_| ApiError::not_found(format!("no {what} `{raw}`")))
    }
}

impl FromRequestParts<ApiState> for BotPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<BotPath, ApiError> {
        Authorized::from_request_parts(parts, state).await?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::not_found(format!("the path is not understood: {e}")))?;
        let id = params.get("bot").cloned().unwrap_or_default();
        let bot = state
            .bots
            .iter()
            .find(|b| b.id == id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no bot `{id}`")))?;
        Ok(BotPath { bot, params })
    }
}

/// A JSON body read into `T`: an empty body reads as `{}`; a body that is not a JSON object,
/// or does not fit `T`, is 400 naming the field; one over 30 MB is 413.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<JsonBody<T>, ApiError> {
        let too_large = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the body is larger than {MAX_BODY} bytes"),
            )
        };
        // A declared length over the limit is refused before the body is read (a client that
        // sent `Expect: 100-continue` then never sends it).
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY as u64) {
            return Err(too_large());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else if let Some(t) = caused_by::<crate::runtime::listener::BodyTimedOut>(&e) {
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    format!("the body could not be read: {t}"),
                )
            } else {
                ApiError::bad_request(None, format!("the body could not be read: {e}"))
            }
        })?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::bad_request(None, "the body must be a JSON object"));
        }
        let mut de = serde_json::Deserializer::from_slice(text);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let field = (path != ".").then_some(path);
            ApiError::bad_request(field.as_deref(), e.into_inner().to_string())
        })?;
        de.end()
            .map_err(|e| ApiError::bad_request(None, format!("the body is not JSON: {e}")))?;
        Ok(JsonBody(value))
    }
}

/// The first error of type `E` in `error`'s chain of causes.
fn caused_by<'a, E: std::error::Error + 'static>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// `?limit=` (default 100, at most 1000), `&after=ID` and `&status=`; for the console also
/// `&order=newest` with `&before=ID` (the newest first), `&q=` (a search) and `&to=KEY`.
pub struct ListQuery {
    pub limit: i64,
    pub after: i64,
    pub status: Option<String>,
    pub newest: bool,
    pub before: Option<i64>,
    pub search: Option<String>,
    pub to: Option<i64>,
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<ListQuery, ApiError> {
        let Query(q) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(None, format!("the query is not understood: {e}")))?;
        let limit = match q.get("limit") {
            None => 100,
            Some(l) => match l.parse::<i64>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => return Err(ApiError::bad_request(Some("limit"), "must be a number from 1 to 1000")),
            },
        };
        let after = match q.get("after") {
            None => 0,
            Some(a) => a
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request(Some("after"), "must be an id (an integer)"))?,
        };
        let newest = match q.get("order").map(String::as_str) {
            None | Some("oldest") => false,
            Some("newest") => true,
            Some(_) => return Err(ApiError::bad_request(Some("order"), "must be `oldest` or `newest`")),
        };
        let number = |name: &'static str, what: &str| -> Result<Option<i64>, ApiError> {
            q.get(name)
                .map(|v| v.parse::<i64>())
                .transpose()
                .map_err(|_| ApiError::bad_request(Some(name), format!("must be {what} (an integer)")))
        };
        Ok(ListQuery {
            limit,
            after,
            status: q.get("status").cloned(),
            newest,
            before: number("before", "an id")?,
            search: q.get("q").cloned(),
            to: number("to", "a chat id")?,
        })
    }
}

impl ListQuery {
    /// The page asked for.
    pub fn page(&self) -> crate::store::operators::Page {
        use crate::store::operators::Page;
        if self.newest {
            Page::Newest {
                before: self.before,
                limit: self.limit,
            }
        } else {
            Page::Oldest {
                after: self.after,
                limit: self.limit,
            }
        }
    }

    /// The status filter, if one of `allowed`.
    pub(super) fn status_in(&self, allowed: &[&str]) -> Result<Option<&str>, ApiError> {
        match self.status.as_deref() {
            None => Ok(None),
            Some(s) if allowed.contains(&s) => Ok(Some(s)),
            Some(s) => Err(ApiError::bad_request(
                Some("status"),
                format!("`{s}` is not one of {}", allowed.join(", ")),
            )),
        }
    }
}
