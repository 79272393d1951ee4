//! Short-lived JWTs for backends: `POST /v1/session/token` turns a live session into an
//! EdDSA (Ed25519) JWT that a backend verifies offline against the tenant's JWKS
//! (`GET /.well-known/jwks.json` on the tenant's host).
//!
//! No private key is stored anywhere: a tenant's key of version `v` is derived when it is needed,
//! as HKDF-SHA256(`JWT_MASTER_KEY`; tenant id, generation, `v`) -> an Ed25519 seed. Deleting or
//! re-creating the tenant changes its generation, so its old tokens stop verifying. Rotation
//! adds a version (`POST /v1/admin/tenants/{id}/secrets/jwt`): the newest key signs, and the JWKS
//! publishes it and the one before until the overlap is ended. Each key's `kid` is its RFC 7638
//! JWK thumbprint.

use ed25519_dalek::{Signer, SigningKey};
use hkdf::Hkdf;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::sessions::Session;
use crate::domain::tenants::Tenant;
use crate::platform::crypto::{b64url, hash_b64};
use crate::values::email::Email;
use crate::values::ids::{SessionId, TenantId, UserId};

/// `JWT_MASTER_KEY`, and the fingerprint that names the keys derived from it (hashed once, where
/// the configuration is read, not for every token).
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    secret: String,
    fingerprint: String,
}

impl MasterKey {
    pub fn new(secret: impl Into<String>) -> Self {
        let secret = secret.into();
        let fingerprint = hash_b64(secret.as_bytes());
        Self { secret, fingerprint }
    }

    pub fn expose(&self) -> &[u8] {
        self.secret.as_bytes()
    }

    /// A hash of the key: tells keys derived from different master keys apart.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(** redacted **)")
    }
}

/// One of a tenant's signing keys, derived on demand. `Debug` never shows the private half.
pub struct TenantKey {
    kid: String,
    signing: SigningKey,
}

impl std::fmt::Debug for TenantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl TenantKey {
    /// The key of `version` for this tenant incarnation, under `master` (`JWT_MASTER_KEY`).
    pub fn derive(master: &[u8], tenant: &TenantId, generation: &str, version: &str) -> Self {
        let mut info = Vec::new();
        for part in [
            b"dynauth-jwt-ed25519-v1".as_slice(),
            tenant.as_str().as_bytes(),
            generation.as_bytes(),
            version.as_bytes(),
        ] {
            info.extend_from_slice(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
            info.extend_from_slice(part);
        }
        let mut seed = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit of 8160: expand cannot fail.
        let _ = Hkdf::<Sha256>::new(Some(b"dynauth-jwt"), master).expand(&info, &mut seed);
        Self::from_seed(&seed)
    }

    fn from_seed(seed: &[u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(seed);
        let x = b64url(signing.verifying_key().as_bytes());
        // RFC 7638: SHA-256 of the required members in lexicographic order, no whitespace.
        let thumbprint = Sha256::digest(format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#).as_bytes());
        Self { kid: b64url(&thumbprint), signing }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP",
            crv: Some("Ed25519"),
            x: Some(b64url(self.signing.verifying_key().as_bytes())),
            n: None,
            e: None,
            kid: self.kid.clone(),
            use_: "sig",
            alg: "EdDSA",
        }
    }

    /// A compact JWS of session claims: header `{"alg":"EdDSA","typ":"session+jwt","kid"}`.
    fn sign(&self, claims: &impl Serialize) -> String {
        jws("EdDSA", SESSION_TYP, &self.kid, claims, |data| self.sign_bytes(data))
    }

    /// The Ed25519 signature of `data`.
    pub fn sign_bytes(&self, data: &[u8]) -> Vec<u8> {
        self.signing.sign(data).to_bytes().to_vec()
    }

    /// Whether `signature` is this key's Ed25519 signature of `data`.
    pub fn verify(&self, data: &[u8], signature: &[u8]) -> bool {
        use ed25519_dalek::Verifier;
        ed25519_dalek::Signature::from_slice(signature)
            .is_ok_and(|s| self.signing.verifying_key().verify(data, &s).is_ok())
    }
}

/// `typ` of a session JWT (RFC 8725 §3.11: explicit typing): neither an ID token's `JWT` nor an
/// access token's `at+jwt`, so a verifier that pins it takes no OpenID token for a session.
pub const SESSION_TYP: &str = "session+jwt";

/// A compact JWS of `claims` with header `{"alg", "typ", "kid"}`, signed by `sign`.
pub fn jws(
    alg: &'static str,
    typ: &'static str,
    kid: &str,
    claims: &impl Serialize,
    sign: impl Fn(&[u8]) -> Vec<u8>,
) -> String {
    let header = Header { alg, typ, kid };
    let mut token = b64url(&serde_json::to_vec(&header).unwrap_or_default());
    token.push('.');
    token.push_str(&b64url(&serde_json::to_vec(claims).unwrap_or_default()));
    let signature = sign(token.as_bytes());
    token.push('.');
    token.push_str(&b64url(&signature));
    token
}

/// A public key in a JWKS: an Ed25519 one (`OKP`, `crv`, `x`) or an RSA one (`n`, `e`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub alg: &'static str,
}

impl Jwk {
    /// An RS256 key's JWK.
    pub fn rsa(kid: String, n: String, e: String) -> Self {
        Self { kty: "RSA", crv: None, x: None, n: Some(n), e: Some(e), kid, use_: "sig", alg: "RS256" }
    }
}

/// `GET /.well-known/jwks.json`.
#[derive(Debug, Serialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// What a token says.
#[derive(Debug, Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a UserId,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
    sid: &'a SessionId,
    tid: &'a TenantId,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a Email>,
}

/// An issued token and when it expires (epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub token: String,
    pub expires_at: i64,
}

/// A JWT for `session` of `tenant`, issued at `now` by `issuer` (`https://{tenant host}`), signed
/// with `key` (the tenant's newest: see `Caches::jwt_keys`). It expires after the tenant's
/// `jwt.ttl_secs`, and never after the session's absolute or idle expiry. `jti` is 16 random
/// bytes.
pub fn issue(key: &TenantKey, tenant: &Tenant, session: &Session, issuer: &str, now: i64, jti: [u8; 16]) -> Issued {
    let ttl = i64::try_from(tenant.jwt.ttl_secs).unwrap_or(0);
    let expires_at = (now + ttl).min(session.expires_at).min(session.idle_expires_at);
    let jti = b64url(&jti);
    let claims = Claims {
        iss: issuer,
        sub: &session.user_id,
        aud: tenant.jwt_audience(),
        iat: now,
        exp: expires_at,
        jti: &jti,
        sid: &session.id,
        tid: &tenant.id,
        email: session.email.as_ref(),
    };
    Issued { token: key.sign(&claims), expires_at }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signature, Verifier};

    use super::*;
    use crate::domain::sessions::Device;
    use crate::platform::crypto::b64url_decode;

    fn session(tenant: &Tenant, now: i64, expires_at: i64, idle_expires_at: i64) -> Session {
        Session {
            id: SessionId::of_token("t"),
            tenant: tenant.id.clone(),
            tenant_generation: tenant.generation.clone(),
            user_id: UserId::parse("u1").expect("the test's own input"),
            email: None,
            created_at: now,
            expires_at,
            idle_expires_at,
            last_seen_at: now,
            revoked_at: None,
            device: Device::default(),
            ttl: expires_at,
        }
    }

    #[test]
    fn rfc_8037_ed25519_vectors() {
        // RFC 8037 appendix A: the key, its thumbprint (A.3) and a JWS (A.4).
        let d = b64url_decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A").unwrap_or_default();
        let seed: [u8; 32] = d.try_into().unwrap_or([0; 32]);
        let key = TenantKey::from_seed(&seed);
        assert_eq!(key.jwk().x.as_deref(), Some("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"));
        assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        let signature = key.signing.sign(b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc");
        assert_eq!(
            b64url(&signature.to_bytes()),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
    }

    #[test]
    fn keys_are_bound_to_master_tenant_generation_and_version() {
        let acme = TenantId::parse("acme").expect("the test's own input");
        let other = TenantId::parse("other").expect("the test's own input");
        let kid = |master: &[u8], t: &TenantId, g: &str, v: &str| TenantKey::derive(master, t, g, v).kid;
        let base = kid(b"master-0123456789-0123456789-0123", &acme, "g1", "1");
        assert_eq!(base, kid(b"master-0123456789-0123456789-0123", &acme, "g1", "1"), "deterministic");
        assert_ne!(base, kid(b"master-0123456789-0123456789-0124", &acme, "g1", "1"), "the master key");
        assert_ne!(base, kid(b"master-0123456789-0123456789-0123", &other, "g1", "1"), "the tenant");
        assert_ne!(base, kid(b"master-0123456789-0123456789-0123", &acme, "g2", "1"), "the generation");
        assert_ne!(base, kid(b"master-0123456789-0123456789-0123", &acme, "g1", "2"), "the version");
    }

    #[test]
    fn an_issued_token_verifies_and_says_who() {
        let tenant = crate::domain::tenants::Tenant::example();
        let session = session(&tenant, 1_000, 100_000, 50_000);
        let key = TenantKey::derive(b"master-0123456789-0123456789-0123", &tenant.id, "g1", "1");
        let issued = issue(&key, &tenant, &session, "https://auth.acme.com", 1_000, [7; 16]);
        assert_eq!(issued.expires_at, 1_300, "default ttl");
        let parts: Vec<&str> = issued.token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |p: &str| -> serde_json::Value {
            serde_json::from_slice(&b64url_decode(p).unwrap_or_default()).unwrap_or_default()
        };
        assert_eq!(decode(parts[0]), serde_json::json!({"alg": "EdDSA", "typ": "session+jwt", "kid": key.kid()}));
        let claims = decode(parts[1]);
        assert_eq!(claims["iss"], "https://auth.acme.com");
        assert_eq!(claims["sub"], session.user_id.as_str());
        assert_eq!(claims["sid"], session.id.as_str());
        assert_eq!(claims["tid"], "acme");
        assert_eq!(claims["aud"], "acme", "the audience defaults to the tenant id");
        assert_eq!((claims["iat"].as_i64(), claims["exp"].as_i64()), (Some(1_000), Some(1_300)));
        assert_eq!(claims["jti"], b64url(&[7; 16]));
        let signature = b64url_decode(parts[2]).unwrap_or_default();
        let signature = Signature::from_slice(&signature).expect("the test's own input");
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(key.signing.verifying_key().verify(signed.as_bytes(), &signature).is_ok());
        assert!(key.signing.verifying_key().verify(format!("{signed}x").as_bytes(), &signature).is_err());
    }

    #[test]
    fn a_token_never_outlives_its_session() {
        let tenant = crate::domain::tenants::Tenant::example();
        let key = TenantKey::derive(b"master-0123456789-0123456789-0123", &tenant.id, "g1", "1");
        let absolute = session(&tenant, 1_000, 1_100, 5_000);
        assert_eq!(issue(&key, &tenant, &absolute, "https://a", 1_000, [0; 16]).expires_at, 1_100);
        let idle = session(&tenant, 1_000, 5_000, 1_050);
        assert_eq!(issue(&key, &tenant, &idle, "https://a", 1_000, [0; 16]).expires_at, 1_050);
    }
}
