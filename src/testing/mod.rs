//! Test support, never shipped: compiled for the crate's own tests (`cfg(test)`) and, through the
//! `testing` feature, for the integration tests (their dev-dependency on this crate turns it on).
//!
//! - [`fakes`]: the ground's services faked (a manual clock and random stream, scripted and
//!   counting transports); at the ground's layer, usable by tests of every layer.

pub mod fakes;
