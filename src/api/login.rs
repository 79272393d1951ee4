//! Passwordless login on a tenant host: `POST /v1/login/start` issues and delivers a code and
//! hands the client its login binding, `POST /v1/login/verify` consumes the code (at most once,
//! before expiry, within the attempt limit, only with the binding), finds or creates the user and
//! starts a session. The use cases are [`crate::app::login`]'s; this reads the bodies and the
//! binding (the HttpOnly cookie for browsers, a body field for server-side clients) and renders
//! the answers.

use std::rc::Rc;

use serde::Deserialize;

use super::cookies::{self, CookieMode};
use super::{ApiError, Ctx, Outcome, Request, body, json_response, only, views};
use crate::app::login::{self, Client};
use crate::domain::budgets::client_subject;
use crate::domain::login::{Binding, LoginCode};
use crate::domain::tenants::Tenant;
use crate::values::codes::ErrorCode;
use crate::values::email::Email;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    email: Email,
    #[serde(default)]
    deliver: Option<Deliver>,
    /// A server-side client's binding from an earlier start, to keep (its earlier code is then
    /// superseded).
    #[serde(default)]
    binding: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    login_id: String,
    code: String,
    #[serde(default)]
    deliver: Option<Deliver>,
    /// A server-side client's binding (a browser's is its cookie).
    #[serde(default)]
    binding: Option<String>,
}

/// Where a start delivers the login binding and a verify the session token: the HttpOnly cookie
/// (the default, and the only way for a browser), or the JSON body for a non-browser client that
/// asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Deliver {
    Cookie,
    Body,
}

/// Whether the request is plain http to this machine: `localhost`, `127.0.0.1` or a name under
/// `.localhost` (which resolves to loopback, RFC 6761), the only requests `DEV_MODE` answers.
fn local_http(request: &Request) -> bool {
    let host = super::request_host(request).and_then(|h| crate::values::host::canonical(&h).ok());
    request.uri().scheme_str() == Some("http") && host.is_some_and(|h| h.is_local())
}

/// Whether a browser sent the request: it carries `Origin` or `Sec-Fetch-Site`, which page
/// scripts can neither set nor remove.
fn from_browser(request: &Request) -> bool {
    let h = request.headers();
    h.contains_key(http::header::ORIGIN) || h.contains_key("sec-fetch-site")
}

/// `POST /v1/login/start` `{"email", "deliver"?, "binding"?}`: 202 `{"login_id", "expires_at"}`
/// (plus `"code"` in `DEV_MODE`), the same whether or not the email has an account, with the
/// login binding as the HttpOnly `__Host-dynauth-login` cookie, or with `"deliver": "body"` (a
/// server-side client; refused from a browser) in the answer as `"binding"`. A client that
/// presents its binding from an earlier start keeps it, and that start's code is superseded.
pub(crate) async fn start(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    let StartBody { email, deliver, binding } = body::json(request)?;
    let in_body = deliver == Some(Deliver::Body);
    let mode = CookieMode::of(ctx.config, request);
    let presented = presented_binding(request, mode, in_body, binding.as_deref())?;
    let address = client_subject(super::client_ip(request));
    let client = Client { address: &address, binding: presented.as_ref(), local_http: local_http(request) };
    let issued = login::start(ctx, &tenant, &email, client).await?;
    let code = ctx.config.login.dev_mode.then(|| issued.code.expose());
    let view = views::LoginStarted {
        login_id: &issued.login.login_id,
        expires_at: views::Time(issued.login.expires_at),
        code,
        binding: in_body.then(|| issued.binding.expose()),
    };
    let mut response = json_response(202, &view);
    if !in_body {
        let max_age = issued.login.expires_at - ctx.now_secs();
        cookies::set_cookie(&mut response, &mode.set_binding(issued.binding.expose(), max_age));
    }
    Ok(Outcome::Respond(response))
}

/// `POST /v1/login/verify` `{"login_id", "code", "deliver"?, "binding"?}`, with the login's binding
/// (the cookie, or `"binding"` from a server-side client): 200 `{"session", "user"}` with the
/// session cookie, or with `"deliver": "body"` (refused, 403 `body_delivery_refused`, from a
/// browser) `{"session", "user", "token"}` and no cookie; 401 `invalid_code` (with
/// `attempts_left` for a known login; also without the binding, or with another client's), 410
/// `code_expired` / `code_used` / `code_superseded`, 429 `too_many_attempts`.
pub(crate) async fn verify(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    // It sets the session cookie: a foreign page must not be able to log a browser in.
    super::browser::check_origin(&tenant, request)?;
    let VerifyBody { login_id, code, deliver, binding } = body::json(request)?;
    let in_body = deliver == Some(Deliver::Body);
    let mode = CookieMode::of(ctx.config, request);
    let presented = presented_binding(request, mode, in_body, binding.as_deref())?;
    let now = ctx.now_secs();
    let code = LoginCode::presented(&code);
    let address = client_subject(super::client_ip(request));
    let client = Client { address: &address, binding: presented.as_ref(), local_http: local_http(request) };
    let verified = login::verify(ctx, &tenant, &login_id, &code, cookies::device(request), client).await?;
    let session = &verified.session;
    let view = views::LoggedIn {
        session: session.into(),
        user: views::SessionUser { id: &session.user_id, email: session.email.as_ref() },
        token: in_body.then(|| verified.token.expose()),
    };
    let mut response = json_response(200, &view);
    if !in_body {
        cookies::set_cookie(&mut response, &mode.set(&verified.token, session.expires_at - now));
        super::session::set_snapshot(ctx, mode, &tenant, session, &mut response);
        // The login is used: its binding has nothing left to do.
        cookies::set_cookie(&mut response, &mode.set_binding("", 0));
    }
    Ok(Outcome::Respond(response))
}

/// The binding a request presents: for a server-side client (no `Origin`) the body's `binding`,
/// else the binding cookie. A browser's page script never sees or sends the binding: a browser
/// request asking for body delivery or carrying a `binding` field is refused (403
/// `body_delivery_refused`), and a malformed body field is 400.
fn presented_binding(
    request: &Request,
    mode: CookieMode,
    in_body: bool,
    field: Option<&str>,
) -> Result<Option<Binding>, ApiError> {
    if (in_body || field.is_some()) && from_browser(request) {
        return Err(ApiError::Forbidden {
            code: ErrorCode::BodyDeliveryRefused,
            message: "a browser keeps its login binding and session as HttpOnly cookies; \"deliver\": \"body\" and \"binding\" are for server-side clients (no Origin header)".into(),
        });
    }
    match field {
        Some(raw) => Binding::parse(raw).map(Some).ok_or_else(|| {
            ApiError::bad_request(ErrorCode::InvalidRequest, "binding: must be the binding a login start returned")
        }),
        None => Ok(mode.binding(request)),
    }
}
