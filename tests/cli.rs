//! The `dynauth` CLI against DynamoDB Local: table create/check, tenants and domains, exit codes.

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
    let out = Command::new(env!("CARGO_BIN_EXE_dynauth"))
        .args(args)
        .env("DYNAMODB_ENDPOINT", dynamodb_endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("DYNAMODB_TABLE", table)
        .env("ALLOW_LOCAL_TARGETS", "true")
        .env("AWS_ACCESS_KEY_ID", "AKIDLOCALCLI")
        .env("AWS_SECRET_ACCESS_KEY", "local-cli-secret")
        .output()
        .unwrap_or_else(|e| panic!("running dynauth: {e}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
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
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("login_code.length: must be a whole number from 6 to 10"), "{}", bad.stderr);

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
    assert_eq!(taken.code, 1);
    assert!(taken.stderr.contains("claimed by another tenant"), "{}", taken.stderr);
    assert_eq!(dynauth(&table, &["domain", "release", "demo", "localhost"]).code, 0);
    assert_eq!(dynauth(&table, &["domain", "release", "demo", "localhost"]).code, 1);
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
    let client = common::local_client(dynauth::native::HttpTransport::default(), common::os_runtime());
    let _ = dynauth::native::block_on(client.delete_table(&table));
}
