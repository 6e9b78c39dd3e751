//! Switchboard: a self-hosted omnichannel customer-conversation server (library side of the binary).
//!
//! Layers, outermost first: `cli` and `http` (the only module that knows axum) call `service` (the
//! domain rules), which calls `store` (the only module that knows SQL) and `search` (the only one that
//! knows tantivy). `model` holds the domain types every layer shares. See docs/ARCHITECTURE.md.

pub mod app;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod error;
pub mod http;
pub mod jobs;
pub mod model;
pub mod plugins;
pub mod search;
pub mod service;
pub mod store;
pub mod telemetry;

pub use app::{App, run};
