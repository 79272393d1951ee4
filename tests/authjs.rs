//! Sessions in an Auth.js table (`@auth/dynamodb-adapter`'s item shapes) through the HTTP API
//! against DynamoDB Local: each cookie name and the bearer token, the DynamoDB calls per lookup
//! (with and without the user read), `expires` as a number and as an ISO time, the same 401 for
//! every failure, the gateway, logout deleting the item, and the consistent read of an item the
//! index does not show (yet) once the user is known from the snapshot.

#![allow(clippy::expect_used)] // a test's own setup may panic: it is the test failing

mod common;

use std::time::Duration;

use dynauth::values::ids::SessionId;
use serde_json::{Value, json};

use common::app::App;
use common::{TestTable, dynamodb_endpoint, manual_runtime, raw_call, unique_name};

const T0: u64 = 1_800_000_000; // 2027-01-15T08:00:00Z
const HOST: &str = "auth.acme.test";
const USER: &str = "0b7c2f5e-8e0e-4c3f-a1d6-3d2b6a9f0c11";

type TestApp = App<dynauth::testing::fakes::ManualRuntime>;

/// The names an Auth.js table uses.
struct Names {
    pk: &'static str,
    sk: &'static str,
    index: &'static str,
    ipk: &'static str,
    isk: &'static str,
}

const DEFAULT: Names = Names { pk: "pk", sk: "sk", index: "GSI1", ipk: "GSI1PK", isk: "GSI1SK" };

/// An Auth.js table on DynamoDB Local, as the adapter's docs create it; deleted when dropped.
struct AuthjsTable {
    name: String,
    endpoint: String,
}

impl AuthjsTable {
    fn new(n: &Names) -> Self {
        Self::create(unique_name("authjs"), dynamodb_endpoint(), n)
    }

    /// The same table in the replica region (a global table's replica, level when the test says).
    fn replica(&self, n: &Names) -> Self {
        Self::create(self.name.clone(), common::replica_endpoint(), n)
    }

    fn create(name: String, endpoint: String, n: &Names) -> Self {
        let attr = |a: &str| json!({"AttributeName": a, "AttributeType": "S"});
        let keys = |h: &str, r: &str| json!([{"AttributeName": h, "KeyType": "HASH"}, {"AttributeName": r, "KeyType": "RANGE"}]);
        raw_call(
            &endpoint,
            "DynamoDB_20120810.CreateTable",
            &json!({
                "TableName": name,
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [attr(n.pk), attr(n.sk), attr(n.ipk), attr(n.isk)],
                "KeySchema": keys(n.pk, n.sk),
                "GlobalSecondaryIndexes": [{"IndexName": n.index, "KeySchema": keys(n.ipk, n.isk), "Projection": {"ProjectionType": "ALL"}}],
            }),
        );
        Self { name, endpoint }
    }

    fn put(&self, item: Value) {
        raw_call(&self.endpoint, "DynamoDB_20120810.PutItem", &json!({"TableName": self.name, "Item": item}));
    }

    /// The adapter's user item.
    fn put_user(&self, n: &Names, id: &str, email: &str) {
        self.put(json!({
            n.pk: {"S": format!("USER#{id}")}, n.sk: {"S": format!("USER#{id}")},
            n.ipk: {"S": format!("USER#{email}")}, n.isk: {"S": format!("USER#{email}")},
            "type": {"S": "USER"}, "id": {"S": id}, "email": {"S": email}, "emailVerified": {"S": "2027-01-15T07:59:00.000Z"},
        }));
    }

    /// The adapter's session item (`indexed: false` leaves out the index keys: an item the index
    /// does not show yet).
    fn put_session(&self, n: &Names, token: &str, user: &str, expires: Value, indexed: bool) {
        let mut item = json!({
            n.pk: {"S": format!("USER#{user}")}, n.sk: {"S": format!("SESSION#{token}")},
            "type": {"S": "SESSION"}, "sessionToken": {"S": token}, "userId": {"S": user}, "expires": expires,
        });
        if indexed {
            item[n.ipk] = json!({"S": format!("SESSION#{token}")});
            item[n.isk] = json!({"S": format!("SESSION#{token}")});
        }
        self.put(item);
    }

    fn session_exists(&self, n: &Names, token: &str, user: &str) -> bool {
        let key = json!({n.pk: {"S": format!("USER#{user}")}, n.sk: {"S": format!("SESSION#{token}")}});
        let out = raw_call(
            &self.endpoint,
            "DynamoDB_20120810.GetItem",
            &json!({"TableName": self.name, "Key": key, "ConsistentRead": true}),
        );
        out.get("Item").is_some()
    }
}

impl Drop for AuthjsTable {
    fn drop(&mut self) {
        let body = json!({"TableName": self.name});
        let _ = std::panic::catch_unwind(|| raw_call(&self.endpoint, "DynamoDB_20120810.DeleteTable", &body));
    }
}

fn setup(authjs: Value, session: Value) -> (TestTable, TestApp) {
    setup_with(authjs, session, &[])
}

fn setup_with(authjs: Value, session: Value, vars: &[(&str, &str)]) -> (TestTable, TestApp) {
    let t = TestTable::new("authjs-dynauth");
    let mut vars = vars.to_vec();
    vars.push(("JWT_MASTER_KEY", "jwt-master-key-for-tests-only-0123456789"));
    let app = App::new(t.name(), manual_runtime(T0), &vars);
    let tenant =
        json!({"name": "Acme", "origin": "http://127.0.0.1:9", "protect": true, "authjs": authjs, "session": session});
    app.tenant_on("acme", tenant, HOST);
    (t, app)
}

fn lookup(app: &TestApp, headers: &[(&str, &str)]) -> common::app::Answer {
    app.call("GET", "/v1/session", HOST, headers, None)
}

fn invalid() -> Value {
    json!({"error": {"code": "invalid_session", "message": "no live session: sign in again"}})
}

fn expires_at(secs: u64) -> String {
    dynauth::platform::runtime::rfc3339_secs(i64::try_from(secs).expect("small"))
}

#[test]
fn auth_js_sessions_are_read_from_its_table_by_cookie_or_bearer() {
    let table = AuthjsTable::new(&DEFAULT);
    let (_t, app) = setup(json!({"table": table.name, "read_users": true}), json!({}));
    let token = "7f8e5f1c-2b1a-4c47-9a51-0d6f9b1e2a33";
    table.put_user(&DEFAULT, USER, "ada@acme.test");
    // The adapter's 2.x writes epoch seconds with milliseconds.
    table.put_session(&DEFAULT, token, USER, json!({"N": format!("{}.250", T0 + 3600)}), true);
    let expected = json!({
        "session": {"id": SessionId::of_token(token).as_str(), "user_id": USER, "email": "ada@acme.test",
                    "expires_at": expires_at(T0 + 3600), "idle_expires_at": expires_at(T0 + 3600)},
        "user": {"id": USER, "email": "ada@acme.test"},
    });
    lookup(&app, &[]); // the host resolved once (the isolate's cache holds it after)
    for name in [
        "__Secure-authjs.session-token",
        "authjs.session-token",
        "__Secure-next-auth.session-token",
        "next-auth.session-token",
    ] {
        let r = lookup(&app, &[("cookie", &format!("theme=dark; {name}={token}"))]);
        assert_eq!((r.status, &r.json), (200, &expected), "{name}");
        assert_eq!(r.calls, 2, "{name}: one index Query and the user's GetItem for the email");
    }
    let r = lookup(&app, &[("authorization", &format!("Bearer {token}"))]);
    assert_eq!((r.status, &r.json), (200, &expected), "bearer");
    // The gateway needs no email: one call, and the identity it signs is the Auth.js user's.
    let r = app.call("GET", "/dashboard", HOST, &[("cookie", &format!("authjs.session-token={token}"))], None);
    assert_eq!(r.calls, 1);
    let f = r.forward.expect("forwarded to the origin");
    assert_eq!(f.headers["x-dynauth-user"], USER);
    assert_eq!(f.headers["x-dynauth-session"], SessionId::of_token(token).as_str());
    let identity = f.headers["x-dynauth-identity"].to_str().unwrap_or_default().to_string();
    assert!(identity.starts_with(&format!("v1; t={T0}; tenant=acme; user={USER}; session=")), "{identity}");
    assert_eq!(f.headers["cookie"], format!("authjs.session-token={token}"), "the app's own cookie reaches the app");

    // Past `expires` (the item still there: TTL has not deleted it), as a number or an ISO time;
    // unknown tokens; a cookie the tenant does not read; dynauth's own cookie: the same 401.
    table.put_session(&DEFAULT, "expired-number", USER, json!({"N": format!("{}", T0)}), true);
    table.put_session(&DEFAULT, "expired-iso", USER, json!({"S": "2027-01-15T07:59:59.999Z"}), true);
    table.put_session(&DEFAULT, "live-iso", USER, json!({"S": "2027-01-15T09:00:00.000Z"}), true);
    assert_eq!(lookup(&app, &[("cookie", "authjs.session-token=live-iso")]).status, 200);
    for cookie in [
        "authjs.session-token=expired-number",
        "authjs.session-token=expired-iso",
        "authjs.session-token=no-such-token",
        &format!("other.session-token={token}"),
        "__Host-dynauth=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let r = lookup(&app, &[("cookie", cookie)]);
        assert_eq!((r.status, &r.json), (401, &invalid()), "{cookie}");
    }

    // Without a session, the app's own Auth.js routes pass; the rest go to its sign-in page.
    let r = app.call("GET", "/dashboard?tab=1", HOST, &[("accept", "text/html")], None);
    assert_eq!(
        (r.status, r.headers["location"].to_str().unwrap_or_default()),
        (302, "/api/auth/signin?callbackUrl=%2Fdashboard%3Ftab%3D1")
    );
    assert!(app.call("GET", "/api/auth/signin", HOST, &[], None).forward.is_some());
    assert_eq!(app.call("GET", "/api/authx", HOST, &[("accept", "application/json")], None).status, 401);
    // dynauth's own sign-in would make a session nobody reads.
    let r = app.call("POST", "/v1/login/start", HOST, &[], Some(json!({"email": "ada@acme.test"})));
    assert_eq!((r.status, &r.json["error"]["code"]), (409, &json!("sign_in_elsewhere")));
    // Logout is the app's unless the tenant allows it.
    let r = app.call("POST", "/v1/logout", HOST, &[("cookie", &format!("authjs.session-token={token}"))], None);
    assert_eq!((r.status, &r.json["error"]["code"]), (403, &json!("logout_not_allowed")));
    assert!(table.session_exists(&DEFAULT, token, USER));

    // Not its OpenID Provider: the session does not say when its user signed in, and dynauth
    // cannot send them to the app's sign-in. The client hears so at its redirect URI.
    let client = json!({"name": "SPA", "type": "public", "redirect_uris": ["https://app.acme.test/cb"]});
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme/clients/spa", Some(client)).status, 201);
    let authorize = "/v1/oauth/authorize?response_type=code&client_id=spa&redirect_uri=https%3A%2F%2Fapp.acme.test%2Fcb\
        &scope=openid&state=s1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    let r = app.call("GET", authorize, HOST, &[("cookie", &format!("authjs.session-token={token}"))], None);
    let location = r.headers.get("location").and_then(|l| l.to_str().ok()).unwrap_or_default();
    assert_eq!(r.status, 302, "{}", r.json);
    assert!(location.starts_with("https://app.acme.test/cb?error=access_denied&"), "{location}");
}

#[test]
fn logout_deletes_the_item_and_custom_names_and_the_index_lag_are_followed() {
    const CUSTOM: Names = Names { pk: "PK", sk: "SK", index: "byToken", ipk: "tokPK", isk: "tokSK" };
    let table = AuthjsTable::new(&CUSTOM);
    let authjs = json!({"table": table.name, "partition_key": "PK", "sort_key": "SK", "index_name": "byToken",
        "index_partition_key": "tokPK", "index_sort_key": "tokSK", "cookies": ["app.sid"], "logout": true});
    let (_t, app) = setup(authjs, json!({"cache_secs": 60}));
    let token = "c0ffee00-1111-4222-8333-444455556666";
    table.put_session(&CUSTOM, token, USER, json!({"N": format!("{}", T0 + 86_400)}), true);
    let cookie = format!("app.sid={token}");
    let r = lookup(&app, &[("cookie", &cookie)]);
    assert_eq!(
        (r.status, &r.json["user"]),
        (200, &json!({"id": USER, "email": null})),
        "no user read: read_users is off"
    );
    assert!(r.json["session"].get("created_at").is_none(), "an Auth.js item does not say when it began");
    let snapshot = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("__Host-dynauth-cache="))
        .and_then(|c| c.split(';').next())
        .expect("a snapshot cookie")
        .to_string();
    let with_snapshot = format!("{cookie}; __Host-dynauth-cache={snapshot}");
    assert_eq!(lookup(&app, &[("cookie", &with_snapshot)]).calls, 0, "the snapshot answers");

    // The app rewrites the item and the index has not caught up (the item without index keys):
    // the index misses, and the user the (now stale) snapshot names lets home read it consistently.
    app.runtime.advance(Duration::from_secs(120));
    table.put_session(&CUSTOM, token, USER, json!({"N": format!("{}", T0 + 2 * 86_400)}), false);
    lookup(&app, &[]); // the host resolved again, if its cache entry aged out
    let r = lookup(&app, &[("cookie", &with_snapshot)]);
    assert_eq!((r.status, r.calls), (200, 2), "{}", r.json);
    assert_eq!(r.json["session"]["expires_at"], expires_at(T0 + 2 * 86_400));
    let r = lookup(&app, &[("cookie", &cookie)]);
    assert_eq!((r.status, &r.json), (401, &invalid()), "without the snapshot, no way to the item: 401");

    // Logout deletes the item (found through the snapshot's user here) and clears the cookies.
    let r =
        app.call("POST", "/v1/logout", HOST, &[("cookie", &with_snapshot), ("origin", "https://auth.acme.test")], None);
    assert_eq!(r.status, 204, "{}", r.json);
    let cleared: Vec<&str> = r.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect();
    assert!(cleared.contains(&"app.sid=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"), "{cleared:?}");
    assert!(cleared.iter().any(|c| c.starts_with("__Host-dynauth-cache=;")), "{cleared:?}");
    assert!(!table.session_exists(&CUSTOM, token, USER));
    assert_eq!(lookup(&app, &[("cookie", &with_snapshot)]).status, 401);
    // A foreign page cannot log a browser out.
    table.put_session(&CUSTOM, token, USER, json!({"N": format!("{}", T0 + 86_400)}), true);
    let r = app.call("POST", "/v1/logout", HOST, &[("cookie", &cookie), ("origin", "https://evil.test")], None);
    assert_eq!((r.status, &r.json["error"]["code"]), (403, &json!("forbidden_origin")));
    assert!(table.session_exists(&CUSTOM, token, USER));
}

#[test]
fn strict_revocation_confirms_every_hit_at_home_and_bad_settings_are_named() {
    let table = AuthjsTable::new(&DEFAULT);
    let (_t, app) = setup(json!({"table": table.name}), json!({"strict_revocation": true}));
    table.put_session(&DEFAULT, "tok", USER, json!({"N": format!("{}", T0 + 60)}), true);
    lookup(&app, &[]);
    let r = lookup(&app, &[("cookie", "authjs.session-token=tok")]);
    assert_eq!((r.status, r.calls), (200, 2), "the index Query, then the item's consistent GetItem");
    for (authjs, problem) in [
        (json!({}), "authjs.table: is required"),
        (json!({"table": "a b"}), "authjs.table: must be a DynamoDB name"),
        (json!({"table": "ok-table", "cookies": ["a=b"]}), "authjs.cookies[0]: must be a cookie name"),
        (json!({"table": "ok-table", "base_path": "api/auth"}), "authjs.base_path: must be a path"),
        (json!({"table": "ok-table", "sort_key": ""}), "authjs.sort_key: must be an attribute name"),
        // Well formed, but not the table there is: named when saved (one DescribeTable).
        (
            json!({"table": "no-such-authjs-table"}),
            "authjs.table: no table named no-such-authjs-table in the home region",
        ),
        (json!({"table": table.name, "sort_key": "SK"}), "authjs.sort_key: the table's sort key is \"sk\""),
        (
            json!({"table": table.name, "partition_key": "PK"}),
            "authjs.partition_key: the table's partition key is \"pk\"",
        ),
        (
            json!({"table": table.name, "index_name": "byToken"}),
            "authjs.index_name: the table has no index \"byToken\" (it has [\"GSI1\"])",
        ),
        (
            json!({"table": table.name, "index_sort_key": "tokSK"}),
            "authjs.index_sort_key: the index's sort key is \"GSI1SK\"",
        ),
    ] {
        let r = app.admin("PUT", "/v1/admin/tenants/acme", Some(json!({"name": "Acme", "authjs": authjs})));
        let message = r.json["error"]["message"].as_str().unwrap_or_default();
        assert!(r.status == 400 && message.starts_with(problem), "{problem}: {} {}", r.status, r.json);
        assert_eq!(r.json["error"]["code"], "invalid_request");
    }
    // Nothing was written: the tenant is as it was.
    assert_eq!(app.admin("GET", "/v1/admin/tenants/acme", None).json["authjs"]["table"], json!(table.name));
}

#[test]
fn the_nearest_replica_of_an_auth_js_global_table_answers_and_home_fills_its_gaps() {
    use dynauth::domain::regions::Location;
    const SYDNEY: Location = Location { latitude: -33.87, longitude: 151.21 };
    let home = AuthjsTable::new(&DEFAULT);
    let replica = home.replica(&DEFAULT);
    let endpoints = format!("ap-southeast-2={}", common::replica_endpoint());
    let vars = [("DYNAMODB_REGIONS", "us-east-1,ap-southeast-2"), ("DYNAMODB_ENDPOINTS", endpoints.as_str())];
    // dynauth's own table has no replica here: its items (the host) are read at home.
    let (_t, app) = setup_with(json!({"table": home.name}), json!({}), &vars);
    let from_sydney = |token: &str| {
        let request = http::Request::builder()
            .uri(format!("https://{HOST}/v1/session"))
            .header("host", HOST)
            .header("authorization", format!("Bearer {token}"))
            .body(Vec::new())
            .expect("the test's own input");
        app.send_from(request, Some(SYDNEY))
    };
    from_sydney("warm-up"); // the host, resolved once
    let live = json!({"N": format!("{}", T0 + 3600)});
    // Replicated: one Query, in the replica.
    home.put_session(&DEFAULT, "replicated", USER, live.clone(), true);
    replica.put_session(&DEFAULT, "replicated", USER, live.clone(), true);
    let r = from_sydney("replicated");
    assert_eq!((r.status, r.calls, &r.log["region"]), (200, 1, &json!("ap-southeast-2")), "{}", r.json);
    // Made a moment ago, not replicated yet: the replica misses, home's index has it.
    home.put_session(&DEFAULT, "fresh", USER, live.clone(), true);
    let r = from_sydney("fresh");
    assert_eq!((r.status, r.calls), (200, 2), "{}", r.json);
    // Extended at home, the replica still holding it expired: home's consistent read has it.
    home.put_session(&DEFAULT, "extended", USER, live, true);
    replica.put_session(&DEFAULT, "extended", USER, json!({"N": format!("{}", T0 - 1)}), true);
    let r = from_sydney("extended");
    assert_eq!((r.status, r.calls, &r.json["session"]["expires_at"]), (200, 2, &json!(expires_at(T0 + 3600))));
    // Nowhere: the replica misses, home misses, 401 (two calls, never more).
    let r = from_sydney("nowhere");
    assert_eq!((r.status, r.calls, &r.json), (401, 2, &invalid()));
}

#[test]
fn rp_initiated_logout_ends_an_auth_js_session_only_where_logout_is_allowed() {
    for logout in [true, false] {
        let table = AuthjsTable::new(&DEFAULT);
        let (_t, app) = setup(json!({"table": table.name, "logout": logout}), json!({}));
        let token = "0d15ea5e-1111-4222-8333-444455556666";
        table.put_session(&DEFAULT, token, USER, json!({"N": format!("{}", T0 + 86_400)}), true);
        let cookie = format!("authjs.session-token={token}");
        // Discovery names the endpoint only where it signs the user out.
        let discovery = app.call("GET", "/.well-known/openid-configuration", HOST, &[], None);
        assert_eq!(discovery.json.get("end_session_endpoint").is_some(), logout, "{}", discovery.json);
        let asked = app.call("GET", "/v1/oauth/logout", HOST, &[("cookie", &cookie)], None);
        let page = String::from_utf8_lossy(&asked.body).to_string();
        let still_there = table.session_exists(&DEFAULT, token, USER);
        let confirm = http::Request::builder()
            .method("POST")
            .uri(format!("https://{HOST}/v1/oauth/logout"))
            .header("host", HOST)
            .header("cookie", &cookie)
            .header("origin", format!("https://{HOST}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(b"confirm=yes".to_vec())
            .expect("a request");
        let confirmed = app.send(confirm);
        let done = String::from_utf8_lossy(&confirmed.body).to_string();
        if logout {
            assert_eq!(asked.status, 200);
            assert!(page.contains("Sign out?"), "the user is asked first: {page}");
            assert!(still_there, "asking ends nothing");
            assert_eq!(confirmed.status, 200, "{done}");
            assert!(done.contains("You are signed out"), "{done}");
            let cleared: Vec<&str> =
                confirmed.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect();
            assert!(cleared.iter().any(|c| c.starts_with("authjs.session-token=;")), "{cleared:?}");
            assert!(!table.session_exists(&DEFAULT, token, USER), "the Auth.js session item is deleted");
            assert_eq!((lookup(&app, &[("cookie", &cookie)]).status), 401);
        } else {
            for (answer, html) in [(&asked, &page), (&confirmed, &done)] {
                assert_eq!(answer.status, 403, "{html}");
                assert!(html.contains("You are not signed out") && !html.contains("You are signed out"), "{html}");
            }
            assert!(table.session_exists(&DEFAULT, token, USER));
            assert_eq!(lookup(&app, &[("cookie", &cookie)]).status, 200, "the session stays, as the page says");
        }
    }
}
