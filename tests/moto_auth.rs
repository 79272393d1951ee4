//! Signatures checked by a server that verifies them: moto_server in IAM-auth mode. Correctly
//! signed requests succeed; a wrong secret or a body changed after signing is refused, and the
//! client reports that as a typed error saying the signature was rejected; a request signed for
//! the wrong region fails.

#![allow(clippy::expect_used)] // a test's own setup may panic: it is the test failing

mod common;

use std::collections::HashMap;

use dynauth::dynamo::{Client, Credentials, DynamoError, GetItemInput, Item, PutItemInput, Write, s};
use dynauth::platform::native::{HttpTransport, block_on};
use dynauth::platform::runtime::{LocalFuture, Transport, TransportError};
use dynauth::table::schema::{self, Schema};

use common::{config, os_runtime, unique_name};

fn moto() -> (String, Credentials) {
    let endpoint = std::env::var("DYNAUTH_TEST_MOTO")
        .unwrap_or_else(|_| panic!("DYNAUTH_TEST_MOTO is not set: run with `npm test` or scripts/with-servers.sh"));
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let credentials = Credentials {
        access_key_id: var("MOTO_ACCESS_KEY_ID"),
        secret_access_key: var("MOTO_SECRET_ACCESS_KEY"),
        session_token: None,
    };
    (endpoint, credentials)
}

fn client_with<'a>(region: &str, credentials: Credentials, transport: impl Transport + 'a) -> Client<'a> {
    let (endpoint, _) = moto();
    Client::new(&config(&endpoint, region, credentials), transport, os_runtime())
}

fn assert_rejected(result: Result<impl std::fmt::Debug, DynamoError>, what: &str) {
    match result {
        Err(e @ DynamoError::SignatureRejected { .. }) => {
            let text = e.to_string();
            assert!(text.contains("signature was rejected"), "{what}: {text}");
            assert_eq!(e.code(), Some("SignatureDoesNotMatch"), "{what}: {text}");
        }
        other => panic!("{what}: expected a rejected signature, got {other:?}"),
    }
}

#[test]
fn correctly_signed_requests_succeed() {
    let (_, credentials) = moto();
    let client = client_with("us-east-1", credentials, HttpTransport::default());
    let schema = Schema::new(&unique_name("moto"));
    assert_eq!(block_on(schema::create(&client, &schema)), Ok(true));
    let item = Item::from(HashMap::from([
        ("PK".to_string(), s("A")),
        ("SK".to_string(), s("B")),
        ("v".to_string(), s("signed")),
    ]));
    block_on(client.put_item(PutItemInput::new(&schema.table, item.clone()), Write::Idempotent))
        .expect("the test's own input");
    let key = Item::from(HashMap::from([("PK".to_string(), s("A")), ("SK".to_string(), s("B"))]));
    let got = block_on(client.get_item(&GetItemInput::consistent(&schema.table, key))).expect("the test's own input");
    assert_eq!(got.item, Some(item));
    assert!(block_on(client.delete_table(&schema.table)).is_ok());
}

#[test]
fn a_wrong_secret_is_a_typed_rejection() {
    let (_, mut credentials) = moto();
    credentials.secret_access_key.push('x');
    let client = client_with("us-east-1", credentials, HttpTransport::default());
    assert_rejected(block_on(client.describe_table("anything")), "wrong secret");
    assert_eq!(client.stats().calls, 1, "a rejected signature is not retried");
}

#[test]
fn signing_for_the_wrong_region_fails() {
    // moto checks the signature against the region named in the credential scope and then serves
    // that region's tables, so a request signed for eu-west-1 passes the signature check but
    // cannot see a table that lives in us-east-1. (Real DynamoDB refuses the scope outright.)
    let (_, credentials) = moto();
    let right = client_with("us-east-1", credentials.clone(), HttpTransport::default());
    let schema = Schema::new(&unique_name("region"));
    assert_eq!(block_on(schema::create(&right, &schema)), Ok(true));
    let wrong = client_with("eu-west-1", credentials, HttpTransport::default());
    let result = block_on(wrong.describe_table(&schema.table));
    let _ = block_on(right.delete_table(&schema.table));
    match result {
        Err(DynamoError::ResourceNotFound { message }) => {
            assert!(message.contains(&schema.table), "{message}")
        }
        other => panic!("signing for the wrong region must fail: {other:?}"),
    }
}

/// Changes the body after it was signed.
struct Tamper(HttpTransport);

impl Transport for Tamper {
    fn send(
        &self,
        mut request: http::Request<Vec<u8>>,
    ) -> LocalFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        Box::pin(async move {
            let body = String::from_utf8_lossy(request.body()).replace("original", "tampered");
            *request.body_mut() = body.into_bytes();
            self.0.send(request).await
        })
    }
}

#[test]
fn a_body_changed_after_signing_is_rejected() {
    let (_, credentials) = moto();
    let client = client_with("us-east-1", credentials, Tamper(HttpTransport::default()));
    assert_rejected(block_on(client.describe_table("original")), "altered body");
}
