//! The one function that turns any [`ApiError`] into an HTTP response.

use serde::Serialize;

use super::Response;
pub use crate::app::error::ApiError;
use crate::table::schema::TableReport;

/// `{"error", "error_description"}` of an OAuth endpoint.
#[cfg(cold)]
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
    /// The JSON error response: `{"error": {"code", "message", ..}}` with the right status and
    /// headers (`Retry-After` on 429 and 503, `Allow` on 405, `WWW-Authenticate` on 401).
    pub fn into_response(self) -> Response {
        let status = self.status();
        #[cfg(cold)]
        if let Self::OAuth { error, description, challenge, .. } = &self {
            let body = OAuthBody { error: error.as_str(), error_description: description };
            let mut response = super::json_response(status, &body);
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::app::settings::ConfigError;
    use crate::dynamo::DynamoError;
    use crate::values::codes::ErrorCode;

    fn body(r: &Response) -> serde_json::Value {
        serde_json::from_slice(r.body()).unwrap_or_default()
    }

    #[test]
    fn shape_status_and_headers() {
        let r = ApiError::TooManyRequests {
            code: ErrorCode::TooManyRequests,
            message: "slow down".into(),
            retry_after: 42,
        }
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
            error: crate::domain::oidc::OAuthErrorCode::InvalidClient,
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
