//! Delivering codes: where a tenant's codes go (its webhook or the platform's) and the signed
//! request that carries one.

use serde::Serialize;

use crate::domain::tenants::{Tenant, TenantSecret};
use crate::platform::crypto::hmac_hex;
use crate::platform::runtime::{AnswerLimit, OUTSIDE_ANSWER_LIMIT, TransportError};
use crate::values::email::Email;
use crate::values::ids::{LoginId, TenantId};

/// Where codes are delivered: the webhook URL, and the secrets its posts are signed with (one,
/// or two while a tenant's webhook secret rotation overlaps, newest first).
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    pub url: &'a str,
    pub secrets: Vec<&'a [u8]>,
}

/// Why a login code cannot be delivered (a deployment's configuration is missing a part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undeliverable {
    /// `CODE_WEBHOOK_URL` is set without `CODE_WEBHOOK_SECRET` (every post is signed).
    NoSecret,
    /// Neither the tenant nor the deployment has a webhook, and this is not `DEV_MODE`.
    NoWebhook,
}

/// Where a tenant's login codes go: its own `code_webhook_url`, signed with its own webhook
/// secrets (`tenant_secrets`, newest first: every valid one signs); else the deployment's
/// `platform` webhook with its secret; else, in `dev_mode` only, nowhere (the code is answered
/// and logged to the developer).
pub fn delivery<'a>(
    tenant: &'a Tenant,
    tenant_secrets: &'a [TenantSecret],
    platform: Option<(&'a str, Option<&'a [u8]>)>,
    dev_mode: bool,
) -> Result<Option<Delivery<'a>>, Undeliverable> {
    match (&tenant.code_webhook_url, platform) {
        (Some(url), _) => {
            Ok(Some(Delivery { url, secrets: tenant_secrets.iter().map(|s| s.expose().as_bytes()).collect() }))
        }
        (None, Some((url, Some(secret)))) => Ok(Some(Delivery { url, secrets: vec![secret] })),
        (None, Some((_, None))) => Err(Undeliverable::NoSecret),
        (None, None) if dev_mode => Ok(None),
        (None, None) => Err(Undeliverable::NoWebhook),
    }
}

/// What the webhook is sent, as JSON.
#[derive(Debug, Serialize)]
pub(crate) struct CodeMessage<'a> {
    pub(crate) tenant: &'a TenantId,
    pub(crate) email: &'a Email,
    pub(crate) code: &'a str,
    pub(crate) login_id: &'a LoginId,
    pub(crate) expires_at: String,
}

/// The webhook request for `message`: JSON, with `x-dynauth-signature: t=<unix>,v1=<hex
/// HMAC-SHA256 of "<unix>.<body>">`, one `v1` per secret.
pub(crate) fn webhook_request(
    url: &str,
    secrets: &[&[u8]],
    message: &impl Serialize,
    now: i64,
) -> Result<http::Request<Vec<u8>>, TransportError> {
    let body = serde_json::to_vec(message).map_err(|e| TransportError(e.to_string()))?;
    let mut signed = format!("{now}.").into_bytes();
    signed.extend_from_slice(&body);
    let mut signature = format!("t={now}");
    for secret in secrets {
        signature.push_str(",v1=");
        signature.push_str(&hmac_hex(secret, &signed));
    }
    http::Request::builder()
        .method(http::Method::POST)
        .uri(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("x-dynauth-signature", signature)
        .header(http::header::USER_AGENT, "dynauth-webhook/1")
        .extension(AnswerLimit(OUTSIDE_ANSWER_LIMIT))
        .body(body)
        .map_err(|e| TransportError(e.to_string()))
}
