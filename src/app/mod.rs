//! The use cases: every operation a caller (the HTTP rim, the CLI) can ask for is one function
//! here, over the services of one request ([`Ctx`]: the settings, the table in its regions, the
//! isolate's caches, the outbound transport, randomness, the clock and the request's `now`).
//! They assemble the domain's records and rules into what was asked and answer typed values or
//! an [`ApiError`]; they never see HTTP requests or render responses.
//!
//! May use: `domain`, `table`, `dynamo`, `values`, `platform`. Used by: `api`, the hosts, the CLI.

#[cfg(cold)]
pub mod clients;
#[cfg(cold)]
pub mod codes;
#[cfg(cold)]
pub mod domains;
pub mod error;
pub mod gateway;
#[cfg(cold)]
pub mod health;
pub mod hosts;
#[cfg(cold)]
pub mod login;
#[cfg(cold)]
pub mod oauth;
#[cfg(cold)]
pub mod pages;
pub mod sessions;
pub mod settings;
#[cfg(cold)]
pub mod tenants;
#[cfg(cold)]
pub mod users;

use std::cell::RefCell;
use std::time::SystemTime;

use serde::Serialize;

pub use error::ApiError;
pub use settings::{Config, ConfigError};

use crate::domain::regions::{Location, Regions};
use crate::domain::resolve::Caches;
use crate::domain::sessions::{Slide, apply_slide};
use crate::dynamo::Client;
use crate::platform::runtime::{Clock, Random, Runtime, Transport, epoch_secs};
use crate::platform::signature::Crypto;
use crate::table::store::Store;

/// What a request is handled with: the configuration, the table (over a DynamoDB client made for
/// this request), the webhook's transport, the random source, the isolate's caches, and the one
/// `now` of this request; and what it leaves for after the response.
pub struct Ctx<'a> {
    pub config: &'a Config,
    /// The home region: every write, and every read that must be current.
    pub store: Store<'a>,
    /// Home and the replica region nearest to the client: session lookups and host resolution
    /// read the replica first.
    pub regions: Regions<'a>,
    /// Makes a DynamoDB client for any configured region (the admin health check reads every
    /// replica).
    pub connect: &'a dyn Connect,
    pub webhook: &'a dyn Transport,
    pub random: &'a dyn Random,
    /// Signatures and keys (Web Crypto on the Worker).
    pub crypto: &'a dyn Crypto,
    /// The time as it goes on (waits on another request's host resolution end by it).
    pub clock: &'a dyn Clock,
    pub caches: &'a Caches,
    /// The time of this request, read once where it came in.
    pub now: SystemTime,
    pub(crate) later: RefCell<Vec<Deferred>>,
    pub(crate) dev_login: RefCell<Option<DevLogin>>,
    pub(crate) audit: RefCell<Option<Audit>>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("now", &self.now).finish_non_exhaustive()
    }
}

/// What a host (the edge Worker, the tests' app) hands every request: the configuration, the
/// isolate's caches, the way to make a DynamoDB client for a region, the webhook's transport and
/// the runtime (clock, randomness) and the crypto service.
#[derive(Clone, Copy)]
pub struct Services<'a> {
    pub config: &'a Config,
    pub caches: &'a Caches,
    pub connect: &'a dyn Connect,
    pub webhook: &'a dyn Transport,
    pub runtime: &'a dyn Runtime,
    pub crypto: &'a dyn Crypto,
}

impl std::fmt::Debug for Services<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

impl<'a> Ctx<'a> {
    /// A request's context, as every host makes it: `db`, the home region's client for this
    /// request, and, with replica regions, the region nearest to `location` among home and the
    /// replicas whose breakers let reads through ([`Config::nearest`]), its client made into
    /// `replica` when it is not home. One deadline for the whole request, counted from `now`,
    /// when it came in.
    pub fn new<'c: 'a>(
        services: Services<'c>,
        db: &'a Client<'a>,
        replica: &'a std::cell::OnceCell<Client<'c>>,
        location: Option<Location>,
        now: SystemTime,
    ) -> Self {
        let Services { config, caches, connect, webhook, runtime, crypto } = services;
        db.set_deadline(now + config.request_deadline);
        let store = Store::new(db, &config.schema);
        let mut regions = Regions::home(store, &caches.breakers);
        if let Some((region, replica_config)) = config.nearest(location, |r| caches.breakers.usable(r, now)) {
            let near = replica_config.map(|c| {
                let db = replica.get_or_init(|| connect.client(c));
                db.set_deadline(now + config.request_deadline);
                Store::new(db, &config.schema)
            });
            regions = regions.with_nearest(region, near);
        }
        Self {
            config,
            store,
            regions,
            connect,
            webhook,
            random: runtime,
            crypto,
            clock: runtime,
            caches,
            now,
            later: RefCell::new(Vec::new()),
            dev_login: RefCell::new(None),
            audit: RefCell::new(None),
        }
    }

    /// DynamoDB calls and time of this request, every region's.
    pub(crate) fn stats(&self) -> crate::dynamo::Stats {
        let home = self.store.db.stats();
        match &self.regions.near {
            Some(near) => {
                let replica = near.store.db.stats();
                crate::dynamo::Stats { calls: home.calls + replica.calls, millis: home.millis + replica.millis }
            }
            None => home,
        }
    }

    /// With replica regions: the region nearest to the client, which this request's lookups read.
    pub fn nearest_region(&self) -> Option<&str> {
        self.regions.nearest
    }

    /// `now` in epoch seconds, as the use cases take it.
    pub fn now_secs(&self) -> i64 {
        epoch_secs(self.now)
    }

    /// The `TOKEN_SECRET` bytes.
    pub fn token_secret(&self) -> &[u8] {
        self.config.token_secret.expose().as_bytes()
    }

    #[cfg(cold)]
    /// `DEV_MODE` only: puts the issued code in this request's log line.
    pub(crate) fn log_dev_code(&self, code: &str, login_id: &str, email: &str) {
        *self.dev_login.borrow_mut() =
            Some(DevLogin { code: code.to_string(), login_id: login_id.to_string(), email: email.to_string() });
    }

    /// Queues work for after the response.
    pub fn defer(&self, work: Deferred) {
        self.later.borrow_mut().push(work);
    }

    /// Runs deferred work (the edge runs it inside `wait_until`); returns log lines for the
    /// failures, which can only be logged: the answer has been sent. Each line carries the
    /// `request_id` of the request that queued the work.
    pub async fn run_deferred(&self, request_id: &str, work: Vec<Deferred>) -> Vec<String> {
        let mut log = Vec::new();
        for item in work {
            match item {
                Deferred::Slide(slide) => {
                    if let Err(e) = apply_slide(&self.store, &slide).await {
                        let line = DeferredFailure {
                            request_id,
                            deferred: "slide",
                            tenant: slide.tenant.as_str(),
                            error_detail: e.to_string(),
                        };
                        log.push(serde_json::to_string(&line).unwrap_or_default());
                    }
                }
            }
        }
        log
    }
}

/// Makes a DynamoDB client (over the host's transport and runtime) for a region's settings.
pub trait Connect {
    fn client(&self, config: &crate::dynamo::ClientConfig) -> Client<'_>;
}

/// The log line of deferred work that failed.
#[derive(Debug, Serialize)]
pub struct DeferredFailure<'a> {
    pub request_id: &'a str,
    pub deferred: &'static str,
    pub tenant: &'a str,
    pub error_detail: String,
}

/// Work that must not make the response wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deferred {
    /// Extend a session's idle expiry.
    Slide(Slide),
}

/// `DEV_MODE` only: `dev_login_code`, `dev_login_id` and `dev_login_email` in the log line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DevLogin {
    #[serde(rename = "dev_login_code")]
    pub code: String,
    #[serde(rename = "dev_login_id")]
    pub login_id: String,
    #[serde(rename = "dev_login_email")]
    pub email: String,
}

/// The audit part of an admin write's log line: the route, tenant and request id are the line's
/// own; never a secret (no token, no body).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Audit {
    /// `admin_write`, so audit lines are found with one filter.
    pub event: &'static str,
    /// What the write names below the tenant (`domains/app.acme.com`, `secrets/origin`, ...),
    /// empty for the tenant itself.
    pub target: String,
    /// `CF-Connecting-IP`, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::platform::native::block_on;
    use crate::platform::runtime::Clock;
    use crate::testing::fakes::{ManualRuntime, ScriptedTransport};
    use crate::values::ids::{SessionId, TenantId};

    #[test]
    fn a_failed_deferred_slide_is_logged_with_its_request_id() {
        let vars: HashMap<&str, &str> = HashMap::from([
            ("AWS_REGION", "us-east-1"),
            ("DYNAMODB_TABLE", "dynauth"),
            ("DYNAMODB_ENDPOINT", "http://127.0.0.1:9"),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("ADMIN_TOKEN", "admin-token-0123456789"),
            ("TOKEN_SECRET", "token-secret-0123456789-0123456789-0123"),
        ]);
        let config = Config::from_lookup(|n| vars.get(n).map(|v| v.to_string())).expect("the test's own input");
        let transport = ScriptedTransport::new();
        transport.respond(400, r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"no"}"#);
        let rt = ManualRuntime::new(1_800_000_000, 1);
        let db = Client::new(&config.dynamo, &transport, &rt);
        let caches = Caches::new(config.cache);
        struct Connected<'a>(&'a ScriptedTransport, &'a ManualRuntime);
        impl Connect for Connected<'_> {
            fn client(&self, config: &crate::dynamo::ClientConfig) -> Client<'_> {
                Client::new(config, self.0, self.1)
            }
        }
        let connect = Connected(&transport, &rt);
        let services = Services {
            config: &config,
            caches: &caches,
            connect: &connect,
            webhook: &transport,
            runtime: &rt,
            crypto: &crate::platform::native_crypto::NativeCrypto,
        };
        let replica = std::cell::OnceCell::new();
        let ctx = Ctx::new(services, &db, &replica, None, rt.now());
        let slide = Slide {
            tenant: TenantId::parse("acme").expect("the test's own input"),
            session_id: SessionId::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").expect("the test's own input"),
            now: 1_800_000_000,
            idle_expires_at: 1_800_600_000,
            ttl: 1_802_000_000,
        };
        let lines = block_on(ctx.run_deferred("req-7", vec![Deferred::Slide(slide)]));
        assert_eq!(lines.len(), 1);
        let line: serde_json::Value = serde_json::from_str(&lines[0]).unwrap_or_default();
        assert_eq!(line["request_id"], "req-7");
        assert_eq!(line["deferred"], "slide");
        assert_eq!(line["tenant"], "acme");
        assert!(line["error_detail"].as_str().is_some_and(|d| d.contains("ValidationException")), "{line}");
    }
}
