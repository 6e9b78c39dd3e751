//! How errors become HTTP responses, including axum's own rejections (bad JSON, path, query or multipart
//! body, too large).

use axum::Json;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::model::missing_field;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(detail) = &self {
            tracing::error!(error = %detail, "internal error");
        }
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = match &self {
            AppError::RateLimited(secs) => Some(secs.to_string()),
            _ => None,
        };
        let mut response = (status, Json(self.body())).into_response();
        if let Some(secs) = retry_after.and_then(|s| axum::http::HeaderValue::from_str(&s).ok()) {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, secs);
        }
        response
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => {
                // axum reports `Failed to deserialize …: <path>: <serde message>`; keep the path as the field.
                let detail = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_else(|| e.body_text());
                match detail.split_once(": ") {
                    Some((path, message)) if !path.contains(' ') => match missing_field(message) {
                        Some(name) => required(&format!("{path}.{name}")),
                        None => AppError::validation(path, message),
                    },
                    _ => match missing_field(&detail) {
                        Some(name) => required(name),
                        None => AppError::validation("body", detail),
                    },
                }
            }
            JsonRejection::JsonSyntaxError(e) => AppError::BadRequest(format!(
                "malformed JSON: {}",
                std::error::Error::source(&e).map(ToString::to_string).unwrap_or_else(|| e.body_text())
            )),
            JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType,
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
            other => AppError::BadRequest(other.body_text()),
        }
    }
}

impl From<BytesRejection> for AppError {
    fn from(r: BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return AppError::PayloadTooLarge;
        }
        AppError::BadRequest(r.body_text())
    }
}

impl From<MultipartRejection> for AppError {
    fn from(_: MultipartRejection) -> Self {
        // The one rejection: no `multipart/form-data` content type, or one without a boundary.
        AppError::BadRequest("expected a multipart/form-data body (Content-Type with a boundary)".into())
    }
}

impl From<MultipartError> for AppError {
    fn from(e: MultipartError) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return AppError::PayloadTooLarge;
        }
        AppError::BadRequest(format!("malformed multipart/form-data body: {}", e.body_text()))
    }
}

impl From<PathRejection> for AppError {
    fn from(r: PathRejection) -> Self {
        AppError::BadRequest(format!("invalid path parameter: {}", r.body_text()))
    }
}

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        let text = r.body_text();
        let detail = text.strip_prefix("Failed to deserialize query string: ").unwrap_or(&text);
        match detail.split_once(": ") {
            Some((param, message)) if !param.contains(' ') => AppError::validation(param, message),
            _ => match missing_field(detail) {
                Some(name) => required(name),
                None => AppError::BadRequest(format!("invalid query string: {detail}")),
            },
        }
    }
}

/// A required field or parameter that was not sent, named as the caller wrote its path.
fn required(field: &str) -> AppError {
    AppError::validation(field, "is required")
}
