//! A tenant's OpenID Connect clients through the admin API, against DynamoDB Local: registration
//! with exact bodies, a confidential client's secret (shown once, only its hash stored, rotated
//! with an overlap), the rules of a registration, and clients belonging to one tenant and one
//! incarnation of it.

#![allow(clippy::expect_used)] // a test's own setup may panic: it is the test failing

mod common;

use dynauth::domain::tenants::clients::Client;
use serde_json::{Value, json};

use common::app::App;
use common::{TestTable, manual_runtime, scan_all};

const T0: u64 = 1_800_000_000; // 2027-01-15T08:00:00Z

fn app(table: &TestTable) -> App<dynauth::testing::fakes::ManualRuntime> {
    let app = App::new(table.name(), manual_runtime(T0), &[]);
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme", Some(json!({"name": "Acme"}))).status, 201);
    app
}

fn spa() -> Value {
    json!({
        "name": "Acme SPA",
        "type": "public",
        "redirect_uris": ["https://app.acme.test/callback", "http://127.0.0.1/cb", "https://app.acme.test/callback"],
    })
}

/// The stored client items (the whole table scanned), as clients.
fn stored(table: &TestTable) -> Vec<(dynauth::dynamo::Item, Client)> {
    scan_all(table.name())
        .into_iter()
        .filter(|item| item.get("type") == Some(&dynauth::dynamo::s("client")))
        .map(|item| (item.clone(), dynauth::dynamo::from_item::<Client>(item).expect("a stored client")))
        .collect()
}

#[test]
fn clients_are_registered_shown_replaced_listed_and_deleted_with_exact_bodies() {
    let t = TestTable::new("clients");
    let app = app(&t);
    let created = app.admin("PUT", "/v1/admin/tenants/acme/clients/spa", Some(spa()));
    assert_eq!(created.status, 201, "{:?}", created.json);
    let expected = json!({
        "client_id": "spa",
        "name": "Acme SPA",
        "type": "public",
        "redirect_uris": ["https://app.acme.test/callback", "http://127.0.0.1/cb"],
        "post_logout_redirect_uris": [],
        "scopes": ["openid", "email"],
        "backchannel_logout_uri": null,
        "id_token_signed_response_alg": "RS256",
        "secrets_valid": 0,
        "created_at": "2027-01-15T08:00:00Z",
        "updated_at": "2027-01-15T08:00:00Z",
    });
    assert_eq!(created.json, expected, "duplicates removed, defaults applied, no secret for a public client");
    assert_eq!(app.admin("GET", "/v1/admin/tenants/acme/clients/spa", None).json, expected);

    app.runtime.advance(std::time::Duration::from_secs(60));
    let mut changed = spa();
    changed["scopes"] = json!(["openid", "profile", "offline_access", "profile"]);
    changed["post_logout_redirect_uris"] = json!(["https://app.acme.test/bye"]);
    changed["id_token_signed_response_alg"] = json!("EdDSA");
    let replaced = app.admin("PUT", "/v1/admin/tenants/acme/clients/spa", Some(changed));
    assert_eq!(replaced.status, 200, "{:?}", replaced.json);
    assert_eq!(replaced.json["scopes"], json!(["openid", "profile", "offline_access"]));
    assert_eq!(replaced.json["post_logout_redirect_uris"], json!(["https://app.acme.test/bye"]));
    assert_eq!(replaced.json["id_token_signed_response_alg"], "EdDSA");
    assert_eq!(
        (replaced.json["created_at"].as_str(), replaced.json["updated_at"].as_str()),
        (Some("2027-01-15T08:00:00Z"), Some("2027-01-15T08:01:00Z"))
    );
    let versions: Vec<i64> = stored(&t).iter().map(|(_, c)| c.version).collect();
    assert_eq!(versions, vec![2], "one item, written twice");

    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme/clients/web.2", Some(spa())).status, 201);
    let listed = app.admin("GET", "/v1/admin/tenants/acme/clients?limit=1", None);
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json["clients"].as_array().map(|c| c.len()), Some(1));
    assert_eq!(listed.json["clients"][0]["client_id"], "spa", "in client-id order");
    let cursor = listed.json["next_cursor"].as_str().expect("a second page").to_string();
    let second = app.admin("GET", &format!("/v1/admin/tenants/acme/clients?limit=1&cursor={cursor}"), None);
    assert_eq!(second.json["clients"][0]["client_id"], "web.2");
    // A cursor is bound to its list: another tenant's clients, or the tenants, refuse it.
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/globex", Some(json!({"name": "Globex"}))).status, 201);
    let foreign = app.admin("GET", &format!("/v1/admin/tenants/globex/clients?cursor={cursor}"), None);
    assert_eq!((foreign.status, foreign.json["error"]["code"].as_str()), (400, Some("invalid_cursor")));

    assert_eq!(app.admin("DELETE", "/v1/admin/tenants/acme/clients/spa", None).status, 204);
    let gone = app.admin("GET", "/v1/admin/tenants/acme/clients/spa", None);
    assert_eq!((gone.status, gone.json["error"]["message"].as_str()), (404, Some("no client with this id")));
    assert_eq!(app.admin("DELETE", "/v1/admin/tenants/acme/clients/spa", None).status, 404);
    assert_eq!(stored(&t).len(), 1, "only web.2 is left");
    // No tenant, no clients.
    assert_eq!(app.admin("GET", "/v1/admin/tenants/nobody/clients", None).status, 404);
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/nobody/clients/spa", Some(spa())).status, 404);
}

#[test]
fn a_confidential_clients_secret_is_shown_once_stored_as_a_hash_and_rotated_with_an_overlap() {
    let t = TestTable::new("clients");
    let app = app(&t);
    let mut body = spa();
    body["type"] = json!("confidential");
    let created = app.admin("PUT", "/v1/admin/tenants/acme/clients/server", Some(body.clone()));
    assert_eq!((created.status, created.json["secrets_valid"].as_u64()), (201, Some(1)), "{:?}", created.json);
    let first = created.json["client_secret"].as_str().expect("the secret, this once").to_string();
    assert!(first.len() == 43 && first.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let shown = app.admin("GET", "/v1/admin/tenants/acme/clients/server", None);
    assert_eq!((shown.json.get("client_secret"), shown.json["secrets_valid"].as_u64()), (None, Some(1)));

    // Stored: its SHA-256 only; the secret itself is nowhere in the table.
    let everything = format!("{:?}", scan_all(t.name()));
    assert!(!everything.contains(&first), "the secret is not stored");
    let [(_, client)] = &stored(&t)[..] else { panic!("one client") };
    assert_eq!(client.secret_hashes, vec![dynauth::platform::crypto::hash_b64(first.as_bytes())]);
    assert!(client.secret_matches(&first));
    assert!(!client.secret_matches("not-the-secret"));

    // A replace keeps the secret (and shows none).
    let replaced = app.admin("PUT", "/v1/admin/tenants/acme/clients/server", Some(body.clone()));
    assert_eq!((replaced.status, replaced.json.get("client_secret")), (200, None));
    assert!(stored(&t)[0].1.secret_matches(&first));

    // Rotation: the new secret shown once, both valid; ending the overlap leaves the new one.
    let rotated = app.admin("POST", "/v1/admin/tenants/acme/clients/server/secret", None);
    assert_eq!((rotated.status, rotated.json["valid"].as_u64()), (200, Some(2)), "{:?}", rotated.json);
    let second = rotated.json["client_secret"].as_str().expect("the new secret").to_string();
    assert_ne!(second, first);
    let client = &stored(&t)[0].1;
    assert!(client.secret_matches(&first) && client.secret_matches(&second), "both during the overlap");
    let third = app.admin("POST", "/v1/admin/tenants/acme/clients/server/secret", None);
    let third = third.json["client_secret"].as_str().expect("a third secret").to_string();
    let client = &stored(&t)[0].1;
    assert_eq!(client.secret_hashes.len(), 2, "the newest two");
    assert!(!client.secret_matches(&first) && client.secret_matches(&second) && client.secret_matches(&third));
    let ended = app.admin("DELETE", "/v1/admin/tenants/acme/clients/server/secret/previous", None);
    assert_eq!((ended.status, ended.json.get("client_secret"), ended.json["valid"].as_u64()), (200, None, Some(1)));
    let client = &stored(&t)[0].1;
    assert!(!client.secret_matches(&second) && client.secret_matches(&third));

    // Made public it has no secret; made confidential again, a new one.
    let public = app.admin("PUT", "/v1/admin/tenants/acme/clients/server", Some(spa()));
    assert_eq!((public.status, public.json["secrets_valid"].as_u64()), (200, Some(0)));
    let none = app.admin("POST", "/v1/admin/tenants/acme/clients/server/secret", None);
    assert_eq!((none.status, none.json["error"]["message"].as_str()), (404, Some("a public client has no secret")));
    let again = app.admin("PUT", "/v1/admin/tenants/acme/clients/server", Some(body));
    let fourth = again.json["client_secret"].as_str().expect("a new secret").to_string();
    assert!(stored(&t)[0].1.secret_matches(&fourth) && !stored(&t)[0].1.secret_matches(&third));
}

#[test]
fn a_registration_breaking_a_rule_is_a_named_400_and_nothing_is_written() {
    let t = TestTable::new("clients");
    let app = app(&t);
    let with = |field: &str, value: Value| {
        let mut b = spa();
        b[field] = value;
        b
    };
    let cases = [
        (with("name", json!("")), "name: must be 1-100 characters without control characters"),
        (with("type", json!("native")), "type: must be one of public, confidential"),
        (with("redirect_uris", json!([])), "redirect_uris: must list 1 to 20 URIs"),
        (
            with("redirect_uris", json!(["http://app.acme.test/cb"])),
            "redirect_uris[0]: http:// redirect URIs are for localhost and 127.0.0.1 only (native apps)",
        ),
        (
            with("redirect_uris", json!(["https://app.acme.test/cb#x"])),
            "redirect_uris[0]: a redirect URI has no fragment",
        ),
        (
            with("redirect_uris", json!(["https://*.acme.test/cb"])),
            "redirect_uris[0]: a redirect URI is exact: no wildcards",
        ),
        (
            with("redirect_uris", json!((0..21).map(|i| format!("https://app.acme.test/{i}")).collect::<Vec<_>>())),
            "redirect_uris: must list 1 to 20 URIs",
        ),
        (with("scopes", json!(["email"])), "scopes: must include openid"),
        (
            with("scopes", json!(["openid", "admin"])),
            "scopes[1]: must be one of openid, email, profile, offline_access",
        ),
        (
            with("backchannel_logout_uri", json!("ftp://app.acme.test/logout")),
            "backchannel_logout_uri: must start with https:// (or http://)",
        ),
        (
            with("id_token_signed_response_alg", json!("HS256")),
            "id_token_signed_response_alg: must be one of RS256, ES256, EdDSA",
        ),
    ];
    for (body, message) in cases {
        let r = app.admin("PUT", "/v1/admin/tenants/acme/clients/spa", Some(body.clone()));
        assert_eq!(
            (r.status, r.json["error"]["code"].as_str(), r.json["error"]["message"].as_str()),
            (400, Some("invalid_request"), Some(message)),
            "{body}"
        );
    }
    let unknown = app.admin("PUT", "/v1/admin/tenants/acme/clients/spa", Some(with("client_secret", json!("mine"))));
    assert_eq!((unknown.status, unknown.json["error"]["code"].as_str()), (400, Some("unknown_fields")));
    let bad_id = app.admin("PUT", "/v1/admin/tenants/acme/clients/-spa", Some(spa()));
    assert_eq!(
        (bad_id.status, bad_id.json["error"]["message"].as_str()),
        (400, Some("client_id: a client id is 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit"))
    );
    assert!(stored(&t).is_empty(), "nothing written");
}

#[test]
fn a_client_belongs_to_its_tenant_and_to_that_incarnation_of_it() {
    let t = TestTable::new("clients");
    let app = app(&t);
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/globex", Some(json!({"name": "Globex"}))).status, 201);
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme/clients/spa", Some(spa())).status, 201);
    assert_eq!(app.admin("GET", "/v1/admin/tenants/globex/clients/spa", None).status, 404);
    assert_eq!(app.admin("GET", "/v1/admin/tenants/globex/clients", None).json["clients"], json!([]));
    assert_eq!(app.admin("DELETE", "/v1/admin/tenants/globex/clients/spa", None).status, 404);

    // The tenant deleted and made again: the old clients are not its own.
    assert_eq!(app.admin("DELETE", "/v1/admin/tenants/acme", None).status, 204);
    assert_eq!(app.admin("PUT", "/v1/admin/tenants/acme", Some(json!({"name": "Acme again"}))).status, 201);
    assert_eq!(app.admin("GET", "/v1/admin/tenants/acme/clients/spa", None).status, 404);
    assert_eq!(app.admin("GET", "/v1/admin/tenants/acme/clients", None).json["clients"], json!([]));
    assert_eq!(app.admin("DELETE", "/v1/admin/tenants/acme/clients/spa", None).status, 404);
    // Registering the id again takes the place of the old item.
    let again = app.admin("PUT", "/v1/admin/tenants/acme/clients/spa", Some(spa()));
    assert_eq!((again.status, again.json["name"].as_str()), (201, Some("Acme SPA")));
    assert_eq!(stored(&t).len(), 1);
}

#[test]
fn concurrent_registrations_of_one_client_lose_no_write_and_create_it_once() {
    let t = TestTable::new("clients");
    drop(app(&t));
    let name = t.name().to_string();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let name = name.clone();
                scope.spawn(move || {
                    let app = App::new(&name, manual_runtime(T0), &[]);
                    let mut body = spa();
                    body["name"] = json!(format!("writer {i}"));
                    app.admin("PUT", "/v1/admin/tenants/acme/clients/spa", Some(body)).status
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().expect("a writer")).collect()
    });
    assert!(statuses.iter().all(|s| matches!(s, 200 | 201 | 409)), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "created once: {statuses:?}");
    let applied = statuses.iter().filter(|s| matches!(s, 200 | 201)).count();
    let [(_, client)] = &stored(&t)[..] else { panic!("one client") };
    assert_eq!(
        client.version,
        i64::try_from(applied).expect("small"),
        "every answered write applied once: {statuses:?}"
    );
}
