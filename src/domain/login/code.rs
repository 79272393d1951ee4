//! A login's secrets: the numeric code (uniform digits; only its keyed hash is stored) and the
//! binding that ties the login to the client that started it.

use crate::platform::crypto::{b64url, b64url_decode, hash_b64, hmac_parts};
use crate::platform::runtime::{Random, random_u64};
use crate::values::ids::{LoginId, TenantId};

crate::values::secret::secret! {
    /// A numeric login code. `Debug` never shows it.
    pub struct LoginCode;
}

impl LoginCode {
    /// `length` decimal digits, uniformly random: draws that would bias the remainder are
    /// rejected.
    pub fn generate(random: &dyn Random, length: u8) -> Self {
        let length = u32::from(length.clamp(6, 10));
        let modulus = 10u64.pow(length);
        let limit = u64::MAX - (u64::MAX % modulus);
        loop {
            let v = random_u64(random);
            if v < limit {
                return Self(format!("{:0width$}", v % modulus, width = length as usize));
            }
        }
    }

    /// A code as a user typed it (surrounding spaces ignored); any string is accepted, since a
    /// malformed code is simply a wrong one.
    pub fn presented(raw: &str) -> Self {
        Self(raw.trim().to_string())
    }
}

crate::values::secret::secret! {
    /// The secret that ties a login to the client that started it: 32 random bytes, base64url. A
    /// browser keeps it in an HttpOnly cookie, a server-side client in its own state; only its hash
    /// is stored. `Debug` never shows it.
    pub struct Binding;
}

impl Binding {
    pub fn generate(random: &dyn Random) -> Self {
        Self(random.secret_b64())
    }

    /// A binding as a client presents it; `None` unless it is 43 base64url characters of 32
    /// bytes.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        (raw.len() == 43 && b64url_decode(raw).is_some_and(|b| b.len() == 32)).then(|| Self(raw.to_string()))
    }

    /// `h(binding)`: the only form that is stored.
    pub fn hash(&self) -> String {
        hash_b64(self.0.as_bytes())
    }
}

/// HMAC-SHA256(`TOKEN_SECRET`, tenant, login id, code): the only form of a code that is stored.
pub fn code_hash(secret: &[u8], tenant: &TenantId, login_id: &LoginId, code: &LoginCode) -> String {
    b64url(&hmac_parts(
        secret,
        &[b"dynauth-login-code-v1", tenant.as_str().as_bytes(), login_id.as_str().as_bytes(), code.0.as_bytes()],
    ))
}
