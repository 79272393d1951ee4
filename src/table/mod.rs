//! The single table: its definition ([`schema`]), every key value ([`keys`]), the table as the
//! use cases see it ([`store`]), and signed pagination cursors ([`cursor`]).
//!
//! May use: `values`, `dynamo`, `platform` (crypto). Used by: `domain`, `api`, the CLI.

pub mod cursor;
pub mod keys;
pub mod schema;
pub mod store;
