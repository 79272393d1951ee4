//! Every tenant host an OpenID Provider, against DynamoDB Local: discovery and keys, the
//! authorization endpoint (errors shown or sent back, the login page, `prompt`, `max_age`), codes
//! redeemed exactly once, tokens and what they say, userinfo, refresh rotation, and every
//! negative case of issue 23 with the stored items checked. (Stock clients prove the same flows
//! from outside: tests/e2e/oidc.test.mjs.)

#![allow(clippy::expect_used)] // a test's own setup may panic: it is the test failing

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use common::app::App;
use common::{TestTable, manual_runtime, scan_all};
use dynauth::platform::native::block_on;
use dynauth::testing::fakes::ManualRuntime;

const T0: u64 = 1_800_000_000;
const HOST: &str = "auth.acme.test";
const ISSUER: &str = "https://auth.acme.test";
const REDIRECT: &str = "https://app.acme.test/cb";
const BYE: &str = "https://app.acme.test/bye";
const MASTER: &str = "jwt-master-key-for-tests-only-0123456789";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

type TestApp = App<ManualRuntime>;

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// acme (on HOST) with a confidential RS256 client `web` and a public EdDSA client `spa`; globex
/// with its own client `other`.
fn setup(name: &str) -> (TestTable, TestApp, String) {
    let t = TestTable::new(name);
    let app = App::new(t.name(), manual_runtime(T0), &[("JWT_MASTER_KEY", MASTER)]);
    for (tenant, host) in [("acme", HOST), ("globex", "auth.globex.test")] {
        app.tenant_on(tenant, json!({"name": tenant}), host);
    }
    let web = json!({"name": "Web", "type": "confidential", "redirect_uris": [REDIRECT],
        "post_logout_redirect_uris": [BYE], "scopes": ["openid", "email", "offline_access"]});
    let r = app.admin("PUT", "/v1/admin/tenants/acme/clients/web", Some(web));
    assert_eq!(r.status, 201, "{}", r.json);
    let secret = r.json["client_secret"].as_str().expect("a secret").to_string();
    let spa = json!({"name": "SPA", "type": "public", "redirect_uris": ["http://127.0.0.1:5173/cb"],
        "id_token_signed_response_alg": "EdDSA", "scopes": ["openid", "email", "offline_access"]});
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme/clients/spa", Some(spa)).status, 201);
    let other = json!({"name": "Other", "type": "public", "redirect_uris": [REDIRECT]});
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/globex/clients/other", Some(other)).status, 201);
    (t, app, secret)
}

fn session(app: &TestApp, user: &str, email: &str) -> String {
    let r = app.admin("POST", "/v1/admin/tenants/acme/sessions", Some(json!({"user_id": user, "email": email})));
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["token"].as_str().expect("a token").to_string()
}

fn query(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={}", dynauth::api::body::encode_component(v))).collect::<Vec<_>>().join("&")
}

fn authorize(app: &TestApp, cookie: Option<&str>, pairs: &[(&str, &str)]) -> common::app::Answer {
    let cookie = cookie.map(|t| format!("__Host-dynauth={t}"));
    let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("cookie", c.as_str())).collect();
    app.call("GET", &format!("/v1/oauth/authorize?{}", query(pairs)), HOST, &headers, None)
}

fn web_request(state: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", "web".into()),
        ("redirect_uri", REDIRECT.into()),
        ("scope", "openid email offline_access".into()),
        ("state", state.into()),
        ("nonce", "n-0S6_WzA2Mj".into()),
        ("code_challenge", challenge(VERIFIER)),
        ("code_challenge_method", "S256".into()),
    ]
}

fn pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The query parameters of a redirect's Location.
fn location(answer: &common::app::Answer) -> (String, Vec<(String, String)>) {
    let loc = answer.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (base, q) = loc.split_once('?').unwrap_or((&loc, ""));
    (base.to_string(), dynauth::api::body::form_pairs(q).unwrap_or_default())
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A code for `web` in the session of `token`.
fn code(app: &TestApp, token: &str) -> String {
    let r = authorize(app, Some(token), &pairs(&web_request("st")));
    assert_eq!(r.status, 302, "{}", String::from_utf8_lossy(&r.body));
    let (base, params) = location(&r);
    assert_eq!(base, REDIRECT);
    param(&params, "code").expect("a code").to_string()
}

fn basic(secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("web:{secret}")))
}

fn form_call(app: &TestApp, path: &str, auth: Option<&str>, form: &[(&str, &str)]) -> common::app::Answer {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(format!("https://{HOST}{path}"))
        .header("host", HOST)
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(a) = auth {
        builder = builder.header("authorization", a);
    }
    app.send(builder.body(query(form).into_bytes()).expect("a request"))
}

fn redeem(app: &TestApp, secret: &str, code: &str, verifier: &str) -> common::app::Answer {
    let form =
        [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT), ("code_verifier", verifier)];
    form_call(app, "/v1/oauth/token", Some(&basic(secret)), &form)
}

fn claims(jwt: &str) -> (Value, Value) {
    let part = |i: usize| -> Value {
        let raw = jwt.split('.').nth(i).and_then(|p| URL_SAFE_NO_PAD.decode(p).ok()).unwrap_or_default();
        serde_json::from_slice(&raw).unwrap_or_default()
    };
    (part(0), part(1))
}

fn userinfo(app: &TestApp, access_token: &str) -> common::app::Answer {
    app.call("GET", "/v1/oauth/userinfo", HOST, &[("authorization", &format!("Bearer {access_token}"))], None)
}

fn items_of(table: &TestTable, kind: &str) -> Vec<dynauth::dynamo::Item> {
    scan_all(table.name()).into_iter().filter(|i| i.get("type") == Some(&dynauth::dynamo::s(kind))).collect()
}

#[test]
fn discovery_and_keys_describe_the_provider() {
    let (t, app, secret) = setup("oidc-discovery");
    let d = app.call("GET", "/.well-known/openid-configuration", HOST, &[], None);
    assert_eq!(d.status, 200);
    assert_eq!(d.json["issuer"], ISSUER);
    assert_eq!(d.headers["access-control-allow-origin"], "*", "single-page apps read it");
    assert_eq!(d.json["authorization_endpoint"], format!("{ISSUER}/v1/oauth/authorize"));
    assert_eq!(d.json["token_endpoint"], format!("{ISSUER}/v1/oauth/token"));
    assert_eq!(d.json["userinfo_endpoint"], format!("{ISSUER}/v1/oauth/userinfo"));
    assert_eq!(d.json["response_types_supported"], json!(["code"]));
    assert_eq!(d.json["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d.json["id_token_signing_alg_values_supported"], json!(["RS256", "ES256", "EdDSA"]));
    assert_eq!(d.json["authorization_response_iss_parameter_supported"], true);
    assert_eq!(d.json["revocation_endpoint"], format!("{ISSUER}/v1/oauth/revoke"));
    assert_eq!(d.json["introspection_endpoint"], format!("{ISSUER}/v1/oauth/introspect"));
    assert_eq!(d.json["end_session_endpoint"], format!("{ISSUER}/v1/oauth/logout"));
    assert_eq!(
        d.json["introspection_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        (d.json["backchannel_logout_supported"].as_bool(), d.json["backchannel_logout_session_supported"].as_bool()),
        (Some(true), Some(true))
    );
    let k = app.call("GET", "/.well-known/jwks.json", HOST, &[], None);
    assert_eq!(k.status, 200);
    assert_eq!(k.headers["access-control-allow-origin"], "*");
    let kinds: Vec<(String, String)> = k.json["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| (k["kty"].as_str().unwrap_or("").into(), k["alg"].as_str().unwrap_or("").into()))
        .collect();
    assert_eq!(
        kinds,
        vec![("OKP".into(), "EdDSA".into()), ("RSA".into(), "RS256".into()), ("EC".into(), "ES256".into())]
    );
    let rsa = &k.json["keys"][1];
    assert_eq!((rsa["e"].as_str(), rsa["n"].as_str().map(str::len)), (Some("AQAB"), Some(342)), "2048 bits");
    let ec = &k.json["keys"][2];
    let coordinates = (ec["crv"].as_str(), ec["x"].as_str().map(str::len), ec["y"].as_str().map(str::len));
    assert_eq!(coordinates, (Some("P-256"), Some(43), Some(43)));
    for key in k.json["keys"].as_array().expect("keys") {
        assert!(key.get("d").is_none() && key.get("p").is_none(), "no private member published: {key}");
    }
    // The RSA and P-256 keys are stored once each, their private halves sealed, their public
    // halves in the clear (what the JWKS publishes); read again, the same keys.
    let stored = items_of(&t, "rsa_key");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].get("n"), Some(&dynauth::dynamo::s(rsa["n"].as_str().unwrap_or_default())));
    assert!(!stored[0].contains_key("d") && stored[0].contains_key("private") && stored[0].contains_key("sealed"));
    let stored = items_of(&t, "ec_key");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].get("x"), Some(&dynauth::dynamo::s(ec["x"].as_str().unwrap_or_default())));
    let again = app.call("GET", "/.well-known/jwks.json", HOST, &[], None);
    assert_eq!(again.json, k.json);
    // Another isolate (no cache) reads the same key instead of making one.
    let fresh = App::new(t.name(), manual_runtime(T0), &[("JWT_MASTER_KEY", MASTER)]);
    assert_eq!(fresh.call("GET", "/.well-known/jwks.json", HOST, &[], None).json, k.json);
    assert_eq!((items_of(&t, "rsa_key").len(), items_of(&t, "ec_key").len()), (1, 1));
    // The JWKS publishes the public halves stored in the items, opening nothing: with their
    // private halves spoilt, another isolate still publishes the same keys (and cannot sign).
    for item in items_of(&t, "rsa_key").into_iter().chain(items_of(&t, "ec_key")) {
        let key = json!({"PK": item["PK"], "SK": item["SK"]});
        let spoil = json!({"TableName": t.name(), "Key": key, "UpdateExpression": "SET #p = :x",
            "ExpressionAttributeNames": {"#p": "private"}, "ExpressionAttributeValues": {":x": {"S": "spoilt"}}});
        common::raw_call(&common::dynamodb_endpoint(), "DynamoDB_20120810.UpdateItem", &spoil);
    }
    let other = App::new(t.name(), manual_runtime(T0), &[("JWT_MASTER_KEY", MASTER)]);
    assert_eq!(other.call("GET", "/.well-known/jwks.json", HOST, &[], None).json, k.json);
    // Read once per isolate: the JWKS is public, and asking it again costs no read.
    let again = other.call("GET", "/.well-known/jwks.json", HOST, &[], None);
    assert_eq!((again.json == k.json, again.calls), (true, 0));
    let token = session(&other, "u-1", "ada@acme.test");
    let r = authorize(&other, Some(&token), &pairs(&web_request("st")));
    let (_, params) = location(&r);
    let c = param(&params, "code").expect("a code").to_string();
    let r = redeem(&other, &secret, &c, VERIFIER);
    assert_eq!((r.status, r.json["error"]["code"].as_str()), (500, Some("internal_error")), "{}", r.json);
}

#[test]
fn unknown_clients_and_unregistered_redirect_uris_are_shown_never_redirected_to() {
    let (_t, app, _) = setup("oidc-page-errors");
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (web_request("s").into_iter().filter(|(k, _)| *k != "client_id").collect(), "client_id is missing"),
        (
            web_request("s")
                .into_iter()
                .map(|(k, v)| if k == "client_id" { (k, "nobody".into()) } else { (k, v) })
                .collect(),
            "this application (client_id) is not registered here",
        ),
        // Another tenant's client, on this tenant's host.
        (
            web_request("s")
                .into_iter()
                .map(|(k, v)| if k == "client_id" { (k, "other".into()) } else { (k, v) })
                .collect(),
            "this application (client_id) is not registered here",
        ),
        (
            web_request("s")
                .into_iter()
                .map(|(k, v)| if k == "redirect_uri" { (k, "https://evil.test/cb".into()) } else { (k, v) })
                .collect(),
            "the redirect_uri is not one this application registered",
        ),
        (
            web_request("s")
                .into_iter()
                .map(|(k, v)| if k == "redirect_uri" { (k, format!("{REDIRECT}/x")) } else { (k, v) })
                .collect(),
            "the redirect_uri is not one this application registered",
        ),
    ];
    for (request, message) in cases {
        let r = authorize(&app, None, &pairs(&request));
        assert_eq!(r.status, 400, "{message}");
        assert!(r.headers.get("location").is_none(), "{message}: never redirected");
        let html = String::from_utf8_lossy(&r.body);
        assert!(html.contains(&format!("<p id=\"error\">{message}</p>")), "{message}: {html}");
        assert_eq!(r.headers["content-type"], "text/html; charset=utf-8");
        assert_eq!(r.headers["x-frame-options"], "DENY");
    }
}

#[test]
fn other_errors_go_back_to_the_client_with_state_and_iss() {
    let (t, app, _) = setup("oidc-redirect-errors");
    let token = session(&app, "u-1", "ada@acme.test");
    let with = |name: &'static str, value: &str| -> Vec<(&'static str, String)> {
        let mut r: Vec<(&'static str, String)> = web_request("xyz").into_iter().filter(|(k, _)| *k != name).collect();
        if !value.is_empty() {
            r.push((name, value.to_string()));
        }
        r
    };
    let cases = [
        (
            with("code_challenge_method", "plain"),
            "invalid_request",
            "code_challenge_method must be S256 (plain is refused)",
        ),
        (with("code_challenge_method", ""), "invalid_request", "code_challenge_method must be S256 (plain is refused)"),
        (with("code_challenge", ""), "invalid_request", "PKCE is required: code_challenge is missing"),
        (
            with("response_type", "token"),
            "unsupported_response_type",
            "only the code flow is supported (response_type=code)",
        ),
        (
            with("response_type", "code id_token"),
            "unsupported_response_type",
            "only the code flow is supported (response_type=code)",
        ),
        (with("scope", "email"), "invalid_scope", "the scope must include openid"),
        (with("scope", "openid admin"), "invalid_scope", "the scope admin is not allowed for this client"),
        (with("request", "eyJ"), "request_not_supported", "the request parameter is not supported"),
        (with("max_age", "-1"), "invalid_request", "max_age must be a whole number of seconds"),
    ];
    for (request, error, description) in cases {
        let r = authorize(&app, Some(&token), &pairs(&request));
        assert_eq!(r.status, 302, "{error}: {}", String::from_utf8_lossy(&r.body));
        let (base, params) = location(&r);
        assert_eq!(base, REDIRECT);
        assert_eq!(
            params,
            vec![
                ("error".to_string(), error.to_string()),
                ("error_description".to_string(), description.to_string()),
                ("state".to_string(), "xyz".to_string()),
                ("iss".to_string(), ISSUER.to_string()),
            ],
            "{description}"
        );
    }
    // A parameter given twice.
    let mut twice = web_request("xyz");
    twice.push(("scope", "openid".into()));
    let (_, params) = location(&authorize(&app, Some(&token), &pairs(&twice)));
    assert_eq!(param(&params, "error_description"), Some("the scope parameter is given more than once"));
    assert!(items_of(&t, "auth_code").is_empty(), "no code was issued by any of them");
}

#[test]
fn without_a_session_the_login_page_and_back_and_prompt_none_says_login_required() {
    let (t, app, _) = setup("oidc-login");
    let mut request = web_request("s1");
    request.push(("login_hint", "ada@acme.test".into()));
    let r = authorize(&app, None, &pairs(&request));
    assert_eq!(r.status, 302);
    let (base, params) = location(&r);
    assert_eq!(base, "/login");
    assert_eq!(param(&params, "login_hint"), Some("ada@acme.test"));
    let return_to = param(&params, "return_to").expect("return_to");
    assert_eq!(return_to, format!("/v1/oauth/authorize?{}", query(&pairs(&request))), "the same request, back");
    // The login page pre-fills the hint and will go back to the request.
    let page = app.call(
        "GET",
        &format!("/login?{}", query(&[("return_to", return_to), ("login_hint", "ada@acme.test")])),
        HOST,
        &[],
        None,
    );
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("value=\"ada@acme.test\""), "{html}");
    assert!(html.contains(&format!("data-return-to=\"{}\"", return_to.replace('&', "&amp;"))), "{html}");
    // Signed in, the same request gets its code.
    let token = session(&app, "u-1", "ada@acme.test");
    let back = app.call("GET", return_to, HOST, &[("cookie", &format!("__Host-dynauth={token}"))], None);
    let (base, params) = location(&back);
    assert_eq!(base, REDIRECT);
    assert_eq!(param(&params, "state"), Some("s1"));
    assert_eq!(param(&params, "iss"), Some(ISSUER));
    assert_eq!(param(&params, "code").map(str::len), Some(43));
    // prompt=none without a session: login_required, back to the client.
    let mut none = web_request("s2");
    none.push(("prompt", "none".into()));
    let (base, params) = location(&authorize(&app, None, &pairs(&none)));
    assert_eq!(base, REDIRECT);
    assert_eq!(param(&params, "error"), Some("login_required"));
    assert_eq!(param(&params, "state"), Some("s2"));
    // prompt=none with one: a code at once.
    let (_, params) = location(&authorize(&app, Some(&token), &pairs(&none)));
    assert!(param(&params, "code").is_some());
    assert_eq!(items_of(&t, "auth_code").len(), 2);
}

#[test]
fn prompt_login_and_max_age_ask_for_a_fresh_sign_in() {
    let (t, app, _) = setup("oidc-fresh");
    let token = session(&app, "u-1", "ada@acme.test");
    app.runtime.advance(std::time::Duration::from_secs(600));
    for (name, value) in [("prompt", "login"), ("max_age", "300")] {
        let mut request = web_request("s");
        request.push((name, value.into()));
        let r = authorize(&app, Some(&token), &pairs(&request));
        let (base, params) = location(&r);
        assert_eq!(base, "/login", "{name}: the 10-minute-old session is not enough");
        // The way back is the request, signed, and nothing else; nothing is written for it.
        let return_to = param(&params, "return_to").expect("return_to").to_string();
        let (path, back) = return_to.split_once('?').expect("a query");
        let back = dynauth::api::body::form_pairs(back).unwrap_or_default();
        assert_eq!((path, back.len(), back[0].0.as_str()), ("/v1/oauth/authorize", 1, "resume"));
        assert!(items_of(&t, "pending_authorization").iter().all(|p| p.contains_key("used_at")), "no write to wait");
        // Back with the old session: still not enough (to the login page again, the same way
        // back). With a new one: the code, whose ID token says when that sign-in was.
        let old = app.call("GET", &return_to, HOST, &[("cookie", &format!("__Host-dynauth={token}"))], None);
        let (base, params) = location(&old);
        assert_eq!((base.as_str(), param(&params, "return_to")), ("/login", Some(return_to.as_str())), "{name}");
        app.runtime.advance(std::time::Duration::from_secs(5));
        let fresh = session(&app, "u-1", "ada@acme.test");
        let new = app.call("GET", &return_to, HOST, &[("cookie", &format!("__Host-dynauth={fresh}"))], None);
        let (base, params) = location(&new);
        assert_eq!((base.as_str(), param(&params, "state")), (REDIRECT, Some("s")), "{name}");
        assert!(param(&params, "code").is_some(), "{name}");
        // The pending request is used: its way back works once.
        let again = app.call("GET", &return_to, HOST, &[("cookie", &format!("__Host-dynauth={fresh}"))], None);
        assert_eq!(again.status, 400, "{name}");
        assert!(html(&again).contains("this sign-in request was already completed"), "{}", html(&again));
    }
    let used = items_of(&t, "pending_authorization");
    assert_eq!(used.len(), 2, "one marker per pending request used");
    let mut ttls: Vec<_> = used.iter().map(|p| p.get("ttl").cloned()).collect();
    ttls.sort_by_key(|t| format!("{t:?}"));
    let made = |at: u64| Some(dynauth::dynamo::n(i64::try_from(at + 900).expect("small")));
    assert_eq!(ttls, vec![made(T0 + 600), made(T0 + 605)], "kept until the request would have expired");
    // max_age the session satisfies: a code at once.
    let mut request = web_request("s");
    request.push(("max_age", "3600".into()));
    assert!(param(&location(&authorize(&app, Some(&token), &pairs(&request))).1, "code").is_some());
}

/// A session signed in 2 s earlier, and a request for a fresh sign-in that tries to say it
/// already had one: the provider's own marker of old (`dynauth_after`), or a made-up pending
/// record. None of it counts.
#[test]
fn no_request_can_claim_its_own_fresh_sign_in() {
    let (t, app, _) = setup("oidc-fresh-bypass");
    let token = session(&app, "u-1", "ada@acme.test");
    app.runtime.advance(std::time::Duration::from_secs(2));
    let attempt = |extra: &[(&'static str, &str)]| {
        let mut request = web_request("s");
        request.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        location(&authorize(&app, Some(&token), &pairs(&request)))
    };
    let (base, _) = attempt(&[("prompt", "login"), ("dynauth_after", "0")]);
    assert_eq!(base, "/login", "prompt=login: the login page, never a code");
    let (base, _) = attempt(&[("max_age", "1"), ("dynauth_after", "0")]);
    assert_eq!(base, "/login", "max_age=1: the login page, never a code");
    let (base, params) = attempt(&[("prompt", "none"), ("max_age", "1"), ("dynauth_after", "0")]);
    assert_eq!((base.as_str(), param(&params, "error")), (REDIRECT, Some("login_required")), "prompt=none");
    assert!(param(&params, "code").is_none());
    // A pending request nobody signed, or one changed, is no way in.
    let (_, params) = attempt(&[("prompt", "login")]);
    let return_to = param(&params, "return_to").expect("return_to").to_string();
    let resume = return_to.split_once("resume=").map(|(_, r)| r.to_string()).expect("resume");
    let (payload, mac) = resume.split_once('.').expect("payload.mac");
    let raw = URL_SAFE_NO_PAD.decode(payload).expect("base64url");
    let mut claimed: Value = serde_json::from_slice(&raw).expect("JSON");
    claimed["created_at"] = json!(0);
    let backdated = format!("{}.{mac}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claimed).expect("JSON")));
    let unsigned = format!("{payload}.{}", "A".repeat(mac.len()));
    for forged in
        ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "short", "../x", backdated.as_str(), unsigned.as_str()]
    {
        let r = authorize(&app, Some(&token), &[("resume", forged)]);
        assert_eq!(r.status, 400, "{forged}");
        assert!(html(&r).contains("this sign-in request is unknown or has expired"), "{}", html(&r));
    }
    // Another tenant's host does not take it either (its MAC binds the tenant).
    let r = app.call("GET", &return_to, "auth.globex.test", &[], None);
    assert!(html(&r).contains("this sign-in request is unknown or has expired"), "{}", html(&r));
    // The real one, with parameters added: the signed request counts, the additions do not.
    let tampered = format!("{return_to}&redirect_uri=https%3A%2F%2Fevil.test%2Fcb&prompt=none&client_id=spa");
    let r = app.call("GET", &tampered, HOST, &[("cookie", &format!("__Host-dynauth={token}"))], None);
    assert_eq!(location(&r).0, "/login", "the old session still does not satisfy it");
    // Expired after 15 minutes.
    app.runtime.advance(std::time::Duration::from_secs(901));
    let fresh = session(&app, "u-1", "ada@acme.test");
    let r = app.call("GET", &return_to, HOST, &[("cookie", &format!("__Host-dynauth={fresh}"))], None);
    assert_eq!(r.status, 400);
    assert!(html(&r).contains("this sign-in request is unknown or has expired"), "{}", html(&r));
    assert!(items_of(&t, "auth_code").is_empty(), "no code was issued");
    // A request too long for the login page to bring the user back to is told so, not lost.
    let long = "n".repeat(1_000);
    let mut request = web_request("s");
    (request[4], request[5]) = (("state", long.clone()), ("nonce", long));
    request.push(("prompt", "login".into()));
    let (base, params) = location(&authorize(&app, Some(&token), &pairs(&request)));
    assert_eq!((base.as_str(), param(&params, "error")), (REDIRECT, Some("invalid_request")));
    assert!(param(&params, "error_description").is_some_and(|d| d.starts_with("the request is too long")));
}

#[test]
fn a_code_becomes_tokens_once_and_they_say_who_for_whom() {
    let (t, app, secret) = setup("oidc-tokens");
    let token = session(&app, "u-1", "ada@acme.test");
    let code = code(&app, &token);
    let stored = items_of(&t, "auth_code");
    assert_eq!(stored.len(), 1);
    let text = serde_json::to_string(&dynauth::dynamo::from_item::<Value>(stored[0].clone()).expect("an item"))
        .unwrap_or_default();
    assert!(!text.contains(&code), "only the code's hash is stored");
    let r = redeem(&app, &secret, &code, VERIFIER);
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        (r.headers["cache-control"].to_str().ok(), r.headers["pragma"].to_str().ok()),
        (Some("no-store"), Some("no-cache"))
    );
    assert_eq!(r.json["token_type"], "Bearer");
    assert_eq!(r.json["expires_in"], 300);
    assert_eq!(r.json["scope"], "openid email offline_access");
    let refresh = r.json["refresh_token"].as_str().expect("offline_access: a refresh token");
    assert_eq!(refresh.len(), 87);
    let (header, id) = claims(r.json["id_token"].as_str().expect("an id token"));
    let jwks = app.call("GET", "/.well-known/jwks.json", HOST, &[], None).json;
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], jwks["keys"][1]["kid"], "the RSA key of the JWKS");
    let sid = dynauth::values::ids::SessionId::of_token(&token);
    assert_eq!(id["iss"], ISSUER);
    assert_eq!(id["sub"], "u-1");
    assert_eq!(id["aud"], "web");
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id["sid"], sid.as_str());
    assert_eq!(id["email"], "ada@acme.test");
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["auth_time"], T0);
    assert_eq!((id["iat"].as_u64(), id["exp"].as_u64()), (Some(T0), Some(T0 + 300)));
    let access_token = r.json["access_token"].as_str().expect("an access token");
    let at_hash = URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token.as_bytes())[..16]);
    assert_eq!(id["at_hash"], at_hash);
    let (header, access) = claims(access_token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(access["client_id"], "web");
    assert_eq!(access["scope"], "openid email offline_access");
    assert_eq!(access["aud"], format!("{ISSUER}/v1/oauth/userinfo"), "the resource: not the session audience");
    assert_eq!(access["sub"], "u-1");
    assert_eq!(access["jti"].as_str().map(str::len), Some(22));
    let info = userinfo(&app, access_token);
    assert_eq!(info.status, 200, "{}", info.json);
    assert_eq!(info.json, json!({"sub": "u-1", "email": "ada@acme.test", "email_verified": true}));
    assert!(items_of(&t, "auth_code")[0].contains_key("delivered_at"), "marked before the 200");
    // The code again: refused, and every token issued with it revoked.
    let again = redeem(&app, &secret, &code, VERIFIER);
    assert_eq!(again.status, 400);
    assert_eq!(
        again.json,
        json!({"error": "invalid_grant", "error_description": "the code has already been used: the tokens issued with it are revoked"})
    );
    let info = userinfo(&app, access_token);
    assert_eq!(info.status, 401);
    assert_eq!(info.json["error"], "invalid_token");
    assert!(info.headers["www-authenticate"].to_str().unwrap_or("").starts_with("Bearer error=\"invalid_token\""));
    let refreshed = form_call(
        &app,
        "/v1/oauth/token",
        Some(&basic(&secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    );
    assert_eq!(refreshed.status, 400, "the grant's refresh token is revoked too");
    let grants = items_of(&t, "grant");
    assert_eq!(grants.len(), 1);
    assert!(grants[0].contains_key("revoked_at"));
}

#[test]
fn redemption_refuses_what_does_not_match() {
    let (t, app, secret) = setup("oidc-negative");
    let token = session(&app, "u-1", "ada@acme.test");
    let grant = |e: &str| json!({"error": "invalid_grant", "error_description": e});
    // Wrong verifier: refused; the code stays good for the right one.
    let c = code(&app, &token);
    let r = redeem(&app, &secret, &c, "wrong-verifier-wrong-verifier-wrong-verifier-0");
    assert_eq!((r.status, r.json.clone()), (400, grant("code_verifier does not match the code_challenge")));
    // Wrong client secret: 401 invalid_client with the Basic challenge.
    let r = redeem(&app, "not-the-secret", &c, VERIFIER);
    assert_eq!((r.status, r.json["error"].as_str()), (401, Some("invalid_client")));
    assert_eq!(r.headers["www-authenticate"], "Basic realm=\"dynauth\"");
    // Another client's code (the public client presenting web's code).
    let form = [
        ("grant_type", "authorization_code"),
        ("code", c.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", "spa"),
    ];
    let r = form_call(&app, "/v1/oauth/token", None, &form);
    assert_eq!((r.status, r.json.clone()), (400, grant("the code was issued to another client")));
    // Another redirect URI.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", c.as_str()),
        ("redirect_uri", "https://app.acme.test/other"),
        ("code_verifier", VERIFIER),
    ];
    let r = form_call(&app, "/v1/oauth/token", Some(&basic(&secret)), &form);
    assert_eq!((r.status, r.json.clone()), (400, grant("redirect_uri is not the one the code was issued for")));
    assert_eq!(redeem(&app, &secret, &c, VERIFIER).status, 200, "the right request still works");
    // Expired: 60 s.
    let c = code(&app, &token);
    app.runtime.advance(std::time::Duration::from_secs(60));
    let r = redeem(&app, &secret, &c, VERIFIER);
    assert_eq!((r.status, r.json.clone()), (400, grant("the code has expired")));
    // Unknown code, bad grant type, no client.
    let r = redeem(&app, &secret, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", VERIFIER);
    assert_eq!((r.status, r.json.clone()), (400, grant("the code is unknown or has expired")));
    let r = form_call(&app, "/v1/oauth/token", Some(&basic(&secret)), &[("grant_type", "password")]);
    assert_eq!(r.json["error"], "unsupported_grant_type");
    let r = form_call(&app, "/v1/oauth/token", None, &[("grant_type", "authorization_code")]);
    assert_eq!((r.status, r.json["error"].as_str()), (401, Some("invalid_client")));
    // Another tenant's client on this host is unknown here.
    let r = form_call(
        &app,
        "/v1/oauth/token",
        None,
        &[("grant_type", "authorization_code"), ("client_id", "other"), ("code", "x")],
    );
    assert_eq!((r.status, r.json["error"].as_str()), (401, Some("invalid_client")));
    // Only the one good redemption made a grant.
    assert_eq!(items_of(&t, "grant").len(), 1);
}

/// `n` requests at once, each through an app of its own at time `now` (as many isolates would):
/// each answer's status and JSON.
fn at_once(
    table: &str,
    n: usize,
    now: u64,
    call: impl Fn(&TestApp) -> common::app::Answer + Sync,
) -> Vec<(u16, Value)> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let call = &call;
                s.spawn(move || {
                    let app: TestApp = App::new(table, manual_runtime(now), &[("JWT_MASTER_KEY", MASTER)]);
                    let r = call(&app);
                    (r.status, r.json)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a thread")).collect()
    })
}

#[test]
fn concurrent_redemptions_of_one_code_give_tokens_once_and_revoke_them() {
    let (t, app, secret) = setup("oidc-race");
    let token = session(&app, "u-1", "ada@acme.test");
    let c = code(&app, &token);
    let answers = at_once(t.name(), 8, T0 + 1, |app| redeem(app, &secret, &c, VERIFIER));
    let won: Vec<&(u16, Value)> = answers.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(won.len(), 1, "{answers:?}");
    assert!(answers.iter().filter(|(s, _)| *s != 200).all(|(s, j)| *s == 400 && j["error"] == "invalid_grant"));
    // The second use revoked what the first got.
    let access_token = won[0].1["access_token"].as_str().expect("an access token");
    assert_eq!(userinfo(&app, access_token).status, 401);
    let grants = items_of(&t, "grant");
    assert_eq!(grants.len(), 1, "one grant made");
    assert!(grants[0].contains_key("revoked_at"));
}

#[test]
fn refresh_rotates_and_a_reused_token_ends_the_family() {
    let (t, app, secret) = setup("oidc-refresh");
    let token = session(&app, "u-1", "ada@acme.test");
    let first = redeem(&app, &secret, &code(&app, &token), VERIFIER);
    let r1 = first.json["refresh_token"].as_str().expect("a refresh token").to_string();
    let refresh = |rt: &str| {
        form_call(
            &app,
            "/v1/oauth/token",
            Some(&basic(&secret)),
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
    };
    app.runtime.advance(std::time::Duration::from_secs(30));
    let second = refresh(&r1);
    assert_eq!(second.status, 200, "{}", second.json);
    let r2 = second.json["refresh_token"].as_str().expect("a new refresh token").to_string();
    assert_ne!(r1, r2);
    assert_eq!(r1.split('.').next(), r2.split('.').next(), "the same grant");
    let (_, id) = claims(second.json["id_token"].as_str().expect("an id token"));
    assert_eq!((id["iat"].as_u64(), id["auth_time"].as_u64(), id.get("nonce")), (Some(T0 + 30), Some(T0), None));
    // Narrowing the scope is allowed, widening is not.
    let narrow = form_call(
        &app,
        "/v1/oauth/token",
        Some(&basic(&secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", &r2), ("scope", "openid")],
    );
    assert_eq!((narrow.status, narrow.json["scope"].as_str()), (200, Some("openid")));
    let r3 = narrow.json["refresh_token"].as_str().expect("a refresh token").to_string();
    let access = narrow.json["access_token"].as_str().expect("an access token").to_string();
    assert_eq!(userinfo(&app, &access).json, json!({"sub": "u-1"}), "no email without the email scope");
    // r1 again: the whole family ends (r3 and the access tokens with it).
    let reused = refresh(&r1);
    assert_eq!(
        (reused.status, reused.json.clone()),
        (
            400,
            json!({"error": "invalid_grant", "error_description": "the refresh token was already used: every token of its grant is revoked"})
        )
    );
    assert_eq!(refresh(&r3).status, 400);
    assert_eq!(userinfo(&app, &access).status, 401);
    assert!(items_of(&t, "grant")[0].contains_key("revoked_at"));
    // Another client cannot use web's refresh token; a malformed one is just invalid.
    let r = form_call(
        &app,
        "/v1/oauth/token",
        None,
        &[("grant_type", "refresh_token"), ("refresh_token", "x.y"), ("client_id", "spa")],
    );
    assert_eq!(r.json["error"], "invalid_grant");
}

/// The grant item as stored, without what a refusal may not touch anyway.
fn grant_item(t: &TestTable) -> dynauth::dynamo::Item {
    let grants = items_of(t, "grant");
    assert_eq!(grants.len(), 1);
    grants[0].clone()
}

#[test]
fn a_refused_refresh_changes_nothing() {
    let (t, app, secret) = setup("oidc-refresh-refused");
    let (_, _, rt, _) = signed_in(&app, &secret);
    let before = grant_item(&t);
    let web = Some(basic(&secret));
    let wrong = Some(basic("not-the-secret"));
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str())];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&str, &str)> {
        refresh.iter().copied().chain(extra.iter().copied()).collect()
    };
    let malformed = format!("{rt}x");
    type Case<'a> = (Option<String>, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (web.clone(), with(&[("scope", "openid profile")]), 400, "invalid_scope"),
        (web.clone(), with(&[("scope", "openid email offline_access admin")]), 400, "invalid_scope"),
        (None, with(&[("client_id", "spa")]), 400, "invalid_grant"),
        (wrong.clone(), refresh.to_vec(), 401, "invalid_client"),
        (None, refresh.to_vec(), 401, "invalid_client"),
        (web.clone(), vec![("grant_type", "refresh_token"), ("refresh_token", "x.y")], 400, "invalid_grant"),
        (web.clone(), vec![("grant_type", "refresh_token"), ("refresh_token", &malformed)], 400, "invalid_grant"),
        (web.clone(), vec![("grant_type", "refresh_token")], 400, "invalid_request"),
        (web.clone(), with(&[("refresh_token", "again")]), 400, "invalid_request"),
    ];
    for (auth, form, status, error) in &cases {
        let r = form_call(&app, "/v1/oauth/token", auth.as_deref(), form);
        assert_eq!((r.status, r.json["error"].as_str()), (*status, Some(*error)), "{form:?}: {}", r.json);
    }
    assert_eq!(grant_item(&t), before, "no refusal rotated, revoked or touched the grant");
    // The same token still refreshes, narrowed or not.
    let r = form_call(&app, "/v1/oauth/token", web.as_deref(), &with(&[("scope", "openid")]));
    assert_eq!((r.status, r.json["scope"].as_str()), (200, Some("openid")), "{}", r.json);
    assert!(!grant_item(&t).contains_key("revoked_at"));
}

#[test]
fn a_redemption_whose_answers_are_all_lost_is_completed_by_its_retry_alone() {
    let (t, app, secret) = setup("oidc-lost-code");
    let token = session(&app, "u-1", "ada@acme.test");
    let c = code(&app, &token);
    // The transaction is applied on every attempt, and every answer is lost.
    app.transport.lose_answers_of("TransactWriteItems", 1_000);
    let lost = redeem(&app, &secret, &c, VERIFIER);
    app.transport.lose_answers_of("TransactWriteItems", 0);
    assert_eq!((lost.status, lost.json["error"]["code"].as_str()), (503, Some("unavailable")), "{}", lost.json);
    assert_eq!(lost.headers["retry-after"], "6", "after the first request's deadline (5 s) and a second");
    let item = &items_of(&t, "auth_code")[0];
    assert!(item.contains_key("used_at") && !item.contains_key("delivered_at"), "applied, never handed out");
    // The retry, as asked: the tokens. Three more at once: the same refresh token (one grant).
    app.runtime.advance(std::time::Duration::from_secs(6));
    let first = redeem(&app, &secret, &c, VERIFIER);
    assert_eq!(first.status, 200, "{}", first.json);
    let refresh = first.json["refresh_token"].as_str().expect("a refresh token").to_string();
    let now = T0 + 7;
    let parallel = at_once(t.name(), 3, now, |app| redeem(app, &secret, &c, VERIFIER));
    for (status, json) in &parallel {
        assert_eq!((*status, json["refresh_token"].as_str()), (200, Some(refresh.as_str())), "{json}");
    }
    assert_eq!(items_of(&t, "grant").len(), 1, "one grant, never a second");
    // Nobody else: another client, or the right client with another verifier, gets nothing, and
    // the wrong verifier is a second use that ends the grant.
    let other = "x".repeat(43);
    let r = redeem(&app, &secret, &c, &other);
    assert_eq!(r.json["error"], "invalid_grant");
    assert!(grant_item(&t).contains_key("revoked_at"));
    assert_eq!(refresh_with(&app, &secret, &refresh).status, 400);

    // A code whose tokens were handed out is single-use, also when its second use comes when a
    // retry would be recognised: it is marked delivered.
    let c = code(&app, &token);
    assert_eq!(redeem(&app, &secret, &c, VERIFIER).status, 200);
    app.runtime.advance(std::time::Duration::from_secs(10));
    assert_eq!(redeem(&app, &secret, &c, VERIFIER).json["error"], "invalid_grant");
    // Past the window (a minute after the first answer's Retry-After, at the latest 6 + 6 + 60 s): a second use like any other.
    let c = code(&app, &token);
    app.transport.lose_answers_of("TransactWriteItems", 1_000);
    assert_eq!(redeem(&app, &secret, &c, VERIFIER).status, 503);
    app.transport.lose_answers_of("TransactWriteItems", 0);
    app.runtime.advance(std::time::Duration::from_secs(73));
    let late = redeem(&app, &secret, &c, VERIFIER);
    assert_eq!(late.json["error_description"], "the code has already been used: the tokens issued with it are revoked");
    // Too early (the first request may still be answering): a concurrent second use.
    let c = code(&app, &token);
    app.transport.lose_answers_of("TransactWriteItems", 1_000);
    assert_eq!(redeem(&app, &secret, &c, VERIFIER).status, 503);
    app.transport.lose_answers_of("TransactWriteItems", 0);
    assert_eq!(redeem(&app, &secret, &c, VERIFIER).json["error"], "invalid_grant");
    let revoked = items_of(&t, "grant").iter().filter(|g| g.contains_key("revoked_at")).count();
    assert_eq!(revoked, 4, "each code's grant, after its second use");
}

#[test]
fn a_refresh_whose_answers_are_all_lost_is_completed_by_its_retry_alone() {
    let (t, app, secret) = setup("oidc-lost-refresh");
    let (_, _, r1, _) = signed_in(&app, &secret);
    app.transport.lose_answers_of("UpdateItem", 1_000);
    let lost = refresh_with(&app, &secret, &r1);
    app.transport.lose_answers_of("UpdateItem", 0);
    assert_eq!((lost.status, lost.headers["retry-after"].to_str().ok()), (503, Some("6")), "{}", lost.json);
    let rotated = grant_item(&t);
    assert!(rotated.contains_key("refreshed_at") && !rotated.contains_key("delivered_at"));
    // Its retries, as asked, at once: each the same new refresh token.
    app.runtime.advance(std::time::Duration::from_secs(6));
    let now = T0 + 6;
    let answers = at_once(t.name(), 3, now, |app| refresh_with(app, &secret, &r1));
    let r2 = answers[0].1["refresh_token"].as_str().expect("a refresh token").to_string();
    assert!(answers.iter().all(|(s, j)| *s == 200 && j["refresh_token"] == r2.as_str()), "{answers:?}");
    assert_ne!(r1, r2);
    assert_eq!(grant_item(&t)["refresh_hash"], rotated["refresh_hash"], "no second rotation");
    // The family goes on from there, and a handed-out token used again still ends it.
    let third = refresh_with(&app, &secret, &r2);
    assert_eq!(third.status, 200, "{}", third.json);
    assert!(grant_item(&t).contains_key("delivered_at"), "marked before the 200");
    // Used again when a retry would be recognised: it was handed out, so it ends the family.
    app.runtime.advance(std::time::Duration::from_secs(10));
    let reused = refresh_with(&app, &secret, &r2);
    assert_eq!(
        reused.json["error_description"],
        "the refresh token was already used: every token of its grant is revoked"
    );
    assert!(grant_item(&t).contains_key("revoked_at"));
}

#[test]
fn an_access_token_is_good_only_on_the_host_that_issued_it_and_never_as_a_session() {
    let (_t, app, secret) = setup("oidc-hosts");
    let r = app.admin("PUT", "/v1/admin/tenants/acme/domains/login.acme.test", Some(json!({"status": "ready"})));
    assert_eq!(r.status, 201, "{}", r.json);
    let (token, access, _, _) = signed_in(&app, &secret);
    let bearer = format!("Bearer {access}");
    assert_eq!(userinfo(&app, &access).status, 200);
    let elsewhere = app.call("GET", "/v1/oauth/userinfo", "login.acme.test", &[("authorization", &bearer)], None);
    assert_eq!((elsewhere.status, elsewhere.json["error"].as_str()), (401, Some("invalid_token")));
    // A session JWT of the same tenant is no access token, and an access token no session.
    let minted = app.call("POST", "/v1/session/token", HOST, &[("authorization", &format!("Bearer {token}"))], None);
    assert_eq!(minted.status, 200, "{}", minted.json);
    let jwt = minted.json["token"].as_str().expect("a session JWT");
    let (header, body) = claims(jwt);
    assert_eq!((header["typ"].as_str(), body["aud"].as_str()), (Some("session+jwt"), Some("acme")));
    assert_eq!(userinfo(&app, jwt).status, 401);
    assert_eq!(app.call("GET", "/v1/session", HOST, &[("authorization", &bearer)], None).status, 401);
}

#[test]
fn loopback_redirect_uris_take_any_port_and_only_that_port_redeems() {
    let (_t, app, _) = setup("oidc-loopback");
    let token = session(&app, "u-1", "ada@acme.test");
    let ask = |redirect: &str| {
        let request = [
            ("response_type", "code"),
            ("client_id", "spa"),
            ("redirect_uri", redirect),
            ("scope", "openid"),
            ("code_challenge", &challenge(VERIFIER)),
            ("code_challenge_method", "S256"),
        ];
        authorize(&app, Some(&token), &request)
    };
    let r = ask("http://127.0.0.1:61000/cb");
    let (base, params) = location(&r);
    assert_eq!(base, "http://127.0.0.1:61000/cb", "registered as :5173, asked on :61000");
    let c = param(&params, "code").expect("a code").to_string();
    let redeem_at = |redirect: &str| {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", c.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
            ("client_id", "spa"),
        ];
        form_call(&app, "/v1/oauth/token", None, &form)
    };
    let r = redeem_at("http://127.0.0.1:5173/cb");
    assert_eq!(
        r.json["error_description"],
        "redirect_uri is not one the code was issued for".replace("one", "the one")
    );
    assert_eq!(redeem_at("http://127.0.0.1:61000/cb").status, 200);
    for refused in ["http://localhost:61000/cb", "http://127.0.0.1:61000/cb2", "http://127.0.0.1.evil.test:61000/cb"] {
        let r = ask(refused);
        assert_eq!(r.status, 400, "{refused}");
        assert!(html(&r).contains("the redirect_uri is not one this application registered"), "{refused}");
    }
}

fn introspect_from(app: &TestApp, secret: &str, ip: &str) -> common::app::Answer {
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("https://{HOST}/v1/oauth/introspect"))
        .header("host", HOST)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cf-connecting-ip", ip)
        .header("authorization", basic(secret))
        .body(b"token=nothing".to_vec())
        .expect("a request");
    app.send(request)
}

#[test]
fn wrong_client_secrets_are_budgeted_per_address_under_a_ceiling_from_many_addresses_at_once() {
    let t = TestTable::new("oidc-client-budget");
    let vars = [("JWT_MASTER_KEY", MASTER), ("CLIENT_AUTH_FAILURE_IP_LIMIT", "3"), ("CLIENT_AUTH_FAILURE_LIMIT", "8")];
    let app: TestApp = App::new(t.name(), manual_runtime(T0), &vars);
    app.tenant_on("acme", json!({"name": "acme"}), HOST);
    let web = json!({"name": "Web", "type": "confidential", "redirect_uris": [REDIRECT]});
    let secret = app.admin("PUT", "/v1/admin/tenants/acme/clients/web", Some(web)).json["client_secret"]
        .as_str()
        .expect("a secret")
        .to_string();
    // Eight wrong secrets at once from one address: three are compared and refused, the rest
    // find the address's budget spent.
    let burst = |ips: Vec<String>| -> Vec<(u16, Value, Option<String>)> {
        std::thread::scope(|s| {
            let handles: Vec<_> = ips
                .into_iter()
                .map(|ip| {
                    let name = t.name().to_string();
                    s.spawn(move || {
                        let app: TestApp = App::new(&name, manual_runtime(T0), &vars);
                        let r = introspect_from(&app, "wrong", &ip);
                        let retry = r.headers.get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
                        (r.status, r.json, retry)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("a thread")).collect()
        })
    };
    let one = burst(vec!["192.0.2.1".to_string(); 8]);
    let count = |answers: &[(u16, Value, Option<String>)], status| answers.iter().filter(|a| a.0 == status).count();
    assert_eq!((count(&one, 401), count(&one, 429)), (3, 5), "{one:?}");
    let limited = one.iter().find(|a| a.0 == 429).expect("a 429");
    assert_eq!(limited.2.as_deref(), Some("900"), "the window's end");
    assert_eq!(
        limited.1["error"]["message"],
        "too many failed client authentications came from this address for this client; retry in 900 s"
    );
    // The rightful client, from that address: refused too; from its own: served.
    assert_eq!(introspect_from(&app, &secret, "192.0.2.1").status, 429);
    assert_eq!(introspect_from(&app, &secret, "198.51.100.7").json, json!({"active": false}));
    // Wrong secrets from many addresses at once reach the client's ceiling (8).
    let many: Vec<String> = (2..=7).map(|i| format!("192.0.2.{i}")).collect();
    let answers = burst(many);
    assert_eq!(count(&answers, 401) + count(&answers, 429), 6, "{answers:?}");
    assert_eq!(count(&answers, 401), 5, "three from the first address and five more make the ceiling");
    let ceiling = answers.iter().find(|a| a.0 == 429).expect("a 429");
    assert_eq!(
        ceiling.1["error"]["message"],
        "too many failed client authentications were made for this client; retry in 900 s"
    );
    // Past the ceiling: every address that guessed is held back, the right secret included, and
    // a new one gets one guess; the rightful client's own address, which never sent a wrong
    // secret, is served.
    assert_eq!(introspect_from(&app, &secret, "192.0.2.2").status, 429);
    assert_eq!(introspect_from(&app, "wrong", "203.0.113.9").status, 429);
    assert_eq!(introspect_from(&app, &secret, "203.0.113.9").status, 429);
    assert_eq!(introspect_from(&app, &secret, "198.51.100.7").json, json!({"active": false}), "not locked out");
    app.runtime.advance(std::time::Duration::from_secs(900));
    assert_eq!(introspect_from(&app, &secret, "192.0.2.1").status, 200, "a new window");
}

#[test]
fn the_profile_scope_shows_the_profile_fields_that_are_known() {
    let (_t, app, secret) = setup("oidc-profile");
    let web = json!({"name": "Web", "type": "confidential", "redirect_uris": [REDIRECT],
        "scopes": ["openid", "email", "profile"]});
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme/clients/web", Some(web)).status, 200, "replaced");
    // A user made by a login (a code for a backend that delivers it itself), then given a
    // profile through the admin API.
    let issued = app.admin("POST", "/v1/admin/tenants/acme/codes", Some(json!({"email": "ada@acme.test"})));
    assert_eq!(issued.status, 201, "{}", issued.json);
    let body = json!({"login_id": issued.json["login_id"], "code": issued.json["code"], "binding": issued.json["binding"], "deliver": "body"});
    let verified = app.call("POST", "/v1/login/verify", HOST, &[], Some(body));
    assert_eq!(verified.status, 200, "{}", verified.json);
    let user = verified.json["user"]["id"].as_str().expect("a user").to_string();
    let token = verified.json["token"].as_str().expect("a token").to_string();
    let path = format!("/v1/admin/tenants/acme/users/{user}");
    for (bad, field) in [
        (json!({"name": ""}), "name"),
        (json!({"picture": "http://img.test/a.png"}), "picture"),
        (json!({"locale": "english"}), "locale"),
        (json!({"nickname": "ada"}), "nickname"),
    ] {
        let r = app.admin("PATCH", &path, Some(bad.clone()));
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.json["error"]["message"].as_str().unwrap_or("").contains(field), "{}", r.json);
    }
    let r = app.admin("PATCH", &path, Some(json!({"name": "Ada Lovelace", "given_name": "Ada", "locale": "en-GB"})));
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        r.json["profile"],
        json!({"name": "Ada Lovelace", "given_name": "Ada", "locale": "en-GB", "updated_at": "2027-01-15T08:00:00Z"})
    );
    let unknown = app.admin("PATCH", "/v1/admin/tenants/acme/users/nobody", Some(json!({"name": "x"})));
    assert_eq!(unknown.status, 404);
    // The code flow with `profile`: the ID token and userinfo carry the known fields, no others.
    let mut request = web_request("s");
    request[3] = ("scope", "openid profile".into());
    let (_, params) = location(&authorize(&app, Some(&token), &pairs(&request)));
    let c = param(&params, "code").expect("a code").to_string();
    let r = redeem(&app, &secret, &c, VERIFIER);
    assert_eq!(r.status, 200, "{}", r.json);
    let (_, id) = claims(r.json["id_token"].as_str().expect("an id token"));
    let updated = T0;
    assert_eq!(
        (&id["name"], &id["given_name"], &id["locale"]),
        (&json!("Ada Lovelace"), &json!("Ada"), &json!("en-GB"))
    );
    assert_eq!(id["updated_at"], updated);
    assert!(id.get("family_name").is_none() && id.get("picture").is_none() && id.get("email").is_none(), "{id}");
    let access = r.json["access_token"].as_str().expect("an access token");
    assert_eq!(
        userinfo(&app, access).json,
        json!({"sub": user, "name": "Ada Lovelace", "given_name": "Ada", "locale": "en-GB", "updated_at": updated})
    );
    // Removed with null: gone from the next answer; without the scope: none of it.
    assert_eq!(app.admin("PATCH", &path, Some(json!({"given_name": null}))).json["profile"].get("given_name"), None);
    assert!(userinfo(&app, access).json.get("given_name").is_none());
    let (_, id) =
        claims(redeem(&app, &secret, &code_for(&app, &token), VERIFIER).json["id_token"].as_str().unwrap_or(""));
    assert!(id.get("name").is_none(), "no profile scope: {id}");
}

/// A code for `web` with the scope `openid` only.
fn code_for(app: &TestApp, token: &str) -> String {
    let mut request = web_request("s");
    request[3] = ("scope", "openid".into());
    let (_, params) = location(&authorize(app, Some(token), &pairs(&request)));
    param(&params, "code").expect("a code").to_string()
}

#[test]
fn ending_the_session_ends_its_tokens() {
    let (_t, app, secret) = setup("oidc-session-end");
    let token = session(&app, "u-1", "ada@acme.test");
    let r = redeem(&app, &secret, &code(&app, &token), VERIFIER);
    let access = r.json["access_token"].as_str().expect("an access token").to_string();
    let refresh = r.json["refresh_token"].as_str().expect("a refresh token").to_string();
    assert_eq!(userinfo(&app, &access).status, 200);
    let sid = dynauth::values::ids::SessionId::of_token(&token);
    assert_eq!(app.admin("DELETE", &format!("/v1/admin/tenants/acme/sessions/{sid}"), None).status, 204);
    assert_eq!(userinfo(&app, &access).status, 401);
    let r = form_call(
        &app,
        "/v1/oauth/token",
        Some(&basic(&secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    );
    assert_eq!(r.status, 400);
    // A code issued before the end cannot be redeemed after it.
    let token = session(&app, "u-2", "bob@acme.test");
    let c = code(&app, &token);
    let sid = dynauth::values::ids::SessionId::of_token(&token);
    assert_eq!(app.admin("DELETE", &format!("/v1/admin/tenants/acme/sessions/{sid}"), None).status, 204);
    let r = redeem(&app, &secret, &c, VERIFIER);
    assert_eq!(r.json["error_description"], "the session the code was issued in has ended");
}

#[test]
fn a_public_client_uses_pkce_alone_and_gets_eddsa_tokens() {
    let (_t, app, _) = setup("oidc-public");
    let token = session(&app, "u-1", "ada@acme.test");
    let request = [
        ("response_type", "code"),
        ("client_id", "spa"),
        ("redirect_uri", "http://127.0.0.1:5173/cb"),
        ("scope", "openid email"),
        ("code_challenge", &challenge(VERIFIER)),
        ("code_challenge_method", "S256"),
    ];
    let r = authorize(&app, Some(&token), &request);
    let (_, params) = location(&r);
    let c = param(&params, "code").expect("a code").to_string();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", c.as_str()),
        ("redirect_uri", "http://127.0.0.1:5173/cb"),
        ("code_verifier", VERIFIER),
        ("client_id", "spa"),
    ];
    // A secret from a public client is refused.
    let mut with_secret = form.to_vec();
    with_secret.push(("client_secret", "x"));
    assert_eq!(form_call(&app, "/v1/oauth/token", None, &with_secret).json["error"], "invalid_client");
    let r = form_call(&app, "/v1/oauth/token", None, &form);
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(r.json.get("refresh_token").is_none(), "no offline_access asked: no refresh token");
    let (header, id) = claims(r.json["id_token"].as_str().expect("an id token"));
    assert_eq!(header["alg"], "EdDSA");
    let at = r.json["access_token"].as_str().expect("an access token");
    // EdDSA (Ed25519): at_hash is the left half of SHA-512.
    assert_eq!(id["at_hash"], URL_SAFE_NO_PAD.encode(&sha2::Sha512::digest(at.as_bytes())[..32]));
    assert_eq!(userinfo(&app, at).status, 200);
}

#[test]
fn a_transaction_conflict_is_no_redemption_and_no_reuse() {
    // Real DynamoDB cancels a transaction one of whose items another transaction holds
    // (DynamoDB Local never does): such a cancellation says nothing about the code, so it is
    // neither "already used" (which would revoke) nor an answer; it is sent again.
    let (t, app, secret) = setup("oidc-conflict");
    let token = session(&app, "u-1", "ada@acme.test");
    let c = code(&app, &token);
    app.transport.conflict_transactions(3);
    let r = redeem(&app, &secret, &c, VERIFIER);
    assert_eq!(r.status, 200, "{}", r.json);
    let grants = items_of(&t, "grant");
    assert_eq!(grants.len(), 1);
    assert!(!grants[0].contains_key("revoked_at"), "three conflicts are not a second use");
    assert_eq!(userinfo(&app, r.json["access_token"].as_str().expect("an access token")).status, 200);
    // Contended to the deadline: 503 with Retry-After, the code unused and still good.
    let c = code(&app, &token);
    app.transport.conflict_transactions(1_000);
    let r = redeem(&app, &secret, &c, VERIFIER);
    app.transport.conflict_transactions(0);
    assert_eq!((r.status, r.json["error"]["code"].as_str()), (503, Some("unavailable")), "{}", r.json);
    assert_eq!(r.headers["retry-after"], "6", "after the request deadline (5 s) and a second");
    assert_eq!(items_of(&t, "grant").len(), 1, "nothing was written");
    assert_eq!(redeem(&app, &secret, &c, VERIFIER).status, 200, "and the code redeems afterwards");
}

fn revoke(app: &TestApp, auth: Option<&str>, form: &[(&str, &str)]) -> common::app::Answer {
    form_call(app, "/v1/oauth/revoke", auth, form)
}

fn introspect(app: &TestApp, auth: Option<&str>, token: &str) -> common::app::Answer {
    form_call(app, "/v1/oauth/introspect", auth, &[("token", token)])
}

fn refresh_with(app: &TestApp, secret: &str, refresh_token: &str) -> common::app::Answer {
    form_call(
        app,
        "/v1/oauth/token",
        Some(&basic(secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
    )
}

/// Tokens for `web` in a new session of u-1: (session token, access token, refresh token, ID token).
fn signed_in(app: &TestApp, secret: &str) -> (String, String, String, String) {
    let token = session(app, "u-1", "ada@acme.test");
    let r = redeem(app, secret, &code(app, &token), VERIFIER);
    assert_eq!(r.status, 200, "{}", r.json);
    let field = |name: &str| r.json[name].as_str().expect(name).to_string();
    (token, field("access_token"), field("refresh_token"), field("id_token"))
}

#[test]
fn revocation_ends_the_grant_of_the_callers_own_token_and_nothing_else() {
    let (t, app, secret) = setup("oidc-revoke");
    let (_, access, refresh, _) = signed_in(&app, &secret);
    // Another client's token: 200 (RFC 7009 §2.2), and the token is left alone.
    let r = revoke(&app, None, &[("token", &refresh), ("client_id", "spa")]);
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(r.headers["cache-control"], "no-store");
    let r = revoke(&app, None, &[("token", &access), ("client_id", "spa"), ("token_type_hint", "access_token")]);
    assert_eq!(r.status, 200);
    assert_eq!(userinfo(&app, &access).status, 200, "spa cannot revoke web's access token");
    let again = refresh_with(&app, &secret, &refresh);
    assert_eq!(again.status, 200, "nor its refresh token: {}", again.json);
    let refresh = again.json["refresh_token"].as_str().expect("a refresh token").to_string();
    let access = again.json["access_token"].as_str().expect("an access token").to_string();
    // Unknown tokens are 200 too; a bad hint, a missing token or a wrong secret are not.
    assert_eq!(revoke(&app, Some(&basic(&secret)), &[("token", "not-a-token")]).status, 200);
    let r = revoke(&app, Some(&basic(&secret)), &[("token", &refresh), ("token_type_hint", "id_token")]);
    assert_eq!(
        (r.status, r.json.clone()),
        (
            400,
            json!({"error": "unsupported_token_type", "error_description": "token_type_hint must be access_token or refresh_token"})
        )
    );
    let r = revoke(&app, Some(&basic(&secret)), &[]);
    assert_eq!(
        (r.status, r.json.clone()),
        (400, json!({"error": "invalid_request", "error_description": "token is missing"}))
    );
    let r = revoke(&app, Some(&basic("wrong")), &[("token", &refresh)]);
    assert_eq!((r.status, r.json["error"].as_str()), (401, Some("invalid_client")));
    assert!(!items_of(&t, "grant")[0].contains_key("revoked_at"), "nothing revoked yet");
    // web revokes its refresh token: the grant ends, its access token with it.
    let r = revoke(&app, Some(&basic(&secret)), &[("token", &refresh), ("token_type_hint", "refresh_token")]);
    assert_eq!(r.status, 200);
    assert_eq!(refresh_with(&app, &secret, &refresh).json["error"], "invalid_grant");
    assert_eq!(userinfo(&app, &access).status, 401);
    let grants = items_of(&t, "grant");
    assert_eq!(grants.len(), 1);
    assert!(grants[0].contains_key("revoked_at"));
    // An access token (hinted wrongly as a refresh token: both are looked up) ends its grant too.
    let (_, access, refresh, _) = signed_in(&app, &secret);
    let r = revoke(&app, Some(&basic(&secret)), &[("token", &access), ("token_type_hint", "refresh_token")]);
    assert_eq!(r.status, 200);
    assert_eq!(userinfo(&app, &access).status, 401);
    assert_eq!(refresh_with(&app, &secret, &refresh).json["error"], "invalid_grant");
    assert!(items_of(&t, "grant").iter().all(|g| g.contains_key("revoked_at")));
}

#[test]
fn introspection_says_what_a_live_token_grants_to_confidential_clients_only() {
    let (_t, app, secret) = setup("oidc-introspect");
    let api = json!({"name": "API", "type": "confidential", "redirect_uris": ["https://api.acme.test/cb"]});
    let r = app.admin("PUT", "/v1/admin/tenants/acme/clients/api", Some(api));
    let api_secret = r.json["client_secret"].as_str().expect("a secret").to_string();
    let api_auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("api:{api_secret}")));
    let (token, access, refresh, _) = signed_in(&app, &secret);
    let sid = dynauth::values::ids::SessionId::of_token(&token);
    let (_, at) = claims(&access);
    let r = introspect(&app, Some(&basic(&secret)), &access);
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(
        r.json,
        json!({"active": true, "scope": "openid email offline_access", "client_id": "web", "token_type": "Bearer",
            "exp": T0 + 300, "iat": T0, "sub": "u-1", "aud": format!("{ISSUER}/v1/oauth/userinfo"), "iss": ISSUER, "jti": at["jti"], "sid": sid.as_str()})
    );
    // A resource server (another confidential client) may check web's access token, not its
    // refresh token.
    assert_eq!(introspect(&app, Some(&api_auth), &access).json["active"], true);
    assert_eq!(introspect(&app, Some(&api_auth), &refresh).json, json!({"active": false}));
    let r = introspect(&app, Some(&basic(&secret)), &refresh);
    assert_eq!(
        r.json,
        json!({"active": true, "scope": "openid email offline_access", "client_id": "web", "token_type": "refresh_token",
            "exp": r.json["exp"], "iat": T0, "sub": "u-1", "iss": ISSUER, "sid": sid.as_str()})
    );
    assert!(r.json["exp"].as_u64().is_some_and(|e| e > T0 + 300), "{}", r.json);
    // Public clients cannot introspect; garbage is inactive.
    let r = form_call(&app, "/v1/oauth/introspect", None, &[("token", &access), ("client_id", "spa")]);
    assert_eq!(
        (r.status, r.json.clone()),
        (
            401,
            json!({"error": "invalid_client", "error_description": "introspection is for confidential clients only"})
        )
    );
    assert_eq!(introspect(&app, Some(&basic(&secret)), "x.y.z").json, json!({"active": false}));
    assert_eq!(introspect(&app, Some(&basic("wrong")), &access).status, 401);
    // Expired: inactive (the refresh token still stands).
    app.runtime.advance(std::time::Duration::from_secs(300));
    assert_eq!(introspect(&app, Some(&basic(&secret)), &access).json, json!({"active": false}));
    assert_eq!(introspect(&app, Some(&basic(&secret)), &refresh).json["active"], true);
    // Rotated: the old refresh token is inactive (and asking does not count as a reuse).
    let rotated = refresh_with(&app, &secret, &refresh);
    let new_refresh = rotated.json["refresh_token"].as_str().expect("a refresh token").to_string();
    assert_eq!(introspect(&app, Some(&basic(&secret)), &refresh).json, json!({"active": false}));
    assert_eq!(introspect(&app, Some(&basic(&secret)), &new_refresh).json["active"], true);
    assert_eq!(refresh_with(&app, &secret, &new_refresh).status, 200, "the family stands");
    // The session ends: its tokens are inactive.
    let (_, a2, r2, _) = signed_in(&app, &secret);
    let grant_sid = claims(&a2).1["sid"].as_str().expect("a sid").to_string();
    assert_eq!(app.admin("DELETE", &format!("/v1/admin/tenants/acme/sessions/{grant_sid}"), None).status, 204);
    assert_eq!(introspect(&app, Some(&basic(&secret)), &a2).json, json!({"active": false}));
    assert_eq!(introspect(&app, Some(&basic(&secret)), &r2).json, json!({"active": false}));
}

/// The HTML of an answer.
fn html(answer: &common::app::Answer) -> String {
    String::from_utf8_lossy(&answer.body).into_owned()
}

fn end_session(app: &TestApp, host: &str, cookie: Option<&str>, pairs: &[(&str, &str)]) -> common::app::Answer {
    let cookie = cookie.map(|t| format!("__Host-dynauth={t}"));
    let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("cookie", c.as_str())).collect();
    app.call("GET", &format!("/v1/oauth/logout?{}", query(pairs)), host, &headers, None)
}

fn session_live(app: &TestApp, token: &str) -> bool {
    let r = app.call("GET", "/v1/session", HOST, &[("authorization", &format!("Bearer {token}"))], None);
    r.status == 200
}

#[test]
fn rp_initiated_logout_checks_the_hint_and_the_way_back_before_ending_the_session() {
    let (_t, app, secret) = setup("oidc-end-session");
    let (token, access, _, id_token) = signed_in(&app, &secret);
    let refused = |r: &common::app::Answer, message: &str| {
        assert_eq!(r.status, 400, "{}", html(r));
        assert!(r.headers.get("location").is_none());
        assert!(html(r).contains(&format!("<p id=\"error\">{message}</p>")), "{}", html(r));
        assert!(session_live(&app, &token), "nothing ended");
    };
    // A post-logout URI the client did not register, or none to check it against.
    let r = end_session(
        &app,
        HOST,
        Some(&token),
        &[("id_token_hint", &id_token), ("post_logout_redirect_uri", "https://evil.test/")],
    );
    refused(&r, "the post_logout_redirect_uri is not one this application registered");
    let r = end_session(&app, HOST, Some(&token), &[("post_logout_redirect_uri", BYE)]);
    refused(&r, "a post_logout_redirect_uri needs the id_token_hint or client_id it belongs to");
    // client_id not the hint's audience; an unknown client; a hint that is not an ID token.
    let r = end_session(&app, HOST, Some(&token), &[("id_token_hint", &id_token), ("client_id", "spa")]);
    refused(&r, "client_id is not the application the id_token_hint was issued to");
    let r = end_session(&app, HOST, Some(&token), &[("client_id", "nobody")]);
    refused(&r, "this application (client_id) is not registered here");
    let r = end_session(&app, HOST, Some(&token), &[("id_token_hint", &access)]);
    refused(&r, "the id_token_hint is not an ID token this provider issued");
    // The hint of another tenant (globex's own client, on globex's host) is not one of acme's.
    let other_session = {
        let r = app.admin("POST", "/v1/admin/tenants/globex/sessions", Some(json!({"user_id": "g-1"})));
        r.json["token"].as_str().expect("a token").to_string()
    };
    let request = [
        ("response_type", "code"),
        ("client_id", "other"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("code_challenge", &challenge(VERIFIER)),
        ("code_challenge_method", "S256"),
    ];
    let globex = "auth.globex.test";
    let cookie = format!("__Host-dynauth={other_session}");
    let r = app.call("GET", &format!("/v1/oauth/authorize?{}", query(&request)), globex, &[("cookie", &cookie)], None);
    let (_, params) = location(&r);
    let c = param(&params, "code").expect("a globex code").to_string();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", c.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", "other"),
    ];
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("https://{globex}/v1/oauth/token"))
        .header("host", globex)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query(&form).into_bytes())
        .expect("a request");
    let r = app.send(request);
    assert_eq!(r.status, 200, "{}", r.json);
    let globex_id_token = r.json["id_token"].as_str().expect("an id token").to_string();
    let r = end_session(&app, HOST, Some(&token), &[("id_token_hint", &globex_id_token)]);
    refused(&r, "the id_token_hint is not an ID token this provider issued");
    // The right request, after the ID token expired (a hint need not be live): the session ends
    // at once, and back to the registered URI with state.
    app.runtime.advance(std::time::Duration::from_secs(3600));
    let r = end_session(
        &app,
        HOST,
        Some(&token),
        &[("id_token_hint", &id_token), ("post_logout_redirect_uri", BYE), ("state", "s-1")],
    );
    assert_eq!(r.status, 302, "{}", html(&r));
    assert_eq!(r.headers["location"], format!("{BYE}?state=s-1"));
    let cleared: Vec<&str> = r.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect();
    assert!(cleared.iter().any(|c| c.starts_with("__Host-dynauth=;") && c.contains("Max-Age=0")), "{cleared:?}");
    assert!(!session_live(&app, &token), "the session ended");
}

#[test]
fn logout_without_a_hint_asks_the_user_first() {
    let (_t, app, secret) = setup("oidc-end-confirm");
    let (token, access, _, _) = signed_in(&app, &secret);
    // A link from anywhere: a page asking, nothing ended.
    let r = end_session(
        &app,
        HOST,
        Some(&token),
        &[("client_id", "web"), ("post_logout_redirect_uri", BYE), ("state", "s<2>")],
    );
    assert_eq!(r.status, 200);
    let page = html(&r);
    assert!(page.contains("<form method=\"post\" action=\"/v1/oauth/logout\">"), "{page}");
    assert!(page.contains("<input type=\"hidden\" name=\"state\" value=\"s&lt;2&gt;\">"), "{page}");
    assert!(page.contains("<input type=\"hidden\" name=\"confirm\" value=\"yes\">"));
    assert!(r.headers["content-security-policy"].to_str().unwrap_or("").contains("frame-ancestors 'none'"));
    assert!(session_live(&app, &token));
    let confirm = |origin: &str| {
        let form = [("client_id", "web"), ("post_logout_redirect_uri", BYE), ("state", "s<2>"), ("confirm", "yes")];
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("https://{HOST}/v1/oauth/logout"))
            .header("host", HOST)
            .header("origin", origin)
            .header("cookie", format!("__Host-dynauth={token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(query(&form).into_bytes())
            .expect("a request");
        app.send(request)
    };
    // A foreign page posting the confirmation is refused.
    let r = confirm("https://evil.test");
    assert_eq!((r.status, r.json["error"]["code"].as_str()), (403, Some("forbidden_origin")));
    assert!(session_live(&app, &token));
    // The user confirms on the page: the session and its tokens end, back with state.
    let r = confirm(ISSUER);
    assert_eq!(r.status, 302, "{}", html(&r));
    assert_eq!(r.headers["location"], format!("{BYE}?state=s%3C2%3E"));
    assert!(!session_live(&app, &token));
    assert_eq!(userinfo(&app, &access).status, 401);
    // Without a session and without a way back: the signed-out page.
    let r = end_session(&app, HOST, None, &[]);
    assert_eq!(r.status, 200);
    assert!(html(&r).contains("<h1>You are signed out</h1>"));
}

#[test]
fn a_session_ending_tells_each_client_by_a_signed_logout_token() {
    let (_t, app, secret) = setup("oidc-backchannel");
    let sink = common::Sink::start();
    let bc = json!({"name": "BC", "type": "confidential", "redirect_uris": [REDIRECT],
        "scopes": ["openid", "email", "offline_access"], "backchannel_logout_uri": sink.url});
    let r = app.admin("PUT", "/v1/admin/tenants/acme/clients/bc", Some(bc));
    assert_eq!(r.status, 201, "{}", r.json);
    let bc_secret = r.json["client_secret"].as_str().expect("a secret").to_string();
    let token = session(&app, "u-1", "ada@acme.test");
    let sid = dynauth::values::ids::SessionId::of_token(&token);
    // The session signs in to bc twice and to web (no back-channel URI) once.
    let mut request = web_request("st");
    request[1].1 = "bc".into();
    let sign_in_to_bc = |token: &str| {
        let (_, params) = location(&authorize(&app, Some(token), &pairs(&request)));
        let c = param(&params, "code").expect("a code").to_string();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("bc:{bc_secret}")));
        assert_eq!(form_call(&app, "/v1/oauth/token", Some(&auth), &form).status, 200);
    };
    for _ in 0..2 {
        sign_in_to_bc(&token);
    }
    redeem(&app, &secret, &code(&app, &token), VERIFIER);
    assert!(sink.raw.lock().expect("the sink").is_empty());
    app.runtime.advance(std::time::Duration::from_secs(10));
    assert_eq!(app.admin("DELETE", &format!("/v1/admin/tenants/acme/sessions/{sid}"), None).status, 204);
    let sent = sink.raw.lock().expect("the sink").clone();
    assert_eq!(sent.len(), 1, "bc is told once, web never");
    let (content_type, body) = &sent[0];
    assert_eq!(content_type, "application/x-www-form-urlencoded");
    let form = dynauth::api::body::form_pairs(std::str::from_utf8(body).unwrap_or("")).unwrap_or_default();
    assert_eq!(form.len(), 1);
    assert_eq!(form[0].0, "logout_token");
    let (header, logout) = claims(&form[0].1);
    let jwks = app.call("GET", "/.well-known/jwks.json", HOST, &[], None).json;
    assert_eq!((header["typ"].as_str(), header["alg"].as_str()), (Some("logout+jwt"), Some("RS256")));
    assert_eq!(header["kid"], jwks["keys"][1]["kid"]);
    assert_eq!(logout["iss"], ISSUER);
    assert_eq!(logout["aud"], "bc");
    assert_eq!(logout["sub"], "u-1");
    assert_eq!(logout["sid"], sid.as_str());
    assert_eq!(logout["events"], json!({"http://schemas.openid.net/event/backchannel-logout": {}}));
    assert_eq!((logout["iat"].as_u64(), logout["exp"].as_u64()), (Some(T0 + 10), Some(T0 + 130)));
    assert_eq!(logout["jti"].as_str().map(str::len), Some(22));
    assert!(logout.get("nonce").is_none(), "a logout token has no nonce");
    // Ending it again (an admin retrying a DELETE whose answer it lost) tells again: delivery is
    // at least once, each token its own jti.
    assert_eq!(app.admin("DELETE", &format!("/v1/admin/tenants/acme/sessions/{sid}"), None).status, 204);
    let sent = sink.raw.lock().expect("the sink").clone();
    assert_eq!(sent.len(), 2);
    let form = dynauth::api::body::form_pairs(std::str::from_utf8(&sent[1].1).unwrap_or("")).unwrap_or_default();
    let (_, again) = claims(&form[0].1);
    assert_eq!(again["sid"], sid.as_str());
    assert_ne!(again["jti"], logout["jti"]);
    // The user's own logout tells too.
    let token = session(&app, "u-1", "ada@acme.test");
    sign_in_to_bc(&token);
    let r = app.call("POST", "/v1/logout", HOST, &[("authorization", &format!("Bearer {token}"))], None);
    assert_eq!(r.status, 204);
    let sent = sink.raw.lock().expect("the sink").clone();
    assert_eq!(sent.len(), 3);
    let form = dynauth::api::body::form_pairs(std::str::from_utf8(&sent[2].1).unwrap_or("")).unwrap_or_default();
    let (_, logout) = claims(&form[0].1);
    assert_eq!(logout["sid"], dynauth::values::ids::SessionId::of_token(&token).as_str());
}

#[test]
fn deleting_a_client_revokes_its_grants() {
    let (t, app, secret) = setup("oidc-client-delete");
    let (_, access, refresh, _) = signed_in(&app, &secret);
    let (_, access2, _, _) = signed_in(&app, &secret);
    assert_eq!(userinfo(&app, &access).status, 200);
    assert_eq!(app.admin("DELETE", "/v1/admin/tenants/acme/clients/web", None).status, 204);
    let grants = items_of(&t, "grant");
    assert_eq!(grants.len(), 2);
    assert!(grants.iter().all(|g| g.contains_key("revoked_at")), "{grants:?}");
    assert_eq!(userinfo(&app, &access).status, 401);
    assert_eq!(userinfo(&app, &access2).status, 401);
    // Registered again under the same id, the old tokens stay dead.
    let web = json!({"name": "Web", "type": "confidential", "redirect_uris": [REDIRECT],
        "scopes": ["openid", "email", "offline_access"]});
    let r = app.admin("PUT", "/v1/admin/tenants/acme/clients/web", Some(web));
    let secret = r.json["client_secret"].as_str().expect("a secret").to_string();
    assert_eq!(refresh_with(&app, &secret, &refresh).json["error"], "invalid_grant");
    assert_eq!(userinfo(&app, &access).status, 401);
}

#[test]
fn a_tenant_may_issue_refresh_tokens_without_offline_access() {
    let (_t, app, secret) = setup("oidc-refresh-always");
    let token = session(&app, "u-1", "ada@acme.test");
    let mut request = web_request("st");
    request[3].1 = "openid email".into();
    let code_of = |request: &[(&'static str, String)]| {
        let (_, params) = location(&authorize(&app, Some(&token), &pairs(request)));
        param(&params, "code").expect("a code").to_string()
    };
    let r = redeem(&app, &secret, &code_of(&request), VERIFIER);
    assert_eq!((r.status, r.json.get("refresh_token")), (200, None), "by default: only with offline_access");
    let tenant = json!({"name": "acme", "oidc": {"refresh_tokens": "always"}});
    let put = app.admin("PUT", "/v1/admin/tenants/acme", Some(tenant));
    assert_eq!((put.status, put.json["oidc"].clone()), (200, json!({"refresh_tokens": "always"})));
    let r = redeem(&app, &secret, &code_of(&request), VERIFIER);
    assert_eq!(r.status, 200, "{}", r.json);
    let refresh = r.json["refresh_token"].as_str().expect("a refresh token by the tenant's setting");
    let next = refresh_with(&app, &secret, refresh);
    assert_eq!((next.status, next.json["scope"].as_str()), (200, Some("openid email")), "{}", next.json);
}

/// The key the JWKS publishes under `kid`, for the crypto service.
fn published_key(app: &TestApp, kid: &str) -> dynauth::platform::signature::PublicKey {
    use dynauth::platform::signature::{Alg, KeyJwk, PublicKey};
    let jwks = app.call("GET", "/.well-known/jwks.json", HOST, &[], None).json;
    let key = jwks["keys"].as_array().expect("keys").iter().find(|k| k["kid"] == kid).expect("the key is published");
    let alg = Alg::of_name(key["alg"].as_str().unwrap_or_default()).expect("an algorithm");
    let member = |m: &str| key[m].as_str().map(String::from);
    let jwk = KeyJwk {
        kty: member("kty").unwrap_or_default(),
        crv: member("crv"),
        n: member("n"),
        e: member("e"),
        x: member("x"),
        y: member("y"),
        ..KeyJwk::default()
    };
    PublicKey { id: kid.into(), alg, jwk }
}

/// Whether `jwt` is signed by the key its header names, as the tenant's JWKS publishes it.
fn verifies_against_jwks(app: &TestApp, jwt: &str) -> bool {
    use dynauth::platform::signature::Crypto;
    let (header, _) = claims(jwt);
    let key = published_key(app, header["kid"].as_str().expect("a kid"));
    let (signed, signature) = jwt.rsplit_once('.').expect("a JWS");
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    block_on(dynauth::platform::native_crypto::NativeCrypto.verify(&key, signed.as_bytes(), &signature))
        .expect("verified")
}

#[test]
fn an_es256_client_gets_es256_tokens_that_verify_against_the_jwks() {
    let (t, app, _) = setup("oidc-es256");
    let body = json!({"name": "P-256", "type": "confidential", "redirect_uris": [REDIRECT],
        "id_token_signed_response_alg": "ES256", "scopes": ["openid", "email"]});
    let r = app.admin("PUT", "/v1/admin/tenants/acme/clients/p256", Some(body));
    assert_eq!((r.status, &r.json["id_token_signed_response_alg"]), (201, &json!("ES256")), "{}", r.json);
    let secret = r.json["client_secret"].as_str().expect("a secret").to_string();
    let token = session(&app, "u-1", "ada@acme.test");
    let request = [
        ("response_type", "code"),
        ("client_id", "p256"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email"),
        ("code_challenge", &challenge(VERIFIER)),
        ("code_challenge_method", "S256"),
    ];
    let (_, params) = location(&authorize(&app, Some(&token), &request));
    let c = param(&params, "code").expect("a code").to_string();
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("p256:{secret}")));
    let form =
        [("grant_type", "authorization_code"), ("code", &c), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)];
    let r = form_call(&app, "/v1/oauth/token", Some(&basic), &form);
    assert_eq!(r.status, 200, "{}", r.json);
    let (id_token, at) =
        (r.json["id_token"].as_str().expect("an id token"), r.json["access_token"].as_str().expect("at"));
    let (header, id) = claims(id_token);
    assert_eq!((header["alg"].as_str(), header["typ"].as_str()), (Some("ES256"), Some("JWT")));
    let ec = items_of(&t, "ec_key");
    assert_eq!(ec.len(), 1, "one P-256 key, stored");
    assert_eq!(Some(&dynauth::dynamo::s(header["kid"].as_str().unwrap_or_default())), ec[0].get("kid"));
    // ES256: at_hash is the left half of SHA-256; the signature is r || s (64 bytes).
    assert_eq!(id["at_hash"], URL_SAFE_NO_PAD.encode(&sha2::Sha256::digest(at.as_bytes())[..16]));
    assert_eq!(URL_SAFE_NO_PAD.decode(id_token.rsplit('.').next().unwrap_or_default()).map(|s| s.len()), Ok(64));
    assert!(verifies_against_jwks(&app, id_token) && verifies_against_jwks(&app, at));
    let mut forged = id_token.to_string();
    forged.insert(forged.find('.').expect("a JWS") + 1, 'e');
    assert!(!verifies_against_jwks(&app, &forged), "a changed token does not verify");
    assert_eq!(userinfo(&app, at).status, 200, "its access token is honoured");
}

#[test]
fn a_table_written_with_the_old_rsa_key_format_still_serves_tokens_under_the_same_kid() {
    use rsa::traits::PrivateKeyParts;
    let (t, app, secret) = setup("oidc-old-keys");
    // The table as an older dynauth left it: the tenant's RSA key, its primes sealed.
    let old = rsa::PrivateKey::new(&mut dynauth::platform::native_crypto::OsRng, 2048).expect("a key");
    let (p, q) = (old.primes()[0].to_be_bytes(), old.primes()[1].to_be_bytes());
    let db = dynauth::dynamo::Client::new(&app.config.dynamo, &app.transport, &app.runtime);
    let store = dynauth::table::store::Store::new(&db, &app.config.schema);
    let acme = dynauth::values::ids::TenantId::parse("acme").expect("an id");
    let tenant = block_on(dynauth::domain::tenants::get(&store, &acme)).expect("read").expect("the tenant");
    let master = dynauth::domain::jwt::MasterKey::new(MASTER);
    let kid = block_on(dynauth::domain::oidc::keys::store_in_old_format(
        &store,
        &master,
        &tenant,
        "1",
        &p,
        &q,
        &app.runtime,
        T0 as i64,
    ))
    .expect("stored");
    let before = items_of(&t, "rsa_key");
    assert!(before[0].contains_key("sealed") && !before[0].contains_key("private"), "the old format");
    // A new isolate (nothing cached) signs with it: the same kid, a signature the JWKS verifies.
    let token = session(&app, "u-1", "ada@acme.test");
    let r = redeem(&app, &secret, &code(&app, &token), VERIFIER);
    assert_eq!(r.status, 200, "{}", r.json);
    let id_token = r.json["id_token"].as_str().expect("an id token");
    let (header, _) = claims(id_token);
    assert_eq!((header["alg"].as_str(), header["kid"].as_str()), (Some("RS256"), Some(kid.as_str())));
    assert!(verifies_against_jwks(&app, id_token));
    let jwks = app.call("GET", "/.well-known/jwks.json", HOST, &[], None).json;
    assert_eq!(jwks["keys"][1]["kid"], kid, "the JWKS publishes the same key");
    // Converted once, in its item: the private key sealed in the new format beside the primes
    // (kept for a rollback to the dynauth that wrote them).
    let after = items_of(&t, "rsa_key");
    assert_eq!(after.len(), 1);
    assert!(after[0].contains_key("private"), "converted");
    assert_eq!(after[0].get("sealed"), before[0].get("sealed"), "the primes as they were");
    assert_eq!((after[0].get("kid"), after[0].get("n")), (before[0].get("kid"), before[0].get("n")));
    // Read in the new format by another isolate: still the same key.
    let fresh = App::new(t.name(), manual_runtime(T0), &[("JWT_MASTER_KEY", MASTER)]);
    let r = redeem(&fresh, &secret, &code(&fresh, &token), VERIFIER);
    let id_token = r.json["id_token"].as_str().expect("an id token");
    assert_eq!(claims(id_token).0["kid"], kid);
    assert!(verifies_against_jwks(&fresh, id_token));
}

#[test]
fn isolates_making_a_tenants_first_keys_at_once_make_one_of_each_and_publish_the_same() {
    // Eight fresh isolates (no cache) ask for the JWKS of a tenant with no stored key yet, all at
    // once: each generates, one create wins per kind, the others read the winner's.
    let (t, _app, _) = setup("oidc-first-keys");
    let table = t.name().to_string();
    let answers: Vec<Value> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..8)
            .map(|_| {
                let table = table.clone();
                scope.spawn(move || {
                    let app = App::new(&table, manual_runtime(T0), &[("JWT_MASTER_KEY", MASTER)]);
                    let r = app.call("GET", "/.well-known/jwks.json", HOST, &[], None);
                    assert_eq!(r.status, 200, "{}", r.json);
                    r.json
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().expect("a run")).collect()
    });
    assert_eq!((items_of(&t, "rsa_key").len(), items_of(&t, "ec_key").len()), (1, 1));
    assert_eq!(answers[0]["keys"].as_array().map(Vec::len), Some(3));
    assert!(answers.iter().all(|a| *a == answers[0]), "every isolate publishes the winners' keys");
}
