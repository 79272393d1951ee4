//! Login codes: issuing (uniform numeric codes, stored only as a keyed hash, each bound to the
//! client that asked for it), delivering (a signed webhook), spending the abuse budgets
//! ([`crate::domain::budgets`]), and consuming at most once, before expiry, within the attempt limit, by
//! the client it is bound to, and only as that client's newest code.
//!
//! What holds, whatever the concurrency:
//! - **A login belongs to its client.** A start hands the client a [`Binding`] (32 random bytes;
//!   only its hash is stored). A verify without it, or with another client's, compares nothing
//!   and spends none of the login's attempts: it is answered as a wrong code.
//! - **At most `max_attempts` codes are compared per login.** A verify first reserves an attempt
//!   (a conditional increment, in one transaction with the budgets it spends, the wrong-code
//!   budgets among them); only a verify holding a reservation compares the code, and the right
//!   code is consumed on condition of that very reservation.
//! - **A used code works for nobody else.** The retry of a verify whose answer was lost gets the
//!   session it opened only with the same binding (and code); anyone else gets `Used`.
//! - **A new code supersedes only its own client's earlier codes**: those of the same binding,
//!   and, for a start that presented none, those of the same email from the same address.
//!
//! Use cases, on [`Logins`]: [`Logins::start`] (budgets, issue, deliver, store as the newest),
//! [`Logins::verify`] (reserve, compare, then in ONE transaction consume the login, find or
//! create the user and open a session) and [`Logins::issue`] (a code for a backend that delivers
//! it itself).

//!
//! Files: [`code`] (the code and the binding), [`record`] (the stored login and its table
//! access), [`webhook`] (delivery), and here the use cases.

pub mod code;
pub mod record;
pub mod webhook;

pub use code::{Binding, LoginCode, code_hash};
pub use record::{Login, RETRY_WINDOW_SECS, State};
pub use webhook::{Delivery, Undeliverable, delivery};

use std::fmt;

use crate::domain::budgets::{self, Budget, Exceeded, Limits, Refusal};
use crate::domain::sessions::{self, Device, NewSession, Session, SessionToken};
use crate::domain::tenants::Tenant;
use crate::domain::users;
use crate::dynamo::{Cancelled, DynamoError, Transaction, TxError, from_item};
use crate::platform::runtime::{Random, Transport, rfc3339_secs};
use crate::table::keys;
use crate::table::store::Store;
use crate::values::email::Email;
use crate::values::ids::LoginId;

use webhook::{CodeMessage, webhook_request};

/// Who asks: the client's address (a budget subject, see [`budgets::client_subject`]) and the
/// binding it presented, if any.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub address: &'a str,
    pub binding: Option<&'a Binding>,
}

/// A code issued and stored, and the binding its client must present (the one it presented, or
/// a new one).
#[derive(Debug, Clone)]
pub struct NewCode {
    pub login: Login,
    pub code: LoginCode,
    pub binding: Binding,
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

/// A verified code: the session opened, and its token (shown once).
#[derive(Debug, Clone)]
pub struct Verified {
    pub token: SessionToken,
    pub session: Session,
}

/// Why a verify did not open a session.
#[derive(Debug, Clone, PartialEq)]
pub enum VerifyError {
    /// A wrong code (`attempts_left` for a known login), no such login, or a client that is not
    /// the login's (`unbound`: the request carried no binding at all).
    InvalidCode {
        attempts_left: Option<u32>,
        unbound: bool,
    },
    Used,
    Expired,
    /// No attempt left: the login expires in `retry_after` seconds.
    Exhausted {
        retry_after: u64,
    },
    /// A newer code was issued to the same client for the email: only the newest works.
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

/// What the login use cases run with: the table, randomness, `TOKEN_SECRET` and the budgets.
#[derive(Clone, Copy)]
pub struct Logins<'a> {
    pub store: &'a Store<'a>,
    pub random: &'a dyn Random,
    pub secret: &'a [u8],
    pub limits: &'a Limits,
}

impl fmt::Debug for Logins<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logins").field("limits", self.limits).finish_non_exhaustive()
    }
}

impl Logins<'_> {
    /// Issues a code for `email` (the same whether or not the email has an account): spends the
    /// start budgets (per email and client address, per email, per address, per tenant), posts it
    /// to `delivery` (signed; none in development), and only then stores it as the newest login
    /// of its client, so a failed delivery leaves no usable code behind and that client's earlier
    /// open codes stop working.
    pub async fn start(
        &self,
        webhook: &dyn Transport,
        delivery: Option<Delivery<'_>>,
        caller: Caller<'_>,
        tenant: &Tenant,
        email: &Email,
        now: i64,
    ) -> Result<NewCode, StartError> {
        let mut spent = self.limits.start(email, caller.address, self.random);
        budgets::spend(self.store, self.random, &tenant.id, &mut spent, now).await?.map_err(StartError::TooMany)?;
        let issued = self.new_code(caller, tenant, email, now).await?;
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
                Ok(r) => {
                    return Err(StartError::Delivery(format!("the webhook answered HTTP {}", r.status().as_u16())));
                }
                Err(e) => return Err(StartError::Delivery(e.to_string())),
            }
        }
        self.store.save_newest(self.random, &issued.login).await?;
        Ok(issued)
    }

    /// Issues and stores a code for a backend that delivers it itself (no webhook, no budgets);
    /// it is its client's newest login like any other.
    pub async fn issue(
        &self,
        caller: Caller<'_>,
        tenant: &Tenant,
        email: &Email,
        now: i64,
    ) -> Result<NewCode, DynamoError> {
        let issued = self.new_code(caller, tenant, email, now).await?;
        self.store.save_newest(self.random, &issued.login).await?;
        Ok(issued)
    }

    /// Verifies `code` for login `login_id` (as the client sent it) and, when it is right and the
    /// caller holds the login's binding, consumes the login, finds or creates the user and opens a
    /// session: at most one verify of a login ever succeeds, and at most `max_attempts` codes are
    /// ever compared. Every verify spends the address's and the tenant's verify budgets; one that
    /// compares a code holds a unit of the email's wrong-code budgets (given back when it was
    /// right). A login that is no longer its client's newest never works.
    pub async fn verify(
        &self,
        caller: Caller<'_>,
        tenant: &Tenant,
        login_id: &str,
        code: &LoginCode,
        device: Device,
        now: i64,
    ) -> Result<Verified, VerifyError> {
        let mut spent = self.limits.verify(caller.address, self.random);
        let unbound = caller.binding.is_none();
        let Ok(login_id) = LoginId::parse(login_id) else {
            return Err(self
                .spend_only(tenant, &mut spent, now)
                .await
                .err()
                .unwrap_or(VerifyError::InvalidCode { attempts_left: None, unbound }));
        };
        let mut read: Option<Login> = None;
        for _ in 0..4 {
            let login = match read.take() {
                Some(login) => login,
                None => match self.store.get::<Login>(&keys::login(&tenant.id, &login_id), true).await? {
                    Some(login) if tenant.holds(&login) => login,
                    _ => {
                        let unknown = VerifyError::InvalidCode { attempts_left: None, unbound };
                        return Err(self.spend_only(tenant, &mut spent, now).await.err().unwrap_or(unknown));
                    }
                },
            };
            let owner = login.bound_to(caller.binding);
            match login.state(now) {
                State::Used => {
                    // A retry of a verify that succeeded but whose answer was lost: the same
                    // client with the same code gets the same session, once more, within the
                    // retry window. Anyone else: used.
                    return match caller.binding.filter(|_| owner) {
                        Some(binding) => self.recognise(tenant, &login, binding, code, now).await,
                        None => Err(VerifyError::Used),
                    };
                }
                State::Expired => return Err(VerifyError::Expired),
                State::Exhausted => return Err(VerifyError::Exhausted { retry_after: login.retry_after(now) }),
                State::Open => {}
            }
            let Some(binding) = caller.binding.filter(|_| owner) else {
                // Not the login's client: nothing is compared and no attempt of the owner's is
                // spent; the answer is a wrong code's.
                let left = login.max_attempts.saturating_sub(login.attempts);
                let wrong = VerifyError::InvalidCode { attempts_left: Some(left), unbound };
                return Err(self.spend_only(tenant, &mut spent, now).await.err().unwrap_or(wrong));
            };
            let mut failures = self.limits.failures(&login.email, caller.address);
            let reservation = self.random.request_token();
            match self.reserve(&login, &reservation, &mut spent, &mut failures, now).await? {
                Reserved::Yes => {}
                Reserved::Refused(e) => return Err(e),
                Reserved::Changed(now_stored) => {
                    read = now_stored;
                    continue;
                }
            }
            if !login.matches(self.secret, code) {
                // The attempt and the wrong-code units stay spent.
                let left = login.max_attempts.saturating_sub(login.attempts + 1);
                return Err(VerifyError::InvalidCode { attempts_left: Some(left), unbound: false });
            }
            let held = Held { login: &login, binding, code, reservation: &reservation, failures: &failures };
            return self.consume(tenant, held, device, now).await;
        }
        Err(VerifyError::Conflict)
    }

    /// A new login for `email` (not yet stored), its code, and its client's binding (the one the
    /// caller presented, or a new one).
    async fn new_code(
        &self,
        caller: Caller<'_>,
        tenant: &Tenant,
        email: &Email,
        now: i64,
    ) -> Result<NewCode, DynamoError> {
        let user_hint = users::owner_of(self.store, tenant, email, false).await?;
        let (binding, started_from) = match caller.binding {
            Some(b) => (b.clone(), None),
            None => (Binding::generate(self.random), Some(caller.address.to_string())),
        };
        let login_id = LoginId::generate(self.random);
        let code = LoginCode::generate(self.random, tenant.login_code.length);
        let expires_at = now + i64::try_from(tenant.login_code.ttl_secs).unwrap_or(600);
        let login = Login {
            code_hash: code_hash(self.secret, &tenant.id, &login_id, &code),
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
            binding_hash: Some(binding.hash()),
            started_from,
            ttl: expires_at,
        };
        Ok(NewCode { login, code, binding })
    }

    /// Spends the verify budgets of a request that compares no code: `Err` only when one of them
    /// is exhausted (or DynamoDB fails).
    async fn spend_only(&self, tenant: &Tenant, spent: &mut [Budget], now: i64) -> Result<(), VerifyError> {
        budgets::spend(self.store, self.random, &tenant.id, spent, now).await?.map_err(VerifyError::TooMany)
    }

    /// Reserves one attempt of `login` for this verify (recorded as `reservation`), in ONE
    /// transaction with the verify budgets, a unit of each wrong-code budget, and the check that
    /// the login is still its client's newest.
    async fn reserve(
        &self,
        login: &Login,
        reservation: &str,
        spent: &mut [Budget],
        failures: &mut [Budget],
        now: i64,
    ) -> Result<Reserved, VerifyError> {
        loop {
            let mut tx = Transaction::new(self.random.request_token());
            for b in spent.iter().chain(failures.iter()) {
                tx.add(b.kind, b.spend(self.store, &login.tenant, now));
            }
            tx.add("login", self.store.reserve_part(login, reservation, now));
            for (name, scope) in login.scopes() {
                tx.add(name, self.store.newest_check(login, &scope));
            }
            let cancelled = match self.store.transact(&tx).await {
                Ok(()) => return Ok(Reserved::Yes),
                Err(TxError::Cancelled(c)) => c,
                Err(TxError::Db(e)) => return Err(e.into()),
            };
            match budgets::refusal(&cancelled, spent.iter_mut().chain(failures.iter_mut()), self.random, now) {
                Some(Refusal::Spent(exceeded)) => return Ok(Reserved::Refused(VerifyError::TooMany(exceeded))),
                Some(Refusal::Moved) => continue,
                None => {}
            }
            if cancelled.condition_failed("login") {
                // Used, expired or out of attempts meanwhile: the login as it stands says which.
                return Ok(Reserved::Changed(stored_login(&cancelled)));
            }
            if cancelled.condition_failed("newest") || cancelled.condition_failed("newest_here") {
                return Ok(Reserved::Refused(VerifyError::Superseded));
            }
            return Err(DynamoError::from(TxError::Cancelled(cancelled)).into());
        }
    }

    /// The session a used `login` opened, when `binding` and `code` are the ones that used it,
    /// within [`RETRY_WINDOW_SECS`], and that session (of the derived token) is still live.
    async fn recognise(
        &self,
        tenant: &Tenant,
        login: &Login,
        binding: &Binding,
        code: &LoginCode,
        now: i64,
    ) -> Result<Verified, VerifyError> {
        let recent = login.used_at.is_some_and(|used| now - used <= RETRY_WINDOW_SECS);
        let token = login.session_token(self.secret, binding, code);
        if !recent || login.session.as_ref() != Some(&token.id()) {
            return Err(VerifyError::Used);
        }
        let session: Option<Session> = self.store.get(&keys::session_by_id(&tenant.id, &token.id()), true).await?;
        match session.filter(|s| s.is_live(tenant, now)) {
            Some(session) => Ok(Verified { token, session }),
            None => Err(VerifyError::Used),
        }
    }

    /// The right code, compared under `reservation`: ONE transaction of `login` (consumed, on
    /// condition that it is unused, unexpired and still holds the reservation, with the hashes
    /// checked, recording the session it opens), the wrong-code units given back, `user` (a login
    /// recorded, or with `email` a new user) and `session` (its token derived from the binding and
    /// the code, see [`Self::recognise`]).
    async fn consume(
        &self,
        tenant: &Tenant,
        held: Held<'_>,
        device: Device,
        now: i64,
    ) -> Result<Verified, VerifyError> {
        let Held { login, binding, code, reservation, failures } = held;
        let mut owner = login.user_hint.clone();
        let token = login.session_token(self.secret, binding, code);
        for _ in 0..3 {
            let mut tx = Transaction::new(self.random.request_token());
            tx.add("login", self.store.use_part(login, reservation, &token.id(), now));
            for b in failures {
                tx.add(b.kind, b.refund(self.store, &login.tenant, now));
            }
            let user_id = match &owner {
                Some(id) => {
                    users::login_part(self.store, &mut tx, tenant, id, &login.email, now);
                    id.clone()
                }
                None => users::create_parts(self.store, self.random, &mut tx, tenant, &login.email, now)?.id,
            };
            let new =
                NewSession { user_id, email: Some(login.email.clone()), lifetime_secs: None, device: device.clone() };
            let (token, session) = sessions::open_with(token.clone(), tenant, new, now);
            tx.add("session", sessions::create_part(self.store, &session)?);
            match self.store.transact(&tx).await {
                Ok(()) => return Ok(Verified { token, session }),
                Err(TxError::Cancelled(c)) if c.condition_failed("login") => {
                    // Consumed meanwhile, by this client's other verify of the same code (a
                    // double submit): the session it opened is this one's too.
                    let stored = match stored_login(&c) {
                        Some(l) => Some(l),
                        None => self.store.get::<Login>(&keys::login(&tenant.id, &login.login_id), true).await?,
                    };
                    return match stored {
                        Some(l) if l.state(now) == State::Used => self.recognise(tenant, &l, binding, code, now).await,
                        Some(l) if l.state(now) == State::Expired => Err(VerifyError::Expired),
                        _ => Err(VerifyError::Conflict),
                    };
                }
                Err(TxError::Cancelled(c)) if c.condition_failed("user") || c.condition_failed("email") => {
                    // The user we expected is gone, or someone else just created it: ask the
                    // email claim who owns the email now.
                    owner = users::owner_of(self.store, tenant, &login.email, true).await?;
                }
                Err(TxError::Cancelled(c)) => return Err(DynamoError::from(TxError::Cancelled(c)).into()),
                Err(TxError::Db(e)) => return Err(e.into()),
            }
        }
        Err(VerifyError::Conflict)
    }
}

/// What a verify holds when it may consume a login: the login, the client's proof (its binding
/// and the right code), the reservation it compared under, and the wrong-code units to give back.
#[derive(Clone, Copy)]
struct Held<'a> {
    login: &'a Login,
    binding: &'a Binding,
    code: &'a LoginCode,
    reservation: &'a str,
    failures: &'a [Budget],
}

/// How a reservation went.
enum Reserved {
    Yes,
    Refused(VerifyError),
    /// The login changed meanwhile (as it now stands, when DynamoDB said).
    Changed(Option<Login>),
}

/// The login as it stood when the condition of part `login` failed (DynamoDB returns it for
/// `ReturnValuesOnConditionCheckFailure: ALL_OLD`).
fn stored_login(cancelled: &Cancelled) -> Option<Login> {
    let (_, reason) = cancelled.parts.iter().find(|(name, _)| *name == "login")?;
    from_item(reason.as_ref()?.item.clone()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::crypto::hmac_hex;
    use crate::platform::runtime::{AnswerLimit, OUTSIDE_ANSWER_LIMIT};
    use crate::testing::fakes::ManualRuntime;
    use crate::values::ids::TenantId;

    fn id(raw: &str) -> LoginId {
        LoginId::parse(raw).expect("the test's own input")
    }

    fn tenant(raw: &str) -> TenantId {
        TenantId::parse(raw).expect("the test's own input")
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
        let code = LoginCode::presented("123456");
        let h = code_hash(b"secret", &tenant("acme"), &login, &code);
        assert_eq!(h, code_hash(b"secret", &tenant("acme"), &login, &code));
        assert_ne!(h, code_hash(b"secret", &tenant("globex"), &login, &code));
        assert_ne!(h, code_hash(b"other", &tenant("acme"), &login, &code));
        assert_ne!(h, code_hash(b"secret", &tenant("acme"), &id("BAAAAAAAAAAAAAAAAAAAAA"), &code));
        assert_ne!(h, code_hash(b"secret", &tenant("acme"), &login, &LoginCode::presented("123457")));
        assert!(!h.contains("123456"));
    }

    #[test]
    fn the_webhook_signature_covers_timestamp_and_body() {
        let body = serde_json::json!({"tenant": "acme", "code": "123456"});
        let req = webhook_request("https://hooks.example.test/x", &[b"whsec", b"old"], &body, 1_700_000_000)
            .expect("the test's own input");
        let sig = req.headers()["x-dynauth-signature"].to_str().unwrap_or("").to_string();
        let mut signed = b"1700000000.".to_vec();
        signed.extend_from_slice(req.body());
        assert_eq!(
            sig,
            format!("t=1700000000,v1={},v1={}", hmac_hex(b"whsec", &signed), hmac_hex(b"old", &signed)),
            "both secrets of a rotation's overlap sign"
        );
        assert_eq!(req.headers()["content-type"], "application/json");
        assert_eq!(req.extensions().get::<AnswerLimit>(), Some(&AnswerLimit(OUTSIDE_ANSWER_LIMIT)), "never read whole");
    }

    #[test]
    fn login_states_and_bindings() {
        let rt = ManualRuntime::new(0, 5);
        let binding = Binding::generate(&rt);
        let code = LoginCode::generate(&rt, 6);
        let login_id = LoginId::generate(&rt);
        let login = Login {
            code_hash: code_hash(b"secret", &tenant("acme"), &login_id, &code),
            login_id,
            tenant: tenant("acme"),
            tenant_generation: "g1".into(),
            email: Email::parse("a@b.example").expect("the test's own input"),
            attempts: 0,
            max_attempts: 5,
            created_at: 1000,
            expires_at: 1600,
            used_at: None,
            user_hint: None,
            session: None,
            binding_hash: Some(binding.hash()),
            started_from: Some("192.0.2.1".into()),
            ttl: 1600,
        };
        assert!(login.matches(b"secret", &code));
        assert!(!login.matches(b"other", &code));
        assert_eq!(login.state(1599), State::Open);
        assert_eq!(login.state(1600), State::Expired);
        assert_eq!(Login { attempts: 5, ..login.clone() }.state(1000), State::Exhausted);
        assert_eq!(Login { used_at: Some(1001), ..login.clone() }.state(1002), State::Used);
        assert!(login.bound_to(Some(&binding)));
        assert!(!login.bound_to(Some(&Binding::generate(&rt))), "another client's binding");
        assert!(!login.bound_to(None));
        assert!(
            !Login { binding_hash: None, ..login.clone() }.bound_to(Some(&binding)),
            "a login from before bindings"
        );
        // The session token needs the binding: the same code with another binding gives another.
        let token = login.session_token(b"secret", &binding, &code);
        assert_eq!(token, login.session_token(b"secret", &binding, &code));
        assert_ne!(token, login.session_token(b"secret", &Binding::generate(&rt), &code));
        assert_eq!(Binding::parse(binding.expose()), Some(binding.clone()));
        assert_eq!(Binding::parse("short"), None);
        assert_eq!(Binding::parse(&format!("{}=", &binding.expose()[..42])), None);
        assert_eq!(format!("{binding:?}"), "Binding(** redacted **)");
        let scopes = login.scopes();
        assert_eq!(scopes, vec![("newest", format!("b.{}", binding.hash())), ("newest_here", "a.192.0.2.1".into())]);
        assert_eq!(Login { started_from: None, ..login }.scopes().len(), 1, "a start that presented its binding");
    }
}
