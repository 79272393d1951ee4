//! Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3),
//! with the failure budgets that keep a confidential client's secret from being guessed.

use crate::app::login::too_many;
use crate::app::{ApiError, Ctx};
use crate::domain::budgets::{self, Budget};
use crate::domain::oidc;
use crate::domain::tenants::Tenant;
use crate::domain::tenants::clients::{self, Client, ClientSecret, ClientType};
use crate::values::ids::ClientId;

/// The client credentials a request presents, as the rim read them: HTTP Basic
/// (`client_secret_basic`) or `client_id` (and `client_secret`) in the body; and the address it
/// came from (`CF-Connecting-IP`), which its failures are budgeted by.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub id: Option<String>,
    pub secret: Option<ClientSecret>,
    /// They came as HTTP Basic: a refusal carries a Basic challenge.
    pub basic: bool,
    pub address: Option<String>,
}

/// The client `credentials` authenticate as: 401 `invalid_client` otherwise, with a Basic
/// challenge when Basic was tried.
///
/// A confidential client's wrong secrets are budgeted ([`Limits::client_auth`]): per (client,
/// address), and a ceiling per client over all addresses. A secret is compared only while the
/// address's budget has some left and, for an address that has sent a wrong secret this window,
/// while the ceiling has too; a wrong one spends a unit of each (of the address's alone once the
/// ceiling is spent): 429 + Retry-After past either. So one address locks out only itself, and
/// the ceiling holds back every address that guesses without ever holding back the rightful
/// client, whose addresses send no wrong secret.
///
/// [`Limits::client_auth`]: crate::domain::budgets::Limits::client_auth
pub async fn authenticate(ctx: &Ctx<'_>, tenant: &Tenant, credentials: &Credentials) -> Result<Client, ApiError> {
    let Credentials { id, secret, basic, address } = credentials;
    let client = match id.as_deref().map(ClientId::parse) {
        Some(Ok(id)) => clients::get(&ctx.store, tenant, &id).await?,
        _ => None,
    };
    let secret = secret.as_ref().filter(|s| !s.expose().is_empty() || *basic);
    let compared = client.as_ref().filter(|c| c.client_type == ClientType::Confidential && secret.is_some());
    let now = ctx.now_secs();
    let limits = compared.map(|c| {
        let address = budgets::client_subject(address.as_deref());
        ctx.config.login.limits.client_auth(c.client_id.as_str(), &address)
    });
    if let Some([here, ceiling]) = &limits {
        let spent_here = here.count(&ctx.store, &tenant.id, now).await?;
        if let Some(exceeded) = here.exceeded(spent_here, now) {
            return Err(too_many(exceeded));
        }
        if spent_here > 0
            && let Some(exceeded) = ceiling.exceeded(ceiling.count(&ctx.store, &tenant.id, now).await?, now)
        {
            return Err(too_many(exceeded));
        }
    }
    let refused = match oidc::authenticate(client, secret) {
        Ok(authenticated) => return Ok(authenticated.client),
        Err(e) => e,
    };
    if let Some([here, ceiling]) = limits {
        let spend = async |limits: &mut [Budget]| budgets::spend(&ctx.store, ctx.random, &tenant.id, limits, now).await;
        match spend(&mut [here.clone(), ceiling]).await? {
            Ok(()) => {}
            Err(exceeded) => {
                if exceeded.kind != here.kind {
                    // The ceiling is spent: this address's own guess still counts against it.
                    let _ = spend(&mut [here]).await?;
                }
                return Err(too_many(exceeded));
            }
        }
    }
    Err(ApiError::OAuth {
        status: 401,
        error: refused.error,
        description: refused.description,
        challenge: basic.then(|| "Basic realm=\"dynauth\"".to_string()),
    })
}
