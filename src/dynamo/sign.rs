//! AWS Signature Version 4 for DynamoDB requests, through the `aws-sigv4` crate, with explicit
//! credentials and an injected time.

use std::fmt;
use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

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

impl Credentials {
    /// The credentials as aws-sigv4 takes them (made once per client, shared by its attempts).
    pub fn identity(&self) -> Identity {
        aws_credential_types::Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.clone(),
            self.session_token.clone(),
            None,
            "dynauth",
        )
        .into()
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

/// Sign `request` for service `dynamodb` in `region` at `time`: adds `x-amz-date`,
/// `authorization` and, with a session token, `x-amz-security-token`. Every header already on the
/// request is signed, and `host` (taken from the URI, port included when not the default).
pub fn sign_request(
    request: &mut http::Request<Vec<u8>>,
    identity: &Identity,
    region: &str,
    time: SystemTime,
) -> Result<(), SignError> {
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name("dynamodb")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| SignError(e.to_string()))?
        .into();
    let mut headers = Vec::with_capacity(request.headers().len());
    for (name, value) in request.headers() {
        let value = value.to_str().map_err(|_| SignError(format!("header {name} is not visible ASCII")))?;
        headers.push((name.as_str(), value));
    }
    let uri = request.uri().to_string();
    let signable =
        SignableRequest::new(request.method().as_str(), uri, headers.into_iter(), SignableBody::Bytes(request.body()))
            .map_err(|e| SignError(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params).map_err(|e| SignError(e.to_string()))?.into_parts();
    let (new_headers, _query) = instructions.into_parts();
    for header in new_headers {
        let mut value = http::HeaderValue::from_str(header.value())
            .map_err(|_| SignError(format!("signed header {} is invalid", header.name())))?;
        value.set_sensitive(header.sensitive());
        request.headers_mut().insert(header.name(), value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
