//! Short-lived JWTs for backends: `POST /v1/session/token` turns a live session into an
//! EdDSA (Ed25519) JWT that a backend verifies offline against the tenant's JWKS
//! (`GET /.well-known/jwks.json` on the tenant's host).
//!
//! No Ed25519 private key is stored anywhere: a tenant's key of version `v` is derived when it is
//! needed, as HKDF-SHA256(`JWT_MASTER_KEY`; tenant id, generation, `v`) -> an Ed25519 seed, whose
//! public half the crypto service computes (Web Crypto on the Worker). Deleting or re-creating
//! the tenant changes its generation, so its old tokens stop verifying. Rotation adds a version
//! (`POST /v1/admin/tenants/{id}/secrets/jwt`): the newest key signs, and the JWKS publishes it
//! and the one before until the overlap is ended. Each key's `kid` is its RFC 7638 JWK
//! thumbprint. Every signature is the crypto service's ([`crate::platform::signature`]).

use hkdf::Hkdf;
use serde::Serialize;
use sha2::{Digest, Sha256, Sha512};

use crate::domain::sessions::Session;
use crate::domain::tenants::Tenant;
use crate::platform::crypto::{b64url, hash_b64};
use crate::platform::signature::{Alg, Crypto, CryptoError, KeyJwk, Material, PrivateKey, PublicKey};
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

/// One of a tenant's signing keys (Ed25519, RSA or P-256), ready for the crypto service: its
/// `kid` (the RFC 7638 thumbprint of its public half), the private key and the public one.
/// `Debug` never shows the private half.
pub struct Key {
    kid: String,
    private: PrivateKey,
    public: PublicKey,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key").field("kid", &self.kid).field("alg", &self.alg()).finish_non_exhaustive()
    }
}

impl Key {
    /// The key of `alg` made of `material`, whose public half is `public`.
    pub fn new(alg: Alg, material: Material, public: &KeyJwk) -> Self {
        let public = public.public();
        let kid = public.thumbprint();
        Self {
            private: PrivateKey { id: format!("{kid}.private"), alg, material },
            public: PublicKey { id: kid.clone(), alg, jwk: public },
            kid,
        }
    }

    /// The tenant's Ed25519 key of `version` for this tenant incarnation, under `master`
    /// (`JWT_MASTER_KEY`): the seed derived here, the public half by `crypto`.
    pub async fn derive(
        crypto: &dyn Crypto,
        master: &[u8],
        tenant: &TenantId,
        generation: &str,
        version: &str,
    ) -> Result<Self, CryptoError> {
        let seed = Material::Seed(derive_seed(master, tenant, generation, version));
        let public =
            crypto.public_jwk(&PrivateKey { id: String::new(), alg: Alg::EdDsa, material: seed.clone() }).await?;
        Ok(Self::new(Alg::EdDsa, seed, &public))
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> Alg {
        self.public.alg
    }

    /// The public key as a JWKS publishes it.
    pub fn jwk(&self) -> Jwk {
        Jwk::of(&self.public.jwk, self.kid.clone(), self.alg())
    }

    /// The signature of `data`.
    pub async fn sign(&self, crypto: &dyn Crypto, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        crypto.sign(&self.private, data).await
    }

    /// Whether `signature` is this key's over `data`.
    pub async fn verify(&self, crypto: &dyn Crypto, data: &[u8], signature: &[u8]) -> Result<bool, CryptoError> {
        crypto.verify(&self.public, data, signature).await
    }

    /// A compact JWS of `claims` with header `{"alg", "typ", "kid"}`, signed with this key.
    pub async fn jws(
        &self,
        crypto: &dyn Crypto,
        typ: &'static str,
        claims: &impl Serialize,
    ) -> Result<String, CryptoError> {
        let header = Header { alg: self.alg().name(), typ, kid: &self.kid };
        let mut token = b64url(&serde_json::to_vec(&header).unwrap_or_default());
        token.push('.');
        token.push_str(&b64url(&serde_json::to_vec(claims).unwrap_or_default()));
        let signature = self.sign(crypto, token.as_bytes()).await?;
        token.push('.');
        token.push_str(&b64url(&signature));
        Ok(token)
    }

    /// OpenID Connect Core 3.1.3.6: the left half of the hash of `token`, the hash being the
    /// one of the signing algorithm (SHA-256 for RS256 and ES256, SHA-512 for Ed25519).
    pub fn half_hash(&self, token: &str) -> String {
        match self.alg() {
            Alg::Rs256 | Alg::Es256 => b64url(&Sha256::digest(token.as_bytes())[..16]),
            Alg::EdDsa => b64url(&Sha512::digest(token.as_bytes())[..32]),
        }
    }
}

/// The Ed25519 seed of `version` for a tenant incarnation, under `master`.
fn derive_seed(master: &[u8], tenant: &TenantId, generation: &str, version: &str) -> [u8; 32] {
    let mut info = Vec::new();
    for part in
        [b"dynauth-jwt-ed25519-v1".as_slice(), tenant.as_str().as_bytes(), generation.as_bytes(), version.as_bytes()]
    {
        info.extend_from_slice(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
        info.extend_from_slice(part);
    }
    let mut seed = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's limit of 8160: expand cannot fail.
    let _ = Hkdf::<Sha256>::new(Some(b"dynauth-jwt"), master).expand(&info, &mut seed);
    seed
}

/// `typ` of a session JWT (RFC 8725 §3.11: explicit typing): neither an ID token's `JWT` nor an
/// access token's `at+jwt`, so a verifier that pins it takes no OpenID token for a session.
pub const SESSION_TYP: &str = "session+jwt";

/// A public key in a JWKS: an Ed25519 one (`OKP`, `crv`, `x`), an RSA one (`n`, `e`) or a P-256
/// one (`EC`, `crv`, `x`, `y`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
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
    /// The JWKS entry of public key `public`, named `kid`, for `alg`.
    pub fn of(public: &KeyJwk, kid: String, alg: Alg) -> Self {
        Self {
            kty: public.kty.clone(),
            crv: public.crv.clone(),
            x: public.x.clone(),
            y: public.y.clone(),
            n: public.n.clone(),
            e: public.e.clone(),
            kid,
            use_: "sig",
            alg: alg.name(),
        }
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
pub async fn issue(
    crypto: &dyn Crypto,
    key: &Key,
    tenant: &Tenant,
    session: &Session,
    issuer: &str,
    now: i64,
    jti: [u8; 16],
) -> Result<Issued, CryptoError> {
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
    Ok(Issued { token: key.jws(crypto, SESSION_TYP, &claims).await?, expires_at })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sessions::Device;
    use crate::platform::crypto::b64url_decode;
    use crate::platform::native::block_on;
    use crate::platform::native_crypto::NativeCrypto;

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

    fn derive(master: &[u8], tenant: &TenantId, generation: &str, version: &str) -> Key {
        block_on(Key::derive(&NativeCrypto, master, tenant, generation, version)).expect("a key")
    }

    #[test]
    fn rfc_8037_ed25519_vectors() {
        // RFC 8037 appendix A: the key, its thumbprint (A.3) and a JWS (A.4).
        let d = b64url_decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A").unwrap_or_default();
        let seed = Material::Seed(d.try_into().unwrap_or([0; 32]));
        let probe = PrivateKey { id: String::new(), alg: Alg::EdDsa, material: seed.clone() };
        let public = block_on(NativeCrypto.public_jwk(&probe)).expect("a public key");
        let key = Key::new(Alg::EdDsa, seed, &public);
        assert_eq!(key.jwk().x.as_deref(), Some("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"));
        assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        let signature = block_on(key.sign(&NativeCrypto, b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"))
            .expect("signed");
        assert_eq!(
            b64url(&signature),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
    }

    #[test]
    fn keys_are_bound_to_master_tenant_generation_and_version() {
        let acme = TenantId::parse("acme").expect("the test's own input");
        let other = TenantId::parse("other").expect("the test's own input");
        let kid = |master: &[u8], t: &TenantId, g: &str, v: &str| derive(master, t, g, v).kid;
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
        let key = derive(b"master-0123456789-0123456789-0123", &tenant.id, "g1", "1");
        let issued = block_on(issue(&NativeCrypto, &key, &tenant, &session, "https://auth.acme.com", 1_000, [7; 16]))
            .expect("issued");
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
        let signed = format!("{}.{}", parts[0], parts[1]);
        let verify = |data: &str| block_on(key.verify(&NativeCrypto, data.as_bytes(), &signature));
        assert_eq!(verify(&signed), Ok(true));
        assert_eq!(verify(&format!("{signed}x")), Ok(false));
    }

    #[test]
    fn a_token_never_outlives_its_session() {
        let tenant = crate::domain::tenants::Tenant::example();
        let key = derive(b"master-0123456789-0123456789-0123", &tenant.id, "g1", "1");
        let expiry = |s: &Session| {
            block_on(issue(&NativeCrypto, &key, &tenant, s, "https://a", 1_000, [0; 16])).map(|i| i.expires_at)
        };
        assert_eq!(expiry(&session(&tenant, 1_000, 1_100, 5_000)), Ok(1_100));
        assert_eq!(expiry(&session(&tenant, 1_000, 5_000, 1_050)), Ok(1_050));
    }
}
