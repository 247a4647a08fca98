//! botwright: declarative Telegram bots. See ARCHITECTURE.md for the map.
//!
//! The `runtime` feature (on by default) adds everything that serves bots: the CLI,
//! Telegram, the SQL stores, the HTTP API and the studio. Without it the crate is the
//! core (syntax, validate, expr, engine, transcript and the in-memory world), which is
//! what the fuzz targets build.

pub mod algorithms;
#[cfg(feature = "runtime")]
pub mod api;
#[cfg(feature = "runtime")]
pub mod cli;
pub mod diagnostics;
pub mod engine;
pub mod expr;
pub mod graph;
pub mod html;
pub mod limits;
#[cfg(feature = "runtime")]
pub mod metrics;
pub mod model;
pub mod notification;
#[cfg(feature = "runtime")]
pub mod runtime;
pub mod schema;
pub mod secrets;
pub mod store;
#[cfg(feature = "runtime")]
pub mod studio;
pub mod syntax;
#[cfg(feature = "runtime")]
pub mod telegram;
pub mod texts;
pub mod transcript;
pub mod validate;
#[cfg(feature = "runtime")]
pub mod web;

/// The language of a bot's built-in texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "runtime", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Ru,
    En,
}
