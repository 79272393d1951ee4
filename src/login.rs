//! Login codes: issuing (uniform numeric codes, stored only as a keyed hash), delivering (a signed
//! webhook), spending the abuse budgets ([`crate::budgets`]), and consuming at most once, before
//! expiry, within the attempt limit, and only the email's newest code.
//!
//! Use cases: [`start`] (budgets, issue, deliver, store as the newest), [`verify`] (check the code
//! and, in ONE transaction with its budgets, consume it, find or create the user and open a
//! session) and [`issue`] (a code for a backend that delivers it itself).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::budgets::{self, Budget, Exceeded, Limits};
use crate::crypto::{b64url, constant_time_eq, hmac_hex, hmac_parts};
use crate::dynamo::expr::and;
use crate::dynamo::{
    Cancelled, ConditionCheck, DynamoError, Expr, PutItemInput, TransactItem, Transaction, TxError, s,
};
use crate::email::Email;
use crate::ids::{LoginId, SessionId, TenantId, UserId};
use crate::keys;
use crate::runtime::{Random, Transport, TransportError, random_u64, rfc3339_secs};
use crate::sessions::{self, Device, NewSession, Session, SessionToken};
use crate::store::Store;
use crate::tenants::Tenant;
use crate::users;

/// A numeric login code. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginCode(String);

impl LoginCode {
    /// `length` decimal digits, uniformly random: draws that would bias the remainder are
    /// rejected.
    pub fn generate(random: &dyn Random, length: u8) -> Self {
        let length = u32::from(length.clamp(6, 10));
        let modulus = 10u64.pow(length);
        let limit = u64::MAX - (u64::MAX % modulus);
        loop {
            let v = random_u64(random);
            if v < limit {
                return Self(format!("{:0width$}", v % modulus, width = length as usize));
            }
        }
    }

    /// A code as a user typed it (surrounding spaces ignored); any string is accepted, since a
    /// malformed code is simply a wrong one.
    pub fn presented(raw: &str) -> Self {
        Self(raw.trim().to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LoginCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoginCode(** redacted **)")
    }
}

/// HMAC-SHA256(`TOKEN_SECRET`, tenant, login id, code): the only form of a code that is stored.
pub fn code_hash(secret: &[u8], tenant: &TenantId, login_id: &LoginId, code: &LoginCode) -> String {
    b64url(&hmac_parts(
        secret,
        &[b"dynauth-login-code-v1", tenant.as_str().as_bytes(), login_id.as_str().as_bytes(), code.0.as_bytes()],
    ))
}

/// A login code as stored (times in epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    pub login_id: LoginId,
    pub tenant: TenantId,
    pub tenant_generation: String,
    pub email: Email,
    pub code_hash: String,
    pub attempts: u32,
    pub max_attempts: u32,
    pub created_at: i64,
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<i64>,
    /// The user that owned the email when the code was issued (saves a read when verifying).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_hint: Option<UserId>,
    /// The session the code opened (its id, the token's hash), set with `used_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionId>,
    pub ttl: i64,
}

/// How long after a code was used a retry of the same verify (same login, same code) still gets
/// the session it opened, instead of 410 `code_used`: enough for a client whose answer was lost to
/// try again, short against replay of an intercepted code.
pub const RETRY_WINDOW_SECS: i64 = 120;

/// Where a login stands for a verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Used,
    Expired,
    Exhausted,
    Open,
}

impl Login {
    pub fn state(&self, now: i64) -> State {
        if self.used_at.is_some() {
            State::Used
        } else if now >= self.expires_at {
            State::Expired
        } else if self.attempts >= self.max_attempts {
            State::Exhausted
        } else {
            State::Open
        }
    }

    /// Whether `code` is this login's code (constant-time comparison of the keyed hashes).
    pub fn matches(&self, secret: &[u8], code: &LoginCode) -> bool {
        constant_time_eq(code_hash(secret, &self.tenant, &self.login_id, code).as_bytes(), self.code_hash.as_bytes())
    }

    /// The token of the session this login opens with `code`: derived under `secret` from the
    /// tenant, the login and the code, so every verify of the same code yields the same token.
    fn session_token(&self, secret: &[u8], code: &LoginCode) -> SessionToken {
        SessionToken::derived(
            secret,
            &[
                b"dynauth-login-session-v1",
                self.tenant.as_str().as_bytes(),
                self.login_id.as_str().as_bytes(),
                code.0.as_bytes(),
            ],
        )
    }
}

/// Where codes are delivered: the webhook URL, and the secrets its posts are signed with (one,
/// or two while a tenant's webhook secret rotation overlaps, newest first).
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    pub url: &'a str,
    pub secrets: Vec<&'a [u8]>,
}

/// A code issued and stored.
#[derive(Debug, Clone)]
pub struct Issued {
    pub login: Login,
    pub code: LoginCode,
}

/// Why a start did not issue a code.
#[derive(Debug, Clone, PartialEq)]
pub enum StartError {
    /// Over one of the budgets.
    TooMany(Exceeded),
    /// The webhook did not take the code (nothing usable is left behind).
    Delivery(String),
    Db(DynamoError),
}

impl From<DynamoError> for StartError {
    fn from(e: DynamoError) -> Self {
        Self::Db(e)
    }
}

/// What the webhook is sent, as JSON.
#[derive(Debug, Serialize)]
struct CodeMessage<'a> {
    tenant: &'a TenantId,
    email: &'a Email,
    code: &'a str,
    login_id: &'a LoginId,
    expires_at: String,
}

/// Issues a code for `email` (the same whether or not the email has an account): spends the
/// start budgets (per email and client address, per email, per address, per tenant), posts it to
/// `delivery` (signed; none in development), and only then stores it as the email's newest login,
/// so a failed delivery leaves no usable code behind and every earlier open code stops working.
#[allow(clippy::too_many_arguments)] // each is a service or input the use case needs
pub async fn start(
    store: &Store<'_>,
    random: &dyn Random,
    webhook: &dyn Transport,
    delivery: Option<Delivery<'_>>,
    secret: &[u8],
    limits: &Limits,
    client: &str,
    tenant: &Tenant,
    email: &Email,
    now: i64,
) -> Result<Issued, StartError> {
    budgets::spend(store, random, &tenant.id, &limits.start(email, client), now).await?.map_err(StartError::TooMany)?;
    let hint = users::owner_of(store, tenant, email, false).await?;
    let issued = new_login(random, secret, tenant, email, hint, now);
    if let Some(delivery) = delivery {
        let message = CodeMessage {
            tenant: &tenant.id,
            email,
            code: issued.code.expose(),
            login_id: &issued.login.login_id,
            expires_at: rfc3339_secs(issued.login.expires_at),
        };
        let request = webhook_request(delivery.url, &delivery.secrets, &message, now)
            .map_err(|e| StartError::Delivery(e.to_string()))?;
        match webhook.send(request).await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => return Err(StartError::Delivery(format!("the webhook answered HTTP {}", r.status().as_u16()))),
            Err(e) => return Err(StartError::Delivery(e.to_string())),
        }
    }
    store.save_newest(random, &issued.login).await?;
    Ok(issued)
}

/// Issues and stores a code for a backend that delivers it itself (no webhook, no budgets); it
/// is the email's newest login like any other.
pub async fn issue(
    store: &Store<'_>,
    random: &dyn Random,
    secret: &[u8],
    tenant: &Tenant,
    email: &Email,
    now: i64,
) -> Result<Issued, DynamoError> {
    let hint = users::owner_of(store, tenant, email, false).await?;
    let issued = new_login(random, secret, tenant, email, hint, now);
    store.save_newest(random, &issued.login).await?;
    Ok(issued)
}

/// A verified code: the session opened, and its token (shown once).
#[derive(Debug, Clone)]
pub struct Verified {
    pub token: SessionToken,
    pub session: Session,
}

/// Why a verify did not open a session.
#[derive(Debug, Clone, PartialEq)]
pub enum VerifyError {
    /// A wrong code (`attempts_left` for a known login), or no such login.
    InvalidCode {
        attempts_left: Option<u32>,
    },
    Used,
    Expired,
    /// Too many wrong codes; the login expires in `retry_after` seconds.
    Exhausted {
        retry_after: u64,
    },
    /// A newer code was issued for the email: only the newest works.
    Superseded,
    /// Over one of the budgets (client address, tenant, wrong codes for the email).
    TooMany(Exceeded),
    /// The login kept changing under this verify.
    Conflict,
    Db(DynamoError),
}

impl From<DynamoError> for VerifyError {
    fn from(e: DynamoError) -> Self {
        Self::Db(e)
    }
}

/// Verifies `code` for login `login_id` (as the client sent it) and, when it is right, consumes
/// the login, finds or creates the user and opens a session, in ONE transaction: at most one
/// verify of a login ever succeeds. A wrong code spends an attempt of the login and one of the
/// email's daily wrong-code budget; either way the client address and the tenant spend one
/// verify. A login that is no longer its email's newest never works.
#[allow(clippy::too_many_arguments)] // each is a service or input the use case needs
pub async fn verify(
    store: &Store<'_>,
    random: &dyn Random,
    secret: &[u8],
    limits: &Limits,
    client: &str,
    tenant: &Tenant,
    login_id: &str,
    code: &LoginCode,
    device: Device,
    now: i64,
) -> Result<Verified, VerifyError> {
    let spent = limits.verify(client);
    let no_login = || VerifyError::InvalidCode { attempts_left: None };
    let Ok(login_id) = LoginId::parse(login_id) else {
        return Err(spend_only(store, random, tenant, &spent, now).await.err().unwrap_or_else(no_login));
    };
    for _ in 0..4 {
        let login: Option<Login> = store.get(&keys::login(&tenant.id, &login_id), true).await?;
        let Some(login) = login.filter(|l| l.tenant_generation == tenant.generation) else {
            return Err(spend_only(store, random, tenant, &spent, now).await.err().unwrap_or_else(no_login));
        };
        match login.state(now) {
            State::Used => {
                // A retry of a verify that succeeded but whose answer was lost: the same code
                // opens the same session, once more, within the retry window.
                return match recognise(store, secret, tenant, &login, code, now).await? {
                    Some(verified) => Ok(verified),
                    None => Err(VerifyError::Used),
                };
            }
            State::Expired => return Err(VerifyError::Expired),
            State::Exhausted => {
                return Err(VerifyError::Exhausted {
                    retry_after: u64::try_from(login.expires_at - now).unwrap_or(1).max(1),
                });
            }
            State::Open => {}
        }
        let failures = limits.failures(&login.email);
        let guards = Guards { spent: &spent, failures: &failures };
        if !login.matches(secret, code) {
            let mut tx = Transaction::new(random.request_token());
            guards.add(store, &mut tx, &login, true, now);
            tx.add("login", store.charge_part(&login, now));
            match store.transact(&tx).await {
                Ok(()) => {
                    return Err(VerifyError::InvalidCode {
                        attempts_left: Some(login.max_attempts.saturating_sub(login.attempts + 1)),
                    });
                }
                Err(TxError::Cancelled(c)) => match guards.refusal(&c, now) {
                    Some(refused) => return Err(refused),
                    None => continue, // the login changed meanwhile: read it again for the right answer
                },
                Err(TxError::Db(e)) => return Err(e.into()),
            }
        }
        if let Some(verified) =
            consume(store, random, secret, tenant, &login, code, device.clone(), &guards, now).await?
        {
            return Ok(verified);
        }
    }
    Err(VerifyError::Conflict)
}

/// What a verify transaction guards itself with: the verify budgets it spends, the email's
/// wrong-code budget (spent by a wrong code, checked by a right one), and that the login is
/// still its email's newest.
struct Guards<'a> {
    spent: &'a [Budget],
    failures: &'a Budget,
}

impl Guards<'_> {
    fn add(&self, store: &Store<'_>, tx: &mut Transaction, login: &Login, wrong: bool, now: i64) {
        for b in self.spent {
            tx.add(b.kind, b.spend(store, &login.tenant, now));
        }
        let failures = if wrong {
            self.failures.spend(store, &login.tenant, now)
        } else {
            self.failures.check(store, &login.tenant, now)
        };
        tx.add(self.failures.kind, failures);
        tx.add("newest", store.newest_check(login));
    }

    /// Why a cancelled verify transaction was refused, when a guard did it (`None`: the login
    /// or the user changed meanwhile).
    fn refusal(&self, c: &Cancelled, now: i64) -> Option<VerifyError> {
        if let Some(exceeded) = budgets::exceeded(c, self.spent.iter().chain([self.failures]), now) {
            return Some(VerifyError::TooMany(exceeded));
        }
        c.failed("newest").then_some(VerifyError::Superseded)
    }
}

/// Spends the verify budgets of a request that names no usable login: `Err` only when one of them
/// is exhausted (or DynamoDB fails).
async fn spend_only(
    store: &Store<'_>,
    random: &dyn Random,
    tenant: &Tenant,
    spent: &[Budget],
    now: i64,
) -> Result<(), VerifyError> {
    budgets::spend(store, random, &tenant.id, spent, now).await?.map_err(VerifyError::TooMany)
}

/// The session a used `login` opened, when `code` is its code, the login was used within
/// [`RETRY_WINDOW_SECS`], and that session (of the code's derived token) is still live.
async fn recognise(
    store: &Store<'_>,
    secret: &[u8],
    tenant: &Tenant,
    login: &Login,
    code: &LoginCode,
    now: i64,
) -> Result<Option<Verified>, DynamoError> {
    let recent = login.used_at.is_some_and(|used| now - used <= RETRY_WINDOW_SECS);
    if !recent || !login.matches(secret, code) {
        return Ok(None);
    }
    let token = login.session_token(secret, code);
    if login.session.as_ref() != Some(&token.id()) {
        return Ok(None);
    }
    let session: Option<Session> = store.get(&keys::session_by_id(&tenant.id, &token.id()), true).await?;
    Ok(session.filter(|s| s.is_live(tenant, now)).map(|session| Verified { token, session }))
}

/// The right code: ONE transaction of the guards, `login` (consumed, on condition that
/// it is still open with the hash checked, recording the session it opens), `user` (a login
/// recorded, or with `email` a new user) and `session` (its token derived from the code, see
/// [`recognise`]). `None` when the login itself changed meanwhile (the caller reads it again).
#[allow(clippy::too_many_arguments)] // each is a service or input the use case needs
async fn consume(
    store: &Store<'_>,
    random: &dyn Random,
    secret: &[u8],
    tenant: &Tenant,
    login: &Login,
    code: &LoginCode,
    device: Device,
    guards: &Guards<'_>,
    now: i64,
) -> Result<Option<Verified>, VerifyError> {
    let mut owner = login.user_hint.clone();
    let token = login.session_token(secret, code);
    for _ in 0..3 {
        let mut tx = Transaction::new(random.request_token());
        guards.add(store, &mut tx, login, false, now);
        tx.add("login", store.use_part(login, &token.id(), now));
        let user_id = match &owner {
            Some(id) => {
                users::login_part(store, &mut tx, tenant, id, &login.email, now);
                id.clone()
            }
            None => users::create_parts(store, random, &mut tx, tenant, &login.email, now)?.id,
        };
        let new = NewSession { user_id, email: Some(login.email.clone()), lifetime_secs: None, device: device.clone() };
        let (token, session) = sessions::open_with(token.clone(), tenant, new, now);
        tx.add("session", sessions::create_part(store, &session)?);
        match store.transact(&tx).await {
            Ok(()) => return Ok(Some(Verified { token, session })),
            Err(TxError::Cancelled(c)) => {
                if let Some(refused) = guards.refusal(&c, now) {
                    return Err(refused);
                }
                if c.failed("login") {
                    return Ok(None);
                }
                if c.failed("user") || c.failed("email") {
                    // The user we expected is gone, or someone else just created it: ask the
                    // email claim who owns the email now.
                    owner = users::owner_of(store, tenant, &login.email, true).await?;
                    continue;
                }
                return Ok(None);
            }
            Err(TxError::Db(e)) => return Err(e.into()),
        }
    }
    Ok(None)
}

/// A new login for `email` (not yet stored) and its code.
fn new_login(
    random: &dyn Random,
    secret: &[u8],
    tenant: &Tenant,
    email: &Email,
    user_hint: Option<UserId>,
    now: i64,
) -> Issued {
    let login_id = LoginId::generate(random);
    let code = LoginCode::generate(random, tenant.login_code.length);
    let expires_at = now + i64::try_from(tenant.login_code.ttl_secs).unwrap_or(600);
    let login = Login {
        code_hash: code_hash(secret, &tenant.id, &login_id, &code),
        login_id,
        tenant: tenant.id.clone(),
        tenant_generation: tenant.generation.clone(),
        email: email.clone(),
        attempts: 0,
        max_attempts: tenant.login_code.max_attempts,
        created_at: now,
        expires_at,
        used_at: None,
        user_hint,
        session: None,
        ttl: expires_at,
    };
    Issued { login, code }
}

/// The webhook request for `message`: JSON, with `x-dynauth-signature: t=<unix>,v1=<hex
/// HMAC-SHA256 of "<unix>.<body>">`, one `v1` per secret.
fn webhook_request(
    url: &str,
    secrets: &[&[u8]],
    message: &impl Serialize,
    now: i64,
) -> Result<http::Request<Vec<u8>>, TransportError> {
    let body = serde_json::to_vec(message).map_err(|e| TransportError(e.to_string()))?;
    let mut signed = format!("{now}.").into_bytes();
    signed.extend_from_slice(&body);
    let mut signature = format!("t={now}");
    for secret in secrets {
        signature.push_str(",v1=");
        signature.push_str(&hmac_hex(secret, &signed));
    }
    http::Request::builder()
        .method(http::Method::POST)
        .uri(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("x-dynauth-signature", signature)
        .header(http::header::USER_AGENT, "dynauth-webhook/1")
        .body(body)
        .map_err(|e| TransportError(e.to_string()))
}

/// The pointer to an email's newest login.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Newest {
    login_id: LoginId,
    ttl: i64,
}

impl Store<'_> {
    /// The part that uses up one attempt for a wrong code, on condition that the login is still
    /// open and nobody else charged it since it was read.
    fn charge_part(&self, login: &Login, now: i64) -> TransactItem {
        let mut e = Expr::new();
        let attempts = e.name("attempts");
        let update = format!("SET {attempts} = {attempts} + {}", e.num(1));
        let open = self.open_condition(&mut e, now);
        let unchanged = format!("{attempts} = {}", e.num(i64::from(login.attempts)));
        let cond = format!("{open} AND {unchanged}");
        TransactItem::Update(self.update(&keys::login(&login.tenant, &login.login_id), update, Some(cond), e))
    }

    /// Stores `login` as its email's newest login (one transaction: the login, and the pointer
    /// every verify checks).
    async fn save_newest(&self, random: &dyn Random, login: &Login) -> Result<(), DynamoError> {
        let item = self.item("login_code", login, &keys::login(&login.tenant, &login.login_id))?;
        let newest = Newest { login_id: login.login_id.clone(), ttl: login.expires_at };
        let pointer = self.item("newest_login", &newest, &keys::latest_login(&login.tenant, &login.email))?;
        let tx = Transaction::new(random.request_token())
            .with("login", self.create_part(item))
            .with("newest", TransactItem::Put(PutItemInput::new(&self.schema.table, pointer)));
        self.transact(&tx).await.map_err(DynamoError::from)
    }

    /// The part that checks that `login` is still its email's newest (a login stored before
    /// there were pointers has none: it passes).
    fn newest_check(&self, login: &Login) -> TransactItem {
        let mut e = Expr::new();
        let cond = format!("{} OR {}", e.not_exists("login_id"), e.equals("login_id", s(login.login_id.as_str())));
        let key = keys::latest_login(&login.tenant, &login.email).key(self.schema);
        TransactItem::ConditionCheck(ConditionCheck::new(&self.schema.table, key, cond, e))
    }

    /// The part that consumes a login with the right code, recording the session it opens: on
    /// condition that it is still open and the code hash is the one checked.
    fn use_part(&self, login: &Login, session: &SessionId, now: i64) -> TransactItem {
        let mut e = Expr::new();
        let attempts = e.name("attempts");
        let update = format!(
            "SET {} = {}, {attempts} = {attempts} + {}, {} = {}",
            e.name("used_at"),
            e.num(now),
            e.num(1),
            e.name("session"),
            e.value(s(session.as_str()))
        );
        let open = self.open_condition(&mut e, now);
        let hash = e.equals("code_hash", s(&login.code_hash));
        let cond = format!("{open} AND {hash}");
        TransactItem::Update(self.update(&keys::login(&login.tenant, &login.login_id), update, Some(cond), e))
    }

    /// Exists, not used, not expired, attempts left: the conditions of every write to a login.
    fn open_condition(&self, e: &mut Expr, now: i64) -> String {
        let exists = e.exists(&self.schema.pk);
        let unused = e.not_exists("used_at");
        let expiry = format!("{} > {}", e.name("expires_at"), e.num(now));
        let left = format!("{} < {}", e.name("attempts"), e.name("max_attempts"));
        and(&[exists, unused, expiry, left]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ManualRuntime;

    fn id(raw: &str) -> LoginId {
        LoginId::parse(raw).unwrap_or_else(|e| panic!("{e}"))
    }

    fn tenant(raw: &str) -> TenantId {
        TenantId::parse(raw).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn codes_have_the_length_and_are_uniform() {
        let rt = ManualRuntime::new(0, 99);
        for len in 6..=10u8 {
            let c = LoginCode::generate(&rt, len);
            assert_eq!(c.expose().len(), usize::from(len));
            assert!(c.expose().bytes().all(|b| b.is_ascii_digit()));
        }
        // Leading digits are uniform: 20000 six-digit codes, each first digit near 2000.
        let mut counts = [0u32; 10];
        for _ in 0..20_000 {
            let c = LoginCode::generate(&rt, 6);
            counts[usize::from(c.expose().as_bytes()[0] - b'0')] += 1;
        }
        assert!(counts.iter().all(|&c| (1700..2300).contains(&c)), "{counts:?}");
        assert!(!format!("{:?}", LoginCode::generate(&rt, 6)).chars().any(|c| c.is_ascii_digit()));
    }

    #[test]
    fn hashes_bind_tenant_login_and_code() {
        let login = id("AAAAAAAAAAAAAAAAAAAAAA");
        let code = LoginCode("123456".into());
        let h = code_hash(b"secret", &tenant("acme"), &login, &code);
        assert_eq!(h, code_hash(b"secret", &tenant("acme"), &login, &code));
        assert_ne!(h, code_hash(b"secret", &tenant("globex"), &login, &code));
        assert_ne!(h, code_hash(b"other", &tenant("acme"), &login, &code));
        assert_ne!(h, code_hash(b"secret", &tenant("acme"), &id("BAAAAAAAAAAAAAAAAAAAAA"), &code));
        assert_ne!(h, code_hash(b"secret", &tenant("acme"), &login, &LoginCode("123457".into())));
        assert!(!h.contains("123456"));
    }

    #[test]
    fn the_webhook_signature_covers_timestamp_and_body() {
        let body = serde_json::json!({"tenant": "acme", "code": "123456"});
        let req = webhook_request("https://hooks.example.test/x", &[b"whsec", b"old"], &body, 1_700_000_000)
            .unwrap_or_else(|e| panic!("{e}"));
        let sig = req.headers()["x-dynauth-signature"].to_str().unwrap_or("").to_string();
        let mut signed = b"1700000000.".to_vec();
        signed.extend_from_slice(req.body());
        assert_eq!(
            sig,
            format!("t=1700000000,v1={},v1={}", hmac_hex(b"whsec", &signed), hmac_hex(b"old", &signed)),
            "both secrets of a rotation's overlap sign"
        );
        assert_eq!(req.headers()["content-type"], "application/json");
    }

    #[test]
    fn login_states() {
        let rt = ManualRuntime::new(0, 5);
        let t = crate::testing::tenant();
        let email = Email::parse("a@b.example").unwrap_or_else(|e| panic!("{e}"));
        let Issued { login, code } = new_login(&rt, b"secret", &t, &email, None, 1000);
        assert_eq!((login.expires_at, login.ttl, login.max_attempts), (1600, 1600, 5));
        assert!(login.matches(b"secret", &code));
        assert!(!login.matches(b"other", &code));
        assert_eq!(login.state(1599), State::Open);
        assert_eq!(login.state(1600), State::Expired);
        assert_eq!(Login { attempts: 5, ..login.clone() }.state(1000), State::Exhausted);
        assert_eq!(Login { used_at: Some(1001), ..login }.state(1002), State::Used);
    }
}
