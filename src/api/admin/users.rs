//! Users: `GET|PATCH|DELETE .../users/{user_id}` and `GET .../users?email=`
//! ([`crate::app::users`]).

use crate::api::body::user_id_of;
use crate::api::{ApiError, Ctx, Request, Response, body, empty_response, json_response, views};
use crate::app::users;
use crate::domain::users::ProfileChange;
use crate::values::email::Email;
use crate::values::ids::TenantId;
use crate::values::input::Invalid;

/// `GET` a user (200 / 404); `PATCH` its profile (`{"name", "given_name", "family_name",
/// "picture", "locale"}`, each a value or `null` to remove; 200 with the user / 404); `DELETE`
/// it: its sessions are ended, then the user and its email claim are deleted together (204 / 404).
pub(super) async fn user(ctx: &Ctx<'_>, request: &Request, id: &TenantId, user_id: &str) -> Result<Response, ApiError> {
    let user_id = user_id_of(user_id)?;
    match request.method().as_str() {
        "GET" | "HEAD" => Ok(json_response(200, &views::UserView::from(&users::get(ctx, id, &user_id).await?))),
        "PATCH" => {
            let change: ProfileChange = body::json(request)?;
            let user = users::change_profile(ctx, id, &user_id, change).await?;
            Ok(json_response(200, &views::UserView::from(&user)))
        }
        "DELETE" => {
            users::delete(ctx, id, &user_id).await?;
            Ok(empty_response(204))
        }
        _ => Err(ApiError::MethodNotAllowed { allow: "GET, PATCH, DELETE" }),
    }
}

/// `GET /v1/admin/tenants/{id}/users?email=`: `{"users": [...]}`, the one user with that email or
/// none.
pub(super) async fn find(ctx: &Ctx<'_>, request: &Request, id: &TenantId) -> Result<Response, ApiError> {
    let raw = body::query(request, "email")?
        .ok_or_else(|| Invalid::field("email", "is required (users are found by email)"))?;
    let email = Email::parse(&raw).map_err(|e| Invalid::field("email", e))?;
    let user = users::find(ctx, id, &email).await?;
    Ok(json_response(200, &views::Users { users: user.iter().map(views::UserView::from).collect() }))
}
