//! Sessions: `POST .../sessions` (mint), `DELETE .../sessions/{session_id}` and
//! `GET|DELETE .../users/{user_id}/sessions` ([`crate::app::sessions`]).

use serde::Deserialize;

use crate::api::body::user_id_of;
use crate::api::{ApiError, Ctx, Request, Response, body, cookies, empty_response, json_response, views};
use crate::app::sessions;
use crate::domain::sessions::NewSession;
use crate::values::email::Email;
use crate::values::ids::{TenantId, UserId};
use crate::values::input::Bounded;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintBody {
    user_id: UserId,
    #[serde(default)]
    email: Option<Email>,
    #[serde(default)]
    lifetime_secs: Option<Bounded<300, { 400 * 86_400 }>>,
}

/// `POST /v1/admin/tenants/{id}/sessions` `{"user_id", "email"?, "lifetime_secs"?}`: 201
/// `{"token", "session"}`. The token is shown here once and never again.
pub(super) async fn mint(ctx: &Ctx<'_>, request: &Request, id: &TenantId) -> Result<Response, ApiError> {
    let MintBody { user_id, email, lifetime_secs } = body::json(request)?;
    let new =
        NewSession { user_id, email, lifetime_secs: lifetime_secs.map(|b| b.0), device: cookies::device(request) };
    let (token, session) = sessions::mint(ctx, id, new).await?;
    Ok(json_response(201, &views::Minted { token: token.expose(), session: (&session).into() }))
}

/// `DELETE /v1/admin/tenants/{id}/sessions/{session_id}`: 204 (also when already revoked), 404
/// when there is no such session.
pub(super) async fn revoke(ctx: &Ctx<'_>, id: &TenantId, session_id: &str) -> Result<Response, ApiError> {
    sessions::revoke(ctx, id, session_id).await?;
    Ok(empty_response(204))
}

/// `GET` lists a user's live sessions, newest first (signed cursor); `DELETE` revokes all of
/// them, across pages, and answers `{"revoked": n}`.
pub(super) async fn of_user(
    ctx: &Ctx<'_>,
    request: &Request,
    id: &TenantId,
    user_id: &str,
) -> Result<Response, ApiError> {
    let user_id = user_id_of(user_id)?;
    match request.method().as_str() {
        "GET" | "HEAD" => {
            let listed = sessions::list(ctx, id, &user_id, &body::page(request)?).await?;
            let view = views::Sessions {
                sessions: listed.items.iter().map(views::AdminSessionView::from).collect(),
                next_cursor: listed.next_cursor,
            };
            Ok(json_response(200, &view))
        }
        "DELETE" => {
            let revoked = sessions::revoke_all(ctx, id, &user_id).await?;
            Ok(json_response(200, &views::RevokedCount { revoked: u32::try_from(revoked).unwrap_or(u32::MAX) }))
        }
        _ => Err(ApiError::MethodNotAllowed { allow: "GET, DELETE" }),
    }
}
