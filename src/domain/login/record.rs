//! The login record (a code as stored: its hash, expiry, attempts, the binding it belongs to)
//! and how it is kept in the table (the login and its client's newest-login pointers).

use serde::{Deserialize, Serialize};

use crate::domain::sessions::SessionToken;
use crate::dynamo::expr::and;
use crate::dynamo::{ConditionCheck, DynamoError, Expr, PutItemInput, ReturnValues, TransactItem, Transaction, s};
use crate::platform::crypto::constant_time_eq;
use crate::platform::runtime::Random;
use crate::table::keys;
use crate::table::store::Store;
use crate::values::email::Email;
use crate::values::ids::{LoginId, SessionId, TenantId, UserId};

use super::code::{Binding, LoginCode, code_hash};

/// A login code as stored (times in epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    pub login_id: LoginId,
    pub tenant: TenantId,
    pub tenant_generation: String,
    pub email: Email,
    pub code_hash: String,
    /// Attempts reserved so far: each is one comparison of a code.
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
    /// `h(binding)` of the client the login belongs to (logins stored before bindings have
    /// none, and no verify can use them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding_hash: Option<String>,
    /// The client address of a start that presented no binding: the login is then also its
    /// email's newest from that address ([`keys::newest_login`]), so such a client's next start
    /// supersedes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_from: Option<String>,
    pub ttl: i64,
}

/// How long after a code was used a retry of the same verify (same login, code and binding)
/// still gets the session it opened, instead of 410 `code_used`: enough for a client whose answer
/// was lost to try again.
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

    /// Whether `binding` is the one this login was started with (constant time).
    pub fn bound_to(&self, binding: Option<&Binding>) -> bool {
        match (binding, &self.binding_hash) {
            (Some(b), Some(stored)) => constant_time_eq(b.hash().as_bytes(), stored.as_bytes()),
            _ => false,
        }
    }

    /// Whether `code` is this login's code (constant-time comparison of the keyed hashes). Only
    /// a verify that holds a reserved attempt may ask.
    pub(crate) fn matches(&self, secret: &[u8], code: &LoginCode) -> bool {
        constant_time_eq(code_hash(secret, &self.tenant, &self.login_id, code).as_bytes(), self.code_hash.as_bytes())
    }

    /// The token of the session this login opens for `binding` with `code`: derived under
    /// `secret` from the tenant, the login, the binding and the code, so every verify of the same
    /// code by the same client yields the same token, and no one without the binding can.
    pub(crate) fn session_token(&self, secret: &[u8], binding: &Binding, code: &LoginCode) -> SessionToken {
        SessionToken::derived(
            secret,
            &[
                b"dynauth-login-session-v2",
                self.tenant.as_str().as_bytes(),
                self.login_id.as_str().as_bytes(),
                binding.expose().as_bytes(),
                code.expose().as_bytes(),
            ],
        )
    }

    /// The newest-login pointers this login is on, with the names of their transaction parts:
    /// its binding's, and for a start without a presented binding, its address's.
    pub(crate) fn scopes(&self) -> Vec<(&'static str, String)> {
        let mut scopes = vec![("newest", format!("b.{}", self.binding_hash.as_deref().unwrap_or_default()))];
        if let Some(address) = &self.started_from {
            scopes.push(("newest_here", format!("a.{address}")));
        }
        scopes
    }

    pub(crate) fn retry_after(&self, now: i64) -> u64 {
        u64::try_from(self.expires_at - now).unwrap_or(1).max(1)
    }
}

/// The pointer to a client's newest login for an email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Newest {
    login_id: LoginId,
    ttl: i64,
}

impl Store<'_> {
    /// Stores `login` as its client's newest login for its email (one transaction: the login,
    /// and the pointers every verify checks).
    pub(crate) async fn save_newest(&self, random: &dyn Random, login: &Login) -> Result<(), DynamoError> {
        let item = self.item("login_code", login, &keys::login(&login.tenant, &login.login_id))?;
        let mut tx = Transaction::new(random.request_token()).with("login", self.create_part(item));
        for (name, scope) in login.scopes() {
            let newest = Newest { login_id: login.login_id.clone(), ttl: login.expires_at };
            let pointer =
                self.item("newest_login", &newest, &keys::newest_login(&login.tenant, &login.email, &scope))?;
            tx.add(name, TransactItem::Put(PutItemInput::new(&self.schema.table, pointer)));
        }
        self.transact(&tx).await.map_err(DynamoError::from)
    }

    /// The part that checks that `login` is still the newest of `scope`.
    pub(crate) fn newest_check(&self, login: &Login, scope: &str) -> TransactItem {
        let mut e = Expr::new();
        let cond = e.equals("login_id", s(login.login_id.as_str()));
        let key = keys::newest_login(&login.tenant, &login.email, scope).key(self.schema);
        TransactItem::ConditionCheck(ConditionCheck::new(&self.schema.table, key, cond, e))
    }

    /// The part that reserves one attempt of `login` for a verify, recording `reservation`: on
    /// condition that the login is open (unused, unexpired, an attempt left) and bound to the
    /// binding that was checked. A failed condition returns the login as it stands.
    pub(crate) fn reserve_part(&self, login: &Login, reservation: &str, now: i64) -> TransactItem {
        let mut e = Expr::new();
        let attempts = e.name("attempts");
        let update = format!(
            "SET {attempts} = {attempts} + {} ADD {} {}",
            e.num(1),
            e.name("reservations"),
            e.value(crate::dynamo::AttributeValue::Ss(vec![reservation.to_string()]))
        );
        let open = self.open_condition(&mut e, now);
        let left = format!("{attempts} < {}", e.name("max_attempts"));
        let bound = e.equals("binding_hash", s(login.binding_hash.as_deref().unwrap_or_default()));
        let cond = and(&[open, left, bound]).unwrap_or_default();
        let mut update = self.update(&keys::login(&login.tenant, &login.login_id), update, Some(cond), e);
        update.return_values_on_condition_check_failure = Some(ReturnValues::AllOld);
        TransactItem::Update(update)
    }

    /// The part that consumes a login with the right code, recording the session it opens: on
    /// condition that it is unused and unexpired, still holds `reservation`, and has the code and
    /// binding hashes that were checked. A failed condition returns the login as it stands.
    pub(crate) fn use_part(&self, login: &Login, reservation: &str, session: &SessionId, now: i64) -> TransactItem {
        let mut e = Expr::new();
        let update = format!(
            "SET {} = {}, {} = {}",
            e.name("used_at"),
            e.num(now),
            e.name("session"),
            e.value(s(session.as_str()))
        );
        let open = self.open_condition(&mut e, now);
        let held = format!("contains({}, {})", e.name("reservations"), e.str(reservation));
        let code = e.equals("code_hash", s(&login.code_hash));
        let bound = e.equals("binding_hash", s(login.binding_hash.as_deref().unwrap_or_default()));
        let cond = and(&[open, held, code, bound]).unwrap_or_default();
        let mut update = self.update(&keys::login(&login.tenant, &login.login_id), update, Some(cond), e);
        update.return_values_on_condition_check_failure = Some(ReturnValues::AllOld);
        TransactItem::Update(update)
    }

    /// Exists, not used, not expired: the conditions of every write to a login.
    pub(crate) fn open_condition(&self, e: &mut Expr, now: i64) -> String {
        let exists = e.exists(&self.schema.pk);
        let unused = e.not_exists("used_at");
        let expiry = format!("{} > {}", e.name("expires_at"), e.num(now));
        and(&[exists, unused, expiry]).unwrap_or_default()
    }
}

crate::domain::tenants::of_tenant!(Login);
