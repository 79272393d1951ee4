//! Login codes through the HTTP API against DynamoDB Local: issue and deliver (a local webhook
//! server checks the signature), rate limits, verify (wrong codes, attempt limit, expiry, reuse),
//! the binding of a login to its client, find-or-create users, races (200 guesses at one login,
//! 50 verifies of one code, 20 first logins, wrong codes from many addresses, a tenant's sharded
//! counter), conflicts real DynamoDB answers, round trips, admin routes, and a scan proving no
//! plain code, binding or raw token is stored.
//!
//! The helpers below start logins as a server-side client (`"deliver": "body"`) and remember each
//! login's binding, which `verify` presents; tests of strangers present another or none.

#![allow(clippy::expect_used)] // a test's own setup may panic: it is the test failing

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use dynauth::dynamo::AttributeValue;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use common::app::App;
use common::{TestTable, manual_runtime, scan_all};

const T0: u64 = 1_800_000_000; // 2027-01-15T08:00:00Z
const HOST: &str = "auth.acme.localhost"; // DEV_MODE answers codes only to local hosts
const WEBHOOK_SECRET: &str = "whsec-test-only-0123456789abcdefghij";

type TestApp = App<dynauth::testing::fakes::ManualRuntime>;

fn setup(prefix: &str, extra: &[(&str, &str)]) -> (TestTable, TestApp) {
    let t = TestTable::new(prefix);
    let app = App::new(t.name(), manual_runtime(T0), extra);
    app.tenant_on("acme", json!({"name": "Acme"}), HOST);
    (t, app)
}

fn dev(prefix: &str) -> (TestTable, TestApp) {
    setup(prefix, &[("DEV_MODE", "true")])
}

/// Every login's binding, by login id, as the helpers got it from the start (login ids are
/// random, so tests running at once never collide).
static BINDINGS: LazyLock<Mutex<HashMap<String, String>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// Remembers the binding of the login an answer (a start, or an admin code) names.
fn remember(r: &common::app::Answer) {
    if let (Some(id), Some(binding)) = (r.json["login_id"].as_str(), r.json["binding"].as_str())
        && let Ok(mut all) = BINDINGS.lock()
    {
        all.insert(id.to_string(), binding.to_string());
    }
}

/// The binding the helpers got for login `id`.
fn binding_of(id: &str) -> Option<String> {
    BINDINGS.lock().ok().and_then(|all| all.get(id).cloned())
}

/// A start as a server-side client (the binding in the answer), from `headers`.
fn start_with(app: &TestApp, email: &str, headers: &[(&str, &str)]) -> common::app::Answer {
    let r = app.call("POST", "/v1/login/start", HOST, headers, Some(json!({"email": email, "deliver": "body"})));
    remember(&r);
    r
}

fn start(app: &TestApp, email: &str) -> common::app::Answer {
    start_with(app, email, &[])
}

/// A verify as a server-side client presenting `binding`, from `headers`.
fn verify_as(
    app: &TestApp,
    login_id: &str,
    code: &str,
    binding: Option<&str>,
    headers: &[(&str, &str)],
) -> common::app::Answer {
    let mut body = json!({"login_id": login_id, "code": code, "deliver": "body"});
    if let Some(b) = binding {
        body["binding"] = json!(b);
    }
    app.call("POST", "/v1/login/verify", HOST, headers, Some(body))
}

/// A verify by the client that started the login.
fn verify(app: &TestApp, login_id: &str, code: &str) -> common::app::Answer {
    verify_as(app, login_id, code, binding_of(login_id).as_deref(), &[])
}

/// An admin-issued code for `email` (from the backend that then holds its binding).
fn issue(app: &TestApp, email: &str) -> (String, String) {
    let r = app.admin("POST", "/v1/admin/tenants/acme/codes", Some(json!({"email": email})));
    assert_eq!(r.status, 201, "{}", r.json);
    remember(&r);
    (r.json["login_id"].as_str().unwrap_or_default().into(), r.json["code"].as_str().unwrap_or_default().into())
}

fn dev_login(app: &TestApp, email: &str) -> (String, String) {
    let r = start(app, email);
    assert_eq!(r.status, 202, "{}", r.json);
    (r.json["login_id"].as_str().unwrap_or_default().into(), r.json["code"].as_str().unwrap_or_default().into())
}

/// A binding nobody started a login with (well-formed: 32 bytes, base64url).
fn stranger_binding() -> String {
    use dynauth::platform::runtime::Random;
    let mut bytes = [0u8; 32];
    common::os_runtime().fill_random(&mut bytes);
    dynauth::platform::crypto::b64url(&bytes)
}

/// The value of cookie `name` in an answer's `Set-Cookie` headers.
fn set_cookie(r: &common::app::Answer, name: &str) -> Option<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

fn wrong(code: &str) -> String {
    let first = (code.as_bytes()[0] - b'0' + 1) % 10;
    format!("{first}{}", &code[1..])
}

fn items_of_type(table: &str, kind: &str) -> Vec<dynauth::dynamo::Item> {
    scan_all(table).into_iter().filter(|i| i.get("type") == Some(&AttributeValue::S(kind.into()))).collect()
}

/// One delivery as received: lowercase headers and the raw body.
type Delivery = (Vec<(String, String)>, Vec<u8>);

/// A webhook receiver on 127.0.0.1 answering `status`; records every delivery.
struct Webhook {
    url: String,
    seen: Arc<Mutex<Vec<Delivery>>>,
}

fn webhook(status: u16) -> Webhook {
    let listener = TcpListener::bind("127.0.0.1:0").expect("the test's own input");
    let url = format!("http://127.0.0.1:{}/hook", listener.local_addr().map(|a| a.port()).unwrap_or(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut headers = Vec::new();
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
            let len =
                headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
            let mut body = vec![0u8; len];
            let _ = reader.read_exact(&mut body);
            if let Ok(mut seen) = record.lock() {
                seen.push((headers, body));
            }
            let mut stream = reader.into_inner();
            let _ = write!(stream, "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    Webhook { url, seen }
}

/// A webhook on 127.0.0.1 that reads each request and answers with the bytes `raw` (a whole HTTP
/// answer); its URL.
fn answering(raw: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("the test's own input");
    let url = format!("http://127.0.0.1:{}/hook", listener.local_addr().map(|a| a.port()).unwrap_or(0));
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().expect("the test's own input"));
            let mut line = String::new();
            let mut length = 0usize;
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let _ = stream.write_all(&raw);
        }
    });
    url
}

/// What a receiver does: recompute HMAC-SHA256(secret, "<t>.<body>"), accept when any `v1`
/// matches, and reject stale timestamps.
fn signature_ok(header: &str, body: &[u8], secret: &str, now: i64) -> bool {
    let mut t = None;
    let mut v1s = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1s.push(v.to_string()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now - t).abs() > 300 {
        return false;
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    v1s.contains(&expected)
}

#[test]
fn start_in_dev_mode_then_verify_starts_a_session() {
    let (t, app) = dev("devmode");
    let r = start(&app, "  Ann@Example.com ");
    assert_eq!(r.status, 202);
    let login_id = r.json["login_id"].as_str().unwrap_or_default().to_string();
    let code = r.json["code"].as_str().unwrap_or_default().to_string();
    let binding = r.json["binding"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        r.json,
        json!({"login_id": login_id, "expires_at": "2027-01-15T08:10:00Z", "code": code, "binding": binding})
    );
    assert_eq!((login_id.len(), code.len(), binding.len()), (22, 6, 43));
    assert_eq!(set_cookie(&r, "__Host-dynauth-login"), None, "the binding went into the body instead");

    let stored = items_of_type(t.name(), "login_code");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].get("email"), Some(&AttributeValue::S("ann@example.com".into())));
    assert_eq!(stored[0].get("attempts"), Some(&AttributeValue::N("0".into())));
    assert_eq!(stored[0].get("ttl"), Some(&AttributeValue::N((T0 + 600).to_string())));
    let binding_hash = dynauth::platform::crypto::hash_b64(binding.as_bytes());
    assert_eq!(stored[0].get("binding_hash"), Some(&AttributeValue::S(binding_hash.clone())), "only its hash");
    assert_eq!(stored[0].get("started_from"), Some(&AttributeValue::S("unknown".into())), "no binding presented");

    // A browser gets the binding as an HttpOnly cookie for as long as the code lives, never in
    // the body, and may not ask for it there.
    let page = app.call(
        "POST",
        "/v1/login/start",
        HOST,
        &[("origin", "http://auth.acme.localhost")],
        Some(json!({"email": "bo@example.com"})),
    );
    assert_eq!(page.status, 202, "{}", page.json);
    assert_eq!(page.json.get("binding"), None);
    let cookie = set_cookie(&page, "__Host-dynauth-login").unwrap_or_default();
    let value =
        cookie.split(';').next().and_then(|c| c.split_once('=')).map(|(_, v)| v.to_string()).unwrap_or_default();
    assert_eq!(cookie, format!("__Host-dynauth-login={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=600"));
    assert_eq!(value.len(), 43);
    for body in
        [json!({"email": "bo@example.com", "deliver": "body"}), json!({"email": "bo@example.com", "binding": value})]
    {
        let r = app.call("POST", "/v1/login/start", HOST, &[("sec-fetch-site", "same-origin")], Some(body));
        assert_eq!((r.status, r.json["error"]["code"].clone()), (403, json!("body_delivery_refused")), "{}", r.json);
    }
    let bad = app.call("POST", "/v1/login/start", HOST, &[], Some(json!({"email": "bo@example.com", "binding": "x"})));
    assert_eq!(
        (bad.status, bad.json["error"]["message"].clone()),
        (400, json!("binding: must be the binding a login start returned"))
    );

    // DEV_MODE answers codes only to plain http on this machine: any other request is refused
    // loudly, naming the setting, and issues nothing.
    assert_eq!(
        app.admin("PUT", "/v1/admin/tenants/acme/domains/auth.acme.test", Some(json!({"status": "ready"}))).status,
        201
    );
    for url in [
        "https://auth.acme.test/v1/login/start",
        "http://auth.acme.test/v1/login/start",
        "https://auth.acme.localhost/v1/login/start",
    ] {
        let host = url.split('/').nth(2).unwrap_or_default();
        let request = http::Request::builder()
            .method("POST")
            .uri(url)
            .header("host", host)
            .header("content-type", "application/json")
            .body(br#"{"email":"ann@example.com"}"#.to_vec())
            .expect("the test's own input");
        let r = app.send(request);
        assert_eq!((r.status, r.json["error"]["code"].clone()), (500, json!("config_error")), "{url}");
        assert!(r.json["error"]["message"].as_str().unwrap_or("").contains("DEV_MODE"), "{}", r.json);
        assert_eq!(r.json.get("code"), None);
    }
    assert_eq!(items_of_type(t.name(), "login_code").len(), 2, "nothing issued");

    app.runtime.advance(Duration::from_secs(30));
    // A browser (Origin, Sec-Fetch-Site) may not ask for the token in the body.
    let body = json!({"login_id": login_id, "code": code, "deliver": "body"});
    for header in [("origin", "http://auth.acme.localhost"), ("sec-fetch-site", "same-origin")] {
        let r = app.call("POST", "/v1/login/verify", HOST, &[header], Some(body.clone()));
        assert_eq!((r.status, r.json["error"]["code"].clone()), (403, json!("body_delivery_refused")), "{header:?}");
    }
    let bad = app.call(
        "POST",
        "/v1/login/verify",
        HOST,
        &[],
        Some(json!({"login_id": login_id, "code": code, "deliver": "email"})),
    );
    assert_eq!((bad.status, bad.json["error"]["code"].clone()), (400, json!("invalid_request")), "{}", bad.json);
    assert!(bad.json["error"]["message"].as_str().unwrap_or("").starts_with("deliver: "), "{}", bad.json);
    // By default the token goes only into the HttpOnly cookie, never into the body; a browser
    // presents its binding as the cookie.
    let ok = app.call(
        "POST",
        "/v1/login/verify",
        HOST,
        &[("origin", "http://auth.acme.localhost"), ("cookie", &format!("__Host-dynauth-login={binding}"))],
        Some(json!({"login_id": login_id, "code": code})),
    );
    assert_eq!(ok.status, 200, "{}", ok.json);
    assert_eq!(
        set_cookie(&ok, "__Host-dynauth-login").as_deref(),
        Some("__Host-dynauth-login=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
        "the used login's binding is cleared"
    );
    assert_eq!(ok.json.get("token"), None);
    let cookie = ok.headers["set-cookie"].to_str().unwrap_or("").to_string();
    let token = cookie.strip_prefix("__Host-dynauth=").and_then(|c| c.split(';').next()).unwrap_or("").to_string();
    assert_eq!(cookie, format!("__Host-dynauth={token}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=2592000"));
    let user_id = ok.json["user"]["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(ok.json["user"], json!({"id": user_id, "email": "ann@example.com"}));
    assert_eq!(ok.json["session"]["user_id"], json!(user_id));
    assert_eq!(ok.json["session"]["expires_at"], "2027-02-14T08:00:30Z");
    // A server-side client asks for it: the same session (a retry of the verify), in the body, no cookie.
    let server = verify(&app, &login_id, &code);
    assert_eq!((server.status, server.json["token"].as_str().unwrap_or("")), (200, token.as_str()));
    assert_eq!(server.headers.get("set-cookie"), None);
    let session = app.call("GET", "/v1/session", HOST, &[("cookie", &format!("__Host-dynauth={token}"))], None);
    assert_eq!((session.status, session.json["user"]["id"].clone()), (200, json!(user_id)));

    // The same email again: the same user, counted.
    app.runtime.advance(Duration::from_secs(60));
    let (id2, code2) = dev_login(&app, "ann@example.com");
    let again = verify(&app, &id2, &code2);
    assert_eq!(again.json["user"]["id"], json!(user_id));
    assert_eq!(again.calls, 3, "an existing user's success path: GetItem, the reservation, the consuming transaction");
    let user = app.admin("GET", &format!("/v1/admin/tenants/acme/users/{user_id}"), None);
    assert_eq!(
        user.json,
        json!({"id": user_id, "email": "ann@example.com", "created_at": "2027-01-15T08:00:30Z", "last_login_at": "2027-01-15T08:01:30Z", "login_count": 2, "profile": {}})
    );
    let found = app.admin("GET", "/v1/admin/tenants/acme/users?email=ANN%40example.com", None);
    assert_eq!(found.json["users"][0]["id"], json!(user_id));
    assert_eq!(
        app.admin("GET", "/v1/admin/tenants/acme/users?email=nobody%40example.com", None).json,
        json!({"users": []})
    );
}

#[test]
fn wrong_codes_use_up_attempts_and_then_even_the_right_code_fails() {
    let (_t, app) = dev("attempts");
    let (login_id, code) = dev_login(&app, "bob@example.com");
    for left in [4, 3, 2, 1, 0] {
        let r = verify(&app, &login_id, &wrong(&code));
        assert_eq!(r.status, 401);
        assert_eq!(
            r.json,
            json!({"error": {"code": "invalid_code", "message": "the code is wrong, or there is no such login", "attempts_left": left}})
        );
    }
    let r = verify(&app, &login_id, &code);
    assert_eq!(r.status, 429);
    assert_eq!(r.json["error"]["code"], "too_many_attempts");
    assert_eq!(r.headers["retry-after"], "600");
    assert_eq!(verify(&app, &login_id, "not digits").status, 429);

    let unknown = verify_as(&app, "AAAAAAAAAAAAAAAAAAAAAA", "123456", Some(&stranger_binding()), &[]);
    assert_eq!(
        (unknown.status, unknown.json.clone()),
        (401, json!({"error": {"code": "invalid_code", "message": "the code is wrong, or there is no such login"}}))
    );
    // Without a binding the answer says so, whatever the login: it is about the request.
    let unbound = verify_as(&app, "AAAAAAAAAAAAAAAAAAAAAA", "123456", None, &[]);
    assert_eq!(
        (unbound.status, unbound.json.clone()),
        (
            401,
            json!({"error": {"code": "invalid_code", "message": "the code is wrong, or there is no such login; this request presents no login binding (the cookie a browser got from the start, or \"binding\" from a start with \"deliver\": \"body\"), and without it no code works"}})
        )
    );
    assert_eq!(verify(&app, "bad id", "123456").status, 401);
    let missing = app.call("POST", "/v1/login/verify", HOST, &[], Some(json!({"login_id": login_id})));
    assert_eq!((missing.status, missing.json["error"]["message"].clone()), (400, json!("code: is required")));
}

#[test]
fn a_wrong_code_answered_500_after_it_was_applied_spends_one_attempt_once() {
    let (t, app) = dev("attempt500");
    let (login_id, code) = dev_login(&app, "ida@example.com");
    // DynamoDB applies the charge of one attempt, but its answer comes back as HTTP 500: the
    // transaction is sent again with its token, and DynamoDB does not apply it twice.
    app.transport.fail_answers_of("TransactWriteItems", 1, 500);
    app.transport.reset();
    let r = verify(&app, &login_id, &wrong(&code));
    assert_eq!((r.status, r.json["error"]["attempts_left"].clone()), (401, json!(4)), "{}", r.json);
    assert_eq!(app.transport.operations(), vec!["GetItem", "TransactWriteItems", "TransactWriteItems"]);
    let stored = items_of_type(t.name(), "login_code");
    assert_eq!(stored[0].get("attempts"), Some(&AttributeValue::N("1".into())), "one attempt spent, not two");
    let r = verify(&app, &login_id, &wrong(&code));
    assert_eq!((r.status, r.json["error"]["attempts_left"].clone()), (401, json!(3)));
    assert_eq!(verify(&app, &login_id, &code).status, 200);
}

#[test]
fn codes_expire_and_are_used_once() {
    let (_t, app) = dev("expiry");
    let (login_id, code) = dev_login(&app, "cy@example.com");
    app.runtime.advance(Duration::from_secs(600));
    let r = verify(&app, &login_id, &code);
    assert_eq!((r.status, r.json["error"]["code"].clone()), (410, json!("code_expired")));

    let (login_id, code) = dev_login(&app, "cy@example.com");
    app.runtime.advance(Duration::from_secs(599));
    let first = verify(&app, &login_id, &code);
    assert_eq!(first.status, 200, "one second before expiry");
    assert_eq!(verify(&app, &login_id, &wrong(&code)).status, 410, "a used login takes no more guesses");
    // The same verify again (a client whose answer was lost), within the retry window: the same
    // session, not a second one.
    app.runtime.advance(Duration::from_secs(120));
    let again = verify(&app, &login_id, &code);
    assert_eq!((again.status, again.json["token"].clone()), (200, first.json["token"].clone()));
    app.runtime.advance(Duration::from_secs(1));
    let r = verify(&app, &login_id, &code);
    assert_eq!((r.status, r.json["error"]["code"].clone()), (410, json!("code_used")), "after the window");
}

#[test]
fn delivery_goes_to_the_signed_webhook_and_failure_leaves_no_code() {
    let hook = webhook(204);
    let (t, app) = setup("webhook", &[("CODE_WEBHOOK_URL", &hook.url), ("CODE_WEBHOOK_SECRET", WEBHOOK_SECRET)]);
    let r = start(&app, "dee@example.com");
    assert_eq!(r.status, 202, "{}", r.json);
    assert_eq!(r.json.get("code"), None, "no code in the answer outside DEV_MODE");
    let seen = hook.seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(seen.len(), 1);
    let (headers, body) = &seen[0];
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let payload: Value = serde_json::from_slice(body).unwrap_or_default();
    assert_eq!(payload["tenant"], "acme");
    assert_eq!(payload["email"], "dee@example.com");
    assert_eq!(payload["login_id"], r.json["login_id"]);
    assert_eq!(payload["expires_at"], "2027-01-15T08:10:00Z");
    let now = i64::try_from(T0).unwrap_or(0);
    assert!(signature_ok(&header("x-dynauth-signature"), body, WEBHOOK_SECRET, now), "the receiver's check passes");
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| b.is_ascii_digit()).unwrap_or(0);
    tampered[at] = if tampered[at] == b'9' { b'0' } else { tampered[at] + 1 };
    assert!(
        !signature_ok(&header("x-dynauth-signature"), &tampered, WEBHOOK_SECRET, now),
        "and fails for a tampered body"
    );
    assert!(
        !signature_ok(&header("x-dynauth-signature"), body, WEBHOOK_SECRET, now + 301),
        "and for a stale timestamp"
    );
    assert!(!signature_ok(&header("x-dynauth-signature"), body, "another-secret-0123456789abcdefghij", now));
    let code = payload["code"].as_str().unwrap_or_default();
    assert_eq!(
        verify(&app, r.json["login_id"].as_str().unwrap_or_default(), code).status,
        200,
        "the delivered code works"
    );

    // A webhook that refuses: 502, and nothing usable is stored.
    let broken = webhook(500);
    let (t2, app2) =
        setup("webhookfail", &[("CODE_WEBHOOK_URL", &broken.url), ("CODE_WEBHOOK_SECRET", WEBHOOK_SECRET)]);
    let r = start(&app2, "dee@example.com");
    assert_eq!(
        (r.status, r.json.clone()),
        (
            502,
            json!({"error": {"code": "delivery_failed", "message": "the login code could not be delivered; no code was issued, try again"}})
        )
    );
    assert!(items_of_type(t2.name(), "login_code").is_empty());
    drop(t);

    // A webhook that redirects has not taken the code: the redirect is not followed.
    let target = webhook(204);
    let redirecting = answering(
        format!("HTTP/1.1 307 X\r\nlocation: {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n", target.url)
            .into_bytes(),
    );
    let (t4, app4) =
        setup("webhookredirect", &[("CODE_WEBHOOK_URL", &redirecting), ("CODE_WEBHOOK_SECRET", WEBHOOK_SECRET)]);
    let r = start(&app4, "dee@example.com");
    assert_eq!((r.status, r.json["error"]["code"].clone()), (502, json!("delivery_failed")));
    assert_eq!(target.seen.lock().map(|s| s.len()).unwrap_or(9), 0, "the redirect was not followed");
    assert!(items_of_type(t4.name(), "login_code").is_empty());

    // A webhook whose answer is larger than 16 KB is not read whole: the delivery fails.
    let mut big = b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\nconnection: close\r\n\r\n".to_vec();
    big.extend(vec![b'x'; 1_000_000]);
    let chatty = answering(big);
    let (t5, app5) = setup("webhookbig", &[("CODE_WEBHOOK_URL", &chatty), ("CODE_WEBHOOK_SECRET", WEBHOOK_SECRET)]);
    let r = start(&app5, "dee@example.com");
    assert_eq!((r.status, r.json["error"]["code"].clone()), (502, json!("delivery_failed")), "{}", r.json);
    assert!(
        r.log["error_detail"].as_str().unwrap_or("").contains("the answer is larger than 16384 bytes"),
        "{}",
        r.log
    );
    assert!(items_of_type(t5.name(), "login_code").is_empty());

    // Nothing configured and not DEV_MODE: a configuration error naming the variable.
    let (_t3, app3) = setup("nowebhook", &[]);
    let r = start(&app3, "dee@example.com");
    assert_eq!((r.status, r.json["error"]["code"].clone()), (500, json!("config_error")));
    assert!(r.json["error"]["message"].as_str().unwrap_or("").contains("CODE_WEBHOOK_URL"));
}

#[test]
fn a_tenant_can_have_its_own_webhook() {
    let global = webhook(204);
    let own = webhook(204);
    let (_t, app) = setup("ownhook", &[("CODE_WEBHOOK_URL", &global.url), ("CODE_WEBHOOK_SECRET", WEBHOOK_SECRET)]);
    assert_eq!(
        app.admin("PUT", "/v1/admin/tenants/acme", Some(json!({"name": "Acme", "code_webhook_url": own.url}))).status,
        200
    );
    assert_eq!(start(&app, "eve@example.com").status, 202);
    assert_eq!(own.seen.lock().map(|s| s.len()).unwrap_or(0), 1);
    assert_eq!(global.seen.lock().map(|s| s.len()).unwrap_or(0), 0);
    let last = || -> (String, Vec<u8>) {
        let seen = own.seen.lock().map(|s| s.last().cloned()).ok().flatten().unwrap_or_default();
        let sig = seen.0.iter().find(|(k, _)| k == "x-dynauth-signature").map(|(_, v)| v.clone()).unwrap_or_default();
        (sig, seen.1)
    };
    let (sig, body) = last();
    assert!(!signature_ok(&sig, &body, WEBHOOK_SECRET, T0 as i64), "the tenant's own secret, not the platform's");

    // The tenant's webhook secret rotates with an overlap: both sign until it ends.
    let rotated = app.admin("POST", "/v1/admin/tenants/acme/secrets/webhook", None);
    assert_eq!((rotated.status, rotated.json["valid"].clone()), (200, json!(2)));
    let next = rotated.json["secret"].as_str().unwrap_or_default().to_string();
    assert_eq!(start(&app, "eve@example.com").status, 202);
    let (sig, body) = last();
    assert_eq!(sig.matches(",v1=").count(), 2, "{sig}");
    assert!(signature_ok(&sig, &body, &next, T0 as i64));
    assert_eq!(app.admin("DELETE", "/v1/admin/tenants/acme/secrets/webhook/previous", None).status, 200);
    let third = app.admin("POST", "/v1/admin/tenants/acme/secrets/webhook", None).json["secret"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(start(&app, "eve@example.com").status, 202);
    let (sig, body) = last();
    assert!(signature_ok(&sig, &body, &next, T0 as i64) && signature_ok(&sig, &body, &third, T0 as i64));
    assert!(!signature_ok(&sig, &body, "not-the-secret", T0 as i64));
    assert_eq!(app.admin("DELETE", "/v1/admin/tenants/acme/secrets/webhook/previous", None).status, 200);
    assert_eq!(start(&app, "eve@example.com").status, 202);
    let (sig, body) = last();
    assert!(!signature_ok(&sig, &body, &next, T0 as i64), "the overlap ended: only the newest secret signs");
    assert!(signature_ok(&sig, &body, &third, T0 as i64));
}

#[test]
fn issuance_is_rate_limited_per_email_per_tenant() {
    let (_t, app) =
        setup("rate", &[("DEV_MODE", "true"), ("LOGIN_RATE_LIMIT", "5"), ("LOGIN_RATE_WINDOW_SECS", "900")]);
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/globex", Some(json!({"name": "Globex"}))).status, 201);
    assert_eq!(
        app.admin("PUT", "/v1/admin/tenants/globex/domains/auth.globex.localhost", Some(json!({"status": "ready"})))
            .status,
        201
    );
    for i in 0..5 {
        assert_eq!(start(&app, "flo@example.com").status, 202, "code {i}");
        app.runtime.advance(Duration::from_secs(60));
    }
    // 5 codes at t=0,60,..,240 of the window [0, 900); now t=300.
    let r = start(&app, "FLO+news@example.com");
    assert_eq!(r.status, 429, "case and +tag share the email's budget");
    assert_eq!(
        r.json["error"],
        json!({"code": "too_many_requests", "message": "too many codes were requested for this email; retry in 600 s"})
    );
    assert_eq!(r.headers["retry-after"], "600", "until the window ends");
    assert_eq!(start(&app, "other@example.com").status, 202, "other emails are not affected");
    let globex =
        app.call("POST", "/v1/login/start", "auth.globex.localhost", &[], Some(json!({"email": "flo@example.com"})));
    assert_eq!(globex.status, 202, "nor other tenants");
    app.runtime.advance(Duration::from_secs(599)); // t=899: still the same window
    assert_eq!(start(&app, "flo@example.com").status, 429);
    app.runtime.advance(Duration::from_secs(1)); // t=900: a new window
    for i in 0..5 {
        assert_eq!(start(&app, "flo@example.com").status, 202, "code {i} of the new window");
    }
    let r = start(&app, "flo@example.com");
    assert_eq!((r.status, r.headers["retry-after"].to_str().unwrap_or("")), (429, "900"));
}

fn start_from(app: &TestApp, email: &str, ip: &str) -> common::app::Answer {
    app.call("POST", "/v1/login/start", HOST, &[("cf-connecting-ip", ip)], Some(json!({"email": email})))
}

#[test]
fn one_address_cannot_lock_a_victim_out_and_addresses_and_tenants_have_budgets() {
    let vars = [("DEV_MODE", "true"), ("LOGIN_RATE_LIMIT", "2"), ("LOGIN_EMAIL_LIMIT", "3"), ("LOGIN_IP_LIMIT", "4")];
    let (_t, app) = setup("budgets", &vars);
    // The attacker at one address spends its own (email, address) budget...
    assert_eq!(start_from(&app, "vic@example.com", "198.51.100.1").status, 202);
    assert_eq!(start_from(&app, "Vic+1@example.com", "198.51.100.1").status, 202);
    let r = start_from(&app, "vic@example.com", "198.51.100.1");
    assert_eq!((r.status, r.headers["retry-after"].to_str().unwrap_or("")), (429, "900"));
    // ...and the victim, elsewhere, still gets a code.
    assert_eq!(start_from(&app, "vic@example.com", "203.0.113.9").status, 202, "not locked out");
    // Spreading over addresses runs into the per-email ceiling (3).
    let r = start_from(&app, "vic@example.com", "192.0.2.77");
    assert_eq!(
        (r.status, r.json["error"]["message"].clone()),
        (429, json!("too many codes were requested for this email; retry in 900 s"))
    );
    // One address: at most 4 starts in all (2 above), whatever the emails; one IPv6 /64 is one address.
    assert_eq!(start_from(&app, "a@example.com", "198.51.100.1").status, 202);
    assert_eq!(start_from(&app, "b@example.com", "198.51.100.1").status, 202);
    let r = start_from(&app, "c@example.com", "198.51.100.1");
    assert_eq!(
        (r.status, r.json["error"].clone()),
        (
            429,
            json!({"code": "too_many_requests", "message": "too many login requests came from this address; retry in 900 s"})
        )
    );
    for (i, ip) in ["2001:db8:7:7::1", "2001:db8:7:7::2", "2001:db8:7:7:a::3", "2001:db8:7:7:b::4"].iter().enumerate() {
        assert_eq!(start_from(&app, &format!("u{i}@example.com"), ip).status, 202);
    }
    assert_eq!(start_from(&app, "u9@example.com", "2001:db8:7:7:c::5").status, 429, "the same /64");
    assert_eq!(start_from(&app, "u9@example.com", "2001:db8:7:8::5").status, 202, "another /64");

    // The tenant's own budget.
    let (_t2, app2) = setup("tenantbudget", &[("DEV_MODE", "true"), ("TENANT_LOGIN_LIMIT", "3")]);
    for i in 0..3 {
        assert_eq!(start_from(&app2, &format!("t{i}@example.com"), &format!("192.0.2.{i}")).status, 202);
    }
    let r = start_from(&app2, "t9@example.com", "192.0.2.9");
    assert_eq!(
        (r.status, r.json["error"]["message"].clone()),
        (429, json!("this site has too many login requests right now; retry in 900 s"))
    );
    // Refused starts spend nothing: the next window opens with the full budget.
    app2.runtime.advance(Duration::from_secs(900));
    assert_eq!(start_from(&app2, "t9@example.com", "192.0.2.9").status, 202);
}

fn verify_from(app: &TestApp, login_id: &str, code: &str, ip: &str) -> common::app::Answer {
    verify_as(app, login_id, code, binding_of(login_id).as_deref(), &[("cf-connecting-ip", ip)])
}

#[test]
fn verifies_have_budgets_and_wrong_codes_are_capped_per_email_across_logins() {
    let vars = [("DEV_MODE", "true"), ("VERIFY_IP_LIMIT", "3"), ("VERIFY_FAILURE_LIMIT", "4")];
    let (_t, app) = setup("verifybudgets", &vars);
    // Per address: 3 verifies per window, right or wrong, known login or not.
    let (id, code) = dev_login(&app, "kim@example.com");
    assert_eq!(verify_from(&app, "AAAAAAAAAAAAAAAAAAAAAA", "123456", "198.51.100.2").status, 401);
    assert_eq!(verify_from(&app, &id, &wrong(&code), "198.51.100.2").status, 401);
    assert_eq!(verify_from(&app, &id, &wrong(&code), "198.51.100.2").status, 401);
    let r = verify_from(&app, &id, &code, "198.51.100.2");
    assert_eq!(
        (r.status, r.json["error"]["message"].clone(), r.headers["retry-after"].to_str().unwrap_or("")),
        (429, json!("too many login requests came from this address; retry in 900 s"), "900")
    );
    // Wrong codes per email, across logins: 2 spent above; a new start does not reset them.
    let (id2, code2) = dev_login(&app, "Kim+work@example.com");
    assert_eq!(verify_from(&app, &id2, &wrong(&code2), "203.0.113.1").status, 401);
    let r = verify_from(&app, &id2, &wrong(&code2), "203.0.113.2");
    assert_eq!((r.status, r.json["error"]["attempts_left"].clone()), (401, json!(3)));
    // The 4 are spent: even the right code, from a fresh address, is refused until the day ends,
    // so a guesser learns nothing from trying it.
    let r = verify_from(&app, &id2, &code2, "203.0.113.3");
    let day_left = 86_400 - (T0 % 86_400);
    assert_eq!(
        (r.status, r.json["error"]["message"].clone(), r.headers["retry-after"].to_str().unwrap_or("").to_string()),
        (
            429,
            json!(format!("too many wrong codes were tried for this email; retry in {day_left} s")),
            day_left.to_string()
        )
    );
    assert_eq!(verify_from(&app, &id2, &wrong(&code2), "203.0.113.4").status, 429);
    let other = dev_login(&app, "lee@example.com");
    assert_eq!(verify_from(&app, &other.0, &other.1, "203.0.113.5").status, 200, "other emails are not affected");
    app.runtime.advance(Duration::from_secs(day_left));
    assert_eq!(verify_from(&app, &id2, &code2, "203.0.113.6").status, 410, "the next day: expired by now, not refused");
    // The tenant's verify budget (3 per window), whatever the addresses.
    let (_t2, app2) = setup("tenantverify", &[("DEV_MODE", "true"), ("TENANT_VERIFY_LIMIT", "3")]);
    let (id, code) = dev_login(&app2, "ned@example.com");
    for i in 0..2 {
        assert_eq!(verify_from(&app2, &id, &wrong(&code), &format!("192.0.2.{i}")).status, 401);
    }
    assert_eq!(verify_from(&app2, &id, &code, "192.0.2.50").status, 200, "the third is within the budget");
    let (id, code) = dev_login(&app2, "ona@example.com");
    let r = verify_from(&app2, &id, &code, "192.0.2.51");
    assert_eq!(
        (r.status, r.json["error"]["message"].clone(), r.headers["retry-after"].to_str().unwrap_or("")),
        (429, json!("this site has too many login requests right now; retry in 900 s"), "900")
    );
}

#[test]
fn a_new_start_supersedes_only_the_same_clients_earlier_codes() {
    let (_t, app) = dev("supersede");
    let superseded = json!({"code": "code_superseded", "message": "a newer code was requested for this email from this client; only the newest one works"});
    // A client that keeps no binding: its starts from one address supersede each other.
    let (first, first_code) = dev_login(&app, "max@example.com");
    let (second, second_code) = dev_login(&app, "max@example.com");
    let (third, third_code) = dev_login(&app, "max+other@example.com");
    for (id, code) in [(&first, &first_code), (&first, &wrong(&first_code))] {
        let r = verify(&app, id, code);
        assert_eq!((r.status, r.json["error"].clone()), (410, superseded.clone()), "right or wrong, the same answer");
    }
    assert_eq!(items_of_type(_t.name(), "login_code")[0].get("attempts"), Some(&AttributeValue::N("0".into())));
    let r = verify(&app, &second, &second_code);
    assert_eq!(r.status, 200, "the newest works: {}", r.json);
    assert_eq!(verify(&app, &third, &third_code).status, 200, "another address (+tag) is its own identity");

    // A client that presents its binding keeps it, and supersedes its own earlier code...
    let victim = start_with(&app, "ula@example.com", &[("cf-connecting-ip", "203.0.113.10")]);
    let binding = victim.json["binding"].as_str().unwrap_or_default().to_string();
    let again = app.call(
        "POST",
        "/v1/login/start",
        HOST,
        &[("cf-connecting-ip", "198.51.100.20")],
        Some(json!({"email": "ula@example.com", "deliver": "body", "binding": binding})),
    );
    assert_eq!((again.status, again.json["binding"].clone()), (202, json!(binding)), "{}", again.json);
    let (old_id, old_code) =
        (victim.json["login_id"].as_str().unwrap_or(""), victim.json["code"].as_str().unwrap_or(""));
    let r = verify_as(&app, old_id, old_code, Some(&binding), &[]);
    assert_eq!((r.status, r.json["error"]["code"].clone()), (410, json!("code_superseded")));
    // ...but no one else's: starts for the victim's email from four other addresses leave the
    // victim's newest code working.
    for i in 0..4 {
        let r = start_with(&app, "ula@example.com", &[("cf-connecting-ip", &format!("192.0.2.{}", 40 + i))]);
        assert_eq!(r.status, 202, "{}", r.json);
    }
    let (id, code) = (again.json["login_id"].as_str().unwrap_or(""), again.json["code"].as_str().unwrap_or(""));
    let r = verify_as(&app, id, code, Some(&binding), &[]);
    assert_eq!(r.status, 200, "not superseded by strangers: {}", r.json);
}

#[test]
fn the_guessing_budget_is_checked_when_a_tenant_is_saved() {
    let t = TestTable::new("guessing");
    let at = App::new(t.name(), manual_runtime(T0), &[("VERIFY_FAILURE_LIMIT", "100")]);
    assert_eq!(
        at.admin("PUT", "/v1/admin/tenants/acme", Some(json!({"name": "Acme"}))).status,
        201,
        "1 in 10,000 exactly"
    );
    let over = App::new(t.name(), manual_runtime(T0), &[("VERIFY_FAILURE_LIMIT", "101")]);
    let r = over.admin("PUT", "/v1/admin/tenants/acme", Some(json!({"name": "Acme"})));
    assert_eq!(
        (r.status, r.json["error"].clone()),
        (
            400,
            json!({"code": "invalid_request", "message": "login_code: with length 6 and max_attempts 5, 101 guesses a day at one email's 6-digit code succeed with a chance of 1 in 9900; at most 1 in 10000 is allowed: use a longer code (or lower VERIFY_FAILURE_LIMIT)"})
        )
    );
    let longer = json!({"name": "Acme", "login_code": {"length": 7}});
    assert_eq!(over.admin("PUT", "/v1/admin/tenants/acme", Some(longer)).status, 200);
}

#[test]
fn a_start_whose_budget_answer_is_lost_or_500_counts_once() {
    let (t, app) = setup("ratelost", &[("DEV_MODE", "true"), ("LOGIN_RATE_LIMIT", "2")]);
    // The budgets are spent, and the answer is lost: the transaction is sent again with its
    // token, and DynamoDB applies it once.
    app.transport.lose_answers_of("TransactWriteItems", 1);
    let r = start(&app, "hal@example.com");
    assert_eq!(r.status, 202, "{}", r.json);
    // Spent again, answered HTTP 500.
    app.transport.fail_answers_of("TransactWriteItems", 1, 500);
    let r = start(&app, "hal@example.com");
    assert_eq!(r.status, 202, "{}", r.json);
    let counts: Vec<(String, AttributeValue)> = items_of_type(t.name(), "budget")
        .into_iter()
        .map(|i| {
            let pk = match i.get("PK") {
                Some(AttributeValue::S(pk)) => pk.clone(),
                _ => String::new(),
            };
            (pk, i.get("count").cloned().unwrap_or(AttributeValue::Null(true)))
        })
        .collect();
    let email_ip = counts.iter().find(|(pk, _)| pk.contains("#start_email_ip#")).map(|(_, c)| c.clone());
    assert_eq!(email_ip, Some(AttributeValue::N("2".into())), "each start took one unit: {counts:?}");
    let tenant: Vec<&AttributeValue> =
        counts.iter().filter(|(pk, _)| pk.contains("#start_tenant#")).map(|(_, c)| c).collect();
    let tenant_units: u32 =
        tenant.iter().map(|c| if let AttributeValue::N(n) = c { n.parse().unwrap_or(0) } else { 0 }).sum();
    assert_eq!(tenant_units, 2, "the tenant's counter, on one or two of its shards: {counts:?}");
    assert_eq!(counts.len() - tenant.len(), 3, "three more budgets: {counts:?}");
    assert_eq!(items_of_type(t.name(), "login_code").len(), 2);
    assert_eq!(start(&app, "hal@example.com").status, 429, "the limit of 2 is reached, not passed");
}

#[test]
fn a_transaction_conflict_is_retried_and_never_taken_for_a_spent_budget() {
    use dynauth::platform::runtime::Clock;
    let (t, app) = dev("conflict");
    // Real DynamoDB cancels a transaction whose item another one holds (every start of a tenant
    // writes its counter): the first three attempts of the start's budget transaction are
    // cancelled so; each is sent again after a jittered wait, and the start goes through.
    app.transport.conflict_transactions(3);
    app.transport.reset();
    let r = start(&app, "cole@example.com");
    assert_eq!(r.status, 202, "{}", r.json);
    let ops = app.transport.operations();
    assert_eq!(ops.iter().filter(|o| *o == "TransactWriteItems").count(), 5, "4 tries of the budgets, 1 save: {ops:?}");
    let id = r.json["login_id"].as_str().unwrap_or_default().to_string();
    let code = r.json["code"].as_str().unwrap_or_default().to_string();
    app.transport.conflict_transactions(2);
    let v = verify(&app, &id, &code);
    assert_eq!(v.status, 200, "{}", v.json);

    // Contended to the deadline: 503 + Retry-After (not 429 with a window's wait), within the
    // request deadline, and nothing spent.
    app.transport.conflict_transactions(1_000);
    let before = app.runtime.now();
    let r = start(&app, "dee@example.com");
    let spent = app.runtime.now().duration_since(before).unwrap_or_default();
    app.transport.conflict_transactions(0);
    assert_eq!((r.status, r.json["error"]["code"].clone()), (503, json!("unavailable")), "{}", r.json);
    assert_eq!(r.headers["retry-after"], "1");
    assert!(spent <= Duration::from_secs(5), "{spent:?} past the request deadline");
    let dee = items_of_type(t.name(), "budget")
        .into_iter()
        .filter(|i| format!("{:?}", i.get("PK")).contains("dee@example.com"))
        .count();
    assert_eq!(dee, 0, "a cancelled transaction spends nothing");
    assert_eq!(start(&app, "dee@example.com").status, 202, "and the budget is whole afterwards");
}

#[test]
fn fifty_concurrent_verifies_of_the_right_code_succeed_exactly_once() {
    let (t, app) = dev("fifty");
    let (login_id, code) = dev_login(&app, "gil@example.com");
    let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let (table, login_id, code) = (t.name().to_string(), login_id.clone(), code.clone());
                scope.spawn(move || {
                    let app = App::new(&table, manual_runtime(T0), &[("DEV_MODE", "true"), PATIENT]);
                    // The same client (its binding), from the addresses a mobile client moves through.
                    let ip = format!("198.51.100.{i}");
                    let r = verify_as(
                        &app,
                        &login_id,
                        &code,
                        binding_of(&login_id).as_deref(),
                        &[("cf-connecting-ip", &ip)],
                    );
                    (r.status, r.json["token"].clone())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or((0, Value::Null))).collect()
    });
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert!(statuses.contains(&200), "{statuses:?}");
    // Those that found no attempt left to reserve before the code was used: 429.
    assert!(statuses.iter().all(|s| matches!(s, 200 | 409 | 429)), "{statuses:?}");
    let login = &items_of_type(t.name(), "login_code")[0];
    assert!(
        matches!(login.get("attempts"), Some(AttributeValue::N(n)) if n.parse::<u32>().is_ok_and(|n| (1..=5).contains(&n))),
        "at most max_attempts reserved: {login:?}"
    );
    // The code is consumed once: one session, and every verify that succeeded (the winner, and
    // those that came after it, as retries of the same verify do) holds its one token.
    let mut tokens: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 200).map(|(_, t)| t).collect();
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(items_of_type(t.name(), "session").len(), 1, "one session in the table");
    assert_eq!(items_of_type(t.name(), "user").len(), 1);
}

#[test]
fn of_twenty_codes_for_one_email_only_the_newest_works_even_all_at_once() {
    let (t, app) = dev("twenty");
    // One backend (one address, no binding kept): each code supersedes the one before.
    let codes: Vec<(String, String)> = (0..20).map(|_| issue(&app, "hal@example.com")).collect();
    let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = codes
            .iter()
            .map(|(id, code)| {
                let table = t.name().to_string();
                scope.spawn(move || {
                    let app = App::new(&table, manual_runtime(T0), &[("DEV_MODE", "true")]);
                    let r = verify(&app, id, code);
                    let what = r.json["user"]["id"].as_str().or(r.json["error"]["code"].as_str()).unwrap_or("");
                    (r.status, what.to_string())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    assert_eq!(answers[..19].iter().filter(|(s, c)| *s == 410 && c == "code_superseded").count(), 19, "{answers:?}");
    assert_eq!(answers[19].0, 200, "the newest: {answers:?}");
    let users = [answers[19].1.clone()];
    assert_eq!(items_of_type(t.name(), "user").len(), 1, "exactly one user");
    assert_eq!(items_of_type(t.name(), "email_claim").len(), 1);
    assert_eq!(items_of_type(t.name(), "session").len(), 1, "one session");
    let user = app.admin("GET", &format!("/v1/admin/tenants/acme/users/{}", users[0]), None);
    assert_eq!(user.json["login_count"], 1);
}

#[test]
fn deleting_a_user_revokes_its_sessions_and_frees_its_email() {
    let (_t, app) = dev("deluser");
    let (id, code) = dev_login(&app, "ivy@example.com");
    let first = verify(&app, &id, &code);
    let user_id = first.json["user"]["id"].as_str().unwrap_or_default().to_string();
    let token = first.json["token"].as_str().unwrap_or_default().to_string();
    assert_eq!(app.admin("DELETE", &format!("/v1/admin/tenants/acme/users/{user_id}"), None).status, 204);
    assert_eq!(app.admin("DELETE", &format!("/v1/admin/tenants/acme/users/{user_id}"), None).status, 404);
    assert_eq!(app.admin("GET", &format!("/v1/admin/tenants/acme/users/{user_id}"), None).status, 404);
    let session = app.call("GET", "/v1/session", HOST, &[("authorization", &format!("Bearer {token}"))], None);
    assert_eq!(session.status, 401);
    // A code issued before the deletion still logs in, as a new user.
    let (id, code) = dev_login(&app, "ivy@example.com");
    let again = verify(&app, &id, &code);
    assert_eq!(again.status, 200);
    assert_ne!(again.json["user"]["id"], json!(user_id));
    assert_eq!(app.admin("GET", "/v1/admin/tenants/acme/users", None).status, 400);
}

#[test]
fn the_table_holds_no_plain_code_and_no_raw_token() {
    let (t, app) = dev("scan");
    let mut secrets = Vec::new();
    for i in 0..10 {
        let (id, code) = dev_login(&app, &format!("p{i}@example.com"));
        if i % 2 == 0 {
            let r = verify(&app, &id, &code);
            secrets.push(r.json["token"].as_str().unwrap_or_default().to_string());
        } else {
            assert_eq!(verify(&app, &id, &wrong(&code)).status, 401);
        }
        secrets.push(code);
    }
    let admin_code = app.admin("POST", "/v1/admin/tenants/acme/codes", Some(json!({"email": "q@example.com"})));
    secrets.push(admin_code.json["code"].as_str().unwrap_or_default().to_string());
    secrets.push(admin_code.json["binding"].as_str().unwrap_or_default().to_string());
    secrets.extend(BINDINGS.lock().map(|all| all.values().cloned().collect::<Vec<_>>()).unwrap_or_default());
    let dump = format!("{:?}", scan_all(t.name()));
    for secret in &secrets {
        assert!(!secret.is_empty());
        assert!(!dump.contains(&format!("\"{secret}\"")), "a plain code or token is stored");
    }
    assert!(dump.contains("login_code"));
}

#[test]
fn a_verify_whose_answer_was_lost_is_answered_on_retry_with_its_session() {
    let (t, app) = dev("verifylost");
    let (login_id, code) = dev_login(&app, "lia@example.com");
    // The reservation goes through; the consuming transaction is applied, and every answer to
    // it is lost: the client hears 503.
    app.transport.lose_answers_of_after("TransactWriteItems", 1, 10);
    let r = verify(&app, &login_id, &code);
    assert_eq!((r.status, r.json["error"]["code"].clone()), (503, json!("unavailable")), "{}", r.json);
    app.transport.lose_answers(0);
    assert_eq!(items_of_type(t.name(), "session").len(), 1, "the session exists, the client does not know it");

    // The client retries: 200, with a token that works.
    let r = verify(&app, &login_id, &code);
    assert_eq!(r.status, 200, "{}", r.json);
    let token = r.json["token"].as_str().unwrap_or_default().to_string();
    let lookup = app.call("GET", "/v1/session", HOST, &[("authorization", &format!("Bearer {token}"))], None);
    assert_eq!((lookup.status, lookup.json["user"]["email"].clone()), (200, json!("lia@example.com")));
    assert_eq!(lookup.json["session"]["id"], r.json["session"]["id"]);
    assert_eq!(items_of_type(t.name(), "session").len(), 1, "still one session");
    assert_eq!(items_of_type(t.name(), "user").len(), 1);
    // The token is never stored: the login records only the session id (the token's hash).
    let login = &items_of_type(t.name(), "login_code")[0];
    assert_eq!(login.get("session"), Some(&AttributeValue::S(r.json["session"]["id"].as_str().unwrap_or("").into())));
    assert!(scan_all(t.name()).iter().all(|i| !format!("{i:?}").contains(&token)), "no raw token stored");

    // Revoked, the session is not handed out again.
    let out = app.call("POST", "/v1/logout", HOST, &[("authorization", &format!("Bearer {token}"))], None);
    assert_eq!(out.status, 204);
    let r = verify(&app, &login_id, &code);
    assert_eq!((r.status, r.json["error"]["code"].clone()), (410, json!("code_used")));
}

#[test]
fn a_slow_database_is_cut_off_at_the_request_deadline() {
    use dynauth::platform::runtime::Clock;
    let (_t, app) = dev("deadline");
    // Every answer takes 2.9 s: longer than an attempt may wait (1 s).
    app.transport.slow_down(Duration::from_millis(2_900), &app.runtime);
    app.transport.reset();
    let before = app.runtime.now();
    let r = start(&app, "jo@example.com");
    let spent = app.runtime.now().duration_since(before).unwrap_or_default();
    assert_eq!((r.status, r.json["error"]["code"].clone()), (503, json!("unavailable")), "{}", r.json);
    assert!(r.headers.contains_key("retry-after"));
    assert!(spent <= Duration::from_secs(5), "login/start took {spent:?}, past the 5 s request deadline");
    assert!(app.transport.count() <= 4, "attempts {:?}", app.transport.operations());

    // Slow but within the attempt timeout: the request completes, still inside the deadline.
    app.transport.slow_down(Duration::from_millis(400), &app.runtime);
    let before = app.runtime.now();
    let r = start(&app, "jo@example.com");
    let spent = app.runtime.now().duration_since(before).unwrap_or_default();
    assert_eq!(r.status, 202, "{}", r.json);
    assert!(spent <= Duration::from_secs(5), "{spent:?}");
}

#[test]
fn the_request_deadline_spans_calls_not_one_call() {
    use dynauth::platform::runtime::Clock;
    let (_t, app) = setup("deadline2", &[("DEV_MODE", "true"), ("REQUEST_DEADLINE_MS", "1500")]);
    // Each call takes 600 ms, inside the attempt timeout; login/start makes three calls.
    app.transport.slow_down(Duration::from_millis(600), &app.runtime);
    let before = app.runtime.now();
    let r = start(&app, "kim@example.com");
    let spent = app.runtime.now().duration_since(before).unwrap_or_default();
    assert_eq!(r.status, 503, "{}", r.json);
    assert!(spent <= Duration::from_millis(1_500), "{spent:?}");
}

/// For requests sent by the hundred at once: DynamoDB Local, which runs transactions one at a
/// time, may take longer than the 1 s an attempt waits by default (in real time: the test clock
/// moves only when told).
const PATIENT: (&str, &str) = ("DYNAMODB_ATTEMPT_TIMEOUT_MS", "20000");

/// The answers of `n` verifies of one login sent at once (a barrier releases them together),
/// each with its code from `codes(i)` and its own client address.
fn verifies_at_once(
    table: &str,
    login_id: &str,
    binding: Option<&str>,
    n: usize,
    codes: impl Fn(usize) -> String + Sync,
    ip: impl Fn(usize) -> String + Sync,
) -> Vec<common::app::Answer> {
    let barrier = std::sync::Barrier::new(n);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (barrier, codes, ip) = (&barrier, &codes, &ip);
                scope.spawn(move || {
                    let app = App::new(table, manual_runtime(T0), &[("DEV_MODE", "true"), PATIENT]);
                    let (code, ip) = (codes(i), ip(i));
                    barrier.wait();
                    verify_as(&app, login_id, &code, binding, &[("cf-connecting-ip", &ip)])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| panic!("a verify thread panicked"))).collect()
    })
}

/// Whether an answer is a compared wrong code: 401 `invalid_code` with `attempts_left`.
fn compared_wrong(r: &common::app::Answer) -> bool {
    r.status == 401 && r.json["error"]["attempts_left"].is_u64()
}

fn number(item: &dynauth::dynamo::Item, name: &str) -> i64 {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(-1),
        _ => -1,
    }
}

#[test]
fn two_hundred_guesses_at_once_compare_at_most_max_attempts_codes() {
    // 200 wrong codes and the right one, all at once, each from its own address, at one login
    // (max_attempts 5): only verifies holding a reserved attempt compare their code, so at most 5
    // are compared, and the right one wins only when it is among them (about 5 in 201).
    let trials: usize = std::env::var("LOGIN_TRIALS").ok().and_then(|t| t.parse().ok()).unwrap_or(20);
    let (t, app) = dev("guess200");
    let mut successes = 0;
    let mut compared_total = 0;
    for trial in 0..trials {
        let ip = format!("100.64.{}.{}", trial / 250, trial % 250);
        let r = start_with(&app, &format!("g{trial}@example.com"), &[("cf-connecting-ip", &ip)]);
        assert_eq!(r.status, 202, "{}", r.json);
        let (id, code) = (r.json["login_id"].as_str().unwrap_or_default(), r.json["code"].as_str().unwrap_or_default());
        let right_at = {
            use dynauth::platform::runtime::Random;
            let mut b = [0u8; 2];
            common::os_runtime().fill_random(&mut b);
            usize::from(u16::from_le_bytes(b)) % 201
        };
        let guess = |i: usize| {
            if i == right_at {
                return code.to_string();
            }
            // 200 distinct wrong codes.
            let n = (code.parse::<u32>().unwrap_or(0) + 1 + u32::try_from(i).unwrap_or(0)) % 1_000_000;
            format!("{n:06}")
        };
        let answers = verifies_at_once(t.name(), id, binding_of(id).as_deref(), 201, guess, |i| {
            format!("10.{}.{}.{}", trial % 250, trial / 250 * 2 + i / 250, i % 250)
        });
        let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
        // 429 `too_many_attempts`: no attempt left to reserve; 410 `code_used`: the right code
        // was consumed first. Neither compared its code.
        assert!(statuses.iter().all(|s| matches!(s, 200 | 401 | 410 | 429)), "trial {trial}: {statuses:?}");
        let not_compared = answers.iter().filter(|a| matches!(a.status, 410 | 429)).count();
        assert!(
            answers
                .iter()
                .filter(|a| matches!(a.status, 410 | 429))
                .all(|a| a.json["error"]["code"] == if a.status == 429 { "too_many_attempts" } else { "code_used" }),
            "trial {trial}"
        );
        let wins = statuses.iter().filter(|s| **s == 200).count();
        let compared = answers.iter().filter(|a| compared_wrong(a)).count() + wins;
        assert_eq!(compared + not_compared, 201, "trial {trial}: {statuses:?}");
        assert!(compared <= 5, "trial {trial}: {compared} codes compared");
        let login = items_of_type(t.name(), "login_code")
            .into_iter()
            .find(|l| l.get("login_id") == Some(&AttributeValue::S(id.to_string())))
            .unwrap_or_default();
        assert_eq!(
            number(&login, "attempts"),
            i64::try_from(compared).unwrap_or(0),
            "trial {trial}: one reservation per comparison"
        );
        let right = &answers[right_at];
        assert_ne!(right.status, 401, "the right code is never answered as wrong");
        assert_eq!(
            wins,
            usize::from(right.status == 200),
            "trial {trial}: only the right code wins, when it was compared"
        );
        successes += wins;
        compared_total += compared;
        if std::env::var("LOGIN_TRIALS_DEBUG").is_ok() {
            let reserved: Vec<usize> = answers
                .iter()
                .enumerate()
                .filter(|(_, a)| a.status == 200 || compared_wrong(a))
                .map(|(i, _)| i)
                .collect();
            println!("trial {trial}: right at {right_at}, compared {reserved:?}");
        }
    }
    println!(
        "200 guesses + the right code at once, {trials} trials: {compared_total} codes compared ({:.2} per login, at most 5), \
         right code won {successes} times ({:.1}%, expected about 5/201 = 2.5%)",
        compared_total as f64 / trials as f64,
        100.0 * successes as f64 / trials as f64
    );
    // Before reservations the right code won every trial (8 of 8 in the review): here it may win
    // only when it drew one of 5 reservations of 201.
    assert!(successes * 5 <= trials.max(5), "{successes} wins in {trials} trials");
}

#[test]
fn a_stranger_can_neither_use_nor_spend_another_clients_code() {
    let (t, app) = dev("stranger");
    let victim = start_with(&app, "val@example.com", &[("cf-connecting-ip", "203.0.113.7")]);
    let (id, code) = (victim.json["login_id"].as_str().unwrap_or(""), victim.json["code"].as_str().unwrap_or(""));
    let binding = victim.json["binding"].as_str().unwrap_or("").to_string();
    // 50 onlookers who saw the code, at once, each from its own address, with bindings of their
    // own (or none): the right code does nothing for them, and the victim's attempts stay whole.
    let answers = verifies_at_once(t.name(), id, None, 50, |_| code.to_string(), |i| format!("192.0.2.{i}"));
    assert!(
        answers.iter().all(|a| a.status == 401 && a.json["error"]["code"] == "invalid_code"),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    let stranger = stranger_binding();
    let r = verify_as(&app, id, code, Some(&stranger), &[("cf-connecting-ip", "198.51.100.66")]);
    assert_eq!(
        (r.status, r.json.clone()),
        (
            401,
            json!({"error": {"code": "invalid_code", "message": "the code is wrong, or there is no such login", "attempts_left": 5}})
        ),
        "the same answer as a wrong code"
    );
    let login = &items_of_type(t.name(), "login_code")[0];
    assert_eq!(number(login, "attempts"), 0, "no attempt of the victim's spent");
    assert_eq!(login.get("reservations"), None);
    // The victim's own verify works, and its retry (a lost answer) gets the same session...
    let ok = verify_as(&app, id, code, Some(&binding), &[("cf-connecting-ip", "203.0.113.7")]);
    assert_eq!(ok.status, 200, "{}", ok.json);
    let retry = verify_as(&app, id, code, Some(&binding), &[]);
    assert_eq!((retry.status, retry.json["token"].clone()), (200, ok.json["token"].clone()));
    // ...but the used code is nobody else's: 410 with any other binding, or none, at once too.
    for other in [Some(stranger.as_str()), None] {
        let r = verify_as(&app, id, code, other, &[]);
        assert_eq!((r.status, r.json["error"]["code"].clone()), (410, json!("code_used")), "{other:?}");
    }
    let used =
        verifies_at_once(t.name(), id, Some(&stranger), 20, |_| code.to_string(), |i| format!("192.0.2.{}", 100 + i));
    assert!(used.iter().all(|a| a.status == 410), "{:?}", used.iter().map(|a| a.status).collect::<Vec<_>>());
    assert_eq!(items_of_type(t.name(), "session").len(), 1, "one session, the victim's");
}

#[test]
fn one_address_cannot_lock_an_email_out_and_the_ceiling_takes_several() {
    let vars = [("DEV_MODE", "true"), ("VERIFY_FAILURE_IP_LIMIT", "2"), ("VERIFY_FAILURE_LIMIT", "6")];
    let (t, app) = setup("lockout", &vars);
    let attack = |ip: &str| {
        let r = start_with(&app, "vic@example.com", &[("cf-connecting-ip", ip)]);
        let (id, code) =
            (r.json["login_id"].as_str().unwrap_or("").to_string(), r.json["code"].as_str().unwrap_or("").to_string());
        let answers: Vec<u16> = (0..3)
            .map(|_| {
                verify_as(&app, &id, &wrong(&code), binding_of(&id).as_deref(), &[("cf-connecting-ip", ip)]).status
            })
            .collect();
        let last = verify_as(&app, &id, &wrong(&code), binding_of(&id).as_deref(), &[("cf-connecting-ip", ip)]);
        (answers, last)
    };
    // One address spends its own (email, address) budget of 2 wrong codes...
    let (answers, last) = attack("198.51.100.1");
    assert_eq!(answers, vec![401, 401, 429]);
    assert_eq!(
        last.json["error"]["message"],
        json!(format!(
            "too many wrong codes were tried for this email from this address; retry in {} s",
            86_400 - T0 % 86_400
        ))
    );
    // ...and the victim, elsewhere, still logs in (and gives the unit its right code held back).
    let (id, code) = {
        let r = start_with(&app, "vic@example.com", &[("cf-connecting-ip", "203.0.113.50")]);
        (r.json["login_id"].as_str().unwrap_or("").to_string(), r.json["code"].as_str().unwrap_or("").to_string())
    };
    let ok = verify_as(&app, &id, &code, binding_of(&id).as_deref(), &[("cf-connecting-ip", "203.0.113.50")]);
    assert_eq!(ok.status, 200, "not locked out by one address: {}", ok.json);
    // The ceiling (6) takes 6 / 2 = 3 addresses: two more, and the email is out for the day.
    attack("198.51.100.2");
    attack("198.51.100.3");
    let ceiling = items_of_type(t.name(), "budget")
        .into_iter()
        .find(|b| format!("{:?}", b.get("PK")).contains("#BUDGET#verify_failures#vic@example.com#"))
        .unwrap_or_default();
    assert_eq!(number(&ceiling, "count"), 6, "6 wrong codes; the victim's right one gave its unit back");
    let (id, code) = {
        let r = start_with(&app, "vic@example.com", &[("cf-connecting-ip", "203.0.113.50")]);
        (r.json["login_id"].as_str().unwrap_or("").to_string(), r.json["code"].as_str().unwrap_or("").to_string())
    };
    let out = verify_as(&app, &id, &code, binding_of(&id).as_deref(), &[("cf-connecting-ip", "203.0.113.50")]);
    assert_eq!(
        (out.status, out.json["error"]["message"].clone()),
        (429, json!(format!("too many wrong codes were tried for this email; retry in {} s", 86_400 - T0 % 86_400)))
    );
}

#[test]
fn wrong_codes_from_many_addresses_at_once_never_pass_the_ceiling() {
    let vars = [("DEV_MODE", "true"), ("VERIFY_FAILURE_IP_LIMIT", "3"), ("VERIFY_FAILURE_LIMIT", "8"), PATIENT];
    let (t, app) = setup("ceiling", &vars);
    // Six addresses, each with a login of its own for one email, send 10 wrong codes each, all
    // 60 at once.
    let logins: Vec<(String, String, String)> = (0..6)
        .map(|i| {
            let ip = format!("198.51.100.{}", 10 + i);
            let r = start_with(&app, "wyn@example.com", &[("cf-connecting-ip", &ip)]);
            assert_eq!(r.status, 202, "{}", r.json);
            (r.json["login_id"].as_str().unwrap_or("").to_string(), wrong(r.json["code"].as_str().unwrap_or("")), ip)
        })
        .collect();
    let barrier = std::sync::Barrier::new(60);
    let answers: Vec<(usize, common::app::Answer)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..60)
            .map(|i| {
                let (barrier, (id, code, ip)) = (&barrier, &logins[i % 6]);
                let table = t.name().to_string();
                scope.spawn(move || {
                    let app = App::new(&table, manual_runtime(T0), &vars);
                    barrier.wait();
                    (i % 6, verify_as(&app, id, code, binding_of(id).as_deref(), &[("cf-connecting-ip", ip)]))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| panic!("a verify thread panicked"))).collect()
    });
    let compared = answers.iter().filter(|(_, a)| compared_wrong(a)).count();
    assert!(compared <= 8, "{compared} wrong codes compared, the ceiling is 8");
    for address in 0..6 {
        let mine = answers.iter().filter(|(a, r)| *a == address && compared_wrong(r)).count();
        assert!(mine <= 3, "address {address}: {mine} compared, its budget is 3");
    }
    assert!(answers.iter().all(|(_, a)| matches!(a.status, 401 | 429)));
    let ceiling = items_of_type(t.name(), "budget")
        .into_iter()
        .find(|b| format!("{:?}", b.get("PK")).contains("#BUDGET#verify_failures#wyn@example.com#"))
        .unwrap_or_default();
    assert_eq!(number(&ceiling, "count"), i64::try_from(compared).unwrap_or(0), "every comparison held a unit");
}

#[test]
fn a_tenants_counter_is_sharded_and_its_limit_holds_exactly() {
    // 128 starts a window: two shards of 64. 130 starts at once, each from its own address.
    let vars = [("DEV_MODE", "true"), ("TENANT_LOGIN_LIMIT", "128"), PATIENT];
    let (t, _app) = setup("shards", &vars);
    let barrier = std::sync::Barrier::new(130);
    let answers: Vec<common::app::Answer> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..130)
            .map(|i| {
                let (barrier, table) = (&barrier, t.name().to_string());
                scope.spawn(move || {
                    let app = App::new(&table, manual_runtime(T0), &vars);
                    let ip = format!("10.9.{}.{}", i / 100, i % 100);
                    barrier.wait();
                    start_with(&app, &format!("s{i}@example.com"), &[("cf-connecting-ip", &ip)])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| panic!("a start thread panicked"))).collect()
    });
    let ok = answers.iter().filter(|a| a.status == 202).count();
    let refused: Vec<&Value> =
        answers.iter().filter(|a| a.status == 429).map(|a| &a.json["error"]["message"]).collect();
    assert_eq!(
        (ok, refused.len()),
        (128, 2),
        "{:?}",
        answers.iter().filter(|a| a.status != 202).map(|a| a.log.clone()).take(3).collect::<Vec<_>>()
    );
    assert!(
        refused.iter().all(|m| *m == "this site has too many login requests right now; retry in 900 s"),
        "{refused:?}"
    );
    let mut shards: Vec<(String, i64)> = items_of_type(t.name(), "budget")
        .into_iter()
        .filter_map(|b| match b.get("PK") {
            Some(AttributeValue::S(pk)) if pk.contains("#BUDGET#start_tenant#") => {
                Some((pk.clone(), number(&b, "count")))
            }
            _ => None,
        })
        .collect();
    shards.sort();
    assert_eq!(shards.len(), 2, "{shards:?}");
    assert!(shards[0].0.contains("#start_tenant#all.0#") && shards[1].0.contains("#start_tenant#all.1#"), "{shards:?}");
    assert_eq!((shards[0].1, shards[1].1), (64, 64), "each shard holds its share");
}
