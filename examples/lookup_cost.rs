//! Instructions of one session lookup through `api::handle`, natively, with a transport that
//! answers from memory: run under `valgrind --tool=callgrind` to compare changes to the Rust side
//! of the hot path (deterministic, unlike timings).
use std::collections::HashMap;
use std::time::Duration;

use dynauth::api::{self, Ctx};
use dynauth::app::Config;
use dynauth::domain::resolve::Caches;
use dynauth::dynamo::Client;
use dynauth::platform::native::block_on;
use dynauth::platform::runtime::{Clock, LocalFuture, Transport, TransportError};
use dynauth::testing::fakes::ManualRuntime;

struct Canned {
    domain: Vec<u8>,
    session: Vec<u8>,
}

impl Transport for Canned {
    fn send(&self, r: http::Request<Vec<u8>>) -> LocalFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        let body = if r.body().windows(7).any(|w| w == b"DOMAIN#") { &self.domain } else { &self.session };
        let response = http::Response::new(body.clone());
        Box::pin(async move { Ok(response) })
    }
}

fn main() {
    let vars: HashMap<&str, &str> = HashMap::from([
        ("AWS_REGION", "us-east-1"),
        ("DYNAMODB_TABLE", "bench"),
        ("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000"),
        ("AWS_ACCESS_KEY_ID", "AKIDLOCAL"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("ADMIN_TOKEN", "admin-token-0123456789"),
        ("TOKEN_SECRET", "token-secret-0123456789-0123456789-0123"),
    ]);
    let config = Config::from_lookup(|n| vars.get(n).map(|v| v.to_string())).unwrap_or_else(|e| panic!("{e}"));
    let caches = Caches::new(config.cache);
    let token = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let id = dynauth::platform::crypto::hash_b64(token.as_bytes());
    let domain = r#"{"Item":{"PK":{"S":"DOMAIN#bench.acme.test"},"SK":{"S":"DOMAIN"},"host":{"S":"bench.acme.test"},"tenant":{"S":"acme"},"status":{"S":"ready"},"created_at":{"S":"2026-01-01T00:00:00Z"},"updated_at":{"S":"2026-01-01T00:00:00Z"},"tenant_record":{"M":{"id":{"S":"acme"},"name":{"S":"Acme"},"allowed_origins":{"L":[]},"session":{"M":{"lifetime_secs":{"N":"2592000"},"idle_lifetime_secs":{"N":"604800"}}},"login_code":{"M":{"length":{"N":"6"},"ttl_secs":{"N":"600"},"max_attempts":{"N":"5"}}},"protect":{"BOOL":false},"created_at":{"S":"x"},"updated_at":{"S":"x"},"generation":{"S":"g1"}}}}}"#.as_bytes().to_vec();
    let session = format!(r#"{{"Item":{{"PK":{{"S":"TENANT#acme#SESSION#{id}"}},"SK":{{"S":"SESSION"}},"type":{{"S":"session"}},"id":{{"S":"{id}"}},"tenant":{{"S":"acme"}},"tenant_generation":{{"S":"g1"}},"user_id":{{"S":"u-bench"}},"email":{{"S":"bench@example.com"}},"created_at":{{"N":"1800000000"}},"expires_at":{{"N":"1802592000"}},"idle_expires_at":{{"N":"1800604800"}},"last_seen_at":{{"N":"1800000000"}},"device":{{"M":{{}}}},"ttl":{{"N":"1802592000"}}}}}}"#).into_bytes();
    let transport = Canned { domain, session };
    let rt = ManualRuntime::new(1_800_000_100, 1);
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    struct One<'a>(&'a Canned, &'a ManualRuntime);
    impl api::Connect for One<'_> {
        fn client(&self, config: &dynauth::dynamo::ClientConfig) -> Client<'_> {
            Client::new(config, self.0, self.1)
        }
    }
    let connect = One(&transport, &rt);
    let services = api::Services {
        config: &config,
        caches: &caches,
        connect: &connect,
        webhook: &transport,
        runtime: &rt,
        crypto: &dynauth::platform::native_crypto::NativeCrypto,
    };
    for i in 0..n {
        let db = Client::new(&config.dynamo, &transport, &rt);
        let replica = std::cell::OnceCell::new();
        let ctx = Ctx::new(services, &db, &replica, None, rt.now());
        let req = http::Request::builder()
            .method("GET")
            .uri("https://bench.acme.test/v1/session")
            .header("host", "bench.acme.test")
            .header("authorization", format!("Bearer {token}"))
            .header("connection", "keep-alive")
            .body(Vec::new())
            .unwrap_or_default();
        let handled = block_on(api::handle(&ctx, req));
        let line = handled.log.to_json();
        if i == 0
            && let api::Outcome::Respond(r) = &handled.outcome
        {
            eprintln!("{} {} {line}", r.status(), String::from_utf8_lossy(r.body()));
        }
        rt.advance(Duration::from_millis(1));
    }
}
