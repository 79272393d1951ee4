//! What an OpenID Provider's tokens say, and their signatures: the ID token (OpenID Connect Core
//! 2, with `at_hash`, `sid`, `auth_time`, `nonce`) and the access token, a JWT per RFC 9068
//! (`typ: at+jwt`, `client_id`, `scope`, `jti`), both signed with the tenant's newest key of the
//! client's algorithm (RS256, ES256 or EdDSA); and the check of an access token presented back.

use serde::{Deserialize, Serialize};

use super::{Grant, Granted};
use crate::domain::jwt::Key;
use crate::domain::tenants::Tenant;
use crate::domain::users::Profile;
use crate::platform::crypto::{b64url, b64url_decode};
use crate::platform::signature::{Crypto, CryptoError};
use crate::values::email::Email;
use crate::values::ids::{ClientId, SessionId, UserId};

/// `typ` of an access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The audience of `issuer`'s access tokens (RFC 9068 §3: the resource they are for): its
/// userinfo endpoint, and any API of the tenant that accepts them by this name. Never the
/// tenant's session audience, so neither token passes for the other.
pub fn access_audience(issuer: &str) -> String {
    format!("{issuer}/v1/oauth/userinfo")
}

/// An access token's claims (RFC 9068 §2.2), and `gid`, the grant it stands on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: UserId,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: ClientId,
    pub scope: String,
    pub sid: SessionId,
    pub auth_time: i64,
    pub gid: String,
}

#[derive(Debug, Serialize)]
struct IdClaims<'a> {
    iss: &'a str,
    sub: &'a UserId,
    aud: &'a ClientId,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    sid: &'a SessionId,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a Email>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
    at_hash: String,
    /// With the `profile` scope: the fields that are known, and `updated_at`.
    #[serde(flatten)]
    profile: Option<&'a Profile>,
}

/// The tokens of a token response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    pub id_token: String,
    pub expires_in: i64,
}

/// The access and ID tokens of `granted`, issued at `now` by `issuer`: they live the tenant's
/// `jwt.ttl_secs`, never past the grant's end. `jti` is 16 random bytes; `profile` the user's,
/// when the grant has the `profile` scope.
#[allow(clippy::too_many_arguments)] // what the tokens say (5), and the key and service that sign them
pub async fn issue(
    crypto: &dyn Crypto,
    key: &Key,
    tenant: &Tenant,
    granted: &Granted,
    issuer: &str,
    profile: Option<&Profile>,
    now: i64,
    jti: [u8; 16],
) -> Result<Tokens, CryptoError> {
    let grant = &granted.grant;
    let ttl = i64::try_from(tenant.jwt.ttl_secs).unwrap_or(0);
    let exp = (now + ttl).min(grant.expires_at);
    let access = AccessClaims {
        iss: issuer.to_string(),
        sub: grant.user_id.clone(),
        aud: access_audience(issuer),
        exp,
        iat: now,
        jti: b64url(&jti),
        client_id: grant.client_id.clone(),
        scope: grant.scope(),
        sid: grant.session_id.clone(),
        auth_time: grant.auth_time,
        gid: grant.grant_id.clone(),
    };
    let access_token = key.jws(crypto, ACCESS_TOKEN_TYP, &access).await?;
    let email = grant.email.as_ref().filter(|_| grant.has_scope("email"));
    let id = IdClaims {
        iss: issuer,
        sub: &grant.user_id,
        aud: &grant.client_id,
        exp,
        iat: now,
        auth_time: grant.auth_time,
        nonce: granted.nonce.as_deref(),
        sid: &grant.session_id,
        email,
        // The address is the one a login code was sent to and typed back from.
        email_verified: email.map(|_| true),
        at_hash: key.half_hash(&access_token),
        profile: profile.filter(|_| grant.has_scope("profile")),
    };
    let id_token = key.jws(crypto, "JWT", &id).await?;
    Ok(Tokens { access_token, id_token, expires_in: exp - now })
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    kid: Option<String>,
}

/// The parts of a compact JWS: header, claims, the signed input and the signature; `None` when
/// it is not one.
pub fn parts(token: &str) -> Option<(serde_json::Value, Vec<u8>, &str, Vec<u8>)> {
    let mut it = token.split('.');
    let (h, c, s) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || token.len() > 8_192 {
        return None;
    }
    let header = serde_json::from_slice(&b64url_decode(h)?).ok()?;
    let claims = b64url_decode(c)?;
    let signed = token.get(..h.len() + 1 + c.len())?;
    Some((header, claims, signed, b64url_decode(s)?))
}

/// The key id and algorithm a JWS names (`None` when it is no JWS of ours).
pub fn named_key(token: &str) -> Option<(String, String)> {
    let (header, ..) = parts(token)?;
    let header: Header = serde_json::from_value(header).ok()?;
    Some((header.kid?, header.alg))
}

/// The claims of access token `token`, when `key` signed it, it is an access token of
/// `issuer` and it has not expired at `now`. Whether its grant still stands is the caller's to
/// check. A signature that is not `key`'s is `None`; an `Err` is the crypto service failing (a
/// fault of the deployment, not of the token).
pub async fn verify_access(
    crypto: &dyn Crypto,
    key: &Key,
    token: &str,
    issuer: &str,
    now: i64,
) -> Result<Option<AccessClaims>, CryptoError> {
    let Some((header, claims, signed, signature)) = parts(token) else { return Ok(None) };
    let Ok(header) = serde_json::from_value::<Header>(header) else { return Ok(None) };
    if header.alg != key.alg().name()
        || header.typ.as_deref() != Some(ACCESS_TOKEN_TYP)
        || header.kid.as_deref() != Some(key.kid())
        || !key.verify(crypto, signed.as_bytes(), &signature).await?
    {
        return Ok(None);
    }
    let Ok(claims) = serde_json::from_slice::<AccessClaims>(&claims) else { return Ok(None) };
    Ok((claims.iss == issuer && claims.aud == access_audience(issuer) && now < claims.exp).then_some(claims))
}

/// The event of a back-channel logout token (OpenID Connect Back-Channel Logout 1.0 §2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

#[derive(Debug, Serialize)]
struct LogoutClaims<'a> {
    iss: &'a str,
    aud: &'a ClientId,
    iat: i64,
    exp: i64,
    jti: String,
    sub: &'a UserId,
    sid: &'a SessionId,
    events: serde_json::Value,
}

/// How long a logout token is accepted (its `exp`, two minutes after `iat`).
pub const LOGOUT_TOKEN_TTL_SECS: i64 = 120;

/// The logout token telling `grant`'s client that its session ended (typ `logout+jwt`, `sub`,
/// `sid`, the event, no `nonce`), signed with the key of the client's algorithm.
pub async fn logout_token(
    crypto: &dyn Crypto,
    key: &Key,
    grant: &Grant,
    now: i64,
    jti: [u8; 16],
) -> Result<String, CryptoError> {
    let claims = LogoutClaims {
        iss: &grant.issuer,
        aud: &grant.client_id,
        iat: now,
        exp: now + LOGOUT_TOKEN_TTL_SECS,
        jti: b64url(&jti),
        sub: &grant.user_id,
        sid: &grant.session_id,
        events: serde_json::json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
    };
    key.jws(crypto, "logout+jwt", &claims).await
}

/// What an `id_token_hint` says of its sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IdHint {
    pub iss: String,
    pub aud: ClientId,
    pub sub: UserId,
    #[serde(default)]
    pub sid: Option<SessionId>,
}

/// The claims of ID token `token` when `key` signed it as an ID token of `issuer`; its expiry
/// is not checked (RP-Initiated Logout 1.0 §2: an expired ID token is a good hint). `Err` as
/// for [`verify_access`].
pub async fn verify_id_token(
    crypto: &dyn Crypto,
    key: &Key,
    token: &str,
    issuer: &str,
) -> Result<Option<IdHint>, CryptoError> {
    let Some((header, claims, signed, signature)) = parts(token) else { return Ok(None) };
    let Ok(header) = serde_json::from_value::<Header>(header) else { return Ok(None) };
    if header.alg != key.alg().name()
        || header.typ.as_deref().is_some_and(|t| t != "JWT")
        || header.kid.as_deref() != Some(key.kid())
        || !key.verify(crypto, signed.as_bytes(), &signature).await?
    {
        return Ok(None);
    }
    let Ok(claims) = serde_json::from_slice::<IdHint>(&claims) else { return Ok(None) };
    Ok((claims.iss == issuer).then_some(claims))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::native::block_on;
    use crate::platform::native_crypto::NativeCrypto;

    const ISSUER: &str = "https://auth.acme.test";

    fn claims(iss: &str, aud: &str) -> AccessClaims {
        AccessClaims {
            iss: iss.into(),
            sub: UserId::parse("u-1").unwrap_or_else(|_| unreachable!("a valid literal id")),
            aud: aud.into(),
            exp: 1_000,
            iat: 100,
            jti: "j".into(),
            client_id: ClientId::parse("web").unwrap_or_else(|_| unreachable!("a valid literal id")),
            scope: "openid".into(),
            sid: SessionId::of_token("t"),
            auth_time: 100,
            gid: "g".into(),
        }
    }

    #[test]
    fn an_access_token_verifies_only_at_its_issuer_for_its_audience_as_its_type_until_it_expires() {
        let tenant = crate::domain::tenants::Tenant::example();
        let key = block_on(Key::derive(&NativeCrypto, b"master", &tenant.id, "g1", "1")).expect("a key");
        let sign = |typ, claims: &AccessClaims| block_on(key.jws(&NativeCrypto, typ, claims)).expect("signed");
        let verify_access = |token: &str, issuer, now| {
            block_on(verify_access(&NativeCrypto, &key, token, issuer, now)).expect("the crypto service")
        };
        let good = sign(ACCESS_TOKEN_TYP, &claims(ISSUER, &access_audience(ISSUER)));
        assert_eq!(verify_access(&good, ISSUER, 999).map(|c| c.iss), Some(ISSUER.to_string()));
        assert!(verify_access(&good, ISSUER, 1_000).is_none(), "expired");
        // Issued on one host of the tenant, presented on another: the audience names the other
        // host's endpoint, and only the issuer comparison refuses it.
        let elsewhere = "https://login.acme.test";
        let crafted = sign(ACCESS_TOKEN_TYP, &claims(ISSUER, &access_audience(elsewhere)));
        assert!(verify_access(&crafted, elsewhere, 999).is_none(), "another issuer");
        assert!(verify_access(&good, elsewhere, 999).is_none(), "another host");
        // A session JWT's audience, or its type, is no access token's.
        let session_aud = sign(ACCESS_TOKEN_TYP, &claims(ISSUER, tenant.jwt_audience()));
        assert!(verify_access(&session_aud, ISSUER, 999).is_none(), "the session audience");
        for typ in ["JWT", crate::domain::jwt::SESSION_TYP] {
            let typed = sign(typ, &claims(ISSUER, &access_audience(ISSUER)));
            assert!(verify_access(&typed, ISSUER, 999).is_none(), "{typ}");
        }
    }

    #[test]
    fn a_token_is_checked_only_with_a_key_of_the_algorithm_its_header_names() {
        let tenant = crate::domain::tenants::Tenant::example();
        let key = block_on(Key::derive(&NativeCrypto, b"master", &tenant.id, "g1", "1")).expect("a key");
        // Signed by the Ed25519 key itself, but its header names another algorithm (or none):
        // the signature is good, and still the token is refused.
        let claims = serde_json::to_vec(&claims(ISSUER, &access_audience(ISSUER))).unwrap_or_default();
        let forge = |alg: &str| {
            let header = serde_json::json!({"alg": alg, "typ": ACCESS_TOKEN_TYP, "kid": key.kid()});
            let signed = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(&claims));
            let signature = block_on(key.sign(&NativeCrypto, signed.as_bytes())).expect("signed");
            format!("{signed}.{}", b64url(&signature))
        };
        let verify = |token: &str| block_on(verify_access(&NativeCrypto, &key, token, ISSUER, 999)).expect("checked");
        assert!(verify(&forge("EdDSA")).is_some(), "the control: its own algorithm");
        for alg in ["RS256", "ES256", "HS256", "none", "eddsa"] {
            assert!(verify(&forge(alg)).is_none(), "{alg}");
        }
    }
}
