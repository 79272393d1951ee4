//! `POST /v1/admin/tenants/{id}/codes` ([`crate::app::codes`]).

use serde::Deserialize;

use crate::api::{ApiError, Ctx, Request, Response, body, client_ip, json_response, views};
use crate::app::codes::{self, Asker};
use crate::domain::login::Binding;
use crate::values::codes::ErrorCode;
use crate::values::email::Email;
use crate::values::ids::TenantId;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    email: Email,
    /// The binding of an earlier code for the same end user, to keep (that code is superseded).
    #[serde(default)]
    binding: Option<String>,
}

/// `{"email", "binding"?}`: 201 `{"login_id", "code", "expires_at", "binding"}` for a backend that
/// delivers codes itself (no webhook, no rate limit: the backend owns both). The binding is what
/// the verify must present: the backend keeps it for its user.
pub(super) async fn issue(ctx: &Ctx<'_>, request: &Request, id: &TenantId) -> Result<Response, ApiError> {
    let IssueBody { email, binding } = body::json(request)?;
    let binding = match binding {
        Some(raw) => Some(Binding::parse(&raw).ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::InvalidRequest,
                "binding: must be the binding an earlier code was issued with",
            )
        })?),
        None => None,
    };
    let issued = codes::issue(ctx, id, &email, binding, Asker::Address(client_ip(request))).await?;
    let view = views::CodeIssued {
        login_id: &issued.login.login_id,
        code: issued.code.expose(),
        expires_at: views::Time(issued.login.expires_at),
        binding: issued.binding.expose(),
    };
    Ok(json_response(201, &view))
}
