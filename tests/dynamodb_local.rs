//! The DynamoDB client against Amazon's DynamoDB Local: table creation and checking, every
//! operation round-tripping, and the typed errors for failed conditions and transactions.

#![allow(clippy::expect_used)] // a test's own setup may panic: it is the test failing

mod common;

use std::collections::HashMap;

use dynauth::dynamo::{
    ConditionCheck, CreateTableInput, DeleteItemInput, DynamoError, Expr, GetItemInput, Item, PutItemInput, QueryInput,
    ReturnValues, TransactItem, TransactWriteItemsInput, Transaction, TxError, UpdateItemInput, Write, from_item, n, s,
    to_item,
};
use dynauth::platform::native::{HttpTransport, block_on};
use dynauth::platform::runtime::Random;
use dynauth::table::schema::{self, Schema};
use dynauth::testing::fakes::CountingTransport;
use serde::{Deserialize, Serialize};

use common::{TestTable, local_client, os_runtime};

fn key(pk: &str, sk: &str) -> Item {
    Item::from(HashMap::from([("PK".to_string(), s(pk)), ("SK".to_string(), s(sk))]))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Thing {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    name: String,
    count: i64,
    tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

#[test]
fn create_check_and_a_table_missing_an_index() {
    let t = TestTable::new("check");
    let client = local_client(HttpTransport::default(), os_runtime());
    // Creating again leaves the existing table alone.
    assert_eq!(block_on(schema::create(&client, &t.schema)), Ok(false));
    let report = block_on(schema::check(&client, &t.schema)).expect("the test's own input");
    assert_eq!(report.mismatches, Vec::<String>::new());
    assert_eq!(report.indexes, vec!["GSI1".to_string(), "GSI2".to_string()]);
    assert_eq!(report.ttl_attribute.as_deref(), Some("ttl"));
    assert_eq!(report.ttl_status.as_deref(), Some("ENABLED"));

    // A table without GSI2 and without TTL.
    let bad = Schema::new(&common::unique_name("nogsi2"));
    let mut input: CreateTableInput = bad.create_table_input();
    input.global_secondary_indexes.retain(|g| g.index_name != "GSI2");
    input.attribute_definitions.retain(|a| !a.attribute_name.starts_with("GSI2"));
    block_on(client.create_table(&input)).expect("the test's own input");
    let report = block_on(schema::check(&client, &bad)).expect("the test's own input");
    let _ = block_on(client.delete_table(&bad.table));
    assert_eq!(
        report.mismatches,
        vec![
            "index GSI2: missing".to_string(),
            "time to live: DISABLED, expected ENABLED on attribute \"ttl\"".to_string(),
        ]
    );

    // A table that does not exist is a report, not an error.
    let missing = Schema::new("dynauth-no-such-table");
    let report = block_on(schema::check(&client, &missing)).expect("the test's own input");
    assert_eq!(report.mismatches, vec!["table dynauth-no-such-table: does not exist".to_string()]);
}

#[test]
fn put_get_update_delete_round_trip() {
    let t = TestTable::new("items");
    let client = local_client(HttpTransport::default(), os_runtime());
    let thing = Thing {
        pk: "THING#1".into(),
        sk: "THING".into(),
        name: "first".into(),
        count: 2,
        tags: vec!["a".into(), "b".into()],
        note: None,
    };
    let item = to_item(&thing).expect("the test's own input");
    block_on(client.put_item(PutItemInput::new(t.name(), item), Write::Idempotent)).expect("the test's own input");

    let got: Option<Thing> = block_on(client.get(&GetItemInput::consistent(t.name(), key("THING#1", "THING"))))
        .expect("the test's own input");
    assert_eq!(got.as_ref(), Some(&thing));

    let mut e = Expr::new();
    let update = format!(
        "SET {} = {}, {} = {} ADD {} {}",
        e.name("note"),
        e.str("hello"),
        e.name("name"),
        e.str("renamed"),
        e.name("count"),
        e.num(5)
    );
    let cond = e.exists("PK");
    let out = block_on(client.update_item(
        UpdateItemInput::new(t.name(), key("THING#1", "THING"), update, Some(cond), e).returning(ReturnValues::AllNew),
        Write::AtMostOnce,
    ))
    .expect("the test's own input");
    let updated: Thing = from_item(out.attributes.unwrap_or_default()).expect("the test's own input");
    assert_eq!(updated, Thing { name: "renamed".into(), count: 7, note: Some("hello".into()), ..thing.clone() });

    let out = block_on(client.delete_item(
        DeleteItemInput::new(t.name(), key("THING#1", "THING")).returning(ReturnValues::AllOld),
        Write::Idempotent,
    ))
    .expect("the test's own input");
    assert_eq!(out.attributes.as_ref().and_then(|a| a.get("count")), Some(&n(7)));
    let gone: Option<Thing> = block_on(client.get(&GetItemInput::consistent(t.name(), key("THING#1", "THING"))))
        .expect("the test's own input");
    assert_eq!(gone, None);
}

#[test]
fn query_pages_both_directions() {
    let t = TestTable::new("query");
    let client = local_client(HttpTransport::default(), os_runtime());
    for i in 0..25 {
        let item = Item::from(HashMap::from([
            ("PK".to_string(), s(format!("ITEM#{i:02}"))),
            ("SK".to_string(), s("ITEM")),
            ("GSI1PK".to_string(), s("GROUP#g")),
            ("GSI1SK".to_string(), s(format!("{i:02}"))),
            ("n".to_string(), n(i)),
        ]));
        block_on(client.put_item(PutItemInput::new(t.name(), item), Write::Idempotent)).expect("the test's own input");
    }
    let mut e = Expr::new();
    let cond = e.equals("GSI1PK", s("GROUP#g"));
    let mut q = QueryInput::new(t.name(), Some("GSI1"), cond, e);
    q.limit = Some(10);
    let mut pages = Vec::new();
    loop {
        let page = block_on(client.query(&q)).expect("the test's own input");
        pages.push(page.items.iter().filter_map(|i| i.get("GSI1SK").cloned()).collect::<Vec<_>>());
        match page.last_evaluated_key {
            Some(k) => q.exclusive_start_key = Some(k),
            None => break,
        }
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert!(sizes.starts_with(&[10, 10, 5]), "{sizes:?}");
    let flat: Vec<_> = pages.concat();
    assert_eq!(flat.first(), Some(&s("00")));
    assert_eq!(flat.last(), Some(&s("24")));
    assert_eq!(flat.len(), 25);

    q.exclusive_start_key = None;
    q.scan_index_forward = false;
    let newest = block_on(client.query(&q)).expect("the test's own input");
    assert_eq!(newest.items.first().and_then(|i| i.get("GSI1SK")), Some(&s("24")));
    let all = block_on(client.query_all(&q, 1000)).expect("the test's own input");
    assert_eq!(all.len(), 25);
    let capped = block_on(client.query_all(&q, 12)).expect("the test's own input");
    assert_eq!(capped.len(), 12);
}

#[test]
fn a_failed_condition_is_typed_and_carries_the_item() {
    let t = TestTable::new("ccf");
    let client = local_client(HttpTransport::default(), os_runtime());
    let item =
        Item::from(HashMap::from([("PK".to_string(), s("K")), ("SK".to_string(), s("S")), ("v".to_string(), n(1))]));
    let create = |item: Item| {
        let mut e = Expr::new();
        let cond = e.not_exists("PK");
        let mut input = PutItemInput::new(t.name(), item).condition(cond, e);
        input.return_values_on_condition_check_failure = Some(ReturnValues::AllOld);
        input
    };
    block_on(client.put_item(create(item.clone()), Write::AtMostOnce)).expect("the test's own input");
    let err = block_on(client.put_item(create(item.clone()), Write::AtMostOnce)).err();
    match err {
        Some(DynamoError::ConditionalCheckFailed { item: Some(old), .. }) => assert_eq!(old, item),
        other => panic!("expected ConditionalCheckFailed with the item, got {other:?}"),
    }
}

#[test]
fn a_cancelled_transaction_reports_each_reason() {
    let t = TestTable::new("tx");
    let client = local_client(HttpTransport::default(), os_runtime());
    let put = |pk: &str| {
        let item = Item::from(HashMap::from([("PK".to_string(), s(pk)), ("SK".to_string(), s("S"))]));
        let mut e = Expr::new();
        let cond = e.not_exists("PK");
        TransactItem::Put(PutItemInput::new(t.name(), item).condition(cond, e))
    };
    let random = os_runtime();
    let random: &dyn Random = &random;
    let token = random.request_token();
    let tx = TransactWriteItemsInput { transact_items: vec![put("A"), put("B")], client_request_token: Some(token) };
    block_on(client.transact_write_items(&tx)).expect("the test's own input");
    // The same token again is the same transaction: idempotent success, nothing written twice.
    assert_eq!(block_on(client.transact_write_items(&tx)), Ok(()));

    let mut e = Expr::new();
    let must_not_exist = e.not_exists("PK");
    let tx = TransactWriteItemsInput {
        transact_items: vec![
            put("C"),
            TransactItem::ConditionCheck(ConditionCheck::new(t.name(), key("A", "S"), must_not_exist, e)),
        ],
        client_request_token: Some(random.request_token()),
    };
    let err = block_on(client.transact_write_items(&tx)).err();
    let Some(DynamoError::TransactionCanceled { reasons, .. }) = err else { panic!("{err:?}") };
    let codes: Vec<Option<&str>> = reasons.iter().map(|r| r.code.as_deref()).collect();
    assert_eq!(codes, vec![None, Some("ConditionalCheckFailed")]);
    // The same, with named parts: the reason is found by the name of its part.
    let mut e = Expr::new();
    let must_not_exist = e.not_exists("PK");
    let named = Transaction::new(random.request_token())
        .with("new", put("C"))
        .with("absent", TransactItem::ConditionCheck(ConditionCheck::new(t.name(), key("A", "S"), must_not_exist, e)));
    match block_on(client.transact(&named)) {
        Err(TxError::Cancelled(c)) => {
            assert!(c.condition_failed("absent") && !c.condition_failed("new"), "{c}");
            assert_eq!(c.code("absent"), Some("ConditionalCheckFailed"));
        }
        other => panic!("{other:?}"),
    }
    // Nothing of the cancelled transaction was written.
    let c =
        block_on(client.get_item(&GetItemInput::consistent(t.name(), key("C", "S")))).expect("the test's own input");
    assert_eq!(c.item, None);
}

#[test]
fn a_write_whose_answer_was_lost_recognises_itself() {
    let t = TestTable::new("lost");
    let transport = CountingTransport::new(HttpTransport::default());
    let client = local_client(&transport, os_runtime());
    let item = Item::from(HashMap::from([
        ("PK".to_string(), s("K")),
        ("SK".to_string(), s("S")),
        ("wid".to_string(), s("w-1")),
    ]));
    let mut e = Expr::new();
    let cond = e.not_exists("PK");
    let mine = |old: Option<&Item>| old.and_then(|o| o.get("wid")) == Some(&s("w-1"));
    transport.lose_answers(1);
    let out = block_on(client.put_item(
        PutItemInput::new(t.name(), item.clone()).condition(cond.clone(), e.clone()),
        Write::Recognise(&mine),
    ));
    assert_eq!(out.map(|_| ()), Ok(()));
    assert_eq!(transport.operations(), vec!["PutItem", "PutItem"], "retried once, recognised the first");

    // Someone else's item under the same key is not mistaken for ours.
    let theirs = |old: Option<&Item>| old.and_then(|o| o.get("wid")) == Some(&s("w-2"));
    transport.lose_answers(1);
    let out =
        block_on(client.put_item(PutItemInput::new(t.name(), item).condition(cond, e), Write::Recognise(&theirs)));
    assert!(matches!(out, Err(DynamoError::ConditionalCheckFailed { .. })), "{out:?}");
}
