//! Login codes as callers ask for them: start a login (issue and deliver a code, by the delivery
//! the settings and the tenant ask for) and verify one (consume it, find or create the user,
//! open the session), with the abuse budgets' and the codes' refusals as API errors.

use crate::app::{ApiError, ConfigError, Ctx};
use crate::domain::budgets::Exceeded;
use crate::domain::login::{
    self, Binding, Caller, LoginCode, Logins, NewCode, StartError, Undeliverable, Verified, VerifyError,
};
use crate::domain::sessions::Device;
use crate::domain::tenants::{SecretKind, Tenant};
use crate::values::codes::ErrorCode;
use crate::values::email::Email;

/// Who starts or verifies a login: the client's address (its budget subject) and the login
/// binding it presents, if any.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub address: &'a str,
    pub binding: Option<&'a Binding>,
    /// Plain http to this machine (`localhost`, `127.0.0.1`, `*.localhost`): the only requests
    /// `DEV_MODE` answers.
    pub local_http: bool,
}

/// Starts a login for `email` in `tenant`: a code issued and delivered (the tenant's webhook,
/// else the platform's; in `DEV_MODE` the answer and the log line carry it), the client's
/// binding kept or a new one made. The answer is the same whether or not the email has an
/// account.
pub async fn start(ctx: &Ctx<'_>, tenant: &Tenant, email: &Email, client: Client<'_>) -> Result<NewCode, ApiError> {
    if tenant.authjs.is_some() {
        // Its sessions are read from its Auth.js table: a dynauth session would never count.
        return Err(ApiError::Conflict {
            code: ErrorCode::SignInElsewhere,
            message: "this tenant's sessions are its Auth.js app's: sign in through the app".into(),
        });
    }
    let settings = &ctx.config.login;
    if settings.dev_mode && !client.local_http {
        // Codes in answers only to a developer's own machine: refused, never silently dropped.
        return Err(ConfigError {
            variable: "DEV_MODE",
            problem: "is true, which returns login codes only to plain-http requests to localhost, 127.0.0.1 or \
                      *.localhost, and this request is not one: unset DEV_MODE"
                .into(),
        }
        .into());
    }
    let tenant_secrets = tenant.secrets(ctx.token_secret(), SecretKind::Webhook);
    let platform = settings
        .webhook_url
        .as_deref()
        .map(|url| (url, settings.webhook_secret.as_ref().map(|s| s.expose().as_bytes())));
    let delivery = login::delivery(tenant, &tenant_secrets, platform, settings.dev_mode).map_err(|e| match e {
        Undeliverable::NoSecret => ConfigError {
            variable: "CODE_WEBHOOK_SECRET",
            problem: "is not set (webhook deliveries are signed with it)".into(),
        },
        Undeliverable::NoWebhook => ConfigError {
            variable: "CODE_WEBHOOK_URL",
            problem: "is not set, so login codes cannot be delivered".into(),
        },
    })?;
    let caller = Caller { address: client.address, binding: client.binding };
    let issued =
        logins(ctx).start(ctx.webhook, delivery, caller, tenant, email, ctx.now_secs()).await.map_err(|e| match e {
            StartError::TooMany(exceeded) => too_many(exceeded),
            StartError::Delivery(detail) => ApiError::DeliveryFailed { detail },
            StartError::Db(e) => e.into(),
        })?;
    if settings.dev_mode {
        ctx.log_dev_code(issued.code.expose(), issued.login.login_id.as_str(), email.as_str());
    }
    Ok(issued)
}

/// Verifies `code` for the login `login_id`: at most once, before expiry, within the attempt
/// limit, only with the login's binding; then the user found or created and a session opened.
pub async fn verify(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    login_id: &str,
    code: &LoginCode,
    device: Device,
    client: Client<'_>,
) -> Result<Verified, ApiError> {
    let caller = Caller { address: client.address, binding: client.binding };
    logins(ctx).verify(caller, tenant, login_id, code, device, ctx.now_secs()).await.map_err(verify_error)
}

/// The login use cases over this request's table and settings.
pub fn logins<'a>(ctx: &'a Ctx<'_>) -> Logins<'a> {
    Logins { store: &ctx.store, random: ctx.random, secret: ctx.token_secret(), limits: &ctx.config.login.limits }
}

/// 429 `too_many_requests` with Retry-After, naming the budget in words.
pub fn too_many(exceeded: Exceeded) -> ApiError {
    ApiError::TooManyRequests {
        code: ErrorCode::TooManyRequests,
        message: exceeded.message(),
        retry_after: exceeded.retry_after,
    }
}

fn verify_error(e: VerifyError) -> ApiError {
    let gone = |code: ErrorCode, message: &str| ApiError::Gone { code, message: message.into() };
    match e {
        VerifyError::InvalidCode { attempts_left, unbound } => {
            let mut message = "the code is wrong, or there is no such login".to_string();
            if unbound {
                // Said of the request, not of the login: it reveals nothing about the login.
                message.push_str(
                    "; this request presents no login binding (the cookie a browser got from the start, or \"binding\" from a start with \"deliver\": \"body\"), and without it no code works",
                );
            }
            match attempts_left {
                Some(attempts_left) => ApiError::InvalidCode { message, attempts_left },
                None => ApiError::Unauthorized { code: ErrorCode::InvalidCode, message },
            }
        }
        VerifyError::Used => gone(ErrorCode::CodeUsed, "this code has already been used; request a new one"),
        VerifyError::Expired => gone(ErrorCode::CodeExpired, "this code has expired; request a new one"),
        VerifyError::Exhausted { retry_after } => ApiError::TooManyRequests {
            code: ErrorCode::TooManyAttempts,
            message: "too many wrong codes: this code no longer works; request a new one".into(),
            retry_after,
        },
        VerifyError::Superseded => gone(
            ErrorCode::CodeSuperseded,
            "a newer code was requested for this email from this client; only the newest one works",
        ),
        VerifyError::TooMany(exceeded) => too_many(exceeded),
        VerifyError::Conflict => {
            ApiError::Conflict { code: ErrorCode::Conflict, message: "the login changed concurrently; retry".into() }
        }
        VerifyError::Db(e) => e.into(),
    }
}
