//! Storage behind the engine's [`World`](crate::engine::World) seam. This
//! module has the in-memory implementation used by transcripts, `chat`,
//! tests and benchmarks.

pub mod buffered;
pub mod cache;
pub mod commit;
mod embedded;
pub mod inbox;
mod memory;
pub mod outbox;
pub mod plans;
pub mod queries;
pub mod sql;

pub use memory::{MemoryWorld, Stub};
