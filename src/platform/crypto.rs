//! The few cryptographic helpers dynauth needs: SHA-256 and HMAC-SHA256 (the same `sha2`/`hmac`
//! crates `aws-sigv4` uses), base64 (RFC 4648: unpadded base64url, and padded base64 for HTTP
//! Basic credentials), and constant-time comparison. Hex is the `hex` crate's. Signatures are the
//! crypto service's ([`super::signature`]).
//!
//! Base64 is written here, strict as the `base64` crate's standard engines are (the tests
//! compare the two): that crate's generic engine cost the edge Worker 6.7 KB of code.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// `h(x)`: unpadded base64url of SHA-256 of `data`.
pub fn hash_b64(data: &[u8]) -> String {
    b64url(&Sha256::digest(data))
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

const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Each byte's value in `alphabet`, or 0xff.
const fn values(alphabet: &[u8; 64]) -> [u8; 256] {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
}

const URL_SAFE_VALUES: [u8; 256] = values(URL_SAFE);
const STANDARD_VALUES: [u8; 256] = values(STANDARD);

fn encode(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        let symbols = chunk.len() + 1;
        for i in 0..4 {
            if i < symbols {
                out.push(char::from(alphabet[(n >> (18 - 6 * i) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// `text` decoded, or `None` unless it is canonical: symbols of the alphabet only, padding
/// exactly where `padded` needs it (and none otherwise), no stray bits in the last symbol.
fn decode(text: &str, values: &[u8; 256], padded: bool) -> Option<Vec<u8>> {
    let mut symbols = text.as_bytes();
    if padded {
        if !symbols.len().is_multiple_of(4) {
            return None;
        }
        let pads = symbols.iter().rev().take_while(|&&b| b == b'=').count();
        symbols = &symbols[..symbols.len() - pads];
        if (4 - symbols.len() % 4) % 4 != pads {
            return None;
        }
    }
    if symbols.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(symbols.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &symbol in symbols {
        let value = values[usize::from(symbol)];
        if value == 0xff {
            return None;
        }
        acc = acc << 6 | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

/// Unpadded base64url.
pub fn b64url(data: &[u8]) -> String {
    encode(data, URL_SAFE, false)
}

/// Decode unpadded base64url.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    decode(text, &URL_SAFE_VALUES, false)
}

/// Padded base64 (RFC 4648 §4), as HTTP Basic credentials are written.
pub fn b64(data: &[u8]) -> String {
    encode(data, STANDARD, true)
}

/// Decode padded base64.
pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    decode(text, &STANDARD_VALUES, true)
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
    fn base64_is_the_base64_crates() {
        use base64::Engine;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        // Every length up to 70 of varied bytes, both ways.
        let data: Vec<u8> = (0..70u32).map(|i| (i * 167 + 13) as u8).collect();
        for len in 0..data.len() {
            let d = &data[..len];
            assert_eq!(b64url(d), URL_SAFE_NO_PAD.encode(d));
            assert_eq!(b64(d), STANDARD.encode(d));
            assert_eq!(b64url_decode(&b64url(d)).as_deref(), Some(d));
            assert_eq!(b64_decode(&b64(d)).as_deref(), Some(d));
        }
        // What one accepts, the other does (and decodes alike): every string of up to 3 symbols
        // over a small alphabet with each kind of trouble in it, and longer cases by hand.
        let symbols = ["A", "Q", "B", "z", "-", "_", "+", "/", "=", " ", "é", "\n"];
        let mut cases = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> =
                cases.iter().flat_map(|c| symbols.iter().map(move |s| format!("{c}{s}"))).collect();
            cases.extend(longer);
            cases.dedup();
        }
        cases.extend(
            ["QUJD", "QUI=", "QQ==", "QR==", "QUJ=", "QQ=", "QQ===", "Q===", "QUJDRA==", "QU=D"].map(String::from),
        );
        for case in &cases {
            assert_eq!(b64url_decode(case), URL_SAFE_NO_PAD.decode(case).ok(), "base64url {case:?}");
            assert_eq!(b64_decode(case), STANDARD.decode(case).ok(), "base64 {case:?}");
        }
    }

    #[test]
    fn base64url_round_trip() {
        let data = [0xfbu8, 0xff, 0x00, 0x10];
        assert_eq!(b64url(&data), "-_8AEA");
        assert_eq!(b64url_decode("-_8AEA"), Some(data.to_vec()));
        assert_eq!(b64url_decode("not base64!"), None);
    }
}
