//! The edge host: the Cloudflare Worker ([`worker`], wasm32 only: the fetch export, the isolate's
//! configuration and caches, the tasks `edge.js` drives, the hand-off to the admin Worker) and
//! its wire codec ([`wire`]: how requests, answers and responses cross between JavaScript and
//! wasm), which is pure and built and tested natively as well.
//!
//! May use: everything below it (`api`, `config`, the domain, the platform services).

pub mod wire;
#[cfg(target_arch = "wasm32")]
mod worker;
