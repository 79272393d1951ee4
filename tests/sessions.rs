//! Sessions through the HTTP API against DynamoDB Local, with an injected clock: the lifecycle
//! (mint, look up, slide, idle expiry, absolute expiry, revoke), one request per lookup, tenant
//! isolation, logout, admin listing and revocation across pages, the gateway, and a scan proving
//! no raw token is stored.

#![allow(clippy::expect_used)] // a test's own setup may panic: it is the test failing

mod common;

use std::time::Duration;

use dynauth::dynamo::{AttributeValue, Item};
use serde_json::{Value, json};

use common::app::App;
use common::{TestTable, manual_runtime, scan_all};

const T0: u64 = 1_800_000_000; // 2027-01-15T08:00:00Z
const DAY: u64 = 86_400;
const HOST: &str = "auth.acme.test";

type TestApp = App<dynauth::testing::fakes::ManualRuntime>;

/// A table with tenants `acme` (auth.acme.test, origin) and `globex` (auth.globex.test).
fn setup(prefix: &str, extra: &[(&str, &str)]) -> (TestTable, TestApp) {
    let t = TestTable::new(prefix);
    let app = App::new(t.name(), manual_runtime(T0), extra);
    let acme = json!({"name": "Acme", "origin": "http://127.0.0.1:9", "session": {"lifetime_secs": 30 * DAY, "idle_lifetime_secs": 7 * DAY}});
    app.tenant_on("acme", acme, HOST);
    app.tenant_on("globex", json!({"name": "Globex"}), "auth.globex.test");
    (t, app)
}

fn mint(app: &TestApp, tenant: &str, body: Value) -> (String, Value) {
    let r = app.admin("POST", &format!("/v1/admin/tenants/{tenant}/sessions"), Some(body));
    assert_eq!(r.status, 201, "{}", r.json);
    (r.json["token"].as_str().unwrap_or_default().to_string(), r.json["session"].clone())
}

fn with_cookie(app: &TestApp, host: &str, token: &str) -> common::app::Answer {
    app.call("GET", "/v1/session", host, &[("cookie", &format!("theme=dark; __Host-dynauth={token}"))], None)
}

fn with_bearer(app: &TestApp, host: &str, token: &str) -> common::app::Answer {
    app.call("GET", "/v1/session", host, &[("authorization", &format!("Bearer {token}"))], None)
}

fn invalid() -> Value {
    json!({"error": {"code": "invalid_session", "message": "no live session: sign in again"}})
}

fn stored_session(table: &str, id: &str) -> Item {
    let pk = AttributeValue::S(format!("TENANT#acme#SESSION#{id}"));
    scan_all(table).into_iter().find(|i| i.get("PK") == Some(&pk)).unwrap_or_default()
}

fn num(item: &Item, name: &str) -> i64 {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(-1),
        _ => -1,
    }
}

#[test]
fn the_whole_lifecycle_with_an_injected_clock() {
    let (t, app) = setup("lifecycle", &[]);
    let (token, session) = mint(&app, "acme", json!({"user_id": "u-1", "email": " Ann@Example.COM "}));
    assert_eq!(token.len(), 43);
    let id = session["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        session,
        json!({
            "id": id, "user_id": "u-1", "email": "ann@example.com",
            "created_at": "2027-01-15T08:00:00Z", "expires_at": "2027-02-14T08:00:00Z", "idle_expires_at": "2027-01-22T08:00:00Z",
        })
    );
    let item = stored_session(t.name(), &id);
    assert_eq!(item.get("SK"), Some(&AttributeValue::S("SESSION".into())));
    assert_eq!(item.get("GSI1PK"), Some(&AttributeValue::S("TENANT#acme#USER#u-1#SESSIONS".into())));
    assert_eq!(item.get("GSI1SK"), Some(&AttributeValue::S(format!("2027-01-15T08:00:00Z#{id}"))));
    assert_eq!(num(&item, "ttl"), i64::try_from(T0 + 30 * DAY).unwrap_or(0), "ttl is the later expiry");

    // Look up with the cookie and with the bearer header: the same answer.
    let expected = json!({"session": session, "user": {"id": "u-1", "email": "ann@example.com"}});
    let r = with_cookie(&app, HOST, &token);
    assert_eq!((r.status, r.json.clone()), (200, expected.clone()));
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(with_bearer(&app, HOST, &token).json, expected);
    assert_eq!(app.deferred_runs.get(), 0, "no slide within the touch interval");

    // A lookup after the touch interval (0.7 days) slides the idle expiry, after the answer.
    app.runtime.advance(Duration::from_secs(DAY));
    let r = with_cookie(&app, HOST, &token);
    assert_eq!(r.json["session"]["idle_expires_at"], "2027-01-22T08:00:00Z", "the answer does not wait for the slide");
    assert_eq!(app.deferred_runs.get(), 1);
    let item = stored_session(t.name(), &id);
    assert_eq!(num(&item, "idle_expires_at"), i64::try_from(T0 + 8 * DAY).unwrap_or(0));
    assert_eq!(num(&item, "last_seen_at"), i64::try_from(T0 + DAY).unwrap_or(0));
    assert_eq!(num(&item, "ttl"), i64::try_from(T0 + 30 * DAY).unwrap_or(0));
    assert_eq!(with_cookie(&app, HOST, &token).json["session"]["idle_expires_at"], "2027-01-23T08:00:00Z");
    assert_eq!(app.deferred_runs.get(), 1, "at most once per interval");

    // Idle expiry: 7 days without a lookup.
    app.runtime.advance(Duration::from_secs(7 * DAY));
    let r = with_cookie(&app, HOST, &token);
    assert_eq!((r.status, r.json.clone()), (401, invalid()));
    assert_eq!(r.headers["www-authenticate"], "Bearer");

    // Absolute expiry: a session kept busy still ends at expires_at, and sliding never passes it.
    app.runtime.set(std::time::UNIX_EPOCH + Duration::from_secs(T0));
    let (busy, busy_session) = mint(&app, "acme", json!({"user_id": "u-2"}));
    for _ in 0..4 {
        app.runtime.advance(Duration::from_secs(6 * DAY));
        assert_eq!(with_cookie(&app, HOST, &busy).status, 200);
    }
    let busy_id = busy_session["id"].as_str().unwrap_or_default();
    assert_eq!(
        num(&stored_session(t.name(), busy_id), "idle_expires_at"),
        i64::try_from(T0 + 30 * DAY).unwrap_or(0),
        "capped at expires_at"
    );
    app.runtime.advance(Duration::from_secs(5 * DAY)); // day 29
    assert_eq!(with_cookie(&app, HOST, &busy).status, 200);
    app.runtime.advance(Duration::from_secs(DAY)); // day 30: expires_at
    assert_eq!(with_cookie(&app, HOST, &busy).status, 401);
    assert!(
        !stored_session(t.name(), busy_id).is_empty(),
        "the expired item is still in the table, and never returned"
    );

    // Revocation.
    app.runtime.set(std::time::UNIX_EPOCH + Duration::from_secs(T0));
    let (revokable, s) = mint(&app, "acme", json!({"user_id": "u-3"}));
    let sid = s["id"].as_str().unwrap_or_default();
    assert_eq!(app.admin("DELETE", &format!("/v1/admin/tenants/acme/sessions/{sid}"), None).status, 204);
    assert_eq!(with_bearer(&app, HOST, &revokable).json, invalid());
    assert_eq!(
        app.admin("DELETE", &format!("/v1/admin/tenants/acme/sessions/{sid}"), None).status,
        204,
        "again: still 204"
    );
    let unknown = "A".repeat(43);
    assert_eq!(app.admin("DELETE", &format!("/v1/admin/tenants/acme/sessions/{unknown}"), None).status, 404);
    app.runtime.advance(Duration::from_secs(DAY));
    assert_eq!(with_cookie(&app, HOST, &revokable).status, 401);
    let revoked_item = stored_session(t.name(), sid);
    assert_eq!(
        num(&revoked_item, "idle_expires_at"),
        i64::try_from(T0 + 7 * DAY).unwrap_or(0),
        "a revoked session never slides"
    );
}

#[test]
fn every_kind_of_bad_token_gets_the_same_401_and_lookups_cost_one_request() {
    let (_t, app) = setup("lookup", &[]);
    let (token, _) = mint(&app, "acme", json!({"user_id": "u-1"}));
    let (globex_token, _) = mint(&app, "globex", json!({"user_id": "u-1"}));
    // Warm the host cache, then count.
    assert_eq!(with_cookie(&app, HOST, &token).status, 200);
    for _ in 0..5 {
        let r = with_cookie(&app, HOST, &token);
        assert_eq!((r.status, r.calls), (200, 1), "exactly one DynamoDB request per lookup");
    }
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no token", vec![]),
        ("malformed", vec![("cookie", "__Host-dynauth=not-a-token".to_string())]),
        ("unknown", vec![("authorization", format!("Bearer {}", "B".repeat(43)))]),
        ("another tenant's", vec![("cookie", format!("__Host-dynauth={globex_token}"))]),
        ("the local cookie when not enabled", vec![("cookie", format!("dynauth_local={token}"))]),
        ("empty bearer", vec![("authorization", "Bearer ".to_string())]),
    ];
    for (what, headers) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = app.call("GET", "/v1/session", HOST, &headers, None);
        assert_eq!((r.status, r.json.clone()), (401, invalid()), "{what}");
        assert!(r.calls <= 1, "{what}: {} calls", r.calls);
    }
    // The globex token works on its own host.
    assert_eq!(with_cookie(&app, "auth.globex.test", &globex_token).status, 200);
    assert_eq!(app.call("POST", "/v1/session", HOST, &[], None).status, 405);
}

#[test]
fn logout_revokes_and_clears_the_cookie_idempotently() {
    let (t, app) = setup("logout", &[]);
    let (token, s) = mint(&app, "acme", json!({"user_id": "u-1"}));
    let cookie = format!("__Host-dynauth={token}");
    let r = app.call("POST", "/v1/logout", HOST, &[("cookie", &cookie)], None);
    assert_eq!(r.status, 204);
    assert_eq!(r.headers["set-cookie"], "__Host-dynauth=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0");
    assert_eq!(
        num(&stored_session(t.name(), s["id"].as_str().unwrap_or_default()), "revoked_at"),
        i64::try_from(T0).unwrap_or(0)
    );
    assert_eq!(with_cookie(&app, HOST, &token).status, 401);
    assert_eq!(app.call("POST", "/v1/logout", HOST, &[("cookie", &cookie)], None).status, 204, "idempotent");
    let unknown = format!("Bearer {}", "C".repeat(43));
    assert_eq!(
        app.call("POST", "/v1/logout", HOST, &[("authorization", &unknown)], None).status,
        204,
        "an unknown token too"
    );
    assert_eq!(app.call("POST", "/v1/logout", HOST, &[], None).status, 204, "and none at all");
    assert_eq!(app.call("GET", "/v1/logout", HOST, &[], None).status, 405);
    assert_eq!(
        scan_all(t.name()).iter().filter(|i| i.get("type") == Some(&AttributeValue::S("session".into()))).count(),
        1,
        "logout of unknown tokens writes nothing"
    );
}

#[test]
fn local_cookies_only_for_plain_http_on_localhost_when_enabled() {
    let (_t, app) = setup("localcookie", &[("INSECURE_LOCAL_COOKIES", "true")]);
    assert_eq!(
        app.admin("PUT", "/v1/admin/tenants/acme/domains/localhost", Some(json!({"status": "ready"}))).status,
        201
    );
    let (token, _) = mint(&app, "acme", json!({"user_id": "u-1"}));
    let r = app.call("GET", "/v1/session", "localhost:8787", &[("cookie", &format!("dynauth_local={token}"))], None);
    assert_eq!(r.status, 200, "the local cookie counts on http://localhost");
    let r = app.call("POST", "/v1/logout", "localhost:8787", &[], None);
    assert_eq!(r.headers["set-cookie"], "dynauth_local=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    let r = app.call("GET", "/v1/session", HOST, &[("cookie", &format!("dynauth_local={token}"))], None);
    assert_eq!(r.status, 401, "never on another host");
    assert_eq!(
        app.call("POST", "/v1/logout", HOST, &[], None).headers["set-cookie"],
        "__Host-dynauth=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
    );
}

#[test]
fn admin_lists_newest_first_and_revokes_all_across_pages() {
    let (_t, app) = setup("revokeall", &[]);
    let mut tokens = Vec::new();
    for i in 0..130 {
        let (token, _) = mint(&app, "acme", json!({"user_id": "u-many"}));
        tokens.push(token);
        if i % 10 == 9 {
            app.runtime.advance(Duration::from_secs(1));
        }
    }
    let (other, _) = mint(&app, "acme", json!({"user_id": "u-other"}));
    // One revoked and one expired are not listed.
    let (revoked, _) = mint(&app, "acme", json!({"user_id": "u-many", "lifetime_secs": 300}));
    assert_eq!(
        app.call("POST", "/v1/logout", HOST, &[("authorization", &format!("Bearer {revoked}"))], None).status,
        204
    );
    let (short, _) = mint(&app, "acme", json!({"user_id": "u-many", "lifetime_secs": 300}));
    app.runtime.advance(Duration::from_secs(400));
    assert_eq!(with_cookie(&app, HOST, &short).status, 401);

    let mut listed = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/v1/admin/tenants/acme/users/u-many/sessions?limit=50&cursor={cursor}");
        let r = app.admin("GET", &path, None);
        assert_eq!(r.status, 200, "{}", r.json);
        for s in r.json["sessions"].as_array().cloned().unwrap_or_default() {
            listed.push((
                s["created_at"].as_str().unwrap_or_default().to_string(),
                s["id"].as_str().unwrap_or_default().to_string(),
            ));
            assert!(s.get("device").is_some() && s.get("last_seen_at").is_some());
        }
        match r.json["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(listed.len(), 130, "only live sessions");
    assert!(listed.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let bad = app.admin("GET", "/v1/admin/tenants/acme/users/u-other/sessions?cursor=abc.def", None);
    assert_eq!((bad.status, bad.json["error"]["code"].clone()), (400, json!("invalid_cursor")));

    let r = app.admin("DELETE", "/v1/admin/tenants/acme/users/u-many/sessions", None);
    assert_eq!((r.status, r.json.clone()), (200, json!({"revoked": 130})));
    for token in tokens.iter().step_by(13) {
        assert_eq!(with_bearer(&app, HOST, token).status, 401);
    }
    assert_eq!(with_bearer(&app, HOST, &other).status, 200, "another user's session is untouched");
    assert_eq!(app.admin("DELETE", "/v1/admin/tenants/acme/users/u-many/sessions", None).json, json!({"revoked": 0}));
    assert_eq!(
        app.admin("GET", "/v1/admin/tenants/acme/users/u-many/sessions", None).json,
        json!({"sessions": [], "next_cursor": null})
    );
}

#[test]
fn revocations_whose_answers_were_lost_are_counted_once() {
    let (_t, app) = setup("lostrevoke", &[]);
    let tokens: Vec<String> = (0..3).map(|_| mint(&app, "acme", json!({"user_id": "u-lost"})).0).collect();
    app.transport.lose_answers_of("UpdateItem", 2);
    let r = app.admin("DELETE", "/v1/admin/tenants/acme/users/u-lost/sessions", None);
    assert_eq!((r.status, r.json.clone()), (200, json!({"revoked": 3})));
    for token in &tokens {
        assert_eq!(with_bearer(&app, HOST, token).status, 401);
    }
}

#[test]
fn mint_validates_its_input() {
    let (_t, app) = setup("mint", &[]);
    let cases = [
        (json!({}), 400, "user_id: is required"),
        (json!({"user_id": "a b"}), 400, "user_id: must be 1-128 characters of A-Z a-z 0-9 - _ . : @ + |"),
        (json!({"user_id": "u", "email": "nope"}), 400, "email: must be an email address like name@example.com"),
        (
            json!({"user_id": "u", "lifetime_secs": 10}),
            400,
            "lifetime_secs: must be a whole number from 300 to 34560000",
        ),
    ];
    for (body, status, message) in cases {
        let r = app.admin("POST", "/v1/admin/tenants/acme/sessions", Some(body.clone()));
        assert_eq!((r.status, r.json["error"]["message"].clone()), (status, json!(message)), "{body}");
    }
    let unknown = app.admin("POST", "/v1/admin/tenants/acme/sessions", Some(json!({"user_id": "u", "role": "admin"})));
    assert_eq!(unknown.json["error"]["code"], "unknown_fields");
    assert_eq!(app.admin("POST", "/v1/admin/tenants/nobody/sessions", Some(json!({"user_id": "u"}))).status, 404);
    let (token, s) = mint(&app, "acme", json!({"user_id": "u", "lifetime_secs": 3600}));
    assert_eq!(s["expires_at"], "2027-01-15T09:00:00Z");
    assert_eq!(s["idle_expires_at"], "2027-01-15T09:00:00Z", "idle expiry never past the absolute one");
    assert_eq!(with_bearer(&app, HOST, &token).status, 200);
}

#[test]
fn a_recreated_tenant_does_not_inherit_old_sessions() {
    let (_t, app) = setup("generation", &[]);
    let (token, _) = mint(&app, "globex", json!({"user_id": "u-1"}));
    assert_eq!(with_bearer(&app, "auth.globex.test", &token).status, 200);
    assert_eq!(app.admin("DELETE", "/v1/admin/tenants/globex", None).status, 204);
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/globex", Some(json!({"name": "Globex again"}))).status, 201);
    assert_eq!(
        app.admin("PUT", "/v1/admin/tenants/globex/domains/auth.globex.test", Some(json!({"status": "ready"}))).status,
        201
    );
    assert_eq!(with_bearer(&app, "auth.globex.test", &token).status, 401);
}

#[test]
fn the_gateway_lets_only_live_sessions_reach_a_protected_origin() {
    let (_t, app) = setup("gateway", &[]);
    let protect = json!({"name": "Acme", "origin": "http://127.0.0.1:9", "protect": true});
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme", Some(protect)).status, 200);
    let (token, s) = mint(&app, "acme", json!({"user_id": "u-7"}));

    let json_client = app.call("GET", "/app/orders?x=1", HOST, &[("accept", "application/json")], None);
    assert_eq!((json_client.status, json_client.json.clone()), (401, invalid()));
    let browser = app.call("GET", "/app/orders?x=1&y=a%20b", HOST, &[("accept", "text/html,*/*")], None);
    assert_eq!(browser.status, 302);
    assert_eq!(browser.headers["location"], "/login?return_to=%2Fapp%2Forders%3Fx%3D1%26y%3Da%2520b");
    let expired = app.call("GET", "/app", HOST, &[("cookie", &format!("__Host-dynauth={}", "D".repeat(43)))], None);
    assert_eq!(expired.status, 302);

    let spoof = [
        ("cookie", format!("a=1; __Host-dynauth={token}")),
        ("x-dynauth-user", "admin".to_string()),
        ("x-dynauth-session", "forged".to_string()),
    ];
    let spoof: Vec<(&str, &str)> = spoof.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ok = app.call("POST", "/app/orders", HOST, &spoof, Some(json!({"n": 1})));
    let Some(f) = ok.forward else { panic!("expected a forward, got {} {}", ok.status, ok.json) };
    assert_eq!(f.headers["x-dynauth-user"], "u-7");
    assert_eq!(f.headers["x-dynauth-session"], s["id"].as_str().unwrap_or_default());
    assert_eq!(f.headers["x-dynauth-tenant"], "acme");
    assert_eq!(f.headers["cookie"], "a=1", "the session cookie never reaches the origin");

    let bearer = app.call("GET", "/app", HOST, &[("authorization", &format!("Bearer {token}"))], None);
    let Some(f) = bearer.forward else { panic!("expected a forward") };
    assert_eq!(f.headers.get("authorization"), None, "nor the bearer token");
    assert_eq!(f.headers["x-dynauth-user"], "u-7");

    // An unprotected tenant forwards anyone, and still strips the cookie.
    let open = app.call("GET", "/x", "auth.globex.test", &[("cookie", &format!("__Host-dynauth={token}; b=2"))], None);
    assert_eq!(open.status, 404, "globex has no origin");
    let plain = json!({"name": "Acme", "origin": "http://127.0.0.1:9"});
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme", Some(plain)).status, 200);
    let _warm = app.call("GET", "/x", HOST, &[], None);
    let anonymous = app.call("GET", "/x", HOST, &[("x-dynauth-user", "admin")], None);
    let Some(f) = anonymous.forward else { panic!("expected a forward") };
    assert_eq!((f.headers.get("x-dynauth-user"), f.headers.get("x-dynauth-identity")), (None, None));
    assert_eq!(anonymous.calls, 0, "no token, no session read");
    // With a live session it learns who is calling, signed, without a second lookup; the
    // bearer token that carried the session stays behind, another bearer token is the origin's.
    let headers = [("cookie", format!("__Host-dynauth={token}; b=2")), ("x-dynauth-user", "admin".to_string())];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = app.call("GET", "/x", HOST, &headers, None);
    let Some(f) = r.forward else { panic!("expected a forward") };
    assert_eq!(
        (f.headers["x-dynauth-user"].to_str().unwrap_or(""), f.headers["cookie"].to_str().unwrap_or("")),
        ("u-7", "b=2")
    );
    assert!(f.headers["x-dynauth-identity"].to_str().unwrap_or("").contains("; user=u-7; "));
    let r = app.call("GET", "/x", HOST, &[("authorization", &format!("Bearer {token}"))], None);
    let Some(f) = r.forward else { panic!("expected a forward") };
    assert_eq!((f.headers.get("authorization"), f.headers["x-dynauth-user"].to_str().unwrap_or("")), (None, "u-7"));
    // Another tenant's live token, or any value in dynauth's token format, never reaches this
    // origin either.
    let (globex_token, _) = mint(&app, "globex", json!({"user_id": "g-1"}));
    for foreign in [globex_token, dynauth::platform::crypto::b64url(&[7u8; 32])] {
        let r = app.call("GET", "/x", HOST, &[("authorization", &format!("Bearer {foreign}"))], None);
        let Some(f) = r.forward else { panic!("expected a forward") };
        assert_eq!((f.headers.get("authorization"), f.headers.get("x-dynauth-user")), (None, None), "{foreign}");
    }
    let theirs = "Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2ln".to_string();
    let r = app.call("GET", "/x", HOST, &[("authorization", &theirs)], None);
    let Some(f) = r.forward else { panic!("expected a forward") };
    assert_eq!(
        (f.headers["authorization"].to_str().unwrap_or(""), f.headers.get("x-dynauth-user")),
        (theirs.as_str(), None)
    );
}

/// Runs the independent verifier (tests/verify_identity.py, Python's `hmac`): `Ok(user session)`
/// or `Err(why)`.
fn python_verify(
    header: &str,
    secrets: &[&str],
    method: &str,
    host: &str,
    path: &str,
    tenant: &str,
    now: u64,
) -> Result<String, String> {
    use std::io::Write as _;
    let input = json!({"header": header, "secrets": secrets, "method": method, "host": host, "path": path, "tenant": tenant, "now": now});
    let mut child = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/verify_identity.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.to_string().as_bytes()).expect("the test's own input");
    }
    let out = child.wait_with_output().expect("the test's own input");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() { Ok(text) } else { Err(text) }
}

#[test]
fn the_origin_verifies_who_is_calling_with_an_independent_hmac() {
    let (_t, app) = setup("identity", &[]);
    let body = json!({"name": "Signed", "origin": "http://127.0.0.1:9", "protect": true});
    let created = app.admin("PUT", "/v1/admin/tenants/signed", Some(body.clone()));
    assert_eq!(created.status, 201);
    let secret = created.json["secrets"]["origin"].as_str().unwrap_or_default().to_string();
    assert_eq!(secret.len(), 43, "{}", created.json);
    assert_ne!(secret, created.json["secrets"]["webhook"].as_str().unwrap_or_default());
    assert_eq!(created.json["secrets_valid"], json!({"origin": 1, "webhook": 1, "jwt": 1}));
    let replaced = app.admin("PUT", "/v1/admin/tenants/signed", Some(body));
    assert_eq!((replaced.status, replaced.json.get("secrets")), (200, None), "shown once: not on replace");
    assert_eq!(app.admin("GET", "/v1/admin/tenants/signed", None).json.get("secrets"), None, "nor on read");
    let host = "app.signed.test";
    let claim = app.admin("PUT", &format!("/v1/admin/tenants/signed/domains/{host}"), Some(json!({"status": "ready"})));
    assert_eq!(claim.status, 201);
    let (token, s) = mint(&app, "signed", json!({"user_id": "u-9"}));
    let sid = s["id"].as_str().unwrap_or_default().to_string();
    // The secret never reaches the table: a scan shows no trace of it.
    assert!(!format!("{:?}", scan_all(_t.name())).contains(&secret));

    let identity_of = |app: &TestApp, method: &str, path: &str| {
        let r = app.call(method, path, host, &[("authorization", &format!("Bearer {token}"))], None);
        let Some(f) = r.forward else { panic!("expected a forward, got {} {}", r.status, r.json) };
        f.headers["x-dynauth-identity"].to_str().unwrap_or("").to_string()
    };
    let header = identity_of(&app, "GET", "/orders?page=2");
    let now = T0;
    let verify = |header: &str, secrets: &[&str], method: &str, path: &str, tenant: &str, now: u64| {
        python_verify(header, secrets, method, host, path, tenant, now)
    };
    assert_eq!(verify(&header, &[&secret], "GET", "/orders?page=2", "signed", now), Ok(format!("ok u-9 {sid}")));
    assert_eq!(verify(&header, &[&secret], "GET", "/orders?page=2", "signed", now + 60), Ok(format!("ok u-9 {sid}")));
    let refused = |r: Result<String, String>| r.err().unwrap_or_default();
    assert_eq!(refused(verify(&header, &[&secret], "GET", "/orders?page=2", "signed", now + 61)), "refused: too old");
    assert_eq!(refused(verify(&header, &[&secret], "GET", "/orders?page=3", "signed", now)), "refused: bad signature");
    assert_eq!(
        refused(verify(&header, &[&secret], "DELETE", "/orders?page=2", "signed", now)),
        "refused: bad signature"
    );
    let tampered = header.replace("user=u-9", "user=admin");
    assert_eq!(
        refused(verify(&tampered, &[&secret], "GET", "/orders?page=2", "signed", now)),
        "refused: bad signature"
    );
    // What the signature does not cover: the body (the gateway streams it to the origin unread).
    // The same request line with another body carries the same header: a header captured within
    // its 60 s works for a request to the same method, host and path, with any body, sent
    // straight to the origin (through dynauth, client-sent x-dynauth-* headers are dropped).
    let with_body = |body: Value| {
        let r = app.call("POST", "/orders", host, &[("authorization", &format!("Bearer {token}"))], Some(body));
        let Some(f) = r.forward else { panic!("expected a forward, got {} {}", r.status, r.json) };
        f.headers["x-dynauth-identity"].to_str().unwrap_or("").to_string()
    };
    assert_eq!(with_body(json!({"amount": 1})), with_body(json!({"amount": 1_000_000})));
    let forged = format!("v1; t={now}; tenant=signed; user=admin; session={sid}; sig={}", "0".repeat(64));
    assert_eq!(refused(verify(&forged, &[&secret], "GET", "/orders?page=2", "signed", now)), "refused: bad signature");
    // Another tenant's origin refuses it: its tenant differs, and so does its secret.
    let other = app.admin("PUT", "/v1/admin/tenants/other", Some(json!({"name": "Other"})));
    let other_secret = other.json["secrets"]["origin"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        refused(verify(&header, &[&other_secret], "GET", "/orders?page=2", "other", now)),
        "refused: another tenant"
    );
    let relabelled = header.replace("tenant=signed", "tenant=other");
    assert_eq!(
        refused(verify(&relabelled, &[&other_secret], "GET", "/orders?page=2", "other", now)),
        "refused: bad signature"
    );

    // Rotation: the new secret is shown once; both sign until the overlap ends.
    let rotated = app.admin("POST", "/v1/admin/tenants/signed/secrets/origin", None);
    assert_eq!(rotated.status, 200, "{}", rotated.json);
    assert_eq!((rotated.json["kind"].clone(), rotated.json["valid"].clone()), (json!("origin"), json!(2)));
    let next = rotated.json["secret"].as_str().unwrap_or_default().to_string();
    assert_ne!(next, secret);
    let header = identity_of(&app, "GET", "/a");
    assert_eq!(header.matches("; sig=").count(), 2, "{header}");
    assert!(verify(&header, &[&secret], "GET", "/a", "signed", now).is_ok(), "origins still holding the old secret");
    assert!(verify(&header, &[&next], "GET", "/a", "signed", now).is_ok(), "origins already holding the new one");
    let ended = app.admin("DELETE", "/v1/admin/tenants/signed/secrets/origin/previous", None);
    assert_eq!((ended.status, ended.json.clone()), (200, json!({"kind": "origin", "valid": 1})));
    let header = identity_of(&app, "GET", "/a");
    assert_eq!(header.matches("; sig=").count(), 1);
    assert_eq!(refused(verify(&header, &[&secret], "GET", "/a", "signed", now)), "refused: bad signature");
    assert!(verify(&header, &[&next], "GET", "/a", "signed", now).is_ok());
    assert_eq!(app.admin("POST", "/v1/admin/tenants/signed/secrets/ssh", None).status, 404);
    assert_eq!(app.admin("POST", "/v1/admin/tenants/nobody/secrets/origin", None).status, 404);
}

#[test]
fn no_raw_token_is_ever_stored() {
    let (t, app) = setup("scan", &[]);
    let mut tokens = Vec::new();
    for i in 0..20 {
        let (token, _) = mint(&app, "acme", json!({"user_id": format!("u-{i}"), "email": format!("u{i}@example.com")}));
        assert_eq!(with_cookie(&app, HOST, &token).status, 200);
        tokens.push(token);
    }
    app.runtime.advance(Duration::from_secs(DAY));
    for token in &tokens {
        assert_eq!(with_cookie(&app, HOST, token).status, 200); // slides: writes again
    }
    let dump = format!("{:?}", scan_all(t.name()));
    for token in &tokens {
        assert!(!dump.contains(token.as_str()), "a raw token is stored");
    }
    assert!(dump.contains("session"), "the scan did see the sessions");
}

#[test]
fn the_bearer_scheme_is_case_insensitive_and_bad_query_escapes_are_named() {
    let (_t, app) = setup("schemes", &[]);
    let (token, _) = mint(&app, "acme", json!({"user_id": "u-case"}));
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let r = app.call("GET", "/v1/session", HOST, &[("authorization", &format!("{scheme} {token}"))], None);
        assert_eq!((r.status, r.json["user"]["id"].clone()), (200, json!("u-case")), "{scheme}");
    }
    let admin = |path: &str, scheme: &str| {
        let auth = format!("{scheme} {}", common::app::ADMIN_TOKEN);
        app.call("GET", path, "admin.dynauth.test", &[("authorization", &auth)], None)
    };
    assert_eq!(admin("/v1/admin/tenants/acme/users/u-case/sessions", "bearer").status, 200);
    assert_eq!(admin("/v1/admin/tenants/acme/users/u-case/sessions", "Basic").status, 401);
    for (path, name) in [
        ("/v1/admin/tenants/acme/users/u-case/sessions?cursor=%ZZ", "cursor"),
        ("/v1/admin/tenants/acme/users/u-case/sessions?limit=%ZZ", "limit"),
        ("/v1/admin/tenants/acme/users?email=%ZZ", "email"),
        ("/v1/admin/tenants/acme/users?email=a%e9%40b.example", "email"),
    ] {
        let r = admin(path, "Bearer");
        assert_eq!(
            (r.status, r.json["error"].clone()),
            (
                400,
                json!({"code": "invalid_request", "message": format!("{name}: is not validly percent-encoded UTF-8")})
            ),
            "{path}"
        );
    }
}

/// The `__Host-dynauth-cache` cookie's value in a `Set-Cookie`, and its Max-Age.
fn snapshot_cookie(r: &common::app::Answer) -> Option<(String, String)> {
    r.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let value = c.strip_prefix("__Host-dynauth-cache=")?.split(';').next()?.to_string();
        let age = c.split("Max-Age=").nth(1)?.to_string();
        Some((value, age))
    })
}

#[test]
fn a_cached_lookup_makes_no_dynamodb_call_and_revocation_lands_within_cache_secs() {
    let (_t, app) = setup("snapshot", &[]);
    let cached =
        json!({"name": "Acme", "origin": "http://127.0.0.1:9", "protect": true, "session": {"cache_secs": 60}});
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme", Some(cached)).status, 200);
    let (token, _) = mint(&app, "acme", json!({"user_id": "u-1", "email": "u1@example.com"}));
    let cookie = format!("__Host-dynauth={token}");
    let _warm = app.call("GET", "/v1/tenant", HOST, &[], None);

    let first = app.call("GET", "/v1/session", HOST, &[("cookie", &cookie)], None);
    assert_eq!((first.status, first.calls), (200, 1), "the first lookup reads DynamoDB");
    let (snapshot, max_age) = snapshot_cookie(&first).unwrap_or_else(|| panic!("{:?}", first.headers));
    assert_eq!(max_age, "60");
    let both = format!("{cookie}; __Host-dynauth-cache={snapshot}");
    let again = app.call("GET", "/v1/session", HOST, &[("cookie", &both)], None);
    assert_eq!(
        (again.status, again.calls, again.json.clone()),
        (200, 0, first.json.clone()),
        "answered from the snapshot"
    );
    assert_eq!(snapshot_cookie(&again), None, "a cached answer sets nothing");
    // So does the gateway: forwarded with the signed identity, no DynamoDB call.
    let gated = app.call("GET", "/app", HOST, &[("cookie", &both)], None);
    let Some(f) = gated.forward else { panic!("expected a forward, got {}", gated.status) };
    assert_eq!((gated.calls, f.headers["x-dynauth-user"].to_str().unwrap_or("")), (0, "u-1"));
    assert_eq!(f.headers.get("cookie"), None, "neither cookie reaches the origin");

    // Anything else falls back to DynamoDB: a tampered snapshot, another token's, another tenant's.
    let tampered = format!("{cookie}; __Host-dynauth-cache=x{snapshot}");
    assert_eq!(app.call("GET", "/v1/session", HOST, &[("cookie", &tampered)], None).calls, 1);
    let (other, _) = mint(&app, "acme", json!({"user_id": "u-2"}));
    let borrowed = format!("__Host-dynauth={other}; __Host-dynauth-cache={snapshot}");
    let r = app.call("GET", "/v1/session", HOST, &[("cookie", &borrowed)], None);
    assert_eq!((r.status, r.calls, r.json["user"]["id"].clone()), (200, 1, json!("u-2")), "its own session, read");
    let globex = json!({"name": "Globex", "session": {"cache_secs": 60}});
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/globex", Some(globex)).status, 200);
    let _warm = app.call("GET", "/v1/tenant", "auth.globex.test", &[], None);
    let foreign = app.call("GET", "/v1/session", "auth.globex.test", &[("cookie", &both)], None);
    assert_eq!((foreign.status, foreign.calls), (401, 1), "another tenant's snapshot never answers");
    // A bearer token never uses or gets a snapshot.
    let bearer =
        app.call("GET", "/v1/session", HOST, &[("authorization", &format!("Bearer {token}")), ("cookie", &both)], None);
    assert_eq!((bearer.calls, snapshot_cookie(&bearer)), (1, None));

    // Revoked elsewhere: the snapshot holds for at most cache_secs, then the read says 401.
    let s = app.call("GET", "/v1/session", HOST, &[("cookie", &cookie)], None).json["session"]["id"].clone();
    assert_eq!(
        app.admin("DELETE", &format!("/v1/admin/tenants/acme/sessions/{}", s.as_str().unwrap_or("")), None).status,
        204
    );
    let stale = app.call("GET", "/v1/session", HOST, &[("cookie", &both)], None);
    assert_eq!((stale.status, stale.calls), (200, 0), "within cache_secs (the documented bound)");
    app.runtime.advance(Duration::from_secs(60));
    let _warm = app.call("GET", "/v1/tenant", HOST, &[], None); // the host cache expired too
    let after = app.call("GET", "/v1/session", HOST, &[("cookie", &both)], None);
    assert_eq!((after.status, after.calls), (401, 1), "once cache_secs has passed");
    let tampered_dead = app.call("GET", "/v1/session", HOST, &[("cookie", &tampered)], None);
    assert_eq!(tampered_dead.status, 401, "a snapshot never answers 200 by itself");

    // Logout clears this browser's snapshot at once.
    let (token, _) = mint(&app, "acme", json!({"user_id": "u-3"}));
    let cookie = format!("__Host-dynauth={token}");
    let (snapshot, _) =
        snapshot_cookie(&app.call("GET", "/v1/session", HOST, &[("cookie", &cookie)], None)).unwrap_or_default();
    let both = format!("{cookie}; __Host-dynauth-cache={snapshot}");
    let out = app.call("POST", "/v1/logout", HOST, &[("cookie", &both), ("origin", "https://auth.acme.test")], None);
    let cleared: Vec<&str> = out.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect();
    assert_eq!(
        cleared,
        vec![
            "__Host-dynauth=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0",
            "__Host-dynauth-cache=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
        ]
    );
    // The browser dropped both cookies; even one that kept the session cookie gets 401.
    assert_eq!(app.call("GET", "/v1/session", HOST, &[("cookie", &cookie)], None).status, 401, "revoked by the logout");
    // A tenant that does not cache sets no snapshot.
    let (token, _) = mint(&app, "globex", json!({"user_id": "u-4"}));
    let plain = app.admin("PUT", "/v1/admin/tenants/globex", Some(json!({"name": "Globex"})));
    assert_eq!(plain.status, 200);
    let _warm = app.call("GET", "/v1/tenant", "auth.globex.test", &[], None);
    let r = app.call("GET", "/v1/session", "auth.globex.test", &[("cookie", &format!("__Host-dynauth={token}"))], None);
    assert_eq!((r.status, snapshot_cookie(&r)), (200, None));
}

const JWT_MASTER_KEY: &str = "jwt-master-key-for-tests-only-0123456789";

/// The header and claims of a compact JWS, decoded (no check).
fn jwt_parts(token: &str) -> (Value, Value) {
    let part = |i: usize| -> Value {
        let raw = token.split('.').nth(i).unwrap_or_default();
        serde_json::from_slice(&dynauth::platform::crypto::b64url_decode(raw).unwrap_or_default()).unwrap_or_default()
    };
    (part(0), part(1))
}

/// Whether `token`'s signature verifies under the JWK in `jwks` with its `kid`.
fn jwks_verifies(jwks: &Value, token: &str) -> bool {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
    let kid = jwt_parts(token).0["kid"].clone();
    let Some(jwk) = jwks["keys"].as_array().and_then(|keys| keys.iter().find(|k| k["kid"] == kid)) else {
        return false;
    };
    let x = dynauth::platform::crypto::b64url_decode(jwk["x"].as_str().unwrap_or_default()).unwrap_or_default();
    let Ok(key) = VerifyingKey::from_bytes(&x.try_into().unwrap_or([0; 32])) else { return false };
    let Some((signed, signature)) = token.rsplit_once('.') else { return false };
    let signature = dynauth::platform::crypto::b64url_decode(signature).unwrap_or_default();
    let Ok(signature) = Signature::from_slice(&signature) else { return false };
    key.verify(signed.as_bytes(), &signature).is_ok()
}

/// The Ed25519 keys' ids (session JWTs are EdDSA; the RSA keys beside them are the OpenID
/// Provider's RS256 keys: tests/oidc.rs).
fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .map(|k| k.iter().filter(|k| k["kty"] == "OKP").map(|k| k["kid"].as_str().unwrap_or("").to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn a_live_session_becomes_a_jwt_that_the_tenants_jwks_verifies() {
    let (t, app) = setup("jwt", &[("JWT_MASTER_KEY", JWT_MASTER_KEY)]);
    let acme = json!({"name": "Acme", "jwt": {"ttl_secs": 120, "audience": "https://api.acme.test"}});
    let put = app.admin("PUT", "/v1/admin/tenants/acme", Some(acme));
    assert_eq!(
        (put.status, put.json["jwt"].clone()),
        (200, json!({"ttl_secs": 120, "audience": "https://api.acme.test"}))
    );
    let (token, session) = mint(&app, "acme", json!({"user_id": "u-1", "email": "u1@example.com"}));
    let bearer = format!("Bearer {token}");

    let r = app.call("POST", "/v1/session/token", HOST, &[("authorization", &bearer)], None);
    assert_eq!((r.status, r.calls), (200, 2), "{}", r.json); // the tenant (cold host cache) and the session
    assert_eq!(r.headers["cache-control"], "no-store");
    let jwt = r.json["token"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        r.json,
        json!({"token": jwt, "token_type": "Bearer", "expires_at": "2027-01-15T08:02:00Z", "expires_in": 120})
    );
    let (header, claims) = jwt_parts(&jwt);
    let jti = claims["jti"].as_str().unwrap_or_default().to_string();
    assert_eq!(jti.len(), 22, "16 random bytes");
    assert_eq!(
        claims,
        json!({"iss": "https://auth.acme.test", "sub": "u-1", "aud": "https://api.acme.test", "iat": T0, "exp": T0 + 120,
               "jti": jti, "sid": session["id"], "tid": "acme", "email": "u1@example.com"})
    );
    let jwks = app.call("GET", "/.well-known/jwks.json", HOST, &[], None);
    assert_eq!(jwks.status, 200);
    let again = app.call("GET", "/.well-known/jwks.json", HOST, &[], None);
    assert_eq!((again.calls, &again.json), (0, &jwks.json), "Ed25519 keys derived, the RSA key read once per isolate");
    assert_eq!(jwks.headers["cache-control"], "public, max-age=300");
    let k1 = kids(&jwks.json)[0].clone();
    assert_eq!(jwks.json["keys"][0]["kty"], "OKP");
    assert_eq!((header, kids(&jwks.json).len()), (json!({"alg": "EdDSA", "typ": "session+jwt", "kid": k1}), 1));
    assert!(jwks_verifies(&jwks.json, &jwt));
    let (signed, signature) = jwt.rsplit_once('.').unwrap_or_default();
    let mut flipped = dynauth::platform::crypto::b64url_decode(signature).unwrap_or_default();
    flipped[10] ^= 1;
    let tampered = format!("{signed}.{}", dynauth::platform::crypto::b64url(&flipped));
    assert!(!jwks_verifies(&jwks.json, &tampered), "a tampered signature fails");
    let discovery = app.call("GET", "/.well-known/openid-configuration", HOST, &[], None);
    assert_eq!(
        (&discovery.json["issuer"], &discovery.json["jwks_uri"], &discovery.json["subject_types_supported"]),
        (&json!("https://auth.acme.test"), &json!("https://auth.acme.test/.well-known/jwks.json"), &json!(["public"]))
    );

    // By cookie: from the host itself or an allowed origin only (no other page mints tokens).
    let cookie = format!("__Host-dynauth={token}");
    let own =
        app.call("POST", "/v1/session/token", HOST, &[("cookie", &cookie), ("origin", "https://auth.acme.test")], None);
    assert_eq!(own.status, 200);
    let foreign =
        app.call("POST", "/v1/session/token", HOST, &[("cookie", &cookie), ("origin", "https://evil.test")], None);
    assert_eq!((foreign.status, foreign.json["error"]["code"].clone()), (403, json!("forbidden_origin")));
    assert_eq!(app.call("GET", "/v1/session/token", HOST, &[("authorization", &bearer)], None).status, 405);

    // Another tenant: its own key; a session of acme is no session there.
    let globex_jwks = app.call("GET", "/.well-known/jwks.json", "auth.globex.test", &[], None).json;
    assert_ne!(kids(&globex_jwks), vec![k1.clone()]);
    assert!(!jwks_verifies(&globex_jwks, &jwt), "acme's token does not verify for globex");
    let there = app.call("POST", "/v1/session/token", "auth.globex.test", &[("authorization", &bearer)], None);
    assert_eq!((there.status, there.json), (401, invalid()));
    let none = app.call("POST", "/v1/session/token", HOST, &[], None);
    assert_eq!((none.status, none.json), (401, invalid()));

    // Rotation: the next version signs, the JWKS serves both until the overlap ends.
    let rotated = app.admin("POST", "/v1/admin/tenants/acme/secrets/jwt", None);
    let k2 = rotated.json["kid"].as_str().unwrap_or_default().to_string();
    assert_eq!(rotated.json, json!({"kind": "jwt", "kid": k2, "valid": 2}));
    assert_ne!(k2, k1);
    let both = app.call("GET", "/.well-known/jwks.json", HOST, &[], None).json;
    assert_eq!(kids(&both), vec![k2.clone(), k1.clone()]);
    let newer = app.call("POST", "/v1/session/token", HOST, &[("authorization", &bearer)], None).json;
    let newer = newer["token"].as_str().unwrap_or_default().to_string();
    assert_eq!(jwt_parts(&newer).0["kid"], json!(k2));
    assert!(jwks_verifies(&both, &newer) && jwks_verifies(&both, &jwt), "old and new tokens verify in the overlap");
    let stored = scan_all(t.name())
        .into_iter()
        .find(|i| i.get("PK") == Some(&AttributeValue::S("TENANT#acme".into())))
        .unwrap_or_default();
    assert!(format!("{stored:?}").contains(r#"S("2"), S("1")"#), "only versions are stored: {stored:?}");
    let ended = app.admin("DELETE", "/v1/admin/tenants/acme/secrets/jwt/previous", None);
    assert_eq!(ended.json, json!({"kind": "jwt", "kid": k2, "valid": 1}));
    let after = app.call("GET", "/.well-known/jwks.json", HOST, &[], None).json;
    assert_eq!(kids(&after), vec![k2.clone()]);
    assert!(!jwks_verifies(&after, &jwt), "the retired key's tokens no longer verify");
    assert_eq!(app.admin("GET", "/v1/admin/tenants/acme", None).json["secrets_valid"]["jwt"], 1);

    // Revoked: no token.
    let id = session["id"].as_str().unwrap_or_default();
    assert_eq!(app.admin("DELETE", &format!("/v1/admin/tenants/acme/sessions/{id}"), None).status, 204);
    let revoked = app.call("POST", "/v1/session/token", HOST, &[("authorization", &bearer)], None);
    assert_eq!((revoked.status, revoked.json), (401, invalid()));

    // A re-created tenant has new keys: its old tokens stop verifying.
    assert_eq!(app.admin("DELETE", "/v1/admin/tenants/acme", None).status, 204);
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme", Some(json!({"name": "Acme"}))).status, 201);
    let host = format!("/v1/admin/tenants/acme/domains/{HOST}");
    assert_eq!(app.admin("PUT", &host, Some(json!({"status": "ready"}))).status, 201);
    app.caches.forget_tenant(&dynauth::values::ids::TenantId::parse("acme").expect("the test's own input"));
    let reborn = app.call("GET", "/.well-known/jwks.json", HOST, &[], None).json;
    assert_eq!(kids(&reborn).len(), 1);
    assert!(!kids(&reborn).contains(&k1) && !kids(&reborn).contains(&k2));

    // Without JWT_MASTER_KEY, no JWTs at all.
    let off = App::new(t.name(), manual_runtime(T0), &[]);
    let message = "this deployment issues no JWTs: JWT_MASTER_KEY is not set";
    for (method, path) in
        [("POST", "/v1/session/token"), ("GET", "/.well-known/jwks.json"), ("GET", "/.well-known/openid-configuration")]
    {
        let r = off.call(method, path, HOST, &[("authorization", &bearer)], None);
        assert_eq!((r.status, r.json), (404, json!({"error": {"code": "not_found", "message": message}})), "{path}");
    }
    assert_eq!(off.admin("POST", "/v1/admin/tenants/acme/secrets/jwt", None).status, 404);
}

#[test]
fn strict_revocation_turns_the_session_snapshot_off() {
    // A tenant with both cache_secs and strict_revocation: strict wins. No snapshot is set, and
    // one a browser kept from before (sealed while the tenant cached) answers nothing, so a
    // revocation holds at once, as strict_revocation promises.
    let (_t, app) = setup("strictcache", &[]);
    let cached = json!({"name": "Acme", "session": {"cache_secs": 60}});
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme", Some(cached)).status, 200);
    let (token, _) = mint(&app, "acme", json!({"user_id": "u-1"}));
    let cookie = format!("__Host-dynauth={token}");
    let _warm = app.call("GET", "/v1/tenant", HOST, &[], None);
    let (kept, _) =
        snapshot_cookie(&app.call("GET", "/v1/session", HOST, &[("cookie", &cookie)], None)).unwrap_or_default();
    assert!(!kept.is_empty(), "the tenant cached sessions");

    let strict = json!({"name": "Acme", "session": {"cache_secs": 60, "strict_revocation": true}});
    let saved = app.admin("PUT", "/v1/admin/tenants/acme", Some(strict));
    assert_eq!((saved.status, saved.json["session"]["strict_revocation"].clone()), (200, json!(true)));
    app.runtime.advance(Duration::from_secs(31)); // the isolate's host cache picks the change up
    let _warm = app.call("GET", "/v1/tenant", HOST, &[], None);
    let first = app.call("GET", "/v1/session", HOST, &[("cookie", &cookie)], None);
    assert_eq!((first.status, first.calls, snapshot_cookie(&first)), (200, 1, None), "no snapshot is set");
    let both = format!("{cookie}; __Host-dynauth-cache={kept}");
    let read = app.call("GET", "/v1/session", HOST, &[("cookie", &both)], None);
    assert_eq!((read.status, read.calls), (200, 1), "the kept snapshot is not used: DynamoDB is read");
    let id = first.json["session"]["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(app.admin("DELETE", &format!("/v1/admin/tenants/acme/sessions/{id}"), None).status, 204);
    let revoked = app.call("GET", "/v1/session", HOST, &[("cookie", &both)], None);
    assert_eq!(revoked.status, 401, "revoked at once, within cache_secs");
}
