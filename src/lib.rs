//! botwright: declarative Telegram bots. See ARCHITECTURE.md for the map.

pub mod algorithms;
pub mod api;
pub mod cli;
pub mod diagnostics;
pub mod engine;
pub mod expr;
pub mod graph;
pub mod html;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod runtime;
pub mod schema;
pub mod secrets;
pub mod store;
pub mod studio;
pub mod syntax;
pub mod telegram;
pub mod texts;
pub mod transcript;
pub mod validate;

/// The language of a bot's built-in texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Ru,
    En,
}
