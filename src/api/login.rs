//! Passwordless login on a tenant host: `POST /v1/login/start` issues and delivers a code,
//! `POST /v1/login/verify` consumes it (at most once, before expiry, within the attempt limit),
//! finds or creates the user and starts a session.

use std::rc::Rc;

use serde_json::{Value, json};

use super::session::{cookie_mode, set_cookie};
use super::{ApiError, Ctx, Outcome, Request, content_type, json_response, only};
use crate::config::ConfigError;
use crate::dynamo::{DynamoError, TransactItem, TransactWriteItemsInput};
use crate::email;
use crate::input::{Fields, Invalid, json_object};
use crate::login::{self, Login, LoginCode, LoginId, State};
use crate::runtime::{Runtime, Transport, epoch_secs};
use crate::sessions::{Device, rfc3339_secs};
use crate::tenants::Tenant;

/// `POST /v1/login/start` `{"email"}`: 202 `{"login_id", "expires_at"}` (plus `"code"` in
/// `DEV_MODE`), the same whether or not the email has an account.
pub(crate) async fn start<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    request: &Request,
    tenant: Rc<Tenant>,
) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    let body = json_object(content_type(request), request.body(), &["email"])?;
    let email = email::normalize(Fields::new(&body, "").string("email")?).map_err(|e| Invalid::field("email", e))?;
    let settings = &ctx.config.login;
    let webhook = tenant.code_webhook_url.as_ref().or(settings.webhook_url.as_ref());
    let signer = match (webhook, &settings.webhook_secret) {
        (Some(url), Some(secret)) => Some((url, secret)),
        (Some(_), None) => {
            return Err(ConfigError {
                variable: "CODE_WEBHOOK_SECRET",
                problem: "is not set (webhook deliveries are signed with it)".into(),
            }
            .into());
        }
        (None, _) if settings.dev_mode => None,
        (None, _) => {
            return Err(ConfigError {
                variable: "CODE_WEBHOOK_URL",
                problem: "is not set, so login codes cannot be delivered".into(),
            }
            .into());
        }
    };
    let rt = ctx.db.runtime();
    let now = epoch_secs(rt.now());
    let window = i64::try_from(settings.rate_window_secs).unwrap_or(900);
    if let Err(retry_after) = ctx.logins().rate_limit(&tenant, &email, now, settings.rate_limit, window).await? {
        return Err(ApiError::TooManyRequests {
            code: "too_many_requests",
            message: format!("too many codes were requested for this email; retry in {retry_after} s"),
            retry_after: u64::try_from(retry_after).unwrap_or(1),
        });
    }
    let hint = ctx.users().claim_of(&tenant, &email, false).await?;
    let (login, code) = login::issue(rt, ctx.config.token_secret.expose().as_bytes(), &tenant, &email, hint, now);
    if let Some((url, secret)) = signer {
        let payload = json!({
            "tenant": tenant.id,
            "email": email,
            "code": code.expose(),
            "login_id": login.login_id,
            "expires_at": rfc3339_secs(login.expires_at),
        });
        deliver(ctx, url, secret.expose().as_bytes(), &payload, now).await?;
    }
    // Stored only after delivery succeeded: a failed delivery leaves no usable code behind.
    ctx.logins().put(&login).await?;
    let mut answer = json!({ "login_id": login.login_id, "expires_at": rfc3339_secs(login.expires_at) });
    if settings.dev_mode {
        ctx.log_dev_code(code.expose());
        answer["code"] = json!(code.expose());
    }
    Ok(Outcome::Respond(json_response(202, &answer)))
}

/// Posts the signed payload; anything but a 2xx answer is `delivery_failed`.
async fn deliver<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    url: &str,
    secret: &[u8],
    payload: &Value,
    now: i64,
) -> Result<(), ApiError> {
    let request = login::webhook_request(url, secret, payload, now)
        .map_err(|e| ApiError::DeliveryFailed { detail: e.to_string() })?;
    match ctx.db.transport().send(request).await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(ApiError::DeliveryFailed { detail: format!("the webhook answered HTTP {}", r.status().as_u16()) }),
        Err(e) => Err(ApiError::DeliveryFailed { detail: e.to_string() }),
    }
}

/// `POST /v1/login/verify` `{"login_id", "code"}`: 200 `{"session", "user", "token"}` with the
/// session cookie; 401 `invalid_code` (with `attempts_left` for a known login), 410 `code_expired`
/// / `code_used`, 429 `too_many_attempts`.
pub(crate) async fn verify<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    request: &Request,
    tenant: Rc<Tenant>,
) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    // It sets the session cookie: a foreign page must not be able to log a browser in.
    super::browser::check_origin(&tenant, request)?;
    let body = json_object(content_type(request), request.body(), &["login_id", "code"])?;
    let f = Fields::new(&body, "");
    let (raw_id, raw_code) = (f.string("login_id")?, f.string("code")?);
    let Some(login_id) = LoginId::parse(raw_id) else { return Err(invalid_code(None)) };
    let code = LoginCode::presented(raw_code);
    let secret = ctx.config.token_secret.expose().as_bytes();
    let now = epoch_secs(ctx.db.runtime().now());
    for _ in 0..4 {
        let Some(login) = ctx.logins().get(&tenant, &login_id).await? else { return Err(invalid_code(None)) };
        match login.state(now) {
            State::Used => return Err(gone("code_used", "this code has already been used; request a new one")),
            State::Expired => return Err(gone("code_expired", "this code has expired; request a new one")),
            State::Exhausted => return Err(exhausted(&login, now)),
            State::Open => {}
        }
        if !login.matches(secret, &code) {
            match ctx.logins().charge_attempt(&login, now).await? {
                Some(after) => return Err(invalid_code(Some(login.max_attempts.saturating_sub(after)))),
                None => continue, // it changed meanwhile: read it again for the right answer
            }
        }
        if let Some(outcome) = finish(ctx, request, &tenant, &login, now).await? {
            return Ok(outcome);
        }
    }
    Err(ApiError::Conflict { code: "conflict", message: "the login changed concurrently; retry".into() })
}

/// The right code: one transaction consumes the login, records the login of the user (or
/// creates the user, claiming the email) and creates the session. `None` when the login itself
/// changed meanwhile (the caller reads it again).
async fn finish<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    request: &Request,
    tenant: &Tenant,
    login: &Login,
    now: i64,
) -> Result<Option<Outcome>, ApiError> {
    let users = ctx.users();
    let mut user_id = login.user_hint.clone();
    for _ in 0..3 {
        let (uid, mut actions) = match &user_id {
            Some(id) => (id.clone(), vec![users.login_action(tenant, id, &login.email, now)]),
            None => {
                let (user, actions) = users.create_actions(tenant, &login.email, now)?;
                (user.id, actions)
            }
        };
        let (token, session) =
            ctx.sessions().build(tenant, &uid, Some(&login.email), None, Device::from_headers(request.headers()));
        actions.insert(0, ctx.logins().use_action(login, now));
        actions.push(TransactItem::Put(ctx.sessions().put_input(&session)?));
        let input =
            TransactWriteItemsInput { transact_items: actions, client_request_token: Some(ctx.db.request_token()) };
        match ctx.db.transact_write_items(&input).await {
            Ok(()) => {
                let mut response = json_response(
                    200,
                    &json!({ "session": session.to_json(), "user": session.user_json(), "token": token.expose() }),
                );
                set_cookie(&mut response, &cookie_mode(ctx, request).set(&token, session.expires_at - now));
                return Ok(Some(Outcome::Respond(response)));
            }
            Err(DynamoError::TransactionCanceled { reasons, .. }) => {
                let failed = |i: usize| reasons.get(i).and_then(|r| r.code.as_deref()).is_some();
                if failed(0) {
                    return Ok(None);
                }
                if failed(1) {
                    // The user we expected is gone, or someone else just created the user: ask
                    // the email claim who owns the email now.
                    user_id = users.claim_of(tenant, &login.email, true).await?;
                    continue;
                }
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

fn invalid_code(attempts_left: Option<u32>) -> ApiError {
    let message = "the code is wrong, or there is no such login".to_string();
    match attempts_left {
        Some(left) => {
            ApiError::Detailed { status: 401, code: "invalid_code", message, details: json!({ "attempts_left": left }) }
        }
        None => ApiError::Unauthorized { code: "invalid_code", message },
    }
}

fn gone(code: &'static str, message: &str) -> ApiError {
    ApiError::Gone { code, message: message.into() }
}

fn exhausted(login: &Login, now: i64) -> ApiError {
    ApiError::TooManyRequests {
        code: "too_many_attempts",
        message: "too many wrong codes: this code no longer works; request a new one".into(),
        retry_after: u64::try_from(login.expires_at - now).unwrap_or(1).max(1),
    }
}
