//! Login codes through the HTTP API against DynamoDB Local: issue and deliver (a local webhook
//! server checks the signature), rate limits, verify (wrong codes, attempt limit, expiry, reuse),
//! find-or-create users, the race of 50 verifies and of 20 first logins, round trips, admin
//! routes, and a scan proving no plain code or raw token is stored.

mod common;

use std::io::{BufRead, BufReader, Read, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
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

type TestApp = App<dynauth::testing::ManualRuntime>;

fn setup(prefix: &str, extra: &[(&str, &str)]) -> (TestTable, TestApp) {
    let t = TestTable::new(prefix);
    let app = App::new(t.name(), manual_runtime(T0), extra);
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme", Some(json!({"name": "Acme"}))).status, 201);
    assert_eq!(
        app.admin("PUT", &format!("/v1/admin/tenants/acme/domains/{HOST}"), Some(json!({"status": "ready"}))).status,
        201
    );
    (t, app)
}

fn dev(prefix: &str) -> (TestTable, TestApp) {
    setup(prefix, &[("DEV_MODE", "true")])
}

fn start(app: &TestApp, email: &str) -> common::app::Answer {
    app.call("POST", "/v1/login/start", HOST, &[], Some(json!({"email": email})))
}

fn verify(app: &TestApp, login_id: &str, code: &str) -> common::app::Answer {
    app.call(
        "POST",
        "/v1/login/verify",
        HOST,
        &[],
        Some(json!({"login_id": login_id, "code": code, "deliver": "body"})),
    )
}

fn dev_login(app: &TestApp, email: &str) -> (String, String) {
    let r = start(app, email);
    assert_eq!(r.status, 202, "{}", r.json);
    (r.json["login_id"].as_str().unwrap_or_default().into(), r.json["code"].as_str().unwrap_or_default().into())
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
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
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
    assert_eq!(r.json, json!({"login_id": login_id, "expires_at": "2027-01-15T08:10:00Z", "code": code}));
    assert_eq!((login_id.len(), code.len()), (22, 6));

    let stored = items_of_type(t.name(), "login_code");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].get("email"), Some(&AttributeValue::S("ann@example.com".into())));
    assert_eq!(stored[0].get("attempts"), Some(&AttributeValue::N("0".into())));
    assert_eq!(stored[0].get("ttl"), Some(&AttributeValue::N((T0 + 600).to_string())));

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
            .unwrap_or_else(|e| panic!("{e}"));
        let r = app.send(request);
        assert_eq!((r.status, r.json["error"]["code"].clone()), (500, json!("config_error")), "{url}");
        assert!(r.json["error"]["message"].as_str().unwrap_or("").contains("DEV_MODE"), "{}", r.json);
        assert_eq!(r.json.get("code"), None);
    }
    assert_eq!(items_of_type(t.name(), "login_code").len(), 1, "nothing issued");

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
    // By default the token goes only into the HttpOnly cookie, never into the body.
    let ok = app.call(
        "POST",
        "/v1/login/verify",
        HOST,
        &[("origin", "http://auth.acme.localhost")],
        Some(json!({"login_id": login_id, "code": code})),
    );
    assert_eq!(ok.status, 200, "{}", ok.json);
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
    assert_eq!(again.calls, 2, "an existing user's success path: GetItem + one TransactWriteItems");
    let user = app.admin("GET", &format!("/v1/admin/tenants/acme/users/{user_id}"), None);
    assert_eq!(
        user.json,
        json!({"id": user_id, "email": "ann@example.com", "created_at": "2027-01-15T08:00:30Z", "last_login_at": "2027-01-15T08:01:30Z", "login_count": 2})
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

    let unknown = verify(&app, "AAAAAAAAAAAAAAAAAAAAAA", "123456");
    assert_eq!(
        (unknown.status, unknown.json.clone()),
        (401, json!({"error": {"code": "invalid_code", "message": "the code is wrong, or there is no such login"}}))
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
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let redirecting = format!("http://127.0.0.1:{}/hook", listener.local_addr().map(|a| a.port()).unwrap_or(0));
    let location = target.url.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap_or_else(|e| panic!("{e}")));
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
            let _ = write!(
                stream,
                "HTTP/1.1 307 X\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    let (t4, app4) =
        setup("webhookredirect", &[("CODE_WEBHOOK_URL", &redirecting), ("CODE_WEBHOOK_SECRET", WEBHOOK_SECRET)]);
    let r = start(&app4, "dee@example.com");
    assert_eq!((r.status, r.json["error"]["code"].clone()), (502, json!("delivery_failed")));
    assert_eq!(target.seen.lock().map(|s| s.len()).unwrap_or(9), 0, "the redirect was not followed");
    assert!(items_of_type(t4.name(), "login_code").is_empty());

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
    let body = json!({"login_id": login_id, "code": code, "deliver": "body"});
    app.call("POST", "/v1/login/verify", HOST, &[("cf-connecting-ip", ip)], Some(body))
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
fn a_new_start_supersedes_the_emails_earlier_codes() {
    let (_t, app) = dev("supersede");
    let (first, first_code) = dev_login(&app, "max@example.com");
    let (second, second_code) = dev_login(&app, "max@example.com");
    let (third, third_code) = dev_login(&app, "max+other@example.com");
    let superseded = json!({"code": "code_superseded", "message": "a newer code was requested for this email; only the newest one works"});
    for (id, code) in [(&first, &first_code), (&first, &wrong(&first_code))] {
        let r = verify(&app, id, code);
        assert_eq!((r.status, r.json["error"].clone()), (410, superseded.clone()), "right or wrong, the same answer");
    }
    let r = verify(&app, &second, &second_code);
    assert_eq!(r.status, 200, "the newest works: {}", r.json);
    assert_eq!(verify(&app, &third, &third_code).status, 200, "another address (+tag) is its own identity");
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
    assert_eq!(counts.len(), 4, "four budgets: {counts:?}");
    assert_eq!(items_of_type(t.name(), "login_code").len(), 2);
    assert_eq!(start(&app, "hal@example.com").status, 429, "the limit of 2 is reached, not passed");
}

#[test]
fn fifty_concurrent_verifies_of_the_right_code_succeed_exactly_once() {
    let (t, app) = dev("fifty");
    let (login_id, code) = dev_login(&app, "gil@example.com");
    let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let (table, login_id, code) = (t.name().to_string(), login_id.clone(), code.clone());
                scope.spawn(move || {
                    let app = App::new(&table, manual_runtime(T0), &[("DEV_MODE", "true")]);
                    let r = verify(&app, &login_id, &code);
                    (r.status, r.json["token"].clone())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or((0, Value::Null))).collect()
    });
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.iter().all(|s| matches!(s, 200 | 409)), "{statuses:?}");
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
    let codes: Vec<(String, String)> = (0..20)
        .map(|_| {
            let r = app.admin("POST", "/v1/admin/tenants/acme/codes", Some(json!({"email": "hal@example.com"})));
            assert_eq!(r.status, 201, "{}", r.json);
            (
                r.json["login_id"].as_str().unwrap_or_default().to_string(),
                r.json["code"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
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
    // The transaction is applied, and every answer to it is lost: the client hears 503.
    app.transport.lose_answers_of("TransactWriteItems", 10);
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
    use dynauth::runtime::Clock;
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
    use dynauth::runtime::Clock;
    let (_t, app) = setup("deadline2", &[("DEV_MODE", "true"), ("REQUEST_DEADLINE_MS", "1500")]);
    // Each call takes 600 ms, inside the attempt timeout; login/start makes three calls.
    app.transport.slow_down(Duration::from_millis(600), &app.runtime);
    let before = app.runtime.now();
    let r = start(&app, "kim@example.com");
    let spent = app.runtime.now().duration_since(before).unwrap_or_default();
    assert_eq!(r.status, 503, "{}", r.json);
    assert!(spent <= Duration::from_millis(1_500), "{spent:?}");
}
