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
}

impl User {
    /// Belongs to this incarnation of the tenant.
    pub fn is_of(&self, tenant: &Tenant) -> bool {
        self.tenant == tenant.id && self.tenant_generation == tenant.generation
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
    Ok(claim.filter(|c| c.tenant_generation == tenant.generation).map(|c| c.user_id))
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
    let cond = and(&[
        e.exists(&store.schema.pk),
        e.equals("email", s(email.as_str())),
        e.equals("tenant_generation", s(&tenant.generation)),
    ]);
    tx.add("user", TransactItem::Update(store.update(&keys::user_by_id(&tenant.id, id), update, cond, e)));
}
