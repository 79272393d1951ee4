//! What the API answers with: one `#[derive(Serialize)]` view per answer, borrowed from the
//! records (internal fields such as a tenant's generation never appear). Times are RFC 3339 UTC.

use serde::{Serialize, Serializer};

use crate::domain::sessions::{Device, Session};
use crate::domain::tenants::{DomainEntry, DomainStatus, LoginCodeSettings, SessionSettings, Tenant};
use crate::domain::users::User;
use crate::platform::runtime::rfc3339_secs;
use crate::table::schema::TableReport;
use crate::values::email::Email;
use crate::values::ids::{LoginId, SessionId, TenantId, UserId};

/// Epoch seconds, written as RFC 3339.
#[derive(Debug, Clone, Copy)]
pub struct Time(pub i64);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&rfc3339_secs(self.0))
    }
}

#[derive(Debug, Serialize)]
pub struct Status {
    pub status: &'static str,
}

#[derive(Debug, Serialize)]
pub struct AdminHealth<'a> {
    pub status: &'static str,
    pub table: &'a TableReport,
    /// With replica regions: each region's table, home first.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub regions: &'a [RegionHealth],
}

/// One region's table in `GET /v1/admin/health`: its report, or why it could not be read.
#[derive(Debug, Serialize)]
pub struct RegionHealth {
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<TableReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /v1/tenant`: who serves this host.
#[derive(Debug, Serialize)]
pub struct TenantName<'a> {
    pub id: &'a TenantId,
    pub name: &'a str,
}

/// A session as its owner sees it.
#[derive(Debug, Serialize)]
pub struct SessionView<'a> {
    pub id: &'a SessionId,
    pub user_id: &'a UserId,
    pub email: Option<&'a Email>,
    /// Absent for an Auth.js session: its item does not say when it began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Time>,
    pub expires_at: Time,
    pub idle_expires_at: Time,
}

impl<'a> From<&'a Session> for SessionView<'a> {
    fn from(s: &'a Session) -> Self {
        Self {
            id: &s.id,
            user_id: &s.user_id,
            email: s.email.as_ref(),
            created_at: (s.created_at != 0).then_some(Time(s.created_at)),
            expires_at: Time(s.expires_at),
            idle_expires_at: Time(s.idle_expires_at),
        }
    }
}

/// A session as the admin listing shows it.
#[derive(Debug, Serialize)]
pub struct AdminSessionView<'a> {
    pub id: &'a SessionId,
    pub user_id: &'a UserId,
    pub email: Option<&'a Email>,
    pub created_at: Time,
    pub expires_at: Time,
    pub idle_expires_at: Time,
    pub last_seen_at: Time,
    pub device: &'a Device,
}

impl<'a> From<&'a Session> for AdminSessionView<'a> {
    fn from(s: &'a Session) -> Self {
        Self {
            id: &s.id,
            user_id: &s.user_id,
            email: s.email.as_ref(),
            created_at: Time(s.created_at),
            expires_at: Time(s.expires_at),
            idle_expires_at: Time(s.idle_expires_at),
            last_seen_at: Time(s.last_seen_at),
            device: &s.device,
        }
    }
}

/// The user part of a session answer.
#[derive(Debug, Serialize)]
pub struct SessionUser<'a> {
    pub id: &'a UserId,
    pub email: Option<&'a Email>,
}

/// `GET /v1/session`.
#[derive(Debug, Serialize)]
pub struct LookedUp<'a> {
    pub session: SessionView<'a>,
    pub user: SessionUser<'a>,
}

impl<'a> From<&'a Session> for LookedUp<'a> {
    fn from(s: &'a Session) -> Self {
        Self { session: s.into(), user: SessionUser { id: &s.user_id, email: s.email.as_ref() } }
    }
}

/// `POST /v1/session/token`.
#[derive(Debug, Serialize)]
pub struct SessionJwt<'a> {
    pub token: &'a str,
    pub token_type: &'static str,
    pub expires_at: Time,
    pub expires_in: i64,
}

/// `GET /.well-known/openid-configuration`.
#[derive(Debug, Serialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    /// Only where RP-initiated logout ends the session (not on an Auth.js tenant whose
    /// `authjs.logout` is off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    pub jwks_uri: String,
    pub response_types_supported: [&'static str; 1],
    pub response_modes_supported: [&'static str; 1],
    pub grant_types_supported: [&'static str; 2],
    pub code_challenge_methods_supported: [&'static str; 1],
    pub token_endpoint_auth_methods_supported: [&'static str; 3],
    pub revocation_endpoint_auth_methods_supported: [&'static str; 3],
    pub introspection_endpoint_auth_methods_supported: [&'static str; 2],
    pub id_token_signing_alg_values_supported: [&'static str; 3],
    pub subject_types_supported: [&'static str; 1],
    pub scopes_supported: [&'static str; 4],
    pub claims_supported: [&'static str; 17],
    pub prompt_values_supported: [&'static str; 4],
    pub authorization_response_iss_parameter_supported: bool,
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
    pub claims_parameter_supported: bool,
    pub backchannel_logout_supported: bool,
    pub backchannel_logout_session_supported: bool,
}

/// `POST /v1/oauth/introspect` (RFC 7662 §2.2): `{"active": false}` alone for any token that is
/// not live (or not one this client may see).
#[derive(Debug, Default, Serialize)]
pub struct Introspection<'a> {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<&'a crate::values::ids::ClientId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<&'a crate::values::ids::UserId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<&'a crate::values::ids::SessionId>,
}

/// `POST /v1/oauth/token` (RFC 6749 §5.1, OpenID Connect Core 3.1.3.3).
#[derive(Debug, Serialize)]
pub struct TokenResponse<'a> {
    pub access_token: &'a str,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub id_token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<&'a str>,
    pub scope: String,
}

/// `GET /v1/oauth/userinfo` (OpenID Connect Core 5.3.2).
#[derive(Debug, Serialize)]
pub struct UserInfo<'a> {
    pub sub: &'a crate::values::ids::UserId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a crate::values::email::Email>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// With the `profile` scope: the fields that are known, and `updated_at`.
    #[serde(flatten)]
    pub profile: Option<&'a crate::domain::users::Profile>,
}

/// `POST /v1/login/verify`.
#[derive(Debug, Serialize)]
pub struct LoggedIn<'a> {
    pub session: SessionView<'a>,
    pub user: SessionUser<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<&'a str>,
}

/// `POST /v1/admin/tenants/{id}/sessions`.
#[derive(Debug, Serialize)]
pub struct Minted<'a> {
    pub token: &'a str,
    pub session: SessionView<'a>,
}

/// `POST /v1/login/start`: the code only in `DEV_MODE`, the binding only when the client asked
/// for it in the body.
#[derive(Debug, Serialize)]
pub struct LoginStarted<'a> {
    pub login_id: &'a LoginId,
    pub expires_at: Time,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding: Option<&'a str>,
}

/// `POST /v1/admin/tenants/{id}/codes`.
#[derive(Debug, Serialize)]
pub struct CodeIssued<'a> {
    pub login_id: &'a LoginId,
    pub code: &'a str,
    pub expires_at: Time,
    pub binding: &'a str,
}

#[derive(Debug, Serialize)]
pub struct UserView<'a> {
    pub id: &'a UserId,
    pub email: &'a Email,
    pub created_at: Time,
    pub last_login_at: Option<Time>,
    pub login_count: u64,
    /// The profile fields that are known (none: `{}`), `updated_at` as RFC 3339.
    pub profile: ProfileView<'a>,
}

/// A user's profile as the admin API shows it: only the fields that are known.
#[derive(Debug, Serialize)]
pub struct ProfileView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Time>,
}

impl<'a> From<&'a User> for UserView<'a> {
    fn from(u: &'a User) -> Self {
        let p = &u.profile;
        Self {
            id: &u.id,
            email: &u.email,
            created_at: Time(u.created_at),
            last_login_at: u.last_login_at.map(Time),
            login_count: u.login_count,
            profile: ProfileView {
                name: p.name.as_deref(),
                given_name: p.given_name.as_deref(),
                family_name: p.family_name.as_deref(),
                picture: p.picture.as_deref(),
                locale: p.locale.as_deref(),
                updated_at: p.updated_at.map(Time),
            },
        }
    }
}

/// A tenant as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct TenantView<'a> {
    pub id: &'a TenantId,
    pub name: &'a str,
    pub allowed_origins: &'a [String],
    pub session: SessionSettings,
    pub login_code: LoginCodeSettings,
    pub origin: Option<&'a str>,
    pub protect: bool,
    pub code_webhook_url: Option<&'a str>,
    pub jwt: JwtView<'a>,
    #[cfg(cold)]
    pub branding: &'a crate::domain::tenants::Branding,
    #[cfg(cold)]
    pub oidc: crate::domain::tenants::OidcSettings,
    #[cfg(cold)]
    pub authjs: Option<&'a crate::domain::tenants::AuthjsStore>,
    /// How many origin and webhook secrets and JWT keys are valid (2 while a rotation overlaps).
    pub secrets_valid: SecretsValid,
    pub created_at: &'a str,
    pub updated_at: &'a str,
}

#[derive(Debug, Serialize)]
pub struct SecretsValid {
    pub origin: usize,
    pub webhook: usize,
    pub jwt: usize,
}

/// A tenant's JWT settings, the audience as it applies (the tenant id when unset).
#[derive(Debug, Serialize)]
pub struct JwtView<'a> {
    pub ttl_secs: u64,
    pub audience: &'a str,
}

/// A tenant just created: the view and its secrets, shown this once.
#[derive(Debug, Serialize)]
pub struct TenantCreated<'a> {
    #[serde(flatten)]
    pub tenant: TenantView<'a>,
    pub secrets: ShownSecrets<'a>,
}

#[derive(Debug, Serialize)]
pub struct ShownSecrets<'a> {
    pub origin: &'a str,
    pub webhook: &'a str,
}

/// A secret rotated (or its overlap ended): the newest secret, and how many are valid.
#[derive(Debug, Serialize)]
pub struct SecretRotated<'a> {
    pub kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<&'a str>,
    /// The JWT key's: the `kid` of the key that signs now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    pub valid: usize,
}

impl<'a> From<&'a Tenant> for TenantView<'a> {
    fn from(t: &'a Tenant) -> Self {
        Self {
            id: &t.id,
            name: &t.name,
            allowed_origins: &t.allowed_origins,
            session: t.session,
            login_code: t.login_code,
            origin: t.origin.as_deref(),
            protect: t.protect,
            code_webhook_url: t.code_webhook_url.as_deref(),
            jwt: JwtView { ttl_secs: t.jwt.ttl_secs, audience: t.jwt_audience() },
            #[cfg(cold)]
            branding: &t.branding,
            #[cfg(cold)]
            oidc: t.oidc,
            #[cfg(cold)]
            authjs: t.authjs.as_ref(),
            secrets_valid: SecretsValid {
                origin: t.secrets.origin.len().max(1),
                webhook: t.secrets.webhook.len().max(1),
                jwt: t.secrets.jwt.len().max(1),
            },
            created_at: &t.created_at,
            updated_at: &t.updated_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DomainView<'a> {
    pub host: &'a str,
    pub tenant: &'a TenantId,
    pub status: DomainStatus,
    pub created_at: &'a str,
    pub updated_at: &'a str,
}

impl<'a> From<&'a DomainEntry> for DomainView<'a> {
    fn from(d: &'a DomainEntry) -> Self {
        Self {
            host: &d.host,
            tenant: &d.tenant,
            status: d.status,
            created_at: &d.created_at,
            updated_at: &d.updated_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Tenants<'a> {
    pub tenants: Vec<TenantView<'a>>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Domains<'a> {
    pub domains: Vec<DomainView<'a>>,
}

#[derive(Debug, Serialize)]
pub struct Sessions<'a> {
    pub sessions: Vec<AdminSessionView<'a>>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Users<'a> {
    pub users: Vec<UserView<'a>>,
}

#[derive(Debug, Serialize)]
pub struct RevokedCount {
    pub revoked: u32,
}

/// An OpenID Connect client as the admin API shows it (its secrets never: how many are valid).
#[derive(Debug, Serialize)]
pub struct ClientView<'a> {
    pub client_id: &'a crate::values::ids::ClientId,
    pub name: &'a str,
    #[serde(rename = "type")]
    pub client_type: crate::domain::tenants::clients::ClientType,
    pub redirect_uris: &'a [String],
    pub post_logout_redirect_uris: &'a [String],
    pub scopes: &'a [String],
    pub backchannel_logout_uri: Option<&'a str>,
    pub id_token_signed_response_alg: crate::domain::tenants::clients::IdTokenAlg,
    pub secrets_valid: usize,
    pub created_at: &'a str,
    pub updated_at: &'a str,
}

impl<'a> From<&'a crate::domain::tenants::clients::Client> for ClientView<'a> {
    fn from(c: &'a crate::domain::tenants::clients::Client) -> Self {
        Self {
            client_id: &c.client_id,
            name: &c.name,
            client_type: c.client_type,
            redirect_uris: &c.redirect_uris,
            post_logout_redirect_uris: &c.post_logout_redirect_uris,
            scopes: &c.scopes,
            backchannel_logout_uri: c.backchannel_logout_uri.as_deref(),
            id_token_signed_response_alg: c.id_token_signed_response_alg,
            secrets_valid: c.secret_hashes.len(),
            created_at: &c.created_at,
            updated_at: &c.updated_at,
        }
    }
}

/// A client registered (or made confidential): the client, and its secret this once.
#[derive(Debug, Serialize)]
pub struct ClientSaved<'a> {
    #[serde(flatten)]
    pub client: ClientView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct Clients<'a> {
    pub clients: Vec<ClientView<'a>>,
    pub next_cursor: Option<String>,
}

/// A client's secret rotated (the new one, shown this once) or its overlap ended.
#[derive(Debug, Serialize)]
pub struct ClientSecretChanged<'a> {
    pub client_id: &'a crate::values::ids::ClientId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<&'a str>,
    pub valid: usize,
}
