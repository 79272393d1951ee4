//! The settings every layer is handed, typed (the DynamoDB clients' and the table's, the secrets,
//! the caches', the login limits), parsed once from wrangler vars and secrets or any name ->
//! value lookup the host hands in (the Worker's env, the CLI's environment). A missing or
//! malformed setting is a [`ConfigError`] that names the variable and never shows its value.

use std::fmt;
use std::time::Duration;

use crate::domain::budgets::Limits;
use crate::domain::jwt::MasterKey;
use crate::domain::resolve::CacheSettings;
use crate::dynamo::{ClientConfig, Credentials, Endpoint, RetryPolicy};
use crate::table::schema::{Index, Schema};
use crate::values::ids::TenantId;

crate::values::secret::secret! {
    /// A secret string: compared and used, never shown by `Debug`.
    pub struct Secret;
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
}

/// Everything dynauth is configured with.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The home region's DynamoDB: every write, and every read that must be current.
    pub dynamo: ClientConfig,
    /// The replica regions of a global table (`DYNAMODB_REGIONS` after the home region), in the
    /// configured order; empty with one region.
    pub replicas: Vec<ClientConfig>,
    pub schema: Schema,
    pub admin_token: Secret,
    /// A second admin token accepted as well (`ADMIN_TOKEN_NEXT`), for rotation without downtime.
    pub admin_token_next: Option<Secret>,
    /// The only hosts the admin API answers on (`ADMIN_HOSTS`, canonical); empty: any host.
    pub admin_hosts: Vec<String>,
    pub token_secret: Secret,
    /// Derives every tenant's JWT signing keys (`JWT_MASTER_KEY`); unset: no JWTs, no JWKS.
    pub jwt_master_key: Option<MasterKey>,
    /// Serves hosts that no tenant has claimed (local development only).
    pub default_tenant: Option<TenantId>,
    pub cache: CacheSettings,
    /// Plain-http local development: set the session cookie without `Secure`/`__Host-` for
    /// requests to `http://localhost` or `http://127.0.0.1` (never for anything else).
    pub insecure_local_cookies: bool,
    pub login: LoginSettings,
    /// Local development (`ALLOW_LOCAL_TARGETS`): tenant origins and webhooks may be http:// and
    /// private or loopback hosts.
    pub allow_local_targets: bool,
    /// Local development only (with `ALLOW_LOCAL_TARGETS`): the port that domain verification
    /// fetches loopback hosts on (`npm start`'s port; the tests' own servers).
    pub domain_check_port: Option<u16>,
    /// The whole request's budget (`REQUEST_DEADLINE_MS`): every DynamoDB call, retry and webhook
    /// delivery of one request ends within it; when it is spent the answer is 503.
    pub request_deadline: Duration,
}

/// Login-code delivery and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSettings {
    /// Where codes are posted (a tenant may override it).
    pub webhook_url: Option<String>,
    /// Signs webhook posts (`x-dynauth-signature`).
    pub webhook_secret: Option<Secret>,
    /// Development only: codes are also returned by `/v1/login/start` and logged.
    pub dev_mode: bool,
    /// The abuse budgets of login starts and verifies.
    pub limits: Limits,
}

/// A setting that is missing or malformed. `Display` names the variable and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration variable {} {}", self.variable, self.problem)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// With replica regions: the region nearest to `at` (see [`crate::domain::regions::preference`])
    /// among home and the replicas that are `usable` (a circuit breaker's say), and its client
    /// settings when it is a replica (`None`: home). `None` with one region.
    pub fn nearest(
        &self,
        at: Option<crate::domain::regions::Location>,
        usable: impl Fn(&str) -> bool,
    ) -> Option<(&str, Option<&ClientConfig>)> {
        if self.replicas.is_empty() {
            return None;
        }
        let names: Vec<&str> = std::iter::once(self.dynamo.region.as_str())
            .chain(self.replicas.iter().map(|r| r.region.as_str()))
            .collect();
        for i in crate::domain::regions::preference(&names, at) {
            match i.checked_sub(1).and_then(|i| self.replicas.get(i)) {
                Some(replica) if usable(&replica.region) => return Some((replica.region.as_str(), Some(replica))),
                Some(_) => {}
                None => break, // home: always usable
            }
        }
        Some((self.dynamo.region.as_str(), None))
    }
}

/// Every variable dynauth reads, for documentation and for the edge's lookup.
pub const VARIABLES: &[&str] = &[
    "AWS_REGION",
    "DYNAMODB_TABLE",
    "DYNAMODB_ENDPOINT",
    "DYNAMODB_REGIONS",
    "DYNAMODB_ENDPOINTS",
    "DYNAMODB_REPLICA_TIMEOUT_MS",
    "DYNAMODB_PARTITION_KEY",
    "DYNAMODB_SORT_KEY",
    "DYNAMODB_GSI1_NAME",
    "DYNAMODB_GSI1_PARTITION_KEY",
    "DYNAMODB_GSI1_SORT_KEY",
    "DYNAMODB_GSI2_NAME",
    "DYNAMODB_GSI2_PARTITION_KEY",
    "DYNAMODB_GSI2_SORT_KEY",
    "DYNAMODB_TIMEOUT_MS",
    "DYNAMODB_ATTEMPT_TIMEOUT_MS",
    "DYNAMODB_MAX_ATTEMPTS",
    "REQUEST_DEADLINE_MS",
    "ALLOW_LOCAL_TARGETS",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "ADMIN_TOKEN",
    "ADMIN_TOKEN_NEXT",
    "ADMIN_HOSTS",
    "TOKEN_SECRET",
    "JWT_MASTER_KEY",
    "DEFAULT_TENANT",
    "HOST_CACHE_TTL_SECS",
    "HOST_CACHE_NEGATIVE_TTL_SECS",
    "HOST_CACHE_MAX_ENTRIES",
    "INSECURE_LOCAL_COOKIES",
    "CODE_WEBHOOK_URL",
    "CODE_WEBHOOK_SECRET",
    "DEV_MODE",
    "DOMAIN_CHECK_PORT",
    "LOGIN_RATE_LIMIT",
    "LOGIN_RATE_WINDOW_SECS",
    "LOGIN_EMAIL_LIMIT",
    "LOGIN_IP_LIMIT",
    "VERIFY_IP_LIMIT",
    "TENANT_LOGIN_LIMIT",
    "TENANT_VERIFY_LIMIT",
    "VERIFY_FAILURE_LIMIT",
    "VERIFY_FAILURE_IP_LIMIT",
    "CLIENT_AUTH_FAILURE_LIMIT",
    "CLIENT_AUTH_FAILURE_IP_LIMIT",
];

impl Config {
    /// Parse from `lookup(name)`; empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let (dynamo, schema) = database_from_lookup(&lookup)?;
        let replicas = replicas_from_lookup(&lookup, &dynamo)?;
        let vars = Vars(&lookup);
        let admin_token = vars.required_secret("ADMIN_TOKEN", 16)?;
        let admin_token_next = vars.secret("ADMIN_TOKEN_NEXT", 16)?;
        let mut admin_hosts = Vec::new();
        for raw in vars.optional("ADMIN_HOSTS").unwrap_or_default().split(',').map(str::trim).filter(|h| !h.is_empty())
        {
            let host = crate::values::host::canonical(raw).map_err(|e| ConfigError {
                variable: "ADMIN_HOSTS",
                problem: format!("must be a comma-separated list of hosts: {e}"),
            })?;
            admin_hosts.push(host.as_str().to_string());
        }
        let token_secret = vars.required_secret("TOKEN_SECRET", 32)?;
        let jwt_master_key = vars.secret("JWT_MASTER_KEY", 32)?;
        // One key, one job: a leak of either must not give away the other's.
        check("JWT_MASTER_KEY", jwt_master_key.as_ref() != Some(&token_secret), "must differ from TOKEN_SECRET")?;
        let default_tenant = match vars.optional("DEFAULT_TENANT") {
            None => None,
            Some(raw) => Some(TenantId::parse(&raw).map_err(|_| ConfigError {
                variable: "DEFAULT_TENANT",
                problem: "must be a tenant id (a-z, 0-9, -)".into(),
            })?),
        };
        let request_deadline = Duration::from_millis(vars.number("REQUEST_DEADLINE_MS", 5_000, 100, 60_000)?);
        let cache = CacheSettings {
            positive_ttl: Duration::from_secs(vars.number("HOST_CACHE_TTL_SECS", 60, 0, 3600)?),
            negative_ttl: Duration::from_secs(vars.number("HOST_CACHE_NEGATIVE_TTL_SECS", 5, 0, 600)?),
            max_entries: usize::try_from(vars.number("HOST_CACHE_MAX_ENTRIES", 1000, 1, 100_000)?).unwrap_or(1000),
            wait_limit: request_deadline,
        };
        let insecure_local_cookies = vars.flag("INSECURE_LOCAL_COOKIES")?;
        let webhook_url = match vars.optional("CODE_WEBHOOK_URL") {
            None => None,
            Some(raw) => Some(
                crate::values::host::webhook_url(&raw)
                    .map_err(|e| ConfigError { variable: "CODE_WEBHOOK_URL", problem: e.to_string() })?,
            ),
        };
        let webhook_secret = vars.secret("CODE_WEBHOOK_SECRET", 32)?;
        if webhook_secret.is_none() && webhook_url.is_some() {
            return Err(ConfigError {
                variable: "CODE_WEBHOOK_SECRET",
                problem: "is not set (CODE_WEBHOOK_URL needs it to sign deliveries)".into(),
            });
        }
        let dev_mode = vars.flag("DEV_MODE")?;
        if dev_mode && !is_loopback(dynamo.endpoint.uri().host().unwrap_or("")) {
            // Codes in answers must never reach a real table: refused, never silently turned off.
            return Err(ConfigError {
                variable: "DEV_MODE",
                problem: "is true, which is allowed only with a loopback DYNAMODB_ENDPOINT (local development): \
                          unset DEV_MODE"
                    .into(),
            });
        }
        let login =
            LoginSettings { webhook_url, webhook_secret: webhook_secret.map(Secret), dev_mode, limits: limits(&vars)? };
        let allow_local_targets = vars.flag("ALLOW_LOCAL_TARGETS")?;
        let domain_check_port = match vars.optional("DOMAIN_CHECK_PORT") {
            None => None,
            Some(_) => {
                check(
                    "DOMAIN_CHECK_PORT",
                    allow_local_targets,
                    "is for local development: it needs ALLOW_LOCAL_TARGETS",
                )?;
                Some(u16::try_from(vars.number("DOMAIN_CHECK_PORT", 0, 1, 65_535)?).unwrap_or(0))
            }
        };
        Ok(Self {
            dynamo,
            replicas,
            schema,
            admin_token: Secret(admin_token),
            admin_token_next: admin_token_next.map(Secret),
            admin_hosts,
            token_secret: Secret(token_secret),
            jwt_master_key: jwt_master_key.map(MasterKey::new),
            default_tenant,
            cache,
            insecure_local_cookies,
            login,
            request_deadline,
            allow_local_targets,
            domain_check_port,
        })
    }
}

/// `localhost`, `127.0.0.0/8` or `[::1]`.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The DynamoDB part of the configuration (endpoint, region, credentials, retries, table and key
/// names), shared by the Worker and the CLI.
pub fn database_from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<(ClientConfig, Schema), ConfigError> {
    let vars = Vars(lookup);
    let region = vars.required("AWS_REGION")?;
    check("AWS_REGION", is_region(&region), "must be an AWS region such as us-east-1")?;
    let endpoint = match vars.optional("DYNAMODB_ENDPOINT") {
        Some(raw) => Endpoint::parse(&raw),
        None => Endpoint::aws(&region),
    }
    .map_err(|rule| ConfigError { variable: "DYNAMODB_ENDPOINT", problem: rule.to_string() })?;
    let schema = schema_from_lookup(lookup)?;
    let retry = RetryPolicy {
        deadline: Duration::from_millis(vars.number("DYNAMODB_TIMEOUT_MS", 3_000, 100, 60_000)?),
        attempt_timeout: Duration::from_millis(vars.number("DYNAMODB_ATTEMPT_TIMEOUT_MS", 1_000, 50, 30_000)?),
        max_attempts: u32::try_from(vars.number("DYNAMODB_MAX_ATTEMPTS", 4, 1, 10)?).unwrap_or(4),
        ..RetryPolicy::default()
    };
    let access_key_id = vars.required("AWS_ACCESS_KEY_ID")?;
    check(
        "AWS_ACCESS_KEY_ID",
        (4..=128).contains(&access_key_id.len()) && access_key_id.bytes().all(|b| b.is_ascii_alphanumeric()),
        "must be an access key id (letters and digits)",
    )?;
    let secret_access_key = vars.required("AWS_SECRET_ACCESS_KEY")?;
    check("AWS_SECRET_ACCESS_KEY", is_visible_ascii(&secret_access_key), "must be visible ASCII")?;
    let session_token = vars.optional("AWS_SESSION_TOKEN");
    if let Some(token) = &session_token {
        check("AWS_SESSION_TOKEN", is_visible_ascii(token), "must be visible ASCII")?;
    }
    let dynamo = ClientConfig {
        endpoint,
        region,
        credentials: Credentials { access_key_id, secret_access_key, session_token },
        retry,
    };
    Ok((dynamo, schema))
}

/// Most regions a global table may be configured with (home included).
pub const MAX_REGIONS: usize = 8;

/// The replica regions of a global table: `DYNAMODB_REGIONS` (home first: it must start with
/// `AWS_REGION`), each with AWS's endpoint or one from `DYNAMODB_ENDPOINTS`
/// (`region=url,...`, for local use; the home region's endpoint stays `DYNAMODB_ENDPOINT`).
/// Credentials are the home region's. A replica read gets one attempt within
/// `DYNAMODB_REPLICA_TIMEOUT_MS` (default 250): a slow or failing replica is skipped for home, not
/// retried. Without `DYNAMODB_REGIONS`: none.
pub fn replicas_from_lookup(
    lookup: &impl Fn(&str) -> Option<String>,
    home: &ClientConfig,
) -> Result<Vec<ClientConfig>, ConfigError> {
    let vars = Vars(lookup);
    let endpoints = vars.optional("DYNAMODB_ENDPOINTS");
    let Some(raw) = vars.optional("DYNAMODB_REGIONS") else {
        check("DYNAMODB_ENDPOINTS", endpoints.is_none(), "needs DYNAMODB_REGIONS (the regions it names)")?;
        return Ok(Vec::new());
    };
    let regions: Vec<&str> = raw.split(',').map(str::trim).collect();
    for region in &regions {
        check("DYNAMODB_REGIONS", is_region(region), "must be a comma-separated list of AWS regions, home first")?;
    }
    check(
        "DYNAMODB_REGIONS",
        regions.first() == Some(&home.region.as_str()),
        &format!("must start with the home region, AWS_REGION ({})", home.region),
    )?;
    check(
        "DYNAMODB_REGIONS",
        regions.iter().enumerate().all(|(i, r)| !regions[..i].contains(r)),
        "must not name a region twice",
    )?;
    check("DYNAMODB_REGIONS", regions.len() <= MAX_REGIONS, &format!("may name at most {MAX_REGIONS} regions"))?;
    let budget = Duration::from_millis(vars.number("DYNAMODB_REPLICA_TIMEOUT_MS", 250, 20, 5_000)?);
    let retry = RetryPolicy { max_attempts: 1, deadline: budget, attempt_timeout: budget, ..home.retry };
    let mut named = Vec::new();
    for pair in endpoints.iter().flat_map(|e| e.split(',')).map(str::trim).filter(|p| !p.is_empty()) {
        let rule = "must be region=URL pairs, separated by commas, for replica regions of DYNAMODB_REGIONS";
        let (region, url) =
            pair.split_once('=').ok_or_else(|| ConfigError { variable: "DYNAMODB_ENDPOINTS", problem: rule.into() })?;
        let region = region.trim();
        check("DYNAMODB_ENDPOINTS", regions[1..].contains(&region), rule)?;
        check(
            "DYNAMODB_ENDPOINTS",
            !named.iter().any(|(r, _): &(&str, Endpoint)| *r == region),
            "must not name a region twice",
        )?;
        let endpoint = Endpoint::parse(url.trim())
            .map_err(|e| ConfigError { variable: "DYNAMODB_ENDPOINTS", problem: format!("{region}: {e}") })?;
        named.push((region, endpoint));
    }
    let mut replicas = Vec::new();
    for region in &regions[1..] {
        let endpoint = match named.iter().find(|(r, _)| r == region) {
            Some((_, endpoint)) => endpoint.clone(),
            None => Endpoint::aws(region)
                .map_err(|e| ConfigError { variable: "DYNAMODB_REGIONS", problem: format!("{region}: {e}") })?,
        };
        replicas.push(ClientConfig { endpoint, region: (*region).to_string(), retry, ..home.clone() });
    }
    Ok(replicas)
}

/// An AWS region name such as `us-east-1`.
fn is_region(region: &str) -> bool {
    region.len() <= 32
        && region.split('-').count() >= 3
        && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The table and key names (`DYNAMODB_TABLE` and the optional `DYNAMODB_*` names).
pub fn schema_from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Schema, ConfigError> {
    let vars = Vars(lookup);
    let table = vars.required("DYNAMODB_TABLE")?;
    check("DYNAMODB_TABLE", is_table_name(&table), "must be 3-255 characters of A-Z a-z 0-9 _ - .")?;
    let mut schema = Schema::new(&table);
    schema.pk = vars.name("DYNAMODB_PARTITION_KEY", &schema.pk)?;
    schema.sk = vars.name("DYNAMODB_SORT_KEY", &schema.sk)?;
    schema.gsi1 = Index {
        name: vars.name("DYNAMODB_GSI1_NAME", &schema.gsi1.name)?,
        pk: vars.name("DYNAMODB_GSI1_PARTITION_KEY", &schema.gsi1.pk)?,
        sk: vars.name("DYNAMODB_GSI1_SORT_KEY", &schema.gsi1.sk)?,
    };
    schema.gsi2 = Index {
        name: vars.name("DYNAMODB_GSI2_NAME", &schema.gsi2.name)?,
        pk: vars.name("DYNAMODB_GSI2_PARTITION_KEY", &schema.gsi2.pk)?,
        sk: vars.name("DYNAMODB_GSI2_SORT_KEY", &schema.gsi2.sk)?,
    };
    Ok(schema)
}

struct Vars<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Vars<'_, F> {
    fn optional(&self, name: &str) -> Option<String> {
        (self.0)(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or_else(|| ConfigError { variable: name, problem: "is not set".into() })
    }

    /// An optional secret: at least `min` visible ASCII characters when set.
    fn secret(&self, name: &'static str, min: usize) -> Result<Option<String>, ConfigError> {
        let value = self.optional(name);
        if let Some(v) = &value {
            check(
                name,
                v.len() >= min && is_visible_ascii(v),
                &format!("must be at least {min} visible ASCII characters"),
            )?;
        }
        Ok(value)
    }

    /// A required secret (see [`Self::secret`]).
    fn required_secret(&self, name: &'static str, min: usize) -> Result<String, ConfigError> {
        self.secret(name, min)?.ok_or_else(|| ConfigError { variable: name, problem: "is not set".into() })
    }

    fn name(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        let value = self.optional(name).unwrap_or_else(|| default.to_string());
        let ok = (1..=255).contains(&value.len())
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
        check(name, ok, "must be an attribute or index name (A-Z a-z 0-9 _ - .)")?;
        Ok(value)
    }

    fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.optional(name).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(ConfigError { variable: name, problem: "must be true or false".into() }),
        }
    }

    fn number(&self, name: &'static str, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
        let Some(raw) = self.optional(name) else {
            return Ok(default);
        };
        match raw.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ConfigError { variable: name, problem: format!("must be a whole number from {min} to {max}") }),
        }
    }
}

/// The abuse budgets ([`Limits`]); the per-email ceiling must be at least the per-(email,
/// address) limit.
fn limits<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> Result<Limits, ConfigError> {
    let d = Limits::default();
    let count = |name: &'static str, default: u32, max: u64| -> Result<u32, ConfigError> {
        Ok(u32::try_from(vars.number(name, u64::from(default), 1, max)?).unwrap_or(default))
    };
    let start_per_email_ip = count("LOGIN_RATE_LIMIT", d.start_per_email_ip, 100)?;
    let start_per_email = count("LOGIN_EMAIL_LIMIT", d.start_per_email.max(start_per_email_ip * 4), 1_000)?;
    check(
        "LOGIN_EMAIL_LIMIT",
        start_per_email >= start_per_email_ip,
        "must be at least LOGIN_RATE_LIMIT (it is the ceiling over all addresses)",
    )?;
    let failures_per_email = count("VERIFY_FAILURE_LIMIT", d.failures_per_email, 10_000)?;
    let failures_per_email_ip =
        count("VERIFY_FAILURE_IP_LIMIT", d.failures_per_email_ip.min(failures_per_email), 10_000)?;
    check(
        "VERIFY_FAILURE_LIMIT",
        failures_per_email >= failures_per_email_ip,
        "must be at least VERIFY_FAILURE_IP_LIMIT (it is the ceiling over all addresses)",
    )?;
    let client_auth_failures = count("CLIENT_AUTH_FAILURE_LIMIT", d.client_auth_failures, 1_000_000)?;
    let client_auth_failures_per_ip =
        count("CLIENT_AUTH_FAILURE_IP_LIMIT", d.client_auth_failures_per_ip.min(client_auth_failures), 1_000_000)?;
    check(
        "CLIENT_AUTH_FAILURE_LIMIT",
        client_auth_failures >= client_auth_failures_per_ip,
        "must be at least CLIENT_AUTH_FAILURE_IP_LIMIT (it is the ceiling over all addresses)",
    )?;
    Ok(Limits {
        client_auth_failures,
        client_auth_failures_per_ip,
        start_per_email_ip,
        start_per_email,
        start_per_ip: count("LOGIN_IP_LIMIT", d.start_per_ip, 100_000)?,
        start_per_tenant: count("TENANT_LOGIN_LIMIT", d.start_per_tenant, 10_000_000)?,
        verify_per_ip: count("VERIFY_IP_LIMIT", d.verify_per_ip, 100_000)?,
        verify_per_tenant: count("TENANT_VERIFY_LIMIT", d.verify_per_tenant, 10_000_000)?,
        failures_per_email_ip,
        failures_per_email,
        window_secs: i64::try_from(vars.number("LOGIN_RATE_WINDOW_SECS", 900, 60, 86_400)?).unwrap_or(900),
    })
}

fn check(variable: &'static str, ok: bool, rule: &str) -> Result<(), ConfigError> {
    if ok { Ok(()) } else { Err(ConfigError { variable, problem: rule.to_string() }) }
}

fn is_visible_ascii(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_graphic())
}

fn is_table_name(s: &str) -> bool {
    (3..=255).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;

    use super::*;

    pub(crate) fn base_vars() -> HashMap<&'static str, String> {
        HashMap::from([
            ("AWS_REGION", "us-east-1".to_string()),
            ("DYNAMODB_TABLE", "dynauth".to_string()),
            ("AWS_ACCESS_KEY_ID", "AKIDLOCAL".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "local-secret-not-real".to_string()),
            ("ADMIN_TOKEN", "admin-token-for-tests-only".to_string()),
            ("TOKEN_SECRET", "token-secret-for-tests-only-0123456789".to_string()),
        ])
    }

    fn parse(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn variables_lists_every_name_the_configuration_asks_for() {
        // The edge looks up only the names in VARIABLES: one read here but missing there would be
        // silently unset in the Worker alone.
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        let mut with_regions = base_vars();
        with_regions.insert("DYNAMODB_REGIONS", "us-east-1,eu-west-1".into());
        with_regions.insert("DYNAMODB_ENDPOINTS", "http://127.0.0.1:8000,http://127.0.0.1:8001".into());
        for vars in [base_vars(), with_regions] {
            let _ = Config::from_lookup(|name| {
                asked.borrow_mut().insert(name.to_string());
                vars.get(name).cloned()
            });
        }
        let asked = asked.into_inner();
        let listed: std::collections::BTreeSet<String> = VARIABLES.iter().map(|v| v.to_string()).collect();
        let missing: Vec<&String> = asked.difference(&listed).collect();
        assert!(missing.is_empty(), "asked for but not in VARIABLES: {missing:?}");
        let stale: Vec<&String> = listed.difference(&asked).collect();
        assert!(stale.is_empty(), "in VARIABLES but never asked for: {stale:?}");
    }

    #[test]
    fn a_global_table_has_a_home_and_replica_regions() {
        let Ok(single) = parse(&base_vars()) else { panic!() };
        assert!(single.replicas.is_empty(), "one region unless DYNAMODB_REGIONS names more");
        let mut vars = base_vars();
        vars.insert("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000".into());
        vars.insert("DYNAMODB_REGIONS", " us-east-1, eu-west-1 ,ap-southeast-2".into());
        vars.insert("DYNAMODB_ENDPOINTS", "eu-west-1=http://127.0.0.1:8001".into());
        let config = parse(&vars).expect("the test's own input");
        assert_eq!(
            (config.dynamo.region.as_str(), config.dynamo.endpoint.uri().to_string()),
            ("us-east-1", "http://127.0.0.1:8000/".into())
        );
        let replicas: Vec<(String, String)> =
            config.replicas.iter().map(|r| (r.region.clone(), r.endpoint.uri().to_string())).collect();
        assert_eq!(
            replicas,
            vec![
                ("eu-west-1".into(), "http://127.0.0.1:8001/".into()),
                ("ap-southeast-2".into(), "https://dynamodb.ap-southeast-2.amazonaws.com/".into()),
            ]
        );
        assert_eq!(config.replicas[0].credentials, config.dynamo.credentials);
        // A replica read is one attempt within its budget: a slow replica is skipped, not retried.
        let retry = config.replicas[0].retry;
        assert_eq!(
            (retry.max_attempts, retry.attempt_timeout, retry.deadline),
            (1, Duration::from_millis(250), Duration::from_millis(250))
        );
        let mut budget = vars.clone();
        budget.insert("DYNAMODB_REPLICA_TIMEOUT_MS", "5".into());
        assert_eq!(parse(&budget).map(|_| ()).map_err(|e| e.variable), Err("DYNAMODB_REPLICA_TIMEOUT_MS"));
        let cases = [
            ("DYNAMODB_REGIONS", "eu-west-1,us-east-1", "must start with the home region, AWS_REGION (us-east-1)"),
            ("DYNAMODB_REGIONS", "us-east-1,us-east-1", "must not name a region twice"),
            ("DYNAMODB_REGIONS", "us-east-1,Europe", "must be a comma-separated list of AWS regions, home first"),
            ("DYNAMODB_REGIONS", "us-east-1,,eu-west-1", "must be a comma-separated list of AWS regions, home first"),
            (
                "DYNAMODB_ENDPOINTS",
                "eu-west-1=localhost:8001",
                "eu-west-1: must be an http:// or https:// URL of a host and port, without a path",
            ),
            (
                "DYNAMODB_ENDPOINTS",
                "us-east-1=http://127.0.0.1:1",
                "must be region=URL pairs, separated by commas, for replica regions of DYNAMODB_REGIONS",
            ),
            (
                "DYNAMODB_ENDPOINTS",
                "eu-central-1=http://127.0.0.1:1",
                "must be region=URL pairs, separated by commas, for replica regions of DYNAMODB_REGIONS",
            ),
            (
                "DYNAMODB_ENDPOINTS",
                "eu-west-1",
                "must be region=URL pairs, separated by commas, for replica regions of DYNAMODB_REGIONS",
            ),
            (
                "DYNAMODB_ENDPOINTS",
                "eu-west-1=http://127.0.0.1:1,eu-west-1=http://127.0.0.1:2",
                "must not name a region twice",
            ),
        ];
        for (name, value, problem) in cases {
            let mut bad = vars.clone();
            bad.insert(name, value.into());
            assert_eq!(
                parse(&bad).map(|_| ()),
                Err(ConfigError { variable: name, problem: problem.into() }),
                "{name}={value}"
            );
        }
        let mut orphan = base_vars();
        orphan.insert("DYNAMODB_ENDPOINTS", "eu-west-1=http://127.0.0.1:1".into());
        assert_eq!(
            parse(&orphan).map(|_| ()).map_err(|e| e.to_string()),
            Err("configuration variable DYNAMODB_ENDPOINTS needs DYNAMODB_REGIONS (the regions it names)".into())
        );
        let mut nine = base_vars();
        nine.insert(
            "DYNAMODB_REGIONS",
            "us-east-1,us-east-2,us-west-1,us-west-2,eu-west-1,eu-west-2,eu-west-3,eu-north-1,sa-east-1".into(),
        );
        assert_eq!(parse(&nine).map(|_| ()).map_err(|e| e.problem), Err("may name at most 8 regions".into()));
    }

    #[test]
    fn defaults() {
        let config = parse(&base_vars()).map_err(|e| e.to_string());
        let Ok(config) = config else { panic!("{config:?}") };
        assert_eq!(config.schema, Schema::new("dynauth"));
        assert_eq!(config.dynamo.endpoint.uri().to_string(), "https://dynamodb.us-east-1.amazonaws.com/");
        assert_eq!(config.dynamo.retry.deadline, Duration::from_secs(3));
        assert_eq!(config.dynamo.retry.attempt_timeout, Duration::from_secs(1));
        assert_eq!(config.request_deadline, Duration::from_secs(5));
        assert_eq!(config.dynamo.credentials.session_token, None);
    }

    #[test]
    fn dev_mode_is_refused_unless_the_table_is_local() {
        for endpoint in [
            None,
            Some("https://dynamodb.eu-west-1.amazonaws.com"),
            Some("http://10.0.0.5:8000"),
            Some("http://db.local:8000"),
        ] {
            let mut vars = base_vars();
            vars.insert("DEV_MODE", "true".into());
            if let Some(e) = endpoint {
                vars.insert("DYNAMODB_ENDPOINT", e.into());
            }
            let err = parse(&vars).map(|_| ()).map_err(|e| e.variable);
            assert_eq!(err, Err("DEV_MODE"), "{endpoint:?}");
        }
        for endpoint in ["http://127.0.0.1:8000", "http://localhost:8000", "http://127.0.0.9:1", "http://[::1]:8000"] {
            let mut vars = base_vars();
            vars.insert("DEV_MODE", "true".into());
            vars.insert("DYNAMODB_ENDPOINT", endpoint.into());
            assert!(parse(&vars).is_ok_and(|c| c.login.dev_mode), "{endpoint}");
        }
        let mut vars = base_vars();
        vars.insert("DEV_MODE", "false".into());
        assert!(parse(&vars).is_ok(), "DEV_MODE off is fine anywhere");
    }

    #[test]
    fn each_required_variable_is_named_when_missing() {
        for name in [
            "AWS_REGION",
            "DYNAMODB_TABLE",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "ADMIN_TOKEN",
            "TOKEN_SECRET",
        ] {
            let mut vars = base_vars();
            vars.insert(name, "  ".into());
            assert_eq!(parse(&vars).map(|_| ()), Err(ConfigError { variable: name, problem: "is not set".into() }));
        }
    }

    #[test]
    fn malformed_values_are_named_and_never_echoed() {
        let cases = [
            ("AWS_REGION", "Not A Region"),
            ("DYNAMODB_TABLE", "q!"),
            ("DYNAMODB_ENDPOINT", "localhost:8000"),
            ("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000/tables"),
            ("DYNAMODB_TIMEOUT_MS", "fast"),
            ("DYNAMODB_MAX_ATTEMPTS", "99"),
            ("DYNAMODB_GSI1_NAME", "bad name"),
            ("ADMIN_TOKEN", "short-secret"),
            ("TOKEN_SECRET", "also-too-short-secret"),
            ("JWT_MASTER_KEY", "a-short-jwt-master-key"),
            ("JWT_MASTER_KEY", "token-secret-for-tests-only-0123456789"), // = TOKEN_SECRET
            ("AWS_ACCESS_KEY_ID", "AKID WITH SPACE"),
        ];
        for (name, value) in cases {
            let mut vars = base_vars();
            vars.insert(name, value.into());
            let err = parse(&vars).map(|_| ()).err();
            let Some(err) = err else { panic!("{name}={value} was accepted") };
            assert_eq!(err.variable, name);
            assert!(!err.to_string().contains(value), "{err} echoes the value");
        }
    }

    #[test]
    fn schema_names_and_endpoint_are_configurable() {
        let mut vars = base_vars();
        vars.insert("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000".into());
        vars.insert("DYNAMODB_PARTITION_KEY", "pk".into());
        vars.insert("DYNAMODB_GSI2_NAME", "Domains".into());
        vars.insert("AWS_SESSION_TOKEN", "tok".into());
        let Ok(config) = parse(&vars) else { panic!() };
        assert_eq!(config.dynamo.endpoint.uri().to_string(), "http://127.0.0.1:8000/");
        assert_eq!(config.schema.pk, "pk");
        assert_eq!(config.schema.gsi2.name, "Domains");
        assert_eq!(config.dynamo.credentials.session_token.as_deref(), Some("tok"));
        let shown = format!("{config:?}");
        assert!(!shown.contains("admin-token-for-tests-only") && !shown.contains("local-secret-not-real"), "{shown}");
    }
}
