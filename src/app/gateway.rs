//! The gateway: whether a request on a tenant host goes on to the tenant's origin, and as whom.
//! A protected tenant's origin sees only requests with a live session; any request forwarded
//! with a live session carries the signed identity ([`crate::domain::identity`]).

use crate::app::Ctx;
use crate::domain::identity::Identity;
use crate::domain::sessions::Session;
use crate::domain::tenants::{SecretKind, Tenant};

/// What a forwarded request is: its method, the host the client asked for, its path and query.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub path_and_query: &'a str,
}

/// What the gateway decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Forward, without an identity.
    Anonymous,
    /// Forward with the signed identity header of `session`.
    As { identity: String },
    /// The tenant is protected and there is no live session: sign in first.
    SignIn,
}

/// The gateway's decision for a request to `target` with the `live` session it presents.
/// `own_route`: the path is the tenant's Auth.js app's own (its sign-in among them), never gated.
pub fn admit(ctx: &Ctx<'_>, tenant: &Tenant, live: Option<&Session>, target: Target<'_>, own_route: bool) -> Admission {
    let Some(session) = live else {
        return if !tenant.protect || own_route { Admission::Anonymous } else { Admission::SignIn };
    };
    let identity = Identity {
        tenant: tenant.id.as_str(),
        user: session.user_id.as_str(),
        session: session.id.as_str(),
        method: target.method,
        host: target.host,
        path_and_query: target.path_and_query,
    };
    Admission::As { identity: identity.header(ctx.now_secs(), &tenant.secrets(ctx.token_secret(), SecretKind::Origin)) }
}
