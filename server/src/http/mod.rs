//! The HTTP layer, and the only module that knows axum: one router per resource merged here, thin
//! handlers (extract → call a service → map the result), the OpenAPI document generated from the same
//! route declarations, health, readiness and metrics.

mod accounts;
mod contacts;
mod conversations;
mod error;
mod exports;
pub mod extract;
mod inboxes;
mod media;
mod notifications;
mod plugins;
mod realtime;
mod search;
mod settings;
mod system;
mod web;
mod webhooks;
mod widget;
mod workflows;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::PageRequest;

type ApiRouter = OpenApiRouter<Arc<App>>;

#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard API", description = "Omnichannel customer conversations: contacts, conversations, messages and workspace settings."),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
    components(schemas(crate::error::ErrorBody))
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                extract::SESSION_COOKIE,
                "Login session from POST /api/v1/auth/login; state-changing requests also send X-CSRF-Token",
            ))),
        );
    }
}

/// `?cursor=…&limit=…` on every list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

impl PageQuery {
    fn page(&self) -> AppResult<PageRequest> {
        crate::service::page(self.cursor.as_deref(), self.limit)
    }
}

/// The API routes and the OpenAPI document describing exactly them.
fn api() -> (Router<Arc<App>>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(accounts::router())
        .merge(contacts::router())
        .merge(conversations::router())
        .merge(settings::router())
        .merge(plugins::router())
        .merge(media::router())
        .merge(realtime::router())
        .merge(notifications::router())
        .merge(inboxes::router())
        .merge(exports::router())
        .merge(search::router())
        .merge(workflows::router())
        .merge(system::api_router())
        .split_for_parts()
}

/// The OpenAPI document served at `/api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api().1;
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The whole HTTP application.
pub fn router(app: Arc<App>) -> Router {
    crate::telemetry::init_metrics();
    let (api_routes, _) = api();
    let max_body = app.config.server.max_body_bytes;
    Router::new()
        .merge(api_routes)
        .merge(system::router(openapi()))
        .merge(webhooks::router())
        .merge(workflows::public_router())
        .merge(widget::router())
        .merge(web::router())
        .merge(media::public_router())
        .fallback(|| async { AppError::NotFound("route") })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(TraceLayer::new_for_http())
        // The probes are polled every few seconds and answer 503 while the plugins load: outside the trace
        // layer, which would log every such answer as a failed request at ERROR.
        .merge(system::probes())
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(app.clone(), wake_readers))
        .layer(middleware::from_fn(record_metrics))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            AppError::Internal("handler panicked".into()).into_response()
        }))
        .with_state(app)
}

/// Serves the application on `listener` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "switchboard listening");
    let stopping = app.stopping.clone();
    let service = router(app).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down");
            // Long-lived responses (live streams) end, so in-flight requests can drain.
            stopping.send_replace(true);
        })
        .await
}

/// A successful state-changing API call has appended to the event log: live readers (the realtime
/// stream) look now instead of at their next poll. One rule here instead of a call in every handler.
async fn wake_readers(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let response = next.run(req).await;
    if changes && response.status().is_success() {
        app.changed();
    }
    response
}

/// Counts requests and their durations per route template and status.
async fn record_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let path = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("path", path), ("status", status)];
    metrics::counter!("switchboard_http_requests_total", &labels).increment(1);
    metrics::histogram!("switchboard_http_request_duration_seconds", &labels).record(start.elapsed().as_secs_f64());
    response
}
