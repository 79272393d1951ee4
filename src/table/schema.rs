//! The one table dynauth uses: its definition (the AuthHero adapter's table: `PK`/`SK`, indexes
//! `GSI1` and `GSI2` with projection ALL, on-demand billing, TTL on `ttl`), with every name
//! configurable, and the check of a live table against it.

use serde::Serialize;

use crate::dynamo::{
    AttributeDefinition, Client, CreateTableInput, DynamoError, GlobalSecondaryIndex, KeySchemaElement, Projection,
    TableDescription, TimeToLiveDescription,
};

/// The table's name and the names of its keys and indexes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schema {
    pub table: String,
    pub pk: String,
    pub sk: String,
    pub gsi1: Index,
    pub gsi2: Index,
    pub ttl: String,
}

/// A global secondary index: its name and key attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Index {
    pub name: String,
    pub pk: String,
    pub sk: String,
}

impl Schema {
    /// The default names for table `table`.
    pub fn new(table: &str) -> Self {
        Self {
            table: table.to_string(),
            pk: "PK".into(),
            sk: "SK".into(),
            gsi1: Index { name: "GSI1".into(), pk: "GSI1PK".into(), sk: "GSI1SK".into() },
            gsi2: Index { name: "GSI2".into(), pk: "GSI2PK".into(), sk: "GSI2SK".into() },
            ttl: "ttl".into(),
        }
    }

    fn indexes(&self) -> [&Index; 2] {
        [&self.gsi1, &self.gsi2]
    }

    /// The CreateTable request for this schema (on-demand billing).
    pub fn create_table_input(&self) -> CreateTableInput {
        let string_attr =
            |name: &str| AttributeDefinition { attribute_name: name.to_string(), attribute_type: "S".into() };
        let mut attribute_definitions = vec![string_attr(&self.pk), string_attr(&self.sk)];
        for index in self.indexes() {
            attribute_definitions.push(string_attr(&index.pk));
            attribute_definitions.push(string_attr(&index.sk));
        }
        CreateTableInput {
            table_name: self.table.clone(),
            attribute_definitions,
            key_schema: key_schema(&self.pk, &self.sk),
            global_secondary_indexes: self
                .indexes()
                .into_iter()
                .map(|index| GlobalSecondaryIndex {
                    index_name: index.name.clone(),
                    key_schema: key_schema(&index.pk, &index.sk),
                    projection: Projection { projection_type: Some("ALL".into()) },
                })
                .collect(),
            billing_mode: "PAY_PER_REQUEST".into(),
        }
    }

    /// Every way `table` and `ttl` differ from this schema; empty when the table is right.
    /// Billing mode is not checked: provisioned capacity is a valid choice.
    pub fn mismatches(&self, table: &TableDescription, ttl: &TimeToLiveDescription) -> Vec<String> {
        let mut found = Vec::new();
        let attr_type = |name: &str| {
            table.attribute_definitions.iter().find(|a| a.attribute_name == name).map(|a| a.attribute_type.as_str())
        };
        let key_problems = |what: &str, keys: &[KeySchemaElement], pk: &str, sk: &str| {
            let mut found = Vec::new();
            for (key_type, want) in [("HASH", pk), ("RANGE", sk)] {
                let role = if key_type == "HASH" { "partition" } else { "sort" };
                match keys.iter().find(|k| k.key_type == key_type) {
                    None => found.push(format!("{what}: no {role} key (expected {want:?})")),
                    Some(k) if k.attribute_name != want => {
                        found.push(format!("{what}: {role} key is {:?}, expected {want:?}", k.attribute_name))
                    }
                    Some(_) => match attr_type(want) {
                        Some("S") => {}
                        Some(other) => found.push(format!("{what}: {role} key {want:?} has type {other}, expected S")),
                        None => found.push(format!("{what}: no attribute definition for {want:?}")),
                    },
                }
            }
            found
        };
        found.extend(key_problems(&format!("table {}", self.table), &table.key_schema, &self.pk, &self.sk));
        for index in self.indexes() {
            let what = format!("index {}", index.name);
            match table.global_secondary_indexes.iter().find(|g| g.index_name == index.name) {
                None => found.push(format!("{what}: missing")),
                Some(g) => {
                    found.extend(key_problems(&what, &g.key_schema, &index.pk, &index.sk));
                    let projection = g.projection.as_ref().and_then(|p| p.projection_type.as_deref());
                    if projection != Some("ALL") {
                        found.push(format!("{what}: projection is {}, expected ALL", projection.unwrap_or("unknown")));
                    }
                }
            }
        }
        let status = ttl.time_to_live_status.as_deref().unwrap_or("DISABLED");
        let enabled = matches!(status, "ENABLED" | "ENABLING");
        match ttl.attribute_name.as_deref() {
            _ if !enabled => {
                found.push(format!("time to live: {status}, expected ENABLED on attribute {:?}", self.ttl))
            }
            Some(attr) if attr != self.ttl => {
                found.push(format!("time to live: on attribute {attr:?}, expected {:?}", self.ttl))
            }
            _ => {}
        }
        found
    }
}

fn key_schema(pk: &str, sk: &str) -> Vec<KeySchemaElement> {
    vec![
        KeySchemaElement { attribute_name: pk.to_string(), key_type: "HASH".into() },
        KeySchemaElement { attribute_name: sk.to_string(), key_type: "RANGE".into() },
    ]
}

/// The result of checking a live table.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TableReport {
    pub table: String,
    pub status: Option<String>,
    pub item_count: Option<u64>,
    pub indexes: Vec<String>,
    pub ttl_attribute: Option<String>,
    pub ttl_status: Option<String>,
    pub mismatches: Vec<String>,
}

impl TableReport {
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// DescribeTable + DescribeTimeToLive, compared with `schema`. A missing table is a report with
/// one mismatch, not an error.
pub async fn check(client: &Client<'_>, schema: &Schema) -> Result<TableReport, DynamoError> {
    let table = match client.describe_table(&schema.table).await {
        Ok(table) => table,
        Err(DynamoError::ResourceNotFound { .. }) => {
            return Ok(TableReport {
                table: schema.table.clone(),
                status: None,
                item_count: None,
                indexes: Vec::new(),
                ttl_attribute: None,
                ttl_status: None,
                mismatches: vec![format!("table {}: does not exist", schema.table)],
            });
        }
        Err(e) => return Err(e),
    };
    let ttl = client.describe_time_to_live(&schema.table).await?;
    let mut indexes: Vec<String> = table.global_secondary_indexes.iter().map(|g| g.index_name.clone()).collect();
    indexes.sort();
    Ok(TableReport {
        table: schema.table.clone(),
        status: table.table_status.clone(),
        item_count: table.item_count,
        indexes,
        ttl_attribute: ttl.attribute_name.clone(),
        ttl_status: ttl.time_to_live_status.clone(),
        mismatches: schema.mismatches(&table, &ttl),
    })
}

/// CreateTable, then TTL on. A table that already exists is left as it is (`Ok(false)`).
pub async fn create(client: &Client<'_>, schema: &Schema) -> Result<bool, DynamoError> {
    let created = match client.create_table(&schema.create_table_input()).await {
        Ok(_) => true,
        Err(DynamoError::Service { code, .. }) if code == "ResourceInUseException" => false,
        Err(e) => return Err(e),
    };
    if created {
        client.update_time_to_live(&schema.table, &schema.ttl, true).await?;
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamo::GlobalSecondaryIndexDescription;

    fn described(schema: &Schema) -> TableDescription {
        let input = schema.create_table_input();
        TableDescription {
            table_name: schema.table.clone(),
            table_status: Some("ACTIVE".into()),
            attribute_definitions: input.attribute_definitions,
            key_schema: input.key_schema,
            global_secondary_indexes: input
                .global_secondary_indexes
                .into_iter()
                .map(|g| GlobalSecondaryIndexDescription {
                    index_name: g.index_name,
                    key_schema: g.key_schema,
                    projection: Some(g.projection),
                    index_status: Some("ACTIVE".into()),
                })
                .collect(),
            billing_mode_summary: None,
            item_count: Some(0),
        }
    }

    fn ttl_on(attr: &str) -> TimeToLiveDescription {
        TimeToLiveDescription { time_to_live_status: Some("ENABLED".into()), attribute_name: Some(attr.into()) }
    }

    #[test]
    fn create_input_is_the_authhero_table() {
        let json = serde_json::to_value(Schema::new("authhero").create_table_input()).unwrap_or_default();
        let expected = serde_json::json!({
            "TableName": "authhero",
            "AttributeDefinitions": [
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
                {"AttributeName": "GSI1PK", "AttributeType": "S"},
                {"AttributeName": "GSI1SK", "AttributeType": "S"},
                {"AttributeName": "GSI2PK", "AttributeType": "S"},
                {"AttributeName": "GSI2SK", "AttributeType": "S"}
            ],
            "KeySchema": [
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"}
            ],
            "GlobalSecondaryIndexes": [
                {"IndexName": "GSI1", "KeySchema": [
                    {"AttributeName": "GSI1PK", "KeyType": "HASH"},
                    {"AttributeName": "GSI1SK", "KeyType": "RANGE"}], "Projection": {"ProjectionType": "ALL"}},
                {"IndexName": "GSI2", "KeySchema": [
                    {"AttributeName": "GSI2PK", "KeyType": "HASH"},
                    {"AttributeName": "GSI2SK", "KeyType": "RANGE"}], "Projection": {"ProjectionType": "ALL"}}
            ],
            "BillingMode": "PAY_PER_REQUEST"
        });
        assert_eq!(json, expected);
    }

    #[test]
    fn a_correct_table_has_no_mismatches() {
        let schema = Schema::new("t");
        assert_eq!(schema.mismatches(&described(&schema), &ttl_on("ttl")), Vec::<String>::new());
    }

    #[test]
    fn every_mismatch_is_listed() {
        let schema = Schema::new("t");
        let mut table = described(&schema);
        table.global_secondary_indexes.retain(|g| g.index_name != "GSI2");
        table.key_schema[1].attribute_name = "sk".into();
        table.attribute_definitions[0].attribute_type = "N".into();
        if let Some(g) = table.global_secondary_indexes.first_mut() {
            g.projection = Some(Projection { projection_type: Some("KEYS_ONLY".into()) });
        }
        assert_eq!(
            schema.mismatches(&table, &ttl_on("expires")),
            vec![
                "table t: partition key \"PK\" has type N, expected S".to_string(),
                "table t: sort key is \"sk\", expected \"SK\"".to_string(),
                "index GSI1: projection is KEYS_ONLY, expected ALL".to_string(),
                "index GSI2: missing".to_string(),
                "time to live: on attribute \"expires\", expected \"ttl\"".to_string(),
            ]
        );
        let off = TimeToLiveDescription { time_to_live_status: Some("DISABLED".into()), attribute_name: None };
        assert_eq!(
            schema.mismatches(&described(&schema), &off),
            vec!["time to live: DISABLED, expected ENABLED on attribute \"ttl\"".to_string()]
        );
    }

    #[test]
    fn custom_names_are_checked_against_custom_names() {
        let mut schema = Schema::new("t");
        schema.pk = "pk".into();
        schema.gsi1.name = "ByEmail".into();
        let table = described(&schema);
        assert!(schema.mismatches(&table, &ttl_on("ttl")).is_empty());
        assert_eq!(
            Schema::new("t").mismatches(&table, &ttl_on("ttl")),
            vec!["table t: partition key is \"pk\", expected \"PK\"".to_string(), "index GSI1: missing".to_string(),]
        );
    }
}
