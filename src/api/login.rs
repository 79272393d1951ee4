//! Passwordless login on a tenant host: `POST /v1/login/start` issues and delivers a code,
//! `POST /v1/login/verify` consumes it (at most once, before expiry, within the attempt limit),
//! finds or creates the user and starts a session. The use cases are `login::start` and
//! `login::verify`; this reads the bodies, picks the delivery the configuration asks for, and
//! renders the answers.

use std::rc::Rc;

use serde::Deserialize;

use super::cookies::{self, CookieMode};
use super::{ApiError, Ctx, Outcome, Request, body, json_response, only, views};
use crate::budgets::{Exceeded, client_subject};
use crate::config::ConfigError;
use crate::email::Email;
use crate::login::{self, Delivery, LoginCode, StartError, VerifyError};
use crate::tenants::{SecretKind, Tenant};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    email: Email,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    login_id: String,
    code: String,
    #[serde(default)]
    deliver: Option<Deliver>,
}

/// Where a verify delivers the session token: the HttpOnly cookie (the default, and the only way
/// for a browser), or the JSON body for a non-browser client that asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Deliver {
    Cookie,
    Body,
}

/// Whether the request is plain http to this machine: `localhost`, `127.0.0.1` or a name under
/// `.localhost` (which resolves to loopback, RFC 6761), the only requests `DEV_MODE` answers.
fn local_http(request: &Request) -> bool {
    let host = super::request_host(request).and_then(|h| crate::host::canonical(&h).ok());
    request.uri().scheme_str() == Some("http") && host.is_some_and(|h| h.is_local())
}

/// Whether a browser sent the request: it carries `Origin` or `Sec-Fetch-Site`, which page
/// scripts can neither set nor remove.
fn from_browser(request: &Request) -> bool {
    let h = request.headers();
    h.contains_key(http::header::ORIGIN) || h.contains_key("sec-fetch-site")
}

/// `POST /v1/login/start` `{"email"}`: 202 `{"login_id", "expires_at"}` (plus `"code"` in
/// `DEV_MODE`), the same whether or not the email has an account.
pub(crate) async fn start(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    let StartBody { email } = body::json(request)?;
    let settings = &ctx.config.login;
    if settings.dev_mode && !local_http(request) {
        // Codes in answers only to a developer's own machine: refused, never silently dropped.
        return Err(ConfigError {
            variable: "DEV_MODE",
            problem: "is true, which returns login codes only to plain-http requests to localhost, 127.0.0.1 or \
                      *.localhost, and this request is not one: unset DEV_MODE"
                .into(),
        }
        .into());
    }
    // A tenant's own webhook is signed with its own webhook secret(s); the platform's with
    // CODE_WEBHOOK_SECRET.
    let tenant_secrets = tenant.secrets(ctx.token_secret(), SecretKind::Webhook);
    let delivery = match (&tenant.code_webhook_url, &settings.webhook_url, &settings.webhook_secret) {
        (Some(url), _, _) => {
            Some(Delivery { url, secrets: tenant_secrets.iter().map(|s| s.expose().as_bytes()).collect() })
        }
        (None, Some(url), Some(secret)) => Some(Delivery { url, secrets: vec![secret.expose().as_bytes()] }),
        (None, Some(_), None) => {
            return Err(ConfigError {
                variable: "CODE_WEBHOOK_SECRET",
                problem: "is not set (webhook deliveries are signed with it)".into(),
            }
            .into());
        }
        (None, None, _) if settings.dev_mode => None,
        (None, None, _) => {
            return Err(ConfigError {
                variable: "CODE_WEBHOOK_URL",
                problem: "is not set, so login codes cannot be delivered".into(),
            }
            .into());
        }
    };
    let client = client_subject(super::client_ip(request));
    let secret = ctx.token_secret();
    let issued = login::start(
        &ctx.store,
        ctx.random,
        ctx.webhook,
        delivery,
        secret,
        &settings.limits,
        &client,
        &tenant,
        &email,
        ctx.now_secs(),
    )
    .await
    .map_err(|e| match e {
        StartError::TooMany(exceeded) => too_many(exceeded),
        StartError::Delivery(detail) => ApiError::DeliveryFailed { detail },
        StartError::Db(e) => e.into(),
    })?;
    let code = settings.dev_mode.then(|| issued.code.expose());
    if let Some(code) = code {
        ctx.log_dev_code(code, issued.login.login_id.as_str(), email.as_str());
    }
    let view = views::LoginStarted {
        login_id: &issued.login.login_id,
        expires_at: views::Time(issued.login.expires_at),
        code,
    };
    Ok(Outcome::Respond(json_response(202, &view)))
}

/// `POST /v1/login/verify` `{"login_id", "code", "deliver"?}`: 200 `{"session", "user"}` with the
/// session cookie, or with `"deliver": "body"` (refused, 403 `body_delivery_refused`, from a
/// browser) `{"session", "user", "token"}` and no cookie; 401 `invalid_code` (with `attempts_left` for a known login), 410 `code_expired`
/// / `code_used`, 429 `too_many_attempts`.
pub(crate) async fn verify(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    // It sets the session cookie: a foreign page must not be able to log a browser in.
    super::browser::check_origin(&tenant, request)?;
    let VerifyBody { login_id, code, deliver } = body::json(request)?;
    let in_body = deliver == Some(Deliver::Body);
    if in_body && from_browser(request) {
        // A page script must never hold the token: browsers get the HttpOnly cookie only.
        return Err(ApiError::Forbidden {
            code: "body_delivery_refused",
            message: "a browser gets the session as an HttpOnly cookie; \"deliver\": \"body\" is for server-side clients (no Origin header)".into(),
        });
    }
    let now = ctx.now_secs();
    let code = LoginCode::presented(&code);
    let device = cookies::device(request);
    let client = client_subject(super::client_ip(request));
    let limits = &ctx.config.login.limits;
    let verified = login::verify(
        &ctx.store,
        ctx.random,
        ctx.token_secret(),
        limits,
        &client,
        &tenant,
        &login_id,
        &code,
        device,
        now,
    )
    .await
    .map_err(verify_error)?;
    let session = &verified.session;
    let view = views::LoggedIn {
        session: session.into(),
        user: views::SessionUser { id: &session.user_id, email: session.email.as_ref() },
        token: in_body.then(|| verified.token.expose()),
    };
    let mut response = json_response(200, &view);
    if !in_body {
        let mode = CookieMode::of(ctx.config, request);
        cookies::set_cookie(&mut response, &mode.set(&verified.token, session.expires_at - now));
        super::session::set_snapshot(ctx, mode, &tenant, session, &mut response);
    }
    Ok(Outcome::Respond(response))
}

/// 429 `too_many_requests` with Retry-After, naming the budget in words.
fn too_many(exceeded: Exceeded) -> ApiError {
    ApiError::TooManyRequests {
        code: "too_many_requests",
        message: exceeded.message(),
        retry_after: exceeded.retry_after,
    }
}

fn verify_error(e: VerifyError) -> ApiError {
    let wrong = "the code is wrong, or there is no such login".to_string();
    let gone = |code: &'static str, message: &str| ApiError::Gone { code, message: message.into() };
    match e {
        VerifyError::InvalidCode { attempts_left: Some(attempts_left) } => {
            ApiError::InvalidCode { message: wrong, attempts_left }
        }
        VerifyError::InvalidCode { attempts_left: None } => {
            ApiError::Unauthorized { code: "invalid_code", message: wrong }
        }
        VerifyError::Used => gone("code_used", "this code has already been used; request a new one"),
        VerifyError::Expired => gone("code_expired", "this code has expired; request a new one"),
        VerifyError::Exhausted { retry_after } => ApiError::TooManyRequests {
            code: "too_many_attempts",
            message: "too many wrong codes: this code no longer works; request a new one".into(),
            retry_after,
        },
        VerifyError::Superseded => {
            gone("code_superseded", "a newer code was requested for this email; only the newest one works")
        }
        VerifyError::TooMany(exceeded) => too_many(exceeded),
        VerifyError::Conflict => {
            ApiError::Conflict { code: "conflict", message: "the login changed concurrently; retry".into() }
        }
        VerifyError::Db(e) => e.into(),
    }
}
