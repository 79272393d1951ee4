//! Client input: JSON objects decoded into `#[derive(Deserialize)]` types whose fields carry the
//! rules, with errors that name the field. Unknown fields (`deny_unknown_fields`) are refused with
//! `unknown_fields` naming every one of them and what is accepted; `session.lifetime_secs: must
//! be a whole number from 300 to 34560000` or `allowed_origins[1]: ...` name the field of any
//! other problem; a field that is absent or `null` where a value is needed `is required`.
//!
//! The field types here give the messages a client can act on: [`Flag`] (`true or false`),
//! [`Bounded`] (a whole number in a range), [`List`] (`an array`), and [`object`] for nested
//! objects (so an array never passes for one).

use crate::values::codes::ErrorCode;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Bodies larger than this are refused with 413.
pub const MAX_BODY: usize = 16 * 1024;

/// Why input was refused; becomes a 4xx with this code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// 400 with `code` and `message`.
    Field { code: ErrorCode, message: String },
    /// 413: the body is over [`MAX_BODY`].
    TooLarge,
    /// 415: the body is not declared as JSON.
    NotJson,
}

impl Invalid {
    /// 400 `invalid_request`: `field: problem`.
    pub fn field(field: &str, problem: impl fmt::Display) -> Self {
        Self::Field { code: ErrorCode::InvalidRequest, message: format!("{field}: {problem}") }
    }

    pub fn with_code(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Field { code, message: message.into() }
    }
}

/// Decodes a JSON object into `T`; errors name the field (see the module docs).
pub fn decode<T: DeserializeOwned>(value: &Value) -> Result<T, Invalid> {
    if !value.is_object() {
        return Err(Invalid::with_code(ErrorCode::InvalidJson, "the body must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| explain(value, &e))
}

/// Turns a deserialization error into the client's message.
fn explain(value: &Value, error: &serde_path_to_error::Error<serde_json::Error>) -> Invalid {
    let segments: Vec<&serde_path_to_error::Segment> = error.path().iter().collect();
    let inner = error.inner().to_string();
    let name = |segments: &[&serde_path_to_error::Segment]| {
        let mut out = String::new();
        for s in segments {
            match s {
                serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("[{index}]")),
                serde_path_to_error::Segment::Map { key } => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                _ => {}
            }
        }
        out
    };
    let join =
        |prefix: &str, field: &str| if prefix.is_empty() { field.to_string() } else { format!("{prefix}.{field}") };
    if let Some(field) = inner.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
        return Invalid::field(&join(&name(&segments), field), "is required");
    }
    if inner.starts_with("unknown field `") {
        let parent = &segments[..segments.len().saturating_sub(1)];
        let prefix = name(parent);
        let accepted: Vec<&str> =
            inner.split_once("expected").map_or(Vec::new(), |(_, list)| list.split('`').skip(1).step_by(2).collect());
        let mut at = value;
        for s in parent {
            at = match s {
                serde_path_to_error::Segment::Map { key } => &at[key.as_str()],
                serde_path_to_error::Segment::Seq { index } => &at[*index],
                _ => at,
            };
        }
        let mut unknown: Vec<String> = at
            .as_object()
            .map(|m| m.keys().filter(|k| !accepted.contains(&k.as_str())).map(|k| join(&prefix, k)).collect())
            .unwrap_or_default();
        unknown.sort();
        let accepted: Vec<String> = accepted.iter().map(|a| join(&prefix, a)).collect();
        return Invalid::with_code(
            ErrorCode::UnknownFields,
            format!("unknown field(s): {}; accepted: {}", unknown.join(", "), accepted.join(", ")),
        );
    }
    let problem = match inner.split_once(", expected ") {
        Some((got, _)) if got.ends_with(": null") => "is required".to_string(),
        Some((got, expected)) if got.starts_with("invalid type") || got.starts_with("invalid value") => {
            format!("must be {expected}")
        }
        _ => inner,
    };
    Invalid::field(&name(&segments), problem)
}

/// `true` or `false` (refused: `"yes"`, `1`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true or false")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(v))
            }
        }
        deserializer.deserialize_bool(V)
    }
}

/// A display text (a name): trimmed, then 1 to `MAX` characters without control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct Text<const MAX: usize>(pub String);

impl<const MAX: usize> TryFrom<String> for Text<MAX> {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        let text = raw.trim();
        if text.is_empty() || text.chars().count() > MAX || text.chars().any(char::is_control) {
            Err(format!("must be 1-{MAX} characters without control characters"))
        } else {
            Ok(Self(text.to_string()))
        }
    }
}

/// A whole number from `MIN` to `MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Bounded<const MIN: u64, const MAX: u64>(pub u64);

impl<'de, const MIN: u64, const MAX: u64> Deserialize<'de> for Bounded<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<const MIN: u64, const MAX: u64>;
        impl<const MIN: u64, const MAX: u64> Visitor<'_> for V<MIN, MAX> {
            type Value = Bounded<MIN, MAX>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a whole number from {MIN} to {MAX}")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                if (MIN..=MAX).contains(&v) {
                    Ok(Bounded(v))
                } else {
                    Err(E::invalid_value(de::Unexpected::Unsigned(v), &self))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            /// `300.0` is the whole number 300 (JSON has one number type, and JSON Schema's
            /// `integer` takes it); `1.5` is not. (No float in the message: formatting one would
            /// link a float printer.)
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                if v.fract() == 0.0 && (MIN as f64..=MAX as f64).contains(&v) {
                    self.visit_u64(v as u64)
                } else {
                    Err(E::invalid_value(de::Unexpected::Other("a number outside the range or with a fraction"), &self))
                }
            }
        }
        deserializer.deserialize_u64(V::<MIN, MAX>)
    }
}

/// A JSON array of `T`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(List(items))
            }
        }
        deserializer.deserialize_seq(V(PhantomData))
    }
}

/// For a field holding a nested object (`#[serde(deserialize_with = "object")]`): only a JSON
/// object is taken (serde would also take an array for a struct), "must be an object" otherwise.
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<T, D::Error> {
    struct V<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }
    deserializer.deserialize_map(V(PhantomData))
}

/// Like [`object`], for an optional nested object (absent or `null` is `None`).
pub fn optional_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    struct V<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
            object(deserializer).map(Some)
        }
    }
    deserializer.deserialize_option(V(PhantomData))
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for a `return_to` value.
pub fn encode_component(text: &str) -> String {
    const RESERVED: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(text, RESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        ttl: Bounded<60, 600>,
        #[serde(default)]
        on: Option<Flag>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        name: String,
        #[serde(default)]
        tags: Option<List<String>>,
        #[serde(default, deserialize_with = "optional_object")]
        inner: Option<Inner>,
    }

    fn err(v: Value) -> Invalid {
        decode::<Body>(&v).err().unwrap_or(Invalid::TooLarge)
    }

    #[test]
    fn decodes_typed_fields() {
        let body: Result<Body, _> = decode(&json!({"name": "x", "tags": ["a"], "inner": {"ttl": 60, "on": true}}));
        assert_eq!(
            body,
            Ok(Body {
                name: "x".into(),
                tags: Some(List(vec!["a".into()])),
                inner: Some(Inner { ttl: Bounded(60), on: Some(Flag(true)) })
            })
        );
        assert_eq!(decode::<Body>(&json!({"name": "x", "inner": null})).map(|b| b.inner), Ok(None));
        // A whole number written with a fraction of zero is that number, as JSON Schema reads it.
        let ttl = |v: Value| decode::<Body>(&json!({"name": "x", "inner": {"ttl": v}})).map(|b| b.inner.map(|i| i.ttl));
        assert_eq!(ttl(json!(600.0)), Ok(Some(Bounded(600))));
        assert_eq!(ttl(json!(60.0)), Ok(Some(Bounded(60))));
    }

    #[test]
    fn every_error_names_its_field() {
        let field =
            |m: &str| Invalid::field(m.split(": ").next().unwrap_or(""), m.split_once(": ").map(|x| x.1).unwrap_or(""));
        let cases = [
            (json!({}), field("name: is required")),
            (json!({"name": null}), field("name: is required")),
            (json!({"name": 5}), field("name: must be a string")),
            (json!({"name": "x", "tags": "a"}), field("tags: must be an array")),
            (json!({"name": "x", "tags": ["a", 3]}), field("tags[1]: must be a string")),
            (json!({"name": "x", "inner": 5}), field("inner: must be an object")),
            (json!({"name": "x", "inner": [60]}), field("inner: must be an object")),
            (json!({"name": "x", "inner": {}}), field("inner.ttl: is required")),
            (json!({"name": "x", "inner": {"ttl": 59}}), field("inner.ttl: must be a whole number from 60 to 600")),
            (json!({"name": "x", "inner": {"ttl": -1}}), field("inner.ttl: must be a whole number from 60 to 600")),
            (json!({"name": "x", "inner": {"ttl": 1.5}}), field("inner.ttl: must be a whole number from 60 to 600")),
            (json!({"name": "x", "inner": {"ttl": 59.0}}), field("inner.ttl: must be a whole number from 60 to 600")),
            (json!({"name": "x", "inner": {"ttl": 1e300}}), field("inner.ttl: must be a whole number from 60 to 600")),
            (json!({"name": "x", "inner": {"ttl": 60, "on": "yes"}}), field("inner.on: must be true or false")),
        ];
        for (body, want) in cases {
            assert_eq!(err(body.clone()), want, "{body}");
        }
    }

    #[test]
    fn unknown_fields_are_all_named_with_what_is_accepted() {
        assert_eq!(
            err(json!({"name": "x", "zeta": 1, "alpha": 2})),
            Invalid::with_code(ErrorCode::UnknownFields, "unknown field(s): alpha, zeta; accepted: name, tags, inner")
        );
        assert_eq!(
            err(json!({"name": "x", "inner": {"ttl": 60, "x": 1}})),
            Invalid::with_code(ErrorCode::UnknownFields, "unknown field(s): inner.x; accepted: inner.ttl, inner.on")
        );
    }

    #[test]
    fn only_objects_are_bodies() {
        assert_eq!(err(json!([1])), Invalid::with_code(ErrorCode::InvalidJson, "the body must be a JSON object"));
        assert_eq!(err(json!("x")), Invalid::with_code(ErrorCode::InvalidJson, "the body must be a JSON object"));
    }
}
