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

/// The most bytes of a notification's `data` as the request writes it (API and `botwright
/// send`): a message shows at most [`MAX_MESSAGE`] characters, so more is never needed, and
/// a request's memory stays a few times its body.
pub const MAX_DATA_BYTES: usize = 64 * 1024;
/// The most JSON values in a notification's `data`, counting every object, list and scalar
/// at any depth (`[{}, {}]` is three).
pub const MAX_DATA_VALUES: usize = 1000;
/// The deepest nesting of objects and lists in a notification's `data` (`[[1]]` is two).
pub const MAX_DATA_DEPTH: usize = 32;
