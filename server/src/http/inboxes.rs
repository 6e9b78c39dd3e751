//! Custom inboxes: saved filters over conversations, listed as `view=inbox:{id}`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::routes;

use super::ApiRouter;
use super::extract::{Auth, Json, Path};
use crate::app::App;
use crate::error::{AppResult, ErrorBody};
use crate::model::*;
use crate::service::inboxes::{self, InboxInput};

pub(super) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(list_inboxes, create_inbox)).routes(routes!(get_inbox, update_inbox, delete_inbox))
}

/// The custom inboxes you see: yours, public ones, and those shared with you or your teams.
#[utoipa::path(get, path = "/api/v1/inboxes", tag = "inboxes",
    responses((status = 200, body = Vec<CustomInbox>), (status = "4XX", body = ErrorBody)))]
async fn list_inboxes(State(app): State<Arc<App>>, Auth(who): Auth) -> AppResult<Json<Vec<CustomInbox>>> {
    Ok(Json(inboxes::list(&app, &who).await?))
}

/// Saves a custom inbox owned by you.
#[utoipa::path(post, path = "/api/v1/inboxes", tag = "inboxes", request_body = InboxInput,
    responses((status = 201, body = CustomInbox), (status = "4XX", body = ErrorBody)))]
async fn create_inbox(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Json(req): Json<InboxInput>,
) -> AppResult<(StatusCode, Json<CustomInbox>)> {
    Ok((StatusCode::CREATED, Json(inboxes::create(&app, &who, req).await?)))
}

#[utoipa::path(get, path = "/api/v1/inboxes/{id}", tag = "inboxes", params(("id" = i64, Path)),
    responses((status = 200, body = CustomInbox), (status = "4XX", body = ErrorBody)))]
async fn get_inbox(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<Json<CustomInbox>> {
    Ok(Json(inboxes::get(&app, &who, id).await?))
}

/// Replaces a custom inbox (its owner or a manager).
#[utoipa::path(put, path = "/api/v1/inboxes/{id}", tag = "inboxes", params(("id" = i64, Path)), request_body = InboxInput,
    responses((status = 200, body = CustomInbox), (status = "4XX", body = ErrorBody)))]
async fn update_inbox(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Json(req): Json<InboxInput>,
) -> AppResult<Json<CustomInbox>> {
    Ok(Json(inboxes::update(&app, &who, id, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/inboxes/{id}", tag = "inboxes", params(("id" = i64, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_inbox(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<StatusCode> {
    inboxes::delete(&app, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
