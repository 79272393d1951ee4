//! The crypto service natively (the CLI and the tests): RustCrypto's `rsa`, `p256` and
//! `ed25519-dalek`, the OS's random source. The Worker's is Web Crypto (see
//! [`super::signature`]); neither crate is in its build.

use ed25519_dalek::Signer as _;
use p256::ecdsa::signature::Verifier as _;
use rsa::signature::SignatureEncoding as _;
use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
use rsa::{BoxedUint, pkcs1v15};
use sha2::Sha256;

use super::crypto::b64url;
use super::runtime::LocalFuture;
use super::signature::{Alg, Crypto, CryptoError, KeyJwk, Material, PrivateKey, PublicKey};

/// The crypto service of native builds.
#[derive(Debug, Clone, Copy, Default)]
pub struct NativeCrypto;

fn fail(what: impl std::fmt::Display) -> CryptoError {
    CryptoError(what.to_string())
}

fn member(jwk: &KeyJwk, value: &Option<String>, name: &str) -> Result<Vec<u8>, CryptoError> {
    KeyJwk::bytes(value).ok_or_else(|| fail(format!("the {} key has no {name}", jwk.kty)))
}

fn uint(bytes: &[u8]) -> BoxedUint {
    BoxedUint::from_be_slice_vartime(bytes)
}

fn rsa_private(jwk: &KeyJwk) -> Result<rsa::PrivateKey, CryptoError> {
    let part = |v: &Option<String>, name| member(jwk, v, name).map(|b| uint(&b));
    let primes = vec![part(&jwk.p, "p")?, part(&jwk.q, "q")?];
    rsa::PrivateKey::from_components(part(&jwk.n, "n")?, part(&jwk.e, "e")?, part(&jwk.d, "d")?, primes).map_err(fail)
}

fn rsa_public(jwk: &KeyJwk) -> Result<rsa::PublicKey, CryptoError> {
    rsa::PublicKey::new(uint(&member(jwk, &jwk.n, "n")?), uint(&member(jwk, &jwk.e, "e")?)).map_err(fail)
}

fn ec_secret(jwk: &KeyJwk) -> Result<p256::ecdsa::SigningKey, CryptoError> {
    p256::ecdsa::SigningKey::from_slice(&member(jwk, &jwk.d, "d")?).map_err(fail)
}

fn ec_public(jwk: &KeyJwk) -> Result<p256::ecdsa::VerifyingKey, CryptoError> {
    let point = [vec![4u8], member(jwk, &jwk.x, "x")?, member(jwk, &jwk.y, "y")?].concat();
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(fail)
}

fn ec_jwk(key: &p256::ecdsa::VerifyingKey) -> KeyJwk {
    let point = key.to_sec1_point(false);
    let point = point.as_bytes();
    KeyJwk {
        kty: "EC".into(),
        crv: Some("P-256".into()),
        x: Some(b64url(point.get(1..33).unwrap_or_default())),
        y: Some(b64url(point.get(33..65).unwrap_or_default())),
        ..KeyJwk::default()
    }
}

fn ed_seed(key: &PrivateKey) -> Result<ed25519_dalek::SigningKey, CryptoError> {
    let seed: [u8; 32] = match &key.material {
        Material::Seed(seed) => *seed,
        Material::Jwk(jwk) => member(jwk, &jwk.d, "d")?.try_into().map_err(|_| fail("an Ed25519 d is 32 bytes"))?,
    };
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

fn jwk_of(key: &PrivateKey) -> Result<&KeyJwk, CryptoError> {
    match &key.material {
        Material::Jwk(jwk) => Ok(jwk),
        Material::Seed(_) => Err(fail(format!("a {} key is a JWK", key.alg.name()))),
    }
}

fn sign(key: &PrivateKey, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    match key.alg {
        Alg::EdDsa => Ok(ed_seed(key)?.sign(data).to_bytes().to_vec()),
        Alg::Rs256 => {
            let signing = pkcs1v15::SigningKey::<Sha256>::new(rsa_private(jwk_of(key)?)?);
            Ok(signing.try_sign(data).map_err(fail)?.to_vec())
        }
        Alg::Es256 => {
            let signature: p256::ecdsa::Signature = ec_secret(jwk_of(key)?)?.try_sign(data).map_err(fail)?;
            Ok(signature.to_bytes().to_vec())
        }
    }
}

fn verify(key: &PublicKey, data: &[u8], signature: &[u8]) -> Result<bool, CryptoError> {
    let jwk = &key.jwk;
    Ok(match key.alg {
        Alg::EdDsa => {
            let x: [u8; 32] = member(jwk, &jwk.x, "x")?.try_into().map_err(|_| fail("an Ed25519 x is 32 bytes"))?;
            let public = ed25519_dalek::VerifyingKey::from_bytes(&x).map_err(fail)?;
            ed25519_dalek::Signature::from_slice(signature).is_ok_and(|s| public.verify_strict(data, &s).is_ok())
        }
        Alg::Rs256 => {
            let public = pkcs1v15::VerifyingKey::<Sha256>::new(rsa_public(jwk)?);
            pkcs1v15::Signature::try_from(signature).is_ok_and(|s| public.verify(data, &s).is_ok())
        }
        Alg::Es256 => {
            let public = ec_public(jwk)?;
            p256::ecdsa::Signature::from_slice(signature).is_ok_and(|s| public.verify(data, &s).is_ok())
        }
    })
}

/// The OS's random source as the RSA key generator takes it (the tests' own RSA keys too).
#[derive(Debug, Clone, Copy)]
pub struct OsRng;

impl rsa::rand_core::TryRng for OsRng {
    type Error = getrandom::Error;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        getrandom::u32()
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        getrandom::u64()
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        getrandom::fill(dst)
    }
}

impl rsa::rand_core::TryCryptoRng for OsRng {}

fn generate(alg: Alg) -> Result<KeyJwk, CryptoError> {
    match alg {
        Alg::Rs256 => {
            let key = rsa::PrivateKey::new(&mut OsRng, 2048).map_err(fail)?;
            let primes = key.primes();
            let (p, q) = (primes[0].to_be_bytes(), primes[1].to_be_bytes());
            KeyJwk::rsa_from_primes(&p, &q, &key.e_bytes()).ok_or_else(|| fail("the generated key is not one"))
        }
        Alg::Es256 => loop {
            let mut d = [0u8; 32];
            getrandom::fill(&mut d).map_err(fail)?;
            // Out of range (below 2^-32 likely): draw again.
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&d) {
                return Ok(KeyJwk { d: Some(b64url(&d)), ..ec_jwk(key.verifying_key()) });
            }
        },
        Alg::EdDsa => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(fail)?;
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            Ok(KeyJwk { d: Some(b64url(&seed)), ..ed_jwk(&key) })
        }
    }
}

fn ed_jwk(key: &ed25519_dalek::SigningKey) -> KeyJwk {
    KeyJwk {
        kty: "OKP".into(),
        crv: Some("Ed25519".into()),
        x: Some(b64url(key.verifying_key().as_bytes())),
        ..KeyJwk::default()
    }
}

fn public_jwk(key: &PrivateKey) -> Result<KeyJwk, CryptoError> {
    match key.alg {
        Alg::EdDsa => Ok(ed_jwk(&ed_seed(key)?)),
        Alg::Rs256 => {
            let public = rsa_private(jwk_of(key)?)?.to_public_key();
            Ok(KeyJwk {
                kty: "RSA".into(),
                n: Some(b64url(&public.n_bytes())),
                e: Some(b64url(&public.e_bytes())),
                ..KeyJwk::default()
            })
        }
        Alg::Es256 => Ok(ec_jwk(ec_secret(jwk_of(key)?)?.verifying_key())),
    }
}

impl Crypto for NativeCrypto {
    fn sign<'a>(&'a self, key: &'a PrivateKey, data: &'a [u8]) -> LocalFuture<'a, Result<Vec<u8>, CryptoError>> {
        Box::pin(std::future::ready(sign(key, data)))
    }
    fn verify<'a>(
        &'a self,
        key: &'a PublicKey,
        data: &'a [u8],
        signature: &'a [u8],
    ) -> LocalFuture<'a, Result<bool, CryptoError>> {
        Box::pin(std::future::ready(verify(key, data, signature)))
    }
    fn generate(&self, alg: Alg) -> LocalFuture<'_, Result<KeyJwk, CryptoError>> {
        Box::pin(std::future::ready(generate(alg)))
    }
    fn public_jwk<'a>(&'a self, key: &'a PrivateKey) -> LocalFuture<'a, Result<KeyJwk, CryptoError>> {
        Box::pin(std::future::ready(public_jwk(key)))
    }
}

#[cfg(test)]
mod tests {
    //! The cross-verification vectors (`tests/fixtures/signatures.json`): fixed keys, a message,
    //! and each algorithm's signature made here (`native`) and by the Worker's Web Crypto in
    //! workerd (`webcrypto`, written by tests/e2e/crypto.test.mjs). RS256 and Ed25519 signatures
    //! are deterministic: both must be byte for byte the same; ES256 ones are not: each side
    //! verifies the other's. `DYNAUTH_WRITE_VECTORS=1` writes new keys and native signatures.
    use super::*;
    use crate::platform::crypto::b64url_decode;
    use crate::platform::native::block_on;

    const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/signatures.json");

    fn private(alg: Alg, entry: &serde_json::Value) -> PrivateKey {
        let material = match alg {
            Alg::EdDsa => {
                let seed = b64url_decode(entry["seed"].as_str().unwrap_or_default()).unwrap_or_default();
                Material::Seed(seed.try_into().unwrap_or([0; 32]))
            }
            _ => Material::Jwk(serde_json::from_value(entry["private"].clone()).expect("a JWK")),
        };
        PrivateKey { id: "vector".into(), alg, material }
    }

    fn public(alg: Alg, entry: &serde_json::Value) -> PublicKey {
        PublicKey { id: "vector".into(), alg, jwk: serde_json::from_value(entry["public"].clone()).expect("a JWK") }
    }

    fn signature(entry: &serde_json::Value, who: &str) -> Vec<u8> {
        b64url_decode(entry[who].as_str().unwrap_or_default()).unwrap_or_default()
    }

    const ALGS: [Alg; 3] = [Alg::Rs256, Alg::Es256, Alg::EdDsa];

    #[test]
    fn web_crypto_and_the_native_crates_verify_each_others_signatures() {
        if std::env::var("DYNAUTH_WRITE_VECTORS").is_ok_and(|v| v == "1") {
            write_vectors();
        }
        let vectors: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(PATH).expect("the vectors")).expect("JSON");
        let message = b64url_decode(vectors["message"].as_str().unwrap_or_default()).expect("a message");
        for alg in ALGS {
            let entry = &vectors["keys"][alg.name()];
            let (key, public) = (private(alg, entry), public(alg, entry));
            let ours = sign(&key, &message).expect("signed");
            let (native, webcrypto) = (signature(entry, "native"), signature(entry, "webcrypto"));
            assert!(!webcrypto.is_empty(), "{alg:?}: no Web Crypto signature: run tests/e2e/crypto.test.mjs");
            assert_eq!(public_jwk(&key).map(|j| j.public()), Ok(public.jwk.clone()), "{alg:?}: the public half");
            for (who, signature) in [("ours", &ours), ("native", &native), ("webcrypto", &webcrypto)] {
                assert_eq!(verify(&public, &message, signature), Ok(true), "{alg:?}: the {who} signature");
                let mut tampered = signature.clone();
                tampered[7] ^= 1;
                assert_eq!(verify(&public, &message, &tampered), Ok(false), "{alg:?}: the {who} signature, changed");
                assert_eq!(verify(&public, b"another message", signature), Ok(false), "{alg:?}: {who}");
            }
            if alg != Alg::Es256 {
                assert_eq!(ours, webcrypto, "{alg:?} is deterministic: Web Crypto signs the same bytes");
                assert_eq!(ours, native);
            }
        }
        // Through the trait too, as the core calls it.
        let entry = &vectors["keys"]["EdDSA"];
        let signed = block_on(NativeCrypto.sign(&private(Alg::EdDsa, entry), &message)).expect("signed");
        assert_eq!(block_on(NativeCrypto.verify(&public(Alg::EdDsa, entry), &message, &signed)), Ok(true));
    }

    fn write_vectors() {
        let message = b"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2F1dGguYWNtZS50ZXN0In0";
        let mut keys = serde_json::Map::new();
        for alg in ALGS {
            let mut entry = serde_json::Map::new();
            let key = match alg {
                Alg::EdDsa => {
                    let seed = generate(alg).expect("a key").d.unwrap_or_default();
                    entry.insert("seed".into(), seed.clone().into());
                    let seed = b64url_decode(&seed).unwrap_or_default();
                    PrivateKey { id: String::new(), alg, material: Material::Seed(seed.try_into().unwrap_or([0; 32])) }
                }
                _ => {
                    let jwk = generate(alg).expect("a key");
                    entry.insert("private".into(), serde_json::to_value(&jwk).unwrap_or_default());
                    PrivateKey { id: String::new(), alg, material: Material::Jwk(jwk) }
                }
            };
            let public = public_jwk(&key).expect("a public key");
            entry.insert("public".into(), serde_json::to_value(public.public()).unwrap_or_default());
            entry.insert("native".into(), b64url(&sign(&key, message).expect("signed")).into());
            // New keys: Web Crypto's signature is recorded by tests/e2e/crypto.test.mjs.
            entry.insert("webcrypto".into(), "".into());
            keys.insert(alg.name().into(), entry.into());
        }
        let vectors = serde_json::json!({
            "about": "Cross-verification vectors of the crypto service: see src/platform/native_crypto.rs (native) and tests/e2e/crypto.test.mjs (Web Crypto in workerd). Test keys, nothing else.",
            "message": b64url(message),
            "keys": keys,
        });
        let text = serde_json::to_string_pretty(&vectors).unwrap_or_default() + "\n";
        std::fs::write(PATH, text).expect("written");
    }
}
