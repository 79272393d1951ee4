//! The admin's tenant body (`PUT /v1/admin/tenants/{id}`, the CLI's `tenant put`) and its rules:
//! each field checked as it is decoded, then [`TenantSpec::from_body`] applies the defaults and
//! the rules that span fields.

use serde::Deserialize;

use super::{
    AUTHJS_COOKIES, AuthjsStore, Branding, DAY, DEFAULT_JWT_TTL_SECS, JwtSettings, LoginCodeSettings, OidcSettings,
    RefreshTokens, SessionSettings,
};
use crate::domain::budgets::Limits;
use crate::values::host::{self, InvalidHost};
use crate::values::input::{Bounded, Flag, Invalid, List, optional_object};

/// The body of `PUT /v1/admin/tenants/{id}` (and of the CLI's `tenant put`). Only `name` is
/// required; [`TenantSpec::from_body`] applies the defaults and the rules that span fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantBody {
    name: Name,
    #[serde(default)]
    allowed_origins: Option<List<WebOrigin>>,
    #[serde(default, deserialize_with = "optional_object")]
    session: Option<SessionBody>,
    #[serde(default, deserialize_with = "optional_object")]
    login_code: Option<LoginCodeBody>,
    #[serde(default)]
    origin: Option<BaseUrl>,
    #[serde(default)]
    protect: Option<Flag>,
    #[serde(default)]
    code_webhook_url: Option<WebhookUrl>,
    #[serde(default, deserialize_with = "optional_object")]
    jwt: Option<JwtBody>,
    #[serde(default, deserialize_with = "optional_object")]
    branding: Option<BrandingBody>,
    #[serde(default, deserialize_with = "optional_object")]
    oidc: Option<OidcBody>,
    #[serde(default, deserialize_with = "optional_object")]
    authjs: Option<AuthjsBody>,
}

/// `authjs`: the Auth.js table the tenant's sessions live in; only `table` is required, the
/// rest defaults to the adapter's own defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthjsBody {
    table: TableName,
    #[serde(default)]
    partition_key: Option<AttributeName>,
    #[serde(default)]
    sort_key: Option<AttributeName>,
    #[serde(default)]
    index_name: Option<TableName>,
    #[serde(default)]
    index_partition_key: Option<AttributeName>,
    #[serde(default)]
    index_sort_key: Option<AttributeName>,
    #[serde(default)]
    cookies: Option<List<CookieName>>,
    #[serde(default)]
    read_users: Option<Flag>,
    #[serde(default)]
    logout: Option<Flag>,
    #[serde(default)]
    base_path: Option<BasePath>,
}

/// A DynamoDB table or index name: 3-255 characters of `A-Z a-z 0-9 _ - .`.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct TableName(String);

impl TryFrom<String> for TableName {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, &'static str> {
        if (3..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)) {
            Ok(Self(raw))
        } else {
            Err("must be a DynamoDB name: 3-255 characters of A-Z a-z 0-9 _ - .")
        }
    }
}

/// A key attribute's name: 1-255 visible ASCII characters.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct AttributeName(String);

impl TryFrom<String> for AttributeName {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, &'static str> {
        if (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(raw))
        } else {
            Err("must be an attribute name: 1-255 visible ASCII characters")
        }
    }
}

/// A cookie name (an RFC 6265 token): 1-100 characters, no separators.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct CookieName(String);

impl TryFrom<String> for CookieName {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, &'static str> {
        let token = |b: u8| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b);
        if (1..=100).contains(&raw.len()) && raw.bytes().all(token) {
            Ok(Self(raw))
        } else {
            Err("must be a cookie name: 1-100 visible ASCII characters without ( ) < > @ , ; : \\ \" / [ ] ? = { }")
        }
    }
}

/// A path prefix such as `/api/auth`: `/` then 1-100 characters of `A-Z a-z 0-9 - _ . ~ /`, no
/// trailing `/` (it is cut).
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct BasePath(String);

impl TryFrom<String> for BasePath {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, &'static str> {
        let path = raw.trim_end_matches('/');
        let fine = path.starts_with('/')
            && (2..=101).contains(&path.len())
            && path.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~/".contains(&b))
            && !path.contains("//");
        if fine { Ok(Self(path.to_string())) } else { Err("must be a path such as /api/auth (A-Z a-z 0-9 - _ . ~ /)") }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BrandingBody {
    #[serde(default)]
    logo_url: Option<WebhookUrl>,
    #[serde(default)]
    accent_color: Option<AccentColor>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OidcBody {
    #[serde(default)]
    refresh_tokens: Option<RefreshTokens>,
}

/// A colour as `#rrggbb` (stored lowercase): nothing else reaches the page's style sheet.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct AccentColor(String);

impl TryFrom<String> for AccentColor {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, &'static str> {
        let hex = raw.strip_prefix('#').filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        match hex {
            Some(h) => Ok(Self(format!("#{}", h.to_ascii_lowercase()))),
            None => Err("must be a colour as #rrggbb"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JwtBody {
    #[serde(default)]
    ttl_secs: Option<Bounded<60, 3600>>,
    #[serde(default)]
    audience: Option<Audience>,
}

/// A JWT audience: 1-200 visible ASCII characters.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct Audience(String);

impl TryFrom<String> for Audience {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, &'static str> {
        if (1..=200).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(raw))
        } else {
            Err("must be 1-200 visible ASCII characters (no spaces)")
        }
    }
}

type Lifetime = Bounded<300, { 400 * DAY }>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionBody {
    #[serde(default)]
    lifetime_secs: Option<Lifetime>,
    #[serde(default)]
    idle_lifetime_secs: Option<Lifetime>,
    #[serde(default)]
    cache_secs: Option<Bounded<0, 300>>,
    #[serde(default)]
    strict_revocation: Option<Flag>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginCodeBody {
    #[serde(default)]
    length: Option<Bounded<6, 10>>,
    #[serde(default)]
    ttl_secs: Option<Bounded<60, 3600>>,
    #[serde(default)]
    max_attempts: Option<Bounded<1, 20>>,
}

/// A tenant's (or a client's) display name: 1-100 characters without control characters, trimmed.
pub(super) type Name = crate::values::input::Text<100>;

/// Defines a string body field checked (and normalized) by one of the `host` functions.
macro_rules! url_field {
    ($name:ident, $check:path) => {
        #[derive(Debug, Deserialize)]
        #[serde(try_from = "String")]
        pub(super) struct $name(pub(super) String);

        impl TryFrom<String> for $name {
            type Error = InvalidHost;
            fn try_from(raw: String) -> Result<Self, InvalidHost> {
                $check(&raw).map(Self)
            }
        }
    };
}

url_field!(WebOrigin, host::web_origin);
url_field!(BaseUrl, host::base_url);
url_field!(WebhookUrl, host::webhook_url);
url_field!(RedirectUri, host::redirect_uri);

/// What an admin sets on a tenant (everything but the id and the timestamps), checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSpec {
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub session: SessionSettings,
    pub login_code: LoginCodeSettings,
    pub origin: Option<String>,
    pub protect: bool,
    pub code_webhook_url: Option<String>,
    pub jwt: JwtSettings,
    pub branding: Branding,
    pub oidc: OidcSettings,
    pub authjs: Option<AuthjsStore>,
}

impl TenantSpec {
    /// The spec of a decoded body: defaults applied, origins deduplicated, and the rules that
    /// span fields (at most 50 origins; the idle lifetime no longer than the lifetime). Unless
    /// `local_targets` (local development: `ALLOW_LOCAL_TARGETS`), `origin` and
    /// `code_webhook_url` must be https:// to a public host ([`host::public_target`]). The
    /// login-code settings must keep within the guessing budget under `limits`.
    pub fn from_body(body: TenantBody, local_targets: bool, limits: &Limits) -> Result<Self, Invalid> {
        if !local_targets {
            let targets = [
                ("origin", body.origin.as_ref().map(|u| u.0.as_str())),
                ("code_webhook_url", body.code_webhook_url.as_ref().map(|u| u.0.as_str())),
                ("branding.logo_url", body.branding.as_ref().and_then(|b| b.logo_url.as_ref()).map(|u| u.0.as_str())),
            ];
            for (field, url) in targets {
                if let Some(url) = url
                    && let Err(problem) = host::public_target(url)
                {
                    return Err(Invalid::field(
                        field,
                        format!("{problem} (local targets need ALLOW_LOCAL_TARGETS, for development only)"),
                    ));
                }
            }
        }
        let mut allowed_origins: Vec<String> = Vec::new();
        for WebOrigin(origin) in body.allowed_origins.unwrap_or_default().0 {
            if !allowed_origins.contains(&origin) {
                allowed_origins.push(origin);
            }
        }
        if allowed_origins.len() > 50 {
            return Err(Invalid::field("allowed_origins", "may list at most 50 origins"));
        }
        let session = match body.session {
            None => SessionSettings {
                lifetime_secs: 30 * DAY,
                idle_lifetime_secs: 7 * DAY,
                cache_secs: 0,
                strict_revocation: false,
            },
            Some(s) => {
                let lifetime_secs = s.lifetime_secs.map_or(30 * DAY, |b| b.0);
                let idle_lifetime_secs = s.idle_lifetime_secs.map_or((7 * DAY).min(lifetime_secs), |b| b.0);
                if idle_lifetime_secs > lifetime_secs {
                    return Err(Invalid::field(
                        "session.idle_lifetime_secs",
                        "must not be longer than session.lifetime_secs",
                    ));
                }
                SessionSettings {
                    lifetime_secs,
                    idle_lifetime_secs,
                    cache_secs: s.cache_secs.map_or(0, |b| b.0),
                    strict_revocation: s.strict_revocation.is_some_and(|f| f.0),
                }
            }
        };
        let code = body.login_code;
        let login_code = LoginCodeSettings {
            length: code.as_ref().and_then(|c| c.length).map_or(6, |b| u8::try_from(b.0).unwrap_or(6)),
            ttl_secs: code.as_ref().and_then(|c| c.ttl_secs).map_or(600, |b| b.0),
            max_attempts: code.as_ref().and_then(|c| c.max_attempts).map_or(5, |b| u32::try_from(b.0).unwrap_or(5)),
        };
        // The guessing budget: one email's code may not be guessable within a day with a chance
        // above 1 in 10,000, given the deployment's budgets.
        limits
            .check_guessing(login_code.length, login_code.max_attempts)
            .map_err(|e| Invalid::field("login_code", e))?;
        Ok(Self {
            name: body.name.0,
            allowed_origins,
            session,
            login_code,
            origin: body.origin.map(|o| o.0),
            protect: body.protect.is_some_and(|f| f.0),
            code_webhook_url: body.code_webhook_url.map(|u| u.0),
            jwt: JwtSettings {
                ttl_secs: body.jwt.as_ref().and_then(|j| j.ttl_secs).map_or(DEFAULT_JWT_TTL_SECS, |b| b.0),
                audience: body.jwt.and_then(|j| j.audience).map(|a| a.0),
            },
            branding: Branding {
                logo_url: body.branding.as_ref().and_then(|b| b.logo_url.as_ref()).map(|u| u.0.clone()),
                accent_color: body.branding.and_then(|b| b.accent_color).map(|c| c.0),
            },
            oidc: OidcSettings { refresh_tokens: body.oidc.and_then(|o| o.refresh_tokens).unwrap_or_default() },
            authjs: body.authjs.map(authjs_store).transpose()?,
        })
    }
}

/// The Auth.js store of an `authjs` body, the adapter's defaults filled in.
fn authjs_store(body: AuthjsBody) -> Result<AuthjsStore, Invalid> {
    let name = |n: Option<AttributeName>, default: &str| n.map_or_else(|| default.to_string(), |n| n.0);
    let mut cookies: Vec<String> = Vec::new();
    for CookieName(c) in body.cookies.map(|l| l.0).unwrap_or_default() {
        if !cookies.contains(&c) {
            cookies.push(c);
        }
    }
    if cookies.is_empty() {
        cookies = AUTHJS_COOKIES.map(str::to_string).to_vec();
    }
    if cookies.len() > 8 {
        return Err(Invalid::field("authjs.cookies", "may list at most 8 cookie names"));
    }
    Ok(AuthjsStore {
        table: body.table.0,
        partition_key: name(body.partition_key, "pk"),
        sort_key: name(body.sort_key, "sk"),
        index_name: body.index_name.map_or_else(|| "GSI1".to_string(), |n| n.0),
        index_partition_key: name(body.index_partition_key, "GSI1PK"),
        index_sort_key: name(body.index_sort_key, "GSI1SK"),
        cookies,
        read_users: body.read_users.is_some_and(|f| f.0),
        logout: body.logout.is_some_and(|f| f.0),
        base_path: body.base_path.map_or_else(|| "/api/auth".to_string(), |p| p.0),
    })
}
