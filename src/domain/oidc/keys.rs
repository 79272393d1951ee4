//! A tenant's stored signing keys: RSA for RS256 (OpenID Connect Core 15.1 makes RS256 the one
//! algorithm every relying party can verify) and P-256 for ES256. Unlike the Ed25519 keys
//! ([`crate::domain::jwt`]) they cannot be derived from a seed, so each is generated once (by the
//! crypto service: Web Crypto on the Worker), when a token first needs it, and stored:
//! `TENANT#{t}#RSA_KEY#{generation}#{master fingerprint}#{version}` / `RSA_KEY` (and `EC_KEY` for
//! P-256), with its public half in the clear (the JWKS is served from it) and its private JWK
//! sealed with AES-256-GCM under a key derived from `JWT_MASTER_KEY` (HKDF, bound to the tenant
//! incarnation and the version; the item's names are its associated data). Versions are the
//! tenant's JWT key versions: `POST /v1/admin/tenants/{id}/secrets/jwt` rotates every kind of key
//! with the same overlap. A changed `JWT_MASTER_KEY` names other items, so the keys start over,
//! as the Ed25519 ones do.
//!
//! RSA keys stored before (by dynauth's own RSA code in wasm) hold only their primes, sealed
//! (`sealed`): the first use of one computes the rest of its private key, seals that as the new
//! format does and writes it into the item (once: conditionally), keeping its `kid`. The primes
//! stay, and a new RSA key is stored with them too: a table keeps serving if the deployment is
//! rolled back to a dynauth that reads only them.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::domain::jwt::{Jwk, Key, MasterKey};
use crate::domain::tenants::Tenant;
use crate::dynamo::{DynamoError, Expr, Write};
use crate::platform::crypto::{b64url, b64url_decode};
use crate::platform::runtime::Random;
use crate::platform::signature::{Alg, Crypto, CryptoError, KeyJwk, Material};
use crate::table::keys::{self, Keys};
use crate::table::store::Store;

/// A key as stored: the public half, and the private one sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    y: Option<String>,
    /// 12-byte nonce || AES-256-GCM(the private JWK as JSON), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    private: Option<String>,
    /// The format before: 12-byte nonce || AES-256-GCM(p_len (2 bytes) || p || q), base64url
    /// (every RSA key: the only private part of keys stored before the crypto service, kept for a
    /// rollback to a dynauth that reads only it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed: Option<String>,
    created_at: i64,
}

impl StoredKey {
    fn public(&self, alg: Alg) -> KeyJwk {
        KeyJwk {
            kty: match alg {
                Alg::Rs256 => "RSA",
                Alg::Es256 => "EC",
                Alg::EdDsa => "OKP",
            }
            .into(),
            crv: self.crv.clone(),
            n: self.n.clone(),
            e: self.e.clone(),
            x: self.x.clone(),
            y: self.y.clone(),
            ..KeyJwk::default()
        }
    }
}

/// Why a stored key could not be used.
#[derive(Debug)]
pub enum KeyError {
    Store(DynamoError),
    Crypto(CryptoError),
    /// The item does not open under this `JWT_MASTER_KEY` (tampered with, or copied).
    Unsealable,
}

impl From<DynamoError> for KeyError {
    fn from(e: DynamoError) -> Self {
        Self::Store(e)
    }
}

impl From<CryptoError> for KeyError {
    fn from(e: CryptoError) -> Self {
        Self::Crypto(e)
    }
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Store(e) => e.fmt(f),
            Self::Crypto(e) => e.fmt(f),
            Self::Unsealable => f.write_str("a stored signing key does not open under this JWT_MASTER_KEY"),
        }
    }
}

/// What a sealed key is bound to: its kind, the tenant incarnation and the key version.
fn binding(alg: Alg, tenant: &Tenant, version: &str) -> Vec<u8> {
    let label: &[u8] = if alg == Alg::Es256 { b"dynauth-ec-key-v1" } else { b"dynauth-rsa-key-v1" };
    let mut out = Vec::new();
    for part in [label, tenant.id.as_str().as_bytes(), tenant.generation.as_bytes(), version.as_bytes()] {
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

/// The associated data of a sealed private JWK (the old format's is `bound || kid`: neither
/// opens as the other).
fn jwk_aad(bound: &[u8], kid: &str) -> Vec<u8> {
    [bound, kid.as_bytes(), b"#jwk"].concat()
}

fn seal(master: &MasterKey, bound: &[u8], aad: &[u8], plain: &[u8], random: &dyn Random) -> String {
    let nonce: [u8; 12] = random.bytes::<12>();
    let sealed = cipher(master, bound).encrypt(&Nonce::from(nonce), Payload { msg: plain, aad }).unwrap_or_default();
    b64url(&[nonce.as_slice(), &sealed].concat())
}

fn open(master: &MasterKey, bound: &[u8], aad: &[u8], sealed: &str) -> Option<Vec<u8>> {
    let raw = b64url_decode(sealed)?;
    let (nonce, sealed) = raw.split_at_checked(12)?;
    let nonce: [u8; 12] = nonce.try_into().ok()?;
    cipher(master, bound).decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad }).ok()
}

/// The item of the tenant's key of `alg` and `version` under `master`.
fn item_keys(alg: Alg, master: &MasterKey, tenant: &Tenant, version: &str) -> Keys {
    let fingerprint = master.fingerprint().get(..8).unwrap_or_default();
    match alg {
        Alg::Es256 => keys::ec_key(&tenant.id, &tenant.generation, fingerprint, version),
        _ => keys::rsa_key(&tenant.id, &tenant.generation, fingerprint, version),
    }
}

/// Where a stored key is, and what opens it.
struct Place<'a> {
    master: &'a MasterKey,
    alg: Alg,
    bound: Vec<u8>,
    keys: Keys,
}

impl Place<'_> {
    /// The key of private JWK `jwk`, and its item.
    fn seal(&self, jwk: KeyJwk, random: &dyn Random, now: i64) -> (Key, StoredKey) {
        let key = Key::new(self.alg, Material::Jwk(jwk.clone()), &jwk);
        let public = jwk.public();
        let plain = serde_json::to_vec(&jwk).unwrap_or_default();
        let stored = StoredKey {
            kid: key.kid().to_string(),
            n: public.n,
            e: public.e,
            crv: public.crv,
            x: public.x,
            y: public.y,
            private: Some(seal(self.master, &self.bound, &jwk_aad(&self.bound, key.kid()), &plain, random)),
            sealed: self.seal_primes(&jwk, key.kid(), random),
            created_at: now,
        };
        (key, stored)
    }

    /// An RSA key's primes sealed as the format before sealed them.
    fn seal_primes(&self, jwk: &KeyJwk, kid: &str, random: &dyn Random) -> Option<String> {
        let (p, q) = (KeyJwk::bytes(&jwk.p)?, KeyJwk::bytes(&jwk.q)?);
        let plain = [&u16::try_from(p.len()).ok()?.to_be_bytes()[..], &p, &q].concat();
        let aad = [self.bound.as_slice(), kid.as_bytes()].concat();
        Some(seal(self.master, &self.bound, &aad, &plain, random)).filter(|_| self.alg == Alg::Rs256)
    }

    /// The key `stored` holds: its private JWK opened, or the old format's primes completed.
    fn open(&self, stored: &StoredKey) -> Result<(Key, Option<KeyJwk>), KeyError> {
        if let Some(private) = &stored.private {
            let plain = open(self.master, &self.bound, &jwk_aad(&self.bound, &stored.kid), private)
                .ok_or(KeyError::Unsealable)?;
            let jwk: KeyJwk = serde_json::from_slice(&plain).map_err(|_| KeyError::Unsealable)?;
            let key = Key::new(self.alg, Material::Jwk(jwk), &stored.public(self.alg));
            return if key.kid() == stored.kid { Ok((key, None)) } else { Err(KeyError::Unsealable) };
        }
        let sealed = stored.sealed.as_deref().filter(|_| self.alg == Alg::Rs256).ok_or(KeyError::Unsealable)?;
        let aad = [self.bound.as_slice(), stored.kid.as_bytes()].concat();
        let plain = open(self.master, &self.bound, &aad, sealed).ok_or(KeyError::Unsealable)?;
        let (len, rest) = plain.split_at_checked(2).ok_or(KeyError::Unsealable)?;
        let (p, q) =
            rest.split_at_checked(usize::from(u16::from_be_bytes([len[0], len[1]]))).ok_or(KeyError::Unsealable)?;
        let jwk = KeyJwk::rsa_from_primes(p, q, &[1, 0, 1]).ok_or(KeyError::Unsealable)?;
        let key = Key::new(self.alg, Material::Jwk(jwk.clone()), &jwk);
        if key.kid() != stored.kid || jwk.n != stored.n {
            return Err(KeyError::Unsealable);
        }
        Ok((key, Some(jwk)))
    }
}

/// The tenant's key of `alg` (RS256 or ES256) and `version` under `master`: read (consistently: a
/// key written a moment ago by another request must be found, not made again), or generated by
/// `crypto` and created when there is none yet. Two requests that generate at once both try to
/// create it; the one that loses reads and uses the winner's. A key in the old format is
/// converted (see the module's documentation).
#[allow(clippy::too_many_arguments)] // the key's place (4), and the services that make one
pub async fn key(
    store: &Store<'_>,
    crypto: &dyn Crypto,
    master: &MasterKey,
    tenant: &Tenant,
    version: &str,
    alg: Alg,
    random: &dyn Random,
    now: i64,
) -> Result<Key, KeyError> {
    let place =
        Place { master, alg, bound: binding(alg, tenant, version), keys: item_keys(alg, master, tenant, version) };
    if let Some(stored) = store.get::<StoredKey>(&place.keys, true).await? {
        return stored_key(store, &place, &stored, random).await;
    }
    let jwk = crypto.generate(alg).await?;
    let (key, stored) = place.seal(jwk, random, now);
    let kind = if alg == Alg::Es256 { "ec_key" } else { "rsa_key" };
    match store.create(store.item(kind, &stored, &place.keys)?).await {
        Ok(()) => Ok(key),
        Err(DynamoError::ConditionalCheckFailed { .. }) => {
            let stored = store.get::<StoredKey>(&place.keys, true).await?.ok_or(KeyError::Unsealable)?;
            stored_key(store, &place, &stored, random).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The key `stored` holds; one in the old format is converted in its item, once.
async fn stored_key(
    store: &Store<'_>,
    place: &Place<'_>,
    stored: &StoredKey,
    random: &dyn Random,
) -> Result<Key, KeyError> {
    let (key, converted) = place.open(stored)?;
    if let Some(jwk) = converted {
        let plain = serde_json::to_vec(&jwk).unwrap_or_default();
        let private = seal(place.master, &place.bound, &jwk_aad(&place.bound, key.kid()), &plain, random);
        let mut e = Expr::new();
        let update = format!("SET {} = {}", e.name("private"), e.str(private));
        let unconverted = e.not_exists("private");
        let cond = format!("{unconverted} AND {} = {}", e.name("kid"), e.str(key.kid()));
        // Converted by another request at the same time: the same key, already written. Any
        // other failure leaves the old format, which the next use converts.
        let _ = store.db.update_item(store.update(&place.keys, update, Some(cond), e), Write::Idempotent).await;
    }
    Ok(key)
}

/// The public half of a stored key as a JWKS publishes it (nothing opened), if there is one.
pub async fn published(
    store: &Store<'_>,
    master: &MasterKey,
    tenant: &Tenant,
    version: &str,
    alg: Alg,
) -> Result<Option<Jwk>, DynamoError> {
    let stored = store.get::<StoredKey>(&item_keys(alg, master, tenant, version), false).await?;
    Ok(stored.map(|s| Jwk::of(&s.public(alg), s.kid.clone(), alg)))
}

/// Test support: stores the RSA key of primes `p` and `q` (e = 65537) as dynauth stored keys
/// before the crypto service (the primes sealed under `bound || kid`, nothing else private), and
/// returns its `kid`. What a table written by an older dynauth holds.
#[cfg(any(test, feature = "testing"))]
#[allow(clippy::too_many_arguments)] // the key's place (4), the key (2) and the services
pub async fn store_in_old_format(
    store: &Store<'_>,
    master: &MasterKey,
    tenant: &Tenant,
    version: &str,
    p: &[u8],
    q: &[u8],
    random: &dyn Random,
    now: i64,
) -> Result<String, DynamoError> {
    let jwk = KeyJwk::rsa_from_primes(p, q, &[1, 0, 1]).unwrap_or_default();
    let public = jwk.public();
    let kid = public.thumbprint();
    let place = Place {
        master,
        alg: Alg::Rs256,
        bound: binding(Alg::Rs256, tenant, version),
        keys: item_keys(Alg::Rs256, master, tenant, version),
    };
    let sealed = place.seal_primes(&jwk, &kid, random);
    let stored = StoredKey {
        kid: kid.clone(),
        n: public.n,
        e: public.e,
        crv: None,
        x: None,
        y: None,
        private: None,
        sealed,
        created_at: now,
    };
    store.create(store.item("rsa_key", &stored, &place.keys)?).await?;
    Ok(kid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::native::block_on;
    use crate::platform::native_crypto::NativeCrypto;
    use crate::testing::fakes::ManualRuntime;

    fn place<'a>(master: &'a MasterKey, alg: Alg, tenant: &Tenant, version: &str) -> Place<'a> {
        Place { master, alg, bound: binding(alg, tenant, version), keys: item_keys(alg, master, tenant, version) }
    }

    fn signs_as_published(key: &Key) -> bool {
        let signature = block_on(key.sign(&NativeCrypto, b"data")).expect("signed");
        let public = Key::new(key.alg(), Material::Seed([0; 32]), &stored_public(key));
        block_on(public.verify(&NativeCrypto, b"data", &signature)) == Ok(true)
            && block_on(public.verify(&NativeCrypto, b"date", &signature)) == Ok(false)
    }

    fn stored_public(key: &Key) -> KeyJwk {
        let jwk = key.jwk();
        KeyJwk { kty: jwk.kty, crv: jwk.crv, n: jwk.n, e: jwk.e, x: jwk.x, y: jwk.y, ..KeyJwk::default() }
    }

    #[test]
    fn a_key_seals_and_opens_only_where_it_belongs() {
        let rt = ManualRuntime::new(1_800_000_000, 7);
        let random: &dyn Random = &rt;
        let tenant = crate::domain::tenants::Tenant::example();
        let master = MasterKey::new("master-0123456789-0123456789-0123");
        for alg in [Alg::Rs256, Alg::Es256] {
            let jwk = block_on(NativeCrypto.generate(alg)).expect("a key");
            let secret = jwk.d.clone().unwrap_or_default();
            let (key, stored) = place(&master, alg, &tenant, "1").seal(jwk, random, 1);
            let (opened, converted) = place(&master, alg, &tenant, "1").open(&stored).expect("it opens");
            assert!(converted.is_none());
            assert_eq!((opened.kid(), opened.jwk()), (key.kid(), key.jwk()));
            assert!(signs_as_published(&opened), "{alg:?}");
            // The private half is not in the clear, and opens only with the same master key,
            // tenant incarnation, version and kind of key.
            assert!(secret.len() > 40 && !serde_json::to_string(&stored).unwrap_or_default().contains(&secret[..40]));
            let other_master = MasterKey::new("another-master-0123456789-012345");
            assert!(place(&other_master, alg, &tenant, "1").open(&stored).is_err());
            assert!(place(&master, alg, &tenant, "2").open(&stored).is_err());
            let reborn = Tenant { generation: "g2".into(), ..tenant.clone() };
            assert!(place(&master, alg, &reborn, "1").open(&stored).is_err());
            let other = if alg == Alg::Rs256 { Alg::Es256 } else { Alg::Rs256 };
            assert!(place(&master, other, &tenant, "1").open(&stored).is_err(), "{alg:?} as {other:?}");
            // An RSA key also keeps its primes as the format before (a rollback reads them): they
            // open, alone, as the same key. A P-256 key has no such thing.
            let primes_only = StoredKey { private: None, ..stored.clone() };
            let legacy = place(&master, alg, &tenant, "1").open(&primes_only).map(|(k, _)| k.kid().to_string());
            match alg {
                Alg::Rs256 => assert_eq!(legacy.ok().as_deref(), Some(key.kid())),
                _ => assert!(stored.sealed.is_none() && legacy.is_err()),
            }
            let swapped = StoredKey { kid: "other".into(), ..stored };
            assert!(place(&master, alg, &tenant, "1").open(&swapped).is_err(), "the kid is bound");
        }
    }

    #[test]
    fn a_key_sealed_by_the_release_before_opens_under_the_same_kid() {
        // Frozen: written by the code of 0240871 itself (tests/fixtures/old_rsa_key.json), so a
        // change to the sealing here that old tables would not survive fails this test.
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/old_rsa_key.json")).expect("JSON");
        let stored: StoredKey = serde_json::from_value(fixture["item"].clone()).expect("an old item");
        let tenant = Tenant {
            generation: fixture["generation"].as_str().unwrap_or_default().into(),
            ..crate::domain::tenants::Tenant::example()
        };
        assert_eq!(tenant.id.as_str(), fixture["tenant"]);
        let master = MasterKey::new(fixture["master"].as_str().unwrap_or_default());
        let version = fixture["version"].as_str().unwrap_or_default();
        assert!(stored.private.is_none() && stored.sealed.is_some(), "the old format");
        let (key, converted) = place(&master, Alg::Rs256, &tenant, version).open(&stored).expect("it opens");
        assert_eq!(key.kid(), stored.kid, "the same kid");
        assert!(signs_as_published(&key));
        assert!(converted.is_some(), "to be converted");
        // Under anything else it does not open.
        assert!(place(&MasterKey::new("another"), Alg::Rs256, &tenant, version).open(&stored).is_err());
        assert!(place(&master, Alg::Rs256, &tenant, "2").open(&stored).is_err());
    }

    #[test]
    fn a_key_stored_in_the_old_format_opens_as_the_same_key_and_is_converted() {
        use rsa::traits::{PrivateKeyParts, PublicKeyParts};
        let rt = ManualRuntime::new(1_800_000_000, 7);
        let random: &dyn Random = &rt;
        let tenant = crate::domain::tenants::Tenant::example();
        let master = MasterKey::new("master-0123456789-0123456789-0123");
        // The old format, as dynauth wrote it: the primes sealed under `bound || kid`.
        let old = rsa::PrivateKey::new(&mut crate::platform::native_crypto::OsRng, 2048).expect("a key");
        let (n, e) = (b64url(&old.n_bytes()), b64url(&old.e_bytes()));
        let kid =
            KeyJwk { kty: "RSA".into(), n: Some(n.clone()), e: Some(e.clone()), ..KeyJwk::default() }.thumbprint();
        let (p, q) = (old.primes()[0].to_be_bytes(), old.primes()[1].to_be_bytes());
        let plain = [&u16::try_from(p.len()).unwrap_or(0).to_be_bytes()[..], &p, &q].concat();
        let bound = binding(Alg::Rs256, &tenant, "1");
        let sealed = seal(&master, &bound, &[bound.as_slice(), kid.as_bytes()].concat(), &plain, random);
        let stored = StoredKey {
            kid: kid.clone(),
            n: Some(n),
            e: Some(e),
            crv: None,
            x: None,
            y: None,
            private: None,
            sealed: Some(sealed),
            created_at: 1,
        };
        let (key, converted) = place(&master, Alg::Rs256, &tenant, "1").open(&stored).expect("it opens");
        assert_eq!(key.kid(), kid, "the same kid");
        assert!(signs_as_published(&key));
        let converted = converted.expect("to be converted");
        assert_eq!((converted.p.is_some(), converted.dp.is_some(), converted.qi.is_some()), (true, true, true));
        // Converted, it opens in the new format as the same key.
        let (again, stored) = place(&master, Alg::Rs256, &tenant, "1").seal(converted, random, 1);
        assert_eq!(again.kid(), kid);
        let (reopened, none) = place(&master, Alg::Rs256, &tenant, "1").open(&stored).expect("it opens");
        assert_eq!((reopened.kid(), none.is_none()), (kid.as_str(), true));
        // The old format under another version, or as a P-256 key, does not open.
        let old_stored = StoredKey {
            private: None,
            sealed: Some(seal(&master, &bound, &[bound.as_slice(), kid.as_bytes()].concat(), &plain, random)),
            ..stored
        };
        assert!(place(&master, Alg::Rs256, &tenant, "2").open(&old_stored).is_err());
        assert!(place(&master, Alg::Es256, &tenant, "1").open(&old_stored).is_err());
    }
}
