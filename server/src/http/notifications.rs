//! The caller's notifications (mentions in comments, conversations assigned to them): list and mark read.

use std::sync::Arc;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use super::ApiRouter;
use super::extract::{Auth, Json, Query};
use crate::app::App;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::model::*;
use crate::service::{inbox, page};

pub(super) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(list_notifications)).routes(routes!(mark_read))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct NotificationQuery {
    /// Only those not marked read.
    #[serde(default)]
    unread: bool,
    cursor: Option<String>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// Your notifications, newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", params(NotificationQuery),
    responses((status = 200, body = Page<Notification>), (status = "4XX", body = ErrorBody)))]
async fn list_notifications(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<NotificationQuery>,
) -> AppResult<Json<Page<Notification>>> {
    let page = page(q.cursor.as_deref(), q.limit)?;
    Ok(Json(app.store.list_notifications(who.workspace_id, who.user_id, q.unread, &page).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MarkRead {
    /// The notifications to mark read.
    ids: Option<Vec<Id>>,
    /// Mark every notification read instead.
    #[serde(default)]
    all: bool,
}

#[derive(Debug, Serialize, ToSchema)]
struct Marked {
    /// How many were unread and are read now.
    marked: u64,
}

/// Marks your notifications read: `{"ids": [...]}` or `{"all": true}`.
#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "notifications", request_body = MarkRead,
    responses((status = 200, body = Marked), (status = "4XX", body = ErrorBody)))]
async fn mark_read(State(app): State<Arc<App>>, Auth(who): Auth, Json(req): Json<MarkRead>) -> AppResult<Json<Marked>> {
    let ids = match (req.ids, req.all) {
        (Some(ids), false) => Some(ids),
        (None, true) => None,
        _ => return Err(AppError::validation("ids", "give either ids or all: true")),
    };
    Ok(Json(Marked { marked: inbox::mark_read(&app, &who, ids).await? }))
}
