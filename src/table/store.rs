//! The table, as the use cases see it: one [`Store`] (a DynamoDB client for this request and the
//! configured names), with the few shapes every feature writes in: read a record at its keys,
//! make a record into an item, create an item that must be new, and the inputs of updates,
//! deletes, queries and transactions. The features add their own reads and writes in
//! `impl Store` blocks of their modules.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::dynamo::{
    Client, DeleteItemInput, DynamoError, Expr, GetItemInput, Item, PutItemInput, QueryInput, TransactItem,
    Transaction, TxError, UpdateItemInput, to_typed_item,
};
use crate::table::keys::Keys;
use crate::table::schema::Schema;

/// The single table over one DynamoDB client.
#[derive(Debug, Clone, Copy)]
pub struct Store<'a> {
    pub db: &'a Client<'a>,
    pub schema: &'a Schema,
}

impl<'a> Store<'a> {
    pub fn new(db: &'a Client<'a>, schema: &'a Schema) -> Self {
        Self { db, schema }
    }

    /// The record at `keys` (a strongly consistent read, or an eventually consistent one).
    pub async fn get<V: DeserializeOwned>(&self, keys: &Keys, consistent: bool) -> Result<Option<V>, DynamoError> {
        let mut input = GetItemInput::consistent(&self.schema.table, keys.key(self.schema));
        input.consistent_read = consistent;
        self.db.get(&input).await
    }

    /// `record` as an item: its fields, a `type` attribute naming what it is, and every key
    /// attribute of `keys`.
    pub fn item(&self, kind: &str, record: &impl Serialize, keys: &Keys) -> Result<Item, DynamoError> {
        let mut item = to_typed_item(kind, record)?;
        keys.add_to(self.schema, &mut item);
        Ok(item)
    }

    /// Writes `item`, which must be new (no item with its key). An earlier attempt of this very
    /// write whose answer was lost is recognised (the stored item equals `item`) as success.
    pub async fn create(&self, item: Item) -> Result<(), DynamoError> {
        self.db.put_new(&self.schema.table, &self.schema.pk, item).await
    }

    /// The same create, as a part of a transaction.
    pub fn create_part(&self, item: Item) -> TransactItem {
        let mut e = Expr::new();
        let cond = e.not_exists(&self.schema.pk);
        TransactItem::Put(PutItemInput::new(&self.schema.table, item).condition(cond, e))
    }

    /// A put of `item` on condition `condition`.
    pub fn put(&self, item: Item, condition: String, expr: Expr) -> PutItemInput {
        PutItemInput::new(&self.schema.table, item).condition(condition, expr)
    }

    /// An update of the item at `keys`.
    pub fn update(&self, keys: &Keys, update: String, condition: Option<String>, expr: Expr) -> UpdateItemInput {
        UpdateItemInput::new(&self.schema.table, keys.key(self.schema), update, condition, expr)
    }

    /// A delete of the item at `keys` on condition `condition`.
    pub fn delete(&self, keys: &Keys, condition: String, expr: Expr) -> DeleteItemInput {
        DeleteItemInput::new(&self.schema.table, keys.key(self.schema)).condition(condition, expr)
    }

    /// The key condition of a query of GSI1 partition `partition` (names and values go to `e`).
    pub fn gsi1_key(&self, partition: &str, e: &mut Expr) -> String {
        e.equals(&self.schema.gsi1.pk, crate::dynamo::s(partition))
    }

    /// A query of GSI1 with `key` (from [`Self::gsi1_key`]), in sort-key order (`forward`) or
    /// reversed.
    pub fn query_gsi1(&self, key: String, e: Expr, forward: bool) -> QueryInput {
        let mut q = QueryInput::new(&self.schema.table, Some(&self.schema.gsi1.name), key, e);
        q.scan_index_forward = forward;
        q
    }

    /// One page (at most `limit`, from `start`) of GSI1 partition `partition`, in sort-key order,
    /// as records.
    pub async fn page_gsi1<V: DeserializeOwned>(
        &self,
        partition: &str,
        limit: u32,
        start: Option<Item>,
    ) -> Result<(Vec<V>, Option<Item>), DynamoError> {
        let mut e = Expr::new();
        let key = self.gsi1_key(partition, &mut e);
        let mut q = self.query_gsi1(key, e, true);
        q.limit = Some(limit);
        q.exclusive_start_key = start;
        let page = self.db.query(&q).await?;
        let records = page.items.into_iter().map(crate::dynamo::from_item::<V>).collect::<Result<Vec<_>, _>>()?;
        Ok((records, page.last_evaluated_key))
    }

    /// Commits `tx` (its parts named, idempotent by its token).
    pub async fn transact(&self, tx: &Transaction) -> Result<(), TxError> {
        self.db.transact(tx).await
    }
}
