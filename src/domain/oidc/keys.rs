//! A tenant's RSA keys for RS256 (OpenID Connect Core 15.1 makes RS256 the one algorithm every
//! relying party can verify). Unlike the Ed25519 keys ([`crate::domain::jwt`]) they cannot be
//! derived from a seed, so each is generated once, when a token first needs it, and stored:
//! `TENANT#{t}#RSA_KEY#{generation}#{master fingerprint}#{version}` / `RSA_KEY`, with its public half in the
//! clear and its primes sealed with AES-256-GCM under a key derived from `JWT_MASTER_KEY` (HKDF,
//! bound to the tenant incarnation and the version; the item's names are its associated data).
//! Versions are the tenant's JWT key versions: `POST /v1/admin/tenants/{id}/secrets/jwt` rotates
//! both kinds of keys with the same overlap. A changed `JWT_MASTER_KEY` names other items, so the
//! keys start over, as the Ed25519 ones do.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BoxedUint, PrivateKey, PublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::jwt::{Jwk, MasterKey};
use crate::domain::tenants::Tenant;
use crate::dynamo::DynamoError;
use crate::platform::crypto::{b64url, b64url_decode};
use crate::platform::runtime::Random;
use crate::table::keys;
use crate::table::store::Store;

/// The modulus size: 2048 bits, the size RFC 7518 §3.3 requires at least.
pub const BITS: usize = 2048;

/// One of a tenant's RSA keys, ready to sign. `Debug` never shows the private half.
#[derive(Clone)]
pub struct RsaKey {
    kid: String,
    n: String,
    e: String,
    signing: SigningKey<Sha256>,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// A key as stored: the public half, and the primes sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    n: String,
    e: String,
    /// 12-byte nonce || AES-256-GCM(p_len (2 bytes) || p || q), base64url.
    sealed: String,
    created_at: i64,
}

/// Why a stored key could not be used.
#[derive(Debug)]
pub enum KeyError {
    Store(DynamoError),
    /// The item does not open under this `JWT_MASTER_KEY` (tampered with, or copied).
    Unsealable,
}

impl From<DynamoError> for KeyError {
    fn from(e: DynamoError) -> Self {
        Self::Store(e)
    }
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Store(e) => e.fmt(f),
            Self::Unsealable => f.write_str("a stored RSA key does not open under this JWT_MASTER_KEY"),
        }
    }
}

/// The random source as the RSA key generator takes it.
struct Rng<'a>(&'a dyn Random);

impl rsa::rand_core::TryRng for Rng<'_> {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(u32::from_le_bytes(self.0.bytes::<4>()))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(u64::from_le_bytes(self.0.bytes::<8>()))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.0.fill_random(dst);
        Ok(())
    }
}

impl rsa::rand_core::TryCryptoRng for Rng<'_> {}

/// What a sealed key is bound to: the tenant incarnation and the key version.
fn binding(tenant: &Tenant, version: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for part in [
        b"dynauth-rsa-key-v1".as_slice(),
        tenant.id.as_str().as_bytes(),
        tenant.generation.as_bytes(),
        version.as_bytes(),
    ] {
        out.extend_from_slice(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

fn cipher(master: &MasterKey, bound: &[u8]) -> Aes256Gcm {
    let mut key = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's limit: expand cannot fail.
    let _ = Hkdf::<Sha256>::new(Some(b"dynauth-rsa-seal"), master.expose()).expand(bound, &mut key);
    Aes256Gcm::new(&key.into())
}

impl RsaKey {
    fn from_private(private: PrivateKey) -> Self {
        let n = b64url(&private.n_bytes());
        let e = b64url(&private.e_bytes());
        // RFC 7638: the required members in lexicographic order, no whitespace.
        let thumbprint = Sha256::digest(format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#).as_bytes());
        Self { kid: b64url(&thumbprint), n, e, signing: SigningKey::<Sha256>::new(private) }
    }

    /// A new key from `random`.
    pub fn generate(random: &dyn Random) -> Option<Self> {
        PrivateKey::new(&mut Rng(random), BITS).ok().map(Self::from_private)
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Jwk {
        Jwk::rsa(self.kid.clone(), self.n.clone(), self.e.clone())
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 of `data`.
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        self.signing.sign(data).to_vec()
    }

    /// Whether `signature` is this key's over `data`.
    pub fn verify(&self, data: &[u8], signature: &[u8]) -> bool {
        let public: &PublicKey = self.signing.as_ref().as_ref();
        let Ok(signature) = Signature::try_from(signature) else { return false };
        VerifyingKey::<Sha256>::new(public.clone()).verify(data, &signature).is_ok()
    }

    fn seal(&self, master: &MasterKey, tenant: &Tenant, version: &str, random: &dyn Random, now: i64) -> StoredKey {
        let private: &PrivateKey = self.signing.as_ref();
        let primes = private.primes();
        let (p, q) = (primes[0].to_be_bytes(), primes[1].to_be_bytes());
        let mut plain = Vec::with_capacity(2 + p.len() + q.len());
        plain.extend_from_slice(&u16::try_from(p.len()).unwrap_or(0).to_be_bytes());
        plain.extend_from_slice(&p);
        plain.extend_from_slice(&q);
        let bound = binding(tenant, version);
        let nonce: [u8; 12] = random.bytes::<12>();
        let aad = [bound.as_slice(), self.kid.as_bytes()].concat();
        let sealed =
            cipher(master, &bound).encrypt(&Nonce::from(nonce), Payload { msg: &plain, aad: &aad }).unwrap_or_default();
        StoredKey {
            kid: self.kid.clone(),
            n: self.n.clone(),
            e: self.e.clone(),
            sealed: b64url(&[nonce.as_slice(), &sealed].concat()),
            created_at: now,
        }
    }

    fn unseal(master: &MasterKey, tenant: &Tenant, version: &str, stored: &StoredKey) -> Option<Self> {
        let raw = b64url_decode(&stored.sealed)?;
        let (nonce, sealed) = raw.split_at_checked(12)?;
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let bound = binding(tenant, version);
        let aad = [bound.as_slice(), stored.kid.as_bytes()].concat();
        let plain = cipher(master, &bound).decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad: &aad }).ok()?;
        let (len, rest) = plain.split_at_checked(2)?;
        let (p, q) = rest.split_at_checked(usize::from(u16::from_be_bytes([len[0], len[1]])))?;
        let p = BoxedUint::from_be_slice_vartime(p);
        let q = BoxedUint::from_be_slice_vartime(q);
        let key = Self::from_private(PrivateKey::from_p_q(p, q, BoxedUint::from(65_537u64)).ok()?);
        (key.kid == stored.kid && key.n == stored.n).then_some(key)
    }
}

/// The tenant's RSA key of `version` under `master`: read (consistently: a key written a moment
/// ago by another request must be found, not made again), or generated and created when there is
/// none yet. Two requests that generate at once both try to create it; the one that loses reads
/// and uses the winner's.
pub async fn key(
    store: &Store<'_>,
    master: &MasterKey,
    tenant: &Tenant,
    version: &str,
    random: &dyn Random,
    now: i64,
) -> Result<RsaKey, KeyError> {
    let fingerprint = master.fingerprint().get(..8).unwrap_or_default();
    let keys = keys::rsa_key(&tenant.id, &tenant.generation, fingerprint, version);
    if let Some(stored) = store.get::<StoredKey>(&keys, true).await? {
        return RsaKey::unseal(master, tenant, version, &stored).ok_or(KeyError::Unsealable);
    }
    let key = RsaKey::generate(random).ok_or(KeyError::Unsealable)?;
    let item = store.item("rsa_key", &key.seal(master, tenant, version, random, now), &keys)?;
    match store.create(item).await {
        Ok(()) => Ok(key),
        Err(DynamoError::ConditionalCheckFailed { .. }) => {
            let stored = store.get::<StoredKey>(&keys, true).await?.ok_or(KeyError::Unsealable)?;
            RsaKey::unseal(master, tenant, version, &stored).ok_or(KeyError::Unsealable)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fakes::ManualRuntime;

    #[test]
    fn a_key_seals_and_opens_only_where_it_belongs() {
        let rt = ManualRuntime::new(1_800_000_000, 7);
        let random: &dyn Random = &rt;
        let tenant = crate::domain::tenants::Tenant::example();
        let master = MasterKey::new("master-0123456789-0123456789-0123");
        let key = RsaKey::generate(random).expect("a key");
        assert_eq!(b64url_decode(&key.n).map(|n| n.len()), Some(256), "2048 bits");
        assert_eq!(key.e, "AQAB");
        let stored = key.seal(&master, &tenant, "1", random, 1);
        let opened = RsaKey::unseal(&master, &tenant, "1", &stored).expect("it opens");
        assert_eq!((opened.kid(), &opened.n), (key.kid(), &key.n));
        let signature = opened.sign(b"data");
        assert!(key.verify(b"data", &signature) && !key.verify(b"date", &signature));
        // The private half is not in the clear, and opens only with the same master key,
        // tenant incarnation and version.
        let p = {
            let private: &PrivateKey = key.signing.as_ref();
            b64url(&private.primes()[0].to_be_bytes())
        };
        assert!(!serde_json::to_string(&stored).unwrap_or_default().contains(&p[..40]));
        assert!(RsaKey::unseal(&MasterKey::new("another-master-0123456789-012345"), &tenant, "1", &stored).is_none());
        assert!(RsaKey::unseal(&master, &tenant, "2", &stored).is_none());
        let reborn = Tenant { generation: "g2".into(), ..tenant.clone() };
        assert!(RsaKey::unseal(&master, &reborn, "1", &stored).is_none());
        let swapped = StoredKey { kid: "other".into(), ..stored };
        assert!(RsaKey::unseal(&master, &tenant, "1", &swapped).is_none(), "the kid is bound");
    }
}
