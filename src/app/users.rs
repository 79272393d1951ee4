//! A tenant's users, as the admin API and the CLI see them: read one, find one by email, change
//! its profile, delete it (its sessions ended first: [`crate::app::sessions::end`]).

use crate::app::sessions::{Ended, Ending, end};
use crate::app::{ApiError, Ctx, tenants};
use crate::domain::users::{self, ProfileChange, User};
use crate::values::email::Email;
use crate::values::ids::{TenantId, UserId};

/// User `user` of tenant `id`; 404 when either is not there.
pub async fn get(ctx: &Ctx<'_>, id: &TenantId, user: &UserId) -> Result<User, ApiError> {
    let tenant = tenants::get(ctx, id).await?;
    users::get(&ctx.store, &tenant, user).await?.ok_or_else(no_user)
}

/// The user of tenant `id` with `email`, if there is one; 404 when there is no such tenant.
pub async fn find(ctx: &Ctx<'_>, id: &TenantId, email: &Email) -> Result<Option<User>, ApiError> {
    let tenant = tenants::get(ctx, id).await?;
    Ok(users::find_by_email(&ctx.store, &tenant, email).await?)
}

/// Changes the profile of user `user` (each field a value, or `None` to remove it); the user.
pub async fn change_profile(
    ctx: &Ctx<'_>,
    id: &TenantId,
    user: &UserId,
    change: ProfileChange,
) -> Result<User, ApiError> {
    let tenant = tenants::get(ctx, id).await?;
    users::change_profile(&ctx.store, &tenant, user, change, ctx.now_secs()).await?.ok_or_else(no_user)
}

/// Deletes user `user`: its sessions are ended (and their clients told), then the user and its
/// email claim are deleted together; 404 when there is no such user.
pub async fn delete(ctx: &Ctx<'_>, id: &TenantId, user: &UserId) -> Result<(), ApiError> {
    let tenant = tenants::get(ctx, id).await?;
    match end(ctx, &tenant, Ending::User(user)).await? {
        Ended::Now(_) | Ended::Already => Ok(()),
        Ended::Nothing => Err(no_user()),
    }
}

/// The 404 of a user that is not there.
pub fn no_user() -> ApiError {
    ApiError::not_found("no user with this id")
}
