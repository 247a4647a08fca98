//! Storage behind the engine's [`World`](crate::engine::World) seam. This
//! module has the in-memory implementation used by transcripts, `chat`,
//! tests and benchmarks.

pub mod buffered;
mod memory;
pub mod sql;

pub use memory::{MemoryWorld, Stub};
