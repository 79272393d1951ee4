//! The platform: the services the core runs on and the hosts that run it.
//!
//! The services depend on nothing of dynauth: [`runtime`] (the `Transport`, `Clock` and `Random`
//! traits), [`crypto`] (hashing, HMAC, base64url, constant-time comparison), [`signature`] (the
//! crypto service: signatures and keys, Web Crypto on the Worker), [`cache`] (a bounded
//! in-isolate cache) and [`driver`] (runs the core's futures for a host that does their I/O).
//!
//! The hosts are wiring, at the top: `edge` (wasm32 only: the Worker entry point, driven by
//! `edge/edge.js`), `native` (a blocking HTTP transport and OS runtime for the CLI and the tests)
//! and `testing` (fakes for tests: manual clock, scripted and counting transports). They may use
//! every layer; nothing but other wiring uses them.

pub mod cache;
pub mod crypto;
pub mod driver;
pub mod runtime;
pub mod signature;

#[cfg(not(target_arch = "wasm32"))]
pub mod native;
#[cfg(not(target_arch = "wasm32"))]
pub mod native_crypto;
