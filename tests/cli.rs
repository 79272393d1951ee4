//! The `dynauth` CLI against DynamoDB Local: table create/check, tenants and domains, exit codes.

#![allow(clippy::expect_used)] // a test's own setup may panic: it is the test failing

mod common;

use std::process::Command;

use serde_json::{Value, json};

use common::{dynamodb_endpoint, unique_name};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or(Value::Null)
    }
}

fn dynauth(table: &str, args: &[&str]) -> Run {
    run(&mut command(table, args))
}

/// Runs a prepared `dynauth` command to its end.
fn run(command: &mut Command) -> Run {
    let out = command.output().unwrap_or_else(|e| panic!("running dynauth: {e}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn command(table: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dynauth"));
    command
        .args(args)
        .env("DYNAMODB_ENDPOINT", dynamodb_endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("DYNAMODB_TABLE", table)
        .env("ALLOW_LOCAL_TARGETS", "true")
        .env("AWS_ACCESS_KEY_ID", "AKIDLOCALCLI")
        .env("AWS_SECRET_ACCESS_KEY", "local-cli-secret")
        .env("TOKEN_SECRET", common::app::TOKEN_SECRET);
    command
}

#[test]
fn table_tenant_and_domain_commands() {
    let table = unique_name("cli");
    let created = dynauth(&table, &["table", "create", "--json"]);
    assert_eq!(created.code, 0, "{}", created.stderr);
    assert_eq!(created.json()["mismatches"], json!([]));
    assert!(created.stderr.contains(&format!("created table {table}")), "{}", created.stderr);
    assert_eq!(dynauth(&table, &["table", "check"]).code, 0);

    let put = dynauth(
        &table,
        &[
            "tenant",
            "put",
            "demo",
            "--name",
            "Demo",
            "--allowed-origin",
            "http://localhost:3000",
            "--origin",
            "http://127.0.0.1:9",
        ],
    );
    assert_eq!(put.code, 0, "{}", put.stderr);
    assert_eq!(put.json()["allowed_origins"], json!(["http://localhost:3000"]));
    assert_eq!(put.json()["origin"], json!("http://127.0.0.1:9"));
    let replaced = dynauth(&table, &["tenant", "put", "demo", "--body", r#"{"name": "Demo 2", "protect": true}"#]);
    assert_eq!(
        (replaced.code, replaced.json()["name"].clone(), replaced.json()["protect"].clone()),
        (0, json!("Demo 2"), json!(true))
    );
    assert!(replaced.stderr.starts_with("replaced tenant demo"), "{}", replaced.stderr);
    assert_eq!(dynauth(&table, &["tenant", "get", "demo"]).json()["name"], json!("Demo 2"));
    let bad = dynauth(&table, &["tenant", "put", "demo", "--body", r#"{"name": "x", "login_code": {"length": 3}}"#]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("login_code.length: must be a whole number from 6 to 10"), "{}", bad.stderr);
    // An Auth.js table that is not there is refused before anything is written, as by the API.
    let authjs = r#"{"name": "x", "authjs": {"table": "no-such-authjs-table"}}"#;
    let missing = dynauth(&table, &["tenant", "put", "demo", "--body", authjs]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("invalid tenant: authjs.table: no table named no-such-authjs-table in the home region"),
        "{}",
        missing.stderr
    );

    assert_eq!(dynauth(&table, &["domain", "claim", "demo", "localhost"]).code, 0);
    assert_eq!(dynauth(&table, &["domain", "claim", "demo", "127.0.0.1:8787", "--status", "pending"]).code, 0);
    let list = dynauth(&table, &["domain", "list", "demo"]);
    let domains: Vec<(Value, Value)> = list.json()["domains"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|d| (d["host"].clone(), d["status"].clone()))
        .collect();
    assert_eq!(domains, vec![(json!("127.0.0.1"), json!("pending")), (json!("localhost"), json!("ready"))]);
    assert_eq!(dynauth(&table, &["tenant", "put", "other", "--name", "Other"]).code, 0);
    let taken = dynauth(&table, &["domain", "claim", "other", "localhost"]);
    assert_eq!(taken.code, 5, "a conflict");
    assert!(taken.stderr.contains("claimed by another tenant"), "{}", taken.stderr);
    assert_eq!(dynauth(&table, &["domain", "release", "demo", "localhost"]).code, 0);
    assert_eq!(dynauth(&table, &["domain", "release", "demo", "localhost"]).code, 4, "not found");
    let tenants: Vec<Value> = dynauth(&table, &["tenant", "list"]).json()["tenants"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    assert_eq!(tenants, vec![json!("demo"), json!("other")]);

    assert_eq!(dynauth(&table, &["tenant", "get", "Bad_Id"]).code, 2);
    assert_eq!(dynauth(&table, &["nonsense"]).code, 2);
    assert_eq!(dynauth(&table, &["tenant", "get", "demo", "--bogus"]).code, 2);
    // A word that starts with a dash is an id, not a flag (ids are base64url); after `--`, even
    // one that starts with `--` is.
    let dashed = dynauth(&table, &["tenant", "get", "-x"]);
    assert_eq!((dashed.code, dashed.stderr.contains("is not a tenant id")), (2, true), "{}", dashed.stderr);
    let after = dynauth(&table, &["tenant", "get", "--", "--x"]);
    assert_eq!((after.code, after.stderr.contains("is not a tenant id")), (2, true), "{}", after.stderr);
    let client = common::local_client(dynauth::platform::native::HttpTransport::default(), common::os_runtime());
    let _ = dynauth::platform::native::block_on(client.delete_table(&table));
}

#[test]
fn client_commands_register_show_list_and_delete_as_the_api_does() {
    let table = unique_name("cli-clients");
    assert_eq!(dynauth(&table, &["table", "create"]).code, 0);
    assert_eq!(dynauth(&table, &["tenant", "put", "demo", "--name", "Demo"]).code, 0);
    let body = r#"{"name": "Server", "type": "confidential", "redirect_uris": ["https://app.demo.test/cb"]}"#;
    let put = dynauth(&table, &["client", "put", "demo", "server", "--body", body]);
    assert_eq!(put.code, 0, "{}", put.stderr);
    assert!(put.stderr.starts_with("registered client server of demo"), "{}", put.stderr);
    let secret = put.json()["client_secret"].as_str().map(str::len);
    assert_eq!((secret, put.json()["scopes"].clone()), (Some(43), json!(["openid", "email"])), "shown once");
    let got = dynauth(&table, &["client", "get", "demo", "server"]);
    assert_eq!(
        (got.code, got.json().get("client_secret").cloned(), got.json()["secrets_valid"].clone()),
        (0, None, json!(1))
    );
    let again = dynauth(&table, &["client", "put", "demo", "server", "--body", body]);
    assert!(again.stderr.starts_with("replaced client server of demo") && again.json().get("client_secret").is_none());
    let listed = dynauth(&table, &["client", "list", "demo"]);
    assert_eq!(listed.json()["clients"].as_array().map(|c| c.len()), Some(1));
    let bad = dynauth(
        &table,
        &[
            "client",
            "put",
            "demo",
            "web",
            "--body",
            r#"{"name": "W", "type": "public", "redirect_uris": ["http://app.demo.test/cb"]}"#,
        ],
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("http:// redirect URIs are for localhost and 127.0.0.1 only"), "{}", bad.stderr);
    assert_eq!(dynauth(&table, &["client", "get", "demo", "-x"]).code, 2, "not a client id");
    assert_eq!(dynauth(&table, &["client", "get", "nobody", "server"]).code, 4, "no such tenant");
    assert_eq!(dynauth(&table, &["client", "delete", "demo", "server"]).code, 0);
    assert_eq!(dynauth(&table, &["client", "delete", "demo", "server"]).code, 4);
    assert_eq!(dynauth(&table, &["client", "get", "demo", "server"]).code, 4);
    let client = common::local_client(dynauth::platform::native::HttpTransport::default(), common::os_runtime());
    let _ = dynauth::platform::native::block_on(client.delete_table(&table));
}

#[test]
fn help_and_version_go_to_stdout_and_a_closed_pipe_is_no_panic() {
    for flag in ["--help", "-h"] {
        let r = dynauth("unused", &[flag]);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{flag}");
        assert!(r.stdout.starts_with("Usage: dynauth [OPTIONS] <COMMAND>\n"), "{}", r.stdout);
        for command in ["table", "tenant", "domain", "user", "session", "code", "client"] {
            assert!(r.stdout.contains(&format!("\n  {command} ")), "{command}: {}", r.stdout);
        }
        assert!(
            r.stdout.contains(
                "exit codes: 0 ok, 1 failed, 2 usage, 3 configuration or credentials, 4 not found, 5 conflict"
            )
        );
    }
    let v = dynauth("unused", &["--version"]);
    assert_eq!((v.code, v.stdout.as_str()), (0, concat!("dynauth ", env!("CARGO_PKG_VERSION"), "\n")));
    let usage = dynauth("unused", &[]);
    assert_eq!((usage.code, usage.stdout.as_str()), (2, ""));
    assert!(usage.stderr.starts_with("Usage: dynauth"), "{}", usage.stderr);
    // A subcommand's usage says what it takes; a missing argument is a usage error naming it.
    let sub = dynauth("unused", &["domain", "claim", "--help"]);
    assert_eq!(sub.code, 0);
    assert!(sub.stdout.contains("Usage: dynauth domain claim [OPTIONS] <TENANT> <HOST>"), "{}", sub.stdout);
    let missing = dynauth("unused", &["user", "find", "acme"]);
    assert_eq!((missing.code, missing.stderr.contains("--email <E>")), (2, true), "{}", missing.stderr);
    // The reader is gone before anything is written: EPIPE on every write, and still no panic.
    let (reader, writer) = std::io::pipe().expect("the test's own input");
    drop(reader);
    let out = command("unused", &["table", "definition"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("the test's own input");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!((out.status.code(), stderr.contains("panicked")), (Some(0), false), "{stderr}");
    // Configuration missing: exit 3, naming it.
    let missing = Command::new(env!("CARGO_BIN_EXE_dynauth"))
        .args(["tenant", "list"])
        .env_remove("DYNAMODB_TABLE")
        .env_remove("AWS_REGION")
        .env("DYNAMODB_ENDPOINT", dynamodb_endpoint())
        .output()
        .expect("the test's own input");
    assert_eq!(missing.status.code(), Some(3), "{}", String::from_utf8_lossy(&missing.stderr));
}

#[test]
fn users_sessions_and_codes_from_the_command_line() {
    use common::app::App;
    let table = unique_name("cliusers");
    assert_eq!(dynauth(&table, &["table", "create"]).code, 0);
    assert_eq!(dynauth(&table, &["tenant", "put", "acme", "--name", "Acme"]).code, 0);
    assert_eq!(dynauth(&table, &["domain", "claim", "acme", "auth.acme.test"]).code, 0);
    // A code issued here (keyed with the Worker's TOKEN_SECRET) is verified through the API.
    let issued = dynauth(&table, &["code", "issue", "acme", "Ann@Example.com"]);
    assert_eq!(issued.code, 0, "{}", issued.stderr);
    let code = issued.json()["code"].clone();
    assert!(code.as_str().is_some_and(|c| c.len() == 6), "{}", issued.stdout);
    assert!(issued.json()["binding"].as_str().is_some_and(|b| b.len() == 43), "{}", issued.stdout);
    let app = App::new(
        &table,
        common::manual_runtime(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        ),
        &[],
    );
    let verify = |issued: &Value| {
        let body = json!({"login_id": issued["login_id"], "code": issued["code"], "binding": issued["binding"], "deliver": "body"});
        app.call("POST", "/v1/login/verify", "auth.acme.test", &[], Some(body))
    };
    let first = verify(&issued.json());
    assert_eq!(first.status, 200, "{}", first.json);
    let user = first.json["user"]["id"].as_str().unwrap_or_default().to_string();
    app.runtime.advance(std::time::Duration::from_secs(5)); // the second session is the newer one
    let second = dynauth(&table, &["code", "issue", "acme", "ann@example.com"]);
    assert_eq!(verify(&second.json()).status, 200);

    let found = dynauth(&table, &["user", "find", "acme", "--email", "ANN@example.com"]);
    assert_eq!((found.code, found.json()["id"].as_str().unwrap_or("")), (0, user.as_str()));
    assert_eq!(found.json()["login_count"], json!(2));
    let got = dynauth(&table, &["user", "get", "acme", "--", &user]);
    assert_eq!(got.json()["email"], json!("ann@example.com"), "{} {}", got.code, got.stderr);
    assert_eq!(got.json()["profile"], json!({}), "no profile field is known yet");
    // The profile, as the admin API changes it: set, removed with null, refused when malformed.
    let body =
        r#"{"name": " Ann Lee ", "given_name": "Ann", "locale": "en-GB", "picture": "https://img.test/ann.png"}"#;
    let changed = dynauth(&table, &["user", "profile", "acme", "--body", body, "--", &user]);
    assert_eq!(changed.code, 0, "{}", changed.stderr);
    let profile = changed.json()["profile"].clone();
    assert_eq!(
        (&profile["name"], &profile["given_name"], &profile["locale"], &profile["picture"], profile.get("family_name")),
        (&json!("Ann Lee"), &json!("Ann"), &json!("en-GB"), &json!("https://img.test/ann.png"), None)
    );
    assert!(profile["updated_at"].is_string());
    let removed = dynauth(&table, &["user", "profile", "acme", "--body", r#"{"picture": null}"#, "--", &user]);
    assert_eq!(removed.json()["profile"].get("picture"), None, "{}", removed.stdout);
    let bad = dynauth(&table, &["user", "profile", "acme", "--body", r#"{"locale": ""}"#, "--", &user]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("invalid profile: locale: must be a BCP 47 language tag"), "{}", bad.stderr);
    let listed = dynauth(&table, &["session", "list", "acme", "--", &user]);
    let ids: Vec<String> = listed.json()["sessions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| s["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{}", listed.stdout);
    assert_eq!(ids[0], second_session(&app, &second.json()), "newest first");
    let revoke = dynauth(&table, &["session", "revoke", "acme", "--", &ids[0]]);
    assert_eq!(revoke.code, 0, "{}", revoke.stderr);
    assert_eq!(
        dynauth(&table, &["session", "list", "acme", "--", &user]).json()["sessions"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(dynauth(&table, &["session", "revoke-all", "acme", "--", &user]).json(), json!({"revoked": 1}));
    assert_eq!(dynauth(&table, &["session", "revoke", "acme", &"A".repeat(43)]).code, 4);

    assert_eq!(dynauth(&table, &["user", "delete", "acme", "--", &user]).code, 0);
    assert_eq!(dynauth(&table, &["user", "get", "acme", "--", &user]).code, 4);
    assert_eq!(dynauth(&table, &["user", "find", "acme", "--email", "ann@example.com"]).code, 4);
    assert_eq!(dynauth(&table, &["user", "find", "acme"]).code, 2, "--email is required");
    assert_eq!(dynauth(&table, &["user", "get", "nobody", "--", &user]).code, 4, "no such tenant");
    let no_secret = command(&table, &["code", "issue", "acme", "bo@example.com"]).env_remove("TOKEN_SECRET").output();
    assert_eq!(no_secret.ok().and_then(|o| o.status.code()), Some(3));

    assert_eq!(dynauth(&table, &["tenant", "delete", "acme"]).code, 0);
    assert_eq!(dynauth(&table, &["tenant", "get", "acme"]).code, 4);
    assert_eq!(dynauth(&table, &["tenant", "delete", "acme"]).code, 4);
    assert_eq!(dynauth(&table, &["domain", "list", "acme"]).code, 4);
    let client = common::local_client(dynauth::platform::native::HttpTransport::default(), common::os_runtime());
    let _ = dynauth::platform::native::block_on(client.delete_table(&table));
}

/// The id of the session the second code opened: the hash of the token the verify answered.
fn second_session(app: &common::app::App<dynauth::testing::fakes::ManualRuntime>, issued: &Value) -> String {
    let again = app.call(
        "POST",
        "/v1/login/verify",
        "auth.acme.test",
        &[],
        Some(json!({"login_id": issued["login_id"], "code": issued["code"], "binding": issued["binding"], "deliver": "body"})),
    );
    again.json["session"]["id"].as_str().unwrap_or_default().to_string()
}

#[test]
fn credentials_come_from_aws_profile_files_when_none_are_given() {
    // moto checks every signature: only the right key, read from the profile, gets through.
    let endpoint = std::env::var("DYNAUTH_TEST_MOTO").unwrap_or_else(|_| panic!("DYNAUTH_TEST_MOTO is not set"));
    let key = std::env::var("MOTO_ACCESS_KEY_ID").unwrap_or_default();
    let secret = std::env::var("MOTO_SECRET_ACCESS_KEY").unwrap_or_default();
    let dir = std::env::temp_dir().join(unique_name("aws-profile"));
    std::fs::create_dir_all(&dir).expect("the test's own input");
    let credentials = dir.join("credentials");
    let config = dir.join("config");
    std::fs::write(
        &credentials,
        format!("[ops]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n\n[wrong]\naws_access_key_id = {key}\naws_secret_access_key = not-the-secret\n"),
    )
    .expect("the test's own input");
    std::fs::write(&config, "[profile ops]\nregion = us-east-1\n\n[profile wrong]\nregion = us-east-1\n")
        .expect("the test's own input");
    let run = |profile: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_dynauth"))
            .args(["table", "create", "--table", &unique_name("cliprofile"), "--endpoint", &endpoint])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &dir)
            .env("AWS_PROFILE", profile)
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
            .env("AWS_CONFIG_FILE", &config)
            .output()
            .expect("the test's own input");
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, stderr) = run("ops");
    assert_eq!(code, Some(0), "the profile's key and region: {stderr}");
    let (code, stderr) = run("wrong");
    assert_eq!(code, Some(3), "a refused signature is a credentials error: {stderr}");
    assert!(stderr.contains("signature"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn table_check_covers_every_region_of_a_global_table() {
    let table = unique_name("cli-regions");
    assert_eq!(dynauth(&table, &["table", "create"]).code, 0);
    let replica = common::replica_endpoint();
    let regional = |args: &[&str]| {
        run(command(&table, args)
            .env("DYNAMODB_REGIONS", "us-east-1,ap-southeast-2")
            .env("DYNAMODB_ENDPOINTS", format!("ap-southeast-2={replica}")))
    };
    // The replica region has no table yet: the check fails and says where.
    let missing = regional(&["table", "check", "--json"]);
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    let regions = missing.json()["regions"].clone();
    assert_eq!((regions[0]["region"].clone(), regions[0]["mismatches"].clone()), (json!("us-east-1"), json!([])));
    assert_eq!(regions[1]["region"], "ap-southeast-2");
    assert_ne!(regions[1]["mismatches"], json!([]), "{regions}");
    // Once the replica has it, every region passes (text output names each region).
    let made = Command::new(env!("CARGO_BIN_EXE_dynauth"))
        .args(["table", "create"])
        .env("DYNAMODB_ENDPOINT", &replica)
        .env("AWS_REGION", "ap-southeast-2")
        .env("DYNAMODB_TABLE", &table)
        .env("AWS_ACCESS_KEY_ID", "AKIDLOCALCLI")
        .env("AWS_SECRET_ACCESS_KEY", "local-cli-secret")
        .status()
        .expect("the test's own input");
    assert!(made.success());
    let ok = regional(&["table", "check"]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.contains("region:  us-east-1") && ok.stdout.contains("region:  ap-southeast-2"), "{}", ok.stdout);
    // A DYNAMODB_REGIONS that does not start at home is a configuration error (exit 3).
    let wrong = command(&table, &["table", "check"]).env("DYNAMODB_REGIONS", "eu-west-1,us-east-1").output();
    assert_eq!(wrong.map(|o| o.status.code()).expect("the test's own input"), Some(3));
}

/// The time now, in epoch seconds (the CLI reads the real clock; the app beside it starts there).
fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[test]
fn tenant_put_validates_with_the_configured_limits_as_the_admin_api_does() {
    use common::app::App;
    let table = common::TestTable::new("cli-limits");
    // VERIFY_FAILURE_LIMIT=1000: a thousand wrong codes a day at one email. A 6-digit code (the
    // default) would then be guessed with a chance above 1 in 10,000; a 7-digit one would not.
    let limit = [("VERIFY_FAILURE_LIMIT", "1000")];
    let app = App::new(table.name(), common::manual_runtime(now_secs()), &limit);
    let cli = |args: &[&str]| run(command(table.name(), args).env(limit[0].0, limit[0].1));

    let api = app.admin("PUT", "/v1/admin/tenants/acme", Some(json!({"name": "Acme"})));
    assert_eq!((api.status, api.json["error"]["code"].as_str()), (400, Some("invalid_request")), "{}", api.json);
    let message = api.json["error"]["message"].as_str().unwrap_or_default().to_string();
    assert!(message.starts_with("login_code: with length 6 and max_attempts 5, 1000 guesses a day"), "{message}");
    let refused = cli(&["tenant", "put", "acme", "--name", "Acme"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert_eq!(refused.stderr.trim_end(), format!("dynauth: invalid tenant: {message}"), "the API's own words");
    assert_eq!(cli(&["tenant", "get", "acme"]).code, 4, "nothing was written");

    let seven = r#"{"name": "Acme", "login_code": {"length": 7}}"#;
    let accepted = cli(&["tenant", "put", "acme", "--body", seven]);
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
    assert_eq!(accepted.json()["login_code"]["length"], json!(7), "{}", accepted.stdout);
    let api =
        app.admin("PUT", "/v1/admin/tenants/globex", Some(json!({"name": "Globex", "login_code": {"length": 7}})));
    assert_eq!(api.status, 201, "{}", api.json);

    // Without the setting (the default limits), the 6-digit code is fine for both.
    assert_eq!(dynauth(table.name(), &["tenant", "put", "plain", "--name", "Plain"]).code, 0);
    let plain = App::new(table.name(), common::manual_runtime(now_secs()), &[]);
    assert_eq!(plain.admin("PUT", "/v1/admin/tenants/other", Some(json!({"name": "Other"}))).status, 201);
}

#[test]
fn ending_sessions_at_the_command_line_tells_their_clients_over_the_back_channel() {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use common::app::App;
    use dynauth::values::ids::SessionId;
    use sha2::{Digest, Sha256};

    const MASTER: &str = "jwt-master-key-for-tests-only-0123456789";
    const HOST: &str = "auth.acme.test";
    const REDIRECT: &str = "https://app.acme.test/cb";
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let table = common::TestTable::new("cli-backchannel");
    let app = App::new(table.name(), common::manual_runtime(now_secs()), &[("JWT_MASTER_KEY", MASTER)]);
    app.tenant_on("acme", json!({"name": "Acme"}), HOST);
    let sink = common::Sink::start();
    let bc = json!({"name": "BC", "type": "confidential", "redirect_uris": [REDIRECT],
        "scopes": ["openid", "email"], "backchannel_logout_uri": sink.url});
    let r = app.admin("PUT", "/v1/admin/tenants/acme/clients/bc", Some(bc));
    assert_eq!(r.status, 201, "{}", r.json);
    let basic = format!("Basic {}", STANDARD.encode(format!("bc:{}", r.json["client_secret"].as_str().unwrap_or(""))));
    let encode = dynauth::api::body::encode_component;
    // The session of `token` signs in to bc through the code flow.
    let signed_in = |token: &str| {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
        let query = format!(
            "response_type=code&client_id=bc&redirect_uri={}&scope=openid%20email&state=st&nonce=n-1\
             &code_challenge={challenge}&code_challenge_method=S256",
            encode(REDIRECT)
        );
        let cookie = format!("__Host-dynauth={token}");
        let r = app.call("GET", &format!("/v1/oauth/authorize?{query}"), HOST, &[("cookie", &cookie)], None);
        let location = r.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let params =
            dynauth::api::body::form_pairs(location.split_once('?').map_or("", |(_, q)| q)).unwrap_or_default();
        let code = params.iter().find(|(k, _)| k == "code").map(|(_, v)| v.clone()).expect("a code");
        let form = format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={VERIFIER}",
            encode(&code),
            encode(REDIRECT)
        );
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("https://{HOST}/v1/oauth/token"))
            .header("host", HOST)
            .header("authorization", &basic)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.into_bytes())
            .expect("a request");
        assert_eq!(app.send(request).status, 200);
        SessionId::of_token(token)
    };
    // The logout token of delivery `i`: its claims, after checking it is one form field.
    let told = |i: usize| -> Value {
        let sent = sink.raw.lock().expect("the sink").clone();
        let (content_type, body) = sent.get(i).cloned().unwrap_or_else(|| panic!("no notice {i}: {sent:?}"));
        assert_eq!(content_type, "application/x-www-form-urlencoded");
        let form = dynauth::api::body::form_pairs(std::str::from_utf8(&body).unwrap_or("")).unwrap_or_default();
        assert_eq!(form.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["logout_token"]);
        let payload = form[0].1.split('.').nth(1).and_then(|p| URL_SAFE_NO_PAD.decode(p).ok()).unwrap_or_default();
        serde_json::from_slice(&payload).unwrap_or_default()
    };
    let cli = |args: &[&str]| run(command(table.name(), args).env("JWT_MASTER_KEY", MASTER));

    let minted =
        app.admin("POST", "/v1/admin/tenants/acme/sessions", Some(json!({"user_id": "u-1", "email": "ada@acme.test"})));
    let sid = signed_in(minted.json["token"].as_str().expect("a session token"));
    assert!(sink.raw.lock().expect("the sink").is_empty());
    let revoked = cli(&["session", "revoke", "acme", "--", sid.as_str()]);
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    assert_eq!(revoked.stderr.trim_end(), format!("revoked session {sid}"));
    assert_eq!(sink.raw.lock().expect("the sink").len(), 1, "bc is told once");
    let logout = told(0);
    assert_eq!((logout["iss"].as_str(), logout["aud"].as_str()), (Some("https://auth.acme.test"), Some("bc")));
    assert_eq!((logout["sub"].as_str(), logout["sid"].as_str()), (Some("u-1"), Some(sid.as_str())));
    assert_eq!(logout["events"], json!({"http://schemas.openid.net/event/backchannel-logout": {}}));

    // Deleting a user ends its live sessions, and their clients are told too.
    let issued = app.admin("POST", "/v1/admin/tenants/acme/codes", Some(json!({"email": "bo@acme.test"})));
    let verify = json!({"login_id": issued.json["login_id"], "code": issued.json["code"],
        "binding": issued.json["binding"], "deliver": "body"});
    let verified = app.call("POST", "/v1/login/verify", HOST, &[], Some(verify));
    assert_eq!(verified.status, 200, "{}", verified.json);
    let user = verified.json["user"]["id"].as_str().expect("a user").to_string();
    let sid = signed_in(verified.json["token"].as_str().expect("a session token"));
    let deleted = cli(&["user", "delete", "acme", "--", &user]);
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    assert_eq!(sink.raw.lock().expect("the sink").len(), 2);
    let logout = told(1);
    assert_eq!((logout["sid"].as_str(), logout["aud"].as_str()), (Some(sid.as_str()), Some("bc")));
    assert_eq!(logout["events"], json!({"http://schemas.openid.net/event/backchannel-logout": {}}));
}
