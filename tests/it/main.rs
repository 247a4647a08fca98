//! The integration tests: one test crate, so one link of the runtime instead of one
//! per file. Each module was a file of its own under `tests/`.

mod support;

mod api;
mod api_fuzz;
mod book;
mod bots;
mod chat;
mod console;
mod diagnostics;
mod drivers;
mod engine;
mod engine_props;
mod expressions;
mod hardening;
mod http_algorithm;
mod insights;
mod liveness;
mod operators;
mod runtime;
mod scale;
mod schema;
mod signal;
mod storage;
mod studio;
mod studio_api;
mod studio_security;
mod transcripts;
mod web;
