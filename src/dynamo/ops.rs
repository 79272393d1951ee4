//! Input and output shapes of the DynamoDB operations dynauth uses, with DynamoDB's own field
//! names (PascalCase on the wire). Optional fields are left out of the JSON when unset.

use serde::{Deserialize, Serialize};

use super::{Expr, Item};

type Names = Option<super::expr::Names>;
type Values = Option<super::expr::Values>;

/// `ReturnValues` / `ReturnValuesOnConditionCheckFailure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReturnValues {
    None,
    AllOld,
    AllNew,
    UpdatedOld,
    UpdatedNew,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetItemInput {
    pub table_name: String,
    pub key: Item,
    pub consistent_read: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projection_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_names: Names,
}

impl GetItemInput {
    /// A strongly consistent read of the whole item at `key`.
    pub fn consistent(table: &str, key: Item) -> Self {
        Self { table_name: table.to_string(), key, consistent_read: true, ..Self::default() }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetItemOutput {
    #[serde(default)]
    pub item: Option<Item>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutItemInput {
    pub table_name: String,
    pub item: Item,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_names: Names,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_values: Values,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_values: Option<ReturnValues>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_values_on_condition_check_failure: Option<ReturnValues>,
}

impl PutItemInput {
    pub fn new(table: &str, item: Item) -> Self {
        Self { table_name: table.to_string(), item, ..Self::default() }
    }

    /// Adds a condition built with `expr`.
    pub fn condition(mut self, condition: String, expr: Expr) -> Self {
        let (names, values) = expr.into_parts();
        self.condition_expression = Some(condition);
        self.expression_attribute_names = names;
        self.expression_attribute_values = values;
        self
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutItemOutput {
    #[serde(default)]
    pub attributes: Option<Item>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateItemInput {
    pub table_name: String,
    pub key: Item,
    pub update_expression: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_names: Names,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_values: Values,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_values: Option<ReturnValues>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_values_on_condition_check_failure: Option<ReturnValues>,
}

impl UpdateItemInput {
    /// An update of `key`; `condition` may be `None`. Names and values come from `expr`.
    pub fn new(table: &str, key: Item, update: String, condition: Option<String>, expr: Expr) -> Self {
        let (names, values) = expr.into_parts();
        Self {
            table_name: table.to_string(),
            key,
            update_expression: update,
            condition_expression: condition,
            expression_attribute_names: names,
            expression_attribute_values: values,
            ..Self::default()
        }
    }

    pub fn returning(mut self, values: ReturnValues) -> Self {
        self.return_values = Some(values);
        self
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateItemOutput {
    #[serde(default)]
    pub attributes: Option<Item>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteItemInput {
    pub table_name: String,
    pub key: Item,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_names: Names,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_values: Values,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_values: Option<ReturnValues>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_values_on_condition_check_failure: Option<ReturnValues>,
}

impl DeleteItemInput {
    pub fn new(table: &str, key: Item) -> Self {
        Self { table_name: table.to_string(), key, ..Self::default() }
    }

    pub fn condition(mut self, condition: String, expr: Expr) -> Self {
        let (names, values) = expr.into_parts();
        self.condition_expression = Some(condition);
        self.expression_attribute_names = names;
        self.expression_attribute_values = values;
        self
    }

    pub fn returning(mut self, values: ReturnValues) -> Self {
        self.return_values = Some(values);
        self
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteItemOutput {
    #[serde(default)]
    pub attributes: Option<Item>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryInput {
    pub table_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_name: Option<String>,
    pub key_condition_expression: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projection_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_names: Names,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_values: Values,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclusive_start_key: Option<Item>,
    pub scan_index_forward: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub consistent_read: bool,
}

impl QueryInput {
    /// A query of `index` (or the table when `None`), ascending by sort key.
    pub fn new(table: &str, index: Option<&str>, key_condition: String, expr: Expr) -> Self {
        let (names, values) = expr.into_parts();
        Self {
            table_name: table.to_string(),
            index_name: index.map(str::to_string),
            key_condition_expression: key_condition,
            expression_attribute_names: names,
            expression_attribute_values: values,
            scan_index_forward: true,
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryOutput {
    #[serde(default)]
    pub items: Vec<Item>,
    #[serde(default)]
    pub count: u32,
    #[serde(default)]
    pub last_evaluated_key: Option<Item>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScanInput {
    pub table_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclusive_start_key: Option<Item>,
    pub consistent_read: bool,
}

pub type ScanOutput = QueryOutput;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactWriteItemsInput {
    pub transact_items: Vec<TransactItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_request_token: Option<String>,
}

/// One action of a transaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum TransactItem {
    Put(PutItemInput),
    Update(UpdateItemInput),
    Delete(DeleteItemInput),
    ConditionCheck(ConditionCheck),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConditionCheck {
    pub table_name: String,
    pub key: Item,
    pub condition_expression: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_names: Names,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_values: Values,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_values_on_condition_check_failure: Option<ReturnValues>,
}

impl ConditionCheck {
    pub fn new(table: &str, key: Item, condition: String, expr: Expr) -> Self {
        let (names, values) = expr.into_parts();
        Self {
            table_name: table.to_string(),
            key,
            condition_expression: condition,
            expression_attribute_names: names,
            expression_attribute_values: values,
            return_values_on_condition_check_failure: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDefinition {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySchemaElement {
    pub attribute_name: String,
    /// `HASH` or `RANGE`.
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Projection {
    #[serde(default)]
    pub projection_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GlobalSecondaryIndex {
    pub index_name: String,
    pub key_schema: Vec<KeySchemaElement>,
    pub projection: Projection,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTableInput {
    pub table_name: String,
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub key_schema: Vec<KeySchemaElement>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub global_secondary_indexes: Vec<GlobalSecondaryIndex>,
    pub billing_mode: String,
}

/// What DescribeTable (and CreateTable, DeleteTable) say of a table; only the fields dynauth
/// reads, the rest ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDescription {
    #[serde(default)]
    pub table_name: String,
    #[serde(default)]
    pub table_status: Option<String>,
    #[serde(default)]
    pub attribute_definitions: Vec<AttributeDefinition>,
    #[serde(default)]
    pub key_schema: Vec<KeySchemaElement>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<GlobalSecondaryIndexDescription>,
    #[serde(default)]
    pub billing_mode_summary: Option<BillingModeSummary>,
    #[serde(default)]
    pub item_count: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GlobalSecondaryIndexDescription {
    pub index_name: String,
    #[serde(default)]
    pub key_schema: Vec<KeySchemaElement>,
    #[serde(default)]
    pub projection: Option<Projection>,
    #[serde(default)]
    pub index_status: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BillingModeSummary {
    #[serde(default)]
    pub billing_mode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TableNameInput {
    table_name: String,
}

impl TableNameInput {
    pub(crate) fn new(table: &str) -> Self {
        Self { table_name: table.to_string() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeTableOutput {
    pub(crate) table: TableDescription,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TableDescriptionOutput {
    pub(crate) table_description: TableDescription,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateTimeToLiveInput {
    pub(crate) table_name: String,
    pub(crate) time_to_live_specification: TimeToLiveSpecification,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TimeToLiveSpecification {
    pub(crate) attribute_name: String,
    pub(crate) enabled: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeTimeToLiveOutput {
    pub(crate) time_to_live_description: TimeToLiveDescription,
}

/// `TimeToLiveStatus` is `ENABLED`, `ENABLING`, `DISABLED` or `DISABLING`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimeToLiveDescription {
    #[serde(default)]
    pub time_to_live_status: Option<String>,
    #[serde(default)]
    pub attribute_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::dynamo::{n, s};

    fn key() -> Item {
        Item::from(HashMap::from([("PK".to_string(), s("A")), ("SK".to_string(), s("B"))]))
    }

    #[test]
    fn put_with_condition_serializes_placeholders_only() {
        let mut e = Expr::new();
        let cond = e.not_exists("PK");
        let input = PutItemInput::new("t", key()).condition(cond, e);
        let json = serde_json::to_value(&input).unwrap_or_default();
        assert_eq!(json["ConditionExpression"], "attribute_not_exists(#n0)");
        assert_eq!(json["ExpressionAttributeNames"]["#n0"], "PK");
        assert!(json.get("ExpressionAttributeValues").is_none());
        assert!(json.get("ReturnValues").is_none());
        assert_eq!(json["Item"]["PK"]["S"], "A");
    }

    #[test]
    fn query_and_transaction_shapes() {
        let mut e = Expr::new();
        let kc = e.equals("GSI1PK", s("X"));
        let mut q = QueryInput::new("t", Some("GSI1"), kc, e);
        q.scan_index_forward = false;
        q.limit = Some(10);
        let json = serde_json::to_value(&q).unwrap_or_default();
        assert_eq!(json["IndexName"], "GSI1");
        assert_eq!(json["KeyConditionExpression"], "#n0 = :v0");
        assert_eq!(json["ScanIndexForward"], false);
        assert_eq!(json["Limit"], 10);
        assert!(json.get("ConsistentRead").is_none());

        let mut e = Expr::new();
        let up = format!("SET {} = {}", e.name("n"), e.value(n(1)));
        let tx = TransactWriteItemsInput {
            transact_items: vec![
                TransactItem::Update(UpdateItemInput::new("t", key(), up, None, e)),
                TransactItem::Delete(DeleteItemInput::new("t", key())),
            ],
            client_request_token: Some("tok".into()),
        };
        let json = serde_json::to_value(&tx).unwrap_or_default();
        assert_eq!(json["TransactItems"][0]["Update"]["UpdateExpression"], "SET #n0 = :v0");
        assert_eq!(json["TransactItems"][1]["Delete"]["Key"]["SK"]["S"], "B");
        assert_eq!(json["ClientRequestToken"], "tok");
        assert_eq!(serde_json::to_value(ReturnValues::AllOld).unwrap_or_default(), "ALL_OLD");
    }
}
