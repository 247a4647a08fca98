//! Storage behind the engine's [`World`](crate::engine::World) seam. This
//! module has the in-memory implementation used by transcripts, `chat`,
//! tests and benchmarks.

#[cfg(feature = "runtime")]
pub mod buffered;
#[cfg(feature = "runtime")]
pub mod cache;
#[cfg(feature = "runtime")]
pub mod commit;
#[cfg(feature = "runtime")]
pub mod commit_many;
#[cfg(feature = "runtime")]
mod embedded;
#[cfg(feature = "runtime")]
pub mod inbox;
#[cfg(feature = "runtime")]
pub mod insights;
mod memory;
#[cfg(feature = "runtime")]
pub mod operators;
#[cfg(feature = "runtime")]
pub mod outbox;
#[cfg(feature = "runtime")]
pub mod plans;
#[cfg(feature = "runtime")]
pub mod queries;
#[cfg(feature = "runtime")]
pub mod sql;

pub use memory::{MemoryWorld, Stub};
