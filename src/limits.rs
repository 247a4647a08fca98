//! Telegram's limits, and the bounds the product sets from them: one place,
//! low in the pipeline, for the compiler, the engine and the API.

/// The longest message, in characters.
pub const MAX_MESSAGE: usize = 4096;
/// The longest button label, in bytes.
pub const MAX_LABEL: usize = 64;
/// The most options a choice may show.
pub const MAX_OPTIONS: usize = 100;
/// The most messages one update makes to its user (bot-format.md, "Processing order").
pub const MAX_REPLIES: usize = 10;
/// The longest callback data of an inline button, in bytes.
pub const MAX_CALLBACK: usize = 64;
