//! Sessions as callers ask for them: the live session a request presents (the hot path: its
//! signed snapshot, the nearest replica, home), the snapshot to hand back, and ending sessions —
//! the one way a session ends before its time, whoever asks (the browser's logout, RP-initiated
//! logout, the admin API, the CLI): revoked in the table, then every client it signed in to told
//! over the back channel.

#[cfg(cold)]
use crate::app::oauth::signing;
#[cfg(cold)]
use crate::app::pages::{Listed, Page};
use crate::app::{ApiError, Ctx, Deferred};
#[cfg(cold)]
use crate::domain::oidc;
#[cfg(cold)]
use crate::domain::oidc::tokens;
use crate::domain::sessions::authjs::{self, AuthjsToken};
use crate::domain::sessions::{self, Found, Session, SessionToken, snapshot};
#[cfg(cold)]
use crate::domain::sessions::{NewSession, Revoked};
#[cfg(cold)]
use crate::domain::tenants::clients;
use crate::domain::tenants::{AuthjsStore, Tenant};
#[cfg(cold)]
use crate::domain::users;
#[cfg(cold)]
use crate::values::ids::{ClientId, SessionId, TenantId, UserId};

/// The token a request presents: dynauth's own, or an Auth.js tenant's.
#[derive(Debug, Clone)]
pub enum Credential<'a> {
    Token(SessionToken),
    Authjs(&'a AuthjsStore, AuthjsToken),
}

/// The live session `credential` opens in `tenant`, and whether it came from the browser's
/// signed `snapshot` cookie (no DynamoDB call): else ONE DynamoDB request, the nearest replica's
/// when `use_cache`, home's (consistent, never the snapshot) when not; a slide, when due, is
/// deferred. `email`: an Auth.js tenant's user is read for the email when it says so. Anything
/// else (unknown, expired, idle-expired, revoked, another tenant's) is `None`.
pub async fn find(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    credential: &Credential<'_>,
    snapshot: Option<&str>,
    use_cache: bool,
    email: bool,
) -> Result<Option<(Session, bool)>, ApiError> {
    let snapshot = snapshot.map(|raw| sessions::Presented { raw, token_secret: ctx.token_secret() });
    let found = match credential {
        Credential::Authjs(store, token) => {
            authjs::find(&ctx.regions, tenant, store, token, snapshot, ctx.now, !use_cache, email).await?
        }
        Credential::Token(token) => sessions::find(&ctx.regions, tenant, token, snapshot, ctx.now, !use_cache).await?,
    };
    let Some(Found { session, slide, from_snapshot }) = found else { return Ok(None) };
    if let Some(slide) = slide {
        ctx.defer(Deferred::Slide(slide));
    }
    Ok(Some((session, from_snapshot)))
}

/// The signed snapshot of `session` for the browser to keep (its value and max-age), when
/// `tenant` caches sessions.
pub fn snapshot_of(ctx: &Ctx<'_>, tenant: &Tenant, session: &Session) -> Option<(String, i64)> {
    snapshot::seal(ctx.token_secret(), tenant, session, ctx.now_secs())
}

/// A signed JWT for the live `session` (its claims, the tenant's newest Ed25519 key), issued by
/// `issuer` (the tenant host asked); 404 without `JWT_MASTER_KEY`.
#[cfg(cold)]
pub async fn session_jwt(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    session: &Session,
    issuer: &str,
) -> Result<crate::domain::jwt::Issued, ApiError> {
    let master = signing::master_key(ctx)?;
    let key = signing::signing_key(ctx, master, tenant, crate::platform::signature::Alg::EdDsa).await?;
    let jti = ctx.random.bytes::<16>();
    Ok(crate::domain::jwt::issue(ctx.crypto, &key, tenant, session, issuer, ctx.now_secs(), jti).await?)
}

/// Ends the Auth.js session `token` opens (its item deleted, as the adapter's `deleteSession`);
/// the browser's `snapshot` cookie, when it vouches for the user, spares a read. No back-channel
/// logouts: dynauth is no OpenID Provider for such a tenant.
#[cfg(cold)]
pub async fn end_authjs(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    store: &AuthjsStore,
    token: &AuthjsToken,
    snapshot: Option<&str>,
) -> Result<(), ApiError> {
    let user = snapshot.and_then(|raw| snapshot::vouched_user(ctx.token_secret(), tenant, raw, &token.id()));
    Ok(authjs::end(ctx.store.db, store, token, user).await?)
}

/// What ends.
#[cfg(cold)]
#[derive(Debug, Clone, Copy)]
pub enum Ending<'a> {
    /// One session.
    Session(&'a SessionId),
    /// Every live session of a user.
    AllOf(&'a UserId),
    /// A user, deleted: its sessions revoked, then the user and its email claim deleted together.
    User(&'a UserId),
}

/// What ended.
#[cfg(cold)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// These sessions, revoked now (none, for a user without live sessions).
    Now(Vec<SessionId>),
    /// The one session had been revoked before (its clients are told again: a notice lost the
    /// first time is not lost for good).
    Already,
    /// No such session, or no such user: nothing changed, no one told.
    Nothing,
}

#[cfg(cold)]
/// Ends what `ending` names in `tenant` and tells every client those sessions signed in to.
pub async fn end(ctx: &Ctx<'_>, tenant: &Tenant, ending: Ending<'_>) -> Result<Ended, ApiError> {
    let now = ctx.now_secs();
    let (ended, told) = match ending {
        Ending::Session(id) => match sessions::revoke(&ctx.store, &tenant.id, id, now).await? {
            Revoked::Now => (Ended::Now(vec![id.clone()]), vec![id.clone()]),
            Revoked::Already => (Ended::Already, vec![id.clone()]),
            Revoked::NoSuchSession => (Ended::Nothing, Vec::new()),
        },
        Ending::AllOf(user) => {
            let ended = sessions::revoke_all(&ctx.store, tenant, user, now).await?;
            (Ended::Now(ended.clone()), ended)
        }
        Ending::User(user) => match users::delete(&ctx.store, ctx.random, tenant, user, now).await? {
            Some(ended) => (Ended::Now(ended.clone()), ended),
            None => (Ended::Nothing, Vec::new()),
        },
        #[cfg(not(cold))]
        Ending::User(_) => return Err(ApiError::Internal { detail: "users are deleted by the admin Worker".into() }),
    };
    tell_clients(ctx, tenant, &told).await?;
    #[cfg(not(cold))]
    let _ = told;
    Ok(ended)
}

#[cfg(cold)]
/// Ends session `session` of tenant `id` (as the admin API and the CLI ask): whether it ended
/// now or had ended before; 404 when there is no such tenant or session.
pub async fn revoke(ctx: &Ctx<'_>, id: &TenantId, session: &str) -> Result<Ended, ApiError> {
    let tenant = crate::app::tenants::get(ctx, id).await?;
    let no_session = || ApiError::not_found("no such session");
    let session = SessionId::parse(session).map_err(|_| no_session())?;
    match end(ctx, &tenant, Ending::Session(&session)).await? {
        Ended::Nothing => Err(no_session()),
        ended => Ok(ended),
    }
}

#[cfg(cold)]
/// Ends every live session of user `user` of tenant `id` (across pages): how many ended.
pub async fn revoke_all(ctx: &Ctx<'_>, id: &TenantId, user: &UserId) -> Result<usize, ApiError> {
    let tenant = crate::app::tenants::get(ctx, id).await?;
    Ok(match end(ctx, &tenant, Ending::AllOf(user)).await? {
        Ended::Now(ended) => ended.len(),
        Ended::Already | Ended::Nothing => 0,
    })
}

#[cfg(cold)]
/// A page of user `user`'s live sessions, newest first.
pub async fn list(ctx: &Ctx<'_>, id: &TenantId, user: &UserId, page: &Page) -> Result<Listed<Session>, ApiError> {
    let tenant = crate::app::tenants::get(ctx, id).await?;
    let scope = format!("sessions:{}:{user}", tenant.id);
    let start = page.start(ctx, &scope)?;
    let listed = sessions::list_live(&ctx.store, &tenant, user, page.limit, start, ctx.now_secs()).await?;
    Ok(Listed::of(ctx, &scope, listed))
}

#[cfg(cold)]
/// Opens a session for a user authenticated elsewhere (the admin API's mint): its token (shown
/// this once) and the session.
pub async fn mint(ctx: &Ctx<'_>, id: &TenantId, new: NewSession) -> Result<(SessionToken, Session), ApiError> {
    let tenant = crate::app::tenants::get(ctx, id).await?;
    Ok(sessions::mint(&ctx.store, ctx.random, &tenant, new, ctx.now_secs()).await?)
}

#[cfg(cold)]
/// Back-channel logout (OpenID Connect Back-Channel Logout 1.0): tells each client that the
/// `ended` sessions signed in to, and that registered a `backchannel_logout_uri`, with a logout
/// token signed by the tenant's key of the client's algorithm, POSTed as a form. It goes through
/// the webhook transport (its deadline; a redirect is an answer, never followed); a client that
/// does not answer 2xx is not asked again (its tokens are revoked anyway, with the session).
/// Without `JWT_MASTER_KEY` there are no grants, so no one to tell.
async fn tell_clients(ctx: &Ctx<'_>, tenant: &Tenant, ended: &[SessionId]) -> Result<(), ApiError> {
    let Some(master) = ctx.config.jwt_master_key.as_ref() else { return Ok(()) };
    let now = ctx.now_secs();
    for session in ended {
        let mut told: Vec<ClientId> = Vec::new();
        for grant in oidc::session_grants(&ctx.store, tenant, session).await? {
            if told.contains(&grant.client_id) {
                continue;
            }
            told.push(grant.client_id.clone());
            let Some(client) = clients::get(&ctx.store, tenant, &grant.client_id).await? else { continue };
            let Some(uri) = &client.backchannel_logout_uri else { continue };
            let key = signing::signing_key(ctx, master, tenant, client.id_token_signed_response_alg.alg()).await?;
            let token = tokens::logout_token(ctx.crypto, &key, &grant, now, ctx.random.bytes::<16>()).await?;
            let body = format!("logout_token={}", crate::values::input::encode_component(&token)).into_bytes();
            let request = http::Request::builder()
                .method(http::Method::POST)
                .uri(uri.as_str())
                .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(http::header::USER_AGENT, "dynauth-backchannel-logout/1")
                .extension(crate::platform::runtime::AnswerLimit(crate::platform::runtime::OUTSIDE_ANSWER_LIMIT))
                .body(body);
            if let Ok(request) = request {
                // The answer does not change the logout: the session has ended either way.
                let _ = ctx.webhook.send(request).await;
            }
        }
    }
    Ok(())
}
