//! Every tenant host an OpenID Provider: the authorization code flow with PKCE (RFC 6749 §4.1,
//! RFC 7636, OpenID Connect Core 3.1), as use cases on the table.
//!
//! - An *authorization code* (`keys::authorization_code`) is 32 random bytes, stored only as its
//!   SHA-256, valid for [`CODE_TTL_SECS`], bound to its client, redirect URI, PKCE challenge,
//!   nonce, session and scopes. Redeeming it is one transaction (the code marked used, on
//!   condition that it was not, and the grant created), so exactly one of any number of
//!   concurrent redemptions wins; a code presented again revokes the grant it started
//!   (RFC 6749 §4.1.2), except the same client's identical retry of a redemption that was never
//!   handed out (answered 503), within its window ([`Grants`]).
//! - A *grant* (`keys::grant`) is what the code started: the user, session, client and scopes its
//!   tokens stand on, and the hash of its one current refresh token. Its id is the SHA-256 of a
//!   secret only refresh tokens carry (`{grant secret}.{rotating secret}`), so an access token,
//!   which names the grant, cannot be turned into a refresh token. A refresh rotates the token
//!   (on condition that it is the current one); a rotated one presented again revokes the grant.
//!   A revoked grant, or an ended session, ends every token of it: the refresh token at once,
//!   access tokens at the `userinfo` and introspection endpoints at once and, for verifiers
//!   offline, when they expire (the tenant's `jwt.ttl_secs`).
//!
//! Uses: `sessions` (the session a grant stands on), `tenants` (clients), `jwt` and [`keys`]
//! (signing), [`tokens`] (what tokens say).

pub mod keys;
pub mod tokens;

use serde::{Deserialize, Serialize};

use crate::domain::sessions::Session;
use crate::domain::tenants::Tenant;
use crate::domain::tenants::clients::{Client, ClientSecret, ClientType};
use crate::dynamo::expr::and;
use crate::dynamo::{DynamoError, Expr, Item, TransactItem, Transaction, TxError, Write};
use crate::platform::crypto::{b64url, constant_time_eq, hash_b64, hmac_parts};
use crate::platform::runtime::Random;
use crate::table::keys as table_keys;
use crate::table::store::Store;
use crate::values::email::Email;
use crate::values::ids::{ClientId, SessionId, TenantId, UserId};
use crate::values::input::encode_component;

/// How long an authorization code can be redeemed (RFC 6749 §4.1.2 recommends at most 10 min).
pub const CODE_TTL_SECS: i64 = 60;
/// How long a used or expired code is kept to recognise a second use (then DynamoDB's TTL).
pub const CODE_KEEP_SECS: i64 = 3_600;
/// The longest `state` and `nonce` kept.
pub const MAX_STATE: usize = 1_024;

/// The `error` of an OAuth error response: the codes of RFC 6749 §4.1.2.1 and §5.2, RFC 6750
/// §3.1, RFC 7009 §2.2.1 and OpenID Connect Core 3.1.2.6 that dynauth answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    InvalidToken,
    UnsupportedGrantType,
    UnsupportedResponseType,
    UnsupportedTokenType,
    AccessDenied,
    LoginRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    RegistrationNotSupported,
}

impl OAuthErrorCode {
    /// The code as the standards spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidToken => "invalid_token",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::AccessDenied => "access_denied",
            Self::LoginRequired => "login_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::RegistrationNotSupported => "registration_not_supported",
        }
    }
}

impl std::fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error as RFC 6749 §5.2 (and §4.1.2.1) names it: `error` and a description for the
/// developer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub error: OAuthErrorCode,
    pub description: String,
}

impl OAuthError {
    pub fn new(error: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self { error, description: description.into() }
    }

    /// `invalid_request`.
    pub fn request(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    fn grant(description: &str) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, description)
    }
}

/// The parameters of an OAuth request (its query, or its form body): each at most once
/// (RFC 6749 §3.1), one sent without a value as if omitted. `Debug` names the parameters only
/// (their values carry codes, secrets and tokens).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// The decoded pairs of a query or form body, in order.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// The value of `name`, if it was sent with one; `invalid_request` when it was sent twice.
    pub fn get(&self, name: &'static str) -> Result<Option<String>, OAuthError> {
        let mut values = self.0.iter().filter(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v);
        let first = values.next().cloned();
        if values.next().is_some() {
            return Err(OAuthError::request(format!("the {name} parameter is given more than once")));
        }
        Ok(first)
    }

    /// Every pair, as sent.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Params").field(&self.0.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>()).finish()
    }
}

/// `uri` with `pairs` added to its query (each form-encoded): the redirects of the flows.
pub fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = uri.to_string();
    let mut sep = if uri.contains('?') { '&' } else { '?' };
    for (k, v) in pairs {
        out.push(sep);
        out.push_str(&encode_component(k));
        out.push('=');
        out.push_str(&encode_component(v));
        sep = '&';
    }
    out
}

/// What `prompt` asks for (OpenID Connect Core 3.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prompt {
    #[default]
    Default,
    /// Never show a page: a code at once, or `login_required`.
    None,
    /// Sign in again, whatever session the browser has.
    Login,
}

/// An authorization request whose client and redirect URI are known good: from here on every
/// error goes back to the client (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    pub client: Client,
    pub redirect_uri: String,
    pub state: Option<String>,
    /// The [`Pending`] request it came back from the login page as (its `resume` value), if any.
    pub resumed: Option<(String, Pending)>,
}

/// The rest of an authorization request, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The session must have been made at or after this time: set only from the request's
    /// [`Pending`] record (kept in the table when the request went to the login page for
    /// `prompt=login` or `max_age`), never from anything the request itself carries.
    pub authenticated_after: Option<i64>,
}

/// Reads an authorization request's parameters: `param(name)` is the value, `Err` when the
/// parameter was given more than once (RFC 6749 §3.1).
pub fn authorization(
    param: &dyn Fn(&'static str) -> Result<Option<String>, OAuthError>,
    client: &Client,
) -> Result<Authorization, OAuthError> {
    for unsupported in ["request", "request_uri", "registration"] {
        if param(unsupported)?.is_some() {
            let error = match unsupported {
                "request" => OAuthErrorCode::RequestNotSupported,
                "request_uri" => OAuthErrorCode::RequestUriNotSupported,
                _ => OAuthErrorCode::RegistrationNotSupported,
            };
            return Err(OAuthError::new(error, format!("the {unsupported} parameter is not supported")));
        }
    }
    match param("response_type")?.as_deref() {
        Some("code") => {}
        None => return Err(OAuthError::request("response_type is required (code)")),
        Some(_) => {
            return Err(OAuthError::new(
                OAuthErrorCode::UnsupportedResponseType,
                "only the code flow is supported (response_type=code)",
            ));
        }
    }
    if let Some(mode) = param("response_mode")?
        && mode != "query"
    {
        return Err(OAuthError::request("only response_mode=query is supported"));
    }
    let scope = param("scope")?.unwrap_or_default();
    let mut scopes: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !client.scopes.iter().any(|allowed| allowed == s) {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidScope,
                format!("the scope {s} is not allowed for this client"),
            ));
        }
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_string());
        }
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err(OAuthError::new(OAuthErrorCode::InvalidScope, "the scope must include openid"));
    }
    let code_challenge = match (param("code_challenge")?, param("code_challenge_method")?.as_deref()) {
        (None, _) => return Err(OAuthError::request("PKCE is required: code_challenge is missing")),
        (Some(_), None | Some("plain")) => {
            return Err(OAuthError::request("code_challenge_method must be S256 (plain is refused)"));
        }
        (Some(_), Some(m)) if m != "S256" => {
            return Err(OAuthError::request("code_challenge_method must be S256"));
        }
        (Some(c), Some(_)) => c,
    };
    if code_challenge.len() != 43
        || !code_challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(OAuthError::request("code_challenge must be 43 base64url characters (S256)"));
    }
    let nonce = param("nonce")?;
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_STATE) {
        return Err(OAuthError::request(format!("nonce is longer than {MAX_STATE} characters")));
    }
    let prompt = match param("prompt")?.as_deref().map(str::trim) {
        None | Some("") => Prompt::Default,
        Some("none") => Prompt::None,
        Some("login") | Some("select_account") | Some("login select_account") => Prompt::Login,
        Some("consent") => Prompt::Default,
        Some(p) if p.split(' ').any(|v| v == "none") => {
            return Err(OAuthError::request("prompt=none cannot be combined with other values"));
        }
        Some(p) if p.split(' ').all(|v| ["login", "consent", "select_account"].contains(&v)) => Prompt::Login,
        Some(_) => {
            return Err(OAuthError::request("prompt must be none, login, consent or select_account"));
        }
    };
    let max_age = match param("max_age")? {
        None => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return Err(OAuthError::request("max_age must be a whole number of seconds")),
        },
    };
    let login_hint = param("login_hint")?.filter(|h| h.len() <= 254 && !h.chars().any(char::is_control));
    Ok(Authorization { scopes, nonce, code_challenge, prompt, max_age, login_hint, authenticated_after: None })
}

impl Authorization {
    /// Whether `session` satisfies the request (`prompt=login`, `max_age`, or a sign-in after its
    /// pending record was made), at `now`.
    pub fn satisfied_by(&self, session: &Session, now: i64) -> bool {
        let fresh_enough = self.max_age.is_none_or(|age| now - session.created_at <= age);
        let after = self.authenticated_after.is_none_or(|t| session.created_at >= t);
        after && (self.authenticated_after.is_some() || (self.prompt != Prompt::Login && fresh_enough))
    }

    /// Whether only a sign-in made after the request can satisfy it.
    pub fn wants_fresh_sign_in(&self) -> bool {
        self.prompt == Prompt::Login || self.max_age.is_some()
    }
}

/// How long a request waiting on the login page for a fresh sign-in can be resumed.
pub const PENDING_TTL_SECS: i64 = 900;

/// An authorization request that went to the login page for a fresh sign-in (`prompt=login`,
/// `max_age`): its client, its parameters and the time the sign-in must come after, signed under
/// `TOKEN_SECRET` (bound to the tenant incarnation) into the `resume` parameter of its way back,
/// so nothing is written for a request that has not signed in. It is used once: the code it ends
/// in is written in one transaction with a marker of its use (`keys::pending_authorization`, by
/// the hash of the `resume` value), on condition that there is none yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub client_id: ClientId,
    pub params: Vec<(String, String)>,
    pub created_at: i64,
}

/// The marker of a used [`Pending`] request (kept until it would have expired).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PendingUsed {
    tenant: TenantId,
    used_at: i64,
    ttl: i64,
}

impl Pending {
    fn mac(secret: &[u8], tenant: &Tenant, payload: &str) -> String {
        let parts: [&[u8]; 4] = [
            b"dynauth-pending-authorization-v1",
            tenant.id.as_str().as_bytes(),
            tenant.generation.as_bytes(),
            payload.as_bytes(),
        ];
        b64url(&hmac_parts(secret, &parts))
    }

    /// The `resume` value of this request: its JSON in base64url, a dot, and its MAC.
    pub fn seal(&self, secret: &[u8], tenant: &Tenant) -> String {
        let payload = b64url(&serde_json::to_vec(self).unwrap_or_default());
        let mac = Self::mac(secret, tenant, &payload);
        format!("{payload}.{mac}")
    }

    /// The request `resume` names, when this tenant incarnation signed it and it has not
    /// expired at `now`; otherwise what to tell the user.
    pub fn open(secret: &[u8], tenant: &Tenant, resume: &str, now: i64) -> Result<Self, &'static str> {
        let unknown = "this sign-in request is unknown or has expired: start again from the application";
        let (payload, mac) = resume.split_once('.').ok_or(unknown)?;
        if !constant_time_eq(Self::mac(secret, tenant, payload).as_bytes(), mac.as_bytes()) {
            return Err(unknown);
        }
        let pending: Self = crate::platform::crypto::b64url_decode(payload)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(unknown)?;
        if now >= pending.created_at + PENDING_TTL_SECS {
            return Err(unknown);
        }
        Ok(pending)
    }
}

/// An authorization code as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCode {
    pub tenant: TenantId,
    pub tenant_generation: String,
    pub client_id: ClientId,
    pub redirect_uri: String,
    pub code_challenge: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub session_id: SessionId,
    pub user_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    pub scopes: Vec<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<i64>,
    /// The grant its redemption started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// When the tokens of its redemption were handed out (written before the 200 is sent): from
    /// then on it is single-use without exception.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<i64>,
    pub ttl: i64,
}

/// Issues a code for `session` (which satisfies `request`): the code, to send back, or `None`
/// when the request resumed a pending one that another answer already used.
pub async fn issue_code(
    store: &Store<'_>,
    random: &dyn Random,
    tenant: &Tenant,
    request: &AuthRequest,
    authorization: &Authorization,
    session: &Session,
    now: i64,
) -> Result<Option<String>, DynamoError> {
    let code = random.secret_b64();
    let record = AuthCode {
        tenant: tenant.id.clone(),
        tenant_generation: tenant.generation.clone(),
        client_id: request.client.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: authorization.code_challenge.clone(),
        nonce: authorization.nonce.clone(),
        session_id: session.id.clone(),
        user_id: session.user_id.clone(),
        email: session.email.clone(),
        scopes: authorization.scopes.clone(),
        auth_time: session.created_at,
        created_at: now,
        expires_at: now + CODE_TTL_SECS,
        used_at: None,
        grant_id: None,
        delivered_at: None,
        ttl: now + CODE_KEEP_SECS,
    };
    let keys = table_keys::authorization_code(&tenant.id, &hash_b64(code.as_bytes()));
    let item = store.item("auth_code", &record, &keys)?;
    let Some((resume, pending)) = &request.resumed else {
        store.create(item).await?;
        return Ok(Some(code));
    };
    // The pending request is used by this code, once: both or neither.
    let used = PendingUsed { tenant: tenant.id.clone(), used_at: now, ttl: pending.created_at + PENDING_TTL_SECS };
    let used_keys = table_keys::pending_authorization(&tenant.id, &hash_b64(resume.as_bytes()));
    let used = store.create_part(store.item("pending_authorization", &used, &used_keys)?);
    let tx = Transaction::new(random.request_token()).with("pending", used).with("code", store.create_part(item));
    match store.transact(&tx).await {
        Ok(()) => Ok(Some(code)),
        Err(TxError::Cancelled(c)) if c.condition_failed("pending") => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A grant as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub tenant: TenantId,
    pub tenant_generation: String,
    pub grant_id: String,
    /// The issuer its tokens name (the tenant host the code was redeemed on): a back-channel
    /// logout token names the same.
    #[serde(default)]
    pub issuer: String,
    pub client_id: ClientId,
    pub user_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    pub session_id: SessionId,
    pub scopes: Vec<String>,
    pub auth_time: i64,
    pub created_at: i64,
    /// The SHA-256 of the current refresh token's rotating half; none without `offline_access`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshed_at: Option<i64>,
    /// The request that made the last rotation (its own earlier attempt is recognised by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<String>,
    /// When the current refresh token of the last rotation was handed out (written before the
    /// 200 is sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    /// No token of the grant outlives its session.
    pub expires_at: i64,
    pub ttl: i64,
}

impl Grant {
    pub fn scope(&self) -> String {
        self.scopes.join(" ")
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

crate::values::secret::secret! {
    /// A refresh token: `{grant secret}.{rotating secret}` (each 32 bytes, base64url). Only the
    /// hashes of its halves are stored. `Debug` never shows it.
    pub struct RefreshToken;
}

impl RefreshToken {
    /// A refresh token as a client presents it; any string is accepted, since a malformed token
    /// is simply an unknown one.
    pub fn presented(raw: &str) -> Self {
        Self(raw.to_string())
    }

    fn of(grant_secret: &str, rotating: &str) -> Self {
        Self(format!("{grant_secret}.{rotating}"))
    }
}

/// What a redemption or refresh gives: the grant, the session it stands on, the nonce to put in
/// the ID token (the code's, none on refresh), the new refresh token, if any, and the mark to
/// write once the tokens are ready to be handed out ([`Grants::delivered`]).
#[derive(Debug, Clone)]
pub struct Granted {
    pub grant: Grant,
    pub session: Session,
    pub nonce: Option<String>,
    pub refresh_token: Option<RefreshToken>,
    /// `None` for a retry's answer: it marks nothing, so that the same client's parallel
    /// retries all get the same tokens.
    pub mark: Option<Mark>,
}

/// Where the delivery of a token response is marked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// The redeemed code (`keys::authorization_code`, by its hash).
    Code(String),
    /// The grant, while the refresh token of this hash is its current one.
    Refresh(String),
}

/// A client authenticated at the token endpoint.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub client: Client,
}

/// Authenticates the client of a token request: `id` from HTTP Basic or the body, `secret` from
/// either. A confidential client needs one of its secrets; a public one must not present any.
/// Every failure is `invalid_client` (RFC 6749 §5.2).
pub fn authenticate(client: Option<Client>, secret: Option<&ClientSecret>) -> Result<Authenticated, OAuthError> {
    let unknown = || OAuthError::new(OAuthErrorCode::InvalidClient, "client authentication failed");
    let client = client.ok_or_else(unknown)?;
    match (client.client_type, secret) {
        (ClientType::Public, None) => Ok(Authenticated { client }),
        (ClientType::Public, Some(_)) => Err(OAuthError::new(
            OAuthErrorCode::InvalidClient,
            "a public client has no secret: send only client_id and PKCE",
        )),
        (ClientType::Confidential, Some(s)) if client.secret_matches(s.expose()) => Ok(Authenticated { client }),
        (ClientType::Confidential, _) => Err(unknown()),
    }
}

/// Whether `verifier` (RFC 7636 §4.1: 43-128 unreserved characters) hashes to `challenge`.
fn pkce_holds(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    well_formed && constant_time_eq(hash_b64(verifier.as_bytes()).as_bytes(), challenge.as_bytes())
}

/// Session `id` of `tenant`, read at home, when a grant can stand on it at `now`: this tenant
/// incarnation's, not revoked (logout, admin revoke, user delete), before its absolute expiry.
/// Its idle expiry is the browser's: an app that refreshes is not idle.
async fn live_session(
    store: &Store<'_>,
    tenant: &Tenant,
    id: &SessionId,
    now: i64,
) -> Result<Option<Session>, DynamoError> {
    let session: Option<Session> = store.get(&table_keys::session_by_id(&tenant.id, id), true).await?;
    Ok(session.filter(|s| tenant.holds(s) && s.revoked_at.is_none() && now < s.expires_at))
}

/// What a token request of the `authorization_code` grant presents.
#[derive(Debug, Clone, Copy)]
pub struct Redemption<'a> {
    pub issuer: &'a str,
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub verifier: Option<&'a str>,
}

/// How long an identical retry is recognised once the request that made a redemption or rotation
/// has answered and its `Retry-After` has passed ([`Grants::settle_secs`] each).
pub const RETRY_WINDOW_SECS: i64 = 60;

/// The token endpoint's grants, for one request: the table, randomness, the secret the grants'
/// tokens are derived under (`JWT_MASTER_KEY`), the time, and how long a request may still be
/// answering after its write (the request deadline rounded up, plus a second).
///
/// A fault alone never costs a client its code or grant. The grant secret and every refresh
/// token are derived under the secret (from the code; from the grant and the token before), so
/// the same request sent again yields the same tokens. A response's tokens are marked as handed
/// out ([`Grants::delivered`]) before its 200 is sent. A code or refresh token that was used but
/// never marked (the request answered 503: its write applied, its answer lost) is redeemed again
/// by the same client's identical request (the client authenticated again, the same redirect URI
/// and PKCE verifier; the same refresh token) from `settle_secs` to 2 × `settle_secs` +
/// [`RETRY_WINDOW_SECS`] after the first: the same grant and refresh token, never a second set, to each such retry
/// (parallel ones too: a retry marks nothing). Any other second use, a marked one or one while
/// the first may still be answering, is refused and revokes the grant.
#[derive(Clone, Copy)]
pub struct Grants<'a> {
    pub store: &'a Store<'a>,
    pub random: &'a dyn Random,
    pub secret: &'a [u8],
    pub settle_secs: i64,
    pub now: i64,
}

impl std::fmt::Debug for Grants<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grants").field("now", &self.now).finish_non_exhaustive()
    }
}

impl Grants<'_> {
    fn derive(&self, label: &[u8], parts: &[&[u8]]) -> String {
        let mut all: Vec<&[u8]> = vec![label];
        all.extend_from_slice(parts);
        b64url(&hmac_parts(self.secret, &all))
    }

    /// The grant secret a code's redemption makes (its hash is the grant's id).
    fn grant_secret(&self, tenant: &Tenant, code: &str) -> String {
        self.derive(b"dynauth-oidc-grant-v1", &[tenant.id.as_str().as_bytes(), code.as_bytes()])
    }

    /// The rotating half that follows `previous` in grant `grant_id` (the first follows "").
    fn successor(&self, grant_id: &str, previous: &str) -> String {
        self.derive(b"dynauth-oidc-refresh-v1", &[grant_id.as_bytes(), previous.as_bytes()])
    }

    /// Whether a second use of what was used at `at`, without a delivery mark, is the retry of a
    /// request that answered 503: after that request's deadline, within the window.
    fn is_retry(&self, at: i64) -> bool {
        // The first request may answer 503 as late as `settle_secs` after it began, and its
        // client then waits `Retry-After` (`settle_secs`) before the window's minute.
        self.now >= at + self.settle_secs && self.now <= at + 2 * self.settle_secs + RETRY_WINDOW_SECS
    }

    /// The token request of the `authorization_code` grant: redeems the code for `client`,
    /// exactly once (or again for the same client's retry of a redemption never handed out).
    pub async fn redeem(
        &self,
        tenant: &Tenant,
        client: &Client,
        presented: Redemption<'_>,
    ) -> Result<Granted, RedeemError> {
        let (store, now) = (self.store, self.now);
        let Redemption { issuer, code, redirect_uri, verifier } = presented;
        let code_hash = hash_b64(code.as_bytes());
        let code_keys = table_keys::authorization_code(&tenant.id, &code_hash);
        let stored: Option<AuthCode> = store.get(&code_keys, true).await?;
        let Some(stored) = stored.filter(|c| tenant.holds(c)) else {
            return Err(OAuthError::grant("the code is unknown or has expired").into());
        };
        if stored.client_id != client.client_id {
            return Err(OAuthError::grant("the code was issued to another client").into());
        }
        let proven = redirect_uri == Some(stored.redirect_uri.as_str())
            && verifier.is_some_and(|v| pkce_holds(v, &stored.code_challenge));
        if let Some(used_at) = stored.used_at {
            if stored.delivered_at.is_none()
                && proven
                && self.is_retry(used_at)
                && let Some(granted) = self.redeemed_again(tenant, &stored, code).await?
            {
                return Ok(granted);
            }
            revoke_code_grant(store, tenant, &stored, now).await?;
            return Err(
                OAuthError::grant("the code has already been used: the tokens issued with it are revoked").into()
            );
        }
        if now >= stored.expires_at {
            return Err(OAuthError::grant("the code has expired").into());
        }
        if redirect_uri != Some(stored.redirect_uri.as_str()) {
            return Err(OAuthError::grant("redirect_uri is not the one the code was issued for").into());
        }
        if verifier.is_none() {
            return Err(OAuthError::grant("code_verifier is required (PKCE)").into());
        }
        if !proven {
            return Err(OAuthError::grant("code_verifier does not match the code_challenge").into());
        }
        let Some(session) = live_session(store, tenant, &stored.session_id, now).await? else {
            return Err(OAuthError::grant("the session the code was issued in has ended").into());
        };
        let grant_secret = self.grant_secret(tenant, code);
        let grant_id = hash_b64(grant_secret.as_bytes());
        let offline = stored.scopes.iter().any(|s| s == "offline_access")
            || tenant.oidc.refresh_tokens == crate::domain::tenants::RefreshTokens::Always;
        let (refresh_token, refresh_hash) = if offline {
            let rotating = self.successor(&grant_id, "");
            (Some(RefreshToken::of(&grant_secret, &rotating)), Some(hash_b64(rotating.as_bytes())))
        } else {
            (None, None)
        };
        let grant = Grant {
            tenant: tenant.id.clone(),
            tenant_generation: tenant.generation.clone(),
            grant_id: grant_id.clone(),
            issuer: issuer.to_string(),
            client_id: client.client_id.clone(),
            user_id: stored.user_id.clone(),
            email: stored.email.clone(),
            session_id: stored.session_id.clone(),
            scopes: stored.scopes.clone(),
            auth_time: stored.auth_time,
            created_at: now,
            refresh_hash,
            refreshed_at: None,
            rotation: None,
            delivered_at: None,
            revoked_at: None,
            expires_at: session.expires_at,
            ttl: session.expires_at,
        };
        let mut e = Expr::new();
        let update =
            format!("SET {} = {}, {} = {}", e.name("used_at"), e.num(now), e.name("grant_id"), e.str(&grant_id));
        let cond = and(&[e.exists(&store.schema.pk), e.not_exists("used_at")]);
        let use_code = TransactItem::Update(store.update(&code_keys, update, cond, e));
        let keys = table_keys::grant_listed(&tenant.id, &grant_id, &grant.session_id, &grant.client_id);
        let item = store.item("grant", &grant, &keys)?;
        let tx =
            Transaction::new(self.random.request_token()).with("code", use_code).with("grant", store.create_part(item));
        match store.transact(&tx).await {
            Ok(()) => {
                Ok(Granted { grant, session, nonce: stored.nonce, refresh_token, mark: Some(Mark::Code(code_hash)) })
            }
            Err(TxError::Cancelled(c)) if c.condition_failed("code") => {
                // Another redemption won: this is the code's second use.
                if let Some(winner) = store.get::<AuthCode>(&code_keys, true).await? {
                    revoke_code_grant(store, tenant, &winner, now).await?;
                }
                Err(OAuthError::grant("the code has already been used: the tokens issued with it are revoked").into())
            }
            Err(e) => Err(DynamoError::from(e).into()),
        }
    }

    /// The retry of a redemption that was applied and never handed out: the grant it made, with
    /// the same refresh token, while that grant stands and was never refreshed; `None` otherwise.
    async fn redeemed_again(
        &self,
        tenant: &Tenant,
        code: &AuthCode,
        raw: &str,
    ) -> Result<Option<Granted>, DynamoError> {
        let grant_secret = self.grant_secret(tenant, raw);
        let grant_id = hash_b64(grant_secret.as_bytes());
        if code.grant_id.as_deref() != Some(grant_id.as_str()) {
            return Ok(None);
        }
        let Some(stored) = grant(self.store, tenant, &grant_id).await?.filter(|g| g.refreshed_at.is_none()) else {
            return Ok(None);
        };
        let Some(session) = grant_live(self.store, tenant, &stored, self.now).await? else { return Ok(None) };
        let rotating = self.successor(&grant_id, "");
        let refresh_token = (stored.refresh_hash.as_deref() == Some(hash_b64(rotating.as_bytes()).as_str()))
            .then(|| RefreshToken::of(&grant_secret, &rotating));
        Ok(Some(Granted { grant: stored, session, nonce: code.nonce.clone(), refresh_token, mark: None }))
    }

    /// Marks the tokens of `granted` as handed out, just before its 200 is sent: from then on its
    /// code or refresh token is single-use without exception. A mark that cannot be written is
    /// left: the tokens go out all the same (the same client's identical retry, within the
    /// window, would get the same ones again).
    pub async fn delivered(&self, tenant: &Tenant, granted: &Granted) {
        let Some(mark) = &granted.mark else { return };
        let mut e = Expr::new();
        let update = format!("SET {} = {}", e.name("delivered_at"), e.num(self.now));
        let (keys, cond) = match mark {
            Mark::Code(hash) => {
                (table_keys::authorization_code(&tenant.id, hash), Some(e.exists(&self.store.schema.pk)))
            }
            Mark::Refresh(hash) => {
                let cond = format!("{} = {}", e.name("refresh_hash"), e.str(hash));
                (table_keys::grant(&tenant.id, &granted.grant.grant_id), Some(cond))
            }
        };
        let input = self.store.update(&keys, update, cond, e);
        // Marking twice is harmless; a failed condition means a newer rotation: nothing to mark.
        let _ = self.store.db.update_item(input, Write::Idempotent).await;
    }

    /// The token request of the `refresh_token` grant: rotates `token` for `client`. `scope`,
    /// when given, may only narrow the grant's scopes (for this response; the grant keeps its
    /// own). Refused for any reason but a reused token, it changes nothing.
    pub async fn refresh(
        &self,
        tenant: &Tenant,
        client: &Client,
        token: &RefreshToken,
        scope: Option<&str>,
    ) -> Result<Granted, RedeemError> {
        let (store, now) = (self.store, self.now);
        let invalid = || RedeemError::from(OAuthError::grant("the refresh token is invalid, expired or revoked"));
        let reused = || {
            RedeemError::from(OAuthError::grant(
                "the refresh token was already used: every token of its grant is revoked",
            ))
        };
        let token = token.expose();
        let Some((grant_id, rotating)) = split_refresh(token) else { return Err(invalid()) };
        let Some(stored) = grant(store, tenant, &grant_id).await? else { return Err(invalid()) };
        if stored.client_id != client.client_id {
            return Err(OAuthError::grant("the refresh token was issued to another client").into());
        }
        let Some(current) = stored.refresh_hash.clone() else { return Err(invalid()) };
        if stored.revoked_at.is_some() {
            return Err(invalid());
        }
        let presented = hash_b64(rotating.as_bytes());
        let next = self.successor(&grant_id, rotating);
        let next_hash = hash_b64(next.as_bytes());
        let (secret, _) = token.split_once('.').unwrap_or_default();
        if !constant_time_eq(presented.as_bytes(), current.as_bytes()) {
            // The token before the current one, rotated by a request that never handed the new
            // one out: its identical retry gets that one.
            let retry = constant_time_eq(next_hash.as_bytes(), current.as_bytes())
                && stored.delivered_at.is_none()
                && stored.refreshed_at.is_some_and(|at| self.is_retry(at));
            if !retry {
                // A rotated token, presented again: whoever holds it, the family ends (RFC 9700
                // §4.14.2).
                revoke_grant(store, &tenant.id, &grant_id, now).await?;
                return Err(reused());
            }
            let scopes = narrowed(&stored, scope)?;
            let Some(session) = grant_live(store, tenant, &stored, now).await? else { return Err(invalid()) };
            let grant = Grant { scopes, ..stored };
            let refresh_token = Some(RefreshToken::of(secret, &next));
            return Ok(Granted { grant, session, nonce: None, refresh_token, mark: None });
        }
        let scopes = narrowed(&stored, scope)?;
        let Some(session) = grant_live(store, tenant, &stored, now).await? else { return Err(invalid()) };
        let rotation = self.random.request_token();
        let mut e = Expr::new();
        let hash = e.name("refresh_hash");
        let update = format!(
            "SET {hash} = {}, {} = {}, {} = {} REMOVE {}",
            e.str(&next_hash),
            e.name("refreshed_at"),
            e.num(now),
            e.name("rotation"),
            e.str(&rotation),
            e.name("delivered_at")
        );
        let cond = and(&[format!("{hash} = {}", e.str(&current)), e.not_exists("revoked_at")]);
        let input = store.update(&table_keys::grant(&tenant.id, &grant_id), update, cond, e);
        let ours = crate::dynamo::s(&rotation);
        let recognise = move |old: Option<&Item>| old.and_then(|o| o.get("rotation")) == Some(&ours);
        match store.db.update_item(input, Write::Recognise(&recognise)).await {
            Ok(_) => {}
            Err(DynamoError::ConditionalCheckFailed { .. }) => {
                // Rotated by another request meanwhile: the same token used twice.
                revoke_grant(store, &tenant.id, &grant_id, now).await?;
                return Err(reused());
            }
            Err(e) => return Err(e.into()),
        }
        let grant = Grant {
            refresh_hash: Some(next_hash.clone()),
            refreshed_at: Some(now),
            rotation: Some(rotation),
            delivered_at: None,
            scopes,
            ..stored
        };
        Ok(Granted {
            grant,
            session,
            nonce: None,
            refresh_token: Some(RefreshToken::of(secret, &next)),
            mark: Some(Mark::Refresh(next_hash)),
        })
    }
}

/// The scopes a refresh answers with: the grant's, or the narrower `scope` asked for
/// (`invalid_scope` for any the grant does not hold).
fn narrowed(grant: &Grant, scope: Option<&str>) -> Result<Vec<String>, RedeemError> {
    let Some(scope) = scope else { return Ok(grant.scopes.clone()) };
    let asked: Vec<String> = scope.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect();
    if asked.iter().any(|s| !grant.has_scope(s)) {
        return Err(OAuthError::new(OAuthErrorCode::InvalidScope, "a refresh may only narrow the granted scope").into());
    }
    Ok(asked)
}

/// Why a redemption or refresh failed: an OAuth error for the client, or the table.
#[derive(Debug)]
pub enum RedeemError {
    OAuth(OAuthError),
    Store(DynamoError),
}

impl From<OAuthError> for RedeemError {
    fn from(e: OAuthError) -> Self {
        Self::OAuth(e)
    }
}

impl From<DynamoError> for RedeemError {
    fn from(e: DynamoError) -> Self {
        Self::Store(e)
    }
}

async fn revoke_code_grant(store: &Store<'_>, tenant: &Tenant, code: &AuthCode, now: i64) -> Result<(), DynamoError> {
    match &code.grant_id {
        Some(id) => revoke_grant(store, &tenant.id, id, now).await.map(|_| ()),
        None => Ok(()),
    }
}

/// Revokes grant `id` (sets `revoked_at` once); whether it was live until now.
pub async fn revoke_grant(store: &Store<'_>, tenant: &TenantId, id: &str, now: i64) -> Result<bool, DynamoError> {
    let mut e = Expr::new();
    let update = format!("SET {} = {}", e.name("revoked_at"), e.num(now));
    let cond = and(&[e.exists(&store.schema.pk), e.not_exists("revoked_at")]);
    let input = store.update(&table_keys::grant(tenant, id), update, cond, e);
    match store.db.update_item(input, Write::Idempotent).await {
        Ok(_) => Ok(true),
        Err(DynamoError::ConditionalCheckFailed { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The grant a refresh token names (by the hash of its first half), whatever its state, and
/// the token's rotating half; `None` for a malformed token.
fn split_refresh(token: &str) -> Option<(String, &str)> {
    let (secret, rotating) = token.split_once('.')?;
    let ok = |s: &str| s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (ok(secret) && ok(rotating)).then(|| (hash_b64(secret.as_bytes()), rotating))
}

/// A refresh token of `tenant` that is `client`'s current one, with its grant: what
/// introspection reports as active and what revocation ends. `None` for any other string (an
/// unknown, rotated, revoked or ended token, or another client's).
pub async fn current_refresh(
    store: &Store<'_>,
    tenant: &Tenant,
    client: &ClientId,
    token: &RefreshToken,
    now: i64,
) -> Result<Option<Grant>, DynamoError> {
    let Some((grant_id, rotating)) = split_refresh(token.expose()) else { return Ok(None) };
    let Some(stored) = grant(store, tenant, &grant_id).await? else { return Ok(None) };
    let current = stored.refresh_hash.as_deref().unwrap_or_default();
    if &stored.client_id != client || !constant_time_eq(hash_b64(rotating.as_bytes()).as_bytes(), current.as_bytes()) {
        return Ok(None);
    }
    Ok(grant_live(store, tenant, &stored, now).await?.map(|_| stored))
}

/// The grants of session `id` (each client it signed in to), whatever their state: GSI1, read
/// to the end.
pub async fn session_grants(store: &Store<'_>, tenant: &Tenant, id: &SessionId) -> Result<Vec<Grant>, DynamoError> {
    let partition = table_keys::session_grants(&tenant.id, id);
    let (mut grants, mut next): (Vec<Grant>, _) = store.page_gsi1(&partition, 100, None).await?;
    while let Some(start) = next {
        let (more, after) = store.page_gsi1(&partition, 100, Some(start)).await?;
        grants.extend(more);
        next = after;
    }
    Ok(grants.into_iter().filter(|g: &Grant| tenant.holds(g)).collect())
}

/// Revokes every grant of `client` (its refresh tokens at once, its access tokens wherever they
/// are checked at home), when the client is deleted: GSI2, read to the end. The number revoked.
pub async fn revoke_client_grants(
    store: &Store<'_>,
    tenant: &Tenant,
    client: &ClientId,
    now: i64,
) -> Result<u32, DynamoError> {
    let mut e = Expr::new();
    let key = e.equals(&store.schema.gsi2.pk, crate::dynamo::s(table_keys::client_grants(&tenant.id, client)));
    let mut q = crate::dynamo::QueryInput::new(&store.schema.table, Some(&store.schema.gsi2.name), key, e);
    q.limit = Some(100);
    let mut revoked = 0;
    loop {
        let page = store.db.query(&q).await?;
        for item in page.items {
            let grant = crate::dynamo::from_item::<Grant>(item)?;
            if grant.revoked_at.is_none() && revoke_grant(store, &tenant.id, &grant.grant_id, now).await? {
                revoked += 1;
            }
        }
        match page.last_evaluated_key {
            Some(k) => q.exclusive_start_key = Some(k),
            None => return Ok(revoked),
        }
    }
}

/// A grant of `tenant` by id, if it is this incarnation's.
pub async fn grant(store: &Store<'_>, tenant: &Tenant, id: &str) -> Result<Option<Grant>, DynamoError> {
    let grant: Option<Grant> = store.get(&table_keys::grant(&tenant.id, id), true).await?;
    Ok(grant.filter(|g| tenant.holds(g)))
}

/// The grant's tokens are usable at `now`: not revoked, not past its session's end, and its
/// session is live.
pub async fn grant_live(
    store: &Store<'_>,
    tenant: &Tenant,
    grant: &Grant,
    now: i64,
) -> Result<Option<Session>, DynamoError> {
    if grant.revoked_at.is_some() || now >= grant.expires_at {
        return Ok(None);
    }
    live_session(store, tenant, &grant.session_id, now).await
}

crate::domain::tenants::of_tenant!(AuthCode, Grant);

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn a_parameter_counts_once_and_one_without_a_value_as_omitted() {
        let p = params(&[("state", "s1"), ("scope", ""), ("nonce", "n"), ("nonce", "m"), ("prompt", "")]);
        assert_eq!(p.get("state"), Ok(Some("s1".into())));
        assert_eq!(p.get("scope"), Ok(None));
        assert_eq!(p.get("missing"), Ok(None));
        let twice = p.get("nonce").expect_err("sent twice");
        assert_eq!((twice.error, twice.error.as_str()), (OAuthErrorCode::InvalidRequest, "invalid_request"));
        assert_eq!(twice.description, "the nonce parameter is given more than once");
        // A value sent empty beside one with a value is not a second one.
        assert_eq!(params(&[("prompt", ""), ("prompt", "none")]).get("prompt"), Ok(Some("none".into())));
    }

    #[test]
    fn debug_shows_no_secret() {
        let p = params(&[("client_secret", "hunter2"), ("code", "c0de")]);
        assert_eq!(format!("{p:?}"), r#"Params(["client_secret", "code"])"#);
        let token = RefreshToken::presented("grant.rotating");
        assert_eq!(format!("{:?}", Some(&token)), "Some(RefreshToken(** redacted **))");
        assert_eq!(token.expose(), "grant.rotating");
    }

    #[test]
    fn a_query_is_added_form_encoded_after_what_the_uri_has() {
        assert_eq!(
            with_query("https://app.test/cb", &[("code", "a b"), ("state", "x&y")]),
            "https://app.test/cb?code=a%20b&state=x%26y"
        );
        assert_eq!(
            with_query("https://app.test/cb?tab=1", &[("iss", "https://auth.test")]),
            "https://app.test/cb?tab=1&iss=https%3A%2F%2Fauth.test"
        );
        assert_eq!(with_query("/v1/oauth/authorize", &[]), "/v1/oauth/authorize");
    }
}
