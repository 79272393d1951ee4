//! The OpenID Provider's use cases.
//!
//! - [`signing`]: which of the tenant's keys signs or verifies a token.

pub mod signing;
