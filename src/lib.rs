//! dynauth: an edge auth data service. Sessions, one-time login codes, users, tenants and custom
//! domains in ONE DynamoDB table, served by a Cloudflare Worker that talks to DynamoDB itself
//! (JSON 1.0 protocol over `fetch`, SigV4-signed).
//!
//! A pure core and a thin rim. The core never imports `worker`, never reads a clock and never
//! draws randomness itself: each use case is handed the request's `now` and the services it
//! needs (the table, a random source, the webhook's transport). The HTTP API ([`api`]) reads
//! requests into typed input, calls a use case, and renders a typed view; the Worker (`platform::edge`,
//! wasm32 only) feeds it requests and carries out its I/O. So the whole request -> response path
//! runs natively in `cargo test`.
//!
//! # Layout
//! Folders by layer, each with a `//!` saying what it owns and what it may use; every `use crate::`
//! points down (`node scripts/layers.mjs` checks it, and that there is no import cycle):
//! - [`platform`]: the services (`runtime`, `crypto`, `cache`, `driver`) and the hosts that run
//!   the core (`edge`, wasm32 only; `native`; `testing`).
//! - [`values`]: ids, emails, hosts, checked input.
//! - [`dynamo`]: the generic DynamoDB client (operations, items, signing, errors, retries).
//! - [`table`]: the single table: schema, keys, the `Store`, cursors.
//! - [`domain`]: sessions, users, login codes and budgets, tenants and domains, host resolution,
//!   regions, JWTs, the session snapshot, the identity header: records and use cases.
//! - [`api`]: the HTTP rim: parse, call a use case, render.
//! - [`config`]: assembly: vars and secrets -> the typed settings of every layer.

pub mod api;
pub mod app;
pub mod domain;
pub mod dynamo;
pub mod host;
pub mod platform;
pub mod table;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod values;
