//! Who may talk to the studio (cli.md): a middleware in front of every route.
//!
//! 1. `Host` must be the address the studio listens on, or `localhost`,
//!    `127.0.0.1` or `[::1]`, with its port (else 403), so that a page whose
//!    name was made to resolve to this machine (DNS rebinding) gets nothing.
//!    `--allow-remote` lifts this rule.
//! 2. A request that changes anything (not `GET`/`HEAD`) with an `Origin`
//!    header must come from `http://` and one of those hosts (else 403), so
//!    that no other site's page can write through the analyst's browser. With
//!    `--allow-remote` the page's own address (`http://` and the request's
//!    `Host`) is accepted too: that is where a remote analyst opened it.
//! 3. With `--allow-remote`, every `/api/` request needs
//!    `Authorization: Bearer <token>`, the token printed at start (else 401,
//!    compared in constant time). The page itself needs none.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

/// The rules for one studio.
#[derive(Debug, Clone)]
pub struct Access {
    /// The `Host` values accepted (lowercase `host:port`, and `host` alone on port 80).
    hosts: Vec<String>,
    /// `--allow-remote`: any `Host`, and a bearer token on `/api/`.
    remote: bool,
    token: Option<String>,
}

impl Access {
    /// Only this machine: `Host` must name `listening` (the bound address) or loopback with its port.
    pub fn local(listening: SocketAddr) -> Access {
        let port = listening.port();
        let own = match listening {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        let mut hosts = Vec::new();
        for name in [own.as_str(), "localhost", "127.0.0.1", "[::1]"] {
            let name = name.to_ascii_lowercase();
            hosts.push(format!("{name}:{port}"));
            if port == 80 {
                hosts.push(name);
            }
        }
        hosts.dedup();
        Access {
            hosts,
            remote: false,
            token: None,
        }
    }

    /// `--allow-remote`: any `Host`, and `token` required on every `/api/` request.
    pub fn remote(listening: SocketAddr, token: String) -> Access {
        Access {
            remote: true,
            token: Some(token),
            ..Access::local(listening)
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        self.hosts.contains(&host)
    }

    fn origin_allowed(&self, origin: &str, headers: &HeaderMap) -> bool {
        let origin = origin.trim().to_ascii_lowercase();
        let Some(host) = origin.strip_prefix("http://") else {
            return false;
        };
        if self.host_allowed(host) {
            return true;
        }
        self.remote
            && headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .is_some_and(|h| h.trim().eq_ignore_ascii_case(host))
    }

    fn bearer_ok(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        same_token(bearer(headers), token)
    }

    /// The refusal for a request, if any.
    fn refusal(&self, method: &Method, path: &str, headers: &HeaderMap) -> Option<Response> {
        if !self.remote {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
            if !self.host_allowed(host) {
                return Some(refuse(
                    StatusCode::FORBIDDEN,
                    "the studio answers only requests addressed to this machine (Host: localhost, 127.0.0.1 or [::1] with its port); start it with --allow-remote to serve other addresses",
                ));
            }
        }
        if method != Method::GET && method != Method::HEAD {
            let origin = headers.get(header::ORIGIN).map(|o| o.to_str().unwrap_or("?"));
            if let Some(origin) = origin
                && !self.origin_allowed(origin, headers)
            {
                return Some(refuse(
                    StatusCode::FORBIDDEN,
                    "the studio takes changes only from its own page (the Origin header names another site)",
                ));
            }
        }
        if path.starts_with("/api/") && !self.bearer_ok(headers) {
            let mut answer = refuse(
                StatusCode::UNAUTHORIZED,
                "this studio serves other machines: send `Authorization: Bearer <token>` with the access token it printed at start",
            );
            answer
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            return Some(answer);
        }
        None
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}

/// The middleware: refuses what [`Access`] refuses, passes the rest on.
pub async fn guard(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    match access.refusal(request.method(), request.uri().path(), request.headers()) {
        Some(refusal) => refusal,
        None => next.run(request).await,
    }
}

/// 32 random bytes from the system, as 64 hexadecimal digits.
/// The token of an `Authorization: Bearer <token>` header; empty when there is none.
pub fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("")
}

/// Whether `given` is `token`, compared in constant time: how long the comparison takes
/// says nothing about how much matched.
pub fn same_token(given: &str, token: &str) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), token.as_bytes()))
}

pub fn new_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn hosts_and_origins() {
        let a = Access::local("127.0.0.1:8700".parse().unwrap());
        let ok = |m: Method, h: &[(&'static str, &str)]| a.refusal(&m, "/api/bots", &headers(h)).is_none();
        assert!(ok(Method::GET, &[("host", "127.0.0.1:8700")]));
        assert!(ok(Method::GET, &[("host", "LOCALHOST:8700")]));
        assert!(ok(Method::GET, &[("host", "[::1]:8700")]));
        assert!(!ok(Method::GET, &[("host", "evil.example:8700")]));
        assert!(!ok(Method::GET, &[("host", "localhost:8701")]));
        assert!(!ok(Method::GET, &[("host", "localhost")]));
        assert!(!ok(Method::GET, &[]));
        assert!(ok(Method::PUT, &[("host", "localhost:8700")]));
        assert!(ok(
            Method::PUT,
            &[("host", "localhost:8700"), ("origin", "http://127.0.0.1:8700")]
        ));
        assert!(!ok(
            Method::PUT,
            &[("host", "localhost:8700"), ("origin", "http://evil.example:8700")]
        ));
        assert!(!ok(
            Method::POST,
            &[("host", "localhost:8700"), ("origin", "https://localhost:8700")]
        ));
        assert!(!ok(Method::POST, &[("host", "localhost:8700"), ("origin", "null")]));
        // A GET is not refused for its Origin: it changes nothing.
        assert!(ok(
            Method::GET,
            &[("host", "localhost:8700"), ("origin", "http://evil.example")]
        ));
        let on80 = Access::local("127.0.0.1:80".parse().unwrap());
        assert!(
            on80.refusal(&Method::GET, "/", &headers(&[("host", "localhost")]))
                .is_none()
        );
    }

    #[test]
    fn remote_needs_the_token_on_the_api_only() {
        let a = Access::remote("0.0.0.0:8700".parse().unwrap(), "t0k".into());
        let status = |m: Method, path: &str, h: &[(&'static str, &str)]| {
            a.refusal(&m, path, &headers(h)).map(|r| r.status().as_u16())
        };
        assert_eq!(status(Method::GET, "/", &[("host", "studio.lan:8700")]), None);
        assert_eq!(
            status(Method::GET, "/api/bots", &[("host", "studio.lan:8700")]),
            Some(401)
        );
        assert_eq!(
            status(
                Method::GET,
                "/api/bots",
                &[("host", "studio.lan:8700"), ("authorization", "Bearer t0kx")]
            ),
            Some(401)
        );
        assert_eq!(
            status(
                Method::GET,
                "/api/bots",
                &[("host", "studio.lan:8700"), ("authorization", "Bearer t0k")]
            ),
            None
        );
        // The page's own address is an accepted Origin; another site is not.
        let auth = ("authorization", "Bearer t0k");
        assert_eq!(
            status(
                Method::PUT,
                "/api/files/a.toml",
                &[("host", "studio.lan:8700"), ("origin", "http://studio.lan:8700"), auth]
            ),
            None
        );
        assert_eq!(
            status(
                Method::PUT,
                "/api/files/a.toml",
                &[("host", "studio.lan:8700"), ("origin", "http://evil.example"), auth]
            ),
            Some(403)
        );
    }

    #[test]
    fn tokens_are_random_hex() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
