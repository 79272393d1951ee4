//! What browsers see, at the HTTP level, against DynamoDB Local: CORS headers (exact), preflights,
//! refused origins, the CSRF check of logout and verify, and the hosted login page (security
//! headers, branding, no open redirect).

#![allow(clippy::expect_used)] // a test's own setup may panic: it is the test failing

mod common;

use serde_json::json;

use common::app::App;
use common::{Sink, TestTable, manual_runtime};

const T0: u64 = 1_800_000_000;
const HOST: &str = "auth.acme.test";
const APP: &str = "https://app.acme.test";

type TestApp = App<dynauth::testing::fakes::ManualRuntime>;

fn setup(prefix: &str) -> (TestTable, TestApp, Sink) {
    let t = TestTable::new(prefix);
    let sink = Sink::start();
    let secret = "whsec-browser-tests-0123456789abcdef";
    let app =
        App::new(t.name(), manual_runtime(T0), &[("CODE_WEBHOOK_URL", &sink.url), ("CODE_WEBHOOK_SECRET", secret)]);
    let tenant = json!({"name": "Acme <Corp> & \"Co\"", "allowed_origins": [APP, "http://localhost:3000"]});
    app.tenant_on("acme", tenant, HOST);
    (t, app, sink)
}

/// Every header of a response as `name: value` lines (sorted), for exact comparisons.
fn header_lines(headers: &http::HeaderMap, names: &[&str]) -> Vec<String> {
    let mut lines: Vec<String> = names
        .iter()
        .flat_map(|n| headers.get_all(*n).iter().map(move |v| format!("{n}: {}", v.to_str().unwrap_or(""))))
        .collect();
    lines.sort();
    lines
}

const CORS: &[&str] = &[
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
    "access-control-expose-headers",
    "vary",
];

fn mint(app: &TestApp) -> String {
    let r = app.admin("POST", "/v1/admin/tenants/acme/sessions", Some(json!({"user_id": "u-1"})));
    r.json["token"].as_str().unwrap_or_default().to_string()
}

#[test]
fn allowed_origins_get_exact_cors_headers_on_every_answer() {
    let (_t, app, _sink) = setup("cors");
    let token = mint(&app);
    let cookie = format!("__Host-dynauth={token}");
    let ok = app.call("GET", "/v1/session", HOST, &[("origin", APP), ("cookie", &cookie)], None);
    assert_eq!(ok.status, 200);
    assert_eq!(
        header_lines(&ok.headers, CORS),
        vec![
            "access-control-allow-credentials: true".to_string(),
            format!("access-control-allow-origin: {APP}"),
            "access-control-expose-headers: Retry-After".to_string(),
            "vary: Origin".to_string(),
        ]
    );
    // Errors too, so the page can read them.
    let denied = app.call("GET", "/v1/session", HOST, &[("origin", "http://localhost:3000")], None);
    assert_eq!(denied.status, 401);
    assert_eq!(denied.headers["access-control-allow-origin"], "http://localhost:3000");
    // Other origins, and same-origin requests, get none.
    for origin in ["https://evil.test", "https://auth.acme.test", "null"] {
        let r = app.call("GET", "/v1/session", HOST, &[("origin", origin), ("cookie", &cookie)], None);
        assert_eq!(r.status, 200, "{origin}: the answer itself is unchanged");
        assert_eq!(header_lines(&r.headers, CORS), Vec::<String>::new(), "{origin}");
    }
    // The admin API is for backends: no CORS.
    let admin = app.call("GET", "/v1/admin/tenants", "admin.dynauth.test", &[("origin", APP)], None);
    assert_eq!(header_lines(&admin.headers, CORS), Vec::<String>::new());
}

#[test]
fn preflights_are_204_for_allowed_origins_and_403_otherwise() {
    let (_t, app, _sink) = setup("preflight");
    let pre = |origin: &str, path: &str| {
        app.call(
            "OPTIONS",
            path,
            HOST,
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type"),
            ],
            None,
        )
    };
    let ok = pre(APP, "/v1/login/verify");
    assert_eq!(ok.status, 204);
    assert_eq!(
        header_lines(&ok.headers, CORS),
        vec![
            "access-control-allow-credentials: true".to_string(),
            "access-control-allow-headers: authorization, content-type".to_string(),
            "access-control-allow-methods: POST".to_string(),
            format!("access-control-allow-origin: {APP}"),
            "access-control-expose-headers: Retry-After".to_string(),
            "access-control-max-age: 600".to_string(),
            "vary: Origin".to_string(),
        ]
    );
    assert_eq!(pre(APP, "/v1/session").headers["access-control-allow-methods"], "GET");
    let bad = pre("https://evil.test", "/v1/logout");
    assert_eq!(bad.status, 403);
    assert_eq!(bad.json["error"]["code"], "forbidden_origin");
    assert_eq!(header_lines(&bad.headers, CORS), Vec::<String>::new());
    let plain = app.call("OPTIONS", "/v1/session", HOST, &[], None);
    assert_eq!((plain.status, plain.headers["allow"].to_str().unwrap_or("")), (204, "GET"));
}

#[test]
fn cookie_requests_that_change_state_need_a_trusted_origin() {
    let (_t, app, sink) = setup("csrf");
    let token = mint(&app);
    let cookie = format!("__Host-dynauth={token}");
    let forbidden = json!({"error": {"code": "forbidden_origin", "message": "requests from this origin are not allowed; add it to the tenant's allowed_origins"}});
    for headers in
        [vec![("origin", "https://evil.test")], vec![("referer", "https://evil.test/page")], vec![("origin", "null")]]
    {
        let mut h = headers.clone();
        h.push(("cookie", &cookie));
        let r = app.call("POST", "/v1/logout", HOST, &h, None);
        assert_eq!((r.status, r.json.clone()), (403, forbidden.clone()), "{headers:?}");
    }
    assert_eq!(app.call("GET", "/v1/session", HOST, &[("cookie", &cookie)], None).status, 200, "the session survived");
    // A bearer-token request is not a CSRF risk.
    let bearer = format!("Bearer {token}");
    let r = app.call("POST", "/v1/logout", HOST, &[("origin", "https://evil.test"), ("authorization", &bearer)], None);
    assert_eq!(r.status, 204);
    let token = mint(&app);
    let cookie = format!("__Host-dynauth={token}");
    for origin in [APP, "https://auth.acme.test"] {
        let r = app.call("POST", "/v1/logout", HOST, &[("origin", origin), ("cookie", &cookie)], None);
        assert_eq!(r.status, 204, "{origin}");
    }
    let r = app.call(
        "POST",
        "/v1/logout",
        HOST,
        &[("referer", "https://app.acme.test/account"), ("cookie", &cookie)],
        None,
    );
    assert_eq!(r.status, 204, "a trusted Referer when there is no Origin");

    // Verify sets the cookie: the same rule.
    let start = app.call("POST", "/v1/login/start", HOST, &[("origin", APP)], Some(json!({"email": "a@example.com"})));
    assert_eq!(start.status, 202, "{}", start.json);
    assert_eq!(start.headers["access-control-allow-origin"], APP);
    // The login's binding, as the browser keeps it: an HttpOnly cookie.
    let binding = start
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("__Host-dynauth-login="))
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_string();
    let binding_cookie = format!("__Host-dynauth-login={binding}");
    let (id, code) = sink.last_code();
    let evil = app.call(
        "POST",
        "/v1/login/verify",
        HOST,
        &[("origin", "https://evil.test"), ("cookie", &binding_cookie)],
        Some(json!({"login_id": id, "code": code})),
    );
    assert_eq!((evil.status, evil.json.clone()), (403, forbidden));
    let ok = app.call(
        "POST",
        "/v1/login/verify",
        HOST,
        &[("origin", APP), ("cookie", &binding_cookie)],
        Some(json!({"login_id": id, "code": code})),
    );
    assert_eq!(ok.status, 200, "the refused attempt did not spend the code");
    assert_eq!(ok.headers["access-control-allow-origin"], APP);
    assert_eq!(ok.json.get("token"), None, "a page script never sees the token");
    assert!(ok.headers["set-cookie"].to_str().unwrap_or("").contains("HttpOnly"));
}

#[test]
fn the_login_page_is_branded_strict_and_never_an_open_redirect() {
    let (_t, app, _sink) = setup("page");
    let page = |query: &str| {
        let r = app.call("GET", &format!("/login{query}"), HOST, &[], None);
        assert_eq!(r.status, 200);
        r
    };
    let r = page("?return_to=%2Fdashboard");
    let body = String::from_utf8_lossy(&r.body).into_owned();
    assert_eq!(r.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_eq!(r.headers["referrer-policy"], "no-referrer");
    assert_eq!(r.headers["x-frame-options"], "DENY");
    assert_eq!(r.headers["cache-control"], "no-store");
    let csp = r.headers["content-security-policy"].to_str().unwrap_or("").to_string();
    assert!(csp.starts_with("default-src 'none'; script-src 'nonce-"), "{csp}");
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("connect-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let nonce = csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).unwrap_or_default().to_string();
    assert!(nonce.len() >= 22);
    assert!(body.contains(&format!("<script nonce=\"{nonce}\">")), "the script carries the nonce");
    assert!(body.contains(&format!("<style nonce=\"{nonce}\">")), "and the style");
    assert!(body.contains("Sign in to Acme &lt;Corp&gt; &amp; &quot;Co&quot;"), "branded, escaped");
    assert!(!body.contains("<Corp>"));
    assert!(body.contains(r#"data-return-to="/dashboard""#));
    assert!(!body.contains("http://") && !body.contains("https://"), "no third-party assets");
    assert_ne!(
        page("").headers["content-security-policy"],
        r.headers["content-security-policy"],
        "a fresh nonce per page"
    );

    for (query, want) in [
        ("?return_to=https%3A%2F%2Fevil.test%2F", "/"),
        ("?return_to=%2F%2Fevil.test", "/"),
        ("?return_to=javascript%3Aalert(1)", "/"),
        ("?return_to=https%3A%2F%2Fapp.acme.test%2Fafter", "https://app.acme.test/after"),
        ("", "/"),
    ] {
        let html = String::from_utf8_lossy(&page(query).body).into_owned();
        assert!(html.contains(&format!("data-return-to=\"{want}\"")), "{query} -> {want}");
    }
    assert_eq!(app.call("POST", "/login", HOST, &[], None).status, 405);
    assert_eq!(app.call("GET", "/login", "unknown.example.test", &[], None).status, 404);
}

#[test]
fn the_login_page_carries_the_tenants_logo_and_accent_colour_and_nothing_else() {
    let (_t, app, _sink) = setup("page-branding");
    let page = || {
        let r = app.call("GET", "/login", HOST, &[], None);
        assert_eq!(r.status, 200);
        let csp = r.headers["content-security-policy"].to_str().unwrap_or("").to_string();
        (String::from_utf8_lossy(&r.body).into_owned(), csp)
    };
    let (plain, csp) = page();
    assert!(csp.contains("; img-src 'self'; "), "{csp}");
    assert!(plain.contains("--accent: #2f5bd3;") && !plain.contains("<img"), "the default look");
    let branded = json!({"name": "Acme", "branding": {"logo_url": "https://cdn.acme.test/brand/logo.svg",
        "accent_color": "#FF6600"}});
    let r = app.admin("PUT", "/v1/admin/tenants/acme", Some(branded));
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        r.json["branding"],
        json!({"logo_url": "https://cdn.acme.test/brand/logo.svg", "accent_color": "#ff6600"})
    );
    let (html, csp) = page();
    assert!(
        html.contains(r#"<img id="logo" src="https://cdn.acme.test/brand/logo.svg" alt="" height="48">"#),
        "{html}"
    );
    assert!(html.contains("--accent: #ff6600;"));
    assert!(csp.contains("; img-src 'self' https://cdn.acme.test; "), "images from the logo's origin only: {csp}");
    // Only #rrggbb reaches the style sheet; only an https logo the page.
    for (branding, message) in [
        (json!({"accent_color": "red; } body { display: none"}), "branding.accent_color: must be a colour as #rrggbb"),
        (json!({"logo_url": "javascript:alert(1)"}), "branding.logo_url: must start with https:// (or http://)"),
        (
            json!({"logo_url": "https://cdn.acme.test/l.svg?\"><script>"}),
            "branding.logo_url: a base URL has no query, fragment or user",
        ),
        (
            json!({"logo_url": "http://cdn.acme.test/logo.png"}),
            "branding.logo_url: must be https:// (http:// only for localhost and 127.0.0.1)",
        ),
    ] {
        let r = app.admin("PUT", "/v1/admin/tenants/acme", Some(json!({"name": "Acme", "branding": branding})));
        assert_eq!((r.status, r.json["error"]["message"].as_str()), (400, Some(message)), "{}", r.json);
    }
    assert!(page().0.contains("--accent: #ff6600;"), "a refused change changes nothing");
    // A hint is shown as given, never filled in as a placeholder (the nonce stays in the header).
    let r = app.call("GET", "/login?login_hint=%7B%7Bnonce%7D%7D", HOST, &[], None);
    assert!(String::from_utf8_lossy(&r.body).contains(r#"value="{{nonce}}""#));
}

#[test]
fn json_answers_are_nosniff_no_store_and_https_answers_carry_hsts() {
    let (_t, app, _sink) = setup("headers");
    let token = mint(&app);
    let lines = |r: &common::app::Answer| {
        header_lines(&r.headers, &["cache-control", "x-content-type-options", "strict-transport-security"])
    };
    let expected = vec![
        "cache-control: no-store".to_string(),
        "strict-transport-security: max-age=31536000".to_string(),
        "x-content-type-options: nosniff".to_string(),
    ];
    let ok = app.call("GET", "/v1/session", HOST, &[("authorization", &format!("Bearer {token}"))], None);
    assert_eq!((ok.status, lines(&ok)), (200, expected.clone()));
    let denied = app.call("GET", "/v1/session", HOST, &[], None);
    assert_eq!((denied.status, lines(&denied)), (401, expected.clone()));
    let start = app.call("POST", "/v1/login/start", HOST, &[], Some(json!({"email": "nia@example.com"})));
    assert_eq!((start.status, lines(&start)), (202, expected));
    // Plain http (local development): no HSTS.
    let local = app.call("GET", "/v1/session", "localhost:8787", &[], None);
    assert_eq!(
        lines(&local),
        vec!["cache-control: no-store".to_string(), "x-content-type-options: nosniff".to_string()]
    );
}
