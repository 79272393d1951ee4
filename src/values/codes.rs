//! The API's error codes: the `code` of every `{"error": {"code", "message"}}` answer, one
//! enum (docs/openapi.yaml's `ErrorCode` is checked against it by `scripts/openapi.mjs`). The
//! OAuth endpoints' codes are their standards' (`crate::domain::oidc`).

use serde::{Serialize, Serializer};

/// One of the API's error codes; its text is what clients match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidJson,
    UnknownFields,
    InvalidPath,
    InvalidHost,
    InvalidCursor,
    InvalidTenantId,
    Unauthorized,
    InvalidSession,
    InvalidCode,
    ForbiddenOrigin,
    BodyDeliveryRefused,
    LogoutNotAllowed,
    NotFound,
    UnknownHost,
    MethodNotAllowed,
    Conflict,
    TooManyDomains,
    DomainUnverified,
    SignInElsewhere,
    CodeUsed,
    CodeExpired,
    CodeSuperseded,
    PayloadTooLarge,
    UnsupportedMediaType,
    TooManyRequests,
    TooManyAttempts,
    ConfigError,
    InternalError,
    BadGateway,
    DeliveryFailed,
    Unavailable,
    TableMismatch,
}

impl ErrorCode {
    /// Every code, in the order docs/openapi.yaml lists them.
    pub const ALL: [Self; 33] = [
        Self::InvalidRequest,
        Self::InvalidJson,
        Self::UnknownFields,
        Self::InvalidPath,
        Self::InvalidHost,
        Self::InvalidCursor,
        Self::InvalidTenantId,
        Self::Unauthorized,
        Self::InvalidSession,
        Self::InvalidCode,
        Self::ForbiddenOrigin,
        Self::BodyDeliveryRefused,
        Self::LogoutNotAllowed,
        Self::NotFound,
        Self::UnknownHost,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::TooManyDomains,
        Self::DomainUnverified,
        Self::SignInElsewhere,
        Self::CodeUsed,
        Self::CodeExpired,
        Self::CodeSuperseded,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::TooManyRequests,
        Self::TooManyAttempts,
        Self::ConfigError,
        Self::InternalError,
        Self::BadGateway,
        Self::DeliveryFailed,
        Self::Unavailable,
        Self::TableMismatch,
    ];

    /// The code as clients see it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidJson => "invalid_json",
            Self::UnknownFields => "unknown_fields",
            Self::InvalidPath => "invalid_path",
            Self::InvalidHost => "invalid_host",
            Self::InvalidCursor => "invalid_cursor",
            Self::InvalidTenantId => "invalid_tenant_id",
            Self::Unauthorized => "unauthorized",
            Self::InvalidSession => "invalid_session",
            Self::InvalidCode => "invalid_code",
            Self::ForbiddenOrigin => "forbidden_origin",
            Self::BodyDeliveryRefused => "body_delivery_refused",
            Self::LogoutNotAllowed => "logout_not_allowed",
            Self::NotFound => "not_found",
            Self::UnknownHost => "unknown_host",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::TooManyDomains => "too_many_domains",
            Self::DomainUnverified => "domain_unverified",
            Self::SignInElsewhere => "sign_in_elsewhere",
            Self::CodeUsed => "code_used",
            Self::CodeExpired => "code_expired",
            Self::CodeSuperseded => "code_superseded",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooManyRequests => "too_many_requests",
            Self::TooManyAttempts => "too_many_attempts",
            Self::ConfigError => "config_error",
            Self::InternalError => "internal_error",
            Self::BadGateway => "bad_gateway",
            Self::DeliveryFailed => "delivery_failed",
            Self::Unavailable => "unavailable",
            Self::TableMismatch => "table_mismatch",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_snake_case_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{text}");
            assert!(seen.insert(text), "{text} twice");
        }
    }
}
