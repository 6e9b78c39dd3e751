//! Health, readiness, Prometheus metrics, the OpenAPI document and the event log.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use super::ApiRouter;
use super::extract::{Auth, Json, Query};
use crate::app::App;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::model::{Event, Role};
use crate::service::require;

pub(super) fn router(doc: utoipa::openapi::OpenApi) -> Router<Arc<App>> {
    let doc = Arc::new(doc);
    Router::new().route("/metrics", get(metrics)).route(
        "/api/v1/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    )
}

/// The liveness and readiness probes.
pub(super) fn probes() -> Router<Arc<App>> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

pub(super) fn api_router() -> ApiRouter {
    ApiRouter::new().routes(routes!(list_events))
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// `GET /healthz`: the process is up.
async fn healthz() -> impl IntoResponse {
    axum::Json(Health { status: "ok" })
}

/// `GET /readyz`: the database answers.
async fn readyz(State(app): State<Arc<App>>) -> impl IntoResponse {
    if !app.plugins.is_loaded() {
        let err = AppError::PluginUnavailable("the plugins are still loading".into());
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(err.body())).into_response();
    }
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, axum::Json(Health { status: "ready" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            let err = AppError::Internal(e.to_string());
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(err.body())).into_response()
        }
    }
}

/// `GET /metrics`: Prometheus text format.
async fn metrics() -> impl IntoResponse {
    let body = crate::telemetry::render_metrics();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// Return events with a sequence number greater than this (0 for the start).
    #[serde(default)]
    after: i64,
    /// At most this many events (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
struct EventPage {
    items: Vec<Event>,
    /// Pass as `after` to continue.
    last_seq: i64,
}

/// The workspace's event log, in sequence order (managers and owners).
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventsQuery),
    responses((status = 200, body = EventPage), (status = "4XX", body = ErrorBody)))]
async fn list_events(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<EventsQuery>,
) -> AppResult<Json<EventPage>> {
    require(&who, Role::Manager)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::validation("limit", "must be between 1 and 1000"));
    }
    let items = app.store.list_events(who.workspace_id, q.after, limit).await?;
    let last_seq = items.last().map_or(q.after, |e| e.seq);
    Ok(Json(EventPage { items, last_seq }))
}
