//! Tenants and custom domains through the HTTP API, against DynamoDB Local: admin CRUD with exact
//! statuses and bodies, validation, claims and their race, host resolution and its cache (a
//! counting transport proves the calls), DEFAULT_TENANT, and forwarding plans.

#![allow(clippy::expect_used)] // a test's own setup may panic: it is the test failing

mod common;

use std::time::Duration;

use dynauth::api::{self, Ctx, Outcome};
use dynauth::dynamo::{Client, s};
use dynauth::platform::driver::{Done, HostTransport, Op, Step, Task, complete, take_woken};
use dynauth::platform::native::{HttpTransport, block_on};
use dynauth::platform::runtime::{Clock, Transport};
use serde_json::{Value, json};

use common::app::{ADMIN_TOKEN, App};
use common::{TestTable, manual_runtime, scan_all};

const T0: u64 = 1_800_000_000; // 2027-01-15T08:00:00Z

fn app(table: &TestTable) -> App<dynauth::testing::fakes::ManualRuntime> {
    App::new(table.name(), manual_runtime(T0), &[])
}

fn acme() -> Value {
    json!({"name": "Acme", "allowed_origins": ["https://app.acme.test"], "origin": "http://127.0.0.1:9/base"})
}

#[test]
fn tenant_crud_with_exact_bodies() {
    let t = TestTable::new("tenants");
    let app = app(&t);
    let created = app.admin("PUT", "/v1/admin/tenants/acme", Some(acme()));
    assert_eq!(created.status, 201, "{:?}", created.json);
    let expected = json!({
        "id": "acme",
        "name": "Acme",
        "allowed_origins": ["https://app.acme.test"],
        "session": {"lifetime_secs": 2_592_000, "idle_lifetime_secs": 604_800, "cache_secs": 0, "strict_revocation": false},
        "login_code": {"length": 6, "ttl_secs": 600, "max_attempts": 5},
        "origin": "http://127.0.0.1:9/base",
        "protect": false,
        "code_webhook_url": null,
        "authjs": null,
        "jwt": {"ttl_secs": 300, "audience": "acme"},
        "branding": {},
        "oidc": {"refresh_tokens": "offline_access"},
        "secrets_valid": {"origin": 1, "webhook": 1, "jwt": 1},
        "created_at": "2027-01-15T08:00:00Z",
        "updated_at": "2027-01-15T08:00:00Z",
    });
    // The secrets are shown at creation only (43 base64url characters each).
    let mut shown = created.json.clone();
    let secrets = shown.as_object_mut().and_then(|o| o.remove("secrets")).unwrap_or_default();
    for kind in ["origin", "webhook"] {
        let secret = secrets[kind].as_str().unwrap_or_default();
        assert!(secret.len() == 43 && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
    assert_eq!(shown, expected);
    assert_eq!(app.admin("GET", "/v1/admin/tenants/acme", None).json, expected);

    app.runtime.advance(Duration::from_secs(60));
    let replaced = app.admin("PUT", "/v1/admin/tenants/acme", Some(json!({"name": "Acme Corp", "protect": true})));
    assert_eq!(replaced.status, 200);
    assert_eq!(
        replaced.json,
        json!({
            "id": "acme", "name": "Acme Corp", "allowed_origins": [],
            "session": {"lifetime_secs": 2_592_000, "idle_lifetime_secs": 604_800, "cache_secs": 0, "strict_revocation": false},
            "login_code": {"length": 6, "ttl_secs": 600, "max_attempts": 5},
            "origin": null, "protect": true, "code_webhook_url": null, "authjs": null,
            "jwt": {"ttl_secs": 300, "audience": "acme"},
            "branding": {},
            "oidc": {"refresh_tokens": "offline_access"},
            "secrets_valid": {"origin": 1, "webhook": 1, "jwt": 1},
            "created_at": "2027-01-15T08:00:00Z", "updated_at": "2027-01-15T08:01:00Z",
        })
    );

    let deleted = app.admin("DELETE", "/v1/admin/tenants/acme", None);
    assert_eq!((deleted.status, deleted.json.clone()), (204, Value::Null));
    let missing = app.admin("GET", "/v1/admin/tenants/acme", None);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json, json!({"error": {"code": "not_found", "message": "no tenant with this id"}}));
    assert_eq!(app.admin("DELETE", "/v1/admin/tenants/acme", None).status, 404);
    assert!(scan_all(t.name()).is_empty(), "nothing left behind");
}

#[test]
fn admin_routes_need_the_token() {
    let t = TestTable::new("auth");
    let app = app(&t);
    let routes = [
        ("GET", "/v1/admin/tenants"),
        ("PUT", "/v1/admin/tenants/acme"),
        ("GET", "/v1/admin/tenants/acme"),
        ("DELETE", "/v1/admin/tenants/acme"),
        ("GET", "/v1/admin/tenants/acme/domains"),
        ("PUT", "/v1/admin/tenants/acme/domains/auth.acme.test"),
        ("DELETE", "/v1/admin/tenants/acme/domains/auth.acme.test"),
        ("GET", "/v1/admin/nothing-here"),
    ];
    for (method, path) in routes {
        for headers in [vec![], vec![("authorization", "Bearer not-the-token")], vec![("authorization", ADMIN_TOKEN)]] {
            let r = app.call(method, path, "admin.dynauth.test", &headers, Some(acme()));
            assert_eq!(r.status, 401, "{method} {path} {headers:?}");
            assert_eq!(r.json["error"]["code"], "unauthorized");
        }
    }
    assert_eq!(app.transport.count(), 0, "no database call before the token is checked");
}

#[test]
fn every_admin_write_leaves_one_audit_line_without_secrets() {
    let t = TestTable::new("audit");
    let app = app(&t);
    let admin_from = |method: &str, path: &str, body: Option<Value>, token: &str| {
        let auth = format!("Bearer {token}");
        app.call(
            method,
            path,
            "admin.dynauth.test",
            &[("authorization", &auth), ("cf-connecting-ip", "198.51.100.23")],
            body,
        )
    };
    let created = admin_from("PUT", "/v1/admin/tenants/acme", Some(acme()), ADMIN_TOKEN);
    assert_eq!(created.status, 201);
    let line = &created.log;
    assert_eq!(
        (line["route"].clone(), line["tenant"].clone(), line["status"].clone(), line["audit"].clone()),
        (
            json!("admin_tenant"),
            json!("acme"),
            json!(201),
            json!({"event": "admin_write", "target": "", "client_ip": "198.51.100.23"})
        )
    );
    assert!(line["request_id"].as_str().is_some_and(|id| !id.is_empty()));
    for secret in [created.json["secrets"]["origin"].as_str().unwrap_or("-"), ADMIN_TOKEN] {
        assert!(!line.to_string().contains(secret), "no secret in the audit line");
    }
    let claimed = admin_from(
        "PUT",
        "/v1/admin/tenants/acme/domains/auth.acme.test",
        Some(json!({"status": "ready"})),
        ADMIN_TOKEN,
    );
    assert_eq!(claimed.log["audit"]["target"], "domains/auth.acme.test");
    let rotated = admin_from("POST", "/v1/admin/tenants/acme/secrets/origin", None, ADMIN_TOKEN);
    assert_eq!((rotated.status, rotated.log["audit"]["target"].clone()), (200, json!("secrets/origin")));
    assert!(!rotated.log.to_string().contains(rotated.json["secret"].as_str().unwrap_or("-")));
    // A refused write is audited too (who tried what); reads are not.
    let refused = admin_from("DELETE", "/v1/admin/tenants/acme", None, "not-the-admin-token");
    assert_eq!((refused.status, refused.log["audit"]["event"].clone()), (401, json!("admin_write")));
    assert!(!refused.log.to_string().contains("not-the-admin-token"));
    let read = admin_from("GET", "/v1/admin/tenants/acme", None, ADMIN_TOKEN);
    assert_eq!((read.status, read.log.get("audit")), (200, None));
}

#[test]
fn ready_makes_one_cheap_read_and_is_503_when_dynamodb_is_unreachable() {
    let t = TestTable::new("ready");
    let app = app(&t);
    let r = app.call("GET", "/ready", "anything.example.test", &[], None);
    assert_eq!((r.status, r.json.clone(), r.calls), (200, json!({"status": "ready"}), 1));
    assert_eq!(app.transport.operations(), vec!["GetItem"]);
    let health = app.call("GET", "/health", "anything.example.test", &[], None);
    assert_eq!((health.status, health.calls), (200, 0), "/health stays database-free");
    // A table that does not exist, and a database that is not there: 503 + Retry-After.
    let missing = App::new("no-such-table-here", manual_runtime(T0), &[]);
    let r = missing.call("GET", "/ready", "anything.example.test", &[], None);
    assert_eq!((r.status, r.json["error"]["code"].clone()), (503, json!("unavailable")), "{}", r.json);
    assert!(r.headers.contains_key("retry-after"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("the test's own input");
    let endpoint = format!("http://127.0.0.1:{}", closed.local_addr().map(|a| a.port()).unwrap_or(9));
    drop(closed);
    let down =
        App::new(t.name(), manual_runtime(T0), &[("DYNAMODB_ENDPOINT", &endpoint), ("DYNAMODB_TIMEOUT_MS", "300")]);
    let r = down.call("GET", "/ready", "anything.example.test", &[], None);
    assert_eq!((r.status, r.json["error"]["code"].clone()), (503, json!("unavailable")), "{}", r.json);
    assert_eq!(down.call("POST", "/ready", "anything.example.test", &[], None).status, 405);
}

/// A stand-in for "whatever the host reaches": answers every request with the status and body set.
fn host_server() -> (u16, std::sync::Arc<std::sync::Mutex<(u16, String)>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("the test's own input");
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let answer = std::sync::Arc::new(std::sync::Mutex::new((404, String::new())));
    let current = answer.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let (status, body) = current.lock().map(|a| a.clone()).unwrap_or_default();
            let _ = write!(
                reader.into_inner(),
                "HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, answer)
}

#[test]
fn a_pending_domain_becomes_ready_only_once_it_shows_it_reaches_this_worker() {
    let t = TestTable::new("verifydomain");
    // The host "reaches" the stand-in server: local checks go to DOMAIN_CHECK_PORT.
    let (port, answer) = host_server();
    let app = App::new(t.name(), manual_runtime(T0), &[("DOMAIN_CHECK_PORT", &port.to_string())]);
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme", Some(acme())).status, 201);
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/globex", Some(json!({"name": "Globex"}))).status, 201);
    let host = "127.0.0.1";
    let claim = app.admin("PUT", &format!("/v1/admin/tenants/acme/domains/{host}"), Some(json!({"status": "pending"})));
    assert_eq!(claim.status, 201);
    assert_eq!(app.call("GET", "/v1/tenant", host, &[], None).status, 404, "pending: not routed yet");
    // dynauth serves the claim's token on the host itself, whatever the status.
    let served = app.call("GET", "/.well-known/dynauth-domain-verification", host, &[], None);
    assert_eq!(
        (served.status, served.headers["content-type"].to_str().unwrap_or("")),
        (200, "text/plain; charset=utf-8")
    );
    let token = String::from_utf8_lossy(&served.body).into_owned();
    assert_eq!(token.len(), 43);
    let other = app.call("GET", "/.well-known/dynauth-domain-verification", "nobody.example.test", &[], None);
    assert_eq!((other.status, other.json["error"]["code"].clone()), (404, json!("unknown_host")));

    let verify = |tenant: &str| app.admin("POST", &format!("/v1/admin/tenants/{tenant}/domains/{host}/verify"), None);
    let url = format!("http://{host}:{port}/.well-known/dynauth-domain-verification");
    let refused = |r: &common::app::Answer, why: &str| {
        assert_eq!((r.status, r.json["error"]["code"].clone()), (409, json!("domain_unverified")), "{}", r.json);
        let message = r.json["error"]["message"].as_str().unwrap_or("");
        assert!(message.starts_with(&format!("{url} does not show this claim: {why}")), "{message}");
    };
    refused(&verify("acme"), "it answered HTTP 404");
    *answer.lock().unwrap_or_else(|e| e.into_inner()) = (200, "someone-elses-token".into());
    refused(&verify("acme"), "it answered with another token");
    // An answer is read only up to 16 KB: a host that sends more is refused, not read whole.
    *answer.lock().unwrap_or_else(|e| e.into_inner()) = (200, format!("{token}{}", " ".repeat(100_000)));
    refused(&verify("acme"), "it could not be reached (transport error: the answer is larger than 16384 bytes)");
    assert_eq!(app.admin("GET", "/v1/admin/tenants/acme/domains", None).json["domains"][0]["status"], json!("pending"));
    assert_eq!(verify("globex").status, 404, "another tenant's claim");
    // The host reaches this deployment: it shows the token, and the domain goes live.
    *answer.lock().unwrap_or_else(|e| e.into_inner()) = (200, format!("{token}\n"));
    let ok = verify("acme");
    assert_eq!((ok.status, ok.json["status"].clone(), ok.json["host"].clone()), (200, json!("ready"), json!(host)));
    assert_eq!(app.call("GET", "/v1/tenant", host, &[], None).json["id"], json!("acme"), "routed at once here");
    // A host nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("the test's own input");
    let port = closed.local_addr().map(|a| a.port()).unwrap_or(9).to_string();
    drop(closed);
    let app = App::new(t.name(), manual_runtime(T0), &[("DOMAIN_CHECK_PORT", &port)]);
    let claim = app.admin("PUT", "/v1/admin/tenants/acme/domains/localhost", Some(json!({"status": "pending"})));
    assert_eq!(claim.status, 201);
    let r = app.admin("POST", "/v1/admin/tenants/acme/domains/localhost/verify", None);
    assert_eq!((r.status, r.json["error"]["code"].clone()), (409, json!("domain_unverified")));
    assert!(r.json["error"]["message"].as_str().unwrap_or("").contains("could not be reached"), "{}", r.json);
}

#[test]
fn invalid_input_is_a_named_400() {
    let t = TestTable::new("invalid");
    let app = app(&t);
    let cases = [
        (
            "/v1/admin/tenants/Acme",
            json!({"name": "A"}),
            "invalid_tenant_id",
            "a tenant id is 1-63 characters of a-z, 0-9 and -, not starting with -",
        ),
        (
            "/v1/admin/tenants/acme",
            json!({"name": "A", "colour": 1}),
            "unknown_fields",
            "unknown field(s): colour; accepted: name, allowed_origins, session, login_code, origin, protect, code_webhook_url, jwt, branding, oidc, authjs",
        ),
        (
            "/v1/admin/tenants/acme",
            json!({"name": "A", "login_code": {"length": 4}}),
            "invalid_request",
            "login_code.length: must be a whole number from 6 to 10",
        ),
        (
            "/v1/admin/tenants/acme",
            json!({"name": "A", "allowed_origins": ["http://evil.test"]}),
            "invalid_request",
            "allowed_origins[0]: http:// origins are allowed only for localhost and 127.0.0.1",
        ),
        (
            "/v1/admin/tenants/acme",
            json!({"name": "A", "origin": "nope"}),
            "invalid_request",
            "origin: must start with https:// (or http://)",
        ),
        (
            "/v1/admin/tenants/acme",
            json!({"name": "A", "session": {"idle_lifetime_secs": 99999999}}),
            "invalid_request",
            "session.idle_lifetime_secs: must be a whole number from 300 to 34560000",
        ),
        (
            "/v1/admin/tenants/acme",
            json!({"name": "A", "protect": 1}),
            "invalid_request",
            "protect: must be true or false",
        ),
        ("/v1/admin/tenants/acme", json!([1, 2]), "invalid_json", "the body must be a JSON object"),
    ];
    for (path, body, code, message) in cases {
        let r = app.admin("PUT", path, Some(body.clone()));
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json, json!({"error": {"code": code, "message": message}}), "{body}");
    }
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let wrong_type = app.call(
        "PUT",
        "/v1/admin/tenants/acme",
        "x.test",
        &[("authorization", &auth), ("content-type", "text/plain")],
        None,
    );
    assert_eq!((wrong_type.status, wrong_type.json["error"]["code"].clone()), (415, json!("unsupported_media_type")));
    let big = json!({"name": "x".repeat(20_000)});
    let too_big = app.admin("PUT", "/v1/admin/tenants/acme", Some(big));
    assert_eq!((too_big.status, too_big.json["error"]["code"].clone()), (413, json!("payload_too_large")));
    assert_eq!(app.transport.count(), 0, "invalid input never reaches the database");
    assert_eq!(app.admin("PATCH", "/v1/admin/tenants/acme", Some(acme())).headers["allow"], "GET, PUT, DELETE");
}

#[test]
fn listing_pages_with_a_signed_cursor() {
    let t = TestTable::new("list");
    let app = app(&t);
    for id in ["t1", "t2", "t3", "t4", "t5"] {
        assert_eq!(app.admin("PUT", &format!("/v1/admin/tenants/{id}"), Some(json!({"name": id}))).status, 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/admin/tenants?limit=2&cursor={c}"),
            None => "/v1/admin/tenants?limit=2".to_string(),
        };
        let r = app.admin("GET", &path, None);
        assert_eq!(r.status, 200);
        pages += 1;
        for t in r.json["tenants"].as_array().cloned().unwrap_or_default() {
            seen.push(t["id"].as_str().unwrap_or_default().to_string());
        }
        match r.json["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, vec!["t1", "t2", "t3", "t4", "t5"]);
    assert!((3..=4).contains(&pages), "{pages} pages");

    let first = app.admin("GET", "/v1/admin/tenants?limit=2", None);
    let c = first.json["next_cursor"].as_str().unwrap_or_default().to_string();
    let (payload, sig) = c.split_once('.').unwrap_or_default();
    let forged = format!(
        "{}.{sig}",
        dynauth::platform::crypto::b64url(
            br#"{"PK":{"S":"TENANT#t4"},"SK":{"S":"TENANT"},"GSI1PK":{"S":"TENANTS"},"GSI1SK":{"S":"TENANT#t4"}}"#
        )
    );
    for bad in [forged.as_str(), &format!("{payload}.AAAA"), "garbage", &format!("{c}x")] {
        let r = app.admin("GET", &format!("/v1/admin/tenants?cursor={bad}"), None);
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json["error"]["code"], "invalid_cursor");
    }
    for bad in ["0", "101", "x"] {
        let r = app.admin("GET", &format!("/v1/admin/tenants?limit={bad}"), None);
        assert_eq!(
            (r.status, r.json["error"]["message"].clone()),
            (400, json!("limit: must be a whole number from 1 to 100"))
        );
    }
}

#[test]
fn domains_claim_update_conflict_release() {
    let t = TestTable::new("domains");
    let app = app(&t);
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme", Some(acme())).status, 201);
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/globex", Some(json!({"name": "Globex"}))).status, 201);

    let claim = |tenant: &str, host: &str, status: &str| {
        app.admin("PUT", &format!("/v1/admin/tenants/{tenant}/domains/{host}"), Some(json!({"status": status})))
    };
    let r = claim("acme", "Auth.Acme.Test:443", "pending");
    assert_eq!(r.status, 201);
    assert_eq!(
        r.json,
        json!({"host": "auth.acme.test", "tenant": "acme", "status": "pending", "created_at": "2027-01-15T08:00:00Z", "updated_at": "2027-01-15T08:00:00Z"})
    );
    assert_eq!(claim("acme", "auth.acme.test", "pending").status, 200, "claiming again is idempotent");
    app.runtime.advance(Duration::from_secs(5));
    let ready = claim("acme", "auth.acme.test.", "ready");
    assert_eq!(
        (ready.status, ready.json["status"].clone(), ready.json["updated_at"].clone()),
        (200, json!("ready"), json!("2027-01-15T08:00:05Z"))
    );

    let taken = claim("globex", "auth.acme.test", "ready");
    assert_eq!(taken.status, 409);
    assert_eq!(taken.json, json!({"error": {"code": "conflict", "message": "this host is claimed by another tenant"}}));
    assert_eq!(claim("acme", "b%C3%BCcher.acme.test", "disabled").status, 201);

    let list = app.admin("GET", "/v1/admin/tenants/acme/domains", None);
    assert_eq!((list.status, list.calls), (200, 1), "one query of the tenant's GSI1 partition");
    let hosts: Vec<(String, String)> = list.json["domains"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|d| (d["host"].as_str().unwrap_or("").to_string(), d["status"].as_str().unwrap_or("").to_string()))
        .collect();
    assert_eq!(
        hosts,
        vec![
            ("auth.acme.test".to_string(), "ready".to_string()),
            ("xn--bcher-kva.acme.test".to_string(), "disabled".to_string())
        ]
    );
    let none = app.admin("GET", "/v1/admin/tenants/globex/domains", None);
    assert_eq!((none.json, none.calls), (json!({"domains": []}), 2), "no domains: the tenant is read to tell");
    assert_eq!(app.admin("GET", "/v1/admin/tenants/nobody/domains", None).status, 404);

    let bad_host = claim("acme", "not_a%20host", "ready");
    assert_eq!((bad_host.status, bad_host.json["error"]["code"].clone()), (400, json!("invalid_host")));
    let bad_status = claim("acme", "x.acme.test", "live");
    assert_eq!(
        bad_status.json,
        json!({"error": {"code": "invalid_request", "message": "status: must be \"ready\", \"pending\" or \"disabled\""}})
    );
    assert_eq!(claim("nobody", "x.acme.test", "ready").status, 404);

    assert_eq!(
        app.admin("DELETE", "/v1/admin/tenants/globex/domains/auth.acme.test", None).status,
        404,
        "not globex's to release"
    );
    assert_eq!(app.admin("DELETE", "/v1/admin/tenants/acme/domains/auth.acme.test", None).status, 204);
    assert_eq!(app.admin("DELETE", "/v1/admin/tenants/acme/domains/auth.acme.test", None).status, 404);
    assert_eq!(claim("globex", "auth.acme.test", "ready").status, 201, "released hosts can be claimed by others");
}

#[test]
fn two_tenants_racing_for_one_host_exactly_one_wins() {
    let t = TestTable::new("race");
    let setup = app(&t);
    for id in ["red", "blue"] {
        assert_eq!(setup.admin("PUT", &format!("/v1/admin/tenants/{id}"), Some(json!({"name": id}))).status, 201);
    }
    for round in 0..8 {
        let host = format!("race{round}.example.test");
        let statuses: Vec<(String, u16)> = std::thread::scope(|scope| {
            let handles: Vec<_> = ["red", "blue"]
                .into_iter()
                .map(|tenant| {
                    let host = host.clone();
                    let table = t.name().to_string();
                    scope.spawn(move || {
                        let app = App::new(&table, manual_runtime(T0), &[]);
                        let r = app.admin(
                            "PUT",
                            &format!("/v1/admin/tenants/{tenant}/domains/{host}"),
                            Some(json!({"status": "ready"})),
                        );
                        (tenant.to_string(), r.status)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| ("panic".into(), 0))).collect()
        });
        let mut codes: Vec<u16> = statuses.iter().map(|(_, s)| *s).collect();
        codes.sort_unstable();
        assert_eq!(codes, vec![201, 409], "round {round}: {statuses:?}");
        let winner = statuses.iter().find(|(_, s)| *s == 201).map(|(t, _)| t.clone()).unwrap_or_default();
        let served = setup.call("GET", "/v1/tenant", &host, &[], None);
        assert_eq!(served.json["id"], json!(winner), "round {round}");
    }
}

#[test]
fn deleting_a_tenant_releases_its_domains_in_the_same_operation() {
    let t = TestTable::new("cascade");
    let app = app(&t);
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme", Some(acme())).status, 201);
    for host in ["a.acme.test", "b.acme.test"] {
        assert_eq!(
            app.admin("PUT", &format!("/v1/admin/tenants/acme/domains/{host}"), Some(json!({"status": "ready"})))
                .status,
            201
        );
    }
    app.transport.reset();
    assert_eq!(app.admin("DELETE", "/v1/admin/tenants/acme", None).status, 204);
    assert_eq!(
        app.transport.operations(),
        vec!["GetItem", "TransactWriteItems"],
        "one transaction deletes tenant and domains"
    );
    assert!(scan_all(t.name()).is_empty(), "no domain outlives its tenant");
    let fresh = App::new(t.name(), manual_runtime(T0), &[]);
    let r = fresh.call("GET", "/v1/tenant", "a.acme.test", &[], None);
    assert_eq!(r.status, 404);
    assert_eq!(r.json, json!({"error": {"code": "unknown_host", "message": "no tenant serves the host a.acme.test"}}));
    // The id can be used again, and the new tenant does not inherit the old domains.
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme", Some(acme())).status, 201);
    assert_eq!(app.admin("GET", "/v1/admin/tenants/acme/domains", None).json, json!({"domains": []}));
}

#[test]
fn replacing_a_tenant_refreshes_what_its_hosts_resolve_to() {
    let t = TestTable::new("snapshot");
    let app = app(&t);
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme", Some(acme())).status, 201);
    assert_eq!(
        app.admin("PUT", "/v1/admin/tenants/acme/domains/auth.acme.test", Some(json!({"status": "ready"}))).status,
        201
    );
    assert_eq!(app.call("GET", "/v1/tenant", "auth.acme.test", &[], None).json, json!({"id": "acme", "name": "Acme"}));
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme", Some(json!({"name": "Acme Two"}))).status, 200);
    // The admin change clears this isolate's cache; a fresh isolate reads the new snapshot too.
    assert_eq!(
        app.call("GET", "/v1/tenant", "auth.acme.test", &[], None).json,
        json!({"id": "acme", "name": "Acme Two"})
    );
    let fresh = App::new(t.name(), manual_runtime(T0), &[]);
    assert_eq!(
        fresh.call("GET", "/v1/tenant", "auth.acme.test", &[], None).json,
        json!({"id": "acme", "name": "Acme Two"})
    );
    let domain =
        scan_all(t.name()).into_iter().find(|i| i.get("PK") == Some(&s("DOMAIN#auth.acme.test"))).unwrap_or_default();
    assert_eq!(domain.get("GSI2PK"), Some(&s("DOMAIN#auth.acme.test")));
    assert_eq!(domain.get("GSI2SK"), Some(&s("CUSTOM_DOMAIN")));
    assert_eq!(domain.get("GSI1PK"), Some(&s("TENANT#acme#DOMAINS")));
}

#[test]
fn resolution_is_one_call_then_cached_and_negative_entries_expire() {
    let t = TestTable::new("cache");
    let admin = app(&t);
    assert_eq!(admin.admin("PUT", "/v1/admin/tenants/acme", Some(acme())).status, 201);
    assert_eq!(
        admin.admin("PUT", "/v1/admin/tenants/acme/domains/auth.acme.test", Some(json!({"status": "ready"}))).status,
        201
    );
    assert_eq!(
        admin.admin("PUT", "/v1/admin/tenants/acme/domains/soon.acme.test", Some(json!({"status": "pending"}))).status,
        201
    );

    let edge = App::new(t.name(), manual_runtime(T0), &[]);
    let r = edge.call("GET", "/v1/tenant", "AUTH.acme.test:8443", &[], None);
    assert_eq!((r.status, r.json.clone()), (200, json!({"id": "acme", "name": "Acme"})));
    assert_eq!(edge.transport.operations(), vec!["GetItem"], "the first request for a host: exactly one call");
    for _ in 0..5 {
        edge.runtime.advance(Duration::from_secs(10));
        assert_eq!(edge.call("GET", "/v1/tenant", "auth.acme.test", &[], None).status, 200);
    }
    assert_eq!(edge.transport.count(), 1, "within the cache lifetime: none");
    edge.runtime.advance(Duration::from_secs(11)); // 61 s after the first lookup
    assert_eq!(edge.call("GET", "/v1/tenant", "auth.acme.test", &[], None).status, 200);
    assert_eq!(edge.transport.count(), 2, "after it: one again");

    edge.transport.reset();
    for host in ["nobody.example.test", "soon.acme.test"] {
        let r = edge.call("GET", "/v1/tenant", host, &[], None);
        assert_eq!((r.status, r.json["error"]["code"].clone()), (404, json!("unknown_host")), "{host}");
        edge.runtime.advance(Duration::from_secs(1));
        assert_eq!(edge.call("GET", "/v1/tenant", host, &[], None).status, 404);
    }
    assert_eq!(edge.transport.operations(), vec!["GetItem", "GetItem"], "negative entries are cached too");
    edge.runtime.advance(Duration::from_secs(5));
    assert_eq!(edge.call("GET", "/v1/tenant", "nobody.example.test", &[], None).status, 404);
    assert_eq!(edge.transport.count(), 3, "and expire after about 5 s");

    let bad = edge.call("GET", "/v1/tenant", "bad_host!", &[], None);
    assert_eq!((bad.status, bad.json["error"]["code"].clone()), (400, json!("invalid_host")));
}

#[test]
fn concurrent_requests_for_an_uncached_host_share_one_resolution() {
    let t = TestTable::new("flight");
    let admin = app(&t);
    assert_eq!(admin.admin("PUT", "/v1/admin/tenants/acme", Some(acme())).status, 201);
    assert_eq!(
        admin.admin("PUT", "/v1/admin/tenants/acme/domains/auth.acme.test", Some(json!({"status": "ready"}))).status,
        201
    );
    // A fresh isolate driven the way the Worker drives it (dynauth::platform::driver): three requests for
    // the host arrive at once; this test is the host and performs their I/O on DynamoDB Local.
    let edge: &'static App<dynauth::testing::fakes::ManualRuntime> =
        Box::leak(Box::new(App::new(t.name(), manual_runtime(T0), &[])));
    let mut tasks: Vec<Task<u16>> = (0..3)
        .map(|id| {
            Task::new(id, async move {
                let db = Client::new(
                    &edge.config.dynamo,
                    HostTransport {
                        timeout: Duration::from_secs(10),
                        keep: dynauth::dynamo::RESPONSE_HEADERS,
                        deadline: None,
                    },
                    &edge.runtime,
                );
                let replica = std::cell::OnceCell::new();
                let ctx = Ctx::new(edge.services(), &db, &replica, None, edge.runtime.now());
                let request = http::Request::builder()
                    .uri("https://auth.acme.test/v1/tenant")
                    .header("host", "auth.acme.test")
                    .body(Vec::new())
                    .unwrap_or_default();
                match api::handle(&ctx, request).await.outcome {
                    Outcome::Respond(r) => r.status().as_u16(),
                    Outcome::Forward(_) => 0,
                }
            })
        })
        .collect();
    let mut ops = Vec::new();
    for task in &mut tasks {
        match task.poll() {
            Step::Waiting(new) => ops.extend(new),
            Step::Done(status) => panic!("answered {status} without I/O"),
        }
    }
    assert_eq!(ops.len(), 1, "one resolution for three requests");
    assert_eq!(edge.caches.in_flight(), 1);
    let (op, Op::Send { request, .. }) = ops.remove(0) else { panic!("expected an HTTP exchange") };
    assert_eq!(request.headers()["x-amz-target"], "DynamoDB_20120810.GetItem");
    complete(op, Done::Sent(block_on(HttpTransport::default().send(request))));
    assert!(matches!(tasks[0].poll(), Step::Done(200)), "the first request resolved the host");
    assert_eq!(take_woken(), vec![1, 2], "the others are woken");
    for task in &mut tasks[1..] {
        assert!(matches!(task.poll(), Step::Done(200)));
    }
    assert_eq!(edge.caches.in_flight(), 0);
}

#[test]
fn default_tenant_serves_unclaimed_hosts_only() {
    let t = TestTable::new("default");
    let admin = app(&t);
    assert_eq!(admin.admin("PUT", "/v1/admin/tenants/demo", Some(json!({"name": "Demo"}))).status, 201);
    assert_eq!(admin.admin("PUT", "/v1/admin/tenants/acme", Some(acme())).status, 201);
    assert_eq!(
        admin.admin("PUT", "/v1/admin/tenants/acme/domains/off.acme.test", Some(json!({"status": "disabled"}))).status,
        201
    );
    let dev = App::new(t.name(), manual_runtime(T0), &[("DEFAULT_TENANT", "demo")]);
    assert_eq!(
        dev.call("GET", "/v1/tenant", "anything.localhost.test", &[], None).json,
        json!({"id": "demo", "name": "Demo"})
    );
    assert_eq!(
        dev.call("GET", "/v1/tenant", "off.acme.test", &[], None).status,
        404,
        "a disabled claim is not unclaimed"
    );
}

#[test]
fn requests_on_tenant_hosts_are_forwarded_without_spoofed_headers() {
    let t = TestTable::new("proxy");
    let app = app(&t);
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme", Some(acme())).status, 201);
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/plain", Some(json!({"name": "No origin"}))).status, 201);
    for (tenant, host) in [("acme", "auth.acme.test"), ("plain", "plain.example.test")] {
        assert_eq!(
            app.admin("PUT", &format!("/v1/admin/tenants/{tenant}/domains/{host}"), Some(json!({"status": "ready"})))
                .status,
            201
        );
    }
    let r = app.call(
        "POST",
        "/app/orders?page=2&q=a%20b",
        "auth.acme.test",
        &[("x-dynauth-tenant", "globex"), ("X-Dynauth-User", "admin"), ("cookie", "a=1"), ("connection", "keep-alive")],
        Some(json!({"x": 1})),
    );
    let Some(f) = r.forward else { panic!("expected a forward, got {} {:?}", r.status, r.json) };
    assert_eq!(f.method, http::Method::POST);
    assert_eq!(f.url, "http://127.0.0.1:9/base/app/orders?page=2&q=a%20b");
    assert_eq!(f.headers.get_all("x-dynauth-tenant").iter().collect::<Vec<_>>(), vec!["acme"]);
    assert_eq!(f.headers.get("x-dynauth-user"), None);
    assert_eq!(f.headers["x-forwarded-host"], "auth.acme.test");
    assert_eq!(f.headers["cookie"], "a=1");
    assert_eq!(f.headers.get("connection"), None);
    assert_eq!(f.headers.get("host"), None);

    // Hygiene: hop-by-hop headers (and those Connection names, and proxy-*), client-claimed
    // addresses replaced by CF-Connecting-IP, dynauth's cookies out of every Cookie header.
    let r = app.call(
        "GET",
        "/app",
        "auth.acme.test",
        &[
            ("connection", "close, X-Secret-Hop"),
            ("x-secret-hop", "1"),
            ("proxy-authorization", "Basic eA=="),
            ("x-forwarded-for", "6.6.6.6"),
            ("x-real-ip", "6.6.6.6"),
            ("forwarded", "for=6.6.6.6"),
            ("cf-connecting-ip", "203.0.113.7"),
            ("cookie", "__Host-dynauth=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; a=1"),
            ("cookie", "b=2; __Host-dynauth=BBBB"),
            ("x-kept", "yes"),
        ],
        None,
    );
    let Some(f) = r.forward else { panic!("expected a forward, got {} {:?}", r.status, r.json) };
    for gone in ["connection", "x-secret-hop", "proxy-authorization"] {
        assert_eq!(f.headers.get(gone), None, "{gone}");
    }
    assert_eq!(f.headers.get_all("x-forwarded-for").iter().collect::<Vec<_>>(), vec!["203.0.113.7"]);
    assert_eq!(f.headers.get_all("x-real-ip").iter().collect::<Vec<_>>(), vec!["203.0.113.7"]);
    assert_eq!(f.headers.get_all("forwarded").iter().collect::<Vec<_>>(), vec!["for=203.0.113.7;proto=https"]);
    assert_eq!(f.headers.get_all("cookie").iter().collect::<Vec<_>>(), vec!["a=1", "b=2"]);
    assert_eq!(f.headers["x-kept"], "yes");
    // Without CF-Connecting-IP (not behind Cloudflare) the client's claims are dropped, not kept.
    let r = app.call("GET", "/app", "auth.acme.test", &[("x-forwarded-for", "6.6.6.6")], None);
    let Some(f) = r.forward else { panic!("expected a forward") };
    assert_eq!(f.headers.get("x-forwarded-for"), None);

    let none = app.call("GET", "/anything", "plain.example.test", &[], None);
    assert_eq!(
        (none.status, none.json.clone()),
        (404, json!({"error": {"code": "not_found", "message": "this tenant has no origin to route to"}}))
    );
    let unknown = app.call("GET", "/anything", "unknown.example.test", &[], None);
    assert_eq!(unknown.json["error"]["code"], "unknown_host");
    // dynauth's own paths are never forwarded.
    for path in ["/v1/nothing", "/login/other"] {
        assert_eq!(app.call("GET", path, "auth.acme.test", &[], None).json["error"]["code"], "not_found", "{path}");
    }
}

#[test]
fn tenant_origins_and_webhooks_must_be_public_https_unless_local_targets_are_allowed() {
    let t = TestTable::new("targets");
    let app = App::new(t.name(), manual_runtime(1_800_000_000), &[("ALLOW_LOCAL_TARGETS", "false")]);
    let put = |body: Value| app.admin("PUT", "/v1/admin/tenants/acme", Some(body));
    for (field, url, problem) in [
        ("origin", "http://app.acme.test", "must be https://"),
        ("origin", "https://127.0.0.1:9", "must be a public host, not a loopback, private or link-local address"),
        ("origin", "https://10.0.0.8/app", "must be a public host, not a loopback, private or link-local address"),
        ("origin", "https://169.254.169.254", "must be a public host, not a loopback, private or link-local address"),
        ("origin", "https://backend:8080", "must be a public host name, not a single label"),
        (
            "code_webhook_url",
            "https://192.168.1.10/hook",
            "must be a public host, not a loopback, private or link-local address",
        ),
        ("code_webhook_url", "http://127.0.0.1:9/hook", "must be https://"),
    ] {
        let r = put(json!({"name": "Acme", field: url}));
        assert_eq!(
            (r.status, r.json["error"].clone()),
            (
                400,
                json!({"code": "invalid_request", "message": format!("{field}: {problem} (local targets need ALLOW_LOCAL_TARGETS, for development only)")})
            ),
            "{url}"
        );
    }
    assert_eq!(put(json!({"name": "Acme", "origin": "https://app.acme.test/base"})).status, 201);
    // With the local-development setting, a local origin is fine.
    let local = App::new(t.name(), manual_runtime(1_800_000_000), &[]);
    let r = local.admin("PUT", "/v1/admin/tenants/acme", Some(json!({"name": "Acme", "origin": "http://127.0.0.1:9"})));
    assert_eq!(r.status, 200, "{}", r.json);
}

#[test]
fn the_admin_api_answers_only_on_admin_hosts_and_takes_a_second_token() {
    let t = TestTable::new("adminhosts");
    let next = "next-admin-token-for-tests-0123";
    let app = App::new(
        t.name(),
        manual_runtime(1_800_000_000),
        &[("ADMIN_HOSTS", "admin.dynauth.test, Ops.Example.test"), ("ADMIN_TOKEN_NEXT", next)],
    );
    let get = |host: &str, token: &str| {
        app.call("GET", "/v1/admin/tenants", host, &[("authorization", &format!("Bearer {token}"))], None)
    };
    assert_eq!(get("admin.dynauth.test", ADMIN_TOKEN).status, 200);
    assert_eq!(get("ops.example.test:443", ADMIN_TOKEN).status, 200);
    assert_eq!(get("admin.dynauth.test", next).status, 200, "the next token works during rotation");
    assert_eq!(get("admin.dynauth.test", "not-the-token-not-the-token").status, 401);
    let elsewhere = get("auth.acme.test", ADMIN_TOKEN);
    assert_eq!(
        (elsewhere.status, elsewhere.json.clone()),
        (404, json!({"error": {"code": "not_found", "message": "no route for /v1/admin/tenants"}})),
        "not an admin host: no admin API, even with the token"
    );
    // Without ADMIN_HOSTS every host serves it; without ADMIN_TOKEN_NEXT only the one token.
    let open = App::new(t.name(), manual_runtime(1_800_000_000), &[]);
    let r = open.call(
        "GET",
        "/v1/admin/tenants",
        "auth.acme.test",
        &[("authorization", &format!("Bearer {ADMIN_TOKEN}"))],
        None,
    );
    assert_eq!(r.status, 200);
    let r =
        open.call("GET", "/v1/admin/tenants", "auth.acme.test", &[("authorization", &format!("Bearer {next}"))], None);
    assert_eq!(r.status, 401);
}
