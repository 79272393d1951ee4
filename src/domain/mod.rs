//! The domain: dynauth's records and use cases, as functions over the table ([`crate::table`])
//! with `now` and randomness handed in. No HTTP, no configuration parsing, no clock.
//!
//! May use: `values`, `table`, `dynamo`, `platform` (the service traits, crypto, the cache).
//! Used by: the HTTP rim (`api`), `config` (assembly), the CLI.
//!
//! - [`sessions`]: tokens and session records; the session lookup (its [`sessions::snapshot`],
//!   the nearest replica, home), open, slide, revoke.
//! - [`users`]: users and email claims.
//! - [`login`]: login codes: issue, deliver, verify (bindings, reservations), and
//!   [`budgets`], the abuse budgets they spend.
//! - [`tenants`]: tenants and custom domains; [`resolve`]: Host -> tenant through the isolate's
//!   caches; [`regions`]: the table's regions as a request reads them (home, the nearest replica,
//!   its circuit breaker).
//! - [`jwt`]: session JWTs and the tenants' JWKS.
//! - [`identity`]: the signed identity header an origin receives.

pub mod budgets;
pub mod identity;
pub mod jwt;
pub mod login;
#[cfg(cold)]
pub mod oidc;
pub mod regions;
pub mod resolve;
pub mod sessions;
pub mod tenants;
pub mod users;
