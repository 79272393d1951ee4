//! API errors and the one function that turns any of them into an HTTP response.

use serde_json::json;

use super::Response;
use crate::config::ConfigError;
use crate::dynamo::DynamoError;

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
    /// DynamoDB was throttling or unreachable past the retry deadline.
    Unavailable {
        detail: String,
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
    /// An error with extra fields for the client (admin health's mismatches, a wrong code's
    /// attempts left), merged into the `error` object.
    Detailed {
        status: u16,
        code: &'static str,
        message: String,
        details: serde_json::Value,
    },
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
            Self::Unavailable { .. } => 503,
            Self::Detailed { status, .. } => *status,
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
            | Self::TooManyRequests { code, .. }
            | Self::Detailed { code, .. } => code,
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
            | Self::Detailed { message, .. } => message.clone(),
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
            Self::Unavailable { detail }
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
        let mut error = json!({ "code": self.code(), "message": self.message() });
        if let (Self::Detailed { details, .. }, Some(obj)) = (&self, error.as_object_mut())
            && let Some(extra) = details.as_object()
        {
            for (k, v) in extra {
                obj.insert(k.clone(), v.clone());
            }
        }
        let mut response = super::json_response(status, &json!({ "error": error }));
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: String| {
            if let Ok(v) = http::HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        };
        match &self {
            Self::TooManyRequests { retry_after, .. } => set("retry-after", retry_after.to_string()),
            Self::Unavailable { .. } => set("retry-after", "1".into()),
            Self::Detailed { status: 503, .. } => set("retry-after", "1".into()),
            Self::Detailed { status: 401, .. } => set("www-authenticate", "Bearer".into()),
            Self::MethodNotAllowed { allow } => set("allow", (*allow).to_string()),
            Self::Unauthorized { .. } => set("www-authenticate", "Bearer".into()),
            _ => {}
        }
        response
    }
}

impl From<DynamoError> for ApiError {
    fn from(e: DynamoError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable { detail: e.to_string() }
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

#[cfg(test)]
mod tests {
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
