//! Items as DynamoDB's JSON protocol writes them: an [`AttributeValue`] is an object with one key
//! naming its type (`{"S": "text"}`, `{"N": "42"}`, `{"M": {..}}`, ...), numbers travel as
//! strings. Records convert to and from items through `serde_json::Value` ([`to_item`],
//! [`from_item`]): one small mapping instead of a serializer and deserializer of their own. A
//! record being read skips the [`Item`] map: [`WireItem`] reads the wire form straight into JSON
//! values (the lookup's hot path).

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// A record that does not fit its item (or an item that is not the record): what serde said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// One attribute value, tagged with its DynamoDB type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttributeValue {
    S(String),
    /// A number, as the decimal string DynamoDB keeps.
    N(String),
    #[serde(rename = "BOOL")]
    Bool(bool),
    #[serde(rename = "NULL")]
    Null(bool),
    M(HashMap<String, AttributeValue>),
    L(Vec<AttributeValue>),
    #[serde(rename = "SS")]
    Ss(Vec<String>),
    #[serde(rename = "NS")]
    Ns(Vec<String>),
    /// Binary, as base64 text (dynauth writes none; read as the text).
    B(String),
    #[serde(rename = "BS")]
    Bs(Vec<String>),
}

/// An item: attribute names to values.
pub type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A record as an item (it must serialize as a map). `None` fields skipped by the record stay
/// out; `null` becomes `NULL`.
pub fn to_item<V: Serialize>(value: &V) -> Result<Item, DecodeError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map.into_iter().map(|(k, v)| (k, to_attribute(v))).collect()),
        Ok(_) => Err(DecodeError { message: "encoding item: a record must be a map".into() }),
        Err(e) => Err(DecodeError { message: format!("encoding item: {e}") }),
    }
}

/// A record as an item with a `type` attribute naming what it is (so a table scan reads).
pub fn to_typed_item<V: Serialize>(kind: &str, value: &V) -> Result<Item, DecodeError> {
    let mut item = to_item(value)?;
    item.insert("type".to_string(), AttributeValue::S(kind.to_string()));
    Ok(item)
}

/// An item as a record.
pub fn from_item<V: DeserializeOwned>(item: Item) -> Result<V, DecodeError> {
    let map: Map<String, Value> = item.into_iter().map(|(k, v)| (k, from_attribute(v))).collect();
    serde_json::from_value(Value::Object(map)).map_err(|e| DecodeError { message: format!("decoding item: {e}") })
}

/// A plain value as an attribute.
/// An item read from the wire straight into JSON values: the same values [`from_item`] makes,
/// without the [`Item`] map in between.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WireItem(pub Map<String, Value>);

impl WireItem {
    /// The record `V` this item holds.
    pub fn into_record<V: DeserializeOwned>(self) -> Result<V, DecodeError> {
        serde_json::from_value(Value::Object(self.0))
            .map_err(|e| DecodeError { message: format!("decoding item: {e}") })
    }
}

impl<'de> Deserialize<'de> for WireItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Map<String, Value>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a DynamoDB item (a map of attribute values)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Map::new();
                while let Some(name) = map.next_key::<String>()? {
                    let WireValue(value) = map.next_value()?;
                    fields.insert(name, value);
                }
                Ok(fields)
            }
        }
        deserializer.deserialize_map(Fields).map(WireItem)
    }
}

/// One attribute value (`{"S": ..}`, `{"N": ..}`, ...) read into the JSON value
/// [`from_attribute`] gives for it.
struct WireValue(Value);

impl<'de> Deserialize<'de> for WireValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Tagged;
        impl<'de> Visitor<'de> for Tagged {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an attribute value: an object with one key naming its type")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                let Some(tag) = map.next_key::<std::borrow::Cow<'de, str>>()? else {
                    return Err(de::Error::custom("an attribute value without a type"));
                };
                let strings = |items: Vec<String>| Value::Array(items.into_iter().map(Value::String).collect());
                let value = match tag.as_ref() {
                    "S" | "B" => Value::String(map.next_value()?),
                    "N" => number(&map.next_value::<std::borrow::Cow<'de, str>>()?),
                    "BOOL" => Value::Bool(map.next_value()?),
                    "NULL" => {
                        map.next_value::<bool>()?;
                        Value::Null
                    }
                    "M" => Value::Object(map.next_value::<WireItem>()?.0),
                    "L" => Value::Array(map.next_value::<Vec<WireValue>>()?.into_iter().map(|v| v.0).collect()),
                    "SS" | "BS" => strings(map.next_value()?),
                    "NS" => Value::Array(map.next_value::<Vec<String>>()?.iter().map(|n| number(n)).collect()),
                    other => {
                        return Err(de::Error::unknown_variant(
                            other,
                            &["S", "N", "BOOL", "NULL", "M", "L", "SS", "NS", "B", "BS"],
                        ));
                    }
                };
                if map.next_key::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("an attribute value with more than one type"));
                }
                Ok(value)
            }
        }
        deserializer.deserialize_map(Tagged).map(WireValue)
    }
}

pub fn to_attribute(value: Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s),
        Value::Array(items) => AttributeValue::L(items.into_iter().map(to_attribute).collect()),
        Value::Object(map) => AttributeValue::M(map.into_iter().map(|(k, v)| (k, to_attribute(v))).collect()),
    }
}

/// An attribute as a plain value (sets become arrays, binary its base64 text).
pub fn from_attribute(value: AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) | AttributeValue::B(s) => Value::String(s),
        AttributeValue::N(n) => number(&n),
        AttributeValue::Bool(b) => Value::Bool(b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::M(map) => Value::Object(map.into_iter().map(|(k, v)| (k, from_attribute(v))).collect()),
        AttributeValue::L(items) => Value::Array(items.into_iter().map(from_attribute).collect()),
        AttributeValue::Ss(items) | AttributeValue::Bs(items) => {
            Value::Array(items.into_iter().map(Value::String).collect())
        }
        AttributeValue::Ns(items) => Value::Array(items.iter().map(|n| number(n)).collect()),
    }
}

/// A DynamoDB number: an integer when it is one, else a float, else (out of range) its text.
fn number(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(u) = text.parse::<u64>() {
        return Value::Number(u.into());
    }
    match text.parse::<f64>().ok().and_then(Number::from_f64) {
        Some(f) => Value::Number(f),
        None => Value::String(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Record {
        name: String,
        count: i64,
        big: u64,
        flag: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        missing: Option<String>,
        nothing: Option<String>,
        list: Vec<i64>,
        map: BTreeMap<String, String>,
    }

    #[test]
    fn records_round_trip_in_the_wire_form() {
        let record = Record {
            name: "acme".into(),
            count: -3,
            big: u64::MAX,
            flag: true,
            missing: None,
            nothing: None,
            list: vec![1, 2],
            map: BTreeMap::from([("a.example".into(), "ready".into())]),
        };
        let item = to_item(&record).unwrap_or_default();
        let wire = serde_json::to_value(&item).unwrap_or_default();
        assert_eq!(
            wire,
            serde_json::json!({
                "name": {"S": "acme"}, "count": {"N": "-3"}, "big": {"N": "18446744073709551615"},
                "flag": {"BOOL": true}, "nothing": {"NULL": true}, "list": {"L": [{"N": "1"}, {"N": "2"}]},
                "map": {"M": {"a.example": {"S": "ready"}}},
            })
        );
        let back: Record = from_item(item).expect("the test's own input");
        assert_eq!(back, record);
        let typed = to_typed_item("thing", &record).unwrap_or_default();
        assert_eq!(typed.get("type"), Some(&s("thing")));
    }

    #[test]
    fn wire_items_read_as_from_item_reads_them() {
        let wire = r#"{"s":{"S":"a\"b"},"n":{"N":"-3"},"big":{"N":"18446744073709551615"},"f":{"N":"0.5"},
            "odd":{"N":"1e400"},"t":{"BOOL":true},"z":{"NULL":true},"b":{"B":"AAE="},"ss":{"SS":["a","b"]},
            "ns":{"NS":["1","2.5"]},"bs":{"BS":["AA=="]},"l":{"L":[{"N":"1"},{"M":{"k":{"S":"v"}}}]},
            "m":{"M":{"inner":{"L":[]},"e":{"M":{}}}}}"#;
        let item: Item = serde_json::from_str(wire).unwrap_or_default();
        assert_eq!(item.len(), 13);
        let via_item: Value = from_item(item).unwrap_or_default();
        let direct: WireItem = serde_json::from_str(wire).unwrap_or_default();
        assert_eq!(Value::Object(direct.0), via_item);
        for bad in
            [r#"{"a":{}}"#, r#"{"a":{"S":"x","N":"1"}}"#, r#"{"a":{"X":"1"}}"#, r#"{"a":"plain"}"#, r#"{"a":{"N":1}}"#]
        {
            assert!(serde_json::from_str::<WireItem>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_wire_type_reads() {
        let item: Item = serde_json::from_str(
            r#"{"ss":{"SS":["a","b"]},"ns":{"NS":["1","2.5"]},"b":{"B":"AAE="},"f":{"N":"0.5"},"odd":{"N":"1e400"}}"#,
        )
        .unwrap_or_default();
        let value: Value = from_item(item).unwrap_or_default();
        assert_eq!(value, serde_json::json!({"ss": ["a", "b"], "ns": [1, 2.5], "b": "AAE=", "f": 0.5, "odd": "1e400"}));
        assert!(from_item::<Record>(Item::new()).is_err_and(|e| e.message.starts_with("decoding item")));
    }
}
