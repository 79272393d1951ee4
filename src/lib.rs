//! dynauth: an edge auth data service. Sessions, one-time login codes, users, tenants and custom
//! domains in ONE DynamoDB table, served by a Cloudflare Worker that talks to DynamoDB itself
//! (JSON 1.0 protocol over `fetch`, SigV4-signed).
//!
//! A pure core and a thin rim. The core never imports `worker`, never reads a clock and never
//! draws randomness itself: each use case is handed the request's `now` and the services it
//! needs (the table, a random source, the webhook's transport). The HTTP API ([`api`]) reads
//! requests into typed input, calls a use case, and renders a typed view; the Worker ([`edge`],
//! wasm32 only) feeds it requests and carries out its I/O. So the whole request -> response path
//! runs natively in `cargo test`.
//!
//! # Layout
//! - [`ids`], [`email`], [`host`]: the identities (tenant, user, session, login ids, emails,
//!   hosts), each checked once where it enters; [`whatwg`]: the WHATWG host and URL parsers.
//! - [`keys`]: every key value of the single table, from typed identities only.
//! - [`store`]: the table as the use cases see it (one `Store`).
//! - [`tenants`], [`resolve`]: tenants and custom domains; Host -> tenant with the caches.
//! - [`sessions`], [`users`], [`login`]: sessions, users, login codes: records and use cases.
//! - [`snapshot`], [`jwt`]: the edge session cache; session JWTs and the tenants' JWKS.
//! - [`input`]: JSON input into typed values, errors naming the field.
//! - [`api`]: the HTTP API as a pure async function (the rim).
//! - [`runtime`]: the services: `Transport`, `Clock`, `Random`.
//! - [`dynamo`]: the DynamoDB client (operations, items, signing, errors, retries, the table).
//! - [`config`]: vars and secrets -> typed configuration.
//! - [`crypto`], [`cursor`], [`cache`]: hashing and HMAC, signed pagination cursors, the bounded
//!   in-isolate cache.
//! - [`driver`]: runs the core's futures for a host that does their I/O (the Worker's JS).
//! - `edge` (wasm32 only): the Worker entry point, driven by `src/edge.js`.
//! - `native`, `testing` (not wasm32): a blocking HTTP transport and OS runtime for the CLI and
//!   tests; fakes for tests (manual clock, scripted and counting transports).

pub mod api;
pub mod budgets;
pub mod cache;
pub mod config;
pub mod crypto;
pub mod cursor;
pub mod driver;
pub mod dynamo;
pub mod email;
pub mod host;
pub mod identity;
pub mod ids;
pub mod input;
pub mod jwt;
pub mod keys;
pub mod login;
pub mod regions;
pub mod resolve;
pub mod runtime;
pub mod sessions;
pub mod snapshot;
pub mod store;
pub mod tenants;
pub mod users;
pub mod whatwg;

#[cfg(target_arch = "wasm32")]
mod edge;

#[cfg(not(target_arch = "wasm32"))]
pub mod native;

#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
