//! The native host: what runs the app at the command line (`src/bin/dynauth.rs`). Its settings
//! are read here, once, into the same [`Config`] the Worker has: the flags and the environment
//! the CLI hands in, and for what they leave out AWS's own credential and region chain (the
//! maintained `aws-config` crate: the environment, then the shared credentials and config files,
//! `AWS_PROFILE`, `credential_process`). Each command then runs the app's use cases over a
//! [`Ctx`] made here: the blocking [`HttpTransport`] (DynamoDB, and the back-channel logout
//! notices a session's end owes), the OS runtime, an isolate's worth of caches.
//!
//! The CLI serves no HTTP: `ADMIN_TOKEN` (and `ADMIN_TOKEN_NEXT`, `ADMIN_HOSTS`) are never read,
//! a random placeholder stands in. `TOKEN_SECRET` is optional: without it (or with one shorter
//! than the Worker accepts) a random placeholder stands in and [`Native::token_secret`] says so,
//! for the commands whose output it keys (a new tenant's secrets, login codes).
//!
//! May use: every layer.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use crate::app::{Config, ConfigError, Connect, Ctx, Services};
use crate::domain::resolve::Caches;
use crate::dynamo::{Client, ClientConfig};
use crate::platform::native::{HttpTransport, OsRuntime};
use crate::platform::runtime::Random;

/// How long one DynamoDB attempt of the CLI may take, at least: an operator waits, and a slow
/// first answer (a table being created, a cold DynamoDB Local) is no failure.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one command's DynamoDB calls may take, at least.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(30);

/// The native host: the configuration, the caches, the transport and the runtime of one CLI run.
pub struct Native {
    pub config: Config,
    token_secret: bool,
    caches: Caches,
    transport: HttpTransport,
    runtime: OsRuntime,
}

impl std::fmt::Debug for Native {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Native").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Native {
    /// The host of settings `lookup` gives (the CLI's flags over the environment), completed from
    /// AWS's chain (credentials unless both keys are given, the profile's region unless one is).
    /// Every DynamoDB client waits as an operator does: an attempt up to [`ATTEMPT_TIMEOUT`], a
    /// command up to [`COMMAND_DEADLINE`] (longer `DYNAMODB_*_TIMEOUT_MS` are kept); replica
    /// regions retry as home does. `clock` is the time (the binary passes `SystemTime::now`).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        clock: fn() -> SystemTime,
    ) -> Result<Self, ConfigError> {
        let runtime = OsRuntime::new(clock);
        let explicit = lookup("AWS_ACCESS_KEY_ID").is_some() && lookup("AWS_SECRET_ACCESS_KEY").is_some();
        let chain = if explicit && lookup("AWS_REGION").is_some() {
            HashMap::new()
        } else {
            aws_chain(lookup("AWS_PROFILE"), !explicit, lookup("AWS_REGION").is_none())
        };
        let given_secret = lookup("TOKEN_SECRET").filter(|s| s.trim().len() >= 32);
        let token_secret = given_secret.is_some();
        let placeholder = |random: &dyn Random| hex::encode(random.bytes::<32>());
        let (admin_token, stand_in_secret) = (placeholder(&runtime), placeholder(&runtime));
        let mut config = Config::from_lookup(|name| match name {
            "ADMIN_TOKEN" => Some(admin_token.clone()),
            "ADMIN_TOKEN_NEXT" | "ADMIN_HOSTS" => None,
            "TOKEN_SECRET" => Some(given_secret.clone().unwrap_or_else(|| stand_in_secret.clone())),
            _ => lookup(name).or_else(|| chain.get(name).cloned()),
        })?;
        let retry = &mut config.dynamo.retry;
        retry.attempt_timeout = retry.attempt_timeout.max(ATTEMPT_TIMEOUT);
        retry.deadline = retry.deadline.max(COMMAND_DEADLINE);
        let retry = config.dynamo.retry;
        for replica in &mut config.replicas {
            replica.retry = retry;
        }
        config.request_deadline = config.request_deadline.max(retry.deadline);
        let caches = Caches::new(config.cache);
        Ok(Self { config, token_secret, caches, transport: HttpTransport::default(), runtime })
    }

    /// Whether the Worker's `TOKEN_SECRET` was given (else a placeholder keys what needs one).
    pub fn token_secret(&self) -> bool {
        self.token_secret
    }

    /// A client of the home region.
    pub fn home(&self) -> Client<'_> {
        self.client(&self.config.dynamo)
    }

    /// Runs `command` with the services of one request, made now: the app's use cases take it.
    pub fn run<T>(&self, command: impl FnOnce(&Ctx<'_>) -> T) -> T {
        let db = self.home();
        let replica = OnceCell::new();
        let services = Services {
            config: &self.config,
            caches: &self.caches,
            connect: self,
            webhook: &self.transport,
            runtime: &self.runtime,
            crypto: &crate::platform::native_crypto::NativeCrypto,
        };
        let ctx = Ctx::new(services, &db, &replica, None, crate::platform::runtime::Clock::now(&self.runtime));
        command(&ctx)
    }
}

impl Connect for Native {
    fn client(&self, config: &ClientConfig) -> Client<'_> {
        Client::new(config, &self.transport, self.runtime)
    }
}

/// What AWS's credential chain (`aws-config`: the environment, then the shared credentials and
/// config files, `AWS_PROFILE` or `profile`, `credential_process`) and its profile region
/// provider give, as the variables the host reads. Empty when they give nothing; a chain that
/// finds no credentials says so on stderr.
fn aws_chain(profile: Option<String>, credentials: bool, region: bool) -> HashMap<&'static str, String> {
    use aws_config::environment::EnvironmentVariableCredentialsProvider;
    use aws_config::meta::credentials::CredentialsProviderChain;
    use aws_config::meta::region::ProvideRegion;
    use aws_config::profile::{ProfileFileCredentialsProvider, ProfileFileRegionProvider};
    use aws_credential_types::provider::ProvideCredentials;

    let mut found = HashMap::new();
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return found;
    };
    runtime.block_on(async {
        let mut file_credentials = ProfileFileCredentialsProvider::builder();
        let mut file_region = ProfileFileRegionProvider::builder();
        if let Some(p) = &profile {
            file_credentials = file_credentials.profile_name(p);
            file_region = file_region.profile_name(p);
        }
        if credentials {
            let chain =
                CredentialsProviderChain::first_try("Environment", EnvironmentVariableCredentialsProvider::new())
                    .or_else("Profile", file_credentials.build());
            match chain.provide_credentials().await {
                Ok(c) => {
                    found.insert("AWS_ACCESS_KEY_ID", c.access_key_id().to_string());
                    found.insert("AWS_SECRET_ACCESS_KEY", c.secret_access_key().to_string());
                    if let Some(token) = c.session_token() {
                        found.insert("AWS_SESSION_TOKEN", token.to_string());
                    }
                }
                Err(e) => {
                    use std::io::Write as _;
                    let _ = writeln!(
                        std::io::stderr().lock(),
                        "dynauth: no AWS credentials from the environment or the profile files: {e}"
                    );
                }
            }
        }
        if region && let Some(r) = file_region.build().region().await {
            found.insert("AWS_REGION", r.to_string());
        }
    });
    found
}
