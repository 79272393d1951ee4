//! Shared by the integration tests: clients for the local servers that `npm test` (or
//! `scripts/with-servers.sh`) started, and tables that delete themselves.
#![allow(dead_code)]

use std::time::{Duration, SystemTime};

use dynauth::dynamo::table::{self, Schema};
use dynauth::dynamo::{Client, ClientConfig, Credentials, RetryPolicy};
use dynauth::native::{HttpTransport, OsRuntime, block_on};
use dynauth::runtime::{Runtime, Transport};

/// The DynamoDB Local endpoint (`DYNAUTH_TEST_DYNAMODB`).
pub fn dynamodb_endpoint() -> String {
    std::env::var("DYNAUTH_TEST_DYNAMODB").unwrap_or_else(|_| {
        panic!("DYNAUTH_TEST_DYNAMODB is not set: run the tests with `npm test` or `scripts/with-servers.sh cargo test`")
    })
}

pub fn os_runtime() -> OsRuntime {
    OsRuntime::new(SystemTime::now)
}

/// Credentials DynamoDB Local accepts (it checks that a signature is present, not what it says).
pub fn local_credentials() -> Credentials {
    Credentials {
        access_key_id: "AKIDLOCALTEST".into(),
        secret_access_key: "local-secret-not-real".into(),
        session_token: None,
    }
}

pub fn config(endpoint: &str, region: &str, credentials: Credentials) -> ClientConfig {
    ClientConfig {
        endpoint: Some(endpoint.to_string()),
        region: region.to_string(),
        credentials,
        retry: RetryPolicy {
            deadline: Duration::from_secs(10),
            ..RetryPolicy::default()
        },
    }
}

/// A client for DynamoDB Local over `transport` and `runtime`.
pub fn local_client<T: Transport, R: Runtime>(transport: T, runtime: R) -> Client<T, R> {
    Client::new(
        config(&dynamodb_endpoint(), "us-east-1", local_credentials()),
        transport,
        runtime,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A unique table name with `prefix`.
pub fn unique_name(prefix: &str) -> String {
    let mut b = [0u8; 6];
    os_runtime().fill_random(&mut b);
    format!("{prefix}-{}", dynauth::crypto::hex(&b))
}

/// A table made for one test and deleted when dropped.
pub struct TestTable {
    pub schema: Schema,
    client: Client<HttpTransport, OsRuntime>,
}

impl TestTable {
    /// A new table with dynauth's schema on DynamoDB Local.
    pub fn new(prefix: &str) -> Self {
        let schema = Schema::new(&unique_name(prefix));
        let client = local_client(HttpTransport::default(), os_runtime());
        let created = block_on(table::create(&client, &schema));
        assert_eq!(created, Ok(true), "creating {}", schema.table);
        Self { schema, client }
    }

    pub fn name(&self) -> &str {
        &self.schema.table
    }
}

impl Drop for TestTable {
    fn drop(&mut self) {
        let _ = block_on(self.client.delete_table(&self.schema.table));
    }
}
