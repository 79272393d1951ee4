//! The hosts, at the top: what runs the app and where its settings come from.
//!
//! - `edge` (wasm32: the Worker entry point, driven by `edge/edge.js`; its wire codec is built
//!   natively too).
//!
//! May use: every layer. Used by: nothing but the CLI (`src/bin`).

pub mod edge;
