//! `GET /api/v1/search`: contacts and messages matching a search box's text.

use std::sync::Arc;

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use super::ApiRouter;
use super::extract::{Auth, Json, Query};
use crate::app::App;
use crate::error::{AppResult, ErrorBody};
use crate::model::*;
use crate::search::SearchSort;
use crate::service::search::{self, SearchKind, SearchRequest};

pub(super) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(search_workspace))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchQuery {
    /// What was typed: words (the last may be unfinished), or a phone number or any 4 or more of its
    /// digits, with or without `+`, spaces and dashes. Arabic spelling variants match each other.
    #[param(min_length = 1)]
    q: String,
    /// `all` (default), `contacts` or `messages`.
    #[serde(default)]
    #[param(inline)]
    kind: SearchKind,
    /// Message hits by `relevance` (default) or `newest` first.
    #[serde(default)]
    #[param(inline)]
    sort: SearchSort,
    /// Message hits, 1–50, default 20 (contact hits: at most 10).
    #[param(minimum = 1, maximum = 50)]
    limit: Option<u32>,
}

/// Contacts (by name, phone digits, e-mail, custom field values) and messages (by text), in open and
/// closed conversations the caller may see, best first, with the matching parts marked.
#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchQuery),
    responses((status = 200, body = SearchResults), (status = "4XX", body = ErrorBody)))]
async fn search_workspace(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<SearchQuery>,
) -> AppResult<Json<SearchResults>> {
    let req = SearchRequest { q: q.q, kind: q.kind, sort: q.sort, limit: q.limit };
    Ok(Json(search::search(&app, &who, &req).await?))
}
