//! The hosts, at the top: what runs the app and where its settings come from.
//!
//! - `edge` (wasm32: the Worker entry point, driven by `edge/edge.js`; its wire codec is built
//!   natively too).
//! - [`native`] (not wasm32: the CLI's host; its settings from flags, the environment and AWS's
//!   chain, its requests over a blocking transport).
//!
//! May use: every layer. Used by: nothing but the CLI (`src/bin`).

pub mod edge;
#[cfg(not(target_arch = "wasm32"))]
pub mod native;
