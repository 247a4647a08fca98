//! Storage behind the engine's [`World`](crate::engine::World) seam.
//!
//! `store/` is in layers; each imports only from the layers below it:
//! 1. [`types`]: errors, times as stored, the group commit's work and results;
//! 2. [`statements`]: the hot path's SQL, once for every driver;
//! 3. [`db`]: the `Db` trait (execute, query one, query all), with [`rows`] to
//!    read rows back, and its two drivers: [`driver_sqlite`] (rusqlite) and
//!    [`driver_sqlx`] (sqlx), and [`json_rows`] for PostgreSQL's multi-row statements;
//! 4. [`commit`] (with [`commit_many`] and [`writes`]), [`reads`], [`inbox`], [`outbox`]:
//!    written once over `Db`;
//! 5. [`sql`] (`SqlStore`: the pool, migrations, and which driver serves what),
//!    [`queries`], [`operators`], [`insights`], [`plans`] and [`console_plans`] (the HTTP
//!    API's and the console's reads, on sqlx, and their plans), and the worlds: [`buffered`] (the runtime's),
//!    [`tx_world`] (the HTTP API's), [`cache`].
//!
//! [`MemoryWorld`] (transcripts, `chat`, tests, benchmarks) needs none of it.

#[cfg(feature = "runtime")]
pub mod buffered;
#[cfg(feature = "runtime")]
pub mod cache;
#[cfg(feature = "runtime")]
pub mod commit;
#[cfg(feature = "runtime")]
pub mod commit_many;
#[cfg(feature = "runtime")]
pub mod console_plans;
#[cfg(feature = "runtime")]
pub mod db;
#[cfg(feature = "runtime")]
pub mod driver_sqlite;
#[cfg(feature = "runtime")]
pub mod driver_sqlx;
#[cfg(feature = "runtime")]
pub mod inbox;
#[cfg(feature = "runtime")]
pub mod insights;
#[cfg(feature = "runtime")]
pub mod json_rows;
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
pub mod reads;
#[cfg(feature = "runtime")]
pub mod rows;
#[cfg(feature = "runtime")]
pub mod sql;
#[cfg(feature = "runtime")]
pub mod statements;
#[cfg(feature = "runtime")]
pub mod tx_world;
#[cfg(feature = "runtime")]
pub mod types;
#[cfg(feature = "runtime")]
pub mod writes;

pub use crate::algorithms::Stub;
pub use memory::MemoryWorld;
