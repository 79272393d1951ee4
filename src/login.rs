//! Login codes: issuing (uniform numeric codes, stored only as a keyed hash), delivering (a signed
//! webhook), rate-limiting issuance, and consuming at most once, before expiry, within the
//! attempt limit.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::crypto::{b64url, b64url_decode, constant_time_eq, hmac_hex, hmac_parts};
use crate::dynamo::expr::and;
use crate::dynamo::table::Schema;
use crate::dynamo::{
    Client, DynamoError, Expr, GetItemInput, PutItemInput, ReturnValues, TransactItem, UpdateItemInput, Write,
    from_item, n, s, to_item, to_typed_item,
};
use crate::keys;
use crate::runtime::{Runtime, Transport, TransportError, random_u64};
use crate::tenants::Tenant;

/// A login id: 16 random bytes, base64url (22 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginId(String);

impl LoginId {
    pub fn generate(rt: &impl Runtime) -> Self {
        let mut b = [0u8; 16];
        rt.fill_random(&mut b);
        Self(b64url(&b))
    }

    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == 22 && b64url_decode(raw).is_some_and(|b| b.len() == 16)).then(|| Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A numeric login code. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginCode(String);

impl LoginCode {
    /// `length` decimal digits, uniformly random: draws that would bias the remainder are
    /// rejected.
    pub fn generate(rt: &impl Runtime, length: u8) -> Self {
        let length = u32::from(length.clamp(6, 10));
        let modulus = 10u64.pow(length);
        let limit = u64::MAX - (u64::MAX % modulus);
        loop {
            let v = random_u64(rt);
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
pub fn code_hash(secret: &[u8], tenant: &str, login_id: &LoginId, code: &LoginCode) -> String {
    b64url(&hmac_parts(
        secret,
        &[b"dynauth-login-code-v1", tenant.as_bytes(), login_id.0.as_bytes(), code.0.as_bytes()],
    ))
}

/// A login code as stored (times in epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    pub login_id: String,
    pub tenant: String,
    pub tenant_generation: String,
    pub email: String,
    pub code_hash: String,
    pub attempts: u32,
    pub max_attempts: u32,
    pub created_at: i64,
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<i64>,
    /// The user that owned the email when the code was issued (saves a read when verifying).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_hint: Option<String>,
    pub ttl: i64,
}

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
        let id = LoginId(self.login_id.clone());
        constant_time_eq(code_hash(secret, &self.tenant, &id, code).as_bytes(), self.code_hash.as_bytes())
    }
}

/// A new login for `email` (not yet stored) and its code.
pub fn issue(
    rt: &impl Runtime,
    secret: &[u8],
    tenant: &Tenant,
    email: &str,
    user_hint: Option<String>,
    now: i64,
) -> (Login, LoginCode) {
    let login_id = LoginId::generate(rt);
    let code = LoginCode::generate(rt, tenant.login_code.length);
    let expires_at = now + i64::try_from(tenant.login_code.ttl_secs).unwrap_or(600);
    let login = Login {
        code_hash: code_hash(secret, tenant.id.as_str(), &login_id, &code),
        login_id: login_id.0,
        tenant: tenant.id.to_string(),
        tenant_generation: tenant.generation.clone(),
        email: email.to_string(),
        attempts: 0,
        max_attempts: tenant.login_code.max_attempts,
        created_at: now,
        expires_at,
        used_at: None,
        user_hint,
        ttl: expires_at,
    };
    (login, code)
}

/// The webhook body and its `x-dynauth-signature` header value: `t=<unix>,v1=<hex HMAC-SHA256 of
/// "<unix>.<body>">`.
pub fn webhook_request(
    url: &str,
    secret: &[u8],
    body: &serde_json::Value,
    now: i64,
) -> Result<http::Request<Vec<u8>>, TransportError> {
    let body = serde_json::to_vec(body).map_err(|e| TransportError(e.to_string()))?;
    let mut signed = format!("{now}.").into_bytes();
    signed.extend_from_slice(&body);
    let signature = format!("t={now},v1={}", hmac_hex(secret, &signed));
    http::Request::builder()
        .method(http::Method::POST)
        .uri(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("x-dynauth-signature", signature)
        .header(http::header::USER_AGENT, "dynauth-webhook/1")
        .body(body)
        .map_err(|e| TransportError(e.to_string()))
}

/// Login storage over one DynamoDB client.
#[derive(Debug)]
pub struct Store<'a, T, R> {
    pub db: &'a Client<T, R>,
    pub schema: &'a Schema,
}

impl<T: Transport, R: Runtime> Store<'_, T, R> {
    /// Stores a login, on condition that its key is new.
    pub async fn put(&self, login: &Login) -> Result<(), DynamoError> {
        let mut item = to_typed_item("login_code", login)?;
        keys::login(&login.tenant, &login.login_id).add_to(self.schema, &mut item);
        self.db.put_new(&self.schema.table, &self.schema.pk, item).await?;
        Ok(())
    }

    /// The login `login_id` of this tenant incarnation (consistent read).
    pub async fn get(&self, tenant: &Tenant, login_id: &LoginId) -> Result<Option<Login>, DynamoError> {
        let get = GetItemInput::consistent(
            &self.schema.table,
            keys::login(tenant.id.as_str(), login_id.as_str()).key(self.schema),
        );
        Ok(self.db.get::<Login>(&get).await?.filter(|l| l.tenant_generation == tenant.generation))
    }

    /// Uses up one attempt for a wrong code, on condition that the login is still open. The
    /// attempts made afterwards, or `None` when it was no longer open.
    pub async fn charge_attempt(&self, login: &Login, now: i64) -> Result<Option<u32>, DynamoError> {
        let mut e = Expr::new();
        let attempts = e.name("attempts");
        let update = format!("SET {attempts} = {attempts} + {}", e.num(1));
        let cond = self.open_condition(&mut e, now);
        let input = UpdateItemInput::new(
            &self.schema.table,
            keys::login(&login.tenant, &login.login_id).key(self.schema),
            update,
            Some(cond),
            e,
        )
        .returning(ReturnValues::UpdatedNew);
        match self.db.update_item(input, Write::AtMostOnce).await {
            Ok(out) => {
                let after: Option<AttemptsOnly> = out.attributes.map(from_item).transpose()?;
                Ok(Some(after.map_or(login.attempts + 1, |a| a.attempts)))
            }
            Err(DynamoError::ConditionalCheckFailed { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The write that consumes a login with the right code, for the success transaction: on
    /// condition that it is still open and the code hash is the one checked.
    pub fn use_action(&self, login: &Login, now: i64) -> TransactItem {
        let mut e = Expr::new();
        let attempts = e.name("attempts");
        let update = format!("SET {} = {}, {attempts} = {attempts} + {}", e.name("used_at"), e.num(now), e.num(1));
        let open = self.open_condition(&mut e, now);
        let hash = e.equals("code_hash", s(&login.code_hash));
        let cond = format!("{open} AND {hash}");
        TransactItem::Update(UpdateItemInput::new(
            &self.schema.table,
            keys::login(&login.tenant, &login.login_id).key(self.schema),
            update,
            Some(cond),
            e,
        ))
    }

    /// Exists, not used, not expired, attempts left: the conditions of every write to a login.
    fn open_condition(&self, e: &mut Expr, now: i64) -> String {
        let exists = e.exists(&self.schema.pk);
        let unused = e.not_exists("used_at");
        let expiry = format!("{} > {}", e.name("expires_at"), e.num(now));
        let left = format!("{} < {}", e.name("attempts"), e.name("max_attempts"));
        and(&[exists, unused, expiry, left]).unwrap_or_default()
    }

    /// Records one code issued to `email` at `now`, unless `limit` codes were already issued in
    /// the last `window` seconds; then `Err(seconds until one more may be issued)`. An exact
    /// sliding window: the record keeps the issue times within the window, and is rewritten on
    /// condition that nobody else rewrote it meanwhile.
    pub async fn rate_limit(
        &self,
        tenant: &Tenant,
        email: &str,
        now: i64,
        limit: u32,
        window: i64,
    ) -> Result<Result<(), i64>, DynamoError> {
        let key = keys::login_rate(tenant.id.as_str(), email);
        for _ in 0..5 {
            let get = GetItemInput::consistent(&self.schema.table, key.key(self.schema));
            let current: Option<RateItem> = self.db.get(&get).await?;
            let version = current.as_ref().map_or(0, |c| c.version);
            let mut issued: Vec<i64> =
                current.map(|c| c.issued).unwrap_or_default().into_iter().filter(|t| *t > now - window).collect();
            if issued.len() >= limit as usize {
                let oldest = issued.iter().min().copied().unwrap_or(now);
                return Ok(Err((oldest + window - now).max(1)));
            }
            issued.push(now);
            let next = RateItem { kind: "login_rate".into(), issued, version: version + 1, ttl: now + window };
            let mut item = to_item(&next)?;
            key.add_to(self.schema, &mut item);
            let mut e = Expr::new();
            let cond = if version == 0 { e.not_exists(&self.schema.pk) } else { e.equals("version", n(version)) };
            match self
                .db
                .put_item(PutItemInput::new(&self.schema.table, item).condition(cond, e), Write::AtMostOnce)
                .await
            {
                Ok(_) => return Ok(Ok(())),
                Err(DynamoError::ConditionalCheckFailed { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        // Five writers in a row won the race: count this one as over the limit.
        Ok(Err(1))
    }
}

#[derive(Debug, Deserialize)]
struct AttemptsOnly {
    attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RateItem {
    #[serde(rename = "type")]
    kind: String,
    issued: Vec<i64>,
    version: i64,
    ttl: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ManualRuntime;

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
        let id = LoginId("AAAAAAAAAAAAAAAAAAAAAA".into());
        let code = LoginCode("123456".into());
        let h = code_hash(b"secret", "acme", &id, &code);
        assert_eq!(h, code_hash(b"secret", "acme", &id, &code));
        assert_ne!(h, code_hash(b"secret", "globex", &id, &code));
        assert_ne!(h, code_hash(b"other", "acme", &id, &code));
        assert_ne!(h, code_hash(b"secret", "acme", &LoginId("BAAAAAAAAAAAAAAAAAAAAA".into()), &code));
        assert_ne!(h, code_hash(b"secret", "acme", &id, &LoginCode("123457".into())));
        assert!(!h.contains("123456"));
    }

    #[test]
    fn login_ids() {
        let rt = ManualRuntime::new(0, 5);
        let id = LoginId::generate(&rt);
        assert_eq!(id.as_str().len(), 22);
        assert_eq!(LoginId::parse(id.as_str()), Some(id));
        assert_eq!(LoginId::parse("short"), None);
        assert_eq!(LoginId::parse("!!!!!!!!!!!!!!!!!!!!!!"), None);
    }

    #[test]
    fn the_webhook_signature_covers_timestamp_and_body() {
        let body = serde_json::json!({"tenant": "acme", "code": "123456"});
        let req = webhook_request("https://hooks.example.test/x", b"whsec", &body, 1_700_000_000)
            .unwrap_or_else(|e| panic!("{e}"));
        let sig = req.headers()["x-dynauth-signature"].to_str().unwrap_or("").to_string();
        let mut signed = b"1700000000.".to_vec();
        signed.extend_from_slice(req.body());
        assert_eq!(sig, format!("t=1700000000,v1={}", hmac_hex(b"whsec", &signed)));
        assert_eq!(req.headers()["content-type"], "application/json");
    }
}
