//! The crypto service: signatures with asymmetric keys (sign, verify, generate a key, the public
//! half of a private one) for the three JWS algorithms dynauth uses, RS256, ES256 and EdDSA.
//!
//! It is a service like the [`Transport`](super::runtime::Transport) and the
//! [`Clock`](super::runtime::Clock): the Worker's is the runtime's Web Crypto (`crypto.subtle`,
//! native code, driven as an operation like a `fetch`: see `Op::Crypto` in [`super::driver`]), each
//! key imported once per isolate and kept there as a `CryptoKey`; natively (the CLI, the tests) it
//! is RustCrypto's vetted crates (`src/platform/native_crypto.rs`). Test vectors
//! (`tests/fixtures/signatures.json`) prove that each verifies what the other signs.
//!
//! Keys cross as JWKs (RFC 7517/7518; Ed25519 per RFC 8037), the one format both sides read
//! whole, except an Ed25519 key of which only the seed is known (dynauth derives those): it
//! crosses as PKCS#8, from which Web Crypto computes the public half natively.

use std::fmt;

use num_bigint::BigUint;
use serde::{Deserialize, Serialize};

use super::crypto::{b64url, b64url_decode};
use super::runtime::LocalFuture;

/// A JWS signature algorithm (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    Rs256,
    /// ECDSA on P-256 with SHA-256; the signature is `r || s`, 64 bytes.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl Alg {
    /// Its JWS name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The algorithm of JWS name `name`.
    pub fn of_name(name: &str) -> Option<Self> {
        [Self::Rs256, Self::Es256, Self::EdDsa].into_iter().find(|a| a.name() == name)
    }
}

/// A key as a JWK: the public members, and the private ones of a private key. Only what the
/// three algorithms use.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyJwk {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
}

impl fmt::Debug for KeyJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyJwk").field("kty", &self.kty).field("crv", &self.crv).finish_non_exhaustive()
    }
}

impl KeyJwk {
    /// The public members only.
    pub fn public(&self) -> Self {
        Self {
            kty: self.kty.clone(),
            crv: self.crv.clone(),
            n: self.n.clone(),
            e: self.e.clone(),
            x: self.x.clone(),
            y: self.y.clone(),
            ..Self::default()
        }
    }

    /// The RFC 7638 thumbprint: SHA-256 of the required public members in lexicographic order,
    /// unpadded base64url. dynauth names every key (`kid`) by it.
    pub fn thumbprint(&self) -> String {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        let canonical = match self.kty.as_str() {
            "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, s(&self.e), s(&self.n)),
            "EC" => format!(r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#, s(&self.crv), s(&self.x), s(&self.y)),
            _ => format!(r#"{{"crv":"{}","kty":"{}","x":"{}"}}"#, s(&self.crv), self.kty, s(&self.x)),
        };
        super::crypto::hash_b64(canonical.as_bytes())
    }

    /// The complete private JWK of the RSA key with primes `p`, `q` and public exponent `e`
    /// (big-endian bytes): `n`, `d` (the inverse of `e` modulo (p-1)(q-1)) and the CRT values
    /// (RFC 7518 §6.3.2). `None` when they are not such a key.
    pub fn rsa_from_primes(p: &[u8], q: &[u8], e: &[u8]) -> Option<Self> {
        let (p, q, e) = (BigUint::from_bytes_be(p), BigUint::from_bytes_be(q), BigUint::from_bytes_be(e));
        let one = BigUint::from(1u8);
        if p <= one || q <= one || e <= one {
            return None;
        }
        let (p1, q1) = (&p - &one, &q - &one);
        let d = e.modinv(&(&p1 * &q1))?;
        let qi = q.modinv(&p)?;
        let n = &p * &q;
        let b = |v: &BigUint| Some(b64url(&v.to_bytes_be()));
        Some(Self {
            kty: "RSA".into(),
            n: b(&n),
            e: b(&e),
            d: b(&d),
            dp: b(&(&d % &p1)),
            dq: b(&(&d % &q1)),
            qi: b(&qi),
            p: b(&p),
            q: b(&q),
            ..Self::default()
        })
    }

    /// Member `name`'s bytes (base64url-decoded).
    pub fn bytes(member: &Option<String>) -> Option<Vec<u8>> {
        b64url_decode(member.as_deref()?)
    }
}

/// A private key as the service takes it.
#[derive(Clone)]
pub struct PrivateKey {
    /// Names this key material (the same id, the same key: the Worker imports it once per
    /// isolate by this name).
    pub id: String,
    pub alg: Alg,
    pub material: Material,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey").field("id", &self.id).field("alg", &self.alg).finish_non_exhaustive()
    }
}

/// What a private key is made of (made once per key and kept: its size does not matter).
#[derive(Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Material {
    /// A private JWK (RS256, ES256).
    Jwk(KeyJwk),
    /// An Ed25519 key's 32-byte seed (RFC 8032 §5.1.5), the public half not known yet.
    Seed([u8; 32]),
}

impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Jwk(_) => "Jwk(** redacted **)",
            Self::Seed(_) => "Seed(** redacted **)",
        })
    }
}

/// The PKCS#8 `PrivateKeyInfo` of an Ed25519 seed (RFC 8410 §7): a fixed prefix and the seed.
pub fn ed25519_pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    const PREFIX: [u8; 16] =
        [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    [PREFIX.as_slice(), seed].concat()
}

/// A public key as the service takes it.
#[derive(Debug, Clone)]
pub struct PublicKey {
    /// Names this key (see [`PrivateKey::id`]; a public key's id must differ from its private
    /// half's).
    pub id: String,
    pub alg: Alg,
    /// Its public JWK.
    pub jwk: KeyJwk,
}

/// Why the crypto service did not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoError(pub String);

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "crypto error: {}", self.0)
    }
}

impl std::error::Error for CryptoError {}

/// Signatures with asymmetric keys.
pub trait Crypto {
    /// The signature of `data` with `key`, as JWS carries it (RS256: PKCS#1 v1.5; ES256: `r||s`;
    /// EdDSA: the 64-byte Ed25519 signature).
    fn sign<'a>(&'a self, key: &'a PrivateKey, data: &'a [u8]) -> LocalFuture<'a, Result<Vec<u8>, CryptoError>>;
    /// Whether `signature` is `key`'s over `data` (false, not an error, for a malformed one).
    fn verify<'a>(
        &'a self,
        key: &'a PublicKey,
        data: &'a [u8],
        signature: &'a [u8],
    ) -> LocalFuture<'a, Result<bool, CryptoError>>;
    /// A new key of `alg`, as a private JWK with its public members (RS256: 2048 bits, e = 65537;
    /// ES256: P-256).
    fn generate(&self, alg: Alg) -> LocalFuture<'_, Result<KeyJwk, CryptoError>>;
    /// The public JWK of `key` (what an Ed25519 seed's public half is).
    fn public_jwk<'a>(&'a self, key: &'a PrivateKey) -> LocalFuture<'a, Result<KeyJwk, CryptoError>>;
}

/// The crypto service of a host that makes no signatures (the edge Worker, whose routes need
/// none): every call fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unsupported;

impl Unsupported {
    fn refuse<'a, T: 'a>() -> LocalFuture<'a, Result<T, CryptoError>> {
        Box::pin(std::future::ready(Err(CryptoError("this Worker makes no signatures".into()))))
    }
}

impl Crypto for Unsupported {
    fn sign<'a>(&'a self, _: &'a PrivateKey, _: &'a [u8]) -> LocalFuture<'a, Result<Vec<u8>, CryptoError>> {
        Self::refuse()
    }
    fn verify<'a>(&'a self, _: &'a PublicKey, _: &'a [u8], _: &'a [u8]) -> LocalFuture<'a, Result<bool, CryptoError>> {
        Self::refuse()
    }
    fn generate(&self, _: Alg) -> LocalFuture<'_, Result<KeyJwk, CryptoError>> {
        Self::refuse()
    }
    fn public_jwk<'a>(&'a self, _: &'a PrivateKey) -> LocalFuture<'a, Result<KeyJwk, CryptoError>> {
        Self::refuse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rest_of_an_rsa_key_from_its_primes() {
        // p = 61, q = 53, e = 17: the textbook key (n = 3233, d = 2753 modulo (p-1)(q-1) = 3120).
        let jwk = KeyJwk::rsa_from_primes(&[61], &[53], &[17]).expect("a key");
        let num = |m: &Option<String>| KeyJwk::bytes(m).map(|b| BigUint::from_bytes_be(&b));
        assert_eq!(num(&jwk.n), Some(BigUint::from(3233u32)));
        assert_eq!(num(&jwk.d), Some(BigUint::from(2753u32)));
        assert_eq!(num(&jwk.dp), Some(BigUint::from(53u32)), "d mod (p-1)");
        assert_eq!(num(&jwk.dq), Some(BigUint::from(49u32)), "d mod (q-1)");
        assert_eq!(num(&jwk.qi), Some(BigUint::from(38u32)), "53 * 38 = 2014 = 33 * 61 + 1");
        assert_eq!((jwk.kty.as_str(), jwk.public().d), ("RSA", None));
        assert!(KeyJwk::rsa_from_primes(&[4], &[2], &[3]).is_none(), "e has no inverse: not a key");
        assert!(KeyJwk::rsa_from_primes(&[1], &[53], &[17]).is_none());
    }

    #[test]
    fn thumbprints_are_rfc_7638s() {
        // RFC 7638 §3.1's example key.
        let rsa = KeyJwk {
            kty: "RSA".into(),
            e: Some("AQAB".into()),
            n: Some("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into()),
            ..KeyJwk::default()
        };
        assert_eq!(rsa.thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        // RFC 8037 appendix A.3.
        let okp = KeyJwk {
            kty: "OKP".into(),
            crv: Some("Ed25519".into()),
            x: Some("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into()),
            ..KeyJwk::default()
        };
        assert_eq!(okp.thumbprint(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        assert_eq!(Alg::of_name("ES256"), Some(Alg::Es256));
        assert_eq!(Alg::of_name("none"), None);
    }
}
