//! Email addresses: a practical subset of RFC 5322 (dot-atom local part, a DNS domain with a dot),
//! at most 254 characters, normalized by trimming and lowercasing (the domain also to punycode).
//! An [`Email`] is always normalized: one user per email per tenant rests on it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::values::host;

/// A normalized email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// `raw` trimmed, lowercased and its domain in punycode, or why it is refused.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        normalize(raw).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address rate limits count under: the part before the @ without its `+tag` (the
    /// address is already lowercase), so `ann+1@x.com` and `Ann@x.com` share one budget while
    /// each stays its own identity.
    pub fn bucket(&self) -> String {
        match self.0.rsplit_once('@') {
            Some((local, domain)) => {
                let base = local.split('+').next().filter(|b| !b.is_empty()).unwrap_or(local);
                format!("{base}@{domain}")
            }
            None => self.0.clone(),
        }
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// The normalized address, or why it was refused.
fn normalize(raw: &str) -> Result<String, &'static str> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("is required");
    }
    if trimmed.len() > 254 {
        return Err("must be at most 254 characters");
    }
    // ASCII lowercasing is enough: the part before the @ must be ASCII, and the domain is case
    // mapped by IDNA.
    let lower = trimmed.to_ascii_lowercase();
    let Some((local, domain)) = lower.rsplit_once('@') else {
        return Err("must be an email address like name@example.com");
    };
    let local_ok = (1..=64).contains(&local.len())
        && local.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    if !local_ok {
        return Err("has an invalid part before the @");
    }
    if domain.contains(':') || domain.ends_with('.') {
        return Err("has an invalid domain");
    }
    let domain = host::canonical(domain).map_err(|_| "has an invalid domain")?;
    let d = domain.as_str();
    let tld = d.rsplit('.').next().unwrap_or("");
    if !d.contains('.') || tld.len() < 2 || tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err("has an invalid domain");
    }
    let normalized = format!("{local}@{d}");
    if normalized.len() > 254 {
        return Err("must be at most 254 characters");
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_buckets_drop_case_and_tags_but_identity_keeps_them() {
        let e = |raw: &str| Email::parse(raw).expect("the test's own input");
        assert_eq!(e("Ann+News@Example.com").bucket(), "ann@example.com");
        assert_eq!(e("Ann+News@Example.com").as_str(), "ann+news@example.com");
        assert_eq!(e("ann+a+b@example.com").bucket(), "ann@example.com");
        assert_eq!(e("+x@example.com").bucket(), "+x@example.com", "nothing before the tag: kept whole");
        assert_eq!(e("ann@example.com").bucket(), "ann@example.com");
    }

    #[test]
    fn accepted_and_normalized() {
        let cases = [
            ("  Alice@Example.COM ", "alice@example.com"),
            ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
            ("o'brien@example.ie", "o'brien@example.ie"),
            ("x@bücher.example", "x@xn--bcher-kva.example"),
            ("X@BÜCHER.Example", "x@xn--bcher-kva.example"),
            ("a_b-c@example.io", "a_b-c@example.io"),
        ];
        for (raw, want) in cases {
            assert_eq!(Email::parse(raw).map(|e| e.to_string()).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn refused() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let too_long = format!("{}@{}.com", "a".repeat(64), "b".repeat(190));
        let cases = [
            ("", "is required"),
            ("   ", "is required"),
            ("plainaddress", "must be an email address like name@example.com"),
            ("@example.com", "has an invalid part before the @"),
            (".a@example.com", "has an invalid part before the @"),
            ("a.@example.com", "has an invalid part before the @"),
            ("a..b@example.com", "has an invalid part before the @"),
            ("a b@example.com", "has an invalid part before the @"),
            ("a\"b@example.com", "has an invalid part before the @"),
            ("ä@example.com", "has an invalid part before the @"),
            (&long_local, "has an invalid part before the @"),
            ("a@localhost", "has an invalid domain"),
            ("a@127.0.0.1", "has an invalid domain"),
            ("a@example", "has an invalid domain"),
            ("a@example.c", "has an invalid domain"),
            ("a@exa_mple.com", "has an invalid domain"),
            ("a@example.com.", "has an invalid domain"),
            ("a@example.com:25", "has an invalid domain"),
            ("a@@example.com", "has an invalid part before the @"),
            (&too_long, "must be at most 254 characters"),
        ];
        for (raw, want) in cases {
            assert_eq!(Email::parse(raw), Err(want), "{raw}");
        }
    }
}
