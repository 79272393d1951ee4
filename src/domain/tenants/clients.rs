//! A tenant's OpenID Connect clients (relying parties): their registration (name, type, exact
//! redirect URIs, post-logout redirect URIs, scopes, back-channel logout URI, ID token algorithm)
//! and the secrets of confidential clients: 32 random bytes, shown once, stored only as their
//! SHA-256, rotated with an overlap (the new one and the newest old one both valid until the
//! overlap is ended). The authorization flows that use them are built on this (issue 23).
//!
//! A client item names its tenant's generation: a tenant deleted and created again does not
//! inherit the clients of the old one (they read as absent).

use serde::{Deserialize, Serialize};

use super::body::{Name, RedirectUri, WebhookUrl};
use super::{Attempt, SecretChange, Tenant, TenantError, optimistically};
use crate::dynamo::{DynamoError, Expr, Item, Write, n, s};
use crate::platform::crypto::{constant_time_eq, hash_b64};
use crate::platform::runtime::{Random, rfc3339_secs};
use crate::table::keys;
use crate::table::store::Store;
use crate::values::host;
use crate::values::ids::ClientId;
use crate::values::input::{Invalid, List};

/// Redirect URIs (and post-logout redirect URIs) a client may register.
pub const MAX_REDIRECT_URIS: usize = 20;
/// The scopes a client may be allowed (`openid` always among them).
pub const SCOPES: [&str; 4] = ["openid", "email", "profile", "offline_access"];

/// Public clients (single-page and native apps) prove themselves with PKCE only; confidential
/// ones (servers) also with their secret (`client_secret_basic` or `client_secret_post`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum ClientType {
    Public,
    Confidential,
}

impl TryFrom<String> for ClientType {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, &'static str> {
        match raw.as_str() {
            "public" => Ok(Self::Public),
            "confidential" => Ok(Self::Confidential),
            _ => Err("must be one of public, confidential"),
        }
    }
}

/// How the client's ID tokens are signed: RS256 (OpenID Connect's mandatory algorithm, the
/// default), ES256 or EdDSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub enum IdTokenAlg {
    #[serde(rename = "RS256")]
    Rs256,
    #[serde(rename = "ES256")]
    Es256,
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl IdTokenAlg {
    /// The signature algorithm.
    pub fn alg(self) -> crate::platform::signature::Alg {
        use crate::platform::signature::Alg;
        match self {
            Self::Rs256 => Alg::Rs256,
            Self::Es256 => Alg::Es256,
            Self::EdDsa => Alg::EdDsa,
        }
    }
}

impl TryFrom<String> for IdTokenAlg {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, &'static str> {
        match raw.as_str() {
            "RS256" => Ok(Self::Rs256),
            "ES256" => Ok(Self::Es256),
            "EdDSA" => Ok(Self::EdDsa),
            _ => Err("must be one of RS256, ES256, EdDSA"),
        }
    }
}

crate::values::secret::secret! {
    /// A confidential client's secret: 32 random bytes, base64url, shown once when it is made
    /// (only its hash is stored); or what a client presents as one. `Debug` never shows it.
    pub struct ClientSecret;
}

impl ClientSecret {
    /// A new secret.
    fn generate(random: &dyn Random) -> Self {
        Self(random.secret_b64())
    }

    /// A secret as a client presents it (any string: a wrong one simply matches nothing).
    pub fn presented(raw: &str) -> Self {
        Self(raw.to_string())
    }

    /// The only form that is stored.
    fn hash(&self) -> String {
        hash_b64(self.0.as_bytes())
    }
}

/// A client as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub tenant: crate::values::ids::TenantId,
    pub tenant_generation: String,
    pub client_id: ClientId,
    pub name: String,
    pub client_type: ClientType,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub id_token_signed_response_alg: IdTokenAlg,
    /// The SHA-256 (base64url) of each valid secret, newest first: one, or two while a rotation
    /// overlaps; none for a public client.
    pub secret_hashes: Vec<String>,
    /// Every write is conditioned on the version it read.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl Client {
    /// Whether `presented` is one of the client's valid secrets (each compared in constant time).
    pub fn secret_matches(&self, presented: &str) -> bool {
        let hash = hash_b64(presented.as_bytes());
        self.secret_hashes.iter().fold(false, |found, h| found | constant_time_eq(h.as_bytes(), hash.as_bytes()))
    }
}

/// Whether `uri`, sent in an authorization request, is one of the `registered` redirect URIs:
/// exactly, or for a loopback one (`http://127.0.0.1`, `http://[::1]`) with any port (RFC 8252
/// §7.3: a native app listens on the port the system gives it). Everything after the port still
/// matches exactly.
pub fn redirect_registered(registered: &[String], uri: &str) -> bool {
    let portless = loopback_portless(uri);
    registered.iter().any(|r| r == uri || (portless.is_some() && loopback_portless(r) == portless))
}

/// A loopback redirect URI without its port; `None` for any other.
fn loopback_portless(uri: &str) -> Option<String> {
    for origin in ["http://127.0.0.1", "http://[::1]"] {
        let Some(rest) = uri.strip_prefix(origin) else { continue };
        let rest = match rest.strip_prefix(':') {
            Some(after) => {
                let digits = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len());
                after[..digits].parse::<u16>().ok()?;
                &after[digits..]
            }
            None => rest,
        };
        return (rest.is_empty() || rest.starts_with('/')).then(|| format!("{origin}{rest}"));
    }
    None
}

/// The body of `PUT /v1/admin/tenants/{id}/clients/{client_id}` (and of the CLI's `client put`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientBody {
    name: Name,
    #[serde(rename = "type")]
    client_type: ClientType,
    redirect_uris: List<RedirectUri>,
    #[serde(default)]
    post_logout_redirect_uris: Option<List<RedirectUri>>,
    #[serde(default)]
    scopes: Option<List<Scope>>,
    #[serde(default)]
    backchannel_logout_uri: Option<WebhookUrl>,
    #[serde(default)]
    id_token_signed_response_alg: Option<IdTokenAlg>,
}

/// One of [`SCOPES`].
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct Scope(String);

impl TryFrom<String> for Scope {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, &'static str> {
        if SCOPES.contains(&raw.as_str()) {
            Ok(Self(raw))
        } else {
            Err("must be one of openid, email, profile, offline_access")
        }
    }
}

/// What an admin sets on a client, checked: redirect URIs deduplicated (1 to
/// [`MAX_REDIRECT_URIS`]), scopes deduplicated and including `openid` (default `openid email`),
/// the back-channel logout URI `https://` to a public host unless `local_targets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSpec {
    pub name: String,
    pub client_type: ClientType,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub id_token_signed_response_alg: IdTokenAlg,
}

impl ClientSpec {
    pub fn from_body(body: ClientBody, local_targets: bool) -> Result<Self, Invalid> {
        let distinct = |field: &str, uris: Vec<RedirectUri>, min: usize| {
            let mut out: Vec<String> = Vec::new();
            for RedirectUri(uri) in uris {
                if !out.contains(&uri) {
                    out.push(uri);
                }
            }
            if out.len() < min || out.len() > MAX_REDIRECT_URIS {
                return Err(Invalid::field(field, format!("must list {min} to {MAX_REDIRECT_URIS} URIs")));
            }
            Ok(out)
        };
        let redirect_uris = distinct("redirect_uris", body.redirect_uris.0, 1)?;
        let post_logout_redirect_uris =
            distinct("post_logout_redirect_uris", body.post_logout_redirect_uris.unwrap_or_default().0, 0)?;
        let scopes = match body.scopes {
            None => vec!["openid".to_string(), "email".to_string()],
            Some(List(scopes)) => {
                let mut out: Vec<String> = Vec::new();
                for Scope(s) in scopes {
                    if !out.contains(&s) {
                        out.push(s);
                    }
                }
                if !out.iter().any(|s| s == "openid") {
                    return Err(Invalid::field("scopes", "must include openid"));
                }
                out
            }
        };
        let backchannel_logout_uri = body.backchannel_logout_uri.map(|u| u.0);
        if let Some(uri) = &backchannel_logout_uri
            && !local_targets
            && let Err(problem) = host::public_target(uri)
        {
            return Err(Invalid::field(
                "backchannel_logout_uri",
                format!("{problem} (local targets need ALLOW_LOCAL_TARGETS, for development only)"),
            ));
        }
        Ok(Self {
            name: body.name.0,
            client_type: body.client_type,
            redirect_uris,
            post_logout_redirect_uris,
            scopes,
            backchannel_logout_uri,
            id_token_signed_response_alg: body.id_token_signed_response_alg.unwrap_or(IdTokenAlg::Rs256),
        })
    }
}

/// Tenant `tenant`'s client `id`, or `None` (never registered, deleted, or of an earlier
/// incarnation of the tenant).
pub async fn get(store: &Store<'_>, tenant: &Tenant, id: &ClientId) -> Result<Option<Client>, DynamoError> {
    let client: Option<Client> = store.get(&keys::client(&tenant.id, id), true).await?;
    Ok(client.filter(|c| tenant.holds(c)))
}

/// Registers client `id` of `tenant`, or replaces its registration (its secrets kept; a client
/// made confidential gets its first one, one made public loses them): the client, and the secret
/// when one was made (shown this once, only its hash is stored). `created` when it is new.
pub async fn put(
    store: &Store<'_>,
    random: &dyn Random,
    tenant: &Tenant,
    id: &ClientId,
    spec: ClientSpec,
    now: i64,
) -> Result<(Client, Option<ClientSecret>, bool), TenantError> {
    let now = rfc3339_secs(now);
    optimistically(async || {
        let existing = get(store, tenant, id).await?;
        let mut secret = None;
        let secret_hashes = match (spec.client_type, &existing) {
            (ClientType::Public, _) => Vec::new(),
            (ClientType::Confidential, Some(e)) if !e.secret_hashes.is_empty() => e.secret_hashes.clone(),
            (ClientType::Confidential, _) => {
                let made = ClientSecret::generate(random);
                let hash = made.hash();
                secret = Some(made);
                vec![hash]
            }
        };
        let client = Client {
            tenant: tenant.id.clone(),
            tenant_generation: tenant.generation.clone(),
            client_id: id.clone(),
            name: spec.name.clone(),
            client_type: spec.client_type,
            redirect_uris: spec.redirect_uris.clone(),
            post_logout_redirect_uris: spec.post_logout_redirect_uris.clone(),
            scopes: spec.scopes.clone(),
            backchannel_logout_uri: spec.backchannel_logout_uri.clone(),
            id_token_signed_response_alg: spec.id_token_signed_response_alg,
            secret_hashes,
            version: existing.as_ref().map_or(1, |e| e.version + 1),
            created_at: existing.as_ref().map_or_else(|| now.clone(), |e| e.created_at.clone()),
            updated_at: now.clone(),
        };
        let created = existing.is_none();
        Ok(if store.write_client(&client).await? { Attempt::Done((client, secret, created)) } else { Attempt::Lost })
    })
    .await
}

/// Rotates a confidential client's secret (the new one first, the newest old one still valid:
/// the new secret is returned, shown this once), or ends the overlap of a rotation (only the
/// newest stays). `NotFound` for a client that does not exist or is public.
pub async fn change_secret(
    store: &Store<'_>,
    random: &dyn Random,
    tenant: &Tenant,
    id: &ClientId,
    change: SecretChange,
    now: i64,
) -> Result<(Client, Option<ClientSecret>), TenantError> {
    let now = rfc3339_secs(now);
    optimistically(async || {
        let Some(mut client) = get(store, tenant, id).await? else {
            return Err(TenantError::NotFound("no client with this id"));
        };
        if client.client_type == ClientType::Public {
            return Err(TenantError::NotFound("a public client has no secret"));
        }
        let mut secret = None;
        match change {
            SecretChange::Rotate => {
                let made = ClientSecret::generate(random);
                client.secret_hashes.truncate(1);
                client.secret_hashes.insert(0, made.hash());
                secret = Some(made);
            }
            SecretChange::EndOverlap => client.secret_hashes.truncate(1),
        }
        client.version += 1;
        client.updated_at = now.clone();
        Ok(if store.write_client(&client).await? { Attempt::Done((client, secret)) } else { Attempt::Lost })
    })
    .await
}

/// Deletes client `id` of `tenant`: `false` when there was none.
pub async fn delete(store: &Store<'_>, tenant: &Tenant, id: &ClientId) -> Result<bool, DynamoError> {
    let mut e = Expr::new();
    let cond = tenant.generation_condition(&mut e);
    // A retry after an attempt that may have deleted it finds it gone: that was this delete.
    let gone = |old: Option<&Item>| old.is_none();
    match store.db.delete_item(store.delete(&keys::client(&tenant.id, id), cond, e), Write::Recognise(&gone)).await {
        Ok(_) => Ok(true),
        Err(DynamoError::ConditionalCheckFailed { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A page of `tenant`'s clients, in client-id order (the index is eventually consistent: one
/// registered a moment ago may be missing).
pub async fn list(
    store: &Store<'_>,
    tenant: &Tenant,
    limit: u32,
    start: Option<Item>,
) -> Result<(Vec<Client>, Option<Item>), DynamoError> {
    let (clients, next) = store.page_gsi1::<Client>(&keys::tenant_clients(&tenant.id), limit, start).await?;
    Ok((clients.into_iter().filter(|c| tenant.holds(c)).collect(), next))
}

impl Store<'_> {
    /// Writes `client`: a new one on condition that none of this tenant incarnation exists, a
    /// later version on condition that the stored one is the version before it. `false` when a
    /// concurrent writer got there first (read again).
    async fn write_client(&self, client: &Client) -> Result<bool, DynamoError> {
        let item = self.item("client", client, &keys::client(&client.tenant, &client.client_id))?;
        let mut e = Expr::new();
        let generation = e.equals("tenant_generation", s(&client.tenant_generation));
        let cond = if client.version == 1 {
            // None, or one left by an earlier incarnation of the tenant.
            format!("({}) OR NOT ({generation})", e.not_exists(&self.schema.pk))
        } else {
            let same = e.equals("version", n(client.version - 1));
            format!("{same} AND {generation}")
        };
        let mine = item.clone();
        let recognise = move |old: Option<&Item>| old == Some(&mine);
        match self.db.put_item(self.put(item, cond, e), Write::Recognise(&recognise)).await {
            Ok(_) => Ok(true),
            Err(DynamoError::ConditionalCheckFailed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

crate::domain::tenants::of_tenant!(Client);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirect_uris_match_any_port_and_nothing_else_does() {
        let registered = vec![
            "http://127.0.0.1/cb".to_string(),
            "http://[::1]:8080/cb?x=1".to_string(),
            "https://app.acme.test:8443/cb".to_string(),
        ];
        for ok in ["http://127.0.0.1/cb", "http://127.0.0.1:51004/cb", "http://[::1]/cb?x=1", "http://[::1]:1/cb?x=1"] {
            assert!(redirect_registered(&registered, ok), "{ok}");
        }
        for refused in [
            "http://127.0.0.1:51004/cb/",
            "http://127.0.0.1:51004/other",
            "http://127.0.0.1:99999/cb",
            "http://127.0.0.1:/cb",
            "http://127.0.0.1.evil.test/cb",
            "http://127.0.0.1:80@evil.test/cb",
            "http://localhost:51004/cb",
            "https://127.0.0.1:51004/cb",
            "http://[::1]:8080/cb?x=2",
            "https://app.acme.test:9443/cb",
            "https://app.acme.test/cb",
        ] {
            assert!(!redirect_registered(&registered, refused), "{refused}");
        }
    }
}
