//! Opaque, signed pagination cursors. A cursor carries a DynamoDB `LastEvaluatedKey`, bound to the
//! list it came from (its scope) and signed with `TOKEN_SECRET`, so a client can neither read
//! meaning into it nor forge or move one: anything altered is `invalid_cursor`, never a 500.

use crate::dynamo::Item;
use crate::platform::crypto::{b64url, b64url_decode, constant_time_eq, hmac_parts};

const MAX_LEN: usize = 4096;

/// `payload.signature`, both base64url.
pub fn encode(secret: &[u8], scope: &str, key: &Item) -> String {
    let payload = b64url(&serde_json::to_vec(key).unwrap_or_default());
    let tag = tag(secret, scope, &payload);
    format!("{payload}.{}", b64url(&tag))
}

/// The key in `cursor`, when it was made by [`encode`] for the same `scope` and secret.
pub fn decode(secret: &[u8], scope: &str, cursor: &str) -> Option<Item> {
    if cursor.len() > MAX_LEN {
        return None;
    }
    let (payload, signature) = cursor.split_once('.')?;
    let signature = b64url_decode(signature)?;
    if !constant_time_eq(&signature, &tag(secret, scope, payload)) {
        return None;
    }
    serde_json::from_slice(&b64url_decode(payload)?).ok()
}

fn tag(secret: &[u8], scope: &str, payload: &str) -> Vec<u8> {
    hmac_parts(secret, &[b"dynauth-cursor-v1", scope.as_bytes(), payload.as_bytes()])[..16].to_vec()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::dynamo::s;

    fn key() -> Item {
        Item::from(HashMap::from([("PK".to_string(), s("TENANT#a")), ("GSI1SK".to_string(), s("TENANT#a"))]))
    }

    #[test]
    fn round_trip() {
        let c = encode(b"secret", "tenants", &key());
        assert_eq!(decode(b"secret", "tenants", &c), Some(key()));
        assert!(!c.contains("TENANT"), "opaque: {c}");
    }

    #[test]
    fn tampering_scope_and_secret_are_refused() {
        let c = encode(b"secret", "tenants", &key());
        let (payload, sig) = c.split_once('.').unwrap_or_default();
        let forged_payload = b64url(br#"{"PK":{"S":"TENANT#z"}}"#);
        for bad in [
            format!("{forged_payload}.{sig}"),
            format!("{payload}.{}", b64url(&[0u8; 16])),
            format!("{payload}x.{sig}"),
            payload.to_string(),
            String::new(),
            "..".to_string(),
            "%%%.%%%".to_string(),
            "a".repeat(5000),
        ] {
            assert_eq!(decode(b"secret", "tenants", &bad), None, "{bad}");
        }
        assert_eq!(decode(b"secret", "sessions:a:u1", &c), None, "bound to its list");
        assert_eq!(decode(b"other", "tenants", &c), None, "bound to the secret");
    }
}
