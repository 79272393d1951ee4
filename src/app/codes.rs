//! Login codes issued for a backend that delivers them itself (the admin API, the CLI): no
//! webhook and no rate limit, the backend owns both.

use crate::app::{ApiError, Ctx, tenants};
use crate::domain::budgets::client_subject;
use crate::domain::login::{Binding, Caller, NewCode};
use crate::values::email::Email;
use crate::values::ids::TenantId;

/// Who asks for a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker<'a> {
    /// A request over HTTP, from this address (`CF-Connecting-IP`), when it has one.
    Address(Option<&'a str>),
    /// The operator, at the command line.
    Operator,
}

/// Issues a login code for `email` of tenant `id`, as the newest login of its client: with
/// `binding` (an earlier code's, for the same end user) that code is superseded and the binding
/// kept; without, a new binding. The code, its login and the binding the verify must present.
pub async fn issue(
    ctx: &Ctx<'_>,
    id: &TenantId,
    email: &Email,
    binding: Option<Binding>,
    asker: Asker<'_>,
) -> Result<NewCode, ApiError> {
    let tenant = tenants::get(ctx, id).await?;
    let address = match asker {
        Asker::Address(ip) => client_subject(ip),
        Asker::Operator => "cli".into(),
    };
    let caller = Caller { address: &address, binding: binding.as_ref() };
    Ok(crate::app::login::logins(ctx).issue(caller, &tenant, email, ctx.now_secs()).await?)
}
