//! Users: one per email per tenant, made on the first successful login. An email claim item
//! (`TENANT#{t}#EMAIL#{email}`, created on condition that it does not exist) makes "exactly one
//! user per email" hold even when first logins race.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::crypto::b64url;
use crate::dynamo::expr::and;
use crate::dynamo::table::Schema;
use crate::dynamo::{
    Client, DeleteItemInput, DynamoError, Expr, GetItemInput, PutItemInput, TransactItem, TransactWriteItemsInput,
    UpdateItemInput, s, to_item, to_typed_item,
};
use crate::keys;
use crate::runtime::{Runtime, Transport};
use crate::sessions::rfc3339_secs;
use crate::tenants::Tenant;

/// A user as stored (times in epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub tenant: String,
    pub tenant_generation: String,
    pub email: String,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_at: Option<i64>,
    #[serde(default)]
    pub login_count: u64,
}

impl User {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "email": self.email,
            "created_at": rfc3339_secs(self.created_at),
            "last_login_at": self.last_login_at.map(rfc3339_secs),
            "login_count": self.login_count,
        })
    }

    /// Belongs to this incarnation of the tenant.
    pub fn is_of(&self, tenant: &Tenant) -> bool {
        self.tenant == tenant.id.as_str() && self.tenant_generation == tenant.generation
    }
}

/// The claim of an email by a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailClaim {
    #[serde(rename = "type")]
    kind: String,
    pub tenant: String,
    pub tenant_generation: String,
    pub email: String,
    pub user_id: String,
}

/// User storage over one DynamoDB client.
#[derive(Debug)]
pub struct Store<'a, T, R> {
    pub db: &'a Client<T, R>,
    pub schema: &'a Schema,
}

impl<T: Transport, R: Runtime> Store<'_, T, R> {
    /// A user of this tenant incarnation, by id (consistent read).
    pub async fn get(&self, tenant: &Tenant, user_id: &str) -> Result<Option<User>, DynamoError> {
        let get = GetItemInput::consistent(
            &self.schema.table,
            keys::user_by_id(tenant.id.as_str(), user_id).key(self.schema),
        );
        Ok(self.db.get::<User>(&get).await?.filter(|u| u.is_of(tenant)))
    }

    /// The user id that owns `email` in this tenant incarnation (consistent read of the claim).
    pub async fn claim_of(
        &self,
        tenant: &Tenant,
        email: &str,
        consistent: bool,
    ) -> Result<Option<String>, DynamoError> {
        let mut get =
            GetItemInput::consistent(&self.schema.table, keys::email_claim(tenant.id.as_str(), email).key(self.schema));
        get.consistent_read = consistent;
        Ok(self
            .db
            .get::<EmailClaim>(&get)
            .await?
            .filter(|c| c.tenant_generation == tenant.generation)
            .map(|c| c.user_id))
    }

    /// The user with `email`, if any.
    pub async fn by_email(&self, tenant: &Tenant, email: &str) -> Result<Option<User>, DynamoError> {
        match self.claim_of(tenant, email, true).await? {
            Some(id) => self.get(tenant, &id).await,
            None => Ok(None),
        }
    }

    /// A new user for `email` and the two writes that create it: the email claim (on condition
    /// that the email is unclaimed, or claimed by an earlier incarnation of the tenant) and the
    /// user item. Its first login is counted.
    pub fn create_actions(
        &self,
        tenant: &Tenant,
        email: &str,
        now: i64,
    ) -> Result<(User, Vec<TransactItem>), DynamoError> {
        let mut id = [0u8; 16];
        self.db.runtime().fill_random(&mut id);
        let user = User {
            id: b64url(&id),
            tenant: tenant.id.to_string(),
            tenant_generation: tenant.generation.clone(),
            email: email.to_string(),
            created_at: now,
            last_login_at: Some(now),
            login_count: 1,
        };
        let claim = EmailClaim {
            kind: "email_claim".into(),
            tenant: user.tenant.clone(),
            tenant_generation: user.tenant_generation.clone(),
            email: email.to_string(),
            user_id: user.id.clone(),
        };
        let mut claim_item = to_item(&claim)?;
        keys::email_claim(&user.tenant, email).add_to(self.schema, &mut claim_item);
        let mut e = Expr::new();
        let unclaimed = format!(
            "{} OR {} <> {}",
            e.not_exists(&self.schema.pk),
            e.name("tenant_generation"),
            e.str(&tenant.generation)
        );
        let put_claim = PutItemInput::new(&self.schema.table, claim_item).condition(unclaimed, e);

        let mut user_item = to_typed_item("user", &user)?;
        keys::user(&user.tenant, &user.id, email).add_to(self.schema, &mut user_item);
        let mut e = Expr::new();
        let cond = e.not_exists(&self.schema.pk);
        let put_user = PutItemInput::new(&self.schema.table, user_item).condition(cond, e);
        Ok((user, vec![TransactItem::Put(put_claim), TransactItem::Put(put_user)]))
    }

    /// Records a login of an existing user, on condition that it still exists with this email in
    /// this tenant incarnation.
    pub fn login_action(&self, tenant: &Tenant, user_id: &str, email: &str, now: i64) -> TransactItem {
        let mut e = Expr::new();
        let update =
            format!("SET {} = {} ADD {} {}", e.name("last_login_at"), e.num(now), e.name("login_count"), e.num(1));
        let cond = and(&[
            e.exists(&self.schema.pk),
            e.equals("email", s(email)),
            e.equals("tenant_generation", s(&tenant.generation)),
        ]);
        TransactItem::Update(UpdateItemInput::new(
            &self.schema.table,
            keys::user_by_id(tenant.id.as_str(), user_id).key(self.schema),
            update,
            cond,
            e,
        ))
    }

    /// Deletes a user and frees its email, in one transaction (sessions are revoked by the
    /// caller). `false` when there was no such user.
    pub async fn delete(&self, tenant: &Tenant, user: &User) -> Result<bool, DynamoError> {
        let mut e = Expr::new();
        let cond = e.exists(&self.schema.pk);
        let del_user =
            DeleteItemInput::new(&self.schema.table, keys::user_by_id(tenant.id.as_str(), &user.id).key(self.schema))
                .condition(cond, e);
        let mut e = Expr::new();
        let cond = e.equals("user_id", s(&user.id));
        let del_claim = DeleteItemInput::new(
            &self.schema.table,
            keys::email_claim(tenant.id.as_str(), &user.email).key(self.schema),
        )
        .condition(cond, e);
        let input = TransactWriteItemsInput {
            transact_items: vec![TransactItem::Delete(del_user), TransactItem::Delete(del_claim)],
            client_request_token: Some(self.db.request_token()),
        };
        match self.db.transact_write_items(&input).await {
            Ok(()) => Ok(true),
            Err(DynamoError::TransactionCanceled { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
