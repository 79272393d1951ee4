//! The few cryptographic helpers dynauth needs: SHA-256 and HMAC-SHA256 (the same `sha2`/`hmac`
//! crates `aws-sigv4` uses), unpadded base64url, and constant-time comparison. Hex is the `hex`
//! crate's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// `h(x)`: unpadded base64url of SHA-256 of `data`.
pub fn hash_b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(data))
}

/// HMAC-SHA256 of `parts` under `key`, each part length-prefixed so that no two different
/// lists of parts give the same input.
pub fn hmac_parts(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        // HMAC accepts keys of any length; this branch cannot be taken.
        return [0; 32];
    };
    for part in parts {
        mac.update(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 of `data` under `key`, as lowercase hex.
pub fn hmac_hex(key: &[u8], data: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

/// Unpadded base64url.
pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decode unpadded base64url.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Equality that takes the same time wherever the inputs differ. Both sides are hashed first so
/// the time does not depend on the lengths either.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let (ha, hb) = (Sha256::digest(a), Sha256::digest(b));
    let mut diff = 0u8;
    for (x, y) in ha.iter().zip(hb.iter()) {
        diff |= x ^ y;
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_vector() {
        // SHA-256("abc") = ba7816bf...15ad
        assert_eq!(hash_b64(b"abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    }

    #[test]
    fn hmac_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            hmac_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hmac_parts_are_unambiguous() {
        assert_ne!(hmac_parts(b"k", &[b"ab", b"c"]), hmac_parts(b"k", &[b"a", b"bc"]));
        assert_eq!(hmac_parts(b"k", &[b"a", b"bc"]), hmac_parts(b"k", &[b"a", b"bc"]));
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"Same"));
        assert!(!constant_time_eq(b"same", b"same-but-longer"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn base64url_round_trip() {
        let data = [0xfbu8, 0xff, 0x00, 0x10];
        assert_eq!(b64url(&data), "-_8AEA");
        assert_eq!(b64url_decode("-_8AEA"), Some(data.to_vec()));
        assert_eq!(b64url_decode("not base64!"), None);
    }
}
