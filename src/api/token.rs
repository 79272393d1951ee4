//! Session JWTs for backends on a tenant host: `POST /v1/session/token`, a live session -> a
//! signed JWT (needs `JWT_MASTER_KEY`). Served by the admin Worker (a cold path).

use std::rc::Rc;

use super::browser;
use super::cookies::{self, CookieMode};
use super::oauth::issuer;
use super::session::{invalid_session, looked_up};
use super::{ApiError, Ctx, Outcome, Request, json_response, only, views};
use crate::app::oauth::signing::master_key;
use crate::app::sessions;
use crate::domain::tenants::Tenant;

/// `POST /v1/session/token`: 200 `{"token", "token_type", "expires_at", "expires_in"}`, a JWT for
/// the presented live session (always read from DynamoDB, never from the snapshot: a token
/// outlives the request by up to `jwt.ttl_secs`), or 401 `invalid_session`. Presented by cookie,
/// the request must come from the host itself or an allowed origin.
pub(crate) async fn issue(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    // Without JWT_MASTER_KEY, 404 before anything else.
    master_key(ctx)?;
    let mode = CookieMode::of(ctx.config, request);
    if !cookies::presented(request, mode).is_some_and(|p| p.bearer) {
        browser::check_origin(&tenant, request)?;
    }
    let issuer = issuer(request)?;
    let Some((session, _, _)) = looked_up(ctx, request, &tenant, mode, false, true).await? else {
        return Err(invalid_session());
    };
    let now = ctx.now_secs();
    let issued = sessions::session_jwt(ctx, &tenant, &session, &issuer).await?;
    let view = views::SessionJwt {
        token: &issued.token,
        token_type: "Bearer",
        expires_at: views::Time(issued.expires_at),
        expires_in: issued.expires_at - now,
    };
    Ok(Outcome::Respond(json_response(200, &view)))
}
