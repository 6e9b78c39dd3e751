//! The one error type of the server, its stable machine-readable codes and its HTTP mapping.
//!
//! Domain services return `AppError`; `http::error` turns it into `{"error":{"code":…,"message":…}}`. Client
//! mistakes are 4xx with a code naming the problem; only a real fault of ours is a 500, logged in full and
//! answered with a generic message.

use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;

/// Every error the API can answer with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request body is not valid JSON, or a path or query parameter is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The request is well-formed but a field is invalid; `field` names it.
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    /// No credentials, or credentials that are unknown, expired or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// A cookie-authenticated request that changes state came without the matching CSRF token.
    #[error("missing or wrong X-CSRF-Token header")]
    Csrf,
    /// The caller's role is too low.
    #[error("{0}")]
    Forbidden(String),
    /// Unknown id, or an id of another workspace (which must look exactly the same).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change conflicts with the current state; `code` is the specific reason.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The route exists but not with this method.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// The request body exceeds the configured limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// The request body is not `application/json`.
    #[error("expected a request with Content-Type: application/json")]
    UnsupportedMediaType,
    /// The request is well-formed but the current state forbids it; `code` names the rule
    /// (e.g. `window_closed`).
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// A provider's webhook without a valid signature or secret; nothing was stored.
    #[error("{0}")]
    WebhookUnauthorized(String),
    /// A verification handshake whose token is not the channel's (Meta expects a 403).
    #[error("{0}")]
    WebhookForbidden(String),
    /// A provider's webhook the channel's plugin could not understand; nothing was stored.
    #[error("{0}")]
    WebhookRejected(String),
    /// The plugin needed for this request is not loaded (disabled, failed, or being installed).
    #[error("{0}")]
    PluginUnavailable(String),
    /// The plugin failed (timeout, limit, trap, or output the server cannot use); the caller may retry.
    #[error("{0}")]
    PluginFailed(String),
    /// A website-chat request without a valid visitor token for that chat.
    #[error("{0}")]
    VisitorTokenInvalid(String),
    /// Too many requests from one client; retry after this many seconds.
    #[error("too many requests; retry in {0} s")]
    RateLimited(u64),
    /// A fault of the server (database down, bug); details are logged, not returned.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_found`, `validation_failed`, `conversation_already_open`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The request field at fault, for `validation_failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl AppError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation { field: field.into(), message: message.into() }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Validation { .. } => "validation_failed",
            Self::Unauthorized(_) => "unauthorized",
            Self::Csrf => "csrf_failed",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict { code, .. } => code,
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Unprocessable { code, .. } => code,
            Self::WebhookUnauthorized(_) => "webhook_unauthorized",
            Self::WebhookForbidden(_) => "webhook_forbidden",
            Self::WebhookRejected(_) => "webhook_rejected",
            Self::PluginUnavailable(_) => "plugin_unavailable",
            Self::PluginFailed(_) => "plugin_failed",
            Self::VisitorTokenInvalid(_) => "visitor_token_invalid",
            Self::RateLimited(_) => "rate_limited",
            Self::Internal(_) => "internal",
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Validation { .. } => 422,
            Self::Unauthorized(_) => 401,
            Self::Csrf | Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict { .. } => 409,
            Self::MethodNotAllowed => 405,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::Unprocessable { .. } => 422,
            Self::WebhookUnauthorized(_) => 401,
            Self::WebhookForbidden(_) => 403,
            Self::WebhookRejected(_) => 400,
            Self::PluginUnavailable(_) => 503,
            Self::PluginFailed(_) => 502,
            Self::VisitorTokenInvalid(_) => 401,
            Self::RateLimited(_) => 429,
            Self::Internal(_) => 500,
        }
    }

    /// The JSON body for this error; internal details are replaced by a generic message.
    pub fn body(&self) -> ErrorBody {
        let message = match self {
            Self::Internal(_) => "internal server error".to_owned(),
            other => other.to_string(),
        };
        let field = match self {
            Self::Validation { field, .. } => Some(field.clone()),
            _ => None,
        };
        ErrorBody { error: ErrorDetail { code: self.code().to_owned(), message, field } }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::Conflict { code, message } => Self::Conflict { code, message },
            StoreError::Database(e) => Self::Internal(e),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
