//! dynauth: an edge auth data service. Sessions, one-time login codes, users, tenants and custom
//! domains in ONE DynamoDB table, served by a Cloudflare Worker that talks to DynamoDB itself
//! (JSON 1.0 protocol over `fetch`, SigV4-signed).
//!
//! A pure core and a thin rim. The core never imports `worker`, never reads a clock and never
//! draws randomness itself: each use case is handed the request's services as one value
//! ([`app::Ctx`]: the settings, the table in its regions, the isolate's caches, the outbound
//! transport, randomness, the clock and the request's one `now`). The HTTP API ([`api`]) reads
//! requests into typed input, calls one use case, and renders a typed view; the hosts
//! ([`host`]: the Worker, wasm32; the CLI's native host) feed it requests and carry out its I/O.
//! So the whole request -> response path runs natively in `cargo test`.
//!
//! # The dependency rule
//! Layers, lowest first; a file may use files of its own layer or of lower ones, never a higher
//! one, and no two files may import each other (directly or around a loop), inside a folder
//! either. Tests are held to it too. `node scripts/layers.mjs` checks every file.
//! 1. [`platform`], the ground: the service traits (`Transport`, `Clock`, `Random`), crypto, the
//!    isolate cache, the driver, native I/O. It uses nothing of dynauth. (The fakes of
//!    `testing` stand here too: tests of any layer may use them.)
//! 2. [`values`]: ids, emails, hosts, checked input, error codes, secret types.
//! 3. [`dynamo`]: the generic DynamoDB client (operations, items, signing, errors, retries).
//! 4. [`table`]: the single table: schema, keys, the `Store`, cursors.
//! 5. [`domain`]: records and their rules over the table: sessions, users, login codes and
//!    budgets, tenants, domains and clients, host resolution, regions, JWTs, the OpenID
//!    Provider's grants and keys.
//! 6. [`app`]: the use cases, one function per operation a caller can ask for; the settings.
//! 7. [`api`]: the HTTP rim: parse, call one use case, render. No table access of its own.
//! 8. [`host`]: the hosts, where settings are read from the environment; then the CLI
//!    (`src/bin`), on the same use cases as the API.
//!
//! Code the edge Worker leaves out (everything but the hot path) is `#[cfg(cold)]` (build.rs:
//! every native build and the admin Worker). Test support (`testing`) is compiled only for tests.

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
