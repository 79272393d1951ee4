//! DynamoDB errors: parsing an error response into a typed [`DynamoError`], and the one pure
//! function that decides whether an error may be retried.

use std::fmt;

use serde::Deserialize;

use super::Item;
use super::item::DecodeError;

/// Everything that can go wrong talking to DynamoDB, typed so callers can tell a failed condition
/// from throttling from a rejected signature.
#[derive(Debug, Clone, PartialEq)]
pub enum DynamoError {
    /// A `ConditionExpression` was false. `item` is the item as it stood, when the request asked
    /// for it (`ReturnValuesOnConditionCheckFailure: ALL_OLD`) and it existed.
    ConditionalCheckFailed { message: String, item: Option<Item> },
    /// A `TransactWriteItems` was cancelled; one reason per action, in request order.
    TransactionCanceled { message: String, reasons: Vec<CancellationReason> },
    /// The request's signature or credentials were refused (wrong secret, wrong region, unknown
    /// key, expired token, clock skew).
    SignatureRejected { status: u16, code: String, message: String },
    /// The table or index does not exist.
    ResourceNotFound { message: String },
    /// Any other error DynamoDB answered with a code.
    Service { status: u16, code: String, message: String },
    /// An error response whose body was not a DynamoDB JSON error (an HTML proxy page, say).
    Unparseable { status: u16, body: String },
    /// No response was received.
    Transport { message: String },
    /// A successful response whose body could not be decoded.
    Decode { message: String },
    /// Retries stopped (attempt limit or deadline) while the last error was still retryable.
    RetriesExhausted { attempts: u32, last: Box<DynamoError> },
    /// The request's deadline had passed (or left too little time) before this call could start.
    DeadlineExceeded,
}

/// Why one action of a cancelled transaction failed (`Code` is `None` for the actions that were
/// fine, which DynamoDB reports as `"None"`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CancellationReason {
    #[serde(rename = "Code", default, deserialize_with = "none_code")]
    pub code: Option<String>,
    #[serde(rename = "Message", default)]
    pub message: Option<String>,
    #[serde(rename = "Item", default)]
    pub item: Option<Item>,
}

fn none_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let code: Option<String> = Option::deserialize(d)?;
    Ok(code.filter(|c| c != "None"))
}

impl DynamoError {
    /// The DynamoDB error code, when there is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::ConditionalCheckFailed { .. } => Some("ConditionalCheckFailedException"),
            Self::TransactionCanceled { .. } => Some("TransactionCanceledException"),
            Self::ResourceNotFound { .. } => Some("ResourceNotFoundException"),
            Self::SignatureRejected { code, .. } | Self::Service { code, .. } => Some(code),
            Self::RetriesExhausted { last, .. } => last.code(),
            Self::Unparseable { .. } | Self::Transport { .. } | Self::Decode { .. } | Self::DeadlineExceeded => None,
        }
    }

    /// True when the service was overloaded or unreachable rather than the request being wrong:
    /// the API answers these with 503 and `Retry-After`.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::RetriesExhausted { .. } | Self::Transport { .. } | Self::DeadlineExceeded => true,
            other => classify(other, true) == Retry::Yes,
        }
    }

    /// True for a failed `ConditionExpression`.
    pub fn is_conditional_check_failed(&self) -> bool {
        matches!(self, Self::ConditionalCheckFailed { .. })
    }
}

impl fmt::Display for DynamoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ConditionalCheckFailed { message, .. } => {
                write!(f, "conditional check failed: {message}")
            }
            Self::TransactionCanceled { message, reasons } => {
                let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_deref().unwrap_or("None")).collect();
                write!(f, "transaction canceled [{}]: {message}", codes.join(", "))
            }
            Self::SignatureRejected { status, code, message } => {
                write!(f, "the request signature was rejected (HTTP {status} {code}): {message}")
            }
            Self::ResourceNotFound { message } => write!(f, "resource not found: {message}"),
            Self::Service { status, code, message } => {
                write!(f, "DynamoDB error (HTTP {status} {code}): {message}")
            }
            Self::Unparseable { status, body } => {
                write!(f, "unexpected non-DynamoDB error response (HTTP {status}): {body}")
            }
            Self::Transport { message } => write!(f, "no response from DynamoDB: {message}"),
            Self::Decode { message } => write!(f, "could not decode DynamoDB response: {message}"),
            Self::RetriesExhausted { attempts, last } => {
                write!(f, "gave up after {attempts} attempts: {last}")
            }
            Self::DeadlineExceeded => f.write_str("the request's deadline passed before this call could start"),
        }
    }
}

impl std::error::Error for DynamoError {}

/// Codes DynamoDB uses for throttling (HTTP 400), after smithy-rs' classifier.
const THROTTLING_CODES: &[&str] =
    &["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"];

/// Codes that mean the signature or credentials were refused.
const AUTH_CODES: &[&str] = &[
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignatureException",
    "IncompleteSignature",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "MissingAuthenticationTokenException",
    "MissingAuthenticationToken",
    "ExpiredTokenException",
    "AuthFailure",
];

/// Whether a failed attempt may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    Yes,
    No,
}

/// The retry classification. Throttling always: DynamoDB refused the request before applying it.
/// 500/502/503/504 and transport failures (a reset, a timeout, a lost answer) only for idempotent
/// requests: the outcome of such an attempt is unknown (the write may have been applied), so an
/// at-most-once write must not be sent again.
pub fn classify(error: &DynamoError, idempotent: bool) -> Retry {
    let yes = match error {
        DynamoError::Transport { .. } => idempotent,
        DynamoError::Service { status, code, .. } => {
            THROTTLING_CODES.contains(&code.as_str()) || (idempotent && is_retryable_status(*status))
        }
        DynamoError::Unparseable { status, .. } => idempotent && is_retryable_status(*status),
        DynamoError::ConditionalCheckFailed { .. }
        | DynamoError::TransactionCanceled { .. }
        | DynamoError::SignatureRejected { .. }
        | DynamoError::ResourceNotFound { .. }
        | DynamoError::Decode { .. }
        | DynamoError::RetriesExhausted { .. }
        | DynamoError::DeadlineExceeded => false,
    };
    if yes { Retry::Yes } else { Retry::No }
}

fn is_retryable_status(status: u16) -> bool {
    matches!(status, 500 | 502 | 503 | 504)
}

/// Parse a non-2xx DynamoDB response into a typed error.
///
/// The code comes from the `x-amzn-errortype` header, else the body's `__type` (or `code`), with
/// any `namespace#` prefix and `:detail` suffix removed; the message from `message` or `Message`.
/// Unknown fields are ignored. XML bodies (moto's auth errors) give `<Code>` and `<Message>`;
/// anything else becomes [`DynamoError::Unparseable`] with the status and the start of the body.
pub fn parse_error(status: u16, error_type_header: Option<&str>, body: &[u8]) -> DynamoError {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    let header_code = error_type_header.map(clean_code).filter(|c| !c.is_empty());
    let (code, message, json) = match parsed {
        Some(b) => {
            // An empty code (`"ns#"`, `"ns#:x"`: found by the fuzz target) is no code.
            let code = header_code.or_else(|| b.type_.or(b.code).map(|c| clean_code(&c)).filter(|c| !c.is_empty()));
            (code, b.message.or(b.message_upper).unwrap_or_default(), Some(b.rest))
        }
        None => match parse_xml_error(body) {
            Some((code, message)) => (Some(code), message, None),
            None => (header_code, String::new(), None),
        },
    };
    let Some(code) = code else {
        return DynamoError::Unparseable { status, body: snippet(body) };
    };
    from_code(status, code, message, json)
}

fn from_code(
    status: u16,
    code: String,
    message: String,
    json: Option<serde_json::Map<String, serde_json::Value>>,
) -> DynamoError {
    match code.as_str() {
        "ConditionalCheckFailedException" => {
            let item = json.and_then(|mut m| m.remove("Item")).and_then(|v| serde_json::from_value::<Item>(v).ok());
            DynamoError::ConditionalCheckFailed { message, item }
        }
        "TransactionCanceledException" => {
            let reasons = json
                .and_then(|mut m| m.remove("CancellationReasons"))
                .and_then(|v| serde_json::from_value::<Vec<CancellationReason>>(v).ok())
                .unwrap_or_else(|| reasons_from_message(&message));
            DynamoError::TransactionCanceled { message, reasons }
        }
        "ResourceNotFoundException" => DynamoError::ResourceNotFound { message },
        c if AUTH_CODES.contains(&c) => DynamoError::SignatureRejected { status, code, message },
        _ => DynamoError::Service { status, code, message },
    }
}

/// Older servers put the reasons only in the message: `... [ConditionalCheckFailed, None]`.
fn reasons_from_message(message: &str) -> Vec<CancellationReason> {
    let (Some(open), Some(close)) = (message.rfind('['), message.rfind(']')) else {
        return Vec::new();
    };
    if close < open {
        return Vec::new();
    }
    message[open + 1..close]
        .split(',')
        .map(|c| {
            let c = c.trim();
            CancellationReason {
                code: (c != "None" && !c.is_empty()).then(|| c.to_string()),
                message: None,
                item: None,
            }
        })
        .collect()
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "__type")]
    type_: Option<String>,
    code: Option<String>,
    message: Option<String>,
    #[serde(rename = "Message")]
    message_upper: Option<String>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

/// `com.amazonaws.dynamodb.v20120810#ThrottlingException` -> `ThrottlingException`;
/// `ThrottlingException:http://internal...` -> `ThrottlingException`.
fn clean_code(raw: &str) -> String {
    let no_suffix = raw.split(':').next().unwrap_or(raw);
    let code = no_suffix.rsplit('#').next().unwrap_or(no_suffix);
    code.trim().to_string()
}

/// `<Error><Code>X</Code><Message>Y</Message></Error>` -> (X, Y).
fn parse_xml_error(body: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(body).ok()?;
    // The same cleaning as JSON codes get (found by the fuzz target: `<Code>#X</Code>`).
    let code = Some(clean_code(&xml_tag(text, "Code")?)).filter(|c| !c.is_empty())?;
    let message = xml_tag(text, "Message").unwrap_or_default();
    Some((code, message))
}

fn xml_tag(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&close)?;
    let value = text[start..end].trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// The first 200 characters of a body, for error messages and logs.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return "(empty body)".to_string();
    }
    trimmed.chars().take(200).collect()
}

impl From<DecodeError> for DynamoError {
    fn from(e: DecodeError) -> Self {
        Self::Decode { message: e.message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(status: u16, body: &str) -> DynamoError {
        parse_error(status, None, body.as_bytes())
    }

    #[test]
    fn strips_the_dynamodb_namespace_prefix() {
        let e = parse(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#,
        );
        assert_eq!(
            e,
            DynamoError::Service {
                status: 400,
                code: "ProvisionedThroughputExceededException".into(),
                message: "slow down".into()
            }
        );
    }

    #[test]
    fn strips_the_coral_prefix_and_reads_capital_message() {
        let e = parse(
            400,
            r#"{"__type":"com.amazon.coral.service#UnrecognizedClientException","Message":"The security token included in the request is invalid."}"#,
        );
        assert_eq!(
            e,
            DynamoError::SignatureRejected {
                status: 400,
                code: "UnrecognizedClientException".into(),
                message: "The security token included in the request is invalid.".into()
            }
        );
    }

    #[test]
    fn tolerates_unknown_fields_such_as_throttling_reasons() {
        let e = parse(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Throughput exceeds the current capacity","ThrottlingReasons":[{"reason":"TableReadProvisionedThroughputExceeded","resource":"arn:aws:dynamodb:us-east-1:1:table/t"}]}"#,
        );
        assert_eq!(e.code(), Some("ThrottlingException"));
        assert_eq!(classify(&e, false), Retry::Yes);
    }

    #[test]
    fn header_error_type_wins_and_loses_its_suffix() {
        let e = parse_error(
            400,
            Some("ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/"),
            br#"{"message":"rate exceeded"}"#,
        );
        assert_eq!(e.code(), Some("ThrottlingException"));
        assert_eq!(e.to_string(), "DynamoDB error (HTTP 400 ThrottlingException): rate exceeded");
    }

    #[test]
    fn xml_signature_error_is_typed() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message></Error><RequestId>x</RequestId></ErrorResponse>"#;
        let e = parse(403, body);
        assert_eq!(
            e,
            DynamoError::SignatureRejected {
                status: 403,
                code: "SignatureDoesNotMatch".into(),
                message: "The request signature we calculated does not match the signature you provided.".into()
            }
        );
        assert!(e.to_string().contains("signature was rejected"));
    }

    #[test]
    fn html_body_is_a_clear_unparseable_error_with_status() {
        let e = parse(502, "<html><body><h1>502 Bad Gateway</h1></body></html>");
        assert_eq!(
            e,
            DynamoError::Unparseable { status: 502, body: "<html><body><h1>502 Bad Gateway</h1></body></html>".into() }
        );
        assert_eq!(classify(&e, true), Retry::Yes);
        assert_eq!(classify(&e, false), Retry::No, "a 502 leaves the outcome unknown");
        let e = parse(403, "<html>Forbidden</html>");
        assert_eq!(classify(&e, true), Retry::No);
        assert!(e.to_string().contains("HTTP 403"));
    }

    #[test]
    fn empty_and_garbage_bodies() {
        assert_eq!(parse(500, ""), DynamoError::Unparseable { status: 500, body: "(empty body)".into() });
        assert_eq!(parse(400, "{not json"), DynamoError::Unparseable { status: 400, body: "{not json".into() });
    }

    #[test]
    fn conditional_check_failed_carries_the_old_item() {
        let e = parse(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed","Item":{"PK":{"S":"a"},"n":{"N":"3"}}}"#,
        );
        let DynamoError::ConditionalCheckFailed { item: Some(item), .. } = e else {
            panic!("expected a conditional failure with an item, got {e:?}");
        };
        assert_eq!(item.get("n"), Some(&crate::dynamo::AttributeValue::N("3".into())));
    }

    #[test]
    fn transaction_canceled_reasons_in_order() {
        let e = parse(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]","CancellationReasons":[{"Code":"None"},{"Code":"ConditionalCheckFailed","Message":"The conditional request failed"}]}"#,
        );
        let DynamoError::TransactionCanceled { reasons, .. } = &e else {
            panic!("expected TransactionCanceled, got {e:?}");
        };
        assert_eq!(reasons.len(), 2);
        assert_eq!(reasons[0].code, None);
        assert_eq!(reasons[1].code.as_deref(), Some("ConditionalCheckFailed"));
        assert_eq!(e.to_string().split(':').next(), Some("transaction canceled [None, ConditionalCheckFailed]"));
    }

    #[test]
    fn transaction_reasons_from_message_when_absent() {
        let e = parse(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled [ConditionalCheckFailed, None]"}"#,
        );
        let DynamoError::TransactionCanceled { reasons, .. } = e else { panic!() };
        let codes: Vec<Option<&str>> = reasons.iter().map(|r| r.code.as_deref()).collect();
        assert_eq!(codes, vec![Some("ConditionalCheckFailed"), None]);
    }

    #[test]
    fn codes_found_by_the_fuzz_target() {
        // A namespace in an XML code is removed as in JSON codes.
        let e = parse(403, "<Error><Code>#SignatureDoesNotMatch</Code><Message>no</Message></Error>");
        assert_eq!(e.code(), Some("SignatureDoesNotMatch"));
        // A `__type` whose code is empty is no code: the body is unparseable, not a typed error.
        let e = parse(400, r#"{"__type":"com.amazonaws.dynamodb.v20120810#:ThrottlingException","message":"x"}"#);
        assert!(matches!(e, DynamoError::Unparseable { status: 400, .. }), "{e:?}");
        let e = parse(400, "<Error><Code>ns#</Code></Error>");
        assert!(matches!(e, DynamoError::Unparseable { status: 400, .. }), "{e:?}");
    }

    #[test]
    fn classification() {
        let svc = |status: u16, code: &str| DynamoError::Service { status, code: code.into(), message: String::new() };
        for code in THROTTLING_CODES {
            assert_eq!(classify(&svc(400, code), false), Retry::Yes, "{code}");
        }
        for status in [500, 502, 503, 504] {
            assert_eq!(classify(&svc(status, "InternalServerError"), true), Retry::Yes);
            // The write may have been applied: an at-most-once write is not sent again.
            assert_eq!(classify(&svc(status, "InternalServerError"), false), Retry::No);
        }
        assert_eq!(classify(&svc(501, "NotImplemented"), true), Retry::No);
        assert_eq!(classify(&svc(400, "ValidationException"), true), Retry::No);
        let transport = DynamoError::Transport { message: "reset".into() };
        assert_eq!(classify(&transport, true), Retry::Yes);
        assert_eq!(classify(&transport, false), Retry::No);
        let ccf = DynamoError::ConditionalCheckFailed { message: String::new(), item: None };
        assert_eq!(classify(&ccf, true), Retry::No);
        let sig = parse(403, "<Error><Code>SignatureDoesNotMatch</Code></Error>");
        assert_eq!(classify(&sig, true), Retry::No);
        assert!(!sig.is_unavailable());
        assert!(svc(503, "ServiceUnavailable").is_unavailable());
    }
}
