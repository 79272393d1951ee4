//! Sessions that live in an Auth.js table (`@auth/dynamodb-adapter`'s items, a tenant's
//! [`AuthjsStore`]): found as the adapter finds them, by ONE Query of its index for
//! `SESSION#<token>`, and shaped as a dynauth [`Session`] so the gateway, the snapshot and the
//! JWTs rest on them unchanged. dynauth never writes such a session: the app extends it
//! (`updateSession`); only logout, when the tenant allows it, deletes it ([`end`]).
//!
//! The index is eventually consistent (a session the app made a moment ago, or extended, may
//! not be in it yet; one it deleted may still be). So a miss is confirmed where the layout
//! allows a consistent read, which needs the user: a session item is keyed `USER#<userId>` /
//! `SESSION#<token>`, and the user is known from an item the index returned past its `expires`
//! (it may have been extended since) or from the browser's authentic snapshot cookie, however
//! old. With `strict_revocation` every hit is confirmed by that consistent read too (two calls):
//! a deletion holds at once. `expires` (epoch seconds, possibly fractional, or an ISO 8601
//! string) is checked on every read: TTL deletes late, or never.

use std::time::SystemTime;

use super::{Found, Presented, Session, snapshot};
use crate::domain::regions::Regions;
use crate::domain::tenants::{AuthjsStore, Tenant};
use crate::dynamo::{
    AttributeValue, Client, DeleteItemInput, DynamoError, Expr, GetItemInput, Item, QueryInput, Write, s,
};
use crate::platform::runtime::{epoch_secs, parse_rfc3339};
use crate::values::email::Email;
use crate::values::ids::{SessionId, UserId};

crate::values::secret::secret! {
    /// An Auth.js session token as a request presents it (the adapter's are UUIDs; an app's own
    /// `generateSessionToken` may make others): 1-512 visible ASCII characters but `" , ; \`.
    /// `Debug` never shows it.
    pub struct AuthjsToken;
}

impl AuthjsToken {
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let fine =
            (1..=512).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic() && !b"\",;\\".contains(&b));
        fine.then(|| Self(raw.to_string()))
    }

    /// `h(token)`: the session's public id (the token itself is the credential).
    pub fn id(&self) -> SessionId {
        SessionId::of_token(&self.0)
    }

    fn index_key(&self) -> String {
        format!("SESSION#{}", self.0)
    }
}

/// What one read of the Auth.js table said about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Read {
    Live(Session),
    /// There, but past its `expires` (as this read saw it): the user it names.
    Expired(UserId),
    /// Not there, or not a session of this token.
    Missing,
}

/// The live Auth.js session `token` opens, as [`super::find`] finds dynauth's own: the snapshot
/// when it holds; the nearest replica (unless `current` or `strict_revocation`); home; then the
/// consistent read of the item when the user is known (see the module docs). `email`: the
/// answer shows the email, so read the user for it when the tenant says so.
#[allow(clippy::too_many_arguments)]
pub async fn find(
    regions: &Regions<'_>,
    tenant: &Tenant,
    store: &AuthjsStore,
    token: &AuthjsToken,
    snapshot: Option<Presented<'_>>,
    now: SystemTime,
    current: bool,
    email: bool,
) -> Result<Option<Found>, DynamoError> {
    let secs = epoch_secs(now);
    let vouched = snapshot.and_then(|c| snapshot::vouched_user(c.token_secret, tenant, c.raw, &token.id()));
    if let Some(cookie) = snapshot.filter(|_| !current && tenant.session.snapshot_secs() > 0)
        && let Some(session) = snapshot::unseal_id(cookie.token_secret, tenant, cookie.raw, &token.id(), secs)
    {
        return Ok(Some(Found { session, slide: None, from_snapshot: true }));
    }
    let strict = current || tenant.session.strict_revocation;
    let regions = if strict { regions.home_only() } else { *regions };
    let replica = regions.from_replica(now, |near| async move { query(near.db, tenant, store, token, secs).await });
    let (read, region) = match replica.await {
        Some(Read::Live(session)) => (Read::Live(session), regions.near.map_or(regions.home.db, |n| n.store.db)),
        _ => (query(regions.home.db, tenant, store, token, secs).await?, regions.home.db),
    };
    let home = regions.home.db;
    let confirmed = match read {
        Read::Live(session) if strict => get(home, tenant, store, &session.user_id, token, secs).await?,
        Read::Live(session) => Some(session),
        Read::Expired(user) => get(home, tenant, store, &user, token, secs).await?,
        Read::Missing => match vouched {
            Some(user) => get(home, tenant, store, &user, token, secs).await?,
            None => None,
        },
    };
    let Some(mut session) = confirmed else {
        return Ok(None);
    };
    if email && store.read_users {
        session.email = user_email(region, store, &session.user_id).await?;
    }
    Ok(Some(Found { session, slide: None, from_snapshot: false }))
}

/// Deletes the session item `token` names (as the adapter's `deleteSession`): ONE DeleteItem at
/// home when `user` (the snapshot's, which vouches for this token) names its key, else the
/// index's Query finds the key first. Nothing there is no error: logout is idempotent.
pub async fn end(
    home: &Client<'_>,
    store: &AuthjsStore,
    token: &AuthjsToken,
    user: Option<UserId>,
) -> Result<(), DynamoError> {
    let user = match user {
        Some(user) => Some(user),
        None => query_item(home, store, token)
            .await?
            .and_then(|item| text(&item, "userId").and_then(|u| UserId::parse(u).ok())),
    };
    if let Some(user) = user {
        home.delete_item(DeleteItemInput::new(&store.table, session_key(store, &user, token)), Write::Idempotent)
            .await?;
    }
    Ok(())
}

/// Whether the table `store` names is there and laid out as it says (one DescribeTable at home):
/// its partition and sort keys, and an index of that name on the two index keys. A mistyped
/// setting is named when it is saved, not found later as every lookup failing. `Ok(Err(problem))`
/// names the field at fault; `Err` is DynamoDB not answering.
pub async fn check_table(home: &Client<'_>, store: &AuthjsStore) -> Result<Result<(), String>, DynamoError> {
    let table = match home.describe_table(&store.table).await {
        Ok(table) => table,
        Err(DynamoError::ResourceNotFound { .. }) => {
            return Ok(Err(format!("authjs.table: no table named {} in the home region", store.table)));
        }
        Err(e) if e.code() == Some("AccessDeniedException") => {
            return Ok(Err(format!(
                "authjs.table: dynauth may not read {}: grant infra/iam-policy-authjs.json",
                store.table
            )));
        }
        Err(e) => return Err(e),
    };
    let key = |schema: &[crate::dynamo::KeySchemaElement], kind: &str| {
        schema.iter().find(|k| k.key_type == kind).map(|k| k.attribute_name.clone()).unwrap_or_default()
    };
    let (pk, sk) = (key(&table.key_schema, "HASH"), key(&table.key_schema, "RANGE"));
    if pk != store.partition_key {
        return Ok(Err(format!("authjs.partition_key: the table's partition key is {pk:?}")));
    }
    if sk != store.sort_key {
        return Ok(Err(format!("authjs.sort_key: the table's sort key is {sk:?}")));
    }
    let Some(index) = table.global_secondary_indexes.iter().find(|i| i.index_name == store.index_name) else {
        let names: Vec<&str> = table.global_secondary_indexes.iter().map(|i| i.index_name.as_str()).collect();
        return Ok(Err(format!("authjs.index_name: the table has no index {:?} (it has {names:?})", store.index_name)));
    };
    let (ipk, isk) = (key(&index.key_schema, "HASH"), key(&index.key_schema, "RANGE"));
    if ipk != store.index_partition_key {
        return Ok(Err(format!("authjs.index_partition_key: the index's partition key is {ipk:?}")));
    }
    if isk != store.index_sort_key {
        return Ok(Err(format!("authjs.index_sort_key: the index's sort key is {isk:?}")));
    }
    Ok(Ok(()))
}

/// The key of `user`'s session item for `token`.
fn session_key(store: &AuthjsStore, user: &UserId, token: &AuthjsToken) -> Item {
    Item::from([
        (store.partition_key.clone(), s(format!("USER#{}", user.as_str()))),
        (store.sort_key.clone(), s(token.index_key())),
    ])
}

/// The item the index holds for `token`, if any (ONE Query).
async fn query_item(db: &Client<'_>, store: &AuthjsStore, token: &AuthjsToken) -> Result<Option<Item>, DynamoError> {
    let mut e = Expr::new();
    let key = token.index_key();
    let cond = format!(
        "{} AND {}",
        e.equals(&store.index_partition_key, s(key.clone())),
        e.equals(&store.index_sort_key, s(key))
    );
    let q = QueryInput::new(&store.table, Some(&store.index_name), cond, e);
    Ok(db.query(&q).await?.items.into_iter().next())
}

/// The index's answer for `token`, judged.
async fn query(
    db: &Client<'_>,
    tenant: &Tenant,
    store: &AuthjsStore,
    token: &AuthjsToken,
    now: i64,
) -> Result<Read, DynamoError> {
    Ok(query_item(db, store, token).await?.map_or(Read::Missing, |item| judge(&item, tenant, token, now)))
}

/// The item at `user`'s key for `token`, read consistently at home: the live session, or none.
async fn get(
    home: &Client<'_>,
    tenant: &Tenant,
    store: &AuthjsStore,
    user: &UserId,
    token: &AuthjsToken,
    now: i64,
) -> Result<Option<Session>, DynamoError> {
    let input = GetItemInput::consistent(&store.table, session_key(store, user, token));
    let item = home.get_item(&input).await?.item;
    Ok(match item.map(|item| judge(&item, tenant, token, now)) {
        Some(Read::Live(session)) if &session.user_id == user => Some(session),
        _ => None,
    })
}

/// The email of user `user` (one eventually consistent GetItem of its item's `email`).
async fn user_email(db: &Client<'_>, store: &AuthjsStore, user: &UserId) -> Result<Option<Email>, DynamoError> {
    let key = format!("USER#{}", user.as_str());
    let mut e = Expr::new();
    let mut input = GetItemInput::consistent(
        &store.table,
        Item::from([(store.partition_key.clone(), s(key.clone())), (store.sort_key.clone(), s(key))]),
    );
    input.consistent_read = false;
    input.projection_expression = Some(e.name("email"));
    input.expression_attribute_names = e.into_parts().0;
    let item = db.get_item(&input).await?.item;
    Ok(item.as_ref().and_then(|i| text(i, "email")).and_then(|raw| Email::parse(raw).ok()))
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

/// An item as the session of `token`: a `SESSION` item of this very token, with a user id dynauth
/// can carry and an `expires` it can read, live before that.
fn judge(item: &Item, tenant: &Tenant, token: &AuthjsToken, now: i64) -> Read {
    let of_token = text(item, "type") == Some("SESSION") && text(item, "sessionToken") == Some(&token.0);
    let user = text(item, "userId").and_then(|u| UserId::parse(u).ok());
    let (true, Some(user), Some(expires)) = (of_token, user, item.get("expires").and_then(expires_secs)) else {
        return Read::Missing;
    };
    if now >= expires {
        return Read::Expired(user);
    }
    Read::Live(Session {
        id: token.id(),
        tenant: tenant.id.clone(),
        tenant_generation: tenant.generation.clone(),
        user_id: user,
        email: None,
        created_at: 0,
        expires_at: expires,
        idle_expires_at: expires,
        last_seen_at: now,
        revoked_at: None,
        device: super::Device::default(),
        ttl: expires,
    })
}

/// `expires` in whole epoch seconds, rounded down (a session is never taken as live after its
/// end): a number of seconds (`1767225600.123`, the adapter's 2.x), or an ISO 8601 / RFC 3339
/// time (`2026-01-01T00:00:00.000Z`, the v3-era adapter's).
pub fn expires_secs(value: &AttributeValue) -> Option<i64> {
    match value {
        AttributeValue::N(n) => {
            let (whole, fraction) = n.split_once('.').unwrap_or((n, ""));
            let secs = whole.parse::<i64>().ok()?;
            let negative_fraction = whole.starts_with('-') && fraction.bytes().any(|b| b != b'0');
            fraction.bytes().all(|b| b.is_ascii_digit()).then_some(secs - i64::from(negative_fraction))
        }
        AttributeValue::S(text) => parse_rfc3339(text),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamo::n;

    fn item(expires: AttributeValue) -> Item {
        Item::from([
            ("type".to_string(), s("SESSION")),
            ("sessionToken".to_string(), s("7f8e5f1c-2b1a-4c47-9a51-0d6f9b1e2a33")),
            ("userId".to_string(), s("0b7c2f5e-8e0e-4c3f-a1d6-3d2b6a9f0c11")),
            ("expires".to_string(), expires),
        ])
    }

    #[test]
    fn expires_is_read_as_a_number_or_a_time_and_rounded_down() {
        assert_eq!(expires_secs(&AttributeValue::N("1767225600.999".into())), Some(1_767_225_600));
        assert_eq!(expires_secs(&n(1_767_225_600)), Some(1_767_225_600));
        assert_eq!(expires_secs(&AttributeValue::N("-1.5".into())), Some(-2));
        assert_eq!(expires_secs(&s("2026-01-01T00:00:00.000Z")), Some(1_767_225_600));
        assert_eq!(expires_secs(&s("2026-01-01T01:00:00+01:00")), Some(1_767_225_600));
        for bad in [s("tomorrow"), s(""), AttributeValue::N("1e9".into()), AttributeValue::Bool(true)] {
            assert_eq!(expires_secs(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_item_is_a_live_session_of_its_own_token_before_expires_only() {
        let tenant = crate::domain::tenants::Tenant::example();
        let token = AuthjsToken::parse("7f8e5f1c-2b1a-4c47-9a51-0d6f9b1e2a33").unwrap_or_else(|| panic!("a token"));
        let live = item(AttributeValue::N("2000.5".into()));
        let Read::Live(session) = judge(&live, &tenant, &token, 1999) else { panic!("live") };
        assert_eq!(
            (session.id, session.expires_at, session.user_id.as_str()),
            (token.id(), 2000, "0b7c2f5e-8e0e-4c3f-a1d6-3d2b6a9f0c11")
        );
        assert!(
            matches!(judge(&live, &tenant, &token, 2000), Read::Expired(_)),
            "rounded down: not live in its last half second"
        );
        let other = AuthjsToken::parse("another").unwrap_or_else(|| panic!("a token"));
        assert_eq!(judge(&live, &tenant, &other, 1999), Read::Missing, "another token's item");
        let mut user = live.clone();
        user.insert("type".into(), s("USER"));
        assert_eq!(judge(&user, &tenant, &token, 1999), Read::Missing, "not a session item");
        let mut odd = live.clone();
        odd.insert("userId".into(), s("a user id with spaces"));
        assert_eq!(judge(&odd, &tenant, &token, 1999), Read::Missing);
        let mut none = live;
        none.remove("expires");
        assert_eq!(judge(&none, &tenant, &token, 1999), Read::Missing, "no expiry: never taken as live");
    }

    #[test]
    fn tokens() {
        assert!(AuthjsToken::parse("7f8e5f1c-2b1a-4c47-9a51-0d6f9b1e2a33").is_some());
        for bad in ["", "a b", "a;b", "a,b", "quote\"", &"x".repeat(513), "é"] {
            assert_eq!(AuthjsToken::parse(bad), None, "{bad}");
        }
        assert!(!format!("{:?}", AuthjsToken::parse("secret-token")).contains("secret-token"));
    }
}
