//! Reads from the nearest region of a global table: two DynamoDB Local instances act as the home
//! region (us-east-1) and a replica (ap-southeast-2), with a test replicator whose lag the test
//! decides ([`common::Replica`]). Requests carry where they came from (Cloudflare's location),
//! as the edge gives it; the DynamoDB calls of each request are counted exactly.

#![allow(clippy::expect_used)] // a test's own setup may panic: it is the test failing

mod common;

use std::time::Duration;

use dynauth::domain::regions::Location;
use dynauth::dynamo::AttributeValue;
use serde_json::{Value, json};

use common::app::{Answer, App};
use common::{Replica, StreamReplicator, TestTable, manual_runtime, replica_endpoint, scan_all};

const T0: u64 = 1_800_000_000;
const HOST: &str = "auth.acme.test";
const SYDNEY: Location = Location { latitude: -33.87, longitude: 151.21 };
const NEW_YORK: Location = Location { latitude: 40.71, longitude: -74.0 };

type TestApp = App<dynauth::testing::fakes::ManualRuntime>;

fn regions(replica: &str) -> [(&'static str, String); 2] {
    [
        ("DYNAMODB_REGIONS", "us-east-1,ap-southeast-2".into()),
        ("DYNAMODB_ENDPOINTS", format!("ap-southeast-2={replica}")),
    ]
}

fn app(table: &TestTable, replica: &str) -> TestApp {
    let vars = regions(replica);
    let extra: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    App::new(table.name(), manual_runtime(T0), &extra)
}

/// `method path` on `host` from `from` (None: Cloudflare did not say where).
fn call_from(app: &TestApp, from: Option<Location>, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut builder = http::Request::builder().method(method).uri(format!("https://{HOST}{path}")).header("host", HOST);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    app.send_from(builder.body(Vec::new()).expect("the test's own input"), from)
}

fn lookup(app: &TestApp, from: Option<Location>, token: &str) -> Answer {
    call_from(app, from, "GET", "/v1/session", &[("authorization", &format!("Bearer {token}"))])
}

fn mint(app: &TestApp, user: &str) -> (String, String) {
    let r = app.admin("POST", "/v1/admin/tenants/acme/sessions", Some(json!({"user_id": user})));
    assert_eq!(r.status, 201, "{}", r.json);
    (r.json["token"].as_str().unwrap_or_default().into(), r.json["session"]["id"].as_str().unwrap_or_default().into())
}

fn revoke(app: &TestApp, id: &str) {
    assert_eq!(app.admin("DELETE", &format!("/v1/admin/tenants/acme/sessions/{id}"), None).status, 204);
}

fn setup(prefix: &str, tenant: Value) -> (TestTable, Replica, TestApp) {
    let table = TestTable::new(prefix);
    let replica = Replica::of(&table);
    let app = app(&table, &replica_endpoint());
    app.tenant_on("acme", tenant, HOST);
    (table, replica, app)
}

fn region(answer: &Answer) -> Value {
    answer.log["region"].clone()
}

#[test]
fn lookups_read_the_nearest_replica_and_ask_home_only_for_what_it_lacks() {
    let (_t, replica, app) = setup("regions", json!({"name": "Acme"}));
    // Nothing replicated yet: the host and the session are found at home after the replica
    // missed them (the negative answer of a replica is never cached).
    let warm = call_from(&app, Some(SYDNEY), "GET", "/v1/tenant", &[]);
    assert_eq!((warm.status, warm.calls, region(&warm)), (200, 2, json!("ap-southeast-2")), "{}", warm.json);
    let (token, id) = mint(&app, "u-1");
    let fresh = lookup(&app, Some(SYDNEY), &token);
    assert_eq!((fresh.status, fresh.calls), (200, 2), "a session made a moment ago works at once: home fallback");
    assert_eq!(fresh.json["session"]["id"], json!(id));

    // Replicated: one call, to the replica.
    replica.replicate();
    let near = lookup(&app, Some(SYDNEY), &token);
    assert_eq!((near.status, near.calls, region(&near)), (200, 1, json!("ap-southeast-2")));
    assert_eq!(near.json, fresh.json);
    // From New York home is nearest; without a location, home.
    let home = lookup(&app, Some(NEW_YORK), &token);
    assert_eq!((home.status, home.calls, region(&home)), (200, 1, json!("us-east-1")));
    assert_eq!(region(&lookup(&app, None, &token)), json!("us-east-1"));

    // Revoked at home: the replica answers 200 until replication reaches it (the documented
    // bound), then 401 with its one call (a revoked session is final: home is not asked).
    revoke(&app, &id);
    let stale = lookup(&app, Some(SYDNEY), &token);
    assert_eq!((stale.status, stale.calls), (200, 1), "within the replication lag");
    assert_eq!(lookup(&app, Some(NEW_YORK), &token).status, 401, "home knows at once");
    replica.replicate();
    let revoked = lookup(&app, Some(SYDNEY), &token);
    assert_eq!((revoked.status, revoked.calls), (401, 1));

    // An unknown token: the replica misses, home confirms, then 401 (two calls, never more).
    let unknown = lookup(&app, Some(SYDNEY), &"A".repeat(43));
    assert_eq!((unknown.status, unknown.calls), (401, 2));

    // A host claimed a moment ago resolves through home, like a session.
    let other = "app.acme.test";
    assert_eq!(
        app.admin("PUT", &format!("/v1/admin/tenants/acme/domains/{other}"), Some(json!({"status": "ready"}))).status,
        201
    );
    let request =
        http::Request::builder().method("GET").uri(format!("https://{other}/v1/tenant")).header("host", other);
    let claimed = app.send_from(request.body(Vec::new()).expect("the test's own input"), Some(SYDNEY));
    assert_eq!((claimed.status, claimed.calls), (200, 2));
}

#[test]
fn writes_go_home_and_strict_revocation_reads_home_at_once() {
    let (t, replica, app) = setup("regions-strict", json!({"name": "Acme", "session": {"strict_revocation": true}}));
    let (token, id) = mint(&app, "u-1");
    replica.replicate();
    let _warm = call_from(&app, Some(SYDNEY), "GET", "/v1/tenant", &[]);
    let first = lookup(&app, Some(SYDNEY), &token);
    assert_eq!((first.status, first.calls, region(&first)), (200, 1, json!("ap-southeast-2")));
    revoke(&app, &id);
    let at_once = lookup(&app, Some(SYDNEY), &token);
    assert_eq!((at_once.status, at_once.calls), (401, 1), "strict: home, consistently, never the stale replica");

    // Logout from Sydney writes home, and answers after that write.
    let (token, id) = mint(&app, "u-2");
    replica.replicate();
    let out = call_from(&app, Some(SYDNEY), "POST", "/v1/logout", &[("authorization", &format!("Bearer {token}"))]);
    assert_eq!(out.status, 204);
    let pk = AttributeValue::S(format!("TENANT#acme#SESSION#{id}"));
    let stored = scan_all(t.name()).into_iter().find(|i| i.get("PK") == Some(&pk)).unwrap_or_default();
    assert!(stored.contains_key("revoked_at"), "revoked at home: {stored:?}");
}

#[test]
fn a_replica_that_is_down_is_skipped_for_home_and_its_breaker_opens_after_three_failures() {
    let table = TestTable::new("regions-down");
    let app = app(&table, "http://127.0.0.1:9"); // nothing listens there
    app.tenant_on("acme", json!({"name": "Acme"}), HOST);
    let (token, _) = mint(&app, "u-1");
    let _warm = call_from(&app, Some(NEW_YORK), "GET", "/v1/tenant", &[]); // the host, from home
    // One attempt at the replica (no retries: it is skipped, not waited for), then home.
    for _ in 0..3 {
        let r = lookup(&app, Some(SYDNEY), &token);
        assert_eq!((r.status, r.calls, region(&r)), (200, 2, json!("ap-southeast-2")), "{}", r.json);
    }
    // Three failures in a row: the breaker is open, Sydney reads home, one call.
    let skipped = lookup(&app, Some(SYDNEY), &token);
    assert_eq!((skipped.status, skipped.calls, region(&skipped)), (200, 1, json!("us-east-1")));
    // After the cooldown one request probes the replica again; it fails, the breaker reopens.
    app.runtime.advance(dynauth::domain::regions::BREAKER_COOLDOWN);
    let probe = lookup(&app, Some(SYDNEY), &token);
    assert_eq!((probe.status, probe.calls, region(&probe)), (200, 2, json!("ap-southeast-2")));
    let again = lookup(&app, Some(SYDNEY), &token);
    assert_eq!((again.calls, region(&again)), (1, json!("us-east-1")));
}

#[test]
fn a_replica_slower_than_its_budget_is_skipped_within_the_budget() {
    // A replica that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("the test's own input");
    let hung = format!("http://{}", listener.local_addr().expect("the test's own input"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream); // kept open, never answered
        }
    });
    let table = TestTable::new("regions-slow");
    let vars = [
        ("DYNAMODB_REGIONS", "us-east-1,ap-southeast-2".to_string()),
        ("DYNAMODB_ENDPOINTS", format!("ap-southeast-2={hung}")),
        ("DYNAMODB_REPLICA_TIMEOUT_MS", "100".to_string()),
    ];
    let extra: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = App::new(table.name(), manual_runtime(T0), &extra);
    app.tenant_on("acme", json!({"name": "Acme"}), HOST);
    let (token, _) = mint(&app, "u-1");
    let _warm = call_from(&app, Some(NEW_YORK), "GET", "/v1/tenant", &[]);
    let started = std::time::Instant::now();
    let r = lookup(&app, Some(SYDNEY), &token);
    let took = started.elapsed();
    assert_eq!((r.status, r.calls), (200, 2));
    assert!(took < Duration::from_millis(1_000), "the replica's 100 ms budget, then home: {took:?}");
}

#[test]
fn with_home_down_replicas_keep_answering_lookups_and_writes_are_503() {
    let (t, replica, app) = setup("regions-home-down", json!({"name": "Acme"}));
    let (token, id) = mint(&app, "u-1");
    replica.replicate();
    let (unreplicated, _) = mint(&app, "u-2");
    // The same table and replica, home unreachable.
    let vars = regions(&replica_endpoint());
    let mut extra: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    extra.push(("DYNAMODB_ENDPOINT", "http://127.0.0.1:9"));
    let down = App::new(t.name(), manual_runtime(T0), &extra);
    let r = lookup(&down, Some(SYDNEY), &token);
    assert_eq!(
        (r.status, r.json["session"]["id"].clone(), region(&r)),
        (200, json!(id), json!("ap-southeast-2")),
        "{}",
        r.json
    );
    // A session the replica does not have yet cannot be confirmed: 503, never a false 401.
    let unsure = lookup(&down, Some(SYDNEY), &unreplicated);
    assert_eq!((unsure.status, unsure.json["error"]["code"].clone()), (503, json!("unavailable")), "{}", unsure.json);
    assert!(unsure.headers.contains_key("retry-after"));
    // Writes go home: 503 with Retry-After; the session is still live in both regions.
    let out = call_from(&down, Some(SYDNEY), "POST", "/v1/logout", &[("authorization", &format!("Bearer {token}"))]);
    assert_eq!((out.status, out.json["error"]["code"].clone()), (503, json!("unavailable")), "{}", out.json);
    assert!(out.headers.contains_key("retry-after"));
    assert_eq!(lookup(&app, Some(NEW_YORK), &token).status, 200, "nothing was half-written");
}

#[test]
fn admin_health_reports_every_region() {
    let (t, _replica, healthy) = setup("regions-health", json!({"name": "Acme"}));
    let health = healthy.admin("GET", "/v1/admin/health", None);
    assert_eq!(health.status, 200, "{}", health.json);
    let regions: Vec<(Value, Value)> = health.json["regions"]
        .as_array()
        .map(|r| r.iter().map(|r| (r["region"].clone(), r["table"]["mismatches"].clone())).collect())
        .unwrap_or_default();
    assert_eq!(regions, vec![(json!("us-east-1"), json!([])), (json!("ap-southeast-2"), json!([]))]);
    // A replica that cannot be read makes the whole check fail, naming the region.
    let down = app(&t, "http://127.0.0.1:9");
    let r = down.admin("GET", "/v1/admin/health", None);
    assert_eq!((r.status, r.json["error"]["code"].clone()), (503, json!("table_mismatch")), "{}", r.json);
    let mismatches = r.json["error"]["mismatches"].to_string();
    assert!(mismatches.contains("ap-southeast-2: the table could not be read"), "{mismatches}");
}

#[test]
fn code_verification_from_a_replica_region_is_still_exactly_once() {
    let (t, replica, app) = setup("regions-verify", json!({"name": "Acme"}));
    replica.replicate();
    let issued = app.admin("POST", "/v1/admin/tenants/acme/codes", Some(json!({"email": "ann@example.com"})));
    assert_eq!(issued.status, 201, "{}", issued.json);
    let verify = |code: &Value| {
        let body = json!({"login_id": issued.json["login_id"], "code": code, "binding": issued.json["binding"], "deliver": "body"});
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("https://{HOST}/v1/login/verify"))
            .header("host", HOST)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).unwrap_or_default())
            .expect("the test's own input");
        app.send_from(request, Some(SYDNEY))
    };
    let wrong = verify(&json!(if issued.json["code"] == "000000" { "111111" } else { "000000" }));
    assert_eq!((wrong.status, wrong.json["error"]["attempts_left"].clone()), (401, json!(4)), "{}", wrong.json);
    let first = verify(&issued.json["code"]);
    let again = verify(&issued.json["code"]);
    assert_eq!((first.status, again.status), (200, 200), "{} {}", first.json, again.json);
    assert_eq!(first.json["session"]["id"], again.json["session"]["id"], "the retry is answered with its session");
    assert_eq!(region(&first), json!("ap-southeast-2"));
    // Exactly one session, written at home.
    let sessions = scan_all(t.name())
        .into_iter()
        .filter(|i| matches!(i.get("type"), Some(AttributeValue::S(kind)) if kind == "session"))
        .count();
    assert_eq!(sessions, 1);
}

#[test]
fn replicated_from_the_stream_with_a_lag_a_new_session_works_at_once_and_a_revocation_lands_with_the_lag() {
    let table = TestTable::new("regions-stream");
    let replica = Replica::of(&table);
    let stream = StreamReplicator::start(&table, &replica_endpoint());
    let app = app(&table, &replica_endpoint());
    app.tenant_on("acme", json!({"name": "Acme"}), HOST);
    stream.catch_up();
    let warm = call_from(&app, Some(SYDNEY), "GET", "/v1/tenant", &[]);
    assert_eq!((warm.status, warm.calls), (200, 1), "the host came through the stream");

    // A 2 s lag: ten sessions made and looked up from Sydney at once all work, through home;
    // once the lag has passed, the replica answers them alone.
    stream.set_lag(Duration::from_secs(2));
    let tokens: Vec<String> = (0..10).map(|i| mint(&app, &format!("u-{i}")).0).collect();
    // Each session looked up from Sydney: (status, DynamoDB calls).
    let look_up_all = || -> Vec<(u16, u32)> {
        tokens
            .iter()
            .map(|t| {
                let r = lookup(&app, Some(SYDNEY), t);
                (r.status, r.calls)
            })
            .collect()
    };
    let at_once = look_up_all();
    std::thread::sleep(Duration::from_millis(2_300));
    stream.catch_up();
    let later = look_up_all();
    let home = |runs: &[(u16, u32)]| runs.iter().filter(|(_, calls)| *calls == 2).count();
    eprintln!("home-fallback rate: {}/10 within the lag, {}/10 after it", home(&at_once), home(&later));
    assert!(at_once.iter().chain(&later).all(|(status, _)| *status == 200), "{at_once:?} {later:?}");
    assert_eq!((home(&at_once), home(&later)), (10, 0));

    // Revoked at home while replication is held: the replica still says 200 (the bound); once
    // the change arrives, 401 with its one call.
    stream.set_lag(Duration::ZERO);
    let id = lookup(&app, None, &tokens[0]).json["session"]["id"].as_str().unwrap_or_default().to_string();
    stream.pause(true);
    revoke(&app, &id);
    let stale = lookup(&app, Some(SYDNEY), &tokens[0]);
    assert_eq!((stale.status, stale.calls), (200, 1));
    stream.pause(false);
    stream.catch_up();
    let revoked = lookup(&app, Some(SYDNEY), &tokens[0]);
    assert_eq!((revoked.status, revoked.calls), (401, 1));
    drop(replica);
}
