//! Reading client input: JSON bodies (size-limited, objects only, unknown fields named) and
//! typed fields whose errors name the field. Every value is validated into a typed value here or
//! in the feature's own constructor before it is used.

use std::fmt;

use serde_json::{Map, Value};

/// Bodies larger than this are refused with 413.
pub const MAX_BODY: usize = 16 * 1024;

/// Why input was refused; becomes a 4xx with this code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// 400 with `code` and `message`.
    Field { code: &'static str, message: String },
    /// 413: the body is over [`MAX_BODY`].
    TooLarge,
    /// 415: the body is not declared as JSON.
    NotJson,
}

impl Invalid {
    pub fn field(field: &str, problem: impl fmt::Display) -> Self {
        Self::Field { code: "invalid_request", message: format!("{field}: {problem}") }
    }

    pub fn with_code(code: &'static str, message: impl Into<String>) -> Self {
        Self::Field { code, message: message.into() }
    }
}

/// A JSON object from a request body. `allowed` lists the accepted field names; any other field
/// is refused with `unknown_fields` naming every one of them.
pub fn json_object(content_type: Option<&str>, body: &[u8], allowed: &[&str]) -> Result<Map<String, Value>, Invalid> {
    let map = json_body(content_type, body)?;
    check_fields(&map, allowed, "")?;
    Ok(map)
}

/// A JSON object from a request body, its fields left for the caller to check.
pub fn json_body(content_type: Option<&str>, body: &[u8]) -> Result<Map<String, Value>, Invalid> {
    if body.len() > MAX_BODY {
        return Err(Invalid::TooLarge);
    }
    let is_json = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"))
        .unwrap_or(false);
    if !is_json {
        return Err(Invalid::NotJson);
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Invalid::with_code("invalid_json", format!("the body is not valid JSON: {e}")))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(Invalid::with_code("invalid_json", "the body must be a JSON object")),
    }
}

/// Refuses any key of `map` not in `allowed`; `prefix` names the enclosing object in the message.
pub fn check_fields(map: &Map<String, Value>, allowed: &[&str], prefix: &str) -> Result<(), Invalid> {
    let mut unknown: Vec<String> =
        map.keys().filter(|k| !allowed.contains(&k.as_str())).map(|k| format!("{prefix}{k}")).collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort();
    Err(Invalid::with_code(
        "unknown_fields",
        format!(
            "unknown field(s): {}; accepted: {}",
            unknown.join(", "),
            allowed.iter().map(|a| format!("{prefix}{a}")).collect::<Vec<_>>().join(", ")
        ),
    ))
}

/// Typed access to the fields of one object, naming `prefix.field` in errors.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>, prefix: &'a str) -> Self {
        Self { map, prefix }
    }

    pub fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    /// A required string.
    pub fn string(&self, field: &str) -> Result<&'a str, Invalid> {
        self.opt_string(field)?.ok_or_else(|| Invalid::field(&self.name(field), "is required"))
    }

    pub fn opt_string(&self, field: &str) -> Result<Option<&'a str>, Invalid> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Invalid::field(&self.name(field), "must be a string")),
        }
    }

    pub fn opt_bool(&self, field: &str) -> Result<Option<bool>, Invalid> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(Invalid::field(&self.name(field), "must be true or false")),
        }
    }

    /// An optional whole number within `min..=max`.
    pub fn opt_int(&self, field: &str, min: u64, max: u64) -> Result<Option<u64>, Invalid> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
                _ => Err(Invalid::field(&self.name(field), format!("must be a whole number from {min} to {max}"))),
            },
            Some(_) => Err(Invalid::field(&self.name(field), format!("must be a whole number from {min} to {max}"))),
        }
    }

    pub fn opt_object(&self, field: &str) -> Result<Option<&'a Map<String, Value>>, Invalid> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(Invalid::field(&self.name(field), "must be an object")),
        }
    }

    pub fn opt_array(&self, field: &str) -> Result<Option<&'a Vec<Value>>, Invalid> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(Invalid::field(&self.name(field), "must be an array")),
        }
    }
}

/// A query-string parameter, percent-decoded; `None` when absent.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k).as_deref() == Some(name)).then(|| percent_decode(v)).flatten()
    })
}

/// Percent-decoding (`+` is a space, as in forms); `None` for malformed escapes or non-UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: Option<&str> = Some("application/json; charset=utf-8");

    #[test]
    fn bodies() {
        assert_eq!(json_object(JSON, &vec![b' '; MAX_BODY + 1], &[]), Err(Invalid::TooLarge));
        assert_eq!(json_object(Some("text/plain"), b"{}", &[]), Err(Invalid::NotJson));
        assert_eq!(json_object(None, b"{}", &[]), Err(Invalid::NotJson));
        assert!(matches!(json_object(JSON, b"{", &[]), Err(Invalid::Field { code: "invalid_json", .. })));
        assert!(matches!(json_object(JSON, b"[1]", &[]), Err(Invalid::Field { code: "invalid_json", .. })));
        assert_eq!(
            json_object(JSON, br#"{"name":"x","zeta":1,"alpha":2}"#, &["name"]),
            Err(Invalid::Field {
                code: "unknown_fields",
                message: "unknown field(s): alpha, zeta; accepted: name".into()
            })
        );
        assert_eq!(json_object(JSON, br#"{"name":"x"}"#, &["name"]).map(|m| m.len()), Ok(1));
    }

    #[test]
    fn typed_fields_name_themselves() {
        let map = serde_json::json!({"s": "x", "n": 70000, "b": "yes", "o": {"k": 1}, "z": null});
        let Value::Object(map) = map else { panic!() };
        let f = Fields::new(&map, "session.");
        assert_eq!(f.string("s"), Ok("x"));
        assert_eq!(f.string("z"), Err(Invalid::field("session.z", "is required")));
        assert_eq!(f.opt_int("n", 60, 600), Err(Invalid::field("session.n", "must be a whole number from 60 to 600")));
        assert_eq!(f.opt_int("n", 1, 100_000), Ok(Some(70000)));
        assert_eq!(f.opt_bool("b"), Err(Invalid::field("session.b", "must be true or false")));
        assert!(f.opt_object("o").map(|o| o.is_some()).unwrap_or(false));
        assert_eq!(f.opt_array("missing"), Ok(None));
    }

    #[test]
    fn query_strings() {
        let q = Some("limit=5&cursor=a%2Bb.c&email=a%40b.example&x");
        assert_eq!(query_param(q, "limit").as_deref(), Some("5"));
        assert_eq!(query_param(q, "cursor").as_deref(), Some("a+b.c"));
        assert_eq!(query_param(q, "email").as_deref(), Some("a@b.example"));
        assert_eq!(query_param(q, "x").as_deref(), Some(""));
        assert_eq!(query_param(q, "nope"), None);
        assert_eq!(query_param(None, "limit"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_encode("/a b?c=d&e"), "%2Fa%20b%3Fc%3Dd%26e");
    }
}
