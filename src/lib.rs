//! dynauth: an edge auth data service. Sessions, one-time login codes, users, tenants and custom
//! domains in ONE DynamoDB table, served by a Cloudflare Worker that talks to DynamoDB itself
//! (JSON 1.0 protocol over `fetch`, SigV4-signed).
//!
//! The core never imports `worker`, never reads a clock and never draws randomness itself: the
//! [`runtime::Runtime`] and [`runtime::Transport`] it is given do. So the whole request ->
//! response path runs natively in `cargo test`.
//!
//! # Layout
//! - [`runtime`]: the `Transport` and `Runtime` seams.
//! - [`dynamo`]: the DynamoDB client (operations, signing, errors, retries, the table).
//! - [`keys`]: every key value of the single table.
//! - [`config`]: vars and secrets -> typed configuration.
//! - [`crypto`]: hashing, HMAC, base64url, constant-time comparison.
//! - [`host`], [`email`], [`input`]: canonical hosts and origins, email addresses, request input.
//! - [`cursor`], [`cache`]: signed pagination cursors, the bounded in-isolate cache.
//! - [`tenants`], [`resolve`]: tenants and custom domains; Host -> tenant with the caches.
//! - [`sessions`], [`users`], [`login`]: sessions, users, login codes.
//! - [`api`]: the HTTP API as a pure async function.
//! - [`driver`]: runs the core's futures for a host that does their I/O (the Worker's JS).
//! - `edge` (wasm32 only): the Worker entry point and its runtime.
//! - `native`, `testing` (not wasm32): a blocking HTTP transport and OS runtime for the CLI and
//!   tests; fakes for tests (manual clock, scripted and counting transports).

pub mod api;
pub mod cache;
pub mod config;
pub mod crypto;
pub mod cursor;
pub mod driver;
pub mod dynamo;
pub mod email;
pub mod host;
pub mod input;
pub mod keys;
pub mod login;
pub mod resolve;
pub mod runtime;
pub mod sessions;
pub mod tenants;
pub mod users;

#[cfg(target_arch = "wasm32")]
mod edge;

#[cfg(not(target_arch = "wasm32"))]
pub mod native;

#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
