//! Users: one per email per tenant, made on the first successful login. An email claim item
//! (`TENANT#{t}#EMAIL#{email}`, created on condition that it does not exist) makes "exactly one
//! user per email" hold even when first logins race.
//!
//! Use cases: find a user by id or email, delete one (its sessions revoked, its email freed);
//! and the transaction parts that create a user or record a login, for the login use case.

use serde::{Deserialize, Serialize};

use crate::domain::sessions;
use crate::domain::tenants::Tenant;
use crate::dynamo::expr::and;
use crate::dynamo::{DynamoError, Expr, TransactItem, Transaction, TxError, s};
use crate::platform::runtime::Random;
use crate::table::keys;
use crate::table::store::Store;
use crate::values::email::Email;
use crate::values::ids::{SessionId, TenantId, UserId};

/// A user as stored (times in epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub tenant: TenantId,
    pub tenant_generation: String,
    pub email: Email,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_at: Option<i64>,
    #[serde(default)]
    pub login_count: u64,
    /// What the `profile` scope shows (set through the admin API and the CLI).
    #[serde(default, skip_serializing_if = "Profile::is_empty")]
    pub profile: Profile,
    /// How many times the profile changed: each change is written on condition of the one it
    /// read.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub profile_version: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A user's optional profile (OpenID Connect Core 5.1): each field only when known, never empty;
/// `updated_at` the last time any of them changed (epoch seconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
}

impl Profile {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A profile name (`name`, `given_name`, `family_name`): 1-200 characters without control
/// characters, trimmed.
type ProfileName = crate::values::input::Text<200>;

/// A picture: an https URL of at most 2,000 characters, without spaces or control characters.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
pub struct Picture(String);

impl TryFrom<String> for Picture {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, &'static str> {
        let host = raw.strip_prefix("https://").map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
        let ok = raw.chars().count() <= 2_000
            && host.is_some_and(|h| !h.is_empty() && !h.contains('@'))
            && !raw.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '<' || c == '>');
        if ok { Ok(Self(raw)) } else { Err("must be an https URL of at most 2000 characters (null removes it)") }
    }
}

/// A locale: a BCP 47 language tag such as `en`, `en-US` or `zh-Hant-TW`.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
pub struct Locale(String);

impl TryFrom<String> for Locale {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, &'static str> {
        let mut parts = raw.split('-');
        let language = parts.next().unwrap_or_default();
        let ok = raw.len() <= 35
            && (2..=3).contains(&language.len())
            && language.bytes().all(|b| b.is_ascii_alphabetic())
            && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
        if ok { Ok(Self(raw)) } else { Err("must be a BCP 47 language tag such as en or en-US (null removes it)") }
    }
}

/// A field of a profile change: absent (unchanged), `null` (removed) or a value (set).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The body of `PATCH /v1/admin/tenants/{id}/users/{user_id}` (and of the CLI's `user profile`):
/// each field set to a value, removed with `null`, or left as it is when absent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<ProfileName>>,
    #[serde(default, deserialize_with = "present")]
    given_name: Option<Option<ProfileName>>,
    #[serde(default, deserialize_with = "present")]
    family_name: Option<Option<ProfileName>>,
    #[serde(default, deserialize_with = "present")]
    picture: Option<Option<Picture>>,
    #[serde(default, deserialize_with = "present")]
    locale: Option<Option<Locale>>,
}

impl ProfileChange {
    /// `profile` with this change made at `now` (`updated_at` moves only when a field changed).
    pub fn apply(&self, profile: &Profile, now: i64) -> Profile {
        fn set<T>(old: &Option<String>, change: &Option<Option<T>>, text: fn(&T) -> &str) -> Option<String> {
            match change {
                None => old.clone(),
                Some(value) => value.as_ref().map(|v| text(v).to_string()),
            }
        }
        let mut next = Profile {
            name: set(&profile.name, &self.name, |v| &v.0),
            given_name: set(&profile.given_name, &self.given_name, |v| &v.0),
            family_name: set(&profile.family_name, &self.family_name, |v| &v.0),
            picture: set(&profile.picture, &self.picture, |v| &v.0),
            locale: set(&profile.locale, &self.locale, |v| &v.0),
            updated_at: profile.updated_at,
        };
        let fields = |p: &Profile| Profile { updated_at: None, ..p.clone() };
        if fields(&next) != fields(profile) {
            next.updated_at = Some(now);
        }
        next
    }
}

/// Changes user `id`'s profile, on condition that the user is still this tenant incarnation's
/// and its profile is the one read (read again and the change made again when another changed it
/// meanwhile; a lost answer's retry finds its own change made): the user as it is now, `None`
/// when there is no such user.
pub async fn change_profile(
    store: &Store<'_>,
    tenant: &Tenant,
    id: &UserId,
    change: ProfileChange,
    now: i64,
) -> Result<Option<User>, DynamoError> {
    loop {
        let Some(user) = get(store, tenant, id).await? else { return Ok(None) };
        let profile = change.apply(&user.profile, now);
        if profile == user.profile {
            return Ok(Some(user));
        }
        let mut e = Expr::new();
        let value = crate::dynamo::to_item(&profile)?;
        let version = e.name("profile_version");
        let update = format!(
            "SET {} = {}, {version} = {}",
            e.name("profile"),
            e.value(crate::dynamo::AttributeValue::M(value)),
            e.num(i64::try_from(user.profile_version + 1).unwrap_or(i64::MAX))
        );
        let read = match user.profile_version {
            0 => format!("attribute_not_exists({version})"),
            v => format!("{version} = {}", e.num(i64::try_from(v).unwrap_or(i64::MAX))),
        };
        let cond = and(&[e.exists(&store.schema.pk), tenant.generation_condition(&mut e), read]);
        let input = store.update(&keys::user_by_id(&tenant.id, id), update, cond, e);
        match store.db.update_item(input, crate::dynamo::Write::Idempotent).await {
            Ok(_) => return Ok(Some(User { profile, profile_version: user.profile_version + 1, ..user })),
            Err(DynamoError::ConditionalCheckFailed { .. }) => {}
            Err(e) => return Err(e),
        }
    }
}

impl User {
    /// Belongs to this incarnation of the tenant.
    pub fn is_of(&self, tenant: &Tenant) -> bool {
        tenant.holds(self)
    }
}

/// The claim of an email by a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct EmailClaim {
    tenant: TenantId,
    tenant_generation: String,
    email: Email,
    user_id: UserId,
}

/// The user `id` of this tenant incarnation (consistent read).
pub async fn get(store: &Store<'_>, tenant: &Tenant, id: &UserId) -> Result<Option<User>, DynamoError> {
    Ok(store.get::<User>(&keys::user_by_id(&tenant.id, id), true).await?.filter(|u| u.is_of(tenant)))
}

/// The id of the user that owns `email` in this tenant incarnation (a read of the email claim).
pub async fn owner_of(
    store: &Store<'_>,
    tenant: &Tenant,
    email: &Email,
    consistent: bool,
) -> Result<Option<UserId>, DynamoError> {
    let claim = store.get::<EmailClaim>(&keys::email_claim(&tenant.id, email), consistent).await?;
    Ok(claim.filter(|c| tenant.holds(c)).map(|c| c.user_id))
}

/// The user with `email`, if any.
pub async fn find_by_email(store: &Store<'_>, tenant: &Tenant, email: &Email) -> Result<Option<User>, DynamoError> {
    match owner_of(store, tenant, email, true).await? {
        Some(id) => get(store, tenant, &id).await,
        None => Ok(None),
    }
}

/// Deletes user `id`: its live sessions are revoked, then the user and its email claim are
/// deleted together (one transaction). The sessions it ended, `None` when there is no such user.
pub async fn delete(
    store: &Store<'_>,
    random: &dyn Random,
    tenant: &Tenant,
    id: &UserId,
    now: i64,
) -> Result<Option<Vec<SessionId>>, DynamoError> {
    let Some(user) = get(store, tenant, id).await? else {
        return Ok(None);
    };
    let ended = sessions::revoke_all(store, tenant, &user.id, now).await?;
    let mut e = Expr::new();
    let cond = e.exists(&store.schema.pk);
    let user_part = store.delete(&keys::user_by_id(&tenant.id, &user.id), cond, e);
    let mut e = Expr::new();
    let cond = e.equals("user_id", s(user.id.as_str()));
    let claim_part = store.delete(&keys::email_claim(&tenant.id, &user.email), cond, e);
    let tx = Transaction::new(random.request_token())
        .with("user", TransactItem::Delete(user_part))
        .with("email", TransactItem::Delete(claim_part));
    match store.transact(&tx).await {
        Ok(()) => Ok(Some(ended)),
        Err(TxError::Cancelled(_)) => Ok(None),
        Err(TxError::Db(e)) => Err(e),
    }
}

/// Adds to `tx` the parts that create a new user for `email`, its first login counted: `email`
/// (the claim, on condition that the email is unclaimed or claimed by an earlier incarnation of
/// the tenant) and `user` (the user item, on condition that its key is new).
pub fn create_parts(
    store: &Store<'_>,
    random: &dyn Random,
    tx: &mut Transaction,
    tenant: &Tenant,
    email: &Email,
    now: i64,
) -> Result<User, DynamoError> {
    let user = User {
        id: UserId::generate(random),
        tenant: tenant.id.clone(),
        tenant_generation: tenant.generation.clone(),
        email: email.clone(),
        created_at: now,
        last_login_at: Some(now),
        login_count: 1,
        profile: Profile::default(),
        profile_version: 0,
    };
    let claim = EmailClaim {
        tenant: user.tenant.clone(),
        tenant_generation: user.tenant_generation.clone(),
        email: email.clone(),
        user_id: user.id.clone(),
    };
    let claim_item = store.item("email_claim", &claim, &keys::email_claim(&tenant.id, email))?;
    let mut e = Expr::new();
    let unclaimed = format!(
        "{} OR {} <> {}",
        e.not_exists(&store.schema.pk),
        e.name("tenant_generation"),
        e.str(&tenant.generation)
    );
    tx.add("email", TransactItem::Put(store.put(claim_item, unclaimed, e)));
    let user_item = store.item("user", &user, &keys::user(&tenant.id, &user.id, email))?;
    tx.add("user", store.create_part(user_item));
    Ok(user)
}

/// Adds to `tx` the part `user` that records a login of an existing user, on condition that it
/// still exists with this email in this tenant incarnation.
pub fn login_part(store: &Store<'_>, tx: &mut Transaction, tenant: &Tenant, id: &UserId, email: &Email, now: i64) {
    let mut e = Expr::new();
    let update = format!("SET {} = {} ADD {} {}", e.name("last_login_at"), e.num(now), e.name("login_count"), e.num(1));
    let cond =
        and(&[e.exists(&store.schema.pk), e.equals("email", s(email.as_str())), tenant.generation_condition(&mut e)]);
    tx.add("user", TransactItem::Update(store.update(&keys::user_by_id(&tenant.id, id), update, cond, e)));
}

crate::domain::tenants::of_tenant!(User, EmailClaim);
