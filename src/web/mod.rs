//! The files of botwright's two web pages, the studio (`botwright studio`) and
//! the console (`run --listen`, at `/console/`), inside the binary: each page's
//! HTML and script, the shared translation code (`i18n.js`) with one catalogue
//! per language (`i18n/en.json`, `i18n/ru.json`), and the vendored editor
//! (`vendor/codemirror/`, with its licence). Nothing is fetched from elsewhere
//! and there is no bundle step.
//!
//! **Invariant:** a page runs only scripts served from here (`script-src
//! 'self'`, [`PAGE_POLICY`]); its own data arrive as JSON from its API and are
//! put in the page as text (`textContent`), never as HTML.
//!
//! For work on the pages, `BOTWRIGHT_WEB_DIR=src/web` serves these files from
//! that directory instead of the binary (only the names listed here).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A file of the pages: its name under `assets/`, type and bytes.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!($name),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Every file the pages load, by the name they load it with.
pub static ASSETS: &[Asset] = &[
    asset!("i18n.js", JS),
    asset!("i18n/en.json", JSON),
    asset!("i18n/ru.json", JSON),
    asset!("common.css", CSS),
    asset!("studio.js", JS),
    asset!("console.js", JS),
    asset!("vendor/codemirror/codemirror.js", JS),
    asset!("vendor/codemirror/codemirror.css", CSS),
    asset!("vendor/codemirror/toml.js", JS),
    asset!("vendor/codemirror/show-hint.js", JS),
    asset!("vendor/codemirror/show-hint.css", CSS),
    asset!("vendor/codemirror/lint.js", JS),
    asset!("vendor/codemirror/lint.css", CSS),
    asset!("vendor/codemirror/LICENSE", TEXT),
];

/// The studio's page.
pub const STUDIO_PAGE: &str = include_str!("studio.html");
/// The console's page.
pub const CONSOLE_PAGE: &str = include_str!("console.html");

/// Both pages' Content-Security-Policy: scripts and styles from this server only (the
/// editor sets inline styles), data from its API, nothing from anywhere else.
pub const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The directory that replaces the binary's files, for work on the pages.
fn web_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("BOTWRIGHT_WEB_DIR").map(std::path::PathBuf::from)
}

/// A file's bytes: from `BOTWRIGHT_WEB_DIR` when set, else the binary's.
fn body_of(name: &str, built_in: &'static [u8]) -> std::borrow::Cow<'static, [u8]> {
    match web_dir().and_then(|dir| std::fs::read(dir.join(name)).ok()) {
        Some(bytes) => bytes.into(),
        None => built_in.into(),
    }
}

/// A page (`studio.html` or `console.html`) with its security headers.
pub fn page(name: &str, built_in: &'static str) -> Response {
    let body = body_of(name, built_in.as_bytes()).into_owned();
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PAGE_POLICY),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET …/assets/{*name}`: a listed file, or 404.
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some(found) = ASSETS.iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, found.content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body_of(found.name, found.body).into_owned(),
    )
        .into_response()
}

/// The keys of a catalogue (`i18n/en.json` or `ru.json`): a flat object of strings.
pub fn catalogue(language: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let name = format!("i18n/{language}.json");
    let found = ASSETS.iter().find(|a| a.name == name)?;
    serde_json::from_slice(found.body).ok()
}
