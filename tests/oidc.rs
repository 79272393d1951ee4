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
use dynauth::platform::testing::ManualRuntime;

const T0: u64 = 1_800_000_000;
const HOST: &str = "auth.acme.test";
const ISSUER: &str = "https://auth.acme.test";
const REDIRECT: &str = "https://app.acme.test/cb";
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
        assert_eq!(app.admin("PUT", &format!("/v1/admin/tenants/{tenant}"), Some(json!({"name": tenant}))).status, 201);
        let path = format!("/v1/admin/tenants/{tenant}/domains/{host}");
        assert_eq!(app.admin("PUT", &path, Some(json!({"status": "ready"}))).status, 201);
    }
    let web = json!({"name": "Web", "type": "confidential", "redirect_uris": [REDIRECT],
        "scopes": ["openid", "email", "offline_access"]});
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
    let (t, app, _) = setup("oidc-discovery");
    let d = app.call("GET", "/.well-known/openid-configuration", HOST, &[], None);
    assert_eq!(d.status, 200);
    assert_eq!(d.json["issuer"], ISSUER);
    assert_eq!(d.json["authorization_endpoint"], format!("{ISSUER}/v1/oauth/authorize"));
    assert_eq!(d.json["token_endpoint"], format!("{ISSUER}/v1/oauth/token"));
    assert_eq!(d.json["userinfo_endpoint"], format!("{ISSUER}/v1/oauth/userinfo"));
    assert_eq!(d.json["response_types_supported"], json!(["code"]));
    assert_eq!(d.json["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d.json["id_token_signing_alg_values_supported"], json!(["RS256", "EdDSA"]));
    assert_eq!(d.json["authorization_response_iss_parameter_supported"], true);
    let k = app.call("GET", "/.well-known/jwks.json", HOST, &[], None);
    assert_eq!(k.status, 200);
    let kinds: Vec<(String, String)> = k.json["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| (k["kty"].as_str().unwrap_or("").into(), k["alg"].as_str().unwrap_or("").into()))
        .collect();
    assert_eq!(kinds, vec![("OKP".into(), "EdDSA".into()), ("RSA".into(), "RS256".into())]);
    let rsa = &k.json["keys"][1];
    assert_eq!((rsa["e"].as_str(), rsa["n"].as_str().map(str::len)), (Some("AQAB"), Some(342)), "2048 bits");
    // The RSA key is stored once, its private half sealed; read again, the same key.
    let stored = items_of(&t, "rsa_key");
    assert_eq!(stored.len(), 1);
    let again = app.call("GET", "/.well-known/jwks.json", HOST, &[], None);
    assert_eq!(again.json, k.json);
    // Another isolate (no cache) reads the same key instead of making one.
    let fresh = App::new(t.name(), manual_runtime(T0), &[("JWT_MASTER_KEY", MASTER)]);
    assert_eq!(fresh.call("GET", "/.well-known/jwks.json", HOST, &[], None).json, k.json);
    assert_eq!(items_of(&t, "rsa_key").len(), 1);
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
    let (_t, app, _) = setup("oidc-fresh");
    let token = session(&app, "u-1", "ada@acme.test");
    app.runtime.advance(std::time::Duration::from_secs(600));
    for (name, value) in [("prompt", "login"), ("max_age", "300")] {
        let mut request = web_request("s");
        request.push((name, value.into()));
        let r = authorize(&app, Some(&token), &pairs(&request));
        let (base, params) = location(&r);
        assert_eq!(base, "/login", "{name}: the 10-minute-old session is not enough");
        let return_to = param(&params, "return_to").expect("return_to").to_string();
        assert!(return_to.contains(&format!("dynauth_after={}", T0 + 600)) && !return_to.contains(name), "{return_to}");
        // Back with the old session: still not enough. With a new one: the code.
        let old = app.call("GET", &return_to, HOST, &[("cookie", &format!("__Host-dynauth={token}"))], None);
        assert_eq!(location(&old).0, "/login", "{name}");
        let fresh = session(&app, "u-1", "ada@acme.test");
        let new = app.call("GET", &return_to, HOST, &[("cookie", &format!("__Host-dynauth={fresh}"))], None);
        assert!(param(&location(&new).1, "code").is_some(), "{name}");
    }
    // max_age the session satisfies: a code at once.
    let mut request = web_request("s");
    request.push(("max_age", "3600".into()));
    assert!(param(&location(&authorize(&app, Some(&token), &pairs(&request))).1, "code").is_some());
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
    assert_eq!(access["aud"], "acme");
    assert_eq!(access["sub"], "u-1");
    assert_eq!(access["jti"].as_str().map(str::len), Some(22));
    let info = userinfo(&app, access_token);
    assert_eq!(info.status, 200, "{}", info.json);
    assert_eq!(info.json, json!({"sub": "u-1", "email": "ada@acme.test", "email_verified": true}));
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

#[test]
fn concurrent_redemptions_of_one_code_give_tokens_once_and_revoke_them() {
    let (t, app, secret) = setup("oidc-race");
    let token = session(&app, "u-1", "ada@acme.test");
    let c = code(&app, &token);
    let answers: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (name, c, secret) = (t.name().to_string(), c.clone(), secret.clone());
                s.spawn(move || {
                    let app: TestApp = App::new(&name, manual_runtime(T0 + 1), &[("JWT_MASTER_KEY", MASTER)]);
                    let r = redeem(&app, &secret, &c, VERIFIER);
                    (r.status, r.json)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a thread")).collect()
    });
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
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(items_of(&t, "grant").len(), 1, "nothing was written");
    assert_eq!(redeem(&app, &secret, &c, VERIFIER).status, 200, "and the code redeems afterwards");
}
