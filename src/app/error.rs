//! The errors the use cases answer with: a code, a status and a message for the client, a
//! detail for the log. The rim renders them (`crate::api::error`).

use crate::app::settings::ConfigError;
#[cfg(cold)]
use crate::domain::oidc::OAuthErrorCode;
use crate::dynamo::DynamoError;
use crate::table::schema::TableReport;
pub use crate::values::codes::ErrorCode;
use crate::values::input::Invalid;

/// An error the API answers with. The message is written for the client: it says what went
/// wrong and what to do, and never carries internal details (table names, DynamoDB messages);
/// those go to the log through [`ApiError::log_detail`].
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    BadRequest {
        code: ErrorCode,
        message: String,
    },
    Unauthorized {
        code: ErrorCode,
        message: String,
    },
    Forbidden {
        code: ErrorCode,
        message: String,
    },
    NotFound {
        code: ErrorCode,
        message: String,
    },
    MethodNotAllowed {
        allow: &'static str,
    },
    Conflict {
        code: ErrorCode,
        message: String,
    },
    Gone {
        code: ErrorCode,
        message: String,
    },
    PayloadTooLarge {
        limit: usize,
    },
    UnsupportedMediaType,
    TooManyRequests {
        code: ErrorCode,
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
    /// DynamoDB refused the credentials or does not have the table: to a client an internal
    /// error like any other; to the operator's CLI a configuration problem (exit 3). (The edge
    /// Worker, which has no CLI, answers these as `Internal`.)
    #[cfg(cold)]
    Refused {
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
    #[cfg(cold)]
    OAuth {
        status: u16,
        error: OAuthErrorCode,
        description: String,
        challenge: Option<String>,
    },
}

impl ApiError {
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound { code: ErrorCode::NotFound, message: message.into() }
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
            #[cfg(cold)]
            Self::Refused { .. } => 500,
            Self::BadGateway { .. } | Self::DeliveryFailed { .. } => 502,
            Self::Unavailable { .. } | Self::TableMismatch { .. } => 503,
            Self::InvalidCode { .. } => 401,
            #[cfg(cold)]
            Self::OAuth { status, .. } => *status,
        }
    }

    /// The code as clients see it (an OAuth endpoint's error is its standard's).
    pub fn code(&self) -> &'static str {
        match self {
            #[cfg(cold)]
            Self::OAuth { error, .. } => error.as_str(),
            other => other.error_code().map_or("internal_error", ErrorCode::as_str),
        }
    }

    /// The API error code; `None` for an OAuth endpoint's error.
    pub fn error_code(&self) -> Option<ErrorCode> {
        Some(match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::Gone { code, .. }
            | Self::TooManyRequests { code, .. } => *code,
            Self::InvalidCode { .. } => ErrorCode::InvalidCode,
            #[cfg(cold)]
            Self::OAuth { .. } => return None,
            Self::TableMismatch { .. } => ErrorCode::TableMismatch,
            Self::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
            Self::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            Self::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            Self::Config(_) => ErrorCode::ConfigError,
            Self::Unavailable { .. } => ErrorCode::Unavailable,
            Self::BadGateway { .. } => ErrorCode::BadGateway,
            Self::DeliveryFailed { .. } => ErrorCode::DeliveryFailed,
            Self::Internal { .. } => ErrorCode::InternalError,
            #[cfg(cold)]
            Self::Refused { .. } => ErrorCode::InternalError,
        })
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
            #[cfg(cold)]
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
            #[cfg(cold)]
            Self::Refused { .. } => "an internal error occurred; it has been logged".into(),
        }
    }

    /// What the log gets beyond the client's message.
    pub fn log_detail(&self) -> Option<&str> {
        match self {
            Self::Unavailable { detail, .. }
            | Self::Internal { detail }
            | Self::BadGateway { detail }
            | Self::DeliveryFailed { detail } => Some(detail),
            #[cfg(cold)]
            Self::Refused { detail } => Some(detail),
            _ => None,
        }
    }
}

impl From<DynamoError> for ApiError {
    fn from(e: DynamoError) -> Self {
        #[cfg(cold)]
        if matches!(e, DynamoError::SignatureRejected { .. })
            || matches!(e.code(), Some("ResourceNotFoundException" | "AccessDeniedException"))
        {
            return Self::Refused { detail: e.to_string() };
        }
        if e.is_unavailable() {
            Self::Unavailable { detail: e.to_string(), retry_after: 1 }
        } else {
            Self::Internal { detail: e.to_string() }
        }
    }
}

/// The crypto service failed (a key it could not import, a runtime that refused): a fault of
/// this deployment, never of the request.
impl From<crate::platform::signature::CryptoError> for ApiError {
    fn from(e: crate::platform::signature::CryptoError) -> Self {
        ApiError::Internal { detail: e.to_string() }
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
