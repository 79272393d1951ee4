//! AWS Signature Version 4 for DynamoDB requests, with aws-sigv4's key derivation and signature,
//! explicit credentials and an injected time.

use std::cell::RefCell;
use std::fmt;
use std::time::SystemTime;

use aws_sigv4::sign::v4;
use sha2::{Digest, Sha256};

/// Static AWS credentials. `Debug` shows the access key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field("session_token", &self.session_token.as_ref().map(|_| "** redacted **"))
            .finish()
    }
}

/// Signing could not be done (a malformed URI or header value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignError(pub String);

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not sign the request: {}", self.0)
    }
}

const SERVICE: &str = "dynamodb";
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Signs the requests of one client: SigV4 for service `dynamodb` in one region, as one identity.
///
/// DynamoDB's requests have one shape (`POST /`, no query, a handful of headers), so the canonical
/// request and the string to sign are assembled here for it, by the rules aws-sigv4 applies (the
/// tests check both against each other and against botocore). The key derivation and the
/// signature are aws-sigv4's (`generate_signing_key`, `calculate_signature`); the day's signing
/// key is derived once per isolate (thread) and day, as aws4fetch does, not four HMACs per request.
#[derive(Clone)]
pub struct Signer {
    credentials: Credentials,
    region: String,
    /// The `host` header as signed: the URI's host, and its port unless the scheme's default.
    host: String,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer").field("region", &self.region).field("host", &self.host).finish_non_exhaustive()
    }
}

impl Signer {
    pub fn new(endpoint: &http::Uri, region: &str, credentials: &Credentials) -> Self {
        let host = endpoint.host().unwrap_or_default();
        let default_port = matches!(
            (endpoint.scheme_str(), endpoint.port_u16()),
            (Some("http"), Some(80)) | (Some("https"), Some(443))
        );
        let host = match endpoint.port_u16() {
            Some(port) if !default_port => format!("{host}:{port}"),
            _ => host.to_string(),
        };
        Self { credentials: credentials.clone(), region: region.to_string(), host }
    }

    /// Signs `request` at `time`: adds `x-amz-date`, `authorization` and, with a session token,
    /// `x-amz-security-token`. Every header already on the request is signed, and `host`.
    pub fn sign(&self, request: &mut http::Request<Vec<u8>>, time: SystemTime) -> Result<(), SignError> {
        let secs = time.duration_since(SystemTime::UNIX_EPOCH).map_err(|_| SignError("time before 1970".into()))?;
        let at = chrono::DateTime::from_timestamp(i64::try_from(secs.as_secs()).unwrap_or(i64::MAX), 0)
            .ok_or_else(|| SignError("time out of range".into()))?;
        let amz_date = at.format("%Y%m%dT%H%M%SZ").to_string();
        let day = &amz_date[..8];

        // The canonical headers: lowercase names (http's are), values trimmed with runs of
        // spaces folded, sorted by name, repeated names joined with ",".
        let mut headers: Vec<(&str, String)> = Vec::with_capacity(request.headers().len() + 3);
        for (name, value) in request.headers() {
            let value = value.to_str().map_err(|_| SignError(format!("header {name} is not visible ASCII")))?;
            let value = trim_all(value);
            match headers.iter_mut().find(|(n, _)| *n == name.as_str()) {
                Some((_, joined)) => {
                    joined.push(',');
                    joined.push_str(&value);
                }
                None => headers.push((name.as_str(), value)),
            }
        }
        if !headers.iter().any(|(n, _)| *n == "host") {
            headers.push(("host", self.host.clone()));
        }
        headers.push(("x-amz-date", amz_date.clone()));
        if let Some(token) = &self.credentials.session_token {
            headers.push(("x-amz-security-token", token.clone()));
        }
        headers.sort_by(|a, b| a.0.cmp(b.0));

        let mut canonical = String::with_capacity(256 + request.body().len() / 8);
        canonical.push_str(request.method().as_str());
        canonical.push_str("\n/\n\n");
        let mut signed = String::with_capacity(80);
        for (name, value) in &headers {
            canonical.push_str(name);
            canonical.push(':');
            canonical.push_str(value);
            canonical.push('\n');
            if !signed.is_empty() {
                signed.push(';');
            }
            signed.push_str(name);
        }
        canonical.push('\n');
        canonical.push_str(&signed);
        canonical.push('\n');
        canonical.push_str(&sha256_hex(request.body()));

        let scope = format!("{day}/{}/{SERVICE}/aws4_request", self.region);
        let string_to_sign = format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", sha256_hex(canonical.as_bytes()));
        let signature = v4::calculate_signature(self.signing_key(day, time), string_to_sign.as_bytes());
        let authorization = format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            self.credentials.access_key_id
        );

        let mut set = |name: &'static str, value: &str, sensitive: bool| -> Result<(), SignError> {
            let mut value = http::HeaderValue::from_str(value)
                .map_err(|_| SignError(format!("signed header {name} is invalid")))?;
            value.set_sensitive(sensitive);
            request.headers_mut().insert(name, value);
            Ok(())
        };
        set("x-amz-date", &amz_date, false)?;
        if let Some(token) = &self.credentials.session_token {
            set("x-amz-security-token", token, true)?;
        }
        set("authorization", &authorization, true)
    }

    /// The signing key of `day` (YYYYMMDD, the date of `time`), from the per-thread cache: one key
    /// per region and secret (a request may read a replica region and write home), re-derived
    /// only when the day changes.
    fn signing_key(&self, day: &str, time: SystemTime) -> [u8; 32] {
        KEYS.with(|cell| {
            let mut keys = cell.borrow_mut();
            let mine = |c: &CachedKey| c.region == self.region && c.secret == self.credentials.secret_access_key;
            if let Some(c) = keys.iter().find(|c| mine(c) && c.day == day) {
                return c.key;
            }
            let derived = v4::generate_signing_key(&self.credentials.secret_access_key, time, &self.region, SERVICE);
            #[cfg(test)]
            DERIVED.with(|n| n.set(n.get() + 1));
            let mut key = [0u8; 32];
            key.copy_from_slice(&derived.as_ref()[..32]);
            keys.retain(|c| !mine(c));
            if keys.len() >= MAX_CACHED_KEYS {
                keys.remove(0);
            }
            keys.push(CachedKey {
                secret: self.credentials.secret_access_key.clone(),
                day: day.to_string(),
                region: self.region.clone(),
                key,
            });
            key
        })
    }
}

/// How many signing keys a thread keeps (one per region and secret in use).
const MAX_CACHED_KEYS: usize = 8;

/// A signing key derived on this thread (an isolate has one), and what it was derived from.
struct CachedKey {
    secret: String,
    day: String,
    region: String,
    key: [u8; 32],
}

thread_local! {
    static KEYS: RefCell<Vec<CachedKey>> = const { RefCell::new(Vec::new()) };
}

#[cfg(test)]
thread_local! {
    /// Signing keys derived on this thread (tests count them).
    static DERIVED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

fn sha256_hex(bytes: &[u8]) -> String {
    let mut out = [0u8; 64];
    // 64 bytes hold the 32 of a digest in hex: this cannot fail.
    let _ = hex::encode_to_slice(Sha256::digest(bytes), &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A header value as SigV4 signs it: spaces trimmed at both ends, runs of spaces folded to one.
fn trim_all(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut space = false;
    for c in value.trim_matches(' ').chars() {
        if c == ' ' {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_smithy_runtime_api::client::identity::Identity;

    use super::*;

    /// The reference: aws-sigv4's whole request signer, as dynauth used it before.
    fn reference(request: &mut http::Request<Vec<u8>>, c: &Credentials, region: &str, time: SystemTime) {
        let identity: Identity = aws_credential_types::Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.clone(),
            c.session_token.clone(),
            None,
            "test",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("dynamodb")
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .expect("the test's own input")
            .into();
        let headers: Vec<(&str, &str)> =
            request.headers().iter().map(|(n, v)| (n.as_str(), v.to_str().unwrap_or_default())).collect();
        let uri = request.uri().to_string();
        let signable = SignableRequest::new(
            request.method().as_str(),
            uri,
            headers.into_iter(),
            SignableBody::Bytes(request.body()),
        )
        .expect("the test's own input");
        let (instructions, _) = sign(signable, &params).expect("the test's own input").into_parts();
        let (new_headers, _) = instructions.into_parts();
        let new_headers: Vec<(String, String)> =
            new_headers.iter().map(|h| (h.name().to_string(), h.value().to_string())).collect();
        for (name, value) in new_headers {
            let value = http::HeaderValue::from_str(&value).expect("the test's own input");
            request
                .headers_mut()
                .insert(http::HeaderName::from_bytes(name.as_bytes()).expect("the test's own input"), value);
        }
    }

    fn request(endpoint: &str, target: &str, body: &str) -> http::Request<Vec<u8>> {
        http::Request::builder()
            .method("POST")
            .uri(endpoint)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", target)
            .body(body.as_bytes().to_vec())
            .expect("the test's own input")
    }

    #[test]
    fn signs_exactly_as_aws_sigv4_does() {
        let endpoints = [
            "http://127.0.0.1:8000/",
            "http://localhost:80/",
            "https://dynamodb.eu-west-1.amazonaws.com/",
            "https://dynamodb.us-east-1.amazonaws.com:443/",
            "https://example.test:8443/",
        ];
        let tokens = [None, Some("FQoGZXIvYXdzEXAMPLE-session-token/with+chars=")];
        let secrets = ["wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "another-secret"];
        let mut time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_979_289);
        let mut checked = 0;
        for (i, endpoint) in endpoints.iter().enumerate() {
            for token in tokens {
                for secret in secrets {
                    for region in ["us-east-1", "ap-southeast-2"] {
                        // Days change between signatures too, so cached keys must follow.
                        time += Duration::from_secs(40_000 + 7 * i as u64);
                        let c = Credentials {
                            access_key_id: "AKIDEXAMPLE".into(),
                            secret_access_key: secret.into(),
                            session_token: token.map(str::to_string),
                        };
                        let uri: http::Uri = endpoint.parse().expect("the test's own input");
                        let body = format!(r#"{{"TableName":"t{i}","Key":{{"PK":{{"S":"a  b"}}}}}}"#);
                        let target =
                            if i % 2 == 0 { "DynamoDB_20120810.GetItem" } else { "  DynamoDB_20120810.Query   x" };
                        let mut ours = request(endpoint, target, &body);
                        Signer::new(&uri, region, &c).sign(&mut ours, time).expect("the test's own input");
                        let mut theirs = request(endpoint, target, &body);
                        reference(&mut theirs, &c, region, time);
                        for name in ["authorization", "x-amz-date", "x-amz-security-token"] {
                            assert_eq!(
                                ours.headers().get(name),
                                theirs.headers().get(name),
                                "{endpoint} {token:?} {region} {name}"
                            );
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 40);
    }

    #[test]
    fn a_cached_key_is_not_used_for_another_day_region_or_secret() {
        let c = |secret: &str| Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: secret.into(),
            session_token: None,
        };
        let uri: http::Uri = "http://127.0.0.1:8000/".parse().expect("the test's own input");
        let day1 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let auth = |signer: &Signer, time| {
            let mut r = request("http://127.0.0.1:8000/", "DynamoDB_20120810.GetItem", "{}");
            signer.sign(&mut r, time).expect("the test's own input");
            let mut reference_request = request("http://127.0.0.1:8000/", "DynamoDB_20120810.GetItem", "{}");
            reference(&mut reference_request, &signer.credentials, &signer.region, time);
            assert_eq!(r.headers().get("authorization"), reference_request.headers().get("authorization"));
            r.headers().get("authorization").cloned()
        };
        let a = auth(&Signer::new(&uri, "us-east-1", &c("s1")), day1);
        let b = auth(&Signer::new(&uri, "us-east-1", &c("s2")), day1);
        let d = auth(&Signer::new(&uri, "eu-west-1", &c("s1")), day1);
        let e = auth(&Signer::new(&uri, "us-east-1", &c("s1")), day1 + Duration::from_secs(86_400));
        assert_eq!(auth(&Signer::new(&uri, "us-east-1", &c("s1")), day1), a, "same inputs, same signature");
        assert!(a != b && a != d && a != e && b != d);
    }

    #[test]
    fn requests_alternating_regions_keep_a_key_per_region() {
        std::thread::spawn(|| {
            let credentials =
                Credentials { access_key_id: "AKID".into(), secret_access_key: "s".into(), session_token: None };
            let uri: http::Uri = "http://127.0.0.1:8000/".parse().expect("the test's own input");
            let (home, replica) =
                (Signer::new(&uri, "us-east-1", &credentials), Signer::new(&uri, "eu-west-1", &credentials));
            let day = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
            for _ in 0..5 {
                for signer in [&home, &replica] {
                    let mut r = request("http://127.0.0.1:8000/", "DynamoDB_20120810.GetItem", "{}");
                    signer.sign(&mut r, day).expect("the test's own input");
                }
            }
            assert_eq!(DERIVED.with(std::cell::Cell::get), 2, "one key per region, each derived once");
            let mut r = request("http://127.0.0.1:8000/", "DynamoDB_20120810.GetItem", "{}");
            home.sign(&mut r, day + Duration::from_secs(86_400)).expect("the test's own input");
            assert_eq!(DERIVED.with(std::cell::Cell::get), 3, "a new day, a new key");
        })
        .join()
        .unwrap_or_else(|_| panic!("the signing thread panicked"));
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: Some("tok-secret".into()),
        };
        let shown = format!("{c:?}");
        assert!(shown.contains("AKIDEXAMPLE"));
        assert!(!shown.contains("wJalr"), "{shown}");
        assert!(!shown.contains("tok-secret"), "{shown}");
    }
}
