//! API errors and the one function that turns any of them into an HTTP response.

use serde::Serialize;

use super::Response;
use crate::config::ConfigError;
use crate::dynamo::DynamoError;
use crate::table::schema::TableReport;
use crate::values::input::Invalid;

/// An error the API answers with. The message is written for the client: it says what went
/// wrong and what to do, and never carries internal details (table names, DynamoDB messages);
/// those go to the log through [`ApiError::log_detail`].
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    BadRequest {
        code: &'static str,
        message: String,
    },
    Unauthorized {
        code: &'static str,
        message: String,
    },
    Forbidden {
        code: &'static str,
        message: String,
    },
    NotFound {
        code: &'static str,
        message: String,
    },
    MethodNotAllowed {
        allow: &'static str,
    },
    Conflict {
        code: &'static str,
        message: String,
    },
    Gone {
        code: &'static str,
        message: String,
    },
    PayloadTooLarge {
        limit: usize,
    },
    UnsupportedMediaType,
    TooManyRequests {
        code: &'static str,
        message: String,
        retry_after: u64,
    },
    Config(ConfigError),
    /// DynamoDB was throttling or unreachable past the retry deadline: the client may retry
    /// after `retry_after` seconds.
    Unavailable {
        detail: String,
        retry_after: u64,
    },
    /// The tenant's origin could not be reached.
    BadGateway {
        detail: String,
    },
    /// The login-code webhook did not accept the code.
    DeliveryFailed {
        detail: String,
    },
    /// Anything else: a generic answer to the client, the detail to the log.
    Internal {
        detail: String,
    },
    /// 401 `invalid_code` for a known login: how many attempts are left.
    InvalidCode {
        message: String,
        attempts_left: u32,
    },
    /// 503 `table_mismatch`: the live table is not what dynauth expects.
    TableMismatch {
        message: String,
        report: Box<TableReport>,
    },
    /// An OAuth endpoint's error, in its standard's shape (RFC 6749 §5.2, RFC 6750 §3):
    /// `{"error", "error_description"}`, with a `WWW-Authenticate` challenge when there is one
    /// (`Basic` for a client that authenticated that way, `Bearer error="invalid_token"`).
    OAuth {
        status: u16,
        error: &'static str,
        description: String,
        challenge: Option<String>,
    },
}

/// `{"error", "error_description"}` of an OAuth endpoint.
#[derive(Serialize)]
struct OAuthBody<'a> {
    error: &'static str,
    error_description: &'a str,
}

/// `{"error": {...}}`: code and message, and the extra fields of some errors.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorView<'a>,
}

#[derive(Serialize)]
struct ErrorView<'a> {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts_left: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mismatches: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    table: Option<&'a TableReport>,
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound { code: "not_found", message: message.into() }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest { .. } => 400,
            Self::Unauthorized { .. } => 401,
            Self::Forbidden { .. } => 403,
            Self::NotFound { .. } => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::Conflict { .. } => 409,
            Self::Gone { .. } => 410,
            Self::PayloadTooLarge { .. } => 413,
            Self::UnsupportedMediaType => 415,
            Self::TooManyRequests { .. } => 429,
            Self::Config(_) | Self::Internal { .. } => 500,
            Self::BadGateway { .. } | Self::DeliveryFailed { .. } => 502,
            Self::Unavailable { .. } | Self::TableMismatch { .. } => 503,
            Self::InvalidCode { .. } => 401,
            Self::OAuth { status, .. } => *status,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::Gone { code, .. }
            | Self::TooManyRequests { code, .. } => code,
            Self::InvalidCode { .. } => "invalid_code",
            Self::OAuth { error, .. } => error,
            Self::TableMismatch { .. } => "table_mismatch",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Config(_) => "config_error",
            Self::Unavailable { .. } => "unavailable",
            Self::BadGateway { .. } => "bad_gateway",
            Self::DeliveryFailed { .. } => "delivery_failed",
            Self::Internal { .. } => "internal_error",
        }
    }

    /// The client-facing message.
    pub fn message(&self) -> String {
        match self {
            Self::BadRequest { message, .. }
            | Self::Unauthorized { message, .. }
            | Self::Forbidden { message, .. }
            | Self::NotFound { message, .. }
            | Self::Conflict { message, .. }
            | Self::Gone { message, .. }
            | Self::TooManyRequests { message, .. }
            | Self::InvalidCode { message, .. }
            | Self::TableMismatch { message, .. } => message.clone(),
            Self::OAuth { description, .. } => description.clone(),
            Self::MethodNotAllowed { allow } => format!("this path accepts only {allow}"),
            Self::PayloadTooLarge { limit } => {
                format!("the request body is larger than {limit} bytes")
            }
            Self::UnsupportedMediaType => "the request body must be JSON (content-type: application/json)".into(),
            Self::Config(e) => format!("dynauth is misconfigured: {e}"),
            Self::Unavailable { .. } => {
                "the database is busy or unreachable; retry after the time in Retry-After".into()
            }
            Self::BadGateway { .. } => "the tenant's origin could not be reached".into(),
            Self::DeliveryFailed { .. } => {
                "the login code could not be delivered; no code was issued, try again".into()
            }
            Self::Internal { .. } => "an internal error occurred; it has been logged".into(),
        }
    }

    /// What the log gets beyond the client's message.
    pub fn log_detail(&self) -> Option<&str> {
        match self {
            Self::Unavailable { detail, .. }
            | Self::Internal { detail }
            | Self::BadGateway { detail }
            | Self::DeliveryFailed { detail } => Some(detail),
            _ => None,
        }
    }

    /// The JSON error response: `{"error": {"code", "message", ..}}` with the right status and
    /// headers (`Retry-After` on 429 and 503, `Allow` on 405, `WWW-Authenticate` on 401).
    pub fn into_response(self) -> Response {
        let status = self.status();
        if let Self::OAuth { error, description, challenge, .. } = &self {
            let mut response = super::json_response(status, &OAuthBody { error, error_description: description });
            response.headers_mut().insert(http::header::PRAGMA, http::HeaderValue::from_static("no-cache"));
            if let Some(v) = challenge.as_deref().and_then(|c| http::HeaderValue::from_str(c).ok()) {
                response.headers_mut().insert(http::header::WWW_AUTHENTICATE, v);
            }
            return response;
        }
        let error = ErrorView {
            code: self.code(),
            message: self.message(),
            attempts_left: match &self {
                Self::InvalidCode { attempts_left, .. } => Some(*attempts_left),
                _ => None,
            },
            mismatches: match &self {
                Self::TableMismatch { report, .. } => Some(&report.mismatches),
                _ => None,
            },
            table: match &self {
                Self::TableMismatch { report, .. } => Some(report),
                _ => None,
            },
        };
        let mut response = super::json_response(status, &ErrorBody { error });
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: String| {
            if let Ok(v) = http::HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        };
        match &self {
            Self::TooManyRequests { retry_after, .. } => set("retry-after", retry_after.to_string()),
            Self::Unavailable { retry_after, .. } => set("retry-after", retry_after.to_string()),
            Self::TableMismatch { .. } => set("retry-after", "1".into()),
            Self::MethodNotAllowed { allow } => set("allow", (*allow).to_string()),
            Self::Unauthorized { .. } | Self::InvalidCode { .. } => set("www-authenticate", "Bearer".into()),
            _ => {}
        }
        response
    }
}

impl From<DynamoError> for ApiError {
    fn from(e: DynamoError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable { detail: e.to_string(), retry_after: 1 }
        } else {
            Self::Internal { detail: e.to_string() }
        }
    }
}

impl From<ConfigError> for ApiError {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        match e {
            Invalid::Field { code, message } => ApiError::BadRequest { code, message },
            Invalid::TooLarge => ApiError::PayloadTooLarge { limit: crate::values::input::MAX_BODY },
            Invalid::NotJson => ApiError::UnsupportedMediaType,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(r: &Response) -> serde_json::Value {
        serde_json::from_slice(r.body()).unwrap_or_default()
    }

    #[test]
    fn shape_status_and_headers() {
        let r = ApiError::TooManyRequests { code: "too_many_requests", message: "slow down".into(), retry_after: 42 }
            .into_response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "42");
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(body(&r), json!({"error": {"code": "too_many_requests", "message": "slow down"}}));
    }

    #[test]
    fn internal_details_never_reach_the_client() {
        let e = ApiError::from(DynamoError::Service {
            status: 400,
            code: "ValidationException".into(),
            message: "table secret-table-name has no index X".into(),
        });
        assert_eq!(e.log_detail().map(|d| d.contains("secret-table-name")), Some(true));
        let r = e.into_response();
        assert_eq!(r.status(), 500);
        let text = String::from_utf8_lossy(r.body()).to_string();
        assert!(!text.contains("secret-table-name") && !text.contains("ValidationException"), "{text}");
        assert_eq!(body(&r)["error"]["code"], "internal_error");
    }

    #[test]
    fn throttling_is_503_with_retry_after() {
        let e = ApiError::from(DynamoError::RetriesExhausted {
            attempts: 4,
            last: Box::new(DynamoError::Service {
                status: 400,
                code: "ThrottlingException".into(),
                message: String::new(),
            }),
        });
        let r = e.into_response();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "1");
        assert_eq!(body(&r)["error"]["code"], "unavailable");
    }

    #[test]
    fn extra_fields_of_some_errors() {
        let r = ApiError::InvalidCode { message: "wrong".into(), attempts_left: 3 }.into_response();
        assert_eq!((r.status().as_u16(), r.headers()["www-authenticate"].to_str().ok()), (401, Some("Bearer")));
        assert_eq!(body(&r), json!({"error": {"code": "invalid_code", "message": "wrong", "attempts_left": 3}}));
        let report =
            TableReport { table: "t".into(), mismatches: vec!["index GSI2: missing".into()], ..Default::default() };
        let r = ApiError::TableMismatch { message: "bad".into(), report: Box::new(report) }.into_response();
        assert_eq!(r.status().as_u16(), 503);
        assert_eq!(body(&r)["error"]["mismatches"], json!(["index GSI2: missing"]));
        assert_eq!(body(&r)["error"]["table"]["table"], "t");
    }

    #[test]
    fn oauth_errors_have_their_standard_shape() {
        let r = ApiError::OAuth {
            status: 401,
            error: "invalid_client",
            description: "client authentication failed".into(),
            challenge: Some("Basic realm=\"dynauth\"".into()),
        }
        .into_response();
        assert_eq!(r.status(), 401);
        assert_eq!(body(&r), json!({"error": "invalid_client", "error_description": "client authentication failed"}));
        assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"dynauth\"");
        assert_eq!(
            (r.headers()["cache-control"].to_str().ok(), r.headers()["pragma"].to_str().ok()),
            (Some("no-store"), Some("no-cache"))
        );
    }

    #[test]
    fn config_error_names_the_variable() {
        let r = ApiError::from(ConfigError { variable: "TOKEN_SECRET", problem: "is not set".into() }).into_response();
        assert_eq!(r.status(), 500);
        assert_eq!(body(&r)["error"]["code"], "config_error");
        assert_eq!(
            body(&r)["error"]["message"],
            "dynauth is misconfigured: configuration variable TOKEN_SECRET is not set"
        );
    }
}
