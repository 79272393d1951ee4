//! The HTTP API as a pure function: an `http::Request` in, an [`Outcome`] (a response, or a
//! request to forward to the tenant's origin) and a log line out. The edge feeds it requests from
//! the Worker runtime; tests call it directly.
//!
//! This is the rim: each handler reads the request into typed input, calls a use case of the
//! domain modules (`sessions`, `login`, `users`, `tenants`) with the request's one `now` and the
//! services it needs, and renders a typed view ([`views`]) or an [`ApiError`].
//!
//! # Layout
//! - [`route`]: every route, parsed once: its log name, whether dynauth answers it, its browser
//!   methods, and whether the edge Worker serves it (the hot path) or the admin Worker.
//! - [`error`]: [`ApiError`] and its one mapping to a response.
//! - [`body`]: JSON bodies into typed input, path segments, query and page parameters.
//! - [`cookies`]: the token a request presents, the session, snapshot and binding cookies.
//! - [`views`]: what the answers look like.
//! - [`session`]: session lookup (hot) and logout.
//! - [`token`]: session JWTs.
//! - [`oauth`]: the OpenID Provider, one file per endpoint: authorize, token, userinfo, revoke,
//!   introspect, logout, discovery and the JWKS.
//! - [`login`]: login codes: start and verify; [`page`]: the hosted login page.
//! - [`admin`]: the admin API (Bearer `ADMIN_TOKEN`).
//! - [`proxy`]: forwarding requests on tenant hosts to the tenant's origin (and the gateway).
//! - [`browser`]: CORS and the CSRF check.
//!
//! Cold modules and items (everything but the hot path) are compiled into the admin Worker and
//! every native build, not into the edge Worker, which hands their routes to the admin Worker.

#[cfg(cold)]
pub mod admin;
pub mod body;
pub mod browser;
pub mod cookies;
pub mod error;
pub mod handle;
pub mod http;
#[cfg(cold)]
pub mod login;
#[cfg(cold)]
pub mod oauth;
#[cfg(cold)]
pub mod page;
pub mod proxy;
pub mod route;
pub mod session;
#[cfg(cold)]
pub mod token;
pub mod views;

pub use error::ApiError;
pub use handle::{BODY_TOO_LARGE, Handled, LogLine, body_too_large, config_failure, handle, unreadable_request};
#[cfg(cold)]
pub(crate) use http::Routed;
pub use http::{
    Forward, HSTS, Outcome, Request, Response, client_ip, empty_response, json_response, only, request_host,
};
pub use route::Route;

pub use crate::app::{Audit, Connect, Ctx, Deferred, DevLogin, Services};
