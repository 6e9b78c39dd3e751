//! Request extractors: JSON, path, query, raw body and multipart with our error shape, and `Auth`, the
//! caller behind a bearer token or a session cookie (with its CSRF check).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::Method;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use crate::app::App;
use crate::crypto;
use crate::error::AppError;
use crate::model::Principal;
use crate::service::accounts;

/// Name of the HttpOnly cookie that carries the session id.
pub const SESSION_COOKIE: &str = "sb_session";
/// Name of the readable cookie that carries the CSRF token for scripts of the web app.
pub const CSRF_COOKIE: &str = "sb_csrf";
/// Header a cookie-authenticated request that changes state must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// `axum::Json` whose rejections are our JSON errors (400 malformed, 415, 413, 422 naming the field).
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` with our error shape.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

/// `axum::extract::Query` with our error shape.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

/// The request's raw body under the API's body limit (a workflow hook parses it itself), with our error
/// shape: 413 above the limit instead of axum's plain-text answer.
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        Ok(Self(Bytes::from_request(req, state).await?))
    }
}

/// Reads a request body of at most `limit` bytes, for a route whose limit depends on the request (a
/// provider's delivery may be as large as its channel's plugin takes as input); 413 above it.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, AppError> {
    use http_body_util::BodyExt;
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(AppError::PayloadTooLarge),
        Err(e) => Err(AppError::BadRequest(format!("could not read the request body: {e}"))),
    }
}

/// `axum::extract::Multipart` with our error shape (400 naming what a multipart upload needs).
#[derive(Debug)]
pub struct Multipart(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for Multipart {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        Ok(Self(axum::extract::Multipart::from_request(req, state).await?))
    }
}

/// The authenticated caller. The token or session decides the workspace.
#[derive(Debug, Clone, Copy)]
pub struct Auth(pub Principal);

/// The session id of a cookie-authenticated request, for logout.
pub fn session_cookie(parts: &Parts) -> Option<String> {
    CookieJar::from_headers(&parts.headers).get(SESSION_COOKIE).map(|c| c.value().to_owned())
}

impl FromRequestParts<Arc<App>> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Self::Rejection> {
        if let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let value = header.to_str().map_err(|_| AppError::Unauthorized("malformed Authorization header".into()))?;
            let token = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| AppError::Unauthorized("expected Authorization: Bearer <token>".into()))?;
            let principal = accounts::authenticate_token(app, token).await?;
            return Ok(Self(principal));
        }
        if let Some(session_id) = session_cookie(parts) {
            let session = accounts::authenticate_session(app, &session_id).await?;
            let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
            if !safe {
                let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
                if !crypto::constant_time_eq(sent, &session.csrf_token) {
                    return Err(AppError::Csrf);
                }
            }
            return Ok(Self(session.principal));
        }
        Err(AppError::Unauthorized("missing credentials: send Authorization: Bearer <token> or log in".into()))
    }
}
