//! Shared by the integration tests: clients for the local servers that `npm test` (or
//! `scripts/with-servers.sh`) started, and tables that delete themselves.
#![allow(dead_code)]

use std::time::{Duration, SystemTime};

use dynauth::dynamo::{Client, ClientConfig, Credentials, Endpoint, RetryPolicy};
use dynauth::platform::native::{HttpTransport, OsRuntime, block_on};
use dynauth::platform::runtime::{Random, Runtime, Transport};
use dynauth::table::schema::{self, Schema};

/// The DynamoDB Local endpoint (`DYNAUTH_TEST_DYNAMODB`).
pub fn dynamodb_endpoint() -> String {
    std::env::var("DYNAUTH_TEST_DYNAMODB").unwrap_or_else(|_| {
        panic!(
            "DYNAUTH_TEST_DYNAMODB is not set: run the tests with `npm test` or `scripts/with-servers.sh cargo test`"
        )
    })
}

pub fn os_runtime() -> OsRuntime {
    OsRuntime::new(SystemTime::now)
}

/// Credentials DynamoDB Local accepts (it checks that a signature is present, not what it says).
pub fn local_credentials() -> Credentials {
    Credentials {
        access_key_id: "AKIDLOCALTEST".into(),
        secret_access_key: "local-secret-not-real".into(),
        session_token: None,
    }
}

pub fn config(endpoint: &str, region: &str, credentials: Credentials) -> ClientConfig {
    ClientConfig {
        endpoint: Endpoint::parse(endpoint).unwrap_or_else(|e| panic!("{endpoint}: {e}")),
        region: region.to_string(),
        credentials,
        retry: RetryPolicy { deadline: Duration::from_secs(10), ..RetryPolicy::default() },
    }
}

/// A client for DynamoDB Local over `transport` and `runtime`.
pub fn local_client<'a>(transport: impl Transport + 'a, runtime: impl Runtime + 'a) -> Client<'a> {
    Client::new(&config(&dynamodb_endpoint(), "us-east-1", local_credentials()), transport, runtime)
}

/// A unique table name with `prefix`.
pub fn unique_name(prefix: &str) -> String {
    let mut b = [0u8; 6];
    os_runtime().fill_random(&mut b);
    format!("{prefix}-{}", hex::encode(b))
}

/// A table made for one test and deleted when dropped.
pub struct TestTable {
    pub schema: Schema,
    client: Client<'static>,
}

impl TestTable {
    /// A new table with dynauth's schema on DynamoDB Local.
    pub fn new(prefix: &str) -> Self {
        let schema = Schema::new(&unique_name(prefix));
        let client = local_client(HttpTransport::default(), os_runtime());
        let created = block_on(schema::create(&client, &schema));
        assert_eq!(created, Ok(true), "creating {}", schema.table);
        Self { schema, client }
    }

    pub fn name(&self) -> &str {
        &self.schema.table
    }
}

impl Drop for TestTable {
    fn drop(&mut self) {
        let _ = block_on(self.client.delete_table(&self.schema.table));
    }
}

/// The second DynamoDB Local (`DYNAUTH_TEST_DYNAMODB_REPLICA`): a replica region.
pub fn replica_endpoint() -> String {
    std::env::var("DYNAUTH_TEST_DYNAMODB_REPLICA").unwrap_or_else(|_| {
        panic!("DYNAUTH_TEST_DYNAMODB_REPLICA is not set: run the tests with `npm test` or `scripts/with-servers.sh`")
    })
}

/// A replica region of a test table: the same table on the second DynamoDB Local, brought level
/// with home only when a test calls [`Replica::replicate`]. A stand-in for global-table
/// replication whose lag the test decides (none, or until it replicates).
pub struct Replica {
    schema: Schema,
    home: Client<'static>,
    client: Client<'static>,
}

impl Replica {
    pub fn of(home: &TestTable) -> Self {
        let config = config(&replica_endpoint(), "us-east-1", local_credentials());
        let client = Client::new(&config, HttpTransport::default(), os_runtime());
        let created = block_on(schema::create(&client, &home.schema));
        assert_eq!(created, Ok(true), "creating the replica of {}", home.schema.table);
        Self { schema: home.schema.clone(), home: local_client(HttpTransport::default(), os_runtime()), client }
    }

    /// Makes the replica equal to home as it is now: every item of home written, every item
    /// home no longer has deleted.
    pub fn replicate(&self) {
        let scan = |client: &Client<'static>| scan_with(client, &self.schema.table);
        let key = |item: &dynauth::dynamo::Item| -> dynauth::dynamo::Item {
            [&self.schema.pk, &self.schema.sk]
                .into_iter()
                .filter_map(|name| item.get(name).map(|v| (name.clone(), v.clone())))
                .collect()
        };
        let at_home = scan(&self.home);
        let home_keys: Vec<_> = at_home.iter().map(key).collect();
        for item in scan(&self.client) {
            let k = key(&item);
            if !home_keys.contains(&k) {
                let input = dynauth::dynamo::DeleteItemInput::new(&self.schema.table, k);
                block_on(self.client.delete_item(input, dynauth::dynamo::Write::Idempotent))
                    .expect("the test's own input");
            }
        }
        for item in at_home {
            let input = dynauth::dynamo::PutItemInput::new(&self.schema.table, item);
            block_on(self.client.put_item(input, dynauth::dynamo::Write::Idempotent)).expect("the test's own input");
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = block_on(self.client.delete_table(&self.schema.table));
    }
}

/// The API over a real DynamoDB Local table, as the edge runs it: one client per request (with
/// its own counters), the caches shared for the life of the app (an isolate).
pub mod app {
    use std::collections::HashMap;

    use dynauth::api::{self, Ctx, Outcome};
    use dynauth::app::Config;
    use dynauth::domain::resolve::Caches;
    use dynauth::dynamo::Client;
    use dynauth::platform::native::{HttpTransport, block_on};
    use dynauth::platform::runtime::Runtime;
    use dynauth::testing::fakes::CountingTransport;

    pub const ADMIN_TOKEN: &str = "admin-token-for-tests-only-0123";
    pub const TOKEN_SECRET: &str = "token-secret-for-tests-only-0123456789";

    pub struct App<R: Runtime> {
        pub config: Config,
        pub caches: Caches,
        pub transport: CountingTransport<HttpTransport>,
        pub runtime: R,
        /// How many deferred jobs (slides) have run.
        pub deferred_runs: std::cell::Cell<usize>,
    }

    /// An answer: status, headers, and the body as JSON (Null when empty or not JSON).
    #[derive(Debug)]
    pub struct Answer {
        pub status: u16,
        pub headers: http::HeaderMap,
        pub json: serde_json::Value,
        /// The raw body (for HTML).
        pub body: Vec<u8>,
        pub forward: Option<api::Forward>,
        /// DynamoDB requests made before the answer (deferred work not counted).
        pub calls: u32,
        /// The request's log line, as JSON.
        pub log: serde_json::Value,
    }

    impl<R: Runtime> api::Connect for App<R> {
        fn client(&self, config: &dynauth::dynamo::ClientConfig) -> Client<'_> {
            Client::new(config, &self.transport, &self.runtime)
        }
    }

    impl<R: Runtime> App<R> {
        /// What the app hands each request, as the edge's isolate does.
        pub fn services(&self) -> api::Services<'_> {
            api::Services {
                config: &self.config,
                caches: &self.caches,
                connect: self,
                webhook: &self.transport,
                runtime: &self.runtime,
                crypto: &dynauth::platform::native_crypto::NativeCrypto,
            }
        }

        /// An app on `table` with extra vars.
        pub fn new(table: &str, runtime: R, extra: &[(&str, &str)]) -> Self {
            let mut vars: HashMap<String, String> = HashMap::from([
                ("AWS_REGION".into(), "us-east-1".into()),
                ("DYNAMODB_TABLE".into(), table.into()),
                ("DYNAMODB_ENDPOINT".into(), super::dynamodb_endpoint()),
                ("AWS_ACCESS_KEY_ID".into(), "AKIDLOCALTEST".into()),
                ("AWS_SECRET_ACCESS_KEY".into(), "local-secret-not-real".into()),
                ("ADMIN_TOKEN".into(), ADMIN_TOKEN.into()),
                ("TOKEN_SECRET".into(), TOKEN_SECRET.into()),
                ("DYNAMODB_TIMEOUT_MS".into(), "10000".into()),
                // Origins and webhooks on 127.0.0.1 (the tests' own servers).
                ("ALLOW_LOCAL_TARGETS".into(), "true".into()),
            ]);
            for (k, v) in extra {
                vars.insert((*k).into(), (*v).into());
            }
            let config = Config::from_lookup(|name| vars.get(name).cloned()).expect("the test's own input");
            let caches = Caches::new(config.cache);
            Self {
                config,
                caches,
                transport: CountingTransport::new(HttpTransport::default()),
                runtime,
                deferred_runs: std::cell::Cell::new(0),
            }
        }

        /// Sends one request; `host` becomes the Host header (https, as in production, except for
        /// localhost, 127.0.0.1 and names under .localhost, which local development serves over
        /// plain http).
        pub fn call(
            &self,
            method: &str,
            path: &str,
            host: &str,
            headers: &[(&str, &str)],
            body: Option<serde_json::Value>,
        ) -> Answer {
            let mut builder = http::Request::builder()
                .method(method)
                .uri(format!("{}://{host}{path}", if super::local(host) { "http" } else { "https" }))
                .header("host", host);
            for (k, v) in headers {
                builder = builder.header(*k, *v);
            }
            let body = match body {
                Some(b) => {
                    builder = builder.header("content-type", "application/json");
                    serde_json::to_vec(&b).unwrap_or_default()
                }
                None => Vec::new(),
            };
            let request = builder.body(body).expect("the test's own input");
            self.send(request)
        }

        pub fn send(&self, request: http::Request<Vec<u8>>) -> Answer {
            self.send_from(request, None)
        }

        /// [`Self::send`] for a request that came in at `location` (Cloudflare's `request.cf`).
        pub fn send_from(
            &self,
            request: http::Request<Vec<u8>>,
            location: Option<dynauth::domain::regions::Location>,
        ) -> Answer {
            let db = Client::new(&self.config.dynamo, &self.transport, &self.runtime);
            // As the edge does (the one constructor): the region nearest to where the request
            // came from (none: home), its replica read first.
            let replica = std::cell::OnceCell::new();
            let ctx = Ctx::new(self.services(), &db, &replica, location, self.runtime.now());
            let handled = block_on(api::handle(&ctx, request));
            let calls = handled.log.dynamodb_calls;
            let log = serde_json::to_value(&handled.log).unwrap_or_default();
            // What the edge hands to wait_until runs after the answer is complete.
            let deferred = handled.deferred.len();
            let failures = block_on(ctx.run_deferred(&handled.log.request_id, handled.deferred));
            assert!(failures.is_empty(), "deferred work failed: {failures:?}");
            self.deferred_runs.set(self.deferred_runs.get() + deferred);
            match handled.outcome {
                Outcome::Respond(r) => Answer {
                    status: r.status().as_u16(),
                    headers: r.headers().clone(),
                    json: serde_json::from_slice(r.body()).unwrap_or(serde_json::Value::Null),
                    body: r.body().clone(),
                    forward: None,
                    calls,
                    log,
                },
                Outcome::Forward(f) => Answer {
                    status: 0,
                    headers: http::HeaderMap::new(),
                    json: serde_json::Value::Null,
                    body: Vec::new(),
                    forward: Some(f),
                    calls,
                    log,
                },
            }
        }

        /// An admin request with the right token (on the admin host, from nowhere in particular).
        pub fn admin(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> Answer {
            self.call(method, path, "admin.dynauth.test", &[("authorization", &format!("Bearer {ADMIN_TOKEN}"))], body)
        }

        /// Puts tenant `id` (201) and claims `host` for it, ready (201): where most tests start.
        pub fn tenant_on(&self, id: &str, tenant: serde_json::Value, host: &str) {
            let r = self.admin("PUT", &format!("/v1/admin/tenants/{id}"), Some(tenant));
            assert_eq!(r.status, 201, "putting tenant {id}: {}", r.json);
            let claim = serde_json::json!({"status": "ready"});
            let r = self.admin("PUT", &format!("/v1/admin/tenants/{id}/domains/{host}"), Some(claim));
            assert_eq!(r.status, 201, "claiming {host} for {id}: {}", r.json);
        }
    }
}

/// Whether local development serves `host` (with or without a port) over plain http.
fn local(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    matches!(name, "localhost" | "127.0.0.1") || name.ends_with(".localhost")
}

/// A webhook receiver on 127.0.0.1 answering 204, keeping each body it is sent: the way tests
/// outside `DEV_MODE` (which answers codes only to local hosts) get their login codes, and
/// clients their back-channel logout tokens.
pub struct Sink {
    pub url: String,
    /// Each JSON body.
    pub bodies: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    /// Each body as sent, with its content type.
    pub raw: Deliveries,
}

/// What a [`Sink`] was sent: each content type and body.
pub type Deliveries = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

impl Sink {
    pub fn start() -> Self {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("the test's own input");
        let url = format!("http://127.0.0.1:{}/hook", listener.local_addr().map(|a| a.port()).unwrap_or(0));
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let raw = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (kept, kept_raw) = (bodies.clone(), raw.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                let (mut len, mut content_type) = (0usize, String::new());
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if let Some(v) = lower.strip_prefix("content-type:") {
                        content_type = v.trim().to_string();
                    }
                    line.clear();
                }
                let mut body = vec![0u8; len];
                let _ = reader.read_exact(&mut body);
                if let (Ok(mut kept), Ok(v)) = (kept.lock(), serde_json::from_slice(&body)) {
                    kept.push(v);
                }
                if let Ok(mut kept) = kept_raw.lock() {
                    kept.push((content_type, body));
                }
                let _ = reader.into_inner().write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
            }
        });
        Self { url, bodies, raw }
    }

    /// The last delivery's `login_id` and `code`.
    pub fn last_code(&self) -> (String, String) {
        let last = self.bodies.lock().ok().and_then(|b| b.last().cloned()).unwrap_or_default();
        (last["login_id"].as_str().unwrap_or("").to_string(), last["code"].as_str().unwrap_or("").to_string())
    }
}

/// A manual clock at `epoch_secs` whose random stream is seeded from the OS, so request tokens
/// never repeat across tests sharing one DynamoDB Local.
pub fn manual_runtime(epoch_secs: u64) -> dynauth::testing::fakes::ManualRuntime {
    let mut seed = [0u8; 8];
    os_runtime().fill_random(&mut seed);
    dynauth::testing::fakes::ManualRuntime::new(epoch_secs, u64::from_le_bytes(seed))
}

/// Every item of a table (a scan, page by page).
pub fn scan_all(table: &str) -> Vec<dynauth::dynamo::Item> {
    scan_with(&local_client(HttpTransport::default(), os_runtime()), table)
}

/// Every item of `table` as `client` (home, or a replica) has it.
fn scan_with(client: &Client<'_>, table: &str) -> Vec<dynauth::dynamo::Item> {
    let mut input =
        dynauth::dynamo::ScanInput { table_name: table.to_string(), consistent_read: true, ..Default::default() };
    let mut items = Vec::new();
    loop {
        let page = block_on(client.scan(&input)).expect("the test's own input");
        items.extend(page.items);
        match page.last_evaluated_key {
            Some(k) => input.exclusive_start_key = Some(k),
            None => return items,
        }
    }
}

/// One DynamoDB (or DynamoDB Streams) JSON 1.0 call to DynamoDB Local, unsigned but for the
/// header it checks is present: for what the client does not do (streams), in tests only.
pub fn raw_call(endpoint: &str, target: &str, body: &serde_json::Value) -> serde_json::Value {
    let mut answer = ureq::post(endpoint)
        .config()
        .http_status_as_error(false)
        .build()
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", target)
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDLOCALTEST/20270115/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
        )
        .send(body.to_string())
        .unwrap_or_else(|e| panic!("{target}: {e}"));
    let status = answer.status();
    let text = answer.body_mut().read_to_string().unwrap_or_else(|e| panic!("{target}: {e}"));
    assert!(status.is_success(), "{target}: {status} {text} (sent {body})");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{target}: {e}: {text}"))
}

/// Replication as a global table does it: the home table's stream (`NEW_AND_OLD_IMAGES`,
/// enabled here) applied to the replica's table by a background thread, each record `lag` after
/// the replicator first saw it, or held while `paused`. Counts what it applied.
pub struct StreamReplicator {
    pub lag_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
    pub paused: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pending: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StreamReplicator {
    /// Enables the stream of `home` (before anything is written to it) and starts replicating
    /// to the table of the same name at `replica`.
    pub fn start(home: &TestTable, replica: &str) -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
        let table = home.schema.table.clone();
        let spec = serde_json::json!({"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"});
        let updated = raw_call(
            &dynamodb_endpoint(),
            "DynamoDB_20120810.UpdateTable",
            &serde_json::json!({"TableName": table, "StreamSpecification": spec}),
        );
        let arn = updated["TableDescription"]["LatestStreamArn"].as_str().unwrap_or_default().to_string();
        assert!(!arn.is_empty(), "no stream: {updated}");
        let (lag_ms, paused, pending, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (lag, hold, waiting, done) = (lag_ms.clone(), paused.clone(), pending.clone(), stop.clone());
        let replica = replica.to_string();
        let thread = std::thread::spawn(move || {
            let home = dynamodb_endpoint();
            let streams = "DynamoDBStreams_20120810";
            let mut iterators: std::collections::HashMap<String, Option<String>> = std::collections::HashMap::new();
            let mut queue: std::collections::VecDeque<(std::time::Instant, serde_json::Value)> =
                std::collections::VecDeque::new();
            while !done.load(Ordering::SeqCst) {
                let described =
                    raw_call(&home, &format!("{streams}.DescribeStream"), &serde_json::json!({"StreamArn": arn}));
                for shard in described["StreamDescription"]["Shards"].as_array().cloned().unwrap_or_default() {
                    let id = shard["ShardId"].as_str().unwrap_or_default().to_string();
                    if let std::collections::hash_map::Entry::Vacant(entry) = iterators.entry(id.clone()) {
                        let it = raw_call(
                            &home,
                            &format!("{streams}.GetShardIterator"),
                            &serde_json::json!({"StreamArn": arn, "ShardId": id, "ShardIteratorType": "TRIM_HORIZON"}),
                        );
                        entry.insert(it["ShardIterator"].as_str().map(str::to_string));
                    }
                }
                for iterator in iterators.values_mut() {
                    let Some(current) = iterator.clone() else { continue };
                    let got = raw_call(
                        &home,
                        &format!("{streams}.GetRecords"),
                        &serde_json::json!({"ShardIterator": current}),
                    );
                    for record in got["Records"].as_array().cloned().unwrap_or_default() {
                        queue.push_back((std::time::Instant::now(), record));
                    }
                    *iterator = got["NextShardIterator"].as_str().map(str::to_string);
                }
                let lag = std::time::Duration::from_millis(lag.load(Ordering::SeqCst));
                while !hold.load(Ordering::SeqCst) && queue.front().is_some_and(|(seen, _)| seen.elapsed() >= lag) {
                    let Some((_, record)) = queue.pop_front() else { break };
                    let change = &record["dynamodb"];
                    if record["eventName"] == "REMOVE" {
                        raw_call(
                            &replica,
                            "DynamoDB_20120810.DeleteItem",
                            &serde_json::json!({"TableName": table, "Key": change["Keys"]}),
                        );
                    } else {
                        let mut item = change["NewImage"].clone();
                        if let Some(attributes) = item.as_object_mut() {
                            attributes.values_mut().for_each(repair);
                        }
                        raw_call(
                            &replica,
                            "DynamoDB_20120810.PutItem",
                            &serde_json::json!({"TableName": table, "Item": item}),
                        );
                    }
                }
                waiting.store(queue.len(), Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        });
        Self { lag_ms, paused, pending, stop, thread: Some(thread) }
    }

    pub fn set_lag(&self, lag: std::time::Duration) {
        let ms = u64::try_from(lag.as_millis()).unwrap_or(u64::MAX);
        self.lag_ms.store(ms, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn pause(&self, paused: bool) {
        self.paused.store(paused, std::sync::atomic::Ordering::SeqCst);
    }

    /// Waits (up to 10 s) until every change written to home so far is in the replica.
    pub fn catch_up(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        // A few rounds of the thread: what was just written is read before it is counted.
        std::thread::sleep(std::time::Duration::from_millis(150));
        while self.pending.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            assert!(std::time::Instant::now() < deadline, "the replicator did not catch up");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(60));
    }
}

/// DynamoDB Local's stream images write an empty map attribute as `{}` (no `M`): put the type
/// back, at any depth, so the replica gets the item home has.
fn repair(value: &mut serde_json::Value) {
    let Some(object) = value.as_object_mut() else { return };
    if object.is_empty() {
        object.insert("M".into(), serde_json::json!({}));
        return;
    }
    if let Some(map) = object.get_mut("M").and_then(|m| m.as_object_mut()) {
        map.values_mut().for_each(repair);
    }
    if let Some(list) = object.get_mut("L").and_then(|l| l.as_array_mut()) {
        list.iter_mut().for_each(repair);
    }
}

impl Drop for StreamReplicator {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
